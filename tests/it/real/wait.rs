//! Wait mode on a real control plane, cross-checked with real `kubectl wait`
//! 1.37 on the same objects: the same verdict, the same `condition met`
//! lines; where kubectl exits 1 on a timeout we exit 124 (SPEC §7).

use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cluster::{Cluster, Watching};
use crate::common::{code, finish, stderr, stdout};
use crate::real::Namespace;
use crate::stories;

/// Real `kubectl wait ARGS` in the namespace, running.
fn kubectl_wait(ns: &Namespace, args: &[&str]) -> Child {
    let mut all = vec!["wait"];
    all.extend_from_slice(args);
    ns.kubectl_cmd(&all)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The lines of stdout, sorted (several targets finish in any order).
fn sorted_lines(out: &Output) -> Vec<String> {
    let mut lines: Vec<String> = stdout(out).lines().map(String::from).collect();
    lines.sort();
    lines
}

/// Both waits, started before the change `act` makes, end met with the same
/// lines. kubectl runs at `-v=6` so the change waits until it watches too
/// (for `--for=create`, which polls, until it has looked once).
fn both_end_met_after(ns: &Namespace, kubectl: &[&str], ours: &[&str], act: impl FnOnce()) {
    use std::io::BufRead;
    let mut args = kubectl.to_vec();
    args.push("-v=6");
    let mut theirs = kubectl_wait(ns, &args);
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let pipe = theirs.stderr.take().unwrap();
        let log = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let looking = if kubectl.contains(&"--for=create") {
        r#"verb="GET""#
    } else {
        "watch=true"
    };
    loop {
        let said = log.lock().unwrap().clone();
        if said.contains(looking) {
            break;
        }
        assert!(Instant::now() < deadline, "kubectl never started: {said}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let run = Watching::start(ns, ours, 1);
    act();
    let ours = run.finish(Duration::from_secs(60));
    let theirs = finish(theirs, Duration::from_secs(60));
    reader.join().unwrap();
    let log = log.lock().unwrap().clone();
    assert_eq!(code(&theirs), 0, "kubectl: {log}");
    assert_eq!(code(&ours), 0, "{}", stderr(&ours));
    assert_eq!(sorted_lines(&ours), sorted_lines(&theirs), "kubectl: {log}");
    assert!(!stdout(&ours).is_empty());
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn every_form_kubectl_wait_knows_gets_the_same_verdict_at_once() {
    stories::every_form_kubectl_wait_knows_gets_the_same_verdict_at_once(&Namespace::new());
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_condition_written_later_ends_both_waits_with_the_same_line() {
    let ns = Namespace::new();
    ns.create_widget("w", json!({}));
    both_end_met_after(
        &ns,
        &["--for=condition=Ready", "widgets/w", "--timeout=60s"],
        &["widgets/w", "--for", "condition=Ready", "--timeout", "60s"],
        || {
            ns.set_widget_status(
                "w",
                json!({"conditions": [{"type": "Ready", "status": "False"}]}),
            );
            ns.set_widget_status(
                "w",
                json!({"conditions": [{"type": "Ready", "status": "True"}]}),
            );
        },
    );
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_jsonpath_value_reached_later_ends_both_waits() {
    let ns = Namespace::new();
    ns.create_widget("w", json!({}));
    ns.set_widget_status("w", json!({"phase": "Pending"}));
    both_end_met_after(
        &ns,
        &[
            "--for=jsonpath={.status.phase}=Running",
            "widgets/w",
            "--timeout=60s",
        ],
        &[
            "widgets/w",
            "--for",
            "jsonpath={.status.phase}=Running",
            "--timeout",
            "60s",
        ],
        || {
            ns.set_widget_status("w", json!({"phase": "Running"}));
        },
    );
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_deletion_ends_both_waits_for_delete() {
    let ns = Namespace::new();
    ns.create_widget("w", json!({}));
    both_end_met_after(
        &ns,
        &["--for=delete", "widgets/w", "--timeout=60s"],
        &["widgets/w", "--for", "delete", "--timeout", "60s"],
        || ns.delete_widget("w"),
    );
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_creation_ends_both_waits_for_create() {
    let ns = Namespace::new();
    both_end_met_after(
        &ns,
        &["--for=create", "widgets/w", "--timeout=60s"],
        &["widgets/w", "--for", "create", "--timeout", "60s"],
        || {
            std::thread::sleep(Duration::from_millis(500));
            ns.create_widget("w", json!({}));
        },
    );
}

/// A label selector: both wait for every selected object, and print one
/// line per object.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn with_a_selector_both_wait_for_every_selected_object() {
    let ns = Namespace::new();
    for name in ["a", "b"] {
        ns.create_widget(name, json!({}));
        ns.patch_widget(name, json!({"metadata": {"labels": {"team": "x"}}}));
    }
    ns.create_widget("other", json!({}));
    let ready = json!({"conditions": [{"type": "Ready", "status": "True"}]});
    ns.set_widget_status("a", ready.clone());
    both_end_met_after(
        &ns,
        &[
            "--for=condition=Ready",
            "widgets",
            "-l",
            "team=x",
            "--timeout=60s",
        ],
        &[
            "widgets",
            "-l",
            "team=x",
            "--for",
            "condition=Ready",
            "--timeout",
            "60s",
        ],
        || {
            std::thread::sleep(Duration::from_millis(500));
            ns.set_widget_status("b", ready.clone());
        },
    );
}

/// A timeout: kubectl exits 1, we exit 124 (as timeout(1)) and say which
/// target did not hold and what it was seen to be.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_timeout_is_124_where_kubectl_says_1() {
    let ns = Namespace::new();
    ns.create_widget("w", json!({}));
    ns.set_widget_status(
        "w",
        json!({"conditions": [{"type": "Ready", "status": "False", "reason": "Warming"}]}),
    );
    let theirs = kubectl_wait(&ns, &["--for=condition=Ready", "widgets/w", "--timeout=2s"]);
    let ours = ns.run(&["widgets/w", "--for", "condition=Ready", "--timeout", "2s"]);
    let theirs = finish(theirs, Duration::from_secs(30));
    assert_eq!(code(&theirs), 1, "{}", stderr(&theirs));
    assert!(
        stderr(&theirs).contains("timed out waiting for the condition on widgets/w"),
        "{}",
        stderr(&theirs)
    );
    assert_eq!(code(&ours), 124, "{}", stderr(&ours));
    assert_eq!(stdout(&ours), "");
    let err = stderr(&ours);
    assert!(err.contains("widget.example.com/w"), "{err}");
    assert!(err.contains("Warming"), "{err}");
}
