//! One notification carried out: the command run, and run again after a
//! failure up to `retries` times with exponential backoff; and wait mode's
//! single run on top of it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::process::{self, Ended, Stops};
use super::{CommandSpec, Job, MAX_BACKOFF, Policy, TIMED_OUT};

/// How a job ended.
pub(super) struct Done {
    /// The last attempt's code (0 on success, [`TIMED_OUT`] for a timeout).
    pub code: i32,
    /// Runs of the command, 1 + retries used.
    pub attempts: u32,
    /// Ended by a stop request rather than by itself.
    pub stopped: bool,
}

pub(super) async fn run_job(
    spec: &CommandSpec,
    policy: &Policy,
    job: &Job,
    stops: &mut Stops,
) -> Done {
    let mut json = serde_json::to_vec(&job.object).expect("a JSON value always serializes");
    json.push(b'\n');
    let json: Arc<[u8]> = json.into();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let code = match process::run(spec, policy, &job.env, &json, stops).await {
            Ended::Exited(code) => code,
            Ended::TimedOut => TIMED_OUT,
            Ended::Stopped(code) => {
                return Done {
                    code,
                    attempts,
                    stopped: true,
                };
            }
        };
        if code == 0 || attempts > policy.retries {
            return Done {
                code,
                attempts,
                stopped: false,
            };
        }
        tokio::select! {
            () = tokio::time::sleep(backoff(policy.retry_base, attempts)) => {}
            signo = stops.recv() => {
                return Done { code: 128 + signo, attempts, stopped: true };
            }
        }
    }
}

/// The wait after the `failed`-th failed attempt: base, 2·base, 4·base, …,
/// at most [`MAX_BACKOFF`].
pub(super) fn backoff(base: Duration, failed: u32) -> Duration {
    crate::sink::doubling(base, failed, MAX_BACKOFF)
}

/// Wait mode: run the command once for `job` (with `exec_timeout` and
/// `retries`) and return the code kubectl-notify exits with: the command's,
/// `128 + signo` if it was killed by a signal, [`TIMED_OUT`] if it timed out.
/// When `interrupt` resolves to a signal number, that signal is forwarded to
/// the command's group, the command is waited for (SIGKILL after
/// `stop_timeout`), and `128 + signo` is returned.
pub async fn run_once(
    spec: &CommandSpec,
    policy: &Policy,
    job: Job,
    interrupt: impl Future<Output = i32>,
) -> i32 {
    let (stop, mut stops) = process::stops();
    let run = run_job(spec, policy, &job, &mut stops);
    tokio::pin!(run);
    tokio::select! {
        done = &mut run => done.code,
        signo = interrupt => {
            let _ = stop.send(signo);
            run.await;
            128 + signo
        }
    }
}
