//! What scripts parse and people read (SPEC §6): `-o json` lines with stable
//! field names, `-o name`, `-o jsonpath=`, and the human field diff.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

/// Runs notify mode until one notification, made by `change` once watching.
fn one_notification(s: &Scenario, args: &[&str], change: impl FnOnce(&Scenario)) -> String {
    let mut full = vec!["widgets/foo", "--count", "1"];
    full.extend_from_slice(args);
    let before = s.server.requests().len();
    let mut child = s.notify(&full).spawn().unwrap();
    s.wait_for_watch_since(before, "fieldSelector=metadata.name%3Dfoo", &mut child);
    change(s);
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    stdout(&out)
}

fn flip(s: &Scenario) {
    s.set_status("foo", json!({"ready": true, "message": "reconciled"}));
}

#[test]
fn json_lines_have_the_documented_fields() {
    let s = Scenario::new();
    let created = s.widget("foo", json!({}), json!({"ready": false}));
    let line = one_notification(&s, &["-o", "json"], flip);
    assert_eq!(line.lines().count(), 1, "{line}");
    let line: Value = serde_json::from_str(&line).unwrap();
    let mut keys: Vec<&str> = line
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "apiVersion",
            "changes",
            "kind",
            "name",
            "namespace",
            "object",
            "resourceVersion",
            "time",
            "type",
            "uid"
        ]
    );
    assert_eq!(line["type"], "modified");
    assert_eq!(line["apiVersion"], "example.com/v1");
    assert_eq!(line["kind"], "Widget");
    assert_eq!(line["namespace"], "default");
    assert_eq!(line["name"], "foo");
    assert_eq!(line["uid"], created["metadata"]["uid"]);
    assert_eq!(
        line["resourceVersion"],
        line["object"]["metadata"]["resourceVersion"]
    );
    assert!(line["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        line["changes"],
        json!([
            {"path": ".status.message", "pointer": "/status/message", "old": null, "new": "reconciled"},
            {"path": ".status.ready", "pointer": "/status/ready", "old": false, "new": true},
        ])
    );
    assert_eq!(line["object"]["status"]["message"], "reconciled");
}

#[test]
fn name_and_jsonpath_print_one_line_per_notification() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    assert_eq!(
        one_notification(&s, &["-o", "name"], flip),
        "widget.example.com/foo\n"
    );
    let line = one_notification(
        &s,
        &[
            "-o",
            "jsonpath={.metadata.name} {.status.message} {.status.missing}|",
        ],
        |s| {
            s.set_status("foo", json!({"message": "again"}));
        },
    );
    assert_eq!(line, "foo again |\n");
}

#[test]
fn human_output_is_a_header_and_the_changed_fields() {
    let s = Scenario::new();
    s.widget("foo", json!({"paused": true}), json!({"ready": false}));
    let text = one_notification(&s, &[], |s| {
        s.server.merge_patch(
            WIDGETS,
            Some("default"),
            "foo",
            json!({"spec": {"paused": null}}),
        );
    });
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].contains("  modified  widget.example.com/foo  (default)  rv "),
        "{text}"
    );
    assert_eq!(lines[1..], ["          - .spec.paused"], "{text}");

    let text = one_notification(&s, &[], flip);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[1..],
        [
            "          + .status.message  \"reconciled\"",
            "          ~ .status.ready    false → true"
        ],
        "{text}"
    );

    let text = one_notification(&s, &["--diff", "none"], |s| {
        s.set_status("foo", json!({"ready": false}));
    });
    assert_eq!(text.lines().count(), 1, "{text}");
}

#[test]
fn wait_mode_json_prints_the_object_that_met_the_condition() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));
    let out = s.run(&[
        "widgets/foo",
        "--until",
        ".status.ready == true",
        "-o",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let object: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(object["metadata"]["name"], "foo");
    assert_eq!(object["status"]["ready"], true);
    let out = s.run(&[
        "widgets/foo",
        "--until",
        ".status.ready == true",
        "-o",
        "name",
    ]);
    assert_eq!(stdout(&out), "widget.example.com/foo\n");
}

#[test]
fn jsonpath_templates_take_kubectls_escaped_dots() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));
    s.server.merge_patch(
        WIDGETS,
        Some("default"),
        "foo",
        json!({"metadata": {"labels": {"new.label/x": "v1", "app-name": "web"}}}),
    );
    let out = s.run(&[
        "widgets/foo",
        "--for",
        "create",
        "-o",
        "jsonpath={.metadata.labels.new\\.label/x} {.metadata.labels.app-name}",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "v1 web\n");
}

#[test]
fn an_unknown_format_or_bad_template_exits_2() {
    let s = Scenario::new();
    for (format, needle) in [
        ("yaml", "human, json, name"),
        ("jsonpath={.a", "never closed"),
    ] {
        let out = s.run(&["widgets/foo", "-o", format]);
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{}", stderr(&out));
    }
    assert!(s.server.requests().is_empty());
}

/// `-o name` without a command parses only what `--when` reads: every field
/// it names must still be there, in any part of the object.
#[test]
fn when_reads_spec_labels_and_status_whatever_is_printed() {
    let s = Scenario::new();
    s.widget("foo", json!({"size": 1}), json!({"ready": false}));
    let when = ".spec.size == 2 && .metadata.labels.tier == web && .status.ready == true";
    let line = one_notification(&s, &["-o", "name", "--when", when], |s| {
        s.set_status("foo", json!({"ready": true}));
        s.server.merge_patch(
            WIDGETS,
            Some("default"),
            "foo",
            json!({"metadata": {"labels": {"tier": "web"}}}),
        );
        s.server.merge_patch(
            WIDGETS,
            Some("default"),
            "foo",
            json!({"spec": {"size": 2}}),
        );
    });
    assert_eq!(line, "widget.example.com/foo\n");
    // The same with the object handed to a command: it gets all of it.
    let s = Scenario::new();
    s.widget(
        "foo",
        json!({"size": 1, "note": "kept"}),
        json!({"ready": false}),
    );
    let line = one_notification(
        &s,
        &["-q", "--when", ".status.ready == true", "--", "cat"],
        flip,
    );
    let object: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(object["spec"]["note"], "kept");
    assert_eq!(object["status"]["message"], "reconciled");
}

#[test]
fn a_closed_stdout_ends_the_run_at_once() {
    use std::io::BufRead;
    let s = Scenario::new();
    for name in ["a", "b", "c"] {
        s.widget(name, json!({}), json!({"ready": false}));
    }
    // `kubectl notify widgets -A --initial -o name | head -1`
    let mut child = s
        .notify(&["widgets", "-A", "--initial", "-o", "name"])
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert_eq!(first, "widget.example.com/a\n");
    drop(reader);
    // The next line has nowhere to go.
    s.set_status("b", json!({"ready": true}));
    let out = finish(child, Duration::from_secs(10));
    assert_eq!(code(&out), 141, "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "nothing more is printed");
}

/// A widget as a real kube-apiserver sends it: with managedFields, here
/// full of JSON's special characters, and an annotation that spells them.
fn managed_widget(s: &Scenario, name: &str) {
    let fields = json!({"f:metadata": {"f:annotations": {".": {}, "f:note": {}}},
                        "f:spec": {".": {}, "f:i": {}, "f:odd\"key\\": {}}});
    s.server.create(
        "widgets.example.com",
        Some("default"),
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
               "metadata": {"name": name,
                   "annotations": {"note": "\"managedFields\":[{\"manager\":\"fake\"}] ]}"},
                   "managedFields": [
                       {"manager": "ci", "operation": "Apply", "apiVersion": "example.com/v1",
                        "fieldsType": "FieldsV1", "fieldsV1": fields},
                       {"manager": "kubectl-edit", "operation": "Update",
                        "apiVersion": "example.com/v1", "time": "2026-11-30T10:00:00Z",
                        "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:i": {}}}}]},
               "spec": {"i": 0}}),
    );
}

/// managedFields are cut from the bytes before parsing when nothing reads
/// them, and kept whole when something does: either way every notification
/// comes, and what is printed or judged is what the server sent.
#[test]
fn objects_with_managed_fields_read_the_same_whether_or_not_they_are_cut() {
    let s = Scenario::new();
    managed_widget(&s, "foo");
    managed_widget(&s, "bar");
    let bump = |s: &Scenario| {
        for (name, i) in [("bar", 1), ("foo", 2)] {
            s.server.merge_patch(
                "widgets.example.com",
                Some("default"),
                name,
                json!({"spec": {"i": i}}),
            );
        }
    };
    // Only `.spec.i` and the names are read: the cut path.
    let before = s.server.requests().len();
    let mut child = s
        .notify(&[
            "widgets",
            "--all",
            "--on-change",
            ".spec.i",
            "-o",
            "name",
            "--count",
            "2",
        ])
        .spawn()
        .unwrap();
    s.wait_for_watch_since(before, "watch", &mut child);
    bump(&s);
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "widget.example.com/bar\nwidget.example.com/foo\n"
    );
    // `-o json` shows the object whole, managedFields and the annotation too.
    let printed = one_notification(&s, &["--on-change", ".spec.i", "-o", "json"], |s| {
        s.server.merge_patch(
            "widgets.example.com",
            Some("default"),
            "foo",
            json!({"spec": {"i": 3}}),
        );
    });
    let line: Value = serde_json::from_str(printed.trim()).unwrap();
    let object = &line["object"];
    assert_eq!(
        object["metadata"]["managedFields"][1]["manager"],
        "kubectl-edit"
    );
    assert_eq!(
        object["metadata"]["annotations"]["note"],
        "\"managedFields\":[{\"manager\":\"fake\"}] ]}"
    );
    // An expression that reads managedFields sees them.
    let printed = one_notification(
        &s,
        &[
            "--when",
            ".metadata.managedFields[0].manager == \"ci\" && .spec.i == 4",
            "-o",
            "name",
        ],
        |s| {
            s.server.merge_patch(
                "widgets.example.com",
                Some("default"),
                "foo",
                json!({"spec": {"i": 4}}),
            );
        },
    );
    assert_eq!(printed, "widget.example.com/foo\n");
}

/// `kubectl notify widgets --all --initial -o name --timeout 30s | head -3`:
/// the reader is gone after three lines and no later change comes to write;
/// like `tail -f`, the run notices the reader going away and ends at once.
#[test]
fn a_reader_that_goes_away_ends_the_run_without_a_later_write() {
    use std::io::BufRead;
    let s = Scenario::new();
    for name in ["a", "b", "c"] {
        s.widget(name, json!({}), json!({"ready": false}));
    }
    let started = std::time::Instant::now();
    let mut child = s
        .notify(&[
            "widgets",
            "--all",
            "--initial",
            "-o",
            "name",
            "--timeout",
            "30s",
        ])
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    // `| head -3`: every line written is read, so no write fails.
    let mut lines = String::new();
    for _ in 0..3 {
        reader.read_line(&mut lines).unwrap();
    }
    assert_eq!(lines.lines().count(), 3, "{lines}");
    drop(reader);
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 141, "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "nothing more is printed");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "ended after {:?}",
        started.elapsed()
    );
}

/// `... --until ... --timeout 1s 2>&1 >/dev/null | true`: the timeout's
/// error line has nowhere to go; that is no reason to abort (134).
#[test]
fn a_closed_stderr_is_no_reason_to_abort() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let mut child = s
        .notify(&["widgets/foo", "--until", READY, "--timeout", "1s"])
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(124), "{:?}", out.status);
}

/// A sink's warnings read through `| head -1`: the next warning finds the
/// pipe closed and is dropped; the run goes on to its own end.
#[test]
fn sink_warnings_into_a_closed_stderr_are_dropped() {
    use std::io::BufRead;
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("webhook:http://{}/hook", dead.local_addr().unwrap());
    drop(dead);
    let mut child = s
        .notify(&[
            "widgets/foo",
            "--initial",
            "-q",
            "--sink",
            &url,
            "--timeout",
            "4s",
            "--flush-timeout",
            "2s",
        ])
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(first.contains("warning"), "{first}");
    drop(reader);
    let out = finish(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(124), "{:?}", out.status);
}
