//! Runs a program under a small launcher (this bench binary re-executed with
//! `__launch`) and reads its report: start and exit on CLOCK_MONOTONIC, CPU
//! time and peak RSS from `wait4`, measured apart from this big process.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::error::{Result, io_err};

/// The first argument that makes this binary the launcher.
pub(crate) const LAUNCH: &str = "__launch";

/// CLOCK_MONOTONIC in nanoseconds: comparable between this process and the launcher.
pub(crate) fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The child side: `__launch RESULT PROGRAM ARGS...` runs PROGRAM (stdin
/// null, stdout and stderr inherited), writes its pid to `RESULT.pid`, and on
/// its exit `STATUS START_NS EXIT_NS CPU_US MAXRSS_KIB VOLUNTARY INVOLUNTARY`
/// (context switches) to RESULT. SIGTERM
/// kills the program (SIGKILL), which is then reported like any exit.
pub(crate) mod child {
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

    static CHILD: AtomicI32 = AtomicI32::new(0);
    static STOP: AtomicBool = AtomicBool::new(false);

    extern "C" fn stop(_: libc::c_int) {
        STOP.store(true, Ordering::SeqCst);
        let pid = CHILD.load(Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: kill is async-signal-safe; the pid is our unreaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }

    fn fail(result: &str, message: String) -> ! {
        let _ = std::fs::write(result, format!("error {message}\n"));
        std::process::exit(1)
    }

    fn micros(t: libc::timeval) -> u64 {
        t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64
    }

    pub(crate) fn run(args: &[String]) -> ! {
        let [result, program, rest @ ..] = args else {
            eprintln!("usage: {} RESULT PROGRAM [ARGS...]", super::LAUNCH);
            std::process::exit(2)
        };
        let handler = stop as extern "C" fn(libc::c_int);
        // SAFETY: installs a handler that only touches atomics and calls kill.
        unsafe { libc::signal(libc::SIGTERM, handler as libc::sighandler_t) };
        let start = super::now_ns();
        let child = match Command::new(program)
            .args(rest)
            .stdin(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => fail(result, format!("cannot start {program}: {e}")),
        };
        let pid = child.id() as i32;
        CHILD.store(pid, Ordering::SeqCst);
        if STOP.load(Ordering::SeqCst) {
            // SAFETY: as in `stop`; a SIGTERM that came before the pid was known.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = std::fs::write(format!("{result}.pid"), pid.to_string());
        let mut status = 0;
        // SAFETY: rusage is plain data; zero is a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: waits for our own child, writing into locals.
            let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            if r == pid {
                break;
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                fail(result, format!("wait4: {e}"));
            }
        }
        let end = super::now_ns();
        // Reaped: a late SIGTERM must not reach a recycled pid.
        CHILD.store(0, Ordering::SeqCst);
        // Already reaped by wait4: the handle must not be waited on again.
        std::mem::forget(child);
        let cpu = micros(usage.ru_utime) + micros(usage.ru_stime);
        let line = format!(
            "{status} {start} {end} {cpu} {} {} {}\n",
            usage.ru_maxrss, usage.ru_nvcsw, usage.ru_nivcsw
        );
        if let Err(e) = std::fs::write(result, line) {
            eprintln!("launcher: write {result}: {e}");
            std::process::exit(1)
        }
        std::process::exit(0)
    }
}

/// Starts programs under the launcher, each with its own report, stderr and
/// stdout files in a private folder that is also the programs' HOME (where
/// the kubeconfig and the discovery cache are).
pub(crate) struct Launcher {
    exe: PathBuf,
    dir: TempDir,
    kubeconfig: PathBuf,
    launches: usize,
}

impl Launcher {
    pub(crate) fn new(dir: TempDir, kubeconfig: PathBuf) -> Result<Launcher> {
        let exe = std::env::current_exe().map_err(io_err("find this bench binary"))?;
        Ok(Launcher {
            exe,
            dir,
            kubeconfig,
            launches: 0,
        })
    }

    /// Starts `program` under the launcher with the shared kubeconfig.
    pub(crate) fn start(
        &mut self,
        what: &str,
        program: &Path,
        args: &[String],
        stdout: Stdout,
    ) -> Result<Run> {
        self.launches += 1;
        let result = self.dir.path().join(format!("run-{}", self.launches));
        let stderr = self
            .dir
            .path()
            .join(format!("run-{}.stderr", self.launches));
        let stderr_file = File::create(&stderr).map_err(io_err("create a stderr file"))?;
        let mut cmd = Command::new(&self.exe);
        cmd.arg(LAUNCH)
            .arg(&result)
            .arg(program)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("KUBERNETES_SERVICE_PORT")
            .stdin(Stdio::null())
            .stderr(stderr_file);
        let stdout = match stdout {
            Stdout::Null => {
                cmd.stdout(Stdio::null());
                None
            }
            Stdout::File => {
                let path = self
                    .dir
                    .path()
                    .join(format!("run-{}.stdout", self.launches));
                cmd.stdout(File::create(&path).map_err(io_err("create a stdout file"))?);
                Some(path)
            }
        };
        let mut child = cmd
            .spawn()
            .map_err(io_err("start the launcher (this bench binary)"))?;
        let launcher_pid = child.id() as i32;
        let (tx, done) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        Ok(Run {
            what: what.to_string(),
            launcher_pid,
            done,
            exit: None,
            result,
            stderr,
            stdout,
        })
    }
}

/// What the launcher reported about one finished child.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Measured {
    pub(crate) status: i32,
    pub(crate) start_ns: u64,
    pub(crate) exit_ns: u64,
    pub(crate) cpu_us: u64,
    pub(crate) maxrss_kib: u64,
    /// Context switches over the whole run, all threads.
    pub(crate) switches: Switches,
}

impl Measured {
    pub(crate) fn wall_ns(&self) -> u64 {
        self.exit_ns.saturating_sub(self.start_ns)
    }

    pub(crate) fn succeeded(&self) -> bool {
        libc::WIFEXITED(self.status) && libc::WEXITSTATUS(self.status) == 0
    }

    pub(crate) fn describe(&self) -> String {
        if libc::WIFEXITED(self.status) {
            format!("exit code {}", libc::WEXITSTATUS(self.status))
        } else if libc::WIFSIGNALED(self.status) {
            format!("killed by signal {}", libc::WTERMSIG(self.status))
        } else {
            format!("wait status {}", self.status)
        }
    }
}

/// Where a launched child's stdout goes: nowhere, or a regular file that
/// the bench reads as it grows (a file, not a pipe, so that no reader is
/// woken on every line the tool writes, which would add to its CPU time).
pub(crate) enum Stdout {
    Null,
    File,
}

/// A child running under the launcher.
pub(crate) struct Run {
    pub(crate) what: String,
    launcher_pid: i32,
    done: Receiver<io::Result<ExitStatus>>,
    exit: Option<io::Result<ExitStatus>>,
    result: PathBuf,
    stderr: PathBuf,
    stdout: Option<PathBuf>,
}

impl Run {
    /// True once the launcher (so the child) has exited.
    pub(crate) fn poll_exit(&mut self) -> bool {
        if self.exit.is_none()
            && let Ok(r) = self.done.try_recv()
        {
            self.exit = Some(r);
        }
        self.exit.is_some()
    }

    pub(crate) fn stderr_text(&self) -> String {
        let text = fs::read_to_string(&self.stderr).unwrap_or_default();
        let text = text.trim();
        if text.is_empty() {
            "(stderr empty)".into()
        } else {
            // The end of a long log says what went wrong.
            let start = text.len().saturating_sub(2000);
            let start = (start..text.len())
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            format!("stderr:\n{}", &text[start..])
        }
    }

    /// The pid of the measured program itself (not the launcher's).
    pub(crate) fn program_pid(&self) -> Option<i32> {
        let path = format!("{}.pid", self.result.display());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(text) = fs::read_to_string(&path)
                && let Ok(pid) = text.trim().parse()
            {
                return Some(pid);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        None
    }

    /// Ends the child through the launcher (which SIGKILLs it) and waits.
    pub(crate) fn stop(&mut self) {
        for _ in 0..5 {
            if self.poll_exit() {
                return;
            }
            // SAFETY: the launcher is our own child and not reaped yet (its
            // exit has not been received), so the pid is still its.
            unsafe { libc::kill(self.launcher_pid, libc::SIGTERM) };
            if let Ok(r) = self.done.recv_timeout(Duration::from_secs(1)) {
                self.exit = Some(r);
                return;
            }
        }
    }

    /// Waits for the child to exit; after `limit` it is killed and this fails.
    pub(crate) fn wait(mut self, limit: Duration) -> Result<Measured> {
        if self.exit.is_none() {
            match self.done.recv_timeout(limit) {
                Ok(r) => self.exit = Some(r),
                Err(_) => {
                    self.stop();
                    return Err(format!(
                        "{} still running after {limit:?}; killed it. {}",
                        self.what,
                        self.stderr_text()
                    ));
                }
            }
        }
        self.finish()
    }

    /// The launcher's report, once it has exited.
    pub(crate) fn finish(self) -> Result<Measured> {
        let launcher = match &self.exit {
            Some(Ok(status)) => *status,
            Some(Err(e)) => return Err(format!("waiting for the launcher of {}: {e}", self.what)),
            None => return Err(format!("{} has not exited", self.what)),
        };
        let text = fs::read_to_string(&self.result).unwrap_or_default();
        if let Some(message) = text.strip_prefix("error ") {
            return Err(format!("{}: {}", self.what, message.trim()));
        }
        let fields: Vec<u64> = text
            .split_whitespace()
            .filter_map(|f| f.parse::<i64>().ok().map(|n| n as u64))
            .collect();
        let [
            status,
            start_ns,
            exit_ns,
            cpu_us,
            maxrss_kib,
            voluntary,
            involuntary,
        ] = fields[..]
        else {
            return Err(format!(
                "the launcher of {} ended with {launcher} and no report",
                self.what
            ));
        };
        Ok(Measured {
            status: status as i32,
            start_ns,
            exit_ns,
            cpu_us,
            maxrss_kib,
            switches: Switches {
                voluntary,
                involuntary,
            },
        })
    }

    /// As `wait`, and the child must have exited 0.
    pub(crate) fn wait_ok(self, limit: Duration) -> Result<Measured> {
        let what = self.what.clone();
        let stderr = self.stderr.clone();
        let m = self.wait(limit)?;
        if m.succeeded() {
            return Ok(m);
        }
        let text = fs::read_to_string(stderr).unwrap_or_default();
        let text = match text.trim() {
            "" => "(stderr empty)".to_string(),
            t => format!("stderr:\n{t}"),
        };
        Err(format!(
            "{what} failed ({}); the figures of a failing run would be worthless. {text}",
            m.describe()
        ))
    }

    /// Waits until the child has printed `expected` lines, giving up when it
    /// exits first or its output stands still for a while. Returns the lines
    /// seen and whether the goal was reached.
    pub(crate) fn wait_for_lines(&mut self, expected: usize) -> (usize, bool) {
        self.wait_for_lines_within(expected, Duration::from_secs(30))
    }

    /// As `wait_for_lines`, with output standing still for `patience` at most.
    pub(crate) fn wait_for_lines_within(
        &mut self,
        expected: usize,
        patience: Duration,
    ) -> (usize, bool) {
        let mut count = LineCount::new(self.stdout.as_deref());
        let mut last = 0;
        let mut still_since = Instant::now();
        loop {
            let gone = self.poll_exit();
            let now = count.update();
            if now >= expected || gone {
                return (now, now >= expected);
            }
            if now != last {
                last = now;
                still_since = Instant::now();
            } else if still_since.elapsed() > patience {
                return (now, false);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Run {
    /// Waits until the child's stderr holds `needle`; false if it exits
    /// first or `limit` passes.
    pub(crate) fn wait_for_stderr(&mut self, needle: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if fs::read_to_string(&self.stderr).is_ok_and(|text| text.contains(needle)) {
                return true;
            }
            if self.poll_exit() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }
}

impl Drop for Run {
    /// A bench that gives up half-way leaves no tool running behind it.
    fn drop(&mut self) {
        self.stop();
    }
}

/// Lines in a growing file, counted as they arrive.
struct LineCount {
    file: Option<File>,
    lines: usize,
}

impl LineCount {
    fn new(path: Option<&Path>) -> LineCount {
        LineCount {
            file: path.and_then(|p| File::open(p).ok()),
            lines: 0,
        }
    }

    fn update(&mut self) -> usize {
        let mut buf = [0u8; 64 * 1024];
        if let Some(file) = &mut self.file {
            while let Ok(n) = file.read(&mut buf) {
                if n == 0 {
                    break;
                }
                self.lines += buf[..n].iter().filter(|b| **b == b'\n').count();
            }
        }
        self.lines
    }
}

/// CPU time (µs) a running process has used so far: the sum over its
/// threads of the time on a CPU that /proc/PID/task/TID/schedstat reads in
/// ns (stat's utime and stime come in 10 ms ticks, too coarse to split a
/// list of a few ms from the updates). The same sum as `wait4`'s user +
/// system at the exit (the kernel scales those to it), less what threads
/// that already exited used.
pub(crate) fn cpu_so_far_us(pid: i32) -> Option<u64> {
    let ns = per_thread(pid, |tid| {
        let text = fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat")).ok()?;
        text.split_whitespace().next()?.parse().ok()
    })?;
    Some(ns / 1000)
}

/// Context switches a running process has made so far, voluntary (it
/// blocked: a read or a wait with nothing to do) and involuntary (preempted),
/// summed over its threads from /proc/PID/task/TID/status.
pub(crate) fn switches_so_far(pid: i32) -> Option<Switches> {
    let mut voluntary = 0;
    let involuntary = per_thread(pid, |tid| {
        let text = fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).ok()?;
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        voluntary += field("voluntary_ctxt_switches:")?;
        field("nonvoluntary_ctxt_switches:")
    })?;
    Some(Switches {
        voluntary,
        involuntary,
    })
}

/// The sum of `read` over a running process's threads.
fn per_thread(pid: i32, mut read: impl FnMut(&str) -> Option<u64>) -> Option<u64> {
    let mut sum = 0;
    for entry in fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let name = entry.ok()?.file_name();
        // A thread gone since the listing is left out, not the whole sum.
        sum += read(name.to_str()?).unwrap_or(0);
    }
    Some(sum)
}

/// Context switches: voluntary and involuntary.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Switches {
    pub(crate) voluntary: u64,
    pub(crate) involuntary: u64,
}

impl Switches {
    /// What was made since `before`.
    pub(crate) fn since(self, before: Switches) -> Switches {
        Switches {
            voluntary: self.voluntary.saturating_sub(before.voluntary),
            involuntary: self.involuntary.saturating_sub(before.involuntary),
        }
    }
}
