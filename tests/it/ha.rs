//! Running as several replicas (SPEC §12): `--leader-elect` on a Lease, one
//! replica delivers; `--checkpoint` resumes where the last one stopped, so
//! nothing is missed across restarts and failovers.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::common::*;
use crate::receiver::Receiver;

const LEASES: &str = "leases.coordination.k8s.io";

/// Short lease timings (lease, renew deadline, retry) for the stories that
/// wait out an expiry; their logic at client-go's is unit-tested.
pub(crate) const FAST: &str = "3s,2s,500ms";

/// How long a story waits for what must happen (a real apiserver under a
/// loaded machine included).
const WITHIN: Duration = Duration::from_secs(20);

/// One running replica, its `-o json` lines collected as they come.
pub(crate) struct Replica {
    pub(crate) child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
    pub(crate) stderr: Arc<Mutex<String>>,
}

impl Replica {
    pub(crate) fn start(
        s: &dyn Cluster,
        name: &str,
        timings: Option<&str>,
        extra: &[&str],
    ) -> Replica {
        let mut args = vec![WIDGETS, "--all", "-o", "json", "-v"];
        args.extend_from_slice(extra);
        Replica::with_args(s, name, timings, &args)
    }

    /// A replica of exactly these arguments (`--rules FILE ...`).
    pub(crate) fn with_args(
        s: &dyn Cluster,
        name: &str,
        timings: Option<&str>,
        args: &[&str],
    ) -> Replica {
        Replica::with_env(s, name, timings, args, &[])
    }

    /// The same, with these variables set too.
    pub(crate) fn with_env(
        s: &dyn Cluster,
        name: &str,
        timings: Option<&str>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Replica {
        let mut cmd = s.notify(args);
        cmd.env("POD_NAME", name);
        cmd.envs(env.iter().copied());
        match timings {
            Some(t) => cmd.env("KUBECTL_NOTIFY_LEASE_TIMINGS", t),
            None => cmd.env_remove("KUBECTL_NOTIFY_LEASE_TIMINGS"),
        };
        let mut child = cmd.spawn().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock()
                    .unwrap()
                    .push(serde_json::from_str(&line).unwrap());
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Replica {
            child,
            lines,
            stderr,
        }
    }

    /// Each `-o json` line so far.
    pub(crate) fn lines(&self) -> Vec<Value> {
        self.lines.lock().unwrap().clone()
    }

    /// `type name` of each notification so far.
    pub(crate) fn seen(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| {
                format!(
                    "{} {}",
                    l["type"].as_str().unwrap(),
                    l["name"].as_str().unwrap()
                )
            })
            .collect()
    }

    pub(crate) fn wait_for(&self, wanted: &[&str], within: Duration) {
        let deadline = Instant::now() + within;
        while self.seen().len() < wanted.len() {
            assert!(
                Instant::now() < deadline,
                "wanted {wanted:?}, saw {:?}\nstderr: {}",
                self.seen(),
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            self.seen(),
            wanted,
            "stderr: {}",
            self.stderr.lock().unwrap()
        );
    }

    /// Blocks until the replica has listed and watches (it says so at -v).
    pub(crate) fn wait_watching(&self, within: Duration) {
        self.wait_said("list complete, watching", within);
    }

    /// Blocks until the replica's stderr says `text`.
    pub(crate) fn wait_said(&self, text: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.stderr.lock().unwrap().contains(text) {
            assert!(
                Instant::now() < deadline,
                "never said {text:?}: {}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Blocks until the replica has said `n` times that a list is in (a
    /// rule each, in a rules file).
    pub(crate) fn wait_listed(&self, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        let listed = || {
            self.stderr
                .lock()
                .unwrap()
                .matches("list complete, watching")
                .count()
        };
        while listed() < n {
            assert!(
                Instant::now() < deadline,
                "never {n} lists in: {}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Blocks until the replica has exited; `why`, said if it has not
    /// within `within`.
    pub(crate) fn wait_exit(&mut self, within: Duration, why: &str) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{why}: {}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn signal(&self, signal: i32) {
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    pub(crate) fn stop(mut self) {
        self.signal(libc::SIGTERM);
        let _ = self.child.wait();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn holder(s: &Scenario, lease: &str) -> Option<String> {
    let lease = s.server.get(LEASES, Some("default"), lease)?;
    lease["spec"]["holderIdentity"]
        .as_str()
        .filter(|h| !h.is_empty())
        .map(String::from)
}

/// The pod name part of a holder's identity (`POD_NAME` + `_` + a random
/// id per process, as client-go makes it).
pub(crate) fn pod_of(identity: &str) -> &str {
    identity.split_once('_').map_or(identity, |(pod, _)| pod)
}

/// Waits until `who` holds the lease; how long that took.
pub(crate) fn wait_for_holder(
    s: &dyn Cluster,
    lease: &str,
    who: &str,
    within: Duration,
) -> Duration {
    let start = Instant::now();
    while s.lease_holder(lease).as_deref().map(pod_of) != Some(who) {
        assert!(
            start.elapsed() < within,
            "{who} did not take {lease} within {within:?} (holder {:?})",
            s.lease_holder(lease)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

/// The checkpoint's record of one object, once it has one at `rv` or later.
pub(crate) fn wait_for_checkpoint(s: &dyn Cluster, name: &str, object: &Value) {
    let rv: u64 = object["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let uid = object["metadata"]["uid"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stored = s.get("configmaps", name).and_then(|cm| {
            serde_json::from_str::<Value>(cm["data"]["checkpoint.json"].as_str()?).ok()
        });
        let recorded = stored.as_ref().and_then(|c| {
            c["targets"]
                .as_object()?
                .values()
                .find_map(|t| t["objects"][uid]["v"].as_str()?.parse::<u64>().ok())
        });
        if recorded.is_some_and(|r| r >= rv) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "checkpoint never recorded {uid}@{rv}: {stored:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn widget(s: &dyn Cluster, name: &str) -> Value {
    s.create_widget(name, json!({"size": 1}))
}

pub(crate) fn resize(s: &dyn Cluster, name: &str, size: u64) -> Value {
    s.patch_widget(name, json!({"spec": {"size": size}}))
}

/// An object created and deleted at once.
pub(crate) fn transient(s: &dyn Cluster, name: &str) {
    widget(s, name);
    s.delete_widget(name);
}

#[test]
fn of_two_replicas_only_the_lease_holder_delivers() {
    let s = Scenario::new();
    let mut a = Replica::start(
        &s,
        "a",
        Some(FAST),
        &["--leader-elect", "--lease", "alerts"],
    );
    wait_for_holder(&s, "alerts", "a", Duration::from_secs(10));
    s.wait_for_watch_matching("widgets?", &mut a.child);
    let b = Replica::start(
        &s,
        "b",
        Some(FAST),
        &["--leader-elect", "--lease", "alerts"],
    );
    std::thread::sleep(Duration::from_secs(1));
    widget(&s, "w1");
    a.wait_for(&["created w1"], Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(b.seen(), Vec::<String>::new(), "the standby delivered");
    assert!(
        b.stderr.lock().unwrap().contains("held by a"),
        "{}",
        b.stderr.lock().unwrap()
    );
    assert_eq!(holder(&s, "alerts").as_deref().map(pod_of), Some("a"));
}

/// Two replicas given one POD_NAME (a reused name, a copied command line):
/// each process still has an identity of its own, so one holds the lease
/// and the other waits; they never both deliver.
#[test]
fn two_replicas_with_one_pod_name_are_one_holder_and_one_standby() {
    let s = Scenario::new();
    let flags = ["--leader-elect", "--lease", "alerts"];
    let mut a = Replica::start(&s, "same", Some(FAST), &flags);
    wait_for_holder(&s, "alerts", "same", Duration::from_secs(10));
    s.wait_for_watch_matching("widgets?", &mut a.child);
    let identity = holder(&s, "alerts").unwrap();
    assert!(identity.len() > "same_".len(), "{identity}");
    let b = Replica::start(&s, "same", Some(FAST), &flags);
    std::thread::sleep(Duration::from_millis(1500));
    widget(&s, "w1");
    a.wait_for(&["created w1"], Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(b.seen(), Vec::<String>::new(), "the standby delivered");
    let said = b.stderr.lock().unwrap().clone();
    assert!(!said.contains("is active"), "{said}");
    assert!(said.contains(&format!("held by {identity}")), "{said}");
    assert_eq!(holder(&s, "alerts"), Some(identity));
}

#[test]
fn after_sigkill_of_the_holder_the_standby_takes_over_within_the_lease_and_delivers_the_gap() {
    after_sigkill_the_standby_takes_over_and_delivers_the_gap(&Scenario::new());
}

/// Told on both tiers (`real::ha` too).
pub(crate) fn after_sigkill_the_standby_takes_over_and_delivers_the_gap(s: &dyn Cluster) {
    let flags = [
        "--leader-elect",
        "--lease",
        "alerts",
        "--checkpoint",
        "alerts",
    ];
    let a = Replica::start(s, "a", Some(FAST), &flags);
    wait_for_holder(s, "alerts", "a", WITHIN);
    a.wait_watching(WITHIN);
    let b = Replica::start(s, "b", Some(FAST), &flags);
    std::thread::sleep(Duration::from_millis(500));
    let w1 = widget(s, "w1");
    a.wait_for(&["created w1"], WITHIN);
    wait_for_checkpoint(s, "alerts", &w1);

    a.signal(libc::SIGKILL);
    let killed = Instant::now();
    resize(s, "w1", 2);
    widget(s, "w2");
    transient(s, "w3");
    wait_for_holder(s, "alerts", "b", WITHIN);
    let took = killed.elapsed();
    b.wait_for(
        &["modified w1", "created w2", "created w3", "deleted w3"],
        WITHIN,
    );
    // A lease of 3 s, seen changed up to one retry (0.5 s) before the kill;
    // a real apiserver's writes add a little.
    assert!(took < Duration::from_secs(6), "takeover after {took:?}");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(b.seen().len(), 4, "nothing else: {:?}", b.seen());
}

#[test]
fn after_sigterm_the_standby_takes_over_at_once() {
    after_sigterm_the_standby_takes_over_at_once_on(&Scenario::new());
}

/// Told on both tiers (`real::ha` too).
pub(crate) fn after_sigterm_the_standby_takes_over_at_once_on(s: &dyn Cluster) {
    // client-go's own timings: waiting out the 15 s lease would show.
    let flags = ["--leader-elect", "--lease", "alerts"];
    let a = Replica::start(s, "a", None, &flags);
    wait_for_holder(s, "alerts", "a", WITHIN);
    let b = Replica::start(s, "b", None, &flags);
    std::thread::sleep(Duration::from_millis(500));
    let stopped = Instant::now();
    a.stop();
    wait_for_holder(s, "alerts", "b", WITHIN);
    let took = stopped.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "takeover after {took:?}: at the next retry (2 s)"
    );
    b.wait_watching(WITHIN);
    widget(s, "w1");
    b.wait_for(&["created w1"], WITHIN);
}

#[test]
fn a_holder_cut_off_stops_delivering_before_its_lease_can_be_taken() {
    let s = Scenario::new();
    let flags = ["--leader-elect", "--lease", "alerts"];
    let mut a = Replica::start(&s, "a", Some(FAST), &flags);
    wait_for_holder(&s, "alerts", "a", Duration::from_secs(10));
    s.wait_for_watch_matching("widgets?", &mut a.child);
    let mut b = Replica::start(&s, "b", Some(FAST), &flags);
    widget(&s, "w1");
    a.wait_for(&["created w1"], Duration::from_secs(10));
    // Frozen, a renews nothing; its watch keeps what comes meanwhile.
    a.signal(libc::SIGSTOP);
    let before = s.server.requests().len();
    wait_for_holder(&s, "alerts", "b", Duration::from_secs(10));
    // Without a checkpoint b starts from its own list: change w1 after it.
    s.wait_for_watch_since(before, "widgets?", &mut b.child);
    resize(&s, "w1", 2);
    b.wait_for(&["modified w1"], Duration::from_secs(10));
    a.signal(libc::SIGCONT);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        a.seen(),
        ["created w1"],
        "the cut-off holder delivered after its deadline"
    );
    assert!(
        a.stderr.lock().unwrap().contains("standby"),
        "{}",
        a.stderr.lock().unwrap()
    );
}

#[test]
fn a_restart_with_a_checkpoint_delivers_exactly_what_changed_while_down() {
    a_restart_with_a_checkpoint_delivers_what_changed_while_down(&Scenario::new());
}

/// Told on both tiers (`real::ha` too): the watch resumes from the
/// checkpoint's resourceVersion and the server replays every change, an
/// object created and deleted in the gap included.
pub(crate) fn a_restart_with_a_checkpoint_delivers_what_changed_while_down(s: &dyn Cluster) {
    widget(s, "kept");
    widget(s, "gone");
    let first = Replica::start(s, "a", None, &["--checkpoint", "state"]);
    first.wait_watching(WITHIN);
    let w = resize(s, "kept", 2);
    first.wait_for(&["modified kept"], WITHIN);
    wait_for_checkpoint(s, "state", &w);
    first.stop();

    resize(s, "kept", 3);
    s.delete_widget("gone");
    widget(s, "new");
    transient(s, "passing");

    let second = Replica::start(s, "a", None, &["--checkpoint", "state"]);
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

#[test]
fn a_checkpoint_older_than_the_servers_history_falls_back_to_list_and_compare() {
    a_checkpoint_older_than_the_history_falls_back_to_list_and_compare(&Scenario::new());
}

/// Told on both tiers (`real::ha` too, on a private control plane).
pub(crate) fn a_checkpoint_older_than_the_history_falls_back_to_list_and_compare(s: &dyn Cluster) {
    widget(s, "kept");
    widget(s, "gone");
    widget(s, "same");
    let first = Replica::start(s, "a", None, &["--checkpoint", "state"]);
    first.wait_watching(WITHIN);
    let w = resize(s, "kept", 2);
    first.wait_for(&["modified kept"], WITHIN);
    wait_for_checkpoint(s, "state", &w);
    first.stop();

    resize(s, "kept", 3);
    s.delete_widget("gone");
    widget(s, "new");
    transient(s, "passing");
    s.forget_history();

    let second = Replica::start(s, "a", None, &["--checkpoint", "state"]);
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

#[test]
fn both_flags_are_refused_in_wait_mode() {
    let s = Scenario::new();
    for flag in [&["--leader-elect"][..], &["--checkpoint", "state"]] {
        let mut args = vec!["widgets/w1", "--until", READY];
        args.extend_from_slice(flag);
        let out = s.run(&args);
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(stderr(&out).contains(flag[0]), "{}", stderr(&out));
        assert!(stderr(&out).contains("notify mode"), "{}", stderr(&out));
    }
}

#[test]
fn missing_rights_on_leases_or_configmaps_are_refused_at_start_naming_verb_and_resource() {
    let s = Scenario::new();
    s.server.add_user(
        "watcher",
        "watcher-token",
        vec![testserver::Rule {
            verbs: vec!["get".into(), "list".into(), "watch".into()],
            groups: vec!["example.com".into()],
            resources: vec!["widgets".into()],
            namespaces: vec![],
            names: vec![],
        }],
    );
    s.server
        .write_kubeconfig(&s.kubeconfig, "watcher-token", "default");
    let out = s.run(&[WIDGETS, "--all", "--leader-elect"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("forbidden to get leases.coordination.k8s.io"),
        "{}",
        stderr(&out)
    );
    let out = s.run(&[WIDGETS, "--all", "--checkpoint", "state"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("forbidden to get configmaps \"state\""),
        "{}",
        stderr(&out)
    );
}

/// What the receiver acknowledged, as `type name` per distinct `ce-id`, and
/// every id with the number of times it came.
fn acknowledged(hook: &Receiver) -> (Vec<String>, BTreeMap<String, usize>) {
    let mut changes = Vec::new();
    let mut ids = BTreeMap::new();
    for event in hook.delivered() {
        let id = event.header("ce-id").unwrap().to_string();
        let body = event.json();
        let seen = ids.entry(id).or_insert(0);
        if *seen == 0 {
            changes.push(format!(
                "{} {}",
                body["type"].as_str().unwrap(),
                body["name"].as_str().unwrap()
            ));
        }
        *seen += 1;
    }
    (changes, ids)
}

fn change_id(object: &Value, kind: &str) -> String {
    let meta = &object["metadata"];
    format!(
        "{}/{}/{kind}",
        meta["uid"].as_str().unwrap(),
        meta["resourceVersion"].as_str().unwrap()
    )
}

#[test]
fn changes_a_down_sink_never_acknowledged_are_delivered_by_the_standby_after_sigkill() {
    let s = Scenario::new();
    let hook = Receiver::start();
    let sink = format!("cloudevents:{}", hook.url());
    let flags = [
        "--leader-elect",
        "--lease",
        "alerts",
        "--checkpoint",
        "alerts",
        "--sink",
        &sink,
    ];
    let mut a = Replica::start(&s, "a", Some(FAST), &flags);
    wait_for_holder(&s, "alerts", "a", Duration::from_secs(10));
    s.wait_for_watch_matching("widgets?", &mut a.child);
    let b = Replica::start(&s, "b", Some(FAST), &flags);
    let w1 = widget(&s, "w1");
    a.wait_for(&["created w1"], Duration::from_secs(10));
    wait_for_checkpoint(&s, "alerts", &w1);

    // The sink is down: the holder prints these (stdout is no sink that
    // acknowledges), retries them, and must not checkpoint past them.
    hook.down();
    let w1b = resize(&s, "w1", 2);
    let w2 = widget(&s, "w2");
    transient(&s, "w3");
    a.wait_for(
        &[
            "created w1",
            "modified w1",
            "created w2",
            "created w3",
            "deleted w3",
        ],
        Duration::from_secs(10),
    );
    // Time for several checkpoint writes, had they counted printing.
    std::thread::sleep(Duration::from_millis(2500));
    a.signal(libc::SIGKILL);
    hook.up();

    wait_for_holder(&s, "alerts", "b", Duration::from_secs(10));
    let wanted = [
        "created w1",
        "modified w1",
        "created w2",
        "created w3",
        "deleted w3",
    ];
    let deadline = Instant::now() + Duration::from_secs(15);
    while acknowledged(&hook).0.len() < wanted.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (changes, ids) = acknowledged(&hook);
    assert_eq!(
        changes,
        wanted,
        "every change once at least; stderr of b: {}",
        b.stderr.lock().unwrap()
    );
    for (object, kind) in [(&w1, "created"), (&w1b, "modified"), (&w2, "created")] {
        assert!(ids.contains_key(&change_id(object, kind)), "{ids:?}");
    }
    assert_eq!(ids.len(), wanted.len(), "one id per change: {ids:?}");
}

/// `-n missing` with `--leader-elect` or `--checkpoint`: said once at start,
/// one line, exit 3, instead of a retry (and a dump of the server's answer)
/// every second.
#[test]
fn a_namespace_that_does_not_exist_is_said_once_at_start() {
    let s = Scenario::new();
    for (flags, why) in [
        (
            &["--leader-elect"][..],
            "--leader-elect keeps its Lease there",
        ),
        (
            &["--checkpoint", "cp"],
            "--checkpoint keeps its ConfigMap there",
        ),
    ] {
        let mut args = vec![WIDGETS, "--all", "-n", "missing", "-v", "--timeout", "20s"];
        args.extend_from_slice(flags);
        let started = Instant::now();
        let out = s.run(&args);
        let err = stderr(&out);
        assert_eq!(code(&out), 3, "{flags:?}: {err}");
        assert_eq!(
            err.lines().last().unwrap(),
            format!(
                "error: namespace \"missing\" not found: {why}; create it (kubectl create \
                 namespace missing) or choose another with -n"
            )
        );
        assert!(!err.contains("Status {"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10), "{flags:?}");
    }
}

/// SPEC §8: what waits in a `--hold` window is not delivered yet; a
/// checkpoint written meanwhile (or on the way out) must not count it, or
/// the alert is lost.
fn an_alert_still_in_its_hold_is_told_by_the_next_replica_after(signal: i32) {
    let s = Scenario::new();
    let hd3 = s.widget("hd3", json!({}), json!({"phase": "Running"}));
    let flags = [
        "--checkpoint",
        "cph3",
        "--when",
        ".status.phase == \"Failed\"",
        "--hold",
        "4s",
    ];
    let mut first = Replica::start(&s, "a", None, &flags);
    s.wait_for_watch_matching("widgets?", &mut first.child);
    wait_for_checkpoint(&s, "cph3", &hd3);
    s.set_status("hd3", json!({"phase": "Failed"}));
    // Checkpoints are written every second meanwhile.
    std::thread::sleep(Duration::from_millis(2500));
    first.signal(signal);
    let _ = first.child.wait();
    assert!(first.seen().is_empty(), "{:?}", first.seen());

    let second = Replica::start(&s, "a", None, &flags);
    second.wait_for(&["modified hd3"], Duration::from_secs(15));
}

#[test]
fn an_alert_still_in_its_hold_at_sigkill_is_told_by_the_next_replica() {
    an_alert_still_in_its_hold_is_told_by_the_next_replica_after(libc::SIGKILL);
}

#[test]
fn an_alert_still_in_its_hold_at_sigterm_is_told_by_the_next_replica() {
    an_alert_still_in_its_hold_is_told_by_the_next_replica_after(libc::SIGTERM);
}

/// What the receiver acknowledged, as `type name` in order (repeats kept).
fn told(hook: &Receiver) -> Vec<String> {
    hook.delivered()
        .iter()
        .map(|event| {
            let body = event.json();
            format!(
                "{} {}",
                body["type"].as_str().unwrap(),
                body["name"].as_str().unwrap()
            )
        })
        .collect()
}

/// At-least-once with `--resolve` (SPEC §12): a held firing told just
/// before a SIGKILL, before a checkpoint counted it (a second sink had not
/// acknowledged it), is replayed and held again by the next replica; the
/// object is deleted before that hold completes. The alert the receiver
/// holds must still be resolved (a resolution of an alert that may not have
/// fired is harmless; one left firing for ever is the failure). `args`
/// are given the two sinks' flags' values; `checkpointed` waits until the
/// checkpoint holds an object; the firing is of `hd` created failing
/// (`created`: the checkpoint did not know it), or of `hd` turning to fail;
/// `deleted`: it is deleted, else it recovers (stops meeting `--when`).
pub(crate) fn a_held_firing_told_just_before_a_sigkill_is_resolved_by_the_next_replica(
    s: &Scenario,
    args: impl Fn(&str, &str) -> Vec<String>,
    checkpointed: impl Fn(&Value),
    created: bool,
    deleted: bool,
) {
    let alerts = Receiver::start();
    let other = Receiver::start();
    let (to_alerts, to_other) = (
        format!("cloudevents:{}", alerts.url()),
        format!("cloudevents:{}", other.url()),
    );
    let args = args(&to_alerts, &to_other);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let known = s.create_widget(if created { "kept" } else { "hd" }, json!({"phase": "ok"}));
    let mut first = Replica::with_args(s, "a", None, &args);
    first.wait_watching(WITHIN);
    checkpointed(&known);
    other.down();
    let fired = match created {
        true => {
            s.create_widget("hd", json!({"phase": "Failed"}));
            "created hd"
        }
        false => {
            s.patch_widget("hd", json!({"spec": {"phase": "Failed"}}));
            "modified hd"
        }
    };
    // The hold completes: the firing goes out, the alert receiver takes it,
    // the other sink cannot: no checkpoint may count it.
    let deadline = Instant::now() + WITHIN;
    while told(&alerts).is_empty() {
        assert!(
            Instant::now() < deadline,
            "never fired: {}",
            first.stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    first.signal(libc::SIGKILL);
    let _ = first.child.wait();
    assert_eq!(told(&alerts), [fired]);
    other.up();

    let second = Replica::with_args(s, "b", None, &args);
    second.wait_said("resuming from checkpoint", WITHIN);
    // Its replayed hold (5 s) is still waiting.
    std::thread::sleep(Duration::from_millis(500));
    match deleted {
        true => s.delete_widget("hd"),
        false => _ = s.patch_widget("hd", json!({"spec": {"phase": "ok"}})),
    }
    let deadline = Instant::now() + WITHIN;
    while told(&alerts).len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        told(&alerts),
        [fired, "resolved hd"],
        "stderr of b: {}",
        second.stderr.lock().unwrap()
    );
}

/// `--when .spec.phase == "Failed" --hold 5s --resolve`, told to both sinks.
pub(crate) const HELD_ALERT: [&str; 5] = [
    "--when",
    ".spec.phase == \"Failed\"",
    "--hold",
    "5s",
    "--resolve",
];

/// A command line's `--hold --resolve` firing told just before a SIGKILL;
/// then the object is `deleted` (else it recovers).
fn a_command_lines_held_firing_is_resolved_after_a_sigkill(deleted: bool) {
    let s = Scenario::new();
    let args = |alerts: &str, other: &str| {
        let mut args = vec![WIDGETS, "--all", "-o", "json", "-v", "--checkpoint", "cpr"];
        args.extend(HELD_ALERT);
        args.extend(["--sink", alerts, "--sink", other]);
        args.into_iter().map(String::from).collect()
    };
    let checkpointed = |object: &Value| wait_for_checkpoint(&s, "cpr", object);
    a_held_firing_told_just_before_a_sigkill_is_resolved_by_the_next_replica(
        &s,
        args,
        checkpointed,
        false,
        deleted,
    );
}

#[test]
fn a_held_firing_told_just_before_a_sigkill_is_resolved_by_the_next_replica_after_a_deletion() {
    a_command_lines_held_firing_is_resolved_after_a_sigkill(true);
}

/// The same, the object recovering instead (`--when` no longer holds).
#[test]
fn a_held_firing_told_just_before_a_sigkill_is_resolved_by_the_next_replica_after_a_recovery() {
    a_command_lines_held_firing_is_resolved_after_a_sigkill(false);
}

/// SPEC §8: the newest state, waiting in a `--throttle` window, is not
/// delivered yet; after a SIGKILL the next replica delivers it.
#[test]
fn a_state_still_in_its_throttle_window_when_the_replica_died_is_told_by_the_next() {
    let s = Scenario::new();
    widget(&s, "t1");
    let flags = ["--checkpoint", "cpt", "--throttle", "6s"];
    let mut first = Replica::start(&s, "a", None, &flags);
    s.wait_for_watch_matching("widgets?", &mut first.child);
    let told = resize(&s, "t1", 2);
    first.wait_for(&["modified t1"], Duration::from_secs(10));
    wait_for_checkpoint(&s, "cpt", &told);
    resize(&s, "t1", 3);
    // Checkpoints are written every second meanwhile.
    std::thread::sleep(Duration::from_millis(2500));
    first.signal(libc::SIGKILL);
    let _ = first.child.wait();

    // Inside the window the new replica opened when it started.
    let second = Replica::start(&s, "a", None, &flags);
    second.wait_for(&["modified t1"], Duration::from_secs(20));
    let told = second.lines.lock().unwrap()[0].clone();
    assert_eq!(told["object"]["spec"]["size"], 3, "{told}");
}

/// README: a `modified` notification carries its changes — after resuming
/// from a checkpoint too, at least the `--on-change` paths, old → new.
#[test]
fn after_a_restart_a_modification_shows_its_on_change_paths_old_to_new() {
    let s = Scenario::new();
    let w = widget(&s, "w");
    let flags = ["--checkpoint", "oc", "--on-change", ".spec.size"];
    let mut first = Replica::start(&s, "a", None, &flags);
    s.wait_for_watch_matching("widgets?", &mut first.child);
    wait_for_checkpoint(&s, "oc", &w);
    first.stop();

    resize(&s, "w", 2);
    let second = Replica::start(&s, "a", None, &flags);
    second.wait_for(&["modified w"], Duration::from_secs(10));
    let told = second.lines.lock().unwrap()[0].clone();
    assert_eq!(
        told["changes"],
        json!([{"path": ".spec.size", "pointer": "/spec/size", "old": 1, "new": 2}]),
        "{told}"
    );
}

/// Two rules given one `--checkpoint` name would overwrite each other's
/// state every second; the second to start is refused, naming both.
#[test]
fn a_checkpoint_of_another_rule_is_refused_at_start_naming_both() {
    let s = Scenario::new();
    let w = widget(&s, "w");
    let mut first = Replica::start(&s, "a", None, &["--checkpoint", "shared"]);
    s.wait_for_watch_matching("widgets?", &mut first.child);
    wait_for_checkpoint(&s, "shared", &w);
    let out = s.run(&[
        "configmaps",
        "--all",
        "--checkpoint",
        "shared",
        "--timeout",
        "5s",
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("another rule (widgets.example.com --all in default)"),
        "{err}"
    );
    assert!(
        err.contains("this rule is configmaps --all in default"),
        "{err}"
    );
    assert!(err.contains("its own --checkpoint name"), "{err}");
    first.stop();
    // The first rule's checkpoint is still its own.
    wait_for_checkpoint(&s, "shared", &w);
}

/// SPEC §12, nothing missed across restarts: a replica killed after telling
/// of a new object but before a checkpoint held it; the server restarts
/// (its watch history lost, as kube-apiserver's watch cache) and the object
/// is deleted meanwhile. The next replica resumes, gets 410, re-lists: it
/// must tell the deletion (the checkpoint announced the object before its
/// creation went out), with the deletion's id.
#[test]
fn an_object_told_but_not_yet_checkpointed_at_sigkill_and_deleted_while_the_history_was_lost_is_told_deleted()
 {
    let s = Scenario::new();
    let kept = widget(&s, "kept");
    let mut first = Replica::start(&s, "a", None, &["--checkpoint", "gap"]);
    first.wait_watching(WITHIN);
    wait_for_checkpoint(&s, "gap", &kept);
    // Past the one write a second: the next delivery is written at once.
    std::thread::sleep(Duration::from_millis(1200));
    let kept = resize(&s, "kept", 2);
    first.wait_for(&["modified kept"], WITHIN);
    wait_for_checkpoint(&s, "gap", &kept);
    // Within the second after that write: told, not yet checkpointed.
    let a = widget(&s, "a");
    let uid = a["metadata"]["uid"].as_str().unwrap().to_string();
    let created = Instant::now();
    while !first.seen().contains(&"created a".to_string()) {
        assert!(created.elapsed() < WITHIN, "{:?}", first.seen());
        std::thread::sleep(Duration::from_millis(2));
    }
    first.signal(libc::SIGKILL);
    let _ = first.child.wait();
    let stored = s.server.get("configmaps", Some("default"), "gap").unwrap();
    let checkpoint: Value =
        serde_json::from_str(stored["data"]["checkpoint.json"].as_str().unwrap()).unwrap();
    let holds = checkpoint["targets"]
        .as_object()
        .unwrap()
        .values()
        .any(|t| t["objects"].get(&uid).is_some());
    assert!(
        !holds,
        "the story needs a checkpoint without a: {checkpoint}"
    );

    s.server.restart(Duration::from_millis(200));
    s.delete_widget("a");
    // Back up after its 200 ms down.
    std::thread::sleep(Duration::from_millis(600));
    let hook = Receiver::start();
    let sink = format!("cloudevents:{}", hook.url());
    let second = Replica::start(&s, "b", None, &["--checkpoint", "gap", "--sink", &sink]);
    let deadline = Instant::now() + WITHIN;
    while acknowledged(&hook).0.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let (changes, ids) = acknowledged(&hook);
    let stderr = second.stderr.lock().unwrap().clone();
    assert_eq!(changes, ["deleted a"], "stderr of b: {stderr}");
    assert!(ids.contains_key(&format!("{uid}/deleted")), "{ids:?}");
    assert!(stderr.contains("re-listing"), "{stderr}");
}

/// The same targets in another order (`cm b a`, or `-f` files reordered)
/// are the same rule: its checkpoint is taken back, not refused.
#[test]
fn a_checkpoint_of_the_same_targets_in_another_order_is_the_rules_own() {
    let s = Scenario::new();
    for name in ["a", "b"] {
        s.server.create(
            "configmaps",
            Some("default"),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}),
        );
    }
    let run = |names: [&str; 2]| {
        s.run(&[
            "configmaps",
            names[0],
            names[1],
            "--checkpoint",
            "ordered",
            "--timeout",
            "2s",
        ])
    };
    let first = run(["b", "a"]);
    let stored = s
        .server
        .get("configmaps", Some("default"), "ordered")
        .expect("the first run wrote its checkpoint");
    assert!(
        stored["data"]["checkpoint.json"]
            .as_str()
            .unwrap()
            .contains(r#""rule":"configmap/b in default, configmap/a in default""#),
        "{stored}"
    );
    let again = run(["a", "b"]);
    assert_eq!(code(&again), code(&first), "{}", stderr(&again));
    assert!(
        !stderr(&again).contains("another rule"),
        "{}",
        stderr(&again)
    );
}

/// `--count N` counts across a failover: the checkpoint keeps how many
/// notifications were told, and the replica that takes over counts on from
/// there — after 2 of 3 told by the holder, it tells the third and ends.
#[test]
fn count_goes_on_from_the_checkpoint_after_a_failover() {
    let s = Scenario::new();
    let flags = [
        "--leader-elect",
        "--lease",
        "alerts",
        "--checkpoint",
        "alerts",
        "--count",
        "3",
    ];
    let a = Replica::start(&s, "a", Some(FAST), &flags);
    wait_for_holder(&s, "alerts", "a", WITHIN);
    a.wait_watching(WITHIN);
    let mut b = Replica::start(&s, "b", Some(FAST), &flags);
    std::thread::sleep(Duration::from_millis(500));
    widget(&s, "w1");
    let w2 = widget(&s, "w2");
    a.wait_for(&["created w1", "created w2"], WITHIN);
    wait_for_checkpoint(&s, "alerts", &w2);

    a.signal(libc::SIGKILL);
    wait_for_holder(&s, "alerts", "b", WITHIN);
    widget(&s, "w3");
    b.wait_for(&["created w3"], WITHIN);
    let status = b.wait_exit(WITHIN, "b still running after the third notification of 3");
    assert_eq!(status.code(), Some(0), "{}", b.stderr.lock().unwrap());
    assert_eq!(b.seen(), ["created w3"]);
}

/// A ConfigMap of the test's namespace.
pub(crate) fn config_map(s: &dyn Cluster, name: &str) -> Value {
    s.create_object(
        "configmaps",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": name, "namespace": "default"}, "data": {"k": "v"}}),
    )
}

/// The notifier's own checkpoint is not a rule's object: a rule watching
/// every ConfigMap is told of the one a user changed, not of the
/// checkpoint written after it (before, each write was told, and each
/// telling made the next write: a line a second, for ever).
#[test]
fn a_rule_watching_configmaps_is_not_told_of_its_own_checkpoint() {
    let s = Scenario::new();
    let args = [
        "configmaps",
        "--all",
        "--checkpoint",
        "c2",
        "-o",
        "name",
        "--timeout",
        "5s",
    ];
    let run = crate::cluster::Watching::start(&s, &args, 1);
    config_map(&s, "other");
    let out = run.finish(WITHIN);
    assert_eq!(stdout(&out), "configmap/other\n", "{}", stderr(&out));
    assert!(
        s.get("configmaps", "c2").is_some(),
        "the checkpoint was kept"
    );
}

/// Nor is its own Lease: a rule watching leases under `--leader-elect`
/// is told of another Lease, not of its renewals (twice a second here).
#[test]
fn a_rule_watching_leases_is_not_told_of_its_own_lease_renewals() {
    let s = Scenario::new();
    let mut cmd = s.notify(&[
        "leases",
        "--all",
        "--leader-elect",
        "--lease",
        "l1",
        "-o",
        "name",
        "-v",
        "--timeout",
        "6s",
    ]);
    cmd.env("POD_NAME", "a")
        .env("KUBECTL_NOTIFY_LEASE_TIMINGS", FAST);
    let mut run = crate::cluster::Watching::of(cmd.spawn().unwrap());
    run.said("list complete, watching", WITHIN);
    s.create_object(
        LEASES,
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
               "metadata": {"name": "other", "namespace": "default"},
               "spec": {"holderIdentity": "someone"}}),
    );
    let out = run.finish(WITHIN);
    assert_eq!(
        stdout(&out),
        "lease.coordination.k8s.io/other\n",
        "{}",
        stderr(&out)
    );
}

/// Only the checkpoint itself: a ConfigMap of its name in another
/// namespace is a rule's object like any other.
#[test]
fn a_configmap_named_as_the_checkpoint_in_another_namespace_is_told() {
    let s = Scenario::new();
    let args = [
        "configmaps",
        "--all",
        "-A",
        "--checkpoint",
        "c2",
        "-o",
        "name",
        "--timeout",
        "4s",
    ];
    let run = crate::cluster::Watching::start(&s, &args, 1);
    s.server.create(
        "configmaps",
        Some("t2"),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "c2", "namespace": "t2"}, "data": {"k": "v"}}),
    );
    let out = run.finish(WITHIN);
    assert_eq!(stdout(&out), "configmap/c2\n", "{}", stderr(&out));
}

/// `--throttle` with `--checkpoint`: the change a SIGTERM flushes out of
/// its window is in the last checkpoint, so the next run does not tell it
/// again.
#[test]
fn a_throttled_change_flushed_at_sigterm_is_not_told_again_by_the_next_run() {
    let s = Scenario::new();
    widget(&s, "s1");
    let extra = ["--throttle", "5s", "--checkpoint", "thr1"];
    let first = Replica::start(&s, "a", None, &extra);
    first.wait_watching(WITHIN);
    std::thread::sleep(Duration::from_millis(1200));
    let one = resize(&s, "s1", 2);
    std::thread::sleep(Duration::from_millis(500));
    let two = resize(&s, "s1", 3);
    std::thread::sleep(Duration::from_millis(1500));
    let version = |o: &Value| {
        o["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let told = |r: &Replica| -> Vec<String> {
        r.lines()
            .iter()
            .map(|l| {
                format!(
                    "{}@{}",
                    l["name"].as_str().unwrap(),
                    l["resourceVersion"].as_str().unwrap()
                )
            })
            .collect()
    };
    let stderr = first.stderr.clone();
    let lines = first.lines.clone();
    first.stop();
    std::thread::sleep(Duration::from_millis(200));
    let said: Vec<String> = lines
        .lock()
        .unwrap()
        .iter()
        .map(|l| {
            format!(
                "{}@{}",
                l["name"].as_str().unwrap(),
                l["resourceVersion"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        said,
        [
            format!("s1@{}", version(&one)),
            format!("s1@{}", version(&two))
        ],
        "the first run: the change, then the window's last at exit; stderr: {}",
        stderr.lock().unwrap()
    );
    let second = Replica::start(&s, "b", None, &extra);
    second.wait_said("resuming from checkpoint", WITHIN);
    // Past a throttle window: a change replayed at the start may wait one.
    std::thread::sleep(Duration::from_millis(6000));
    assert_eq!(
        told(&second),
        Vec::<String>::new(),
        "told again by the next run; stderr: {}",
        second.stderr.lock().unwrap()
    );
}

/// A run resumed from a checkpoint whose type the server no longer serves
/// (its CRD deleted meanwhile) ends as a first start would — exit 2, the
/// type named — instead of retrying for ever as a watch whose type went
/// away while it ran.
#[test]
fn a_run_resumed_from_a_checkpoint_ends_when_its_type_is_no_longer_served() {
    let s = Scenario::new();
    let w1 = widget(&s, "w1");
    let first = Replica::start(&s, "a", None, &["--checkpoint", "gone"]);
    first.wait_watching(WITHIN);
    wait_for_checkpoint(&s, "gone", &w1);
    first.signal(libc::SIGTERM);
    s.server.remove_crd("example.com", "widgets");

    let mut second = Replica::start(&s, "b", None, &["--checkpoint", "gone"]);
    let status = second.wait_exit(WITHIN, "still running on a type no longer served");
    let said = second.stderr.lock().unwrap().clone();
    assert_eq!(status.code(), Some(2), "{said}");
    assert!(said.contains("unknown resource type"), "{said}");
}
