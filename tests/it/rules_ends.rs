//! `--rules FILE`, how rules end and what the process counts: a rule that
//! reaches its own `--max-failures` ends alone, process-wide counters count
//! a shared watch once, and the small refusals name what to do.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;
use crate::incluster::{free_port, get, wait_ready};
use crate::rules::{rules_file, rules_yaml, told, wait_until, watches};

/// A rule whose command keeps failing ends alone, said in one line naming
/// it; the other rule keeps running, and once it ends too (`--count`) the
/// process exits with the failing command's code.
#[test]
fn a_rule_reaching_its_max_failures_ends_alone_and_the_process_ends_with_its_code() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), Value::Null);
    scenario.widget("bar", json!({}), Value::Null);
    let file = rules_file(
        &scenario,
        &rules_yaml(&[
            (
                "failing",
                "widgets/foo -q --max-failures 2 -- sh -c 'exit 3'",
            ),
            ("other", "widgets/bar -o json --count 1"),
        ]),
    );
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = scenario
        .notify(&[
            "--rules",
            &file,
            "--timeout",
            "20s",
            "--metrics-addr",
            &addr,
        ])
        .spawn()
        .unwrap();
    wait_ready(port, &mut child);
    scenario.set_status("foo", json!({"x": 1}));
    std::thread::sleep(Duration::from_millis(300));
    scenario.set_status("foo", json!({"x": 2}));
    wait_until("the failing rule ended", &mut child, || {
        get(port, "/metrics")
            .is_some_and(|(_, m)| m.contains("kubectl_notify_rule_running{rule=\"failing\"} 0"))
    });
    let metrics = get(port, "/metrics").unwrap().1;
    assert!(
        metrics.contains("kubectl_notify_rule_running{rule=\"other\"} 1"),
        "{metrics}"
    );
    let (status, body) = get(port, "/readyz").unwrap();
    assert_eq!(status, 200, "the others still run: {body}");
    assert!(body.contains("rule failing ended (max-failures)"), "{body}");
    assert!(still_running(&mut child, Duration::from_millis(200)));
    scenario.set_status("bar", json!({"x": 1}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(
        code(&out),
        3,
        "the failing command's code: {}",
        stderr(&out)
    );
    let told = told(&stdout(&out));
    assert_eq!(
        told.get("other"),
        Some(&vec![("bar".to_string(), "modified".to_string())]),
        "{told:?}"
    );
    let err = stderr(&out);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "said once: {err}");
    for word in [
        "rule failing:",
        "--max-failures",
        "exit code 3",
        "the 1 other rule keeps running",
    ] {
        assert!(errors[0].contains(word), "wants {word:?} in {err}");
    }
}

/// What one rule printed (`-o json`): the `.status.n` of each line.
fn numbers(stdout: &str, rule: &str) -> Vec<u64> {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["rule"] == rule)
        .filter_map(|line| line["object"]["status"]["n"].as_u64())
        .collect()
}

/// A rule changed by reloads while it shares its watch with another hands
/// the watch over from its old version to its new one at one event: at a
/// steady pace of changes, it tells each of them once, none lost, none
/// twice, and the watch is still the one watch.
#[test]
fn a_changed_rule_sharing_a_watch_tells_every_change_once_across_reloads() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), json!({"n": 0}));
    let version = |events: &str| {
        rules_yaml(&[
            ("steady", "widgets/foo -o json"),
            (
                "changing",
                &format!("widgets/foo -o json --events {events}"),
            ),
        ])
    };
    let file = rules_file(&scenario, &version("modified"));
    let mut child = scenario
        .notify(&["--rules", &file, "--timeout", "9s"])
        .spawn()
        .unwrap();
    // Read as it comes: the lines are more than a pipe holds.
    let mut pipe = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut pipe, &mut text).unwrap();
        text
    });
    wait_until("the watch", &mut child, || watches(&scenario) >= 1);
    std::thread::sleep(Duration::from_millis(300));
    const CHANGES: u64 = 150;
    std::thread::scope(|s| {
        s.spawn(|| {
            for n in 1..=CHANGES {
                scenario.set_status("foo", json!({"n": n}));
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let versions = [
            "modified,deleted",
            "modified",
            "created,modified",
            "modified",
        ];
        for events in versions {
            std::thread::sleep(Duration::from_millis(450));
            std::fs::write(&file, version(events)).unwrap();
            unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
        }
    });
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let printed = reader.join().unwrap();
    let every: Vec<u64> = (1..=CHANGES).collect();
    assert_eq!(numbers(&printed, "steady"), every, "the unchanged rule");
    assert_eq!(
        numbers(&printed, "changing"),
        every,
        "every change once, in order, across the hand-overs"
    );
    assert_eq!(watches(&scenario), 1, "still the one watch");
    assert!(
        stderr(&out).contains("rules reloaded: 1 unchanged, 1 started, 1 stopped"),
        "{}",
        stderr(&out)
    );
}

/// Three rules on one watch: the process-wide families count each watch
/// event and change once; the notifications, per rule.
#[test]
fn a_watch_read_by_three_rules_is_counted_once_in_the_metrics() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), Value::Null);
    let file = rules_file(
        &scenario,
        &rules_yaml(&[
            ("a", "widgets --all -o json"),
            ("b", "widgets --all -o name"),
            ("c", "widgets --all -q --count 100 -- true"),
        ]),
    );
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = scenario
        .notify(&[
            "--rules",
            &file,
            "--timeout",
            "20s",
            "--metrics-addr",
            &addr,
        ])
        .spawn()
        .unwrap();
    wait_ready(port, &mut child);
    scenario.widget("bar", json!({}), Value::Null);
    for n in 1..=4 {
        scenario.set_status("foo", json!({"n": n}));
    }
    scenario.server.delete(WIDGETS, Some("default"), "bar");
    let wanted = "kubectl_notify_notifications_total{resource=\"widgets.example.com\",change=\"deleted\",rule=\"c\"} 1";
    wait_until("every rule told of the deletion", &mut child, || {
        get(port, "/metrics").is_some_and(|(_, m)| m.contains(wanted))
    });
    let metrics = get(port, "/metrics").unwrap().1;
    child.kill().unwrap();
    child.wait().unwrap();
    let resource = "resource=\"widgets.example.com\"";
    for line in [
        format!("kubectl_notify_watch_events_total{{{resource},event=\"listed\"}} 1"),
        format!("kubectl_notify_watch_events_total{{{resource},event=\"applied\"}} 5"),
        format!("kubectl_notify_watch_events_total{{{resource},event=\"deleted\"}} 1"),
        format!("kubectl_notify_changes_total{{{resource},change=\"initial\"}} 1"),
        format!("kubectl_notify_changes_total{{{resource},change=\"created\"}} 1"),
        format!("kubectl_notify_changes_total{{{resource},change=\"modified\"}} 4"),
        format!("kubectl_notify_changes_total{{{resource},change=\"deleted\"}} 1"),
        format!(
            "kubectl_notify_notifications_total{{{resource},change=\"modified\",rule=\"a\"}} 4"
        ),
        format!(
            "kubectl_notify_notifications_total{{{resource},change=\"modified\",rule=\"b\"}} 4"
        ),
    ] {
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
}
