//! Notify mode: every admitted change is printed and handed to the command,
//! until `--count` notifications, `--timeout`, a signal, or `--max-failures`.

use std::time::SystemTime;

use super::{Session, Settings, Step};
use crate::decide::filter::Filter;
use crate::exit::{Exit, Result};
use crate::sink::command::{CommandSpec, Policy, Report, Runner};
use crate::sink::{Notification, Sink, deliver_all};

pub async fn run(
    mut session: Session,
    mut settings: Settings,
    mut filter: Filter,
    count: Option<u64>,
    command: Option<(CommandSpec, Policy)>,
) -> Result<()> {
    let mut runner =
        command.map(|(spec, policy)| Runner::new(spec, policy).log_skips(session.verbosity > 0));
    let mut notified: u64 = 0;
    let outcome = 'run: loop {
        let step = tokio::select! {
            step = session.next() => step?,
            report = next_report(&mut runner) => {
                if let Some(exit) = judge_report(report) {
                    break Err(exit);
                }
                continue;
            }
        };
        let (index, changes) = match step {
            Step::Changes(index, changes) => (index, changes),
            Step::TimedOut => break Err(timed_out(&settings, notified)),
            Step::Interrupted(signo) => {
                if let Some(runner) = runner.take() {
                    runner.shutdown(Some(signo)).await;
                }
                return Err(Exit::Signal(signo));
            }
        };
        let target = &session.targets[index];
        for change in changes {
            if !filter.admit(&change) {
                continue;
            }
            notified += 1;
            let mut sinks: Vec<&mut dyn Sink> = Vec::new();
            if !settings.quiet {
                sinks.push(&mut settings.printer);
            }
            if let Some(runner) = &mut runner {
                sinks.push(runner);
            }
            sinks.push(&mut settings.outbox);
            let notification = Notification::change(SystemTime::now(), target, &change);
            if let Err(exit) = deliver_all(&mut sinks, &notification) {
                break 'run Err(exit);
            }
            if count.is_some_and(|n| notified >= n) {
                break;
            }
        }
        if count.is_some_and(|n| notified >= n) {
            break Ok(());
        }
        if settings.check_once() && session.all_synced() {
            break Err(timed_out(&settings, notified));
        }
    };
    finish(&mut session, runner, outcome).await
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
        Report::Finished { code: 0, .. } => None,
        Report::Finished {
            job,
            code,
            attempts,
        } => {
            crate::term::erase();
            eprintln!(
                "warning: the command failed for {} with exit code {code} after {attempts} attempt(s)",
                job.name()
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
