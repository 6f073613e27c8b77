//! The figures, each taken the same way for both tools: start-up on an
//! object that already holds, reaction to a change (beside a raw watch's),
//! and a fleet of objects under a stream of updates.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::bench::{Bench, NAMESPACE, REACT_OBJECT, READY_OBJECT, SCALE_LABEL, SETTLE, WIDGETS};
use crate::error::Result;
use crate::launcher::{Measured, Stdout, cpu_so_far_us, now_ns};
use crate::tools::Tool;
use crate::units::{mib, micros_per};

/// The RSS the launcher itself has when it starts a program: a child's peak
/// RSS can never read lower than this.
pub(crate) fn launcher_floor(b: &mut Bench) -> Result<u64> {
    let run = b
        .launcher
        .start("true", Path::new("/bin/true"), &[], Stdout::Null)?;
    Ok(run.wait_ok(Duration::from_secs(10))?.maxrss_kib)
}

/// Per tool, the measured runs of one figure.
#[derive(Default)]
pub(crate) struct Samples {
    pub(crate) notify: Vec<Measured>,
    pub(crate) kubectl: Vec<Measured>,
    /// The HTTP requests of each tool's last run: where its time goes.
    pub(crate) requests: Vec<(Tool, Vec<String>)>,
}

impl Samples {
    fn of(&mut self, tool: Tool) -> &mut Vec<Measured> {
        match tool {
            Tool::Notify => &mut self.notify,
            Tool::Kubectl => &mut self.kubectl,
        }
    }
}

/// The tools in the order of run `i`: alternating, so neither always goes first.
fn order(b: &Bench, i: usize) -> Vec<Tool> {
    let mut tools = vec![Tool::Notify];
    if b.tools.kubectl.is_some() {
        tools.push(Tool::Kubectl);
    }
    let k = tools.len();
    tools.rotate_left(i % k);
    tools
}

/// Already-true: process start → exit on an object that already holds.
pub(crate) fn already_true(b: &mut Bench) -> Result<Samples> {
    let mut samples = Samples::default();
    let total = b.settings.warmups + b.settings.runs;
    for i in 0..total {
        for tool in order(b, i) {
            let args = b.tools.wait_args(tool, READY_OBJECT);
            let since = b.server.requests().len();
            let run = b.launch_tool(tool, "already-true wait", &args, Stdout::Null)?;
            let m = run.wait_ok(Duration::from_secs(60))?;
            if i >= b.settings.warmups {
                samples.of(tool).push(m);
            }
            if i + 1 == total {
                let requests = b.server.requests()[since..]
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path_and_query))
                    .collect();
                samples.requests.push((tool, requests));
            }
        }
        progress("already-true", i + 1, total);
    }
    Ok(samples)
}

pub(crate) struct Reaction {
    pub(crate) raw_ns: Vec<u64>,
    pub(crate) notify_ns: Vec<u64>,
    pub(crate) kubectl_ns: Vec<u64>,
    pub(crate) runs: Samples,
}

/// Reaction: from the status PATCH leaving this process to the exit of a
/// tool that was waiting for it, and to the event line on a raw watch.
pub(crate) fn reaction(b: &mut Bench) -> Result<Reaction> {
    let mut out = Reaction {
        raw_ns: Vec::new(),
        notify_ns: Vec::new(),
        kubectl_ns: Vec::new(),
        runs: Samples::default(),
    };
    let total = b.settings.warmups + b.settings.runs;
    for i in 0..total {
        let keep = i >= b.settings.warmups;
        // The raw watch takes its turn among the tools.
        let mut turns: Vec<Option<Tool>> = vec![None];
        turns.extend(order(b, i).into_iter().map(Some));
        let k = turns.len();
        turns.rotate_left(i % k);
        for turn in turns {
            match turn {
                None => {
                    let ns = raw_reaction(b)?;
                    if keep {
                        out.raw_ns.push(ns);
                    }
                }
                Some(tool) => {
                    let (ns, m) = tool_reaction(b, tool)?;
                    if keep {
                        match tool {
                            Tool::Notify => out.notify_ns.push(ns),
                            Tool::Kubectl => out.kubectl_ns.push(ns),
                        }
                        out.runs.of(tool).push(m);
                    }
                }
            }
        }
        progress("reaction", i + 1, total);
    }
    Ok(out)
}

fn tool_reaction(b: &mut Bench, tool: Tool) -> Result<(u64, Measured)> {
    b.set_ready(REACT_OBJECT, false);
    b.quiesce();
    let before = b.server.open_watches();
    let mut patcher = b.api.connect()?;
    let patch = b.api.status_patch(REACT_OBJECT, true);
    let args = b.tools.wait_args(tool, REACT_OBJECT);
    let mut run = b.launch_tool(tool, "reaction wait", &args, Stdout::Null)?;
    b.wait_for_watch(&mut run, before, Duration::from_secs(30))?;
    std::thread::sleep(SETTLE);
    if run.poll_exit() {
        return Err(format!(
            "{} exited before the object became ready. {}",
            run.what,
            run.stderr_text()
        ));
    }
    let t0 = now_ns();
    patcher.send(&patch)?;
    let m = run.wait_ok(Duration::from_secs(20))?;
    let (status, body) = patcher.response()?;
    if status != 200 {
        return Err(format!(
            "the status PATCH got {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    Ok((m.exit_ns.saturating_sub(t0), m))
}

/// The floor: a watch opened by hand on the same object and server, the
/// clock stopped when the event line with the new state has been read.
fn raw_reaction(b: &mut Bench) -> Result<u64> {
    b.set_ready(REACT_OBJECT, false);
    b.quiesce();
    let before = b.server.open_watches();
    let mut patcher = b.api.connect()?;
    let patch = b.api.status_patch(REACT_OBJECT, true);
    let mut watch = b.api.connect()?;
    watch.send(
        &b.api
            .watch_request(REACT_OBJECT, b.server.resource_version()),
    )?;
    let head = watch.head()?;
    if head.status != 200 {
        return Err(format!("the raw watch got {}", head.status));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.server.open_watches() <= before {
        if Instant::now() > deadline {
            return Err("the raw watch never showed as open on the server".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(SETTLE);
    let t0 = now_ns();
    patcher.send(&patch)?;
    watch.read_until(br#""ready":true"#)?;
    let t1 = now_ns();
    let (status, _) = patcher.response()?;
    if status != 200 {
        return Err(format!("the status PATCH got {status}"));
    }
    Ok(t1 - t0)
}

pub(crate) struct ScaleRun {
    pub(crate) measured: Measured,
    /// CPU time (µs) the process had used when the first update was made.
    pub(crate) cpu_before_updates_us: Option<u64>,
    /// First update → exit (ours) or → last line read (kubectl).
    pub(crate) wall: Duration,
    /// Time to make all updates.
    pub(crate) updating: Duration,
    pub(crate) lines: usize,
    pub(crate) expected_lines: usize,
    pub(crate) lists: usize,
    pub(crate) watches: usize,
    pub(crate) note: Option<String>,
}

pub(crate) struct Scale {
    pub(crate) object_bytes: usize,
    pub(crate) objects: usize,
    pub(crate) updates: usize,
    pub(crate) edges: usize,
    pub(crate) notify: ScaleRun,
    pub(crate) kubectl: Option<ScaleRun>,
}

fn scale_name(i: usize) -> String {
    format!("scale-{i:05}")
}

/// A widget as a controller might keep it: labels, annotations, a spec with
/// containers' worth of detail and a status with conditions (~1 KB as JSON).
fn scale_object(i: usize) -> Value {
    json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {
            "name": scale_name(i),
            "labels": {"bench": "scale", "app.kubernetes.io/name": "checkout",
                       "app.kubernetes.io/part-of": "payments", "tier": "backend"},
            "annotations": {
                "example.com/owner": "team-payments@example.com",
                "example.com/description": "Synthetic widget of the scale benchmark; its status flips between ready and not ready."
            }
        },
        "spec": {
            "size": 3,
            "image": "registry.example.com/payments/checkout:v1.42.7",
            "replicas": 3,
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"},
                      {"name": "metrics", "port": 9090, "protocol": "TCP"}],
            "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "REGION", "value": "eu-west-1"}],
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                          "limits": {"cpu": "1", "memory": "512Mi"}}
        }
    })
}

fn scale_status(ready: bool, tick: usize) -> Value {
    let (status, reason, message, ready_replicas) = if ready {
        ("True", "AllReplicasReady", "3/3 replicas are ready", 3)
    } else {
        ("False", "ReplicasNotReady", "1/3 replicas are ready", 1)
    };
    json!({"status": {
        "ready": ready,
        "phase": if ready { "Running" } else { "Degraded" },
        "replicas": 3,
        "readyReplicas": ready_replicas,
        "observedGeneration": 1,
        "heartbeat": tick,
        "conditions": [{"type": "Ready", "status": status, "reason": reason, "message": message,
                        "lastTransitionTime": "2025-01-01T00:00:00Z"}]
    }})
}

/// The objects under the scale label and their `.status.ready`, as last set.
struct Fleet {
    ready: Vec<bool>,
}

impl Fleet {
    fn create(b: &Bench) -> (Fleet, usize) {
        let n = b.settings.scale_objects;
        let mut bytes = 0;
        for i in 0..n {
            b.server.create(WIDGETS, Some(NAMESPACE), scale_object(i));
            let obj = b.server.patch_status(
                WIDGETS,
                Some(NAMESPACE),
                &scale_name(i),
                scale_status(true, 0),
            );
            if i == 0 {
                bytes = obj.to_string().len();
            }
        }
        (
            Fleet {
                ready: vec![true; n],
            },
            bytes,
        )
    }

    /// Every object ready again, as each run starts from.
    fn reset(&mut self, b: &Bench) {
        for (i, ready) in self.ready.iter_mut().enumerate() {
            if !*ready {
                b.server.patch_status(
                    WIDGETS,
                    Some(NAMESPACE),
                    &scale_name(i),
                    scale_status(true, 0),
                );
                *ready = true;
            }
        }
    }

    /// How many of `updates` flips (round-robin from object 0) turn an
    /// object ready: the `--when` edges the run will produce.
    fn edges(&self, updates: usize) -> usize {
        let mut ready = self.ready.clone();
        let n = ready.len();
        let mut edges = 0;
        for i in 0..updates {
            let r = &mut ready[i % n];
            *r = !*r;
            edges += usize::from(*r);
        }
        edges
    }

    /// Flips `.status.ready` of one object per update, round-robin, through
    /// the server's own write path (as fast as it takes them).
    fn flip(&mut self, b: &Bench, updates: usize) -> Duration {
        let started = Instant::now();
        let n = self.ready.len();
        for i in 0..updates {
            let ready = &mut self.ready[i % n];
            *ready = !*ready;
            b.server.patch_status(
                WIDGETS,
                Some(NAMESPACE),
                &scale_name(i % n),
                scale_status(*ready, i + 1),
            );
        }
        started.elapsed()
    }
}

/// Lists and watches on the scale label among the requests after `since`.
fn label_requests(b: &Bench, since: usize) -> (usize, usize) {
    let requests = b.server.requests();
    let mut lists = 0;
    let mut watches = 0;
    for r in requests.iter().skip(since) {
        let q = &r.path_and_query;
        if !(q.contains("bench%3Dscale") || q.contains("bench=scale")) {
            continue;
        }
        if q.contains("watch=1") || q.contains("watch=true") {
            watches += 1;
        } else {
            lists += 1;
        }
    }
    (lists, watches)
}

pub(crate) fn scale(b: &mut Bench) -> Result<Scale> {
    let updates = b.settings.scale_updates;
    eprintln!(
        "scale: creating {} objects labelled {SCALE_LABEL}",
        b.settings.scale_objects
    );
    let (mut fleet, object_bytes) = Fleet::create(b);
    let edges = fleet.edges(updates);

    eprintln!("scale: kubectl-notify --when over {updates} updates ({edges} edges)");
    let notify = scale_run(b, &mut fleet, Tool::Notify, edges)?;
    let kubectl = if b.tools.kubectl.is_some() {
        eprintln!("scale: kubectl get -w over {updates} updates");
        Some(scale_run(b, &mut fleet, Tool::Kubectl, edges)?)
    } else {
        None
    };
    Ok(Scale {
        object_bytes,
        objects: b.settings.scale_objects,
        updates,
        edges,
        notify,
        kubectl,
    })
}

fn scale_run(b: &mut Bench, fleet: &mut Fleet, tool: Tool, edges: usize) -> Result<ScaleRun> {
    let updates = b.settings.scale_updates;
    fleet.reset(b);
    b.quiesce();
    let requests_before = b.server.requests().len();
    let before = b.server.open_watches();
    // Ours prints one line per edge and exits after the last; kubectl
    // prints every object at start and then every event, until killed.
    let expected_lines = match tool {
        Tool::Notify => edges,
        Tool::Kubectl => fleet.ready.len() + updates,
    };
    let args = b.tools.scale_args(tool, SCALE_LABEL, edges);
    let mut run = b.launch_tool(tool, "scale", &args, Stdout::File)?;
    b.wait_for_watch(&mut run, before, Duration::from_secs(120))?;
    std::thread::sleep(SETTLE);
    let pid = run.program_pid();
    let cpu_before_updates_us = pid.and_then(cpu_so_far_us);
    let (started, started_ns) = (Instant::now(), now_ns());
    let updating = fleet.flip(b, updates);
    eprintln!(
        "scale: {updates} updates made in {:.2} s; waiting for {}",
        updating.as_secs_f64(),
        tool.name()
    );

    let mut note = None;
    let (lines_seen, reached) = run.wait_for_lines(expected_lines);
    let mut wall = started.elapsed();
    let measured = match tool {
        Tool::Notify => {
            if !reached {
                let exited = run.poll_exit();
                run.stop();
                let stderr = run.stderr_text();
                let how = run.finish().map_or_else(|e| e, |m| m.describe());
                return Err(format!(
                    "kubectl-notify (scale) printed {lines_seen} of {expected_lines} notifications, then {} ({how}). {stderr}",
                    if exited {
                        "exited"
                    } else {
                        "printed nothing for 30 s and was killed"
                    }
                ));
            }
            let m = run.wait_ok(Duration::from_secs(30))?;
            wall = Duration::from_nanos(m.exit_ns.saturating_sub(started_ns));
            m
        }
        Tool::Kubectl => {
            if !reached {
                note = Some(format!(
                    "kubectl printed {lines_seen} of {expected_lines} lines before it stalled"
                ));
            }
            // `get -w` never ends by itself: the last event is in, stop it.
            run.stop();
            let stderr = run.stderr_text();
            let m = run.finish()?;
            if libc::WIFEXITED(m.status) {
                return Err(format!(
                    "kubectl get -w ended by itself ({}). {stderr}",
                    m.describe()
                ));
            }
            m
        }
    };
    let (lists, watches) = label_requests(b, requests_before);
    let run = ScaleRun {
        measured,
        cpu_before_updates_us,
        wall,
        updating,
        lines: lines_seen,
        expected_lines,
        lists,
        watches,
        note,
    };
    eprintln!(
        "scale: {}: {} lines, peak RSS {}, CPU {} per update, {} list(s) and {} watch(es)",
        tool.name(),
        run.lines,
        mib(run.measured.maxrss_kib),
        micros_per(run.measured.cpu_us, updates),
        run.lists,
        run.watches
    );
    Ok(run)
}

fn progress(what: &str, done: usize, total: usize) {
    eprint!("\r{what}: {done}/{total} rounds   ");
    if done == total {
        eprintln!();
    }
}
