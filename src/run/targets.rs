//! Which API type each target names: resolved against cached discovery when
//! it knows them all, against the server's answer when it does not or is wrong.

use std::time::Duration;

use super::with_request_timeout;
use crate::connect::Connection;
use crate::discovery::Discovery;
use crate::exit::{Exit, Result};
use crate::plan::{Plan, TargetSpec};
use crate::resolve::resolve;
use crate::watch::Target;

pub(crate) struct Resolver {
    discovery: Discovery,
    specs: Vec<TargetSpec>,
    all_namespaces: bool,
    request_timeout: Option<Duration>,
}

impl Resolver {
    pub fn new(plan: &Plan, conn: &Connection) -> Resolver {
        Resolver {
            discovery: Discovery::open(plan.cache_dir.as_deref(), &conn.server, plan.verbosity > 0),
            specs: plan.targets.clone(),
            all_namespaces: plan.all_namespaces,
            request_timeout: plan.request_timeout,
        }
    }

    /// The targets, from the cache when it resolves every one of them. Any
    /// failure there (a new CRD, a type now ambiguous) asks the server once,
    /// so errors and suggestions always come from its current answer.
    pub async fn targets(&mut self, conn: &Connection) -> Result<Vec<Target>> {
        if self.discovery.is_cached() {
            match self.resolve(&conn.namespace) {
                Ok(targets) => return Ok(targets),
                Err(e) => self
                    .discovery
                    .log(&format!("the cache cannot say ({e}); asking the server")),
            }
        }
        self.refresh(conn).await
    }

    /// A target resolved from the cache got 404 Not Found: the type may be
    /// gone, or served in another version now. Worth asking the server,
    /// once, unless the types already are its answer.
    pub fn may_be_stale(&self) -> bool {
        !self.discovery.is_fresh()
    }

    /// Asks the server and resolves every target against its answer.
    pub async fn refresh(&mut self, conn: &Connection) -> Result<Vec<Target>> {
        with_request_timeout(
            self.request_timeout,
            &conn.server,
            self.discovery.fetch(&conn.client),
        )
        .await?;
        self.resolve(&conn.namespace)
    }

    pub fn log(&self, message: &str) {
        self.discovery.log(message);
    }

    fn resolve(&self, namespace: &str) -> Result<Vec<Target>> {
        let types = self.discovery.types();
        self.specs
            .iter()
            .map(|spec| {
                let api =
                    resolve(types, &spec.type_text).map_err(|e| Exit::Usage(e.to_string()))?;
                let namespace =
                    (api.namespaced && !self.all_namespaces).then(|| namespace.to_string());
                Ok(Target {
                    namespace,
                    api: api.clone(),
                    selection: spec.selection.clone(),
                })
            })
            .collect()
    }
}
