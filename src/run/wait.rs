//! Wait mode: judge every change until the condition holds (exit 0, or run
//! the command once and exit with its code), fails (1) or times out (124).

use std::io::IsTerminal;
use std::time::Duration;

use super::{Session, Settings, Step};
use crate::command::{CommandSpec, Job, Policy, run_once};
use crate::decide::{Decision, decide, pending};
use crate::exit::{Exit, Result};
use crate::output::print_line;
use crate::status::{self, StatusLine};

pub use crate::decide::Rules;

pub async fn run(
    mut session: Session,
    settings: Settings,
    rules: Rules<'_>,
    command: Option<(CommandSpec, Policy)>,
) -> Result<()> {
    let started = std::time::Instant::now();
    let mut status = StatusLine::new(!settings.quiet && std::io::stderr().is_terminal());
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        let step = tokio::select! {
            step = session.next() => step?,
            _ = ticks.tick(), if status.is_some() => {
                if let Some(line) = &mut status {
                    line.update(status_text(&session, &rules, started), true);
                }
                continue;
            }
        };
        match step {
            Step::Changes(..) => {}
            Step::TimedOut => return Err(timed_out(&session, &settings, &rules)),
            Step::Interrupted(signo) => return Err(Exit::Signal(signo)),
        }
        match decide(&rules, &session.targets, &session.tracker) {
            Decision::Met(met) => {
                drop(status.take());
                if !settings.quiet {
                    for m in &met {
                        print_line(&settings.printer.met(&m.name, m.object.as_ref()));
                    }
                }
                let Some((spec, policy)) = command else {
                    return Ok(());
                };
                // The command gets the first object that met the condition.
                let first = &met[0];
                let target = &session.targets[first.target];
                let object = first.object.clone().unwrap_or_default();
                let event = if first.object.is_some() {
                    "modified"
                } else {
                    "deleted"
                };
                let job = Job::new(event, &target.api.qualified(), object);
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
            Decision::Failed(line) => return Err(Exit::Failed(line)),
            Decision::Pending => {
                if let Some(line) = &mut status {
                    line.update(status_text(&session, &rules, started), false);
                }
            }
        }
        if settings.check_once() && session.all_synced() {
            return Err(timed_out(&session, &settings, &rules));
        }
    }
}

fn status_text(session: &Session, rules: &Rules, started: std::time::Instant) -> String {
    status::text(
        rules.condition,
        &session.targets,
        &session.tracker,
        started.elapsed(),
    )
}

fn timed_out(session: &Session, settings: &Settings, rules: &Rules) -> Exit {
    let when = if settings.check_once() {
        "checked once".to_string()
    } else {
        format!("timed out after {}", settings.waited())
    };
    Exit::Timeout(format!(
        "{when} waiting for {}: {}",
        rules.condition.describe(),
        pending(rules, &session.targets, &session.tracker).join(", ")
    ))
}
