//! The bench's errors are messages for whoever runs it: what was being done,
//! and what went wrong.

use std::io;

pub(crate) type Result<T> = std::result::Result<T, String>;

pub(crate) fn io_err(what: &str) -> impl Fn(io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}
