//! Wait mode: judge every change until the condition holds (exit 0, or run
//! the command once and exit with its code), fails (1) or times out (124).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::time::{Duration, SystemTime};

use super::{Session, Settings, Step, now, sleep_until_due};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;

use crate::condition::Verdict;
use crate::decide::{Decision, Rules, Tally, decide, pending};
use crate::discovery::ApiType;
use crate::exit::{Exit, Result};
use crate::explain::{self, Reader};
use crate::sink::command::{CommandSpec, Job, Policy, run_once};
use crate::sink::printer::Format;
use crate::sink::status::{self, ProgressLog, StatusLine};
use crate::sink::{Notification, Sink, deliver_all};
use crate::target::{Selection, Target};
use crate::tracker::WatchEvent;

pub async fn run(
    mut session: Session,
    mut settings: Settings,
    rules: Rules<'_>,
    command: Option<(CommandSpec, Policy)>,
) -> Result<()> {
    let started = std::time::Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let mut status = StatusLine::new(!settings.quiet && terminal);
    // In a CI log: the same content as lines. `--timeout 0` checks once:
    // there is no progress to tell.
    let mut progress = ProgressLog::new(!settings.quiet && !terminal && !settings.check_once())
        .map_err(Exit::Usage)?;
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    let mut tally = Tally::new(session.targets.len(), settings.noise.hold);
    // `--for ready` on a workload follows its pods; the status line shows
    // the newest Warning event. Both read the cluster every two seconds.
    let follow = rules.condition.wants_ready()
        && session
            .targets
            .iter()
            .any(|t| explain::workload::follows_pods(&t.api.group, &t.api.kind));
    let mut looks = tokio::time::interval(Duration::from_secs(2));
    // A pod that becomes stuck brings the next look forward, so a failure
    // ends the wait as soon as a success would; the two-second looks remain
    // for what the watch cannot say (a pod becoming current, a refused watch).
    let mut pods = pod_watch(&session, follow);
    let mut looked = tokio::time::Instant::now();
    let mut turn = 0;
    // Whether a look has run since every target's list arrived: the first
    // judgement includes the pod check, so the state at start gives the same
    // exit code whatever `--timeout` (0 included).
    let mut looked_synced = false;
    let mut warning: Option<String> = None;
    // With --any or --min: the objects whose pods a look found stuck, each
    // with its failure line, until a look finds them otherwise.
    let mut stuck = Stuck::new();
    // Judged once before any event: with `--for delete`, targets whose type
    // is not served may be all there is, and no event would come.
    let mut judged = false;
    loop {
        let step = tokio::select! {
            () = std::future::ready(()), if !judged => {
                judged = true;
                None
            }
            step = session.next() => Some(step?),
            // `--hold`: an object may have held long enough.
            _ = sleep_until_due(tally.next_due()) => None,
            Some(pod) = pods.next(), if follow => {
                if looked.elapsed() >= LOOK_GAP && stuck_for(&session, &rules, &pod) {
                    looks.reset_immediately();
                }
                continue;
            }
            _ = looks.tick(), if follow || status.is_some() || progress.is_some() => {
                looked = tokio::time::Instant::now();
                looked_synced |= session.all_synced();
                turn += 1;
                let warnings = status.is_some() || progress.is_some();
                let (found, newest) = look(&session, &settings, &rules, (follow, warnings), turn).await;
                if let Some(exit) = stuck.ends(found, &session, &rules) {
                    return Err(explained(exit, &session, &settings, &rules).await);
                }
                if let Some(log) = &mut progress {
                    log.warning(newest.as_ref());
                }
                warning = newest.map(|(_, reason)| reason);
                continue;
            }
            _ = ticks.tick(), if status.is_some() || progress.is_some() => {
                if let Some(line) = &mut status {
                    line.update(status_text(&session, &rules, started, &warning), true);
                }
                if let Some(log) = &mut progress
                    && session.all_synced()
                {
                    log.tick(rules.condition, &session.targets, &session.tracker, started.elapsed());
                }
                continue;
            }
        };
        let now = now();
        match step {
            Some(Step::Changes(index, changes)) => {
                let target = &session.targets[index];
                if let Err(exit) =
                    tally.update(&rules, target, &session.tracker, index, &changes, now)
                {
                    return Err(explained(exit, &session, &settings, &rules).await);
                }
            }
            Some(Step::TimedOut) => {
                let exit = timed_out(&session, &settings, &rules, &tally);
                return Err(explained(exit, &session, &settings, &rules).await);
            }
            Some(Step::Interrupted(signo)) => return Err(Exit::Signal(signo)),
            // Only a rule of a rules file is stopped, and those never wait.
            Some(Step::Stopped) => return Ok(()),
            None => {}
        }
        tally.ripen(now);
        match decide(&rules, &session.targets, &session.tracker, &tally) {
            Decision::Met(met) => {
                let mut sinks: Vec<&mut dyn Sink> = Vec::new();
                if let Some(line) = &mut status {
                    sinks.push(line);
                }
                if !settings.quiet {
                    sinks.push(&mut settings.printer);
                }
                sinks.push(&mut settings.outbox);
                let now = SystemTime::now();
                for m in &met {
                    let target = &session.targets[m.target];
                    deliver_all(&mut sinks, &Notification::met(now, target, m))?;
                }
                let Some((spec, policy)) = command else {
                    return Ok(());
                };
                // The command gets the first object that met the condition.
                let first = Notification::met(now, &session.targets[met[0].target], &met[0]);
                let job = Job::new(
                    first.event(),
                    &first.target.api.qualified(),
                    first.object.clone(),
                );
                let code = run_once(&spec, &policy, job, session.interrupted()).await;
                return if code == 0 {
                    Ok(())
                } else {
                    Err(Exit::Command {
                        code,
                        message: None,
                    })
                };
            }
            Decision::Pending => {
                if let Some(line) = &mut status {
                    line.update(status_text(&session, &rules, started, &warning), false);
                }
                if let Some(log) = &mut progress
                    && session.all_synced()
                {
                    log.update(rules.condition, &session.targets, &session.tracker);
                }
            }
        }
        if follow && !looked_synced && session.all_synced() {
            looked_synced = true;
            looked = tokio::time::Instant::now();
            let (found, _) = look(&session, &settings, &rules, (true, false), turn).await;
            if let Some(exit) = stuck.ends(found, &session, &rules) {
                return Err(explained(exit, &session, &settings, &rules).await);
            }
        }
        if rules.tolerates_failures()
            && let Some(exit) = lost(&session, &rules, &stuck)
        {
            return Err(explained(exit, &session, &settings, &rules).await);
        }
        if settings.check_once() && session.all_synced() {
            let exit = timed_out(&session, &settings, &rules, &tally);
            return Err(explained(exit, &session, &settings, &rules).await);
        }
    }
}

fn status_text(
    session: &Session,
    rules: &Rules,
    started: std::time::Instant,
    warning: &Option<String>,
) -> String {
    let text = status::text(
        rules.condition,
        &session.targets,
        &session.tracker,
        started.elapsed(),
    );
    match warning {
        Some(reason) => format!("{text}  warning: {reason}"),
        None => text,
    }
}

fn reader<'a>(session: &'a Session, settings: &Settings) -> Reader<'a> {
    let bound = settings.request_timeout.unwrap_or(explain::BOUND);
    Reader {
        client: &session.conn.client,
        deadline: tokio::time::Instant::now() + bound,
        verbose: session.verbosity > 0,
    }
}

/// How many objects' events one look reads for the status line.
const WARNED: usize = 5;

/// The least time between two looks a pod's watch brings forward.
const LOOK_GAP: Duration = Duration::from_millis(200);

/// With `--for ready` on workloads, every version of the pods of their
/// namespaces (every namespace with `-A`); nothing otherwise. A watch the
/// server refuses retries with backoff and says nothing: the looks go on.
fn pod_watch(session: &Session, follow: bool) -> BoxStream<'static, Value> {
    if !follow {
        return futures::stream::empty().boxed();
    }
    let namespaces: BTreeSet<Option<String>> = session
        .targets
        .iter()
        .filter(|t| explain::workload::follows_pods(&t.api.group, &t.api.kind))
        .map(|t| t.namespace.clone())
        .collect();
    let namespaces = if namespaces.contains(&None) {
        BTreeSet::from([None])
    } else {
        namespaces
    };
    let watches = namespaces.into_iter().map(|namespace| {
        let pods = Target {
            api: ApiType {
                group: String::new(),
                version: "v1".into(),
                kind: "Pod".into(),
                plural: "pods".into(),
                singular: "pod".into(),
                short_names: Vec::new(),
                namespaced: true,
                verbs: Vec::new(),
                categories: Vec::new(),
            },
            namespace,
            selection: Selection::Query {
                labels: None,
                fields: None,
            },
            served: true,
            manifest: false,
            spread: false,
        };
        crate::watch::watch_from(&session.conn.client, &pods, None).filter_map(|event| {
            std::future::ready(match event {
                // The watch's own: the only holder of its objects.
                Ok(WatchEvent::Applied(pod) | WatchEvent::Listed(pod)) => {
                    Some(std::sync::Arc::unwrap_or_clone(pod))
                }
                _ => None,
            })
        })
    });
    futures::stream::select_all(watches).boxed()
}

/// Whether this pod is stuck and may be one of an unmet workload's (same
/// namespace, its selector's labels): worth a look now.
fn stuck_for(session: &Session, rules: &Rules, pod: &Value) -> bool {
    if crate::condition::ready::stuck_container(pod, true).is_none() {
        return false;
    }
    session.targets.iter().enumerate().any(|(index, target)| {
        let (group, kind) = (&target.api.group, &target.api.kind);
        explain::workload::follows_pods(group, kind)
            && session.tracker.entries(index).any(|e| {
                explain::workload::may_own(&e.object, pod)
                    && rules.condition.judge(group, kind, Some(&e.object)) != Verdict::Met
            })
    })
}

/// One look at the cluster while waiting: with `--for ready`, a workload
/// whose current pods cannot start fails the wait; for the status line (or
/// the progress lines), the newest Warning event among the objects not met
/// yet: the object, and the event's reason. Every unmet
/// object is looked at, as many as the look's time bound allows
/// (`--request-timeout`, else two seconds), starting one further on each
/// look so that none waits for ever behind the others.
async fn look(
    session: &Session,
    settings: &Settings,
    rules: &Rules<'_>,
    (follow, warnings): (bool, bool),
    turn: usize,
) -> (Vec<Found>, Option<(String, String)>) {
    let reader = reader(session, settings);
    let mut found = Vec::new();
    // The newest event's time, its object, its reason.
    let mut newest: Option<(String, String, String)> = None;
    let unmet: Vec<_> = session
        .targets
        .iter()
        .enumerate()
        .flat_map(|(index, target)| {
            let (group, kind) = (&target.api.group, &target.api.kind);
            session
                .tracker
                .entries(index)
                // With --changes-only the state at start counts for nothing:
                // an object's pods count once the object has changed.
                .filter(|e| !rules.changes_only || e.fresh)
                .filter(|e| rules.condition.judge(group, kind, Some(&e.object)) != Verdict::Met)
                .map(move |e| (index, target, e))
        })
        .collect();
    let start = turn % unmet.len().max(1);
    let mut warned = 0;
    for (index, target, entry) in unmet[start..].iter().chain(&unmet[..start]) {
        if tokio::time::Instant::now() >= reader.deadline {
            break;
        }
        let (group, kind) = (&target.api.group, &target.api.kind);
        if follow {
            let why = explain::hopeless_pod(&reader, group, kind, &entry.object).await;
            let name = target.object_said(&entry.object);
            let line = why.map(|why| format!("{name} failed: {why}"));
            let ends = line.is_some() && !rules.tolerates_failures();
            found.push((*index, crate::tracker::key(&entry.object), line));
            if ends {
                return (found, None);
            }
        }
        // The status line's warning is a hint: five objects' events a look.
        if !warnings || warned == WARNED {
            continue;
        }
        warned += 1;
        if let Some(event) = reader.warnings(&entry.object).await.into_iter().next() {
            let last = event["last"].as_str().unwrap_or_default().to_string();
            let reason = event["reason"].as_str().unwrap_or_default().to_string();
            if newest.as_ref().is_none_or(|(at, _, _)| last > *at) {
                newest = Some((last, target.object_said(&entry.object), reason));
            }
        }
    }
    (found, newest.map(|(_, object, reason)| (object, reason)))
}

/// One object a look read the pods of: its target, its key, and the
/// failure line when one of its pods that count is stuck.
type Found = (usize, String, Option<String>);

/// With `--any` or `--min`, the objects whose pods are stuck; without, the
/// first stuck pod ends the wait.
struct Stuck(BTreeMap<(usize, String), String>);

impl Stuck {
    fn new() -> Stuck {
        Stuck(BTreeMap::new())
    }

    /// What a look found: the end of the wait, or noted.
    fn ends(&mut self, found: Vec<Found>, session: &Session, rules: &Rules) -> Option<Exit> {
        for (index, key, line) in found {
            match line {
                Some(line) if !rules.tolerates_failures() => return Some(Exit::Failed(line)),
                Some(line) => {
                    self.0.insert((index, key), line);
                }
                None => {
                    self.0.remove(&(index, key));
                }
            }
        }
        lost(session, rules, self)
    }
}

/// With `--any` or `--min`: the wait can no longer succeed because objects
/// failed (their verdict, or a stuck pod). With `--any`, when no object is
/// left that has not failed; with `--min N`, when a selector's objects that
/// have not failed are fewer than N; a named target, when it failed. Met
/// objects count as not failed, so a wait met at once is never lost.
fn lost(session: &Session, rules: &Rules, stuck: &Stuck) -> Option<Exit> {
    if !rules.tolerates_failures() || !session.all_synced() {
        return None;
    }
    let mut lines = Vec::new();
    let mut alive_anywhere = false;
    let mut short = false;
    for (index, target) in session.targets.iter().enumerate() {
        let (group, kind) = (&target.api.group, &target.api.kind);
        let (mut alive, mut failed) = (0, 0);
        let counted = session
            .tracker
            .entries(index)
            .filter(|e| !rules.changes_only || e.fresh);
        for entry in counted {
            let line = match rules.condition.judge(group, kind, Some(&entry.object)) {
                Verdict::Failed(why) => Some(format!(
                    "{} failed: {why}",
                    target.object_said(&entry.object)
                )),
                Verdict::Met => None,
                _ => stuck
                    .0
                    .get(&(index, crate::tracker::key(&entry.object)))
                    .cloned(),
            };
            match line {
                Some(line) => {
                    failed += 1;
                    lines.push(line);
                }
                None => alive += 1,
            }
        }
        alive_anywhere |= alive > 0;
        let needed = match (rules.min, &target.selection) {
            (Some(min), Selection::Query { .. }) => min,
            _ => alive + failed,
        };
        short |= failed > 0 && alive < needed;
    }
    let lost = if rules.any {
        !lines.is_empty() && !alive_anywhere
    } else {
        short
    };
    lost.then(|| Exit::Failed(lines.join("; ")))
}

/// A timeout or a failure with its explanation after the one-line error
/// (and, with `-o json`, as a last JSON line on stdout). The exit code is the
/// one `exit` already has.
async fn explained(exit: Exit, session: &Session, settings: &Settings, rules: &Rules<'_>) -> Exit {
    let (kind, line) = match &exit {
        Exit::Timeout(line) => ("timeout", line),
        Exit::Failed(line) => ("failed", line),
        _ => return exit,
    };
    let reader = reader(session, settings);
    let reports =
        explain::gather(&reader, rules.condition, &session.targets, &session.tracker).await;
    if reports.is_empty() {
        return exit;
    }
    if !settings.quiet && matches!(settings.printer.format, Format::Json) {
        // The one-line error (first line), so the JSON says why by itself.
        let why = line.lines().next().unwrap_or_default();
        let json = serde_json::json!({"type": kind, "message": why, "targets": reports});
        let mut out = std::io::stdout().lock();
        // A closed stdout is the reader's choice; the exit code still stands.
        let _ = writeln!(out, "{json}").and_then(|()| out.flush());
    }
    let text = format!(
        "{line}
{}",
        explain::render(&reports, SystemTime::now())
    );
    match exit {
        Exit::Timeout(_) => Exit::Timeout(text),
        _ => Exit::Failed(text),
    }
}

fn timed_out(session: &Session, settings: &Settings, rules: &Rules, tally: &Tally) -> Exit {
    let mut not_met = pending(rules, &session.targets, &session.tracker);
    not_met.extend(tally.holding(&session.targets, now()));
    Exit::Timeout(format!(
        "{} waiting for {}: {}",
        settings.ended(),
        rules.condition.describe(),
        not_met.join(", ")
    ))
}
