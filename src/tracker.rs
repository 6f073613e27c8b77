//! Pure per-target state built from watch events: the last known version of
//! each object, re-lists reconciled so objects deleted meanwhile disappear.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// A watcher event, stripped of the client types.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    /// A (re-)list starts; `Listed` objects follow, then `ListDone`.
    Relisting,
    Listed(Value),
    ListDone,
    Applied(Value),
    Deleted(Value),
}

#[derive(Debug, Default)]
struct TargetState {
    objects: BTreeMap<String, Value>,
    /// Keys seen during the re-list in progress.
    relisting: Option<BTreeSet<String>>,
    synced: bool,
}

#[derive(Debug)]
pub struct Tracker {
    targets: Vec<TargetState>,
}

impl Tracker {
    pub fn new(targets: usize) -> Tracker {
        Tracker {
            targets: (0..targets).map(|_| TargetState::default()).collect(),
        }
    }

    pub fn apply(&mut self, target: usize, event: WatchEvent) {
        let state = &mut self.targets[target];
        match event {
            WatchEvent::Relisting => state.relisting = Some(BTreeSet::new()),
            WatchEvent::Listed(object) => {
                let key = key(&object);
                if let Some(seen) = &mut state.relisting {
                    seen.insert(key.clone());
                }
                state.objects.insert(key, object);
            }
            WatchEvent::ListDone => {
                if let Some(seen) = state.relisting.take() {
                    // Whatever the fresh list lacks was deleted while we were away.
                    state.objects.retain(|k, _| seen.contains(k));
                }
                state.synced = true;
            }
            WatchEvent::Applied(object) => {
                state.objects.insert(key(&object), object);
            }
            WatchEvent::Deleted(object) => {
                state.objects.remove(&key(&object));
            }
        }
    }

    /// Whether the target's first full list has arrived.
    pub fn synced(&self, target: usize) -> bool {
        self.targets[target].synced
    }

    pub fn objects(&self, target: usize) -> impl Iterator<Item = &Value> {
        self.targets[target].objects.values()
    }
}

fn key(object: &Value) -> String {
    let meta = &object["metadata"];
    format!(
        "{}/{}",
        meta["namespace"].as_str().unwrap_or(""),
        meta["name"].as_str().unwrap_or("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn widget(name: &str, uid: &str, ready: bool) -> Value {
        json!({"metadata": {"name": name, "namespace": "default", "uid": uid}, "status": {"ready": ready}})
    }

    fn uids(tracker: &Tracker) -> Vec<String> {
        tracker
            .objects(0)
            .map(|o| o["metadata"]["uid"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn not_synced_until_the_first_list_completes() {
        let mut t = Tracker::new(1);
        t.apply(0, WatchEvent::Relisting);
        t.apply(0, WatchEvent::Listed(widget("a", "1", false)));
        assert!(!t.synced(0));
        t.apply(0, WatchEvent::ListDone);
        assert!(t.synced(0));
        assert_eq!(uids(&t), ["1"]);
    }

    #[test]
    fn relist_drops_objects_deleted_during_an_outage() {
        let mut t = Tracker::new(1);
        for e in [
            WatchEvent::Relisting,
            WatchEvent::Listed(widget("a", "1", false)),
            WatchEvent::Listed(widget("b", "2", false)),
            WatchEvent::ListDone,
        ] {
            t.apply(0, e);
        }
        for e in [
            WatchEvent::Relisting,
            WatchEvent::Listed(widget("b", "2", true)),
            WatchEvent::ListDone,
        ] {
            t.apply(0, e);
        }
        assert_eq!(uids(&t), ["2"]);
        assert_eq!(t.objects(0).next().unwrap()["status"]["ready"], true);
    }

    #[test]
    fn recreated_object_replaces_the_old_one() {
        let mut t = Tracker::new(1);
        t.apply(0, WatchEvent::Relisting);
        t.apply(0, WatchEvent::Listed(widget("a", "1", true)));
        t.apply(0, WatchEvent::ListDone);
        t.apply(0, WatchEvent::Deleted(widget("a", "1", true)));
        assert!(uids(&t).is_empty());
        t.apply(0, WatchEvent::Applied(widget("a", "2", false)));
        assert_eq!(uids(&t), ["2"]);
    }

    #[test]
    fn targets_are_independent() {
        let mut t = Tracker::new(2);
        t.apply(1, WatchEvent::Applied(widget("a", "1", true)));
        assert_eq!(t.objects(0).count(), 0);
        assert_eq!(t.objects(1).count(), 1);
    }
}
