//! The user's setting for every integration test: a test server speaking the
//! Kubernetes API with the Widget CRD, a kubeconfig for it, and the real binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;
use testserver::{Crd, Options, TestServer};

/// Real kubectl 1.37, found by the one rule the test server's tests use too.
pub use testserver::real_kubectl;

pub const WIDGETS: &str = "widgets.example.com";

/// The condition most stories wait for.
pub const READY: &str = ".status.ready == true";

pub struct Scenario {
    pub server: TestServer,
    pub dir: TempDir,
    pub kubeconfig: PathBuf,
}

impl Scenario {
    /// Over HTTPS, as a real cluster: kubectl and kubectl-notify send no
    /// bearer token over plain HTTP.
    pub fn new() -> Scenario {
        Scenario::tls()
    }

    /// A scenario whose server speaks HTTPS only; the kubeconfig carries its CA.
    pub fn tls() -> Scenario {
        Scenario::on(TestServer::start_with(Options {
            tls: true,
            ..Default::default()
        }))
    }

    pub fn on(server: TestServer) -> Scenario {
        server.add_crd(Crd::widget());
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("config");
        server.write_kubeconfig(&kubeconfig, testserver::ADMIN_TOKEN, "default");
        Scenario {
            server,
            dir,
            kubeconfig,
        }
    }

    /// A hand-written kubeconfig's cluster entry for this server (flow
    /// style): its URL and, over HTTPS, its CA.
    pub fn cluster_entry(&self) -> String {
        use base64::Engine as _;
        match self.server.ca_pem() {
            Some(pem) => format!(
                "{{server: \"{}\", certificate-authority-data: \"{}\"}}",
                self.server.url(),
                base64::engine::general_purpose::STANDARD.encode(pem)
            ),
            None => format!("{{server: \"{}\"}}", self.server.url()),
        }
    }

    /// The server's CA as a file, for `--certificate-authority`.
    pub fn ca_file(&self) -> PathBuf {
        let path = self.dir.path().join("server-ca.pem");
        std::fs::write(&path, self.server.ca_pem().expect("an HTTPS scenario")).unwrap();
        path
    }

    /// The plugin as a user runs it, with this scenario's kubeconfig.
    pub fn notify(&self, args: &[&str]) -> Command {
        plugin(&self.kubeconfig, self.dir.path(), args)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        finish(self.notify(args).spawn().unwrap(), Duration::from_secs(30))
    }

    pub fn widget(&self, name: &str, spec: Value, status: Value) -> Value {
        self.widget_in("default", name, spec, status)
    }

    pub fn widget_in(&self, namespace: &str, name: &str, spec: Value, status: Value) -> Value {
        let created = self.server.create(
            WIDGETS,
            Some(namespace),
            json!({"apiVersion": "example.com/v1", "kind": "Widget",
                   "metadata": {"name": name, "namespace": namespace}, "spec": spec}),
        );
        if status.is_null() {
            return created;
        }
        self.server
            .patch_status(WIDGETS, Some(namespace), name, json!({"status": status}))
    }

    pub fn set_status(&self, name: &str, status: Value) -> Value {
        self.server
            .patch_status(WIDGETS, Some("default"), name, json!({"status": status}))
    }

    /// Blocks until the binary has a watch open on the named object, so a
    /// change made next is one it must see happen.
    pub fn wait_for_watch(&self, name: &str, child: &mut Child) {
        let selector = format!("fieldSelector=metadata.name%3D{name}");
        self.wait_for_watch_since(0, &selector, child);
    }

    /// Blocks until the binary has a watch open whose URL contains `needle`.
    pub fn wait_for_watch_matching(&self, needle: &str, child: &mut Child) {
        self.wait_for_watch_since(0, needle, child);
    }

    /// As `wait_for_watch_matching`, counting only requests after the first
    /// `before` (for a second run against the same server).
    pub fn wait_for_watch_since(&self, before: usize, needle: &str, child: &mut Child) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let requests = self.server.requests();
            let watching = requests
                .iter()
                .skip(before)
                .any(|r| r.path_and_query.contains("watch=") && r.path_and_query.contains(needle));
            if watching {
                return;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("kubectl-notify exited early with {status}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("kubectl-notify never started watching {needle}");
    }
}

/// The plugin as a user runs it: this kubeconfig, this home, no stdin.
pub fn plugin(kubeconfig: &Path, home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", home)
        .env_remove("KUBECACHEDIR")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// The binary under test; `KUBECTL_NOTIFY_BIN` names another build (to
/// replay a model test's seed against an older one).
pub fn bin() -> &'static Path {
    static BIN: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var_os("KUBECTL_NOTIFY_BIN")
            .map(Into::into)
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_kubectl-notify").into())
    })
}

/// Waits for the child to exit (killing it after `limit`) and collects output.
pub fn finish(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "kubectl-notify still running after {limit:?}\nstdout: {}\nstderr: {}",
                text(&out.stdout),
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// True if the child is still running after `wait`.
pub fn still_running(child: &mut Child, wait: Duration) -> bool {
    std::thread::sleep(wait);
    child.try_wait().unwrap().is_none()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn stdout(out: &Output) -> String {
    text(&out.stdout)
}

pub fn stderr(out: &Output) -> String {
    text(&out.stderr)
}

pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exited by a signal")
}

/// A small, fast, seedable generator (xorshift64*) for the model tests, so
/// a failure replays from its printed seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
