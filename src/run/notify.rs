//! Notify mode: every admitted change is printed and handed to the command,
//! until `--count` notifications, `--timeout`, a signal, or `--max-failures`.

use std::time::SystemTime;

use super::{Session, Settings, Step};
use crate::command::{CommandSpec, Job, Policy, Report, Runner, Submitted};
use crate::exit::{Exit, Result};
use crate::notify::Filter;
use crate::output::print_line;

pub async fn run(
    mut session: Session,
    settings: Settings,
    mut filter: Filter,
    count: Option<u64>,
    command: Option<(CommandSpec, Policy)>,
) -> Result<()> {
    let mut runner = command.map(|(spec, policy)| Runner::new(spec, policy));
    let mut notified: u64 = 0;
    let outcome = loop {
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
            Step::TimedOut => break Err(Exit::Timeout(timed_out(&settings, notified))),
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
            if !settings.quiet {
                print_line(
                    &settings
                        .printer
                        .notification(SystemTime::now(), &change, target),
                );
            }
            if let Some(runner) = &mut runner {
                let job = Job::new(change.kind.as_str(), &target.api.qualified(), change.object);
                if runner.submit(job) == Submitted::Skipped && session.verbosity > 0 {
                    eprintln!(
                        "{}: the command is busy, skipped (--on-busy skip)",
                        target.display()
                    );
                }
            }
            if count.is_some_and(|n| notified >= n) {
                break;
            }
        }
        if count.is_some_and(|n| notified >= n) {
            break Ok(());
        }
        if settings.check_once() && session.all_synced() {
            break Err(Exit::Timeout(timed_out(&settings, notified)));
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
            let name = job
                .env
                .iter()
                .find(|(k, _)| k == "KUBECTL_NOTIFY_NAME")
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            eprintln!(
                "warning: the command failed for {name} with exit code {code} after {attempts} attempt(s)"
            );
            None
        }
        Report::Fatal { code, .. } => Some(Exit::Command {
            code,
            message: Some(format!(
                "the command failed too many times in a row (--max-failures); last exit code {code}"
            )),
        }),
    }
}

fn timed_out(settings: &Settings, notified: u64) -> String {
    let when = if settings.check_once() {
        "checked once".to_string()
    } else {
        format!("timed out after {}", settings.waited())
    };
    format!(
        "{when} ({notified} notification{})",
        if notified == 1 { "" } else { "s" }
    )
}
