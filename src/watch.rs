//! One kube watcher per target, merged into a single stream of
//! `(target index, event)`. The watcher re-lists on 410 and backs off on errors.

use futures::stream::{BoxStream, SelectAll, StreamExt};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::{WatchStreamExt, watcher};

use crate::resolve::ApiType;
use crate::tracker::WatchEvent;

/// A resolved object to watch.
#[derive(Debug, Clone)]
pub struct Target {
    pub api: ApiType,
    /// `None` for cluster-scoped types.
    pub namespace: Option<String>,
    pub name: String,
}

impl Target {
    /// kubectl's way of naming it: `widget.example.com/foo`.
    pub fn display(&self) -> String {
        format!("{}/{}", self.api.kind_group(), self.name)
    }
}

pub type Item = (usize, Result<WatchEvent, watcher::Error>);

pub fn watch_all(client: &Client, targets: &[Target]) -> SelectAll<BoxStream<'static, Item>> {
    futures::stream::select_all(targets.iter().enumerate().map(|(index, target)| {
        let resource = ApiResource {
            group: target.api.group.clone(),
            version: target.api.version.clone(),
            api_version: target.api.api_version(),
            kind: target.api.kind.clone(),
            plural: target.api.plural.clone(),
        };
        let api: Api<DynamicObject> = match &target.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        let config = watcher::Config::default().fields(&format!("metadata.name={}", target.name));
        watcher(api, config)
            .default_backoff()
            .map(move |event| (index, event.map(strip)))
            .boxed()
    }))
}

fn strip(event: watcher::Event<DynamicObject>) -> WatchEvent {
    let value = |object: DynamicObject| serde_json::to_value(object).unwrap_or_default();
    match event {
        watcher::Event::Init => WatchEvent::Relisting,
        watcher::Event::InitApply(o) => WatchEvent::Listed(value(o)),
        watcher::Event::InitDone => WatchEvent::ListDone,
        watcher::Event::Apply(o) => WatchEvent::Applied(value(o)),
        watcher::Event::Delete(o) => WatchEvent::Deleted(value(o)),
    }
}
