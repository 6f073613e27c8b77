//! The bench's errors are messages for whoever runs it: what was being done,
//! and what went wrong.

use std::io;

pub(crate) type Result<T> = std::result::Result<T, String>;

pub(crate) fn io_err(what: &str) -> impl Fn(io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// Ends a reader child (a re-executed bench): 0 once it read all, else 1
/// and why, on stderr.
pub(crate) fn exit_as(reader: &str, read: Result<()>) -> ! {
    match read {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("{reader}: {e}");
            std::process::exit(1)
        }
    }
}
