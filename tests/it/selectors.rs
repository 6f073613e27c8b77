//! Several targets and selectors (SPEC §1, §3): all must hold by default,
//! `--any` is enough with one, and the selected set is live.

use std::time::Duration;

use serde_json::json;

use crate::common::*;

fn labelled(s: &Scenario, ns: &str, name: &str, team: &str, ready: bool) {
    s.widget_in(ns, name, json!({}), json!({"ready": ready}));
    s.server.merge_patch(
        WIDGETS,
        Some(ns),
        name,
        json!({"metadata": {"labels": {"team": team}}}),
    );
}

/// Blocks until the binary watches widgets with a label selector.
fn wait_for_selector_watch(s: &Scenario, child: &mut std::process::Child) {
    s.wait_for_watch_matching("labelSelector=", child);
}

#[test]
fn every_selected_object_must_hold() {
    let s = Scenario::new();
    labelled(&s, "default", "a", "payments", true);
    labelled(&s, "default", "b", "payments", false);
    labelled(&s, "default", "c", "search", false);
    let mut child = s
        .notify(&[
            "widgets",
            "-l",
            "team=payments",
            "--until",
            READY,
            "--timeout",
            "30s",
        ])
        .spawn()
        .unwrap();
    wait_for_selector_watch(&s, &mut child);
    assert!(
        still_running(&mut child, Duration::from_millis(400)),
        "b is not ready"
    );
    s.set_status("b", json!({"ready": true}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "widget.example.com/a condition met\nwidget.example.com/b condition met\n"
    );
}

#[test]
fn a_selector_matching_nothing_waits_until_an_object_joins() {
    let s = Scenario::new();
    let mut child = s
        .notify(&[
            "widgets",
            "-l",
            "team=payments",
            "--until",
            READY,
            "--timeout",
            "30s",
        ])
        .spawn()
        .unwrap();
    wait_for_selector_watch(&s, &mut child);
    assert!(
        still_running(&mut child, Duration::from_millis(400)),
        "an empty selection counted as met"
    );
    labelled(&s, "default", "late", "payments", true);
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/late condition met\n");
}

#[test]
fn an_object_leaving_the_selection_changes_the_verdict() {
    let s = Scenario::new();
    labelled(&s, "default", "a", "payments", true);
    labelled(&s, "default", "b", "payments", false);
    let mut child = s
        .notify(&[
            "widgets",
            "-l",
            "team=payments",
            "--until",
            READY,
            "--timeout",
            "30s",
        ])
        .spawn()
        .unwrap();
    wait_for_selector_watch(&s, &mut child);
    assert!(still_running(&mut child, Duration::from_millis(400)));
    // b moves to another team: only a is left, and it is ready.
    s.server.merge_patch(
        WIDGETS,
        Some("default"),
        "b",
        json!({"metadata": {"labels": {"team": "search"}}}),
    );
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/a condition met\n");
}

#[test]
fn an_object_joining_the_selection_must_hold_too() {
    let s = Scenario::new();
    labelled(&s, "default", "a", "payments", true);
    labelled(&s, "default", "b", "search", false);
    // Not yet ready, b joins the selection; with --timeout 0 the first check
    // already sees a, so check the join while waiting on a condition a lacks.
    let mut child = s
        .notify(&[
            "widgets",
            "-l",
            "team=payments",
            "--until",
            ".status.ready == true && .spec.go == true",
            "--timeout",
            "30s",
        ])
        .spawn()
        .unwrap();
    wait_for_selector_watch(&s, &mut child);
    s.server.merge_patch(
        WIDGETS,
        Some("default"),
        "b",
        json!({"metadata": {"labels": {"team": "payments"}}}),
    );
    s.server
        .merge_patch(WIDGETS, Some("default"), "a", json!({"spec": {"go": true}}));
    assert!(
        still_running(&mut child, Duration::from_millis(400)),
        "b joined and is not ready"
    );
    s.server
        .merge_patch(WIDGETS, Some("default"), "b", json!({"spec": {"go": true}}));
    s.set_status("b", json!({"ready": true}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "widget.example.com/a condition met\nwidget.example.com/b condition met\n"
    );
}

#[test]
fn any_is_satisfied_by_one_of_two_targets() {
    let s = Scenario::new();
    s.widget("a", json!({}), json!({"ready": false}));
    s.widget("b", json!({}), json!({"ready": false}));
    let mut child = s
        .notify(&[
            "widgets/a",
            "widgets/b",
            "--any",
            "--until",
            READY,
            "--timeout",
            "30s",
        ])
        .spawn()
        .unwrap();
    s.wait_for_watch("b", &mut child);
    assert!(still_running(&mut child, Duration::from_millis(300)));
    s.set_status("b", json!({"ready": true}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/b condition met\n");
}

#[test]
fn all_namespaces_and_all() {
    let s = Scenario::new();
    labelled(&s, "team-a", "x", "payments", true);
    labelled(&s, "team-b", "y", "payments", true);
    let out = s.run(&["widgets", "-A", "--until", READY, "--timeout", "0"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "widget.example.com/x condition met\nwidget.example.com/y condition met\n"
    );
    let out = s.run(&[
        "widgets",
        "--all",
        "-n",
        "team-b",
        "--until",
        READY,
        "--timeout",
        "0",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/y condition met\n");
    let out = s.run(&["widgets", "--all", "--until", READY, "--timeout", "0"]);
    assert_eq!(code(&out), 124, "nothing in default: {}", stdout(&out));
    assert!(
        stderr(&out).contains("no object matches"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn field_selectors_select_and_unsupported_fields_exit_2() {
    let s = Scenario::new();
    labelled(&s, "default", "a", "payments", true);
    labelled(&s, "default", "b", "payments", false);
    let out = s.run(&[
        "widgets",
        "--field-selector",
        "metadata.name=a",
        "--until",
        READY,
        "--timeout",
        "0",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/a condition met\n");
    let out = s.run(&[
        "widgets",
        "--field-selector",
        "spec.size=1",
        "--until",
        READY,
        "--timeout",
        "10s",
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("field label not supported"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stderr(&out).lines().count(), 1);
}

#[test]
fn names_with_a_selector_exit_2() {
    let s = Scenario::new();
    let out = s.run(&["widgets", "foo", "-l", "a=b", "--until", READY]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let out = s.run(&["widgets/foo", "-A", "--until", READY]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(s.server.requests().is_empty());
}

/// Where the server refuses a streaming list (as on etcd 3.4), the list
/// is paginated.
#[test]
fn a_large_selection_is_listed_in_pages_and_every_object_is_judged() {
    let s = Scenario::on(testserver::TestServer::start_with(testserver::Options {
        tls: true,
        streaming_lists: testserver::StreamingLists::NoWatchProgress,
        ..Default::default()
    }));
    for i in 0..1_100 {
        s.server.create(
            WIDGETS,
            Some("default"),
            json!({"apiVersion": "example.com/v1", "kind": "Widget",
                   "metadata": {"name": format!("w{i:04}"), "labels": {"batch": "big"}},
                   "status": {"ready": true}}),
        );
    }
    let before = s.server.requests().len();
    let out = s.run(&["widgets", "-l", "batch=big", "--until", READY, "-o", "name"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 1_100);
    let lists: Vec<String> = s.server.requests()[before..]
        .iter()
        .filter(|r| {
            r.path_and_query.contains("labelSelector=") && !r.path_and_query.contains("watch=")
        })
        .map(|r| r.path_and_query.clone())
        .collect();
    assert_eq!(lists.len(), 3, "pages of at most 500: {lists:#?}");
    assert!(lists.iter().all(|l| l.contains("limit=500")), "{lists:#?}");
    assert!(
        lists[1..].iter().all(|l| l.contains("continue=")),
        "{lists:#?}"
    );
}

/// Where the server serves streaming lists, the same selection comes in one
/// watch (no page, no second request) and every object is judged.
#[test]
fn a_large_selection_is_streamed_in_one_request_and_every_object_is_judged() {
    let s = Scenario::new();
    for i in 0..1_100 {
        s.server.create(
            WIDGETS,
            Some("default"),
            json!({"apiVersion": "example.com/v1", "kind": "Widget",
                   "metadata": {"name": format!("w{i:04}"), "labels": {"batch": "big"}},
                   "status": {"ready": true}}),
        );
    }
    let before = s.server.requests().len();
    let out = s.run(&["widgets", "-l", "batch=big", "--until", READY, "-o", "name"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 1_100);
    let reads: Vec<String> = s.server.requests()[before..]
        .iter()
        .filter(|r| r.path_and_query.contains("labelSelector="))
        .map(|r| r.path_and_query.clone())
        .collect();
    assert_eq!(reads.len(), 1, "{reads:#?}");
    assert!(reads[0].contains("sendInitialEvents=true"), "{reads:#?}");
}
