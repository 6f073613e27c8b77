//! The object store: objects per type, the global resourceVersion, the bounded
//! event history and the live watchers. Every write, HTTP or helper, ends in
//! `Store::commit`, the one place that assigns resourceVersions and delivers events.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use crate::catalog::{Catalog, ResourceType};
use crate::clock;
use crate::patch;
use crate::status::ApiError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change. `object` is the state after the change (for a
/// deletion: the last state, stamped with the deletion's resourceVersion);
/// `prev` the state before it.
#[derive(Debug)]
pub(crate) struct Event {
    pub rv: u64,
    pub resource: String,
    pub kind: EventType,
    pub object: Arc<Value>,
    pub prev: Option<Arc<Value>>,
}

/// What a watcher's channel carries: committed events and, in order with
/// them, the signals of the fault-injection helpers.
#[derive(Debug)]
pub(crate) enum Delivery {
    Event(Arc<Event>),
    /// A BOOKMARK at this resourceVersion (every event up to it comes first).
    Bookmark(u64),
    /// An ERROR event with this Status, then the end of the stream.
    Error(ApiError),
    /// End the stream cleanly after this many more events (None: no limit).
    EventLimit(Option<usize>),
}

struct Watcher {
    resource: String,
    tx: UnboundedSender<Delivery>,
}

/// (namespace, name); namespace is "" for cluster-scoped objects.
pub(crate) type ObjectKey = (String, String);

pub(crate) enum PatchKind {
    Merge,
    Json,
}

/// Where a watch starts.
pub(crate) enum WatchStart {
    /// Synthetic ADDED events for the current objects first.
    Now,
    /// Everything after this resourceVersion.
    After(u64),
}

pub(crate) struct Subscription {
    pub initial: Vec<Arc<Event>>,
    pub rx: tokio::sync::mpsc::UnboundedReceiver<Delivery>,
    pub rv: u64,
    /// Events the stream may send before it ends (close_watches_after_events).
    pub event_limit: Option<usize>,
}

pub(crate) struct Store {
    pub catalog: Catalog,
    rv: u64,
    objects: HashMap<String, BTreeMap<ObjectKey, Value>>,
    history: VecDeque<Arc<Event>>,
    history_limit: usize,
    /// The newest resourceVersion dropped from history: watches from before it get 410.
    compacted: u64,
    /// Where the watch cache of the last restart started: watches from
    /// before it get 410 too.
    watch_floor: u64,
    watchers: Vec<Watcher>,
    /// The limit every watch stream gets (close_watches_after_events).
    event_limit: Option<usize>,
    uid_state: u64,
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

fn is_namespaces(rt: &ResourceType) -> bool {
    rt.plural == "namespaces" && rt.group.is_empty()
}

/// The apiserver labels every Namespace with its name, on create and on
/// every update (`kubernetes.io/metadata.name`), so selectors can name it.
fn label_namespace(rt: &ResourceType, obj: &mut Value) {
    if !is_namespaces(rt) {
        return;
    }
    let name = obj["metadata"]["name"].clone();
    if !obj["metadata"]["labels"].is_object() {
        obj["metadata"]["labels"] = json!({});
    }
    obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
}

fn has_finalizers(obj: &Value) -> bool {
    obj["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| !f.is_empty())
}

/// Whether `a` and `b` hold the same members, `skipped` aside (compared
/// in place: the write path runs for every change a bench paces).
fn same_except(a: &Value, b: &Value, skipped: &[&str]) -> bool {
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => {
            let kept = |m: &'_ serde_json::Map<String, Value>| {
                m.iter()
                    .filter(|(k, _)| !skipped.contains(&k.as_str()))
                    .count()
            };
            kept(a) == kept(b)
                && a.iter()
                    .filter(|(k, _)| !skipped.contains(&k.as_str()))
                    .all(|(k, v)| b.get(k) == Some(v))
        }
        _ => a == b,
    }
}

/// Whether the spec part (all but metadata, status, apiVersion and kind)
/// of two objects is the same: the generation moves when it is not.
fn same_spec(a: &Value, b: &Value) -> bool {
    same_except(a, b, &["metadata", "status", "apiVersion", "kind"])
}

/// A ConfigMap's (or Secret's) data may not pass 1 MiB, keys included: the
/// apiserver answers 422 (see the reference's `err-configmap-too-large.json`).
fn check_size(rt: &ResourceType, name: &str, obj: &Value) -> Result<(), ApiError> {
    const LIMIT: usize = 1024 * 1024;
    if !(rt.group.is_empty() && matches!(rt.plural.as_str(), "configmaps" | "secrets")) {
        return Ok(());
    }
    let size: usize = ["data", "binaryData"]
        .iter()
        .filter_map(|field| obj.get(field)?.as_object())
        .flatten()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum();
    if size > LIMIT {
        return Err(ApiError::invalid(
            rt,
            name,
            &format!("[]: Too long: may not be more than {LIMIT} bytes"),
        ));
    }
    Ok(())
}

/// Whether two objects are the same but for their resourceVersion.
fn same_but_rv(a: &Value, b: &Value) -> bool {
    same_except(a, b, &["metadata"])
        && same_except(&a["metadata"], &b["metadata"], &["resourceVersion"])
}

impl Store {
    pub fn new(history_limit: usize) -> Store {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        let mut s = Store {
            catalog: Catalog::new(),
            rv: 0,
            objects: HashMap::new(),
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            compacted: 0,
            watch_floor: 0,
            watchers: Vec::new(),
            event_limit: None,
            uid_state: seed | 1,
        };
        s.create("namespaces", None, json!({"metadata": {"name": "default"}}))
            .expect("default namespace");
        s
    }

    pub fn current_rv(&self) -> u64 {
        self.rv
    }

    pub fn compacted_rv(&self) -> u64 {
        self.compacted
    }

    fn next_random(&mut self) -> u64 {
        // splitmix64
        self.uid_state = self.uid_state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.uid_state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn new_uid(&mut self) -> String {
        let a = self.next_random();
        let b = self.next_random();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }

    fn rtype(&self, resource: &str) -> Result<ResourceType, ApiError> {
        self.catalog
            .by_key(resource)
            .cloned()
            .ok_or_else(|| ApiError::bad_request(format!("unknown resource {resource:?}")))
    }

    fn key(rt: &ResourceType, namespace: Option<&str>, name: &str) -> ObjectKey {
        let ns = if rt.namespaced {
            namespace.unwrap_or("default")
        } else {
            ""
        };
        (ns.to_string(), name.to_string())
    }

    pub fn get(&self, resource: &str, namespace: Option<&str>, name: &str) -> Option<&Value> {
        let rt = self.catalog.by_key(resource)?;
        self.objects
            .get(resource)?
            .get(&Store::key(rt, namespace, name))
    }

    /// The single write path: stamps the next resourceVersion, stores the new
    /// state, records the event and hands it to every watcher of the type.
    fn commit(
        &mut self,
        resource: &str,
        key: ObjectKey,
        kind: EventType,
        mut object: Value,
        prev: Option<Value>,
    ) -> Value {
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let objects = self.objects.entry(resource.to_string()).or_default();
        if kind == EventType::Deleted {
            objects.remove(&key);
        } else {
            objects.insert(key, object.clone());
        }
        let event = Arc::new(Event {
            rv: self.rv,
            resource: resource.to_string(),
            kind,
            object: Arc::new(object.clone()),
            prev: prev.map(Arc::new),
        });
        self.history.push_back(event.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        self.watchers.retain(|w| {
            w.resource != resource || w.tx.send(Delivery::Event(event.clone())).is_ok()
        });
        object
    }

    /// Hands a signal to every open watch, after the events already delivered.
    fn broadcast(&mut self, make: impl Fn() -> Delivery) {
        self.watchers.retain(|w| w.tx.send(make()).is_ok());
    }

    /// A BOOKMARK at the current resourceVersion on every open watch (those
    /// that did not ask for bookmarks skip it).
    pub fn send_bookmark(&mut self) {
        let rv = self.rv;
        self.broadcast(|| Delivery::Bookmark(rv));
    }

    /// An ERROR event on every open watch, which then ends.
    pub fn send_error(&mut self, err: &ApiError) {
        self.broadcast(|| Delivery::Error(err.clone()));
    }

    /// Every watch stream, open or future, ends after `n` more events.
    pub fn set_event_limit(&mut self, n: Option<usize>) {
        self.event_limit = n;
        self.broadcast(|| Delivery::EventLimit(n));
    }

    /// Forgets the event history, as etcd compaction does: a watch or exact
    /// list from before the current resourceVersion gets 410 Expired.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }

    /// A restarted apiserver fills its watch cache from a fresh list, so a
    /// watch from an older resourceVersion gets 410 Expired (an exact list
    /// still reads the history, as the apiserver reads etcd for it).
    pub fn restart_watch_cache(&mut self) {
        self.watch_floor = self.rv;
    }

    /// Deletes a custom resource type as deleting its CRD does: every object
    /// is deleted first (watchers see each DELETED), then the type leaves the
    /// catalog (discovery, and 404 for its URLs) and its watches end. False
    /// if no such custom type is served.
    pub fn remove_custom_type(&mut self, group: &str, plural: &str) -> bool {
        let Some(key) = self
            .catalog
            .types
            .iter()
            .find(|t| t.custom && t.group == group && t.plural == plural)
            .map(ResourceType::key)
        else {
            return false;
        };
        let keys: Vec<ObjectKey> = self.objects(&key).map(|(k, _)| k.clone()).collect();
        for (namespace, name) in keys {
            let _ = self.delete(&key, Some(&namespace), &name);
        }
        // Dropping a watcher's sender ends its stream.
        self.watchers.retain(|w| w.resource != key);
        self.catalog
            .types
            .retain(|t| !(t.custom && t.group == group && t.plural == plural));
        self.objects.remove(&key);
        true
    }

    /// How many watch streams are open.
    pub fn open_watches(&mut self) -> usize {
        self.watchers.retain(|w| !w.tx.is_closed());
        self.watchers.len()
    }

    pub fn create(
        &mut self,
        resource: &str,
        namespace: Option<&str>,
        mut obj: Value,
    ) -> Result<Value, ApiError> {
        let rt = self.rtype(resource)?;
        if !obj.is_object() {
            return Err(ApiError::bad_request("the object must be a JSON object"));
        }
        if !obj.get("metadata").is_some_and(Value::is_object) {
            obj["metadata"] = json!({});
        }
        let mut name = meta_str(&obj, "name").unwrap_or("").to_string();
        if name.is_empty() {
            let Some(prefix) = meta_str(&obj, "generateName").map(str::to_string) else {
                return Err(ApiError::invalid(
                    &rt,
                    "",
                    "metadata.name: Required value: name or generateName is required",
                ));
            };
            const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
            let suffix: String = (0..5)
                .map(|_| ALPHABET[(self.next_random() % ALPHABET.len() as u64) as usize] as char)
                .collect();
            name = format!("{prefix}{suffix}");
        }
        let ns = if rt.namespaced {
            let body_ns = meta_str(&obj, "namespace").map(str::to_string);
            match (namespace, body_ns) {
                (Some(url), Some(body)) if url != body => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                (Some(url), _) => Some(url.to_string()),
                (None, Some(body)) => Some(body),
                (None, None) => Some("default".to_string()),
            }
        } else {
            None
        };
        let key = Store::key(&rt, ns.as_deref(), &name);
        if self
            .objects
            .get(resource)
            .is_some_and(|m| m.contains_key(&key))
        {
            return Err(ApiError::already_exists(&rt, &name));
        }
        let uid = self.new_uid();
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        let meta = obj["metadata"].as_object_mut().expect("metadata object");
        meta.insert("name".into(), json!(name));
        match &ns {
            Some(ns) => meta.insert("namespace".into(), json!(ns)),
            None => meta.remove("namespace"),
        };
        meta.insert("uid".into(), json!(uid));
        meta.insert("creationTimestamp".into(), json!(clock::now_rfc3339()));
        if rt.has_generation() {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
        meta.remove("deletionTimestamp");
        if is_namespaces(&rt) && obj.pointer("/status/phase").is_none() {
            obj["status"] = json!({"phase": "Active"});
        }
        label_namespace(&rt, &mut obj);
        check_size(&rt, &name, &obj)?;
        Ok(self.commit(resource, key, EventType::Added, obj, None))
    }

    /// Replaces an object the way PUT does; `status_only` is the /status
    /// subresource (only .status is taken), otherwise .status is kept from the
    /// stored object when the type has a status subresource.
    pub fn replace(
        &mut self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
        new: Value,
        status_only: bool,
    ) -> Result<Value, ApiError> {
        let rt = self.rtype(resource)?;
        let key = Store::key(&rt, namespace, name);
        let old = self
            .objects
            .get(resource)
            .and_then(|m| m.get(&key))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&rt, name))?;
        if !new.is_object() {
            return Err(ApiError::bad_request("the object must be a JSON object"));
        }
        if let Some(rv) = meta_str(&new, "resourceVersion").filter(|rv| !rv.is_empty())
            && Some(rv) != meta_str(&old, "resourceVersion")
        {
            return Err(ApiError::conflict(&rt, name));
        }
        if let Some(n) = meta_str(&new, "name").filter(|n| *n != name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        let mut result = if status_only {
            let mut r = old.clone();
            match new.get("status") {
                Some(s) => r["status"] = s.clone(),
                None => {
                    r.as_object_mut().expect("object").remove("status");
                }
            }
            r
        } else {
            let mut r = new;
            if rt.has_status() {
                let m = r.as_object_mut().expect("object");
                match old.get("status") {
                    Some(s) => m.insert("status".into(), s.clone()),
                    None => m.remove("status"),
                };
            }
            if !r.get("metadata").is_some_and(Value::is_object) {
                r["metadata"] = json!({});
            }
            for field in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "generation",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "resourceVersion",
            ] {
                let m = r["metadata"].as_object_mut().expect("metadata object");
                match old["metadata"].get(field) {
                    Some(v) => m.insert(field.into(), v.clone()),
                    None => m.remove(field),
                };
            }
            r
        };
        result["apiVersion"] = json!(rt.api_version());
        result["kind"] = json!(rt.kind);
        label_namespace(&rt, &mut result);
        if rt.has_generation() && !same_spec(&result, &old) {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(0);
            result["metadata"]["generation"] = json!(generation + 1);
        }
        if same_but_rv(&result, &old) {
            // A no-op write: the apiserver neither bumps the resourceVersion nor emits an event.
            return Ok(old);
        }
        check_size(&rt, name, &result)?;
        if old["metadata"].get("deletionTimestamp").is_some() && !has_finalizers(&result) {
            // The last finalizer removed from an object being deleted: the
            // apiserver deletes it. Watchers get one DELETED with the state
            // stored last; the writer gets what it wrote.
            self.commit(resource, key, EventType::Deleted, old.clone(), Some(old));
            return Ok(result);
        }
        Ok(self.commit(resource, key, EventType::Modified, result, Some(old)))
    }

    pub fn patch(
        &mut self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
        kind: PatchKind,
        patch_body: &Value,
        status_only: bool,
    ) -> Result<Value, ApiError> {
        let rt = self.rtype(resource)?;
        let mut doc = self
            .get(resource, namespace, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&rt, name))?;
        match kind {
            PatchKind::Merge => {
                if !patch_body.is_object() {
                    return Err(ApiError::bad_request(
                        "the body of a merge patch must be a JSON object",
                    ));
                }
                patch::merge_patch(&mut doc, patch_body)
            }
            PatchKind::Json => patch::json_patch(&mut doc, patch_body).map_err(|e| {
                ApiError::invalid(&rt, name, &format!("the patch could not be applied: {e}"))
            })?,
        }
        self.replace(resource, namespace, name, doc, status_only)
    }

    pub fn delete(
        &mut self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let rt = self.rtype(resource)?;
        let key = Store::key(&rt, namespace, name);
        let old = self
            .objects
            .get(resource)
            .and_then(|m| m.get(&key))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&rt, name))?;
        if has_finalizers(&old) {
            // As the apiserver does: the deletion waits for the finalizers;
            // the object is marked (once) and its generation moves.
            if old["metadata"].get("deletionTimestamp").is_some() {
                return Ok(old);
            }
            let mut marked = old.clone();
            let meta = &mut marked["metadata"];
            meta["deletionTimestamp"] = json!(clock::now_rfc3339());
            meta["deletionGracePeriodSeconds"] = json!(0);
            if let Some(generation) = meta["generation"].as_i64() {
                meta["generation"] = json!(generation + 1);
            }
            return Ok(self.commit(resource, key, EventType::Modified, marked, Some(old)));
        }
        Ok(self.commit(resource, key, EventType::Deleted, old.clone(), Some(old)))
    }

    /// The objects of a type as they were at `rv` (current state when `rv` is
    /// the current resourceVersion), rebuilt from history; None when `rv` is
    /// older than the history kept.
    pub fn snapshot(&self, resource: &str, rv: u64) -> Option<BTreeMap<ObjectKey, Value>> {
        if rv < self.compacted {
            return None;
        }
        let mut objects = self.objects.get(resource).cloned().unwrap_or_default();
        for ev in self.history.iter().rev().take_while(|e| e.rv > rv) {
            if ev.resource != resource {
                continue;
            }
            let key = (
                meta_str(&ev.object, "namespace").unwrap_or("").to_string(),
                meta_str(&ev.object, "name").unwrap_or("").to_string(),
            );
            match &ev.prev {
                Some(prev) if ev.kind != EventType::Added => {
                    objects.insert(key, (**prev).clone());
                }
                _ => {
                    objects.remove(&key);
                }
            }
        }
        Some(objects)
    }

    /// Iterates the current objects of a type in key order.
    pub fn objects(&self, resource: &str) -> impl Iterator<Item = (&ObjectKey, &Value)> {
        self.objects
            .get(resource)
            .into_iter()
            .flat_map(|m| m.iter())
    }

    /// Registers a watcher. The backlog (or the synthetic ADDED events) and the
    /// registration happen under the same lock, so no event falls in between.
    pub fn subscribe(&mut self, resource: &str, start: WatchStart) -> Result<Subscription, u64> {
        let initial: Vec<Arc<Event>> = match start {
            WatchStart::Now => self
                .objects(resource)
                .map(|(_, obj)| {
                    Arc::new(Event {
                        rv: self.rv,
                        resource: resource.to_string(),
                        kind: EventType::Added,
                        object: Arc::new(obj.clone()),
                        prev: None,
                    })
                })
                .collect(),
            WatchStart::After(rv) => {
                let oldest = self.compacted.max(self.watch_floor);
                if rv < oldest {
                    return Err(oldest);
                }
                self.history
                    .iter()
                    .filter(|e| e.rv > rv && e.resource == resource)
                    .cloned()
                    .collect()
            }
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.watchers.push(Watcher {
            resource: resource.to_string(),
            tx,
        });
        Ok(Subscription {
            initial,
            rx,
            rv: self.rv,
            event_limit: self.event_limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_written_over_a_stale_resource_version_conflicts_as_the_reference_says() {
        let mut s = Store::new(100);
        let lease = json!({"metadata": {"name": "demo"},
                           "spec": {"holderIdentity": "replica-a", "leaseDurationSeconds": 15}});
        let created = s
            .create("leases.coordination.k8s.io", Some("ref2"), lease)
            .unwrap();
        let mut renewed = created.clone();
        renewed["spec"]["renewTime"] = json!("2026-11-30T14:50:02.000000Z");
        s.replace(
            "leases.coordination.k8s.io",
            Some("ref2"),
            "demo",
            renewed.clone(),
            false,
        )
        .unwrap();
        let err = s
            .replace(
                "leases.coordination.k8s.io",
                Some("ref2"),
                "demo",
                renewed,
                false,
            )
            .unwrap_err();
        let reference: Value = serde_json::from_str(include_str!(
            "../tests/k8s-reference/err-409-lease-conflict.json"
        ))
        .unwrap();
        let body = serde_json::to_value(err.body()).unwrap();
        assert_eq!(body, reference);
    }

    #[test]
    fn a_configmap_over_one_mebibyte_is_invalid_as_the_reference_says() {
        let mut s = Store::new(100);
        let big = json!({"metadata": {"name": "toolarge"}, "data": {"k": "x".repeat(1024 * 1024)}});
        let err = s.create("configmaps", Some("ref2"), big).unwrap_err();
        let body = serde_json::to_value(err.body()).unwrap();
        assert_eq!(err.code, 422);
        assert_eq!(
            body["message"],
            "ConfigMap \"toolarge\" is invalid: []: Too long: may not be more than 1048576 bytes"
        );
        let fits = json!({"metadata": {"name": "fits"}, "data": {"k": "x".repeat(1000)}});
        assert!(s.create("configmaps", Some("ref2"), fits).is_ok());
    }

    #[test]
    fn writes_bump_resource_version_and_generation() {
        let mut s = Store::new(100);
        s.catalog.add(crate::catalog::Crd::widget().into());
        let w = s
            .create(
                "widgets.example.com",
                Some("ns"),
                json!({"metadata": {"name": "w1"}, "spec": {"size": 1}}),
            )
            .unwrap();
        assert_eq!(w["metadata"]["generation"], 1);
        assert_eq!(w["metadata"]["namespace"], "ns");
        let rv1: u64 = w["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let w = s
            .patch(
                "widgets.example.com",
                Some("ns"),
                "w1",
                PatchKind::Merge,
                &json!({"spec": {"size": 2}, "status": {"ready": true}}),
                false,
            )
            .unwrap();
        assert_eq!(w["metadata"]["generation"], 2);
        assert!(
            w.get("status").is_none(),
            "status is ignored on the main resource"
        );
        let w = s
            .patch(
                "widgets.example.com",
                Some("ns"),
                "w1",
                PatchKind::Merge,
                &json!({"status": {"ready": true}}),
                true,
            )
            .unwrap();
        assert_eq!(w["metadata"]["generation"], 2);
        assert_eq!(w["status"]["ready"], true);
        assert_eq!(s.current_rv(), rv1 + 2);
        // No-op: no new resourceVersion.
        s.patch(
            "widgets.example.com",
            Some("ns"),
            "w1",
            PatchKind::Merge,
            &json!({"spec": {"size": 2}}),
            false,
        )
        .unwrap();
        assert_eq!(s.current_rv(), rv1 + 2);
        let snap = s.snapshot("widgets.example.com", rv1).unwrap();
        assert_eq!(snap.values().next().unwrap()["spec"]["size"], 1);
    }

    #[test]
    fn removing_a_custom_type_deletes_its_objects_then_ends_its_watches() {
        let mut s = Store::new(100);
        s.catalog.add(crate::catalog::Crd::widget().into());
        s.create(
            "widgets.example.com",
            Some("ns"),
            json!({"metadata": {"name": "w1"}}),
        )
        .unwrap();
        let rv = s.current_rv();
        let mut sub = s
            .subscribe("widgets.example.com", WatchStart::After(rv))
            .unwrap();
        assert!(s.remove_custom_type("example.com", "widgets"));
        match sub.rx.try_recv() {
            Ok(Delivery::Event(e)) => assert_eq!(e.kind, EventType::Deleted),
            other => panic!("expected a DELETED event, got {other:?}"),
        }
        assert!(matches!(
            sub.rx.try_recv(),
            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected)
        ));
        assert!(s.catalog.find("example.com", "v1", "widgets").is_none());
        assert!(!s.remove_custom_type("", "configmaps"), "built-ins stay");
    }

    #[test]
    fn history_is_bounded() {
        let mut s = Store::new(2);
        for i in 0..5 {
            s.create(
                "configmaps",
                Some("default"),
                json!({"metadata": {"name": format!("c{i}")}}),
            )
            .unwrap();
        }
        assert_eq!(s.current_rv(), 6);
        assert!(s.subscribe("configmaps", WatchStart::After(3)).is_err());
        let sub = s.subscribe("configmaps", WatchStart::After(4)).unwrap();
        assert_eq!(sub.initial.len(), 2);
    }
}
