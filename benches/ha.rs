//! Several replicas, whole process: the real binary against the test server.
//! Prints how long a standby takes to deliver after the holder is SIGKILLed
//! and after it is SIGTERMed (client-go's timings: 15 s lease, 2 s retry),
//! and the checkpoint's size and write rate at 5,000 objects under a steady
//! stream of changes. Run: `cargo bench --bench ha` (about two minutes).

#[path = "common/setting.rs"]
mod setting;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use setting::{Setting, setting};

const WIDGETS: &str = "widgets.example.com";
const OBJECTS: usize = 5_000;

/// One replica, counting the notifications it prints.
struct Replica {
    child: Child,
    printed: Arc<AtomicUsize>,
}

impl Setting {
    fn replica(&self, name: &str, args: &[&str]) -> Replica {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kubectl-notify"))
            .args([WIDGETS, "--all", "-o", "json"])
            .args(args)
            .env("KUBECONFIG", self.dir.path().join("config"))
            .env("HOME", self.dir.path())
            .env("POD_NAME", name)
            .env_remove("KUBECTL_NOTIFY_LEASE_TIMINGS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let printed = Arc::new(AtomicUsize::new(0));
        let count = printed.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for _ in BufReader::new(stdout).lines().map_while(Result::ok) {
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        Replica { child, printed }
    }

    fn holder(&self, lease: &str) -> Option<String> {
        let lease = self
            .server
            .get("leases.coordination.k8s.io", Some("default"), lease)?;
        lease["spec"]["holderIdentity"].as_str().map(String::from)
    }

    fn wait(&self, what: &str, within: Duration, mut done: impl FnMut() -> bool) -> Duration {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < within, "{what}: not within {within:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
        start.elapsed()
    }

    fn widget(&self, name: &str, n: usize) -> Value {
        self.server.create(
            WIDGETS,
            Some("default"),
            json!({"apiVersion": "example.com/v1", "kind": "Widget",
                   "metadata": {"name": name, "namespace": "default"}, "spec": {"n": n}}),
        )
    }

    fn checkpoint(&self, name: &str) -> Option<String> {
        let map = self.server.get("configmaps", Some("default"), name)?;
        map["data"]["checkpoint.json"].as_str().map(String::from)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// From the signal to the standby holding the lease, and to the standby's
/// first delivery of a change made at the signal.
fn takeover(signal: i32) -> (Duration, Duration) {
    let s = setting();
    let flags = [
        "--leader-elect",
        "--lease",
        "bench",
        "--checkpoint",
        "bench",
    ];
    let a = s.replica("a", &flags);
    s.wait("a holds", Duration::from_secs(30), || {
        s.holder("bench").as_deref() == Some("a")
    });
    let b = s.replica("b", &flags);
    s.wait("a checkpoints", Duration::from_secs(30), || {
        s.checkpoint("bench").is_some_and(|c| c.contains("widgets"))
    });
    std::thread::sleep(Duration::from_secs(1));
    unsafe { libc::kill(a.child.id() as i32, signal) };
    let signalled = Instant::now();
    s.widget("after", 1);
    s.wait("b holds", Duration::from_secs(40), || {
        s.holder("bench").as_deref() == Some("b")
    });
    let held = signalled.elapsed();
    s.wait("b delivers", Duration::from_secs(40), || {
        b.printed.load(Ordering::SeqCst) >= 1
    });
    (held, signalled.elapsed())
}

fn takeovers(label: &str, signal: i32, runs: usize) -> Vec<(Duration, Duration)> {
    let mut all: Vec<_> = (0..runs).map(|_| takeover(signal)).collect();
    all.sort();
    let ms = |d: Duration| d.as_millis();
    let delivered: Vec<_> = all.iter().map(|(_, d)| ms(*d)).collect();
    println!(
        "takeover after {label} ({runs} runs): lease held by the standby after {} ms (median), \
         first delivery after {} ms (median); delivery min {} ms, max {} ms",
        ms(all[runs / 2].0),
        delivered[runs / 2],
        delivered.iter().min().unwrap(),
        delivered.iter().max().unwrap()
    );
    all
}

/// 5,000 objects, a change to one of them every 2 ms for 10 s: the
/// checkpoint's size and how often it is written.
fn checkpoint_at_5000() {
    let s = setting();
    for i in 0..OBJECTS {
        s.widget(&format!("w{i:04}"), 0);
    }
    let one = s.replica("a", &["--checkpoint", "bench", "-q"]);
    s.wait("first checkpoint", Duration::from_secs(60), || {
        s.checkpoint("bench")
            .is_some_and(|c| c.matches("\"k\":").count() == OBJECTS)
    });
    let size = s.checkpoint("bench").unwrap().len() + "checkpoint.json".len();
    let writes = |s: &Setting| {
        s.server
            .requests()
            .iter()
            .filter(|r| r.method == "PUT" && r.path_and_query.contains("/configmaps/bench"))
            .count()
    };
    let before = writes(&s);
    let start = Instant::now();
    let window = Duration::from_secs(10);
    let mut changes = 0;
    while start.elapsed() < window {
        let name = format!("w{:04}", changes % OBJECTS);
        s.server.merge_patch(
            WIDGETS,
            Some("default"),
            &name,
            json!({"spec": {"n": changes + 1}}),
        );
        changes += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    let elapsed = start.elapsed().as_secs_f64();
    let written = writes(&s) - before;
    println!(
        "checkpoint at {OBJECTS} objects: {size} bytes ({:.0} bytes per object, {:.0}% of the \
         1 MiB ConfigMap limit); {changes} changes in {elapsed:.1} s ({:.0}/s): {written} writes \
         ({:.2} per second, {:.0} KB/s to the apiserver)",
        size as f64 / OBJECTS as f64,
        size as f64 * 100.0 / 1_048_576.0,
        changes as f64 / elapsed,
        written as f64 / elapsed,
        (written * size) as f64 / elapsed / 1000.0
    );
    drop(one);
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not, and
    // a minute of lease expiries is no test.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    takeovers("SIGTERM", libc::SIGTERM, 5);
    takeovers("SIGKILL", libc::SIGKILL, 3);
    checkpoint_at_5000();
}
