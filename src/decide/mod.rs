//! The decisions: in wait mode, whether every target (or, with `--any`, one)
//! has met the condition, one has failed, or we keep waiting; in notify mode
//! ([`filter`]), which changes become notifications.

pub mod filter;

use std::borrow::Cow;

use serde_json::{Value, json};

use crate::condition::{Condition, Verdict};
use crate::target::{Selection, Target};
use crate::tracker::{Tracker, name};

/// How the wait is judged, fixed for the run.
pub struct Rules<'a> {
    pub condition: &'a Condition,
    pub any: bool,
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
    /// `--fail-if` held or an object reported failure: the result line.
    Failed(String),
    /// The condition cannot judge an object as written ([`Verdict::Invalid`]).
    Invalid(String),
}

pub fn decide<'t>(rules: &Rules, targets: &[Target], tracker: &'t Tracker) -> Decision<'t> {
    if !(0..targets.len()).all(|i| tracker.synced(i)) {
        return Decision::Pending;
    }
    let mut met = Vec::new();
    let mut all_met = true;
    for (index, target) in targets.iter().enumerate() {
        match judge_target(rules, target, tracker, index) {
            Outcome::Failed(line) => return Decision::Failed(line),
            Outcome::Invalid(line) => return Decision::Invalid(line),
            Outcome::Judged {
                met: target_met,
                complete,
            } => {
                all_met &= complete;
                met.extend(target_met);
            }
        }
    }
    let done = if rules.any { !met.is_empty() } else { all_met };
    if done {
        Decision::Met(met)
    } else {
        Decision::Pending
    }
}

enum Outcome<'t> {
    Failed(String),
    Invalid(String),
    /// `met`: objects that meet the condition; `complete`: the target as a
    /// whole holds (its object, or at least one selected and all of them).
    Judged {
        met: Vec<Met<'t>>,
        complete: bool,
    },
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
    let present: Vec<_> = tracker.entries(index).collect();
    if present.is_empty() {
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
    Subjects::Present(
        present
            .into_iter()
            .map(|entry| (!rules.changes_only || entry.fresh).then_some(&entry.object))
            .collect(),
    )
}

enum Subjects<'t> {
    /// Each object present; `None` for one whose version at start does not count.
    Present(Vec<Option<&'t Value>>),
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

fn judge_target<'t>(
    rules: &Rules,
    target: &Target,
    tracker: &'t Tracker,
    index: usize,
) -> Outcome<'t> {
    let (group, kind) = (&target.api.group, &target.api.kind);
    match subjects(rules, target, tracker, index) {
        Subjects::Uncounted => Outcome::Judged {
            met: Vec::new(),
            complete: false,
        },
        Subjects::Absent(gone) => {
            let complete = rules.condition.judge(group, kind, None) == Verdict::Met;
            let met = if complete {
                gone.into_iter()
                    .map(|object| Met {
                        target: index,
                        object,
                        absent: true,
                    })
                    .collect()
            } else {
                Vec::new()
            };
            Outcome::Judged { met, complete }
        }
        Subjects::Present(objects) => {
            let mut met = Vec::new();
            for object in objects.iter().flatten() {
                match rules.condition.judge(group, kind, Some(object)) {
                    Verdict::Failed(why) => {
                        return Outcome::Failed(format!(
                            "{} failed: {why}",
                            target.object_name(&name(object))
                        ));
                    }
                    Verdict::Invalid(why) => {
                        return Outcome::Invalid(format!(
                            "{}: {why}",
                            target.object_name(&name(object))
                        ));
                    }
                    Verdict::Met => met.push(Met {
                        target: index,
                        object: Cow::Borrowed(*object),
                        absent: false,
                    }),
                    Verdict::NotMet(_) => {}
                }
            }
            let complete = met.len() == objects.len();
            Outcome::Judged { met, complete }
        }
    }
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
            Subjects::Present(objects) => {
                let names: Vec<String> = tracker.objects(index).map(name).collect();
                for (object, name) in objects.iter().zip(&names) {
                    let why = match object.map(|o| rules.condition.judge(group, kind, Some(o))) {
                        None => "no change since start".to_string(),
                        Some(Verdict::Met) => continue,
                        Some(
                            Verdict::NotMet(why) | Verdict::Failed(why) | Verdict::Invalid(why),
                        ) => why,
                    };
                    out.push(format!("{} ({why})", target.object_name(name)));
                }
            }
        }
    }
    out
}
