//! Notify mode's filter: which changes become notifications, given `--when`
//! (edges, per object UID), `--on-change`, `--events` and `--initial`, and
//! with `--resolve` which objects that fired stopped meeting `--when`.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

/// Sets and maps keyed by uids, hashed fast: a filter hashes a change's
/// uid several times, and the uids come from the apiserver.
type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

use crate::expr::Expr;
use crate::tracker::{Change, ChangeKind, Previous};

#[derive(Debug)]
pub struct Filter {
    when: Option<Expr>,
    /// Lone-path expressions whose selected values are compared.
    on_change: Vec<Expr>,
    /// Created, modified, deleted: which of them notify.
    events: [bool; 3],
    initial: bool,
    /// The objects (UIDs) `--when` held for at their latest version: one
    /// that is not here did not (or was never seen). Only these are kept:
    /// a rule seldom holds for most objects, and 50 rules over 200 objects
    /// each kept one entry per object.
    truth: HashSet<String>,
    /// The last `--on-change` values per object UID.
    values: HashMap<String, Vec<Vec<Value>>>,
    /// `--resolve`: tell when an object that fired stops meeting `--when`.
    resolve: bool,
    /// With `--resolve`, the objects (UIDs) that fired and have not been
    /// resolved since: the open alerts.
    open: HashSet<String>,
    /// Open alerts whose firing may have gone out before this replica took
    /// over (a checkpoint's `firing` mark): their resolution is told even
    /// if it breaks a `--hold` of their replayed firing.
    unsure: HashSet<String>,
    /// Shared with the hubs of the watches it reads (see [`Gate`]).
    gate: Option<Arc<Gate>>,
}

/// What the hub of a shared watch needs to keep from a rule the changes
/// its filter would drop without a trace, so the rule's task is not woken
/// for them (with 50 rules, 5 reading each watch, that wake-up and loop
/// was most of what each rule beyond the first cost an event): `--when`,
/// and the objects it cannot judge alone, those the filter holds for or
/// has an open alert of, kept in step by the filter as it judges. Only
/// for a filter with nothing else to remember (`--when` without
/// `--on-change`), of a rule that judges each change as it comes (no
/// `--hold`, `--throttle` or checkpoint).
#[derive(Debug)]
pub struct Gate {
    when: Expr,
    /// The objects it cannot judge alone, by the hash of their uid (see
    /// [`uid_hash`]), each counted once per uid of that hash: no string
    /// is copied as an object starts or stops holding.
    marked: Mutex<HashMap<u64, u32>>,
    /// Set once the rule has taken what its version before handed it
    /// (open alerts): until then every change goes to the rule.
    ready: AtomicBool,
    /// Per target, how many of its events the rule has judged: a change
    /// of an object is kept from the rule only once it has judged every
    /// event of that object it was sent.
    judged: Box<[AtomicU64]>,
}

impl Gate {
    /// Whether the rule can do without this change: it is no
    /// notification, and the filter would remember nothing new of it (a
    /// deletion of an object it holds nothing for; any other change that
    /// `--when` does not hold for, of such an object). `hash`: the
    /// [`uid_hash`] of the object's [`uid`].
    pub fn drops(&self, change: &Change, hash: u64) -> bool {
        if !self.ready.load(Ordering::Acquire) || self.marked().contains_key(&hash) {
            return false;
        }
        match change.kind {
            ChangeKind::Deleted => true,
            ChangeKind::Resolved { .. } => false,
            _ => !self.when.eval(&change.object),
        }
    }

    /// How many events of target `target` the rule has judged.
    pub fn judged(&self, target: usize) -> u64 {
        self.judged[target].load(Ordering::Acquire)
    }

    /// The rule has judged one more event of target `target`.
    pub fn judge(&self, target: usize) {
        self.judged[target].fetch_add(1, Ordering::AcqRel);
    }

    fn marked(&self) -> MutexGuard<'_, HashMap<u64, u32>> {
        self.marked.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the filter remembers of one object, for a checkpoint: its last
/// `--when` truth, its `--on-change` values, and whether its alert is open.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Memory<'a> {
    pub when: Option<bool>,
    pub values: Option<&'a Vec<Vec<Value>>>,
    pub open: bool,
}

impl Filter {
    pub fn new(
        when: Option<Expr>,
        on_change: Vec<Expr>,
        events: &[ChangeKind],
        initial: bool,
    ) -> Filter {
        let wanted = |kind| events.is_empty() || events.contains(&kind);
        Filter {
            when,
            on_change,
            events: [
                wanted(ChangeKind::Created),
                wanted(ChangeKind::Modified),
                wanted(ChangeKind::Deleted),
            ],
            initial,
            truth: HashSet::default(),
            values: HashMap::default(),
            resolve: false,
            open: HashSet::default(),
            unsure: HashSet::default(),
            gate: None,
        }
    }

    /// The gate a watch's hub keeps this filter's changes with, for a rule
    /// of `targets` targets; none unless it judges by `--when` alone.
    pub fn gate(&mut self, targets: usize) -> Option<Arc<Gate>> {
        if !self.on_change.is_empty() {
            return None;
        }
        let mut marked: HashMap<u64, u32> = HashMap::default();
        for uid in self.truth.union(&self.open) {
            *marked.entry(uid_hash(uid)).or_default() += 1;
        }
        let gate = Arc::new(Gate {
            when: self.when.clone()?,
            marked: Mutex::new(marked),
            ready: AtomicBool::new(false),
            judged: (0..targets).map(|_| AtomicU64::new(0)).collect(),
        });
        self.gate = Some(gate.clone());
        Some(gate)
    }

    /// The rule holds all it starts with (what its version before handed
    /// it): its gate may keep changes from it from now on.
    pub fn open_gate(&self) {
        if let Some(gate) = &self.gate {
            gate.ready.store(true, Ordering::Release);
        }
    }

    /// Whether the filter cannot judge this object alone: it holds for
    /// it, or its alert is open.
    fn is_marked(&self, uid: &str) -> bool {
        self.truth.contains(uid) || self.open.contains(uid)
    }

    /// Keeps the gate's view of one object in step with the filter's,
    /// once it changed: `was`, whether it was marked before.
    fn mark(&self, uid: &str, was: bool) {
        let Some(gate) = &self.gate else {
            return;
        };
        let is = self.is_marked(uid);
        if was == is {
            return;
        }
        let mut marked = gate.marked();
        let hash = uid_hash(uid);
        match is {
            true => *marked.entry(hash).or_default() += 1,
            false => {
                if let Some(count) = marked.get_mut(&hash) {
                    *count -= 1;
                    if *count == 0 {
                        marked.remove(&hash);
                    }
                }
            }
        }
    }

    /// Whether the state at start is told (`--initial`).
    pub fn tells_initial(&self) -> bool {
        self.initial
    }

    /// The state at start is not told: a changed rule's new version
    /// starts where its old version, which told it, stops.
    pub fn continuing(&mut self) {
        self.initial = false;
    }

    /// `--resolve` (the plan requires `--when`).
    pub fn resolving(mut self, resolve: bool) -> Filter {
        self.resolve = resolve;
        self
    }

    /// What is remembered of one object (by UID), for a checkpoint.
    pub fn remembered(&self, uid: &str) -> Memory<'_> {
        Memory {
            when: self.when.as_ref().map(|_| self.truth.contains(uid)),
            values: self.values.get(uid),
            open: self.open.contains(uid),
        }
    }

    /// With `--resolve`: whether any alert is open.
    pub fn any_open(&self) -> bool {
        !self.open.is_empty()
    }

    /// With `--resolve`: whether this object's alert is open and `--when`
    /// still holds for this version of it (an alert a checkpoint has open
    /// that still fires).
    pub fn still_firing(&self, object: &Value) -> bool {
        self.open.contains(&*uid(object)) && self.when.as_ref().is_some_and(|w| w.eval(object))
    }

    /// Takes back what a checkpoint remembered of one object.
    pub fn restore(
        &mut self,
        uid: &str,
        truth: Option<bool>,
        values: Option<Vec<Vec<Value>>>,
        open: bool,
    ) {
        let was = self.gate.is_some() && self.is_marked(uid);
        match truth {
            Some(true) => {
                self.truth.insert(uid.to_string());
            }
            Some(false) => {
                self.truth.remove(uid);
            }
            None => {}
        }
        if let Some(values) = values {
            self.values.insert(uid.to_string(), values);
        }
        if open && self.resolve {
            self.open.insert(uid.to_string());
        }
        self.mark(uid, was);
    }

    /// `--resolve`: a checkpoint says this object's firing may have gone
    /// out though its state is from before it: the alert counts as open
    /// until a resolution of it is told.
    pub fn may_have_fired(&mut self, uid: &str) {
        if self.resolve {
            let was = self.gate.is_some() && self.is_marked(uid);
            self.open.insert(uid.to_string());
            self.unsure.insert(uid.to_string());
            self.mark(uid, was);
        }
    }

    /// Whether this object's alert may have fired before this replica
    /// took over, and is not resolved since (see [`Filter::may_have_fired`]).
    pub fn is_unsure(&self, uid: &str) -> bool {
        self.unsure.contains(uid)
    }

    /// The alerts that may have fired before this replica took over and
    /// are not resolved since (UIDs).
    pub fn unsure(&self) -> impl Iterator<Item = &String> {
        self.unsure.iter()
    }

    /// `--resolve`: the objects (UIDs) whose alert is open.
    pub fn open_alerts(&self) -> Vec<String> {
        self.open.iter().cloned().collect()
    }

    /// Whether it tells resolutions (`--resolve`).
    pub fn resolves(&self) -> bool {
        self.resolve
    }

    /// What shapes the state it keeps, as flags: `--when`, `--on-change`,
    /// `--events` (empty without them).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(when) = &self.when {
            parts.push(format!("--when '{}'", when.source()));
        }
        for path in &self.on_change {
            parts.push(format!("--on-change {}", path.source()));
        }
        if self.events != [true; 3] {
            let names = [
                ChangeKind::Created,
                ChangeKind::Modified,
                ChangeKind::Deleted,
            ];
            let wanted: Vec<&str> = names
                .iter()
                .zip(self.events)
                .filter(|(_, wanted)| *wanted)
                .map(|(kind, _)| kind.as_str())
                .collect();
            parts.push(format!("--events {}", wanted.join(",")));
        }
        parts.join(" ")
    }

    /// A modification that came with no version before it (the first after
    /// resuming from a checkpoint, which keeps no whole objects): the
    /// version before, as far as known — this one with the `--on-change`
    /// values remembered put back — so that it shows those paths, old → new.
    /// Read before [`Filter::admit`], which remembers the new values.
    pub fn previous(&self, change: &Change) -> Option<Previous> {
        if change.kind != ChangeKind::Modified || change.previous.is_some() {
            return None;
        }
        let values = self.values.get(&*uid(&change.object))?;
        let mut before = Value::clone(&change.object);
        let mut any = false;
        for (path, old) in self.on_change.iter().zip(values) {
            let old = match old.as_slice() {
                [] => None,
                [one] => Some(one.clone()),
                // A path selecting several nodes has no one place to put them.
                _ => continue,
            };
            any |= path.put(&mut before, old);
        }
        any.then(|| Previous::of(&before))
    }

    /// Forgets every object (a replica that stepped down starts again from
    /// the checkpoint when it takes over).
    pub fn forget(&mut self) {
        self.truth.clear();
        self.values.clear();
        self.open.clear();
        self.unsure.clear();
        if let Some(gate) = &self.gate {
            gate.marked().clear();
        }
    }

    /// The expressions of `--when` and `--on-change`.
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.when.iter().chain(&self.on_change)
    }

    /// Whether this change is a notification. Called for every change, in
    /// order, so that `--when` edges and `--on-change` values are tracked
    /// even for changes not shown. With `--resolve`, a change that makes an
    /// open alert's object stop meeting `--when` (or deletes it) becomes a
    /// resolution: its kind is turned into [`ChangeKind::Resolved`]. A
    /// resolution is its own event: `--events` and `--on-change` do not
    /// narrow it (the alert it closes went out).
    pub fn admit(&mut self, change: &mut Change) -> bool {
        let edge = self.when_edge(change);
        let changed = self.value_changed(change);
        let kind_wanted = match change.kind {
            ChangeKind::Initial => self.initial,
            ChangeKind::Created => self.events[0],
            ChangeKind::Modified => self.events[1],
            ChangeKind::Deleted => self.events[2],
            ChangeKind::Resolved { .. } => true,
        };
        match edge {
            Edge::Resolves => {
                change.kind = ChangeKind::Resolved {
                    gone: change.kind == ChangeKind::Deleted,
                };
                true
            }
            Edge::Fires | Edge::Unnarrowed if kind_wanted && changed => {
                if edge == Edge::Fires && self.resolve {
                    self.open.insert(uid(&change.object).into_owned());
                }
                true
            }
            _ => false,
        }
    }

    /// With `--when`: whether EXPR held for the object's latest version
    /// admitted or not (never for a deleted one). Read after [`Filter::admit`].
    pub fn when_holds(&self, change: &Change) -> bool {
        self.truth.contains(&*uid(&change.object))
    }

    /// With `--when`: fires only when EXPR turns true for that object (or,
    /// for the state at start, simply holds); with `--resolve`, resolves
    /// when it stops holding for an open alert's object, or that object is
    /// deleted. Without `--when`: every change passes.
    fn when_edge(&mut self, change: &Change) -> Edge {
        let Some(when) = &self.when else {
            return Edge::Unnarrowed;
        };
        let uid = uid(&change.object);
        if change.kind == ChangeKind::Deleted {
            let held = self.truth.remove(&*uid);
            self.unsure.remove(&*uid);
            let open = self.open.remove(&*uid);
            if held || open {
                self.mark(&uid, true);
            }
            return match open {
                true => Edge::Resolves,
                false => Edge::None,
            };
        }
        let now = when.eval(&change.object);
        let before = self.truth.contains(&*uid);
        match (before, now) {
            (false, true) => {
                self.truth.insert(uid.to_string());
            }
            (true, false) => {
                self.truth.remove(&*uid);
            }
            _ => {}
        }
        let fires = match change.kind {
            ChangeKind::Initial => now,
            _ => now && !before,
        };
        let edge = if fires {
            Edge::Fires
        } else if !now && self.open.remove(&*uid) {
            self.unsure.remove(&*uid);
            Edge::Resolves
        } else {
            Edge::None
        };
        if before != now || edge == Edge::Resolves {
            // Only a resolution takes an open alert of an object `--when`
            // did not hold for (handed over by the rule's version before).
            let was = before || edge == Edge::Resolves || self.open.contains(&*uid);
            self.mark(&uid, was);
        }
        edge
    }

    /// With `--on-change`: whether a value at one of the paths differs
    /// between the previous version and this one (nothing before a creation,
    /// nothing after a deletion). Only the selected values are remembered,
    /// per object UID.
    fn value_changed(&mut self, change: &Change) -> bool {
        if self.on_change.is_empty() {
            return true;
        }
        let uid = uid(&change.object);
        let now = self.selected(&change.object);
        if change.kind == ChangeKind::Deleted {
            // A deletion a re-list found after a checkpoint resume carries
            // only the object's identity: the values it had are remembered,
            // and one never judged here was told by the replica before
            // (announced in the checkpoint), so its end is told too.
            let before = self.values.remove(&*uid);
            let any = |values: &Vec<Vec<Value>>| values.iter().any(|v| !v.is_empty());
            return any(&now) || before.as_ref().is_none_or(any);
        }
        // A known object's values are replaced in place: no new key, no copy.
        let changed = match self.values.get_mut(&*uid) {
            Some(before) if *before == now => false,
            Some(before) => {
                *before = now;
                true
            }
            None => {
                let any = now.iter().any(|values| !values.is_empty());
                self.values.insert(uid.into_owned(), now);
                any
            }
        };
        change.kind == ChangeKind::Initial || changed
    }

    /// The values at each `--on-change` path.
    fn selected(&self, object: &Value) -> Vec<Vec<Value>> {
        self.on_change
            .iter()
            .map(|path| {
                path.path_values(object)
                    .into_iter()
                    .flat_map(|(_, nodes)| nodes)
                    .cloned()
                    .collect()
            })
            .collect()
    }
}

/// What `--when` makes of one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    /// No `--when`: the change is not narrowed by it.
    Unnarrowed,
    /// EXPR turned true (or held at start).
    Fires,
    /// `--resolve`: EXPR stopped holding for an open alert's object, or
    /// the object was deleted.
    Resolves,
    None,
}

/// The hash a watch's hub and a filter's gate know an object's uid by
/// (compared in this process only).
pub fn uid_hash(uid: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::default().hash_one(uid)
}

/// What an object is known by across versions: its UID (or, lacking one,
/// namespace and name).
pub fn uid(object: &Value) -> Cow<'_, str> {
    let meta = &object["metadata"];
    match meta["uid"].as_str() {
        Some(uid) => Cow::Borrowed(uid),
        None => Cow::Owned(crate::tracker::key(object)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::Previous;
    use serde_json::json;

    fn obj(uid: &str, phase: &str, data: &str) -> Value {
        json!({"metadata": {"name": "w", "uid": uid}, "status": {"phase": phase}, "data": {"k": data}, "spec": {"x": 1}})
    }

    fn change(kind: ChangeKind, object: Value, previous: Option<Previous>) -> Change {
        Change {
            kind,
            object: object.into(),
            previous,
        }
    }

    fn when(expr: &str) -> Filter {
        Filter::new(Some(Expr::parse(expr).unwrap()), vec![], &[], false)
    }

    /// Every sequence of changes to three objects (xorshift-drawn: kinds,
    /// phases, with and without `--resolve`, `--initial`, alerts handed
    /// over open): a filter behind its gate, sent only the changes the gate
    /// does not drop, tells exactly what a filter sent every change tells,
    /// and ends remembering the same.
    #[test]
    fn a_gated_filter_tells_what_it_would_be_told_every_change() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut draw = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut dropped = 0;
        for round in 0..400 {
            let (resolve, initial) = (round % 2 == 1, round % 3 == 0);
            let make = || {
                Filter::new(
                    Some(Expr::parse(r#".status.phase == "Failed""#).unwrap()),
                    vec![],
                    &[],
                    initial,
                )
                .resolving(resolve)
            };
            let (mut all, mut gated) = (make(), make());
            // A changed rule's version before may hand alerts over open.
            let handed: Vec<String> = (0..draw(3)).map(|u| u.to_string()).collect();
            let gate = gated.gate(1).unwrap();
            for filter in [&mut all, &mut gated] {
                for uid in &handed {
                    filter.restore(uid, None, None, true);
                }
            }
            gated.open_gate();
            let kinds = [
                ChangeKind::Initial,
                ChangeKind::Created,
                ChangeKind::Modified,
                ChangeKind::Modified,
                ChangeKind::Deleted,
            ];
            for step in 0..30 {
                let uid = draw(3).to_string();
                let kind = match step {
                    0..3 => ChangeKind::Initial,
                    _ => kinds[1 + draw(4) as usize],
                };
                let phase = ["Failed", "Running", "Pending"][draw(3) as usize];
                let object = obj(&uid, phase, "x");
                let mut one = change(kind, object.clone(), None);
                let told = all.admit(&mut one).then_some(one.kind);
                let mut two = change(kind, object, None);
                let gated_told = match gate.drops(&two, uid_hash(&uid)) {
                    true => {
                        dropped += 1;
                        None
                    }
                    false => gated.admit(&mut two).then_some(two.kind),
                };
                assert_eq!(
                    told, gated_told,
                    "round {round}, step {step}: {kind:?} of {uid}"
                );
            }
            for uid in ["0", "1", "2"] {
                assert_eq!(
                    all.remembered(uid),
                    gated.remembered(uid),
                    "round {round}: {uid}"
                );
            }
        }
        assert!(dropped > 1000, "the gate drops what it can: {dropped}");
    }

    /// Until the rule holds what its version before handed it, and for an
    /// object it holds for, its gate drops nothing.
    #[test]
    fn a_gate_drops_nothing_before_it_opens_nor_of_an_object_held() {
        let mut f = when(r#".status.phase == "Failed""#);
        let gate = f.gate(1).unwrap();
        let running = change(ChangeKind::Modified, obj("1", "Running", "x"), None);
        assert!(!gate.drops(&running, uid_hash("1")), "not open yet");
        f.open_gate();
        assert!(gate.drops(&running, uid_hash("1")));
        let failed = change(ChangeKind::Modified, obj("1", "Failed", "x"), None);
        assert!(!gate.drops(&failed, uid_hash("1")), "--when holds");
        assert!(f.admit(&mut failed.clone()));
        assert!(
            !gate.drops(&running, uid_hash("1")),
            "held: its end is the filter's"
        );
        assert!(!f.admit(&mut running.clone()));
        assert!(gate.drops(&running, uid_hash("1")));
        let deleted = change(ChangeKind::Deleted, obj("1", "Running", "x"), None);
        assert!(gate.drops(&deleted, uid_hash("1")));
        let mut on_change = Filter::new(None, vec![Expr::parse(".data.k").unwrap()], &[], false);
        assert!(on_change.gate(1).is_none(), "--on-change remembers values");
        assert!(Filter::new(None, vec![], &[], false).gate(1).is_none());
    }

    #[test]
    fn without_narrowing_every_change_but_the_state_at_start_notifies() {
        let mut f = Filter::new(None, vec![], &[], false);
        assert!(!f.admit(&mut change(ChangeKind::Initial, obj("1", "a", "x"), None)));
        for kind in [
            ChangeKind::Created,
            ChangeKind::Modified,
            ChangeKind::Deleted,
        ] {
            assert!(
                f.admit(&mut change(kind, obj("1", "a", "x"), None)),
                "{kind:?}"
            );
        }
        let mut f = Filter::new(None, vec![], &[], true);
        assert!(
            f.admit(&mut change(ChangeKind::Initial, obj("1", "a", "x"), None)),
            "--initial"
        );
    }

    #[test]
    fn events_select_kinds_of_change() {
        let mut f = Filter::new(None, vec![], &[ChangeKind::Deleted], false);
        assert!(!f.admit(&mut change(ChangeKind::Created, obj("1", "a", "x"), None)));
        assert!(!f.admit(&mut change(ChangeKind::Modified, obj("1", "a", "x"), None)));
        assert!(f.admit(&mut change(ChangeKind::Deleted, obj("1", "a", "x"), None)));
    }

    #[test]
    fn when_fires_on_each_false_to_true_edge_only() {
        let mut f = when(".status.phase == Failed");
        let phases = ["Running", "Failed", "Failed", "Running", "Failed", "Failed"];
        let fired: Vec<bool> = phases
            .iter()
            .map(|p| f.admit(&mut change(ChangeKind::Modified, obj("1", p, "x"), None)))
            .collect();
        assert_eq!(fired, [false, true, false, false, true, false]);
    }

    /// `--when` keeps an entry only for the objects it holds for (50 rules
    /// over 200 objects kept 10,000), and tells a checkpoint the same: an
    /// object judged false is remembered as false.
    #[test]
    fn when_keeps_only_the_objects_it_holds_for() {
        let mut f = when(".status.phase == Failed");
        for (uid, phase) in [("1", "Running"), ("2", "Failed"), ("3", "Running")] {
            f.admit(&mut change(ChangeKind::Initial, obj(uid, phase, "x"), None));
        }
        assert_eq!(f.truth.len(), 1);
        let told = |f: &Filter, uid: &str| f.remembered(uid).when;
        assert_eq!([told(&f, "1"), told(&f, "2")], [Some(false), Some(true)]);
        f.restore("1", Some(true), None, false);
        f.restore("2", Some(false), None, false);
        assert_eq!([told(&f, "1"), told(&f, "2")], [Some(true), Some(false)]);
        // Restored as holding: no edge when it still holds.
        assert!(!f.admit(&mut change(
            ChangeKind::Modified,
            obj("1", "Failed", "x"),
            None
        )));
        assert!(f.admit(&mut change(
            ChangeKind::Modified,
            obj("2", "Failed", "x"),
            None
        )));
    }

    #[test]
    fn when_edges_are_per_object_and_a_recreated_object_starts_over() {
        let mut f = when(".status.phase == Failed");
        assert!(f.admit(&mut change(
            ChangeKind::Modified,
            obj("1", "Failed", "x"),
            None
        )));
        assert!(
            f.admit(&mut change(
                ChangeKind::Created,
                obj("2", "Failed", "x"),
                None
            )),
            "another object"
        );
        assert!(
            !f.admit(&mut change(
                ChangeKind::Deleted,
                obj("1", "Failed", "x"),
                None
            )),
            "a deletion is no edge"
        );
        assert!(
            f.admit(&mut change(
                ChangeKind::Created,
                obj("3", "Failed", "x"),
                None
            )),
            "new UID, new object"
        );
    }

    #[test]
    fn the_state_at_start_is_remembered_not_notified() {
        let mut f = when(".status.phase == Failed");
        assert!(!f.admit(&mut change(
            ChangeKind::Initial,
            obj("1", "Failed", "x"),
            None
        )));
        assert!(
            !f.admit(&mut change(
                ChangeKind::Modified,
                obj("1", "Failed", "y"),
                None
            )),
            "true→true"
        );
        let mut f = Filter::new(
            Some(Expr::parse(".status.phase == Failed").unwrap()),
            vec![],
            &[],
            true,
        );
        assert!(
            f.admit(&mut change(
                ChangeKind::Initial,
                obj("1", "Failed", "x"),
                None
            )),
            "--initial and true"
        );
        assert!(
            !f.admit(&mut change(
                ChangeKind::Initial,
                obj("2", "Running", "x"),
                None
            )),
            "--initial but false"
        );
    }

    #[test]
    fn on_change_ignores_changes_elsewhere() {
        let mut f = Filter::new(None, vec![Expr::parse(".data").unwrap()], &[], false);
        let old = obj("1", "a", "x");
        assert!(!f.admit(&mut change(ChangeKind::Initial, old.clone(), None)));
        let mut spec_only = old.clone();
        spec_only["spec"]["x"] = json!(2);
        assert!(!f.admit(&mut change(ChangeKind::Modified, spec_only, None)));
        assert!(f.admit(&mut change(ChangeKind::Modified, obj("1", "a", "y"), None)));
        assert!(
            !f.admit(&mut change(ChangeKind::Modified, obj("1", "b", "y"), None)),
            "compared with the last version, not the first"
        );
        assert!(f.admit(&mut change(ChangeKind::Created, obj("2", "a", "x"), None)));
        assert!(f.admit(&mut change(ChangeKind::Deleted, old, None)));
        let bare = json!({"metadata": {"uid": "9"}});
        assert!(
            !f.admit(&mut change(ChangeKind::Created, bare, None)),
            "nothing at the path"
        );
    }

    #[test]
    fn on_change_tells_a_deletion_known_by_identity_only_when_the_object_had_values() {
        let mut f = Filter::new(
            None,
            vec![Expr::parse(".status.phase").unwrap()],
            &[],
            false,
        );
        // Restored from a checkpoint: its values, not the object.
        f.restore("1", None, Some(vec![vec![json!("a")]]), false);
        let identity = json!({"metadata": {"name": "w", "uid": "1", "resourceVersion": "19"}});
        assert!(f.admit(&mut change(ChangeKind::Deleted, identity, None)));
        let announced = json!({"metadata": {"name": "u", "uid": "3"}});
        assert!(
            f.admit(&mut change(ChangeKind::Deleted, announced, None)),
            "told by the replica before"
        );
        let bare = json!({"metadata": {"name": "v", "uid": "2", "resourceVersion": "18"}});
        assert!(!f.admit(&mut change(ChangeKind::Created, bare.clone(), None)));
        let mut never = bare;
        never["metadata"]["resourceVersion"] = json!("19");
        assert!(
            !f.admit(&mut change(ChangeKind::Deleted, never, None)),
            "nothing ever at the path"
        );
    }

    #[test]
    fn on_change_values_are_tracked_through_changes_not_shown() {
        let mut f = Filter::new(
            Some(Expr::parse(".status.phase == Failed").unwrap()),
            vec![Expr::parse(".data").unwrap()],
            &[],
            false,
        );
        assert!(!f.admit(&mut change(ChangeKind::Initial, obj("1", "a", "x"), None)));
        assert!(
            !f.admit(&mut change(ChangeKind::Modified, obj("1", "a", "y"), None)),
            "--when is false"
        );
        assert!(
            !f.admit(&mut change(
                ChangeKind::Modified,
                obj("1", "Failed", "y"),
                None
            )),
            "--when turned true, but .data is still y"
        );
        assert!(!f.admit(&mut change(ChangeKind::Modified, obj("1", "a", "z"), None)));
        assert!(f.admit(&mut change(
            ChangeKind::Modified,
            obj("1", "Failed", "w"),
            None
        )));
    }

    fn resolving(expr: &str) -> Filter {
        Filter::new(Some(Expr::parse(expr).unwrap()), vec![], &[], false).resolving(true)
    }

    /// The kinds of what was admitted, in order ("-" for nothing).
    fn told(f: &mut Filter, changes: Vec<(ChangeKind, Value)>) -> Vec<&'static str> {
        changes
            .into_iter()
            .map(|(kind, object)| {
                let mut c = change(kind, object, None);
                if f.admit(&mut c) {
                    c.kind.as_str()
                } else {
                    "-"
                }
            })
            .collect()
    }

    #[test]
    fn resolve_tells_when_an_object_that_fired_stops_meeting_when_or_is_deleted() {
        let mut f = resolving(".status.phase == Failed");
        let m = ChangeKind::Modified;
        assert_eq!(
            told(
                &mut f,
                vec![
                    (m, obj("1", "Running", "x")),
                    (m, obj("1", "Failed", "x")),
                    (m, obj("1", "Failed", "y")),
                    (m, obj("1", "Running", "y")),
                    (m, obj("1", "Running", "z")),
                    (m, obj("1", "Failed", "z")),
                    (ChangeKind::Deleted, obj("1", "Failed", "z")),
                ]
            ),
            [
                "-", "modified", "-", "resolved", "-", "modified", "resolved"
            ]
        );
        let mut gone = change(ChangeKind::Deleted, obj("2", "Failed", "x"), None);
        assert!(f.admit(&mut change(
            ChangeKind::Created,
            obj("2", "Failed", "x"),
            None
        )));
        assert!(f.admit(&mut gone));
        assert_eq!(gone.kind, ChangeKind::Resolved { gone: true });
    }

    #[test]
    fn resolve_closes_only_what_fired() {
        // At start, without --initial, nothing fired: nothing to resolve.
        let mut f = resolving(".status.phase == Failed");
        assert_eq!(
            told(
                &mut f,
                vec![
                    (ChangeKind::Initial, obj("1", "Failed", "x")),
                    (ChangeKind::Modified, obj("1", "Running", "x")),
                    (ChangeKind::Deleted, obj("1", "Running", "x")),
                ]
            ),
            ["-", "-", "-"]
        );
        // An edge --events leaves out did not fire either.
        let mut f = Filter::new(
            Some(Expr::parse(".status.phase == Failed").unwrap()),
            vec![],
            &[ChangeKind::Created],
            false,
        )
        .resolving(true);
        assert_eq!(
            told(
                &mut f,
                vec![
                    (ChangeKind::Modified, obj("1", "Failed", "x")),
                    (ChangeKind::Modified, obj("1", "Running", "x")),
                    (ChangeKind::Created, obj("2", "Failed", "x")),
                    (ChangeKind::Modified, obj("2", "Running", "x")),
                ]
            ),
            ["-", "-", "created", "resolved"]
        );
        // Without --resolve nothing is ever resolved.
        let mut f = when(".status.phase == Failed");
        assert_eq!(
            told(
                &mut f,
                vec![
                    (ChangeKind::Modified, obj("1", "Failed", "x")),
                    (ChangeKind::Modified, obj("1", "Running", "x")),
                ]
            ),
            ["modified", "-"]
        );
    }

    #[test]
    fn open_alerts_are_remembered_for_a_checkpoint_and_restored() {
        let mut f = resolving(".status.phase == Failed");
        assert!(f.admit(&mut change(
            ChangeKind::Modified,
            obj("1", "Failed", "x"),
            None
        )));
        let memory = f.remembered("1");
        assert_eq!((memory.when, memory.open), (Some(true), true));
        let mut after = resolving(".status.phase == Failed");
        after.restore("1", memory.when, None, memory.open);
        // Recovered while no replica ran: told after the restart.
        assert_eq!(
            told(
                &mut after,
                vec![(ChangeKind::Modified, obj("1", "Running", "x"))]
            ),
            ["resolved"]
        );
        assert!(!after.remembered("1").open);
    }

    /// A checkpoint's `firing` mark: the alert may have fired though the
    /// state restored is from before; the replayed firing is told again,
    /// and the first resolution after it is unsure (told even if it breaks
    /// a hold), the next ones as usual.
    #[test]
    fn an_alert_that_may_have_fired_is_open_and_unsure_until_its_resolution() {
        let mut f = resolving(".status.phase == Failed");
        f.restore("1", Some(false), None, false);
        f.may_have_fired("1");
        assert!(f.remembered("1").open && f.is_unsure("1"));
        assert_eq!(
            told(
                &mut f,
                vec![
                    (ChangeKind::Modified, obj("1", "Failed", "x")),
                    (ChangeKind::Modified, obj("1", "Running", "x")),
                ]
            ),
            ["modified", "resolved"]
        );
        assert!(!f.is_unsure("1") && !f.remembered("1").open);
        f.may_have_fired("2");
        assert_eq!(f.unsure().collect::<Vec<_>>(), ["2"]);
        let mut gone = change(ChangeKind::Deleted, obj("2", "Failed", "x"), None);
        assert!(f.admit(&mut gone));
        assert_eq!(gone.kind, ChangeKind::Resolved { gone: true });
        assert!(!f.is_unsure("2"));
        // Without --resolve there is no alert to keep open.
        let mut plain = when(".status.phase == Failed");
        plain.may_have_fired("3");
        assert!(!plain.is_unsure("3") && !plain.remembered("3").open);
    }
}
