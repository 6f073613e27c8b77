//! What every network sink needs, written once: a bounded queue per sink,
//! a worker task that delivers in order (several messages in flight where
//! the sink allows, never two of one object) with retries, backoff and a
//! circuit breaker, and a flush on exit that reports what was not delivered.
//! A sink only says how one attempt goes ([`Transport`]).

mod queue;
mod retry;

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::printer::FieldChange;
use crate::metrics::SinkLabels;
use queue::Queue;
use retry::{Breaker, COOL_DOWN, OPEN_AFTER};

/// One notification, rendered for one sink, owned so it can wait.
#[derive(Debug, Clone)]
pub struct Message {
    /// The object (its UID): messages of one object keep their order and
    /// fold into each other when the queue is full.
    pub key: String,
    /// `<uid>/<resourceVersion>/<type>`: the same on every re-send.
    pub id: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
    /// When the notification was handed over, for the delay to delivery.
    pub noticed: Instant,
    /// The notification's place among all handed to the sinks (from 1):
    /// what a checkpoint may count as delivered (`Channel::lowest_pending`).
    pub seq: u64,
    /// What a modification changed, for a message that shows it: when the
    /// queue folds older messages of the object into this one, it carries
    /// their changed paths too.
    pub changes: Option<Changes>,
}

/// How a message's changed paths are read and written again.
#[derive(Debug, Clone)]
pub struct Changes {
    /// Kept beside a body that does not hold them (Slack's text); `None`:
    /// `read` finds them in the body (a `-o json` line).
    pub kept: Option<Vec<FieldChange>>,
    pub read: fn(&[u8]) -> Vec<FieldChange>,
    /// The body again, showing these changes instead.
    pub write: fn(&[u8], &[FieldChange]) -> Bytes,
}

impl Changes {
    /// Changes found in a `-o json` body.
    pub fn in_json_line() -> Changes {
        Changes {
            kept: None,
            read: super::printer::json_line_changes,
            write: super::printer::json_line_with_changes,
        }
    }

    fn list(&self, body: &[u8]) -> Vec<FieldChange> {
        self.kept.clone().unwrap_or_else(|| (self.read)(body))
    }
}

impl Message {
    pub fn new(
        key: String,
        id: String,
        headers: Vec<(&'static str, String)>,
        body: impl Into<Bytes>,
    ) -> Message {
        Message {
            key,
            id,
            headers,
            body: body.into(),
            // From the watch event's arrival where known (--metrics-addr).
            noticed: crate::metrics::arrival().map_or_else(Instant::now, Instant::from_std),
            changes: None,
            seq: 0,
        }
    }

    pub fn with_changes(mut self, changes: Changes) -> Message {
        self.changes = Some(changes);
        self
    }

    /// This message replaces `older`, of the same object, waiting just
    /// before it: it carries every path changed since the message before
    /// `older` (see [`queue::merge`]).
    fn take_in(&mut self, older: &Message) {
        let (Some(mine), Some(theirs)) = (&self.changes, &older.changes) else {
            // An older creation or a met object has no changes to hand on;
            // a newer deletion or creation shows none.
            return;
        };
        let merged = queue::merge(&theirs.list(&older.body), &mine.list(&self.body));
        self.body = (mine.write)(&self.body, &merged);
        if let Some(changes) = self.changes.as_mut().filter(|c| c.kept.is_some()) {
            changes.kept = Some(merged);
        }
    }
}

/// How one attempt to deliver went.
#[derive(Debug)]
pub enum Attempt {
    Delivered,
    /// Refused, timed out, 408, 429, 5xx: try again (after `after`, if the
    /// sink said, e.g. `Retry-After`).
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// The sink will never take this message (a 4xx): reported, dropped.
    Rejected(String),
}

/// An attempt under way: answered already, or to be answered by the future
/// (which holds no borrow of the transport, so others may start meanwhile).
pub enum Started {
    Done(Attempt),
    Waiting(BoxFuture<'static, Attempt>),
}

/// One attempt at delivering a message; the queue, retries and breaker
/// around it are [`Channel`]'s. Reasons must never hold the sink's URL.
pub trait Transport: Send + 'static {
    fn send<'a>(&'a mut self, message: &'a Message) -> BoxFuture<'a, Attempt>;

    /// How many messages may be in flight at once (never two of one
    /// object); 1: each is answered before the next is sent.
    fn window(&self) -> usize {
        1
    }

    /// Starts an attempt: what must happen in order (connecting, handing
    /// the message to the connection) is done when this returns; the answer
    /// may come later, while the next messages start.
    fn start<'a>(&'a mut self, message: &'a Message) -> BoxFuture<'a, Started> {
        Box::pin(async move { Started::Done(self.send(message).await) })
    }
}

impl Transport for Box<dyn Transport> {
    fn send<'a>(&'a mut self, message: &'a Message) -> BoxFuture<'a, Attempt> {
        (**self).send(message)
    }

    fn window(&self) -> usize {
        (**self).window()
    }

    fn start<'a>(&'a mut self, message: &'a Message) -> BoxFuture<'a, Started> {
        (**self).start(message)
    }
}

/// Bounds on one attempt, for every transport.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// A message was queued.
    queued: Notify,
    /// The worker has nothing in hand and nothing queued.
    idle: Notify,
    /// Flushing: probe an open circuit now rather than after its cool-down.
    hurry: Notify,
    /// Flushing: a circuit that opens is probed again after
    /// [`FLUSH_PROBE`], not after its cool-down, until the flush ends.
    flushing: std::sync::atomic::AtomicBool,
}

/// While flushing, how long an open circuit waits before its next probe.
const FLUSH_PROBE: Duration = Duration::from_secs(1);

struct State {
    queue: Queue,
    /// Messages taken from the queue and not yet delivered or rejected
    /// (in flight, or waiting to be sent again after a failure).
    in_hand: usize,
    /// The lowest `seq` among those.
    lowest_in_hand: Option<u64>,
    delivered: u64,
    rejected: u64,
    last_error: Option<String>,
    /// The queue has held more than `--sink-queue` (said once).
    outgrown: bool,
}

impl Default for State {
    fn default() -> Self {
        State {
            queue: Queue::new(1),
            in_hand: 0,
            lowest_in_hand: None,
            delivered: 0,
            rejected: 0,
            last_error: None,
            outgrown: false,
        }
    }
}

/// One sink's queue and the task that empties it.
pub struct Channel {
    label: String,
    /// The sink in `--metrics-addr`'s labels (`slack#1`, and its rule).
    metric: SinkLabels,
    shared: Arc<Shared>,
    worker: JoinHandle<()>,
}

impl Channel {
    /// Starts the worker (inside the tokio runtime). `label` names the sink
    /// in messages (type and number; the host at `-vv`), never the URL.
    pub fn start(
        label: String,
        metric: SinkLabels,
        transport: impl Transport,
        capacity: usize,
        verbosity: u8,
    ) -> Channel {
        let shared = Arc::new(Shared::default());
        shared.state.lock().unwrap().queue = Queue::new(capacity);
        let worker = tokio::spawn(work(
            shared.clone(),
            transport,
            label.clone(),
            metric.clone(),
            verbosity,
        ));
        Channel {
            label,
            metric,
            shared,
            worker,
        }
    }

    /// Queues a message; never waits.
    pub fn push(&self, message: Message) {
        let outgrown = {
            let mut state = self.shared.state.lock().unwrap();
            let folds = state.queue.folds;
            state.queue.push(message);
            if state.queue.folds > folds {
                crate::metrics::folded(&self.metric);
            }
            crate::metrics::queue_length(&self.metric, state.queue.len());
            let outgrown = !state.outgrown && state.queue.len() > state.queue.capacity();
            state.outgrown |= outgrown;
            outgrown.then(|| state.queue.capacity())
        };
        if let Some(capacity) = outgrown {
            // Each waiting message is then a different object's newest state:
            // dropping one would lose that object's state, and waiting would
            // stall the watch (SPEC §11), so the queue holds one per object.
            crate::log::warning(
                "sink",
                format_args!(
                    "{}: more than --sink-queue {capacity} notifications wait, each the newest \
                     state of a different object, which is never dropped: the queue holds one \
                     per object",
                    self.label
                ),
            );
        }
        self.shared.queued.notify_one();
    }

    /// Waits until everything queued is delivered (or rejected), or until
    /// `deadline`; an open circuit's cool-down is cut short.
    /// Returns whether everything went.
    pub async fn flush(&self, deadline: Instant) -> bool {
        self.shared
            .flushing
            .store(true, std::sync::atomic::Ordering::Release);
        self.shared.hurry.notify_one();
        self.settled(deadline).await
    }

    /// Waits until everything queued is delivered (or rejected), or until
    /// `deadline`, and goes on delivering what comes next.
    /// Returns whether everything went.
    pub async fn settled(&self, deadline: Instant) -> bool {
        loop {
            let idle = self.shared.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            {
                let state = self.shared.state.lock().unwrap();
                if state.queue.is_empty() && state.in_hand == 0 {
                    return true;
                }
            }
            tokio::select! {
                _ = idle => {}
                _ = tokio::time::sleep_until(deadline) => return false,
            }
        }
    }

    /// The lowest `seq` not yet delivered or rejected (a folded message
    /// counts as its newer replacement); `None` when nothing is pending.
    pub fn lowest_pending(&self) -> Option<u64> {
        let state = self.shared.state.lock().unwrap();
        [state.lowest_in_hand, state.queue.lowest_seq()]
            .into_iter()
            .flatten()
            .min()
    }

    /// How many messages are queued or in hand.
    pub fn pending(&self) -> usize {
        let state = self.shared.state.lock().unwrap();
        state.queue.len() + state.in_hand
    }

    /// What to say on exit: nothing if all was delivered and nothing folded.
    /// `cut` says how the flush ended for what is left (`within
    /// --flush-timeout 10s`).
    pub fn report(&self, cut: &str) -> Vec<String> {
        self.worker.abort();
        let state = self.shared.state.lock().unwrap();
        let mut lines = Vec::new();
        let pending = state.queue.len() + state.in_hand;
        for _ in 0..pending {
            crate::metrics::delivered(&self.metric, crate::metrics::Outcome::Dropped);
        }
        if pending > 0 {
            lines.push(format!(
                "warning: {}: {pending} notification{} not delivered {cut}{}",
                self.label,
                plural(pending as u64),
                state
                    .last_error
                    .as_ref()
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default()
            ));
        }
        if state.queue.folds > 0 {
            lines.push(format!(
                "warning: {}: the queue was full: {} notification{} folded into a newer one of the same object",
                self.label,
                state.queue.folds,
                plural(state.queue.folds)
            ));
        }
        if state.rejected > 0 {
            lines.push(format!(
                "warning: {}: {} notification{} rejected (not retried)",
                self.label,
                state.rejected,
                plural(state.rejected)
            ));
        }
        lines
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Takes messages in order and keeps up to the transport's window of them
/// in flight, never two of one object (so each object's order holds). The
/// answers are taken in order: a message is settled (delivered or rejected)
/// when its answer comes and every one before it is settled; a failure
/// cancels what is in flight and, after the backoff, sends again from the
/// first unsettled message (each with its id, so a receiver can drop what
/// it already had).
async fn work(
    shared: Arc<Shared>,
    mut transport: impl Transport,
    label: String,
    metric: SinkLabels,
    verbosity: u8,
) {
    let window = transport.window().max(1);
    let mut breaker = Breaker::default();
    let mut next_attempt: Option<Instant> = None;
    let say = |line: String| crate::log::line_as_said("sink", &line);
    // Taken from the queue and not settled, in order; the first
    // `answers.len()` of them are in flight, the rest wait to be sent again.
    let mut unsettled: VecDeque<Message> = VecDeque::new();
    let mut answers: FuturesOrdered<BoxFuture<'static, Attempt>> = FuturesOrdered::new();
    // The objects of `unsettled` (one message each at most).
    let mut objects: HashSet<String> = HashSet::new();
    loop {
        if let Some(at) = next_attempt.take() {
            // On exit, an open circuit gets its probe at once; a backoff
            // or a Retry-After is waited out.
            let open = matches!(breaker.circuit, retry::Circuit::Open { .. });
            // A circuit that opened during the flush is probed again soon:
            // the flush has less time than a cool-down.
            let flushing = shared.flushing.load(std::sync::atomic::Ordering::Acquire);
            let at = match open && flushing {
                true => at.min(Instant::now() + FLUSH_PROBE),
                false => at,
            };
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = shared.hurry.notified(), if open => {}
            }
            if open {
                crate::metrics::circuit(&metric, crate::metrics::Circuit::HalfOpen);
            }
        }
        while answers.len() < unsettled.len() {
            let answer = begin(&mut transport, &unsettled[answers.len()]).await;
            answers.push_back(answer);
        }
        while unsettled.len() < window {
            let message = {
                let mut state = shared.state.lock().unwrap();
                let Some(next) = state.queue.front() else {
                    break;
                };
                if objects.contains(&next.key) {
                    // Its object's message before it is still in flight.
                    break;
                }
                let message = state.queue.pop().expect("a message in front");
                crate::metrics::queue_length(&metric, state.queue.len());
                state.in_hand += 1;
                state.lowest_in_hand = Some(
                    state
                        .lowest_in_hand
                        .map_or(message.seq, |s| s.min(message.seq)),
                );
                message
            };
            let answer = begin(&mut transport, &message).await;
            objects.insert(message.key.clone());
            unsettled.push_back(message);
            answers.push_back(answer);
        }
        let queued = shared.queued.notified();
        tokio::pin!(queued);
        queued.as_mut().enable();
        if unsettled.is_empty() {
            if !shared.state.lock().unwrap().queue.is_empty() {
                continue;
            }
            shared.idle.notify_waiters();
            queued.await;
            continue;
        }
        let room = unsettled.len() < window;
        let attempt = tokio::select! {
            biased;
            attempt = answers.next() => attempt.expect("a message in flight"),
            _ = queued, if room => continue,
        };
        match attempt {
            Attempt::Delivered => {
                let message = settle(&shared, &mut unsettled);
                objects.remove(&message.key);
                let failed = breaker.failures;
                let was_open = breaker.success();
                crate::metrics::delivered(&metric, crate::metrics::Outcome::Ok);
                crate::metrics::delivery_delay(&metric, message.noticed.elapsed());
                // Said at every delivery, not only when this circuit
                // closes: a changed rule's old version, sharing the
                // gauge, may have left it open.
                crate::metrics::circuit(&metric, crate::metrics::Circuit::Closed);
                if failed > 0 || was_open {
                    say(format!(
                        "{label}: delivering again after {failed} failed attempt{}",
                        plural(failed.into())
                    ));
                }
                shared.state.lock().unwrap().delivered += 1;
                if verbosity > 1 {
                    say(format!(
                        "{label}: delivered {} after {} ms",
                        message.id,
                        message.noticed.elapsed().as_millis()
                    ));
                }
            }
            Attempt::Rejected(reason) => {
                let message = settle(&shared, &mut unsettled);
                objects.remove(&message.key);
                if breaker.success() {
                    crate::metrics::circuit(&metric, crate::metrics::Circuit::Closed);
                }
                crate::metrics::delivered(&metric, crate::metrics::Outcome::Failed);
                say(format!(
                    "warning: {label}: rejected the notification {}: {reason}; not retried",
                    message.id
                ));
                let mut state = shared.state.lock().unwrap();
                state.rejected += 1;
                state.last_error = Some(reason);
            }
            Attempt::Retry { reason, after } => {
                // What is in flight behind it is sent again after it.
                answers = FuturesOrdered::new();
                let now = Instant::now();
                let (at, opened) = breaker.failure(now, after);
                next_attempt = Some(at);
                crate::metrics::retried(&metric);
                if opened {
                    crate::metrics::circuit(&metric, crate::metrics::Circuit::Open);
                }
                let wait = humantime::format_duration(Duration::from_millis(
                    (at - now).as_millis() as u64,
                ));
                let flushing = shared.flushing.load(std::sync::atomic::Ordering::Acquire);
                if opened && flushing {
                    say(format!(
                        "warning: {label}: {OPEN_AFTER} failures in a row ({reason}); \
                         circuit open, probed every {} while the flush lasts",
                        humantime::format_duration(FLUSH_PROBE)
                    ));
                } else if opened {
                    say(format!(
                        "warning: {label}: {OPEN_AFTER} failures in a row ({reason}); \
                         no attempts for {} (circuit open), then one probe",
                        humantime::format_duration(COOL_DOWN)
                    ));
                } else if breaker.failures == 1 {
                    say(format!("warning: {label}: {reason}; retrying"));
                } else if verbosity > 0 {
                    say(format!(
                        "{label}: attempt {} failed: {reason}; next in {wait}",
                        breaker.failures
                    ));
                }
                shared.state.lock().unwrap().last_error = Some(reason);
            }
        }
    }
}

/// Starts one attempt, bounded by [`ATTEMPT_TIMEOUT`] from now; its answer
/// comes from the returned future.
async fn begin(transport: &mut impl Transport, message: &Message) -> BoxFuture<'static, Attempt> {
    let deadline = Instant::now() + ATTEMPT_TIMEOUT;
    let no_answer = || Attempt::Retry {
        reason: format!("no answer within {}s", ATTEMPT_TIMEOUT.as_secs()),
        after: None,
    };
    match tokio::time::timeout_at(deadline, transport.start(message)).await {
        Ok(Started::Done(attempt)) => Box::pin(std::future::ready(attempt)),
        Ok(Started::Waiting(answer)) => Box::pin(async move {
            tokio::time::timeout_at(deadline, answer)
                .await
                .unwrap_or_else(|_| no_answer())
        }),
        Err(_) => Box::pin(std::future::ready(no_answer())),
    }
}

/// The first unsettled message is settled: it leaves the hand.
fn settle(shared: &Shared, unsettled: &mut VecDeque<Message>) -> Message {
    let message = unsettled.pop_front().expect("the message answered");
    let mut state = shared.state.lock().unwrap();
    state.in_hand -= 1;
    state.lowest_in_hand = unsettled.iter().map(|m| m.seq).min();
    message
}
