//! The terminal: the one place that writes a line to stdout, and draws or
//! erases the status line on stderr so that nothing else lands inside it.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Whether a status line is on the screen now.
static DRAWN: AtomicBool = AtomicBool::new(false);

/// Writes one line to stdout and flushes it, so a pipe sees it at once; the
/// status line is erased first. The error tells the caller when the reader
/// has gone (`| head -1`).
pub fn write_line(line: &str) -> io::Result<()> {
    erase();
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// One line on stderr. A stderr whose reader has gone (`2>&1 | head -1`)
/// drops the line: unlike `crate::term::stderr_line!`, which panics, and a panic here
/// would abort the run (134) over a log line.
pub fn stderr_write(line: fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = err.write_fmt(line).and_then(|()| err.write_all(b"\n"));
}

/// `crate::term::stderr_line!` that never panics (`stderr_write`).
macro_rules! stderr_line {
    ($($arg:tt)*) => {
        $crate::term::stderr_write(format_args!($($arg)*))
    };
}
pub(crate) use stderr_line;

/// Watches for the reader of stdout going away while nothing is written (a
/// quiet watch piped into `head`), so the run can end then and not at its
/// next line, which may never come.
pub struct StdoutReader(Option<tokio::time::Interval>);

impl StdoutReader {
    /// Watching only when notifications are printed on a pipe or socket.
    pub fn watch(prints: bool) -> StdoutReader {
        let period = Duration::from_millis(200);
        StdoutReader((prints && crate::os::stdout_is_pipe()).then(|| tokio::time::interval(period)))
    }

    /// Completes once the reader has gone; never when not watching.
    /// Cancel-safe.
    pub async fn gone(&mut self) {
        let Some(ticks) = &mut self.0 else {
            return std::future::pending().await;
        };
        loop {
            ticks.tick().await;
            if crate::os::stdout_reader_gone() {
                return;
            }
        }
    }
}

/// Erases the status line if one is shown; call before writing anything else.
pub fn erase() {
    if DRAWN.swap(false, Ordering::SeqCst) {
        let mut err = io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

/// Draws `text` as the status line, replacing the one shown.
pub fn draw(text: &str) {
    let mut err = io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K{text}");
    let _ = err.flush();
    DRAWN.store(true, Ordering::SeqCst);
}

/// The width of the terminal on stderr, 80 when it cannot be told.
pub fn width() -> usize {
    crate::os::terminal_width().unwrap_or(80)
}
