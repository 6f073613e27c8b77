//! `--for ready`: one readiness rule for any kind, kstatus-like but with no
//! false positive — an object that says nothing about itself is not ready.

use serde_json::Value;

use super::Verdict;

pub fn readiness(group: &str, kind: &str, obj: &Value) -> Verdict {
    if !obj["metadata"]["deletionTimestamp"].is_null() {
        return Verdict::NotMet("being deleted".into());
    }
    let status = &obj["status"];
    if let (Some(observed), Some(generation)) = (
        status["observedGeneration"].as_i64(),
        obj["metadata"]["generation"].as_i64(),
    ) && observed != generation
    {
        return Verdict::NotMet(format!(
            "status is for generation {observed}, the object is at {generation}"
        ));
    }
    match (group, kind) {
        ("apps", "Deployment") => deployment(obj),
        ("apps", "StatefulSet") => stateful_set(obj),
        ("apps", "DaemonSet") => daemon_set(obj),
        ("batch", "Job") => job(obj),
        ("", "Pod") => pod(obj),
        ("", "PersistentVolumeClaim") => claim(obj),
        _ => generic(obj),
    }
}

fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"].as_str() == Some(kind))
}

fn is_true(obj: &Value, kind: &str) -> bool {
    condition(obj, kind).is_some_and(|c| c["status"] == "True")
}

/// `Type=Status: message` (or the reason when there is no message).
fn explain(condition: &Value) -> String {
    let head = format!(
        "{}={}",
        condition["type"].as_str().unwrap_or("?"),
        condition["status"].as_str().unwrap_or("?")
    );
    match condition["message"]
        .as_str()
        .or(condition["reason"].as_str())
    {
        Some(why) if !why.is_empty() => format!("{head}: {why}"),
        _ => head,
    }
}

fn count(value: &Value) -> i64 {
    value.as_i64().unwrap_or(0)
}

/// The generation a condition was observed for, when older than the
/// object's: such a condition speaks of a spec that is gone.
fn stale(obj: &Value, condition: &Value) -> Option<(i64, i64)> {
    let generation = obj["metadata"]["generation"].as_i64()?;
    let observed = condition["observedGeneration"].as_i64()?;
    (observed < generation).then_some((observed, generation))
}

fn generic(obj: &Value) -> Verdict {
    for failure in ["Stalled", "Failed"] {
        if let Some(c) = condition(obj, failure)
            && c["status"] == "True"
            && stale(obj, c).is_none()
        {
            return Verdict::Failed(explain(c));
        }
    }
    for kind in ["Ready", "Available", "Succeeded", "Complete"] {
        if let Some(c) = condition(obj, kind) {
            if let Some((observed, generation)) = stale(obj, c) {
                return Verdict::NotMet(format!(
                    "{kind} was observed for generation {observed}, the object is at {generation}"
                ));
            }
            return if c["status"] == "True" {
                Verdict::Met
            } else {
                Verdict::NotMet(explain(c))
            };
        }
    }
    Verdict::NotMet("no Ready, Available, Succeeded or Complete condition yet".into())
}

/// As `kubectl rollout status`: every replica updated, no old ones left,
/// the updated ones available; a passed progress deadline is a failure.
fn deployment(obj: &Value) -> Verdict {
    if let Some(c) = condition(obj, "Progressing")
        && c["reason"] == "ProgressDeadlineExceeded"
    {
        return Verdict::Failed(explain(c));
    }
    let status = &obj["status"];
    if status.is_null() {
        return Verdict::NotMet("no status yet".into());
    }
    let wanted = obj["spec"]["replicas"].as_i64().unwrap_or(1);
    let updated = count(&status["updatedReplicas"]);
    let total = count(&status["replicas"]);
    let available = count(&status["availableReplicas"]);
    if updated < wanted {
        Verdict::NotMet(format!(
            "{updated} out of {wanted} new replicas have been updated"
        ))
    } else if total > updated {
        Verdict::NotMet(format!(
            "{} old replicas are pending termination",
            total - updated
        ))
    } else if available < updated {
        Verdict::NotMet(format!(
            "{available} of {updated} updated replicas are available"
        ))
    } else {
        Verdict::Met
    }
}

fn stateful_set(obj: &Value) -> Verdict {
    let status = &obj["status"];
    if status.is_null() {
        return Verdict::NotMet("no status yet".into());
    }
    let wanted = obj["spec"]["replicas"].as_i64().unwrap_or(1);
    let ready = count(&status["readyReplicas"]);
    if ready < wanted {
        return Verdict::NotMet(format!("{ready} of {wanted} replicas are ready"));
    }
    let strategy = &obj["spec"]["updateStrategy"];
    if strategy["type"] == "OnDelete" {
        return Verdict::Met;
    }
    let partition = strategy["rollingUpdate"]["partition"].as_i64().unwrap_or(0);
    let updated = count(&status["updatedReplicas"]);
    if updated < wanted - partition {
        return Verdict::NotMet(format!(
            "{updated} of {} replicas are updated",
            wanted - partition
        ));
    }
    if partition == 0
        && let (Some(current), Some(update)) = (
            status["currentRevision"].as_str(),
            status["updateRevision"].as_str(),
        )
        && current != update
    {
        return Verdict::NotMet(format!("revision {update} is still rolling out"));
    }
    Verdict::Met
}

fn daemon_set(obj: &Value) -> Verdict {
    let status = &obj["status"];
    let Some(desired) = status["desiredNumberScheduled"].as_i64() else {
        return Verdict::NotMet("no status yet".into());
    };
    let updated = count(&status["updatedNumberScheduled"]);
    let available = count(&status["numberAvailable"]);
    if updated < desired {
        Verdict::NotMet(format!(
            "{updated} out of {desired} new pods have been updated"
        ))
    } else if available < desired {
        Verdict::NotMet(format!(
            "{available} of {desired} updated pods are available"
        ))
    } else {
        Verdict::Met
    }
}

fn job(obj: &Value) -> Verdict {
    if let Some(c) = condition(obj, "Failed")
        && c["status"] == "True"
    {
        return Verdict::Failed(explain(c));
    }
    if is_true(obj, "Complete") {
        Verdict::Met
    } else {
        Verdict::NotMet("not complete".into())
    }
}

fn pod(obj: &Value) -> Verdict {
    match obj["status"]["phase"].as_str() {
        Some("Failed") => {
            let why = obj["status"]["message"]
                .as_str()
                .or(obj["status"]["reason"].as_str());
            Verdict::Failed(format!(
                "phase Failed{}",
                why.map(|w| format!(": {w}")).unwrap_or_default()
            ))
        }
        Some("Succeeded") => Verdict::Met,
        _ if is_true(obj, "Ready") => Verdict::Met,
        phase => Verdict::NotMet(match condition(obj, "Ready") {
            Some(c) => explain(c),
            None => format!("phase {}", phase.unwrap_or("unknown")),
        }),
    }
}

fn claim(obj: &Value) -> Verdict {
    match obj["status"]["phase"].as_str() {
        Some("Bound") => Verdict::Met,
        Some("Lost") => Verdict::Failed("phase Lost: the bound volume is gone".into()),
        phase => Verdict::NotMet(format!("phase {}", phase.unwrap_or("unknown"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn widget(status: Value) -> Value {
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "generation": 1}, "status": status})
    }

    fn ready(obj: &Value) -> Verdict {
        readiness("example.com", "Widget", obj)
    }

    #[test]
    fn a_custom_resource_that_says_nothing_is_not_ready() {
        assert!(matches!(
            ready(&json!({"metadata": {}})),
            Verdict::NotMet(_)
        ));
        assert!(matches!(ready(&widget(json!({}))), Verdict::NotMet(_)));
        assert!(matches!(
            ready(&widget(json!({"phase": "Running"}))),
            Verdict::NotMet(_)
        ));
        assert!(matches!(
            ready(&widget(json!({"conditions": []}))),
            Verdict::NotMet(_)
        ));
        assert!(matches!(
            ready(&widget(
                json!({"conditions": [{"type": "Synced", "status": "True"}]})
            )),
            Verdict::NotMet(_)
        ));
    }

    #[test]
    fn the_ready_condition_decides_then_available_succeeded_complete() {
        assert_eq!(
            ready(&widget(
                json!({"conditions": [{"type": "Ready", "status": "True"}]})
            )),
            Verdict::Met
        );
        assert_eq!(
            ready(&widget(
                json!({"conditions": [{"type": "Ready", "status": "False", "reason": "Reconciling"}, {"type": "Available", "status": "True"}]})
            )),
            Verdict::NotMet("Ready=False: Reconciling".into())
        );
        for kind in ["Available", "Succeeded", "Complete"] {
            assert_eq!(
                ready(&widget(
                    json!({"conditions": [{"type": kind, "status": "True"}]})
                )),
                Verdict::Met,
                "{kind}"
            );
        }
    }

    #[test]
    fn a_ready_condition_observed_for_an_older_generation_is_not_ready() {
        let mut stale = widget(
            json!({"conditions": [{"type": "Ready", "status": "True", "observedGeneration": 1}]}),
        );
        stale["metadata"]["generation"] = json!(2);
        assert_eq!(
            ready(&stale),
            Verdict::NotMet("Ready was observed for generation 1, the object is at 2".into())
        );
        stale["status"]["conditions"][0]["observedGeneration"] = json!(2);
        assert_eq!(ready(&stale), Verdict::Met);
        let mut old_failure = widget(json!({"conditions": [
            {"type": "Failed", "status": "True", "observedGeneration": 1},
            {"type": "Ready", "status": "True", "observedGeneration": 2}]}));
        old_failure["metadata"]["generation"] = json!(2);
        assert_eq!(
            ready(&old_failure),
            Verdict::Met,
            "a stale failure is no failure"
        );
    }

    #[test]
    fn stalled_or_failed_is_a_failure() {
        let stalled = widget(
            json!({"conditions": [{"type": "Ready", "status": "True"}, {"type": "Stalled", "status": "True", "message": "quota exceeded"}]}),
        );
        assert_eq!(
            ready(&stalled),
            Verdict::Failed("Stalled=True: quota exceeded".into())
        );
        let failed = widget(
            json!({"conditions": [{"type": "Failed", "status": "True", "reason": "Crash"}]}),
        );
        assert_eq!(ready(&failed), Verdict::Failed("Failed=True: Crash".into()));
        let recovered = widget(
            json!({"conditions": [{"type": "Stalled", "status": "False"}, {"type": "Ready", "status": "True"}]}),
        );
        assert_eq!(ready(&recovered), Verdict::Met);
    }

    #[test]
    fn a_stale_status_or_a_deletion_is_not_ready() {
        let mut stale = widget(
            json!({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}),
        );
        stale["metadata"]["generation"] = json!(2);
        assert_eq!(
            ready(&stale),
            Verdict::NotMet("status is for generation 1, the object is at 2".into())
        );
        let mut deleting = widget(json!({"conditions": [{"type": "Ready", "status": "True"}]}));
        deleting["metadata"]["deletionTimestamp"] = json!("2026-11-21T10:00:00Z");
        assert_eq!(ready(&deleting), Verdict::NotMet("being deleted".into()));
    }

    fn deploy(replicas: i64, status: Value) -> Value {
        json!({"metadata": {"generation": 3}, "spec": {"replicas": replicas}, "status": status})
    }

    #[test]
    fn deployments_follow_rollout_status() {
        let d = |s| readiness("apps", "Deployment", &deploy(3, s));
        assert_eq!(
            d(
                json!({"observedGeneration": 3, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3})
            ),
            Verdict::Met
        );
        assert!(
            matches!(d(json!({"observedGeneration": 3, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 3})), Verdict::NotMet(m) if m.contains("old replicas"))
        );
        assert!(
            matches!(d(json!({"observedGeneration": 3, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2})), Verdict::NotMet(m) if m.contains("2 out of 3"))
        );
        assert!(
            matches!(d(json!({"observedGeneration": 3, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 1})), Verdict::NotMet(m) if m.contains("1 of 3"))
        );
        assert!(
            matches!(d(json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3})), Verdict::NotMet(m) if m.contains("generation 2"))
        );
        let deadline = json!({"observedGeneration": 3, "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet web-1 has timed out progressing."}]});
        assert!(matches!(d(deadline), Verdict::Failed(m) if m.contains("timed out")));
        assert!(matches!(
            readiness("apps", "Deployment", &json!({"spec": {}})),
            Verdict::NotMet(_)
        ));
        assert_eq!(
            readiness(
                "apps",
                "Deployment",
                &json!({"spec": {"replicas": 0}, "status": {}})
            ),
            Verdict::Met
        );
    }

    #[test]
    fn stateful_sets_honour_partitions_and_revisions() {
        let sts = |spec: Value, status: Value| {
            readiness(
                "apps",
                "StatefulSet",
                &json!({"spec": spec, "status": status}),
            )
        };
        let done = json!({"readyReplicas": 3, "updatedReplicas": 3, "currentRevision": "r2", "updateRevision": "r2"});
        assert_eq!(sts(json!({"replicas": 3}), done), Verdict::Met);
        let rolling = json!({"readyReplicas": 3, "updatedReplicas": 3, "currentRevision": "r1", "updateRevision": "r2"});
        assert!(matches!(
            sts(json!({"replicas": 3}), rolling),
            Verdict::NotMet(_)
        ));
        let partitioned = json!({"readyReplicas": 3, "updatedReplicas": 1, "currentRevision": "r1", "updateRevision": "r2"});
        assert_eq!(
            sts(
                json!({"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}}),
                partitioned
            ),
            Verdict::Met
        );
        assert!(matches!(
            sts(json!({"replicas": 3}), json!({"readyReplicas": 2})),
            Verdict::NotMet(_)
        ));
        assert_eq!(
            sts(
                json!({"replicas": 2, "updateStrategy": {"type": "OnDelete"}}),
                json!({"readyReplicas": 2})
            ),
            Verdict::Met
        );
    }

    #[test]
    fn daemon_sets_need_every_node_updated_and_available() {
        let ds = |status: Value| readiness("apps", "DaemonSet", &json!({"status": status}));
        assert_eq!(
            ds(
                json!({"desiredNumberScheduled": 2, "updatedNumberScheduled": 2, "numberAvailable": 2})
            ),
            Verdict::Met
        );
        assert!(matches!(
            ds(
                json!({"desiredNumberScheduled": 2, "updatedNumberScheduled": 1, "numberAvailable": 2})
            ),
            Verdict::NotMet(_)
        ));
        assert!(matches!(
            ds(
                json!({"desiredNumberScheduled": 2, "updatedNumberScheduled": 2, "numberAvailable": 1})
            ),
            Verdict::NotMet(_)
        ));
        assert!(matches!(ds(json!({})), Verdict::NotMet(_)));
    }

    #[test]
    fn jobs_complete_or_fail() {
        let job = |conditions: Value| {
            readiness(
                "batch",
                "Job",
                &json!({"status": {"conditions": conditions}}),
            )
        };
        assert_eq!(
            job(json!([{"type": "Complete", "status": "True"}])),
            Verdict::Met
        );
        assert_eq!(
            job(
                json!([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}])
            ),
            Verdict::Failed("Failed=True: Job has reached the specified backoff limit".into())
        );
        assert!(matches!(job(json!([])), Verdict::NotMet(_)));
    }

    #[test]
    fn pods_and_claims() {
        let pod = |status: Value| readiness("", "Pod", &json!({"status": status}));
        assert!(
            matches!(pod(json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]})), Verdict::NotMet(m) if m.contains("ContainersNotReady"))
        );
        assert_eq!(
            pod(json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]})),
            Verdict::Met
        );
        assert_eq!(pod(json!({"phase": "Succeeded"})), Verdict::Met);
        assert!(
            matches!(pod(json!({"phase": "Failed", "reason": "Evicted"})), Verdict::Failed(m) if m.contains("Evicted"))
        );
        let pvc = |phase: &str| {
            readiness(
                "",
                "PersistentVolumeClaim",
                &json!({"status": {"phase": phase}}),
            )
        };
        assert_eq!(pvc("Bound"), Verdict::Met);
        assert!(matches!(pvc("Pending"), Verdict::NotMet(_)));
        assert!(matches!(pvc("Lost"), Verdict::Failed(_)));
    }
}
