//! `--rules FILE`, how rules end and what the process counts: a rule that
//! reaches its own `--max-failures` ends alone, process-wide counters count
//! a shared watch once, and the small refusals name what to do.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;
use crate::incluster::get;
use crate::rules::{reload, rules_file, rules_yaml, serving, told, wait_until, watches, watching};

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
    let (mut child, port) = serving(&scenario, &file, "20s", &[]);
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
    // Both runs ended failed, the one that reached the limit too.
    assert!(
        metrics.contains(
            "kubectl_notify_deliveries_total{sink=\"command\",outcome=\"failed\",rule=\"failing\"} 2"
        ),
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
            reload(&child, &file, &version(events));
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
        stderr(&out).contains("rules reloaded: 1 unchanged; changed: changing"),
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
    let (mut child, port) = serving(&scenario, &file, "20s", &[]);
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

/// A flag that only names something of another, given without it, says
/// what to add — or, where that cannot be added, what to drop: never a
/// refusal that points back at the first.
#[test]
fn a_flag_without_the_one_it_belongs_to_says_exactly_what_to_do() {
    let scenario = Scenario::new();
    let file = rules_file(&scenario, &rules_yaml(&[("a", "widgets --all")]));
    let cases: &[(&[&str], &[&str], &[&str])] = &[
        (
            &["widgets", "--all", "--lease", "l"],
            &[
                "--lease NAME names the Lease --leader-elect holds",
                "add --leader-elect",
            ],
            &[],
        ),
        (
            &["widgets/foo", "--until", ".x", "--lease", "l"],
            &["--lease", "for notify mode", "drop --lease"],
            &["add --leader-elect"],
        ),
        (
            &["widgets", "--all", "--name", "n"],
            &["--print-manifests", "add --print-manifests"],
            &[],
        ),
        (
            &["--rules", &file, "--lease", "l"],
            &["add --leader-elect"],
            &["rule a"],
        ),
    ];
    for (args, says, never) in cases {
        let before = scenario.server.requests().len();
        let out = scenario.run(args);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        for word in *says {
            assert!(err.contains(word), "{args:?}: wants {word:?} in {err}");
        }
        for word in *never {
            assert!(!err.contains(word), "{args:?}: {word:?} in {err}");
        }
        assert_eq!(
            scenario.server.requests().len(),
            before,
            "{args:?}: offline"
        );
    }
    // Each advice followed is accepted.
    for args in [
        &[
            "widgets",
            "--all",
            "--lease",
            "l",
            "--leader-elect",
            "--print-manifests",
        ][..],
        &[
            "widgets/foo",
            "--until",
            ".x",
            "--name",
            "n",
            "--print-manifests",
        ],
    ] {
        let out = scenario.run(args);
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
    }
}

/// `-v` lines of one rule start with its name, as its human lines do.
#[test]
fn a_rules_verbose_lines_name_the_rule() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), Value::Null);
    let file = rules_file(
        &scenario,
        &rules_yaml(&[
            ("one", "widgets/foo -o json"),
            ("two", "widgets --all -o json"),
        ]),
    );
    let out = scenario.run(&["--rules", &file, "--timeout", "2s", "-v"]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let err = stderr(&out);
    for line in [
        "one  widget.example.com/foo: list complete, watching",
        "two  widgets.example.com --all: list complete, watching",
    ] {
        assert!(err.lines().any(|l| l == line), "{line:?} in {err}");
    }
}

/// Rules reading one shared watch: its list is said once at `-v`, naming
/// the rules that read it (not once per rule); each rule still says when
/// it has read the list.
#[test]
fn a_shared_watch_says_its_list_once_naming_its_rules() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), Value::Null);
    let file = rules_file(
        &scenario,
        &rules_yaml(&[
            ("one", "widgets --all -o json"),
            ("two", "widgets --all -o name"),
            ("three", "widgets/foo -o json"),
        ]),
    );
    let out = scenario.run(&["--rules", &file, "--timeout", "2s", "-v"]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let err = stderr(&out);
    // Two watches, listed in either order.
    let mut listing: Vec<&str> = err.lines().filter(|l| l.contains(": listing")).collect();
    listing.sort_unstable();
    assert_eq!(
        listing,
        [
            "three  widget.example.com/foo: listing",
            "widgets.example.com --all: listing (one watch for rules one, two)",
        ],
        "{err}"
    );
    for line in [
        "one  widgets.example.com --all: list complete, watching",
        "two  widgets.example.com --all: list complete, watching",
        "three  widget.example.com/foo: list complete, watching",
    ] {
        assert!(err.lines().any(|l| l == line), "{line:?} in {err}");
    }
}

/// A number in a list of arguments is its text, as a YAML user writes it;
/// what cannot be an argument is refused naming the rule and the position.
#[test]
fn numbers_in_a_list_of_arguments_are_their_text_and_a_map_is_refused() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), Value::Null);
    let file = rules_file(
        &scenario,
        "rules:\n  - name: counted\n    args: [widgets/foo, -o, json, --count, 1]\n",
    );
    let mut child = scenario
        .notify(&["--rules", &file, "--timeout", "10s"])
        .spawn()
        .unwrap();
    scenario.wait_for_watch("foo", &mut child);
    std::thread::sleep(Duration::from_millis(200));
    scenario.set_status("foo", json!({"x": 1}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "ended by --count 1: {}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 1);

    for (yaml, says) in [
        (
            "rules:\n  - name: a\n    args: [widgets, --all, --count, {n: 1}]\n",
            &["rule a, args[3]", "a map is not an argument"][..],
        ),
        (
            "rules:\n  - name: a\n    args: [widgets, --all, --count, ~]\n",
            &["rule a, args[3]", "null"],
        ),
        (
            "rules:\n  - name: a\n    args: 3\n",
            &["rule a, args", "a number is not a command line"],
        ),
    ] {
        let file = rules_file(&scenario, yaml);
        let out = scenario.run(&["--rules", &file]);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{yaml}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        for word in says {
            assert!(err.contains(word), "{yaml}: wants {word:?} in {err}");
        }
    }
}

/// `--rules -` reads the rules from stdin, as kubectl's `-f -` does; they
/// do not reload, said once at start, and a SIGHUP does not end the run.
#[test]
fn rules_from_stdin_run_and_say_they_do_not_reload() {
    use std::io::Write;
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), Value::Null);
    let mut child = scenario
        .notify(&["--rules", "-", "--timeout", "4s"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(rules_yaml(&[("piped", "widgets/foo -o json")]).as_bytes())
        .unwrap();
    drop(stdin);
    scenario.wait_for_watch("foo", &mut child);
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    std::thread::sleep(Duration::from_millis(300));
    scenario.set_status("foo", json!({"x": 1}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    assert_eq!(
        told(&stdout(&out)).get("piped"),
        Some(&vec![("foo".to_string(), "modified".to_string())])
    );
    let err = stderr(&out);
    let said: Vec<&str> = err.lines().filter(|l| l.contains("stdin")).collect();
    assert_eq!(said.len(), 1, "said once: {err}");
    assert!(said[0].contains("SIGHUP has nothing to re-read"), "{err}");
}

/// Two rules whose selectors are spelled apart but select the same share
/// one watch.
#[test]
fn selectors_spelled_apart_share_one_watch() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), Value::Null);
    let file = rules_file(
        &scenario,
        "rules:\n  - name: one\n    args: [widgets, -l, 'a=1,b=2', -o, json]\n  - name: two\n    args: [widgets, -l, ' b = 2, a==1', -o, json]\n",
    );
    let mut child = scenario
        .notify(&["--rules", &file, "--timeout", "3s"])
        .spawn()
        .unwrap();
    wait_until("watching", &mut child, || watches(&scenario) >= 1);
    std::thread::sleep(Duration::from_millis(500));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    assert_eq!(watches(&scenario), 1, "one watch for both rules");
}

/// What one rule printed: (name, type) per line.
fn lines_of(stdout: &str, rule: &str) -> Vec<(String, String)> {
    told(stdout).remove(rule).unwrap_or_default()
}

/// A changed rule with `--resolve` keeps its open alerts when its new
/// version sends to the same sinks: the new version resolves them when
/// they stop holding, and at once those its new `--when` does not hold for.
#[test]
fn a_changed_rule_keeps_its_open_alerts_and_its_new_version_resolves_them() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), json!({"phase": "Running"}));
    scenario.widget("bar", json!({}), json!({"phase": "Running"}));
    let version = |when: &str| {
        format!(
            "rules:\n  - name: alerts\n    args: [widgets, --all, -o, json, --resolve, --when, '{when}']\n  - name: all\n    args: [widgets, --all, -q, --count, 1000, --, 'true']\n"
        )
    };
    let failed = ".status.phase == \"Failed\"";
    let file = rules_file(&scenario, &version(failed));
    let child = watching(&scenario, &file, "8s", None);
    scenario.set_status("foo", json!({"phase": "Failed"}));
    scenario.set_status("bar", json!({"phase": "Failed"}));
    std::thread::sleep(Duration::from_millis(500));
    // Only foo still meets the new --when: bar's alert is resolved at once.
    std::fs::write(
        &file,
        version(&format!("{failed} && .metadata.name == \"foo\"")),
    )
    .unwrap();
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    std::thread::sleep(Duration::from_millis(800));
    scenario.set_status("foo", json!({"phase": "Running"}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let s = |name: &str, kind: &str| (name.to_string(), kind.to_string());
    assert_eq!(
        lines_of(&stdout(&out), "alerts"),
        [
            s("foo", "modified"),
            s("bar", "modified"),
            s("bar", "resolved"),
            s("foo", "resolved")
        ],
        "{}",
        stderr(&out)
    );
}

/// A watch no rule reads any more (its rule removed by a reload) ends;
/// one another rule still reads goes on.
#[test]
fn a_watch_ends_with_the_last_rule_reading_it() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), Value::Null);
    scenario.widget("bar", json!({}), Value::Null);
    let file = rules_file(
        &scenario,
        &rules_yaml(&[
            ("keep", "widgets/foo -o json"),
            ("gone", "widgets/bar -o json"),
        ]),
    );
    let mut child = scenario
        .notify(&["--rules", &file, "--timeout", "8s"])
        .spawn()
        .unwrap();
    wait_until("two watches open", &mut child, || {
        scenario.server.open_watches() == 2
    });
    reload(
        &child,
        &file,
        &rules_yaml(&[("keep", "widgets/foo -o json")]),
    );
    wait_until("the removed rule's watch closed", &mut child, || {
        scenario.server.open_watches() == 1
    });
    scenario.set_status("foo", json!({"x": 1}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    assert_eq!(
        told(&stdout(&out)).get("keep"),
        Some(&vec![("foo".to_string(), "modified".to_string())])
    );
}

/// Without `--leader-elect` too, a rule that cannot run at start (its type
/// not served) ends alone: one error line names it, the other rule
/// notifies, and once it ends (`--count`) the process exits with the code
/// of the rule that could not run. When no rule can run, the process ends
/// at once with the first one's error, as a command line would.
#[test]
fn a_rule_whose_type_is_not_served_ends_alone_at_start() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), Value::Null);
    let file = rules_file(
        &scenario,
        &rules_yaml(&[
            ("gone", "gadgets --all -o json"),
            ("other", "widgets/foo -o json --count 1"),
        ]),
    );
    let (mut child, port) = serving(&scenario, &file, "20s", &[]);
    let (status, body) = get(port, "/readyz").unwrap();
    assert_eq!(status, 200, "the other rule listed: {body}");
    assert!(body.contains("rule gone ended (error)"), "{body}");
    assert!(still_running(&mut child, Duration::from_millis(200)));
    scenario.set_status("foo", json!({"x": 1}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 2, "the rule gone's code: {}", stderr(&out));
    assert_eq!(
        told(&stdout(&out)).get("other"),
        Some(&vec![("foo".to_string(), "modified".to_string())]),
    );
    let err = stderr(&out);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "said once: {err}");
    for word in ["rule gone:", "gadgets", "the 1 other rule keeps running"] {
        assert!(errors[0].contains(word), "wants {word:?} in {err}");
    }

    let none = rules_file(
        &scenario,
        &rules_yaml(&[("gone", "gadgets --all"), ("also", "sprockets --all")]),
    );
    let out = scenario.run(&["--rules", &none, "--timeout", "20s"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "said once: {err}");
    assert!(errors[0].contains("rule gone:"), "{err}");
}

/// A rule changed by a reload while a change waits out its `--hold` tells
/// that change once, when the hold completes: its new version keeps waiting
/// it out when it holds the same (the same --when, --hold and sinks; here
/// only --message changed, so the new message tells it), else the old
/// version tells it when due, before its sinks flush.
#[test]
fn a_changed_rule_tells_a_change_its_hold_was_waiting_out_once() {
    // A hold handed over is still a hold, for the new version's --hold
    // counted from the change, broken by a change that no longer meets
    // --when before it completes.
    for (what, then, flaps, says, hold) in [
        (
            "a new --message",
            "[--hold, 2s, --message, 'two {.metadata.name}']",
            false,
            &["two foo"][..],
            2,
        ),
        (
            "a longer --hold",
            "[--hold, 4s, --message, 'one {.metadata.name}']",
            false,
            &["one foo"],
            4,
        ),
        (
            "a new --message, then a flap back",
            "[--hold, 2s, --message, 'two {.metadata.name}']",
            true,
            &[],
            2,
        ),
        (
            "a longer --hold, then a flap back",
            "[--hold, 4s, --message, 'one {.metadata.name}']",
            true,
            &[],
            4,
        ),
    ] {
        let scenario = Scenario::new();
        scenario.widget("foo", json!({}), json!({"x": 0}));
        let hook = crate::receiver::Receiver::start();
        let version = |noise: &str| {
            let noise = noise.trim_start_matches('[').trim_end_matches(']');
            format!(
                "rules:\n  - name: held\n    args: [widgets/foo, -q, --when, '.status.x == 1', \
                 --sink, 'slack:env:HOOK', {noise}]\n"
            )
        };
        let file = rules_file(
            &scenario,
            &version("[--hold, 2s, --message, 'one {.metadata.name}']"),
        );
        let child = watching(&scenario, &file, "7s", Some(&hook));
        let changed = std::time::Instant::now();
        scenario.set_status("foo", json!({"x": 1}));
        std::thread::sleep(Duration::from_millis(700));
        reload(&child, &file, &version(then));
        if flaps {
            std::thread::sleep(Duration::from_millis(600));
            scenario.set_status("foo", json!({"x": 0}));
        }
        let out = finish(child, Duration::from_secs(20));
        assert_eq!(code(&out), 124, "{what}: {}", stderr(&out));
        let told: Vec<(String, std::time::Instant)> = hook
            .delivered()
            .iter()
            .map(|r| (r.json()["text"].as_str().unwrap_or("").to_string(), r.at))
            .collect();
        assert_eq!(
            told.iter()
                .map(|(text, _)| text.as_str())
                .collect::<Vec<_>>(),
            says,
            "{what}: {}",
            stderr(&out)
        );
        if flaps {
            continue;
        }
        let after = told[0].1.duration_since(changed);
        let hold = Duration::from_secs(hold);
        assert!(
            after >= hold - Duration::from_millis(100) && after < hold + Duration::from_secs(2),
            "{what}: told {after:?} after the change, not when its {hold:?} hold completed"
        );
    }
}

/// A user who may watch widgets, and leases (for `--leader-elect`), but not
/// configmaps: the kubeconfig to run as them.
pub(crate) fn widgets_only(scenario: &Scenario) -> String {
    let rule = |verbs: &[&str], group: &str, resource: &str| testserver::Rule {
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        groups: vec![group.into()],
        resources: vec![resource.into()],
        ..testserver::Rule::default()
    };
    scenario.server.add_user(
        "carol",
        "carol-token",
        vec![
            rule(&["get", "list", "watch"], "example.com", "widgets"),
            rule(
                &["get", "create", "update"],
                "coordination.k8s.io",
                "leases",
            ),
        ],
    );
    let carol = scenario.dir.path().join("carol");
    scenario
        .server
        .write_kubeconfig(&carol, "carol-token", "default");
    carol.to_string_lossy().into_owned()
}

/// Waits until `replica` printed `count` lines.
fn wait_lines(replica: &crate::ha::Replica, count: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while replica.lines().len() < count {
        assert!(
            std::time::Instant::now() < deadline,
            "never printed {count} lines: {}",
            replica.stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The process's `kubectl_notify_rules_reload_failures_total`.
fn reload_failures(port: u16) -> String {
    let metrics = get(port, "/metrics").unwrap().1;
    metrics
        .lines()
        .find(|l| l.starts_with("kubectl_notify_rules_reload_failures_total "))
        .unwrap_or("")
        .to_string()
}

/// Waits until `replica` said `words` on stderr.
fn wait_said(replica: &mut crate::ha::Replica, words: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !replica.stderr.lock().unwrap().contains(words) {
        assert!(
            std::time::Instant::now() < deadline,
            "never said {words:?}: {}",
            replica.stderr.lock().unwrap()
        );
        assert!(
            still_running(&mut replica.child, Duration::from_millis(20)),
            "ended before saying {words:?}: {}",
            replica.stderr.lock().unwrap()
        );
    }
}

/// A rule a reload added that cannot run (forbidden) is one failed reload:
/// later reloads of the same file (SIGHUPs) leave it ended, asking the
/// server nothing more of it and saying nothing more.
#[test]
fn a_forbidden_rule_a_reload_added_stays_ended_across_later_reloads() {
    use crate::incluster::free_port;
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), Value::Null);
    let carol = widgets_only(&scenario);
    let file = rules_file(&scenario, &rules_yaml(&[("one", "widgets/foo -o json")]));
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut a = crate::ha::Replica::with_args(
        &scenario,
        "a",
        None,
        &[
            "--rules",
            &file,
            "--kubeconfig",
            &carol,
            "--metrics-addr",
            &addr,
            "--timeout",
            "30s",
        ],
    );
    crate::incluster::wait_ready(port, &mut a.child);
    std::fs::write(
        &file,
        rules_yaml(&[
            ("one", "widgets/foo -o json"),
            ("sec", "configmaps --all -o json"),
        ]),
    )
    .unwrap();
    wait_said(&mut a, "rule sec");
    let configmaps = || {
        scenario
            .server
            .requests()
            .iter()
            .filter(|r| r.path_and_query.contains("/configmaps"))
            .count()
    };
    let asked = configmaps();
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(200));
        a.signal(libc::SIGHUP);
    }
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(configmaps(), asked, "configmaps asked for again");
    assert_eq!(
        reload_failures(port),
        "kubectl_notify_rules_reload_failures_total 1"
    );
    scenario.set_status("foo", json!({"x": 1}));
    wait_lines(&a, 1);
    let err = a.stderr.lock().unwrap().clone();
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "said once: {err}");
    assert!(errors[0].contains("rule sec:"), "{err}");
    assert!(
        still_running(&mut a.child, Duration::from_millis(100)),
        "{err}"
    );
}

/// A rule a reload started on a standby that may not watch ends alone at
/// the takeover: a takeover is not a reload, so no failed reload is
/// counted, and the other rule notifies.
#[test]
fn a_forbidden_rule_a_reload_started_on_a_standby_is_no_failed_reload_at_the_takeover() {
    use crate::ha::{FAST, Replica, wait_for_holder, widget};
    use crate::incluster::free_port;
    let s = Scenario::new();
    let carol = widgets_only(&s);
    let file = rules_file(&s, &rules_yaml(&[("one", "widgets --all -o json")]));
    let args = |addr: &str| -> Vec<String> {
        [
            "--rules",
            &file,
            "--leader-elect",
            "--lease",
            "alerts",
            "--kubeconfig",
            &carol,
            "--metrics-addr",
            addr,
        ]
        .map(String::from)
        .to_vec()
    };
    let (port_a, port_b) = (free_port(), free_port());
    let (addr_a, addr_b) = (format!("127.0.0.1:{port_a}"), format!("127.0.0.1:{port_b}"));
    let args_a = args(&addr_a);
    let args_b = args(&addr_b);
    fn strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let mut a = Replica::with_args(&s, "a", Some(FAST), &strs(&args_a));
    wait_for_holder(&s, "alerts", "a", Duration::from_secs(20));
    let mut b = Replica::with_args(&s, "b", Some(FAST), &strs(&args_b));
    crate::incluster::wait_ready(port_b, &mut b.child);
    std::fs::write(
        &file,
        rules_yaml(&[
            ("one", "widgets --all -o json"),
            ("sec", "configmaps --all -o json"),
        ]),
    )
    .unwrap();
    // The leader starts it at the reload: its failed reload.
    wait_said(&mut a, "rule sec");
    wait_said(&mut b, "rules reloaded");
    assert_eq!(
        reload_failures(port_a),
        "kubectl_notify_rules_reload_failures_total 1"
    );
    a.signal(libc::SIGTERM);
    wait_for_holder(&s, "alerts", "b", Duration::from_secs(20));
    wait_said(&mut b, "rule sec");
    widget(&s, "w1");
    wait_lines(&b, 1);
    assert_eq!(
        reload_failures(port_b),
        "kubectl_notify_rules_reload_failures_total 0",
        "{}",
        b.stderr.lock().unwrap()
    );
    let err = b.stderr.lock().unwrap().clone();
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "said once: {err}");
    for word in ["rule sec:", "forbidden", "the 1 other rule keeps running"] {
        assert!(errors[0].contains(word), "wants {word:?} in {err}");
    }
    assert!(
        still_running(&mut b.child, Duration::from_millis(100)),
        "{err}"
    );
}

/// A process-wide flag given a bad value on the command line is the
/// command line's mistake: said as such, not blamed on a rule.
#[test]
fn a_bad_process_wide_flag_is_the_command_lines_not_a_rules() {
    let scenario = Scenario::new();
    let file = rules_file(
        &scenario,
        &rules_yaml(&[("cnt", "widgets --all"), ("wid", "widgets/foo")]),
    );
    for (args, says) in [
        (
            &["--leader-elect", "--lease", "Lr3", "--checkpoint", "Cr3"][..],
            "error: --lease \"Lr3\": not a valid object name",
        ),
        (
            &["--print-manifests", "--name", "Bad"][..],
            "error: --name \"Bad\": ",
        ),
    ] {
        let mut all = vec!["--rules", file.as_str()];
        all.extend(args);
        let out = scenario.run(&all);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.starts_with(says), "{args:?}: {err}");
        assert!(!err.contains("rule "), "{args:?}: {err}");
    }
}

/// Two rules that both cannot run at start (one forbidden, one of a type
/// not served): neither line claims another rule keeps running, and the
/// process ends with the first one's code.
#[test]
fn when_no_rule_is_left_running_no_line_says_one_keeps_running() {
    let scenario = Scenario::new();
    let carol = widgets_only(&scenario);
    let file = rules_file(
        &scenario,
        &rules_yaml(&[
            ("gone", "gadgets --all -o json"),
            ("sec", "configmaps --all -o json"),
        ]),
    );
    let out = scenario.run(&["--rules", &file, "--kubeconfig", &carol, "--timeout", "20s"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "the rule gone's code: {err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 2, "{err}");
    assert!(errors.iter().any(|l| l.contains("rule gone:")), "{err}");
    assert!(errors.iter().any(|l| l.contains("rule sec:")), "{err}");
    assert!(!err.contains("keeps running"), "{err}");
}

#[test]
fn open_alerts_survive_many_reloads_in_a_row() {
    crate::stories::open_alerts_survive_many_reloads_in_a_row(&Scenario::new());
}

/// A changed rule goes on from where its old version stops: the state at
/// start that version told (`--initial`) is not told again, an alert it
/// opened that way included. A rule that gains `--initial` tells the
/// state as it stands at the reload, as a rule added then would.
#[test]
fn a_changed_rule_does_not_tell_its_initial_state_again() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), json!({"phase": "Failed"}));
    let version = |extra: &str, gains: &str| {
        format!(
            "rules:\n  - name: alerts\n    args: [widgets, --all, -o, json, --initial, --resolve, --when, '.status.phase == \"Failed\"'{extra}]\n  - name: later\n    args: [widgets, --all, -o, json{gains}]\n"
        )
    };
    let file = rules_file(&scenario, &version("", ""));
    let mut child = scenario
        .notify(&["--rules", &file, "-v", "--timeout", "6s"])
        .spawn()
        .unwrap();
    wait_until("the watch", &mut child, || watches(&scenario) >= 1);
    std::thread::sleep(Duration::from_millis(500));
    reload(&child, &file, &version(", --diff, paths", ", --initial"));
    std::thread::sleep(Duration::from_millis(800));
    scenario.set_status("foo", json!({"phase": "Running"}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("rules reloaded: 0 unchanged; changed: alerts, later"),
        "{}",
        stderr(&out)
    );
    let s = |name: &str, kind: &str| (name.to_string(), kind.to_string());
    assert_eq!(
        lines_of(&stdout(&out), "alerts"),
        [s("foo", "initial"), s("foo", "resolved")],
        "{}",
        stderr(&out)
    );
    assert_eq!(
        lines_of(&stdout(&out), "later"),
        [s("foo", "initial"), s("foo", "modified")],
        "{}",
        stderr(&out)
    );
}

/// A watch three rules share says once that it fails, each attempt (at
/// `-v`) and that it is back, naming its rules, not once per rule.
#[test]
fn a_shared_watch_says_its_outage_once_naming_its_rules() {
    let scenario = Scenario::new();
    scenario.widget("w", json!({}), Value::Null);
    let file = rules_file(
        &scenario,
        &rules_yaml(&[
            ("one", "widgets --all -o json --count 1"),
            ("two", "widgets --all -o json --count 1 --events modified"),
            ("three", "widgets --all -o json --count 1 --events deleted"),
        ]),
    );
    let mut child = scenario
        .notify(&["--rules", &file, "-v", "--timeout", "60s"])
        .spawn()
        .unwrap();
    wait_until("the watch", &mut child, || watches(&scenario) >= 1);
    std::thread::sleep(Duration::from_millis(300));
    scenario.server.restart(Duration::from_secs(4));
    scenario.set_status("w", json!({"x": 1}));
    scenario.server.delete(WIDGETS, Some("default"), "w");
    // Each rule ends at its first notification, once the watch is back.
    let out = finish(child, Duration::from_secs(60));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    let lines = |words: &str| err.lines().filter(|line| line.contains(words)).count();
    let rules = "(one watch for rules one, three, two)";
    let said = |words: &str| {
        err.lines()
            .filter(|line| line.contains(words))
            .all(|line| line.ends_with(rules))
    };
    assert_eq!(lines("watching widgets.example.com --all: "), 1, "{err}");
    assert_eq!(lines("reconnected after"), 1, "{err}");
    // At -v, each attempt once too.
    assert_eq!(lines("attempt 2 failed"), 1, "{err}");
    for words in ["; retrying", "reconnected after", "re-listing"] {
        assert!(said(words), "{words}: {err}");
    }
    assert_eq!(
        told(&stdout(&out)).get("one").map(Vec::len),
        Some(1),
        "{}",
        stdout(&out)
    );
}

/// An object deleted and created again under its name while the watch was
/// down is found by the re-list as its old self deleted and a new object:
/// the open alert of the old one is resolved, though the new one does not
/// meet `--when` (its changes came with an event of the new object).
#[test]
fn an_alerts_object_recreated_during_an_outage_is_resolved_after_the_relist() {
    let scenario = Scenario::new();
    scenario.widget("g", json!({}), json!({"phase": "Failed"}));
    let file = rules_file(
        &scenario,
        "rules:\n  - name: alerts\n    args: [widgets, --all, -o, json, --count, 2, --initial, --resolve, --when, '.status.phase == \"Failed\"']\n",
    );
    let child = watching(&scenario, &file, "30s", None);
    scenario.server.restart(Duration::from_secs(2));
    scenario.server.delete(WIDGETS, Some("default"), "g");
    scenario.widget("g", json!({}), json!({"phase": "Running"}));
    scenario.server.compact();
    // Its second notification ends it (`--count 2`).
    let out = finish(child, Duration::from_secs(40));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let s = |name: &str, kind: &str| (name.to_string(), kind.to_string());
    assert_eq!(
        lines_of(&stdout(&out), "alerts"),
        [s("g", "initial"), s("g", "resolved")],
        "{}",
        stderr(&out)
    );
}

/// A reload changes a rule while its old version still has commands queued
/// and webhook answers in flight: the new version tells the changes after
/// the reload only once the old one delivered all it had, so the command
/// runs one at a time and the receiver hears of the object in order.
#[test]
fn a_changed_rules_new_version_tells_nothing_before_its_old_version_delivered_all() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), json!({"n": 0}));
    let hook = crate::receiver::Receiver::start();
    hook.always(Some(crate::receiver::Answer::Slow(Duration::from_millis(
        400,
    ))));
    let log = scenario.dir.path().join("runs.log");
    let version = |v: &str| {
        format!(
            "rules:\n  - name: slow\n    args: [widgets/foo, -q, --on-change, .status.n, \
             --sink, 'webhook:env:HOOK', --, sh, -c, \
             'echo \"start $1 $KUBECTL_NOTIFY_RESOURCE_VERSION\" >> {log}; sleep 0.4; \
             echo \"end $1 $KUBECTL_NOTIFY_RESOURCE_VERSION\" >> {log}', sh, {v}]\n",
            log = log.display()
        )
    };
    let file = rules_file(&scenario, &version("v1"));
    let child = watching(&scenario, &file, "8s", Some(&hook));
    for n in 1..=3 {
        scenario.set_status("foo", json!({"n": n}));
        std::thread::sleep(Duration::from_millis(50));
    }
    // Three runs of 0.4 s queued, three answers of 0.4 s in flight.
    std::thread::sleep(Duration::from_millis(200));
    reload(&child, &file, &version("v2"));
    std::thread::sleep(Duration::from_millis(250));
    for n in 4..=5 {
        scenario.set_status("foo", json!({"n": n}));
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    // The runs, one at a time: each ends before the next starts, the old
    // version's first, each object's versions in order.
    let runs = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Vec<&str>> = runs.lines().map(|l| l.split(' ').collect()).collect();
    assert!(lines.len().is_multiple_of(2), "every run ended: {runs}");
    let mut seen = Vec::new();
    for pair in lines.chunks(2) {
        assert_eq!(
            (pair[0][0], pair[1][0], pair[0][1..].to_vec()),
            ("start", "end", pair[1][1..].to_vec()),
            "runs overlap: {runs}"
        );
        seen.push((pair[0][1], pair[0][2].parse::<u64>().unwrap()));
    }
    // A run waiting for the command folds into the newest change of its
    // object: the first change and the last of each version run at least.
    let versions: Vec<&str> = seen.iter().map(|(v, _)| *v).collect();
    let old = versions.iter().filter(|v| **v == "v1").count();
    assert!(old >= 2 && versions.len() > old, "{runs}");
    assert!(versions[old..].iter().all(|v| *v == "v2"), "{runs}");
    assert!(
        seen.windows(2).all(|w| w[0].1 < w[1].1),
        "each change after the one before: {runs}"
    );
    // The receiver, likewise: n = 1..5, in order, each once.
    let told: Vec<i64> = hook
        .received()
        .iter()
        .map(|r| r.json()["object"]["status"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(told, [1, 2, 3, 4, 5], "{}", stderr(&out));
}

/// The old version of a changed rule waits out a hold its new version
/// holds differently (a shorter --hold): the new version's own
/// notifications do not wait that long behind it.
#[test]
fn a_new_version_does_not_wait_behind_a_hold_its_old_version_waits_out() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), json!({"x": 0}));
    scenario.widget("bar", json!({}), json!({"x": 0}));
    let hook = crate::receiver::Receiver::start();
    // Another --when: the new version does not keep the old one's holds.
    let version = |when: &str, hold: &str| {
        format!(
            "rules:\n  - name: held\n    args: [widgets, --all, -q, --when, '.status.x {when} 1', \
             --sink, 'slack:env:HOOK', --hold, {hold}, --message, '{{.metadata.name}}']\n"
        )
    };
    let file = rules_file(&scenario, &version("==", "4s"));
    let child = watching(&scenario, &file, "8s", Some(&hook));
    let held = std::time::Instant::now();
    scenario.set_status("foo", json!({"x": 1}));
    std::thread::sleep(Duration::from_millis(500));
    reload(&child, &file, &version(">=", "1s"));
    std::thread::sleep(Duration::from_millis(300));
    let changed = std::time::Instant::now();
    scenario.set_status("bar", json!({"x": 1}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let told: Vec<(String, std::time::Instant)> = hook
        .delivered()
        .iter()
        .map(|r| (r.json()["text"].as_str().unwrap_or("").to_string(), r.at))
        .collect();
    let names: Vec<&str> = told.iter().map(|(text, _)| text.as_str()).collect();
    assert_eq!(names, ["bar", "foo"], "{}", stderr(&out));
    let bar = told[0].1.duration_since(changed);
    assert!(
        bar >= Duration::from_millis(900) && bar < Duration::from_millis(2500),
        "bar told {bar:?} after its change, not when its 1s hold completed"
    );
    let foo = told[1].1.duration_since(held);
    assert!(
        foo >= Duration::from_millis(3900),
        "foo told {foo:?} after its change: its 4s hold was cut short"
    );
}

/// A rule a reload removed while its command still runs: the command's
/// last failure, reaching its --max-failures as the rule flushes, is said,
/// naming the rule, and the other rule keeps running.
#[test]
fn a_removed_rule_whose_command_fails_as_it_flushes_says_so() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), Value::Null);
    let both = rules_yaml(&[
        (
            "failing",
            "widgets/foo -q --max-failures 1 -- sh -c 'sleep 0.5; exit 3'",
        ),
        ("other", "widgets/foo -o name"),
    ]);
    let file = rules_file(&scenario, &both);
    let child = watching(&scenario, &file, "4s", None);
    scenario.set_status("foo", json!({"x": 1}));
    std::thread::sleep(Duration::from_millis(100));
    reload(
        &child,
        &file,
        &rules_yaml(&[("other", "widgets/foo -o name")]),
    );
    std::thread::sleep(Duration::from_millis(1000));
    scenario.set_status("foo", json!({"x": 2}));
    let out = finish(child, Duration::from_secs(20));
    let err = stderr(&out);
    assert_eq!(code(&out), 124, "the other rule ran on: {err}");
    let said: Vec<&str> = err
        .lines()
        .filter(|line| line.contains("as a reload stopped it"))
        .collect();
    assert_eq!(said.len(), 1, "{err}");
    for word in ["rule failing:", "--max-failures", "exit code 3"] {
        assert!(said[0].contains(word), "wants {word:?} in {err}");
    }
    assert_eq!(stdout(&out).lines().count(), 2, "{}", stdout(&out));
}

/// Two reloads in a row change a rule whose first version still runs its
/// command: the second version, waiting behind the first, hands the third
/// what it keeps (its open alerts) at once, so the third reads its watch
/// and the other rules on that watch never wait for the first's command.
#[test]
fn a_rule_changed_twice_in_a_row_never_holds_up_the_watch_it_shares() {
    use std::io::BufRead;
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), json!({"x": 0}));
    scenario.widget("bar", json!({}), json!({"y": 0}));
    let version = |v: &str| {
        format!(
            "rules:\n  - name: slow\n    args: [widgets, --all, -q, --resolve, --when, \
             '.status.x == 1', --, sh, -c, 'sleep 3', sh, {v}]\n  - name: steady\n    \
             args: [widgets, --all, -o, json]\n"
        )
    };
    let file = rules_file(&scenario, &version("v1"));
    let mut child = scenario
        .notify(&["--rules", &file, "--timeout", "9s"])
        .spawn()
        .unwrap();
    let pipe = std::io::BufReader::new(child.stdout.take().unwrap());
    let reader = std::thread::spawn(move || {
        pipe.lines()
            .map_while(|line| line.ok())
            .map(|line| (std::time::Instant::now(), line))
            .collect::<Vec<_>>()
    });
    wait_until("the watch", &mut child, || watches(&scenario) >= 1);
    std::thread::sleep(Duration::from_millis(300));
    // The first version's command runs for 3 s.
    scenario.set_status("foo", json!({"x": 1}));
    std::thread::sleep(Duration::from_millis(300));
    for v in ["v2", "v3"] {
        reload(&child, &file, &version(v));
        std::thread::sleep(Duration::from_millis(300));
    }
    for y in 1..=40 {
        scenario.set_status("bar", json!({"y": y}));
    }
    let last = std::time::Instant::now();
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let lines = reader.join().unwrap();
    let steady: Vec<&(std::time::Instant, String)> = lines
        .iter()
        .filter(|(_, line)| line.contains("\"rule\":\"steady\"") && line.contains("\"bar\""))
        .collect();
    assert_eq!(steady.len(), 40, "{}", stderr(&out));
    let late = steady[39].0.saturating_duration_since(last);
    assert!(
        late < Duration::from_millis(1500),
        "the other rule told the last change {late:?} after it: the watch waited"
    );
}

/// A rule whose command never ends is changed by a reload (a new command):
/// its new version waits for the old one no longer than --flush-timeout,
/// says so, and delivers; the process still ends at --timeout.
#[test]
fn a_new_version_waits_for_an_old_command_that_never_ends_no_longer_than_its_flush_timeout() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), json!({"n": 0}));
    let log = scenario.dir.path().join("runs.log");
    let version = |command: &str| {
        format!(
            "rules:\n  - name: stuck\n    args: [widgets/foo, -q, --on-change, .status.n, \
             --sink, 'webhook:env:HOOK', --flush-timeout, 1s, --, sh, -c, '{command}']\n"
        )
    };
    let file = rules_file(&scenario, &version("sleep 600"));
    let hook = crate::receiver::Receiver::start();
    let started = std::time::Instant::now();
    let child = watching(&scenario, &file, "5s", Some(&hook));
    scenario.set_status("foo", json!({"n": 1}));
    std::thread::sleep(Duration::from_millis(300));
    let echo = format!("echo $KUBECTL_NOTIFY_RESOURCE_VERSION >> {}", log.display());
    reload(&child, &file, &version(&echo));
    std::thread::sleep(Duration::from_millis(300));
    scenario.set_status("foo", json!({"n": 2}));
    let changed = std::time::Instant::now();
    while !log.exists() && changed.elapsed() < Duration::from_secs(4) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let after = changed.elapsed();
    let out = finish(child, Duration::from_secs(20));
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "ended at --timeout, not with the old command: {:?}",
        started.elapsed()
    );
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    assert!(
        after >= Duration::from_millis(500) && after < Duration::from_millis(2500),
        "the new version ran its command {after:?} after the change"
    );
    let err = stderr(&out);
    let said: Vec<&str> = err
        .lines()
        .filter(|line| line.contains("still delivers after --flush-timeout 1s"))
        .collect();
    assert_eq!(said.len(), 1, "{err}");
    assert!(said[0].contains("stuck  the rule's version"), "{err}");
    assert!(said[0].contains("1s (its command still runs"), "{err}");
    // The timeout counts what the rule told, both versions together.
    assert!(err.contains("(2 notifications)"), "{err}");
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 1);
}

/// Stdout's reader goes away (`| head -1`) while a quiet rule's webhook is
/// down: every rule ends as a command line alone would, its sinks flushed
/// for up to --flush-timeout, so the receiver back within it still hears
/// of the change, and the process ends 141.
#[test]
fn a_closed_stdout_ends_every_rule_each_flushing_its_sinks() {
    use std::io::BufRead;
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), json!({"n": 0}));
    let hook = crate::receiver::Receiver::start();
    hook.down();
    let file = rules_file(
        &scenario,
        &rules_yaml(&[
            ("printer", "widgets/foo -o name"),
            ("hook", "widgets/foo -q --sink webhook:env:HOOK"),
        ]),
    );
    let mut child = watching(&scenario, &file, "60s", Some(&hook));
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    scenario.set_status("foo", json!({"n": 1}));
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    drop(reader);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        still_running(&mut child, Duration::from_millis(50)),
        "ended before its flush"
    );
    hook.up();
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 141, "{}", stderr(&out));
    let told: Vec<i64> = hook
        .delivered()
        .iter()
        .map(|r| r.json()["object"]["status"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(told, [1], "{}", stderr(&out));
}

/// A reload changes a throttled rule in what does not touch its window (the
/// diff it prints): its new version keeps the open windows, so an object
/// changing all along is told once a window, as by its command line alone.
#[test]
fn a_changed_rule_keeps_its_throttle_windows() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), json!({"n": 0}));
    let hook = crate::receiver::Receiver::start();
    let version = |diff: &str| {
        rules_yaml(&[(
            "throttled",
            &format!("widgets/foo -o json --diff {diff} --throttle 3s --sink webhook:env:HOOK"),
        )])
    };
    let file = rules_file(&scenario, &version("full"));
    let child = watching(&scenario, &file, "6s", Some(&hook));
    let first = std::time::Instant::now();
    for n in 1..=8 {
        scenario.set_status("foo", json!({"n": n}));
        std::thread::sleep(Duration::from_millis(250));
        if n % 2 == 0 {
            let diff = if n % 4 == 0 { "full" } else { "paths" };
            reload(&child, &file, &version(diff));
        }
    }
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let told: Vec<(i64, Duration)> = hook
        .delivered()
        .iter()
        .map(|r| {
            let n = r.json()["object"]["status"]["n"].as_i64().unwrap();
            (n, r.at.duration_since(first))
        })
        .collect();
    // The first at once, the rest folded into the window's trailing one.
    let ns: Vec<i64> = told.iter().map(|(n, _)| *n).collect();
    assert_eq!(ns, [1, 8], "{told:?}\n{}", stderr(&out));
    assert!(told[1].1 >= Duration::from_millis(2900), "{told:?}");
}

/// A rule renamed by a reload (the same arguments under a new name) hands
/// over as a changed rule does: its open alert is resolved under the new
/// name, and the new name's command never runs beside the old one's.
#[test]
fn a_renamed_rule_hands_over_its_open_alerts_and_waits_for_its_old_command() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), json!({"phase": "Running"}));
    let log = scenario.dir.path().join("runs.log");
    let rule = |name: &str| {
        format!(
            "rules:\n  - name: {name}\n    args: [widgets/foo, -q, --resolve, --when, \
             '.status.phase == \"Failed\"', --, sh, -c, \
             'echo \"start $KUBECTL_NOTIFY_RULE $KUBECTL_NOTIFY_EVENT\" >> {log}; sleep 1; \
             echo \"end $KUBECTL_NOTIFY_RULE\" >> {log}']\n",
            log = log.display()
        )
    };
    let file = rules_file(&scenario, &rule("pay-alerts"));
    let child = watching(&scenario, &file, "6s", None);
    scenario.set_status("foo", json!({"phase": "Failed"}));
    std::thread::sleep(Duration::from_millis(300));
    reload(&child, &file, &rule("payments-alerts"));
    std::thread::sleep(Duration::from_millis(300));
    scenario.set_status("foo", json!({"phase": "Running"}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("rules reloaded: 0 unchanged; renamed: pay-alerts to payments-alerts"),
        "{}",
        stderr(&out)
    );
    let runs = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        runs.lines().collect::<Vec<_>>(),
        [
            "start pay-alerts modified",
            "end pay-alerts",
            "start payments-alerts resolved",
            "end payments-alerts"
        ],
        "{runs}"
    );
}

/// A rule moved by a reload from a sink that is down to one that works:
/// once its new version delivers, the rule's circuit gauge says closed
/// (the old version's open circuit stayed on it).
#[test]
fn a_changed_rules_circuit_gauge_follows_its_new_version() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), json!({"n": 0}));
    let (dead, good) = (
        crate::receiver::Receiver::start(),
        crate::receiver::Receiver::start(),
    );
    dead.always(Some(crate::receiver::Answer::Status(503)));
    let version = |sink: &str| {
        rules_yaml(&[(
            "moving",
            &format!("widgets/foo -q --sink webhook:env:{sink} --flush-timeout 1s"),
        )])
    };
    let file = rules_file(&scenario, &version("DEAD"));
    let (mut child, port) = serving(
        &scenario,
        &file,
        "30s",
        &[("DEAD", dead.url()), ("GOOD", good.url())],
    );
    let gauge = "kubectl_notify_sink_circuit_state{sink=\"webhook#1\",rule=\"moving\"}";
    scenario.set_status("foo", json!({"n": 1}));
    wait_until("the circuit open", &mut child, || {
        get(port, "/metrics").is_some_and(|(_, m)| m.contains(&format!("{gauge} 1")))
    });
    reload(&child, &file, &version("GOOD"));
    std::thread::sleep(Duration::from_millis(300));
    scenario.set_status("foo", json!({"n": 2}));
    wait_until("the new version delivering", &mut child, || {
        !good.delivered().is_empty()
    });
    std::thread::sleep(Duration::from_millis(2000));
    let metrics = get(port, "/metrics").unwrap().1;
    let line = metrics
        .lines()
        .find(|line| line.starts_with(gauge))
        .unwrap_or_default();
    assert_eq!(line, format!("{gauge} 0"), "{metrics}");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    finish(child, Duration::from_secs(20));
}

/// A rule a reload removes while a change waits out its --hold: the hold is
/// dropped, as at --timeout (the rule no longer watches whether it would
/// hold), while the rule that stays tells it when its hold completes.
#[test]
fn a_removed_rule_tells_nothing_it_was_holding() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), json!({"x": 0}));
    let hook = crate::receiver::Receiver::start();
    let rule = |name: &str| {
        format!(
            "  - name: {name}\n    args: [widgets/foo, -q, --when, '.status.x == 1', --hold, 2s, \
             --sink, 'slack:env:HOOK', --message, '{name} {{.metadata.name}}']\n"
        )
    };
    let file = rules_file(
        &scenario,
        &format!("rules:\n{}{}", rule("gone"), rule("kept")),
    );
    let child = watching(&scenario, &file, "5s", Some(&hook));
    scenario.set_status("foo", json!({"x": 1}));
    std::thread::sleep(Duration::from_millis(500));
    reload(&child, &file, &format!("rules:\n{}", rule("kept")));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let told: Vec<String> = hook
        .delivered()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(told, ["kept foo"], "{}", stderr(&out));
}

/// A changed `--resolve` rule keeps its open alert at Alertmanager alive:
/// its new version sends it again every re-send interval, as the old one
/// did (the alert expired at its endsAt while its object still failed).
#[test]
fn a_changed_rule_keeps_sending_its_open_alerts_to_alertmanager() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), json!({"phase": "Running"}));
    let am = crate::receiver::Receiver::start();
    let version = |message: &str| {
        rules_yaml(&[(
            "alerts",
            &format!(
                "widgets/foo -q --resolve --when '.status.phase == \\\"Failed\\\"' \
                 --sink alertmanager:env:HOOK --message {message}"
            ),
        )])
    };
    let file = rules_file(&scenario, &version("one"));
    let mut command = scenario.notify(&["--rules", &file, "--timeout", "4s"]);
    command
        .env("HOOK", am.url())
        .env("KUBECTL_NOTIFY_ALERTMANAGER_RESEND", "300ms");
    let mut child = command.spawn().unwrap();
    wait_until("the watch", &mut child, || watches(&scenario) >= 1);
    std::thread::sleep(Duration::from_millis(300));
    scenario.set_status("foo", json!({"phase": "Failed"}));
    std::thread::sleep(Duration::from_millis(500));
    reload(&child, &file, &version("two"));
    let reloaded = std::time::Instant::now();
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let after = am
        .delivered()
        .iter()
        .filter(|r| r.at > reloaded + Duration::from_millis(500))
        .filter(|r| r.body.contains("\"Failed\"") || r.body.contains("foo"))
        .count();
    assert!(
        after >= 3,
        "sent again {after} times after the reload: {}",
        stderr(&out)
    );
}

/// The rules file deleted (a ConfigMap key removed, say): after a few
/// looks it is one failed reload, said and counted once; the rules keep
/// running, and the file written again is read.
#[test]
fn a_rules_file_gone_for_good_is_one_failed_reload() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), json!({"n": 0}));
    let file = rules_file(&scenario, &rules_yaml(&[("one", "widgets/foo -o json")]));
    let (mut child, port) = serving(&scenario, &file, "9s", &[]);
    std::fs::remove_file(&file).unwrap();
    wait_until("the failed reload counted", &mut child, || {
        get(port, "/metrics")
            .is_some_and(|(_, m)| m.contains("kubectl_notify_rules_reload_failures_total 1"))
    });
    std::thread::sleep(Duration::from_millis(2500));
    scenario.set_status("foo", json!({"n": 1}));
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&file, rules_yaml(&[("two", "widgets/foo -o json")])).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let err = stderr(&out);
    let said: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("cannot read it"))
        .collect();
    assert_eq!(said.len(), 1, "said once: {err}");
    assert!(said[0].contains("the rules running keep running"), "{err}");
    assert!(err.contains("renamed: one to two"), "{err}");
    assert_eq!(numbers(&stdout(&out), "one"), [1], "{}", stdout(&out));
}

/// A `--resolve` rule to Alertmanager renamed by a reload: its alerts are
/// named by the rule, so the new name keeps none of the old name's (it
/// would resolve, and keep alive, alerts Alertmanager never had).
#[test]
fn a_renamed_rule_keeps_no_alertmanager_alert_of_its_old_name() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), json!({"phase": "Running"}));
    let am = crate::receiver::Receiver::start();
    let rule = |name: &str| {
        rules_yaml(&[(
            name,
            "widgets/foo -q --resolve --when '.status.phase == \\\"Failed\\\"' \
             --sink alertmanager:env:HOOK",
        )])
    };
    let file = rules_file(&scenario, &rule("pay-alerts"));
    let mut command = scenario.notify(&["--rules", &file, "--timeout", "4s"]);
    command
        .env("HOOK", am.url())
        .env("KUBECTL_NOTIFY_ALERTMANAGER_RESEND", "300ms");
    let mut child = command.spawn().unwrap();
    wait_until("the watch", &mut child, || watches(&scenario) >= 1);
    std::thread::sleep(Duration::from_millis(300));
    scenario.set_status("foo", json!({"phase": "Failed"}));
    std::thread::sleep(Duration::from_millis(500));
    reload(&child, &file, &rule("payments-alerts"));
    std::thread::sleep(Duration::from_millis(1000));
    scenario.set_status("foo", json!({"phase": "Running"}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("renamed: pay-alerts to payments-alerts"),
        "{}",
        stderr(&out)
    );
    let old = am
        .delivered()
        .iter()
        .filter(|r| r.body.contains("\"pay-alerts\""))
        .count();
    let new = am
        .delivered()
        .iter()
        .filter(|r| r.body.contains("\"payments-alerts\""))
        .count();
    assert!(old >= 1, "the alert fired under its old name");
    assert_eq!(new, 0, "the new name keeps none: {}", stderr(&out));
}
