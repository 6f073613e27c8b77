//! The least a client built on kube costs per event: kube's own client
//! (`Client::try_default`, as any kube-rs program gets it from the
//! kubeconfig) and its `runtime::watcher`, on a type that reads nothing of
//! an object but its resourceVersion (the watcher needs it) and skips the
//! rest unbuilt, printing a line per change. What it pays beyond the floor
//! (rustls alone) is the stack a kube-based tool cannot leave: hyper's
//! connection task and chunk decoding, kube's line framing, serde_json
//! reading each event's bytes, the watcher's state machine and tokio.

use std::borrow::Cow;
use std::io::Write;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ApiResource, GroupVersionKind};
use kube::core::{DynamicResourceScope, Resource};
use kube::runtime::watcher;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// The first argument that makes this binary kube's least reader.
pub(crate) const KUBE_FLOOR: &str = "__paced_kube_floor";

/// The child side: `__paced_kube_floor NAMESPACE LABEL EVENTS` lists and
/// watches the widgets under LABEL in NAMESPACE (the kubeconfig is the
/// launcher's `KUBECONFIG`) and prints a line for each change after the
/// list, then exits once EVENTS are printed.
pub(crate) fn kube_floor_child(args: &[String]) -> ! {
    let run = || -> Result<(), String> {
        let [namespace, label, events] = args else {
            return Err(format!("usage: {KUBE_FLOOR} NAMESPACE LABEL EVENTS"));
        };
        let events: usize = events
            .parse()
            .map_err(|_| format!("not a number: {events}"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("a runtime: {e}"))?;
        runtime.block_on(watch(namespace, label, events))
    };
    crate::error::exit_as("paced kube floor", run())
}

async fn watch(namespace: &str, label: &str, events: usize) -> Result<(), String> {
    let client = kube::Client::try_default()
        .await
        .map_err(|e| format!("a client from the kubeconfig: {e}"))?;
    let widgets = ApiResource::from_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"));
    let api: Api<Least> = Api::namespaced_with(client, namespace, &widgets);
    let mut stream = watcher(api, watcher::Config::default().labels(label)).boxed();
    let mut out = std::io::stdout().lock();
    let mut listed = false;
    let mut printed = 0;
    while let Some(event) = stream.next().await {
        match event.map_err(|e| format!("the watch: {e}"))? {
            watcher::Event::InitDone => listed = true,
            watcher::Event::Apply(_) | watcher::Event::Delete(_) if listed => {
                out.write_all(b"changed\n")
                    .and_then(|()| out.flush())
                    .map_err(|e| format!("stdout: {e}"))?;
                printed += 1;
                if printed == events {
                    return Ok(());
                }
            }
            _ => {}
        }
    }
    Err(format!(
        "the watch ended after {printed} of {events} events"
    ))
}

/// An object of which only the resourceVersion is read; every other value
/// is skipped by the parser, never built.
#[derive(Clone, Debug)]
struct Least {
    meta: ObjectMeta,
}

impl<'de> Deserialize<'de> for Least {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(Fields(false))
    }
}

/// Visits an object's members (`true`: those of its metadata), keeping
/// only the resourceVersion.
struct Fields(bool);

impl<'de> Visitor<'de> for Fields {
    type Value = Least;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Least, A::Error> {
        let mut meta = ObjectMeta::default();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match (self.0, key.as_ref()) {
                (false, "metadata") => meta = map.next_value_seed(Fields(true))?.meta,
                (true, "resourceVersion") => meta.resource_version = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Least { meta })
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Fields {
    type Value = Least;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Least, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl Resource for Least {
    type DynamicType = ApiResource;
    type Scope = DynamicResourceScope;

    fn kind(dt: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&dt.kind)
    }

    fn group(dt: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&dt.group)
    }

    fn version(dt: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&dt.version)
    }

    fn api_version(dt: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&dt.api_version)
    }

    fn plural(dt: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&dt.plural)
    }

    fn meta(&self) -> &ObjectMeta {
        &self.meta
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.meta
    }
}
