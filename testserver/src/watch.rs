//! Watch streams: newline-delimited `{"type","object"}` events after a
//! resourceVersion, selector transitions as ADDED/DELETED, bookmarks,
//! timeouts, streaming lists and the 410 Expired ERROR event. The stream loop
//! (`Stream::run`) is the one place lines are written, so the watch faults
//! (event limits, stalls, injected bookmarks and ERROR events) are checks
//! and channel messages there.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::StreamingLists;
use crate::catalog::ResourceType;
use crate::request::{Ctx, Target, selectors};
use crate::response::{error_response, stream_response};
use crate::selector::{FieldSelector, LabelSelector};
use crate::shared::{Shared, lock};
use crate::status::ApiError;
use crate::store::{Delivery, Event, EventType, Subscription, WatchStart};
use crate::table::{self, Form, IncludeObject};

#[derive(Serialize)]
struct WireEvent<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    object: &'a T,
}

fn line(kind: &str, object: &impl Serialize) -> Bytes {
    let mut s = serde_json::to_string(&WireEvent { kind, object }).expect("event serializes");
    s.push('\n');
    Bytes::from(s)
}

/// What one watcher sees: its namespace, selectors and output form.
struct View {
    rt: ResourceType,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    form: Form,
    include: IncludeObject,
    headers_sent: bool,
}

impl View {
    fn matches(&self, obj: &Value) -> bool {
        let ns_ok = self.namespace.as_deref().is_none_or(|ns| {
            obj.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns)
        });
        ns_ok && self.labels.matches(obj) && self.fields.matches(obj)
    }

    /// The event this watcher gets for a committed change, as the apiserver's
    /// cacher decides it: an object that stops matching is DELETED (its old
    /// state at the new resourceVersion), one that starts matching is ADDED.
    fn filter(&self, ev: &Event) -> Option<(EventType, Value)> {
        let now = self.matches(&ev.object);
        let before = ev.prev.as_deref().is_some_and(|p| self.matches(p));
        match ev.kind {
            EventType::Added => now.then(|| (EventType::Added, (*ev.object).clone())),
            EventType::Deleted => now.then(|| (EventType::Deleted, (*ev.object).clone())),
            EventType::Modified => match (before, now) {
                (true, true) => Some((EventType::Modified, (*ev.object).clone())),
                (false, true) => Some((EventType::Added, (*ev.object).clone())),
                (true, false) => {
                    let mut old = ev.prev.as_deref().cloned().unwrap_or_default();
                    old["metadata"]["resourceVersion"] = json!(ev.rv.to_string());
                    Some((EventType::Deleted, old))
                }
                (false, false) => None,
            },
        }
    }

    fn render(&mut self, kind: EventType, obj: &Value) -> Bytes {
        match self.form {
            Form::Object => return line(kind.as_str(), obj),
            Form::Metadata => return line(kind.as_str(), &table::partial(obj)),
            Form::Table => {}
        }
        let meta = json!({"resourceVersion": obj["metadata"]["resourceVersion"]});
        // Column definitions travel with the first event only, as the apiserver does.
        let t = table::table(&self.rt, &[obj], meta, !self.headers_sent, self.include);
        self.headers_sent = true;
        line(kind.as_str(), &t)
    }

    fn bookmark(&self, rv: u64, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = match self.form {
            Form::Table => json!({
                "kind": "Table",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": metadata,
                "columnDefinitions": [],
                "rows": [],
            }),
            Form::Metadata => {
                json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata})
            }
            Form::Object => {
                json!({"apiVersion": self.rt.api_version(), "kind": self.rt.kind, "metadata": metadata})
            }
        };
        line("BOOKMARK", &object)
    }
}

/// The sending half of one watch response.
struct Stream {
    view: View,
    out: mpsc::Sender<Bytes>,
    shared: Arc<Shared>,
    /// The server-wide stall switch (stall_watches).
    stall: tokio::sync::watch::Receiver<bool>,
    bookmarks: bool,
    /// Events left before the stream ends (close_watches_after_events).
    remaining: Option<usize>,
    /// The newest resourceVersion this stream has passed on.
    sent_rv: u64,
}

/// The client went away.
struct Closed;

/// Whether the stream goes on after a delivery.
#[derive(PartialEq, Eq)]
enum Flow {
    Go,
    End,
}

impl Stream {
    /// Every line of the stream goes out here. While the server is stalled
    /// nothing is written: the line waits (and so does everything behind it)
    /// until the stall ends or the client hangs up.
    async fn write(&mut self, line: Bytes) -> Result<(), Closed> {
        if *self.stall.borrow() {
            tokio::select! {
                r = self.stall.wait_for(|stalled| !*stalled) => r.map(drop).map_err(|_| Closed)?,
                _ = self.out.closed() => return Err(Closed),
            }
        }
        self.out.send(line).await.map_err(|_| Closed)
    }

    async fn event(&mut self, ev: &Event) -> Result<Flow, Closed> {
        self.sent_rv = self.sent_rv.max(ev.rv);
        let Some((kind, obj)) = self.view.filter(ev) else {
            return Ok(Flow::Go);
        };
        let line = self.view.render(kind, &obj);
        self.write(line).await?;
        if let Some(sends) = lock(&self.shared.sends).as_mut() {
            sends.entry(ev.rv).or_insert_with(std::time::Instant::now);
        }
        Ok(match &mut self.remaining {
            Some(n) => {
                *n = n.saturating_sub(1);
                if *n == 0 { Flow::End } else { Flow::Go }
            }
            None => Flow::Go,
        })
    }

    async fn deliver(&mut self, d: Delivery) -> Result<Flow, Closed> {
        match d {
            Delivery::Event(ev) => self.event(&ev).await,
            Delivery::Bookmark(rv) => {
                if self.bookmarks {
                    self.sent_rv = self.sent_rv.max(rv);
                    let line = self.view.bookmark(self.sent_rv, false);
                    self.write(line).await?;
                }
                Ok(Flow::Go)
            }
            Delivery::Error(e) => {
                // Whatever the negotiated form, the apiserver sends a Status.
                self.write(line("ERROR", &e.body())).await?;
                Ok(Flow::End)
            }
            Delivery::EventLimit(n) => {
                self.remaining = n;
                Ok(if n == Some(0) { Flow::End } else { Flow::Go })
            }
        }
    }

    /// A BOOKMARK at the current resourceVersion. Every event up to it is
    /// already queued (delivery happens under the store lock), so those go first.
    async fn bookmark(&mut self, events: &mut Events) -> Result<Flow, Closed> {
        let rv = lock(&self.shared.store).current_rv();
        while let Ok(d) = events.try_recv() {
            if self.deliver(d).await? == Flow::End {
                return Ok(Flow::End);
            }
        }
        // Draining may have passed events newer than `rv`: never go backwards.
        self.sent_rv = self.sent_rv.max(rv);
        let line = self.view.bookmark(self.sent_rv, false);
        self.write(line).await?;
        Ok(Flow::Go)
    }

    async fn run(
        mut self,
        sub: Subscription,
        initial_events_end: bool,
        interval: Duration,
        deadline: Instant,
    ) -> Result<(), Closed> {
        let mut events = sub.rx;
        if self.remaining == Some(0) {
            return Ok(());
        }
        for ev in &sub.initial {
            if self.event(ev).await? == Flow::End {
                return Ok(());
            }
        }
        self.sent_rv = self.sent_rv.max(sub.rv);
        if initial_events_end {
            let line = self.view.bookmark(sub.rv, true);
            self.write(line).await?;
        }
        let mut ticker = tokio::time::interval_at(Instant::now() + interval, interval);
        // After a stall, one bookmark rather than a burst of the missed ones.
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let bookmarks = self.bookmarks;
        loop {
            let flow = tokio::select! {
                biased;
                _ = self.out.closed() => return Err(Closed),
                d = events.recv() => match d {
                    Some(d) => self.deliver(d).await?,
                    None => return Ok(()),
                },
                _ = ticker.tick(), if bookmarks => self.bookmark(&mut events).await?,
                // As the apiserver does, a last bookmark just before the timeout.
                _ = tokio::time::sleep_until(deadline) => {
                    if bookmarks {
                        self.bookmark(&mut events).await?;
                    }
                    return Ok(());
                }
            };
            if flow == Flow::End {
                return Ok(());
            }
        }
    }
}

type Events = mpsc::UnboundedReceiver<Delivery>;

/// The answer to a watch from a resourceVersion the server no longer has:
/// 200, then one ERROR event with a 410 Expired Status, then the end.
fn expired(requested: &str, oldest: u64) -> Response {
    let e = ApiError::expired(format!("too old resource version: {requested} ({oldest})"));
    stream_response(Body::from(line("ERROR", &e.body())))
}

pub(crate) async fn serve(shared: Arc<Shared>, t: Target, ctx: &Ctx) -> Response {
    let (labels, fields) = match selectors(&t, ctx) {
        Ok(s) => s,
        Err(e) => return error_response(&e, ctx.pretty),
    };
    let bookmarks = ctx.flag("allowWatchBookmarks");
    let send_initial = ctx.param("sendInitialEvents");
    let rv_param = ctx.param("resourceVersion").filter(|r| !r.is_empty());
    // Unset or 0 means the server's default (--min-request-timeout, 1800s).
    let timeout = ctx
        .param("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|t| *t > 0)
        .map_or(Duration::from_secs(1800), Duration::from_secs);

    let streaming_lists = *lock(&shared.streaming_lists);
    if send_initial == Some("true") {
        let refused = match streaming_lists {
            StreamingLists::GateOff => Some(ApiError::invalid_list_options(
                "sendInitialEvents",
                "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled",
            )),
            _ if ctx.param("resourceVersionMatch") != Some("NotOlderThan") => {
                Some(ApiError::invalid_list_options(
                    "resourceVersionMatch",
                    "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                ))
            }
            _ => None,
        };
        if let Some(e) = refused {
            return error_response(&e, ctx.pretty);
        }
        if streaming_lists == StreamingLists::NoWatchProgress {
            let e = ApiError::no_watch_progress();
            return stream_response(Body::from(line("ERROR", &e.body())));
        }
    }
    let key = t.rt.key();
    let start = match (send_initial, rv_param) {
        (Some("true"), _) | (None, None) | (None, Some("0")) => WatchStart::Now,
        (_, Some(rv)) => match rv.parse::<u64>() {
            Ok(n) => WatchStart::After(n),
            Err(_) => {
                let e = ApiError::bad_request(format!("invalid resource version: {rv}"));
                return error_response(&e, ctx.pretty);
            }
        },
        (Some(_), None) => WatchStart::After(lock(&shared.store).current_rv()),
    };
    let requested = rv_param.unwrap_or("");
    let (expire, close_after) = {
        let mut faults = lock(&shared.faults);
        (faults.take_expire(), faults.close_watches_after)
    };
    if expire {
        // Injected: as if history had just been compacted up to now.
        let rv = lock(&shared.store).current_rv();
        let requested = if requested.is_empty() {
            "0".to_string()
        } else {
            requested.to_string()
        };
        return expired(&requested, rv);
    }
    let sub = match lock(&shared.store).subscribe(&key, start) {
        Ok(s) => s,
        Err(compacted) => return expired(requested, compacted),
    };

    let view = View {
        rt: t.rt.clone(),
        namespace: t.namespace.clone(),
        labels,
        fields,
        form: Form::from_accept(ctx.accept.as_deref()),
        include: IncludeObject::parse(ctx.param("includeObject")),
        headers_sent: false,
    };
    let initial_events_end = send_initial == Some("true") && bookmarks;
    let interval = *lock(&shared.bookmark_interval);
    let (out, mut out_rx) = mpsc::channel::<Bytes>(256);
    let stream = Stream {
        view,
        out,
        stall: shared.stall.subscribe(),
        shared,
        bookmarks,
        remaining: sub.event_limit,
        sent_rv: 0,
    };
    let timeout = close_after.map_or(timeout, |t| t.min(timeout));
    let deadline = Instant::now() + timeout;
    tokio::spawn(stream.run(sub, initial_events_end, interval, deadline));
    let stream = futures::stream::poll_fn(move |cx| {
        out_rx.poll_recv(cx).map(|o| o.map(Ok::<Bytes, Infallible>))
    });
    stream_response(Body::from_stream(stream))
}
