//! A wait that times out or fails says why (SPEC §10): the clauses with the
//! values seen, conditions, Warning events, a workload's pods; `--for ready`
//! fails fast on a pod that cannot start; `--min N` under a selector.

use std::time::Duration;

use serde_json::{Value, json};
use testserver::Rule;

use crate::common::*;

const DEPLOYMENTS: &str = "deployments.apps";
const REPLICASETS: &str = "replicasets.apps";

/// A Deployment at `revision` with one ReplicaSet per revision up to it and
/// one pod per ReplicaSet, as the controllers make them (reference shapes).
/// `waiting` gives each pod's container waiting reason, oldest first.
fn rollout(s: &Scenario, waiting: &[&str]) -> Value {
    let revision = waiting.len();
    let template = |image: usize| {
        json!({"metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": format!("registry.invalid/web:{image}")}]}})
    };
    s.server.create(
        DEPLOYMENTS,
        Some("default"),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "annotations": {"deployment.kubernetes.io/revision": revision.to_string()}},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": template(revision)}}),
    );
    let deployment = s.server.patch_status(
        DEPLOYMENTS,
        Some("default"),
        "web",
        json!({"status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 1, "unavailableReplicas": 2,
               "conditions": [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                               "message": "Deployment does not have minimum availability.",
                               "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}),
    );
    let owner = |o: &Value, kind: &str| {
        json!([{"apiVersion": o["apiVersion"], "kind": kind,
        "name": o["metadata"]["name"], "uid": o["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}])
    };
    for (i, reason) in waiting.iter().enumerate() {
        let rev = i + 1;
        let hash = format!("h{rev}");
        let set = s.server.create(
            REPLICASETS,
            Some("default"),
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": format!("web-{hash}"), "labels": {"app": "web", "pod-template-hash": hash},
                                "annotations": {"deployment.kubernetes.io/revision": rev.to_string()},
                                "ownerReferences": owner(&deployment, "Deployment")},
                   "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web", "pod-template-hash": hash}},
                            "template": template(rev)}}),
        );
        let pod = format!("web-{hash}-x7k2p");
        s.server.create(
            "pods",
            Some("default"),
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": pod, "labels": {"app": "web", "pod-template-hash": hash},
                                "ownerReferences": owner(&set, "ReplicaSet")},
                   "spec": {"containers": [{"name": "app", "image": format!("registry.invalid/web:{rev}")}]}}),
        );
        let message = match *reason {
            "ImagePullBackOff" => format!("Back-off pulling image \"registry.invalid/web:{rev}\""),
            _ => "back-off 5m0s restarting failed container=app".to_string(),
        };
        s.server.patch_status(
            "pods",
            Some("default"),
            &pod,
            json!({"status": {"phase": "Pending",
                "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
                "containerStatuses": [{"name": "app", "ready": false, "restartCount": 4,
                    "state": {"waiting": {"reason": reason, "message": message}},
                    "lastState": {}, "image": format!("registry.invalid/web:{rev}"), "imageID": "", "started": false}]}}),
        );
    }
    deployment
}

#[test]
fn a_timeout_shows_the_clauses_conditions_and_warning_events() {
    let s = Scenario::new();
    let foo = s.widget(
        "foo",
        json!({}),
        json!({"ready": false, "conditions": [{"type": "Ready", "status": "False",
               "reason": "Provisioning", "message": "waiting for quota",
               "lastTransitionTime": "2026-01-01T00:00:00Z"}]}),
    );
    s.server.event(
        &foo,
        "Normal",
        "Created",
        "created it",
        1,
        Duration::from_secs(90),
    );
    s.server.event(
        &foo,
        "Warning",
        "QuotaExceeded",
        "exceeded quota: widgets-small",
        3,
        Duration::from_secs(40),
    );
    s.server.event(
        &foo,
        "Warning",
        "OlderTrouble",
        "long ago",
        1,
        Duration::from_secs(600),
    );
    let out = s.run(&[
        "widgets/foo",
        "--until",
        ".status.ready == true && .status.phase",
        "--timeout",
        "1s",
    ]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let err = result_lines(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines[0].starts_with("error: timed out after 1s"), "{err}");
    assert!(
        err.contains("[no] .status.ready = false, wants == true"),
        "{err}"
    );
    assert!(
        err.contains("[no] .status.phase: absent, wants exists"),
        "{err}"
    );
    assert!(
        err.contains("condition Ready=False  Provisioning: waiting for quota"),
        "{err}"
    );
    let quota = err.find("event Warning QuotaExceeded ×3: exceeded quota: widgets-small   (4");
    let older = err.find("event Warning OlderTrouble");
    assert!(
        quota.is_some() && older.is_some() && quota < older,
        "newest first: {err}"
    );
    assert!(!err.contains("Created"), "only Warning events: {err}");
    assert!(stdout(&out).is_empty());
}

/// With `-A` two unmet objects may share a name: the timeout's one line
/// names each with its namespace, as the explanation below it does.
#[test]
fn a_timeout_across_namespaces_names_each_object_with_its_namespace() {
    let s = Scenario::new();
    s.widget_in("default", "foo", json!({}), json!({"ready": false}));
    s.widget_in("team-a", "foo", json!({}), json!({"ready": false}));
    let out = s.run(&["widgets", "-A", "--until", READY, "--timeout", "0"]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let first = result_lines(&out)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        first.contains("widget.example.com/foo (in default) (")
            && first.contains("widget.example.com/foo (in team-a) ("),
        "{first}"
    );
}

#[test]
fn json_output_ends_with_one_diagnosis_line() {
    let s = Scenario::new();
    let foo = s.widget("foo", json!({}), json!({"ready": false}));
    s.server.event(
        &foo,
        "Warning",
        "QuotaExceeded",
        "exceeded quota",
        2,
        Duration::from_secs(5),
    );
    let out = s.run(&[
        "widgets/foo",
        "--until",
        READY,
        "--timeout",
        "1s",
        "-o",
        "json",
    ]);
    assert_eq!(code(&out), 124);
    let last: Value = serde_json::from_str(stdout(&out).lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "timeout");
    let target = &last["targets"][0];
    assert_eq!(target["object"], "widget.example.com/foo");
    assert_eq!(
        target["clauses"][0],
        json!({"path": ".status.ready", "seen": [false], "wants": "== true", "holds": false})
    );
    assert_eq!(target["events"][0]["reason"], "QuotaExceeded");
    assert_eq!(target["events"][0]["count"], 2);
}

#[test]
fn ready_on_a_deployment_fails_fast_on_an_image_pull_back_off() {
    let s = Scenario::new();
    rollout(&s, &["ImagePullBackOff"]);
    let out = s.run(&["deploy/web", "--for", "ready", "--timeout", "20s"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = result_lines(&out);
    assert!(
        err.starts_with(
            "deployment.apps/web failed: pod web-h1-x7k2p container app: ImagePullBackOff: \
             Back-off pulling image \"registry.invalid/web:1\"\n"
        ),
        "{err}"
    );
    assert!(
        err.contains("condition Available=False  MinimumReplicasUnavailable"),
        "{err}"
    );
    assert!(
        err.contains("container app waiting ImagePullBackOff"),
        "{err}"
    );
}

#[test]
fn ready_fails_fast_on_crash_loop_of_the_current_revision_only() {
    let s = Scenario::new();
    rollout(&s, &["ImagePullBackOff", "CrashLoopBackOff"]);
    let out = s.run(&["deploy/web", "--for", "ready", "--timeout", "20s"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        result_lines(&out).starts_with(
            "deployment.apps/web failed: pod web-h2-x7k2p container app: CrashLoopBackOff"
        ),
        "{}",
        stderr(&out)
    );

    // The old revision's pod crash-loops; the current one only failed a first pull.
    let s = Scenario::new();
    rollout(&s, &["CrashLoopBackOff", "ErrImagePull"]);
    let out = s.run(&["deploy/web", "--for", "ready", "--timeout", "3s"]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("pod web-h2-x7k2p"), "{err}");
    assert!(
        !err.contains("web-h1"),
        "the previous revision is not explained: {err}"
    );
}

#[test]
fn without_rights_on_events_and_pods_the_plain_timeout_stands() {
    let s = Scenario::new();
    rollout(&s, &["ImagePullBackOff"]);
    let deployment = s.server.get(DEPLOYMENTS, Some("default"), "web").unwrap();
    s.server.event(
        &deployment,
        "Warning",
        "Secret",
        "not for this user",
        1,
        Duration::ZERO,
    );
    s.server.add_user(
        "deployer",
        "deployer-token",
        vec![Rule {
            verbs: vec!["get".into(), "list".into(), "watch".into()],
            groups: vec!["apps".into()],
            resources: vec!["deployments".into()],
            namespaces: vec![],
            names: vec![],
        }],
    );
    s.server
        .write_kubeconfig(&s.kubeconfig, "deployer-token", "default");
    let out = s.run(&["deploy/web", "--for", "ready", "--timeout", "3s", "-v"]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("error: timed out after 3s"), "{err}");
    assert!(err.contains("condition Available=False"), "{err}");
    assert!(
        !err.contains("not for this user") && !err.contains("x7k2p"),
        "{err}"
    );
    assert!(
        err.contains("explaining: left out events in default"),
        "{err}"
    );
    assert!(
        err.contains("explaining: left out replicasets in default"),
        "{err}"
    );
}

#[test]
fn min_counts_the_selected_objects_that_hold() {
    let s = Scenario::new();
    for (name, ready) in [("a", true), ("b", true), ("c", false)] {
        s.widget(name, json!({}), json!({"ready": ready}));
    }
    let out = s.run(&[
        "widgets",
        "--all",
        "--until",
        READY,
        "--min",
        "2",
        "--timeout",
        "5s",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = s.run(&[
        "widgets",
        "--all",
        "--until",
        READY,
        "--min",
        "4",
        "--timeout",
        "1s",
    ]);
    assert_eq!(code(&out), 124);
    assert!(
        stderr(&out).contains("(2 of 3 selected hold, --min 4)"),
        "{}",
        stderr(&out)
    );
}
