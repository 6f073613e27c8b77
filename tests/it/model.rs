//! "Nothing missed, nothing doubled" (SPEC §8), checked against a model:
//! random creates, updates, deletes and re-creates, interleaved with random
//! faults, then kubectl-notify's `-o json` output compared with what the
//! server's history allows. Seeded; the seed is printed on failure.
//! `MODEL_CASES=N` runs more cases, `MODEL_SEED=S` replays one.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;

#[derive(Debug, Clone)]
enum Op {
    Create(String),
    Update(String),
    Delete(String),
    Recreate(String),
    Fault(Fault),
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Watches end after a few more events.
    CloseAfterEvents(usize),
    /// The history is compacted: the next watch from an old RV gets 410.
    Compact,
    /// The next requests fail with 500/503/429.
    FailRequests(u16),
    /// Every connection drops; the server refuses connections for a while.
    Restart,
    Bookmark,
    /// An ERROR event inside the open watches.
    ErrorEvent,
}

const NAMES: [&str; 4] = ["a", "b", "c", "d"];

fn plan(rng: &mut Rng, faults: bool) -> Vec<Op> {
    let len = 6 + rng.below(10);
    (0..len)
        .map(|_| {
            let name = NAMES[rng.below(NAMES.len() as u64) as usize].to_string();
            match rng.below(if faults { 12 } else { 10 }) {
                0..=2 => Op::Create(name),
                3..=6 => Op::Update(name),
                7..=8 => Op::Delete(name),
                9 => Op::Recreate(name),
                _ => Op::Fault(match rng.below(6) {
                    0 => Fault::CloseAfterEvents(1 + rng.below(3) as usize),
                    1 => Fault::Compact,
                    2 => Fault::FailRequests([500, 503, 429][rng.below(3) as usize]),
                    3 => Fault::Restart,
                    4 => Fault::Bookmark,
                    _ => Fault::ErrorEvent,
                }),
            }
        })
        .collect()
}

/// Every version the server ever had, by (uid, resourceVersion), and the final
/// state of each name.
#[derive(Default)]
struct History {
    versions: HashMap<(String, String), Value>,
    final_state: HashMap<String, Option<Value>>,
    /// UIDs deleted after the start.
    deleted: Vec<String>,
}

impl History {
    fn record(&mut self, object: &Value) {
        let meta = &object["metadata"];
        let key = (
            meta["uid"].as_str().unwrap().to_string(),
            meta["resourceVersion"].as_str().unwrap().to_string(),
        );
        self.versions.insert(key, object.clone());
        self.final_state.insert(
            meta["name"].as_str().unwrap().to_string(),
            Some(object.clone()),
        );
    }
}

fn apply(s: &Scenario, op: &Op, history: &mut History, counter: &mut u64, on: bool) {
    let exists = |name: &str| s.server.get(WIDGETS, Some("default"), name).is_some();
    *counter += 1;
    match op {
        Op::Create(name) if !exists(name) => {
            history.record(&s.widget(name, json!({"n": *counter, "on": on}), json!(null)))
        }
        Op::Update(name) if exists(name) => history.record(&s.server.merge_patch(
            WIDGETS,
            Some("default"),
            name,
            json!({"spec": {"n": *counter, "on": on}}),
        )),
        Op::Delete(name) if exists(name) => delete(s, name, history),
        Op::Recreate(name) => {
            if exists(name) {
                delete(s, name, history);
            }
            history.record(&s.widget(name, json!({"n": *counter, "on": on}), json!(null)));
        }
        Op::Fault(fault) => inject(s, *fault),
        _ => {}
    }
}

fn delete(s: &Scenario, name: &str, history: &mut History) {
    let gone = s.server.delete(WIDGETS, Some("default"), name).unwrap();
    history
        .deleted
        .push(gone["metadata"]["uid"].as_str().unwrap().to_string());
    history.final_state.insert(name.to_string(), None);
}

fn inject(s: &Scenario, fault: Fault) {
    match fault {
        Fault::CloseAfterEvents(n) => s.server.close_watches_after_events(Some(n)),
        Fault::Compact => s.server.compact(),
        Fault::FailRequests(status) => s.server.fail_next_requests(2, status, Some(1)),
        Fault::Restart => s.server.restart(Duration::from_millis(300)),
        Fault::Bookmark => s.server.send_bookmark(),
        Fault::ErrorEvent => s.server.send_error_event(500, "injected error"),
    }
}

/// Runs one case; returns a description of what went wrong, if anything.
/// A case's outcome: (notifications checked, faults injected), or what went wrong.
type Outcome = Result<(usize, usize), String>;

fn run_case(seed: u64, faults: bool, when: bool) -> Outcome {
    let mut rng = Rng(seed | 1);
    let ops = plan(&mut rng, faults);
    let s = Scenario::new();
    let mut history = History::default();
    // Some objects exist before the start: their state at start is no change.
    for name in &NAMES[..2] {
        if rng.below(2) == 0 {
            s.widget(name, json!({"n": 0}), json!(null));
        }
    }
    let initial: HashSet<String> = NAMES
        .iter()
        .filter_map(|n| s.server.get(WIDGETS, Some("default"), n))
        .map(|o| o["metadata"]["uid"].as_str().unwrap().to_string())
        .collect();
    let args: &[&str] = if when {
        &["widgets", "--all", "-o", "json", "--when", WHEN]
    } else {
        &["widgets", "--all", "-o", "json"]
    };
    let mut child = s.notify(args).stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    s.wait_for_watch_matching("/widgets?", &mut child);

    let mut counter = 0;
    for op in &ops {
        let on = rng.below(2) == 0;
        apply(&s, op, &mut history, &mut counter, on);
        std::thread::sleep(Duration::from_millis(rng.below(30)));
    }
    s.server.clear_faults();
    // A sentinel: once its creation is printed, everything before is too.
    s.widget("zz-end", json!({"on": true}), json!(null));
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sentinel = false;
    loop {
        // After the sentinel, a re-list may still be reporting the deletions it
        // found (they come after the objects it listed): read until quiet.
        let wait = if sentinel {
            Duration::from_millis(500)
        } else {
            deadline.saturating_duration_since(Instant::now())
        };
        let line = match lines_rx.recv_timeout(wait) {
            Ok(line) => line,
            Err(_) if sentinel => break,
            Err(_) => {
                return Err(format!(
                    "the sentinel never showed up; ops {ops:?}; output so far:\n{}",
                    seen.iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                ));
            }
        };
        let value: Value =
            serde_json::from_str(&line).map_err(|e| format!("not JSON ({e}): {line}"))?;
        if value["name"] == "zz-end" {
            sentinel = true;
            continue;
        }
        seen.push(value);
    }
    let _ = child.kill();
    let _ = child.wait();
    let checked = if when {
        check_when(&seen, &history, faults)
    } else {
        check(&seen, &history, &initial, faults)
    };
    checked.map_err(|e| {
        format!(
            "{e}\nops: {ops:?}\noutput:\n{}",
            seen.iter()
                .map(|v| format!(
                    "{} {} {} {}",
                    v["type"], v["name"], v["uid"], v["resourceVersion"]
                ))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })?;
    let injected = ops.iter().filter(|op| matches!(op, Op::Fault(_))).count();
    Ok((seen.len(), injected))
}

const WHEN: &str = ".spec.on == true";

/// `--when`: every report is a version where the expression holds, each
/// false→true edge is reported at most once (a report needs a false version
/// since the previous one), and without faults every edge is reported.
fn check_when(seen: &[Value], history: &History, faults: bool) -> Result<(), String> {
    let on = |v: &Value| v["spec"]["on"] == true;
    let mut by_uid: HashMap<String, Vec<(u64, bool)>> = HashMap::new();
    for ((uid, rv), object) in &history.versions {
        by_uid
            .entry(uid.clone())
            .or_default()
            .push((rv.parse().unwrap(), on(object)));
    }
    for versions in by_uid.values_mut() {
        versions.sort();
    }
    let mut last_report: HashMap<String, u64> = HashMap::new();
    let mut reported = HashSet::new();
    for n in seen {
        let (kind, uid, rv) = (
            n["type"].as_str().unwrap(),
            n["uid"].as_str().unwrap(),
            n["resourceVersion"].as_str().unwrap(),
        );
        if kind == "deleted" || kind == "initial" {
            return Err(format!("--when reported a {kind}"));
        }
        if !on(&n["object"]) {
            return Err(format!("{uid}@{rv} reported while {WHEN} is false"));
        }
        if !reported.insert((uid.to_string(), rv.to_string())) {
            return Err(format!("{uid}@{rv} reported twice"));
        }
        let rv: u64 = rv.parse().unwrap();
        let versions = by_uid.get(uid).map(Vec::as_slice).unwrap_or_default();
        if let Some(before) = last_report.insert(uid.to_string(), rv) {
            let fell = versions.iter().any(|(v, on)| *v > before && *v < rv && !on);
            if !fell {
                return Err(format!(
                    "{uid}: edge reported twice ({before} then {rv}, nothing false between)"
                ));
            }
        }
    }
    if !faults {
        for (uid, versions) in &by_uid {
            let mut previous = false;
            for (rv, now) in versions {
                if *now && !previous && !reported.contains(&(uid.clone(), rv.to_string())) {
                    return Err(format!("{uid}@{rv}: a false→true edge was not reported"));
                }
                previous = *now;
            }
        }
    }
    Ok(())
}

fn check(
    seen: &[Value],
    history: &History,
    initial: &HashSet<String>,
    faults: bool,
) -> Result<(), String> {
    let mut reported: HashSet<(String, String, String)> = HashSet::new();
    let mut last_rv: HashMap<String, u64> = HashMap::new();
    let mut last_by_name: HashMap<String, &Value> = HashMap::new();
    for n in seen {
        let (kind, uid, rv) = (
            n["type"].as_str().unwrap(),
            n["uid"].as_str().unwrap(),
            n["resourceVersion"].as_str().unwrap(),
        );
        // Nothing doubled.
        if !reported.insert((kind.to_string(), uid.to_string(), rv.to_string())) {
            return Err(format!("reported twice: {kind} {uid}@{rv}"));
        }
        // Only versions that existed; the state at start is not a change.
        if kind != "deleted"
            && !history
                .versions
                .contains_key(&(uid.to_string(), rv.to_string()))
        {
            return Err(format!(
                "{kind} {uid}@{rv}: the server never had that version"
            ));
        }
        if kind == "initial" {
            return Err("the state at start was notified without --initial".into());
        }
        // In resourceVersion order per object.
        let rv_num: u64 = rv.parse().unwrap();
        if let Some(before) = last_rv.insert(uid.to_string(), rv_num)
            && before > rv_num
        {
            return Err(format!("{uid}: rv {rv_num} reported after {before}"));
        }
        last_by_name.insert(n["name"].as_str().unwrap().to_string(), n);
    }
    // Nothing missed: the final state of every object is the last word on it.
    for (name, state) in &history.final_state {
        let last = last_by_name.get(name);
        match (state, last) {
            (Some(object), Some(last)) => {
                if last["type"] == "deleted"
                    || last["resourceVersion"] != object["metadata"]["resourceVersion"]
                {
                    return Err(format!(
                        "{name}: final version {} not reported last (last: {} {})",
                        object["metadata"]["resourceVersion"],
                        last["type"],
                        last["resourceVersion"]
                    ));
                }
            }
            (Some(object), None) => {
                return Err(format!(
                    "{name}: final version {} never reported",
                    object["metadata"]["resourceVersion"]
                ));
            }
            (None, Some(last)) if last["type"] != "deleted" => {
                return Err(format!(
                    "{name}: deleted, but the last report is {} {}",
                    last["type"], last["resourceVersion"]
                ));
            }
            (None, _) => {}
        }
    }
    // Without faults every change the server made is reported, each once.
    if !faults {
        for (uid, rv) in history.versions.keys() {
            if !seen.iter().any(|n| {
                n["uid"] == uid.as_str()
                    && n["resourceVersion"] == rv.as_str()
                    && n["type"] != "deleted"
            }) {
                return Err(format!("{uid}@{rv} was never reported"));
            }
        }
        for uid in &history.deleted {
            if !seen
                .iter()
                .any(|n| n["uid"] == uid.as_str() && n["type"] == "deleted")
            {
                return Err(format!("the deletion of {uid} was never reported"));
            }
        }
        let expected = history.versions.len() + history.deleted.len();
        if seen.len() != expected {
            return Err(format!(
                "{} notifications for {expected} changes",
                seen.len()
            ));
        }
    }
    // The state at start stays quiet: objects that existed then and never
    // changed are not mentioned.
    for uid in initial {
        let changed =
            history.versions.keys().any(|(u, _)| u == uid) || history.deleted.contains(uid);
        if !changed && seen.iter().any(|n| n["uid"] == uid.as_str()) {
            return Err(format!("{uid} did not change but was notified"));
        }
    }
    Ok(())
}

fn cases(default: usize) -> usize {
    std::env::var("MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run_all(faults: bool, when: bool, default_cases: usize) {
    let base: u64 = std::env::var("MODEL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let total = if std::env::var("MODEL_SEED").is_ok() {
        1
    } else {
        cases(default_cases)
    };
    let workers = 4;
    let results: Vec<(u64, Outcome)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                scope.spawn(move || {
                    (0..total)
                        .filter(|i| i % workers == w)
                        .map(|i| {
                            let seed = base.wrapping_add(i as u64 * 0x9E37_79B9);
                            (seed, run_case(seed, faults, when))
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
    let events: usize = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .map(|(n, _)| n)
        .sum();
    let injected: usize = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .map(|(_, f)| f)
        .sum();
    println!(
        "model: {} cases{}, {injected} faults injected, {events} notifications checked",
        results.len(),
        if when { " with --when" } else { "" }
    );
    if let Some((seed, Err(e))) = results.iter().find(|(_, r)| r.is_err()) {
        panic!("model case failed; replay with MODEL_SEED={seed}\n{e}");
    }
}

#[test]
fn changes_without_faults_match_the_model() {
    run_all(false, false, 60);
}

#[test]
fn changes_with_faults_match_the_model() {
    run_all(true, false, 160);
}

#[test]
fn when_edges_match_the_model() {
    run_all(false, true, 40);
}

#[test]
fn when_edges_under_faults_match_the_model() {
    run_all(true, true, 80);
}
