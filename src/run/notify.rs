//! Notify mode: every admitted change is printed and handed to the command,
//! until `--count` notifications, `--timeout`, a signal, or `--max-failures`.

use std::time::SystemTime;

use super::replica::{self, Replica};
use super::{Handed, Session, Settings, Step, now, sleep_until_due};
use crate::decide::filter::Filter;
use crate::decide::noise::{Before, Notice, Quieting, Unsaid};
use crate::exit::{Exit, Result};
use crate::sink::command::{CommandSpec, Policy, Report, Runner};
use crate::sink::{Notification, Sink, deliver_all};
use crate::target::Target;
use crate::tracker::{Change, ChangeKind};

pub async fn run(
    mut session: Session,
    mut settings: Settings,
    mut filter: Filter,
    count: Option<u64>,
    command: Option<(CommandSpec, Policy)>,
    mut replica: Option<Replica>,
) -> (Result<()>, Option<Stopping>) {
    let mut runner =
        command.map(|(spec, policy)| Runner::new(spec, policy).log_skips(session.verbosity > 0));
    let mut notified: u64 = 0;
    let rule = settings.rule.clone();
    if let Some(replica) = &mut replica {
        replica.follow(&settings.outbox);
        // A held firing told just before a crash is replayed, and held
        // again, by the next replica: the checkpoint marks it first.
        replica.marks_firings(settings.noise.hold.is_some() && filter.resolves());
    }
    let (hold, throttle, diffs) = (
        settings.noise.hold,
        settings.noise.throttle,
        settings.shows_diffs(),
    );
    let quiet = move || Quieting::new(hold, throttle, diffs);
    let mut quieting = quiet();
    // What waits in a window, kept out of the checkpoint until delivered.
    let mut unsaid = Unsaid::default();
    let keeps_checkpoint = replica.as_ref().is_some_and(Replica::keeps_checkpoint);
    // A new version of a changed rule: its old version's open alerts stay
    // open (the state at the hand-over, judged next, resolves those this
    // version's --when does not hold for).
    // Its pending holds keep waiting out their rest here, its throttle
    // windows stay open (a replica's first takeover keeps them: the run
    // has nothing else to start over).
    let mut inherited_noise = false;
    // A reload stopped the run (see [`Stopping`]).
    let mut stopped = false;
    if let Some(inherited) = session.inherit.take()
        && let Ok(handed) = inherited.await
    {
        let kept_open = !handed.open.is_empty();
        for uid in handed.open {
            filter.restore(&uid, None, None, true);
        }
        // Its Alertmanager alerts go on being sent again every minute.
        if kept_open && settings.outbox.keeps_alerts_alive() {
            replica::keep_firing(&settings.outbox, &session, &filter).await;
        }
        inherited_noise = !handed.holding.is_empty();
        quieting.resume_holds(handed.holding);
        if let Some(throttle) = handed.throttle {
            quieting.resume_throttle(throttle);
            inherited_noise = true;
        }
        for (uid, before) in handed.unsaid {
            unsaid.note(&uid, || before);
        }
    }
    // Holding what it was handed, its filter judges alike in the hubs.
    filter.open_gate();
    // A changed rule's new version judges every change as it comes, but
    // tells nothing before its old version has delivered what it will.
    let mut behind = session.behind.take().map(|done| Behind {
        done,
        until: tokio::time::Instant::now() + settings.outbox.flush_timeout(),
    });
    if behind.is_some() {
        quieting.fall_behind();
    }
    let outcome = loop {
        let step = tokio::select! {
            step = session.next() => match step {
                Ok(step) => Some(step),
                // Stdout's reader went away (`| head -1`): nothing more is
                // printed, but what waits out a window still goes to the
                // command and the sinks before the run ends (141).
                Err(Exit::Closed) if quieting.is_active() && replica::may_deliver(&replica) => {
                    settings.quiet = true;
                    let mut out = Out {
                        settings: &mut settings,
                        runner: &mut runner,
                        notified: &mut notified,
                        count,
                    };
                    let _ = out.hand(&mut replica, &session, quieting.flush()).await;
                    unsaid.settle(&quieting);
                    break Err(Exit::Closed);
                }
                Err(exit) => break Err(exit),
            },
            report = next_report(&mut runner) => {
                if let Some(exit) = judge_report(report, rule.as_deref()) {
                    break Err(exit);
                }
                continue;
            }
            // `--hold` complete, or a `--throttle` window ended.
            _ = sleep_until_due(quieting.next_due()) => None,
            // The old version delivered all it will: what waited is due.
            released = caught_up(&mut behind) => {
                behind = None;
                if !released {
                    still_delivering(&settings);
                }
                quieting.catch_up();
                None
            }
            turn = replica::next(&mut replica) => {
                let settled = runner.as_ref().is_none_or(Runner::is_idle);
                // Taking over or stepping down starts over from the
                // checkpoint, which has nothing of what waits in a window.
                let afresh = matches!(turn, replica::Turn::TakeOver | replica::Turn::StepDown);
                let taking_over = matches!(turn, replica::Turn::TakeOver);
                if let Some(replica) = &mut replica {
                    replica.count(notified);
                    if let Err(exit) = replica
                        .handle(turn, &mut session, &mut filter, &unsaid, settled)
                        .await
                    {
                        break Err(exit);
                    }
                }
                // `--count` goes on from what the checkpoint says was told.
                if taking_over
                    && let Some(replica) = &replica
                    && replica.keeps_checkpoint()
                {
                    notified = replica.told();
                    session.told.set(notified);
                    if count.is_some_and(|n| notified >= n) {
                        break Ok(());
                    }
                }
                if afresh && !std::mem::take(&mut inherited_noise) {
                    quieting = quiet();
                    unsaid.clear();
                    if behind.is_some() {
                        quieting.fall_behind();
                    }
                }
                if taking_over && replica.as_ref().is_some_and(Replica::resumed) {
                    quieting.taken_over(now());
                }
                continue;
            }
        };
        let mut out = Out {
            settings: &mut settings,
            runner: &mut runner,
            notified: &mut notified,
            count,
        };
        let counted = match step {
            // The lease lapsed: what a window released is the next holder's
            // (the checkpoint never had it).
            None if !replica::may_deliver(&replica) => {
                quieting.due(now());
                Ok(false)
            }
            None => {
                // Released by a timer, not by an event that just arrived.
                crate::metrics::forget_arrival();
                out.hand(&mut replica, &session, quieting.due(now())).await
            }
            // The lease lapsed: what is left is the next holder's.
            Some(Step::Changes(..)) if !replica::may_deliver(&replica) => Ok(false),
            Some(Step::Changes(index, mut changes)) if !quieting.is_active() => {
                if diffs {
                    resumed(&filter, &mut changes);
                }
                let ready = changes
                    .into_iter()
                    .filter_map(|mut change| filter.admit(&mut change).then_some((index, change)));
                out.hand(&mut replica, &session, ready).await
            }
            Some(Step::Changes(index, mut changes)) => {
                if diffs {
                    resumed(&filter, &mut changes);
                }
                let now = now();
                let mut ready = Vec::new();
                for mut change in changes {
                    let uid = crate::decide::filter::uid(&change.object).into_owned();
                    let before = (keeps_checkpoint && !unsaid.contains(&uid))
                        .then(|| before(&filter, &uid, index, &change));
                    let unsure = filter.is_unsure(&uid);
                    let admitted = filter.admit(&mut change);
                    let holds = filter.when_holds(&change);
                    if unsure && admitted && matches!(change.kind, ChangeKind::Resolved { .. }) {
                        ready.extend(quieting.resolve_unsure((index, change), now));
                    } else {
                        ready.extend(quieting.pass((index, change), admitted, holds, now));
                    }
                    if let Some(before) = before
                        && quieting.is_waiting(&uid)
                    {
                        unsaid.note(&uid, || before);
                    }
                }
                out.hand(&mut replica, &session, ready).await
            }
            Some(Step::TimedOut) => {
                // A planned end: what waits out a throttle window goes now.
                let counted = out.hand(&mut replica, &session, quieting.flush()).await;
                // The last checkpoint holds what the flush told.
                unsaid.settle(&quieting);
                match counted {
                    Ok(false) => break Err(timed_out(out.settings, session.told.get())),
                    counted => counted,
                }
            }
            Some(Step::Stopped) => {
                // Its new version (a changed rule) keeps its open alerts.
                let heir = session
                    .heir
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
                // Its pending holds too, when it holds the same.
                if let Some(heir) = heir {
                    let mut handed = Handed::default();
                    if heir.alerts {
                        handed.open = filter.open_alerts();
                    }
                    if heir.holds {
                        handed.holding = quieting.hand_over_holds();
                        handed.unsaid = handed
                            .holding
                            .iter()
                            .filter_map(|(_, (_, change))| {
                                let uid = crate::decide::filter::uid(&change.object);
                                Some((uid.to_string(), unsaid.take(&uid)?))
                            })
                            .collect();
                    }
                    // Its open --throttle windows too, when it throttles
                    // the same long: no window starts over at a reload.
                    if heir.throttle {
                        let waiting: Vec<String> = unsaid
                            .iter()
                            .map(|(uid, _)| uid.clone())
                            .filter(|uid| quieting.is_throttling(uid))
                            .collect();
                        handed.throttle = quieting.hand_over_throttle();
                        handed.unsaid.extend(
                            waiting
                                .into_iter()
                                .filter_map(|uid| Some((uid.clone(), unsaid.take(&uid)?))),
                        );
                    }
                    let _ = heir.to.send(handed);
                }
                // What waits behind this version's own old version goes
                // once that one is done (the deadline or a signal ends the
                // wait: it goes then). Its new version, handed what it
                // keeps first, reads its watches meanwhile.
                if behind.is_some() {
                    tokio::select! {
                        released = caught_up(&mut behind) => if !released {
                            still_delivering(out.settings);
                        },
                        _ = session.deadline.reached() => {}
                        _ = session.interrupts.recv() => {}
                    }
                }
                // What waits out a throttle window, and what waited behind
                // the old version, goes now.
                if let Err(exit) = out.hand(&mut replica, &session, quieting.flush()).await {
                    break Err(exit);
                }
                // A removed rule's holds fire nothing: it no longer watches
                // whether they would hold.
                if session.removed {
                    quieting.drop_holds();
                }
                // A change that holds for its --hold is told: the holds
                // not handed over are waited out here (the deadline or a
                // signal ends the wait: what is incomplete then never held
                // long enough). The new version need not wait that long:
                // it tells once this one delivered everything else.
                if let Some(until) = quieting.holds_until() {
                    if let Err(exit) = settle(&mut session, out.runner, out.settings).await {
                        break Err(exit);
                    }
                    out.settings.release.now();
                    tokio::select! {
                        _ = sleep_until_due(Some(until)) => {}
                        _ = session.deadline.reached() => {}
                        _ = session.interrupts.recv() => {}
                    }
                    if let Err(exit) = out.hand(&mut replica, &session, quieting.due(now())).await {
                        break Err(exit);
                    }
                }
                // Removed by a reload: as at --timeout, what a complete
                // hold left in a throttle window goes now, then the rule
                // ends quietly.
                stopped = true;
                match out.hand(&mut replica, &session, quieting.flush()).await {
                    Ok(_) => break Ok(()),
                    Err(exit) => break Err(exit),
                }
            }
            Some(Step::Interrupted(signo)) => {
                // As at --timeout: what waits out a throttle window goes now
                // (a hold not complete never held long enough).
                if replica::may_deliver(&replica) {
                    let _ = out.hand(&mut replica, &session, quieting.flush()).await;
                    unsaid.settle(&quieting);
                }
                if let Some(runner) = runner.take() {
                    runner.shutdown(Some(signo)).await;
                }
                if let Some(mut replica) = replica.take() {
                    replica.count(notified);
                    replica.leave(&session, &filter, &unsaid).await;
                }
                return (Err(Exit::Signal(signo)), None);
            }
        };
        unsaid.settle(&quieting);
        if let Some(replica) = &mut replica {
            let settled = runner.as_ref().is_none_or(Runner::is_idle);
            replica.count(notified);
            if let Err(exit) = replica.delivered(&session, &filter, &unsaid, settled).await {
                break Err(exit);
            }
        }
        match counted {
            Ok(false) => {}
            Ok(true) => break Ok(()),
            Err(exit) => break Err(exit),
        }
        if settings.check_once() && session.all_synced() {
            break Err(timed_out(&settings, session.told.get()));
        }
    };
    let outcome = finish(&mut session, runner, outcome, rule.as_deref()).await;
    if let Some(mut replica) = replica {
        replica.count(notified);
        if stopped && replica.keeps_checkpoint() {
            let stopping = Stopping {
                replica,
                session,
                filter,
                unsaid,
            };
            return (outcome, Some(stopping));
        }
        replica.leave(&session, &filter, &unsaid).await;
    }
    (outcome, None)
}

/// A run a reload stopped, with `--checkpoint`: its last section is
/// written once its sinks have flushed (not before, as on the way out, when
/// the lease should go at once), so that it records everything the run
/// told, and its new version resumes right after that.
pub struct Stopping {
    replica: Replica,
    session: Session,
    filter: Filter,
    unsaid: Unsaid,
}

impl Stopping {
    /// After the sinks' flush: the last section, then the replica leaves.
    pub async fn leave(self) {
        let Stopping {
            replica,
            session,
            filter,
            unsaid,
        } = self;
        replica.leave(&session, &filter, &unsaid).await;
    }
}

/// Modifications that came without the version before them (the first
/// after resuming from a checkpoint) get what the filter knows of it.
fn resumed(filter: &Filter, changes: &mut [Change]) {
    for change in changes {
        if change.kind == ChangeKind::Modified && change.previous.is_none() {
            change.previous = filter.previous(change);
        }
    }
}

/// What was known of an object before this change, should the change wait
/// in a window: the object as a checkpoint must keep it until then.
fn before(filter: &Filter, uid: &str, target: usize, change: &Change) -> Before {
    let meta = &change.object["metadata"];
    let memory = filter.remembered(uid);
    let new = matches!(change.kind, ChangeKind::Created | ChangeKind::Initial);
    Before {
        target,
        key: crate::tracker::key(&change.object),
        resource_version: meta["resourceVersion"]
            .as_str()
            .and_then(|rv| rv.parse().ok())
            .unwrap_or(0),
        known: (!new).then(|| (memory.when, memory.values.cloned(), memory.open)),
    }
}

/// Lets the command finish what it was given (on `--count`), or stops it
/// (on timeout or failure), before the program exits.
async fn finish(
    session: &mut Session,
    runner: Option<Runner>,
    outcome: Result<()>,
    rule: Option<&str>,
) -> Result<()> {
    let Some(mut runner) = runner else {
        return outcome;
    };
    if outcome.is_err() {
        runner.shutdown(None).await;
        return outcome;
    }
    while !runner.is_idle() {
        tokio::select! {
            report = runner.next() => {
                if let Some(exit) = judge_report(report, rule) {
                    return Err(exit);
                }
            }
            signo = session.interrupts.recv() => {
                runner.shutdown(Some(signo)).await;
                return Err(Exit::Signal(signo));
            }
            // --timeout bounds the process: a run a reload stopped (or
            // that reached --count) lets its command go on until then.
            _ = session.deadline.reached() => {
                runner.shutdown(None).await;
                return outcome;
            }
        }
    }
    outcome
}

/// Where notifications go, and how many went.
struct Out<'a> {
    settings: &'a mut Settings,
    runner: &'a mut Option<Runner>,
    notified: &'a mut u64,
    count: Option<u64>,
}

impl Out<'_> {
    /// Delivers, once the checkpoint (if kept) has announced the objects
    /// it did not know yet; nothing if the lease lapsed meanwhile.
    async fn hand(
        &mut self,
        replica: &mut Option<Replica>,
        session: &Session,
        notices: impl IntoIterator<Item = Notice>,
    ) -> Result<bool> {
        let notices: Vec<Notice> = notices.into_iter().collect();
        if let Some(replica) = replica
            && !notices.is_empty()
            && !replica.announce(session, &notices).await?
        {
            return Ok(false);
        }
        let before = *self.notified;
        let counted = self.deliver(&session.targets, notices);
        session
            .told
            .set(session.told.get() + (*self.notified - before));
        counted
    }

    /// Tells every sink of each notification, in order; `true` once
    /// `--count` notifications have gone out.
    fn deliver(
        &mut self,
        targets: &[Target],
        notices: impl IntoIterator<Item = Notice>,
    ) -> Result<bool> {
        for (index, change) in notices {
            *self.notified += 1;
            let mut sinks: Vec<&mut dyn Sink> = Vec::new();
            if !self.settings.quiet {
                sinks.push(&mut self.settings.printer);
            }
            if let Some(runner) = self.runner {
                sinks.push(runner);
            }
            sinks.push(&mut self.settings.outbox);
            let notification = Notification::change(SystemTime::now(), &targets[index], &change)
                .of_rule(self.settings.rule.as_deref());
            deliver_all(&mut sinks, &notification)?;
            let printed = !self.settings.quiet;
            let resource = || targets[index].api.qualified();
            crate::metrics::notified(
                self.settings.rule.as_deref(),
                resource,
                change.kind.as_str(),
                printed,
                self.runner.is_some(),
            );
            if self.count.is_some_and(|n| *self.notified >= n) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// The version of a changed rule before this one, while it still delivers
/// (see [`super::Release`]).
struct Behind {
    done: tokio::sync::oneshot::Receiver<()>,
    /// How long this version waits for it: `--flush-timeout`, so that one
    /// whose command never ends never silences this one.
    until: tokio::time::Instant,
}

/// Completes once the rule's old version delivered what it will (`true`)
/// or was waited for long enough (`false`); never without one.
async fn caught_up(behind: &mut Option<Behind>) -> bool {
    match behind {
        Some(behind) => tokio::select! {
            _ = &mut behind.done => true,
            _ = tokio::time::sleep_until(behind.until) => false,
        },
        None => std::future::pending().await,
    }
}

fn still_delivering(settings: &Settings) {
    crate::log::warning(
        "rules",
        format_args!(
            "{}the rule's version before the reload still delivers after --flush-timeout {} \
             (its command still runs, or a sink is slow): the new version delivers now, beside it",
            settings
                .rule
                .as_deref()
                .map(|rule| format!("{rule}  "))
                .unwrap_or_default(),
            crate::duration::show(settings.outbox.flush_timeout())
        ),
    );
}

/// Waits, without ending either, until the command has run all it was
/// given and the sinks delivered what they were handed (up to
/// `--flush-timeout`); the deadline or a signal ends the wait.
async fn settle(
    session: &mut Session,
    runner: &mut Option<Runner>,
    settings: &Settings,
) -> Result<()> {
    let rule = settings.rule.as_deref();
    while let Some(runner) = runner.as_mut().filter(|runner| !runner.is_idle()) {
        tokio::select! {
            report = runner.next() => {
                if let Some(exit) = judge_report(report, rule) {
                    return Err(exit);
                }
            }
            _ = session.deadline.reached() => return Ok(()),
            _ = session.interrupts.recv() => return Ok(()),
        }
    }
    let stop = async {
        tokio::select! {
            _ = session.deadline.reached() => {}
            _ = session.interrupts.recv() => {}
        }
    };
    settings.outbox.settled(stop).await;
    Ok(())
}

async fn next_report(runner: &mut Option<Runner>) -> Report {
    match runner {
        Some(runner) => runner.next().await,
        None => std::future::pending().await,
    }
}

/// A failing run is reported and notify mode goes on, unless it reached
/// `--max-failures`.
fn judge_report(report: Report, rule: Option<&str>) -> Option<Exit> {
    match report {
        Report::Finished { code: 0, .. } => {
            crate::metrics::delivered_for(rule, "command", crate::metrics::Outcome::Ok);
            None
        }
        Report::Finished {
            job,
            code,
            attempts,
        } => {
            crate::metrics::delivered_for(rule, "command", crate::metrics::Outcome::Failed);
            crate::log::warning(
                "command",
                format_args!(
                    "{}the command failed for {} with exit code {code} after {attempts} \
                     attempt(s)",
                    rule.map(|rule| format!("{rule}  ")).unwrap_or_default(),
                    job.name()
                ),
            );
            None
        }
        Report::Fatal { job, code } => {
            // The run that reached the limit ended too: it counts.
            crate::metrics::delivered_for(rule, "command", crate::metrics::Outcome::Failed);
            Some(Exit::Command {
                code,
                message: Some(format!(
                    "the command failed too many times in a row (--max-failures), last for {}; \
                 last exit code {code}",
                    job.name()
                )),
            })
        }
    }
}

fn timed_out(settings: &Settings, notified: u64) -> Exit {
    Exit::Timeout(format!(
        "{} ({notified} notification{})",
        settings.ended(),
        if notified == 1 { "" } else { "s" }
    ))
}
