//! An in-process HTTP server speaking the Kubernetes API (discovery, CRUD,
//! list, watch, auth) for kubectl-notify's tests, benchmarks and sandbox.
//!
//! It mirrors what a real kube-apiserver 1.32 answers — field names, status
//! codes, content types, watch streams — closely enough that real kubectl
//! works against it. Helpers such as [`TestServer::create`] change the same
//! state as HTTP writes, through the same code path, so watchers see them.
//!
//! Known gaps, on purpose: request bodies are JSON only (kubectl's typed
//! generators such as `kubectl create configmap` send protobuf and get 415);
//! there is no OpenAPI, so `kubectl create -f`/`apply` need `--validate=false`;
//! real kubectl sends no bearer token over plain HTTP (kubernetes/kubectl#744),
//! so tests driving it use [`TestServer::set_anonymous_rules`] and `--as`.
//!
//! ```no_run
//! use testserver::{Crd, TestServer};
//! let server = TestServer::start();
//! server.add_crd(Crd::widget());
//! server.create("widgets.example.com", Some("default"),
//!     serde_json::json!({"metadata": {"name": "w1"}, "spec": {"size": 1}}));
//! let kubeconfig = server.kubeconfig(TestServer::ADMIN_TOKEN, "default");
//! # let _ = kubeconfig;
//! ```

mod api;
mod auth;
mod catalog;
mod clock;
mod patch;
mod selector;
mod status;
mod store;
mod table;
mod watch;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

use crate::auth::User;
use crate::store::{PatchKind, Store};

/// The token of user "admin", who may do anything.
pub const ADMIN_TOKEN: &str = "admin-token";

/// How the server behaves.
#[derive(Clone, Debug)]
pub struct Options {
    /// Serve aggregated discovery (apidiscovery.k8s.io/v2) at /api and /apis.
    /// With `false` only legacy discovery is answered, as an old server does.
    pub aggregated_discovery: bool,
    /// How many events are kept; a watch or exact list from an older
    /// resourceVersion gets 410 Expired.
    pub history_limit: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            aggregated_discovery: true,
            history_limit: 1000,
        }
    }
}

/// A CustomResourceDefinition's served version, enough for discovery and storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crd {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub namespaced: bool,
}

impl Crd {
    /// `widgets.example.com/v1`, kind Widget, short name `wg`, namespaced,
    /// with a status subresource: the CRD of the reference captures.
    pub fn widget() -> Crd {
        Crd {
            group: "example.com".into(),
            version: "v1".into(),
            kind: "Widget".into(),
            plural: "widgets".into(),
            singular: "widget".into(),
            short_names: vec!["wg".into()],
            namespaced: true,
        }
    }
}

/// An RBAC-like permission: `"*"` matches anything, the core group is `""`,
/// an empty `namespaces` list means every namespace and the cluster scope.
/// Subresources are named `resource/sub` (`widgets/status`), as in RBAC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub verbs: Vec<String>,
    pub groups: Vec<String>,
    pub resources: Vec<String>,
    pub namespaces: Vec<String>,
}

impl Rule {
    pub fn allow_all() -> Rule {
        Rule {
            verbs: vec!["*".into()],
            groups: vec!["*".into()],
            resources: vec!["*".into()],
            namespaces: Vec::new(),
        }
    }
}

/// One HTTP request the server answered. `user` is the identity the request
/// acted as (after impersonation); None for anonymous or rejected requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    pub path_and_query: String,
    pub user: Option<String>,
    pub accept: Option<String>,
    pub status: u16,
}

/// State shared by the HTTP handlers and the synchronous helpers.
pub(crate) struct Shared {
    pub store: Mutex<Store>,
    pub users: Mutex<HashMap<String, User>>,
    pub anonymous_rules: Mutex<Vec<Rule>>,
    pub requests: Mutex<Vec<RequestRecord>>,
    pub bookmark_interval: Mutex<Duration>,
    pub aggregated_discovery: bool,
    pub addr: SocketAddr,
}

/// Locks a mutex even if a panicking test thread poisoned it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running server; dropping it shuts it down and closes every connection.
pub struct TestServer {
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// The token of user "admin", who may do anything.
    pub const ADMIN_TOKEN: &'static str = ADMIN_TOKEN;

    pub fn start() -> TestServer {
        TestServer::start_with(Options::default())
    }

    pub fn start_with(opts: Options) -> TestServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind 127.0.0.1:0 for the test server");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("listener address");
        let mut users = HashMap::new();
        users.insert(
            ADMIN_TOKEN.to_string(),
            User {
                name: "admin".into(),
                rules: vec![Rule::allow_all()],
            },
        );
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new(opts.history_limit)),
            users: Mutex::new(users),
            anonymous_rules: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            bookmark_interval: Mutex::new(Duration::from_secs(1)),
            aggregated_discovery: opts.aggregated_discovery,
            addr,
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = api::router(shared.clone());
        let thread = std::thread::Builder::new()
            .name(format!("testserver-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("test server runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    tokio::select! {
                        r = axum::serve(listener, app) => { r.expect("test server"); }
                        _ = rx => {}
                    }
                });
                // Dropping the runtime cancels every connection task, watches included.
                rt.shutdown_timeout(Duration::from_millis(200));
            })
            .expect("spawn the test server thread");
        TestServer {
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// A complete kubeconfig: cluster, user and context all named "test".
    pub fn kubeconfig(&self, token: &str, namespace: &str) -> String {
        // JSON strings are valid YAML double-quoted scalars.
        let q = |s: &str| serde_json::to_string(s).expect("string");
        format!(
            "apiVersion: v1\n\
             kind: Config\n\
             clusters:\n\
             - name: test\n  cluster:\n    server: {}\n\
             users:\n\
             - name: test\n  user:\n    token: {}\n\
             contexts:\n\
             - name: test\n  context:\n    cluster: test\n    user: test\n    namespace: {}\n\
             current-context: test\n\
             preferences: {{}}\n",
            q(&self.url()),
            q(token),
            q(namespace)
        )
    }

    pub fn write_kubeconfig(&self, path: &Path, token: &str, namespace: &str) {
        std::fs::write(path, self.kubeconfig(token, namespace))
            .unwrap_or_else(|e| panic!("write kubeconfig {}: {e}", path.display()));
    }

    /// Adds (or replaces) a user identified by a bearer token.
    pub fn add_user(&self, name: &str, token: &str, rules: Vec<Rule>) {
        lock(&self.shared.users).insert(
            token.to_string(),
            User {
                name: name.to_string(),
                rules,
            },
        );
    }

    /// Rights of requests that carry no credentials (user "system:anonymous";
    /// none by default). Real kubectl never sends a bearer token over plain
    /// HTTP, so tests that drive it grant rights here, and reach named users
    /// with `kubectl --as NAME` (impersonation, which needs the "impersonate"
    /// verb on "users"; `Rule::allow_all()` includes it).
    pub fn set_anonymous_rules(&self, rules: Vec<Rule>) {
        *lock(&self.shared.anonymous_rules) = rules;
    }

    /// Serves a custom resource type; discovery shows it at once.
    pub fn add_crd(&self, crd: Crd) {
        lock(&self.shared.store).catalog.add(crd.into());
    }

    /// How often watches with `allowWatchBookmarks=true` get a BOOKMARK (default 1s).
    pub fn set_bookmark_interval(&self, interval: Duration) {
        *lock(&self.shared.bookmark_interval) = interval;
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        lock(&self.shared.store).current_rv()
    }

    /// Creates an object (`resource` is `plural[.group]`), filling metadata as
    /// the apiserver does. Panics if it exists already.
    pub fn create(&self, resource: &str, namespace: Option<&str>, obj: Value) -> Value {
        lock(&self.shared.store)
            .create(resource, namespace, obj)
            .unwrap_or_else(|e| panic!("create {resource}: {}", e.message))
    }

    /// A JSON merge patch on the main resource: `.status` changes are ignored
    /// (the type has a status subresource), `metadata.generation` moves when
    /// anything but metadata and status changes. Panics if the object is missing.
    pub fn merge_patch(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
        patch: Value,
    ) -> Value {
        lock(&self.shared.store)
            .patch(resource, namespace, name, PatchKind::Merge, &patch, false)
            .unwrap_or_else(|e| panic!("patch {resource}/{name}: {}", e.message))
    }

    /// A JSON merge patch through the `/status` subresource: only `.status` is taken.
    pub fn patch_status(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
        patch: Value,
    ) -> Value {
        lock(&self.shared.store)
            .patch(resource, namespace, name, PatchKind::Merge, &patch, true)
            .unwrap_or_else(|e| panic!("patch {resource}/{name}/status: {}", e.message))
    }

    /// Deletes an object, returning its last state (None if it did not exist).
    pub fn delete(&self, resource: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        lock(&self.shared.store)
            .delete(resource, namespace, name)
            .ok()
    }

    pub fn get(&self, resource: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        lock(&self.shared.store)
            .get(resource, namespace, name)
            .cloned()
    }

    /// Every HTTP request answered so far, in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.requests).clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
