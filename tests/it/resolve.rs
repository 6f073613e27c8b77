//! `--resolve` (SPEC §3): with `--when`, an object that fired is told again,
//! as event `resolved`, when EXPR stops holding for it or it is deleted —
//! alerts close themselves, through every output, across `--hold` and a
//! restart from a `--checkpoint`.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc::{Receiver as Lines, channel};
use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::common::*;
use crate::ha::{Replica, wait_for_checkpoint};
use crate::receiver::Receiver;

const LONG: Duration = Duration::from_secs(30);
const FAILED: &str = ".status.phase == \"Failed\"";

fn lines_of(child: &mut Child) -> Lines<String> {
    let stdout = child.stdout.take().unwrap();
    let (send, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// Waits until the command has run `n` times (it appends one line each).
fn ran(file: &std::path::Path, n: usize) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text.lines().count() >= n || std::time::Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn next_json(lines: &Lines<String>) -> Value {
    let line = lines
        .recv_timeout(Duration::from_secs(15))
        .expect("a notification within 15 s");
    serde_json::from_str(&line).unwrap()
}

#[test]
fn resolve_tells_when_the_condition_stops_holding_and_when_the_object_is_deleted() {
    let s = Scenario::new();
    let hook = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events");
    s.widget("foo", json!({}), json!({"phase": "Running"}));
    let before = s.server.requests().len();
    let script = format!("echo \"$KUBECTL_NOTIFY_EVENT\" >> {}", events.display());
    let mut child = s
        .notify(&[
            "widgets",
            "--all",
            "--when",
            FAILED,
            "--resolve",
            "-o",
            "json",
            "--sink",
            "cloudevents:env:HOOK",
            "--count",
            "4",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .env("HOOK", hook.url())
        .spawn()
        .unwrap();
    s.wait_for_watch_since(before, "widgets", &mut child);
    let lines = lines_of(&mut child);
    let fired = s.set_status("foo", json!({"phase": "Failed"}));
    assert_eq!(next_json(&lines)["type"], "modified");
    // Commands of one object coalesce while one runs: one at a time here.
    ran(&events, 1);
    s.set_status("foo", json!({"phase": "Failed", "note": "still"}));
    let recovered = s.set_status("foo", json!({"phase": "Running"}));
    let resolved = next_json(&lines);
    assert_eq!(resolved["type"], "resolved");
    assert_eq!(
        resolved["resourceVersion"],
        recovered["metadata"]["resourceVersion"]
    );
    // It shows what made it resolve.
    assert!(
        resolved["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["path"] == ".status.phase" && c["new"] == "Running"),
        "{resolved}"
    );
    ran(&events, 2);
    s.set_status("foo", json!({"phase": "Failed"}));
    assert_eq!(next_json(&lines)["type"], "modified");
    ran(&events, 3);
    s.server.delete(WIDGETS, Some("default"), "foo");
    assert_eq!(
        next_json(&lines)["type"],
        "resolved",
        "deleted while firing"
    );
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let uid = fired["metadata"]["uid"].as_str().unwrap();
    let told: Vec<(String, String)> = hook
        .delivered()
        .iter()
        .map(|e| {
            (
                e.header("ce-type").unwrap().to_string(),
                e.header("ce-id").unwrap().to_string(),
            )
        })
        .collect();
    let rv = |o: &Value| {
        o["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(told.len(), 4, "{told:?}");
    assert_eq!(
        told[..2],
        [
            (
                "kubectl-notify.modified".to_string(),
                format!("{uid}/{}/modified", rv(&fired))
            ),
            (
                "kubectl-notify.resolved".to_string(),
                format!("{uid}/{}/resolved", rv(&recovered))
            ),
        ]
    );
    assert_eq!(
        told[3],
        (
            "kubectl-notify.resolved".to_string(),
            format!("{uid}/resolved")
        )
    );
    assert_eq!(ran(&events, 4), "modified\nresolved\nmodified\nresolved\n");
}

#[test]
fn resolve_in_human_output_says_resolved() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"phase": "Failed"}));
    let mut child = s
        .notify(&[
            "widgets/foo",
            "--when",
            FAILED,
            "--resolve",
            "--initial",
            "--count",
            "2",
        ])
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    s.set_status("foo", json!({"phase": "Running"}));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let headers: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(headers.len(), 2, "{text}");
    assert!(
        headers[0].contains("  initial   widget.example.com/foo"),
        "{text}"
    );
    assert!(
        headers[1].contains("  resolved  widget.example.com/foo"),
        "{text}"
    );
    assert!(
        text.contains("~ .status.phase  \"Failed\" → \"Running\""),
        "{text}"
    );
}

#[test]
fn resolve_with_hold_a_flap_that_never_fired_resolves_nothing() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"phase": "Running"}));
    let mut child = s
        .notify(&[
            "widgets/foo",
            "--when",
            FAILED,
            "--resolve",
            "--hold",
            "1s",
            "-o",
            "json",
            "--count",
            "2",
        ])
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    let lines = lines_of(&mut child);
    s.set_status("foo", json!({"phase": "Failed", "note": "flap"}));
    s.set_status("foo", json!({"phase": "Running", "note": "flap over"}));
    assert!(
        lines.recv_timeout(Duration::from_millis(2000)).is_err(),
        "a flap fired or resolved something"
    );
    s.set_status("foo", json!({"phase": "Failed", "note": "stays"}));
    let fired = next_json(&lines);
    assert_eq!(
        (
            fired["type"].as_str(),
            fired["object"]["status"]["note"].as_str()
        ),
        (Some("modified"), Some("stays"))
    );
    s.set_status("foo", json!({"phase": "Running", "note": "healthy"}));
    let resolved = next_json(&lines);
    assert_eq!(resolved["type"], "resolved");
    assert_eq!(resolved["object"]["status"]["note"], "healthy");
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

/// With `--throttle`, a firing and its resolution inside one window after
/// the alert was resolved: the firing was never sent, so neither is its
/// resolution (an alert never sent is never closed).
#[test]
fn resolve_with_throttle_never_resolves_a_firing_that_was_never_sent() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"phase": "Running"}));
    let mut child = s
        .notify(&[
            "widgets/foo",
            "--when",
            FAILED,
            "--resolve",
            "--throttle",
            "2s",
            "-o",
            "json",
            "--count",
            "3",
        ])
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    let lines = lines_of(&mut child);
    s.set_status("foo", json!({"phase": "Failed", "note": "first"}));
    assert_eq!(next_json(&lines)["type"], "modified");
    s.set_status("foo", json!({"phase": "Running", "note": "first over"}));
    // At the window's end.
    assert_eq!(next_json(&lines)["type"], "resolved");
    // Fires and recovers inside the next window: nothing went out.
    s.set_status("foo", json!({"phase": "Failed", "note": "second"}));
    s.set_status("foo", json!({"phase": "Running", "note": "second over"}));
    std::thread::sleep(Duration::from_millis(2500));
    s.set_status("foo", json!({"phase": "Failed", "note": "third"}));
    let next = next_json(&lines);
    assert_eq!(
        (
            next["type"].as_str(),
            next["object"]["status"]["note"].as_str()
        ),
        (Some("modified"), Some("third")),
        "a resolution of a firing never sent went out: {next}"
    );
    child.kill().unwrap();
    let _ = child.wait();
}

/// SPEC §12: which alerts are open is in the checkpoint: an object that
/// recovered while no replica ran is resolved after the restart, and one
/// that never fired is not.
#[test]
fn an_alert_open_at_a_restart_is_resolved_when_its_object_recovered_meanwhile() {
    let s = Scenario::new();
    s.widget("calm", json!({}), json!({"phase": "Failed"}));
    s.widget("hot", json!({}), json!({"phase": "Running"}));
    let flags = ["--checkpoint", "alerts", "--when", FAILED, "--resolve"];
    let mut first = Replica::start(&s, "a", None, &flags);
    s.wait_for_watch_matching("widgets?", &mut first.child);
    let fired = s.set_status("hot", json!({"phase": "Failed"}));
    first.wait_for(&["modified hot"], LONG);
    wait_for_checkpoint(&s, "alerts", &fired);
    first.stop();

    // While no replica runs: both recover (only "hot" had fired).
    s.set_status("hot", json!({"phase": "Running"}));
    s.set_status("calm", json!({"phase": "Running"}));

    let second = Replica::start(&s, "a", None, &flags);
    second.wait_for(&["resolved hot"], LONG);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(second.seen(), ["resolved hot"], "nothing else");
}

#[test]
fn resolve_needs_when_and_notify_mode() {
    let s = Scenario::new();
    for (args, words) in [
        (
            &["widgets/foo", "--resolve"][..],
            "--resolve tells when an alert's condition stops holding: add --when EXPR",
        ),
        (
            &["widgets/foo", "--until", ".status.ready", "--resolve"][..],
            "--resolve is for notify mode",
        ),
    ] {
        let out = s.run(args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(words), "{args:?}: {}", stderr(&out));
    }
}

/// A resolution by deletion closes what its firing opened, at every sink:
/// Alertmanager gets the same labels, PagerDuty the same `dedup_key`, each
/// chat a text naming the object and saying resolved — even when the
/// deletion is found by a re-list after a restart, which knows no more of
/// the object than its identity.
#[test]
fn a_resolution_by_deletion_found_after_a_restart_keeps_the_identity_its_firing_had() {
    let s = Scenario::new();
    let sinks = ["AM", "PD", "SLACK", "TEAMS", "DISCORD"];
    let hooks: Vec<Receiver> = sinks.iter().map(|_| Receiver::start()).collect();
    let mut env: Vec<(&str, String)> = sinks
        .iter()
        .copied()
        .zip(hooks.iter().map(|h| format!("http://{}", h.addr)))
        .collect();
    env[1].1 = format!("http://{}/v2/enqueue?routing_key=R0UTE", hooks[1].addr);
    env.push(("KUBECTL_NOTIFY_ALERTMANAGER_RESEND", "1h".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let args = [
        WIDGETS,
        "--all",
        "-o",
        "json",
        "-v",
        "--checkpoint",
        "alerts",
        "--when",
        FAILED,
        "--resolve",
        "--sink",
        "alertmanager:env:AM",
        "--sink",
        "pagerduty:env:PD",
        "--sink",
        "slack:env:SLACK",
        "--sink",
        "teams:env:TEAMS",
        "--sink",
        "discord:env:DISCORD",
    ];
    s.widget("foo", json!({}), json!({"phase": "Running"}));
    let first = Replica::with_env(&s, "a", None, &args, &env);
    first.wait_watching(LONG);
    let fired = s.set_status("foo", json!({"phase": "Failed"}));
    first.wait_for(&["modified foo"], LONG);
    wait_for_checkpoint(&s, "alerts", &fired);
    first.stop();

    // Deleted while no replica ran, and the history since lost: the
    // re-list finds it gone.
    s.server.delete(WIDGETS, Some("default"), "foo");
    s.forget_history();
    let second = Replica::with_env(&s, "a", None, &args, &env);
    second.wait_for(&["resolved foo"], LONG);
    let two = |i: usize| -> Vec<Value> {
        let deadline = std::time::Instant::now() + LONG;
        loop {
            let got: Vec<Value> = hooks[i].delivered().iter().map(|r| r.json()).collect();
            if got.len() >= 2 || std::time::Instant::now() > deadline {
                assert_eq!(got.len(), 2, "{}: {got:#?}", sinks[i]);
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let am = two(0);
    assert_eq!(am[1][0]["labels"], am[0][0]["labels"], "{am:#?}");
    assert_eq!(am[1][0]["labels"]["name"], "foo");
    assert!(
        humantime::parse_rfc3339(am[1][0]["endsAt"].as_str().unwrap()).unwrap()
            <= std::time::SystemTime::now(),
        "ended: {am:#?}"
    );
    let pd = two(1);
    assert_eq!(pd[1]["event_action"], "resolve");
    assert_eq!(pd[1]["dedup_key"], pd[0]["dedup_key"], "{pd:#?}");
    let texts = [
        two(2)[1]["text"].clone(),
        two(3)[1]["attachments"][0]["content"]["body"][0]["text"].clone(),
        two(4)[1]["content"].clone(),
    ];
    for text in texts {
        let text = text.as_str().unwrap_or_default();
        assert!(
            text.contains("resolved") && text.contains("widget.example.com/foo"),
            "{text}"
        );
    }
}
