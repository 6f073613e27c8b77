//! Notify mode's filter: which changes become notifications, given `--when`
//! (edges, per object UID), `--on-change`, `--events` and `--initial`.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::Value;

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
    /// The last `--when` truth per object UID.
    truth: HashMap<String, bool>,
    /// The last `--on-change` values per object UID.
    values: HashMap<String, Vec<Vec<Value>>>,
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
            truth: HashMap::new(),
            values: HashMap::new(),
        }
    }

    /// What is remembered of one object (by UID): its last `--when` truth
    /// and `--on-change` values, for a checkpoint.
    pub fn remembered(&self, uid: &str) -> (Option<bool>, Option<&Vec<Vec<Value>>>) {
        (self.truth.get(uid).copied(), self.values.get(uid))
    }

    /// Takes back what a checkpoint remembered of one object.
    pub fn restore(&mut self, uid: &str, truth: Option<bool>, values: Option<Vec<Vec<Value>>>) {
        if let Some(truth) = truth {
            self.truth.insert(uid.to_string(), truth);
        }
        if let Some(values) = values {
            self.values.insert(uid.to_string(), values);
        }
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
        let mut before = change.object.clone();
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
    }

    /// The expressions of `--when` and `--on-change`.
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.when.iter().chain(&self.on_change)
    }

    /// Whether this change is a notification. Called for every change, in
    /// order, so that `--when` edges and `--on-change` values are tracked
    /// even for changes not shown.
    pub fn admit(&mut self, change: &Change) -> bool {
        let edge = self.when_edge(change);
        let changed = self.value_changed(change);
        let kind_wanted = match change.kind {
            ChangeKind::Initial => self.initial,
            ChangeKind::Created => self.events[0],
            ChangeKind::Modified => self.events[1],
            ChangeKind::Deleted => self.events[2],
        };
        kind_wanted && edge && changed
    }

    /// With `--when`: whether EXPR held for the object's latest version
    /// admitted or not (never for a deleted one). Read after [`Filter::admit`].
    pub fn when_holds(&self, change: &Change) -> bool {
        self.truth.get(&*uid(&change.object)) == Some(&true)
    }

    /// With `--when`: true only when EXPR turns true for that object (or, for
    /// the state at start, simply holds). Without: always true.
    fn when_edge(&mut self, change: &Change) -> bool {
        let Some(when) = &self.when else { return true };
        let uid = uid(&change.object);
        if change.kind == ChangeKind::Deleted {
            self.truth.remove(&*uid);
            return false;
        }
        let now = when.eval(&change.object);
        let before = match self.truth.get_mut(&*uid) {
            Some(truth) => std::mem::replace(truth, now),
            None => {
                self.truth.insert(uid.into_owned(), now);
                false
            }
        };
        match change.kind {
            ChangeKind::Initial => now,
            _ => now && !before,
        }
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
            self.values.remove(&*uid);
            return now.iter().any(|values| !values.is_empty());
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
            object,
            previous,
        }
    }

    fn when(expr: &str) -> Filter {
        Filter::new(Some(Expr::parse(expr).unwrap()), vec![], &[], false)
    }

    #[test]
    fn without_narrowing_every_change_but_the_state_at_start_notifies() {
        let mut f = Filter::new(None, vec![], &[], false);
        assert!(!f.admit(&change(ChangeKind::Initial, obj("1", "a", "x"), None)));
        for kind in [
            ChangeKind::Created,
            ChangeKind::Modified,
            ChangeKind::Deleted,
        ] {
            assert!(f.admit(&change(kind, obj("1", "a", "x"), None)), "{kind:?}");
        }
        let mut f = Filter::new(None, vec![], &[], true);
        assert!(
            f.admit(&change(ChangeKind::Initial, obj("1", "a", "x"), None)),
            "--initial"
        );
    }

    #[test]
    fn events_select_kinds_of_change() {
        let mut f = Filter::new(None, vec![], &[ChangeKind::Deleted], false);
        assert!(!f.admit(&change(ChangeKind::Created, obj("1", "a", "x"), None)));
        assert!(!f.admit(&change(ChangeKind::Modified, obj("1", "a", "x"), None)));
        assert!(f.admit(&change(ChangeKind::Deleted, obj("1", "a", "x"), None)));
    }

    #[test]
    fn when_fires_on_each_false_to_true_edge_only() {
        let mut f = when(".status.phase == Failed");
        let phases = ["Running", "Failed", "Failed", "Running", "Failed", "Failed"];
        let fired: Vec<bool> = phases
            .iter()
            .map(|p| f.admit(&change(ChangeKind::Modified, obj("1", p, "x"), None)))
            .collect();
        assert_eq!(fired, [false, true, false, false, true, false]);
    }

    #[test]
    fn when_edges_are_per_object_and_a_recreated_object_starts_over() {
        let mut f = when(".status.phase == Failed");
        assert!(f.admit(&change(ChangeKind::Modified, obj("1", "Failed", "x"), None)));
        assert!(
            f.admit(&change(ChangeKind::Created, obj("2", "Failed", "x"), None)),
            "another object"
        );
        assert!(
            !f.admit(&change(ChangeKind::Deleted, obj("1", "Failed", "x"), None)),
            "a deletion is no edge"
        );
        assert!(
            f.admit(&change(ChangeKind::Created, obj("3", "Failed", "x"), None)),
            "new UID, new object"
        );
    }

    #[test]
    fn the_state_at_start_is_remembered_not_notified() {
        let mut f = when(".status.phase == Failed");
        assert!(!f.admit(&change(ChangeKind::Initial, obj("1", "Failed", "x"), None)));
        assert!(
            !f.admit(&change(ChangeKind::Modified, obj("1", "Failed", "y"), None)),
            "true→true"
        );
        let mut f = Filter::new(
            Some(Expr::parse(".status.phase == Failed").unwrap()),
            vec![],
            &[],
            true,
        );
        assert!(
            f.admit(&change(ChangeKind::Initial, obj("1", "Failed", "x"), None)),
            "--initial and true"
        );
        assert!(
            !f.admit(&change(ChangeKind::Initial, obj("2", "Running", "x"), None)),
            "--initial but false"
        );
    }

    #[test]
    fn on_change_ignores_changes_elsewhere() {
        let mut f = Filter::new(None, vec![Expr::parse(".data").unwrap()], &[], false);
        let old = obj("1", "a", "x");
        assert!(!f.admit(&change(ChangeKind::Initial, old.clone(), None)));
        let mut spec_only = old.clone();
        spec_only["spec"]["x"] = json!(2);
        assert!(!f.admit(&change(ChangeKind::Modified, spec_only, None)));
        assert!(f.admit(&change(ChangeKind::Modified, obj("1", "a", "y"), None)));
        assert!(
            !f.admit(&change(ChangeKind::Modified, obj("1", "b", "y"), None)),
            "compared with the last version, not the first"
        );
        assert!(f.admit(&change(ChangeKind::Created, obj("2", "a", "x"), None)));
        assert!(f.admit(&change(ChangeKind::Deleted, old, None)));
        let bare = json!({"metadata": {"uid": "9"}});
        assert!(
            !f.admit(&change(ChangeKind::Created, bare, None)),
            "nothing at the path"
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
        assert!(!f.admit(&change(ChangeKind::Initial, obj("1", "a", "x"), None)));
        assert!(
            !f.admit(&change(ChangeKind::Modified, obj("1", "a", "y"), None)),
            "--when is false"
        );
        assert!(
            !f.admit(&change(ChangeKind::Modified, obj("1", "Failed", "y"), None)),
            "--when turned true, but .data is still y"
        );
        assert!(!f.admit(&change(ChangeKind::Modified, obj("1", "a", "z"), None)));
        assert!(f.admit(&change(ChangeKind::Modified, obj("1", "Failed", "w"), None)));
    }
}
