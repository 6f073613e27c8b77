//! `--rules`: 50 rules over 10 types (2,000 objects) in one process against
//! one rule over the same 10 types (the same objects, the same events, one
//! rule reading each), and against one rule over one type, on the project's
//! test server: peak RSS, watches opened, CPU per watch event, and requests
//! made by a reload of an unchanged file. `cargo bench --bench rules`
//! (`-- --quick`: fewer updates).
//!
//! Figures are read from /proc while the child runs (VmHWM, schedstat),
//! so this process's own size never counts in the child's.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use testserver::{Options, TestServer};

/// Each type with the API group and version objects of it are written in.
const TYPES: &[(&str, &str, &str)] = &[
    ("configmaps", "v1", "ConfigMap"),
    ("pods", "v1", "Pod"),
    ("events", "v1", "Event"),
    ("deployments.apps", "apps/v1", "Deployment"),
    ("statefulsets.apps", "apps/v1", "StatefulSet"),
    ("daemonsets.apps", "apps/v1", "DaemonSet"),
    ("replicasets.apps", "apps/v1", "ReplicaSet"),
    ("jobs.batch", "batch/v1", "Job"),
    (
        "leases.coordination.k8s.io",
        "coordination.k8s.io/v1",
        "Lease",
    ),
    ("events.events.k8s.io", "events.k8s.io/v1", "Event"),
];
const PER_TYPE: usize = 200;
const NAMESPACE: &str = "default";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    if !quick && !args.iter().any(|a| a == "--bench") {
        eprintln!("rules bench: run it with `cargo bench --bench rules`");
        return;
    }
    // RULES_UPDATES: another count, e.g. two counts under callgrind, whose
    // difference in instructions is the updates' alone. 10,000 by default:
    // CPU per event over 2,000 moved by half from run to run.
    let updates = std::env::var("RULES_UPDATES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if quick { 1_000 } else { 10_000 });
    // HTTPS: a bearer token is sent over TLS only.
    let server = TestServer::start_with(Options {
        tls: true,
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig, TestServer::ADMIN_TOKEN, NAMESPACE);
    for (resource, api_version, kind) in TYPES {
        for i in 0..PER_TYPE {
            server.create(
                resource,
                Some(NAMESPACE),
                json!({"apiVersion": api_version, "kind": kind,
                       "metadata": {"name": format!("o-{i}"), "labels": {"n": "0"}}}),
            );
        }
    }
    let types = TYPES.len();
    let runs = [
        measure(
            &server,
            dir.path(),
            &kubeconfig,
            &rules(1, 1),
            1,
            updates,
            1,
        ),
        measure(
            &server,
            dir.path(),
            &kubeconfig,
            &one_rule_over(TYPES),
            types,
            updates,
            2,
        ),
        measure(
            &server,
            dir.path(),
            &kubeconfig,
            &rules(types, 1),
            types,
            updates,
            3,
        ),
        measure(
            &server,
            dir.path(),
            &kubeconfig,
            &rules(50, 5),
            types,
            updates,
            4,
        ),
    ];
    let [one, all, each, fifty] = &runs;
    println!(
        "| figure | 1 rule, 1 type | 1 rule, 10 types | 10 rules, 1 per type | 50 rules, 5 per type | 50 ÷ 1 rule, 10 types | 50 ÷ 1 rule, 1 type |"
    );
    println!("|---|---|---|---|---|---|---|");
    let row = |figure: &str, value: &dyn Fn(&Figures) -> f64, unit: &str| {
        println!(
            "| {figure} | {:.1} {unit} | {:.1} {unit} | {:.1} {unit} | {:.1} {unit} | {:.2}× | {:.2}× |",
            value(one),
            value(all),
            value(each),
            value(fifty),
            value(fifty) / value(all),
            value(fifty) / value(one)
        );
    };
    row("peak RSS", &|f| f.peak_kib as f64 / 1024.0, "MiB");
    row("CPU per watch event", &|f| f.cpu_per_event_us, "µs");
    println!(
        "| watches opened | {} | {} | {} | {} | | |",
        one.watches, all.watches, each.watches, fifty.watches
    );
    println!(
        "| requests on an unchanged reload | {} | {} | {} | {} | | |",
        one.reload_requests, all.reload_requests, each.reload_requests, fifty.reload_requests
    );
}

/// One rule over every type given, with the first rule's `--when`.
fn one_rule_over(types: &[(&str, &str, &str)]) -> String {
    let resources: Vec<&str> = types.iter().map(|(resource, _, _)| *resource).collect();
    format!(
        "rules:\n  - name: r0\n    args: \"{} --all -q --when '.metadata.labels.n == \\\"1\\\"'\"\n",
        resources.join(",")
    )
}

/// `n` rules, `per_type` of each type in turn, each with its own `--when`.
fn rules(n: usize, per_type: usize) -> String {
    let mut yaml = String::from("rules:\n");
    for i in 0..n {
        let (resource, _, _) = TYPES[i / per_type % TYPES.len()];
        yaml.push_str(&format!(
            "  - name: r{i}\n    args: \"{resource} --all -q --when '.metadata.labels.n == \\\"{}\\\"'\"\n",
            i % 5 + 1
        ));
    }
    yaml
}

struct Figures {
    peak_kib: u64,
    watches: usize,
    cpu_per_event_us: f64,
    reload_requests: usize,
}

fn measure(
    server: &TestServer,
    dir: &Path,
    kubeconfig: &Path,
    yaml: &str,
    types: usize,
    updates: usize,
    run: usize,
) -> Figures {
    let file = dir.join("rules.yaml");
    std::fs::write(&file, yaml).unwrap();
    let before = server.requests().len();
    // KUBECTL_NOTIFY measures another build (a before/after pair).
    let program = std::env::var_os("KUBECTL_NOTIFY")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_kubectl-notify").into());
    let child = Command::new(program)
        .arg("--rules")
        .arg(&file)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let watching = |server: &TestServer| {
        server
            .requests()
            .iter()
            .skip(before)
            .filter(|r| r.path_and_query.contains("watch="))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while watching(server) < types {
        assert!(Instant::now() < deadline, "the rules never watched");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let cpu_before = cpu_ns(&child);
    for u in 0..updates {
        let (resource, _, _) = TYPES[u % types];
        let name = format!("o-{}", u / types % PER_TYPE);
        server.merge_patch(
            resource,
            Some(NAMESPACE),
            &name,
            // `run` makes every patch a change, whatever the runs before set.
            json!({"metadata": {"labels": {"n": format!("{}", u % 6), "run": run.to_string()}}}),
        );
    }
    let cpu_after = idle(&child);
    let watches = watching(server);
    let quiet_from = server.requests().len();
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    std::thread::sleep(Duration::from_millis(1500));
    let reload_requests = server.requests().len() - quiet_from;
    let peak_kib = peak_kib(&child);
    finish(child);
    Figures {
        peak_kib,
        watches,
        cpu_per_event_us: (cpu_after - cpu_before) as f64 / 1e3 / updates as f64,
        reload_requests,
    }
}

/// The child's CPU time once it has caught up with the updates: it stays
/// still for 300 ms (a slow child, under callgrind say, may lag seconds).
fn idle(child: &Child) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = cpu_ns(child);
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = cpu_ns(child);
        if now - last < 1_000_000 || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

/// CPU time (ns) the child's threads have run so far: schedstat's first
/// field, to the nanosecond (utime and stime count 10 ms ticks, too coarse
/// for a few thousand events of some µs).
fn cpu_ns(child: &Child) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{}/task", child.id())).unwrap();
    tasks
        .filter_map(|task| {
            let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
            stat.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum()
}

fn peak_kib(child: &Child) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn finish(mut child: Child) {
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}
