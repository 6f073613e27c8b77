//! `pagerduty:`: PagerDuty's Events API v2. A notification triggers an
//! alert under a `dedup_key` stable per object and rule; with `--resolve`
//! its resolution resolves it. The routing key is the sink's secret: the
//! message waits without it and the transport adds it to the body sent.

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use super::Notification;
use super::alert::{Alerting, DEFAULT_SEVERITY, changed_paths, resolves};
use super::delivery::{Attempt, Message, Transport};
use super::http::HttpPost;
use super::printer::Template;

/// PagerDuty cuts a summary longer than this.
const SUMMARY_LIMIT: usize = 1024;

pub fn message(n: &Notification, alerting: &Alerting, template: Option<&Template>) -> Message {
    let dedup_key = alerting.dedup_key(n);
    let event = if resolves(n) {
        json!({ "event_action": "resolve", "dedup_key": dedup_key })
    } else {
        let meta = &n.object["metadata"];
        let name = meta["name"].as_str().unwrap_or_default();
        let mut details = Map::new();
        details.insert("event".into(), n.event().into());
        details.insert("object".into(), n.target.object_name(name).into());
        for field in ["namespace", "uid", "resourceVersion"] {
            if let Some(value) = meta[field].as_str() {
                details.insert(field.into(), value.into());
            }
        }
        details.insert("changes".into(), changed_paths(n).into());
        for (key, value) in &alerting.labels {
            details.insert(key.clone(), value.clone().into());
        }
        let summary: String = alerting
            .summary(template, n)
            .chars()
            .take(SUMMARY_LIMIT)
            .collect();
        let mut payload = json!({
            "summary": summary,
            "source": match meta["namespace"].as_str() {
                Some(namespace) => format!("{namespace}/{}", n.target.object_name(name)),
                None => n.target.object_name(name),
            },
            "severity": alerting.severity.as_deref().unwrap_or(DEFAULT_SEVERITY),
            "timestamp": humantime::format_rfc3339_millis(n.time).to_string(),
            "component": n.target.api.kind,
            "class": alerting.name,
            "custom_details": details,
        });
        if let Some(namespace) = meta["namespace"].as_str() {
            payload["group"] = namespace.into();
        }
        json!({
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": payload,
            "client": "kubectl-notify",
        })
    };
    Message::new(
        n.object_key(),
        n.delivery_id(),
        Vec::new(),
        event.to_string(),
    )
}

pub struct PagerDutyPost {
    post: HttpPost,
    routing_key: SecretString,
}

impl PagerDutyPost {
    /// `url`: the endpoint with `?routing_key=KEY` (the public endpoint's
    /// when the sink was given a key alone): the key leaves the URL.
    pub fn new(url: &SecretString) -> PagerDutyPost {
        let url = url.expose_secret();
        let (endpoint, query) = url.split_once('?').unwrap_or((url, ""));
        let mut key = String::new();
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.strip_prefix("routing_key=") {
                Some(value) => {
                    key = percent_encoding::percent_decode_str(value)
                        .decode_utf8_lossy()
                        .into_owned()
                }
                None => rest.push(pair),
            }
        }
        let endpoint = match rest.is_empty() {
            true => endpoint.to_string(),
            false => format!("{endpoint}?{}", rest.join("&")),
        };
        let routing_key = SecretString::from(key);
        PagerDutyPost {
            post: HttpPost::new(SecretString::from(endpoint)).hiding(&routing_key),
            routing_key,
        }
    }

    async fn send_one(&mut self, message: &Message) -> Attempt {
        let Ok(mut event) = serde_json::from_slice::<Value>(&message.body) else {
            return Attempt::Rejected("the event is not JSON".into());
        };
        event["routing_key"] = self.routing_key.expose_secret().into();
        let request = Message {
            body: event.to_string().into(),
            ..message.clone()
        };
        self.post.post(&request).await
    }
}

impl Transport for PagerDutyPost {
    fn send<'a>(&'a mut self, message: &'a Message) -> BoxFuture<'a, Attempt> {
        Box::pin(self.send_one(message))
    }
}
