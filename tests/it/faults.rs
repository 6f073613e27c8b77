//! Wait mode when the cluster misbehaves (SPEC §8), and TLS (SPEC §2): a
//! condition met during an outage is noticed after the reconnect, a timeout
//! still fires while the server is down, errors after start are reported and
//! retried, never a silent exit.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

#[test]
fn a_change_made_while_the_server_is_down_is_noticed_after_the_reconnect() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let mut child = s
        .notify(&["widgets/foo", "--until", READY, "--timeout", "60s"])
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    s.server.restart(Duration::from_millis(1500));
    // The server's state moves on while nobody can connect.
    s.set_status("foo", json!({"ready": true}));
    assert!(
        still_running(&mut child, Duration::from_millis(500)),
        "exited while the server was down"
    );
    let out = finish(child, Duration::from_secs(45));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/foo condition met\n");
}

#[test]
fn the_timeout_fires_on_time_while_the_server_is_down() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let mut child = s
        .notify(&["widgets/foo", "--until", READY, "--timeout", "2s"])
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    let started = Instant::now();
    s.server.restart(Duration::from_secs(20));
    let out = finish(child, Duration::from_secs(15));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "timed out after {:?}",
        started.elapsed()
    );
}

#[test]
fn errors_after_start_are_reported_and_retried() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let mut child = s
        .notify(&["widgets/foo", "--until", READY, "--timeout", "60s"])
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    s.server.fail_next_requests(3, 503, Some(1));
    s.server.send_error_event(500, "etcd is having a moment");
    assert!(
        still_running(&mut child, Duration::from_millis(500)),
        "an error ended the wait"
    );
    s.set_status("foo", json!({"ready": true}));
    let out = finish(child, Duration::from_secs(45));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("warning: watching widget.example.com/foo"),
        "errors were not reported: {err}"
    );
}

#[test]
fn an_expired_watch_relists_and_keeps_waiting() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let mut child = s
        .notify(&["widgets/foo", "--until", READY, "--timeout", "60s", "-v"])
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    s.set_status("foo", json!({"ready": false, "step": 1}));
    s.server.compact();
    s.server.expire_next_watches(1);
    s.server.close_watches_after_events(Some(0));
    assert!(
        still_running(&mut child, Duration::from_millis(700)),
        "a 410 ended the wait"
    );
    s.server.clear_faults();
    s.set_status("foo", json!({"ready": true}));
    let out = finish(child, Duration::from_secs(45));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("re-listing"), "{}", stderr(&out));
}

fn tls() -> Scenario {
    let s = Scenario::tls();
    s.widget("foo", json!({}), json!({"ready": true}));
    s
}

#[test]
fn tls_is_verified_against_the_kubeconfigs_ca() {
    let s = tls();
    assert!(s.server.url().starts_with("https://"));
    let out = s.run(&["widgets/foo", "--until", READY]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "no warning when TLS is verified");
}

#[test]
fn a_wrong_ca_fails_with_exit_3_naming_the_certificate() {
    let s = tls();
    let wrong = s.dir.path().join("wrong-ca.pem");
    std::fs::write(&wrong, testserver::unrelated_ca_pem()).unwrap();
    let out = s.run(&[
        "widgets/foo",
        "--until",
        READY,
        "--certificate-authority",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("certificate") && err.contains("--certificate-authority"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let right = s.dir.path().join("ca.pem");
    std::fs::write(&right, s.server.ca_pem().unwrap()).unwrap();
    let out = s.run(&[
        "widgets/foo",
        "--until",
        READY,
        "--certificate-authority",
        right.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn insecure_skip_tls_verify_works_and_warns() {
    let s = tls();
    let wrong = s.dir.path().join("wrong-ca.pem");
    std::fs::write(&wrong, testserver::unrelated_ca_pem()).unwrap();
    let out = s.run(&[
        "widgets/foo",
        "--until",
        READY,
        "--insecure-skip-tls-verify",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: TLS verification is off"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_routine_relist_is_not_a_warning() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let mut child = s
        .notify(&["widgets/foo", "--until", READY, "--timeout", "60s"])
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    s.server.compact();
    s.server.expire_next_watches(1);
    s.server.close_watches_after_events(Some(0));
    assert!(still_running(&mut child, Duration::from_millis(700)));
    s.server.clear_faults();
    s.set_status("foo", json!({"ready": true}));
    let out = finish(child, Duration::from_secs(45));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("warning") && !stderr(&out).contains("410"),
        "a 410 is the protocol working, not a problem: {}",
        stderr(&out)
    );
}

/// A wait through a five-second outage (several retries with the watcher's
/// backoff), met after it.
fn through_an_outage(extra: &[&str]) -> std::process::Output {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let mut args = vec!["widgets/foo", "--until", READY, "--timeout", "60s"];
    args.extend_from_slice(extra);
    let mut child = s.notify(&args).spawn().unwrap();
    s.wait_for_watch("foo", &mut child);
    s.server.restart(Duration::from_secs(5));
    s.set_status("foo", json!({"ready": true}));
    let out = finish(child, Duration::from_secs(45));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    out
}

#[test]
fn an_outage_is_said_once_when_it_starts_and_once_when_it_ends() {
    let err = stderr(&through_an_outage(&[]));
    let warnings = err.lines().filter(|l| l.starts_with("warning:")).count();
    assert_eq!(warnings, 1, "one line when the connection is lost: {err}");
    let back: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("reconnected after"))
        .collect();
    assert_eq!(back.len(), 1, "one line when it is back: {err}");
    assert!(
        back[0].starts_with("widget.example.com/foo: reconnected after"),
        "{err}"
    );
}

#[test]
fn each_attempt_of_an_outage_is_told_under_v() {
    let err = stderr(&through_an_outage(&["-v"]));
    assert!(err.contains("attempt 2 failed"), "{err}");
}

#[test]
fn a_first_list_that_keeps_failing_ends_a_single_check() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));
    s.server.fail_next_requests(1000, 500, None);
    let started = Instant::now();
    let out = finish(
        s.notify(&["widgets/foo", "--until", READY, "--timeout", "0"])
            .spawn()
            .unwrap(),
        Duration::from_secs(20),
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot check widget.example.com/foo once"),
        "{}",
        stderr(&out)
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_timeout_bounds_a_run_whose_first_list_keeps_failing() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));
    s.server.fail_next_requests(1000, 500, None);
    let out = finish(
        s.notify(&["widgets/foo", "--until", READY, "--timeout", "2s"])
            .spawn()
            .unwrap(),
        Duration::from_secs(20),
    );
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(
        err.lines().filter(|l| l.starts_with("warning:")).count(),
        1,
        "the same failure is said once: {err}"
    );
}
