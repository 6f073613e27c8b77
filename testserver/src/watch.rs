//! Watch streams: newline-delimited `{"type","object"}` events after a
//! resourceVersion, selector transitions as ADDED/DELETED, bookmarks,
//! timeouts, streaming lists and the 410 Expired ERROR event.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::api::{Ctx, Target, error_response, selectors};
use crate::catalog::ResourceType;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{Event, EventType, Subscription, WatchStart};
use crate::table::{self, Form, IncludeObject};
use crate::{Shared, lock};

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

fn stream_response(body: Body) -> Response {
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    r
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
}

/// The client went away.
struct Closed;

impl Stream {
    async fn send(&mut self, ev: &Event) -> Result<(), Closed> {
        if let Some((kind, obj)) = self.view.filter(ev) {
            let line = self.view.render(kind, &obj);
            self.out.send(line).await.map_err(|_| Closed)?;
        }
        Ok(())
    }

    /// A BOOKMARK at the current resourceVersion. Every event up to it is
    /// already queued (delivery happens under the store lock), so those go first.
    async fn bookmark(&mut self, events: &mut Events) -> Result<(), Closed> {
        let rv = lock(&self.shared.store).current_rv();
        while let Ok(ev) = events.try_recv() {
            self.send(&ev).await?;
        }
        let line = self.view.bookmark(rv, false);
        self.out.send(line).await.map_err(|_| Closed)
    }

    async fn run(
        mut self,
        sub: Subscription,
        initial_events_end: bool,
        bookmarks: bool,
        interval: Duration,
        deadline: Instant,
    ) -> Result<(), Closed> {
        let mut events = sub.rx;
        for ev in &sub.initial {
            self.send(ev).await?;
        }
        if initial_events_end {
            let line = self.view.bookmark(sub.rv, true);
            self.out.send(line).await.map_err(|_| Closed)?;
        }
        let mut ticker = tokio::time::interval_at(Instant::now() + interval, interval);
        loop {
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(ev) => self.send(&ev).await?,
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
                _ = self.out.closed() => return Err(Closed),
            }
        }
    }
}

type Events = mpsc::UnboundedReceiver<Arc<Event>>;

pub(crate) async fn serve(shared: Arc<Shared>, t: Target, ctx: &Ctx) -> Response {
    let (labels, fields) = match selectors(&t, ctx) {
        Ok(s) => s,
        Err(e) => return error_response(&e, ctx.pretty),
    };
    let flag = |k: &str| matches!(ctx.param(k), Some("true") | Some("1"));
    let bookmarks = flag("allowWatchBookmarks");
    let send_initial = ctx.param("sendInitialEvents");
    let rv_param = ctx.param("resourceVersion").filter(|r| !r.is_empty());
    // Unset or 0 means the server's default (--min-request-timeout, 1800s).
    let timeout = ctx
        .param("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|t| *t > 0)
        .map_or(Duration::from_secs(1800), Duration::from_secs);

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
    let sub = match lock(&shared.store).subscribe(&key, start) {
        Ok(s) => s,
        Err(compacted) => {
            let e = ApiError::expired(format!(
                "too old resource version: {requested} ({compacted})"
            ));
            return stream_response(Body::from(line("ERROR", &e.body())));
        }
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
    let stream = Stream { view, out, shared };
    let deadline = Instant::now() + timeout;
    tokio::spawn(stream.run(sub, initial_events_end, bookmarks, interval, deadline));
    let stream = futures::stream::poll_fn(move |cx| {
        out_rx.poll_recv(cx).map(|o| o.map(Ok::<Bytes, Infallible>))
    });
    stream_response(Body::from_stream(stream))
}
