//! Wait-mode decisions from the tracked state: has every target (or, with
//! `--any`, one) met the condition, has one failed, or do we keep waiting?

use serde_json::Value;

use crate::condition::{Condition, Verdict};
use crate::plan::Selection;
use crate::tracker::{Tracker, name};
use crate::watch::Target;

/// How the wait is judged, fixed for the run.
pub struct Rules<'a> {
    pub condition: &'a Condition,
    pub any: bool,
    pub changes_only: bool,
}

/// One object that met the condition.
#[derive(Debug, PartialEq)]
pub struct Met {
    pub target: usize,
    /// As kubectl names it: `widget.example.com/foo`.
    pub name: String,
    /// The version that met it; `None` for a deletion.
    pub object: Option<Value>,
}

#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Keep waiting.
    Pending,
    /// Done: the objects that met the condition.
    Met(Vec<Met>),
    /// `--fail-if` held or an object reported failure: the result line.
    Failed(String),
}

pub fn decide(rules: &Rules, targets: &[Target], tracker: &Tracker) -> Decision {
    if !(0..targets.len()).all(|i| tracker.synced(i)) {
        return Decision::Pending;
    }
    let mut met_lines = Vec::new();
    let mut all_met = true;
    for (index, target) in targets.iter().enumerate() {
        let outcome = judge_target(rules, target, tracker, index);
        if let TargetOutcome::Failed(line) = outcome {
            return Decision::Failed(line);
        }
        let TargetOutcome::Judged { met, complete } = outcome else {
            unreachable!()
        };
        all_met &= complete;
        met_lines.extend(met);
    }
    let done = if rules.any {
        !met_lines.is_empty()
    } else {
        all_met
    };
    if done {
        Decision::Met(met_lines)
    } else {
        Decision::Pending
    }
}

enum TargetOutcome {
    Failed(String),
    /// `met`: objects that meet the condition; `complete`: the target as a
    /// whole holds (its object, or at least one selected and all of them).
    Judged {
        met: Vec<Met>,
        complete: bool,
    },
}

fn judge_target(rules: &Rules, target: &Target, tracker: &Tracker, index: usize) -> TargetOutcome {
    let (group, kind) = (&target.api.group, &target.api.kind);
    let counted = tracker
        .entries(index)
        .filter(|e| !rules.changes_only || e.fresh);
    if rules.condition.wants_deletion() {
        let empty = tracker.objects(index).next().is_none();
        let departed = tracker.departed(index);
        let complete = empty && (!rules.changes_only || !departed.is_empty());
        let met = match (&target.selection, complete) {
            (_, false) => Vec::new(),
            (Selection::Name(name), true) => {
                vec![Met {
                    target: index,
                    name: target.object_name(name),
                    object: None,
                }]
            }
            (Selection::Query { .. }, true) => departed
                .iter()
                .map(|n| Met {
                    target: index,
                    name: target.object_name(n),
                    object: None,
                })
                .collect(),
        };
        return TargetOutcome::Judged { met, complete };
    }
    let mut met = Vec::new();
    for entry in counted {
        match rules.condition.judge(group, kind, &entry.object) {
            Verdict::Failed(why) => {
                return TargetOutcome::Failed(format!(
                    "{} failed: {why}",
                    target.object_name(&name(&entry.object))
                ));
            }
            Verdict::Met => met.push(Met {
                target: index,
                name: target.object_name(&name(&entry.object)),
                object: Some(entry.object.clone()),
            }),
            Verdict::NotMet(_) => {}
        }
    }
    let present = tracker.objects(index).count();
    let complete = present > 0 && met.len() == present;
    TargetOutcome::Judged { met, complete }
}

/// For the timeout message: each target not met and why.
pub fn pending(rules: &Rules, targets: &[Target], tracker: &Tracker) -> Vec<String> {
    let mut out = Vec::new();
    for (index, target) in targets.iter().enumerate() {
        if let TargetOutcome::Judged { complete: true, .. } =
            judge_target(rules, target, tracker, index)
        {
            continue;
        }
        let (group, kind) = (&target.api.group, &target.api.kind);
        let objects: Vec<_> = tracker.entries(index).collect();
        if rules.condition.wants_deletion() {
            let names: Vec<String> = objects.iter().map(|e| name(&e.object)).collect();
            out.push(if names.is_empty() {
                format!("{} (no deletion seen since start)", target.display())
            } else {
                format!("{} (still present: {})", target.display(), names.join(", "))
            });
            continue;
        }
        if objects.is_empty() {
            out.push(match target.selection {
                Selection::Name(_) => format!("{} (not found)", target.display()),
                Selection::Query { .. } => format!("{} (no object matches)", target.display()),
            });
            continue;
        }
        for entry in objects {
            let why = match rules.condition.judge(group, kind, &entry.object) {
                _ if rules.changes_only && !entry.fresh => "no change since start".to_string(),
                Verdict::NotMet(why) => why,
                Verdict::Met => continue,
                Verdict::Failed(why) => why,
            };
            out.push(format!(
                "{} ({why})",
                target.object_name(&name(&entry.object))
            ));
        }
    }
    out
}
