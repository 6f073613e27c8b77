//! Bounded reads for an explanation: a list by namespace and selectors, where
//! a refusal (RBAC, a type not served) is an answer, never an error.

use kube::Client;
use serde_json::Value;

/// What a list came back with.
pub enum Listed {
    Items(Vec<Value>),
    /// The user may not read it (401/403): left out, said under `-v`.
    Denied(String),
    /// Not served here (404): the caller may try another API.
    NotServed,
    /// Anything else (a 5xx, a reset, a 400): left out, said under `-v`.
    Failed(String),
}

/// `GET {prefix}/namespaces/{ns}/{plural}?labelSelector=..&fieldSelector=..`.
pub async fn list(
    client: &Client,
    prefix: &str,
    namespace: &str,
    plural: &str,
    labels: Option<&str>,
    fields: Option<&str>,
) -> Listed {
    let mut url = format!("{prefix}/namespaces/{namespace}/{plural}?limit=500");
    for (key, value) in [("labelSelector", labels), ("fieldSelector", fields)] {
        if let Some(value) = value {
            url.push_str(&format!("&{key}={}", escape(value)));
        }
    }
    let request = match http::Request::get(&url).body(Vec::new()) {
        Ok(request) => request,
        Err(e) => return Listed::Failed(e.to_string()),
    };
    match client.request::<Value>(request).await {
        Ok(list) => Listed::Items(list["items"].as_array().cloned().unwrap_or_default()),
        Err(kube::Error::Api(status)) => match status.code {
            401 | 403 => Listed::Denied(status.message.clone()),
            404 => Listed::NotServed,
            _ => Listed::Failed(status.message.clone()),
        },
        Err(e) => Listed::Failed(crate::trouble::root_cause(&e)),
    }
}

/// Percent-encoding for a query value.
fn escape(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
