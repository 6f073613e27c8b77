//! The sinks that deliver over the network (`--sink`): each renders a
//! notification into a message at once, then a [`Channel`] of its own
//! delivers it in the background, so the watch never waits on a sink.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use secrecy::SecretString;

use super::address::{SinkKind, SinkSpec};
use super::alert::Alerting;
use super::alertmanager::{AlertmanagerPost, Firing, Gate};
use super::chat::{Chat, ChatText};
use super::delivery::{Channel, Message, Transport};
use super::http::HttpPost;
use super::kafka::{self, KafkaProduce};
use super::nats::NatsPublish;
use super::pagerduty::PagerDutyPost;
use super::printer::{Template, json_line_of};
use super::{Notification, Sink, alertmanager, cloudevents, pagerduty, webhook};
use crate::exit::Result;

/// `--sink-queue` and `--flush-timeout`.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryPolicy {
    pub queue: usize,
    pub flush_timeout: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            queue: 10_000,
            flush_timeout: Duration::from_secs(10),
        }
    }
}

enum Render {
    Webhook,
    CloudEvents,
    Chat(ChatText),
    Nats,
    /// With the alerts it keeps alive.
    Alertmanager(Firing),
    PagerDuty,
    Kafka,
}

struct Outlet {
    render: Render,
    channel: Channel,
}

/// Every `--sink`, as one sink; cloned handles share the same channels.
#[derive(Clone, Default)]
pub struct Outbox {
    outlets: Rc<Vec<Outlet>>,
    policy: DeliveryPolicy,
    /// `--message`, for the chats' text and the alerts' summary.
    message: Option<Rc<Template>>,
    alerting: Rc<Alerting>,
    /// How many notifications were handed over: the last one's `seq`.
    handed: Rc<Cell<u64>>,
    /// The rule the sinks are of (`--rules`).
    rule: Option<Rc<str>>,
}

impl Outbox {
    /// Starts one delivery task per sink (inside the runtime); connects
    /// only when there is something to deliver. A rule's name (`--rules`)
    /// labels its sinks' metrics.
    pub fn start(
        rule: Option<&str>,
        specs: Vec<SinkSpec>,
        message: Option<Template>,
        alerting: Alerting,
        policy: DeliveryPolicy,
        verbosity: u8,
    ) -> Outbox {
        let message = message.map(Rc::new);
        let https = specs.iter().any(|spec| {
            let url = secrecy::ExposeSecret::expose_secret(&spec.url);
            url.starts_with("https://") || url.starts_with("kafka+ssl://")
        });
        if let Some(warning) = https.then(super::http::ca_file_warning).flatten() {
            // The process's setting, not a rule's: said once, not per rule.
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| crate::log::warning("sink", warning));
        }
        // Under `--rules`, every line about a sink starts with its rule's
        // name, as the rule's other lines do (`NAME  slack sink #1: ...`).
        let said = rule.map(|rule| format!("{rule}  ")).unwrap_or_default();
        let outlets = specs
            .into_iter()
            .map(|spec| {
                if let Some(warning) = spec.warning() {
                    let warning = warning.strip_prefix("warning: ").unwrap_or(&warning);
                    crate::log::warning("sink", format_args!("{said}{warning}"));
                }
                let label = format!("{said}{}", spec.label(verbosity > 1));
                let metric = crate::metrics::SinkLabels {
                    rule: rule.map(String::from),
                    sink: spec.metric_name(),
                };
                let channel = |transport: Box<dyn Transport>| {
                    Channel::start(
                        label.clone(),
                        metric.clone(),
                        transport,
                        policy.queue,
                        verbosity,
                    )
                };
                match spec.kind {
                    SinkKind::Nats => {
                        let server = SecretString::from(spec.nats_server());
                        let subject = spec.subject.clone().unwrap_or_default();
                        Outlet {
                            render: Render::Nats,
                            channel: channel(Box::new(NatsPublish::new(server, subject))),
                        }
                    }
                    SinkKind::Kafka => Outlet {
                        render: Render::Kafka,
                        channel: channel(Box::new(KafkaProduce::new(&spec.url))),
                    },
                    SinkKind::Alertmanager => {
                        let firing = Firing::default();
                        let post = AlertmanagerPost::new(&spec.url, &alerting, firing.clone());
                        Outlet {
                            render: Render::Alertmanager(firing),
                            channel: channel(Box::new(post)),
                        }
                    }
                    SinkKind::PagerDuty => Outlet {
                        render: Render::PagerDuty,
                        channel: channel(Box::new(PagerDutyPost::new(&spec.url))),
                    },
                    kind => Outlet {
                        render: match kind {
                            SinkKind::Webhook => Render::Webhook,
                            SinkKind::CloudEvents => Render::CloudEvents,
                            // Every chat sink gets the one --message.
                            _ => Render::Chat(ChatText::new(Chat::of(kind), message.clone())),
                        },
                        // Chats keep one request at a time: their services
                        // rate-limit, and people read them in order.
                        channel: channel(Box::new(HttpPost::new(spec.url).pipelined(match kind {
                            SinkKind::Webhook | SinkKind::CloudEvents => super::http::WINDOW,
                            _ => 1,
                        }))),
                    },
                }
            })
            .collect();
        Outbox {
            outlets: Rc::new(outlets),
            policy,
            message,
            alerting: Rc::new(alerting),
            handed: Rc::default(),
            rule: rule.map(Rc::from),
        }
    }

    /// Alertmanager's re-sending goes on only while `gate` says this
    /// process may deliver (a replica that lost its lease stops at once).
    pub fn gate(&self, gate: Gate) {
        for firing in self.firing() {
            firing.gate(gate.clone());
        }
    }

    /// Taking over (a restart or a failover): the alerts kept alive are
    /// exactly those [`Outbox::keep_firing`] is told of next, no others.
    pub fn forget_firing(&self) {
        for firing in self.firing() {
            firing.clear();
        }
    }

    /// An alert a checkpoint has open whose condition still holds on
    /// `object` as it is now: Alertmanager gets it again on the re-send
    /// interval, as if this process had fired it, so it does not expire
    /// while it fires. Nothing else is told: it was delivered before.
    pub fn keep_firing(&self, target: &crate::target::Target, object: &serde_json::Value) {
        let occasion = super::Occasion::Changed(crate::tracker::ChangeKind::Modified);
        let n = Notification {
            occasion,
            time: std::time::SystemTime::now(),
            target,
            object,
            previous: None,
            rule: self.rule.as_deref(),
        };
        for firing in self.firing() {
            firing.keep(&alertmanager::message(
                &n,
                &self.alerting,
                self.message.as_deref(),
            ));
        }
    }

    /// Whether an `alertmanager:` sink keeps alerts alive (`--resolve`).
    pub fn keeps_alerts_alive(&self) -> bool {
        self.alerting.keep_alive && self.firing().next().is_some()
    }

    fn firing(&self) -> impl Iterator<Item = &Firing> {
        self.outlets.iter().filter_map(|o| match &o.render {
            Render::Alertmanager(firing) => Some(firing),
            _ => None,
        })
    }

    /// `--flush-timeout`.
    pub fn flush_timeout(&self) -> std::time::Duration {
        self.policy.flush_timeout
    }

    /// Whether any `--sink` was given.
    pub fn is_empty(&self) -> bool {
        self.outlets.is_empty()
    }

    /// How many notifications were handed over so far.
    pub fn handed(&self) -> u64 {
        self.handed.get()
    }

    /// Every notification up to this one (by the count of [`handed`]) is
    /// acknowledged by every sink, or was given up on and reported: what a
    /// checkpoint may count as delivered (SPEC §12).
    ///
    /// [`handed`]: Outbox::handed
    pub fn acknowledged(&self) -> u64 {
        self.outlets
            .iter()
            .filter_map(|o| o.channel.lowest_pending())
            .min()
            .map_or(self.handed.get(), |lowest| lowest - 1)
    }

    /// Waits until the sinks delivered (or gave up on) everything handed
    /// to them so far, for up to `--flush-timeout`, or until `stop`
    /// completes; they go on delivering what comes next.
    pub async fn settled(&self, stop: impl Future<Output = ()>) {
        let deadline = tokio::time::Instant::now() + self.policy.flush_timeout;
        let all =
            futures::future::join_all(self.outlets.iter().map(|o| o.channel.settled(deadline)));
        tokio::select! {
            _ = all => {}
            () = stop => {}
        }
    }

    /// On exit: delivers what is pending for up to `--flush-timeout`, then
    /// says on stderr what could not be delivered (and what was folded).
    /// Delivers what is pending for up to `--flush-timeout`, or until
    /// `stop` (a second interrupt) completes, then reports what was not.
    /// `announce`: say first what is waited for and how to cut it short
    /// (the run was interrupted, so its user is waiting for it to end).
    pub async fn flush(&self, announce: bool, stop: impl Future<Output = ()>) {
        if self.outlets.is_empty() {
            return;
        }
        let timeout = crate::duration::show(self.policy.flush_timeout);
        let pending: usize = self.outlets.iter().map(|o| o.channel.pending()).sum();
        if announce && pending > 0 {
            let said = self
                .rule
                .as_deref()
                .map(|rule| format!("{rule}  "))
                .unwrap_or_default();
            crate::log::info(
                "sink",
                format_args!(
                    "{said}flushing {pending} pending notification{} (up to {timeout}; interrupt \
                     again to stop now)",
                    if pending == 1 { "" } else { "s" }
                ),
            );
        }
        let deadline = tokio::time::Instant::now() + self.policy.flush_timeout;
        let all = futures::future::join_all(self.outlets.iter().map(|o| o.channel.flush(deadline)));
        let cut = tokio::select! {
            _ = all => format!("within --flush-timeout {timeout}"),
            () = stop => "(the flush was interrupted)".to_string(),
        };
        for outlet in self.outlets.iter() {
            for line in outlet.channel.report(&cut) {
                crate::log::line_as_said("sink", &line);
            }
        }
    }
}

impl Sink for Outbox {
    fn deliver(&mut self, n: &Notification) -> Result<()> {
        let seq = self.handed.get() + 1;
        self.handed.set(seq);
        let mut json_line: Option<Bytes> = None;
        let mut line = || {
            json_line
                .get_or_insert_with(|| Bytes::from(json_line_of(n)))
                .clone()
        };
        for outlet in self.outlets.iter() {
            let message = match &outlet.render {
                Render::Webhook => webhook::message(n, &line()),
                // JetStream drops a second message with an id it holds: two
                // rules telling one change to one stream are two messages.
                Render::Nats => {
                    let mut message = webhook::message(n, &line());
                    if let Some(rule) = n.rule {
                        message.id = format!("{rule}/{}", message.id);
                    }
                    message
                }
                Render::CloudEvents => cloudevents::message(n, &line()),
                Render::Chat(text) => text.message(n),
                Render::Alertmanager(_) => {
                    alertmanager::message(n, &self.alerting, self.message.as_deref())
                }
                Render::PagerDuty => pagerduty::message(n, &self.alerting, self.message.as_deref()),
                Render::Kafka => kafka::message(n, &line()),
            };
            outlet.channel.push(Message { seq, ..message });
        }
        Ok(())
    }
}
