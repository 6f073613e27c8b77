//! The pattern a real kube-apiserver produces: objects of ~5 KB as it stores
//! them (managedFields included), changed one at a time, each event alone.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::bench::{Bench, NAMESPACE, SETTLE, WIDGETS};
use crate::client::Api;
use crate::common;
use crate::error::{Result, io_err};
use crate::launcher::{Measured, Stdout, Switches, cpu_so_far_us, switches_so_far};
use crate::table::{Row, row};
use crate::tools::Tool;
use crate::units::{mib, micros_per, thousands};

const LABEL: &str = "bench=paced";
/// Updates a second, about what a busy controller makes and few enough that
/// each event reaches the watchers alone.
const RATE: u32 = 250;
/// managedFields entries of each object: ~5 KB of JSON in all.
const MANAGERS: usize = 8;

pub struct Paced {
    objects: usize,
    object_bytes: usize,
    updates: usize,
    notify: PacedRun,
    kubectl: Option<PacedRun>,
    /// The least a client can do with the same events (`floor_child`).
    floor: PacedRun,
    /// The least a client on kube's client and watcher can do
    /// (`least::kube_floor_child`).
    kube_floor: PacedRun,
    /// curl reading the same watch into /dev/null (`None`: not on PATH).
    curl: Option<PacedRun>,
}

struct PacedRun {
    measured: Measured,
    /// CPU time (µs) the process had used when the first update was made.
    cpu_before_updates_us: Option<u64>,
    /// Its context switches then.
    switches_before_updates: Option<Switches>,
    lines: usize,
    expected_lines: usize,
}

fn name(i: usize) -> String {
    format!("paced-{i:05}")
}

fn args(tool: Tool, updates: usize) -> Vec<String> {
    let args: &[&str] = match tool {
        Tool::Notify => &[
            "widgets",
            "-l",
            LABEL,
            "--on-change",
            ".spec.i",
            "-o",
            "name",
            "--timeout",
            "15m",
            "--count",
        ],
        Tool::Kubectl => &["get", "widgets", "-l", LABEL, "-w", "-o", "name"],
    };
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    if tool == Tool::Notify {
        args.push(updates.to_string());
    }
    args
}

/// Creates the objects once; both tools then watch the same updates.
pub fn run(b: &mut Bench) -> Result<Paced> {
    let (objects, updates) = if b.settings.quick {
        (500, 500)
    } else {
        (5_000, 5_000)
    };
    eprintln!("paced: creating {objects} objects labelled {LABEL}");
    let mut object_bytes = 0;
    for i in 0..objects {
        let mut object = common::widget(i, 0, MANAGERS);
        let meta = &mut object["metadata"];
        meta["name"] = json!(name(i));
        meta["labels"]["bench"] = json!("paced");
        for server_set in ["namespace", "uid", "resourceVersion"] {
            meta.as_object_mut().map(|m| m.remove(server_set));
        }
        object["spec"]["i"] = json!(0);
        let stored = b.server.create(WIDGETS, Some(NAMESPACE), object);
        object_bytes = common::wire_size(&stored);
    }
    let mut next = 0;
    let floor = reader_run(b, Reader::Floor, objects, updates, &mut next)?;
    let curl = match curl_found() {
        true => Some(reader_run(b, Reader::Curl, objects, updates, &mut next)?),
        false => None,
    };
    let kube_floor = reader_run(b, Reader::KubeFloor, objects, updates, &mut next)?;
    let notify = reader_run(b, Reader::Tool(Tool::Notify), objects, updates, &mut next)?;
    let kubectl = match b.tools.kubectl {
        Some(_) => Some(reader_run(
            b,
            Reader::Tool(Tool::Kubectl),
            objects,
            updates,
            &mut next,
        )?),
        None => None,
    };
    Ok(Paced {
        objects,
        object_bytes,
        updates,
        notify,
        kubectl,
        floor,
        kube_floor,
        curl,
    })
}

fn curl_found() -> bool {
    std::process::Command::new("curl")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The first argument that makes this binary the floor's reader.
pub(crate) const FLOOR: &str = "__paced_floor";

/// The child side: `__paced_floor URL CA_FILE RESOURCE_VERSION EVENTS`
/// watches the paced widgets from RESOURCE_VERSION over the same TLS
/// library and prints a line for each event (`Conn::count_events`: a read
/// and a written line per event, nothing parsed), then exits.
pub(crate) fn floor_child(args: &[String]) -> ! {
    let read = || -> Result<()> {
        let [url, ca, rv, events] = args else {
            return Err(format!(
                "usage: {FLOOR} URL CA_FILE RESOURCE_VERSION EVENTS"
            ));
        };
        let pem = std::fs::read_to_string(ca).map_err(io_err("read the CA"))?;
        let api = Api::from_parts(url, &pem, NAMESPACE)?;
        let number = |text: &str| text.parse().map_err(|_| format!("not a number: {text}"));
        let mut conn = api.connect()?;
        conn.send(&api.label_watch_request(LABEL, number(rv)? as u64))?;
        let head = conn.head()?;
        if head.status != 200 {
            return Err(format!("the watch answered {}", head.status));
        }
        conn.count_events(number(events)?, &mut std::io::stdout().lock())
    };
    crate::error::exit_as("paced floor", read())
}

/// `updates` merge patches of `.spec.i`, round-robin over the objects, one
/// every 1/RATE s.
fn pace(b: &Bench, objects: usize, updates: usize, next: &mut usize) {
    let started = Instant::now();
    let period = Duration::from_secs(1) / RATE;
    for k in 0..updates {
        if let Some(wait) = (period * k as u32).checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        *next += 1;
        b.server.merge_patch(
            WIDGETS,
            Some(NAMESPACE),
            &name(k % objects),
            json!({"spec": {"i": *next}}),
        );
    }
}

/// How long the reader is left after its watch opens, before the first
/// update: `PACED_SETTLE_MS` makes it longer for a reader that needs it to
/// take in the list, e.g. under callgrind (`callgrind_control -d` when
/// "paced: ... updates" is printed then splits the list from the updates;
/// under `PACED_UNDER` the first update waits 2 s after that line).
/// Below 20 s: the floor's reads time out after 20 s without an event.
fn settle() -> Duration {
    std::env::var("PACED_SETTLE_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(SETTLE, Duration::from_millis)
}

/// Starts a reader, under `PACED_UNDER` when it is set: a command and its
/// arguments (split at blanks) that run the reader, e.g.
/// `valgrind --tool=callgrind` for its instructions or `strace -c -f` for
/// its system calls, the same for ours, curl and the floor. The CPU and
/// RSS figures are then the wrapper's and its reader's together.
fn start_under(
    b: &mut Bench,
    what: &str,
    program: &std::path::Path,
    args: &[String],
    stdout: Stdout,
) -> Result<crate::launcher::Run> {
    let under = std::env::var("PACED_UNDER").unwrap_or_default();
    let mut words = under.split_whitespace().map(str::to_string);
    let Some(wrapper) = words.next() else {
        return b.launcher.start(what, program, args, stdout);
    };
    let mut wrapped: Vec<String> = words.collect();
    wrapped.push(program.display().to_string());
    wrapped.extend(args.iter().cloned());
    b.launcher
        .start(what, std::path::Path::new(&wrapper), &wrapped, stdout)
}

/// Who reads the paced events: one of the tools, the floor, or curl.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reader {
    Tool(Tool),
    Floor,
    /// kube's client and watcher, parsing only what the watcher needs.
    KubeFloor,
    /// `curl -sN URL > /dev/null`: the same watch from the same
    /// resourceVersion, parsed by nobody. It prints nothing to count, so the
    /// server ends its watch after the last update (it exits then).
    Curl,
}

impl Reader {
    fn name(self) -> &'static str {
        match self {
            Reader::Tool(tool) => tool.name(),
            Reader::Floor => "floor",
            Reader::KubeFloor => "kube floor",
            Reader::Curl => "curl",
        }
    }
}

/// Starts the reader, makes the updates once it watches, and measures it
/// until it has printed a line for each (kubectl: for each listed object
/// too).
fn reader_run(
    b: &mut Bench,
    reader: Reader,
    objects: usize,
    updates: usize,
    next: &mut usize,
) -> Result<PacedRun> {
    b.quiesce();
    let before = b.server.open_watches();
    let expected_lines = match reader {
        Reader::Tool(Tool::Kubectl) => objects + updates,
        Reader::Curl => 0,
        _ => updates,
    };
    // The floor reads the server's CA from a file kept until the run ends.
    let mut ca = None;
    let mut run = match reader {
        Reader::Tool(tool) => {
            let mut args = args(tool, updates);
            args.extend(b.tools.cache_args(tool));
            let program = b.tools.program(tool).to_path_buf();
            let what = format!("{} (paced)", tool.name());
            start_under(b, &what, &program, &args, Stdout::File)?
        }
        Reader::Floor => {
            let file =
                ca.insert(tempfile::NamedTempFile::new().map_err(io_err("a file for the CA"))?);
            std::fs::write(file.path(), b.server.ca_pem().unwrap_or_default())
                .map_err(io_err("write the CA"))?;
            let exe = std::env::current_exe().map_err(io_err("find this bench binary"))?;
            let args = [
                FLOOR.to_string(),
                b.server.url(),
                file.path().display().to_string(),
                b.server.resource_version().to_string(),
                updates.to_string(),
            ];
            start_under(b, "paced floor", &exe, &args, Stdout::File)?
        }
        Reader::KubeFloor => {
            let exe = std::env::current_exe().map_err(io_err("find this bench binary"))?;
            let args = [
                crate::least::KUBE_FLOOR.to_string(),
                NAMESPACE.to_string(),
                LABEL.to_string(),
                updates.to_string(),
            ];
            start_under(b, "paced kube floor", &exe, &args, Stdout::File)?
        }
        Reader::Curl => {
            let file =
                ca.insert(tempfile::NamedTempFile::new().map_err(io_err("a file for the CA"))?);
            std::fs::write(file.path(), b.server.ca_pem().unwrap_or_default())
                .map_err(io_err("write the CA"))?;
            let url = format!(
                "{}/apis/example.com/v1/namespaces/{NAMESPACE}/widgets?watch=1&labelSelector={}&resourceVersion={}",
                b.server.url(),
                LABEL.replace('=', "%3D"),
                b.server.resource_version()
            );
            let args = [
                "-sN".to_string(),
                "--cacert".to_string(),
                file.path().display().to_string(),
                "-H".to_string(),
                format!("Authorization: Bearer {}", testserver::ADMIN_TOKEN),
                url,
            ];
            // Its watch ends after the updates' events: curl exits then.
            b.server.close_watches_after_events(Some(updates));
            start_under(
                b,
                "curl (paced)",
                std::path::Path::new("curl"),
                &args,
                Stdout::Null,
            )?
        }
    };
    b.wait_for_watch(&mut run, before, Duration::from_secs(120))?;
    std::thread::sleep(settle());
    let pid = run.program_pid();
    let cpu_before_updates_us = pid.and_then(cpu_so_far_us);
    let switches_before_updates = pid.and_then(switches_so_far);
    eprintln!(
        "paced: {updates} updates of .spec.i at {RATE}/s for {}",
        reader.name()
    );
    // Under a wrapper, time for `callgrind_control -d` (a script that takes
    // a few hundred ms) on that line, before the first update.
    if std::env::var_os("PACED_UNDER").is_some() {
        std::thread::sleep(Duration::from_secs(2));
    }
    pace(b, objects, updates, next);
    if reader == Reader::Curl {
        let measured = run.wait_ok(Duration::from_secs(30));
        b.server.close_watches_after_events(None);
        let run = PacedRun {
            measured: measured?,
            cpu_before_updates_us,
            switches_before_updates,
            lines: 0,
            expected_lines,
        };
        eprintln!(
            "paced: curl: peak RSS {}, CPU {} per update, {}",
            mib(run.measured.maxrss_kib),
            micros_per(run.measured.cpu_us, updates),
            after_list(&run, updates),
        );
        return Ok(run);
    }
    let (lines, reached) = run.wait_for_lines(expected_lines);
    let measured = match reader {
        Reader::Tool(Tool::Kubectl) => {
            // `get -w` never ends by itself: the last event is in, stop it.
            run.stop();
            run.finish()?
        }
        _ if !reached => {
            run.stop();
            return Err(format!(
                "{} (paced) printed {lines} of {expected_lines} lines. {}",
                reader.name(),
                run.stderr_text()
            ));
        }
        _ => run.wait_ok(Duration::from_secs(30))?,
    };
    let run = PacedRun {
        measured,
        cpu_before_updates_us,
        switches_before_updates,
        lines,
        expected_lines,
    };
    eprintln!(
        "paced: {}: {} lines, peak RSS {}, CPU {} per update, {}",
        reader.name(),
        run.lines,
        mib(run.measured.maxrss_kib),
        micros_per(run.measured.cpu_us, updates),
        after_list(&run, updates),
    );
    Ok(run)
}

/// CPU and context switches per update after the list, for the log.
fn after_list(run: &PacedRun, updates: usize) -> String {
    let cpu = after_list_us(run, updates).map_or("—".into(), |us| format!("{us:.1} µs"));
    format!(
        "after the list {cpu} and {} per update",
        switches_per(run, updates)
    )
}

/// Context switches per update after the list: voluntary + involuntary.
fn switches_per(run: &PacedRun, updates: usize) -> String {
    match run.switches_before_updates {
        Some(before) => {
            let s = run.measured.switches.since(before);
            let per = |n: u64| n as f64 / updates.max(1) as f64;
            format!(
                "{:.2} + {:.2} switches",
                per(s.voluntary),
                per(s.involuntary)
            )
        }
        None => "— switches".into(),
    }
}

/// The table's rows: peak RSS and CPU per event against the targets.
pub fn rows(p: &Paced) -> Vec<Row> {
    let figure = format!(
        "{} objects of {:.1} KB, {} `.spec.i` updates at {RATE}/s, notify mode `--on-change .spec.i -o name`",
        thousands(p.objects),
        p.object_bytes as f64 / 1000.0,
        thousands(p.updates)
    );
    let peer = |f: &dyn Fn(&PacedRun) -> String| match &p.kubectl {
        Some(run) => format!("{} (get -w)", f(run)),
        None => "kubectl not found".into(),
    };
    let after_start = |r: &PacedRun| match r.cpu_before_updates_us {
        Some(before) => micros_per(r.measured.cpu_us.saturating_sub(before), p.updates),
        None => "—".into(),
    };
    let n = &p.notify;
    let per_event = n.measured.cpu_us as f64 / p.updates as f64;
    vec![
        row(
            format!("{figure}: peak RSS"),
            mib(n.measured.maxrss_kib),
            peer(&|r| mib(r.measured.maxrss_kib)),
        )
        .judged(
            "—".into(),
            "≤ 35 MiB",
            Some(n.measured.maxrss_kib <= 35 * 1024),
        ),
        row(
            format!("{figure}: CPU time per update (whole process)"),
            micros_per(n.measured.cpu_us, p.updates),
            peer(&|r| micros_per(r.measured.cpu_us, p.updates)),
        )
        .judged("—".into(), "≤ 20 µs", Some(per_event <= 20.0)),
        row(
            format!("{figure}: CPU time per update (after the initial list)"),
            after_start(n),
            peer(&after_start),
        )
        .judged(
            against_curl_and_floor(p),
            "≤ curl's, ≤ 1.5× the floor",
            meets_curl_and_floor(p),
        ),
        row(
            format!(
                "{figure}: CPU time per update after the list, floor: a process that only reads the same watch over the same TLS library and writes a line per event"
            ),
            after_start(&p.floor),
            "",
        ),
        row(
            format!(
                "{figure}: CPU time per update after the list, curl reading the same watch from the same resourceVersion into /dev/null"
            ),
            p.curl.as_ref().map_or("curl not found".into(), after_start),
            "",
        ),
        row(
            format!(
                "{figure}: CPU time per update after the list, kube floor: kube's own client and watcher on a type that reads only the resourceVersion, a line per event"
            ),
            after_start(&p.kube_floor),
            "",
        ),
        Row {
            ratio: format!(
                "curl {}, floor {}",
                p.curl
                    .as_ref()
                    .map_or("—".into(), |c| switches_per(c, p.updates)),
                switches_per(&p.floor, p.updates)
            ),
            ..row(
                format!(
                    "{figure}: context switches per update after the list, voluntary + involuntary (curl's, the floor's)"
                ),
                switches_per(n, p.updates),
                peer(&|r| switches_per(r, p.updates)),
            )
        },
    ]
}

/// CPU time (µs) per update after the list, when it was measured.
fn after_list_us(r: &PacedRun, updates: usize) -> Option<f64> {
    let before = r.cpu_before_updates_us?;
    Some(r.measured.cpu_us.saturating_sub(before) as f64 / updates as f64)
}

/// Ours after the list over curl's and over the floor's.
fn against_curl_and_floor(p: &Paced) -> String {
    let ours = after_list_us(&p.notify, p.updates);
    let ratio = |peer: Option<f64>| match (ours, peer) {
        (Some(ours), Some(peer)) if peer > 0.0 => format!("{:.2}×", ours / peer),
        _ => "—".into(),
    };
    let curl = p.curl.as_ref().and_then(|c| after_list_us(c, p.updates));
    format!(
        "{} curl's, {} the floor's, {} the kube floor's",
        ratio(curl),
        ratio(after_list_us(&p.floor, p.updates)),
        ratio(after_list_us(&p.kube_floor, p.updates))
    )
}

fn meets_curl_and_floor(p: &Paced) -> Option<bool> {
    let ours = after_list_us(&p.notify, p.updates)?;
    let curl = after_list_us(p.curl.as_ref()?, p.updates)?;
    let floor = after_list_us(&p.floor, p.updates)?;
    Some(ours <= curl && ours <= 1.5 * floor)
}

/// The note under the table.
pub fn note(p: &Paced) -> String {
    let lines = |r: &PacedRun| format!("{} of {}", thousands(r.lines), thousands(r.expected_lines));
    format!(
        "- Paced: {} widgets of {} bytes (with {MANAGERS} managedFields entries) labelled `{LABEL}`; {} merge patches of `.spec.i`, round-robin, one every {} ms, so each event arrives alone as from a real server (ours: `--on-change .spec.i -o name --count {}`, {} lines; kubectl: `get -w -o name`, {}). The floor is this bench re-executed as the least client there is: it opens the same watch over rustls and, for each event, reads its TLS record and writes a line, parsing nothing ({} lines): what any client pays per event on this machine, the kernel's wake-up, reads and write above all. The kube floor is this bench re-executed as the least client built on kube ({} lines): kube's own client from the kubeconfig and `kube::runtime::watcher` (list, then watch), on a type whose parse keeps only the resourceVersion and skips every other value unbuilt, a line per change. curl reads the same watch from the same resourceVersion (`curl -sN --cacert CA -H 'Authorization: Bearer …' URL > /dev/null`; the server ends the watch after the last update, and curl with it): {}.",
        thousands(p.objects),
        p.object_bytes,
        thousands(p.updates),
        1000 / RATE,
        p.updates,
        lines(&p.notify),
        p.kubectl.as_ref().map_or("not run".into(), lines),
        lines(&p.floor),
        lines(&p.kube_floor),
        if p.curl.is_some() {
            "run"
        } else {
            "not on PATH, not run"
        },
    )
}
