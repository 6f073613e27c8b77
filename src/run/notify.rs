//! Notify mode: every admitted change is printed and handed to the command,
//! until `--count` notifications, `--timeout`, a signal, or `--max-failures`.

use std::time::SystemTime;

use super::replica::{self, Replica};
use super::{Session, Settings, Step, now, sleep_until_due};
use crate::decide::filter::Filter;
use crate::decide::noise::{Notice, Quieting};
use crate::exit::{Exit, Result};
use crate::sink::command::{CommandSpec, Policy, Report, Runner};
use crate::sink::{Notification, Sink, deliver_all};
use crate::target::Target;

pub async fn run(
    mut session: Session,
    mut settings: Settings,
    mut filter: Filter,
    count: Option<u64>,
    command: Option<(CommandSpec, Policy)>,
    mut replica: Option<Replica>,
) -> Result<()> {
    let mut runner =
        command.map(|(spec, policy)| Runner::new(spec, policy).log_skips(session.verbosity > 0));
    let mut notified: u64 = 0;
    if let Some(replica) = &mut replica {
        replica.follow(&settings.outbox);
    }
    let mut quieting = Quieting::new(
        settings.noise.hold,
        settings.noise.throttle,
        settings.shows_diffs(),
    );
    let outcome = loop {
        let step = tokio::select! {
            step = session.next() => match step {
                Ok(step) => Some(step),
                Err(exit) => break Err(exit),
            },
            report = next_report(&mut runner) => {
                if let Some(exit) = judge_report(report) {
                    break Err(exit);
                }
                continue;
            }
            // `--hold` complete, or a `--throttle` window ended.
            _ = sleep_until_due(quieting.next_due()) => None,
            turn = replica::next(&mut replica) => {
                let settled = runner.as_ref().is_none_or(Runner::is_idle);
                if let Some(replica) = &mut replica
                    && let Err(exit) = replica.handle(turn, &mut session, &mut filter, settled).await
                {
                    break Err(exit);
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
            None => {
                // Released by a timer, not by an event that just arrived.
                crate::metrics::forget_arrival();
                out.deliver(&session.targets, quieting.due(now()))
            }
            // The lease lapsed: what is left is the next holder's.
            Some(Step::Changes(..)) if !replica::may_deliver(&replica) => Ok(false),
            Some(Step::Changes(index, changes)) => {
                let now = now();
                let ready = changes.into_iter().filter_map(|change| {
                    let admitted = filter.admit(&change);
                    if !quieting.is_active() {
                        return admitted.then_some((index, change));
                    }
                    let holds = filter.when_holds(&change);
                    quieting.pass((index, change), admitted, holds, now)
                });
                out.deliver(&session.targets, ready)
            }
            Some(Step::TimedOut) => {
                // A planned end: what waits out a throttle window goes now.
                match out.deliver(&session.targets, quieting.flush()) {
                    Ok(false) => break Err(timed_out(out.settings, *out.notified)),
                    counted => counted,
                }
            }
            Some(Step::Interrupted(signo)) => {
                if let Some(runner) = runner.take() {
                    runner.shutdown(Some(signo)).await;
                }
                if let Some(replica) = replica.take() {
                    replica.leave(&session, &filter).await;
                }
                return Err(Exit::Signal(signo));
            }
        };
        if let Some(replica) = &mut replica {
            let settled = runner.as_ref().is_none_or(Runner::is_idle);
            if let Err(exit) = replica.delivered(&session, &filter, settled).await {
                break Err(exit);
            }
        }
        match counted {
            Ok(false) => {}
            Ok(true) => break Ok(()),
            Err(exit) => break Err(exit),
        }
        if settings.check_once() && session.all_synced() {
            break Err(timed_out(&settings, notified));
        }
    };
    let outcome = finish(&mut session, runner, outcome).await;
    if let Some(replica) = replica {
        replica.leave(&session, &filter).await;
    }
    outcome
}

/// Lets the command finish what it was given (on `--count`), or stops it
/// (on timeout or failure), before the program exits.
async fn finish(session: &mut Session, runner: Option<Runner>, outcome: Result<()>) -> Result<()> {
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
                if let Some(exit) = judge_report(report) {
                    return Err(exit);
                }
            }
            signo = session.interrupted() => {
                runner.shutdown(Some(signo)).await;
                return Err(Exit::Signal(signo));
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
            let notification = Notification::change(SystemTime::now(), &targets[index], &change);
            deliver_all(&mut sinks, &notification)?;
            let printed = !self.settings.quiet;
            let resource = || targets[index].api.qualified();
            crate::metrics::notified(
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

async fn next_report(runner: &mut Option<Runner>) -> Report {
    match runner {
        Some(runner) => runner.next().await,
        None => std::future::pending().await,
    }
}

/// A failing run is reported and notify mode goes on, unless it reached
/// `--max-failures`.
fn judge_report(report: Report) -> Option<Exit> {
    match report {
        Report::Finished { code: 0, .. } => {
            crate::metrics::delivered("command", crate::metrics::Outcome::Ok);
            None
        }
        Report::Finished {
            job,
            code,
            attempts,
        } => {
            crate::metrics::delivered("command", crate::metrics::Outcome::Failed);
            crate::log::warning(
                "command",
                format_args!(
                    "the command failed for {} with exit code {code} after {attempts} attempt(s)",
                    job.name()
                ),
            );
            None
        }
        Report::Fatal { job, code } => Some(Exit::Command {
            code,
            message: Some(format!(
                "the command failed too many times in a row (--max-failures), last for {}; \
                 last exit code {code}",
                job.name()
            )),
        }),
    }
}

fn timed_out(settings: &Settings, notified: u64) -> Exit {
    Exit::Timeout(format!(
        "{} ({notified} notification{})",
        settings.ended(),
        if notified == 1 { "" } else { "s" }
    ))
}
