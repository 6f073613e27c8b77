//! What a failed request means for the user: refused for good (exit 3 at
//! start) or worth retrying, with a message that says what to do.

use kube::runtime::watcher;

/// Where a request went, for messages.
pub struct Scope<'a> {
    pub server: &'a str,
    /// `widgets.example.com`, or `None` for discovery.
    pub resource: Option<&'a str>,
    /// `None` for cluster-scoped resources.
    pub namespace: Option<&'a str>,
}

pub enum Trouble {
    /// The cluster will not serve us: unauthorized, forbidden, not served, unreachable.
    Refused(String),
    /// Forbidden: RBAC will not change by retrying, so this ends the run even
    /// after start (a user allowed to list but not to watch gets here only
    /// once the first list has succeeded).
    Forbidden(String),
    /// The server says our request is wrong: a bad selector (exit 2 at start).
    Rejected(String),
    /// Worth retrying with backoff: 5xx, 429, a dropped stream.
    Transient(String),
}

pub fn from_watcher(err: &watcher::Error, scope: &Scope) -> Trouble {
    match err {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => from_kube(e, scope),
        watcher::Error::WatchError(status) => from_status(status.code, &status.message, scope),
        watcher::Error::NoResourceVersion => Trouble::Refused(format!(
            "the server sent no resourceVersion for {}: it cannot be watched",
            scope.resource.unwrap_or("this resource")
        )),
    }
}

pub fn from_kube(err: &kube::Error, scope: &Scope) -> Trouble {
    match err {
        kube::Error::Api(status) => from_status(status.code, &status.message, scope),
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            let cause = root_cause(err);
            Trouble::Refused(if cause.contains("certificate") {
                format!(
                    "the TLS certificate of {} could not be verified: {cause}; check the \
                     cluster's certificate-authority in the kubeconfig or --certificate-authority",
                    scope.server
                )
            } else {
                format!("cannot reach the cluster at {}: {cause}", scope.server)
            })
        }
        kube::Error::Auth(_) => Trouble::Refused(format!(
            "cannot get credentials for {}: {}",
            scope.server,
            root_cause(err)
        )),
        other => Trouble::Transient(root_cause(other)),
    }
}

fn from_status(code: u16, message: &str, scope: &Scope) -> Trouble {
    let what = scope.resource.unwrap_or("the API");
    let place = match scope.namespace {
        Some(ns) => format!("in namespace \"{ns}\""),
        None => "cluster-wide".to_string(),
    };
    match code {
        401 => Trouble::Refused(format!(
            "unauthorized: the server at {} rejected the credentials; \
             check the token or certificate of your kubeconfig user",
            scope.server
        )),
        403 => Trouble::Forbidden(match scope.resource {
            Some(resource) => format!(
                "forbidden: watching needs the verbs get, list, watch on {resource} {place}; \
                 ask for them or use another --context (server said: {message})"
            ),
            None => format!("forbidden: {message}"),
        }),
        404 => Trouble::Refused(format!(
            "{what} is not served by {} (it may have been removed): \
             check `kubectl api-resources`",
            scope.server
        )),
        400 | 422 => Trouble::Rejected(format!(
            "the server rejected the request for {what}: {message}; check the selectors"
        )),
        405 | 406 | 415 => Trouble::Refused(format!("the server rejected the request: {message}")),
        _ => Trouble::Transient(format!("server answered {code}: {message}")),
    }
}

/// A failed request in one line: the server's own message and code, or the
/// root cause; never kube's rendering of an API error, which appends a
/// `Debug` dump of the whole status.
pub fn said(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => {
            format!("the server answered {}: {}", status.code, status.message)
        }
        other => root_cause(other),
    }
}

/// A 404 that is about the namespace, not the object: what creating in a
/// namespace that does not exist gets (`namespaces "x" not found`).
pub fn no_namespace(err: &kube::Error) -> bool {
    let kube::Error::Api(status) = err else {
        return false;
    };
    let about = status.details.as_ref().map(|d| d.kind.as_str());
    status.code == 404
        && (about == Some("namespaces") || status.message.starts_with("namespaces \""))
}

/// The namespace, for a message: `namespace "x" not found: WHY`.
pub fn namespace_missing(namespace: &str, why: &str) -> String {
    format!(
        "namespace \"{namespace}\" not found: {why}; create it (kubectl create namespace \
         {namespace}) or choose another with -n"
    )
}

/// The innermost error's text, which for network failures is the useful
/// part ("Connection refused (os error 111)").
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    crate::connect::one_line(&current.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(json: serde_json::Value) -> kube::Error {
        kube::Error::Api(Box::new(serde_json::from_value(json).unwrap()))
    }

    #[test]
    fn a_missing_namespace_is_told_from_a_missing_object_and_said_without_a_dump() {
        // What kube-apiserver answers a create in a namespace that is not there.
        let missing_namespace = answer(serde_json::json!({
            "status": "Failure", "message": "namespaces \"x\" not found", "reason": "NotFound",
            "details": {"name": "x", "kind": "namespaces"}, "code": 404}));
        let no_object = answer(serde_json::json!({
            "status": "Failure", "message": "configmaps \"cp\" not found", "reason": "NotFound",
            "details": {"name": "cp", "kind": "configmaps"}, "code": 404}));
        assert!(no_namespace(&missing_namespace));
        assert!(!no_namespace(&no_object));
        assert_eq!(
            said(&missing_namespace),
            "the server answered 404: namespaces \"x\" not found"
        );
        assert!(
            missing_namespace.to_string().contains("Status {"),
            "kube's own text"
        );
    }
}
