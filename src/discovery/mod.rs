//! Fetches the types a server offers: aggregated discovery (`/api`, `/apis`
//! with the v2 Accept header), or legacy per-group discovery on older servers;
//! and keeps them in kubectl's discovery cache between runs.

pub(crate) mod cache;
mod documents;

use std::path::Path;
use std::sync::Arc;

use futures::future::join_all;
use kube::Client;

use crate::discovery::cache::{Cache, show_age};
use crate::exit::{Exit, Result};
use crate::trouble::{self, Scope, Trouble};
#[cfg(test)]
pub(crate) use documents::captured;
pub(crate) use documents::{ApiType, qualify};
use documents::{parse_aggregated, parse_group_list, parse_resource_list};

const AGGREGATED: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
const PLAIN: &str = "application/json";

/// The types a run resolves against, and where they came from.
pub struct Discovery {
    /// Shared by the resolvers of every rule of a process (`--rules`): one
    /// copy, not one per rule.
    types: Arc<Vec<ApiType>>,
    origin: Origin,
    cache: Option<Cache>,
    server: String,
    verbose: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Nothing yet: no usable cache.
    Nothing,
    /// A cache file young enough to trust, but not checked against the server.
    Cache,
    /// The server's answer during this run.
    Server,
}

impl Discovery {
    /// The server's types as cached under `cache_dir` (`None`: no cache), if
    /// young enough; else nothing until [`Discovery::fetch`]. `verbose` (-v)
    /// says on stderr where the types came from.
    pub fn open(cache_dir: Option<&Path>, server: &str, verbose: bool) -> Discovery {
        let cache = cache_dir.map(|base| Cache::new(base, server));
        let mut discovery = Discovery {
            types: Arc::default(),
            origin: Origin::Nothing,
            cache,
            server: server.to_string(),
            verbose,
        };
        match discovery.cache.as_ref().map(Cache::load) {
            Some(Ok(cached)) => {
                discovery.log(&format!(
                    "from {} (age {})",
                    cached.from,
                    show_age(cached.age)
                ));
                discovery.types = Arc::new(cached.types);
                discovery.origin = Origin::Cache;
            }
            Some(Err(why)) => discovery.log(&why),
            None => discovery.log("no cache (--cache-dir is empty, or HOME is not set)"),
        }
        discovery
    }

    pub fn types(&self) -> &[ApiType] {
        &self.types
    }

    /// The same types, from the same origin, for another rule of the
    /// process: no second read of the cache, and no second request to the
    /// server when these are already its answer.
    pub fn share(&self, verbose: bool) -> Discovery {
        Discovery {
            types: self.types.clone(),
            origin: self.origin,
            cache: self.cache.clone(),
            server: self.server.clone(),
            verbose,
        }
    }

    /// The types came from a cache and were not checked against the server.
    pub fn is_cached(&self) -> bool {
        self.origin == Origin::Cache
    }

    /// The types are the server's answer during this run.
    pub fn is_fresh(&self) -> bool {
        self.origin == Origin::Server
    }

    /// Asks the server and writes its answer to the cache; a cache that
    /// cannot be written is only mentioned at -v.
    pub async fn fetch(&mut self, client: &Client) -> Result<()> {
        self.types = Arc::new(discover(client, &self.server).await?);
        self.origin = Origin::Server;
        self.log(&format!("fetched from {}", self.server));
        match self.cache.as_ref().map(|c| c.store(&self.types)) {
            Some(Ok(path)) => self.log(&format!("cached in {}", path.display())),
            Some(Err(why)) => self.log(&why),
            None => {}
        }
        Ok(())
    }

    pub fn log(&self, message: &str) {
        if self.verbose {
            crate::term::stderr_line!("discovery: {message}");
        }
    }
}

pub async fn discover(client: &Client, server: &str) -> Result<Vec<ApiType>> {
    let (core, groups) = tokio::try_join!(
        fetch(client, server, "/api", AGGREGATED),
        fetch(client, server, "/apis", AGGREGATED)
    )?;
    if core.aggregated && groups.aggregated {
        let mut types = readable(server, "/api", parse_aggregated(&core.body))?;
        types.extend(readable(server, "/apis", parse_aggregated(&groups.body))?);
        return Ok(types);
    }
    legacy(client, server, &groups.body).await
}

/// Old servers: `/api/v1` plus every version of every group in `/apis`. A
/// group that fails to answer (an aggregated API that is down) is skipped,
/// as kubectl does; its types then resolve as unknown.
async fn legacy(client: &Client, server: &str, group_list: &[u8]) -> Result<Vec<ApiType>> {
    let core = fetch(client, server, "/api/v1", PLAIN).await?;
    let mut types = readable(server, "/api/v1", parse_resource_list(&core.body))?;
    let mut paths = Vec::new();
    for group in readable(server, "/apis", parse_group_list(group_list))? {
        for version in &group.versions {
            paths.push(format!("/apis/{}/{}", group.group, version));
        }
    }
    let answers = join_all(paths.iter().map(|path| fetch(client, server, path, PLAIN))).await;
    for (path, answer) in paths.iter().zip(answers) {
        if let Ok(answer) = answer {
            types.extend(readable(server, path, parse_resource_list(&answer.body))?);
        }
    }
    Ok(types)
}

struct Answer {
    aggregated: bool,
    body: Vec<u8>,
}

async fn fetch(client: &Client, server: &str, path: &str, accept: &str) -> Result<Answer> {
    let request = http::Request::get(path)
        .header(http::header::ACCEPT, accept)
        .body(Vec::new())
        .map_err(|e| {
            Exit::Internal(format!(
                "cannot build the discovery request for {path}: {e}"
            ))
        })?;
    let scope = Scope {
        server,
        resource: None,
        namespace: None,
    };
    let refused = |e: kube::Error| match trouble::from_kube(&e, &scope) {
        Trouble::Forbidden(m)
        | Trouble::Rejected(m)
        | Trouble::Refused(m)
        | Trouble::Transient(m) => Exit::Refused(format!("API discovery ({path}) failed: {m}")),
    };
    let response = client
        .send(request.map(Into::into))
        .await
        .map_err(refused)?;
    let status = response.status();
    let aggregated = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("as=APIGroupDiscoveryList"));
    let body = response
        .into_body()
        .collect_bytes()
        .await
        .map_err(refused)?
        .to_vec();
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(String::from))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
        return Err(refused(kube::Error::Api(
            kube::core::Status::failure(&message, "")
                .with_code(status.as_u16())
                .boxed(),
        )));
    }
    Ok(Answer { aggregated, body })
}

fn readable<T, E: std::fmt::Display>(
    server: &str,
    path: &str,
    parsed: std::result::Result<T, E>,
) -> Result<T> {
    parsed.map_err(|e| {
        Exit::Refused(format!(
            "{server}{path} sent a discovery answer we cannot read: {e}"
        ))
    })
}
