//! What the HTTP handlers and [`crate::TestServer`]'s helpers both reach:
//! the store, users, faults, and the log of the requests answered.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::auth::{Rule, User};
use crate::faults::Faults;
use crate::store::Store;

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
    pub(crate) store: Mutex<Store>,
    pub(crate) users: Mutex<HashMap<String, User>>,
    pub(crate) anonymous_rules: Mutex<Vec<Rule>>,
    pub(crate) requests: Mutex<Vec<RequestRecord>>,
    pub(crate) bookmark_interval: Mutex<Duration>,
    pub(crate) aggregated_discovery: bool,
    pub(crate) addr: SocketAddr,
    pub(crate) faults: Mutex<Faults>,
    /// While true, watch streams write nothing (stall_watches).
    pub(crate) stall: tokio::sync::watch::Sender<bool>,
    pub(crate) streaming_lists: Mutex<crate::StreamingLists>,
    /// When each event (by resourceVersion) was first handed to a watch's
    /// connection, while recorded (record_sends).
    pub(crate) sends: Mutex<Option<HashMap<u64, std::time::Instant>>>,
}

/// Locks a mutex even if a panicking test thread poisoned it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
