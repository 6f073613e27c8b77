//! `alertmanager:URL`: a Prometheus Alertmanager's `POST /api/v2/alerts`.
//! A notification is an alert firing (no `endsAt` yet) or, with `--resolve`,
//! resolved (`endsAt` = the resolution's time). As Prometheus does, the
//! sink sends its firing alerts again every minute with `endsAt` four
//! intervals ahead, so Alertmanager does not expire an alert still firing.
//! Without `--resolve` nothing tells when an alert stops firing: each is
//! sent once and expires at its `endsAt`. Which alerts fire is shared with
//! the outbox ([`Firing`]): a replica that takes over keeps alive those a
//! checkpoint has open, and only a replica that may deliver re-sends.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;

use super::Notification;
use super::alert::{Alerting, DEFAULT_SEVERITY, changed_paths, resolves};
use super::delivery::{Attempt, Message, Transport};
use super::http::HttpPost;
use super::printer::Template;

/// `endsAt` of a firing alert: this many re-send intervals ahead.
const AHEAD: u32 = 4;

/// One alert (not yet the list the API takes): labels, annotations,
/// `startsAt`, and for a resolution `endsAt`. `generatorURL` is left out:
/// nothing here serves a page about the alert. Under `--rules` a `rule`
/// label tells apart two rules' alerts on one object (else one rule's
/// resolution would end the other's alert).
pub fn message(n: &Notification, alerting: &Alerting, template: Option<&Template>) -> Message {
    let meta = &n.object["metadata"];
    let mut labels = Map::new();
    labels.insert("alertname".into(), alerting.name.clone().into());
    if let Some(namespace) = meta["namespace"].as_str() {
        labels.insert("namespace".into(), namespace.into());
    }
    labels.insert("kind".into(), n.target.api.kind.clone().into());
    labels.insert("name".into(), meta["name"].clone());
    // As --help says and PagerDuty gets: `error` unless --severity says.
    let severity = alerting.severity.as_deref().unwrap_or(DEFAULT_SEVERITY);
    labels.insert("severity".into(), severity.into());
    if let Some(rule) = n.rule {
        labels.insert("rule".into(), rule.into());
    }
    for (key, value) in &alerting.labels {
        labels.insert(key.clone(), value.clone().into());
    }
    let mut annotations = Map::new();
    annotations.insert("summary".into(), alerting.summary(template, n).into());
    let changed = changed_paths(n);
    if !changed.is_empty() {
        annotations.insert("changes".into(), changed.join(", ").into());
    }
    let time = rfc3339(n.time);
    let mut alert = json!({
        "labels": labels,
        "annotations": annotations,
        "startsAt": time,
    });
    if resolves(n) {
        alert["endsAt"] = time.into();
    }
    Message::new(
        n.object_key(),
        n.delivery_id(),
        Vec::new(),
        alert.to_string(),
    )
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// Whether this process may deliver now (one replica of several: only
/// while it holds the lease).
pub type Gate = Arc<dyn Fn() -> bool + Send + Sync>;

/// The alerts firing, by object: sent again every interval, while the gate
/// (if one is set) is open.
#[derive(Clone, Default)]
pub struct Firing {
    alerts: Arc<Mutex<BTreeMap<String, Value>>>,
    gate: Arc<Mutex<Option<Gate>>>,
}

impl Firing {
    /// An alert opened before this process took over (a checkpoint's, after
    /// a restart or a failover) that still fires: kept alive from now on as
    /// if this process had fired it. `message` is [`message`]'s.
    pub fn keep(&self, message: &Message) {
        if let Ok(alert) = serde_json::from_slice::<Value>(&message.body) {
            let mut alerts = self.alerts.lock().unwrap();
            alerts.entry(message.key.clone()).or_insert(alert);
        }
    }

    /// Forgets every alert: a replica taking over learns again from the
    /// checkpoint which are open (the one before may have resolved some).
    pub fn clear(&self) {
        self.alerts.lock().unwrap().clear();
    }

    /// Re-sends only while `gate` says this process may deliver.
    pub fn gate(&self, gate: Gate) {
        *self.gate.lock().unwrap() = Some(gate);
    }

    fn open(&self) -> bool {
        self.gate.lock().unwrap().as_ref().is_none_or(|gate| gate())
    }
}

pub struct AlertmanagerPost {
    post: HttpPost,
    firing: Firing,
    resend: std::time::Duration,
    /// [`Alerting::keep_alive`]: whether firing alerts are re-sent.
    keep_alive: bool,
    keepalive: JoinHandle<()>,
}

impl AlertmanagerPost {
    /// `url`: the Alertmanager (`http(s)://HOST:PORT`, perhaps with a path
    /// prefix); alerts go to its `/api/v2/alerts`. Starts the re-sending
    /// (inside the runtime) of what `firing` holds.
    pub fn new(url: &SecretString, alerting: &Alerting, firing: Firing) -> AlertmanagerPost {
        let base = url.expose_secret().trim_end_matches('/');
        let endpoint = match base.ends_with("/api/v2/alerts") {
            true => base.to_string(),
            false => format!("{base}/api/v2/alerts"),
        };
        let endpoint = SecretString::from(endpoint);
        let resend = alerting.resend;
        let keepalive = tokio::spawn(keep_alive(
            HttpPost::new(endpoint.clone()),
            firing.clone(),
            resend,
        ));
        AlertmanagerPost {
            post: HttpPost::new(endpoint),
            firing,
            resend,
            keep_alive: alerting.keep_alive,
            keepalive,
        }
    }

    async fn send_one(&mut self, message: &Message) -> Attempt {
        let Ok(mut alert) = serde_json::from_slice::<Value>(&message.body) else {
            return Attempt::Rejected("the alert is not JSON".into());
        };
        {
            let mut firing = self.firing.alerts.lock().unwrap();
            let known = match alert.get("endsAt") {
                Some(_) => firing.remove(&message.key),
                None => firing.get(&message.key).cloned(),
            };
            // One alert keeps the time it began firing.
            if let Some(known) = known {
                alert["startsAt"] = known["startsAt"].clone();
            }
            if alert.get("endsAt").is_none() {
                if self.keep_alive {
                    firing.insert(message.key.clone(), alert.clone());
                }
                alert["endsAt"] = ends_at(self.resend).into();
            }
        }
        let body = Value::Array(vec![alert]).to_string();
        let request = Message {
            body: body.into(),
            ..message.clone()
        };
        self.post.post(&request).await
    }
}

impl Drop for AlertmanagerPost {
    fn drop(&mut self) {
        self.keepalive.abort();
    }
}

impl Transport for AlertmanagerPost {
    fn send<'a>(&'a mut self, message: &'a Message) -> BoxFuture<'a, Attempt> {
        Box::pin(self.send_one(message))
    }
}

/// A firing alert's `endsAt`: [`AHEAD`] intervals from now.
fn ends_at(resend: std::time::Duration) -> String {
    rfc3339(SystemTime::now() + resend * AHEAD)
}

/// Every interval, every firing alert again, `endsAt` moved ahead. A
/// failure waits for the next interval: `endsAt` leaves room for three.
/// A replica that may not deliver (its lease lapsed) sends nothing: the
/// next holder keeps alive what still fires.
async fn keep_alive(mut post: HttpPost, firing: Firing, resend: std::time::Duration) {
    loop {
        tokio::time::sleep(resend).await;
        if !firing.open() {
            continue;
        }
        let alerts: Vec<Value> = {
            let firing = firing.alerts.lock().unwrap();
            let ends = ends_at(resend);
            firing
                .values()
                .map(|alert| {
                    let mut alert = alert.clone();
                    alert["endsAt"] = ends.clone().into();
                    alert
                })
                .collect()
        };
        if alerts.is_empty() {
            continue;
        }
        let body = Value::Array(alerts).to_string();
        let message = Message::new(String::new(), String::new(), Vec::new(), body);
        let _ = tokio::time::timeout(super::delivery::ATTEMPT_TIMEOUT, post.post(&message)).await;
    }
}
