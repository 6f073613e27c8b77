//! What differs between operating systems, behind one boundary: the rest of
//! the program calls these names only. A port to another OS is one module here.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(not(unix))]
compile_error!(
    "kubectl-notify runs on Unix (Linux, macOS); a port starts with a module in src/os/"
);
