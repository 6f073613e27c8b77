//! One kube watcher per target, merged into a single stream of
//! `(target index, event)`. The watcher re-lists on 410 and backs off on errors.

use std::borrow::Cow;

use futures::stream::{BoxStream, SelectAll, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, ApiResource};
use kube::core::{DynamicResourceScope, Resource};
use kube::runtime::{WatchStreamExt, watcher};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

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
        let api: Api<RawObject> = match &target.namespace {
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

/// An object exactly as the server sent it. The watcher only needs the
/// identity and resourceVersion from its metadata, so those are read out and
/// the rest stays one `Value`: no typed copy, no re-serialisation per event.
#[derive(Clone, Debug)]
pub struct RawObject {
    value: Value,
    meta: ObjectMeta,
}

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let metadata = &value["metadata"];
        let text = |field: &str| metadata[field].as_str().map(String::from);
        let meta = ObjectMeta {
            name: text("name"),
            namespace: text("namespace"),
            uid: text("uid"),
            resource_version: text("resourceVersion"),
            ..ObjectMeta::default()
        };
        Ok(RawObject { value, meta })
    }
}

impl Resource for RawObject {
    type DynamicType = ApiResource;
    type Scope = DynamicResourceScope;

    fn kind(dt: &ApiResource) -> Cow<'_, str> {
        dt.kind.as_str().into()
    }

    fn group(dt: &ApiResource) -> Cow<'_, str> {
        dt.group.as_str().into()
    }

    fn version(dt: &ApiResource) -> Cow<'_, str> {
        dt.version.as_str().into()
    }

    fn api_version(dt: &ApiResource) -> Cow<'_, str> {
        dt.api_version.as_str().into()
    }

    fn plural(dt: &ApiResource) -> Cow<'_, str> {
        dt.plural.as_str().into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.meta
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.meta
    }
}

/// The client types off, and `apiVersion`/`kind` filled in: list items of
/// built-in types arrive without them, and expressions may read them.
fn strip(event: watcher::Event<RawObject>, (api_version, kind): &(String, String)) -> WatchEvent {
    let value = |object: RawObject| {
        let mut value = object.value;
        if let Some(map) = value.as_object_mut() {
            if !map.contains_key("apiVersion") {
                map.insert("apiVersion".into(), api_version.as_str().into());
            }
            if !map.contains_key("kind") {
                map.insert("kind".into(), kind.as_str().into());
            }
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
