//! "Nothing missed across restarts and failovers" (SPEC §12), checked
//! against a model: two or three replicas with `--leader-elect` and
//! `--checkpoint`, killed (SIGKILL, SIGTERM) and started at random among
//! random creates, updates, deletes and server faults; a CloudEvents
//! receiver collects what was delivered. Every change arrives at least once;
//! a change that arrives again carries the id it had; per object, changes
//! first arrive in resourceVersion order. Seeded; the seed is printed.
//! `MODEL_CASES=N` runs more cases, `MODEL_SEED=S` replays one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;
use crate::ha::{Replica, holder};
use crate::receiver::Receiver;

/// Short lease timings (lease, renew deadline, retry): a SIGKILLed holder's
/// lease expires within a second.
const TIMINGS: &str = "1s,700ms,200ms";
const LEASE: &str = "model";
const NAMES: [&str; 4] = ["a", "b", "c", "d"];

#[derive(Debug, Clone)]
enum Op {
    Create(String),
    Update(String),
    Delete(String),
    Kill,
    Term,
    Start,
    Fault(Fault),
}

/// Server faults after which a watch resumes from where it was.
#[derive(Debug, Clone, Copy)]
enum Fault {
    CloseAfterEvents(usize),
    FailRequests(u16),
    Restart,
    Bookmark,
}

fn plan(rng: &mut Rng, faults: bool) -> Vec<Op> {
    let len = 14 + rng.below(12);
    (0..len)
        .map(|_| {
            let name = NAMES[rng.below(NAMES.len() as u64) as usize].to_string();
            match rng.below(if faults { 14 } else { 12 }) {
                0..=2 => Op::Create(name),
                3..=5 => Op::Update(name),
                6..=7 => Op::Delete(name),
                8 => Op::Kill,
                9 => Op::Term,
                10..=11 => Op::Start,
                _ => Op::Fault(match rng.below(4) {
                    0 => Fault::CloseAfterEvents(1 + rng.below(3) as usize),
                    1 => Fault::FailRequests([500, 503, 429][rng.below(3) as usize]),
                    2 => Fault::Restart,
                    _ => Fault::Bookmark,
                }),
            }
        })
        .collect()
}

/// What the server did after the first checkpoint: every version, and the
/// UIDs deleted; the final state per name.
#[derive(Default)]
struct History {
    versions: HashSet<(String, String)>,
    deleted: Vec<String>,
    last: HashMap<String, Option<(String, String)>>,
}

impl History {
    fn record(&mut self, object: &Value) {
        let (uid, rv, name) = (
            text(object, "uid"),
            text(object, "resourceVersion"),
            text(object, "name"),
        );
        self.versions.insert((uid.clone(), rv.clone()));
        self.last.insert(name, Some((uid, rv)));
    }
}

fn text(object: &Value, field: &str) -> String {
    object["metadata"][field].as_str().unwrap().to_string()
}

/// One delivered CloudEvent: its id, and the change its body tells.
struct Arrival {
    id: String,
    kind: String,
    uid: String,
    rv: String,
    name: String,
}

struct Case<'a> {
    s: &'a Scenario,
    flags: Vec<String>,
    live: Vec<Replica>,
    started: usize,
    stderr: Vec<String>,
}

impl Case<'_> {
    fn start(&mut self) {
        let flags: Vec<&str> = self.flags.iter().map(String::as_str).collect();
        let name = format!("r{}", self.started);
        self.started += 1;
        self.live
            .push(Replica::start(self.s, &name, Some(TIMINGS), &flags));
    }

    fn stop(&mut self, rng: &mut Rng, signal: i32) {
        if self.live.is_empty() {
            return;
        }
        let mut replica = self.live.remove(rng.below(self.live.len() as u64) as usize);
        replica.signal(signal);
        let _ = replica.child.wait();
        self.stderr.push(replica.stderr.lock().unwrap().clone());
    }
}

/// A case's outcome: (changes made, deliveries checked, replica kills and
/// starts), or what went wrong.
type Outcome = Result<(usize, usize, usize), String>;

fn run_case(seed: u64, faults: bool) -> Outcome {
    let mut rng = Rng(seed | 1);
    let ops = plan(&mut rng, faults);
    let s = Scenario::new();
    let hook = Receiver::start();
    for name in &NAMES[..2] {
        if rng.below(2) == 0 {
            s.widget(name, json!({"n": 0}), json!(null));
        }
    }
    let mut case = Case {
        s: &s,
        flags: [
            "-q",
            "--leader-elect",
            "--lease",
            LEASE,
            "--checkpoint",
            LEASE,
            "--sink",
            &format!("cloudevents:{}", hook.url()),
        ]
        .map(String::from)
        .to_vec(),
        live: Vec::new(),
        started: 0,
        stderr: Vec::new(),
    };
    for _ in 0..2 + rng.below(2) {
        case.start();
    }
    // From the first checkpoint with the target's mark on, every change is
    // someone's to deliver.
    let marked = || {
        let checkpoint = s.server.get("configmaps", Some("default"), LEASE)?;
        let text = checkpoint["data"]["checkpoint.json"].as_str()?;
        let parsed: Value = serde_json::from_str(text).ok()?;
        (!parsed["targets"].as_object()?.is_empty()).then_some(())
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while marked().is_none() {
        if Instant::now() > deadline {
            return Err("no checkpoint was ever written".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut history = History::default();
    let mut counter = 0u64;
    for op in &ops {
        counter += 1;
        let exists = |name: &str| s.server.get(WIDGETS, Some("default"), name).is_some();
        match op {
            Op::Create(name) if !exists(name) => {
                history.record(&s.widget(name, json!({"n": counter}), json!(null)))
            }
            Op::Update(name) if exists(name) => history.record(&s.server.merge_patch(
                WIDGETS,
                Some("default"),
                name,
                json!({"spec": {"n": counter}}),
            )),
            Op::Delete(name) if exists(name) => {
                let gone = s.server.delete(WIDGETS, Some("default"), name).unwrap();
                history.deleted.push(text(&gone, "uid"));
                history.last.insert(name.clone(), None);
            }
            Op::Kill => case.stop(&mut rng, libc::SIGKILL),
            Op::Term => case.stop(&mut rng, libc::SIGTERM),
            Op::Start if case.live.len() < 3 => case.start(),
            Op::Fault(fault) => match fault {
                Fault::CloseAfterEvents(n) => s.server.close_watches_after_events(Some(*n)),
                Fault::FailRequests(status) => s.server.fail_next_requests(2, *status, Some(1)),
                Fault::Restart => s.server.restart(Duration::from_millis(300)),
                Fault::Bookmark => s.server.send_bookmark(),
            },
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(rng.below(150)));
    }
    s.server.clear_faults();
    if case.live.is_empty() {
        case.start();
    }
    // A sentinel: once it arrives and the receiver is quiet, all is in.
    s.widget("zz-end", json!({}), json!(null));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut quiet_since = None;
    let mut count = 0;
    loop {
        let received = hook.delivered();
        let sentinel = received.iter().any(|r| r.json()["name"] == "zz-end");
        if received.len() != count {
            count = received.len();
            quiet_since = Some(Instant::now());
        }
        if sentinel && quiet_since.is_some_and(|t| t.elapsed() > Duration::from_secs(1)) {
            break;
        }
        if Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let arrivals: Vec<Arrival> = hook
        .delivered()
        .iter()
        .map(|r| {
            let body = r.json();
            let field = |f: &str| body[f].as_str().unwrap_or("").to_string();
            Arrival {
                id: r.header("ce-id").unwrap_or("").to_string(),
                kind: field("type"),
                uid: field("uid"),
                rv: field("resourceVersion"),
                name: field("name"),
            }
        })
        .filter(|a| a.name != "zz-end")
        .collect();
    let holder_now = holder(&s, LEASE);
    while !case.live.is_empty() {
        case.stop(&mut rng, libc::SIGKILL);
    }
    let checked = check(&arrivals, &history, faults);
    checked.map_err(|e| {
        format!(
            "{e}\nops: {ops:?}\nholder at the end: {holder_now:?}\narrivals:\n{}\nstderr:\n{}",
            arrivals
                .iter()
                .map(|a| format!("{} {} {} {}", a.kind, a.name, a.uid, a.rv))
                .collect::<Vec<_>>()
                .join("\n"),
            case.stderr.join("\n---\n")
        )
    })?;
    let restarts = ops
        .iter()
        .filter(|op| matches!(op, Op::Kill | Op::Term | Op::Start))
        .count();
    let changes = history.versions.len() + history.deleted.len();
    Ok((changes, arrivals.len(), restarts))
}

fn check(arrivals: &[Arrival], history: &History, faults: bool) -> Result<(), String> {
    let mut first_rv: HashMap<&str, u64> = HashMap::new();
    let mut ids_per_version: BTreeMap<(&str, &str), HashSet<&str>> = BTreeMap::new();
    let mut seen_ids = HashSet::new();
    for a in arrivals {
        // The id is the change's own: the same on every re-delivery.
        let own = format!("{}/{}/{}", a.uid, a.rv, a.kind);
        if a.id != own {
            return Err(format!("ce-id {} for the change {own}", a.id));
        }
        if a.kind == "initial" {
            return Err("the state at start was delivered".into());
        }
        if a.kind != "deleted" && !history.versions.contains(&(a.uid.clone(), a.rv.clone())) {
            // Versions from before the first checkpoint were listed, not changed.
            return Err(format!("{own}: not a change made after the start"));
        }
        let key = if a.kind == "deleted" {
            (a.uid.as_str(), "deleted")
        } else {
            (a.uid.as_str(), a.rv.as_str())
        };
        ids_per_version.entry(key).or_default().insert(&a.id);
        // First arrivals per object in resourceVersion order. A deletion
        // that a re-list found (after a fault) carries the last version
        // known, not the deletion's: it is left out of the order.
        if seen_ids.insert(a.id.as_str()) && !(faults && a.kind == "deleted") {
            let rv: u64 = a.rv.parse().unwrap_or(0);
            if let Some(before) = first_rv.insert(&a.uid, rv)
                && before > rv
            {
                return Err(format!("{}: rv {rv} first arrived after {before}", a.uid));
            }
        }
    }
    let delivered = |uid: &str, rv: &str| {
        arrivals
            .iter()
            .any(|a| a.uid == uid && a.rv == rv && a.kind != "deleted")
    };
    let deleted = |uid: &str| arrivals.iter().any(|a| a.uid == uid && a.kind == "deleted");
    if faults {
        // A re-list after a fault may fold versions; the last of each stays.
        // A deletion it found has the last known version in its id, so it
        // may differ from the id the watch's deletion had.
        for (name, last) in &history.last {
            if let Some((uid, rv)) = last
                && !delivered(uid, rv)
            {
                return Err(format!("{name}: final version {uid}@{rv} never delivered"));
            }
        }
        for uid in &history.deleted {
            if arrivals.iter().any(|a| &a.uid == uid) && !deleted(uid) {
                return Err(format!("the deletion of {uid} was never delivered"));
            }
        }
        return Ok(());
    }
    for (uid, rv) in &history.versions {
        if !delivered(uid, rv) {
            return Err(format!("{uid}@{rv} was never delivered"));
        }
    }
    for uid in &history.deleted {
        if !deleted(uid) {
            return Err(format!("the deletion of {uid} was never delivered"));
        }
    }
    // Duplicates only with an id already delivered: one id per change.
    for ((uid, version), ids) in &ids_per_version {
        if ids.len() > 1 {
            return Err(format!("{uid} {version} delivered under ids {ids:?}"));
        }
    }
    Ok(())
}

fn run_all(faults: bool, default_cases: usize) {
    let seed: Option<u64> = std::env::var("MODEL_SEED")
        .ok()
        .and_then(|v| v.parse().ok());
    let base = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    let total = match seed {
        Some(_) => 1,
        None => std::env::var("MODEL_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default_cases),
    };
    println!("ha model: seed {base}, {total} cases");
    let workers = 2;
    let results: Vec<(u64, Outcome)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                scope.spawn(move || {
                    (0..total)
                        .filter(|i| i % workers == w)
                        .map(|i| {
                            let seed = base.wrapping_add(i as u64 * 0x9E37_79B9);
                            (seed, run_case(seed, faults))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let ok = || results.iter().filter_map(|(_, r)| r.as_ref().ok());
    println!(
        "ha model: {} cases{}, {} changes, {} replica kills/starts, {} deliveries checked",
        results.len(),
        if faults { " with server faults" } else { "" },
        ok().map(|(c, _, _)| c).sum::<usize>(),
        ok().map(|(_, _, k)| k).sum::<usize>(),
        ok().map(|(_, n, _)| n).sum::<usize>(),
    );
    if let Some((seed, Err(e))) = results.iter().find(|(_, r)| r.is_err()) {
        panic!("ha model case failed; replay with MODEL_SEED={seed}\n{e}");
    }
}

#[test]
fn replicas_killed_and_started_at_random_deliver_every_change_under_one_id() {
    run_all(false, 6);
}

#[test]
fn replicas_killed_and_started_among_server_faults_deliver_the_last_word_on_each_object() {
    run_all(true, 4);
}
