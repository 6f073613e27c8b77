//! The alert sinks (SPEC §11): `alertmanager:` against a real Prometheus
//! Alertmanager (Debian's `prometheus-alertmanager`, started here on a free
//! port, routing to a local webhook receiver) and against a receiver that
//! checks the request; `pagerduty:` against a receiver that checks Events
//! API v2's schema. With `--resolve` an alert fires, then resolves.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use crate::common::*;
use crate::receiver::{Answer, Received, Receiver};

const LONG: Duration = Duration::from_secs(30);
const FAILED: &str = ".status.phase == \"Failed\"";

/// `kubectl notify widgets --all --when FAILED --resolve ARGS`, with the
/// receiver's URL in $HOOK, watching when this returns.
fn alerting(s: &Scenario, hook: &str, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut all = vec!["widgets", "--all", "--when", FAILED, "--resolve", "-q"];
    all.extend_from_slice(args);
    let before = s.server.requests().len();
    let mut cmd = s.notify(&all);
    cmd.env("HOOK", hook);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let mut child = cmd.spawn().unwrap();
    s.wait_for_watch_since(before, "widgets", &mut child);
    child
}

/// Waits until `wanted` holds of what the receiver got.
fn wait_until(hook: &Receiver, what: &str, wanted: impl Fn(&[Received]) -> bool) -> Vec<Received> {
    let deadline = Instant::now() + LONG;
    loop {
        let got = hook.received();
        if wanted(&got) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: never; got {:#?}",
            got.iter().map(|r| (&r.path, &r.body)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn time(text: &Value) -> SystemTime {
    humantime::parse_rfc3339(text.as_str().expect("a time")).expect("RFC 3339")
}

#[test]
fn alertmanager_alerts_fire_stay_alive_and_resolve_with_their_end_time() {
    let s = Scenario::new();
    let am = Receiver::start();
    s.widget("foo", json!({}), json!({"phase": "Running"}));
    let base = format!("http://{}", am.addr);
    let child = alerting(
        &s,
        &base,
        &[
            "--sink",
            "alertmanager:env:HOOK",
            "--alert-name",
            "WidgetFailed",
            "--label",
            "team=payments",
            "--message",
            "{.metadata.name} failed: {.status.message}",
        ],
        &[("KUBECTL_NOTIFY_ALERTMANAGER_RESEND", "700ms")],
    );
    let fired = s.set_status("foo", json!({"phase": "Failed", "message": "disk full"}));
    // Sent once, then again as the interval passes.
    let got = wait_until(&am, "a firing alert sent three times", |r| r.len() >= 3);
    for request in &got {
        assert_eq!(request.path, "/api/v2/alerts");
        assert_eq!(request.header("content-type"), Some("application/json"));
    }
    let alerts = got[0].json();
    let alert = &alerts.as_array().expect("a list of alerts")[0];
    assert_eq!(
        alert["labels"],
        json!({"alertname": "WidgetFailed", "namespace": "default", "kind": "Widget", "name": "foo", "severity": "error", "team": "payments"}),
        "--severity's default, as --help says and PagerDuty gets"
    );
    assert_eq!(alert["annotations"]["summary"], "foo failed: disk full");
    assert!(alert.get("generatorURL").is_none(), "{alert}");
    let starts = time(&alert["startsAt"]);
    let ends = time(&alert["endsAt"]);
    // Four intervals ahead, as Prometheus does.
    assert!(ends > starts + Duration::from_millis(2000), "{alert}");
    let again = &got[2].json()[0];
    assert_eq!(again["startsAt"], alert["startsAt"], "one alert, one start");
    assert!(time(&again["endsAt"]) > ends, "moved ahead: {again}");
    let _ = fired;

    s.set_status("foo", json!({"phase": "Running"}));
    // A resolution ends when it is sent; a firing alert seconds later.
    let (wall, now) = (SystemTime::now(), Instant::now());
    let sent_at = |r: &Received| match r.at.checked_duration_since(now) {
        Some(after) => wall + after,
        None => wall - now.duration_since(r.at),
    };
    let resolved = |r: &Received| {
        let a = &r.json()[0];
        time(&a["endsAt"]) <= sent_at(r) + Duration::from_millis(200)
    };
    let got = wait_until(&am, "the resolution", |r| r.iter().any(resolved));
    let resolution = got.iter().find(|r| resolved(r)).unwrap().json()[0].clone();
    assert_eq!(resolution["startsAt"], alert["startsAt"]);
    assert_eq!(resolution["labels"], alert["labels"]);
    // Resolved: no more re-sends.
    let count = am.received().len();
    std::thread::sleep(Duration::from_millis(1600));
    assert_eq!(
        am.received().len(),
        count,
        "a resolved alert was sent again"
    );
    let mut child = child;
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn alertmanager_without_resolve_sends_each_alert_once_and_never_again() {
    // Without --resolve nothing says when an alert stops firing: an object
    // back to good (or gone) must not keep its alert alive for ever.
    let s = Scenario::new();
    let am = Receiver::start();
    s.widget("foo", json!({}), json!({"phase": "Running"}));
    let before = s.server.requests().len();
    let mut child = s
        .notify(&[
            "widgets",
            "--all",
            "--when",
            FAILED,
            "-q",
            "--sink",
            "alertmanager:env:HOOK",
        ])
        .env("HOOK", format!("http://{}", am.addr))
        .env("KUBECTL_NOTIFY_ALERTMANAGER_RESEND", "300ms")
        .spawn()
        .unwrap();
    s.wait_for_watch_since(before, "widgets", &mut child);
    s.set_status("foo", json!({"phase": "Failed"}));
    let got = wait_until(&am, "the firing alert", |r| !r.is_empty());
    let alert = &got[0].json()[0];
    // It expires on its own: four intervals ahead.
    let ends = time(&alert["endsAt"]);
    assert!(ends > time(&alert["startsAt"]), "{alert}");
    s.set_status("foo", json!({"phase": "Running"}));
    // Five re-send intervals later: still the one POST.
    std::thread::sleep(Duration::from_millis(1500));
    let got = am.received();
    assert_eq!(
        got.len(),
        1,
        "re-sent without --resolve: {:#?}",
        got.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    child.kill().unwrap();
    let _ = child.wait();
}

/// A real Alertmanager on a free 127.0.0.1 port, routing every alert to
/// `hook` (grouped by alertname and namespace, after a short wait); killed
/// when dropped.
struct Alertmanager {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    fn start(hook: &Receiver) -> Option<Alertmanager> {
        let binary = ["prometheus-alertmanager", "alertmanager"]
            .into_iter()
            .map(PathBuf::from)
            .find(|b| Command::new(b).arg("--version").output().is_ok())?;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            format!(
                "route:\n  receiver: hook\n  group_by: [alertname, namespace]\n  \
                 group_wait: 2s\n  group_interval: 1s\n  repeat_interval: 1h\n\
                 receivers:\n  - name: hook\n    webhook_configs:\n      \
                 - url: http://{}/hook\n        send_resolved: true\n",
                hook.addr
            ),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let am = Alertmanager {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + LONG;
        while !ready(port) {
            assert!(Instant::now() < deadline, "Alertmanager never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(am)
    }
}

/// `GET /-/ready` answers 200.
fn ready(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.write_all(b"GET /-/ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_real_alertmanager_tells_its_receiver_firing_then_resolved_grouped_as_configured() {
    let hook = Receiver::start();
    let Some(am) = Alertmanager::start(&hook) else {
        panic!(
            "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)"
        );
    };
    let s = Scenario::new();
    s.widget("one", json!({}), json!({"phase": "Running"}));
    s.widget("two", json!({}), json!({"phase": "Running"}));
    let mut child = alerting(
        &s,
        &am.url,
        &[
            "--sink",
            "alertmanager:env:HOOK",
            "--alert-name",
            "WidgetFailed",
        ],
        &[],
    );
    s.set_status("one", json!({"phase": "Failed"}));
    s.set_status("two", json!({"phase": "Failed"}));
    let firing = wait_until(&hook, "a firing notification", |r| {
        r.iter().any(|r| r.json()["status"] == "firing")
    });
    let group = firing
        .iter()
        .find(|r| r.json()["status"] == "firing")
        .unwrap()
        .json();
    assert_eq!(
        group["groupLabels"],
        json!({"alertname": "WidgetFailed", "namespace": "default"})
    );
    let names: Vec<&str> = group["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["labels"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "both in one group (group_wait 2s): {group}");
    assert!(
        names.contains(&"one") && names.contains(&"two"),
        "{names:?}"
    );
    assert_eq!(group["alerts"][0]["labels"]["kind"], "Widget");

    s.set_status("one", json!({"phase": "Running"}));
    s.server.delete(WIDGETS, Some("default"), "two");
    let got = wait_until(&hook, "a resolved notification", |r| {
        r.iter().any(|r| r.json()["status"] == "resolved")
    });
    let resolved = got
        .iter()
        .find(|r| r.json()["status"] == "resolved")
        .unwrap()
        .json();
    let statuses: Vec<&str> = resolved["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["resolved", "resolved"], "{resolved}");
    child.kill().unwrap();
    let _ = child.wait();
}

fn pagerduty_url(hook: &Receiver) -> String {
    format!(
        "http://{}/v2/enqueue?routing_key=R0UT1NGs3cr3tKEY",
        hook.addr
    )
}

#[test]
fn pagerduty_events_trigger_then_resolve_under_one_dedup_key() {
    let s = Scenario::new();
    let pd = Receiver::start();
    pd.always(Some(Answer::Status(202)));
    s.widget("foo", json!({}), json!({"phase": "Running"}));
    let mut child = alerting(
        &s,
        &pagerduty_url(&pd),
        &[
            "--sink",
            "pagerduty:env:HOOK",
            "--label",
            "team=payments",
            "-vv",
        ],
        &[],
    );
    let fired = s.set_status("foo", json!({"phase": "Failed"}));
    let got = wait_until(&pd, "a trigger", |r| !r.is_empty());
    let trigger = got[0].json();
    assert_eq!(got[0].path, "/v2/enqueue", "the key leaves the URL");
    let uid = fired["metadata"]["uid"].as_str().unwrap();
    assert_eq!(trigger["routing_key"], "R0UT1NGs3cr3tKEY");
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["dedup_key"], format!("KubectlNotify/{uid}"));
    let payload = &trigger["payload"];
    assert_eq!(
        payload["summary"],
        "widget.example.com/foo in default: .status.phase == \"Failed\""
    );
    assert_eq!(payload["source"], "default/widget.example.com/foo");
    assert_eq!(payload["severity"], "error", "the default");
    assert!(payload["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(payload["custom_details"]["team"], "payments");
    assert_eq!(
        payload["custom_details"]["changes"],
        json!([".status.phase"])
    );
    assert_eq!(payload["custom_details"]["event"], "modified");

    s.set_status("foo", json!({"phase": "Running"}));
    let got = wait_until(&pd, "a resolve", |r| r.len() >= 2);
    let resolve = got[1].json();
    assert_eq!(
        resolve,
        json!({"routing_key": "R0UT1NGs3cr3tKEY", "event_action": "resolve", "dedup_key": format!("KubectlNotify/{uid}")})
    );
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!stderr(&out).contains("R0UT1NG"), "{}", stderr(&out));
}

#[test]
fn pagerduty_retries_429_and_5xx_and_drops_a_400_with_a_warning() {
    let s = Scenario::new();
    let pd = Receiver::start();
    pd.script([
        Answer::Status(429),
        Answer::Status(502),
        Answer::Status(202),
        Answer::Body(
            400,
            r#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' R0UT1NGs3cr3tKEY is incorrect (should be 32 characters)"]}"#.into(),
        ),
    ]);
    pd.always(Some(Answer::Status(202)));
    s.widget("foo", json!({}), json!({"phase": "Running"}));
    s.widget("bar", json!({}), json!({"phase": "Running"}));
    let child = alerting(
        &s,
        &pagerduty_url(&pd),
        &[
            "--sink",
            "pagerduty:env:HOOK",
            "--severity",
            "critical",
            "--count",
            "2",
        ],
        &[],
    );
    s.set_status("foo", json!({"phase": "Failed"}));
    wait_until(&pd, "foo delivered", |r| r.len() >= 3);
    s.set_status("bar", json!({"phase": "Failed"}));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let got = pd.received();
    let statuses: Vec<u16> = got.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 502, 202, 400], "the 400 is not retried");
    assert_eq!(got[2].json()["payload"]["severity"], "critical");
    assert!(
        stderr(&out).contains("pagerduty sink #1: rejected the notification"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(
            "HTTP 400 Bad Request: Event object is invalid; Length of 'routing_key' … is incorrect"
        ),
        "PagerDuty's reason is told: {}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("R0UT1NG"), "{}", stderr(&out));
}

/// The alerts of one request to Alertmanager's API (a list).
fn alerts_in(request: &Received) -> Vec<Value> {
    request.json().as_array().cloned().unwrap_or_default()
}

/// Whether this request sent `name`'s alert firing: its `endsAt` still
/// ahead when it was sent (a resolution ends when it is sent).
fn fires(request: &Received, name: &str) -> bool {
    alerts_in(request)
        .iter()
        .any(|a| a["labels"]["name"] == name && fires_alert(request, a))
}

/// The command line of replicas that alert to `am` with `--resolve`, one
/// Lease and one checkpoint, its URL read from a file.
fn replicas_alerting(s: &Scenario, am: &Receiver) -> Vec<String> {
    let url_file = s.dir.path().join("alertmanager-url");
    std::fs::write(&url_file, format!("http://{}", am.addr)).unwrap();
    let sink = format!("alertmanager:file:{}", url_file.display());
    [
        WIDGETS,
        "--all",
        "-o",
        "json",
        "-v",
        "--leader-elect",
        "--lease",
        "alerts",
        "--checkpoint",
        "alerts",
        "--when",
        FAILED,
        "--resolve",
        "--sink",
        &sink,
    ]
    .map(String::from)
    .to_vec()
}

/// SPEC §12 with Alertmanager: after a failover the new holder keeps alive
/// the alerts the checkpoint has open whose condition still holds on the
/// object as it is now — else Alertmanager would resolve them when their
/// `endsAt` passes, the object still failing — and resolves those whose
/// object recovered while no replica delivered.
#[test]
fn after_a_failover_the_new_holder_keeps_the_open_alerts_alive_and_resolves_the_recovered() {
    use crate::ha::{FAST, Replica, wait_for_checkpoint, wait_for_holder};
    let s = Scenario::new();
    let am = Receiver::start();
    s.widget("stays", json!({}), json!({"phase": "Running"}));
    s.widget("recovers", json!({}), json!({"phase": "Running"}));
    let args = replicas_alerting(&s, &am);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = [("KUBECTL_NOTIFY_ALERTMANAGER_RESEND", "500ms")];
    let a = Replica::with_env(&s, "a", Some(FAST), &args, &env);
    wait_for_holder(&s, "alerts", "a", LONG);
    a.wait_watching(LONG);
    let b = Replica::with_env(&s, "b", Some(FAST), &args, &env);
    s.set_status("stays", json!({"phase": "Failed"}));
    let last = s.set_status("recovers", json!({"phase": "Failed"}));
    a.wait_for(&["modified stays", "modified recovers"], LONG);
    wait_for_checkpoint(&s, "alerts", &last);

    a.signal(libc::SIGKILL);
    let killed = Instant::now();
    // While no replica delivers, one recovers; the other still fails.
    s.set_status("recovers", json!({"phase": "Running"}));
    wait_for_holder(&s, "alerts", "b", LONG);
    b.wait_for(&["resolved recovers"], LONG);
    let after_kill =
        |r: &[Received]| -> Vec<Received> { r.iter().filter(|r| r.at > killed).cloned().collect() };
    // The new holder sends the alert still open again, on its interval.
    let got = wait_until(&am, "the open alert kept alive by the new holder", |r| {
        after_kill(r).iter().filter(|r| fires(r, "stays")).count() >= 2
    });
    let kept = after_kill(&got)
        .into_iter()
        .find(|r| fires(r, "stays"))
        .unwrap();
    let alert = alerts_in(&kept)
        .into_iter()
        .find(|a| a["labels"]["name"] == "stays")
        .unwrap();
    assert_eq!(
        alert["labels"],
        json!({"alertname": "KubectlNotify", "namespace": "default", "kind": "Widget", "name": "stays", "severity": "error"})
    );
    // The recovered one was resolved by the new holder, and is never sent
    // firing again.
    let resolution = after_kill(&got)
        .into_iter()
        .position(|r| {
            alerts_in(&r)
                .iter()
                .any(|a| a["labels"]["name"] == "recovers")
        })
        .expect("the resolution of the recovered alert");
    std::thread::sleep(Duration::from_millis(1500));
    let since = after_kill(&am.received());
    assert!(
        !since[resolution..].iter().any(|r| fires(r, "recovers")),
        "a resolved alert was sent firing again: {:#?}",
        since.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    assert_eq!(b.seen(), ["resolved recovers"], "nothing else was told");
}

/// Two rules (`--rules`) alerting on one object are two alerts: a `rule`
/// label at Alertmanager and the rule in PagerDuty's `dedup_key` tell them
/// apart, so one rule's resolution leaves the other's alert open.
#[test]
fn two_rules_alerting_on_one_object_resolve_apart() {
    let s = Scenario::new();
    let am = Receiver::start();
    let pd = Receiver::start();
    pd.always(Some(Answer::Status(202)));
    s.widget(
        "foo",
        json!({}),
        json!({"phase": "Running", "degraded": false}),
    );
    let rule = |name: &str, when: &str| {
        format!(
            "  - name: {name}\n    args: [widgets/foo, -q, --when, '{when}', --resolve, \
             --sink, 'alertmanager:env:AM', --sink, 'pagerduty:env:PD']\n"
        )
    };
    let yaml = format!(
        "rules:\n{}{}",
        rule("failed", FAILED),
        rule("degraded", ".status.degraded == true")
    );
    let file = s.dir.path().join("rules.yaml");
    std::fs::write(&file, yaml).unwrap();
    let mut child = s
        .notify(&["--rules", file.to_str().unwrap()])
        .env("AM", format!("http://{}", am.addr))
        .env("PD", pagerduty_url(&pd))
        .env("KUBECTL_NOTIFY_ALERTMANAGER_RESEND", "500ms")
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    std::thread::sleep(Duration::from_millis(300));
    let fired = s.set_status("foo", json!({"phase": "Failed", "degraded": true}));
    let uid = fired["metadata"]["uid"].as_str().unwrap();
    wait_until(&pd, "both rules' triggers", |r| r.len() >= 2);
    // The rule "failed" resolves; "degraded" still holds.
    s.set_status("foo", json!({"phase": "Running", "degraded": true}));
    let rule_of = |a: &Value| a["labels"]["rule"].as_str().unwrap_or("").to_string();
    let ended = |r: &Received| {
        alerts_in(r)
            .into_iter()
            .find(|a| rule_of(a) == "failed" && !fires_alert(r, a))
    };
    let got = wait_until(&am, "the rule failed's resolution", |r| {
        r.iter().any(|r| ended(r).is_some())
    });
    let at = got.iter().position(|r| ended(r).is_some()).unwrap();
    let resolution = ended(&got[at]).unwrap();
    assert_eq!(
        resolution["labels"],
        json!({"alertname": "KubectlNotify", "namespace": "default", "kind": "Widget", "name": "foo", "severity": "error", "rule": "failed"})
    );
    // The other rule's alert, under other labels, is still sent firing.
    let got = wait_until(&am, "the rule degraded's alert kept alive", |r| {
        r.len() > at + 2
            && r[at + 1..]
                .iter()
                .filter(|r| {
                    alerts_in(r)
                        .iter()
                        .any(|a| rule_of(a) == "degraded" && fires_alert(r, a))
                })
                .count()
                >= 2
    });
    assert!(
        !got[at + 1..].iter().any(|r| alerts_in(r)
            .iter()
            .any(|a| rule_of(a) == "failed" && fires_alert(r, a))),
        "the resolved rule's alert was sent firing again"
    );
    let keys: Vec<(String, String)> = pd
        .received()
        .iter()
        .map(|r| {
            let event = r.json();
            (
                event["event_action"].as_str().unwrap().to_string(),
                event["dedup_key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let key = |rule: &str| format!("KubectlNotify/{rule}/{uid}");
    let mut triggers: Vec<&String> = keys
        .iter()
        .filter(|(action, _)| action == "trigger")
        .map(|(_, key)| key)
        .collect();
    triggers.sort();
    assert_eq!(triggers, [&key("degraded"), &key("failed")], "{keys:?}");
    let resolves: Vec<&String> = keys
        .iter()
        .filter(|(action, _)| action == "resolve")
        .map(|(_, key)| key)
        .collect();
    assert_eq!(resolves, [&key("failed")], "{keys:?}");
    child.kill().unwrap();
    let _ = child.wait();
}

/// Whether `alert`, sent in `request`, was firing (its `endsAt` ahead).
fn fires_alert(request: &Received, alert: &Value) -> bool {
    time(&alert["endsAt"]) > SystemTime::now() - request.at.elapsed() + Duration::from_secs(1)
}

/// A holder cut off (frozen past its lease) re-sends nothing when it wakes:
/// the new holder may have resolved the alert meanwhile, and a re-send would
/// open it again at Alertmanager.
#[test]
fn a_holder_cut_off_never_reopens_an_alert_the_new_holder_resolved() {
    use crate::ha::{FAST, Replica, wait_for_checkpoint, wait_for_holder};
    let s = Scenario::new();
    let am = Receiver::start();
    s.widget("foo", json!({}), json!({"phase": "Running"}));
    let args = replicas_alerting(&s, &am);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = [("KUBECTL_NOTIFY_ALERTMANAGER_RESEND", "300ms")];
    let a = Replica::with_env(&s, "a", Some(FAST), &args, &env);
    wait_for_holder(&s, "alerts", "a", LONG);
    a.wait_watching(LONG);
    let b = Replica::with_env(&s, "b", Some(FAST), &args, &env);
    let fired = s.set_status("foo", json!({"phase": "Failed"}));
    a.wait_for(&["modified foo"], LONG);
    wait_for_checkpoint(&s, "alerts", &fired);

    a.signal(libc::SIGSTOP);
    wait_for_holder(&s, "alerts", "b", LONG);
    s.set_status("foo", json!({"phase": "Running"}));
    b.wait_for(&["resolved foo"], LONG);
    let got = wait_until(&am, "the resolution", |r| {
        r.iter()
            .any(|r| alerts_in(r).iter().any(|a| !fires_alert(r, a)))
    });
    let resolved = got.len();
    a.signal(libc::SIGCONT);
    std::thread::sleep(Duration::from_secs(2));
    let after = am.received();
    assert!(
        !after[resolved..].iter().any(|r| fires(r, "foo")),
        "the alert was sent firing after its resolution: {:#?}",
        after[resolved..]
            .iter()
            .map(|r| &r.body)
            .collect::<Vec<_>>()
    );
    assert!(
        a.stderr.lock().unwrap().contains("standby"),
        "{}",
        a.stderr.lock().unwrap()
    );
}

/// The same on a plain restart with `--checkpoint`: the alert still open
/// and still firing is kept alive by the process that comes back.
#[test]
fn after_a_restart_with_a_checkpoint_an_open_alert_still_firing_is_kept_alive() {
    use crate::ha::{Replica, wait_for_checkpoint};
    let s = Scenario::new();
    let am = Receiver::start();
    s.widget("foo", json!({}), json!({"phase": "Running"}));
    let url = format!("http://{}", am.addr);
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
    ];
    let env = [
        ("AM", url.as_str()),
        ("KUBECTL_NOTIFY_ALERTMANAGER_RESEND", "300ms"),
    ];
    let first = Replica::with_env(&s, "a", None, &args, &env);
    first.wait_watching(LONG);
    let fired = s.set_status("foo", json!({"phase": "Failed"}));
    first.wait_for(&["modified foo"], LONG);
    wait_for_checkpoint(&s, "alerts", &fired);
    first.stop();
    let stopped = Instant::now();

    let second = Replica::with_env(&s, "a", None, &args, &env);
    wait_until(&am, "the open alert kept alive after the restart", |r| {
        r.iter()
            .filter(|r| r.at > stopped && fires(r, "foo"))
            .count()
            >= 2
    });
    assert!(
        second.seen().is_empty(),
        "nothing told: {:?}",
        second.seen()
    );
}
