//! Carrying out a plan: connect, resolve the targets, watch them, then hand
//! the changes to wait mode or notify mode until one of them ends the run.

mod feed;
mod manifests;
mod notify;
mod reload;
pub(crate) mod replica;
mod wait;

use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::LocalBoxFuture;
use futures::stream::{AbortHandle, BoxStream, FuturesUnordered, SelectAll};
use kube::Client;
use serde_json::Value;
use tokio::time::{Instant, Sleep};

use crate::connect::{Connection, connect};
use crate::decide::Rules;
use crate::exit::{Exit, Result};
use crate::os::Interrupts;
use crate::plan::{Mode, Noise, Plan, Process, Rule};
use crate::resolve::Resolver;
use crate::sink::network::Outbox;
use crate::sink::printer::{DiffMode, Format, Printer};
use crate::target::{Selection, Target};
use crate::term::StdoutReader;
use crate::tracker::{Change, Keep, Tracker, WatchEvent};
use crate::trouble::{self, Scope, Trouble};
use crate::watch::{Projection, watch_from};

/// The process: what every rule shares (connection, watches, lease,
/// metrics, signals, deadline), then each rule run until the process ends,
/// the rules file reloaded meanwhile. A plain command line is a process
/// with one rule.
pub async fn run(process: Process) -> Result<()> {
    let Process {
        rules,
        source,
        manifests: print_manifests,
    } = process;
    if let Some(request) = &print_manifests {
        return manifests::print(&rules, request).await;
    }
    // A rules file reloads on SIGHUP: caught from the start, so one that
    // comes while the process connects does not end it.
    let mut hangups = source.as_ref().and_then(|_| crate::os::Hangups::new().ok());
    // Process-wide flags are the same in every rule's plan.
    let Some(first) = rules.first() else {
        return Ok(());
    };
    let process = &first.plan;
    if let Some(addr) = process.incluster.metrics_addr {
        crate::metrics::enable();
        let bound = crate::metrics::serve(addr)
            .await
            .map_err(|e| Exit::Usage(format!("--metrics-addr {addr}: cannot listen there: {e}")))?;
        if process.verbosity > 0 {
            crate::term::stderr_line!("metrics on http://{bound}/metrics");
        }
    }
    let started = Instant::now();
    // A timeout too far away to be a moment (`9300000000000000000s`) is none.
    let deadline = process
        .timeout
        .filter(|t| !t.is_zero())
        .and_then(|t| started.checked_add(t));
    let mut interrupts = Interrupts::new()
        .map_err(|e| Exit::Internal(format!("cannot install signal handlers: {e}")))?;

    let setup = async {
        let conn = connect(
            &process.connection,
            process.request_timeout,
            process.verbosity > 1,
        )
        .await?;
        if process.verbosity > 0 {
            crate::term::stderr_line!(
                "connected to {} (namespace {})",
                conn.server,
                conn.namespace
            );
        }
        let resolved = resolve_each(&conn, &rules).await;
        Ok((conn, resolved))
    };
    let (conn, resolved) = tokio::select! {
        result = setup => result?,
        _ = sleep_until(deadline) => {
            return Err(Exit::Timeout(format!(
                "timed out after {} before the cluster answered",
                crate::duration::show(process.timeout.unwrap_or_default())
            )));
        }
        signo = interrupts.recv() => return Err(Exit::Signal(signo)),
    };
    if let Some(why) = keeps_state_in_namespace(process)
        && namespace_missing(&conn.client, &conn.namespace).await
    {
        return Err(Exit::Refused(trouble::namespace_missing(
            &conn.namespace,
            why,
        )));
    }
    // What of each object is parsed: what the rules read (a reload that
    // starts rules reading more widens it before their watches start).
    projection(&rules).install();
    // A replica watches only once it is active (crate::ha).
    let standby = process.ha.lease.is_some() || process.ha.checkpoint.is_some();
    if process.ha.lease.is_some() {
        // A standby is ready: ready to take over (a rollout waits for it).
        crate::metrics::set_ready();
    } else {
        crate::metrics::leader(true);
    }
    let ha = replica::Ha::start(&process.ha, &conn, process.verbosity > 0);
    let mut running = Running {
        // Each rule's tracker is its own where its checkpoint keeps it.
        feeds: source
            .is_some()
            .then(|| feed::Feeds::new(!standby, &conn.server)),
        ha,
        check_once: process.timeout == Some(Duration::ZERO),
        conn,
        deadline,
        standby,
        started: 0,
        live: Vec::new(),
        deferred: Vec::new(),
        done: Vec::new(),
        trial: Vec::new(),
        tasks: FuturesUnordered::new(),
    };
    // A rule of several that cannot be resolved (its type gone) ends alone,
    // as one that cannot watch does; a process none of whose rules can
    // start ends as a command line does.
    let mut gave_up = None;
    let (rules, unresolved) = starting(rules, resolved)?;
    // Said once the others have listed (or ended): whether any keeps
    // running is known only then.
    let mut unsaid = Vec::new();
    // A standby judges a rule's types when it takes over, not before: a
    // CRD applied meanwhile is watched then.
    let (deferred, unresolved): (Vec<_>, Vec<_>) = unresolved
        .into_iter()
        .partition(|_| running.ha.as_ref().is_some_and(replica::Ha::elects));
    for (rule, _) in deferred {
        if let Some(name) = &rule.name {
            crate::metrics::rule_started(name);
        }
        running.deferred.push(rule);
    }
    for (rule, exit) in unresolved {
        if let Some(name) = &rule.name {
            crate::metrics::rule_ended(name, "error");
        }
        unsaid.push(first_line(&exit));
        gave_up.get_or_insert(exit.said());
        running.done.push((rule.name, rule.words));
    }
    let mut listing = tokio::time::interval(Duration::from_millis(50));
    crate::metrics::rules_listing(rules.len());
    running.start(rules, false, &[])?;
    // A SIGTERM that came between the connection and now goes to the rules.
    interrupts.pass_on();
    if let Some(source) = &source
        && crate::plan::from_stdin(&source.path)
    {
        crate::log::info(
            "rules",
            "the rules come from stdin (--rules -): they do not reload; SIGHUP has nothing to re-read",
        );
    }
    let mut reload = source.map(|source| reload::Reload::new(source, hangups.take()));
    // A rule ended by `--count`, by its `--max-failures`, or because it
    // cannot run (its watch forbidden, its type gone) leaves the others
    // running; an end every rule meets too (the deadline, a signal) lets
    // them all finish; any other error ends the process. With no rule left
    // running, the process ends: with the code of the first rule that ended
    // by `--max-failures` or could not run, else 0.
    let mut ended = None;
    let mut leaving = false;
    let failed = loop {
        tokio::select! {
            next = running.tasks.next() => {
                let Some((id, outcome)) = next else {
                    break None;
                };
                let on_trial = running.trial.contains(&id);
                running.trial.retain(|run| *run != id);
                let Some(live) = running.ended(id) else {
                    // A run a reload stopped failed as it flushed (its
                    // command's --max-failures, say): said, the rule named.
                    if let Err(exit) = &outcome
                        && !matches!(exit, Exit::Timeout(_) | Exit::Signal(_))
                    {
                        crate::log::warning(
                            "rules",
                            format_args!("{} (as a reload stopped it)", first_line(exit)),
                        );
                    }
                    continue;
                };
                if crate::metrics::is_ready() || running.running() == 0 {
                    say_unsaid(&mut unsaid, running.running());
                }
                if let Some(name) = &live.name {
                    crate::metrics::rule_ended(name, ended_by(&outcome));
                }
                match outcome {
                    // Done by itself (`--count`): a reload does not start it
                    // again while the file still holds it unchanged.
                    Ok(()) => running.done.push((live.name, live.words)),
                    // One rule of several whose command failed too often
                    // ends alone, said once here; the process's exit code
                    // is its command's, once no rule is left.
                    Err(Exit::Command { code, message }) if live.name.is_some() => {
                        let others = match running.live.len() {
                            0 => String::new(),
                            1 => "; the 1 other rule keeps running".to_string(),
                            n => format!("; the {n} other rules keep running"),
                        };
                        let message = message.unwrap_or_else(|| format!("the command exited with {code}"));
                        crate::log::error("rules", format_args!("{message}{others}"));
                        gave_up.get_or_insert(Exit::Command { code, message: None });
                        running.done.push((live.name, live.words));
                    }
                    Err(exit @ (Exit::Timeout(_) | Exit::Signal(_))) => {
                        ended.get_or_insert(exit);
                    }
                    // Stdout's reader gone ends every rule, each flushing
                    // its sinks (141 once all have).
                    Err(Exit::Closed) => {
                        ended.get_or_insert(Exit::Closed);
                        running.close();
                    }
                    // A rule a reload started that cannot run (forbidden,
                    // say) as the reload starts it is a failed reload,
                    // counted once: it stays ended while the file holds it
                    // unchanged, and the others keep running.
                    Err(exit) if live.reloaded && on_trial => {
                        crate::metrics::reload_failed();
                        let message = first_line(&exit);
                        let others = match running.running() {
                            0 => "",
                            _ => "; the other rules keep running",
                        };
                        crate::log::error("rules", format_args!("{message}{others}"));
                        gave_up.get_or_insert(exit.said());
                        running.done.push((live.name, live.words));
                    }
                    // One rule of several that cannot run (at the start,
                    // at a takeover) ends alone: the lease stays held and
                    // the others keep notifying.
                    Err(exit) if live.name.is_some() && live.cannot_run.get() => {
                        cannot_run(live.name.as_deref(), &exit, running.running());
                        gave_up.get_or_insert(exit.said());
                        running.done.push((live.name, live.words));
                    }
                    Err(exit) => break Some(exit),
                }
            }
            // Every rule started has listed (or ended): a rule that could
            // not start is said now, with the others it leaves running.
            _ = listing.tick(), if !unsaid.is_empty() => {
                if crate::metrics::is_ready() {
                    say_unsaid(&mut unsaid, running.running());
                }
            }
            // This replica takes over: the rules whose types were not
            // served while it was standby are resolved again (the server
            // asked if the cache lacks one); those that still cannot be
            // end alone, as at start.
            _ = replica::takes_over(&running.ha), if !running.deferred.is_empty() && !leaving => {
                let rules = std::mem::take(&mut running.deferred);
                let resolved = resolve_each(&running.conn, &rules).await;
                let mut start = Vec::new();
                let mut failed = Vec::new();
                for (rule, resolved) in rules.into_iter().zip(resolved) {
                    match resolved {
                        Ok(resolved) => start.push((rule, resolved)),
                        Err(exit) => failed.push((rule, exit)),
                    }
                }
                running.start(start, false, &[])?;
                for (rule, exit) in failed {
                    cannot_run(rule.name.as_deref(), &exit, running.running());
                    gave_up.get_or_insert(exit.said());
                    running.done.push((rule.name, rule.words));
                }
                if running.live.is_empty() {
                    break None;
                }
            }
            // Every rule's replica has left (the process is ending): the
            // lease goes now, not after the sinks' flush.
            _ = replica::left(&running.ha) => {
                if let Some(ha) = running.ha.take() {
                    ha.leave().await;
                }
                leaving = true;
            }
            rules = next_reload(&mut reload), if ended.is_none() && !leaving => {
                let path = reload.as_ref().map(|r| r.path().display().to_string());
                let applied = match rules {
                    Ok(rules) => running.reload(rules).await,
                    Err(exit) => Err(exit),
                };
                if let Err(exit) = applied {
                    crate::metrics::reload_failed();
                    let path = path.unwrap_or_default();
                    let message = exit.to_string();
                    let message = message.lines().next().unwrap_or("");
                    let message = message
                        .strip_prefix(&format!("--rules {path}: "))
                        .unwrap_or(message);
                    crate::log::error(
                        "rules",
                        format_args!(
                            "reloading {path}: {message}; the rules running keep running"
                        ),
                    );
                }
            }
        }
    };
    say_unsaid(&mut unsaid, 0);
    // Every rule has left (or is dropped, on an error): the lease goes.
    let Running { ha, tasks, .. } = running;
    drop(tasks);
    if let Some(ha) = ha {
        ha.leave().await;
    }
    failed.or(ended).or(gave_up).map_or(Ok(()), Err)
}

/// How a rule's run ended, as the metrics and `/readyz` tell it.
fn ended_by(outcome: &Result<()>) -> &'static str {
    match outcome {
        Ok(()) => "count",
        Err(Exit::Command { .. }) => "max-failures",
        Err(Exit::Timeout(_)) => "timeout",
        Err(Exit::Signal(_)) => "signal",
        Err(_) => "error",
    }
}

/// Resolves every rule's targets; an error names the rule.
async fn resolve(conn: &Connection, rules: &[Rule]) -> Result<Vec<(Vec<Target>, Resolver)>> {
    resolve_each(conn, rules).await.into_iter().collect()
}

/// A rule's targets, and the resolver that resolves them again.
type Resolved = (Vec<Target>, Resolver);

/// The rules that start (resolved), and those that cannot (and why).
type Starting = (Vec<(Rule, Resolved)>, Vec<(Rule, Exit)>);

/// Each rule's targets resolved, or why they cannot be (naming the rule).
async fn resolve_each(conn: &Connection, rules: &[Rule]) -> Vec<Result<(Vec<Target>, Resolver)>> {
    let mut resolved: Vec<Result<(Vec<Target>, Resolver)>> = Vec::with_capacity(rules.len());
    for rule in rules {
        // One read of the discovery cache (or one answer of the server's)
        // for every rule, not one each.
        let previous = resolved.iter().rev().find_map(|r| r.as_ref().ok());
        let mut resolver = match previous {
            Some((_, previous)) => Resolver::alongside(previous, &rule.plan),
            None => Resolver::new(&rule.plan, conn),
        };
        let targets = resolver
            .targets(conn)
            .await
            .map_err(|exit| named(rule.name.as_deref(), exit));
        resolved.push(targets.map(|targets| (targets, resolver)));
    }
    resolved
}

/// The rules that start, and those of a rules file that cannot (each with
/// why); a plain command line that cannot start, or a rules file none of
/// whose rules can, ends the process with the first rule's error.
fn starting(rules: Vec<Rule>, resolved: Vec<Result<Resolved>>) -> Result<Starting> {
    let mut start = Vec::new();
    let mut unresolved = Vec::new();
    for (rule, resolved) in rules.into_iter().zip(resolved) {
        match resolved {
            Ok(resolved) => start.push((rule, resolved)),
            Err(exit) if rule.name.is_none() => return Err(exit),
            Err(exit) => unresolved.push((rule, exit)),
        }
    }
    match (start.is_empty(), unresolved.is_empty()) {
        (true, false) => Err(unresolved.swap_remove(0).1),
        _ => Ok((start, unresolved)),
    }
}

/// Says that one rule of a rules file cannot run (the error names it) and
/// ends alone; `others` rules keep running.
fn cannot_run(rule: Option<&str>, exit: &Exit, others: usize) {
    if let Some(name) = rule {
        crate::metrics::rule_ended(name, "error");
    }
    say_cannot_run(&first_line(exit), others);
}

/// One rule cannot run: why, and how many others keep running (none said
/// when none is left).
fn say_cannot_run(message: &str, others: usize) {
    let others = match others {
        0 => String::new(),
        1 => "; the 1 other rule keeps running".to_string(),
        n => format!("; the {n} other rules keep running"),
    };
    crate::log::error("rules", format_args!("{message}{others}"));
}

/// Says the rules that could not start, held until the others' fate is
/// known.
fn say_unsaid(unsaid: &mut Vec<String>, others: usize) {
    for message in unsaid.drain(..) {
        say_cannot_run(&message, others);
    }
}

/// An error's first line, as a rule's end says it.
fn first_line(exit: &Exit) -> String {
    let message = exit.to_string();
    message.lines().next().unwrap_or("").to_string()
}

async fn next_reload(reload: &mut Option<reload::Reload>) -> Result<Vec<Rule>> {
    match reload {
        Some(reload) => reload.next().await,
        None => std::future::pending().await,
    }
}

/// The rules running in the process, each of which a reload can stop.
struct Running {
    /// A rules file's watches, which a rule a reload starts may join.
    feeds: Option<feed::Feeds>,
    /// `--leader-elect`, `--checkpoint`: one Lease and one ConfigMap for
    /// every rule.
    ha: Option<replica::Ha>,
    conn: Connection,
    deadline: Option<Instant>,
    check_once: bool,
    standby: bool,
    /// How many rules were started so far: each run's id.
    started: u64,
    live: Vec<Live>,
    /// Rules whose types a standby could not resolve at start: resolved
    /// again when it takes over.
    deferred: Vec<Rule>,
    /// Rules that ended by themselves (`--count`, or could not run as a
    /// reload started them), by name and words.
    done: Vec<(Option<String>, Vec<String>)>,
    /// Runs a reload started that watch at once (no lease, or this replica
    /// holds it): their end before they list is the reload's failure; a
    /// rule started on a standby fails, if at all, at a takeover.
    trial: Vec<u64>,
    tasks: FuturesUnordered<LocalBoxFuture<'static, (u64, Result<()>)>>,
}

/// Why a rule's run is told to stop.
#[derive(Clone, Copy)]
enum Stop {
    /// A reload changed the rule (or renamed it).
    Reload,
    /// A reload removed the rule.
    Removed,
    /// Stdout's reader went away (another rule saw it).
    Closed,
}

/// Where a rule's run, stopped by a reload, hands what its new version
/// keeps, once it has told what it was handed.
type Heir = Arc<std::sync::Mutex<Option<Heritage>>>;

/// What a new version of a changed rule keeps of its old version's.
pub(crate) struct Heritage {
    pub to: tokio::sync::oneshot::Sender<Handed>,
    /// Its open `--resolve` alerts: it sends them to the same sinks.
    pub alerts: bool,
    /// Its pending `--hold`s: it holds the same targets' changes for the
    /// same `--when` (for its own `--hold`, to its own sinks).
    pub holds: bool,
    /// Its `--throttle` windows: it throttles the same long.
    pub throttle: bool,
}

/// What a stopped run hands its new version.
#[derive(Default)]
pub(crate) struct Handed {
    /// The UIDs whose alert is open.
    pub open: Vec<String>,
    /// The notices holding, each with when its hold started.
    pub holding: Vec<(std::time::Instant, crate::decide::noise::Notice)>,
    /// What a checkpoint keeps of their objects until they are told.
    pub unsaid: Vec<(String, crate::decide::noise::Before)>,
    /// The `--throttle` windows open, with what waits in them.
    pub throttle: Option<crate::decide::noise::Throttle>,
}

/// One rule running, as a reload compares it.
struct Live {
    id: u64,
    /// With `--resolve`: what the alerts are sent to (its sinks, as the
    /// plan has them); a new version sending to the same keeps them open.
    alerts: Option<String>,
    /// With `--hold`: what a hold means and where it goes (see
    /// [`holds_of`]); a new version of the same keeps the pending ones.
    holds: Option<String>,
    /// With `--throttle`: its window; a new version of the same length
    /// keeps the windows open.
    throttle: Option<Duration>,
    heir: Heir,
    name: Option<String>,
    words: Vec<String>,
    /// Tells its run to stop (a reload removed or changed it, or another
    /// rule found stdout's reader gone).
    stop: Option<tokio::sync::oneshot::Sender<Stop>>,
    /// Started by a reload, not at the process's start.
    reloaded: bool,
    /// Its rule tells the state at start (`--initial`): a new version
    /// of it does not tell it again.
    initial: bool,
    /// Its run ended because it cannot run (its watch forbidden, its type
    /// gone): its own end, not the process's.
    cannot_run: Rc<Cell<bool>>,
    /// The rule as its checkpoint section names it, and its flags.
    is: (String, String),
    /// With `--checkpoint`: closed once its replica has left (its sinks
    /// flushed, its last section written).
    left: Option<tokio::sync::watch::Receiver<()>>,
    /// A new version resumes from its section once it has left: the
    /// section stays its own until then.
    succeeded: bool,
    /// The run of its version before whose section it waits to take.
    resumes: Option<u64>,
    /// Completes once its run delivered what it will: its new version's
    /// notifications wait for it (see [`Release`]).
    released: Option<tokio::sync::oneshot::Receiver<()>>,
    /// How many notifications the rule told, its versions before too.
    told: Rc<Cell<u64>>,
}

impl Running {
    /// Starts rules whose targets are resolved: one watch per distinct
    /// request among them (and, in a rules file, among the rules running).
    /// `replaces`: per rule name, the run of its version before, which
    /// hands each shared watch over at one event.
    fn start(
        &mut self,
        rules: Vec<(Rule, (Vec<Target>, Resolver))>,
        reloaded: bool,
        replaces: &[(String, u64)],
    ) -> Result<()> {
        // A manifest's objects (`-f`) are watched per (type, namespace) and
        // may wait for their type to be served: such a rule's watches are
        // its own; the others' are shared among the rules.
        let own = own_watches;
        let targets: Vec<Vec<Target>> = rules
            .iter()
            .map(|(_, (t, _))| if own(t) { Vec::new() } else { t.clone() })
            .collect();
        let mut shared = match (self.standby, &self.feeds) {
            (true, _) => Vec::new(),
            (false, Some(_)) => targets.iter().map(|_| Vec::new()).collect(),
            (false, None) => feed::share(&self.conn.client, &targets, &[]),
        }
        .into_iter();
        for (mut rule, (targets, resolver)) in rules {
            let id = self.started + 1;
            let mut fed = shared.next();
            // The run of this rule's version before, which a reload stops.
            let before = replaces
                .iter()
                .find(|(name, _)| Some(name) == rule.name.as_ref())
                .map(|(_, run)| *run);
            // A changed rule whose old version told the state at its start
            // (`--initial`) goes on from where that version stops: the
            // state at the hand-over was told, as it came, already.
            let initial =
                matches!(&rule.plan.mode, Mode::Notify { filter, .. } if filter.tells_initial());
            let told_initial = before
                .and_then(|run| self.live.iter().find(|live| live.id == run))
                .is_some_and(|old| old.initial);
            if let (Mode::Notify { filter, .. }, true) = (&mut rule.plan.mode, told_initial) {
                filter.continuing();
            }
            // The hubs keep from a rule what its filter would drop without
            // a trace, where it judges each change as it comes, alone.
            let gate = match &mut rule.plan.mode {
                Mode::Notify { filter, .. }
                    if self.ha.is_none()
                        && rule.plan.verbosity < 2
                        && rule.plan.noise.hold.is_none()
                        && rule.plan.noise.throttle.is_none() =>
                {
                    filter.gate(targets.len())
                }
                _ => None,
            };
            let mut hub_fed = false;
            if let (Some(feeds), Some(_), false) = (&mut self.feeds, &fed, own(&targets)) {
                let (name, verbosity) = (rule.name.as_deref(), rule.plan.verbosity);
                let gate = gate.as_ref();
                let streams = feeds.join(
                    &self.conn.client,
                    id,
                    name,
                    verbosity,
                    &targets,
                    before,
                    gate,
                );
                fed = Some(streams);
                hub_fed = true;
            }
            // A changed rule's open alerts, kept by its new version when it
            // sends them to the same sinks: the state at the hand-over,
            // judged by its own --when, resolves those it no longer meets.
            // Its pending --holds, kept when it holds the same: each keeps
            // waiting the rest of its hold, broken if the state at the
            // hand-over or a later change no longer meets --when.
            let alerts = alerts_of(&rule.plan);
            let holds = holds_of(&rule.plan, &targets);
            let is = checkpoint_rule(&rule.plan, &targets);
            // A changed rule whose new version takes its checkpoint section
            // (the same targets and --when) resumes where the old one's
            // telling ended: once it has flushed and written its last
            // section, nothing told twice, nothing lost.
            // (A renamed rule's section is a new one: it starts afresh.)
            // The run it replaces, looked up once.
            let replaced = before.and_then(|run| self.live.iter().position(|live| live.id == run));
            let after = replaced
                .map(|at| &mut self.live[at])
                .filter(|old| old.name == rule.name)
                .filter(|old| crate::ha::checkpoint::same_rule(&old.is.0, &is.0, &is.1))
                .and_then(|old| {
                    old.succeeded = old.left.is_some();
                    Some((old.id, old.left.clone()?))
                });
            let inherit = replaced
                .map(|at| &self.live[at])
                .map(|old| {
                    // A renamed rule's alerts at Alertmanager and PagerDuty
                    // are named by the rule: the new name's are others.
                    let renamed = old.name != rule.name;
                    let alerts = old.alerts.is_some()
                        && old.alerts == alerts
                        && !(renamed && alerts_name_the_rule(&rule.plan));
                    let holds = old.holds.is_some() && old.holds == holds;
                    let throttle =
                        old.throttle.is_some() && old.throttle == rule.plan.noise.throttle;
                    (old, alerts, holds, throttle)
                })
                .filter(|(_, alerts, holds, throttle)| *alerts || *holds || *throttle)
                .map(|(old, alerts, holds, throttle)| {
                    let (to, rx) = tokio::sync::oneshot::channel();
                    *old.heir.lock().unwrap_or_else(|e| e.into_inner()) = Some(Heritage {
                        to,
                        alerts,
                        holds,
                        throttle,
                    });
                    rx
                });
            let heir = Heir::default();
            // What the new version tells waits until its old version has
            // delivered what it will.
            let behind = replaced.and_then(|at| self.live[at].released.take());
            let (release, released) = Release::new();
            let told = replaced
                .map(|at| self.live[at].told.clone())
                .unwrap_or_default();
            let (events, watches) = match fed {
                Some(_) if own(&targets) => {
                    let all: Vec<usize> = (0..targets.len()).collect();
                    let (events, watches) = watch_targets(&self.conn.client, &targets, &all, &[]);
                    (
                        Events::from(events),
                        watches.into_iter().map(|(_, watch)| watch).collect(),
                    )
                }
                Some(streams) => watch_fed(streams),
                None => (Events::default(), Vec::new()),
            };
            let (stop, stopped) = tokio::sync::oneshot::channel();
            let cannot_run = Rc::<Cell<bool>>::default();
            let session = Session {
                cannot_run: cannot_run.clone(),
                own: rule.plan.ha.own(&self.conn.namespace),
                fed: vec![hub_fed; targets.len()],
                gate: gate.filter(|_| hub_fed),
                unjudged: None,
                uncounted: vec![false; targets.len()],
                stopping: false,
                removed: false,
                let_go: false,
                heir: heir.clone(),
                inherit,
                behind,
                told: told.clone(),
                events,
                watches,
                standby: self.standby,
                resolver,
                recheck: None,
                types_poll: types_poll(),
                outages: (0..targets.len()).map(|_| None).collect(),
                check_once: self.check_once,
                tracker: Tracker::new(targets.len(), keep(&rule.plan)),
                conn: self.conn.clone(),
                targets,
                interrupts: Interrupts::new()
                    .map_err(|e| Exit::Internal(format!("cannot install signal handlers: {e}")))?,
                reader: StdoutReader::watch(!rule.plan.quiet),
                deadline: Deadline::new(self.deadline),
                // Its Live gone without a word (the process ends): never.
                stop: Box::pin(async move {
                    match stopped.await {
                        Ok(stop) => stop,
                        Err(_) => std::future::pending().await,
                    }
                }),
                listed: false,
                said: rule
                    .name
                    .as_ref()
                    .map(|name| format!("{name}  "))
                    .unwrap_or_default(),
                verbosity: rule.plan.verbosity,
            };
            self.started = id;
            if let Some(name) = &rule.name {
                crate::metrics::rule_started(name);
            }
            let replica = self.ha.as_ref().map(|ha| {
                let after = after.as_ref().map(|(_, left)| left.clone());
                ha.replica(rule.name.as_deref(), id, is.clone(), after)
            });
            self.live.push(Live {
                id,
                alerts,
                holds,
                throttle: rule.plan.noise.throttle,
                heir,
                name: rule.name.clone(),
                words: rule.words.clone(),
                stop: Some(stop),
                reloaded,
                initial,
                cannot_run,
                is,
                left: replica.as_ref().and_then(replica::Replica::left),
                succeeded: false,
                resumes: after.map(|(run, _)| run),
                released: Some(released),
                told,
            });
            self.tasks.push(Box::pin(async move {
                (id, run_rule(session, rule, replica, release).await)
            }));
        }
        Ok(())
    }

    /// How many rules run and have not failed (one failing is not yet
    /// ended).
    fn running(&self) -> usize {
        self.live
            .iter()
            .filter(|live| !live.cannot_run.get())
            .count()
    }

    /// Stdout's reader went away (one rule printing saw it): every rule
    /// ends as that one does, its sinks flushed.
    fn close(&mut self) {
        for live in &mut self.live {
            if let Some(stop) = live.stop.take() {
                let _ = stop.send(Stop::Closed);
            }
        }
    }

    /// A rule's run ended: the rule, unless a reload had stopped it.
    fn ended(&mut self, id: u64) -> Option<Live> {
        let at = self.live.iter().position(|live| live.id == id)?;
        Some(self.live.remove(at))
    }

    /// The file's new rules: the same name and words keep running
    /// untouched; others start, with their own watches; rules no longer
    /// there (or changed) stop after flushing their sinks. A rule that
    /// cannot be resolved changes nothing.
    async fn reload(&mut self, rules: Vec<Rule>) -> Result<()> {
        let same = |live: &Live, rule: &Rule| live.name == rule.name && live.words == rule.words;
        // A rule done by itself stays done while the file holds it as it was.
        self.done.retain(|(name, words)| {
            let kept = rules
                .iter()
                .any(|rule| *name == rule.name && *words == rule.words);
            if let (false, Some(name)) = (kept, name) {
                crate::metrics::forget_rule(name);
            }
            kept
        });
        let done = &self.done;
        let finished = |rule: &Rule| {
            done.iter()
                .any(|(name, words)| *name == rule.name && *words == rule.words)
        };
        // A rule waiting for the takeover to be resolved keeps waiting
        // while the file holds it unchanged.
        let waiting = |rule: &Rule| {
            self.deferred
                .iter()
                .any(|d| d.name == rule.name && d.words == rule.words)
        };
        let (waits, rules): (Vec<Rule>, Vec<Rule>) = rules.into_iter().partition(waiting);
        for rule in &self.deferred {
            if let (false, Some(name)) = (waits.iter().any(|w| w.name == rule.name), &rule.name) {
                crate::metrics::forget_rule(name);
            }
        }
        self.deferred = waits;
        let (ended, rules): (Vec<Rule>, Vec<Rule>) = rules.into_iter().partition(finished);
        let (unchanged, new): (Vec<Rule>, Vec<Rule>) = rules
            .into_iter()
            .partition(|rule| self.live.iter().any(|live| same(live, rule)));
        let resolved = resolve(&self.conn, &new).await?;
        let mut removed = Vec::new();
        // A changed rule's new version takes each shared watch over from
        // its old one at one event: nothing told twice, nothing lost.
        let mut replaces: Vec<(String, u64)> = self
            .live
            .iter()
            .filter(|live| !unchanged.iter().any(|rule| same(live, rule)))
            .filter_map(|live| Some((live.name.clone()?, live.id)))
            .collect();
        for (name, _) in &replaces {
            crate::metrics::forget_rule(name);
        }
        // A rule renamed (the same arguments under a name new to the file,
        // its old name gone from it) hands over as a changed rule does.
        let in_file = |name: &String| {
            unchanged
                .iter()
                .chain(&new)
                .chain(&ended)
                .any(|rule| rule.name.as_ref() == Some(name))
        };
        let mut renamed: Vec<(String, String)> = Vec::new();
        for rule in &new {
            let Some(name) = &rule.name else { continue };
            if self
                .live
                .iter()
                .any(|live| live.name.as_ref() == Some(name))
            {
                continue;
            }
            let old = self.live.iter().find(|live| {
                live.words == rule.words
                    && live.name.as_ref().is_some_and(|old| !in_file(old))
                    && !renamed
                        .iter()
                        .any(|(old, _)| live.name.as_ref() == Some(old))
            });
            if let Some(old) = old {
                renamed.push((old.name.clone().unwrap_or_default(), name.clone()));
                replaces.push((name.clone(), old.id));
            }
        }
        let kept = unchanged.len();
        let started = new.len();
        let names = |rules: &mut dyn Iterator<Item = &Rule>| -> Vec<String> {
            rules.filter_map(|rule| rule.name.clone()).collect()
        };
        let was_running = |rule: &&Rule| {
            self.live
                .iter()
                .any(|live| live.name.is_some() && live.name == rule.name)
        };
        let changed = names(&mut new.iter().filter(was_running));
        let added = names(&mut new.iter().filter(|rule| {
            !was_running(rule) && !renamed.iter().any(|(_, to)| rule.name.as_ref() == Some(to))
        }));
        // What the new rules read is parsed before their watches start.
        projection(&new).install();
        self.start(new.into_iter().zip(resolved).collect(), true, &replaces)?;
        let new_runs = self.started;
        if self.ha.as_ref().is_none_or(replica::Ha::leads) {
            self.trial.extend(new_runs - started as u64 + 1..=new_runs);
        }
        self.live.retain_mut(|live| {
            let keep = live.id > new_runs - started as u64
                || unchanged.iter().any(|rule| same(live, rule));
            if !keep {
                let gone = live.name.as_ref().is_some_and(|name| {
                    !changed.contains(name) && !renamed.iter().any(|(from, _)| from == name)
                });
                if let (true, Some(name)) = (gone, &live.name) {
                    removed.push(name.clone());
                }
                // It reads what its watches handed it so far, then stops.
                if let Some(feeds) = &mut self.feeds {
                    feeds.leave(live.id);
                }
                if let Some(stop) = live.stop.take() {
                    let _ = stop.send(if gone { Stop::Removed } else { Stop::Reload });
                }
                if let (Some(ha), Some(name), false) = (&self.ha, &live.name, live.succeeded) {
                    ha.stopped(name, live.id);
                    // Still waiting to take its old version's section.
                    if let Some(before) = live.resumes {
                        ha.stopped(name, before);
                    }
                }
            }
            keep
        });
        let mut said = format!("rules reloaded: {} unchanged", kept + ended.len());
        if !ended.is_empty() {
            said.push_str(&format!(" ({} of them ended)", ended.len()));
        }
        let renamed: Vec<String> = renamed
            .iter()
            .map(|(from, to)| format!("{from} to {to}"))
            .collect();
        for (what, names) in [
            ("changed", changed),
            ("renamed", renamed),
            ("added", added),
            ("removed", removed),
        ] {
            if !names.is_empty() {
                said.push_str(&format!("; {what}: {}", names.join(", ")));
            }
        }
        crate::log::info("rules", said);
        Ok(())
    }
}

/// One rule's run, from its watches to the flush of its sinks.
async fn run_rule(
    session: Session,
    rule: Rule,
    replica: Option<replica::Replica>,
    release: Release,
) -> Result<()> {
    let Rule { name, plan, .. } = rule;
    let Plan {
        mode,
        command,
        timeout,
        noise,
        quiet,
        printer,
        request_timeout,
        sinks,
        verbosity,
        ..
    } = plan;
    let outbox = Outbox::start(
        name.as_deref(),
        sinks.specs,
        sinks.message,
        sinks.alerting,
        sinks.policy,
        verbosity,
    );
    let settings = Settings {
        timeout,
        noise,
        quiet,
        printer,
        request_timeout,
        outbox: outbox.clone(),
        rule: name.clone(),
        release: release.clone(),
    };
    let (outcome, stopping) = match mode {
        Mode::Wait {
            condition,
            any,
            min,
            changes_only,
        } => {
            let waited = wait::run(
                session,
                settings,
                Rules {
                    condition: &condition,
                    any,
                    min,
                    changes_only,
                },
                command,
            )
            .await;
            (waited, None)
        }
        Mode::Notify { filter, count } => {
            notify::run(session, settings, filter, count, command, replica).await
        }
    };
    // Every end lets sinks catch up (a closed stdout too: it stops the
    // printing, not what was already handed to the sinks), unless the user
    // interrupts (again).
    let interrupted = matches!(outcome, Err(Exit::Signal(_)));
    match Interrupts::new() {
        Ok(mut again) => {
            let stop = async move {
                again.recv().await;
            };
            outbox.flush(interrupted, stop).await;
        }
        Err(_) => outbox.flush(false, std::future::pending()).await,
    }
    // Stopped by a reload: its last checkpoint section, after the flush.
    if let Some(stopping) = stopping {
        stopping.leave().await;
    }
    release.now();
    outcome.map_err(|exit| named(name.as_deref(), exit))
}

/// Whether a rule's alerts carry its name in what identifies them
/// (Alertmanager's `rule` label, PagerDuty's `dedup_key`).
fn alerts_name_the_rule(plan: &Plan) -> bool {
    plan.sinks.specs.iter().any(|spec| {
        matches!(
            spec.kind,
            crate::sink::address::SinkKind::Alertmanager
                | crate::sink::address::SinkKind::PagerDuty
        )
    })
}

/// With `--resolve`, what a rule's alerts go to, to compare two versions.
fn alerts_of(plan: &Plan) -> Option<String> {
    match &plan.mode {
        // What names an alert, not its summary (which says the --when).
        Mode::Notify { filter, .. } if filter.resolves() => {
            let alerting = &plan.sinks.alerting;
            Some(format!(
                "{:?} {:?} {:?} {:?}",
                plan.sinks.specs, alerting.name, alerting.labels, alerting.severity
            ))
        }
        _ => None,
    }
}

/// The rule as its checkpoint names it, and its flags.
fn checkpoint_rule(plan: &Plan, targets: &[Target]) -> (String, String) {
    let flags = match &plan.mode {
        Mode::Notify { filter, .. } => filter.describe(),
        Mode::Wait { .. } => String::new(),
    };
    (replica::rule_of(targets, &flags), flags)
}

/// With `--hold`, what a pending hold is and where it goes: the targets
/// (a notice names its target by index), `--when`, `--hold` and the sinks.
fn holds_of(plan: &Plan, targets: &[Target]) -> Option<String> {
    match &plan.mode {
        Mode::Notify { filter, .. } if plan.noise.hold.is_some() => {
            let targets: Vec<String> = targets.iter().map(replica::target_key).collect();
            Some(format!("{targets:?} {}", filter.describe()))
        }
        _ => None,
    }
}

/// An error of one rule of several, said with the rule's name.
fn named(rule: Option<&str>, exit: Exit) -> Exit {
    match (rule, exit) {
        (Some(rule), Exit::Usage(m)) => Exit::Usage(format!("rule {rule}: {m}")),
        (Some(rule), Exit::Refused(m)) => Exit::Refused(format!("rule {rule}: {m}")),
        (Some(rule), Exit::Command { code, message }) => Exit::Command {
            code,
            message: Some(format!(
                "rule {rule}: {}",
                message.unwrap_or_else(|| format!("the command exited with {code}"))
            )),
        },
        (_, exit) => exit,
    }
}

/// What `--leader-elect` and `--checkpoint` keep in the namespace, said when
/// it does not exist: at start, once, not as a retry every second.
fn keeps_state_in_namespace(plan: &Plan) -> Option<&'static str> {
    match (plan.ha.lease.is_some(), plan.ha.checkpoint.is_some()) {
        (true, true) => {
            Some("--leader-elect and --checkpoint keep their Lease and ConfigMap there")
        }
        (true, false) => Some("--leader-elect keeps its Lease there"),
        (false, true) => Some("--checkpoint keeps its ConfigMap there"),
        (false, false) => None,
    }
}

/// Whether the namespace is known not to exist (404); not when that cannot
/// be told (a service account may not read namespaces: creating in it then
/// says the same).
async fn namespace_missing(client: &Client, namespace: &str) -> bool {
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(client.clone());
    matches!(namespaces.get_opt(namespace).await, Ok(None))
}

/// How much of each object to keep: wait mode judges whole objects again on
/// every event; notify mode needs a previous version only to show a diff
/// (`--when` and `--on-change` remember their own few values).
fn keep(plan: &Plan) -> Keep {
    match plan.mode {
        Mode::Wait { .. } => Keep::Objects,
        Mode::Notify { .. } if shows_diffs(plan.quiet, &plan.printer) => Keep::Diffs,
        Mode::Notify { .. } if !plan.sinks.specs.is_empty() => Keep::Diffs,
        Mode::Notify { .. } => Keep::Identity,
    }
}

/// Whether notifications show what changed (a diff, or `-o json`'s changes).
fn shows_diffs(quiet: bool, printer: &Printer) -> bool {
    !quiet && printer.shows_changes()
}

/// What of each object to parse, for every rule of the process: all of it
/// if any rule reads all of it.
fn projection(rules: &[Rule]) -> Projection {
    let mut exprs = Vec::new();
    for rule in rules {
        match reads(&rule.plan) {
            None => return Projection::Full,
            Some(read) => exprs.extend(read),
        }
    }
    Projection::reading(exprs)
}

/// What of each object one rule reads: all of it (`None`) whenever the
/// object is shown whole or handed to a command, or wait mode judges it; in
/// notify mode otherwise only what `--when`, `--on-change` and the line
/// printed read.
fn reads(plan: &Plan) -> Option<Vec<&crate::expr::Expr>> {
    let Mode::Notify { filter, .. } = &plan.mode else {
        return None;
    };
    let lines_read_metadata = plan.quiet
        || matches!(
            plan.printer.format,
            Format::Name
                | Format::Human {
                    diff: DiffMode::None
                }
        );
    if plan.command.is_some() || !lines_read_metadata || !plan.sinks.specs.is_empty() {
        return None;
    }
    Some(filter.exprs().collect())
}

/// What both modes need from the plan besides their own rules.
pub(crate) struct Settings {
    pub timeout: Option<Duration>,
    pub noise: Noise,
    pub quiet: bool,
    pub printer: Printer,
    /// `--request-timeout`: also bounds gathering an explanation.
    pub request_timeout: Option<Duration>,
    /// The `--sink`s (none: an empty outbox).
    pub outbox: Outbox,
    /// The rule's name, in a process of named rules (`--rules`).
    pub rule: Option<String>,
    /// Tells its new version, should a reload change the rule, that this
    /// run delivered what it will.
    pub release: Release,
}

/// Tells a changed rule's new version that its old version has delivered
/// what it will, so that no receiver hears of one object from both
/// versions at once, out of order: when the old run ends (its command
/// idle, its sinks flushed), or, if it waits out holds it could not hand
/// over, once it has delivered everything else. Dropped unsent, it tells
/// the same.
#[derive(Clone, Default)]
pub(crate) struct Release(Rc<Cell<Option<tokio::sync::oneshot::Sender<()>>>>);

impl Release {
    fn new() -> (Release, tokio::sync::oneshot::Receiver<()>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        (Release(Rc::new(Cell::new(Some(tx)))), rx)
    }

    /// The new version may deliver now.
    pub fn now(&self) {
        self.0.take();
    }
}

impl Settings {
    /// Whether a notification's previous version is kept and shown.
    /// Whether notifications carry what changed (a diff printed, or the
    /// `changes` of the JSON line the sinks send).
    pub fn shows_diffs(&self) -> bool {
        shows_diffs(self.quiet, &self.printer) || !self.outbox.is_empty()
    }

    /// `--timeout 0`: judge the state at start once.
    pub fn check_once(&self) -> bool {
        self.timeout == Some(Duration::ZERO)
    }

    /// How the run ran out of time, for the timeout message.
    pub fn ended(&self) -> String {
        if self.check_once() {
            "checked once".to_string()
        } else {
            format!(
                "timed out after {}",
                crate::duration::show(self.timeout.unwrap_or_default())
            )
        }
    }
}

/// What the watch produced next.
pub(crate) enum Step {
    /// Changes to one target (possibly none: a list started or ended).
    Changes(usize, Vec<Change>),
    TimedOut,
    Interrupted(i32),
    /// A reload of the rules file removed or changed this rule.
    Stopped,
}

/// The live watches and what they told us so far.
pub(crate) struct Session {
    events: Events,
    /// Per target: read from a hub of the process's watches, which counts
    /// its events for the metrics (once, however many rules read it).
    fed: Vec<bool>,
    /// The rule's filter's gate, told how many events of each target the
    /// rule has judged (see [`crate::decide::filter::Gate`]).
    gate: Option<Arc<crate::decide::filter::Gate>>,
    /// The target of the event handed out last, once judged.
    unjudged: Option<usize>,
    /// Per target: read from a watch shared at a takeover that another
    /// rule counts for the metrics.
    uncounted: Vec<bool>,
    /// A reload stopped the rule: it reads what its shared watches handed
    /// it so far (its new version reads the rest), then stops.
    stopping: bool,
    /// A reload removed the rule (not changed it): what it holds is
    /// dropped, never told.
    pub removed: bool,
    /// Its shared watches ended its streams: the hubs let a rule go only
    /// when a reload replaced or removed it, and its stop comes next (the
    /// hubs run on their own, and may be first).
    let_go: bool,
    /// Where to hand the open alerts once stopped (a new version keeps them).
    pub heir: Heir,
    /// The open alerts of the rule's version before, handed over once it
    /// has told what it was handed.
    pub inherit: Option<tokio::sync::oneshot::Receiver<Handed>>,
    /// Completes once the rule's version before has delivered what it
    /// will (see [`Release`]): until then, what this one tells waits.
    pub behind: Option<tokio::sync::oneshot::Receiver<()>>,
    /// How many notifications the rule told, all its versions together
    /// (what the `--timeout` message counts).
    pub told: Rc<Cell<u64>>,
    /// One per target, to stop its watch when the target is re-resolved.
    watches: Vec<AbortHandle>,
    /// A replica not active (yet): no watches run (crate::ha).
    standby: bool,
    resolver: Resolver,
    /// A target whose first list got 404 with types from the cache, and the
    /// error to end with if the server's types say the same.
    recheck: Option<(usize, Exit)>,
    /// While a manifest's type is not served: when to ask discovery again.
    types_poll: tokio::time::Interval,
    /// Per target: since when its watch keeps failing, said once on stderr.
    outages: Vec<Option<Outage>>,
    /// `--timeout 0`: one look; a failure before it is complete ends the run.
    check_once: bool,
    pub tracker: Tracker,
    pub conn: Connection,
    pub targets: Vec<Target>,
    interrupts: Interrupts,
    /// The reader of stdout going away ends the run (SPEC §7: 141).
    reader: StdoutReader,
    deadline: Deadline,
    /// Told by a reload that removed or changed the rule: one wait for the
    /// whole run (a `Notify`'s new wait each step registered and dropped a
    /// waiter for every event).
    stop: LocalBoxFuture<'static, Stop>,
    /// Whether every target's first list is in (told to /readyz once).
    listed: bool,
    /// What starts the rule's `-v` lines: its name and two spaces, as on
    /// its human lines (`--rules`); nothing for a command line.
    pub said: String,
    pub verbosity: u8,
    /// Set when the watches end the run (forbidden, the type gone): the
    /// rule cannot run, which ends it alone in a rules file.
    cannot_run: Rc<Cell<bool>>,
    /// The notifier's own Lease and checkpoint ConfigMap: dropped before
    /// the tracker, never a rule's objects.
    own: crate::ha::Own,
}

impl Session {
    /// The next step; errors after start are reported and retried by the
    /// watcher, errors before a target's first list end the run. Cancel-safe.
    pub async fn next(&mut self) -> Result<Step> {
        let step = self.step().await;
        if let Err(exit) = &step
            && !matches!(exit, Exit::Closed)
        {
            self.cannot_run.set(true);
            // Ended before listing: the other rules make the process ready.
            if !self.listed {
                self.listed = true;
                crate::metrics::rule_listed();
            }
        }
        step
    }

    async fn step(&mut self) -> Result<Step> {
        loop {
            // Asked for the next step: the last one is judged.
            if let (Some(index), Some(gate)) = (self.unjudged.take(), &self.gate) {
                gate.judge(index);
            }
            if self.recheck.is_some() {
                let fresh = tokio::select! {
                    fresh = self.resolver.refresh(&self.conn) => fresh,
                    _ = self.deadline.reached() => return Ok(Step::TimedOut),
                    signo = self.interrupts.recv() => return Ok(Step::Interrupted(signo)),
                };
                if let Some((index, exit)) = self.recheck.take() {
                    self.retarget(index, exit, fresh?)?;
                    // Judged again now: a target whose type is gone may
                    // meet `--for delete` with no event to come.
                    return Ok(Step::Changes(index, Vec::new()));
                }
            }
            let (index, item) = tokio::select! {
                item = self.events.next(), if !self.standby && !self.let_go => match item {
                    Some(item) => item,
                    None if self.stopping => return Ok(Step::Stopped),
                    None if self.fed.iter().any(|fed| *fed) => {
                        self.let_go = true;
                        continue;
                    }
                    None => return Err(Exit::Refused("every watch ended unexpectedly".into())),
                },
                _ = self.deadline.reached() => return Ok(Step::TimedOut),
                signo = self.interrupts.recv() => return Ok(Step::Interrupted(signo)),
                _ = self.reader.gone() => return Err(Exit::Closed),
                stop = &mut self.stop, if !self.stopping => {
                    self.stopping = true;
                    // Stdout is gone for every rule: as if this one saw it.
                    match stop {
                        Stop::Closed => return Err(Exit::Closed),
                        Stop::Removed => self.removed = true,
                        Stop::Reload => {}
                    }
                    for (watch, _) in self.watches.iter().zip(&self.fed).filter(|(_, fed)| !**fed) {
                        watch.abort();
                    }
                    if self.standby || self.let_go || !self.fed.iter().any(|fed| *fed) {
                        return Ok(Step::Stopped);
                    }
                    continue;
                }
                _ = self.types_poll.tick(), if !self.standby && self.targets.iter().any(|t| !t.served) => {
                    // `--timeout 0` looks once: it does not wait for types.
                    if self.check_once {
                        return Ok(Step::TimedOut);
                    }
                    // Not served yet is not an error: asked again next time.
                    if let Ok(fresh) = self.resolver.refresh(&self.conn).await {
                        self.adopt(fresh);
                    }
                    continue;
                }
            };
            if self.gate.is_some() && self.fed[index] {
                self.unjudged = Some(index);
            }
            match item {
                Ok((event, tracked)) => {
                    crate::metrics::arrived();
                    if !matches!(event, WatchEvent::Relisting)
                        && let Some(outage) = self.outages[index].take()
                        && outage.said
                    {
                        crate::log::info(
                            "watch",
                            format_args!(
                                "{}: reconnected after {}",
                                self.targets[index].display(),
                                outage.down_for()
                            ),
                        );
                    }
                    if let WatchEvent::Listed(object)
                    | WatchEvent::Applied(object)
                    | WatchEvent::Deleted(object) = &event
                    {
                        let api = &self.targets[index].api;
                        if self.own.holds(&api.group, &api.plural, object) {
                            continue;
                        }
                    }
                    // A shared watch says its list once, for every rule.
                    let said_by_watch = self.fed[index] && matches!(event, WatchEvent::Relisting);
                    if self.verbosity > 0 && !said_by_watch {
                        log_event(
                            &self.said,
                            self.verbosity,
                            &self.targets[index],
                            &event,
                            self.tracker.synced(index),
                        );
                    }
                    let counted = crate::metrics::enabled()
                        .then(|| count_event(&event, self.tracker.synced(index)));
                    let changes = match tracked {
                        // The shared watch's tracker tracks for this rule.
                        Some(changes) => self.tracker.follow(index, event, &changes),
                        None => self.tracker.apply(index, event),
                    };
                    if let Some(event) = counted {
                        self.count(index, event, &changes);
                    }
                    return Ok(Step::Changes(index, changes));
                }
                Err(err) => {
                    if let Err(exit) = self.trouble(index, &err) {
                        if !self.tracker.listed(index)
                            && not_found(&err)
                            && self.resolver.may_be_stale()
                        {
                            crate::term::erase();
                            self.resolver.log(&format!(
                                "{} answered 404 Not Found; checking the cached types with the server",
                                self.targets[index].api.qualified()
                            ));
                            self.recheck = Some((index, exit));
                            continue;
                        }
                        return Err(exit);
                    }
                }
            }
        }
    }

    /// When the server's answer resolves the target that got 404 otherwise
    /// (a CRD now served in another version), every target not listed yet
    /// starts again with the server's types: watches may be shared by type
    /// and namespace, and such targets have nothing to lose. If that target
    /// resolves as before, the 404 stands.
    fn retarget(&mut self, index: usize, exit: Exit, fresh: Vec<Target>) -> Result<()> {
        if fresh.len() != self.targets.len() || fresh[index].api == self.targets[index].api {
            return Err(exit);
        }
        let again: Vec<usize> = (0..fresh.len())
            .filter(|&i| !self.tracker.synced(i))
            .collect();
        for (i, target) in fresh.into_iter().enumerate() {
            if again.contains(&i) {
                self.targets[i] = target;
            }
        }
        self.restart(&again);
        Ok(())
    }

    /// The targets whose manifest type the server serves now are watched
    /// from now on (a custom resource once its CRD is established).
    fn adopt(&mut self, fresh: Vec<Target>) {
        if fresh.len() != self.targets.len() {
            return;
        }
        let served: Vec<usize> = (0..fresh.len())
            .filter(|&i| !self.targets[i].served && fresh[i].served)
            .collect();
        for &i in &served {
            self.targets[i] = fresh[i].clone();
            if self.verbosity > 0 {
                crate::term::stderr_line!(
                    "{}{}: the server serves {} now; watching",
                    self.said,
                    self.targets[i].display(),
                    self.targets[i].api.qualified()
                );
            }
        }
        self.restart(&served);
    }

    /// Stops the watches of these targets and starts them again.
    fn restart(&mut self, indices: &[usize]) {
        for &i in indices {
            self.watches[i].abort();
            self.fed[i] = false;
            self.uncounted[i] = false;
        }
        let (events, watches) = watch_targets(&self.conn.client, &self.targets, indices, &[]);
        for events in events {
            self.events.push(events);
        }
        for (i, watch) in watches {
            self.watches[i] = watch;
        }
    }

    fn trouble(&mut self, index: usize, err: &kube::runtime::watcher::Error) -> Result<()> {
        let target = &self.targets[index];
        let resource = target.api.qualified();
        let scope = Scope {
            server: &self.conn.server,
            resource: Some(&resource),
            namespace: target.namespace.as_deref(),
        };
        let synced = self.tracker.listed(index);
        match trouble::from_watcher(err, &scope) {
            Trouble::Forbidden(message) => Err(Exit::Refused(message)),
            Trouble::Rejected(message) if !synced => Err(Exit::Usage(message)),
            Trouble::Refused(message) if !synced => Err(Exit::Refused(message)),
            Trouble::Rejected(message)
            | Trouble::Refused(message)
            | Trouble::Transient(message) => {
                crate::term::erase();
                // A shared watch that had listed says its troubles once,
                // for every rule reading it.
                let shared = self.fed[index] && synced;
                if expired(err) {
                    // The protocol working: the watcher re-lists.
                    if self.verbosity > 0 && !shared {
                        crate::term::stderr_line!(
                            "{}{}: {message}; re-listing",
                            self.said,
                            target.display()
                        );
                    }
                    return Ok(());
                }
                if self.check_once && !synced {
                    return Err(Exit::Refused(format!(
                        "cannot check {} once (--timeout 0): {message}",
                        target.display()
                    )));
                }
                if !self.fed[index] {
                    crate::metrics::watch_restarted_with(|| target.api.qualified());
                }
                match &mut self.outages[index] {
                    None => {
                        let said = !shared;
                        if said {
                            crate::log::warning(
                                "watch",
                                format_args!("watching {}: {message}; retrying", target.display()),
                            );
                        }
                        self.outages[index] = Some(Outage::new(said));
                    }
                    Some(outage) => {
                        outage.attempts += 1;
                        if self.verbosity > 0 && outage.said {
                            crate::term::stderr_line!(
                                "{}{}: attempt {} failed: {message}; retrying",
                                self.said,
                                target.display(),
                                outage.attempts
                            );
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Starts every target's watch, each from a checkpoint's
    /// resourceVersion where given (crate::ha).
    pub fn start_watches(&mut self, from: Vec<Option<String>>) {
        let all: Vec<usize> = (0..self.targets.len()).collect();
        let (events, watches) = watch_targets(&self.conn.client, &self.targets, &all, &from);
        self.events = Events::from(events);
        self.watches = watches.into_iter().map(|(_, watch)| watch).collect();
        self.fed = vec![false; self.targets.len()];
        self.uncounted = vec![false; self.targets.len()];
        self.standby = false;
    }

    /// Whether its watches may be the process's, shared with other rules:
    /// not a manifest's objects (watched per type and namespace), nor a type
    /// not served yet.
    pub fn shares_watches(&self) -> bool {
        !own_watches(&self.targets)
    }

    /// Reads the process's watches, one stream per target, started for
    /// every rule that took over with it (crate::ha); `counting`: per
    /// target, whether this rule counts its watch's events (see
    /// `feed::counting`).
    pub fn read_watches(
        &mut self,
        streams: Vec<BoxStream<'static, feed::Event>>,
        counting: Vec<bool>,
    ) {
        let (events, watches) = watch_fed(streams);
        self.events = events;
        self.watches = watches;
        self.fed = vec![false; self.targets.len()];
        self.uncounted = counting.into_iter().map(|counts| !counts).collect();
        self.standby = false;
    }

    /// Stops every watch and forgets what they told: a replica that is no
    /// longer active starts again from the checkpoint when it takes over.
    pub fn stop_watches(&mut self) {
        for watch in self.watches.drain(..) {
            watch.abort();
        }
        self.events = Events::default();
        self.tracker.reset();
        self.standby = true;
    }

    /// `--metrics-addr`: what one watch event of target `index` was and
    /// changed; ready once every target's first list is in.
    fn count(&mut self, index: usize, event: Counted, changes: &[Change]) {
        let resource = self.targets[index].api.qualified();
        // A shared watch's hub (or one of its readers) counts its events
        // and changes, once.
        let fed = self.fed[index] || self.uncounted[index];
        match event {
            Counted::Event(event) if !fed => crate::metrics::watch_event(&resource, event),
            Counted::Relist if !fed => crate::metrics::relisted(&resource),
            Counted::Event(_) | Counted::Relist | Counted::Listing => {}
            Counted::ListDone if self.all_synced() && !self.listed => {
                self.listed = true;
                crate::metrics::rule_listed();
            }
            Counted::ListDone => {}
        }
        if fed {
            return;
        }
        for change in changes {
            crate::metrics::change(&resource, change.kind.as_str());
        }
    }

    /// Every target's first list is in; a manifest's type not served yet
    /// has nothing to list (`--timeout 0` then says so).
    pub fn all_synced(&self) -> bool {
        (0..self.targets.len()).all(|i| self.tracker.synced(i) || !self.targets[i].served)
    }

    /// The next SIGINT or SIGTERM, for a command runner to forward.
    pub async fn interrupted(&mut self) -> i32 {
        self.interrupts.recv().await
    }
}

/// One rule's share of the process's watches: per target, its events,
/// which the rule can stop reading on its own.
fn watch_fed(streams: Vec<BoxStream<'static, feed::Event>>) -> (Events, Vec<AbortHandle>) {
    let (events, watches): (Vec<_>, Vec<_>) = streams
        .into_iter()
        .enumerate()
        .map(|(index, events)| indexed(events, index))
        .unzip();
    (Events::from(events), watches)
}

/// A rule's events: those of its one target read as they come, or its
/// targets' merged. Merging costs a task of its own each event (a
/// `SelectAll` puts each stream back in its set after every item), and
/// most rules have one target.
enum Events {
    One(Option<Indexed>),
    Many(SelectAll<Indexed>),
}

impl Default for Events {
    fn default() -> Events {
        Events::One(None)
    }
}

impl From<Vec<Indexed>> for Events {
    fn from(mut streams: Vec<Indexed>) -> Events {
        match streams.len() {
            0 | 1 => Events::One(streams.pop()),
            _ => Events::Many(futures::stream::select_all(streams)),
        }
    }
}

impl Events {
    fn push(&mut self, stream: Indexed) {
        *self = match std::mem::take(self) {
            Events::One(None) => Events::One(Some(stream)),
            Events::One(Some(one)) => Events::from(vec![one, stream]),
            Events::Many(mut many) => {
                many.push(stream);
                Events::Many(many)
            }
        };
    }
}

impl futures::Stream for Events {
    type Item = (usize, feed::Event);

    /// Ends once every stream has ended (at once without any), as a
    /// `SelectAll` does.
    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        match &mut *self {
            Events::One(None) => std::task::Poll::Ready(None),
            Events::One(Some(one)) => {
                let next = std::task::ready!(one.poll_next_unpin(cx));
                if next.is_none() {
                    *self = Events::One(None);
                }
                std::task::Poll::Ready(next)
            }
            Events::Many(many) => many.poll_next_unpin(cx),
        }
    }
}

/// A manifest's objects (`-f`) are watched per (type, namespace) and may
/// wait for their type to be served: a rule with such targets keeps its
/// watches its own.
fn own_watches(targets: &[Target]) -> bool {
    targets.iter().any(|t| t.manifest || !t.served)
}

/// One target's events, each with the target's index.
type Indexed = BoxStream<'static, (usize, feed::Event)>;

/// How often discovery is asked again while a manifest's type is not served.
const TYPES_POLL: Duration = Duration::from_secs(1);

fn types_poll() -> tokio::time::Interval {
    let mut poll = tokio::time::interval_at(Instant::now() + TYPES_POLL, TYPES_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    poll
}

/// The watches targets `indices` need, each from `from[index]` (a
/// checkpoint's resourceVersion; none if absent): one per (type, namespace)
/// for a manifest's named objects, shared by all of them — 200 objects of
/// 12 kinds open 12 watches — or by field selector when there is one; one
/// per other target; none while a manifest's type is not served. Every
/// target gets the handle that stops its watch, in `indices`' order.
fn watch_targets(
    client: &Client,
    targets: &[Target],
    indices: &[usize],
    from: &[Option<String>],
) -> (Vec<Indexed>, Vec<(usize, AbortHandle)>) {
    let from = |i: usize| from.get(i).cloned().flatten();
    let mut events = Vec::new();
    let mut watches = Vec::new();
    // The named targets per (type, namespace), in order of first appearance.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for &i in indices {
        let target = &targets[i];
        if !target.served {
            let (waiting, watch) = futures::stream::abortable(futures::stream::pending());
            events.push(waiting.boxed());
            watches.push((i, watch));
            continue;
        }
        if matches!(target.selection, Selection::Query { .. }) || !target.manifest {
            let (stream, watch) = watch_one(client, target, i, from(i));
            events.push(stream);
            watches.push((i, watch));
            continue;
        }
        let same = |g: &Vec<usize>| {
            let other = &targets[g[0]];
            other.api == target.api && other.namespace == target.namespace
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(group) => group.push(i),
            None => groups.push(vec![i]),
        }
    }
    for group in groups {
        if let [i] = group[..] {
            let (stream, watch) = watch_one(client, &targets[i], i, from(i));
            events.push(stream);
            watches.push((i, watch));
            continue;
        }
        let members = group
            .iter()
            .filter_map(|&i| match &targets[i].selection {
                Selection::Name(name) => Some((name.clone(), i)),
                Selection::Query { .. } => None,
            })
            .collect();
        let shared =
            crate::watch::watch_shared(client, &targets[group[0]], members, from(group[0]))
                .map(|(i, item)| (i, item.map(|event| (event, None)).map_err(Arc::new)));
        let (stream, watch) = futures::stream::abortable(shared);
        events.push(stream.boxed());
        watches.extend(group.iter().map(|&i| (i, watch.clone())));
    }
    watches.sort_by_key(|&(i, _)| indices.iter().position(|&j| j == i));
    (events, watches)
}

/// A watch of the rule's own (from a checkpoint, or its type resolved again).
fn watch_one(
    client: &Client,
    target: &Target,
    index: usize,
    from: Option<String>,
) -> (BoxStream<'static, (usize, feed::Event)>, AbortHandle) {
    indexed(feed::own(watch_from(client, target, from)), index)
}

fn indexed(
    events: BoxStream<'static, feed::Event>,
    index: usize,
) -> (BoxStream<'static, (usize, feed::Event)>, AbortHandle) {
    let (events, watch) = futures::stream::abortable(events.map(move |item| (index, item)));
    (events.boxed(), watch)
}

/// A watch event as the metrics count it.
#[derive(Clone, Copy)]
enum Counted {
    Event(&'static str),
    Listing,
    Relist,
    ListDone,
}

/// Taken before the tracker consumes the event; a list of a target already
/// synced is a re-list.
fn count_event(event: &WatchEvent, synced: bool) -> Counted {
    match event {
        WatchEvent::Relisting if synced => Counted::Relist,
        WatchEvent::Relisting => Counted::Listing,
        WatchEvent::Listed(_) => Counted::Event("listed"),
        WatchEvent::Applied(_) => Counted::Event("applied"),
        WatchEvent::Deleted(_) => Counted::Event("deleted"),
        WatchEvent::ListDone => Counted::ListDone,
    }
}

/// A watch that keeps failing: reported when it starts and when it ends.
/// A watch failing: since when, how many attempts failed.
pub(crate) struct Outage {
    since: std::time::Instant,
    pub attempts: u32,
    /// Said by the rule (else by the shared watch, once for its rules).
    said: bool,
}

impl Outage {
    /// Its first attempt failed now.
    pub fn new(said: bool) -> Outage {
        Outage {
            since: std::time::Instant::now(),
            attempts: 1,
            said,
        }
    }

    /// How long the watch was down, in whole seconds (at least one).
    pub fn down_for(&self) -> humantime::FormattedDuration {
        humantime::format_duration(Duration::from_secs(self.since.elapsed().as_secs().max(1)))
    }
}

/// 410 Gone: the resourceVersion is too old, and the watcher re-lists.
fn expired(err: &kube::runtime::watcher::Error) -> bool {
    crate::watch::status_code(err) == Some(410)
}

/// The server does not serve the type (or no longer does).
fn not_found(err: &kube::runtime::watcher::Error) -> bool {
    crate::watch::status_code(err) == Some(404)
}

fn log_event(said: &str, verbosity: u8, target: &Target, event: &WatchEvent, synced: bool) {
    crate::term::erase();
    let rv = |o: &Value| {
        o["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    match event {
        WatchEvent::Relisting if synced => {
            crate::term::stderr_line!(
                "{said}{}: re-listing after a watch restart",
                target.display()
            )
        }
        WatchEvent::Relisting => crate::term::stderr_line!("{said}{}: listing", target.display()),
        WatchEvent::ListDone => {
            crate::term::stderr_line!("{said}{}: list complete, watching", target.display())
        }
        WatchEvent::Listed(o) | WatchEvent::Applied(o) if verbosity > 1 => {
            crate::term::stderr_line!("{said}{}: resourceVersion {}", target.display(), rv(o))
        }
        WatchEvent::Deleted(o) if verbosity > 1 => {
            crate::term::stderr_line!(
                "{said}{}: deleted at resourceVersion {}",
                target.display(),
                rv(o)
            )
        }
        _ => {}
    }
}

/// `--timeout` as one timer for the whole run: waiting on it again (once per
/// event) costs nothing, where a new timer each time would be set and
/// cancelled for every event.
struct Deadline(Option<Pin<Box<Sleep>>>);

impl Deadline {
    fn new(at: Option<Instant>) -> Deadline {
        Deadline(at.map(|at| Box::pin(tokio::time::sleep_until(at))))
    }

    /// Completes when the deadline has passed; never without one. Cancel-safe.
    async fn reached(&mut self) {
        match &mut self.0 {
            Some(timer) => timer.as_mut().await,
            None => std::future::pending().await,
        }
    }
}

/// The moment the pure noise state is told, on the runtime's clock.
pub(crate) fn now() -> std::time::Instant {
    Instant::now().into_std()
}

/// Completes at `at` (a moment of the pure noise state); never without one.
pub(crate) async fn sleep_until_due(at: Option<std::time::Instant>) {
    sleep_until(at.map(Instant::from_std)).await
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
