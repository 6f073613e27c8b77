//! The real tier: the same stories against a real kube-apiserver and
//! kube-controller-manager (`KUBEBUILDER_ASSETS`), each test in its own namespace.
//!
//! Select exactly these with `cargo test --test it real::`. Without
//! `KUBEBUILDER_ASSETS` the build says the tier was skipped and its tests are
//! ignored (build.rs sets `cfg(real_tier)`).

pub mod control_plane;

mod apply;
mod context;
mod ha;
mod kinds;
mod manifests;
mod notify;
mod pipeline;
mod rbac;
pub(crate) mod ready;
mod smoke;
mod wait;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use tempfile::TempDir;

pub use control_plane::{ControlPlane, Options};

use crate::cluster::Cluster;

/// One test's corner of a control plane: a namespace of its own and a
/// kubeconfig whose context points there (user admin).
pub struct Namespace<'a> {
    pub plane: &'a ControlPlane,
    pub name: String,
    pub dir: TempDir,
    pub kubeconfig: PathBuf,
}

impl Namespace<'static> {
    /// A fresh namespace on the binary's shared control plane.
    pub fn new() -> Namespace<'static> {
        Namespace::on(control_plane::shared())
    }
}

impl<'a> Namespace<'a> {
    pub fn on(plane: &'a ControlPlane) -> Namespace<'a> {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let name = namespace_name(COUNT.fetch_add(1, Ordering::Relaxed));
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("config");
        let config = std::fs::read_to_string(&plane.kubeconfig)
            .unwrap()
            .replace("namespace: default", &format!("namespace: {name}"));
        std::fs::write(&kubeconfig, config).unwrap();
        let ns = Namespace {
            plane,
            name,
            dir,
            kubeconfig,
        };
        ns.kubectl_ok(&["create", "namespace", &ns.name]);
        ns
    }

    /// Real kubectl 1.37 as the admin, in this namespace.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_cmd(args).output().unwrap()
    }

    /// Real kubectl 1.37 as the admin, in this namespace, not yet run.
    pub fn kubectl_cmd(&self, args: &[&str]) -> Command {
        Cluster::kubectl_cmd(self, args)
    }

    /// kubectl that must succeed; its stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl create -f -` of one object (JSON); the object as created.
    pub fn create(&self, object: Value) -> Value {
        self.kubectl_stdin(&["create", "-o", "json", "-f", "-"], &object)
    }

    fn kubectl_stdin(&self, args: &[&str], object: &Value) -> Value {
        let out = self.kubectl_fed(args, &object.to_string());
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Real kubectl with `input` on its stdin.
    pub fn kubectl_fed(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .kubectl_cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// A merge patch of the object (`kind/name`).
    pub fn patch(&self, object: &str, patch: Value) -> Value {
        let out = self.kubectl_ok(&[
            "patch",
            object,
            "--type=merge",
            "-o",
            "json",
            "-p",
            &patch.to_string(),
        ]);
        serde_json::from_str(&out).unwrap()
    }

    /// A merge patch of the object's status, as its controller (or a
    /// kubelet, for a Pod) writes it.
    pub fn patch_status(&self, object: &str, status: Value) -> Value {
        let patch = json!({ "status": status }).to_string();
        let out = self.kubectl_ok(&[
            "patch",
            object,
            "--subresource=status",
            "--type=merge",
            "-o",
            "json",
            "-p",
            &patch,
        ]);
        serde_json::from_str(&out).unwrap()
    }

    pub fn delete(&self, object: &str) {
        self.kubectl_ok(&["delete", object, "--wait=false"]);
    }
}

impl Drop for Namespace<'_> {
    fn drop(&mut self) {
        // Leave nothing behind for the next test; do not wait for it.
        let _ = self
            .kubectl_cmd(&["delete", "namespace", &self.name, "--wait=false"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Cluster for Namespace<'_> {
    fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    fn home(&self) -> &Path {
        self.dir.path()
    }

    fn namespace(&self) -> &str {
        &self.name
    }

    fn create_widget(&self, name: &str, spec: Value) -> Value {
        self.create(json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": name, "namespace": self.name}, "spec": spec}))
    }

    fn patch_widget(&self, name: &str, patch: Value) -> Value {
        self.patch(&format!("widgets.example.com/{name}"), patch)
    }

    fn set_widget_status(&self, name: &str, status: Value) -> Value {
        self.patch_status(&format!("widgets.example.com/{name}"), status)
    }

    fn delete_widget(&self, name: &str) {
        self.delete(&format!("widgets.example.com/{name}"));
    }

    fn create_object(&self, _resource: &str, object: Value) -> Value {
        self.create(object)
    }

    fn patch_object(&self, resource: &str, name: &str, patch: Value) -> Value {
        self.patch(&format!("{resource}/{name}"), patch)
    }

    fn delete_object(&self, resource: &str, name: &str) {
        self.delete(&format!("{resource}/{name}"));
    }

    /// The apiserver serves watches from its watch cache, which keeps
    /// serving old resourceVersions after etcd compacts
    /// (`--etcd-compaction-interval`); a restart fills the cache from a
    /// fresh list, so everything before it is gone. Checked here: a watch
    /// from the resourceVersion of before gets HTTP 200 and one ERROR event
    /// `410 Expired: too old resource version: OLD (NEW)` — after a moment
    /// of 429 `storage is (re)initializing` (Retry-After: 1).
    fn forget_history(&self) {
        let list: Value = serde_json::from_str(&self.kubectl_ok(&[
            "get",
            "--raw",
            &format!("/apis/example.com/v1/namespaces/{}/widgets", self.name),
        ]))
        .unwrap();
        let before = list["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();
        self.plane
            .restart_apiserver(std::time::Duration::from_millis(500));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut answer = self.plane.watch_once(&self.name, &before);
        while answer.starts_with("429\n") && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(500));
            answer = self.plane.watch_once(&self.name, &before);
        }
        assert!(
            answer.starts_with("200\n")
                && answer.contains(r#""type":"ERROR""#)
                && answer.contains(r#""code":410"#)
                && answer.contains(r#""reason":"Expired""#)
                && answer.contains(&format!("too old resource version: {before} (")),
            "the apiserver still has the history from {before}: {answer}"
        );
    }

    fn restart_apiserver(&self) {
        self.plane
            .restart_apiserver(std::time::Duration::from_secs(2));
    }

    fn kubeconfig_without_rights(&self) -> PathBuf {
        let path = self.dir.path().join("limited-config");
        let config = std::fs::read_to_string(&self.kubeconfig)
            .unwrap()
            .replace("current-context: real", "current-context: limited");
        std::fs::write(&path, config).unwrap();
        path
    }

    fn get(&self, resource: &str, name: &str) -> Option<Value> {
        let out = self.kubectl(&["get", &format!("{resource}/{name}"), "-o", "json"]);
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("NotFound"),
                "kubectl get {resource}/{name}: {err}"
            );
            return None;
        }
        Some(serde_json::from_slice(&out.stdout).unwrap())
    }
}

/// A DNS label from the running test's name, so a leftover namespace says
/// which test made it.
fn namespace_name(n: usize) -> String {
    let thread = std::thread::current();
    let test = thread
        .name()
        .unwrap_or("test")
        .rsplit("::")
        .next()
        .unwrap_or("test");
    let mut label: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    label.truncate(48);
    let label = label.trim_matches('-');
    format!("{label}-{}-{n}", std::process::id() % 10_000)
}
