//! A real kube-apiserver (and kube-controller-manager) for the real tier: one
//! per test binary, on free loopback ports, stopped however the binary ends.
//!
//! Enabled by `KUBEBUILDER_ASSETS` (envtest's convention): the folder holding
//! `kube-apiserver`, optionally `kube-controller-manager` and `etcd` (else
//! etcd from PATH). No scheduler, no kubelet: tests play the kubelet by
//! writing Pod status.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub const ASSETS_VAR: &str = "KUBEBUILDER_ASSETS";

/// What a control plane is started with; the shared one takes the defaults.
#[derive(Clone)]
pub struct Options {
    pub controller_manager: bool,
    /// Extra kube-apiserver flags (e.g. `--etcd-compaction-interval=10s`).
    pub apiserver_args: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            controller_manager: true,
            apiserver_args: Vec::new(),
        }
    }
}

pub struct ControlPlane {
    pub dir: TempDir,
    pub url: String,
    /// Context `real` (user admin, system:masters) and `limited` (no rights).
    pub kubeconfig: PathBuf,
    pub admin_token: String,
    pub limited_token: String,
    /// The serving certificate followed by the CA that signed it.
    pub ca_file: PathBuf,
    assets: PathBuf,
    options: Options,
    ports: Ports,
    processes: Mutex<Processes>,
}

#[derive(Clone, Copy)]
struct Ports {
    etcd: u16,
    etcd_peer: u16,
    apiserver: u16,
    controller_manager: u16,
}

#[derive(Default)]
struct Processes {
    etcd: Option<Child>,
    apiserver: Option<Child>,
    controller_manager: Option<Child>,
}

/// The folder `KUBEBUILDER_ASSETS` names, when the real tier is enabled.
pub fn assets() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os(ASSETS_VAR)?);
    (!dir.as_os_str().is_empty()).then_some(dir)
}

/// The binary's one shared control plane, started by the first test that asks.
pub fn shared() -> &'static ControlPlane {
    static SHARED: OnceLock<ControlPlane> = OnceLock::new();
    SHARED.get_or_init(|| {
        let plane = ControlPlane::start(Options::default());
        stop_at_exit();
        plane
    })
}

impl ControlPlane {
    /// Starts etcd, kube-apiserver and (if asked and present) the
    /// controller-manager; panics, with the logs' tails, if one cannot start.
    pub fn start(options: Options) -> ControlPlane {
        let assets = assets().unwrap_or_else(|| {
            panic!("the real tier needs {ASSETS_VAR}: the folder holding kube-apiserver")
        });
        let dir = tempfile::Builder::new()
            .prefix("kubectl-notify-real-")
            .tempdir()
            .unwrap();
        let pki = dir.path().join("pki");
        std::fs::create_dir_all(&pki).unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        make_service_account_key(&pki);
        let admin_token = random_hex();
        let limited_token = random_hex();
        let cm_token = random_hex();
        std::fs::write(
            dir.path().join("tokens.csv"),
            format!(
                "{admin_token},admin,real-admin,\"system:masters\"\n\
                 {limited_token},limited,real-limited\n\
                 {cm_token},system:kube-controller-manager,real-cm,\"system:masters\"\n"
            ),
        )
        .unwrap();
        let ports = Ports {
            etcd: free_port(),
            etcd_peer: free_port(),
            apiserver: free_port(),
            controller_manager: free_port(),
        };
        let url = format!("https://127.0.0.1:{}", ports.apiserver);
        let plane = ControlPlane {
            kubeconfig: dir.path().join("kubeconfig"),
            ca_file: pki.join("apiserver.crt"),
            dir,
            url,
            admin_token,
            limited_token,
            assets,
            options,
            ports,
            processes: Mutex::new(Processes::default()),
        };
        plane.start_etcd();
        plane.start_apiserver();
        plane.write_kubeconfigs(&cm_token);
        if plane.options.controller_manager
            && plane.assets.join("kube-controller-manager").is_file()
        {
            plane.start_controller_manager();
        }
        plane.install_widget_crd();
        plane
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.path().join("logs").join(format!("{name}.log"))
    }

    fn spawn(&self, name: &str, program: &Path, args: &[String]) -> Child {
        let log = std::fs::File::create(self.log(name)).unwrap();
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        die_with_this_process(&mut cmd);
        spawn_from_lasting_thread(cmd)
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()))
    }

    fn start_etcd(&self) {
        let etcd = [self.assets.join("etcd"), PathBuf::from("/usr/bin/etcd")]
            .into_iter()
            .find(|p| p.is_file())
            .or_else(|| which("etcd"))
            .expect("the real tier needs etcd (apt-get install etcd-server)");
        let client = format!("http://127.0.0.1:{}", self.ports.etcd);
        let peer = format!("http://127.0.0.1:{}", self.ports.etcd_peer);
        let data = self.dir.path().join("etcd-data");
        let args: Vec<String> = vec![
            "--name=real".into(),
            format!("--data-dir={}", data.display()),
            format!("--listen-client-urls={client}"),
            format!("--advertise-client-urls={client}"),
            format!("--listen-peer-urls={peer}"),
            format!("--initial-advertise-peer-urls={peer}"),
            format!("--initial-cluster=real={peer}"),
            "--initial-cluster-state=new".into(),
            "--unsafe-no-fsync".into(),
            "--logger=zap".into(),
            "--log-outputs=stderr".into(),
        ];
        let child = self.spawn("etcd", &etcd, &args);
        self.processes.lock().unwrap().etcd = Some(child);
        self.wait_until("etcd", Duration::from_secs(30), || {
            http_get_plain(self.ports.etcd, "/health").is_some_and(|b| b.contains("true"))
        });
    }

    fn apiserver_args(&self) -> Vec<String> {
        let pki = self.dir.path().join("pki");
        let mut args: Vec<String> = vec![
            format!("--etcd-servers=http://127.0.0.1:{}", self.ports.etcd),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--secure-port={}", self.ports.apiserver),
            format!("--cert-dir={}", pki.display()),
            "--authorization-mode=RBAC".into(),
            format!(
                "--token-auth-file={}",
                self.dir.path().join("tokens.csv").display()
            ),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            format!(
                "--service-account-key-file={}",
                pki.join("sa.pub").display()
            ),
            format!(
                "--service-account-signing-key-file={}",
                pki.join("sa.key").display()
            ),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            "--allow-privileged=true".into(),
            // The Service's Endpoints cannot hold a loopback address.
            "--endpoint-reconciler-type=none".into(),
            "--profiling=false".into(),
        ];
        args.extend(self.options.apiserver_args.iter().cloned());
        args
    }

    fn start_apiserver(&self) {
        let bin = self.assets.join("kube-apiserver");
        let child = self.spawn("kube-apiserver", &bin, &self.apiserver_args());
        self.processes.lock().unwrap().apiserver = Some(child);
        self.wait_until("kube-apiserver", Duration::from_secs(120), || self.readyz());
    }

    fn readyz(&self) -> bool {
        let out = Command::new("curl")
            .args(["-sk", "--max-time", "2", "-H"])
            .arg(format!("Authorization: Bearer {}", self.admin_token))
            .arg(format!("{}/readyz", self.url))
            .output();
        out.is_ok_and(|o| o.stdout == b"ok")
    }

    /// Stops the apiserver (SIGKILL: every watch is cut without a goodbye),
    /// keeps it down for `down_for`, starts it again on the same port.
    pub fn restart_apiserver(&self, down_for: Duration) {
        {
            let mut processes = self.processes.lock().unwrap();
            if let Some(mut child) = processes.apiserver.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        std::thread::sleep(down_for);
        self.start_apiserver();
    }

    /// What the apiserver answers a watch of a namespace's widgets from
    /// `rv`: the HTTP status, a newline, the body (the server ends the
    /// watch after 2 s).
    pub fn watch_once(&self, namespace: &str, rv: &str) -> String {
        let out = Command::new("curl")
            .args(["-s", "--max-time", "10", "-w", "\n%{http_code}", "--cacert"])
            .arg(&self.ca_file)
            .arg("-H")
            .arg(format!("Authorization: Bearer {}", self.admin_token))
            .arg(format!(
                "{}/apis/example.com/v1/namespaces/{namespace}/widgets?watch=1&resourceVersion={rv}&timeoutSeconds=2",
                self.url
            ))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
        format!("{status}\n{body}")
    }

    fn write_kubeconfigs(&self, cm_token: &str) {
        let ca = self.ca_file.display();
        let user =
            |name: &str, token: &str| format!("- name: {name}\n  user:\n    token: {token}\n");
        let config = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: real\n  cluster:\n    server: {url}\n    certificate-authority: {ca}\n\
             users:\n{admin}{limited}\
             contexts:\n- name: real\n  context:\n    cluster: real\n    user: admin\n    namespace: default\n\
             - name: limited\n  context:\n    cluster: real\n    user: limited\n    namespace: default\n\
             current-context: real\n",
            url = self.url,
            admin = user("admin", &self.admin_token),
            limited = user("limited", &self.limited_token),
        );
        std::fs::write(&self.kubeconfig, config).unwrap();
        let cm = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: real\n  cluster:\n    server: {url}\n    certificate-authority: {ca}\n\
             users:\n{cm}contexts:\n- name: cm\n  context:\n    cluster: real\n    user: cm\ncurrent-context: cm\n",
            url = self.url,
            cm = user("cm", cm_token),
        );
        std::fs::write(self.dir.path().join("cm.kubeconfig"), cm).unwrap();
    }

    fn start_controller_manager(&self) {
        let pki = self.dir.path().join("pki");
        let kubeconfig = self.dir.path().join("cm.kubeconfig");
        let flex = self.dir.path().join("flexvolume");
        std::fs::create_dir_all(&flex).unwrap();
        let root_ca = last_certificate(&std::fs::read_to_string(&self.ca_file).unwrap());
        std::fs::write(pki.join("ca.crt"), root_ca).unwrap();
        let args: Vec<String> = vec![
            format!("--kubeconfig={}", kubeconfig.display()),
            format!("--authentication-kubeconfig={}", kubeconfig.display()),
            "--authentication-skip-lookup=true".into(),
            format!("--authorization-kubeconfig={}", kubeconfig.display()),
            // etcd 3.4 cannot serve watch-list: go straight to list+watch.
            "--feature-gates=WatchListClient=false".into(),
            format!("--flex-volume-plugin-dir={}", flex.display()),
            "--bind-address=127.0.0.1".into(),
            format!("--secure-port={}", self.ports.controller_manager),
            "--leader-elect=false".into(),
            "--use-service-account-credentials=false".into(),
            format!(
                "--service-account-private-key-file={}",
                pki.join("sa.key").display()
            ),
            format!("--root-ca-file={}", pki.join("ca.crt").display()),
            // An addition of the fork these binaries come from: upstream
            // Kubernetes puts no such ConfigMap in every namespace.
            "--controllers=*,-service-ca-certificate-publisher-controller".into(),
            "--profiling=false".into(),
        ];
        let bin = self.assets.join("kube-controller-manager");
        let child = self.spawn("kube-controller-manager", &bin, &args);
        self.processes.lock().unwrap().controller_manager = Some(child);
        let port = self.ports.controller_manager;
        self.wait_until("kube-controller-manager", Duration::from_secs(60), || {
            Command::new("curl")
                .args(["-sk", "--max-time", "2"])
                .arg(format!("https://127.0.0.1:{port}/healthz"))
                .output()
                .is_ok_and(|o| o.stdout == b"ok")
        });
    }

    fn install_widget_crd(&self) {
        let crd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/widget-crd.yaml");
        let out = self
            .kubectl()
            .args(["apply", "-f"])
            .arg(&crd)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = self
            .kubectl()
            .args([
                "wait",
                "--for=condition=Established",
                "crd/widgets.example.com",
                "--timeout=60s",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Real kubectl as the admin, in no particular namespace.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(crate::common::real_kubectl());
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.dir.path().join("kubectl-cache"))
            .stdin(Stdio::null());
        cmd
    }

    fn wait_until(&self, name: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if ready() {
                return;
            }
            if self.exited(name) {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let log = std::fs::read_to_string(self.log(name)).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        panic!(
            "{name} did not become ready; the end of its log:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }

    fn exited(&self, name: &str) -> bool {
        let mut processes = self.processes.lock().unwrap();
        let child = match name {
            "etcd" => processes.etcd.as_mut(),
            "kube-apiserver" => processes.apiserver.as_mut(),
            _ => processes.controller_manager.as_mut(),
        };
        child.is_some_and(|c| c.try_wait().ok().flatten().is_some())
    }

    /// Kills every process of this control plane (controllers first).
    pub fn stop(&self) {
        let mut processes = self.processes.lock().unwrap();
        for child in [
            processes.controller_manager.take(),
            processes.apiserver.take(),
            processes.etcd.take(),
        ]
        .into_iter()
        .flatten()
        {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A static is never dropped: stop the shared control plane when the test
/// binary exits normally (a failed test included). A binary killed outright
/// takes its control plane along through the parent-death signal.
fn stop_at_exit() {
    extern "C" fn stop_shared() {
        // The OnceLock is set: only called after shared() initialised it.
        let plane = shared();
        plane.stop();
        let _ = std::fs::remove_dir_all(plane.dir.path());
    }
    unsafe {
        libc::atexit(stop_shared);
    }
}

/// The control plane's processes get SIGKILL when the thread that spawned
/// them ends, so they are spawned from one thread that lives as long as the
/// test binary; SIGINT or a SIGKILL of the binary cannot leave them behind.
#[cfg(target_os = "linux")]
fn die_with_this_process(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_this_process(_cmd: &mut Command) {}

/// Test threads end with their test; this one lasts as long as the binary.
fn spawn_from_lasting_thread(cmd: Command) -> std::io::Result<Child> {
    type Order = (Command, std::sync::mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<std::sync::mpsc::Sender<Order>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (orders, inbox) = std::sync::mpsc::channel::<Order>();
        std::thread::Builder::new()
            .name("control-plane-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in inbox {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .unwrap();
        Mutex::new(orders)
    });
    let (reply, answer) = std::sync::mpsc::channel();
    spawner.lock().unwrap().send((cmd, reply)).unwrap();
    answer.recv().unwrap()
}

/// A port free now, below the kernel's ephemeral range (32768 and up on
/// Linux): the controller-manager binds its port seconds after it is
/// chosen, and meanwhile every `bind(:0)` and outgoing connection of the
/// other tests takes ephemeral ports — one took it once. Two control planes
/// in parallel binaries may still race for a port; a clash fails loudly.
fn free_port() -> u16 {
    for _ in 0..200 {
        let port = fastrand::u16(20_000..32_768);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 20000 and 32767")
}

fn random_hex() -> String {
    (0..3)
        .map(|_| format!("{:016x}", fastrand::u64(..)))
        .collect()
}

fn make_service_account_key(pki: &Path) {
    let key = pki.join("sa.key");
    let status = Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&key)
        .arg("2048")
        .stderr(Stdio::null())
        .status()
        .expect("the real tier needs openssl");
    assert!(status.success());
    let status = Command::new("openssl")
        .args(["rsa", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(pki.join("sa.pub"))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

fn http_get_plain(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).ok()?;
    Some(body)
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn last_certificate(bundle: &str) -> String {
    let start = bundle.rfind("-----BEGIN CERTIFICATE-----").unwrap_or(0);
    bundle[start..].to_string()
}
