//! The live status line on stderr while waiting on a terminal: every target,
//! the values the condition reads, the time waited. It is erased before any
//! other output and when the program ends, however it ends. In a CI log
//! (stderr not a terminal) the same content comes as progress lines.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Notification, Occasion, Sink};
use crate::condition::{Condition, Verdict};
use crate::exit::Result;
use crate::target::{Selection, Target};
use crate::term::{self, erase};
use crate::tracker::Tracker;

const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// Draws the line while alive and erases it when dropped (every way out of
/// the wait, Ctrl-C included, drops it).
pub struct StatusLine {
    frame: usize,
    last: String,
    /// The wait is over: nothing more is drawn.
    done: bool,
}

impl StatusLine {
    /// `None` unless stderr is a terminal and output is not quieted.
    pub fn new(enabled: bool) -> Option<StatusLine> {
        enabled.then(|| StatusLine {
            frame: 0,
            last: String::new(),
            done: false,
        })
    }

    /// Redraws when the text changed or `tick` (once a second) asks for it.
    pub fn update(&mut self, text: String, tick: bool) {
        if self.done {
            return;
        }
        if tick {
            self.frame = (self.frame + 1) % SPINNER.len();
        }
        if tick || text != self.last {
            term::draw(&format!(
                "{} {}",
                SPINNER[self.frame],
                fit(&text, term::width())
            ));
            self.last = text;
        }
    }
}

/// A met object ends the wait: the line goes before the result is printed.
impl Sink for StatusLine {
    fn deliver(&mut self, n: &Notification) -> Result<()> {
        if matches!(n.occasion, Occasion::Met { .. }) {
            self.done = true;
            erase();
        }
        Ok(())
    }
}

impl Drop for StatusLine {
    fn drop(&mut self) {
        erase();
    }
}

/// `widget.example.com/foo  .status.ready = false  (waiting 12s)`.
pub fn text(
    condition: &Condition,
    targets: &[Target],
    tracker: &Tracker,
    waited: Duration,
) -> String {
    let mut parts = Vec::new();
    for (index, target) in targets.iter().enumerate() {
        let (group, kind) = (&target.api.group, &target.api.kind);
        let objects: Vec<_> = tracker.objects(index).collect();
        let state = match (&target.selection, objects.as_slice()) {
            (_, _) if !tracker.synced(index) => "listing…".to_string(),
            (Selection::Name(_), []) if !tracker.departed(index).is_empty() => {
                "deleted".to_string()
            }
            (Selection::Name(_), []) => "not found yet".to_string(),
            (Selection::Name(_), [object, ..]) => condition.progress(group, kind, object),
            (Selection::Query { .. }, []) => "no object matches yet".to_string(),
            (Selection::Query { .. }, many) => format!("{} objects", many.len()),
        };
        parts.push(format!("{}  {state}", target.display()));
    }
    format!(
        "{}  (waiting {})",
        parts.join("  |  "),
        humantime::format_duration(Duration::from_secs(waited.as_secs()))
    )
}

/// How often a CI log gets the summary line, unless
/// `KUBECTL_NOTIFY_PROGRESS_EVERY` (for tests only) says otherwise.
const SUMMARY_EVERY: Duration = Duration::from_secs(30);

/// How long a wait lasts before its progress is told: a quick wait's log
/// stays as it was, and a refusal at start (a watch forbidden after the
/// list) stays one error line.
const QUIET_START: Duration = Duration::from_secs(2);

/// How many unmet objects a summary line names before `and N more`.
const NAMED: usize = 10;

/// The status line's content as lines, for a stderr that is not a terminal
/// (a CI log): one line when an object's progress changes
/// (`service/web-public: waiting for a load balancer address`), and a
/// summary of what is unmet at most every 30 s
/// (`waiting 1m30s: 7 of 9 ready; not yet: deployment.apps/web`).
pub struct ProgressLog {
    /// Whether the wait has lasted `QUIET_START`: nothing is said before.
    telling: bool,
    /// What was last said of each object (or absent named target).
    said: BTreeMap<String, String>,
    /// The Warning event last said: its object and reason.
    warned: Option<(String, String)>,
    every: Duration,
    /// When the next summary is due, from the start of the wait.
    next: Duration,
}

impl ProgressLog {
    /// `None` when stderr is a terminal (the status line shows it) or
    /// output is quieted; an invalid `KUBECTL_NOTIFY_PROGRESS_EVERY` is an
    /// error.
    pub fn new(enabled: bool) -> std::result::Result<Option<ProgressLog>, String> {
        let every = match std::env::var("KUBECTL_NOTIFY_PROGRESS_EVERY") {
            Ok(text) => humantime::parse_duration(text.trim())
                .ok()
                .filter(|every| !every.is_zero())
                .ok_or_else(|| {
                    format!("KUBECTL_NOTIFY_PROGRESS_EVERY={text}: give a duration such as 30s")
                })?,
            Err(_) => SUMMARY_EVERY,
        };
        Ok(enabled.then(|| ProgressLog {
            telling: false,
            said: BTreeMap::new(),
            warned: None,
            every,
            next: every,
        }))
    }

    /// Says each object whose progress changed since it was last said.
    pub fn update(&mut self, condition: &Condition, targets: &[Target], tracker: &Tracker) {
        if !self.telling {
            return;
        }
        let mut said = BTreeMap::new();
        for s in standing(condition, targets, tracker) {
            if self.said.get(&s.name) != Some(&s.text) {
                crate::term::stderr_line!("{}: {}", s.name, s.text);
            }
            said.insert(s.name, s.text);
        }
        // Objects gone from the wait are forgotten: one that comes back is
        // said again.
        self.said = said;
    }

    /// The newest Warning event among the unmet objects (what the status
    /// line ends with), when it is another than last said:
    /// `deployment.apps/web: warning BackOff`.
    pub fn warning(&mut self, newest: Option<&(String, String)>) {
        if let Some((object, reason)) = newest
            && self.telling
            && self.warned.as_ref() != Some(&(object.clone(), reason.clone()))
        {
            crate::term::stderr_line!("{object}: warning {reason}");
            self.warned = Some((object.clone(), reason.clone()));
        }
    }

    /// Once the wait has lasted `QUIET_START`, how every object stands;
    /// then the summary line, once its time has come.
    pub fn tick(
        &mut self,
        condition: &Condition,
        targets: &[Target],
        tracker: &Tracker,
        waited: Duration,
    ) {
        if !self.telling && waited >= QUIET_START {
            self.telling = true;
            self.update(condition, targets, tracker);
        }
        if !self.telling || waited < self.next {
            return;
        }
        while self.next <= waited {
            self.next += self.every;
        }
        let now = standing(condition, targets, tracker);
        let met = now.iter().filter(|s| s.met).count();
        let unmet: Vec<&str> = now
            .iter()
            .filter(|s| !s.met)
            .map(|s| s.name.as_str())
            .collect();
        let mut line = format!(
            "waiting {}: {met} of {} {}",
            crate::duration::show(Duration::from_secs(waited.as_secs())),
            now.len(),
            if condition.wants_ready() {
                "ready"
            } else {
                "met"
            }
        );
        if !unmet.is_empty() {
            line.push_str(&format!(
                "; not yet: {}",
                unmet[..unmet.len().min(NAMED)].join(", ")
            ));
            if unmet.len() > NAMED {
                line.push_str(&format!(", and {} more", unmet.len() - NAMED));
            }
        }
        crate::term::stderr_line!("{line}");
    }
}

/// How one object (or a named target with none) stands.
struct Standing {
    name: String,
    text: String,
    met: bool,
}

/// Every object of every listed target, and each named target that has no
/// object, with its progress as the status line says it.
fn standing(condition: &Condition, targets: &[Target], tracker: &Tracker) -> Vec<Standing> {
    let mut out = Vec::new();
    for (index, target) in targets.iter().enumerate() {
        if !tracker.synced(index) {
            continue;
        }
        let (group, kind) = (&target.api.group, &target.api.kind);
        let mut any = false;
        for object in tracker.objects(index) {
            any = true;
            out.push(Standing {
                name: target.object_said(object),
                text: condition.progress(group, kind, object),
                met: condition.judge(group, kind, Some(object)) == Verdict::Met,
            });
        }
        if !any && let Selection::Name(_) = target.selection {
            let deleted = !tracker.departed(index).is_empty();
            out.push(Standing {
                name: target.display(),
                text: if deleted { "deleted" } else { "not found yet" }.into(),
                met: condition.judge(group, kind, None) == Verdict::Met,
            });
        }
    }
    out
}

/// Cuts to the terminal's width so the line never wraps (a wrapped line
/// could not be erased), leaving room for the spinner and for the terminal's
/// own `^C` echo.
fn fit(text: &str, width: usize) -> String {
    let room = width.saturating_sub(6);
    if text.chars().count() <= room {
        text.to_string()
    } else {
        let cut: String = text.chars().take(room.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_to_the_width() {
        assert_eq!(fit("short", 80), "short");
        let cut = fit(&"x".repeat(200), 40);
        assert_eq!(cut.chars().count(), 34);
        assert!(cut.ends_with('…'));
    }
}
