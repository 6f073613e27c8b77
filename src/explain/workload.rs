//! What a workload's pods say, from JSON alone: which pods belong to its
//! current revision, which are not ready and why, and which can never start.

use serde_json::{Value, json};

/// The kinds whose pods the explanation and `--for ready` follow.
pub fn follows_pods(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        (
            "apps",
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
        ) | ("batch", "Job")
    )
}

/// The label selector the workload's pods (or a Deployment's ReplicaSets)
/// carry: `spec.selector.matchLabels` as `k=v,...`; `None` when it has none
/// (then every object of the namespace is read and owners decide).
pub fn selector(workload: &Value) -> Option<String> {
    let labels = workload["spec"]["selector"]["matchLabels"].as_object()?;
    let parts: Vec<String> = labels
        .iter()
        .filter_map(|(k, v)| Some(format!("{k}={}", v.as_str()?)))
        .collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

/// Whether `pod` may be one of the workload's: in its namespace, with every
/// label of its selector (`matchLabels`; a selector without them may own
/// any pod of the namespace).
pub fn may_own(workload: &Value, pod: &Value) -> bool {
    if workload["metadata"]["namespace"] != pod["metadata"]["namespace"] {
        return false;
    }
    let labels = &pod["metadata"]["labels"];
    workload["spec"]["selector"]["matchLabels"]
        .as_object()
        .is_none_or(|wanted| wanted.iter().all(|(k, v)| labels[k] == *v))
}

fn uid(obj: &Value) -> Option<&str> {
    obj["metadata"]["uid"].as_str()
}

/// Whether `owner` is the controller of `obj`.
pub fn owned_by(obj: &Value, owner: &Value) -> bool {
    let Some(owner_uid) = uid(owner) else {
        return false;
    };
    obj["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r["uid"].as_str() == Some(owner_uid) && r["controller"] == true)
        })
}

/// A Deployment's current ReplicaSet among `sets`, as its controller finds
/// it: the oldest one it owns whose pod template is the Deployment's
/// (ignoring the `pod-template-hash` label the controller adds). None while
/// there is none (a paused rollout after a template change, or `Recreate`
/// while the old pods terminate): then no pod is the rollout's. The
/// `deployment.kubernetes.io/revision` annotation does not say it: a paused
/// Deployment keeps its old revision's number.
pub fn current_replica_set<'a>(deployment: &Value, sets: &'a [Value]) -> Option<&'a Value> {
    let template = |t: &Value| {
        let mut t = t.clone();
        if let Some(labels) = t["metadata"]["labels"].as_object_mut() {
            labels.remove("pod-template-hash");
        }
        t
    };
    let wanted = template(&deployment["spec"]["template"]);
    sets.iter()
        .filter(|s| owned_by(s, deployment))
        .filter(|s| template(&s["spec"]["template"]) == wanted)
        .min_by(|a, b| {
            let created = |s: &Value| {
                s["metadata"]["creationTimestamp"]
                    .as_str()
                    .map(str::to_string)
            };
            created(a).cmp(&created(b))
        })
}

const TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

/// A DaemonSet's current revision among `revisions` (its ControllerRevisions):
/// the `controller-revision-hash` of the newest one it owns.
pub fn daemon_set_hash(daemon_set: &Value, revisions: &[Value]) -> Option<String> {
    revisions
        .iter()
        .filter(|r| owned_by(r, daemon_set))
        .max_by_key(|r| r["revision"].as_i64().unwrap_or(0))
        .and_then(|r| r["metadata"]["labels"]["controller-revision-hash"].as_str())
        .map(str::to_string)
}

/// Whether a pod owned by `workload` belongs to its current revision. A
/// Deployment's pods are judged by their ReplicaSet (see
/// [`current_replica_set`]) before they get here. A DaemonSet's pod is
/// current as the controller judges it: its `controller-revision-hash` is
/// `hash` (see [`daemon_set_hash`]), or its `pod-template-generation` is the
/// DaemonSet's template generation (not `metadata.generation`, which moves on
/// any change of the spec). With `OnDelete` every pod counts: old pods stay
/// until deleted.
pub fn current_revision(workload: &Value, hash: Option<&str>, pod: &Value) -> bool {
    let labels = &pod["metadata"]["labels"];
    if workload["spec"]["updateStrategy"]["type"] == "OnDelete" {
        return true;
    }
    match workload["kind"].as_str() {
        Some("StatefulSet") => match workload["status"]["updateRevision"].as_str() {
            Some(rev) => labels["controller-revision-hash"].as_str() == Some(rev),
            None => true,
        },
        Some("DaemonSet") => {
            let template = workload["metadata"]["annotations"][TEMPLATE_GENERATION].as_str();
            let by_hash = hash.is_some() && labels["controller-revision-hash"].as_str() == hash;
            let by_template =
                template.is_some() && labels["pod-template-generation"].as_str() == template;
            by_hash || by_template || (hash.is_none() && template.is_none())
        }
        _ => true,
    }
}

/// Whether the pod is being deleted (`metadata.deletionTimestamp` set).
pub fn terminating(pod: &Value) -> bool {
    !pod["metadata"]["deletionTimestamp"].is_null()
}

/// Whether a pod is ready (or done, for a Job's pod).
pub fn pod_ready(pod: &Value) -> bool {
    pod["status"]["phase"] == "Succeeded"
        || conditions(pod)
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn conditions(obj: &Value) -> Vec<Value> {
    obj["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// What a pod that is not ready shows: each container that is not ready with
/// its waiting or terminated reason and message, restarts, and an
/// Unschedulable pod's scheduler message.
pub fn pod_report(pod: &Value) -> Value {
    let status = &pod["status"];
    let containers: Vec<Value> = ["initContainerStatuses", "containerStatuses"]
        .iter()
        .flat_map(|key| status[*key].as_array().cloned().unwrap_or_default())
        .filter(|c| c["ready"] != true)
        .filter_map(|c| {
            let (state, detail) = ["waiting", "terminated"]
                .iter()
                .find_map(|s| c["state"][*s].as_object().map(|d| (*s, d.clone())))?;
            let last = &c["lastState"]["terminated"];
            Some(json!({
                "name": c["name"],
                "state": state,
                "reason": detail.get("reason"),
                "message": detail.get("message"),
                "exitCode": detail.get("exitCode"),
                "restartCount": c["restartCount"].as_i64().unwrap_or(0),
                "lastTerminatedReason": last["reason"].as_str(),
            }))
        })
        .collect();
    let unschedulable = conditions(pod)
        .into_iter()
        .find(|c| c["type"] == "PodScheduled" && c["status"] == "False")
        .map(|c| c["message"].clone());
    json!({
        "name": pod["metadata"]["name"],
        "phase": status["phase"],
        "containers": containers,
        "unschedulable": unschedulable,
        "terminating": terminating(pod),
    })
}

/// A container of this pod that cannot start by waiting: `pod P container
/// C: Reason: message`, for the failure line. A pod being deleted is never
/// hopeless: it is going (a scale-down, a `kubectl delete pod` whose
/// replacement comes). With `crash_loops` false, CrashLoopBackOff does not
/// count: a Job's pod restarted in place spends the Job's `backoffLimit`,
/// which the Job's own `Failed` condition judges.
pub fn hopeless(pod: &Value, crash_loops: bool) -> Option<String> {
    if terminating(pod) {
        return None;
    }
    let stuck = crate::condition::ready::stuck_container(pod, crash_loops)?;
    Some(format!(
        "pod {} {stuck}",
        pod["metadata"]["name"].as_str().unwrap_or("?")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(name: &str) -> Value {
        let path = format!(
            "{}/testserver/tests/k8s-reference/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn the_controller_made_replica_set_is_current_and_its_pod_hopeless() {
        let mut deployment = reference("deployment-controller-made.json");
        deployment["kind"] = json!("Deployment");
        let sets = reference("replicasets-controller-made.json")["items"]
            .as_array()
            .unwrap()
            .clone();
        let current = current_replica_set(&deployment, &sets).expect("current set");
        assert_eq!(current["metadata"]["name"], "web-84c57f4879");
        assert_eq!(selector(&deployment).as_deref(), Some("app=web"));
        let pod = reference("pods-of-replicaset.json")["items"][0].clone();
        assert!(owned_by(&pod, current));
        assert!(!pod_ready(&pod));
        assert_eq!(
            hopeless(&pod, true).as_deref(),
            Some(
                "pod web-84c57f4879-lqn7c container web: ImagePullBackOff: \
                 Back-off pulling image \"registry.invalid/web:1\""
            )
        );
        let report = pod_report(&pod);
        assert_eq!(report["containers"][0]["reason"], "ImagePullBackOff");
        assert_eq!(report["containers"][0]["restartCount"], 0);

        // An older revision is not current; without annotations, the template decides.
        let mut old = sets[0].clone();
        old["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!("0");
        assert!(current_replica_set(&deployment, &[old.clone()]).is_some());
        old["spec"]["template"]["spec"]["containers"][0]["image"] = json!("other:0");
        assert!(current_replica_set(&deployment, &[old]).is_none());
    }

    #[test]
    fn a_daemon_sets_current_pods_are_the_controllers() {
        let ds = json!({"kind": "DaemonSet", "metadata": {"uid": "ds", "generation": 3,
            "annotations": {TEMPLATE_GENERATION: "2"}}, "spec": {}});
        let owner = json!([{"uid": "ds", "controller": true}]);
        let revisions = [
            json!({"metadata": {"ownerReferences": owner, "labels": {"controller-revision-hash": "old"}}, "revision": 1}),
            json!({"metadata": {"ownerReferences": owner, "labels": {"controller-revision-hash": "new"}}, "revision": 2}),
            json!({"metadata": {"labels": {"controller-revision-hash": "other"}}, "revision": 9}),
        ];
        let hash = daemon_set_hash(&ds, &revisions);
        assert_eq!(hash.as_deref(), Some("new"));
        let pod = |generation: &str, hash: &str| {
            json!({"metadata": {"labels": {"pod-template-generation": generation,
                "controller-revision-hash": hash}}})
        };
        // metadata.generation (3) moved on a change outside the template.
        assert!(current_revision(&ds, hash.as_deref(), &pod("2", "new")));
        assert!(current_revision(&ds, None, &pod("2", "?")));
        assert!(current_revision(&ds, hash.as_deref(), &pod("9", "new")));
        assert!(!current_revision(&ds, hash.as_deref(), &pod("1", "old")));
        assert!(!current_revision(&ds, hash.as_deref(), &pod("3", "old")));
        let mut on_delete = ds.clone();
        on_delete["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
        assert!(current_revision(
            &on_delete,
            hash.as_deref(),
            &pod("1", "old")
        ));
    }

    #[test]
    fn a_pod_may_be_a_workloads_by_namespace_and_selector() {
        let web = json!({"metadata": {"namespace": "a"}, "spec": {"selector": {"matchLabels": {"app": "web"}}}});
        let pod = |ns: &str, app: &str| json!({"metadata": {"namespace": ns, "labels": {"app": app, "x": "y"}}});
        assert!(may_own(&web, &pod("a", "web")));
        assert!(!may_own(&web, &pod("a", "db")));
        assert!(!may_own(&web, &pod("b", "web")));
    }

    #[test]
    fn a_first_failed_pull_is_not_hopeless() {
        let pod = json!({"metadata": {"name": "p"}, "status": {"containerStatuses": [
            {"name": "app", "state": {"waiting": {"reason": "ErrImagePull"}}}]}});
        assert_eq!(hopeless(&pod, true), None);
        let twice = json!({"metadata": {"name": "p"}, "status": {"containerStatuses": [
            {"name": "app", "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(hopeless(&twice, true), None);
    }
}
