//! The report: the machine and the tools the figures were taken with, and a
//! table of ours beside kubectl's, each with its target and whether it is met.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::bench::{Bench, READY_OBJECT, SCALE_LABEL, SETTLE, Settings};
use crate::figures::{Reaction, Samples, Scale, ScaleRun};
use crate::launcher::Measured;
use crate::table::{Row, row};
use crate::tools::Tools;
use crate::units::{mib, micros_per, ms, signed_ms, thousands};

pub(crate) struct Machine {
    cpu: String,
    cores: usize,
    kernel: String,
    kubectl: String,
    notify_version: String,
    binary_bytes: u64,
}

impl Machine {
    pub(crate) fn probe(b: &Bench) -> Machine {
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| format!("Linux {}", s.trim()))
            .unwrap_or_else(|_| std::env::consts::OS.into());
        let first_line = |program: &Path, args: &[&str]| {
            Command::new(program)
                .args(args)
                .output()
                .ok()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_string()
                })
                .filter(|s| !s.is_empty())
        };
        let kubectl = match &b.tools.kubectl {
            Some(path) => {
                let version = first_line(path, &["version", "--client"])
                    .unwrap_or_else(|| "version unknown".into());
                format!("{version} ({})", path.display())
            }
            None => "not found".into(),
        };
        let notify_version =
            first_line(&b.tools.notify, &["--version"]).unwrap_or_else(|| "kubectl-notify".into());
        let binary_bytes = fs::metadata(&b.tools.notify).map_or(0, |m| m.len());
        Machine {
            cpu,
            cores,
            kernel,
            kubectl,
            notify_version,
            binary_bytes,
        }
    }

    pub(crate) fn render(&self, settings: &Settings, tools: &Tools) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "machine: {}, {} cores, {}",
            self.cpu, self.cores, self.kernel
        );
        let _ = writeln!(
            s,
            "kubectl-notify: {} (release binary, {:.1} MiB)",
            self.notify_version,
            self.binary_bytes as f64 / (1024.0 * 1024.0)
        );
        let _ = writeln!(s, "kubectl: {}", self.kubectl);
        let _ = writeln!(
            s,
            "discovery cache: {}kubectl-notify {}",
            if tools.kubectl.is_some() {
                "kubectl --cache-dir (warm); "
            } else {
                ""
            },
            if tools.notify_cache {
                "--cache-dir, same folder (warm)"
            } else {
                "has no --cache-dir: discovers on every run"
            }
        );
        let _ = write!(
            s,
            "runs: {} measured after {} warm-up(s) per figure, tools interleaved{}",
            settings.runs,
            settings.warmups,
            if settings.quick { " (--quick)" } else { "" }
        );
        s
    }
}

fn sorted(values: &[u64]) -> Vec<u64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    v
}

fn median(values: &[u64]) -> Option<u64> {
    let v = sorted(values);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2),
    }
}

fn p90(values: &[u64]) -> Option<u64> {
    let v = sorted(values);
    if v.is_empty() {
        return None;
    }
    let i = (v.len() * 9).div_ceil(10).saturating_sub(1);
    Some(v[i])
}

fn ratio(ours: f64, peer: f64) -> f64 {
    if peer > 0.0 { ours / peer } else { f64::NAN }
}

fn with_p90(values: &[u64], show: impl Fn(u64) -> String) -> String {
    match (median(values), p90(values)) {
        (Some(m), Some(p)) => format!("{} (p90 {})", show(m), show(p)),
        _ => "—".into(),
    }
}

pub(crate) fn report(
    b: &Bench,
    machine: &Machine,
    floor_kib: u64,
    already: &Samples,
    reaction: &Reaction,
    scale: &Scale,
    extra: (Vec<Row>, String),
) -> String {
    let (extra_rows, extra_note) = extra;
    let have_peer = b.tools.kubectl.is_some();
    let peer_or = |s: String| {
        if have_peer {
            s
        } else {
            "kubectl not found".into()
        }
    };
    let mut rows = Vec::new();

    // Start-up.
    let wall = |runs: &[Measured]| runs.iter().map(Measured::wall_ns).collect::<Vec<_>>();
    let (ours_wall, peer_wall) = (wall(&already.notify), wall(&already.kubectl));
    let r = ratio(
        median(&ours_wall).unwrap_or(0) as f64,
        median(&peer_wall).unwrap_or(0) as f64,
    );
    rows.push(
        row(
            format!(
                "already-true condition, process start → exit (median of {})",
                ours_wall.len()
            ),
            with_p90(&ours_wall, ms),
            peer_or(with_p90(&peer_wall, ms)),
        )
        .judged(
            if have_peer {
                format!("{r:.2}×")
            } else {
                "—".into()
            },
            "≤ 0.1× kubectl wait",
            have_peer.then_some(r <= 0.1),
        ),
    );
    let cpu = |runs: &[Measured]| runs.iter().map(|m| m.cpu_us * 1000).collect::<Vec<_>>();
    let rss = |runs: &[Measured]| runs.iter().map(|m| m.maxrss_kib).collect::<Vec<_>>();
    rows.push(row(
        "already-true: CPU time, user + sys (median)",
        median(&cpu(&already.notify)).map_or("—".into(), ms),
        peer_or(median(&cpu(&already.kubectl)).map_or("—".into(), ms)),
    ));
    rows.push(row(
        "already-true: peak RSS (median)",
        median(&rss(&already.notify)).map_or("—".into(), mib),
        peer_or(median(&rss(&already.kubectl)).map_or("—".into(), mib)),
    ));

    // Memory while waiting: the reaction runs waited on a false object.
    let peak = |runs: &[Measured]| runs.iter().map(|m| m.maxrss_kib).max();
    let (ours_peak, peer_peak) = (peak(&reaction.runs.notify), peak(&reaction.runs.kubectl));
    let r = ratio(ours_peak.unwrap_or(0) as f64, peer_peak.unwrap_or(0) as f64);
    rows.push(
        row(
            format!(
                "peak RSS waiting on one object (max of {} reaction runs)",
                reaction.runs.notify.len()
            ),
            ours_peak.map_or("—".into(), mib),
            peer_or(peer_peak.map_or("—".into(), mib)),
        )
        .judged(
            if have_peer {
                format!("{r:.2}×")
            } else {
                "—".into()
            },
            "≤ 0.3× kubectl wait",
            have_peer.then_some(r <= 0.3),
        ),
    );

    // Reaction.
    let raw = median(&reaction.raw_ns).unwrap_or(0);
    rows.push(row(
        format!(
            "reaction: status PATCH sent → process exit (median of {}; raw watch {} (p90 {}))",
            reaction.notify_ns.len(),
            ms(raw),
            ms(p90(&reaction.raw_ns).unwrap_or(0))
        ),
        with_p90(&reaction.notify_ns, ms),
        peer_or(with_p90(&reaction.kubectl_ns, ms)),
    ));
    let ours_over = median(&reaction.notify_ns).unwrap_or(0) as i64 - raw as i64;
    let peer_over = median(&reaction.kubectl_ns).unwrap_or(0) as i64 - raw as i64;
    let r = ratio(ours_over as f64, peer_over as f64);
    let met = ours_over <= 1_000_000 || (have_peer && peer_over > 0 && r <= 0.5);
    rows.push(
        row(
            "reaction overhead over the raw watch (medians)",
            signed_ms(ours_over),
            peer_or(signed_ms(peer_over)),
        )
        .judged(
            if have_peer {
                format!("{r:.2}×")
            } else {
                "—".into()
            },
            "≤ 0.5× kubectl wait's, or ≤ 1 ms",
            Some(met),
        ),
    );

    // Scale.
    let figure = format!(
        "{} objects under -l, {} updates, notify mode with --when",
        thousands(scale.objects),
        thousands(scale.updates)
    );
    let peer_scale = |f: &dyn Fn(&ScaleRun) -> String| match &scale.kubectl {
        Some(run) => format!("{} (get -w)", f(run)),
        None => "kubectl not found".into(),
    };
    let n = &scale.notify;
    rows.push(
        row(
            format!("{figure}: peak RSS"),
            mib(n.measured.maxrss_kib),
            peer_scale(&|r| mib(r.measured.maxrss_kib)),
        )
        .judged(
            "—".into(),
            "≤ 50 MiB",
            Some(n.measured.maxrss_kib <= 50 * 1024),
        ),
    );
    let per_event = n.measured.cpu_us as f64 / scale.updates as f64;
    rows.push(
        row(
            format!("{figure}: CPU time per update (whole process)"),
            micros_per(n.measured.cpu_us, scale.updates),
            peer_scale(&|r| micros_per(r.measured.cpu_us, scale.updates)),
        )
        .judged("—".into(), "≤ 20 µs", Some(per_event <= 20.0)),
    );
    let after_start = |r: &ScaleRun| match r.cpu_before_updates_us {
        Some(before) => micros_per(r.measured.cpu_us.saturating_sub(before), scale.updates),
        None => "—".into(),
    };
    rows.push(row(
        format!("{figure}: CPU time per update (after the initial list)"),
        after_start(n),
        peer_scale(&|r| after_start(r)),
    ));
    rows.extend(extra_rows);

    let mut s = String::new();
    let _ = writeln!(s, "\n## kubectl-notify vs kubectl: whole-process figures\n");
    let _ = writeln!(s, "{}", machine.render(b.settings, &b.tools));
    let _ = writeln!(
        s,
        "server: the project's test server over HTTPS on 127.0.0.1 (bearer token, CA in the kubeconfig)\n"
    );
    let _ = writeln!(
        s,
        "| figure | kubectl-notify | kubectl | ratio / overhead | target | met? |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for r in &rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            r.figure, r.ours, r.peer, r.ratio, r.target, r.met
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "- Start-up: wall time from spawn to exit of `kubectl-notify widgets/{READY_OBJECT} --until '.status.ready == true'` and `kubectl wait widgets/{READY_OBJECT} --for=jsonpath='{{.status.ready}}'=true`; CPU and peak RSS from wait4."
    );
    for (tool, requests) in &already.requests {
        let _ = writeln!(
            s,
            "- Requests of one already-true run, {}: {}: {}.",
            tool.name(),
            requests.len(),
            requests
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(
        s,
        "- Peak RSS from wait4's ru_maxrss, the tools started by a launcher of {} RSS (no figure can read lower).",
        mib(floor_kib)
    );
    let _ = writeln!(
        s,
        "- Reaction: the tool waits on a not-ready widget (watch open, then {} ms idle); the clock starts as the status PATCH is written to an open HTTPS connection and stops when the process has exited. Raw watch: the same PATCH, with the clock stopped when an in-process TLS client's watch (`?watch=1&fieldSelector=metadata.name=...&resourceVersion=...`) has read the event.",
        SETTLE.as_millis()
    );
    let scale_line = |name: &str, r: &ScaleRun| {
        format!(
            "- Scale, {name}: {} of {} lines; updates made in {:.2} s, first update → {} {:.2} s; {} list request(s) (pages), {} watch request(s){}.",
            thousands(r.lines),
            thousands(r.expected_lines),
            r.updating.as_secs_f64(),
            if name == "kubectl" {
                "last line"
            } else {
                "exit"
            },
            r.wall.as_secs_f64(),
            r.lists,
            r.watches,
            r.note
                .as_ref()
                .map(|n| format!("; {n}"))
                .unwrap_or_default()
        )
    };
    let _ = writeln!(
        s,
        "- Scale: {} widgets of {} bytes of JSON each labelled `{SCALE_LABEL}`, all ready; {} status updates flip `.status.ready` round-robin through the server's write path, {} of them false → true (ours: `--when '.status.ready == true' --count {} -o name`, ending on the last update; kubectl: `get -w -o name`, stopped after its last line). CPU per update is user + sys over the whole process divided by the updates; \"after the initial list\" subtracts what it had used when the updates began (its threads' schedstat in /proc, in ns).",
        thousands(scale.objects),
        scale.object_bytes,
        thousands(scale.updates),
        thousands(scale.edges),
        scale.edges
    );
    let _ = writeln!(s, "{}", scale_line("kubectl-notify", &scale.notify));
    if let Some(r) = &scale.kubectl {
        let _ = writeln!(s, "{}", scale_line("kubectl", r));
    }
    let _ = writeln!(s, "{extra_note}");
    s
}
