//! The live status line on stderr while waiting on a terminal: every target,
//! the values the condition reads, the time waited. It is erased before any
//! other output and when the program ends, however it ends.

use std::time::Duration;

use super::{Notification, Occasion, Sink};
use crate::condition::Condition;
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
            (Selection::Name(_), [object, ..]) => {
                condition.current_values(group, kind, object).join("  ")
            }
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
