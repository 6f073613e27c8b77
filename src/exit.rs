//! How the program ends: one error type at the top boundary, and the exit code
//! for each outcome decided here and nowhere else (SPEC §7).

use std::fmt;

/// A reason to stop, with the exit code SPEC §7 gives it.
#[derive(Debug)]
pub enum Exit {
    /// `--fail-if` held, or the object reported failure (`--for ready`).
    /// The message is the result line `<kind>.<group>/<name> failed: <why>`.
    Failed(String),
    /// Bad usage or input: flags, expression, unknown or ambiguous type,
    /// kubeconfig or context not found.
    Usage(String),
    /// The cluster refused us or could not be reached at start.
    Refused(String),
    /// `--timeout` expired before the condition held.
    Timeout(String),
    /// The command decided: wait mode's single run, or the run that reached
    /// `--max-failures`. Its exit code becomes ours.
    Command { code: i32, message: Option<String> },
    /// Interrupted by a signal (SIGINT → 130, SIGTERM → 143).
    Signal(i32),
    /// Whoever read our stdout closed it (`| head -1`): stop at once, quietly,
    /// with the code of a process killed by SIGPIPE.
    Closed,
    /// Something in the program itself failed (the runtime, a signal
    /// handler): not the user's fault.
    Internal(String),
}

impl Exit {
    pub fn code(&self) -> u8 {
        match self {
            Exit::Failed(_) => 1,
            Exit::Usage(_) => 2,
            Exit::Refused(_) => 3,
            Exit::Timeout(_) => 124,
            Exit::Command { code, .. } => (*code & 0xff) as u8,
            Exit::Signal(signo) => (128 + signo) as u8,
            Exit::Closed => 141,
            Exit::Internal(_) => 70,
        }
    }

    /// What goes to stderr: `error: ...` for problems, the bare result line
    /// for a failure the user asked to be told about, nothing for a signal.
    pub fn report(&self) -> Option<String> {
        match self {
            // Said already, when it happened (see [`Exit::said`]).
            Exit::Failed(m) | Exit::Usage(m) | Exit::Refused(m) | Exit::Timeout(m)
                if m.is_empty() =>
            {
                None
            }
            Exit::Failed(line) => Some(line.clone()),
            Exit::Usage(m) | Exit::Refused(m) | Exit::Timeout(m) => Some(format!("error: {m}")),
            Exit::Command { message, .. } => message.as_ref().map(|m| format!("error: {m}")),
            Exit::Signal(_) | Exit::Closed => None,
            Exit::Internal(m) => Some(format!(
                "error: internal failure: {m}; this is not a problem with your input, please report it"
            )),
        }
    }
}

impl Exit {
    /// The same end with its message already said: one rule of several
    /// that ended alone was said when it ended; the process, once no rule
    /// is left, ends with its code and says nothing more.
    pub fn said(self) -> Exit {
        match self {
            Exit::Failed(_) => Exit::Failed(String::new()),
            Exit::Usage(_) => Exit::Usage(String::new()),
            Exit::Refused(_) => Exit::Refused(String::new()),
            Exit::Timeout(_) => Exit::Timeout(String::new()),
            Exit::Command { code, .. } => Exit::Command {
                code,
                message: None,
            },
            exit @ (Exit::Signal(_) | Exit::Closed | Exit::Internal(_)) => exit,
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Failed(m)
            | Exit::Usage(m)
            | Exit::Refused(m)
            | Exit::Timeout(m)
            | Exit::Internal(m) => f.write_str(m),
            Exit::Command {
                message: Some(m), ..
            } => f.write_str(m),
            Exit::Command {
                code,
                message: None,
            } => write!(f, "the command exited with {code}"),
            Exit::Signal(_) => write!(f, "interrupted (exit {})", self.code()),
            Exit::Closed => f.write_str("stdout was closed by its reader"),
        }
    }
}

impl std::error::Error for Exit {}

pub type Result<T> = std::result::Result<T, Exit>;
