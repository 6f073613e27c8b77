//! Wait mode: judge every change until the condition holds (exit 0, or run
//! the command once and exit with its code), fails (1) or times out (124).

use std::io::IsTerminal;
use std::time::{Duration, SystemTime};

use super::{Session, Settings, Step};
use crate::decide::{Decision, Rules, Tally, decide, pending};
use crate::exit::{Exit, Result};
use crate::sink::command::{CommandSpec, Job, Policy, run_once};
use crate::sink::status::{self, StatusLine};
use crate::sink::{Notification, Sink, deliver_all};

pub async fn run(
    mut session: Session,
    mut settings: Settings,
    rules: Rules<'_>,
    command: Option<(CommandSpec, Policy)>,
) -> Result<()> {
    let started = std::time::Instant::now();
    let mut status = StatusLine::new(!settings.quiet && std::io::stderr().is_terminal());
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    let mut tally = Tally::new(session.targets.len());
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
            Step::Changes(index, changes) => {
                let target = &session.targets[index];
                tally.update(&rules, target, &session.tracker, index, &changes)?;
            }
            Step::TimedOut => return Err(timed_out(&session, &settings, &rules)),
            Step::Interrupted(signo) => return Err(Exit::Signal(signo)),
        }
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
    Exit::Timeout(format!(
        "{} waiting for {}: {}",
        settings.ended(),
        rules.condition.describe(),
        pending(rules, &session.targets, &session.tracker).join(", ")
    ))
}
