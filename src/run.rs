//! Wait mode end to end: connect, resolve the targets, watch them, and stop
//! when every target satisfies the condition, on timeout, or on a signal.

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::time::Instant;

use crate::connect::connect;
use crate::decide::{Decision, Rules, decide, pending};
use crate::discovery::discover;
use crate::exit::{Exit, Result};
use crate::plan::Plan;
use crate::resolve::{ApiType, resolve};
use crate::tracker::{Tracker, WatchEvent};
use crate::trouble::{self, Scope, Trouble};
use crate::watch::{Target, watch_all};

pub async fn run(plan: Plan) -> Result<()> {
    let started = Instant::now();
    let deadline = plan.timeout.filter(|t| !t.is_zero()).map(|t| started + t);
    let mut interrupts = Interrupts::new()?;

    let setup = async {
        let conn = connect(&plan.connection, plan.request_timeout).await?;
        if plan.verbosity > 0 {
            eprintln!(
                "connected to {} (namespace {})",
                conn.server, conn.namespace
            );
        }
        let types = with_request_timeout(
            plan.request_timeout,
            &conn.server,
            discover(&conn.client, &conn.server),
        )
        .await?;
        let targets = resolve_targets(&plan, &types, &conn.namespace)?;
        Ok((conn, targets))
    };
    let (conn, targets) = tokio::select! {
        result = setup => result?,
        _ = sleep_until(deadline) => {
            return Err(Exit::Timeout(format!(
                "timed out after {} before the cluster answered",
                humantime::format_duration(plan.timeout.unwrap_or_default())
            )));
        }
        signo = interrupts.recv() => return Err(Exit::Signal(signo)),
    };

    let rules = Rules {
        condition: &plan.condition,
        any: plan.any,
        changes_only: plan.changes_only,
    };
    let mut tracker = Tracker::new(targets.len());
    let mut events = watch_all(&conn.client, &targets);
    loop {
        let (index, item) = tokio::select! {
            item = events.next() => match item {
                Some(item) => item,
                None => return Err(Exit::Refused("every watch ended unexpectedly".into())),
            },
            _ = sleep_until(deadline) => return Err(timed_out(&plan, &rules, &targets, &tracker)),
            signo = interrupts.recv() => return Err(Exit::Signal(signo)),
        };
        match item {
            Ok(event) => {
                if plan.verbosity > 0 {
                    log_event(
                        plan.verbosity,
                        &targets[index],
                        &event,
                        tracker.synced(index),
                    );
                }
                tracker.apply(index, event);
            }
            Err(err) => {
                let target = &targets[index];
                let resource = target.api.qualified();
                let scope = Scope {
                    server: &conn.server,
                    resource: Some(&resource),
                    namespace: target.namespace.as_deref(),
                };
                let synced = tracker.synced(index);
                match trouble::from_watcher(&err, &scope) {
                    Trouble::Rejected(message) if !synced => return Err(Exit::Usage(message)),
                    Trouble::Refused(message) if !synced => return Err(Exit::Refused(message)),
                    Trouble::Rejected(message)
                    | Trouble::Refused(message)
                    | Trouble::Transient(message) => {
                        eprintln!(
                            "warning: watching {}: {message}; retrying",
                            target.display()
                        );
                    }
                }
                continue;
            }
        }
        match decide(&rules, &targets, &tracker) {
            Decision::Met(lines) => {
                if !plan.quiet {
                    let mut out = std::io::stdout().lock();
                    for line in lines {
                        let _ = writeln!(out, "{line} condition met");
                    }
                    let _ = out.flush();
                }
                return Ok(());
            }
            Decision::Failed(line) => return Err(Exit::Failed(line)),
            Decision::Pending => {}
        }
        let all_synced = (0..targets.len()).all(|i| tracker.synced(i));
        if plan.timeout == Some(Duration::ZERO) && all_synced {
            return Err(timed_out(&plan, &rules, &targets, &tracker));
        }
    }
}

fn resolve_targets(plan: &Plan, types: &[ApiType], namespace: &str) -> Result<Vec<Target>> {
    plan.targets
        .iter()
        .map(|spec| {
            let api = resolve(types, &spec.type_text).map_err(|e| Exit::Usage(e.to_string()))?;
            let namespace = (api.namespaced && !plan.all_namespaces).then(|| namespace.to_string());
            Ok(Target {
                namespace,
                api: api.clone(),
                selection: spec.selection.clone(),
            })
        })
        .collect()
}

fn timed_out(plan: &Plan, rules: &Rules, targets: &[Target], tracker: &Tracker) -> Exit {
    let when = if plan.timeout == Some(Duration::ZERO) {
        "checked once".to_string()
    } else {
        format!(
            "timed out after {}",
            humantime::format_duration(plan.timeout.unwrap_or_default())
        )
    };
    Exit::Timeout(format!(
        "{when} waiting for {}: {}",
        plan.condition.describe(),
        pending(rules, targets, tracker).join(", ")
    ))
}

fn log_event(verbosity: u8, target: &Target, event: &WatchEvent, synced: bool) {
    let rv = |o: &Value| {
        o["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    match event {
        WatchEvent::Relisting if synced => {
            eprintln!("{}: re-listing after a watch restart", target.display())
        }
        WatchEvent::Relisting => eprintln!("{}: listing", target.display()),
        WatchEvent::ListDone => eprintln!("{}: list complete, watching", target.display()),
        WatchEvent::Listed(o) | WatchEvent::Applied(o) if verbosity > 1 => {
            eprintln!("{}: resourceVersion {}", target.display(), rv(o))
        }
        WatchEvent::Deleted(o) if verbosity > 1 => {
            eprintln!("{}: deleted at resourceVersion {}", target.display(), rv(o))
        }
        _ => {}
    }
}

async fn with_request_timeout<T>(
    limit: Option<Duration>,
    server: &str,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, fut).await.unwrap_or_else(|_| {
            Err(Exit::Refused(format!(
                "the server at {server} did not answer within {} (--request-timeout)",
                humantime::format_duration(limit)
            )))
        }),
        None => fut.await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

struct Interrupts {
    int: Signal,
    term: Signal,
}

impl Interrupts {
    fn new() -> Result<Interrupts> {
        let install = |kind| {
            signal(kind).map_err(|e| Exit::Usage(format!("cannot install signal handlers: {e}")))
        };
        Ok(Interrupts {
            int: install(SignalKind::interrupt())?,
            term: install(SignalKind::terminate())?,
        })
    }

    /// The number of the first SIGINT or SIGTERM to arrive.
    async fn recv(&mut self) -> i32 {
        tokio::select! {
            _ = self.int.recv() => 2,
            _ = self.term.recv() => 15,
        }
    }
}
