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

/// The last known version of one object.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub object: Value,
    /// This version arrived after the first full list: a change, not the
    /// state at start (what `--changes-only` counts).
    pub fresh: bool,
}

#[derive(Debug, Default)]
struct TargetState {
    objects: BTreeMap<String, Entry>,
    /// Keys seen during the re-list in progress.
    relisting: Option<BTreeSet<String>>,
    synced: bool,
    /// Names of objects that left after the first full list (deleted or no
    /// longer selected), in order.
    departed: Vec<String>,
}

impl TargetState {
    fn depart(&mut self, key: &str) {
        if let Some(entry) = self.objects.remove(key)
            && self.synced
        {
            self.departed.push(name(&entry.object));
        }
    }
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
                // On a re-list, a version we had not seen is a change made
                // while the watch was down.
                let fresh = state.synced
                    && state.objects.get(&key).is_none_or(|known| {
                        known.fresh || resource_version(&known.object) != resource_version(&object)
                    });
                state.objects.insert(key, Entry { object, fresh });
            }
            WatchEvent::ListDone => {
                if let Some(seen) = state.relisting.take() {
                    // Whatever the fresh list lacks left while we were away.
                    let gone: Vec<String> = state
                        .objects
                        .keys()
                        .filter(|k| !seen.contains(*k))
                        .cloned()
                        .collect();
                    for key in gone {
                        state.depart(&key);
                    }
                }
                state.synced = true;
            }
            WatchEvent::Applied(object) => {
                state.objects.insert(
                    key(&object),
                    Entry {
                        object,
                        fresh: true,
                    },
                );
            }
            WatchEvent::Deleted(object) => state.depart(&key(&object)),
        }
    }

    /// Whether the target's first full list has arrived.
    pub fn synced(&self, target: usize) -> bool {
        self.targets[target].synced
    }

    pub fn entries(&self, target: usize) -> impl Iterator<Item = &Entry> {
        self.targets[target].objects.values()
    }

    pub fn objects(&self, target: usize) -> impl Iterator<Item = &Value> {
        self.entries(target).map(|e| &e.object)
    }

    /// Objects that left the target after start, oldest first.
    pub fn departed(&self, target: usize) -> &[String] {
        &self.targets[target].departed
    }
}

pub fn name(object: &Value) -> String {
    object["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn resource_version(object: &Value) -> &str {
    object["metadata"]["resourceVersion"].as_str().unwrap_or("")
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

    fn with_rv(mut object: Value, rv: &str) -> Value {
        object["metadata"]["resourceVersion"] = json!(rv);
        object
    }

    fn freshness(tracker: &Tracker) -> Vec<bool> {
        tracker.entries(0).map(|e| e.fresh).collect()
    }

    #[test]
    fn the_state_at_start_is_not_fresh_but_later_versions_are() {
        let mut t = Tracker::new(1);
        t.apply(0, WatchEvent::Relisting);
        t.apply(0, WatchEvent::Listed(with_rv(widget("a", "1", true), "5")));
        t.apply(0, WatchEvent::ListDone);
        assert_eq!(freshness(&t), [false]);
        t.apply(0, WatchEvent::Applied(with_rv(widget("a", "1", true), "6")));
        assert_eq!(freshness(&t), [true]);
    }

    #[test]
    fn a_relist_marks_only_versions_changed_during_the_outage_as_fresh() {
        let mut t = Tracker::new(1);
        for e in [
            WatchEvent::Relisting,
            WatchEvent::Listed(with_rv(widget("a", "1", false), "5")),
            WatchEvent::Listed(with_rv(widget("b", "2", false), "6")),
            WatchEvent::ListDone,
            WatchEvent::Relisting,
            WatchEvent::Listed(with_rv(widget("a", "1", false), "5")),
            WatchEvent::Listed(with_rv(widget("b", "2", true), "9")),
            WatchEvent::Listed(with_rv(widget("c", "3", true), "10")),
            WatchEvent::ListDone,
        ] {
            t.apply(0, e);
        }
        assert_eq!(freshness(&t), [false, true, true]);
    }

    #[test]
    fn departures_after_start_are_remembered_in_order() {
        let mut t = Tracker::new(1);
        for e in [
            WatchEvent::Relisting,
            WatchEvent::Listed(widget("a", "1", false)),
            WatchEvent::Listed(widget("b", "2", false)),
            WatchEvent::Listed(widget("c", "3", false)),
            WatchEvent::ListDone,
            WatchEvent::Deleted(widget("b", "2", false)),
            WatchEvent::Relisting,
            WatchEvent::Listed(widget("c", "3", false)),
            WatchEvent::ListDone,
        ] {
            t.apply(0, e);
        }
        assert_eq!(t.departed(0), ["b", "a"]);
        assert_eq!(uids(&t), ["3"]);
    }

    #[test]
    fn targets_are_independent() {
        let mut t = Tracker::new(2);
        t.apply(1, WatchEvent::Applied(widget("a", "1", true)));
        assert_eq!(t.objects(0).count(), 0);
        assert_eq!(t.objects(1).count(), 1);
    }
}
