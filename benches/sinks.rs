//! Sinks, whole process: the real binary against the test server, delivering
//! to a local webhook receiver, to a local nats-server with JetStream and to
//! a local Kafka-protocol broker (tansu).
//! Prints notifications per second, the delay from a change (the status
//! PATCH returning) to its receipt, and peak RSS with 10,000 notifications
//! queued behind a dead sink. Run: `cargo bench --bench sinks`.

#[path = "../tests/it/receiver.rs"]
#[allow(dead_code)]
mod receiver;

#[path = "../tests/it/tansu.rs"]
#[allow(dead_code)]
mod tansu;

#[path = "common/setting.rs"]
mod setting;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use setting::{Setting, setting};

const WIDGETS: &str = "widgets.example.com";
const UPDATES: usize = 2_000;

impl Setting {
    fn notify(&self, args: &[&str], sink_url: &str) -> Child {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kubectl-notify"))
            .args(args)
            .env("KUBECONFIG", self.dir.path().join("config"))
            .env("HOME", self.dir.path())
            .env("SINK", sink_url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self
            .server
            .requests()
            .iter()
            .any(|r| r.path_and_query.contains("watch="))
        {
            assert!(Instant::now() < deadline, "never watched");
            assert!(child.try_wait().unwrap().is_none(), "exited early");
            std::thread::sleep(Duration::from_millis(10));
        }
        child
    }

    fn widget(&self, name: &str) {
        self.server.create(
            WIDGETS,
            Some("default"),
            json!({"apiVersion": "example.com/v1", "kind": "Widget",
                   "metadata": {"name": name, "namespace": "default"}, "spec": {}}),
        );
    }

    /// `UPDATES` status changes to one widget; when each PATCH returned.
    fn updates(&self) -> Vec<Instant> {
        (0..UPDATES)
            .map(|n| {
                self.server.patch_status(
                    WIDGETS,
                    Some("default"),
                    "foo",
                    json!({"status": {"n": n}}),
                );
                Instant::now()
            })
            .collect()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn report(what: &str, sent: &[Instant], received: &[(usize, Instant)], end: Instant) {
    let mut delays: Vec<Duration> = received.iter().map(|(n, at)| *at - sent[*n]).collect();
    delays.sort();
    let rate = received.len() as f64 / (end - sent[0]).as_secs_f64();
    println!(
        "{what}: {} notifications, {rate:.0}/s; delay p50 {:.2} ms, p99 {:.2} ms",
        received.len(),
        percentile(&delays, 0.5).as_secs_f64() * 1e3,
        percentile(&delays, 0.99).as_secs_f64() * 1e3,
    );
}

fn webhook() {
    let s = setting();
    let hook = receiver::Receiver::start();
    s.widget("foo");
    let count = UPDATES.to_string();
    let child = s.notify(
        &[
            "widgets",
            "--all",
            "-q",
            "--count",
            &count,
            "--sink",
            "webhook:env:SINK",
        ],
        &hook.url(),
    );
    let sent = s.updates();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let received: Vec<(usize, Instant)> = hook
        .delivered()
        .iter()
        .map(|r| {
            (
                r.json()["object"]["status"]["n"].as_u64().unwrap() as usize,
                r.at,
            )
        })
        .collect();
    let end = received.last().unwrap().1;
    report("webhook", &sent, &received, end);
}

fn jetstream() {
    let Some(nats) = Nats::start() else {
        println!("jetstream: skipped (no nats-server on PATH)");
        return;
    };
    let url = nats.url.clone();
    // A subscriber stamps each message as it arrives; the stream acks it.
    let stamps = nats.subscribe(|body| body["object"]["status"]["n"].as_u64().unwrap());
    let s = setting();
    s.widget("foo");
    let count = UPDATES.to_string();
    let child = s.notify(
        &[
            "widgets",
            "--all",
            "-q",
            "--count",
            &count,
            "--sink",
            "nats:env:SINK",
        ],
        &format!("{url}/bench.widgets"),
    );
    let sent = s.updates();
    let out = child.wait_with_output().unwrap();
    let end = Instant::now();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let received: Vec<(usize, Instant)> = (0..UPDATES)
        .map(|_| {
            let (n, at) = stamps.recv_timeout(Duration::from_secs(30)).unwrap();
            (n as usize, at)
        })
        .collect();
    report("jetstream (acked; rate until exit)", &sent, &received, end);
}

/// Each record acknowledged (`acks=all`): the binary says so at `-vv`, and
/// each such line is stamped as it arrives; librdkafka then reads them all
/// back to check none is missing.
fn kafka() {
    let tansu_bin = std::env::var_os("TANSU").is_some()
        || std::env::var_os("HOME").is_some_and(|home| {
            Path::new(&home)
                .join(".cache/kubectl-notify/tansu-0.6.0/bin/tansu")
                .exists()
        });
    if !tansu_bin {
        println!("kafka: skipped (no tansu: scripts/tansu builds it)");
        return;
    }
    let broker = tansu::Tansu::start();
    broker.create_topic("widgets", 1);
    let s = setting();
    s.widget("foo");
    let count = UPDATES.to_string();
    let mut child = s.notify(
        &[
            "widgets",
            "--all",
            "-q",
            "-vv",
            "--count",
            &count,
            "--sink",
            "kafka:env:SINK",
        ],
        &format!("kafka://{}/widgets", broker.bootstrap()),
    );
    let stderr = child.stderr.take().unwrap();
    let stamper = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut acked = Vec::new();
        for line in std::io::BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if line.contains(": delivered ") && line.contains("kafka sink #1") {
                acked.push(Instant::now());
            }
        }
        acked
    });
    let sent = s.updates();
    let status = child.wait().unwrap();
    assert!(status.success());
    let acked = stamper.join().unwrap();
    // One per update, in order (the widget was there before the watch).
    let received: Vec<(usize, Instant)> = acked.iter().copied().enumerate().collect();
    let end = received.last().unwrap().1;
    report(
        "kafka (acks=all; rate until the last ack)",
        &sent,
        &received,
        end,
    );
    assert_eq!(received.len(), UPDATES, "acknowledgements missing");
    let stored = broker.read("widgets", UPDATES, 30);
    assert_eq!(stored.len(), UPDATES, "records missing in the broker");
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn queued_behind_a_dead_sink(sink: bool) {
    const OBJECTS: usize = 10_000;
    let s = setting();
    // A port that refuses: bound, then let go.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut args = vec!["widgets", "--all", "-q"];
    if sink {
        args.extend(["--sink", "webhook:env:SINK", "--flush-timeout", "1s"]);
    }
    let mut child = s.notify(&args, &format!("http://{dead}/hook"));
    for i in 0..OBJECTS {
        s.widget(&format!("w{i}"));
    }
    let mut peak = 0;
    // Settle: the watch has read every creation once the RSS stops growing.
    let mut still = 0;
    while still < 20 {
        let now = peak_rss_kib(child.id()).unwrap_or(0);
        if now > peak {
            peak = now;
            still = 0;
        } else {
            still += 1;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    stop(&mut child);
    println!(
        "{} {OBJECTS} creations: peak RSS {:.1} MiB",
        if sink {
            "queued behind a dead webhook,"
        } else {
            "no sink (baseline),"
        },
        peak as f64 / 1024.0
    );
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Paced, not a burst: `PACED_RATE` notifications a second for
/// `PACED_SECONDS`, round-robin over `PACED_OBJECTS` widgets, so a sink
/// keeps up or falls behind as in use. The delay is measured from each
/// event's arrival: the test server records when it handed the event to our
/// watch's connection (`record_sends`; loopback adds some µs), so the binary
/// carries no trace of its own.
const PACED_RATE: u32 = 5_000;
const PACED_SECONDS: u32 = 20;
const PACED_OBJECTS: usize = 1_000;

/// The nice value the load runs at: the pacing thread and the test
/// server's threads (the apiserver's part), not the receiver, the broker or
/// the stdout reader, whose stamps are the measure. On a machine of two
/// cores the load takes about a core; at the same priority it preempts the
/// binary, and the figure then says as much about the bench as about the
/// binary. `PACED_NICE=0`: everything at the same priority.
fn paced_nice() -> i32 {
    std::env::var("PACED_NICE")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10)
}

/// Lowers the priority of the calling thread and of the test server's
/// threads (a thread may always lower its own).
fn lower_the_load(nice: i32) {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return;
    };
    let me = unsafe { libc::gettid() };
    for task in tasks.flatten() {
        let Some(tid) = task
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<i32>().ok())
        else {
            continue;
        };
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let load =
            tid == me || comm.starts_with("tokio-rt-worker") || comm.starts_with("testserver");
        if load {
            unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) };
        }
    }
}

impl Setting {
    /// The paced status changes; the resourceVersion of each.
    fn paced_updates(&self) -> Vec<u64> {
        let period = Duration::from_secs(1) / PACED_RATE;
        let total = (PACED_RATE * PACED_SECONDS) as usize;
        let started = Instant::now();
        (0..total)
            .map(|k| {
                if let Some(wait) = (period * k as u32).checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
                let changed = self.server.patch_status(
                    WIDGETS,
                    Some("default"),
                    &format!("p{}", k % PACED_OBJECTS),
                    json!({"status": {"n": k}}),
                );
                resource_version(&changed)
            })
            .collect()
    }
}

fn resource_version(object: &serde_json::Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|rv| rv.parse().ok())
        .unwrap_or_default()
}

/// One paced run into `sink` (`webhook` or `nats`, at its URL), or with
/// none into stdout (`-o json`, each line stamped as it is read: the floor
/// of the delay, what the process adds before any sink); `received` gives
/// each delivered object's resourceVersion and when it was taken, from the
/// stdout stamps or the sink's receiver.
fn paced(
    what: &str,
    sink: Option<(&str, &str)>,
    received: impl FnOnce(Vec<(u64, Instant)>) -> Vec<(u64, Instant)>,
) {
    let s = setting();
    for i in 0..PACED_OBJECTS {
        s.widget(&format!("p{i}"));
    }
    s.server.record_sends();
    let total = (PACED_RATE * PACED_SECONDS) as usize;
    let count = total.to_string();
    let mut args = vec!["widgets", "--all", "--count", &count];
    let sink_flag = sink.map(|(kind, _)| format!("{kind}:env:SINK"));
    match &sink_flag {
        Some(flag) => args.extend(["-q", "--sink", flag]),
        None => args.extend(["-o", "json"]),
    }
    let mut child = s.notify(&args, sink.map_or("", |(_, url)| url));
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .map(|line| {
                let at = Instant::now();
                let line: serde_json::Value = serde_json::from_str(&line).unwrap();
                (resource_version(&line["object"]), at)
            })
            .collect::<Vec<_>>()
    });
    let started = Instant::now();
    // Paced from a thread of its own, so the main thread keeps its priority
    // for the threads it starts next.
    let nice = paced_nice();
    let sent = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                lower_the_load(nice);
                s.paced_updates()
            })
            .join()
            .unwrap()
    });
    let pacing = started.elapsed();
    // The binary's CPU time, whole process (its start and list included):
    // what the children reaped here used, before and after it is reaped.
    let before = children_cpu();
    let out = child.wait_with_output().unwrap();
    let cpu = children_cpu().saturating_sub(before);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = received(lines.join().unwrap());
    let timed: Vec<(Instant, Duration)> = got
        .iter()
        .filter_map(|(rv, at)| {
            let sent = s.server.sent_at(*rv)?;
            Some((sent, at.saturating_duration_since(sent)))
        })
        .collect();
    if let Some(dir) = std::env::var_os("PACED_TRACE") {
        trace(Path::new(&dir), what, started, &timed);
    }
    let mut delays: Vec<Duration> = timed.iter().map(|(_, delay)| *delay).collect();
    delays.sort();
    assert!(!delays.is_empty(), "{what}: nothing delivered was sent");
    let distinct: std::collections::HashSet<u64> = got.iter().map(|(rv, _)| *rv).collect();
    let missing = sent.iter().filter(|rv| !distinct.contains(rv)).count();
    let ms = |p: f64| percentile(&delays, p).as_secs_f64() * 1e3;
    let over = delays.partition_point(|d| *d <= Duration::from_millis(5));
    println!(
        "{what}, paced {PACED_RATE}/s for {PACED_SECONDS} s (achieved {:.0}/s; the load at nice {nice}): {} of {} delivered ({missing} missing or folded); delay from arrival p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms; {} over 5 ms; the binary's CPU {:.1} µs a notification",
        total as f64 / pacing.as_secs_f64(),
        distinct.len(),
        sent.len(),
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(0.999),
        delays.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        delays.len() - over,
        cpu.as_secs_f64() * 1e6 / total as f64,
    );
}

/// User and system CPU time of the children reaped so far.
fn children_cpu() -> Duration {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// `PACED_TRACE=DIR`: each delivered event's arrival (ms from the first
/// PATCH) and its delay (ms), a line each, in `DIR/<sink>.tsv`: whether the
/// slow ones come together (a stall) or spread out (a queue).
fn trace(dir: &Path, what: &str, started: Instant, timed: &[(Instant, Duration)]) {
    let name: String = what
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == ' ')
        .collect::<String>()
        .trim()
        .replace(' ', "-");
    // The first line: when the first PATCH went, in seconds since the epoch,
    // to set beside what else the machine was doing.
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_sub(started.elapsed());
    let mut lines = format!("# {:.6}\n", epoch.as_secs_f64());
    for (sent, delay) in timed {
        lines.push_str(&format!(
            "{:.3}\t{:.3}\n",
            sent.saturating_duration_since(started).as_secs_f64() * 1e3,
            delay.as_secs_f64() * 1e3
        ));
    }
    std::fs::write(dir.join(format!("{name}.tsv")), lines).unwrap();
}

fn paced_stdout() {
    paced("no sink, stdout (-o json)", None, |stamps| stamps);
}

fn paced_webhook() {
    let hook = receiver::Receiver::start();
    paced("webhook", Some(("webhook", &hook.url())), |_| {
        hook.delivered()
            .iter()
            .map(|r| (resource_version(&r.json()["object"]), r.at))
            .collect()
    });
}

fn paced_jetstream() {
    let Some(nats) = Nats::start() else {
        println!("jetstream (paced): skipped (no nats-server on PATH)");
        return;
    };
    let stamps = nats.subscribe(|body| resource_version(&body["object"]));
    let url = format!("{}/bench.widgets", nats.url);
    paced(
        "jetstream (a subscriber's receipt, just after the stream's ack)",
        Some(("nats", &url)),
        |_| stamps.try_iter().collect(),
    );
}

/// A nats-server with JetStream on a free port, and a stream `BENCH` on `bench.>`.
struct Nats {
    child: Child,
    url: String,
    _store: tempfile::TempDir,
}

impl Nats {
    fn start() -> Option<Nats> {
        Command::new("nats-server").arg("--version").output().ok()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let store = tempfile::tempdir().unwrap();
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Nats {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            _store: store,
        })
    }

    /// Creates the stream and subscribes to `bench.widgets`: each message's
    /// `key` (read from its body), stamped as it arrives (from a thread).
    fn subscribe(
        &self,
        key: fn(&serde_json::Value) -> u64,
    ) -> std::sync::mpsc::Receiver<(u64, Instant)> {
        let (tx, stamps) = std::sync::mpsc::channel();
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let url = self.url.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                use futures::StreamExt;
                let client = async_nats::connect(&url).await.unwrap();
                let js = async_nats::jetstream::new(client.clone());
                js.create_stream(async_nats::jetstream::stream::Config {
                    name: "BENCH".into(),
                    subjects: vec!["bench.>".into()],
                    ..Default::default()
                })
                .await
                .unwrap();
                let mut sub = client.subscribe("bench.widgets").await.unwrap();
                client.flush().await.unwrap();
                ready_tx.send(()).unwrap();
                while let Some(m) = sub.next().await {
                    let at = Instant::now();
                    let body: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
                    if tx.send((key(&body), at)).is_err() {
                        return;
                    }
                }
            });
        });
        ready.recv().unwrap();
        stamps
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // `BENCH_ONLY=paced`: only the paced runs from arrival (issue 28);
    // `BENCH_ONLY=paced:webhook` (or `:stdout`, `:jetstream`): only that one.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let paced_only = only == "paced" || only.starts_with("paced:");
    if !paced_only {
        webhook();
        jetstream();
    }
    let one = |name: &str| !only.starts_with("paced:") || only == format!("paced:{name}");
    if one("stdout") {
        paced_stdout();
    }
    if one("webhook") {
        paced_webhook();
    }
    if one("jetstream") {
        paced_jetstream();
    }
    if paced_only {
        return;
    }
    kafka();
    queued_behind_a_dead_sink(false);
    queued_behind_a_dead_sink(true);
}
