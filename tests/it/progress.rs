//! A wait in a CI log (stderr not a terminal): a line when an object's
//! progress changes, a summary of what is unmet every so often, and nothing
//! with `-q`. The test server, stderr piped as a CI runner's.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

const DEPLOYMENTS: &str = "deployments.apps";

fn deployment(s: &Scenario, replicas: i64) {
    s.server.create(
        DEPLOYMENTS,
        Some("default"),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}}),
    );
}

/// The deployment's status as its controller writes it: every replica
/// updated, `available` of them available.
fn rolled(s: &Scenario, replicas: i64, available: i64) -> Value {
    s.server.patch_status(
        DEPLOYMENTS,
        Some("default"),
        "web",
        json!({"status": {"observedGeneration": 1, "replicas": replicas,
            "updatedReplicas": replicas, "readyReplicas": available,
            "availableReplicas": available}}),
    )
}

#[test]
fn a_ci_log_gets_a_line_per_progress_and_a_summary_of_what_is_unmet() {
    let s = Scenario::new();
    s.widget("foo", json!({}), Value::Null);
    s.server.create(
        "configmaps",
        Some("default"),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"}}),
    );
    deployment(&s, 2);
    rolled(&s, 2, 0);
    let mut child = s
        .notify(&[
            "widgets/foo",
            "deploy/web",
            "cm/app",
            "--for",
            "ready",
            "--timeout",
            "30s",
        ])
        .env("KUBECTL_NOTIFY_PROGRESS_EVERY", "300ms")
        .spawn()
        .unwrap();
    for watched in ["widgets", "deployments", "configmaps"] {
        s.wait_for_watch_matching(watched, &mut child);
    }
    // Long enough for the progress to be told (from 2 s on) and a summary
    // line while two objects are unmet.
    std::thread::sleep(Duration::from_millis(3000));
    rolled(&s, 2, 1);
    std::thread::sleep(Duration::from_millis(300));
    rolled(&s, 2, 2);
    std::thread::sleep(Duration::from_millis(300));
    s.set_status(
        "foo",
        json!({"conditions": [{"type": "Ready", "status": "True"}]}),
    );
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "widget.example.com/foo condition met\ndeployment.apps/web condition met\n\
         configmap/app condition met\n"
    );
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    let progress: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.starts_with("waiting "))
        .collect();
    // Each change once, in order; the object that is ready at start says
    // so once; the last change (the widget ready) ends the wait instead.
    assert_eq!(
        progress,
        [
            "widget.example.com/foo: no Ready, Available, Succeeded or Complete condition yet",
            "deployment.apps/web: 0 of 2 updated replicas are available",
            "configmap/app: ready",
            "deployment.apps/web: 1 of 2 updated replicas are available",
            "deployment.apps/web: ready",
        ],
        "{err}"
    );
    let summary = lines
        .iter()
        .find(|l| l.starts_with("waiting "))
        .unwrap_or_else(|| panic!("no summary line: {err}"));
    assert!(
        summary.ends_with(": 1 of 3 ready; not yet: widget.example.com/foo, deployment.apps/web"),
        "{err}"
    );
    let waited = summary["waiting ".len()..].split(':').next().unwrap();
    assert!(
        waited.ends_with('s') && waited.len() <= 5,
        "the time waited, as durations are said: {summary}"
    );
}

#[test]
fn quiet_prints_no_progress() {
    let s = Scenario::new();
    deployment(&s, 1);
    rolled(&s, 1, 0);
    let mut child = s
        .notify(&["deploy/web", "--for", "ready", "-q", "--timeout", "30s"])
        .env("KUBECTL_NOTIFY_PROGRESS_EVERY", "100ms")
        .spawn()
        .unwrap();
    s.wait_for_watch_matching("deployments", &mut child);
    std::thread::sleep(Duration::from_millis(500));
    rolled(&s, 1, 1);
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "");
}

/// A wait shorter than two seconds tells nothing: a quick wait's log stays
/// as it was.
#[test]
fn a_quick_wait_tells_no_progress() {
    let s = Scenario::new();
    deployment(&s, 1);
    rolled(&s, 1, 0);
    let mut child = s
        .notify(&["deploy/web", "--for", "ready", "--timeout", "30s"])
        .spawn()
        .unwrap();
    s.wait_for_watch_matching("deployments", &mut child);
    rolled(&s, 1, 1);
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "deployment.apps/web condition met\n");
    assert_eq!(stderr(&out), "");
}

#[test]
fn a_wait_met_at_start_or_checked_once_tells_no_progress() {
    let s = Scenario::new();
    deployment(&s, 1);
    rolled(&s, 1, 1);
    let out = s.run(&["deploy/web", "--for", "ready"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    rolled(&s, 1, 0);
    let out = s.run(&["deploy/web", "--for", "ready", "--timeout", "0"]);
    assert_eq!(code(&out), 124);
    assert!(
        stderr(&out).starts_with("error: checked once waiting for --for ready"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_invalid_summary_interval_is_refused() {
    let s = Scenario::new();
    let out = s
        .notify(&["cm/app", "--for", "ready", "--timeout", "1s"])
        .env("KUBECTL_NOTIFY_PROGRESS_EVERY", "soon")
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "error: KUBECTL_NOTIFY_PROGRESS_EVERY=soon: give a duration such as 30s\n"
    );
}

#[test]
fn a_summary_names_ten_unmet_objects_then_counts_the_rest() {
    let s = Scenario::new();
    for n in 0..12 {
        s.widget(&format!("w{n:02}"), json!({}), Value::Null);
    }
    let out = s
        .notify(&["widgets", "--all", "--for", "ready", "--timeout", "4s"])
        .env("KUBECTL_NOTIFY_PROGRESS_EVERY", "200ms")
        .output()
        .unwrap();
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let err = stderr(&out);
    let summary = err
        .lines()
        .find(|l| l.starts_with("waiting "))
        .unwrap_or_else(|| panic!("no summary: {err}"));
    let names: Vec<String> = (0..10)
        .map(|n| format!("widget.example.com/w{n:02}"))
        .collect();
    assert!(
        summary.ends_with(&format!(
            ": 0 of 12 ready; not yet: {}, and 2 more",
            names.join(", ")
        )),
        "{summary}"
    );
}

/// What the status line ends with, said once as a line of its own.
#[test]
fn the_newest_warning_event_is_said_once() {
    let s = Scenario::new();
    let foo = s.widget("foo", json!({}), json!({"ready": false}));
    s.server.event(
        &foo,
        "Warning",
        "OlderTrouble",
        "long ago",
        1,
        Duration::from_secs(600),
    );
    s.server.event(
        &foo,
        "Warning",
        "QuotaExceeded",
        "exceeded quota: widgets-small",
        3,
        Duration::from_secs(40),
    );
    let out = s.run(&["widgets/foo", "--until", READY, "--timeout", "7s"]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let err = stderr(&out);
    let progress: Vec<&str> = err
        .lines()
        .take_while(|l| !l.starts_with("error: "))
        .collect();
    assert_eq!(
        progress,
        [
            "widget.example.com/foo: .status.ready = false",
            "widget.example.com/foo: warning QuotaExceeded",
        ],
        "{err}"
    );
}
