//! `--for ready`: a readiness rule per everyday kind, kstatus-like but with no
//! false positive — an object that says nothing about itself is not ready,
//! unless its kind has no status by design.

use serde_json::Value;

use super::Verdict;

pub fn readiness(group: &str, kind: &str, obj: &Value) -> Verdict {
    if !obj["metadata"]["deletionTimestamp"].is_null() {
        return Verdict::NotMet("being deleted".into());
    }
    if let Some(why) = unobserved(group, kind, obj) {
        return Verdict::NotMet(match cause(obj) {
            Some(cause) => format!("{why}; {cause}"),
            None => why,
        });
    }
    match (group, kind) {
        ("apps", "Deployment") => deployment(obj),
        ("apps", "StatefulSet") => stateful_set(obj),
        ("apps", "DaemonSet") => daemon_set(obj),
        ("apps", "ReplicaSet") | ("", "ReplicationController") => replica_set(obj),
        ("batch", "Job") => job(obj),
        ("", "Pod") => pod(obj),
        ("", "PersistentVolumeClaim") => claim(obj),
        ("", "PersistentVolume") => volume(obj),
        ("", "Service") => service(obj),
        ("", "Namespace") => namespace(obj),
        ("policy", "PodDisruptionBudget") => budget(obj),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => definition(obj),
        ("autoscaling", "HorizontalPodAutoscaler") => autoscaler(obj),
        ("apiregistration.k8s.io", "APIService") => api_service(obj),
        _ if exists_is_ready(group, kind) => Verdict::Met,
        _ => generic(obj),
    }
}

/// Kinds that are ready once they exist: no status by design (the API
/// server acts on them as soon as they are stored), or a status that says
/// nothing a rollout waits for. Ingress: its address is written only by
/// controllers configured to publish one, so waiting for it would never end
/// on many working clusters. CronJob: it runs on its schedule; suspended is
/// what the user applied, not a rollout that is unfinished.
fn exists_is_ready(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        (
            "",
            "ConfigMap"
                | "Secret"
                | "ServiceAccount"
                | "Endpoints"
                | "LimitRange"
                | "ResourceQuota"
                | "PodTemplate"
                | "Event"
        ) | (
            "rbac.authorization.k8s.io",
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding"
        ) | (
            "networking.k8s.io",
            "NetworkPolicy" | "IngressClass" | "Ingress"
        ) | ("discovery.k8s.io", "EndpointSlice")
            | ("scheduling.k8s.io", "PriorityClass")
            | ("storage.k8s.io", "StorageClass" | "CSIDriver")
            | ("node.k8s.io", "RuntimeClass")
            | (
                "admissionregistration.k8s.io",
                "ValidatingWebhookConfiguration"
                    | "MutatingWebhookConfiguration"
                    | "ValidatingAdmissionPolicyBinding"
                    | "MutatingAdmissionPolicyBinding"
            )
            | ("batch", "CronJob")
            | ("coordination.k8s.io", "Lease")
            | ("apps", "ControllerRevision")
            | ("events.k8s.io", "Event")
    )
}

/// The built-in kinds whose controller writes `status.observedGeneration`:
/// until it has written the object's generation, it has not spoken.
fn controlled(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        (
            "apps",
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
        ) | ("", "ReplicationController")
            | ("policy", "PodDisruptionBudget")
    )
}

/// Why the status does not speak of the object as it is now: its
/// `observedGeneration` is behind `metadata.generation` (any kind), or
/// absent (a built-in workload, whose controller always writes it).
fn unobserved(group: &str, kind: &str, obj: &Value) -> Option<String> {
    let observed = obj["status"]["observedGeneration"].as_i64();
    let generation = obj["metadata"]["generation"].as_i64();
    match (observed, generation) {
        (Some(observed), Some(generation)) if observed != generation => Some(format!(
            "status is for generation {observed}, the object is at {generation}"
        )),
        (None, _) if controlled(group, kind) => Some(match generation {
            Some(generation) => {
                format!("the controller has not observed generation {generation} yet")
            }
            None => "the controller has not observed the object yet".into(),
        }),
        _ => None,
    }
}

/// Whether a workload's status (and so its pods) speaks of its current
/// generation: until then no pod's state says anything about the rollout.
pub fn observed(group: &str, kind: &str, obj: &Value) -> bool {
    unobserved(group, kind, obj).is_none()
}

/// A condition that says why a controller is stuck: `Progressing=False`
/// (a Deployment that cannot create its ReplicaSet) first, it speaks of the
/// current generation; else `ReplicaFailure=True`, which may be left from
/// an older one (an old ReplicaSet's pods over a quota).
fn cause(obj: &Value) -> Option<String> {
    let conditions = obj["status"]["conditions"].as_array()?;
    let c = [("Progressing", "False"), ("ReplicaFailure", "True")]
        .iter()
        .find_map(|(kind, status)| {
            conditions
                .iter()
                .find(|c| c["type"] == *kind && c["status"] == *status)
        })?;
    let head = format!(
        "{}={} {}",
        c["type"].as_str().unwrap_or("?"),
        c["status"].as_str().unwrap_or("?"),
        c["reason"].as_str().unwrap_or_default()
    );
    Some(match c["message"].as_str() {
        Some(message) if !message.is_empty() => format!("{}: {message}", head.trim_end()),
        _ => head.trim_end().to_string(),
    })
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

/// Every wanted replica available and no extra one left; a
/// `ReplicaFailure` (a quota, say) is said but may pass, so it is no failure.
fn replica_set(obj: &Value) -> Verdict {
    let status = &obj["status"];
    let wanted = obj["spec"]["replicas"].as_i64().unwrap_or(1);
    let total = count(&status["replicas"]);
    let available = count(&status["availableReplicas"]);
    let failure = condition(obj, "ReplicaFailure")
        .filter(|c| c["status"] == "True")
        .map(|c| format!("; {}", explain(c)))
        .unwrap_or_default();
    if available < wanted {
        Verdict::NotMet(format!(
            "{available} of {wanted} replicas are available{failure}"
        ))
    } else if total > wanted {
        Verdict::NotMet(format!(
            "{} extra replicas are pending termination",
            total - wanted
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
    let strategy = &obj["spec"]["updateStrategy"];
    let on_delete = strategy["type"] == "OnDelete";
    if ready < wanted {
        return Verdict::NotMet(format!(
            "{ready} of {wanted} replicas are ready{}",
            if on_delete {
                " (OnDelete: old pods are updated only when deleted)"
            } else {
                ""
            }
        ));
    }
    if on_delete {
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

/// As `kubectl rollout status`: every node's pod updated and available.
/// With `OnDelete` a pod is updated only when deleted, so the pods that exist
/// being available is enough (as for a StatefulSet).
fn daemon_set(obj: &Value) -> Verdict {
    let status = &obj["status"];
    let Some(desired) = status["desiredNumberScheduled"].as_i64() else {
        return Verdict::NotMet("no status yet".into());
    };
    let updated = count(&status["updatedNumberScheduled"]);
    let available = count(&status["numberAvailable"]);
    let on_delete = obj["spec"]["updateStrategy"]["type"] == "OnDelete";
    if updated < desired && !on_delete {
        Verdict::NotMet(format!(
            "{updated} out of {desired} new pods have been updated"
        ))
    } else if available < desired {
        Verdict::NotMet(format!(
            "{available} of {desired} {}pods are available{}",
            if on_delete { "" } else { "updated " },
            if on_delete {
                " (OnDelete: old pods are updated only when deleted)"
            } else {
                ""
            }
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

/// Waiting reasons that do not go away by waiting (SPEC §10). `ErrImagePull`
/// alone is a first failed pull and may still succeed.
const HOPELESS: &[&str] = &[
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "CreateContainerConfigError",
    "InvalidImageName",
];

fn containers(pod: &Value) -> impl Iterator<Item = &Value> {
    ["initContainerStatuses", "containerStatuses"]
        .into_iter()
        .flat_map(|key| pod["status"][key].as_array().into_iter().flatten())
}

/// `CrashLoopBackOff` counts from this many restarts on. The kubelet
/// restarts a first crash at once and backs off from the second, so
/// `CrashLoopBackOff` with 1 restart is two crashes, which a container
/// waiting for a dependency at startup does; 2 restarts is three crashes,
/// after the back-off has fired twice.
pub const CRASH_LOOP_RESTARTS: i64 = 2;

/// A container of the pod that cannot start by waiting, as `container C:
/// Reason: message`; CrashLoopBackOff only with `crash_loops`.
pub fn stuck_container(pod: &Value, crash_loops: bool) -> Option<String> {
    containers(pod).find_map(|c| {
        let waiting = &c["state"]["waiting"];
        let reason = waiting["reason"].as_str()?;
        let early = reason == "CrashLoopBackOff"
            && (!crash_loops || c["restartCount"].as_i64().unwrap_or(0) < CRASH_LOOP_RESTARTS);
        (HOPELESS.contains(&reason) && !early).then(|| {
            let mut line = format!("container {}: {reason}", c["name"].as_str().unwrap_or("?"));
            if let Some(message) = waiting["message"].as_str().filter(|m| !m.is_empty()) {
                line.push_str(&format!(": {message}"));
            }
            line
        })
    })
}

/// A Failed pod's containers that ended badly: `container C terminated:
/// Reason (exit N)`.
fn terminated(pod: &Value) -> Vec<String> {
    containers(pod)
        .filter_map(|c| {
            let end = c["state"]["terminated"].as_object()?;
            let code = end.get("exitCode").and_then(Value::as_i64)?;
            (code != 0).then(|| {
                format!(
                    "container {} terminated: {} (exit {code})",
                    c["name"].as_str().unwrap_or("?"),
                    end.get("reason").and_then(Value::as_str).unwrap_or("?")
                )
            })
        })
        .collect()
}

/// Ready, or done; a pod that failed or whose container cannot start by
/// waiting is a failure, as it is under a workload.
fn pod(obj: &Value) -> Verdict {
    match obj["status"]["phase"].as_str() {
        Some("Failed") => {
            let why = obj["status"]["message"]
                .as_str()
                .or(obj["status"]["reason"].as_str());
            let mut line = format!(
                "phase Failed{}",
                why.map(|w| format!(": {w}")).unwrap_or_default()
            );
            for container in terminated(obj) {
                line.push_str(&format!("; {container}"));
            }
            Verdict::Failed(line)
        }
        Some("Succeeded") => Verdict::Met,
        _ if is_true(obj, "Ready") => Verdict::Met,
        phase => {
            if let Some(stuck) = stuck_container(obj, true) {
                return Verdict::Failed(stuck);
            }
            Verdict::NotMet(match condition(obj, "Ready") {
                Some(c) => explain(c),
                None => format!("phase {}", phase.unwrap_or("unknown")),
            })
        }
    }
}

fn claim(obj: &Value) -> Verdict {
    match obj["status"]["phase"].as_str() {
        Some("Bound") => Verdict::Met,
        Some("Lost") => Verdict::Failed("phase Lost: the bound volume is gone".into()),
        phase => Verdict::NotMet(format!("phase {}", phase.unwrap_or("unknown"))),
    }
}

/// Bound or Available (waiting for a claim): usable. Released keeps its
/// claim's data until reclaimed; Failed is a reclamation that failed.
fn volume(obj: &Value) -> Verdict {
    let status = &obj["status"];
    match status["phase"].as_str() {
        Some("Bound" | "Available") => Verdict::Met,
        Some("Failed") => Verdict::Failed(format!(
            "phase Failed{}",
            status["message"]
                .as_str()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        )),
        Some("Released") => Verdict::NotMet(
            "phase Released: its claim is gone, the volume awaits reclaiming".into(),
        ),
        phase => Verdict::NotMet(format!("phase {}", phase.unwrap_or("unknown"))),
    }
}

/// What waits is only a LoadBalancer's address (as Helm: external IPs
/// given in the spec reach it already); every other type works once the
/// API server has stored it (it allocates the cluster IP and node ports
/// on create).
fn service(obj: &Value) -> Verdict {
    let spec = &obj["spec"];
    if spec["type"] != "LoadBalancer" {
        return Verdict::Met;
    }
    let has = |v: &Value| v.as_array().is_some_and(|a| !a.is_empty());
    if has(&obj["status"]["loadBalancer"]["ingress"]) || has(&spec["externalIPs"]) {
        Verdict::Met
    } else {
        Verdict::NotMet("waiting for a load balancer address".into())
    }
}

fn namespace(obj: &Value) -> Verdict {
    match obj["status"]["phase"].as_str() {
        Some("Active") => Verdict::Met,
        phase => Verdict::NotMet(format!("phase {}", phase.unwrap_or("unknown"))),
    }
}

/// The budget is met: as many healthy pods as it requires. Until then a
/// voluntary disruption (a node drain) of the app would be refused.
fn budget(obj: &Value) -> Verdict {
    // `SyncFailed`: the controller could not compute the budget (a pod's
    // owner without a scale subresource, with a percentage): the counts
    // beside it are not the budget's.
    if let Some(c) = condition(obj, "DisruptionAllowed")
        && c["reason"] == "SyncFailed"
    {
        return Verdict::NotMet(format!(
            "the disruption controller cannot compute the budget: {}",
            explain(c)
        ));
    }
    let status = &obj["status"];
    let Some(desired) = status["desiredHealthy"].as_i64() else {
        return Verdict::NotMet("the disruption controller has not computed the budget yet".into());
    };
    let healthy = count(&status["currentHealthy"]);
    if healthy >= desired {
        Verdict::Met
    } else {
        Verdict::NotMet(format!(
            "{healthy} of {desired} required healthy pods ({} selected)",
            count(&status["expectedPods"])
        ))
    }
}

/// Established and NamesAccepted: its resources are served. Names not
/// accepted (another CRD holds the plural or kind) never resolve by
/// waiting, and a custom resource beside it would wait for ever: a failure.
fn definition(obj: &Value) -> Verdict {
    if let Some(c) = condition(obj, "NamesAccepted")
        && c["status"] == "False"
    {
        return Verdict::Failed(explain(c));
    }
    for kind in ["NamesAccepted", "Established"] {
        match condition(obj, kind) {
            Some(c) if c["status"] == "True" => {}
            Some(c) => return Verdict::NotMet(explain(c)),
            None => return Verdict::NotMet(format!("no {kind} condition yet")),
        }
    }
    Verdict::Met
}

/// Ready once the autoscaler can scale its target (`AbleToScale=True`: the
/// target exists and has a scale subresource). `ScalingActive=False` (no
/// metrics yet) does not count: metrics come from the pods the wait is
/// about, and without a metrics server the app still runs at its replicas.
fn autoscaler(obj: &Value) -> Verdict {
    match condition(obj, "AbleToScale") {
        Some(c) if c["status"] == "True" => Verdict::Met,
        Some(c) => Verdict::NotMet(explain(c)),
        None => Verdict::NotMet("the autoscaler has not acted yet".into()),
    }
}

/// `Available=True`: the aggregated API answers discovery.
fn api_service(obj: &Value) -> Verdict {
    match condition(obj, "Available") {
        Some(c) if c["status"] == "True" => Verdict::Met,
        Some(c) => Verdict::NotMet(explain(c)),
        None => Verdict::NotMet("no Available condition yet".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An object as the real API server returned it after `kubectl apply`
    /// (testserver/tests/k8s-reference/applied-*.json), judged by its own
    /// apiVersion and kind.
    fn applied(name: &str) -> Verdict {
        let path = format!(
            "{}/testserver/tests/k8s-reference/applied-{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let obj: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let api = obj["apiVersion"].as_str().unwrap();
        let group = api.rsplit_once('/').map_or("", |(group, _)| group);
        readiness(group, obj["kind"].as_str().unwrap(), &obj)
    }

    #[test]
    fn kinds_without_status_are_ready_once_they_exist() {
        for name in [
            "configmap-web-config",
            "secret-web-secret",
            "serviceaccount-web",
            "role-web",
            "rolebinding-web",
            "networkpolicy-web",
            "resourcequota-small",
            "ingress-web",
            "cronjob-nightly",
        ] {
            assert_eq!(applied(name), Verdict::Met, "{name}");
        }
        for (group, kind) in [
            ("rbac.authorization.k8s.io", "ClusterRole"),
            ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
            ("", "LimitRange"),
            ("", "Endpoints"),
            ("discovery.k8s.io", "EndpointSlice"),
            ("scheduling.k8s.io", "PriorityClass"),
            ("storage.k8s.io", "StorageClass"),
            ("networking.k8s.io", "IngressClass"),
            (
                "admissionregistration.k8s.io",
                "ValidatingWebhookConfiguration",
            ),
            (
                "admissionregistration.k8s.io",
                "MutatingWebhookConfiguration",
            ),
        ] {
            let obj = json!({"metadata": {"name": "x", "generation": 1}});
            assert_eq!(readiness(group, kind, &obj), Verdict::Met, "{kind}");
        }
    }

    #[test]
    fn services_wait_only_for_a_load_balancer_address() {
        assert_eq!(applied("service-web"), Verdict::Met);
        assert_eq!(
            applied("service-web-public"),
            Verdict::NotMet("waiting for a load balancer address".into())
        );
        assert_eq!(applied("service-web-public-address"), Verdict::Met);
        for kind in ["NodePort", "ExternalName"] {
            let svc = json!({"spec": {"type": kind}, "status": {"loadBalancer": {}}});
            assert_eq!(readiness("", "Service", &svc), Verdict::Met, "{kind}");
        }
        let external = json!({"spec": {"type": "LoadBalancer", "externalIPs": ["192.0.2.1"]},
            "status": {"loadBalancer": {}}});
        assert_eq!(readiness("", "Service", &external), Verdict::Met);
    }

    #[test]
    fn a_budget_is_ready_once_met() {
        assert_eq!(
            applied("poddisruptionbudget-web"),
            Verdict::NotMet("0 of 1 required healthy pods (2 selected)".into())
        );
        assert_eq!(
            applied("poddisruptionbudget-web-insufficient"),
            Verdict::NotMet("0 of 1 required healthy pods (1 selected)".into())
        );
        assert_eq!(applied("poddisruptionbudget-web-met"), Verdict::Met);
        let fresh = json!({"metadata": {"generation": 1}, "spec": {"minAvailable": 1}});
        assert_eq!(
            readiness("policy", "PodDisruptionBudget", &fresh),
            Verdict::NotMet("the controller has not observed generation 1 yet".into())
        );
        let failing = json!({"metadata": {"generation": 1}, "status": {"observedGeneration": 1,
            "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0,
            "conditions": [{"type": "DisruptionAllowed", "status": "False", "reason": "SyncFailed",
                "message": "found no controllers for pod \"p\""}]}});
        assert_eq!(
            readiness("policy", "PodDisruptionBudget", &failing),
            Verdict::NotMet(
                "the disruption controller cannot compute the budget: \
                 DisruptionAllowed=False: found no controllers for pod \"p\""
                    .into()
            )
        );
    }

    #[test]
    fn a_definition_is_ready_once_established_and_fails_on_a_name_conflict() {
        assert_eq!(applied("crd-gadgets"), Verdict::Met);
        assert_eq!(
            applied("crd-gizmos-conflict"),
            Verdict::Failed("NamesAccepted=False: \"GadgetList\" is already in use".into())
        );
        let installing = json!({"metadata": {"generation": 1}, "status": {"conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
            {"type": "Established", "status": "False", "reason": "Installing",
             "message": "the initial names have not been accepted"}]}});
        assert_eq!(
            readiness(
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                &installing
            ),
            Verdict::NotMet("Established=False: the initial names have not been accepted".into())
        );
        let fresh = json!({"metadata": {"generation": 1}});
        assert_eq!(
            readiness("apiextensions.k8s.io", "CustomResourceDefinition", &fresh),
            Verdict::NotMet("no NamesAccepted condition yet".into())
        );
    }

    #[test]
    fn claims_volumes_and_namespaces_by_phase() {
        assert_eq!(
            applied("persistentvolumeclaim-data"),
            Verdict::NotMet("phase Pending".into())
        );
        assert_eq!(applied("persistentvolumeclaim-data-bound"), Verdict::Met);
        assert_eq!(applied("persistentvolume-ref4-data"), Verdict::Met);
        assert_eq!(applied("persistentvolume-ref4-spare"), Verdict::Met);
        let pv = |status: Value| readiness("", "PersistentVolume", &json!({"status": status}));
        assert!(
            matches!(pv(json!({"phase": "Released"})), Verdict::NotMet(m) if m.contains("Released"))
        );
        assert_eq!(
            pv(json!({"phase": "Failed", "message": "recycler failed"})),
            Verdict::Failed("phase Failed: recycler failed".into())
        );
        assert_eq!(
            pv(json!({"phase": "Pending"})),
            Verdict::NotMet("phase Pending".into())
        );
        assert_eq!(applied("namespace-ref4"), Verdict::Met);
        let ending = json!({"metadata": {"deletionTimestamp": "2026-12-06T09:00:00Z"},
            "status": {"phase": "Terminating"}});
        assert_eq!(
            readiness("", "Namespace", &ending),
            Verdict::NotMet("being deleted".into())
        );
    }

    #[test]
    fn an_autoscaler_is_ready_once_it_can_scale_its_target() {
        assert_eq!(applied("horizontalpodautoscaler-web"), Verdict::Met);
        assert_eq!(
            applied("horizontalpodautoscaler-missing"),
            Verdict::NotMet(
                "AbleToScale=False: the HPA controller was unable to get the target's current \
                 scale: deployments/scale.apps \"missing\" not found"
                    .into()
            )
        );
        let fresh = json!({"status": {"currentMetrics": null, "desiredReplicas": 0}});
        assert_eq!(
            readiness("autoscaling", "HorizontalPodAutoscaler", &fresh),
            Verdict::NotMet("the autoscaler has not acted yet".into())
        );
    }

    #[test]
    fn an_api_service_is_ready_when_available() {
        assert_eq!(applied("apiservice-v1.apps"), Verdict::Met);
        let down = json!({"status": {"conditions": [{"type": "Available", "status": "False",
            "reason": "MissingEndpoints", "message": "endpoints for service/metrics-server in \"kube-system\" have no addresses"}]}});
        assert!(matches!(
            readiness("apiregistration.k8s.io", "APIService", &down),
            Verdict::NotMet(m) if m.contains("MissingEndpoints") || m.contains("no addresses")
        ));
    }

    #[test]
    fn applied_workloads_without_pods_are_not_ready() {
        assert!(matches!(applied("statefulset-db"), Verdict::NotMet(_)));
        assert_eq!(
            applied("job-migrate"),
            Verdict::NotMet("not complete".into())
        );
    }

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
                &json!({"metadata": {"generation": 2}, "spec": {"replicas": 0}, "status": {"observedGeneration": 2}})
            ),
            Verdict::Met
        );
    }

    #[test]
    fn a_generation_not_observed_says_why_the_controller_is_stuck() {
        let stuck = json!({"observedGeneration": 1, "conditions": [
            {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
            {"type": "Progressing", "status": "False", "reason": "ReplicaSetCreateError",
             "message": "exceeded quota: one-set"}]});
        let mut d = deploy(1, stuck);
        d["metadata"]["generation"] = json!(2);
        assert_eq!(
            readiness("apps", "Deployment", &d),
            Verdict::NotMet(
                "status is for generation 1, the object is at 2; \
                 Progressing=False ReplicaSetCreateError: exceeded quota: one-set"
                    .into()
            )
        );
    }

    #[test]
    fn stateful_sets_honour_partitions_and_revisions() {
        let sts = |spec: Value, mut status: Value| {
            status["observedGeneration"] = json!(1);
            readiness(
                "apps",
                "StatefulSet",
                &json!({"metadata": {"generation": 1}, "spec": spec, "status": status}),
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
        let ds = |mut status: Value| {
            status["observedGeneration"] = json!(4);
            readiness(
                "apps",
                "DaemonSet",
                &json!({"metadata": {"generation": 4}, "status": status}),
            )
        };
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
    fn on_delete_is_ready_when_the_pods_that_exist_are() {
        let on_delete = |kind: &str, status: Value| {
            readiness(
                "apps",
                kind,
                &json!({"metadata": {"generation": 2},
                "spec": {"replicas": 2, "updateStrategy": {"type": "OnDelete"}}, "status": status}),
            )
        };
        let old_pods = json!({"observedGeneration": 2, "desiredNumberScheduled": 2,
            "updatedNumberScheduled": 0, "numberAvailable": 2});
        assert_eq!(on_delete("DaemonSet", old_pods), Verdict::Met);
        let one_down = json!({"observedGeneration": 2, "desiredNumberScheduled": 2,
            "updatedNumberScheduled": 0, "numberAvailable": 1});
        assert_eq!(
            on_delete("DaemonSet", one_down),
            Verdict::NotMet(
                "1 of 2 pods are available (OnDelete: old pods are updated only when deleted)"
                    .into()
            )
        );
        let sts = json!({"observedGeneration": 2, "readyReplicas": 1, "currentRevision": "a", "updateRevision": "b"});
        assert_eq!(
            on_delete("StatefulSet", sts),
            Verdict::NotMet(
                "1 of 2 replicas are ready (OnDelete: old pods are updated only when deleted)"
                    .into()
            )
        );
    }

    #[test]
    fn replica_sets_want_every_replica_available() {
        let rs = |status: Value| {
            readiness(
                "apps",
                "ReplicaSet",
                &json!({"metadata": {"generation": 1},
                "spec": {"replicas": 2}, "status": status}),
            )
        };
        assert_eq!(
            rs(json!({"observedGeneration": 1, "replicas": 2, "availableReplicas": 2})),
            Verdict::Met
        );
        assert_eq!(
            rs(json!({"observedGeneration": 1, "replicas": 1, "availableReplicas": 1,
                "conditions": [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                    "message": "pods \"x\" is forbidden: exceeded quota"}]})),
            Verdict::NotMet(
                "1 of 2 replicas are available; ReplicaFailure=True: pods \"x\" is forbidden: exceeded quota"
                    .into()
            )
        );
        assert!(matches!(
            rs(json!({"observedGeneration": 1, "replicas": 3, "availableReplicas": 3})),
            Verdict::NotMet(m) if m.contains("1 extra")
        ));
    }

    /// Each built-in kind's status shapes that are ready once observed,
    /// with `observedGeneration` absent, behind and equal, over generations:
    /// never ready unless the status is for the object's generation (absent
    /// counts for the kinds whose controller writes it).
    #[test]
    fn nothing_is_ready_before_its_controller_has_spoken() {
        let shapes: &[(&str, &str, Value, Value, bool)] = &[
            (
                "apps",
                "Deployment",
                json!({"replicas": 2}),
                json!({"replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}),
                true,
            ),
            (
                "apps",
                "Deployment",
                json!({"replicas": 0}),
                json!({}),
                true,
            ),
            (
                "apps",
                "StatefulSet",
                json!({"replicas": 2}),
                json!({"replicas": 2, "readyReplicas": 2, "updatedReplicas": 2,
                    "currentRevision": "r", "updateRevision": "r"}),
                true,
            ),
            (
                "apps",
                "StatefulSet",
                json!({"replicas": 1, "updateStrategy": {"type": "OnDelete"}}),
                json!({"replicas": 1, "readyReplicas": 1}),
                true,
            ),
            // A new DaemonSet's first status, before its controller has run.
            (
                "apps",
                "DaemonSet",
                json!({}),
                json!({"currentNumberScheduled": 0, "desiredNumberScheduled": 0,
                    "numberMisscheduled": 0, "numberReady": 0}),
                true,
            ),
            (
                "apps",
                "DaemonSet",
                json!({"updateStrategy": {"type": "OnDelete"}}),
                json!({"desiredNumberScheduled": 1, "numberAvailable": 1}),
                true,
            ),
            (
                "apps",
                "ReplicaSet",
                json!({"replicas": 1}),
                json!({"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}),
                true,
            ),
            (
                "",
                "ReplicationController",
                json!({"replicas": 1}),
                json!({"replicas": 1, "availableReplicas": 1}),
                true,
            ),
            (
                "batch",
                "Job",
                json!({}),
                json!({"conditions": [{"type": "Complete", "status": "True"}]}),
                false,
            ),
            (
                "",
                "Pod",
                json!({}),
                json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}),
                false,
            ),
            (
                "",
                "PersistentVolumeClaim",
                json!({}),
                json!({"phase": "Bound"}),
                false,
            ),
            (
                "policy",
                "PodDisruptionBudget",
                json!({"minAvailable": 1}),
                json!({"currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1}),
                true,
            ),
            (
                "example.com",
                "Widget",
                json!({}),
                json!({"conditions": [{"type": "Ready", "status": "True"}]}),
                false,
            ),
        ];
        for (group, kind, spec, status, controlled) in shapes {
            for generation in 1..=5_i64 {
                let judge = |observed: Option<i64>| {
                    let mut status = status.clone();
                    if let Some(observed) = observed {
                        status["observedGeneration"] = json!(observed);
                    }
                    let obj = json!({"metadata": {"generation": generation}, "spec": spec, "status": status});
                    readiness(group, kind, &obj)
                };
                assert_eq!(
                    judge(Some(generation)),
                    Verdict::Met,
                    "{kind} {status} at {generation}"
                );
                for behind in 0..generation {
                    assert!(
                        matches!(judge(Some(behind)), Verdict::NotMet(ref m) if m.contains("generation")),
                        "{kind} {status}: observed {behind} of {generation} is ready"
                    );
                }
                let absent = judge(None);
                if *controlled {
                    assert_eq!(
                        absent,
                        Verdict::NotMet(format!(
                            "the controller has not observed generation {generation} yet"
                        )),
                        "{kind} {status}"
                    );
                } else {
                    assert_eq!(
                        absent,
                        Verdict::Met,
                        "{kind} {status}: no observedGeneration"
                    );
                }
            }
        }
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
        let crashed = json!({"phase": "Failed", "containerStatuses": [
            {"name": "ok", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            {"name": "app", "state": {"terminated": {"exitCode": 3, "reason": "Error"}}}]});
        assert_eq!(
            pod(crashed),
            Verdict::Failed("phase Failed; container app terminated: Error (exit 3)".into())
        );
        for reason in HOPELESS {
            let stuck = json!({"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}],
                "initContainerStatuses": [{"name": "init", "restartCount": 2,
                    "state": {"waiting": {"reason": reason, "message": "m"}}}]});
            assert_eq!(
                pod(stuck),
                Verdict::Failed(format!("container init: {reason}: m"))
            );
        }
        let pulling = json!({"phase": "Pending", "containerStatuses": [
            {"name": "app", "state": {"waiting": {"reason": "ErrImagePull"}}}]});
        assert_eq!(pod(pulling), Verdict::NotMet("phase Pending".into()));
        let twice = json!({"phase": "Running", "containerStatuses": [{"name": "app", "restartCount": 1,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]});
        assert_eq!(pod(twice), Verdict::NotMet("phase Running".into()));
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
