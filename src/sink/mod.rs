//! Where notifications go: the printer (stdout), the status line (stderr)
//! and the command. Each takes a [`Notification`] through the one [`Sink`]
//! interface; none of them knows how the change was watched.

pub mod address;
pub mod alert;
mod alertmanager;
mod chat;
mod cloudevents;
pub mod command;
mod delivery;
mod http;
mod kafka;
mod nats;
pub mod network;
mod pagerduty;
pub mod printer;
pub mod status;
mod webhook;

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::decide::Met;
use crate::exit::Result;
use crate::target::Target;
use crate::tracker::{Change, ChangeKind, Previous};

/// What a notification tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occasion {
    /// Notify mode: a change to an object.
    Changed(ChangeKind),
    /// Wait mode: this object met the condition; `absent`: by being gone
    /// (`--for delete`).
    Met { absent: bool },
}

/// One thing to tell about one object.
pub struct Notification<'a> {
    pub occasion: Occasion,
    pub time: SystemTime,
    pub target: &'a Target,
    /// The version concerned; for a deletion or an absence, the last known
    /// state (or, for an object never seen, its identity).
    pub object: &'a Value,
    /// The version before a modification, when it was kept.
    pub previous: Option<&'a Previous>,
    /// The rule it comes from, in a process of named rules (`--rules`).
    pub rule: Option<&'a str>,
}

impl<'a> Notification<'a> {
    pub fn change(time: SystemTime, target: &'a Target, change: &'a Change) -> Self {
        Notification {
            occasion: Occasion::Changed(change.kind),
            time,
            target,
            object: &change.object,
            previous: change.previous.as_ref(),
            rule: None,
        }
    }

    /// The same, told as coming from a named rule.
    pub fn of_rule(self, rule: Option<&'a str>) -> Self {
        Notification { rule, ..self }
    }

    pub fn met(time: SystemTime, target: &'a Target, met: &'a Met<'_>) -> Self {
        Notification {
            occasion: Occasion::Met { absent: met.absent },
            time,
            target,
            object: &met.object,
            previous: None,
            rule: None,
        }
    }

    /// The word users see and commands get in `KUBECTL_NOTIFY_EVENT`; a met
    /// object counts as modified, an absence that met `--for delete` as deleted.
    pub fn event(&self) -> &'static str {
        match self.occasion {
            Occasion::Changed(kind) => kind.as_str(),
            Occasion::Met { absent: true } => "deleted",
            Occasion::Met { absent: false } => "modified",
        }
    }

    /// What tells this object apart from every other, across re-creation:
    /// its UID (or, for an object never seen, its resource and name).
    pub fn object_key(&self) -> String {
        match self.object["metadata"]["uid"].as_str() {
            Some(uid) if !uid.is_empty() => uid.to_string(),
            _ => format!(
                "{}/{}",
                self.target.api.qualified(),
                crate::tracker::key(self.object)
            ),
        }
    }

    /// Whether this is a modification with the version before it kept, so
    /// that it shows what changed.
    pub fn shows_changes(&self) -> bool {
        matches!(self.occasion, Occasion::Changed(kind) if kind.shows_diff())
            && self.previous.is_some()
    }

    /// `<uid>/<resourceVersion>/<type>`: unique per change, the same on
    /// every re-send (CloudEvents `ce-id`, NATS `Nats-Msg-Id`). A deletion
    /// is `<uid>/deleted`: a UID is deleted once, and a re-list that finds
    /// it knows only the last version, not the deletion's; likewise a
    /// resolution by deletion is `<uid>/resolved`. An object never seen has
    /// no UID: [`Notification::object_key`] names it instead.
    pub fn delivery_id(&self) -> String {
        let key = self.object_key();
        if self.occasion == Occasion::Changed(ChangeKind::Resolved { gone: true }) {
            return format!("{key}/resolved");
        }
        match self.event() {
            "deleted" => format!("{key}/deleted"),
            event => format!(
                "{key}/{}/{event}",
                self.object["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or("")
            ),
        }
    }
}

/// Something that is told of every notification. Handing one over must not
/// wait on the sink's work: a slow sink never stalls the watch. An error
/// ends the run (stdout closed by its reader, for one).
pub trait Sink {
    fn deliver(&mut self, notification: &Notification<'_>) -> Result<()>;
}

/// Exponential backoff shared by the command's retries and the network
/// sinks': `first`, 2·`first`, 4·`first`, … for the `n`-th retry (1-based),
/// at most `max`.
pub fn doubling(first: Duration, n: u32, max: Duration) -> Duration {
    let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
    first.saturating_mul(factor).min(max)
}

/// Tells every sink, in order; the first error ends the run.
pub fn deliver_all(sinks: &mut [&mut dyn Sink], notification: &Notification<'_>) -> Result<()> {
    sinks
        .iter_mut()
        .try_for_each(|sink| sink.deliver(notification))
}
