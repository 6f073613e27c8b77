//! `cloudevents:URL`: CloudEvents 1.0 over HTTP in binary mode — the event's
//! attributes in `ce-*` headers, the `-o json` line as the body. Written
//! against the HTTP protocol binding (a handful of headers), no crate.

use bytes::Bytes;

use super::Notification;
use super::delivery::Message;

/// `ce-type` is this and the change: `kubectl-notify.created`,
/// `kubectl-notify.modified`, `kubectl-notify.deleted`,
/// `kubectl-notify.initial` (an object that met a wait's condition is
/// `modified`, or `deleted` for `--for delete`).
pub const TYPE_PREFIX: &str = "kubectl-notify.";

pub fn message(n: &Notification, json_line: &Bytes) -> Message {
    let api = &n.target.api;
    // ce-source: the object's collection in the API, as a URI reference.
    let mut source = if api.group.is_empty() {
        format!("/api/{}", api.version)
    } else {
        format!("/apis/{}/{}", api.group, api.version)
    };
    if let Some(namespace) = n.object["metadata"]["namespace"].as_str() {
        source.push_str(&format!("/namespaces/{namespace}"));
    }
    source.push('/');
    source.push_str(&api.plural);
    let mut headers = vec![
        ("ce-specversion", "1.0".to_string()),
        ("ce-id", n.delivery_id()),
        ("ce-source", source),
        ("ce-type", format!("{TYPE_PREFIX}{}", n.event())),
        (
            "ce-subject",
            n.object["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        ),
        (
            "ce-time",
            humantime::format_rfc3339_millis(n.time).to_string(),
        ),
    ];
    // An extension attribute: which rule of a `--rules` process told it.
    if let Some(rule) = n.rule {
        headers.push(("ce-rule", rule.to_string()));
    }
    super::webhook::with_changes(
        n,
        Message::new(n.object_key(), n.delivery_id(), headers, json_line.clone()),
    )
}
