//! One kube watcher per target, merged into a single stream of
//! `(target index, event)`. The watcher re-lists on 410 and backs off on errors.

use futures::stream::{BoxStream, SelectAll, StreamExt};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::{WatchStreamExt, watcher};

use crate::plan::Selection;
use crate::resolve::ApiType;
use crate::tracker::WatchEvent;

/// A resolved target: a type, a namespace, and which of its objects.
#[derive(Debug, Clone)]
pub struct Target {
    pub api: ApiType,
    /// `None` for cluster-scoped types, or every namespace (`-A`).
    pub namespace: Option<String>,
    pub selection: Selection,
}

impl Target {
    /// kubectl's way of naming an object of this type: `widget.example.com/foo`.
    pub fn object_name(&self, name: &str) -> String {
        format!("{}/{}", self.api.kind_group(), name)
    }

    /// The target as a user would recognise it in a message.
    pub fn display(&self) -> String {
        match &self.selection {
            Selection::Name(name) => self.object_name(name),
            Selection::Query { labels, fields } => {
                let mut text = self.api.qualified();
                if let Some(labels) = labels {
                    text.push_str(&format!(" -l {labels}"));
                }
                if let Some(fields) = fields {
                    text.push_str(&format!(" --field-selector {fields}"));
                }
                if labels.is_none() && fields.is_none() {
                    text.push_str(" --all");
                }
                text
            }
        }
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
        let config = match &target.selection {
            Selection::Name(name) => {
                watcher::Config::default().fields(&format!("metadata.name={name}"))
            }
            Selection::Query { labels, fields } => {
                let mut config = watcher::Config::default();
                if let Some(labels) = labels {
                    config = config.labels(labels);
                }
                if let Some(fields) = fields {
                    config = config.fields(fields);
                }
                config
            }
        };
        let types = (resource.api_version.clone(), resource.kind.clone());
        watcher(api, config)
            .default_backoff()
            .map(move |event| (index, event.map(|e| strip(e, &types))))
            .boxed()
    }))
}

/// The client types off, and `apiVersion`/`kind` filled in: list items of
/// built-in types arrive without them, and expressions may read them.
fn strip(
    event: watcher::Event<DynamicObject>,
    (api_version, kind): &(String, String),
) -> WatchEvent {
    let value = |object: DynamicObject| {
        let mut value = serde_json::to_value(object).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.entry("apiVersion")
                .or_insert_with(|| api_version.clone().into());
            map.entry("kind").or_insert_with(|| kind.clone().into());
        }
        value
    };
    match event {
        watcher::Event::Init => WatchEvent::Relisting,
        watcher::Event::InitApply(o) => WatchEvent::Listed(value(o)),
        watcher::Event::InitDone => WatchEvent::ListDone,
        watcher::Event::Apply(o) => WatchEvent::Applied(value(o)),
        watcher::Event::Delete(o) => WatchEvent::Deleted(value(o)),
    }
}
