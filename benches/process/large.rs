//! 50,000 objects of ~5 KB (managedFields included), in one namespace and
//! across 50: how long the first list takes, peak RSS and CPU per update
//! after it, with the list streamed (`sendInitialEvents`) and paginated (the
//! server refusing to stream, as the project's etcd 3.4 control plane does),
//! beside `kubectl get -w` and `kubectl get` of the same objects.

use std::time::Duration;

use serde_json::json;
use testserver::StreamingLists;

use crate::bench::{Bench, SETTLE, WIDGETS};
use crate::common;
use crate::error::Result;
use crate::launcher::{Measured, Stdout, cpu_so_far_us, now_ns};
use crate::table::{Row, row};
use crate::tools::Tool;
use crate::units::{mib, micros_per, ms, thousands};

/// managedFields entries of each object: ~5 KB of JSON in all, as in `paced`.
const MANAGERS: usize = 8;
/// Updates a second: each event arrives alone, as in `paced`.
const RATE: u32 = 250;
/// Runs of `kubectl get` (the list alone); the median is kept.
const GET_RUNS: usize = 3;
/// What ours says at `-v` once its first list is complete.
const LISTED: &str = "list complete, watching";
/// The longest a list of 50,000 objects may take here (or output stand still).
const LIST_LIMIT: Duration = Duration::from_secs(300);

/// Where the objects are.
#[derive(Clone, Copy)]
struct Layout {
    label: &'static str,
    namespaces: usize,
    /// The objects are the bench's count divided by this (the baseline: a tenth).
    divisor: usize,
}

const LAYOUTS: [Layout; 3] = [
    Layout {
        label: "bench=large-base",
        namespaces: 1,
        divisor: 10,
    },
    Layout {
        label: "bench=large-1",
        namespaces: 1,
        divisor: 1,
    },
    Layout {
        label: "bench=large-50",
        namespaces: 50,
        divisor: 1,
    },
];

impl Layout {
    fn describe(self) -> String {
        match self.namespaces {
            1 => "one namespace".into(),
            n => format!("across {n} namespaces (-A)"),
        }
    }

    fn namespace(self, i: usize) -> String {
        let tag = self.label.trim_start_matches("bench=");
        format!("{tag}-{:02}", i % self.namespaces)
    }

    fn name(i: usize) -> String {
        format!("large-{i:05}")
    }

    /// Where the tools look: the one namespace, or all of them.
    fn scope(self) -> Vec<String> {
        match self.namespaces {
            1 => vec!["-n".into(), self.namespace(0)],
            _ => vec!["-A".into()],
        }
    }
}

/// Who reads the objects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reader {
    Streamed,
    Paginated,
    KubectlWatch,
}

impl Reader {
    fn tool(self) -> Tool {
        match self {
            Reader::KubectlWatch => Tool::Kubectl,
            _ => Tool::Notify,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Reader::Streamed => "kubectl-notify, streaming list",
            Reader::Paginated => "kubectl-notify, paginated list (streaming refused)",
            Reader::KubectlWatch => "kubectl get -w",
        }
    }
}

struct ReaderRun {
    reader: Reader,
    measured: Measured,
    /// Start → the last listed object's line.
    listed_ns: u64,
    /// CPU time (µs) used when the first update was made.
    cpu_before_updates_us: Option<u64>,
}

struct LayoutRuns {
    layout: Layout,
    objects: usize,
    runs: Vec<ReaderRun>,
    /// `kubectl get` of the same objects, start → exit (median).
    kubectl_get_ns: Option<u64>,
}

pub struct Large {
    object_bytes: usize,
    updates: usize,
    layouts: Vec<LayoutRuns>,
}

pub fn run(b: &mut Bench) -> Result<Large> {
    let (all, updates) = if b.settings.quick {
        (5_000, 500)
    } else {
        (50_000, 5_000)
    };
    let mut object_bytes = 0;
    let mut layouts = Vec::new();
    for layout in LAYOUTS {
        let objects = all / layout.divisor;
        eprintln!("large: creating {objects} objects {}", layout.describe());
        for i in 0..objects {
            let mut object = common::widget(i, 0, MANAGERS);
            let meta = &mut object["metadata"];
            meta["name"] = json!(Layout::name(i));
            let (key, value) = layout.label.split_once('=').unwrap_or_default();
            meta["labels"][key] = json!(value);
            for server_set in ["namespace", "uid", "resourceVersion"] {
                meta.as_object_mut().map(|m| m.remove(server_set));
            }
            object["spec"]["i"] = json!(0);
            let stored = b.server.create(WIDGETS, Some(&layout.namespace(i)), object);
            object_bytes = common::wire_size(&stored);
        }
        let mut next = 0;
        let mut runs = Vec::new();
        for reader in [Reader::Streamed, Reader::Paginated, Reader::KubectlWatch] {
            if reader.tool() == Tool::Kubectl && b.tools.kubectl.is_none() {
                continue;
            }
            runs.push(reader_run(b, layout, reader, objects, updates, &mut next)?);
        }
        let kubectl_get_ns = match b.tools.kubectl {
            Some(_) => Some(kubectl_get(b, layout, objects)?),
            None => None,
        };
        layouts.push(LayoutRuns {
            layout,
            objects,
            runs,
            kubectl_get_ns,
        });
    }
    Ok(Large {
        object_bytes,
        updates,
        layouts,
    })
}

fn reader_run(
    b: &mut Bench,
    layout: Layout,
    reader: Reader,
    objects: usize,
    updates: usize,
    next: &mut usize,
) -> Result<ReaderRun> {
    b.quiesce();
    b.server.set_streaming_lists(match reader {
        Reader::Paginated => StreamingLists::NoWatchProgress,
        _ => StreamingLists::Served,
    });
    let mut args: Vec<String> = match reader.tool() {
        // -v says when the list is complete, and nothing per event.
        Tool::Notify => [
            "widgets",
            "-l",
            layout.label,
            "--on-change",
            ".spec.i",
            "-o",
            "name",
            "-v",
            "--timeout",
            "15m",
            "--count",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([updates.to_string()])
        .collect(),
        Tool::Kubectl => ["get", "widgets", "-l", layout.label, "-w", "-o", "name"]
            .iter()
            .map(|a| a.to_string())
            .collect(),
    };
    args.extend(layout.scope());
    args.extend(b.tools.cache_args(reader.tool()));
    let mut run = b.launch_tool(reader.tool(), "large", &args, Stdout::File)?;
    // Ours says so; kubectl has printed every listed object.
    let (listed, expected) = match reader.tool() {
        Tool::Notify => (run.wait_for_stderr(LISTED, LIST_LIMIT), updates),
        Tool::Kubectl => (
            run.wait_for_lines_within(objects, LIST_LIMIT).1,
            objects + updates,
        ),
    };
    let listed_at = now_ns();
    if !listed {
        run.stop();
        return Err(format!(
            "{} (large) never listed the {objects} objects. {}",
            reader.describe(),
            run.stderr_text()
        ));
    }
    std::thread::sleep(SETTLE);
    let cpu_before_updates_us = run.program_pid().and_then(cpu_so_far_us);
    eprintln!(
        "large: {updates} updates of .spec.i at {RATE}/s for {}",
        reader.describe()
    );
    pace(b, layout, objects, updates, next);
    let (lines, reached) = run.wait_for_lines_within(expected, LIST_LIMIT);
    let measured = match reader.tool() {
        Tool::Kubectl => {
            run.stop();
            run.finish()?
        }
        _ if !reached => {
            run.stop();
            return Err(format!(
                "{} (large) printed {lines} of {expected} lines. {}",
                reader.describe(),
                run.stderr_text()
            ));
        }
        _ => run.wait_ok(Duration::from_secs(60))?,
    };
    b.server.set_streaming_lists(StreamingLists::Served);
    let run = ReaderRun {
        reader,
        listed_ns: listed_at.saturating_sub(measured.start_ns),
        measured,
        cpu_before_updates_us,
    };
    eprintln!(
        "large: {}: listed in {}, peak RSS {}, CPU {} per update after the list",
        reader.describe(),
        ms(run.listed_ns),
        mib(run.measured.maxrss_kib),
        after_list(&run, updates),
    );
    Ok(run)
}

/// `kubectl get` of the same objects, start → exit; the median of a few.
fn kubectl_get(b: &mut Bench, layout: Layout, objects: usize) -> Result<u64> {
    let mut walls = Vec::new();
    for _ in 0..GET_RUNS {
        let mut args: Vec<String> = ["get", "widgets", "-l", layout.label, "-o", "name"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        args.extend(layout.scope());
        args.extend(b.tools.cache_args(Tool::Kubectl));
        let mut run = b.launch_tool(Tool::Kubectl, "large get", &args, Stdout::File)?;
        let (lines, _) = run.wait_for_lines_within(objects, LIST_LIMIT);
        let measured = run.wait_ok(Duration::from_secs(300))?;
        if lines != objects {
            return Err(format!("kubectl get printed {lines} of {objects} names"));
        }
        walls.push(measured.wall_ns());
    }
    walls.sort_unstable();
    Ok(walls[walls.len() / 2])
}

/// `updates` merge patches of `.spec.i`, round-robin over the objects (and
/// so over the namespaces), one every 1/RATE s.
fn pace(b: &Bench, layout: Layout, objects: usize, updates: usize, next: &mut usize) {
    let started = std::time::Instant::now();
    let period = Duration::from_secs(1) / RATE;
    for k in 0..updates {
        if let Some(wait) = (period * k as u32).checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        *next += 1;
        let i = k % objects;
        b.server.merge_patch(
            WIDGETS,
            Some(&layout.namespace(i)),
            &Layout::name(i),
            json!({"spec": {"i": *next}}),
        );
    }
}

fn after_list(r: &ReaderRun, updates: usize) -> String {
    match r.cpu_before_updates_us {
        Some(before) => micros_per(r.measured.cpu_us.saturating_sub(before), updates),
        None => "—".into(),
    }
}

/// The rows: per layout, each reader's list time, peak RSS and CPU per
/// update after the list, ours against kubectl's.
pub fn rows(l: &Large) -> Vec<Row> {
    let mut rows = Vec::new();
    for runs in &l.layouts {
        let figure = format!(
            "{} objects of {:.1} KB {}, {} `.spec.i` updates at {RATE}/s, `--on-change .spec.i -o name`",
            thousands(runs.objects),
            l.object_bytes as f64 / 1000.0,
            runs.layout.describe(),
            thousands(l.updates)
        );
        let kubectl_watch = runs.runs.iter().find(|r| r.reader == Reader::KubectlWatch);
        let peer = |f: &dyn Fn(&ReaderRun) -> String| match kubectl_watch {
            Some(r) => format!("{} (get -w)", f(r)),
            None => "kubectl not found".into(),
        };
        for run in runs
            .runs
            .iter()
            .filter(|r| r.reader != Reader::KubectlWatch)
        {
            let how = match run.reader {
                Reader::Streamed => "streaming list",
                _ => "paginated list",
            };
            let get = runs
                .kubectl_get_ns
                .map_or("kubectl not found".into(), |ns| {
                    format!(
                        "{} (get; get -w: {})",
                        ms(ns),
                        kubectl_watch.map_or("—".into(), |r| ms(r.listed_ns))
                    )
                });
            rows.push(
                row(
                    format!("{figure}, {how}: start → every object listed"),
                    ms(run.listed_ns),
                    get,
                )
                .judged(
                    "—".into(),
                    "≤ kubectl get",
                    runs.kubectl_get_ns.map(|get| run.listed_ns <= get),
                ),
            );
            rows.push(
                row(
                    format!("{figure}, {how}: peak RSS"),
                    mib(run.measured.maxrss_kib),
                    peer(&|r| mib(r.measured.maxrss_kib)),
                )
                .judged(
                    "—".into(),
                    "≤ 120 MiB",
                    Some(run.measured.maxrss_kib <= 120 * 1024),
                ),
            );
            rows.push(row(
                format!("{figure}, {how}: CPU time per update (after the initial list)"),
                after_list(run, l.updates),
                peer(&|r| after_list(r, l.updates)),
            ));
        }
    }
    rows
}

/// The note under the rows.
pub fn note(l: &Large) -> String {
    format!(
        "- Large (`BENCH_ONLY=large`): widgets of {} bytes ({MANAGERS} managedFields entries) in one namespace (`-n`) or spread over 50 (`-A`), and a tenth as many as the baseline, in the same run; ours runs `--on-change .spec.i -o name -v --count {}` (`-v` says when the list is complete), once with the server streaming the list and once refusing to (an ERROR 500, as kube-apiserver 1.32 on etcd 3.4 answers, then paginated list + watch); kubectl runs `get -w -o name` (listed: every object printed), and `get -o name` ({GET_RUNS} runs, median) for the list alone. Then {} merge patches of `.spec.i` round-robin at {RATE}/s, as in *Paced*, so each event arrives alone.",
        l.object_bytes,
        l.updates,
        thousands(l.updates),
    )
}
