//! What the alert sinks (`alertmanager:`, `pagerduty:`) share: the alert's
//! name, labels and severity (`--alert-name`, `--label`, `--severity`), its
//! summary, and which paths changed.

use std::time::Duration;

use super::Notification;
use super::printer::{Template, diff};

/// `--alert-name` when none is given.
pub const DEFAULT_NAME: &str = "KubectlNotify";
/// `--severity` when none is given (PagerDuty's levels).
pub const DEFAULT_SEVERITY: &str = "error";
pub const SEVERITIES: [&str; 4] = ["critical", "error", "warning", "info"];
/// How often firing alerts are sent again to Alertmanager, as Prometheus
/// does (its `--rules.alert.resend-delay`).
pub const RESEND: Duration = Duration::from_secs(60);

/// How the alert sinks name and rank an alert.
#[derive(Debug, Clone)]
pub struct Alerting {
    pub name: String,
    /// `--label K=V`, in the order given.
    pub labels: Vec<(String, String)>,
    pub severity: Option<String>,
    /// `--when`'s expression: the default summary says what holds.
    pub condition: Option<String>,
    /// Alertmanager's re-send interval ([`RESEND`]; shorter in tests).
    pub resend: Duration,
    /// `--resolve`: firing alerts are kept alive (re-sent) until resolved.
    /// Without it nothing says when an alert stops firing, so each one is
    /// sent once and expires at its `endsAt`.
    pub keep_alive: bool,
}

impl Default for Alerting {
    fn default() -> Self {
        Alerting {
            name: DEFAULT_NAME.to_string(),
            labels: Vec::new(),
            severity: None,
            condition: None,
            resend: RESEND,
            keep_alive: true,
        }
    }
}

impl Alerting {
    /// `--message` on the object, else (also when it renders empty: an
    /// empty summary is refused) what holds for which object:
    /// `widget.example.com/foo in default: .status.phase == "Failed"`
    /// (without `--when`, the kind of change).
    pub fn summary(&self, template: Option<&Template>, n: &Notification) -> String {
        if let Some(text) = template.map(|template| template.render_line(n.object))
            && !text.trim().is_empty()
        {
            return text;
        }
        let meta = &n.object["metadata"];
        let mut text = n
            .target
            .object_name(meta["name"].as_str().unwrap_or_default());
        if let Some(namespace) = meta["namespace"].as_str() {
            text.push_str(&format!(" in {namespace}"));
        }
        match &self.condition {
            Some(condition) => text.push_str(&format!(": {condition}")),
            None => text.push_str(&format!(": {}", n.event())),
        }
        text
    }

    /// Stable per object and rule: the alert's name and the object's UID,
    /// and under `--rules` the rule's name between them (two rules' alerts
    /// on one object are two alerts: one resolving never ends the other).
    pub fn dedup_key(&self, n: &Notification) -> String {
        match n.rule {
            Some(rule) => format!("{}/{rule}/{}", self.name, n.object_key()),
            None => format!("{}/{}", self.name, n.object_key()),
        }
    }
}

/// The paths a modification (or a resolution by one) changed.
pub fn changed_paths(n: &Notification) -> Vec<String> {
    match n.previous {
        Some(previous) if n.shows_changes() => diff(&previous.value(), n.object)
            .into_iter()
            .map(|c| c.path)
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether this notification closes an alert (`--resolve`).
pub fn resolves(n: &Notification) -> bool {
    n.event() == "resolved"
}
