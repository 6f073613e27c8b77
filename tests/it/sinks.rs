//! Sinks (SPEC §11): notifications delivered to a webhook, CloudEvents,
//! Slack and NATS JetStream — in order, retried, folded when the queue is
//! full, flushed on exit — against a real receiver and a real nats-server.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;
use crate::receiver::{Answer, Receiver};

const LONG: Duration = Duration::from_secs(30);

/// `kubectl notify widgets --all ARGS` with the receiver's URL in $HOOK,
/// watching when this returns.
fn notify_with_hook(s: &Scenario, hook: &Receiver, args: &[&str]) -> Child {
    let mut all = vec!["widgets", "--all"];
    all.extend_from_slice(args);
    // Only this run's watch counts: the scenario may have had others.
    let before = s.server.requests().len();
    let mut child = s.notify(&all).env("HOOK", hook.url()).spawn().unwrap();
    s.wait_for_watch_since(before, "widgets", &mut child);
    child
}

#[test]
fn a_webhook_gets_every_change_as_the_json_line_in_order() {
    let s = Scenario::new();
    let hook = Receiver::start();
    let child = notify_with_hook(
        &s,
        &hook,
        &["--sink", "webhook:env:HOOK", "--count", "3", "-o", "name"],
    );
    s.widget("foo", json!({}), json!(null));
    s.set_status("foo", json!({"ready": true}));
    s.server.delete(WIDGETS, Some("default"), "foo");
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 3);
    let bodies: Vec<_> = hook.delivered().iter().map(|r| r.json()).collect();
    let types: Vec<_> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["created", "modified", "deleted"], "{bodies:?}");
    let modified = &bodies[1];
    for field in [
        "time",
        "apiVersion",
        "kind",
        "namespace",
        "name",
        "uid",
        "resourceVersion",
        "object",
    ] {
        assert!(!modified[field].is_null(), "{field} missing: {modified}");
    }
    assert!(
        modified["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["path"] == ".status" && c["new"]["ready"] == true),
        "{modified}"
    );
    assert_eq!(
        hook.delivered()[0].header("content-type"),
        Some("application/json")
    );
}

#[test]
fn cloudevents_arrive_in_binary_mode_with_a_stable_id_per_change() {
    let s = Scenario::new();
    let hook = Receiver::start();
    s.widget("foo", json!({}), json!({"ready": false}));
    let child = notify_with_hook(
        &s,
        &hook,
        &["--sink", "cloudevents:env:HOOK", "--count", "1", "-q"],
    );
    let object = s.set_status("foo", json!({"ready": true}));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let event = &hook.delivered()[0];
    let uid = object["metadata"]["uid"].as_str().unwrap();
    let rv = object["metadata"]["resourceVersion"].as_str().unwrap();
    assert_eq!(event.header("ce-specversion"), Some("1.0"));
    assert_eq!(
        event.header("ce-id"),
        Some(format!("{uid}/{rv}/modified").as_str())
    );
    assert_eq!(event.header("ce-type"), Some("kubectl-notify.modified"));
    assert_eq!(
        event.header("ce-source"),
        Some("/apis/example.com/v1/namespaces/default/widgets")
    );
    assert_eq!(event.header("ce-subject"), Some("foo"));
    assert!(event.header("ce-time").unwrap().ends_with('Z'));
    assert_eq!(event.json()["type"], "modified");
}

/// SPEC §8: an id is unique per object and change. A deletion's id is
/// `<uid>/deleted` (a UID is deleted once: the same whether the deletion was
/// watched or found by a re-list); an object never seen has no UID, so its
/// id names its resource, namespace and name.
#[test]
fn a_deletion_is_delivered_under_its_uid_and_an_object_never_seen_under_its_name() {
    let s = Scenario::new();
    let hook = Receiver::start();
    let out = s
        .notify(&[
            "widgets/missing-one",
            "widgets/missing-two",
            "--for",
            "delete",
            "--sink",
            "cloudevents:env:HOOK",
            "-q",
        ])
        .env("HOOK", hook.url())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut ids: Vec<String> = hook
        .delivered()
        .iter()
        .map(|e| e.header("ce-id").unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "widgets.example.com/default/missing-one/deleted",
            "widgets.example.com/default/missing-two/deleted"
        ]
    );

    let object = s.widget("foo", json!({}), json!(null));
    let child = notify_with_hook(
        &s,
        &hook,
        &["--sink", "cloudevents:env:HOOK", "--count", "1", "-q"],
    );
    s.server.delete(WIDGETS, Some("default"), "foo").unwrap();
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let uid = object["metadata"]["uid"].as_str().unwrap();
    let event = hook.delivered().pop().unwrap();
    assert_eq!(event.header("ce-type"), Some("kubectl-notify.deleted"));
    assert_eq!(
        event.header("ce-id"),
        Some(format!("{uid}/deleted").as_str())
    );
}

#[test]
fn slack_gets_the_message_template_or_the_header_and_changed_paths() {
    let s = Scenario::new();
    let templated = Receiver::start();
    let plain = Receiver::start();
    s.widget(
        "foo",
        json!({}),
        json!({"ready": false, "message": "booting"}),
    );
    let mut child = s
        .notify(&[
            "widgets",
            "--all",
            "--count",
            "1",
            "-q",
            "--sink",
            "slack:env:HOOK",
            "--message",
            "widget {.metadata.namespace}/{.metadata.name} ready: {.status.ready}",
        ])
        .env("HOOK", templated.url())
        .spawn()
        .unwrap();
    s.wait_for_watch_matching("widgets", &mut child);
    s.set_status("foo", json!({"ready": true, "message": "booting"}));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        templated.delivered()[0].json(),
        json!({"text": "widget default/foo ready: true"})
    );
    // Without --message: the header line and the changed paths.
    let before = s.server.requests().len();
    let mut child = s
        .notify(&[
            "widgets",
            "--all",
            "--count",
            "1",
            "-q",
            "--sink",
            "slack:env:PLAIN",
        ])
        .env("PLAIN", plain.url())
        .spawn()
        .unwrap();
    s.wait_for_watch_since(before, "widgets", &mut child);
    s.set_status("foo", json!({"ready": false, "message": "booting"}));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = plain.delivered()[0].json()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains("modified  widget.example.com/foo  (default)"),
        "{text}"
    );
    assert!(text.contains("~ .status.ready"), "{text}");
    assert!(!text.contains('\u{1b}'), "no colour: {text:?}");
}

#[test]
fn failures_are_retried_and_retry_after_is_honoured() {
    let s = Scenario::new();
    let hook = Receiver::start();
    hook.script([
        Answer::Status(503),
        Answer::RetryAfter(429, 2),
        Answer::Status(408),
    ]);
    let child = notify_with_hook(
        &s,
        &hook,
        &["--sink", "webhook:env:HOOK", "--count", "1", "-q"],
    );
    s.widget("foo", json!({}), json!(null));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let got = hook.received();
    let statuses: Vec<_> = got.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 429, 408, 200]);
    assert!(
        got[2].at - got[1].at >= Duration::from_secs(2),
        "Retry-After: 2 ignored"
    );
    assert!(got[1].at - got[0].at >= Duration::from_millis(250));
    assert!(
        got.windows(2).all(|w| w[0].body == w[1].body),
        "the same notification each time"
    );
    let err = stderr(&out);
    assert!(
        err.contains("webhook sink #1: HTTP 503 Service Unavailable; retrying"),
        "{err}"
    );
    assert!(
        err.contains("delivering again after 3 failed attempts"),
        "{err}"
    );
}

#[test]
fn a_4xx_is_reported_and_not_retried() {
    let s = Scenario::new();
    let hook = Receiver::start();
    hook.script([Answer::Status(400)]);
    let child = notify_with_hook(
        &s,
        &hook,
        &["--sink", "webhook:env:HOOK", "--count", "2", "-q"],
    );
    s.widget("foo", json!({}), json!(null));
    s.widget("bar", json!({}), json!(null));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let statuses: Vec<_> = hook.received().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [400, 200]);
    let err = stderr(&out);
    assert!(
        err.contains("rejected the notification")
            && err.contains("HTTP 400 Bad Request; not retried"),
        "{err}"
    );
}

#[test]
fn a_sink_that_goes_down_and_comes_back_gets_every_change_in_order() {
    let s = Scenario::new();
    let hook = Receiver::start();
    s.widget("foo", json!({}), json!({"n": 0}));
    let child = notify_with_hook(
        &s,
        &hook,
        &["--sink", "webhook:env:HOOK", "--count", "4", "-q"],
    );
    hook.down();
    for n in 1..=3 {
        s.set_status("foo", json!({"n": n}));
    }
    std::thread::sleep(Duration::from_millis(700));
    hook.up();
    s.set_status("foo", json!({"n": 4}));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let seen: Vec<_> = hook
        .delivered()
        .iter()
        .map(|r| r.json()["object"]["status"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(seen, [1, 2, 3, 4]);
    assert!(stderr(&out).contains("retrying"), "{}", stderr(&out));
}

#[test]
fn a_slow_sink_never_stalls_the_watch() {
    let s = Scenario::new();
    let hook = Receiver::start();
    hook.always(Some(Answer::Slow(Duration::from_secs(3))));
    let mut child = notify_with_hook(
        &s,
        &hook,
        &["--sink", "webhook:env:HOOK", "-o", "name", "--count", "3"],
    );
    let started = Instant::now();
    for name in ["a", "b", "c"] {
        s.widget(name, json!({}), json!(null));
    }
    // All three printed while the sink still chews on the first.
    while child.try_wait().unwrap().is_none() && started.elapsed() < LONG {
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(stdout(&out).lines().count(), 3);
    // Exit waits for the flush: three slow deliveries (of three objects:
    // in flight at once) answered.
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(hook.delivered().len(), 3, "{}", stderr(&out));
}

/// `WIDGETS_AT_ONCE` widgets created before the run (not notified), then `ROUNDS`
/// status changes to each, round-robin: `.status.n` = 1, 2, ...
const WIDGETS_AT_ONCE: usize = 20;
const ROUNDS: i64 = 10;

fn many_widgets(s: &Scenario) {
    for w in 0..WIDGETS_AT_ONCE {
        s.widget(&format!("w{w}"), json!({}), json!({"n": 0}));
    }
}

/// The changes of [`many_widgets`].
fn change_many_widgets(s: &Scenario) {
    for n in 1..=ROUNDS {
        for w in 0..WIDGETS_AT_ONCE {
            s.set_status(&format!("w{w}"), json!({"n": n}));
        }
    }
}

/// Each widget's `.status.n` in the order the bodies came, a repeat right
/// after itself (a re-send) counted once.
fn per_widget(bodies: &[serde_json::Value]) -> std::collections::BTreeMap<String, Vec<i64>> {
    let mut seen = std::collections::BTreeMap::<String, Vec<i64>>::new();
    for body in bodies {
        let name = body["name"].as_str().unwrap().to_string();
        let n = body["object"]["status"]["n"].as_i64().unwrap();
        let list = seen.entry(name).or_default();
        if list.last() != Some(&n) {
            list.push(n);
        }
    }
    seen
}

fn every_change_in_order(seen: &std::collections::BTreeMap<String, Vec<i64>>) {
    assert_eq!(seen.len(), WIDGETS_AT_ONCE, "{seen:?}");
    for (name, ns) in seen {
        assert_eq!(*ns, (1..=ROUNDS).collect::<Vec<_>>(), "{name}: {seen:?}");
    }
}

#[test]
fn a_slow_webhook_gets_several_requests_at_once_and_each_objects_changes_in_order() {
    let s = Scenario::new();
    let hook = Receiver::start();
    hook.always(Some(Answer::Slow(Duration::from_millis(20))));
    many_widgets(&s);
    let count = (WIDGETS_AT_ONCE * ROUNDS as usize).to_string();
    let child = notify_with_hook(
        &s,
        &hook,
        &["--sink", "webhook:env:HOOK", "--count", &count, "-q"],
    );
    let started = Instant::now();
    change_many_widgets(&s);
    let out = finish(child, LONG);
    let took = started.elapsed();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let bodies: Vec<_> = hook.delivered().iter().map(|r| r.json()).collect();
    // Nothing failed: each exactly once.
    assert_eq!(bodies.len(), 200, "{}", stderr(&out));
    every_change_in_order(&per_widget(&bodies));
    // One request at a time: at least 200 × 20 ms.
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn a_request_failing_mid_stream_is_sent_again_with_what_was_in_flight_behind_it() {
    let s = Scenario::new();
    let hook = Receiver::start();
    let slow = Answer::Slow(Duration::from_millis(20));
    hook.always(Some(slow.clone()));
    hook.script(std::iter::repeat_n(slow, 50).chain([Answer::Status(503)]));
    many_widgets(&s);
    let count = (WIDGETS_AT_ONCE * ROUNDS as usize).to_string();
    let child = notify_with_hook(
        &s,
        &hook,
        &["--sink", "webhook:env:HOOK", "--count", &count, "-q"],
    );
    let started = Instant::now();
    change_many_widgets(&s);
    let out = finish(child, LONG);
    let took = started.elapsed();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let got = hook.received();
    assert_eq!(got.iter().filter(|r| r.status == 503).count(), 1);
    let bodies: Vec<_> = hook.delivered().iter().map(|r| r.json()).collect();
    // At least once; each object's changes in order, a re-send right
    // after the first delivery of the same change.
    every_change_in_order(&per_widget(&bodies));
    let err = stderr(&out);
    assert!(
        err.contains("webhook sink #1: HTTP 503 Service Unavailable; retrying"),
        "{err}"
    );
    assert!(
        err.contains("delivering again after 1 failed attempt"),
        "{err}"
    );
    assert!(!err.contains("not delivered"), "{err}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[test]
fn what_is_not_delivered_by_the_flush_timeout_is_reported() {
    let s = Scenario::new();
    let hook = Receiver::start();
    let child = notify_with_hook(
        &s,
        &hook,
        &[
            "--sink",
            "webhook:env:HOOK",
            "--count",
            "2",
            "--flush-timeout",
            "1s",
            "-q",
        ],
    );
    hook.down();
    s.widget("foo", json!({}), json!(null));
    s.widget("bar", json!({}), json!(null));
    let started = Instant::now();
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(10));
    let err = stderr(&out);
    assert!(
        err.contains("webhook sink #1: 2 notifications not delivered within --flush-timeout 1s"),
        "{err}"
    );
    assert!(
        err.contains("Connection refused") || err.contains("connect"),
        "{err}"
    );
}

/// A run told of one new widget whose webhook is down, with
/// `--flush-timeout flush`; its stdout, which must stay open (a closed
/// stdout ends the run).
fn told_one_to_a_dead_hook(
    s: &Scenario,
    hook: &Receiver,
    flush: &str,
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStdout>,
) {
    use std::io::BufRead;
    hook.down();
    let mut child = notify_with_hook(
        s,
        hook,
        &[
            "--sink",
            "webhook:env:HOOK",
            "--flush-timeout",
            flush,
            "-o",
            "name",
        ],
    );
    s.widget("foo", json!({}), json!(null));
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "widget.example.com/foo\n");
    (child, out)
}

/// SIGINT with a dead webhook: the flush says what it waits for and how to
/// cut it short; a second signal ends the run at once, saying what was not
/// delivered.
#[test]
fn a_second_interrupt_during_the_flush_ends_it_at_once() {
    use std::io::{BufRead, BufReader};
    let s = Scenario::new();
    let hook = Receiver::start();
    let (mut child, _stdout) = told_one_to_a_dead_hook(&s, &hook, "20s");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut said = String::new();
    while !said.contains("interrupt again") {
        let mut line = String::new();
        assert!(err.read_line(&mut line).unwrap() > 0, "{said}");
        said.push_str(&line);
    }
    assert!(
        said.contains("flushing 1 pending notification (up to 20s; interrupt again to stop now)"),
        "{said}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let second = Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(
        second.elapsed() < Duration::from_secs(5),
        "ended {:?} after the second signal",
        second.elapsed()
    );
    assert_eq!(status.code(), Some(130), "the first signal's code");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    assert!(
        rest.contains("webhook sink #1: 1 notification not delivered (the flush was interrupted)"),
        "{said}{rest}"
    );
}

#[test]
fn a_full_queue_folds_into_the_newest_state_of_each_object() {
    let s = Scenario::new();
    let hook = Receiver::start();
    s.widget("a", json!({}), json!({"n": 0}));
    s.widget("b", json!({}), json!({"n": 0}));
    let child = notify_with_hook(
        &s,
        &hook,
        &[
            "--sink",
            "webhook:env:HOOK",
            "--sink-queue",
            "2",
            "--count",
            "7",
            "-q",
        ],
    );
    hook.down();
    for n in 1..=5 {
        s.set_status("a", json!({"n": n}));
    }
    s.set_status("b", json!({"n": 1}));
    std::thread::sleep(Duration::from_millis(500));
    hook.up();
    s.set_status("b", json!({"n": 2}));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let last = |name: &str| {
        hook.delivered()
            .iter()
            .map(|r| r.json())
            .filter(|b| b["name"] == name)
            .map(|b| b["object"]["status"]["n"].as_i64().unwrap())
            .next_back()
    };
    assert_eq!((last("a"), last("b")), (Some(5), Some(2)));
    assert!(hook.delivered().len() < 7);
    assert!(
        stderr(&out).contains("folded into a newer one of the same object"),
        "{}",
        stderr(&out)
    );
}

/// `--sink-queue N` bounds what waits beyond each object's newest state:
/// five different objects waiting behind a dead sink are five newest
/// states, none of which is dropped, so the queue outgrows 3, and says so
/// once.
#[test]
fn a_queue_of_different_objects_newest_states_outgrows_the_bound_and_says_so() {
    let s = Scenario::new();
    let hook = Receiver::start();
    hook.down();
    let child = notify_with_hook(
        &s,
        &hook,
        &[
            "--sink",
            "webhook:env:HOOK",
            "--sink-queue",
            "3",
            "--timeout",
            "3s",
            "--flush-timeout",
            "1s",
            "-q",
        ],
    );
    for name in ["a", "b", "c", "d", "e"] {
        s.widget(name, json!({}), json!(null));
    }
    let out = finish(child, LONG);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let err = stderr(&out);
    let warning = "warning: webhook sink #1: more than --sink-queue 3 notifications wait, \
                   each the newest state of a different object, which is never dropped: \
                   the queue holds one per object";
    assert_eq!(err.matches(warning).count(), 1, "{err}");
    assert!(
        err.contains("webhook sink #1: 5 notifications not delivered"),
        "{err}"
    );
}

#[test]
fn a_folded_notification_carries_every_path_changed_since_the_last_delivered_one() {
    let s = Scenario::new();
    let hook = Receiver::start();
    s.widget("a", json!({}), json!({"x": 0, "y": 0}));
    let child = notify_with_hook(
        &s,
        &hook,
        &[
            "--sink",
            "webhook:env:HOOK",
            "--sink-queue",
            "1",
            "--count",
            "3",
            "-q",
        ],
    );
    hook.down();
    s.set_status("a", json!({"x": 1, "y": 0}));
    // Usually in the worker's hands (retried) before the next two come.
    std::thread::sleep(Duration::from_millis(200));
    s.set_status("a", json!({"x": 1, "y": 1}));
    s.set_status("a", json!({"x": 2, "y": 1}));
    std::thread::sleep(Duration::from_millis(500));
    hook.up();
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("folded into a newer one of the same object"),
        "{}",
        stderr(&out)
    );
    let delivered: Vec<_> = hook.delivered().iter().map(|r| r.json()).collect();
    assert!(delivered.len() < 3, "{delivered:?}");
    let last = delivered.last().unwrap();
    assert_eq!(last["object"]["status"], json!({"x": 2, "y": 1}));
    // Told one after the other, the changes run from the state before the
    // first to the newest, every path included: .status.y only changed in
    // the notification folded away.
    let mut state = json!({"x": 0, "y": 0});
    for body in &delivered {
        for change in body["changes"].as_array().unwrap() {
            let field = change["path"]
                .as_str()
                .unwrap()
                .trim_start_matches(".status.");
            assert_eq!(state[field], change["old"], "{body}");
            state[field] = change["new"].clone();
        }
    }
    assert_eq!(state, json!({"x": 2, "y": 1}), "{delivered:?}");
}

#[test]
fn wait_mode_sends_the_met_notification() {
    let s = Scenario::new();
    let hook = Receiver::start();
    s.widget("foo", json!({}), json!({"ready": true}));
    let out = s
        .notify(&[
            "widgets/foo",
            "--until",
            READY,
            "--sink",
            "webhook:env:HOOK",
            "--sink",
            "cloudevents:env:HOOK",
        ])
        .env("HOOK", hook.url())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/foo condition met\n");
    // Two sinks deliver side by side: either may arrive first.
    let delivered = hook.delivered();
    assert_eq!(delivered.len(), 2);
    let (events, plain): (Vec<_>, Vec<_>) = delivered
        .iter()
        .partition(|request| request.header("ce-type").is_some());
    assert_eq!(plain.len(), 1);
    assert_eq!(plain[0].json()["name"], "foo");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].header("ce-type"), Some("kubectl-notify.modified"));
}

#[test]
fn sink_urls_are_never_printed_even_at_the_highest_verbosity() {
    let s = Scenario::new();
    let hook = Receiver::start();
    hook.script([Answer::Status(503), Answer::Status(401)]);
    let url_file = s.dir.path().join("hook-url");
    std::fs::write(&url_file, hook.url()).unwrap();
    let sink = format!("webhook:file:{}", url_file.display());
    let child = notify_with_hook(&s, &hook, &["--sink", &sink, "--count", "2", "-vv"]);
    s.widget("foo", json!({}), json!(null));
    s.widget("bar", json!({}), json!(null));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains("s3cr3t"), "printed the URL:\n{all}");
    assert!(
        !all.contains(&hook.addr.port().to_string()),
        "printed the port:\n{all}"
    );
    assert!(all.contains("webhook sink #1 (host 127.0.0.1)"), "{all}");
}

/// `kubectl notify widgets --all ARGS` posting to an HTTPS receiver, with
/// the trusted roots exactly what `ca_file` says (none: the system's).
fn notify_over_https(
    s: &Scenario,
    hook: &Receiver,
    ca_file: Option<&Path>,
    args: &[&str],
) -> std::process::Command {
    let mut all = vec!["widgets", "--all", "--sink", "webhook:env:HOOK"];
    all.extend_from_slice(args);
    let mut cmd = s.notify(&all);
    cmd.env("HOOK", hook.url()).env_remove("SSL_CERT_DIR");
    match ca_file {
        Some(file) => cmd.env("SSL_CERT_FILE", file),
        None => cmd.env_remove("SSL_CERT_FILE"),
    };
    cmd
}

#[test]
fn an_https_webhook_signed_by_a_ca_trusted_through_ssl_cert_file_gets_the_notification() {
    let s = Scenario::new();
    let hook = Receiver::start_tls();
    assert!(hook.url().starts_with("https://127.0.0.1:"));
    // The platform verifier reads the system's roots on Linux, and
    // SSL_CERT_FILE (or SSL_CERT_DIR) replaces them, as for OpenSSL.
    let ca = s.dir.path().join("test-ca.pem");
    std::fs::write(&ca, hook.ca_pem()).unwrap();
    let mut child = notify_over_https(&s, &hook, Some(&ca), &["--count", "1", "-q"])
        .spawn()
        .unwrap();
    s.wait_for_watch_matching("widgets", &mut child);
    s.widget("foo", json!({}), json!(null));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let delivered = hook.delivered();
    assert_eq!(delivered.len(), 1, "{}", stderr(&out));
    assert_eq!(delivered[0].json()["name"], "foo");
    assert_eq!(stderr(&out), "");
}

/// `SSL_CERT_FILE` naming a file that is not there would fail every https
/// delivery; the user hears it at start, once, not at the first attempt.
#[test]
fn an_ssl_cert_file_that_does_not_exist_is_warned_about_at_start() {
    let s = Scenario::new();
    let hook = Receiver::start_tls();
    let missing = s.dir.path().join("no-such-ca.pem");
    let out = finish(
        notify_over_https(&s, &hook, Some(&missing), &["--timeout", "1s", "-q"])
            .spawn()
            .unwrap(),
        LONG,
    );
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let warning = format!(
        "warning: SSL_CERT_FILE names {}, which does not exist",
        missing.display()
    );
    assert_eq!(
        stderr(&out)
            .lines()
            .filter(|l| l.starts_with(&warning))
            .count(),
        1,
        "{}",
        stderr(&out)
    );
}

/// `https://user:pass@host/...` authenticates as curl does, with Basic
/// auth (the credentials percent-decoded); they are never printed.
#[test]
fn user_and_password_in_a_webhook_url_are_sent_as_basic_auth() {
    let s = Scenario::new();
    let hook = Receiver::start();
    let url = hook
        .url()
        .replace("http://", "http://al%40ice:s3cr3t%3Apw@");
    let mut child = s
        .notify(&[
            "widgets",
            "--all",
            "--sink",
            "webhook:env:HOOK",
            "--count",
            "1",
            "-q",
            "-vv",
        ])
        .env("HOOK", &url)
        .spawn()
        .unwrap();
    s.wait_for_watch_matching("widgets", &mut child);
    s.widget("foo", json!({}), json!(null));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let delivered = hook.delivered();
    assert_eq!(delivered.len(), 1, "{}", stderr(&out));
    // base64("al@ice:s3cr3t:pw")
    assert_eq!(
        delivered[0].header("authorization"),
        Some("Basic YWxAaWNlOnMzY3IzdDpwdw==")
    );
    assert!(!stderr(&out).contains("s3cr3t"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("al%40ice"), "{}", stderr(&out));
}

#[test]
fn an_https_webhook_whose_certificate_is_not_trusted_gets_nothing_and_the_report_says_why() {
    let s = Scenario::new();
    let hook = Receiver::start_tls();
    let unrelated = s.dir.path().join("unrelated-ca.pem");
    std::fs::write(&unrelated, testserver::unrelated_ca_pem()).unwrap();
    // With the system's roots, and with a CA file that did not sign it.
    let cases = [None, Some(unrelated.as_path())]
        .into_iter()
        .flat_map(|ca_file| ["-q", "-vv"].map(|verbosity| (ca_file, verbosity)));
    s.widget("foo", json!({}), json!(null));
    for (ca_file, verbosity) in cases {
        {
            let out = notify_over_https(
                &s,
                &hook,
                ca_file,
                &[
                    "--initial",
                    "--count",
                    "1",
                    "--flush-timeout",
                    "1s",
                    verbosity,
                ],
            )
            .output()
            .unwrap();
            let err = stderr(&out);
            assert_eq!(code(&out), 0, "{err}");
            assert!(hook.received().is_empty(), "a request got through TLS");
            assert!(
                err.contains("webhook sink #1")
                    && err.contains("invalid peer certificate")
                    && err.contains("SSL_CERT_FILE")
                    && err.contains("1 notification not delivered within --flush-timeout 1s"),
                "{ca_file:?} {verbosity}: {err}"
            );
            assert!(!err.contains("s3cr3t"), "printed the URL:\n{err}");
            assert!(
                !err.contains(&hook.addr.port().to_string()),
                "printed the port:\n{err}"
            );
        }
    }
}

#[test]
fn no_part_of_any_sink_url_but_the_host_is_printed_in_any_failure_at_v_or_vv() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!(null));
    // A webhook that fails then rejects (4xx), one that never answers (a
    // timeout), a Slack hook whose certificate is not trusted, and a NATS
    // server with credentials that is not there (refused): each reported,
    // then left for the flush report.
    let rejecting = Receiver::start();
    let silent = Receiver::start();
    silent.always(Some(Answer::Slow(Duration::from_secs(30))));
    let slack = Receiver::start_tls();
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let secrets = [
        "s3cr3t".to_string(),
        "hook-user".to_string(),
        "hook-pass".to_string(),
        "nats-user".to_string(),
        "nats-pass".to_string(),
        "secret-token".to_string(),
        "k8s.private".to_string(),
        rejecting.addr.port().to_string(),
        silent.addr.port().to_string(),
        slack.addr.port().to_string(),
        dead_port.to_string(),
    ];
    for verbosity in ["-v", "-vv"] {
        rejecting.script([Answer::Status(503), Answer::Status(401)]);
        let out = s
            .notify(&[
                "widgets",
                "--all",
                "--initial",
                "--count",
                "1",
                "--flush-timeout",
                "11s",
                verbosity,
                "--sink",
                "webhook:env:REJECTING",
                "--sink",
                "webhook:env:SILENT",
                "--sink",
                "slack:env:SLACK",
                "--sink",
                "nats:env:NATS",
            ])
            .env(
                "REJECTING",
                format!(
                    "http://hook-user:hook-pass@{}/hook/s3cr3t?token=secret-token",
                    rejecting.addr
                ),
            )
            .env("SILENT", silent.url())
            .env(
                "SLACK",
                slack.url().replace("/hook/", "/services/T0/B0/") + "?token=secret-token",
            )
            .env(
                "NATS",
                format!("nats://nats-user:nats-pass@127.0.0.1:{dead_port}/k8s.private"),
            )
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR")
            .output()
            .unwrap();
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert_eq!(code(&out), 0, "{all}");
        for secret in &secrets {
            assert!(
                !all.contains(secret.as_str()),
                "{verbosity} printed {secret}:\n{all}"
            );
        }
        // Every failure was told, by sink type and number (and host at -vv).
        for words in [
            "webhook sink #1",
            "HTTP 401 Unauthorized; not retried",
            "webhook sink #2",
            "no answer within 10s",
            "slack sink #3",
            "invalid peer certificate",
            "nats sink #4",
            "not delivered within --flush-timeout 11s",
        ] {
            assert!(all.contains(words), "{verbosity}: no {words:?}:\n{all}");
        }
        if verbosity == "-vv" {
            assert!(all.contains("nats sink #4 (host 127.0.0.1)"), "{all}");
        }
    }
}

#[test]
fn bad_sink_input_is_refused_before_any_connection() {
    let s = Scenario::new();
    let missing = s.dir.path().join("missing");
    let missing = format!("webhook:file:{}", missing.display());
    for (args, words) in [
        (
            &["--sink", "msteams:https://x.example/s3cr3t"][..],
            "unknown sink type \"msteams\": use one of webhook, cloudevents, slack, nats, \
             kafka, alertmanager, pagerduty, teams, discord, googlechat, mattermost",
        ),
        (
            &["--sink", "slack:env:KUBECTL_NOTIFY_UNSET"],
            "KUBECTL_NOTIFY_UNSET is not set",
        ),
        (&["--sink", &missing], "cannot read the file"),
        (&["--sink", "webhook:ftp://h/s3cr3t"], "http:// or https://"),
        (
            &["--sink", "nats:nats://127.0.0.1:4222/a..s3cr3t"],
            "empty token",
        ),
        (&["--sink", "nats:nats://127.0.0.1:4222"], "no subject"),
        (
            &["--sink", "webhook:http://h/x", "--flush-timeout", "soon"],
            "--flush-timeout",
        ),
        (
            &["--sink", "webhook:http://h/x", "--sink-queue", "lots"],
            "--sink-queue",
        ),
        (
            &["--sink", "webhook:http://h/x", "--sink-queue", "0"],
            "--sink-queue 0",
        ),
        (
            &["--sink", "webhook:http://h/x", "--message", "{.a}"],
            "--message is the text of chat messages and alert summaries: add a --sink slack:",
        ),
        (&["--message", "{.a}"], "needs a sink"),
        (
            &["--sink", "slack:http://h/x", "--message", "{.a"],
            "--message",
        ),
    ] {
        let mut argv = vec!["widgets/foo"];
        argv.extend_from_slice(args);
        let out = s.run(&argv);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{args:?}: {err}");
        assert!(err.contains(words), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("s3cr3t"), "{args:?}: {err}");
    }
    assert!(s.server.requests().is_empty(), "connected before refusing");
}

mod nats {
    //! A real nats-server with JetStream, on a free 127.0.0.1 port.

    use super::*;
    use futures::StreamExt;

    struct NatsServer {
        child: Child,
        port: u16,
        _store: tempfile::TempDir,
    }

    impl Drop for NatsServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn nats_server() -> NatsServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let store = tempfile::tempdir().unwrap();
        let child = std::process::Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(store.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server on PATH (apt-get install nats-server)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        NatsServer {
            child,
            port,
            _store: store,
        }
    }

    /// A JetStream stream `K8S` taking every `k8s.>` subject, on the server
    /// at `url`.
    fn k8s_stream(
        rt: &tokio::runtime::Runtime,
        url: &str,
    ) -> async_nats::jetstream::stream::Stream {
        rt.block_on(async {
            let client = async_nats::connect(url).await.unwrap();
            let js = async_nats::jetstream::new(client);
            js.create_stream(async_nats::jetstream::stream::Config {
                name: "K8S".into(),
                subjects: vec!["k8s.>".into()],
                ..Default::default()
            })
            .await
            .unwrap()
        })
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn jetstream_acknowledges_every_notification_with_its_stable_id() {
        let nats = nats_server();
        let rt = runtime();
        let url = format!("nats://127.0.0.1:{}", nats.port);
        let stream = k8s_stream(&rt, &url);
        let s = Scenario::new();
        let mut child = s
            .notify(&[
                "widgets",
                "--all",
                "--count",
                "3",
                "-q",
                "--sink",
                "nats:env:NATS_URL",
            ])
            .env("NATS_URL", format!("{url}/k8s.widgets"))
            .spawn()
            .unwrap();
        s.wait_for_watch_matching("widgets", &mut child);
        let created = s.widget("foo", json!({}), json!(null));
        s.set_status("foo", json!({"ready": true}));
        s.server.delete(WIDGETS, Some("default"), "foo");
        let out = finish(child, LONG);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let mut stream = stream;
        let (messages, count) = rt.block_on(async {
            let count = stream.info().await.unwrap().state.messages;
            let mut messages = Vec::new();
            for seq in 1..=count {
                messages.push(stream.get_raw_message(seq).await.unwrap());
            }
            (messages, count)
        });
        assert_eq!(count, 3);
        let uid = created["metadata"]["uid"].as_str().unwrap();
        let types: Vec<String> = messages
            .iter()
            .map(|m| {
                let body: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
                let id = m.headers.get("Nats-Msg-Id").unwrap().as_str().to_string();
                let own = match body["type"].as_str().unwrap() {
                    "deleted" => format!("{uid}/deleted"),
                    kind => format!("{uid}/{}/{kind}", body["resourceVersion"].as_str().unwrap()),
                };
                assert_eq!(id, own);
                body["type"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(types, ["created", "modified", "deleted"]);
        assert_eq!(messages[0].subject.as_str(), "k8s.widgets");
    }

    /// Two rules telling one change to one stream: two messages, each with
    /// its rule's own id (JetStream dropped the second as a duplicate).
    #[test]
    fn two_rules_telling_one_change_to_one_stream_are_two_messages() {
        use crate::rules::{rules_file, rules_yaml};
        let nats = nats_server();
        let rt = runtime();
        let url = format!("nats://127.0.0.1:{}", nats.port);
        let mut stream = k8s_stream(&rt, &url);
        let s = Scenario::new();
        s.widget("foo", json!({}), json!(null));
        let file = rules_file(
            &s,
            &rules_yaml(&[
                ("one", "widgets/foo -q --count 1 --sink nats:env:NATS_URL"),
                ("two", "widgets/foo -q --count 1 --sink nats:env:NATS_URL"),
            ]),
        );
        let before = s.server.requests().len();
        let mut child = s
            .notify(&["--rules", &file, "--timeout", "20s"])
            .env("NATS_URL", format!("{url}/k8s.widgets"))
            .spawn()
            .unwrap();
        s.wait_for_watch_since(before, "widgets", &mut child);
        let changed = s.set_status("foo", json!({"ready": true}));
        let out = finish(child, LONG);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let ids: Vec<String> = rt.block_on(async {
            let count = stream.info().await.unwrap().state.messages;
            let mut ids = Vec::new();
            for seq in 1..=count {
                let m = stream.get_raw_message(seq).await.unwrap();
                ids.push(m.headers.get("Nats-Msg-Id").unwrap().as_str().to_string());
            }
            ids.sort();
            ids
        });
        let id = format!(
            "{}/{}/modified",
            changed["metadata"]["uid"].as_str().unwrap(),
            changed["metadata"]["resourceVersion"].as_str().unwrap()
        );
        assert_eq!(ids, [format!("one/{id}"), format!("two/{id}")]);
    }

    /// A TCP relay to 127.0.0.1:`port` that holds every byte coming back
    /// from the server for `delay` (in order): a link with that latency.
    /// Its port; it lives as long as the test's process.
    fn slow_link(port: u16, delay: Duration) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let relay = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            runtime().block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let (client, _) = listener.accept().await.unwrap();
                    let server = tokio::net::TcpStream::connect(("127.0.0.1", port))
                        .await
                        .unwrap();
                    client.set_nodelay(true).unwrap();
                    server.set_nodelay(true).unwrap();
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                    });
                    let (tx, mut rx) =
                        tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
                    tokio::spawn(async move {
                        let mut buf = vec![0; 64 * 1024];
                        while let Ok(n @ 1..) = server_read.read(&mut buf).await {
                            let due = tokio::time::Instant::now() + delay;
                            if tx.send((due, buf[..n].to_vec())).is_err() {
                                return;
                            }
                        }
                    });
                    tokio::spawn(async move {
                        while let Some((due, bytes)) = rx.recv().await {
                            tokio::time::sleep_until(due).await;
                            if client_write.write_all(&bytes).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            });
        });
        relay
    }

    /// Over a link of 20 ms, publishes are not answered one at a time:
    /// 200 changes are stored in well under 200 × 20 ms, each once, under
    /// its own id, each object's in order.
    #[test]
    fn jetstream_over_a_slow_link_gets_many_publishes_in_flight_and_stores_each_once() {
        let nats = nats_server();
        let rt = runtime();
        let direct = format!("nats://127.0.0.1:{}", nats.port);
        let mut stream = k8s_stream(&rt, &direct);
        let relay = slow_link(nats.port, Duration::from_millis(20));
        let s = Scenario::new();
        many_widgets(&s);
        let count = (WIDGETS_AT_ONCE * ROUNDS as usize).to_string();
        let mut child = s
            .notify(&[
                "widgets",
                "--all",
                "--count",
                &count,
                "-q",
                "--sink",
                "nats:env:NATS_URL",
            ])
            .env("NATS_URL", format!("nats://127.0.0.1:{relay}/k8s.widgets"))
            .spawn()
            .unwrap();
        s.wait_for_watch_matching("widgets", &mut child);
        let started = Instant::now();
        change_many_widgets(&s);
        let out = finish(child, LONG);
        let took = started.elapsed();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let (bodies, ids) = rt.block_on(async {
            let count = stream.info().await.unwrap().state.messages;
            let mut bodies = Vec::new();
            let mut ids = std::collections::HashSet::new();
            for seq in 1..=count {
                let m = stream.get_raw_message(seq).await.unwrap();
                ids.insert(m.headers.get("Nats-Msg-Id").unwrap().as_str().to_string());
                bodies.push(serde_json::from_slice::<serde_json::Value>(&m.payload).unwrap());
            }
            (bodies, ids)
        });
        assert_eq!(bodies.len(), 200, "{}", stderr(&out));
        assert_eq!(ids.len(), 200);
        every_change_in_order(&per_widget(&bodies));
        // One acknowledgement at a time: at least 200 × 20 ms.
        assert!(took < Duration::from_secs(2), "took {took:?}");
    }

    #[test]
    fn without_a_stream_notifications_are_published_on_core_nats() {
        let nats = nats_server();
        let rt = runtime();
        let url = format!("nats://127.0.0.1:{}", nats.port);
        let client = rt.block_on(async_nats::connect(&url)).unwrap();
        let mut subscriber = rt.block_on(client.subscribe("plain.widgets")).unwrap();
        rt.block_on(client.flush()).unwrap();
        let s = Scenario::new();
        let mut child = s
            .notify(&[
                "widgets",
                "--all",
                "--count",
                "1",
                "-q",
                "--sink",
                "nats:env:NATS_URL",
            ])
            .env("NATS_URL", format!("{url}/plain.widgets"))
            .spawn()
            .unwrap();
        s.wait_for_watch_matching("widgets", &mut child);
        s.widget("foo", json!({}), json!(null));
        let out = finish(child, LONG);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let message = rt
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(5), subscriber.next()).await
            })
            .unwrap()
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(body["type"], "created");
    }
}

/// `kubectl notify ... --sink webhook:... | head -3`: stdout's reader goes
/// away with notifications still on their way to the sink; they get their
/// flush (up to --flush-timeout), then the run ends as a closed stdout does.
#[test]
fn a_closed_stdout_still_lets_the_sinks_flush() {
    use std::io::BufRead;
    let s = Scenario::new();
    let hook = Receiver::start();
    hook.always(Some(Answer::Slow(Duration::from_millis(400))));
    for name in ["a", "b", "c"] {
        s.widget(name, json!({}), json!({"ready": false}));
    }
    let mut child = s
        .notify(&[
            "widgets",
            "-A",
            "--initial",
            "-o",
            "name",
            "--sink",
            "webhook:env:HOOK",
        ])
        .env("HOOK", hook.url())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    // Every line is read, so all three were handed to the sink.
    let mut lines = String::new();
    for _ in 0..3 {
        reader.read_line(&mut lines).unwrap();
    }
    assert_eq!(lines.lines().count(), 3, "{lines}");
    drop(reader);
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 141, "{}", stderr(&out));
    assert_eq!(
        hook.delivered().len(),
        3,
        "the sink got {} of 3; stderr: {}",
        hook.delivered().len(),
        stderr(&out)
    );
}

/// The same, with a sink too slow for --flush-timeout: what was not
/// delivered is said on stderr, as at any other end.
#[test]
fn a_closed_stdout_reports_what_the_flush_could_not_deliver() {
    use std::io::BufRead;
    let s = Scenario::new();
    let hook = Receiver::start();
    hook.always(Some(Answer::Slow(Duration::from_secs(5))));
    s.widget("a", json!({}), json!({"ready": false}));
    let mut child = s
        .notify(&[
            "widgets",
            "-A",
            "--initial",
            "-o",
            "name",
            "--sink",
            "webhook:env:HOOK",
            "--flush-timeout",
            "500ms",
        ])
        .env("HOOK", hook.url())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    drop(reader);
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 141, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 notification not delivered within --flush-timeout 500ms"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("s3cr3t"), "{}", stderr(&out));
}

/// A secret sent over plain http:// to another machine travels in clear:
/// every sink that carries one in its URL or request says so, once, at
/// start, naming its type and number only; a loopback host, https, or a
/// webhook with nothing secret in its URL is not warned about.
#[test]
fn a_secret_over_plain_http_to_another_host_is_warned_about_once_at_start() {
    let s = Scenario::new();
    let hook_url = "the hook URL";
    let login = "the login or token in the URL";
    let rows: &[(&str, Option<&str>)] = &[
        ("slack:http://relay.internal/hooks/s3cr3t", Some(hook_url)),
        (
            "teams:http://relay.internal/workflows/s3cr3t",
            Some(hook_url),
        ),
        (
            "discord:http://10.0.0.7:8080/api/webhooks/s3cr3t",
            Some(hook_url),
        ),
        (
            "googlechat:http://relay.internal/v1/spaces/s3cr3t",
            Some(hook_url),
        ),
        (
            "mattermost:http://chat.internal/hooks/s3cr3t",
            Some(hook_url),
        ),
        (
            "pagerduty:http://pd-proxy.internal/v2/enqueue?routing_key=s3cr3t",
            Some("the routing key"),
        ),
        ("webhook:http://bob:s3cr3t@relay.internal/hook", Some(login)),
        (
            "webhook:http://relay.internal/hook?token=s3cr3t",
            Some(login),
        ),
        (
            "cloudevents:http://bob:s3cr3t@events.internal/in",
            Some(login),
        ),
        (
            "alertmanager:http://bob:s3cr3t@am.internal:9093",
            Some(login),
        ),
        ("webhook:http://relay.internal/hook", None),
        ("cloudevents:http://events.internal/in", None),
        ("alertmanager:http://am.internal:9093", None),
        ("teams:https://relay.internal/workflows/s3cr3t", None),
        ("teams:http://127.0.0.1:9/workflows/s3cr3t", None),
        ("teams:http://127.7.7.7:9/workflows/s3cr3t", None),
        ("teams:http://localhost:9/workflows/s3cr3t", None),
        ("teams:http://[::1]:9/workflows/s3cr3t", None),
        // Every way of writing this machine is this machine.
        ("teams:http://127.1:9/workflows/s3cr3t", None),
        ("teams:http://127.0.0.2:9/workflows/s3cr3t", None),
        ("teams:http://localhost.:9/workflows/s3cr3t", None),
        ("teams:http://[::ffff:127.0.0.1]:9/workflows/s3cr3t", None),
        (
            "pagerduty:http://2130706433:9/v2/enqueue?routing_key=s3cr3t",
            None,
        ),
        (
            "slack:http://127.1.relay.internal/hooks/s3cr3t",
            Some(hook_url),
        ),
    ];
    for (sink, secret) in rows {
        let out = s.run(&["widgets/foo", "--timeout", "0", "-q", "--sink", sink]);
        assert_eq!(code(&out), 124, "{sink}: {}", stderr(&out));
        let err = stderr(&out);
        let warnings: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("plain http://"))
            .collect();
        let kind = sink.split(':').next().unwrap();
        match secret {
            Some(secret) => assert_eq!(
                warnings,
                [format!(
                    "warning: {kind} sink #1: plain http:// to another host, so {secret} and \
                     the messages travel unencrypted (use https://)"
                )],
                "{sink}: {err}"
            ),
            None => assert!(warnings.is_empty(), "{sink}: {err}"),
        }
        assert!(
            !err.contains("s3cr3t") && !err.contains("internal"),
            "{sink}: {err}"
        );
    }
}

/// `kubectl notify ... -o json --sink webhook:... | head -c 100`: the reader
/// goes away while a line is being written (a line longer than the pipe
/// holds). Printing stops, but that notification still reaches the sink
/// before the run ends as a closed stdout does (141).
#[test]
fn a_notification_whose_line_met_a_closed_stdout_still_reaches_the_sinks() {
    let s = Scenario::new();
    let hook = Receiver::start();
    s.widget("big", json!({}), json!({"ready": false}));
    let mut child = notify_with_hook(&s, &hook, &["-o", "json", "--sink", "webhook:env:HOOK"]);
    let reader = child.stdout.take().unwrap();
    // 256 KiB: more than a pipe holds, so the write waits for a reader.
    s.set_status(
        "big",
        json!({"ready": true, "note": "x".repeat(256 * 1024)}),
    );
    std::thread::sleep(Duration::from_millis(1500));
    drop(reader);
    let out = finish(child, LONG);
    assert_eq!(code(&out), 141, "{}", stderr(&out));
    let delivered = hook.delivered();
    assert_eq!(delivered.len(), 1, "{}", stderr(&out));
    assert_eq!(delivered[0].json()["name"], "big");
    assert_eq!(delivered[0].json()["type"], "modified");
}

/// `| head -1` under `--throttle`: what waits out the window when stdout's
/// reader goes away still reaches the sinks before the run ends 141.
#[test]
fn what_waits_in_a_window_when_stdout_closes_still_reaches_the_sinks() {
    let s = Scenario::new();
    let hook = Receiver::start();
    s.widget("w", json!({}), json!({"ready": false}));
    let mut child = notify_with_hook(
        &s,
        &hook,
        &[
            "-o",
            "name",
            "--throttle",
            "1h",
            "--sink",
            "webhook:env:HOOK",
        ],
    );
    let reader = child.stdout.take().unwrap();
    s.set_status("w", json!({"ready": true}));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while hook.delivered().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Inside the window: it waits.
    s.set_status("w", json!({"ready": false}));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(hook.delivered().len(), 1);
    drop(reader);
    let out = finish(child, LONG);
    assert_eq!(code(&out), 141, "{}", stderr(&out));
    let delivered: Vec<_> = hook.delivered().iter().map(|r| r.json()).collect();
    assert_eq!(delivered.len(), 2, "{}", stderr(&out));
    assert_eq!(delivered[1]["object"]["status"]["ready"], false);
}

/// A webhook down when the run ends, back during the flush: the circuit
/// that opens while flushing is probed again each second, so the pending
/// notification goes once the receiver is back (it waited a whole 30 s
/// cool-down, past the flush).
#[test]
fn a_circuit_that_opens_during_the_flush_is_probed_again_before_it_ends() {
    let s = Scenario::new();
    let hook = Receiver::start();
    let (child, _stdout) = told_one_to_a_dead_hook(&s, &hook, "15s");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    // Five failures open the circuit (0.25 + 0.5 + 1 + 2 s of backoff).
    std::thread::sleep(Duration::from_secs(6));
    hook.up();
    let out = finish(child, Duration::from_secs(30));
    assert_eq!(code(&out), 143, "{}", stderr(&out));
    assert_eq!(hook.delivered().len(), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("circuit open, probed every 1s while the flush lasts"),
        "{}",
        stderr(&out)
    );
}
