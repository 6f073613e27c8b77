//! Every way to say "wait until" (SPEC §3): kubectl's `--for` forms, generic
//! readiness, `--fail-if`, `--changes-only`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;

fn deployment(s: &Scenario, name: &str, replicas: u64) -> Value {
    s.server.create(
        "deployments.apps",
        Some("default"),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
               "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
    )
}

fn deployment_status(s: &Scenario, name: &str, status: Value) {
    s.server.patch_status(
        "deployments.apps",
        Some("default"),
        name,
        json!({ "status": status }),
    );
}

fn job(s: &Scenario, name: &str) {
    s.server.create(
        "jobs.batch",
        Some("default"),
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
               "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}),
    );
}

fn available(status: &str) -> Value {
    json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2,
           "conditions": [{"type": "Available", "status": status, "reason": "MinimumReplicasAvailable"}]})
}

#[test]
fn condition_available_on_a_deployment() {
    let s = Scenario::new();
    deployment(&s, "web", 2);
    deployment_status(&s, "web", available("False"));
    let out = s.run(&[
        "deploy/web",
        "--for",
        "condition=Available",
        "--timeout",
        "0",
    ]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let mut child = s
        .notify(&[
            "deploy/web",
            "--for",
            "condition=Available",
            "--timeout",
            "30s",
        ])
        .spawn()
        .unwrap();
    s.wait_for_watch("web", &mut child);
    deployment_status(&s, "web", available("True"));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "deployment.apps/web condition met\n");
    // Status compared case-insensitively, and an explicit status works too.
    let out = s.run(&[
        "deploy/web",
        "--for",
        "condition=available=true",
        "--timeout",
        "0",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = s.run(&[
        "deploy/web",
        "--for",
        "condition=Available=False",
        "--timeout",
        "0",
    ]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
}

#[test]
fn a_condition_from_an_older_generation_is_not_met() {
    let s = Scenario::new();
    s.widget("foo", json!({"size": 1}), json!(null));
    // The spec changes: generation 2, but the controller has only seen 1.
    s.server.merge_patch(
        WIDGETS,
        Some("default"),
        "foo",
        json!({"spec": {"size": 2}}),
    );
    s.set_status(
        "foo",
        json!({"conditions": [{"type": "Ready", "status": "True", "observedGeneration": 1}]}),
    );
    for form in ["condition=Ready", "ready"] {
        let out = s.run(&["widgets/foo", "--for", form, "--timeout", "0"]);
        assert_eq!(
            code(&out),
            124,
            "--for {form}: a stale condition counted: {}",
            stdout(&out)
        );
        assert!(stderr(&out).contains("generation 1"), "{}", stderr(&out));
    }
    s.set_status(
        "foo",
        json!({"conditions": [{"type": "Ready", "status": "True", "observedGeneration": 2}]}),
    );
    for form in ["condition=Ready", "ready"] {
        let out = s.run(&["widgets/foo", "--for", form, "--timeout", "0"]);
        assert_eq!(code(&out), 0, "--for {form}: {}", stderr(&out));
    }
}

#[test]
fn a_failing_job_exits_1_at_once_instead_of_waiting_out_the_timeout() {
    let s = Scenario::new();
    job(&s, "migrate");
    let started = Instant::now();
    let mut child = s
        .notify(&[
            "jobs/migrate",
            "--for",
            "condition=Complete",
            "--fail-if",
            ".status.failed >= 1",
            "--timeout",
            "5m",
        ])
        .spawn()
        .unwrap();
    s.wait_for_watch("migrate", &mut child);
    assert!(still_running(&mut child, Duration::from_millis(300)));
    s.server.patch_status(
        "jobs.batch",
        Some("default"),
        "migrate",
        json!({"status": {"failed": 1}}),
    );
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    // The result line first, then why (SPEC §10).
    let err = result_lines(&out);
    assert!(
        err.starts_with("job.batch/migrate failed: .status.failed >= 1\n  job.batch/migrate\n"),
        "{err}"
    );
    assert_eq!(stdout(&out), "");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn ready_on_a_custom_resource_with_an_empty_status_keeps_waiting() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!(null));
    let mut child = s
        .notify(&["widgets/foo", "--for", "ready", "--timeout", "30s"])
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    s.set_status("foo", json!({"phase": "Working"}));
    assert!(
        still_running(&mut child, Duration::from_millis(400)),
        "no conditions counted as ready"
    );
    s.set_status(
        "foo",
        json!({"conditions": [{"type": "Ready", "status": "False", "reason": "Reconciling"}]}),
    );
    assert!(
        still_running(&mut child, Duration::from_millis(300)),
        "Ready=False counted as ready"
    );
    s.set_status(
        "foo",
        json!({"conditions": [{"type": "Ready", "status": "True"}]}),
    );
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/foo condition met\n");
}

#[test]
fn ready_ends_with_exit_1_when_the_object_is_stalled() {
    let s = Scenario::new();
    s.widget(
        "foo",
        json!({}),
        json!({"conditions": [
        {"type": "Ready", "status": "False"},
        {"type": "Stalled", "status": "True", "message": "quota exceeded"}]}),
    );
    let out = s.run(&["widgets/foo", "--for", "ready", "--timeout", "20s"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.starts_with("widget.example.com/foo failed: "), "{err}");
    assert!(
        err.contains("Stalled") && err.contains("quota exceeded"),
        "{err}"
    );
}

#[test]
fn ready_follows_a_deployment_rollout() {
    let s = Scenario::new();
    deployment(&s, "web", 3);
    deployment_status(
        &s,
        "web",
        json!({"observedGeneration": 1, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 3}),
    );
    let out = s.run(&["deploy/web", "--for", "ready", "--timeout", "0"]);
    assert_eq!(
        code(&out),
        124,
        "an old replica is still running: {}",
        stdout(&out)
    );
    deployment_status(
        &s,
        "web",
        json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}),
    );
    let out = s.run(&["deploy/web", "--for", "ready", "--timeout", "0"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn delete_of_a_missing_object_is_met_at_once_and_an_existing_one_is_waited_for() {
    let s = Scenario::new();
    let out = s.run(&["widgets/gone", "--for", "delete", "--timeout", "20s"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/gone condition met\n");

    s.widget("foo", json!({}), json!(null));
    let mut child = s
        .notify(&["widgets/foo", "--for", "delete", "--timeout", "30s"])
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    assert!(still_running(&mut child, Duration::from_millis(300)));
    s.server.delete(WIDGETS, Some("default"), "foo");
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/foo condition met\n");
}

#[test]
fn create_and_ready_are_judged_together_on_one_version() {
    let s = Scenario::new();
    let mut child = s
        .notify(&[
            "widgets/bar",
            "--for",
            "create",
            "--for",
            "ready",
            "--timeout",
            "30s",
        ])
        .spawn()
        .unwrap();
    s.wait_for_watch("bar", &mut child);
    s.widget("bar", json!({}), json!(null));
    assert!(
        still_running(&mut child, Duration::from_millis(400)),
        "created but not ready yet"
    );
    s.set_status(
        "bar",
        json!({"conditions": [{"type": "Ready", "status": "True"}]}),
    );
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let out = s.run(&["widgets/bar", "--for", "create", "--timeout", "0"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = s.run(&["widgets/nope", "--for", "create", "--timeout", "0"]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
}

#[test]
fn jsonpath_forms_like_kubectl() {
    let s = Scenario::new();
    s.widget(
        "foo",
        json!({}),
        json!({"phase": "Running", "replicas": 3,
        "conditions": [{"type": "Ready", "status": "True"}]}),
    );
    s.server.merge_patch(
        WIDGETS,
        Some("default"),
        "foo",
        json!({"metadata": {"labels": {"a.b/c": "x", "app-name": "web"}}}),
    );
    for (form, expected) in [
        ("jsonpath={.metadata.labels.a\\.b/c}=x", 0),
        ("jsonpath={.metadata.labels.a\\.b/c}=y", 124),
        ("jsonpath=.metadata.labels.a\\.b/c=x", 0),
        ("jsonpath={.metadata.labels.app-name}=web", 0),
        ("jsonpath={.status.phase}=Running", 0),
        ("jsonpath={.status.phase}=running", 124),
        ("jsonpath=.status.phase=Running", 0),
        ("jsonpath={.status.replicas}=3", 0),
        ("jsonpath={.status.phase}", 0),
        ("jsonpath={.status.missing}", 124),
        (
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}=True",
            0,
        ),
    ] {
        let out = s.run(&["widgets/foo", "--for", form, "--timeout", "0"]);
        assert_eq!(code(&out), expected, "{form}: {}", stderr(&out));
    }
}

#[test]
fn a_jsonpath_selecting_several_values_is_refused_pointing_to_until() {
    let s = Scenario::new();
    s.widget(
        "foo",
        json!({}),
        json!({"conditions": [{"type": "Available", "status": "True"}]}),
    );
    // One value today: judged as kubectl judges it, and not met.
    let form = "jsonpath={.status.conditions[*].type}=Progressing";
    let mut child = s
        .notify(&["widgets/foo", "--for", form, "--timeout", "30s"])
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    assert!(still_running(&mut child, Duration::from_millis(300)));
    // Several values, one of them the one asked for: kubectl wait refuses
    // that, and so do we, rather than call it met.
    s.set_status(
        "foo",
        json!({"conditions": [{"type": "Available", "status": "True"},
                              {"type": "Progressing", "status": "True"}]}),
    );
    let out = finish(child, Duration::from_secs(20));
    let err = result_lines(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(
        err.starts_with("error: widget.example.com/foo: --for ")
            && err.contains("several values (Available, Progressing)")
            && err.contains("--until '.status.conditions[*].type == \"Progressing\"'"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(stdout(&out), "");
    // Checked once, the same.
    let out = s.run(&[
        "widgets/foo",
        "--for",
        "jsonpath={.status.conditions[*].status}=True",
        "--timeout",
        "0",
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("several values (True, True)"));
}

#[test]
fn for_and_until_combine() {
    let s = Scenario::new();
    s.widget(
        "foo",
        json!({"size": 1}),
        json!({"conditions": [{"type": "Ready", "status": "True"}]}),
    );
    let out = s.run(&[
        "widgets/foo",
        "--for",
        "ready",
        "--until",
        ".spec.size == 2",
        "--timeout",
        "0",
    ]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let out = s.run(&[
        "widgets/foo",
        "--for",
        "ready",
        "--until",
        ".spec.size == 1",
        "--timeout",
        "0",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn changes_only_ignores_the_state_at_start() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));
    let mut child = s
        .notify(&[
            "widgets/foo",
            "--changes-only",
            "--until",
            ".status.ready == true",
            "--timeout",
            "30s",
        ])
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    assert!(
        still_running(&mut child, Duration::from_millis(400)),
        "the state at start counted"
    );
    s.set_status("foo", json!({"ready": true, "message": "again"}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn unknown_or_contradictory_for_forms_exit_2_listing_the_valid_ones() {
    let s = Scenario::new();
    for (args, needles) in [
        (
            &["widgets/foo", "--for", "happy"][..],
            &[
                "happy",
                "condition=",
                "delete",
                "create",
                "jsonpath=",
                "ready",
            ][..],
        ),
        (
            &["widgets/foo", "--for", "delete", "--until", ".a"],
            &["delete"],
        ),
        (&["widgets/foo", "--for", "condition="], &["condition"]),
    ] {
        let out = s.run(args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        for needle in needles {
            assert!(err.contains(needle), "{needle} missing: {err}");
        }
    }
    assert!(s.server.requests().is_empty());
}
