//! Judges one version of an object against everything the user asked for:
//! `--for` forms, `--until`, `--fail-if`. Pure: JSON in, verdict out.

mod for_spec;
pub mod ready;

use serde_json::Value;

pub use for_spec::ForSpec;

use crate::expr::Expr;

/// What one version of an object says about the wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Met,
    /// Why not, shortly, for timeout messages.
    NotMet(String),
    /// It failed and will not recover by itself: `--fail-if` held, or
    /// `--for ready` saw a failure. Why, for the result line.
    Failed(String),
    /// The condition as written cannot judge this version — kubectl's
    /// `--for jsonpath=` form selecting several values — so it is the
    /// user's input that is wrong (exit 2). Why, and what to write instead.
    Invalid(String),
}

#[derive(Debug)]
pub struct Condition {
    fors: Vec<ForSpec>,
    until: Option<Expr>,
    fail_if: Option<Expr>,
}

impl Condition {
    pub fn new(
        fors: Vec<ForSpec>,
        until: Option<Expr>,
        fail_if: Option<Expr>,
    ) -> Result<Condition, String> {
        if fors.is_empty() && until.is_none() {
            return Err(
                "nothing to wait for: pass --until EXPR (e.g. --until '.status.ready == true') \
                        or --for SPEC (e.g. --for ready)"
                    .into(),
            );
        }
        let deletion = fors.iter().any(|f| matches!(f, ForSpec::Delete));
        if deletion && (fors.len() > 1 || until.is_some() || fail_if.is_some()) {
            return Err(
                "--for delete cannot be combined with other --for, --until or --fail-if: \
                        a deleted object has no fields to judge"
                    .into(),
            );
        }
        Ok(Condition {
            fors,
            until,
            fail_if,
        })
    }

    /// Judge one version of an object, or its absence (`None`: not found or
    /// deleted); every part is judged on that same version. Failures come
    /// first, so a failed object never counts as met.
    pub fn judge(&self, group: &str, kind: &str, obj: Option<&Value>) -> Verdict {
        if let Some(fail_if) = &self.fail_if
            && obj.is_some_and(|obj| fail_if.eval(obj))
        {
            return Verdict::Failed(fail_if.source().to_string());
        }
        let mut verdicts = self.fors.iter().map(|f| f.judge(group, kind, obj));
        if let Some(stop) = verdicts
            .clone()
            .find(|v| matches!(v, Verdict::Failed(_) | Verdict::Invalid(_)))
        {
            return stop;
        }
        if let Some(not_met) = verdicts.find(|v| *v != Verdict::Met) {
            return not_met;
        }
        match &self.until {
            Some(until) if !obj.is_some_and(|obj| until.eval(obj)) => {
                Verdict::NotMet(format!("--until {} is false", until.source()))
            }
            _ => Verdict::Met,
        }
    }

    /// What a person watching wants to see of one object: the current value
    /// of each path `--until` reads, and how each `--for` form stands.
    pub fn current_values(&self, group: &str, kind: &str, obj: &Value) -> Vec<String> {
        let obj = Some(obj);
        let mut out = Vec::new();
        if let Some(until) = &self.until {
            for (path, nodes) in obj.map(|obj| until.path_values(obj)).unwrap_or_default() {
                let shown = match nodes.as_slice() {
                    [] => "<none>".to_string(),
                    [one] => one.to_string(),
                    many => many
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                };
                out.push(format!("{path} = {shown}"));
            }
        }
        for f in &self.fors {
            out.push(match f.judge(group, kind, obj) {
                Verdict::Met => format!("{}: met", f.describe()),
                Verdict::NotMet(why) | Verdict::Failed(why) | Verdict::Invalid(why) => {
                    format!("{}: {why}", f.describe())
                }
            });
        }
        out
    }

    /// How one object stands, in a few words, for the status line and the
    /// progress lines of a CI log: with a single `--for` form, its reason
    /// alone (`1 of 2 updated replicas are available`, or `ready`/`met`);
    /// otherwise every part with its values (`current_values`).
    pub fn progress(&self, group: &str, kind: &str, obj: &Value) -> String {
        match (self.fors.as_slice(), &self.until) {
            ([only], None) => match only.judge(group, kind, Some(obj)) {
                Verdict::Met if matches!(only, ForSpec::Ready) => "ready".into(),
                Verdict::Met => "met".into(),
                Verdict::NotMet(why) | Verdict::Failed(why) | Verdict::Invalid(why) => why,
            },
            _ => self.current_values(group, kind, obj).join("  "),
        }
    }

    /// Each part of the condition on one version, with what it reads there,
    /// for explaining a wait that did not succeed: `--until`'s clauses with
    /// the values seen, `--fail-if`'s when it holds (`failIf`), then each
    /// `--for` form and how it stands.
    pub fn clauses(&self, group: &str, kind: &str, obj: &Value) -> Vec<Value> {
        let mut out = Vec::new();
        if let Some(until) = &self.until {
            for c in until.clauses(obj) {
                out.push(serde_json::json!({
                    "path": c.path, "seen": c.seen, "wants": c.wants, "holds": c.holds,
                }));
            }
        }
        // `--fail-if` that holds is why the wait failed: its values.
        if let Some(fail_if) = &self.fail_if
            && fail_if.eval(obj)
        {
            for c in fail_if.clauses(obj) {
                out.push(serde_json::json!({
                    "path": c.path, "seen": c.seen, "wants": c.wants, "holds": c.holds,
                    "failIf": true,
                }));
            }
        }
        for f in &self.fors {
            let (holds, why) = match f.judge(group, kind, Some(obj)) {
                Verdict::Met => (true, None),
                Verdict::NotMet(why) | Verdict::Failed(why) | Verdict::Invalid(why) => {
                    (false, Some(why))
                }
            };
            out.push(serde_json::json!({
                "for": f.describe(), "holds": holds, "why": why,
            }));
        }
        out
    }

    /// Whether `--for ready` is asked for: a workload's pods are followed.
    pub fn wants_ready(&self) -> bool {
        self.fors.iter().any(|f| matches!(f, ForSpec::Ready))
    }

    /// The condition as the user gave it, for messages.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .fors
            .iter()
            .map(|f| format!("--for {}", f.describe()))
            .collect();
        if let Some(until) = &self.until {
            parts.push(format!("--until '{}'", until.source()));
        }
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(
        fors: &[&str],
        until: Option<&str>,
        fail_if: Option<&str>,
    ) -> Result<Condition, String> {
        Condition::new(
            fors.iter().map(|f| ForSpec::parse(f).unwrap()).collect(),
            until.map(|u| Expr::parse(u).unwrap()),
            fail_if.map(|u| Expr::parse(u).unwrap()),
        )
    }

    #[test]
    fn something_to_wait_for_is_required_and_delete_stands_alone() {
        assert!(
            cond(&[], None, None)
                .unwrap_err()
                .contains("nothing to wait for")
        );
        assert!(
            cond(&[], None, Some(".a"))
                .unwrap_err()
                .contains("nothing to wait for")
        );
        for bad in [
            cond(&["delete", "ready"], None, None),
            cond(&["delete"], Some(".a"), None),
            cond(&["delete"], None, Some(".a")),
        ] {
            assert!(bad.unwrap_err().contains("--for delete cannot be combined"));
        }
        let delete = cond(&["delete"], None, None).unwrap();
        assert_eq!(delete.judge("", "ConfigMap", None), Verdict::Met);
        assert!(matches!(
            delete.judge("", "ConfigMap", Some(&json!({}))),
            Verdict::NotMet(_)
        ));
        let create = cond(&["create"], None, None).unwrap();
        assert!(matches!(
            create.judge("", "ConfigMap", None),
            Verdict::NotMet(_)
        ));
        assert_eq!(
            create.judge("", "ConfigMap", Some(&json!({}))),
            Verdict::Met
        );
    }

    #[test]
    fn every_part_is_judged_on_the_same_version() {
        let c = cond(&["create", "ready"], Some(".spec.size == 2"), None).unwrap();
        let ready = json!({"kind": "Widget", "spec": {"size": 2}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(c.judge("example.com", "Widget", Some(&ready)), Verdict::Met);
        let small = json!({"spec": {"size": 1}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(
            c.judge("example.com", "Widget", Some(&small)),
            Verdict::NotMet("--until .spec.size == 2 is false".into())
        );
        let unready = json!({"spec": {"size": 2}, "status": {}});
        assert!(matches!(
            c.judge("example.com", "Widget", Some(&unready)),
            Verdict::NotMet(_)
        ));
    }

    #[test]
    fn fail_if_wins_over_met_and_names_the_expression() {
        let c = cond(
            &[],
            Some(".status.succeeded >= 1"),
            Some(".status.failed >= 1"),
        )
        .unwrap();
        let both = json!({"status": {"succeeded": 1, "failed": 1}});
        assert_eq!(
            c.judge("batch", "Job", Some(&both)),
            Verdict::Failed(".status.failed >= 1".into())
        );
        assert_eq!(
            c.judge("batch", "Job", Some(&json!({"status": {"succeeded": 1}}))),
            Verdict::Met
        );
    }

    #[test]
    fn a_ready_failure_fails_the_wait() {
        let c = cond(&["ready"], None, None).unwrap();
        let stalled = json!({"status": {"conditions": [{"type": "Stalled", "status": "True", "message": "no quota"}]}});
        assert!(
            matches!(c.judge("example.com", "Widget", Some(&stalled)), Verdict::Failed(m) if m.contains("no quota"))
        );
    }

    #[test]
    fn current_values_show_paths_and_forms() {
        let c = cond(
            &["condition=Ready"],
            Some(".status.ready == true && .spec.size > 1"),
            None,
        )
        .unwrap();
        let obj = json!({"spec": {"size": 2}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}});
        assert_eq!(
            c.current_values("example.com", "Widget", &obj),
            [
                ".status.ready = <none>",
                ".spec.size = 2",
                "condition=Ready: Ready=False"
            ]
        );
    }

    #[test]
    fn progress_is_the_reason_alone_for_one_form() {
        let ready = cond(&["ready"], None, None).unwrap();
        let lb = json!({"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {}}});
        assert_eq!(
            ready.progress("", "Service", &lb),
            "waiting for a load balancer address"
        );
        assert_eq!(ready.progress("", "ConfigMap", &json!({})), "ready");
        let available = cond(&["condition=Available"], None, None).unwrap();
        assert_eq!(
            available.progress("", "ConfigMap", &json!({})),
            "no Available condition"
        );
        assert_eq!(
            available.progress(
                "",
                "ConfigMap",
                &json!({"status": {"conditions": [{"type": "Available", "status": "True"}]}})
            ),
            "met"
        );
        let both = cond(&["ready"], Some(".spec.size > 1"), None).unwrap();
        assert_eq!(
            both.progress("", "ConfigMap", &json!({"spec": {"size": 2}})),
            ".spec.size = 2  ready: met"
        );
    }

    #[test]
    fn describe_repeats_what_the_user_asked() {
        let c = cond(&["condition=Available", "ready"], Some(".a == 1"), None).unwrap();
        assert_eq!(
            c.describe(),
            "--for condition=Available --for ready --until '.a == 1'"
        );
    }
}
