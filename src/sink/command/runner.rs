//! Notify mode: one run at a time, and the `--on-busy` policy for
//! notifications that arrive meanwhile; failures counted for `--max-failures`.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::job::{Done, run_job};
use super::process;
use super::{CommandSpec, Job, OnBusy, Policy};
use crate::exit::Result;
use crate::sink::{Notification, Sink};

/// What [`Runner::submit`] did with a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// Nothing was running: it runs now.
    Started,
    /// Queued behind the running job (and any queued before it).
    Queued,
    /// Replaced a queued job for the same object, keeping that job's place.
    Coalesced,
    /// Dropped: a job is running and the policy is `skip`.
    Skipped,
    /// The running job is being stopped; this one runs when it has ended.
    Restarted,
}

/// What [`Runner::next`] reports.
#[derive(Debug)]
pub enum Report {
    /// A job ended by itself: `code` is its last attempt's (0 = success,
    /// 124 = timed out, 128 + signo = killed by a signal).
    Finished { job: Job, code: i32, attempts: u32 },
    /// This job failed and made `max_failures` consecutive failures: the
    /// program exits with `code`. The queue has been dropped.
    Fatal { job: Job, code: i32 },
}

/// Runs the command for notify mode. Must be used inside the tokio runtime:
/// each job runs in a task of its own, so runs progress while the caller
/// is busy elsewhere; the next queued job is started from [`Runner::next`].
pub struct Runner {
    spec: Arc<CommandSpec>,
    policy: Arc<Policy>,
    current: Option<Current>,
    /// Jobs waiting for the current one, at most one per key.
    queue: VecDeque<Job>,
    /// Consecutive failed jobs; a success resets it, a job stopped for
    /// `restart` leaves it alone.
    failures: u32,
    /// Say on stderr when a notification is dropped by `--on-busy skip` (-v).
    log_skips: bool,
}

/// The job in progress (running, between retries, or being stopped).
struct Current {
    stop: mpsc::UnboundedSender<i32>,
    stopping: bool,
    task: JoinHandle<(Job, Done)>,
}

/// Notify mode: every notification becomes a job for the command.
impl Sink for Runner {
    fn deliver(&mut self, n: &Notification) -> Result<()> {
        let mut job = Job::new(n.event(), &n.target.api.qualified(), n.object.clone());
        if let Some(rule) = n.rule {
            job.env
                .push(("KUBECTL_NOTIFY_RULE".to_string(), rule.to_string()));
        }
        if self.submit(job) == Submitted::Skipped && self.log_skips {
            crate::term::erase();
            crate::term::stderr_line!(
                "{}{}: the command is busy, skipped (--on-busy skip)",
                n.rule.map(|rule| format!("{rule}  ")).unwrap_or_default(),
                n.target.display()
            );
        }
        Ok(())
    }
}

/// A dropped runner (say, on an early return) kills its command's group
/// rather than leave it running.
impl Drop for Current {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Runner {
    pub fn new(spec: CommandSpec, policy: Policy) -> Runner {
        Runner {
            spec: Arc::new(spec),
            policy: Arc::new(policy),
            current: None,
            queue: VecDeque::new(),
            failures: 0,
            log_skips: false,
        }
    }

    /// Whether to say on stderr when a notification is skipped (-v).
    pub fn log_skips(mut self, on: bool) -> Runner {
        self.log_skips = on;
        self
    }

    /// Start `job` now, or apply the busy policy. Never blocks.
    pub fn submit(&mut self, job: Job) -> Submitted {
        let Some(current) = &mut self.current else {
            self.start(job);
            return Submitted::Started;
        };
        match self.policy.on_busy {
            OnBusy::Skip => Submitted::Skipped,
            OnBusy::Queue => match self.queue.iter_mut().find(|queued| queued.key == job.key) {
                Some(queued) => {
                    *queued = job;
                    Submitted::Coalesced
                }
                None => {
                    self.queue.push_back(job);
                    Submitted::Queued
                }
            },
            OnBusy::Restart => {
                // Only the newest notification is worth running next.
                self.queue.clear();
                self.queue.push_back(job);
                if !current.stopping {
                    current.stopping = true;
                    let _ = current.stop.send(crate::os::SIGTERM);
                }
                Submitted::Restarted
            }
        }
    }

    /// The next job to end by itself (a job stopped for `restart` is not
    /// reported), then the next queued job is started. Pending forever when
    /// idle. Cancel-safe: made to be polled in `select!`.
    pub async fn next(&mut self) -> Report {
        loop {
            let Some(current) = &mut self.current else {
                return std::future::pending().await;
            };
            let (job, done) = match (&mut current.task).await {
                Ok(ended) => ended,
                Err(err) => std::panic::resume_unwind(err.into_panic()),
            };
            self.current = None;
            if done.stopped {
                self.start_queued();
                continue;
            }
            if done.code == 0 {
                self.failures = 0;
            } else {
                self.failures += 1;
                if self
                    .policy
                    .max_failures
                    .is_some_and(|max| self.failures >= max)
                {
                    self.queue.clear();
                    return Report::Fatal {
                        job,
                        code: done.code,
                    };
                }
            }
            self.start_queued();
            return Report::Finished {
                job,
                code: done.code,
                attempts: done.attempts,
            };
        }
    }

    /// Nothing running and nothing queued.
    pub fn is_idle(&self) -> bool {
        self.current.is_none() && self.queue.is_empty()
    }

    /// Drop the queue and stop the running command: `signal` (SIGTERM if
    /// none) to its group, SIGKILL after `stop_timeout`; returns once it has
    /// ended.
    pub async fn shutdown(mut self, signal: Option<i32>) {
        self.queue.clear();
        if let Some(current) = &mut self.current {
            let _ = current.stop.send(signal.unwrap_or(crate::os::SIGTERM));
            let _ = (&mut current.task).await;
        }
    }

    fn start_queued(&mut self) {
        if let Some(job) = self.queue.pop_front() {
            self.start(job);
        }
    }

    fn start(&mut self, job: Job) {
        let (stop, mut stops) = process::stops();
        let (spec, policy) = (self.spec.clone(), self.policy.clone());
        let task = tokio::spawn(async move {
            let done = run_job(&spec, &policy, &job, &mut stops).await;
            (job, done)
        });
        self.current = Some(Current {
            stop,
            stopping: false,
            task,
        });
    }
}
