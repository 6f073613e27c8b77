//! `--rules FILE`, how rules end and what the process counts: a rule that
//! reaches its own `--max-failures` ends alone, process-wide counters count
//! a shared watch once, and the small refusals name what to do.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;
use crate::incluster::{free_port, get, wait_ready};
use crate::rules::{rules_file, rules_yaml, told, wait_until};

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
