//! Wait mode as a pipeline uses it: `kubectl notify TYPE/NAME --until EXPR`.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

#[test]
fn an_already_true_condition_exits_at_once() {
    let s = Scenario::new();
    s.widget("foo", json!({"size": 1}), json!({"ready": true}));
    let out = s.run(&["widgets/foo", "--until", READY, "--timeout", "20s"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/foo condition met\n");
    assert_eq!(stderr(&out), "");
}

#[test]
fn a_condition_that_becomes_true_is_noticed() {
    let s = Scenario::new();
    s.widget("foo", json!({"size": 1}), json!({"ready": false}));
    let mut child = s
        .notify(&["widgets/foo", "--until", READY, "--timeout", "30s"])
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    assert!(
        still_running(&mut child, Duration::from_millis(300)),
        "exited while not ready"
    );
    s.set_status("foo", json!({"ready": true}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/foo condition met\n");
}

#[test]
fn a_missing_object_is_waited_for_until_created() {
    let s = Scenario::new();
    let mut child = s.notify(&["wg/late", "--until", READY]).spawn().unwrap();
    s.wait_for_watch("late", &mut child);
    assert!(still_running(&mut child, Duration::from_millis(300)));
    s.widget("late", json!({}), json!({"ready": true}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/late condition met\n");
}

#[test]
fn a_recreated_object_is_judged_on_its_new_version() {
    let s = Scenario::new();
    let old = s.widget("foo", json!({"size": 1}), json!({"ready": true}));
    let mut child = s
        .notify(&["widgets/foo", "--until", ".spec.size == 2"])
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    s.server.delete(WIDGETS, Some("default"), "foo").unwrap();
    assert!(
        still_running(&mut child, Duration::from_millis(300)),
        "a deletion met the condition"
    );
    let new = s.widget("foo", json!({"size": 2}), json!(null));
    assert_ne!(old["metadata"]["uid"], new["metadata"]["uid"]);
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn several_targets_must_all_hold() {
    let s = Scenario::new();
    s.widget("foo", json!({"replicas": 3}), json!({"ready": true}));
    s.widget("bar", json!({"replicas": 3}), json!({"ready": false}));
    let mut child = s
        .notify(&["wg", "foo", "bar", "--until", READY])
        .spawn()
        .unwrap();
    s.wait_for_watch("bar", &mut child);
    assert!(
        still_running(&mut child, Duration::from_millis(400)),
        "exited with bar not ready"
    );
    s.set_status("bar", json!({"ready": true}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "widget.example.com/foo condition met\nwidget.example.com/bar condition met\n"
    );
}

#[test]
fn targets_of_different_types_in_slash_form() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));
    s.server.create(
        "configmaps",
        Some("default"),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"ready": "yes"}}),
    );
    let out = s.run(&[
        "widgets/foo",
        "cm/cfg",
        "--until",
        ".status.ready == true || .data.ready == yes",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "widget.example.com/foo condition met\nconfigmap/cfg condition met\n"
    );
}

#[test]
fn the_issue_examples_work() {
    let s = Scenario::new();
    s.widget("foo", json!({"replicas": 3}), json!({"replicas": 3}));
    s.server.merge_patch(
        WIDGETS,
        Some("default"),
        "foo",
        json!({"metadata": {"labels": {"env": "prod"}}}),
    );
    s.widget("bar", json!({}), json!({"replicas": 4}));
    s.server.merge_patch(
        WIDGETS,
        Some("default"),
        "bar",
        json!({"metadata": {"labels": {"env": "prod"}}}),
    );
    let out = s.run(&[
        "wg",
        "foo",
        "bar",
        "--until",
        ".status.replicas >= 3 && .metadata.labels.env == prod",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    s.widget_in("team-a", "foo", json!({}), json!({"phase": "Running"}));
    let out = s.run(&[
        "widgets.v1.example.com/foo",
        "-n",
        "team-a",
        "--until",
        ".status.phase =~ \"^Run\"",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/foo condition met\n");
}

#[test]
fn every_way_to_name_the_type_resolves() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));
    for form in [
        "widgets",
        "widget",
        "wg",
        "Widget",
        "WIDGETS",
        "widgets.example.com",
        "widget.example.com",
        "Widget.example.com",
        "widgets.v1.example.com",
    ] {
        let out = s.run(&[&format!("{form}/foo"), "--until", READY, "--timeout", "10s"]);
        assert_eq!(code(&out), 0, "{form}: {}", stderr(&out));
        assert_eq!(
            stdout(&out),
            "widget.example.com/foo condition met\n",
            "{form}"
        );
    }
}

#[test]
fn fully_qualified_core_types_resolve_as_in_kubectl() {
    let s = Scenario::new();
    s.server.create(
        "configmaps",
        Some("default"),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"}}),
    );
    for target in ["configmaps.v1./app", "ConfigMap.v1./app", "cm.v1./app"] {
        let out = s.run(&[target, "--for", "create", "--timeout", "0"]);
        assert_eq!(code(&out), 0, "{target}: {}", stderr(&out));
        assert_eq!(stdout(&out), "configmap/app condition met\n", "{target}");
    }
    let out = s.run(&["configmaps.v1.", "app", "--for", "create", "--timeout", "0"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = s.run(&["pods.v1./p1", "--for", "delete", "--timeout", "0"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = s.run(&["deployments.v1./web", "--for", "create", "--timeout", "0"]);
    assert_eq!(code(&out), 2, "not the core group: {}", stderr(&out));
}

#[test]
fn a_named_target_is_watched_through_a_name_field_selector() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));
    s.widget("other", json!({}), json!({"ready": true}));
    let out = s.run(&["widgets/foo", "--until", READY]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lists: Vec<String> = s
        .server
        .requests()
        .into_iter()
        .map(|r| r.path_and_query)
        .filter(|p| p.starts_with("/apis/example.com/v1/namespaces/default/widgets"))
        .collect();
    assert!(!lists.is_empty());
    assert!(
        lists
            .iter()
            .all(|p| p.contains("fieldSelector=metadata.name%3Dfoo")),
        "{lists:?}"
    );
}

#[test]
fn a_name_with_commas_or_equals_signs_is_one_name_never_a_selector() {
    let s = Scenario::new();
    s.widget("app", json!({}), json!({"ready": true}));
    // As `kubectl wait`: no object has these names, so the wait times out,
    // and `app` is never reported in their place.
    for name in ["app,metadata.name!=x", "app,", "a=b", "app\\"] {
        let target = format!("widgets/{name}");
        let out = s.run(&[&target, "--for", "create", "--timeout", "0"]);
        let err = stderr(&out);
        assert_eq!(code(&out), 124, "{target}: {err}");
        assert!(
            err.contains(&format!("widget.example.com/{name} (not found)")),
            "{target}: {err}"
        );
        assert_eq!(stdout(&out), "", "{target}");
    }
    // An object that has such a name is found by it, in both forms.
    s.widget("odd,name=1", json!({}), json!({"ready": true}));
    for args in [&["widgets/odd,name=1"][..], &["widgets", "odd,name=1"]] {
        let mut args = args.to_vec();
        args.extend(["--until", READY, "--timeout", "0"]);
        let out = s.run(&args);
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        assert_eq!(
            stdout(&out),
            "widget.example.com/odd,name=1 condition met\n"
        );
    }
}

#[test]
fn the_namespace_defaults_to_the_contexts_and_n_overrides_it() {
    let s = Scenario::new();
    s.widget_in("team-a", "foo", json!({}), json!({"ready": true}));
    let out = s.run(&["widgets/foo", "--until", READY, "--timeout", "0"]);
    assert_eq!(
        code(&out),
        124,
        "found foo outside the context's namespace: {}",
        stdout(&out)
    );
    let out = s.run(&[
        "widgets/foo",
        "-n",
        "team-a",
        "--until",
        READY,
        "--timeout",
        "0",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let kubeconfig = s.dir.path().join("team-a");
    s.server
        .write_kubeconfig(&kubeconfig, testserver::ADMIN_TOKEN, "team-a");
    let out = s.run(&[
        "widgets/foo",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--until",
        READY,
        "--timeout",
        "0",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn cluster_scoped_types_ignore_the_namespace() {
    let s = Scenario::new();
    let out = s.run(&[
        "ns/default",
        "-n",
        "elsewhere",
        "--until",
        ".metadata.name == default",
        "--timeout",
        "10s",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "namespace/default condition met\n");
}

#[test]
fn timeout_exits_124_naming_what_was_not_met() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let started = Instant::now();
    let out = s.run(&[
        "widgets/foo",
        "wg/ghost",
        "--until",
        READY,
        "--timeout",
        "1s",
    ]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(10));
    let err = stderr(&out);
    assert!(err.contains("timed out after 1s"), "{err}");
    assert!(
        err.contains("widget.example.com/foo")
            && err.contains("widget.example.com/ghost (not found)"),
        "{err}"
    );
    // One line of error, then each target that did not hold (SPEC §10).
    let first = result_lines(&out).lines().next().unwrap().to_string();
    assert!(
        first.contains("widget.example.com/ghost (not found)"),
        "{err}"
    );
    assert!(
        err.contains("\n  widget.example.com/ghost\n    not found"),
        "{err}"
    );
    assert_eq!(stdout(&out), "");
}

#[test]
fn timeout_zero_checks_once() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let out = s.run(&["widgets/foo", "--until", READY, "--timeout", "0"]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    assert!(stderr(&out).contains("checked once"), "{}", stderr(&out));
    s.set_status("foo", json!({"ready": true}));
    let out = s.run(&["widgets/foo", "--until", READY, "--timeout", "0"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn quiet_prints_nothing() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));
    let out = s.run(&["widgets/foo", "--until", READY, "-q"]);
    assert_eq!(code(&out), 0);
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "");
}

#[test]
fn legacy_discovery_is_used_when_the_server_has_no_aggregated_discovery() {
    let s = Scenario::on(testserver::TestServer::start_with(testserver::Options {
        aggregated_discovery: false,
        tls: true,
        ..Default::default()
    }));
    s.widget("foo", json!({}), json!({"ready": true}));
    let out = s.run(&["wg/foo", "--until", READY, "--timeout", "20s"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        s.server
            .requests()
            .iter()
            .any(|r| r.path_and_query.starts_with("/apis/example.com/v1")
                && !r.path_and_query.contains("widgets")),
        "never asked legacy discovery"
    );
}

#[cfg(unix)]
#[test]
fn signals_exit_130_and_143() {
    let s = Scenario::new();
    for (signal, expected) in [("INT", 130), ("TERM", 143)] {
        let name = format!("never-{}", signal.to_lowercase());
        let mut child = s
            .notify(&[&format!("widgets/{name}"), "--until", READY])
            .spawn()
            .unwrap();
        s.wait_for_watch(&name, &mut child);
        let killed = std::process::Command::new("kill")
            .args(["-s", signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = finish(child, Duration::from_secs(10));
        assert_eq!(code(&out), expected, "SIG{signal}: {}", stderr(&out));
    }
}

#[test]
fn a_timeout_too_long_to_reach_is_no_deadline() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));
    let out = s.run(&[
        "widgets/foo",
        "--until",
        ".status.ready == true",
        "--timeout",
        "9300000000000000000s",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/foo condition met\n");
}
