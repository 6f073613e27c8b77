//! The cluster under test, for stories that run on both tiers: the project's
//! test server (`common::Scenario`) and a real control plane (`real::Namespace`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Scenario, WIDGETS, finish, plugin};

pub trait Cluster {
    /// A kubeconfig whose current context is the test's namespace.
    fn kubeconfig(&self) -> &Path;
    /// A HOME of the test's own (discovery cache, kubectl's config).
    fn home(&self) -> &Path;
    fn namespace(&self) -> &str;

    /// A Widget in the test's namespace; the object as created.
    fn create_widget(&self, name: &str, spec: Value) -> Value;
    /// A merge patch of a Widget (its spec or metadata).
    fn patch_widget(&self, name: &str, patch: Value) -> Value;
    /// A merge patch of a Widget's status, through the status subresource.
    fn set_widget_status(&self, name: &str, status: Value) -> Value;
    fn delete_widget(&self, name: &str);
    /// Any object in the test's namespace, of the type named as the test
    /// server's helpers name it (`configmaps`, `deployments.apps`).
    fn create_object(&self, resource: &str, object: Value) -> Value;
    /// A merge patch of an object of the test's namespace.
    fn patch_object(&self, resource: &str, name: &str, patch: Value) -> Value;
    fn delete_object(&self, resource: &str, name: &str);
    /// An object of the test's namespace (`configmaps`,
    /// `leases.coordination.k8s.io`, ...), if it exists.
    fn get(&self, resource: &str, name: &str) -> Option<Value>;

    /// A kubeconfig like `kubeconfig()` for user `limited`, who may not
    /// read anything (an authenticated user with no role).
    fn kubeconfig_without_rights(&self) -> PathBuf;

    /// Makes the server forget its event history: a watch from any
    /// resourceVersion seen so far gets 410 Expired (the test server
    /// compacts; a real control plane, which must be the test's own,
    /// restarts its apiserver).
    fn forget_history(&self);

    /// Kills the apiserver (every watch cut without a goodbye), keeps it
    /// down for a moment and starts it again with its storage intact (a
    /// real control plane must be the test's own).
    fn restart_apiserver(&self);

    /// The holder of a Lease of the test's namespace, if any.
    fn lease_holder(&self, lease: &str) -> Option<String> {
        let lease = self.get("leases.coordination.k8s.io", lease)?;
        lease["spec"]["holderIdentity"]
            .as_str()
            .filter(|h| !h.is_empty())
            .map(String::from)
    }

    /// The plugin as a user runs it against this cluster.
    fn notify(&self, args: &[&str]) -> Command {
        plugin(self.kubeconfig(), self.home(), args)
    }

    fn run(&self, args: &[&str]) -> Output {
        finish(self.notify(args).spawn().unwrap(), Duration::from_secs(60))
    }

    /// Real kubectl as the same user runs it against this cluster, with its
    /// own discovery cache.
    fn kubectl_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(testserver::real_kubectl());
        cmd.args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .env("KUBECACHEDIR", self.home().join("kubectl-cache"))
            .env("HOME", self.home())
            .stdin(Stdio::null());
        cmd
    }
}

impl Cluster for Scenario {
    fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    fn home(&self) -> &Path {
        self.dir.path()
    }

    fn namespace(&self) -> &str {
        "default"
    }

    fn create_widget(&self, name: &str, spec: Value) -> Value {
        self.widget(name, spec, Value::Null)
    }

    fn patch_widget(&self, name: &str, patch: Value) -> Value {
        self.server
            .merge_patch(WIDGETS, Some("default"), name, patch)
    }

    fn set_widget_status(&self, name: &str, status: Value) -> Value {
        self.server
            .patch_status(WIDGETS, Some("default"), name, json!({ "status": status }))
    }

    fn delete_widget(&self, name: &str) {
        self.server.delete(WIDGETS, Some("default"), name);
    }

    fn get(&self, resource: &str, name: &str) -> Option<Value> {
        self.server.get(resource, Some("default"), name)
    }

    fn create_object(&self, resource: &str, object: Value) -> Value {
        self.server.create(resource, Some("default"), object)
    }

    fn patch_object(&self, resource: &str, name: &str, patch: Value) -> Value {
        self.server
            .merge_patch(resource, Some("default"), name, patch)
    }

    fn delete_object(&self, resource: &str, name: &str) {
        self.server.delete(resource, Some("default"), name);
    }

    fn forget_history(&self) {
        self.server.compact();
    }

    fn restart_apiserver(&self) {
        self.server.restart(Duration::from_secs(2));
    }

    fn kubeconfig_without_rights(&self) -> PathBuf {
        let path = self.dir.path().join("limited-config");
        self.server.add_user("limited", "limited-token", Vec::new());
        self.server
            .write_kubeconfig(&path, "limited-token", "default");
        path
    }
}

/// A run of the plugin that is watching: started with `-v`, it has said
/// `list complete, watching` once per target, so a change made next is one
/// it must see happen, on either tier.
pub struct Watching {
    child: Option<std::process::Child>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Watching {
    pub fn start(cluster: &dyn Cluster, args: &[&str], targets: usize) -> Watching {
        let mut with_v = args.to_vec();
        let at = with_v
            .iter()
            .position(|a| *a == "--")
            .unwrap_or(with_v.len());
        with_v.insert(at, "-v");
        let mut run = Watching::of(cluster.notify(&with_v).spawn().unwrap());
        run.until(
            |said| said.matches("list complete, watching").count() >= targets,
            Duration::from_secs(30),
            "start watching",
        );
        run
    }

    /// A run already spawned with stderr piped, whatever it was started
    /// with: its stderr is gathered as it comes.
    pub fn of(mut child: std::process::Child) -> Watching {
        use std::io::BufRead;
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Watching {
            child: Some(child),
            stderr,
            reader: Some(reader),
        }
    }

    /// Waits until stderr holds `needle` (panics after `limit`, or if the
    /// run ends first).
    pub fn said(&mut self, needle: &str, limit: Duration) {
        self.until(
            |said| said.contains(needle),
            limit,
            &format!("say {needle:?}"),
        );
    }

    /// Waits until what it said on stderr is `done` (panics after `limit`,
    /// or if the run ends first).
    pub fn until(&mut self, done: impl Fn(&str) -> bool, limit: Duration, what: &str) {
        let deadline = std::time::Instant::now() + limit;
        while !done(&self.stderr()) {
            if let Ok(Some(status)) = self.child.as_mut().unwrap().try_wait() {
                panic!(
                    "kubectl-notify ended with {status} before it did {what}: {}",
                    self.stderr()
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "kubectl-notify did not {what} in {limit:?}: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends it a signal.
    pub fn signal(&self, signo: i32) {
        let pid = self.child.as_ref().unwrap().id() as i32;
        unsafe { libc::kill(pid, signo) };
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        let child = self.child.as_mut().unwrap();
        child.try_wait().unwrap().is_none()
    }

    /// What it has said on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for the run to end (killing it after `limit`): its output, with
    /// everything it said on stderr.
    pub fn finish(mut self, limit: Duration) -> Output {
        let mut out = finish(self.child.take().unwrap(), limit);
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        out.stderr = self.stderr().into_bytes();
        out
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
