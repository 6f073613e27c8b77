//! The decisions: in wait mode, whether every target (or, with `--any`, one)
//! has met the condition, one has failed, or we keep waiting; in notify mode
//! ([`filter`]), which changes become notifications.

pub mod filter;
#[cfg(test)]
mod hold_tests;
pub mod noise;

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::condition::{Condition, Verdict};
use crate::exit::{Exit, Result};
use crate::target::{Selection, Target};
use crate::tracker::{Change, ChangeKind, Tracker, key, name};

use noise::Hold;

/// How the wait is judged, fixed for the run.
pub struct Rules<'a> {
    pub condition: &'a Condition,
    pub any: bool,
    /// `--min N`: with a selector, N met objects complete a target.
    pub min: Option<usize>,
    pub changes_only: bool,
}

impl Rules<'_> {
    /// Whether one object's failure may leave the wait still able to
    /// succeed (`--any`, `--min`).
    pub fn tolerates_failures(&self) -> bool {
        self.any || self.min.is_some()
    }
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
    /// `--hold`: what meets the condition but has not for long enough.
    hold: Option<Hold<Held, ()>>,
    /// With `--hold`, per target: its absence has lasted long enough.
    absence_held: Vec<bool>,
}

/// What `--hold` times in wait mode: each object on its own, and for
/// `--for delete`, a target's absence.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Held {
    Object(usize, String),
    Absence(usize),
}

impl Tally {
    pub fn new(targets: usize, hold: Option<Duration>) -> Tally {
        Tally {
            met: vec![BTreeSet::new(); targets],
            hold: hold.map(Hold::new),
            absence_held: vec![false; targets],
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
        now: Instant,
    ) -> Result<()> {
        let (group, kind) = (&target.api.group, &target.api.kind);
        for change in changes {
            let key = key(&change.object);
            if change.kind == ChangeKind::Deleted {
                // Breaks a hold even when a new object (new UID) already
                // took the name: that one's hold starts from nothing.
                self.unmet(index, &key);
            }
            let counted = tracker
                .entry(index, &key)
                .filter(|entry| !rules.changes_only || entry.fresh);
            let verdict = counted.map(|e| (e, rules.condition.judge(group, kind, Some(&e.object))));
            match verdict {
                // With --any or --min a failure ends the wait only when the
                // others can no longer make it succeed: the wait judges that.
                Some((_, Verdict::Failed(_))) if rules.tolerates_failures() => {
                    self.unmet(index, &key)
                }
                Some((entry, Verdict::Failed(why))) => {
                    return Err(Exit::Failed(format!(
                        "{} failed: {why}",
                        target.object_said(&entry.object)
                    )));
                }
                Some((entry, Verdict::Invalid(why))) => {
                    return Err(Exit::Usage(format!(
                        "{}: {why}",
                        target.object_name(&name(&entry.object))
                    )));
                }
                Some((_, Verdict::Met)) => match &mut self.hold {
                    None => {
                        self.met[index].insert(key);
                    }
                    Some(_) if self.met[index].contains(&key) => {}
                    Some(hold) => hold.holds(Held::Object(index, key), (), now, |_, _| {}),
                },
                Some((_, Verdict::NotMet(_))) | None => self.unmet(index, &key),
            }
        }
        if let Some(hold) = &mut self.hold {
            let absent = tracker.synced(index)
                && tracker.len(index) == 0
                && rules.condition.judge(group, kind, None) == Verdict::Met;
            if !absent {
                hold.breaks(&Held::Absence(index));
                self.absence_held[index] = false;
            } else if !self.absence_held[index] {
                hold.holds(Held::Absence(index), (), now, |_, _| {});
            }
        }
        Ok(())
    }

    fn unmet(&mut self, index: usize, key: &str) {
        self.met[index].remove(key);
        if let Some(hold) = &mut self.hold {
            hold.breaks(&Held::Object(index, key.to_string()));
        }
    }

    /// With `--hold`: when the next hold may be complete.
    pub fn next_due(&self) -> Option<Instant> {
        self.hold.as_ref().and_then(Hold::next_due)
    }

    /// With `--hold`: counts what has held long enough at `now`.
    pub fn ripen(&mut self, now: Instant) {
        let Some(hold) = &mut self.hold else { return };
        for (held, ()) in hold.complete(now) {
            match held {
                Held::Object(index, key) => {
                    self.met[index].insert(key);
                }
                Held::Absence(index) => self.absence_held[index] = true,
            }
        }
    }

    /// Whether a target's absence counts: at once, or after `--hold`.
    fn absence_counts(&self, index: usize) -> bool {
        self.hold.is_none() || self.absence_held[index]
    }

    /// For the timeout message: what meets the condition, but not for
    /// `--hold` yet.
    pub fn holding(&self, targets: &[Target], now: Instant) -> Vec<String> {
        let Some(hold) = &self.hold else {
            return Vec::new();
        };
        let mut held: Vec<(&Held, Instant)> = hold.held().collect();
        held.sort();
        held.into_iter()
            .map(|(subject, since)| {
                let shown = match subject {
                    Held::Object(index, key) => {
                        let name = key.rsplit('/').next().unwrap_or_default();
                        targets[*index].object_name(name)
                    }
                    Held::Absence(index) => format!("{} (absent)", targets[*index].display()),
                };
                // Whole milliseconds: `1s2ms`, not `1s 2ms 345us 678ns`; the hold as given.
                let lasted = now.saturating_duration_since(since).as_millis() as u64;
                format!(
                    "{shown} (met for {}, not yet for --hold {})",
                    crate::duration::show(Duration::from_millis(lasted)),
                    crate::duration::show(hold.duration())
                )
            })
            .collect()
    }
}

pub fn decide<'t>(
    rules: &Rules,
    targets: &[Target],
    tracker: &'t Tracker,
    tally: &Tally,
) -> Decision<'t> {
    // With `--for delete` an object whose type the server does not serve
    // (its CRD deleted too) is absent, as kubectl wait has it.
    let known =
        |i: usize| tracker.synced(i) || (!targets[i].served && absence_meets(rules, &targets[i]));
    if !(0..targets.len()).all(known) {
        return Decision::Pending;
    }
    // Judged first without gathering anything: while the wait goes on (most
    // events) no list of met objects is built.
    let judged: Vec<(Subjects, bool)> = targets
        .iter()
        .enumerate()
        .map(|(index, target)| {
            let subjects = subjects(rules, target, tracker, index);
            let complete = match &subjects {
                Subjects::Present => {
                    let met = tally.met[index].len();
                    match (rules.min, &target.selection) {
                        (Some(min), Selection::Query { .. }) => met >= min,
                        _ => met == tracker.len(index),
                    }
                }
                Subjects::Absent(_) if absence_meets(rules, target) => tally.absence_counts(index),
                Subjects::Absent(_) => selected_elsewhere(targets, tracker, index),
                Subjects::Uncounted => false,
            };
            (subjects, complete)
        })
        .collect();
    let any_met = |(index, (subjects, complete)): (usize, &(Subjects, bool))| match subjects {
        Subjects::Present => !tally.met[index].is_empty(),
        Subjects::Absent(gone) => {
            *complete && absence_meets(rules, &targets[index]) && !gone.is_empty()
        }
        Subjects::Uncounted => false,
    };
    let done = if rules.any {
        judged.iter().enumerate().any(any_met)
    } else {
        judged.iter().all(|(_, complete)| *complete)
    };
    if !done {
        return Decision::Pending;
    }
    let mut met = Vec::new();
    for (index, (subjects, complete)) in judged.into_iter().enumerate() {
        match subjects {
            Subjects::Present => met.extend(tally.met[index].iter().filter_map(|key| {
                Some(Met {
                    target: index,
                    object: Cow::Borrowed(&tracker.entry(index, key)?.object),
                    absent: false,
                })
            })),
            Subjects::Absent(gone) if complete && absence_meets(rules, &targets[index]) => met
                .extend(gone.into_iter().map(|object| Met {
                    target: index,
                    object,
                    absent: true,
                })),
            Subjects::Absent(_) | Subjects::Uncounted => {}
        }
    }
    Decision::Met(met)
}

fn absence_meets(rules: &Rules, target: &Target) -> bool {
    rules
        .condition
        .judge(&target.api.group, &target.api.kind, None)
        == Verdict::Met
}

/// A selector given with a list of types (`deploy,sts -l app=web`) needs one
/// object among all of them, as one selection: a type with none is then not
/// waited for when another type's objects match. Only a type list makes
/// two targets of one selector.
fn selected_elsewhere(targets: &[Target], tracker: &Tracker, index: usize) -> bool {
    let target = &targets[index];
    matches!(target.selection, Selection::Query { .. })
        && targets.iter().enumerate().any(|(other, t)| {
            other != index
                && t.selection == target.selection
                && t.namespace == target.namespace
                && tracker.len(other) > 0
        })
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
        if !target.served {
            out.push(format!("{} ({})", target.display(), target.not_served()));
            continue;
        }
        if !tracker.synced(index) && tracker.len(index) == 0 {
            // The wait ended before this target's first list: whether its
            // objects exist is not known.
            out.push(format!("{} (not listed yet)", target.display()));
            continue;
        }
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
            Subjects::Absent(_) if selected_elsewhere(targets, tracker, index) => {}
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
                    out.push(format!("{} ({why})", target.object_said(&entry.object)));
                }
            }
        }
    }
    out
}
