//! The terminal: the one place that writes a line to stdout, and draws or
//! erases the status line on stderr so that nothing else lands inside it.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

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
