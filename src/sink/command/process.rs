//! One run of the command: its own process group, the object on stdin and in
//! a private temp file, bounded by `exec_timeout`, stopped TERM → KILL.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{CommandSpec, Policy};
use crate::os::{SIGKILL, SIGTERM, exit_code, signal_group};

/// How a run ended.
pub(super) enum Ended {
    /// The command exited by itself (or could not be started), with this code.
    Exited(i32),
    /// `exec_timeout` expired and the command was stopped.
    TimedOut,
    /// A stop was requested (restart or shutdown); the command ended with this code.
    Stopped(i32),
}

/// Requests to stop the current run, each a signal to send to its group.
/// Pending forever once the sender is gone.
pub(super) struct Stops(mpsc::UnboundedReceiver<i32>);

pub(super) fn stops() -> (mpsc::UnboundedSender<i32>, Stops) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, Stops(rx))
}

impl Stops {
    /// Cancel-safe, like the channel it wraps.
    pub(super) async fn recv(&mut self) -> i32 {
        match self.0.recv().await {
            Some(signo) => signo,
            None => std::future::pending().await,
        }
    }

    fn try_recv(&mut self) -> Option<i32> {
        self.0.try_recv().ok()
    }
}

pub(super) async fn run(
    spec: &CommandSpec,
    policy: &Policy,
    env: &[(String, String)],
    json: &Arc<[u8]>,
    stops: &mut Stops,
) -> Ended {
    let object_file = match write_object_file(json.clone()).await {
        Ok(file) => file,
        Err(err) => {
            let why = format!("cannot write the object file: {err}");
            return not_started(spec, env, 126, &why);
        }
    };
    // Asked to stop while the file was written: don't start what would be
    // stopped at once.
    if let Some(signo) = stops.try_recv() {
        return Ended::Stopped(128 + signo);
    }
    let mut child = match Command::new(&spec.program)
        .args(&spec.args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("KUBECTL_NOTIFY_OBJECT_FILE", object_file.path())
        .stdin(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
    {
        Ok(child) => child,
        Err(err) => {
            let code = if err.kind() == io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            return not_started(spec, env, code, &err.to_string());
        }
    };
    // Declared after `child` so that it is dropped first: the group is killed
    // whether the run ends, times out, or this future is dropped mid-run.
    let group = Group(child.id().expect("a child that was just spawned has a pid") as i32);
    // From its own task, so that a command that never reads stdin cannot
    // block us; EPIPE is expected then. Dropping the task closes the pipe.
    let _feeder = child.stdin.take().map(|mut stdin| {
        let json = json.clone();
        AbortOnDrop(tokio::spawn(async move {
            let _ = stdin.write_all(&json).await;
        }))
    });

    let timeout = sleep_opt(policy.exec_timeout);
    tokio::select! {
        status = child.wait() => Ended::Exited(status.map_or(1, exit_code)),
        () = timeout => {
            // A stop requested meanwhile (shutdown) wins: no retry after it.
            match stop(&mut child, group.0, SIGTERM, policy.stop_timeout, stops).await {
                (status, Some(signo)) => Ended::Stopped(status.map_or(128 + signo, exit_code)),
                (_, None) => Ended::TimedOut,
            }
        }
        signo = stops.recv() => {
            let (status, _) = stop(&mut child, group.0, signo, policy.stop_timeout, stops).await;
            Ended::Stopped(status.map_or(128 + signo, exit_code))
        }
    }
    // `object_file` is removed here, after the command has ended.
}

/// Signal the group, forward stop requests that arrive meanwhile (the
/// first is returned), and SIGKILL the group if the command outlives `grace`.
async fn stop(
    child: &mut Child,
    group: i32,
    signo: i32,
    grace: Duration,
    stops: &mut Stops,
) -> (io::Result<std::process::ExitStatus>, Option<i32>) {
    signal_group(group, signo);
    let deadline = tokio::time::sleep(grace);
    tokio::pin!(deadline);
    let mut requested = None;
    loop {
        tokio::select! {
            status = child.wait() => return (status, requested),
            () = &mut deadline => {
                signal_group(group, SIGKILL);
                return (child.wait().await, requested);
            }
            signo = stops.recv() => {
                signal_group(group, signo);
                requested.get_or_insert(signo);
            }
        }
    }
}

/// Said with the rule's name first under `--rules` (the job carries it as
/// `KUBECTL_NOTIFY_RULE`), as the rule's other lines are.
fn not_started(spec: &CommandSpec, env: &[(String, String)], code: i32, why: &str) -> Ended {
    let rule = env.iter().find(|(name, _)| name == "KUBECTL_NOTIFY_RULE");
    crate::term::stderr_line!(
        "error: {}cannot run '{}': {why}",
        rule.map(|(_, rule)| format!("{rule}  "))
            .unwrap_or_default(),
        spec.program
    );
    Ended::Exited(code)
}

/// The object's JSON in a file created 0600, removed when dropped.
/// Written off the runtime's thread: the object may be large and /tmp slow.
async fn write_object_file(json: Arc<[u8]>) -> io::Result<tempfile::NamedTempFile> {
    tokio::task::spawn_blocking(move || {
        let mut file = tempfile::Builder::new()
            .prefix("kubectl-notify-")
            .suffix(".json")
            .tempfile()?;
        file.write_all(&json)?;
        file.flush()?;
        Ok(file)
    })
    .await
    .unwrap_or_else(|err| Err(io::Error::other(err)))
}

async fn sleep_opt(limit: Option<Duration>) {
    match limit {
        Some(limit) => tokio::time::sleep(limit).await,
        None => std::future::pending().await,
    }
}

/// The command's process group, SIGKILLed on drop so that nothing it started
/// outlives the run: after the leader has exited this removes leftovers (a
/// command that wants a daemon must detach it with setsid); on cancellation
/// it kills everything. The leader is reaped just before, so the group id
/// cannot have been reused in between unless the group was already empty and
/// the pid space wrapped around in those microseconds.
struct Group(i32);

impl Drop for Group {
    fn drop(&mut self) {
        signal_group(self.0, SIGKILL);
    }
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
