//! Wait mode: judge every change until the condition holds (exit 0, or run
//! the command once and exit with its code), fails (1) or times out (124).

use super::{Session, Settings, Step};
use crate::command::{CommandSpec, Job, Policy, run_once};
use crate::decide::{Decision, decide, pending};
use crate::exit::{Exit, Result};
use crate::output::print_line;

pub use crate::decide::Rules;

pub async fn run(
    mut session: Session,
    settings: Settings,
    rules: Rules<'_>,
    command: Option<(CommandSpec, Policy)>,
) -> Result<()> {
    loop {
        match session.next().await? {
            Step::Changes(..) => {}
            Step::TimedOut => return Err(timed_out(&session, &settings, &rules)),
            Step::Interrupted(signo) => return Err(Exit::Signal(signo)),
        }
        match decide(&rules, &session.targets, &session.tracker) {
            Decision::Met(met) => {
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
            Decision::Pending => {}
        }
        if settings.check_once() && session.all_synced() {
            return Err(timed_out(&session, &settings, &rules));
        }
    }
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
