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
//! so tests driving it use [`TestServer::set_anonymous_rules`] and `--as` —
//! or start the server with [`Options::tls`], over which kubectl does send it.
//! [`real_kubectl`] is the one rule by which tests find that kubectl (1.37).
//!
//! With `Options { tls: true, .. }` the server speaks HTTPS only, with a
//! certificate from a CA made at start; [`TestServer::kubeconfig`] carries
//! that CA (`certificate-authority-data`), so clients verify the server, and
//! [`unrelated_ca_pem`] gives a CA that must fail to.
//!
//! Besides the Widget CRD and a few built-in kinds it serves
//! `coordination.k8s.io/v1` Leases (writes over a stale resourceVersion get
//! 409, as every type's do) and refuses ConfigMaps over 1 MiB (422); watches
//! resume from any resourceVersion still in the history ([`Options::history_limit`]).
//!
//! Faults, switchable per test (see the methods for the details): watch
//! streams that end after N events or T time ([`TestServer::close_watches_after_events`],
//! [`TestServer::close_watches_after`]), 410 Expired on the next watches or
//! after a compaction ([`TestServer::expire_next_watches`], [`TestServer::compact`]),
//! failing requests with Retry-After ([`TestServer::fail_next_requests`]),
//! stalled streams ([`TestServer::stall_watches`]), a restart that drops
//! every connection and refuses new ones for a while ([`TestServer::restart`]),
//! and BOOKMARK or ERROR events on demand ([`TestServer::send_bookmark`],
//! [`TestServer::send_error_event`]). [`TestServer::open_watches`] tells how
//! many watch streams are open, for tests to wait on.
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
mod faults;
mod kubectl;
mod patch;
mod request;
mod response;
mod selector;
mod server;
mod shared;
mod status;
mod store;
mod table;
mod tls;
mod watch;

pub use crate::auth::Rule;
pub use crate::catalog::Crd;
pub use crate::kubectl::real_kubectl;
pub use crate::shared::RequestRecord;
pub use crate::tls::{identity as tls_identity, unrelated_ca_pem};
pub use tokio_rustls::TlsAcceptor;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::auth::User;
use crate::faults::Faults;
use crate::server::Control;
use crate::shared::{Shared, lock};
use crate::status::ApiError;
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
    /// Speak HTTPS only, with a certificate signed by a CA made at start
    /// (see [`TestServer::ca_pem`]); the kubeconfig carries the CA.
    pub tls: bool,
    /// How watches with `sendInitialEvents=true` are answered.
    pub streaming_lists: StreamingLists,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            aggregated_discovery: true,
            history_limit: 1000,
            tls: false,
            streaming_lists: StreamingLists::Served,
        }
    }
}

/// What the server does with a streaming list (a watch with
/// `sendInitialEvents=true&resourceVersionMatch=NotOlderThan`), as kube-apiserver
/// 1.32 does in each setting (captures in `tests/k8s-reference/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamingLists {
    /// Every object as ADDED, then a BOOKMARK annotated
    /// `k8s.io/initial-events-end`, then the changes (WatchList on, etcd with
    /// watch progress).
    Served,
    /// 200 OK, then one ERROR event (500 InternalError: RequestWatchProgress
    /// is disabled), then the end: WatchList on, on etcd 3.4 before 3.4.31
    /// (the project's real control plane).
    NoWatchProgress,
    /// 422 Invalid: the WatchList feature gate is off
    /// (`--feature-gates=WatchList=false`).
    GateOff,
}

/// A running server; dropping it shuts it down and closes every connection.
pub struct TestServer {
    shared: Arc<Shared>,
    ca_pem: Option<String>,
    control: tokio::sync::mpsc::UnboundedSender<Control>,
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
            faults: Mutex::new(Faults::default()),
            stall: tokio::sync::watch::channel(false).0,
            streaming_lists: Mutex::new(opts.streaming_lists),
            sends: Mutex::new(None),
        });
        let tls = opts.tls.then(tls::generate);
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        let tls_config = tls.map(|t| t.config);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (control, control_rx) = tokio::sync::mpsc::unbounded_channel();
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
                        _ = server::run(listener, app, tls_config, control_rx) => {}
                        _ = rx => {}
                    }
                });
                // Dropping the runtime cancels every connection task, watches included.
                rt.shutdown_timeout(Duration::from_millis(200));
            })
            .expect("spawn the test server thread");
        TestServer {
            shared,
            ca_pem,
            control,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, or `https://127.0.0.1:PORT` with [`Options::tls`].
    pub fn url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.shared.addr)
    }

    /// The PEM of the CA that signed the server certificate ([`Options::tls`]).
    pub fn ca_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// A complete kubeconfig: cluster, user and context all named "test";
    /// with [`Options::tls`] the cluster carries `certificate-authority-data`.
    pub fn kubeconfig(&self, token: &str, namespace: &str) -> String {
        self.kubeconfig_with_ca(token, namespace, self.ca_pem.as_deref())
    }

    /// [`TestServer::kubeconfig`] with another CA (or none), for tests of
    /// verification failures: see [`unrelated_ca_pem`].
    pub fn kubeconfig_with_ca(&self, token: &str, namespace: &str, ca_pem: Option<&str>) -> String {
        use base64::Engine as _;
        // JSON strings are valid YAML double-quoted scalars.
        let q = |s: &str| serde_json::to_string(s).expect("string");
        let ca = ca_pem.map_or(String::new(), |pem| {
            let data = base64::engine::general_purpose::STANDARD.encode(pem);
            format!("    certificate-authority-data: {}\n", q(&data))
        });
        format!(
            "apiVersion: v1\n\
             kind: Config\n\
             clusters:\n\
             - name: test\n  cluster:\n    server: {}\n{ca}\
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

    /// Deletes a custom resource type (every served version), as deleting
    /// its CRD does: its objects are deleted first, so watchers see each
    /// DELETED; then it vanishes from discovery, its open watches end and its
    /// URLs answer 404. Panics if no such custom type is served.
    pub fn remove_crd(&self, group: &str, plural: &str) {
        assert!(
            lock(&self.shared.store).remove_custom_type(group, plural),
            "no custom resource {plural}.{group} to remove"
        );
    }

    /// How streaming lists are answered from now on (see [`StreamingLists`]).
    pub fn set_streaming_lists(&self, answer: StreamingLists) {
        *lock(&self.shared.streaming_lists) = answer;
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

    /// Records an event about `about` (an object as stored: its kind,
    /// apiVersion, namespace, name, uid and resourceVersion are copied), last
    /// seen `age` ago, as a controller or the kubelet reports it. A real
    /// server shows one stored event through both APIs; this writes it to both:
    /// core v1 (`involvedObject`, `message`, `count`) and events.k8s.io/v1
    /// (`regarding`, `note`, `deprecatedCount`), shaped as in the reference
    /// captures. Returns the core v1 event.
    pub fn event(
        &self,
        about: &Value,
        type_: &str,
        reason: &str,
        message: &str,
        count: u64,
        age: Duration,
    ) -> Value {
        let meta = &about["metadata"];
        let namespace = meta["namespace"].as_str().unwrap_or("default").to_string();
        let object = json!({
            "kind": about["kind"],
            "namespace": namespace,
            "name": meta["name"],
            "uid": meta["uid"],
            "apiVersion": about["apiVersion"],
            "resourceVersion": meta["resourceVersion"],
        });
        let seen = clock::format_rfc3339(clock::unix_now() - age.as_secs() as i64);
        let name = format!(
            "{}.{:x}",
            meta["name"].as_str().unwrap_or("object"),
            catalog::fnv64(format!("{}/{reason}/{message}", object["uid"]).as_bytes())
        );
        let component = "kubelet";
        let mut store = lock(&self.shared.store);
        let core = store
            .create(
                "events",
                Some(&namespace),
                json!({
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"name": name, "namespace": namespace},
                    "involvedObject": object,
                    "reason": reason,
                    "message": message,
                    "source": {"component": component},
                    "firstTimestamp": seen,
                    "lastTimestamp": seen,
                    "count": count,
                    "type": type_,
                    "eventTime": null,
                    "reportingComponent": component,
                    "reportingInstance": "",
                }),
            )
            .unwrap_or_else(|e| panic!("create event {name}: {}", e.message));
        store
            .create(
                "events.events.k8s.io",
                Some(&namespace),
                json!({
                    "apiVersion": "events.k8s.io/v1",
                    "kind": "Event",
                    "metadata": {"name": name, "namespace": namespace},
                    "eventTime": null,
                    "reportingController": component,
                    "reason": reason,
                    "regarding": object,
                    "note": message,
                    "type": type_,
                    "deprecatedSource": {"component": component},
                    "deprecatedFirstTimestamp": seen,
                    "deprecatedLastTimestamp": seen,
                    "deprecatedCount": count,
                }),
            )
            .unwrap_or_else(|e| panic!("create event {name}: {}", e.message));
        core
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

    // ---- Fault injection ------------------------------------------------

    /// Every watch stream, open and future, ends cleanly (the response is
    /// finished, as at a timeout) after `n` more ADDED/MODIFIED/DELETED
    /// events, counted per stream as written (BOOKMARKs do not count; for a
    /// new stream its initial ADDED events do). Events already committed when
    /// this is called are not counted. `Some(0)` ends every open stream now
    /// and new ones at once; `None` lifts the limit.
    pub fn close_watches_after_events(&self, n: Option<usize>) {
        lock(&self.shared.store).set_event_limit(n);
    }

    /// New watch streams end cleanly after `t` (or their own `timeoutSeconds`
    /// if shorter), with the last BOOKMARK the apiserver sends at a timeout
    /// when they allowed bookmarks. Open streams keep their deadline.
    pub fn close_watches_after(&self, t: Option<Duration>) {
        lock(&self.shared.faults).close_watches_after = t;
    }

    /// The next `k` watch requests (authorized ones, whatever their
    /// resourceVersion) are answered as from a compacted history: 200, one
    /// ERROR event with a 410 Expired Status (`too old resource version: X
    /// (Y)`, Y being the current resourceVersion), and the end of the
    /// stream. Nothing is compacted: the watch after them works again.
    pub fn expire_next_watches(&self, k: usize) {
        lock(&self.shared.faults).expire_next_watches = k;
    }

    /// Drops the event history, as etcd compaction does: a watch from an
    /// older resourceVersion gets the 410 ERROR event, an exact list or a
    /// continue token from before now gets 410. Open watches go on.
    pub fn compact(&self) {
        lock(&self.shared.store).compact();
    }

    /// The next `k` object requests — `/api/v1/...` and `/apis/G/V/...`
    /// paths naming a served resource, watches included; not discovery,
    /// `/version` or health checks — are answered with `status` and the
    /// apiserver's Status body for it (500 InternalError, 503
    /// ServiceUnavailable, 429 TooManyRequests, 504 Timeout, ...), after
    /// authentication (a bad token still gets 401) and before authorization.
    /// With `retry_after` the answer carries `Retry-After` and
    /// `details.retryAfterSeconds`, as the apiserver sends them.
    pub fn fail_next_requests(&self, k: usize, status: u16, retry_after: Option<u64>) {
        let mut f = lock(&self.shared.faults);
        f.fail_next = k;
        f.fail_status = status;
        f.fail_retry_after = retry_after;
    }

    /// While on, watch streams write nothing — no events, no bookmarks, no
    /// end at a timeout — and keep the connection open, as over a stalled
    /// network path. New watches are accepted (their 200 and headers go out)
    /// but their body stays silent too. Events are held back, not lost: when
    /// the stall ends each stream goes on with everything it missed, in
    /// order, as a TCP connection would after a stall. A client notices a
    /// stall only through its own timeouts; if it reconnects, the new watch
    /// (stalled too while this is on) resumes from its resourceVersion.
    pub fn stall_watches(&self, on: bool) {
        self.shared.stall.send_replace(on);
    }

    /// Restarts the "apiserver" with its storage intact: every open
    /// connection is dropped (watch streams end without their final chunk),
    /// the listener is closed so that new connections are refused for
    /// `down_for`, then the same port is listened on again. Objects,
    /// resourceVersions, users and faults are kept; as kube-apiserver's
    /// watch cache starts again from a fresh list, a watch from a
    /// resourceVersion of before the restart gets 410 Expired (exact lists
    /// still read the history). Returns once the connections are gone and
    /// the port refuses connections.
    pub fn restart(&self, down_for: Duration) {
        let (done, wait) = std::sync::mpsc::channel();
        if self
            .control
            .send(Control::Restart { down_for, done })
            .is_err()
        {
            return;
        }
        let _ = wait.recv_timeout(Duration::from_secs(10));
        lock(&self.shared.store).restart_watch_cache();
        // The watch tasks notice their client is gone right after.
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while self.open_watches() > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A BOOKMARK at the current resourceVersion on every open watch that
    /// asked for bookmarks (`allowWatchBookmarks=true`), after the events
    /// already sent to it.
    pub fn send_bookmark(&self) {
        lock(&self.shared.store).send_bookmark();
    }

    /// An ERROR event with a Status of this code (reason as for
    /// [`TestServer::fail_next_requests`]; 410 is Expired) and message on
    /// every open watch, after the events already sent to it; then the
    /// stream ends, as the apiserver ends it.
    pub fn send_error_event(&self, code: u16, message: &str) {
        let err = ApiError::from_code(code, Some(message), None);
        lock(&self.shared.store).send_error(&err);
    }

    /// Turns every fault off: event and time limits, pending expiries and
    /// failures, stalls. (A compaction or restart that happened stays done.)
    pub fn clear_faults(&self) {
        *lock(&self.shared.faults) = Faults::default();
        self.close_watches_after_events(None);
        self.stall_watches(false);
    }

    /// How many watch streams are open now.
    pub fn open_watches(&self) -> usize {
        lock(&self.shared.store).open_watches()
    }

    /// From now on, remember when each event was first handed to a watch's
    /// connection: the moment a client's delay from an event's arrival is
    /// measured from (benches), with nothing added to the client.
    pub fn record_sends(&self) {
        lock(&self.shared.sends).get_or_insert_with(HashMap::new);
    }

    /// When the event of this resourceVersion was first sent to a watch,
    /// if it was while [`TestServer::record_sends`] was on.
    pub fn sent_at(&self, resource_version: u64) -> Option<std::time::Instant> {
        lock(&self.shared.sends)
            .as_ref()?
            .get(&resource_version)
            .copied()
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
