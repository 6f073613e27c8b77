//! What a user sees when something is wrong: one line naming the problem and
//! what to do, and the exit code SPEC §7 gives it.

mod common;

use common::*;
use serde_json::json;
use std::io::Write;

const READY: &str = ".status.ready == true";

fn assert_one_line_error(out: &std::process::Output, expected_code: i32, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(code(out), expected_code, "stderr: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    assert_eq!(stdout(out), "");
}

#[test]
fn a_bad_expression_exits_2_with_a_caret_before_any_request() {
    let s = Scenario::new();
    let out = s.run(&["widgets/foo", "--until", ".status.ready = true"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.starts_with("error: --until:"), "{err}");
    assert!(err.contains("column 15"), "{err}");
    assert!(err.contains("==") && err.contains('^'), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    let echo = lines
        .iter()
        .position(|l| l.contains(".status.ready = true"))
        .expect("expression echoed");
    let caret_line = lines[echo + 1];
    let caret = caret_line.find('^').unwrap();
    assert_eq!(
        &lines[echo][caret..caret + 1],
        "=",
        "caret not under the `=`:\n{err}"
    );
    assert!(
        s.server.requests().is_empty(),
        "contacted the server before rejecting the expression"
    );
}

#[test]
fn an_unknown_type_exits_2_with_the_closest_types() {
    let s = Scenario::new();
    let out = s.run(&["widgte/foo", "--until", READY]);
    assert_one_line_error(&out, 2, &["widgte", "widgets.example.com"]);
}

#[test]
fn an_unknown_type_with_nothing_close_says_how_to_list_types() {
    let s = Scenario::new();
    let out = s.run(&["zzzzzzzz/foo", "--until", READY]);
    assert_one_line_error(&out, 2, &["zzzzzzzz", "api-resources"]);
}

#[test]
fn an_ambiguous_short_name_lists_the_candidates() {
    let s = Scenario::new();
    s.server.add_crd(testserver::Crd {
        group: "other.io".into(),
        version: "v1".into(),
        kind: "Wingding".into(),
        plural: "wingdings".into(),
        singular: "wingding".into(),
        short_names: vec!["wg".into()],
        namespaced: true,
    });
    let out = s.run(&["wg/foo", "--until", READY]);
    assert_one_line_error(
        &out,
        2,
        &["ambiguous", "widgets.example.com", "wingdings.other.io"],
    );
}

#[test]
fn forbidden_exits_3_naming_the_verbs_resource_and_namespace() {
    let s = Scenario::new();
    s.server.add_user(
        "limited",
        "limited-token",
        vec![testserver::Rule {
            verbs: vec!["get".into()],
            groups: vec!["".into()],
            resources: vec!["configmaps".into()],
            namespaces: vec![],
        }],
    );
    s.widget_in("team-a", "foo", json!({}), json!({"ready": true}));
    let out = s.run(&[
        "widgets/foo",
        "-n",
        "team-a",
        "--token",
        "limited-token",
        "--until",
        READY,
    ]);
    assert_one_line_error(
        &out,
        3,
        &[
            "forbidden",
            "get, list, watch",
            "widgets.example.com",
            "\"team-a\"",
        ],
    );
}

#[test]
fn a_wrong_token_exits_3_as_unauthorized() {
    let s = Scenario::new();
    let out = s.run(&["widgets/foo", "--token", "not-a-token", "--until", READY]);
    assert_one_line_error(&out, 3, &["unauthorized"]);
    assert!(!stderr(&out).contains("not-a-token"), "printed the token");
}

#[test]
fn an_unreachable_server_exits_3() {
    let s = Scenario::new();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let out = s.run(&[
        "widgets/foo",
        "--server",
        &url,
        "--until",
        READY,
        "--timeout",
        "20s",
    ]);
    assert_one_line_error(&out, 3, &["cannot reach", &url]);
}

#[test]
fn a_missing_kubeconfig_exits_2() {
    let s = Scenario::new();
    let out = s.run(&[
        "widgets/foo",
        "--kubeconfig",
        "/nonexistent/config",
        "--until",
        READY,
    ]);
    assert_one_line_error(&out, 2, &["/nonexistent/config", "does not exist"]);
}

#[test]
fn no_kubeconfig_at_all_exits_2_saying_where_to_put_one() {
    let s = Scenario::new();
    let out = s
        .notify(&["widgets/foo", "--until", READY])
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    assert_one_line_error(&out, 2, &["no kubeconfig", "KUBECONFIG", "--kubeconfig"]);
}

#[test]
fn a_garbled_kubeconfig_exits_2() {
    let s = Scenario::new();
    let path = s.dir.path().join("garbled");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(b"clusters: [ {name: \n  - ]]]\n")
        .unwrap();
    let out = s.run(&[
        "widgets/foo",
        "--kubeconfig",
        path.to_str().unwrap(),
        "--until",
        READY,
    ]);
    assert_one_line_error(&out, 2, &["kubeconfig", "garbled"]);
}

#[test]
fn unknown_context_cluster_or_user_exit_2() {
    let s = Scenario::new();
    for (flag, what) in [
        ("--context", "context"),
        ("--cluster", "cluster"),
        ("--user", "user"),
    ] {
        let out = s.run(&["widgets/foo", flag, "staging", "--until", READY]);
        assert_one_line_error(&out, 2, &[&format!("{what} \"staging\" not found"), "test"]);
    }
}

#[test]
fn bad_flags_durations_and_targets_exit_2_before_any_request() {
    let s = Scenario::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["widgets/foo", "--until", READY, "--timeout", "soon"],
            "--timeout",
        ),
        (&["widgets/foo", "--until", READY, "--timeout", "30"], "30s"),
        (&["widgets/", "--until", READY], "empty name"),
        (&["widgets", "--until", READY], "widgets NAME"),
        (&["widgets/foo", "bar", "--until", READY], "TYPE/NAME"),
        (
            &["widgets/foo", "--fail-if", ".status.failed >= 1"],
            "--until EXPR or --for",
        ),
        (
            &["widgets/foo", "--until", READY, "--when", ".a"],
            "--when is for notify mode",
        ),
        (
            &["widgets/foo", "--events", "bogus"],
            "created, modified, deleted",
        ),
        (&["widgets/foo", "--on-change", ".a == 1"], "give paths"),
        (&["widgets/foo", "--retries", "2"], "-- COMMAND"),
        (
            &["widgets/foo", "--", "/nonexistent/cmd"],
            "/nonexistent/cmd",
        ),
        (&["widgets/foo", "--count", "0"], "--count"),
        (&["widgets/foo", "--until", READY, "--bogus"], "--bogus"),
        (&[], "<TARGET>"),
        (&["widgets/foo", "--until"], "--until"),
    ];
    for (args, needle) in cases {
        let out = s.run(args);
        assert_one_line_error(&out, 2, &[needle]);
    }
    assert!(s.server.requests().is_empty());
}

#[test]
fn no_backtrace_even_when_asked_for() {
    let s = Scenario::new();
    let out = s
        .notify(&["widgte/foo", "--until", READY])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert_one_line_error(&out, 2, &["widgte"]);
}

#[test]
fn without_a_kubeconfig_inside_a_pod_the_service_account_is_tried() {
    let s = Scenario::new();
    // No service-account token is mounted here, so the in-cluster attempt
    // fails, and says so rather than claiming no configuration was looked for.
    let out = s
        .notify(&["widgets/foo", "--until", READY])
        .env_remove("KUBECONFIG")
        .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        .env("KUBERNETES_SERVICE_PORT", "1")
        .output()
        .unwrap();
    assert_one_line_error(&out, 2, &["in-cluster"]);
}
