//! Live reload of `--rules FILE`: on SIGHUP, or when the file changes. The
//! file is looked at once a second through its symlinks, so a ConfigMap
//! volume's swap of its `..data` link counts as a change, not only writes.

use std::time::Duration;

use crate::exit::Result;
use crate::os::{Hangups, file_version};
use crate::plan::{Rule, Source};

const LOOK_EVERY: Duration = Duration::from_secs(1);
/// Looks after which a file still gone is a failed reload (said once): a
/// ConfigMap volume's swap leaves it gone for a moment only.
const GONE_FOR: u32 = 3;

pub(crate) struct Reload {
    source: Source,
    seen: Option<(u64, u64, u64, i64, i64)>,
    hangups: Option<Hangups>,
    ticks: tokio::time::Interval,
    /// Looks in a row that found the file gone.
    gone: u32,
}

impl Reload {
    /// Watching the file as it is now (already read); `hangups`, SIGHUP
    /// caught since the process started.
    pub fn new(source: Source, hangups: Option<Hangups>) -> Reload {
        let mut ticks = tokio::time::interval(LOOK_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Reload {
            seen: file_version(&source.path),
            source,
            hangups,
            ticks,
            gone: 0,
        }
    }

    /// The file's rules, read again on SIGHUP or once it changed. Cancel-safe.
    /// Rules read from stdin (`--rules -`) are never read again: a SIGHUP
    /// has nothing to re-read (said once at start), and is let pass.
    pub async fn next(&mut self) -> Result<Vec<Rule>> {
        let stdin = crate::plan::from_stdin(&self.source.path);
        loop {
            tokio::select! {
                _ = hangup(&mut self.hangups) => {
                    if stdin {
                        continue;
                    }
                    self.seen = file_version(&self.source.path);
                    break;
                }
                _ = self.ticks.tick(), if !stdin => {
                    let now = file_version(&self.source.path);
                    // A file gone for a moment (mid-swap) is not a change
                    // yet; one gone for longer is read (and fails) once.
                    if now.is_none() {
                        self.gone += 1;
                        if self.gone == GONE_FOR {
                            break;
                        }
                        continue;
                    }
                    self.gone = 0;
                    if now != self.seen {
                        self.seen = now;
                        break;
                    }
                }
            }
        }
        self.source.read()
    }

    pub fn path(&self) -> &std::path::Path {
        &self.source.path
    }
}

async fn hangup(hangups: &mut Option<Hangups>) {
    match hangups {
        Some(hangups) => hangups.recv().await,
        None => std::future::pending().await,
    }
}
