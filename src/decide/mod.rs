//! The decisions: in wait mode, whether every target (or, with `--any`, one)
//! has met the condition, one has failed, or we keep waiting; in notify mode
//! ([`filter`]), which changes become notifications.

pub mod filter;

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::condition::{Condition, Verdict};
use crate::exit::{Exit, Result};
use crate::target::{Selection, Target};
use crate::tracker::{Change, Tracker, key, name};

/// How the wait is judged, fixed for the run.
pub struct Rules<'a> {
    pub condition: &'a Condition,
    pub any: bool,
    /// `--min N`: with a selector, N met objects complete a target.
    pub min: Option<usize>,
    pub changes_only: bool,
}

/// One object that met the condition.
#[derive(Debug, PartialEq)]
pub struct Met<'t> {
    pub target: usize,
    /// The version that met it; for an absence (`--for delete`), the
    /// object's last known state, or its identity if it was never seen.
    pub object: Cow<'t, Value>,
    /// Met by being gone (`--for delete`).
    pub absent: bool,
}

#[derive(Debug, PartialEq)]
pub enum Decision<'t> {
    /// Keep waiting.
    Pending,
    /// Done: the objects that met the condition.
    Met(Vec<Met<'t>>),
}

/// Which objects of each target meet the condition now: judged again only
/// when they change, so an event costs one judgement, not one per object.
pub struct Tally {
    met: Vec<BTreeSet<String>>,
}

impl Tally {
    pub fn new(targets: usize) -> Tally {
        Tally {
            met: vec![BTreeSet::new(); targets],
        }
    }

    /// Judges the objects these changes touched. An object that failed ends
    /// the wait (exit 1), as does a condition that cannot be judged on it
    /// (exit 2: a `--for jsonpath=` selecting several values).
    pub fn update(
        &mut self,
        rules: &Rules,
        target: &Target,
        tracker: &Tracker,
        index: usize,
        changes: &[Change],
    ) -> Result<()> {
        let (group, kind) = (&target.api.group, &target.api.kind);
        for change in changes {
            let key = key(&change.object);
            let counted = tracker
                .entry(index, &key)
                .filter(|entry| !rules.changes_only || entry.fresh);
            let verdict = counted.map(|e| (e, rules.condition.judge(group, kind, Some(&e.object))));
            match verdict {
                Some((entry, Verdict::Failed(why))) => {
                    return Err(Exit::Failed(format!(
                        "{} failed: {why}",
                        target.object_name(&name(&entry.object))
                    )));
                }
                Some((entry, Verdict::Invalid(why))) => {
                    return Err(Exit::Usage(format!(
                        "{}: {why}",
                        target.object_name(&name(&entry.object))
                    )));
                }
                Some((_, Verdict::Met)) => {
                    self.met[index].insert(key);
                }
                Some((_, Verdict::NotMet(_))) | None => {
                    self.met[index].remove(&key);
                }
            }
        }
        Ok(())
    }
}

pub fn decide<'t>(
    rules: &Rules,
    targets: &[Target],
    tracker: &'t Tracker,
    tally: &Tally,
) -> Decision<'t> {
    if !(0..targets.len()).all(|i| tracker.synced(i)) {
        return Decision::Pending;
    }
    let mut met = Vec::new();
    let mut all_met = true;
    for (index, target) in targets.iter().enumerate() {
        let (target_met, complete) = match subjects(rules, target, tracker, index) {
            Subjects::Present => {
                let keys = &tally.met[index];
                let complete = match (rules.min, &target.selection) {
                    (Some(min), Selection::Query { .. }) => keys.len() >= min,
                    _ => keys.len() == tracker.len(index),
                };
                let objects = keys.iter().filter_map(|key| tracker.entry(index, key));
                let target_met: Vec<Met> = objects
                    .map(|entry| Met {
                        target: index,
                        object: Cow::Borrowed(&entry.object),
                        absent: false,
                    })
                    .collect();
                (target_met, complete)
            }
            Subjects::Absent(gone) => {
                let (group, kind) = (&target.api.group, &target.api.kind);
                let complete = rules.condition.judge(group, kind, None) == Verdict::Met;
                let gone = gone.into_iter().filter(|_| complete);
                let target_met = gone
                    .map(|object| Met {
                        target: index,
                        object,
                        absent: true,
                    })
                    .collect();
                (target_met, complete)
            }
            Subjects::Uncounted => (Vec::new(), false),
        };
        all_met &= complete;
        met.extend(target_met);
    }
    let done = if rules.any { !met.is_empty() } else { all_met };
    if done {
        Decision::Met(met)
    } else {
        Decision::Pending
    }
}

/// What one target stands for right now: each object present, or, when
/// none is, the absence (and the objects that left, for `--for delete`).
/// With `--changes-only` a version or an absence that was already there at
/// start does not count.
fn subjects<'t>(
    rules: &Rules,
    target: &Target,
    tracker: &'t Tracker,
    index: usize,
) -> Subjects<'t> {
    if tracker.len(index) == 0 {
        let departed = tracker.departed(index);
        if rules.changes_only && departed.is_empty() {
            return Subjects::Uncounted;
        }
        let gone: Vec<Cow<'t, Value>> = match &target.selection {
            Selection::Name(name) => vec![match departed.last() {
                Some(last) => Cow::Borrowed(last),
                None => Cow::Owned(identity(target, name)),
            }],
            Selection::Query { .. } => departed.iter().map(Cow::Borrowed).collect(),
        };
        return Subjects::Absent(gone);
    }
    Subjects::Present
}

enum Subjects<'t> {
    /// Objects are present: each is judged on its own (see [`Tally`]).
    Present,
    /// Nothing present: what is known of what is gone.
    Absent(Vec<Cow<'t, Value>>),
    /// Nothing present, and that was already so at start.
    Uncounted,
}

/// The identity of an object never seen, for whoever is told of its absence.
fn identity(target: &Target, name: &str) -> Value {
    let mut metadata = json!({ "name": name });
    if let Some(namespace) = &target.namespace {
        metadata["namespace"] = namespace.as_str().into();
    }
    json!({
        "apiVersion": target.api.api_version(),
        "kind": target.api.kind,
        "metadata": metadata,
    })
}

/// For the timeout message: each target not met and why.
pub fn pending(rules: &Rules, targets: &[Target], tracker: &Tracker) -> Vec<String> {
    let mut out = Vec::new();
    for (index, target) in targets.iter().enumerate() {
        let (group, kind) = (&target.api.group, &target.api.kind);
        let absent = |out: &mut Vec<String>, seen_leaving: bool| {
            let why = match (&target.selection, seen_leaving) {
                (Selection::Name(_), false) => "not found",
                (Selection::Name(_), true) => "deleted",
                (Selection::Query { .. }, false) => "no object matches",
                (Selection::Query { .. }, true) => "no object matches any more",
            };
            out.push(format!("{} ({why})", target.display()));
        };
        let absence_meets = rules.condition.judge(group, kind, None) == Verdict::Met;
        match subjects(rules, target, tracker, index) {
            Subjects::Uncounted if absence_meets => out.push(format!(
                "{} (no deletion seen since start)",
                target.display()
            )),
            Subjects::Uncounted => absent(&mut out, false),
            Subjects::Absent(_) if absence_meets => {}
            Subjects::Absent(_) => absent(&mut out, !tracker.departed(index).is_empty()),
            Subjects::Present => {
                if let (Some(min), Selection::Query { .. }) = (rules.min, &target.selection) {
                    let held = tracker
                        .entries(index)
                        .filter(|e| !rules.changes_only || e.fresh)
                        .filter(|e| {
                            rules.condition.judge(group, kind, Some(&e.object)) == Verdict::Met
                        })
                        .count();
                    out.push(format!(
                        "{} ({held} of {} selected hold, --min {min})",
                        target.display(),
                        tracker.len(index)
                    ));
                }
                for entry in tracker.entries(index) {
                    let why = match rules.condition.judge(group, kind, Some(&entry.object)) {
                        _ if rules.changes_only && !entry.fresh => "no change since start".into(),
                        Verdict::Met => continue,
                        Verdict::NotMet(why) | Verdict::Failed(why) | Verdict::Invalid(why) => why,
                    };
                    out.push(format!(
                        "{} ({why})",
                        target.object_name(&name(&entry.object))
                    ));
                }
            }
        }
    }
    out
}
