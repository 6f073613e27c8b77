//! `--leader-elect` and `--checkpoint` on a real control plane, the stories
//! of `ha.rs`: failover after SIGKILL and SIGTERM on a real Lease, a restart
//! resumed from the checkpoint through the apiserver's watch cache, and a
//! checkpoint older than the server's history (a real 410, see
//! `Namespace::forget_history`).

use crate::ha;
use crate::real::{ControlPlane, Namespace, Options};

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn after_sigkill_the_standby_takes_over_within_the_lease_and_delivers_the_gap() {
    ha::after_sigkill_the_standby_takes_over_and_delivers_the_gap(&Namespace::new());
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn after_sigterm_the_standby_takes_over_at_once() {
    ha::after_sigterm_the_standby_takes_over_at_once_on(&Namespace::new());
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_restart_with_a_checkpoint_delivers_exactly_what_changed_while_down() {
    ha::a_restart_with_a_checkpoint_delivers_what_changed_while_down(&Namespace::new());
}

/// Its own control plane: the apiserver is restarted to lose its history.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_checkpoint_older_than_the_servers_history_falls_back_to_list_and_compare() {
    let plane = ControlPlane::start(Options {
        controller_manager: false,
        ..Options::default()
    });
    ha::a_checkpoint_older_than_the_history_falls_back_to_list_and_compare(&Namespace::on(&plane));
}

/// Under `--leader-elect --checkpoint`, three rules on every widget make
/// one watch on a real kube-apiserver, not three: at `-vv` every request is
/// said, and the widgets are asked for once per kind of request (the
/// streaming list etcd 3.4 cannot serve, the list that follows it, the
/// watch, and one read of where the collection is), not once per rule.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn rules_taking_over_share_one_watch_on_a_real_apiserver() {
    use std::time::{Duration, Instant};
    let ns = Namespace::new();
    let file = ns.dir.path().join("rules.yaml");
    std::fs::write(
        &file,
        "rules:
  - name: everything
    args: [widgets, --all, -o, json]
  - name: created
    args: [widgets, --all, --events, created, -o, json]
  - name: big
    args: \"widgets --all --when '.spec.size > 0' -o json\"
",
    )
    .unwrap();
    let file = file.to_string_lossy().into_owned();
    let args = [
        "--rules",
        &file,
        "-vv",
        "--leader-elect",
        "--lease",
        "alerts",
        "--checkpoint",
        "alerts",
    ];
    let a = ha::Replica::with_args(&ns, "a", Some(ha::FAST), &args);
    let deadline = Instant::now() + Duration::from_secs(30);
    while a
        .stderr
        .lock()
        .unwrap()
        .matches("list complete, watching")
        .count()
        < 3
    {
        assert!(
            Instant::now() < deadline,
            "never every rule listed: {}",
            a.stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    ha::widget(&ns, "w1");
    while a.lines().len() < 3 {
        assert!(
            Instant::now() < deadline,
            "never told by every rule: {:?}\n{}",
            a.lines(),
            a.stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let stderr = a.stderr.lock().unwrap().clone();
    let requests: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("request: GET ") && l.contains("/widgets?"))
        .collect();
    let count = |f: &dyn Fn(&str) -> bool| requests.iter().filter(|r| f(r)).count();
    let streaming = count(&|r| r.contains("sendInitialEvents=true"));
    let watches = count(&|r| r.contains("watch=true") && !r.contains("sendInitialEvents=true"));
    let lists = count(&|r| !r.contains("watch=true"));
    assert_eq!(
        (streaming, watches, lists),
        (1, 1, 2),
        "streaming lists, watches, lists for three rules of one request:\n{requests:#?}"
    );
    a.stop();
}
