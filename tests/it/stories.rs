//! Stories told on both tiers: each is one function over `&dyn Cluster`, run
//! here on the project's test server and in `real::` on a real control plane.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::{Cluster, Watching};
use crate::common::*;

/// A wait that holds at start ends at once with kubectl's line; one that does
/// not yet hold ends when the status is written.
pub fn a_wait_ends_when_the_status_is_written(c: &dyn Cluster) {
    c.create_widget("early", json!({"size": 1}));
    c.set_widget_status("early", json!({"ready": true}));
    let out = c.run(&["widgets/early", "--until", READY, "--timeout", "30s"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/early condition met\n");

    c.create_widget("late", json!({"size": 1}));
    let run = Watching::start(
        c,
        &["widgets/late", "--until", READY, "--timeout", "30s"],
        1,
    );
    c.set_widget_status("late", json!({"ready": true}));
    let out = run.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/late condition met\n");
}

/// Notify mode with `--on-change` and `-o json`: one line per change of the
/// watched path, with the change's old and new values; other changes are quiet.
pub fn on_change_prints_each_change_of_the_path_as_json(c: &dyn Cluster) {
    c.create_widget("w", json!({"size": 1, "color": "red"}));
    let run = Watching::start(
        c,
        &[
            "widgets/w",
            "--on-change",
            ".spec.size",
            "-o",
            "json",
            "--count",
            "2",
            "--timeout",
            "30s",
        ],
        1,
    );
    c.patch_widget("w", json!({"spec": {"color": "blue"}}));
    c.patch_widget("w", json!({"spec": {"size": 2}}));
    c.patch_widget("w", json!({"spec": {"size": 3}}));
    let out = run.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", stdout(&out));
    for (line, (old, new)) in lines.iter().zip([(1, 2), (2, 3)]) {
        assert_eq!(line["type"], "modified");
        assert_eq!(line["name"], "w");
        assert_eq!(line["namespace"], c.namespace());
        assert_eq!(line["object"]["spec"]["size"], new);
        let change = line["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|ch| ch["path"] == ".spec.size")
            .unwrap_or_else(|| panic!("no .spec.size change in {line}"));
        assert_eq!(
            (change["old"].clone(), change["new"].clone()),
            (json!(old), json!(new))
        );
    }
}

#[test]
fn a_wait_ends_when_the_status_is_written_on_the_test_server() {
    a_wait_ends_when_the_status_is_written(&Scenario::new());
}

#[test]
fn on_change_prints_each_change_of_the_path_as_json_on_the_test_server() {
    on_change_prints_each_change_of_the_path_as_json(&Scenario::new());
}

/// `--for delete` ends when the object goes, with kubectl's line, and at once
/// for an object that is already gone.
pub fn for_delete_ends_when_the_object_goes(c: &dyn Cluster) {
    c.create_widget("doomed", json!({}));
    let run = Watching::start(
        c,
        &["widgets/doomed", "--for", "delete", "--timeout", "30s"],
        1,
    );
    c.delete_widget("doomed");
    let out = run.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/doomed condition met\n");

    let out = c.run(&["widgets/never", "--for", "delete", "--timeout", "30s"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/never condition met\n");
}

#[test]
fn for_delete_ends_when_the_object_goes_on_the_test_server() {
    for_delete_ends_when_the_object_goes(&Scenario::new());
}
