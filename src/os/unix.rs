//! Linux and macOS: POSIX calls only (nothing from /proc or Linux-only
//! libc), so both build from the same code.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use tokio::signal::unix::{Signal, SignalKind, signal};

pub(crate) const SIGINT: i32 = libc::SIGINT;
pub(crate) const SIGTERM: i32 = libc::SIGTERM;
pub(crate) const SIGKILL: i32 = libc::SIGKILL;

/// The local time of day (TZ honoured) for seconds since the epoch, as
/// (hours, minutes, seconds); `None` when the zone cannot be read.
pub(crate) fn local_time_of_day(secs: u64) -> Option<(u32, u32, u32)> {
    // The type is inferred from localtime_r's (naming libc's time_t is
    // deprecated on musl).
    let t = secs.try_into().ok()?;
    // SAFETY: localtime_r writes only into the tm we pass.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let local = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    local.then_some((tm.tm_hour as u32, tm.tm_min as u32, tm.tm_sec as u32))
}

/// The width in columns of the terminal on stderr, if it is one.
pub(crate) fn terminal_width() -> Option<usize> {
    // SAFETY: TIOCGWINSZ fills a winsize struct.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0).then_some(size.ws_col as usize)
}

/// This machine's host name (a pod's name, in a pod), or `localhost`.
pub(crate) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(name) if ok && !name.is_empty() => name.to_string(),
        _ => "localhost".to_string(),
    }
}

/// Creates a directory (and its parents) readable by the owner and group only.
pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(path)
}

/// Whether we may execute the file: access(2) rather than the mode bits, as
/// it accounts for our uid, groups, root, ACLs and noexec mounts.
pub(crate) fn executable(path: &Path) -> bool {
    let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: c_path is a valid NUL-terminated string that outlives the call.
    unsafe { libc::access(c_path.as_ptr(), libc::X_OK) == 0 }
}

/// The exit code a shell would report: the code, or 128 + the signal.
pub(crate) fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signo)) => 128 + signo,
        (None, None) => 1,
    }
}

/// Sends a signal to a process group; a group already gone is fine.
pub(crate) fn signal_group(group: i32, signo: i32) {
    // SAFETY: killpg only sends a signal; ESRCH (group already gone) is fine.
    unsafe {
        libc::killpg(group, signo);
    }
}

/// SIGINT and SIGTERM, caught for the whole run so that a command can be
/// told and waited for before we exit.
pub(crate) struct Interrupts {
    int: Signal,
    term: Signal,
}

impl Interrupts {
    pub(crate) fn new() -> io::Result<Interrupts> {
        Ok(Interrupts {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    /// The number of the first SIGINT or SIGTERM to arrive.
    pub(crate) async fn recv(&mut self) -> i32 {
        tokio::select! {
            _ = self.int.recv() => SIGINT,
            _ = self.term.recv() => SIGTERM,
        }
    }

    /// Hands a signal these caught and nobody read on to the listeners
    /// installed since (a listener sees only what arrives after it is
    /// installed): it is raised again. Called before dropping these.
    pub(crate) fn pass_on(mut self) {
        use futures::FutureExt;
        if let Some(signo) = self.recv().now_or_never() {
            // SAFETY: raise only sends the signal; a handler is installed.
            unsafe { libc::raise(signo) };
        }
    }
}

/// SIGHUP, caught to reload `--rules FILE`.
pub(crate) struct Hangups(Signal);

impl Hangups {
    pub(crate) fn new() -> io::Result<Hangups> {
        Ok(Hangups(signal(SignalKind::hangup())?))
    }

    pub(crate) async fn recv(&mut self) {
        self.0.recv().await;
    }
}

/// What tells one version of a file from another, through symlinks (a
/// ConfigMap volume swaps its `..data` link to a new folder): device,
/// inode, size and modification time; `None` while it cannot be read.
pub(crate) fn file_version(path: &Path) -> Option<(u64, u64, u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
    ))
}

/// Whether stdout is a pipe or a socket: a reader that may go away.
pub(crate) fn stdout_is_pipe() -> bool {
    // SAFETY: fstat writes only into the stat we pass.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::fstat(libc::STDOUT_FILENO, &mut stat) } == 0;
    let kind = stat.st_mode & libc::S_IFMT;
    ok && (kind == libc::S_IFIFO || kind == libc::S_IFSOCK)
}

/// Whether the reader of stdout has gone (`| head -1` done), told without
/// writing: poll(2) reports an error or hang-up on the descriptor, the check
/// GNU `tail -f` makes.
pub(crate) fn stdout_reader_gone() -> bool {
    let mut fd = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: 0,
        revents: 0,
    };
    // SAFETY: poll reads and writes only the one pollfd we pass; no wait.
    let ready = unsafe { libc::poll(&mut fd, 1, 0) } == 1;
    ready && fd.revents & (libc::POLLERR | libc::POLLHUP) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SIGTERM caught before the rules' listeners were installed reaches
    /// them once passed on (it was lost: a replica went on running).
    #[tokio::test]
    async fn a_signal_caught_before_new_listeners_is_passed_on_to_them() {
        let early = Interrupts::new().unwrap();
        // SAFETY: raise only sends the signal, which `early` has a handler for.
        unsafe { libc::raise(SIGTERM) };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut late = Interrupts::new().unwrap();
        early.pass_on();
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), late.recv()).await;
        assert_eq!(got.ok(), Some(SIGTERM));
    }
}
