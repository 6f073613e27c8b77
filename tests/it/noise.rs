//! Noise control (SPEC §3): `--hold` makes a condition stay true before it
//! counts, so a flap fires nothing; `--throttle` sends at most one
//! notification per object per window, the rest folded into one trailing
//! notification. Timing is checked with wide margins only: "not before
//! 0.8 s" and "within seconds", never to the millisecond.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;

/// stdout's lines as they come, read on a thread so the test can wait
/// for one with a limit.
fn lines_of(child: &mut Child) -> Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (send, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

fn next_json(lines: &Receiver<String>) -> Value {
    let line = lines
        .recv_timeout(Duration::from_secs(15))
        .expect("a notification within 15 s");
    serde_json::from_str(&line).unwrap()
}

fn paths(line: &Value) -> Vec<String> {
    line["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn wait_mode_hold_counts_the_condition_only_once_it_has_held() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let mut child = s
        .notify(&[
            "widgets/foo",
            "--until",
            READY,
            "--hold",
            "1s",
            "--timeout",
            "30s",
        ])
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    s.set_status("foo", json!({"ready": true}));
    let patched = Instant::now();
    assert!(
        still_running(&mut child, Duration::from_millis(800)),
        "met before the hold was over"
    );
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(patched.elapsed() >= Duration::from_secs(1));
    assert_eq!(stdout(&out), "widget.example.com/foo condition met\n");
}

#[test]
fn wait_mode_hold_a_flap_fires_nothing_and_the_timeout_says_so() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let mut child = s
        .notify(&[
            "widgets/foo",
            "--until",
            READY,
            "--hold",
            "2s",
            "--timeout",
            "4s",
        ])
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    s.set_status("foo", json!({"ready": true}));
    s.set_status("foo", json!({"ready": false}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("timed out"), "{}", stderr(&out));
}

#[test]
fn wait_mode_hold_a_timeout_names_the_object_still_holding() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let mut child = s
        .notify(&[
            "widgets/foo",
            "--until",
            READY,
            "--hold",
            "3s",
            "--timeout",
            "4s",
        ])
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    // True from 1.2 s on at the earliest: 3 s more ends after the 4 s timeout.
    std::thread::sleep(Duration::from_millis(1200));
    s.set_status("foo", json!({"ready": true}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("widget.example.com/foo (met for ") && err.contains("not yet for --hold 3s)"),
        "{err}"
    );
}

/// The hold is said back as a flag takes it (`1s500ms`), not as
/// humantime writes it (`1s 500ms`, `7days`).
#[test]
fn the_hold_is_said_back_as_a_flag_takes_it() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let mut child = s
        .notify(&[
            "widgets/foo",
            "--until",
            READY,
            "--hold",
            "1500ms",
            "--timeout",
            "2s",
        ])
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    // True from 1 s on at the earliest: 1.5 s more ends after the timeout.
    std::thread::sleep(Duration::from_millis(1000));
    s.set_status("foo", json!({"ready": true}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("not yet for --hold 1s500ms)"), "{err}");
}

#[test]
fn wait_mode_hold_each_selected_object_holds_on_its_own() {
    let s = Scenario::new();
    for name in ["a", "b"] {
        s.server.create(
            WIDGETS,
            Some("default"),
            json!({"apiVersion": "example.com/v1", "kind": "Widget",
                   "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}}}),
        );
    }
    let mut child = s
        .notify(&[
            "widgets",
            "-l",
            "app=web",
            "--until",
            READY,
            "--hold",
            "1s",
            "--timeout",
            "30s",
        ])
        .spawn()
        .unwrap();
    s.wait_for_watch_matching("labelSelector", &mut child);
    s.set_status("a", json!({"ready": true}));
    // b flaps, then holds: the wait ends only once b's own hold is over.
    s.set_status("b", json!({"ready": true}));
    s.set_status("b", json!({"ready": false}));
    assert!(
        still_running(&mut child, Duration::from_millis(1500)),
        "b never held"
    );
    s.set_status("b", json!({"ready": true}));
    let patched = Instant::now();
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(patched.elapsed() >= Duration::from_millis(800));
    assert_eq!(
        stdout(&out),
        "widget.example.com/a condition met\nwidget.example.com/b condition met\n"
    );
}

#[test]
fn notify_mode_hold_skips_a_flap_and_notifies_the_state_that_held() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let mut child = s
        .notify(&[
            "widgets/foo",
            "--when",
            READY,
            "--hold",
            "1s",
            "-o",
            "json",
            "--count",
            "1",
        ])
        .spawn()
        .unwrap();
    let lines = lines_of(&mut child);
    s.wait_for_watch("foo", &mut child);
    s.set_status("foo", json!({"ready": true, "note": "flap"}));
    s.set_status("foo", json!({"ready": false, "note": "down"}));
    s.set_status("foo", json!({"ready": true, "note": "up"}));
    s.set_status("foo", json!({"ready": true, "note": "stays"}));
    let patched = Instant::now();
    assert!(
        lines.recv_timeout(Duration::from_millis(800)).is_err(),
        "notified before the hold was over"
    );
    let line = next_json(&lines);
    assert!(patched.elapsed() >= Duration::from_secs(1));
    assert_eq!(line["type"], "modified");
    assert_eq!(
        line["object"]["status"]["note"], "stays",
        "the newest state"
    );
    // The diff runs from the version before the edge (ready false).
    assert_eq!(paths(&line), [".status.note", ".status.ready"]);
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn throttle_folds_a_burst_into_one_trailing_notification_with_every_path() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let mut child = s
        .notify(&[
            "widgets/foo",
            "--throttle",
            "2s",
            "-o",
            "json",
            "--count",
            "2",
        ])
        .spawn()
        .unwrap();
    let lines = lines_of(&mut child);
    s.wait_for_watch("foo", &mut child);
    s.set_status("foo", json!({"ready": true}));
    let first = next_json(&lines);
    let first_seen = Instant::now();
    assert_eq!(first["object"]["status"]["ready"], true);
    assert_eq!(paths(&first), [".status.ready"]);
    s.set_status("foo", json!({"ready": true, "a": 1}));
    s.set_status("foo", json!({"ready": true, "a": 1, "b": 2}));
    s.set_status("foo", json!({"ready": false, "a": 1, "b": 2}));
    let early = lines.recv_timeout(Duration::from_millis(800).saturating_sub(first_seen.elapsed()));
    assert!(early.is_err(), "a second notification inside the window");
    let trailing = next_json(&lines);
    assert_eq!(trailing["type"], "modified");
    assert_eq!(
        trailing["object"]["status"],
        json!({"ready": false, "a": 1, "b": 2}),
        "the newest state"
    );
    // Every path changed since the first notification, ready back and forth included.
    assert_eq!(
        paths(&trailing),
        [".status.a", ".status.b", ".status.ready"]
    );
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn throttle_windows_are_per_object_and_human_diffs_show_every_path() {
    let s = Scenario::new();
    for name in ["a", "b"] {
        s.widget(name, json!({}), json!({"ready": false}));
    }
    let mut child = s
        .notify(&[
            "widgets",
            "--all",
            "--throttle",
            "2s",
            "--color",
            "never",
            "--count",
            "4",
        ])
        .spawn()
        .unwrap();
    s.wait_for_watch_matching("widgets?", &mut child);
    for name in ["a", "b"] {
        s.set_status(name, json!({"ready": true}));
        s.set_status(name, json!({"ready": true, "message": "ok"}));
    }
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let headers: Vec<&str> = text.lines().filter(|l| l.contains("modified")).collect();
    assert_eq!(headers.len(), 4, "{text}");
    // Each object's first goes out at once, its second at the end of its own window.
    for name in ["a", "b"] {
        let mine: Vec<usize> = headers
            .iter()
            .enumerate()
            .filter(|(_, l)| l.contains(&format!("widget.example.com/{name} ")))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(mine.len(), 2, "{text}");
    }
    assert!(text.contains("+ .status.message"), "{text}");
}

#[test]
fn throttle_delivers_what_waits_when_the_timeout_ends_the_run() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let mut child = s
        .notify(&[
            "widgets/foo",
            "--throttle",
            "1m",
            "-o",
            "json",
            "--timeout",
            "3s",
        ])
        .spawn()
        .unwrap();
    let lines = lines_of(&mut child);
    s.wait_for_watch("foo", &mut child);
    s.set_status("foo", json!({"ready": true}));
    next_json(&lines);
    s.set_status("foo", json!({"ready": true, "note": "last"}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let trailing = next_json(&lines);
    assert_eq!(trailing["object"]["status"]["note"], "last");
    assert!(lines.recv_timeout(Duration::from_millis(100)).is_err());
    assert!(stderr(&out).contains("2 notifications"), "{}", stderr(&out));
}

#[test]
fn throttle_delivers_what_waits_when_sigterm_ends_the_run() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let mut child = s
        .notify(&["widgets/foo", "--throttle", "1m", "-o", "json"])
        .spawn()
        .unwrap();
    let lines = lines_of(&mut child);
    s.wait_for_watch("foo", &mut child);
    s.set_status("foo", json!({"ready": true}));
    next_json(&lines);
    s.set_status("foo", json!({"ready": true, "note": "last"}));
    std::thread::sleep(Duration::from_millis(500));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 143, "{}", stderr(&out));
    let trailing = lines
        .recv_timeout(Duration::from_secs(5))
        .expect("the trailing notification, delivered at exit");
    let trailing: Value = serde_json::from_str(&trailing).unwrap();
    assert_eq!(trailing["object"]["status"]["note"], "last");
}

/// SPEC §1: a re-created object is a new object; its creation is never
/// told before the deletion of the object that had its name.
#[test]
fn throttle_tells_a_deletion_before_the_creation_of_the_object_taking_its_name() {
    let s = Scenario::new();
    let mut child = s
        .notify(&[
            "widgets",
            "--all",
            "--throttle",
            "1m",
            "-o",
            "json",
            "--timeout",
            "4s",
        ])
        .spawn()
        .unwrap();
    let lines = lines_of(&mut child);
    s.wait_for_watch_matching("widgets", &mut child);
    let old = s.widget("c1", json!({}), json!(null));
    assert_eq!(next_json(&lines)["type"], "created");
    s.server.delete(WIDGETS, Some("default"), "c1").unwrap();
    let new = s.widget("c1", json!({}), json!(null));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let told: Vec<(String, String)> =
        std::iter::from_fn(|| lines.recv_timeout(Duration::from_millis(200)).ok())
            .map(|line| {
                let line: Value = serde_json::from_str(&line).unwrap();
                (
                    line["type"].as_str().unwrap().into(),
                    line["uid"].as_str().unwrap().into(),
                )
            })
            .collect();
    let uid = |o: &Value| o["metadata"]["uid"].as_str().unwrap().to_string();
    assert_eq!(
        told,
        [("deleted".into(), uid(&old)), ("created".into(), uid(&new))]
    );
}
