//! What the run counts for `--metrics-addr` (SPEC §12), as Prometheus metric
//! families named `kubectl_notify_*`, and whether it is ready yet.
//! Every stage reports through the free functions below; without
//! `--metrics-addr` nothing is registered and each call returns at once.

mod server;

use std::sync::Mutex;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub use server::serve;

/// One metric's labels, in the order they are written.
type Labels = Vec<(&'static str, String)>;

/// The families, registered once for the whole process.
struct Metrics {
    registry: Registry,
    events: Family<Labels, Counter>,
    changes: Family<Labels, Counter>,
    notifications: Family<Labels, Counter>,
    deliveries: Family<Labels, Counter>,
    retries: Family<Labels, Counter>,
    folded: Family<Labels, Counter>,
    circuit: Family<Labels, Gauge>,
    queue: Family<Labels, Gauge>,
    delay: Family<Labels, Histogram>,
    relists: Family<Labels, Counter>,
    restarts: Family<Labels, Counter>,
    leader: Gauge,
    reload_failures: Counter,
    rules: Family<Labels, Gauge>,
}

static METRICS: OnceLock<Metrics> = OnceLock::new();
static READY: AtomicBool = AtomicBool::new(false);
/// Rules started with the process whose first lists are not all in yet.
static LISTING: AtomicUsize = AtomicUsize::new(0);
/// Rules of `--rules` that ended while the process runs on, and how: what
/// `/readyz` adds below its `ok`.
static ENDED: Mutex<Vec<(String, &'static str)>> = Mutex::new(Vec::new());
/// When the watch event being handled arrived: deliveries it causes measure
/// their delay from it.
static ARRIVED: Mutex<Option<Instant>> = Mutex::new(None);

/// Turns counting on (once, before anything is counted); `--metrics-addr`.
pub fn enable() {
    METRICS.get_or_init(Metrics::new);
}

fn metrics() -> Option<&'static Metrics> {
    METRICS.get()
}

/// Whether anything is counted: callers skip building labels when not.
pub fn enabled() -> bool {
    METRICS.get().is_some()
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("kubectl_notify");
        let delay = Family::<Labels, Histogram>::new_with_constructor(|| {
            // 1 ms to ~65 s: a printed line up to a sink behind a long backoff.
            Histogram::new(exponential_buckets(0.001, 2.0, 17))
        });
        let metrics = Metrics {
            registry: Registry::default(),
            events: Family::default(),
            changes: Family::default(),
            notifications: Family::default(),
            deliveries: Family::default(),
            retries: Family::default(),
            folded: Family::default(),
            circuit: Family::default(),
            queue: Family::default(),
            delay,
            relists: Family::default(),
            restarts: Family::default(),
            leader: Gauge::default(),
            reload_failures: Counter::default(),
            rules: Family::default(),
        };
        let m = &metrics;
        registry.register(
            "watch_events",
            "Watch events received, by resource and event (listed, applied, deleted)",
            m.events.clone(),
        );
        registry.register(
            "changes",
            "Changes the tracker found, by resource and change (created, modified, deleted, initial)",
            m.changes.clone(),
        );
        registry.register(
            "notifications",
            "Notifications that passed the filters and went to the sinks, by resource and change",
            m.notifications.clone(),
        );
        registry.register(
            "deliveries",
            "Deliveries per sink and outcome (ok, failed, dropped)",
            m.deliveries.clone(),
        );
        registry.register(
            "delivery_retries",
            "Delivery attempts retried, per sink",
            m.retries.clone(),
        );
        registry.register(
            "sink_folded",
            "Notifications folded into a newer one of the same object in a full queue, per sink",
            m.folded.clone(),
        );
        registry.register(
            "sink_circuit_state",
            "A sink's circuit breaker: 0 closed, 1 open, 2 half-open (one probe)",
            m.circuit.clone(),
        );
        registry.register(
            "sink_queue_length",
            "Notifications waiting in a sink's queue",
            m.queue.clone(),
        );
        registry.register(
            "delivery_delay_seconds",
            "Seconds from the arrival of the watch event to the delivery of its notification, per sink",
            m.delay.clone(),
        );
        registry.register(
            "relists",
            "Lists after the first one (a watch restart that needed a re-list, 410 Gone), by resource",
            m.relists.clone(),
        );
        registry.register(
            "watch_restarts",
            "Watch failures retried with backoff (resets, timeouts, 5xx), by resource",
            m.restarts.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the lease (--leader-elect) or runs alone, else 0",
            m.leader.clone(),
        );
        registry.register(
            "rules_reload_failures",
            "Reloads of --rules FILE refused (the file invalid, or a rule it added could not run): the rules running kept running",
            m.reload_failures.clone(),
        );
        registry.register(
            "rule_running",
            "1 while a rule of --rules runs; 0 once it ended by itself (--count, --max-failures): \
             /readyz names it and why",
            m.rules.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }
}

/// The text `/metrics` answers with (OpenMetrics text, which Prometheus reads).
pub fn render() -> String {
    let mut text = String::new();
    if let Some(m) = metrics() {
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &m.registry);
    }
    text
}

fn count(family: impl Fn(&Metrics) -> &Family<Labels, Counter>, labels: Labels, by: u64) {
    if let Some(m) = metrics() {
        family(m).get_or_create(&labels).inc_by(by);
    }
}

/// A watch event of `resource` (`plural.group`): `listed`, `applied` or `deleted`.
pub fn watch_event(resource: &str, event: &'static str) {
    count(
        |m| &m.events,
        vec![("resource", resource.into()), ("event", event.into())],
        1,
    );
}

/// A change the tracker found: `created`, `modified`, `deleted` or `initial`.
pub fn change(resource: &str, change: &'static str) {
    count(
        |m| &m.changes,
        vec![("resource", resource.into()), ("change", change.into())],
        1,
    );
}

/// A watch event arrived now.
pub fn arrived() {
    if enabled() {
        *ARRIVED.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }
}

/// What is delivered next was not caused by the event that arrived last
/// (a `--hold` or `--throttle` timer released it): no delay is observed.
pub fn forget_arrival() {
    if enabled() {
        *ARRIVED.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// When the event being handled arrived, if it did and is counted.
pub fn arrival() -> Option<Instant> {
    *ARRIVED.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long ago the event being handled arrived.
pub fn since_arrival() -> Option<Duration> {
    ARRIVED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .map(|at| at.elapsed())
}

/// A notification of a `change` to an object of `resource()`, printed
/// (`printed`) and handed to the command (`command`).
pub fn notified(
    rule: Option<&str>,
    resource: impl FnOnce() -> String,
    change: &'static str,
    printed: bool,
    command: bool,
) {
    if !enabled() {
        return;
    }
    let mut labels = vec![("resource", resource()), ("change", change.into())];
    labels.extend(rule.map(|rule| ("rule", rule.to_string())));
    count(|m| &m.notifications, labels, 1);
    let delay = since_arrival();
    for (sink, to) in [("printer", printed), ("command", command)] {
        if !to {
            continue;
        }
        if sink == "printer" {
            delivered_for(rule, sink, Outcome::Ok);
        }
        if let Some(delay) = delay {
            delivery_delay(&own_sink(rule, sink), delay);
        }
    }
}

/// How one delivery to a sink ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered (for a network sink: acknowledged).
    Ok,
    /// Failed for good: a permanent error, or retries exhausted.
    Failed,
    /// Never attempted: not delivered within `--flush-timeout` on exit.
    Dropped,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Dropped => "dropped",
        }
    }
}

/// A sink as the metrics name it: `sink` (`printer`, `command`, or a network
/// sink as `TYPE#N`, e.g. `slack#1`) and, for a rule of `--rules`, `rule`:
/// two rules' `slack#1` are two sinks, each with its own queue and circuit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkLabels {
    pub rule: Option<String>,
    pub sink: String,
}

impl SinkLabels {
    /// `sink`, then `extra` if any, then `rule` if any.
    fn labels(&self, extra: Option<(&'static str, String)>) -> Labels {
        let mut labels = vec![("sink", self.sink.clone())];
        labels.extend(extra);
        labels.extend(self.rule.clone().map(|rule| ("rule", rule)));
        labels
    }
}

/// One notification's delivery to `sink` ended with `outcome`.
pub fn delivered(sink: &SinkLabels, outcome: Outcome) {
    if enabled() {
        let labels = sink.labels(Some(("outcome", outcome.label().into())));
        count(|m| &m.deliveries, labels, 1);
    }
}

/// The same, for the printer or the command of a rule (named under `--rules`).
pub fn delivered_for(rule: Option<&str>, sink: &str, outcome: Outcome) {
    if enabled() {
        delivered(&own_sink(rule, sink), outcome);
    }
}

fn own_sink(rule: Option<&str>, sink: &str) -> SinkLabels {
    SinkLabels {
        rule: rule.map(String::from),
        sink: sink.into(),
    }
}

/// `sink` delivered a notification `delay` after its event arrived.
pub fn delivery_delay(sink: &SinkLabels, delay: Duration) {
    if let Some(m) = metrics() {
        m.delay
            .get_or_create(&sink.labels(None))
            .observe(delay.as_secs_f64());
    }
}

/// `sink` retries a delivery (after a refusal, timeout, 5xx, 408 or 429).
pub fn retried(sink: &SinkLabels) {
    if enabled() {
        count(|m| &m.retries, sink.labels(None), 1);
    }
}

/// `sink`'s full queue folded a notification into a newer one of its object.
pub fn folded(sink: &SinkLabels) {
    if enabled() {
        count(|m| &m.folded, sink.labels(None), 1);
    }
}

/// A sink's circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Circuit {
    Closed = 0,
    Open = 1,
    HalfOpen = 2,
}

/// `sink`'s circuit breaker is now in `state`.
pub fn circuit(sink: &SinkLabels, state: Circuit) {
    if let Some(m) = metrics() {
        m.circuit
            .get_or_create(&sink.labels(None))
            .set(state as i64);
    }
}

/// `sink` has `length` notifications waiting.
pub fn queue_length(sink: &SinkLabels, length: usize) {
    if let Some(m) = metrics() {
        m.queue
            .get_or_create(&sink.labels(None))
            .set(i64::try_from(length).unwrap_or(i64::MAX));
    }
}

/// A list after the first one of `resource`.
pub fn relisted(resource: &str) {
    count(|m| &m.relists, vec![("resource", resource.into())], 1);
}

/// A failed watch of the resource `resource()` names, retried.
pub fn watch_restarted_with(resource: impl FnOnce() -> String) {
    if enabled() {
        count(|m| &m.restarts, vec![("resource", resource())], 1);
    }
}

/// Whether this replica delivers: holds the lease, or runs without one.
pub fn leader(active: bool) {
    if let Some(m) = metrics() {
        m.leader.set(i64::from(active));
    }
}

/// A reload of `--rules FILE` refused.
pub fn reload_failed() {
    if let Some(m) = metrics() {
        m.reload_failures.inc();
    }
}

/// A rule of `--rules` runs (started, or started again by a reload).
pub fn rule_started(rule: &str) {
    forget_rule(rule);
    if let Some(m) = metrics() {
        m.rules
            .get_or_create(&vec![("rule", rule.to_string())])
            .set(1);
    }
}

/// A rule of `--rules` ended by itself (`reason`: `count`, `max-failures`,
/// ...) while the process runs on.
pub fn rule_ended(rule: &str, reason: &'static str) {
    forget_rule(rule);
    ENDED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((rule.to_string(), reason));
    if let Some(m) = metrics() {
        m.rules
            .get_or_create(&vec![("rule", rule.to_string())])
            .set(0);
    }
}

/// A reload removed the rule (or is about to start it again).
pub fn forget_rule(rule: &str) {
    ENDED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|(r, _)| r != rule);
    if let Some(m) = metrics() {
        m.rules.remove(&vec![("rule", rule.to_string())]);
    }
}

/// The rules that ended while the process runs on, one line each.
pub fn ended_rules() -> String {
    ENDED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(rule, reason)| format!("rule {rule} ended ({reason}); the others run\n"))
        .collect()
}

/// `/readyz` answers 200 from now on: the first list of every target is in
/// (or this replica stands by, ready to take over).
pub fn set_ready() {
    READY.store(true, Ordering::Relaxed);
}

/// The process starts `rules` rules: ready once each has listed.
pub fn rules_listing(rules: usize) {
    LISTING.store(rules, Ordering::Relaxed);
}

/// One rule's first list of every target is in; the last one makes the
/// process ready.
pub fn rule_listed() {
    let left = LISTING
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .map_or(0, |n| n - 1);
    if left == 0 {
        set_ready();
    }
}

pub fn is_ready() -> bool {
    READY.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_with_their_prefix_labels_and_units() {
        enable();
        watch_event("widgets.example.com", "applied");
        notified(
            None,
            || "widgets.example.com".into(),
            "modified",
            true,
            false,
        );
        let slack = own_sink(None, "slack");
        delivered(&slack, Outcome::Failed);
        delivery_delay(&own_sink(None, "printer"), Duration::from_millis(3));
        circuit(&slack, Circuit::Open);
        queue_length(&slack, 7);
        let text = render();
        for line in [
            "kubectl_notify_watch_events_total{resource=\"widgets.example.com\",event=\"applied\"}",
            "kubectl_notify_notifications_total{resource=\"widgets.example.com\",change=\"modified\"}",
            "kubectl_notify_deliveries_total{sink=\"slack\",outcome=\"failed\"} 1",
            "kubectl_notify_delivery_delay_seconds_count{sink=\"printer\"} 1",
            "kubectl_notify_sink_circuit_state{sink=\"slack\"} 1",
            "kubectl_notify_sink_queue_length{sink=\"slack\"} 7",
            "# TYPE kubectl_notify_leader gauge",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
