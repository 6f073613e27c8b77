//! `--leader-elect` and `--checkpoint` on a real control plane: failover
//! after SIGKILL and SIGTERM on a real Lease, a restart resumed from the
//! checkpoint through the apiserver's watch cache, and a checkpoint older
//! than the server's history (a real 410).

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cluster::Cluster;
use crate::ha::{FAST, Replica, resize, transient, wait_for_checkpoint, wait_for_holder, widget};
use crate::real::{ControlPlane, Namespace, Options};

const WITHIN: Duration = Duration::from_secs(20);

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn after_sigkill_the_standby_takes_over_within_the_lease_and_delivers_the_gap() {
    let ns = Namespace::new();
    let flags = [
        "--leader-elect",
        "--lease",
        "alerts",
        "--checkpoint",
        "alerts",
    ];
    let a = Replica::start(&ns, "a", Some(FAST), &flags);
    wait_for_holder(&ns, "alerts", "a", WITHIN);
    a.wait_watching(WITHIN);
    let b = Replica::start(&ns, "b", Some(FAST), &flags);
    std::thread::sleep(Duration::from_millis(500));
    let w1 = widget(&ns, "w1");
    a.wait_for(&["created w1"], WITHIN);
    wait_for_checkpoint(&ns, "alerts", &w1);

    a.signal(libc::SIGKILL);
    let killed = Instant::now();
    resize(&ns, "w1", 2);
    widget(&ns, "w2");
    transient(&ns, "w3");
    wait_for_holder(&ns, "alerts", "b", WITHIN);
    let took = killed.elapsed();
    b.wait_for(
        &["modified w1", "created w2", "created w3", "deleted w3"],
        WITHIN,
    );
    // A lease of 3 s, renewed up to a retry (0.5 s) before the kill; the
    // real apiserver's writes add a little.
    assert!(took < Duration::from_secs(6), "takeover after {took:?}");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(b.seen().len(), 4, "nothing else: {:?}", b.seen());
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn after_sigterm_the_standby_takes_over_at_once() {
    let ns = Namespace::new();
    // client-go's own timings: waiting out the 15 s lease would show.
    let flags = ["--leader-elect", "--lease", "alerts"];
    let a = Replica::start(&ns, "a", None, &flags);
    wait_for_holder(&ns, "alerts", "a", WITHIN);
    let b = Replica::start(&ns, "b", None, &flags);
    std::thread::sleep(Duration::from_millis(500));
    let stopped = Instant::now();
    a.stop();
    wait_for_holder(&ns, "alerts", "b", WITHIN);
    let took = stopped.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "takeover after {took:?}: at the next retry (2 s)"
    );
    b.wait_watching(WITHIN);
    widget(&ns, "w1");
    b.wait_for(&["created w1"], WITHIN);
}

/// Stopped, changes made, started again: the watch resumes from the
/// checkpoint's resourceVersion and the apiserver replays every change —
/// an object created and deleted in the gap included.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_restart_with_a_checkpoint_delivers_exactly_what_changed_while_down() {
    let ns = Namespace::new();
    widget(&ns, "kept");
    widget(&ns, "gone");
    let first = Replica::start(&ns, "a", None, &["--checkpoint", "state"]);
    first.wait_watching(WITHIN);
    let w = resize(&ns, "kept", 2);
    first.wait_for(&["modified kept"], WITHIN);
    wait_for_checkpoint(&ns, "state", &w);
    first.stop();

    resize(&ns, "kept", 3);
    ns.delete_widget("gone");
    widget(&ns, "new");
    transient(&ns, "passing");

    let second = Replica::start(&ns, "a", None, &["--checkpoint", "state"]);
    second.wait_for(
        &[
            "modified kept",
            "deleted gone",
            "created new",
            "created passing",
            "deleted passing",
        ],
        WITHIN,
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(second.seen().len(), 5, "nothing else: {:?}", second.seen());
    assert!(!second.stderr.lock().unwrap().contains("re-listing"));
}

/// A real 410: the apiserver serves watches from its watch cache, which a
/// restart fills from a fresh list, so it no longer has the history from
/// before (etcd compaction alone does not do it: the cache keeps serving).
/// A watch from the checkpoint's resourceVersion gets, with HTTP 200, one
/// ERROR event `410 Expired: too old resource version: OLD (NEW)`; the
/// replica lists, compares with the checkpoint and delivers what changed.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_checkpoint_older_than_the_servers_history_falls_back_to_list_and_compare() {
    let plane = ControlPlane::start(Options {
        controller_manager: false,
        ..Options::default()
    });
    let ns = Namespace::on(&plane);
    widget(&ns, "kept");
    widget(&ns, "gone");
    widget(&ns, "same");
    let first = Replica::start(&ns, "a", None, &["--checkpoint", "state"]);
    first.wait_watching(WITHIN);
    let w = resize(&ns, "kept", 2);
    first.wait_for(&["modified kept"], WITHIN);
    wait_for_checkpoint(&ns, "state", &w);
    first.stop();

    resize(&ns, "kept", 3);
    ns.delete_widget("gone");
    widget(&ns, "new");
    transient(&ns, "passing");
    plane.restart_apiserver(Duration::from_millis(500));

    let checkpoint: Value = serde_json::from_str(
        ns.get("configmaps", "state").unwrap()["data"]["checkpoint.json"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let mark = checkpoint["targets"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    let rv = mark["resourceVersion"].as_str().unwrap();
    // Right after its restart the apiserver answers 429 `storage is
    // (re)initializing` (Retry-After: 1) until the CRD's cache is filled.
    let deadline = Instant::now() + WITHIN;
    let mut answer = watch_once(&plane, &ns.name, rv);
    while answer.starts_with("429\n") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        answer = watch_once(&plane, &ns.name, rv);
    }
    assert!(
        answer.starts_with("200\n") && answer.contains(r#""type":"ERROR""#),
        "{answer}"
    );
    assert!(
        answer.contains(r#""code":410"#) && answer.contains(r#""reason":"Expired""#),
        "{answer}"
    );
    assert!(
        answer.contains(&format!("too old resource version: {rv} (")),
        "{answer}"
    );

    let second = Replica::start(&ns, "a", None, &["--checkpoint", "state"]);
    let mut wanted = ["modified kept", "created new", "deleted gone"];
    second.wait_for(&wanted, WITHIN);
    std::thread::sleep(Duration::from_secs(1));
    let mut seen = second.seen();
    seen.sort();
    wanted.sort();
    assert_eq!(
        seen, wanted,
        "the list compared: what changed, and not `same`"
    );
    assert!(
        second.stderr.lock().unwrap().contains("re-listing"),
        "{}",
        second.stderr.lock().unwrap()
    );
}

/// What the apiserver answers to a watch of the namespace's widgets from
/// `rv`: the HTTP status, a newline, the body (up to a 2 s server timeout).
fn watch_once(plane: &ControlPlane, namespace: &str, rv: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "10", "-w", "\n%{http_code}", "--cacert"])
        .arg(&plane.ca_file)
        .arg("-H")
        .arg(format!("Authorization: Bearer {}", plane.admin_token))
        .arg(format!(
            "{}/apis/example.com/v1/namespaces/{namespace}/widgets?watch=1&resourceVersion={rv}&timeoutSeconds=2",
            plane.url
        ))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    format!("{status}\n{body}")
}
