//! Pure per-target state built from watch events: the last known version of
//! each object, and what changed. Re-lists are reconciled against what we
//! knew, so an outage neither loses a change nor repeats one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

/// A watcher event, stripped of the client types. Its object is shared:
/// every rule reading a shared watch gets the same one, down to its sinks,
/// and copies nothing of a version it drops (a copy per reader was half of
/// what each reader beyond the first cost).
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    /// A (re-)list starts; `Listed` objects follow, then `ListDone`.
    Relisting,
    Listed(Arc<Value>),
    ListDone,
    Applied(Arc<Value>),
    Deleted(Arc<Value>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The state at start, from the first list.
    Initial,
    Created,
    Modified,
    Deleted,
    /// `--resolve`: `--when` stopped holding for an object that fired
    /// (`gone`: the object was deleted). Not the tracker's: the filter
    /// turns a modification or deletion into one.
    Resolved {
        gone: bool,
    },
}

impl ChangeKind {
    /// The word users see and commands get in `KUBECTL_NOTIFY_EVENT`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Initial => "initial",
            ChangeKind::Created => "created",
            ChangeKind::Modified => "modified",
            ChangeKind::Deleted => "deleted",
            ChangeKind::Resolved { .. } => "resolved",
        }
    }

    /// A new version of a kept object, so it may show what changed: a
    /// modification, or a resolution by one.
    pub fn shows_diff(self) -> bool {
        matches!(
            self,
            ChangeKind::Modified | ChangeKind::Resolved { gone: false }
        )
    }
}

/// One change to one object: `object` is the new version, or for a deletion
/// the last known state (with [`Keep::Identity`], after an outage, only its
/// identity). With [`Keep::Objects`] the tracker holds the new version and
/// the change carries its identity: wait mode judges the tracker's objects.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: ChangeKind,
    /// Shared with the watch's event and every rule reading it.
    pub object: Arc<Value>,
    /// The version before a modification, with [`Keep::Diffs`].
    pub previous: Option<Previous>,
}

/// A previous version, kept as compact JSON: a fraction of the memory of a
/// parsed object, read back only when a diff is shown. Shared: a shared
/// watch's tracker makes it once for every rule reading the watch.
#[derive(Debug, Clone, PartialEq)]
pub struct Previous(Arc<str>);

impl Previous {
    pub fn of(object: &Value) -> Previous {
        // Written straight to bytes: `to_string` goes through `fmt` a piece
        // at a time (twice the instructions; a shared watch does this for
        // every event, for the rules that may join it).
        let text = serde_json::to_string(object).unwrap_or_default();
        Previous(text.into())
    }

    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or_default()
    }
}

/// How much of each object the tracker keeps between events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Whole objects: wait mode judges them all again on every event.
    Objects,
    /// Identity, plus the last version as compact JSON for diffs.
    Diffs,
    /// Identity only (apiVersion, kind, name, namespace, uid,
    /// resourceVersion): enough to tell changes from replays.
    Identity,
}

/// The last known version of one object.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The whole object with [`Keep::Objects`], else `Null`: the identity
    /// is `version` (and the key the entry is filed under).
    pub object: Value,
    /// Without [`Keep::Objects`]: what tells this version from others.
    version: Option<Version>,
    /// With [`Keep::Diffs`]: the whole object.
    last: Option<Previous>,
    /// This version arrived after the first full list: a change, not the
    /// state at start (what `--changes-only` counts).
    pub fresh: bool,
}

/// An object's uid and resourceVersion, without the two maps of a parsed
/// identity (~2 KB an object: 50 rules over 2,000 objects held 24 MB of
/// them, one set per rule): one buffer, the uid then the resourceVersion,
/// so one allocation an object (two were 0.5 MB more at 50 rules).
#[derive(Debug, Clone, PartialEq)]
struct Version {
    /// A `String`: each new version is copied into the old one's buffer.
    text: String,
    /// Where the uid ends and the resourceVersion starts.
    uid_len: u32,
}

impl Version {
    fn of(object: &Value) -> Version {
        let (uid, rv) = (uid(object), resource_version(object));
        let mut text = String::with_capacity(uid.len() + rv.len());
        text.push_str(uid);
        text.push_str(rv);
        Version {
            text,
            uid_len: uid.len() as u32,
        }
    }

    fn uid(&self) -> &str {
        &self.text[..self.uid_len as usize]
    }

    fn resource_version(&self) -> &str {
        &self.text[self.uid_len as usize..]
    }

    /// A new resourceVersion, in the old one's buffer.
    fn set_resource_version(&mut self, rv: &str) {
        self.text.truncate(self.uid_len as usize);
        self.text.push_str(rv);
    }
}

impl Entry {
    /// The entry of an object of which only the identity is kept.
    fn identity(object: &Value, last: Option<Previous>, fresh: bool) -> Entry {
        Entry {
            object: Value::Null,
            version: Some(Version::of(object)),
            last,
            fresh,
        }
    }

    fn uid(&self) -> &str {
        match &self.version {
            Some(version) => version.uid(),
            None => uid(&self.object),
        }
    }

    fn resource_version(&self) -> &str {
        match &self.version {
            Some(version) => version.resource_version(),
            None => resource_version(&self.object),
        }
    }

    /// The whole last version: kept whole ([`Keep::Objects`]), or parsed
    /// back from its compact JSON ([`Keep::Diffs`]). (With
    /// [`Keep::Identity`] nothing of it is kept but its version: `Null`.)
    pub fn whole(&self) -> Value {
        self.last
            .as_ref()
            .map_or_else(|| self.object.clone(), Previous::value)
    }
}

#[derive(Debug)]
struct TargetState {
    keep: Keep,
    /// The `apiVersion` and `kind` of the target's objects (the first
    /// recorded), for an identity made again from an entry.
    types: Option<(Value, Value)>,
    objects: BTreeMap<String, Entry>,
    /// Keys seen during the re-list in progress.
    relisting: Option<BTreeSet<String>>,
    synced: bool,
    /// Seeded from a checkpoint, and nothing came from the server since:
    /// whether its type is served there is not known yet.
    resumed: bool,
    /// The highest resourceVersion seen (0: none, or not an integer): where
    /// a watch can resume with nothing after it missed (`--checkpoint`).
    position: u64,
    /// With [`Keep::Objects`] (wait mode): the last known state of each
    /// object that left after the first full list (deleted or no longer
    /// selected), in order. A departed object is an input like any other:
    /// `--for delete` is met by it, and a command is handed its last state.
    departed: Vec<Value>,
    /// From a checkpoint: objects whose first notification went out before
    /// the checkpoint held them (by key, their identity). A re-list that
    /// lacks one reports its deletion; any event about one leaves it to
    /// that event.
    announced: BTreeMap<String, Value>,
}

impl TargetState {
    fn new(keep: Keep) -> TargetState {
        TargetState {
            keep,
            types: None,
            objects: BTreeMap::new(),
            relisting: None,
            synced: false,
            resumed: false,
            position: 0,
            departed: Vec::new(),
            announced: BTreeMap::new(),
        }
    }

    /// Splits a version into what is kept and what the change carries: the
    /// object goes to one of them whole and the other gets its identity, so
    /// it is never copied.
    fn split(&mut self, object: Arc<Value>, fresh: bool) -> (Entry, Arc<Value>) {
        if self.types.is_none() {
            self.types = Some((object["apiVersion"].clone(), object["kind"].clone()));
        }
        match self.keep {
            Keep::Objects => {
                let carried = Arc::new(identity(&object));
                let entry = Entry {
                    // Wait mode reads its watch alone: the only holder.
                    object: Arc::unwrap_or_clone(object),
                    version: None,
                    last: None,
                    fresh,
                };
                (entry, carried)
            }
            Keep::Diffs => {
                let last = Some(Previous::of(&object));
                (Entry::identity(&object, last, fresh), object)
            }
            Keep::Identity => (Entry::identity(&object, None, fresh), object),
        }
    }

    /// The identity of an entry filed under `key`, as [`identity`] made it.
    fn identity_of(&self, key: &str, entry: Entry) -> Value {
        let Some(version) = entry.version else {
            return entry.object;
        };
        let (namespace, name) = key.split_once('/').unwrap_or(("", key));
        let mut meta = serde_json::Map::new();
        meta.insert("name".into(), name.into());
        if !namespace.is_empty() {
            meta.insert("namespace".into(), namespace.into());
        }
        if !version.uid().is_empty() {
            meta.insert("uid".into(), version.uid().into());
        }
        if !version.resource_version().is_empty() {
            meta.insert("resourceVersion".into(), version.resource_version().into());
        }
        let mut identity = serde_json::Map::new();
        if let Some((api_version, kind)) = &self.types {
            for (field, value) in [("apiVersion", api_version), ("kind", kind)] {
                if !value.is_null() {
                    identity.insert(field.into(), value.clone());
                }
            }
        }
        identity.insert("metadata".into(), Value::Object(meta));
        Value::Object(identity)
    }

    /// Removes an object; `last` is its final state when the server sent
    /// one (a watch deletion), else the last version we know is used.
    fn depart(&mut self, key: &str, last: Option<Arc<Value>>) -> Option<Change> {
        let mut entry = self.objects.remove(key)?;
        let object = match (last, entry.last.take()) {
            (Some(last), _) => last,
            (None, Some(previous)) => Arc::new(previous.value()),
            (None, None) => Arc::new(self.identity_of(key, entry)),
        };
        if self.synced && self.keep == Keep::Objects {
            self.departed.push(Value::clone(&object));
        }
        Some(Change {
            kind: ChangeKind::Deleted,
            object,
            previous: None,
        })
    }

    /// Records a version and says what it changed, if anything. A new UID
    /// under a known name is a deletion followed by a creation.
    fn record(&mut self, object: Arc<Value>, listed_at_start: bool, changes: &mut Vec<Change>) {
        let key = key(&object);
        match self.announced.get(&key) {
            Some(told) if uid(told) == uid(&object) => {
                self.announced.remove(&key);
            }
            // A re-list shows another object under an announced one's name:
            // the announced one was deleted while nobody watched. (A replay
            // may show an older object there: its own events follow.)
            Some(_) if self.relisting.is_some() => {
                let gone = self.announced.remove(&key).expect("just seen");
                changes.push(Change {
                    kind: ChangeKind::Deleted,
                    object: Arc::new(gone),
                    previous: None,
                });
            }
            _ => {}
        }
        let fresh = !listed_at_start;
        let keep = self.keep;
        let known = match self.objects.get_mut(&key) {
            None => {
                let kind = if listed_at_start {
                    ChangeKind::Initial
                } else {
                    ChangeKind::Created
                };
                let (entry, object) = self.split(object, fresh);
                self.objects.insert(key, entry);
                changes.push(Change {
                    kind,
                    object,
                    previous: None,
                });
                return;
            }
            // A version older than the object now under the name: a
            // replay (from a checkpoint's position) of what came before it.
            Some(known) if known.uid() != uid(&object) && !newer(&object, known) => {
                return;
            }
            Some(known) if known.uid() != uid(&object) => {
                changes.extend(self.depart(&key, None));
                return self.record(object, listed_at_start, changes);
            }
            Some(known) => known,
        };
        if !newer(&object, known) {
            return;
        }
        known.fresh |= fresh;
        let mut object = object;
        let previous = match keep {
            Keep::Objects => {
                let carried = Arc::new(identity(&object));
                let whole = std::mem::replace(&mut object, carried);
                known.object = Arc::unwrap_or_clone(whole);
                None
            }
            // Same name and uid: of the identity only the version moved.
            Keep::Diffs | Keep::Identity => {
                // Reuses the old version's buffer: no allocation per event.
                if let Some(version) = &mut known.version {
                    version.set_resource_version(resource_version(&object));
                }
                match keep {
                    Keep::Diffs => known.last.replace(Previous::of(&object)),
                    _ => None,
                }
            }
        };
        changes.push(Change {
            kind: ChangeKind::Modified,
            object,
            previous,
        });
    }
}

/// What identifies a version: type, name, namespace, uid, resourceVersion.
fn identity(object: &Value) -> Value {
    let meta = &object["metadata"];
    let mut kept = serde_json::Map::new();
    for field in ["name", "namespace", "uid", "resourceVersion"] {
        if let Some(value) = meta.get(field) {
            kept.insert(field.to_string(), value.clone());
        }
    }
    let mut identity = serde_json::Map::new();
    for field in ["apiVersion", "kind"] {
        if let Some(value) = object.get(field) {
            identity.insert(field.to_string(), value.clone());
        }
    }
    identity.insert("metadata".to_string(), Value::Object(kept));
    Value::Object(identity)
}

#[derive(Debug)]
pub struct Tracker {
    targets: Vec<TargetState>,
}

impl Tracker {
    pub fn new(targets: usize, keep: Keep) -> Tracker {
        Tracker {
            targets: (0..targets).map(|_| TargetState::new(keep)).collect(),
        }
    }

    /// Applies one watcher event and returns the changes it reveals, in order.
    pub fn apply(&mut self, target: usize, event: WatchEvent) -> Vec<Change> {
        let state = &mut self.targets[target];
        let mut changes = Vec::new();
        state.resumed = false;
        if let WatchEvent::Listed(o) | WatchEvent::Applied(o) | WatchEvent::Deleted(o) = &event
            && let Ok(rv) = resource_version(o).parse::<u64>()
        {
            state.position = state.position.max(rv);
        }
        match event {
            WatchEvent::Relisting => state.relisting = Some(BTreeSet::new()),
            WatchEvent::Listed(object) => {
                if let Some(seen) = &mut state.relisting {
                    seen.insert(key(&object));
                }
                let at_start = !state.synced;
                state.record(object, at_start, &mut changes);
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
                        changes.extend(state.depart(&key, None));
                    }
                }
                // Announced before a checkpoint knew them, and not listed:
                // deleted while nobody watched.
                for (_, object) in std::mem::take(&mut state.announced) {
                    changes.push(Change {
                        kind: ChangeKind::Deleted,
                        object: Arc::new(object),
                        previous: None,
                    });
                }
                state.synced = true;
            }
            WatchEvent::Applied(object) => state.record(object, false, &mut changes),
            WatchEvent::Deleted(object) => {
                let key = key(&object);
                if state
                    .announced
                    .get(&key)
                    .is_some_and(|told| uid(told) == uid(&object))
                {
                    state.announced.remove(&key);
                }
                let known = state.objects.get(&key);
                let same = known.is_some_and(|known| known.uid() == uid(&object));
                // The deletion of an older object than the one now under the
                // name (a replay from a checkpoint's position): nothing to do.
                let stale = known.is_some_and(|known| !same && !newer(&object, known));
                if !stale {
                    changes.extend(state.depart(&key, same.then_some(object)));
                }
            }
        }
        changes
    }

    /// Starts a target from a checkpoint instead of a first list: these
    /// identities are the state already told, `position` the resourceVersion
    /// up to which it was. What the watch brings next is compared with them.
    /// `announced`: objects told of whose state the checkpoint lacks; a
    /// re-list that finds one compares it as new, one that lacks it reports
    /// its deletion.
    pub fn seed(
        &mut self,
        target: usize,
        position: u64,
        identities: Vec<Value>,
        announced: Vec<Value>,
    ) {
        let state = &mut self.targets[target];
        let keep = state.keep;
        if let Some(object) = identities.first() {
            state.types = Some((object["apiVersion"].clone(), object["kind"].clone()));
        }
        state.objects = identities
            .into_iter()
            .map(|object| {
                let entry = match keep {
                    Keep::Objects => Entry {
                        object: identity(&object),
                        version: None,
                        last: None,
                        fresh: false,
                    },
                    Keep::Diffs | Keep::Identity => Entry::identity(&object, None, false),
                };
                (key(&object), entry)
            })
            .collect();
        state.announced = announced
            .into_iter()
            .map(|object| (key(&object), identity(&object)))
            .collect();
        state.relisting = None;
        // Only announcements: the first list is still the state at start.
        state.synced = position > 0 || !state.objects.is_empty();
        state.resumed = state.synced;
        state.position = state.position.max(position);
    }

    /// The changes `event` makes for this tracker, from those the tracker
    /// of a shared watch made of it ([`Keep::Diffs`]): the watch tracks its
    /// objects once for every rule reading it, and each rule takes what its
    /// own tracker would have made (with [`Keep::Identity`], no previous
    /// version, and a deletion the tracker found, not the server's, as the
    /// identity alone). This tracker then holds none of the objects, only
    /// where the target's lists are: it must have seen the same events as
    /// that one since both started, or since the end of a list both saw.
    /// Never with [`Keep::Objects`] (wait mode judges the objects it holds).
    pub fn follow(&mut self, target: usize, event: WatchEvent, changes: &[Change]) -> Vec<Change> {
        let state = &mut self.targets[target];
        state.resumed = false;
        // Held here until the watch's tracker took over: its from now on.
        state.objects.clear();
        let sent = match event {
            WatchEvent::Relisting | WatchEvent::ListDone => {
                // With no objects of its own, a list's end finds none gone.
                self.apply(target, event);
                None
            }
            WatchEvent::Listed(object) | WatchEvent::Applied(object) => Some(object),
            WatchEvent::Deleted(object) => Some(object),
        };
        let keep = self.targets[target].keep;
        changes
            .iter()
            .map(|change| {
                let mut change = change.clone();
                if keep == Keep::Identity {
                    change.previous = None;
                    let from_server = sent
                        .as_ref()
                        .is_some_and(|sent| Arc::ptr_eq(sent, &change.object));
                    if change.kind == ChangeKind::Deleted && !from_server {
                        change.object = Arc::new(identity(&change.object));
                    }
                }
                change
            })
            .collect()
    }

    /// Forgets everything, as before the first list.
    pub fn reset(&mut self) {
        for state in &mut self.targets {
            *state = TargetState::new(state.keep);
        }
    }

    /// The highest resourceVersion this target has seen, if any: a watch
    /// resumed from it misses nothing after what was recorded.
    pub fn position(&self, target: usize) -> Option<u64> {
        Some(self.targets[target].position).filter(|p| *p > 0)
    }

    /// Raises a target's position to a resourceVersion known to be covered
    /// (a list's, taken before the watch started).
    pub fn advance(&mut self, target: usize, position: u64) {
        let state = &mut self.targets[target];
        state.position = state.position.max(position);
    }

    /// Whether the target's first full list has arrived.
    pub fn synced(&self, target: usize) -> bool {
        self.targets[target].synced
    }

    /// Whether the server has served the target since the start: its first
    /// list arrived, or (resumed from a checkpoint) anything since. Until
    /// then an error is the start's (a type no longer served ends the run),
    /// not a watch's trouble to retry.
    pub fn listed(&self, target: usize) -> bool {
        let state = &self.targets[target];
        state.synced && !state.resumed
    }

    /// The last known version of one object, by [`key`].
    pub fn entry(&self, target: usize, key: &str) -> Option<&Entry> {
        self.targets[target].objects.get(key)
    }

    /// How many objects the target has now.
    pub fn len(&self, target: usize) -> usize {
        self.targets[target].objects.len()
    }

    pub fn entries(&self, target: usize) -> impl Iterator<Item = &Entry> {
        self.targets[target].objects.values()
    }

    /// With [`Keep::Objects`]: the objects (without it, see [`Tracker::identities`]).
    pub fn objects(&self, target: usize) -> impl Iterator<Item = &Value> {
        self.entries(target).map(|e| &e.object)
    }

    /// Each object's key, uid and resourceVersion (what a checkpoint keeps).
    pub fn versions(&self, target: usize) -> impl Iterator<Item = (&str, &str, &str)> {
        self.targets[target]
            .objects
            .iter()
            .map(|(key, entry)| (key.as_str(), entry.uid(), entry.resource_version()))
    }

    /// The identity of each object (type, name, namespace, uid, resourceVersion).
    pub fn identities(&self, target: usize) -> impl Iterator<Item = Value> + '_ {
        let state = &self.targets[target];
        state
            .objects
            .iter()
            .map(|(key, entry)| match entry.version {
                Some(_) => state.identity_of(key, entry.clone()),
                None => identity(&entry.object),
            })
    }

    /// With [`Keep::Objects`]: the last known state of the objects that
    /// left the target after start, oldest first.
    pub fn departed(&self, target: usize) -> &[Value] {
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

fn uid(object: &Value) -> &str {
    object["metadata"]["uid"].as_str().unwrap_or("")
}

/// Whether `new` is a later version than `known`'s. resourceVersions are
/// opaque, but every apiserver makes them integers; where both parse, an
/// older or equal one is stale (a replay), otherwise any difference counts.
fn newer(new: &Value, known: &Entry) -> bool {
    let (new, known) = (resource_version(new), known.resource_version());
    match (new.parse::<u64>(), known.parse::<u64>()) {
        (Ok(new), Ok(known)) => new > known,
        _ => new != known,
    }
}

/// What tells objects of one target apart: `namespace/name`.
pub fn key(object: &Value) -> String {
    let meta = &object["metadata"];
    let namespace = meta["namespace"].as_str().unwrap_or("");
    let name = meta["name"].as_str().unwrap_or("");
    // Per event: joined by hand, without the formatting machinery.
    let mut key = String::with_capacity(namespace.len() + 1 + name.len());
    key.push_str(namespace);
    key.push('/');
    key.push_str(name);
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn widget(name: &str, uid: &str, rv: u64, ready: bool) -> Value {
        json!({"metadata": {"name": name, "namespace": "default", "uid": uid, "resourceVersion": rv.to_string()},
               "status": {"ready": ready}})
    }

    /// Feeds events to target 0 and returns `kind name@rv` for each change.
    fn feed(t: &mut Tracker, events: Vec<WatchEvent>) -> Vec<String> {
        events
            .into_iter()
            .flat_map(|e| t.apply(0, e))
            .map(|c| {
                format!(
                    "{} {}@{}",
                    c.kind.as_str(),
                    name(&c.object),
                    resource_version(&c.object)
                )
            })
            .collect()
    }

    fn start(t: &mut Tracker, objects: Vec<Value>) -> Vec<String> {
        let mut events = vec![WatchEvent::Relisting];
        events.extend(objects.into_iter().map(|o| WatchEvent::Listed(o.into())));
        events.push(WatchEvent::ListDone);
        feed(t, events)
    }

    fn uids(tracker: &Tracker) -> Vec<String> {
        tracker.identities(0).map(|o| uid(&o).to_string()).collect()
    }

    fn departed(tracker: &Tracker) -> Vec<String> {
        tracker.departed(0).iter().map(name).collect()
    }

    fn freshness(tracker: &Tracker) -> Vec<bool> {
        tracker.entries(0).map(|e| e.fresh).collect()
    }

    /// Announced in a checkpoint that does not hold them: a re-list that
    /// lacks one tells its deletion, one it finds is new; a replay (no
    /// re-list) carries its own events.
    #[test]
    fn announced_objects_are_deleted_by_a_relist_that_lacks_them_and_new_if_listed() {
        let mut t = Tracker::new(1, Keep::Identity);
        let (gone, found) = (
            widget("gone", "u1", 0, true),
            widget("found", "u2", 0, true),
        );
        t.seed(0, 10, vec![], vec![gone.clone(), found.clone()]);
        assert_eq!(
            start(&mut t, vec![widget("found", "u2", 12, true)]),
            ["created found@12", "deleted gone@0"]
        );
        let mut t = Tracker::new(1, Keep::Identity);
        t.seed(0, 10, vec![], vec![gone]);
        let replay = vec![
            WatchEvent::Applied(widget("gone", "u1", 11, true).into()),
            WatchEvent::Deleted(widget("gone", "u1", 13, true).into()),
        ];
        assert_eq!(feed(&mut t, replay), ["created gone@11", "deleted gone@13"]);
        assert_eq!(start(&mut t, vec![]), Vec::<String>::new());
        // Another object under the announced one's name in a re-list: the
        // announced one is gone.
        let mut t = Tracker::new(1, Keep::Identity);
        t.seed(0, 10, vec![], vec![widget("c", "u1", 0, true)]);
        assert_eq!(
            start(&mut t, vec![widget("c", "u3", 28, true)]),
            ["deleted c@0", "created c@28"]
        );
        // In a replay an older object under that name changes nothing of it.
        let mut t = Tracker::new(1, Keep::Identity);
        t.seed(0, 10, vec![], vec![widget("c", "u1", 0, true)]);
        let replay = vec![
            WatchEvent::Applied(widget("c", "u0", 11, true).into()),
            WatchEvent::Deleted(widget("c", "u0", 12, true).into()),
            WatchEvent::Applied(widget("c", "u1", 13, true).into()),
        ];
        assert_eq!(
            feed(&mut t, replay),
            ["created c@11", "deleted c@12", "created c@13"]
        );
        assert_eq!(
            start(&mut t, vec![widget("c", "u1", 13, true)]),
            Vec::<String>::new()
        );
    }

    /// Resumed from a checkpoint whose position is behind some object (a
    /// change of another one waited in a window): the replay of what came
    /// before that object under its name changes nothing.
    #[test]
    fn a_replay_older_than_the_object_under_the_name_is_no_change() {
        let mut t = Tracker::new(1, Keep::Identity);
        t.seed(0, 15, vec![widget("b", "new", 22, true)], vec![]);
        let old = widget("b", "old", 17, true);
        assert_eq!(
            feed(&mut t, vec![WatchEvent::Applied(old.clone().into())]),
            Vec::<String>::new()
        );
        let mut gone = old;
        gone["metadata"]["resourceVersion"] = json!("18");
        assert_eq!(
            feed(&mut t, vec![WatchEvent::Deleted(gone.into())]),
            Vec::<String>::new()
        );
        let again = widget("b", "new", 22, true);
        assert_eq!(
            feed(&mut t, vec![WatchEvent::Applied(again.into())]),
            Vec::<String>::new()
        );
        assert_eq!(uids(&t), ["new"]);
        let later = widget("b", "new", 23, true);
        assert_eq!(
            feed(&mut t, vec![WatchEvent::Applied(later.into())]),
            ["modified b@23"]
        );
    }

    #[test]
    fn the_first_list_is_the_state_at_start() {
        let mut t = Tracker::new(1, Keep::Objects);
        assert_eq!(
            feed(
                &mut t,
                vec![
                    WatchEvent::Relisting,
                    WatchEvent::Listed(widget("a", "1", 5, false).into())
                ]
            ),
            ["initial a@5"]
        );
        assert!(!t.synced(0));
        assert_eq!(
            feed(&mut t, vec![WatchEvent::ListDone]),
            Vec::<String>::new()
        );
        assert!(t.synced(0));
        assert_eq!(freshness(&t), [false]);
    }

    #[test]
    fn watch_events_become_created_modified_deleted() {
        let mut t = Tracker::new(1, Keep::Objects);
        start(&mut t, vec![]);
        let changes = feed(
            &mut t,
            vec![
                WatchEvent::Applied(widget("a", "1", 6, false).into()),
                WatchEvent::Applied(widget("a", "1", 7, true).into()),
                WatchEvent::Deleted(widget("a", "1", 8, true).into()),
            ],
        );
        assert_eq!(changes, ["created a@6", "modified a@7", "deleted a@8"]);
        assert_eq!(departed(&t), ["a"]);
    }

    #[test]
    fn a_modification_carries_the_previous_version_when_diffs_are_kept() {
        let mut t = Tracker::new(1, Keep::Diffs);
        start(&mut t, vec![widget("a", "1", 5, false)]);
        let change = t
            .apply(0, WatchEvent::Applied(widget("a", "1", 6, true).into()))
            .remove(0);
        assert_eq!(change.previous.unwrap().value()["status"]["ready"], false);
        assert_eq!(change.object["status"]["ready"], true);
        assert_eq!(freshness(&t), [true]);
        // Judged objects need no previous version.
        let mut t = Tracker::new(1, Keep::Objects);
        start(&mut t, vec![widget("a", "1", 5, false)]);
        let change = t
            .apply(0, WatchEvent::Applied(widget("a", "1", 6, true).into()))
            .remove(0);
        assert_eq!(change.previous, None);
    }

    /// Every rule reading a shared watch gets the event's object itself, not
    /// a copy: two trackers fed the same event hand on the same object.
    #[test]
    fn rules_reading_one_event_share_its_object() {
        for keep in [Keep::Diffs, Keep::Identity] {
            let (mut one, mut other) = (Tracker::new(1, keep), Tracker::new(1, keep));
            for t in [&mut one, &mut other] {
                start(t, vec![widget("a", "1", 5, false)]);
            }
            let event = WatchEvent::Applied(widget("a", "1", 6, true).into());
            let (a, b) = (one.apply(0, event.clone()), other.apply(0, event));
            assert!(Arc::ptr_eq(&a[0].object, &b[0].object), "{keep:?}");
            let gone = WatchEvent::Deleted(widget("a", "1", 7, true).into());
            let (a, b) = (one.apply(0, gone.clone()), other.apply(0, gone));
            assert!(Arc::ptr_eq(&a[0].object, &b[0].object), "{keep:?}");
        }
    }

    #[test]
    fn judged_objects_are_held_whole_and_the_change_names_them() {
        let mut t = Tracker::new(1, Keep::Objects);
        start(&mut t, vec![widget("a", "1", 5, false)]);
        let change = t
            .apply(0, WatchEvent::Applied(widget("a", "1", 6, true).into()))
            .remove(0);
        assert_eq!(
            *change.object,
            json!({"metadata": {"name": "a", "namespace": "default", "uid": "1", "resourceVersion": "6"}})
        );
        let held: Vec<&Value> = t.objects(0).collect();
        assert_eq!(held, [&widget("a", "1", 6, true)]);
    }

    #[test]
    fn without_judging_or_diffs_only_the_identity_is_kept() {
        let mut t = Tracker::new(1, Keep::Identity);
        start(&mut t, vec![widget("a", "1", 5, false)]);
        let kept: Vec<Value> = t.identities(0).collect();
        assert_eq!(
            kept,
            [
                json!({"metadata": {"name": "a", "namespace": "default", "uid": "1", "resourceVersion": "5"}})
            ]
        );
        assert_eq!(t.objects(0).collect::<Vec<_>>(), [&Value::Null]);
        // The same changes are told apart from replays...
        let changes = feed(
            &mut t,
            vec![
                WatchEvent::Applied(widget("a", "1", 5, false).into()),
                WatchEvent::Applied(widget("a", "1", 6, true).into()),
            ],
        );
        assert_eq!(changes, ["modified a@6"]);
        // ...and the change still carries the whole object.
        let change = t
            .apply(0, WatchEvent::Applied(widget("a", "1", 7, false).into()))
            .remove(0);
        assert_eq!(change.object["status"]["ready"], false);
        assert_eq!(change.previous, None);
    }

    #[test]
    fn a_deletion_seen_only_by_a_relist_reports_what_was_kept() {
        for (keep, status) in [
            (Keep::Objects, json!({"ready": true})),
            (Keep::Diffs, json!({"ready": true})),
            (Keep::Identity, Value::Null),
        ] {
            let mut t = Tracker::new(1, keep);
            start(&mut t, vec![widget("a", "1", 5, true)]);
            let change = start(&mut t, vec![]);
            assert_eq!(change, ["deleted a@5"], "{keep:?}");
            start(&mut t, vec![widget("a", "1", 5, true)]);
            let change = t
                .apply(0, WatchEvent::Relisting)
                .into_iter()
                .chain(t.apply(0, WatchEvent::ListDone))
                .next()
                .unwrap();
            assert_eq!(change.object["status"], status, "{keep:?}");
            assert_eq!(change.object["metadata"]["uid"], "1", "{keep:?}");
        }
    }

    #[test]
    fn replayed_or_older_versions_are_not_changes() {
        let mut t = Tracker::new(1, Keep::Objects);
        start(&mut t, vec![widget("a", "1", 5, false)]);
        let changes = feed(
            &mut t,
            vec![
                WatchEvent::Applied(widget("a", "1", 5, false).into()),
                WatchEvent::Applied(widget("a", "1", 4, true).into()),
            ],
        );
        assert!(changes.is_empty(), "{changes:?}");
    }

    #[test]
    fn a_relist_reports_each_change_of_the_outage_once() {
        let mut t = Tracker::new(1, Keep::Objects);
        start(
            &mut t,
            vec![
                widget("a", "1", 5, false),
                widget("b", "2", 6, false),
                widget("c", "3", 7, false),
            ],
        );
        // While disconnected: a unchanged, b modified, c deleted, d created.
        let changes = start(
            &mut t,
            vec![
                widget("a", "1", 5, false),
                widget("b", "2", 9, true),
                widget("d", "4", 10, true),
            ],
        );
        assert_eq!(changes, ["modified b@9", "created d@10", "deleted c@7"]);
        assert_eq!(freshness(&t), [false, true, true]);
        // The same list again changes nothing.
        assert!(
            start(
                &mut t,
                vec![
                    widget("a", "1", 5, false),
                    widget("b", "2", 9, true),
                    widget("d", "4", 10, true)
                ]
            )
            .is_empty()
        );
        assert_eq!(departed(&t), ["c"]);
    }

    /// A rule that takes its changes from its shared watch's tracker gets
    /// exactly what its own tracker would have told, whatever it keeps:
    /// following from the start, or from the end of a list it read itself.
    #[test]
    fn following_a_shared_watchs_tracker_tells_what_its_own_would() {
        let w = |name: &str, uid: &str, rv: u64| {
            let mut object = widget(name, uid, rv, rv.is_multiple_of(2));
            object["apiVersion"] = json!("example.com/v1");
            object["kind"] = json!("Widget");
            WatchEvent::Listed(object.into())
        };
        let applied = |event: WatchEvent| match event {
            WatchEvent::Listed(object) => WatchEvent::Applied(object),
            other => other,
        };
        let deleted = |event: WatchEvent| match event {
            WatchEvent::Listed(object) => WatchEvent::Deleted(object),
            other => other,
        };
        let first_list = [
            WatchEvent::Relisting,
            w("a", "1", 5),
            w("b", "2", 6),
            w("c", "3", 7),
            WatchEvent::ListDone,
        ];
        let later = vec![
            applied(w("a", "1", 8)),
            // A replay, and an older version: no change.
            applied(w("a", "1", 8)),
            applied(w("a", "1", 4)),
            // Re-created under the same name: a deletion and a creation.
            applied(w("b", "9", 10)),
            deleted(w("c", "3", 11)),
            deleted(w("zz", "5", 12)),
            applied(w("d", "4", 13)),
            // A re-list that lacks d: its deletion, found by the tracker.
            WatchEvent::Relisting,
            w("a", "1", 14),
            w("b", "9", 10),
            WatchEvent::ListDone,
            // The deletion of another object under b's name than the one known.
            deleted(w("b", "7", 15)),
        ];
        for keep in [Keep::Diffs, Keep::Identity] {
            let mut watch = Tracker::new(1, Keep::Diffs);
            let mut own = Tracker::new(1, keep);
            let mut from_start = Tracker::new(1, keep);
            let mut after_list = Tracker::new(1, keep);
            for (i, event) in first_list.iter().chain(&later).enumerate() {
                let shared = watch.apply(0, event.clone());
                let told = own.apply(0, event.clone());
                assert_eq!(
                    from_start.follow(0, event.clone(), &shared),
                    told,
                    "{keep:?}, event {i}"
                );
                let after = match i < first_list.len() {
                    true => after_list.apply(0, event.clone()),
                    false => after_list.follow(0, event.clone(), &shared),
                };
                assert_eq!(after, told, "{keep:?}, event {i}");
                assert_eq!(from_start.synced(0), own.synced(0));
            }
            // The objects are held once, by the watch's tracker.
            assert_eq!((own.len(0), watch.len(0)), (1, 1));
            assert_eq!((from_start.len(0), after_list.len(0)), (0, 0));
        }
    }

    #[test]
    fn a_recreated_object_is_a_deletion_and_a_creation() {
        let mut t = Tracker::new(1, Keep::Objects);
        start(&mut t, vec![widget("a", "1", 5, true)]);
        // Seen live...
        assert_eq!(
            feed(
                &mut t,
                vec![WatchEvent::Applied(widget("a", "2", 9, false).into())]
            ),
            ["deleted a@5", "created a@9"]
        );
        // ...or only through a re-list after an outage.
        assert_eq!(
            start(&mut t, vec![widget("a", "3", 12, false)]),
            ["deleted a@9", "created a@12"]
        );
        assert_eq!(uids(&t), ["3"]);
    }

    /// A deletion found by a re-list carries the last version known: with
    /// identities only, the identity as it was when kept as a parsed object
    /// (type, name, namespace, uid, resourceVersion).
    #[test]
    fn a_deletion_found_by_a_relist_carries_the_identity() {
        for keep in [Keep::Identity, Keep::Diffs, Keep::Objects] {
            let mut t = Tracker::new(1, keep);
            let mut a = widget("a", "1", 5, false);
            a["apiVersion"] = json!("example.com/v1");
            a["kind"] = json!("Widget");
            start(&mut t, vec![a.clone(), widget("b", "2", 6, false)]);
            t.apply(0, WatchEvent::Relisting);
            t.apply(0, WatchEvent::Listed(widget("b", "2", 6, false).into()));
            let gone = t.apply(0, WatchEvent::ListDone);
            // Kept whole, or as JSON for diffs: the last version whole.
            let expected = match keep {
                Keep::Diffs | Keep::Objects => a,
                Keep::Identity => json!({"apiVersion": "example.com/v1", "kind": "Widget",
                            "metadata": {"name": "a", "namespace": "default", "uid": "1", "resourceVersion": "5"}}),
            };
            assert_eq!(gone.len(), 1, "{keep:?}");
            assert_eq!(gone[0].kind, ChangeKind::Deleted, "{keep:?}");
            assert_eq!(*gone[0].object, expected, "{keep:?}");
        }
    }

    #[test]
    fn a_deletion_reports_the_final_state_the_server_sent() {
        let mut t = Tracker::new(1, Keep::Objects);
        start(&mut t, vec![widget("a", "1", 5, false)]);
        let change = t
            .apply(0, WatchEvent::Deleted(widget("a", "1", 6, true).into()))
            .remove(0);
        assert_eq!(change.kind, ChangeKind::Deleted);
        assert_eq!(change.object["status"]["ready"], true);
        assert!(
            t.apply(0, WatchEvent::Deleted(widget("zz", "9", 7, true).into()))
                .is_empty()
        );
    }

    #[test]
    fn targets_are_independent() {
        let mut t = Tracker::new(2, Keep::Objects);
        t.apply(1, WatchEvent::Applied(widget("a", "1", 1, true).into()));
        assert_eq!(t.objects(0).count(), 0);
        assert_eq!(t.objects(1).count(), 1);
    }
}
