//! "Nothing missed across restarts and failovers" (SPEC §8, §12), checked
//! against a model: two or three replicas with `--leader-elect` and
//! `--checkpoint`, killed (SIGKILL, SIGTERM) and started at random among
//! random creates, updates, deletes, sink outages and server faults, with
//! notify-mode flags drawn per case (`--when` with or without `--hold` and
//! `--resolve`, `--throttle`, `--on-change`); a CloudEvents receiver collects what was
//! delivered. From the server's versions the oracle derives what the flags
//! imply: every notification must arrive (by id; first arrivals per object
//! in resourceVersion order), none the flags exclude, a re-delivery only
//! under the id it had. Seeded; the seed is printed.
//! `MODEL_CASES=N` runs more cases, `MODEL_SEED=S` replays one.
//!
//! The `--rules` variant runs the same scenarios through one rules file of
//! three or four rules, each with flags drawn as above, one Lease and one
//! checkpoint for them all; the oracle judges each rule's deliveries (the
//! body's `rule` tells which) against its own flags.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;
use crate::ha::{Replica, holder};
use crate::ha_rules::rules_file;
use crate::receiver::Receiver;

/// Short lease timings (lease, renew deadline, retry): a SIGKILLed holder's
/// lease expires within a second.
const TIMINGS: &str = "1s,700ms,200ms";
const LEASE: &str = "model";
const NAMES: [&str; 4] = ["a", "b", "c", "d"];

#[derive(Debug, Clone)]
enum Op {
    Create(String, Phase),
    /// A change to `.spec.n` only (no `--on-change` or `--when` edge).
    Touch(String),
    /// `.spec.phase` set (perhaps to what it was).
    Turn(String, Phase),
    Delete(String),
    Kill,
    Term,
    Start,
    /// The sink refuses connections for this many milliseconds.
    SinkDown(u64),
    Fault(Fault),
}

type Phase = &'static str;
const PHASES: [Phase; 2] = ["ok", "bad"];
/// `--when`'s condition, and the `--on-change` path.
const WHEN: &str = ".spec.phase == \"bad\"";
const ON_CHANGE: &str = ".spec.phase";

/// Server faults after which a watch resumes from where it was.
#[derive(Debug, Clone, Copy)]
enum Fault {
    CloseAfterEvents(usize),
    FailRequests(u16),
    Restart,
    Bookmark,
}

/// The notify-mode flags a case runs with, drawn from its seed.
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    when: bool,
    /// `--hold`, in milliseconds (with `--when` only).
    hold: Option<u64>,
    /// `--throttle`, in milliseconds.
    throttle: Option<u64>,
    on_change: bool,
    /// `--resolve` (with `--when` only).
    resolve: bool,
}

impl Flags {
    fn draw(rng: &mut Rng) -> Flags {
        let when = rng.below(2) == 0;
        Flags {
            when,
            hold: (when && rng.below(2) == 0).then(|| [400, 800][rng.below(2) as usize]),
            throttle: (rng.below(3) == 0).then(|| [600, 2000][rng.below(2) as usize]),
            on_change: rng.below(3) == 0,
            resolve: when && rng.below(2) == 0,
        }
    }

    fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.when {
            args.extend(["--when".into(), WHEN.into()]);
        }
        if let Some(ms) = self.hold {
            args.extend(["--hold".into(), format!("{ms}ms")]);
        }
        if let Some(ms) = self.throttle {
            args.extend(["--throttle".into(), format!("{ms}ms")]);
        }
        if self.on_change {
            args.extend(["--on-change".into(), ON_CHANGE.into()]);
        }
        if self.resolve {
            args.push("--resolve".into());
        }
        args
    }

    /// How long a notification may wait in a window after its change.
    fn window(&self) -> Duration {
        Duration::from_millis(self.hold.unwrap_or(0) + self.throttle.unwrap_or(0))
    }
}

fn plan(rng: &mut Rng, faults: bool) -> Vec<Op> {
    let len = 14 + rng.below(12);
    (0..len)
        .map(|_| {
            let name = NAMES[rng.below(NAMES.len() as u64) as usize].to_string();
            let phase = PHASES[rng.below(2) as usize];
            match rng.below(if faults { 16 } else { 14 }) {
                0..=2 => Op::Create(name, phase),
                3..=4 => Op::Turn(name, phase),
                5 => Op::Touch(name),
                6..=7 => Op::Delete(name),
                8 => Op::Kill,
                9 => Op::Term,
                10..=11 => Op::Start,
                12 => Op::SinkDown(200 + rng.below(900)),
                13 => Op::Turn(name, phase),
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

/// One version of an object as the server had it, and when it was made.
#[derive(Debug, Clone)]
struct Version {
    rv: u64,
    phase: String,
    at: Instant,
}

/// One object (UID): its state when the first checkpoint was there (if it
/// existed then), every version made after, and when it was deleted.
#[derive(Debug)]
struct Life {
    name: String,
    base: Option<Version>,
    versions: Vec<Version>,
    deleted: Option<Instant>,
}

/// What the server did: the lives of every object, by UID.
#[derive(Default)]
struct History {
    lives: BTreeMap<String, Life>,
}

impl History {
    fn version(object: &Value) -> (String, Version) {
        let version = Version {
            rv: text(object, "resourceVersion").parse().unwrap(),
            phase: object["spec"]["phase"].as_str().unwrap_or("").to_string(),
            at: Instant::now(),
        };
        (text(object, "uid"), version)
    }

    /// An object as it was before any replica could deliver.
    fn base(&mut self, object: &Value) {
        let (uid, version) = Self::version(object);
        let name = text(object, "name");
        self.lives.insert(
            uid,
            Life {
                name,
                base: Some(version),
                versions: Vec::new(),
                deleted: None,
            },
        );
    }

    fn record(&mut self, object: &Value) {
        let (uid, version) = Self::version(object);
        let name = text(object, "name");
        let life = self.lives.entry(uid).or_insert_with(|| Life {
            name,
            base: None,
            versions: Vec::new(),
            deleted: None,
        });
        // A patch that changed nothing made no version.
        let last = life.versions.last().or(life.base.as_ref());
        if last.is_none_or(|last| last.rv != version.rv) {
            life.versions.push(version);
        }
    }

    fn delete(&mut self, object: &Value) {
        if let Some(life) = self.lives.get_mut(&text(object, "uid")) {
            life.deleted = Some(Instant::now());
        }
    }

    fn changes(&self) -> usize {
        self.lives
            .values()
            .map(|l| l.versions.len() + usize::from(l.deleted.is_some()))
            .sum()
    }
}

fn text(object: &Value, field: &str) -> String {
    object["metadata"][field].as_str().unwrap().to_string()
}

/// One delivered CloudEvent: its id, and the change its body tells.
#[derive(Clone)]
struct Arrival {
    /// The rule that delivered it (`--rules`; "" for a command line).
    rule: String,
    id: String,
    kind: String,
    uid: String,
    rv: String,
    name: String,
}

struct Case<'a> {
    s: &'a Scenario,
    /// Every argument of a replica.
    args: Vec<String>,
    live: Vec<Replica>,
    started: usize,
    stderr: Vec<String>,
    /// A replica that did not end within [`ENDS_WITHIN`] of SIGTERM (then
    /// killed): the case fails with its stderr rather than hang.
    stuck: Option<String>,
}

/// How long a replica may take to end after SIGTERM: its flush is bounded
/// by `--flush-timeout 2s` and the lease's release by 5 s.
const ENDS_WITHIN: Duration = Duration::from_secs(20);

impl Case<'_> {
    fn start(&mut self) {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let name = format!("r{}", self.started);
        self.started += 1;
        self.live
            .push(Replica::with_args(self.s, &name, Some(TIMINGS), &args));
    }

    fn stop(&mut self, rng: &mut Rng, signal: i32) {
        if self.live.is_empty() {
            return;
        }
        let mut replica = self.live.remove(rng.below(self.live.len() as u64) as usize);
        replica.signal(signal);
        let deadline = Instant::now() + ENDS_WITHIN;
        while replica.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let said = replica.stderr.lock().unwrap().clone();
                self.stuck.get_or_insert(format!(
                    "a replica did not end within {ENDS_WITHIN:?} of signal {signal}:
{said}"
                ));
                replica.signal(libc::SIGKILL);
                let _ = replica.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stderr.push(replica.stderr.lock().unwrap().clone());
    }
}

/// A case's outcome: (changes made, deliveries checked, replica kills and
/// starts), or what went wrong.
type Outcome = Result<(usize, usize, usize), String>;

/// `rules`: 0 for one command line, else how many rules one rules file has.
fn run_case(seed: u64, faults: bool, rules: usize) -> Outcome {
    let mut rng = Rng(seed | 1);
    let ops = plan(&mut rng, faults);
    let drawn = Flags::draw(&mut rng);
    // Per rule: its name and flags (a command line's has no name).
    let mut ruled = vec![(String::new(), drawn)];
    if rules > 0 {
        ruled[0].0 = "rule0".into();
        for n in 1..rules {
            ruled.push((format!("rule{n}"), Flags::draw(&mut rng)));
        }
    }
    let s = Scenario::new();
    let hook = Receiver::start();
    let mut at_start = Vec::new();
    for name in &NAMES[..2] {
        if rng.below(2) == 0 {
            let phase = PHASES[rng.below(2) as usize];
            at_start.push(s.widget(name, json!({"n": 0, "phase": phase}), json!(null)));
        }
    }
    let sink = format!("cloudevents:{}", hook.url());
    let rule_args = |flags: Flags| {
        let mut args: Vec<String> = ["-q", "--flush-timeout", "2s", "--sink", &sink]
            .map(String::from)
            .to_vec();
        args.extend(flags.args());
        args
    };
    let ha = ["--leader-elect", "--lease", LEASE, "--checkpoint", LEASE].map(String::from);
    let args: Vec<String> = if rules == 0 {
        [WIDGETS, "--all", "-o", "json", "-v"]
            .map(String::from)
            .into_iter()
            .chain(ha)
            .chain(rule_args(drawn))
            .collect()
    } else {
        let yaml: String = ruled
            .iter()
            .map(|(name, flags)| {
                let mut args = vec![WIDGETS.to_string(), "--all".into()];
                args.extend(rule_args(*flags));
                format!(
                    "  - name: {name}\n    args: {}\n",
                    serde_json::to_string(&args).unwrap()
                )
            })
            .collect();
        let file = rules_file(&s, &format!("rules:\n{yaml}"));
        ["--rules".to_string(), file, "-v".into()]
            .into_iter()
            .chain(ha)
            .collect()
    };
    let mut case = Case {
        s: &s,
        args,
        live: Vec::new(),
        started: 0,
        stderr: Vec::new(),
        stuck: None,
    };
    for _ in 0..2 + rng.below(2) {
        case.start();
    }
    // From the first checkpoint with the target's mark on (every rule's),
    // every change is someone's to deliver.
    let marked = || {
        let checkpoint = s.server.get("configmaps", Some("default"), LEASE)?;
        let text = checkpoint["data"]["checkpoint.json"].as_str()?;
        let parsed: Value = serde_json::from_str(text).ok()?;
        let sections: Vec<&Value> = match rules {
            0 => vec![&parsed],
            _ => parsed["rules"].as_object()?.values().collect(),
        };
        let marked = sections
            .iter()
            .filter(|c| c["targets"].as_object().is_some_and(|t| !t.is_empty()))
            .count();
        (marked == rules.max(1)).then_some(())
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while marked().is_none() {
        if Instant::now() > deadline {
            return Err("no checkpoint was ever written".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut history = History::default();
    for object in &at_start {
        history.base(object);
    }
    let mut counter = 0u64;
    for op in &ops {
        counter += 1;
        let exists = |name: &str| s.server.get(WIDGETS, Some("default"), name).is_some();
        let patch = |name: &str, spec: Value| {
            s.server
                .merge_patch(WIDGETS, Some("default"), name, json!({ "spec": spec }))
        };
        match op {
            Op::Create(name, phase) if !exists(name) => {
                history.record(&s.widget(name, json!({"n": counter, "phase": phase}), json!(null)))
            }
            Op::Touch(name) if exists(name) => {
                history.record(&patch(name, json!({ "n": counter })))
            }
            Op::Turn(name, phase) if exists(name) => {
                history.record(&patch(name, json!({ "phase": phase })))
            }
            Op::Delete(name) if exists(name) => {
                let gone = s.server.delete(WIDGETS, Some("default"), name).unwrap();
                history.delete(&gone);
            }
            Op::Kill => case.stop(&mut rng, libc::SIGKILL),
            Op::Term => case.stop(&mut rng, libc::SIGTERM),
            Op::Start if case.live.len() < 3 => case.start(),
            Op::SinkDown(ms) => {
                hook.down();
                std::thread::sleep(Duration::from_millis(*ms));
                hook.up();
            }
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
    // A sentinel: once it arrives and the receiver is quiet for longer than
    // any window, all is in.
    s.widget("zz-end", json!({"phase": "bad"}), json!(null));
    let quiet = Duration::from_secs(2)
        + ruled
            .iter()
            .map(|(_, f)| f.window())
            .max()
            .unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut quiet_since = None;
    let mut count = 0;
    loop {
        let received = hook.delivered();
        let sentinel = received
            .iter()
            .filter(|r| r.json()["name"] == "zz-end")
            .map(|r| r.json()["rule"].as_str().unwrap_or("").to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            == rules.max(1);
        if received.len() != count {
            count = received.len();
            quiet_since = Some(Instant::now());
        }
        if sentinel && quiet_since.is_some_and(|t| t.elapsed() > quiet) {
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
                rule: field("rule"),
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
    let checked = ruled.iter().try_for_each(|(rule, flags)| {
        let mine: Vec<Arrival> = arrivals
            .iter()
            .filter(|a| a.rule == *rule)
            .map(Arrival::clone)
            .collect();
        let named = |e: String| match rule.is_empty() {
            true => e,
            false => format!("{rule}: {e}"),
        };
        check(&mine, &history, *flags, faults).map_err(named)
    });
    let told = arrivals
        .iter()
        .filter(|a| !ruled.iter().any(|(r, _)| *r == a.rule));
    let checked = checked.and_then(|()| match told.map(|a| &a.rule).next() {
        Some(rule) => Err(format!("a delivery of no rule of the case: {rule:?}")),
        None => Ok(()),
    });
    let checked = checked.and_then(|()| match case.stuck.take() {
        Some(stuck) => Err(stuck),
        None => Ok(()),
    });
    let drawn: Vec<&Flags> = ruled.iter().map(|(_, f)| f).collect();
    checked.map_err(|e| {
        format!(
            "{e}\nflags: {drawn:?}\nops: {ops:?}\nholder at the end: {holder_now:?}\n\
             lives: {:#?}\narrivals:\n{}\nstderr:\n{}",
            history.lives,
            arrivals
                .iter()
                .map(|a| format!(
                    "{} {} {} {} {} {}",
                    a.rule, a.kind, a.name, a.uid, a.rv, a.id
                ))
                .collect::<Vec<_>>()
                .join("\n"),
            case.stderr.join("\n---\n")
        )
    })?;
    let restarts = ops
        .iter()
        .filter(|op| matches!(op, Op::Kill | Op::Term | Op::Start))
        .count();
    Ok((history.changes(), arrivals.len(), restarts))
}

/// The id a change is delivered under: `<uid>/<resourceVersion>/<type>`,
/// and `<uid>/deleted` for a deletion (a UID is deleted once).
fn own_id(uid: &str, rv: &str, kind: &str) -> String {
    if kind == "deleted" {
        format!("{uid}/deleted")
    } else {
        format!("{uid}/{rv}/{kind}")
    }
}

/// What the flags make of one object's life, change by change: the
/// versions that notify (by resourceVersion, with the kind of change), and
/// whether its deletion does.
struct Implied {
    versions: Vec<(u64, &'static str)>,
    deletion: bool,
}

fn implied(life: &Life, flags: Flags) -> Implied {
    let bad = |v: &Version| v.phase == "bad";
    let mut versions = Vec::new();
    let mut before = life.base.as_ref();
    for version in &life.versions {
        let kind = if before.is_none() {
            "created"
        } else {
            "modified"
        };
        let edge = !flags.when || (bad(version) && !before.is_some_and(bad));
        let changed = !flags.on_change || before.is_none_or(|b| b.phase != version.phase);
        if edge && changed {
            versions.push((version.rv, kind));
        }
        before = Some(version);
    }
    Implied {
        versions,
        deletion: life.deleted.is_some() && !flags.when,
    }
}

/// With `--when`: the versions of a run of `bad` that began with an edge,
/// and how long it lasted (`None`: to the end).
fn runs(life: &Life) -> Vec<(Vec<u64>, Option<Duration>)> {
    let mut runs: Vec<(Vec<u64>, Option<Duration>)> = Vec::new();
    let mut open: Option<(Vec<u64>, Instant)> = None;
    let mut before_bad = life.base.as_ref().is_some_and(|b| b.phase == "bad");
    for version in &life.versions {
        let bad = version.phase == "bad";
        match (&mut open, bad) {
            (Some((rvs, _)), true) => rvs.push(version.rv),
            (Some(_), false) => {
                let (rvs, since) = open.take().unwrap();
                runs.push((rvs, Some(version.at - since)));
            }
            (None, true) if !before_bad => open = Some((vec![version.rv], version.at)),
            _ => {}
        }
        before_bad = bad;
    }
    if let Some((rvs, since)) = open {
        runs.push((rvs, life.deleted.map(|at| at - since)));
    }
    runs
}

fn check(
    arrivals: &[Arrival],
    history: &History,
    flags: Flags,
    faults: bool,
) -> Result<(), String> {
    let mut first_rv: HashMap<&str, u64> = HashMap::new();
    let mut kinds_per_version: BTreeMap<(&str, &str), HashSet<&str>> = BTreeMap::new();
    let mut seen_ids = HashSet::new();
    for a in arrivals {
        // The id is the change's own: the same on every re-delivery.
        let own = own_id(&a.uid, &a.rv, &a.kind);
        let gone = format!("{}/resolved", a.uid);
        if a.kind == "resolved" {
            resolution(a, history, flags, faults, arrivals)?;
        } else if a.id != own {
            return Err(format!("ce-id {} for the change {own}", a.id));
        }
        if a.kind == "initial" {
            return Err("the state at start was delivered".into());
        }
        let Some(life) = history.lives.get(&a.uid) else {
            return Err(format!("{own}: an object never made"));
        };
        if a.kind == "resolved" {
            // Checked by `resolution`.
        } else if a.kind == "deleted" {
            if life.deleted.is_none() {
                return Err(format!("{own}: the object was not deleted"));
            }
            if flags.when {
                return Err(format!("{own}: a deletion is no --when edge"));
            }
        } else {
            let Some(index) = life.versions.iter().position(|v| v.rv.to_string() == a.rv) else {
                // Versions from before the first checkpoint were listed, not changed.
                return Err(format!("{own}: not a change made after the start"));
            };
            // An object told of just before its checkpoint could be
            // written holds there only as announced (its state not kept):
            // a re-list after a 410 finds it and tells its creation again,
            // at the version it finds (at least once, as documented).
            let retold = faults
                && !flags.when
                && a.kind == "created"
                && arrivals.iter().any(|b| {
                    b.rule == a.rule && b.uid == a.uid && b.kind == "created" && b.rv != a.rv
                });
            // An object made while the watch was down (a server restart, a
            // connection refused) is first seen by the re-list after it,
            // at the version it then has: its creation is told there, and
            // nothing of it may have arrived before.
            let seen_late = faults
                && !flags.when
                && a.kind == "created"
                && !arrivals.iter().any(|b| {
                    b.rule == a.rule
                        && b.uid == a.uid
                        && b.rv.parse::<u64>().ok() < a.rv.parse::<u64>().ok()
                });
            if !retold && !seen_late {
                excluded(life, index, flags, faults).map_err(|why| format!("{own}: {why}"))?;
            }
            kinds_per_version
                .entry((a.uid.as_str(), a.rv.as_str()))
                .or_default()
                .insert(&a.kind);
        }
        // First arrivals per object in resourceVersion order; a deletion
        // comes last.
        if seen_ids.insert(a.id.as_str()) {
            let rv: u64 = if a.kind == "deleted" || a.id == gone {
                u64::MAX
            } else {
                a.rv.parse().unwrap_or(0)
            };
            if let Some(before) = first_rv.insert(&a.uid, rv)
                && before > rv
            {
                return Err(format!("{}: rv {rv} first arrived after {before}", a.uid));
            }
        }
    }
    // One version, one kind of change — but a throttle window or a hold
    // may fold a creation and a modification, which a replay after a
    // restart may not fold the same way.
    if flags.throttle.is_none() && flags.hold.is_none() {
        for ((uid, version), kinds) in &kinds_per_version {
            if kinds.len() > 1 {
                return Err(format!("{uid}@{version} delivered as {kinds:?}"));
            }
        }
    }
    // Under one name, an object's deletion arrives before the next object
    // (a new UID) is first told of.
    let first_arrival = |uid: &str, deletion: bool| {
        arrivals
            .iter()
            .position(|a| a.uid == uid && (a.kind == "deleted") == deletion)
    };
    for (old, life) in &history.lives {
        let Some(deletion) = first_arrival(old, true) else {
            continue;
        };
        let last = life
            .versions
            .last()
            .or(life.base.as_ref())
            .map_or(0, |v| v.rv);
        for (new, later) in &history.lives {
            let newer = later.versions.first().is_some_and(|v| v.rv > last);
            if later.name == life.name
                && newer
                && first_arrival(new, false).is_some_and(|i| i < deletion)
            {
                return Err(format!(
                    "{}: {new} was told of before the deletion of {old}",
                    life.name
                ));
            }
        }
    }
    let arrived = |uid: &str, rv: u64| {
        arrivals.iter().any(|a| {
            a.uid == uid && a.rv == rv.to_string() && a.kind != "deleted" && a.kind != "resolved"
        })
    };
    let deletion_arrived = |uid: &str| arrivals.iter().any(|a| a.uid == uid && a.kind == "deleted");
    for (uid, life) in &history.lives {
        if flags.resolve && !faults {
            resolved_in_full(uid, life, arrivals, flags)?;
        }
        let implied = implied(life, flags);
        if implied.deletion {
            // With server faults an object made and deleted while no watch
            // ran may never have been seen.
            let seen = !faults || arrivals.iter().any(|a| &a.uid == uid);
            if seen && !deletion_arrived(uid) {
                return Err(format!(
                    "the deletion of {} ({uid}) never arrived",
                    life.name
                ));
            }
        }
        if flags.hold.is_some() {
            // A run of `bad` lasting to the end must be told (a restart
            // starts its hold over; it has all the time it needs).
            let last = runs(life).into_iter().last();
            if let Some((rvs, None)) = last
                && !rvs.iter().any(|rv| arrived(uid, *rv))
                && (!faults || first_run(life))
            {
                return Err(format!(
                    "{} ({uid}): the edge at {} held to the end, never told",
                    life.name, rvs[0]
                ));
            }
            continue;
        }
        let must: Vec<u64> = if faults {
            // A re-list may fold versions: the last word stays, when the
            // folding cannot have hidden it.
            let last = implied.versions.last().map(|(rv, _)| *rv);
            let last_version = life.versions.last().map(|v| v.rv);
            let hidden = (flags.when && !first_run(life))
                || (flags.on_change && !phase_new(life))
                || life.deleted.is_some();
            last.filter(|rv| Some(*rv) == last_version && !hidden)
                .into_iter()
                .collect()
        } else if flags.throttle.is_some() {
            // A window folds them: the newest stays. With --resolve a firing
            // folded with its own end is told as that end (checked above):
            // only a run of `bad` that holds to the end must have fired.
            let ended = flags.resolve && runs(life).last().is_some_and(|(_, end)| end.is_some());
            if implied.deletion || ended {
                Vec::new()
            } else {
                implied
                    .versions
                    .last()
                    .map(|(rv, _)| *rv)
                    .into_iter()
                    .collect()
            }
        } else {
            implied.versions.iter().map(|(rv, _)| *rv).collect()
        };
        for rv in must {
            if !arrived(uid, rv) {
                return Err(format!("{} ({uid})@{rv} never arrived", life.name));
            }
        }
    }
    Ok(())
}

/// `--resolve`: a resolution is of an object that fired (a firing of it
/// arrived before), under its own id, at a version where `--when` stopped
/// holding (`<uid>/<rv>/resolved`) or at its deletion (`<uid>/resolved`).
fn resolution(
    a: &Arrival,
    history: &History,
    flags: Flags,
    faults: bool,
    arrivals: &[Arrival],
) -> Result<(), String> {
    if !flags.resolve {
        return Err(format!("{}: resolved without --resolve", a.id));
    }
    let life = history
        .lives
        .get(&a.uid)
        .ok_or_else(|| format!("{}: an object never made", a.id))?;
    let at = arrivals
        .iter()
        .position(|b| std::ptr::eq(a, b))
        .unwrap_or(arrivals.len());
    if !arrivals[..at]
        .iter()
        .any(|b| b.uid == a.uid && b.kind != "resolved")
    {
        return Err(format!(
            "{}: resolved before any firing of it arrived",
            a.id
        ));
    }
    if a.id == format!("{}/resolved", a.uid) {
        return match life.deleted {
            Some(_) => Ok(()),
            None => Err(format!("{}: resolved as deleted, never deleted", a.id)),
        };
    }
    if a.id != format!("{}/{}/resolved", a.uid, a.rv) {
        return Err(format!("ce-id {} for a resolution at rv {}", a.id, a.rv));
    }
    let Some(index) = life.versions.iter().position(|v| v.rv.to_string() == a.rv) else {
        return Err(format!("{}: not a change made after the start", a.id));
    };
    let before = match index {
        0 => life.base.as_ref(),
        i => Some(&life.versions[i - 1]),
    };
    let ended = life.versions[index].phase != "bad" && before.is_some_and(|b| b.phase == "bad");
    if life.versions[index].phase == "bad" || (!ended && !faults) {
        return Err(format!("{}: --when did not stop holding there", a.id));
    }
    Ok(())
}

/// `--resolve` without server faults: every alert that went out is closed.
/// The end of each run of `bad` whose firing arrived is told resolved —
/// with `--throttle`, which folds a resolution into a later firing, at
/// least the last such end.
fn resolved_in_full(
    uid: &str,
    life: &Life,
    arrivals: &[Arrival],
    flags: Flags,
) -> Result<(), String> {
    let fired = |rv: u64| {
        arrivals
            .iter()
            .any(|a| a.uid == uid && a.rv == rv.to_string() && a.kind != "resolved")
    };
    // Each run of `bad`, with the id its end is resolved under.
    let mut ends: Vec<(Vec<u64>, Option<String>)> = Vec::new();
    let mut run: Option<Vec<u64>> = None;
    let mut before_bad = life.base.as_ref().is_some_and(|b| b.phase == "bad");
    for version in &life.versions {
        let bad = version.phase == "bad";
        match (&mut run, bad) {
            (Some(rvs), true) => rvs.push(version.rv),
            (Some(_), false) => ends.push((
                run.take().unwrap(),
                Some(format!("{uid}/{}/resolved", version.rv)),
            )),
            (None, true) if !before_bad => run = Some(vec![version.rv]),
            _ => {}
        }
        before_bad = bad;
    }
    if let Some(rvs) = run {
        ends.push((rvs, life.deleted.map(|_| format!("{uid}/resolved"))));
    }
    if flags.throttle.is_some() {
        // A window folds a resolution into a later firing, and that firing
        // into its own end: the last run whose firing arrived is closed by
        // its end or by the end of a later run.
        let Some(last) = ends
            .iter()
            .rposition(|(rvs, _)| rvs.iter().any(|rv| fired(*rv)))
        else {
            return Ok(());
        };
        let closing: Vec<&String> = ends[last..]
            .iter()
            .filter_map(|(_, end)| end.as_ref())
            .collect();
        if closing.is_empty() || arrivals.iter().any(|a| closing.contains(&&a.id)) {
            return Ok(());
        }
        return Err(format!(
            "{} ({uid}): the alert was never resolved ({})",
            life.name, closing[0]
        ));
    }
    let wanted: Vec<String> = ends
        .into_iter()
        .filter(|(rvs, _)| rvs.iter().any(|rv| fired(*rv)))
        .filter_map(|(_, end)| end)
        .collect();
    for id in wanted {
        if !arrivals.iter().any(|a| a.id == id) {
            return Err(format!(
                "{} ({uid}): the alert was never resolved ({id})",
                life.name
            ));
        }
    }
    Ok(())
}

/// Whether the flags exclude the notification of `life.versions[index]`.
fn excluded(life: &Life, index: usize, flags: Flags, faults: bool) -> Result<(), String> {
    let version = &life.versions[index];
    let before = match index {
        0 => life.base.as_ref(),
        i => Some(&life.versions[i - 1]),
    };
    if flags.when {
        if version.phase != "bad" {
            return Err("--when does not hold on it".into());
        }
        if let Some(hold) = flags.hold {
            let run = runs(life)
                .into_iter()
                .find(|(rvs, _)| rvs.contains(&version.rv));
            return match run {
                // Re-listed after a fault: a version of a run whose edge
                // was folded away.
                None if faults => Ok(()),
                None => Err("in no run of --when that began with an edge".into()),
                Some((_, Some(lasted)))
                    if !faults
                        && lasted + Duration::from_millis(250) < Duration::from_millis(hold) =>
                {
                    Err(format!("--when held {lasted:?}, under --hold"))
                }
                Some(_) => Ok(()),
            };
        }
        // A window folds only what notifies: the edge itself.
        let edge = before.is_none_or(|b| b.phase != "bad");
        if !edge && !faults {
            return Err("no --when edge".into());
        }
        return Ok(());
    }
    if flags.on_change && before.is_some() {
        let changed = before.is_some_and(|b| b.phase != version.phase);
        let ever = life
            .base
            .iter()
            .chain(&life.versions[..index])
            .any(|b| b.phase != version.phase);
        if !(changed || (faults && ever)) {
            return Err("--on-change: .spec.phase did not change".into());
        }
    }
    Ok(())
}

/// Whether the object's only run of `bad` is its last (a re-list cannot
/// have folded an earlier run's end away).
fn first_run(life: &Life) -> bool {
    runs(life).len() == 1
        && life.versions.iter().filter(|v| v.phase == "bad").count() == runs(life)[0].0.len()
}

/// Whether the last version's phase differs from every earlier one.
fn phase_new(life: &Life) -> bool {
    let Some(last) = life.versions.last() else {
        return false;
    };
    life.base
        .iter()
        .chain(&life.versions[..life.versions.len() - 1])
        .all(|v| v.phase != last.phase)
}

fn run_all(faults: bool, default_cases: usize, rules: usize) {
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
    let of = match rules {
        0 => String::new(),
        n => format!(" of {n} rules"),
    };
    println!("ha model: seed {base}, {total} cases{of}");
    let workers = 2;
    let results: Vec<(u64, Outcome)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                scope.spawn(move || {
                    (0..total)
                        .filter(|i| i % workers == w)
                        .map(|i| {
                            let seed = base.wrapping_add(i as u64 * 0x9E37_79B9);
                            (seed, run_case(seed, faults, rules))
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
    for (seed, result) in &results {
        if let Err(e) = result {
            let flags = e.lines().find(|l| l.starts_with("flags:")).unwrap_or("");
            println!(
                "ha model: MODEL_SEED={seed} failed: {} ({flags})",
                e.lines().next().unwrap_or("")
            );
        }
    }
    if let Some((seed, Err(e))) = results.iter().find(|(_, r)| r.is_err()) {
        panic!("ha model case failed; replay with MODEL_SEED={seed}\n{e}");
    }
}

#[test]
fn replicas_killed_and_started_at_random_deliver_every_change_under_one_id() {
    run_all(false, 6, 0);
}

#[test]
fn replicas_killed_and_started_among_server_faults_deliver_the_last_word_on_each_object() {
    run_all(true, 4, 0);
}

/// The same scenarios through `--rules`: three rules (four with
/// `MODEL_RULES=4`), one Lease and one checkpoint; each rule's deliveries
/// judged against its own flags.
#[test]
fn rules_of_replicas_killed_and_started_at_random_each_deliver_every_change_under_one_id() {
    let rules = std::env::var("MODEL_RULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    run_all(false, 2, rules);
}
