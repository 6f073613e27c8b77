//! The `-- COMMAND` action (SPEC §5): run the user's program with the object
//! on stdin and in the environment, one run at a time, in its own process group.
//!
//! - [`check_command`] before watching starts (exit 2 on error);
//! - [`run_once`] in wait mode: run once, return the code to exit with;
//! - [`Runner`] in notify mode: submit every notification, poll
//!   [`Runner::next`] in the `select!` loop, [`Runner::shutdown`] on a signal.
//!
//! Exit codes, shell-style: a signal-killed run is `128 + signo`, a run stopped
//! by `exec_timeout` is [`TIMED_OUT`] (124, like timeout(1)), a program that
//! cannot be found is 127 and one that cannot be started 126.

mod check;
mod job;
mod process;
mod runner;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use check::check_command;
pub use job::run_once;
pub use runner::{Report, Runner};

/// The code a run killed by `exec_timeout` counts as, for retries,
/// `max_failures` and wait mode's exit code.
pub const TIMED_OUT: i32 = 124;

/// The backoff between retries doubles from `Policy::retry_base` up to this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What to run: the words after `--`, executed directly (no shell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    pub program: String,
    pub args: Vec<String>,
}

/// What to do with a notification that arrives while a command is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnBusy {
    /// Run it afterwards, in arrival order; a queued notification for the
    /// same object is replaced by the newer one.
    #[default]
    Queue,
    /// Drop it.
    Skip,
    /// Stop the running command (SIGTERM, SIGKILL after `stop_timeout`) and
    /// run this one instead.
    Restart,
}

/// How runs are bounded, retried and stopped (`--on-busy`, `--stop-timeout`,
/// `--exec-timeout`, `--retries`, `--max-failures`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub on_busy: OnBusy,
    /// Grace between the first signal to a group and SIGKILL.
    pub stop_timeout: Duration,
    /// Bound on one run; a run that exceeds it is stopped and fails with
    /// [`TIMED_OUT`].
    pub exec_timeout: Option<Duration>,
    /// Extra attempts for a failed run (non-zero exit or timed out).
    pub retries: u32,
    /// The wait before the first retry; it doubles for each further retry,
    /// up to [`MAX_BACKOFF`].
    pub retry_base: Duration,
    /// Consecutive failed notifications (after their retries) that end
    /// notify mode with [`Report::Fatal`].
    pub max_failures: Option<u32>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            on_busy: OnBusy::Queue,
            stop_timeout: Duration::from_secs(10),
            exec_timeout: None,
            retries: 0,
            retry_base: Duration::from_millis(250),
            max_failures: None,
        }
    }
}

/// One notification for the command: the object and the environment it
/// runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The object's identity (its UID): queued jobs with the same key coalesce.
    pub key: String,
    /// Written to stdin and to `KUBECTL_NOTIFY_OBJECT_FILE`; for a deletion,
    /// the last known state.
    pub object: serde_json::Value,
    /// `KUBECTL_NOTIFY_*` variables; `KUBECTL_NOTIFY_OBJECT_FILE` is added
    /// per run.
    pub env: Vec<(String, String)>,
}

impl Job {
    /// The job for one notification. `event` is created, modified, deleted
    /// or initial; `resource` is `plural.group` (`plural` for the core group).
    /// Every variable is set, empty when the object lacks the field, so that
    /// scripts may use `set -u`.
    pub fn new(event: &str, resource: &str, object: serde_json::Value) -> Job {
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
        let meta = &object["metadata"];
        let (namespace, name, uid) = (
            text(&meta["namespace"]),
            text(&meta["name"]),
            text(&meta["uid"]),
        );
        let env = vec![
            ("KUBECTL_NOTIFY_EVENT", event.to_string()),
            ("KUBECTL_NOTIFY_KIND", text(&object["kind"])),
            ("KUBECTL_NOTIFY_API_VERSION", text(&object["apiVersion"])),
            ("KUBECTL_NOTIFY_RESOURCE", resource.to_string()),
            ("KUBECTL_NOTIFY_NAMESPACE", namespace.clone()),
            ("KUBECTL_NOTIFY_NAME", name.clone()),
            ("KUBECTL_NOTIFY_UID", uid.clone()),
            (
                "KUBECTL_NOTIFY_RESOURCE_VERSION",
                text(&meta["resourceVersion"]),
            ),
        ];
        // Every stored object has a UID; the fallback only keeps objects
        // from a misbehaving server apart.
        let key = if uid.is_empty() {
            format!("{resource}/{namespace}/{name}")
        } else {
            uid
        };
        Job {
            key,
            object,
            env: env.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        }
    }

    /// The object's name, for messages.
    pub fn name(&self) -> &str {
        self.env
            .iter()
            .find(|(k, _)| k == "KUBECTL_NOTIFY_NAME")
            .map_or("", |(_, v)| v.as_str())
    }
}
