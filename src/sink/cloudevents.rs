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
    super::webhook::with_changes(
        n,
        Message::new(
            n.object_key(),
            n.delivery_id(),
            headers(n, &HTTP),
            json_line.clone(),
        ),
    )
}

/// The attribute headers' names in a protocol binding, in the order
/// specversion, id, source, type, subject, time, and the extension `rule`
/// (which rule of a `--rules` process told it; sent only then).
pub type Names = [&'static str; 7];

/// HTTP's binding: `ce-id`, ...
pub const HTTP: Names = [
    "ce-specversion",
    "ce-id",
    "ce-source",
    "ce-type",
    "ce-subject",
    "ce-time",
    "ce-rule",
];

/// The event's attributes as headers named as `names` says: the same values
/// whatever the protocol (`ce-id` over HTTP is `ce_id` in Kafka).
pub fn headers(n: &Notification, names: &Names) -> Vec<(&'static str, String)> {
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
    let values = [
        "1.0".to_string(),
        n.delivery_id(),
        source,
        format!("{TYPE_PREFIX}{}", n.event()),
        n.object["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        humantime::format_rfc3339_millis(n.time).to_string(),
    ];
    let mut headers: Vec<(&'static str, String)> = names.iter().copied().zip(values).collect();
    if let Some(rule) = n.rule {
        headers.push((names[6], rule.to_string()));
    }
    headers
}
