//! The process's watches, shared: one watch per distinct (type, namespace,
//! label and field selector), its events handed to every rule that needs it.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use kube::Client;
use kube::runtime::watcher;
use tokio::sync::mpsc;

use crate::target::{Selection, Target};
use crate::tracker::WatchEvent;
use crate::watch::watch_from;

/// Events waiting per reader of a shared watch: the watch waits for its
/// slowest reader past this, so a shared list is never held in as many
/// copies as there are readers.
const WAITING: usize = 16;

/// A watch's event or error, as every rule sharing the watch gets it.
pub(crate) type Event = Result<WatchEvent, Arc<watcher::Error>>;

/// What tells one watch from another: the request it makes.
#[derive(PartialEq, Eq)]
struct Key {
    api_version: String,
    plural: String,
    namespace: Option<String>,
    labels: Option<String>,
    fields: Option<String>,
}

impl Key {
    fn of(target: &Target) -> Key {
        let (labels, fields) = match &target.selection {
            Selection::Name(name) => (None, Some(Selection::name_field_selector(name))),
            Selection::Query { labels, fields } => (labels.clone(), fields.clone()),
        };
        Key {
            api_version: target.api.api_version(),
            plural: target.api.plural.clone(),
            namespace: target.namespace.clone(),
            labels,
            fields,
        }
    }
}

/// Where a watch's events go: a rule, and the index of its target.
type Reader = (usize, usize);

/// Starts one watch per distinct request among every rule's targets; per
/// rule, per target, the stream of that target's events. A watch read by
/// one target alone is that target's stream, pulled as it reads (no copy,
/// no task); a shared one runs on its own and hands each reader a copy,
/// until every reader has dropped its stream.
pub(crate) fn share(client: &Client, rules: &[Vec<Target>]) -> Vec<Vec<BoxStream<'static, Event>>> {
    // Per distinct request: the first target making it, and its readers.
    let mut watches: Vec<(Key, &Target, Vec<Reader>)> = Vec::new();
    for (rule, targets) in rules.iter().enumerate() {
        for (index, target) in targets.iter().enumerate() {
            let key = Key::of(target);
            match watches.iter_mut().find(|(k, _, _)| *k == key) {
                Some((_, _, readers)) => readers.push((rule, index)),
                None => watches.push((key, target, vec![(rule, index)])),
            }
        }
    }
    let mut streams: Vec<Vec<Option<BoxStream<'static, Event>>>> = rules
        .iter()
        .map(|targets| targets.iter().map(|_| None).collect())
        .collect();
    for (_, target, readers) in watches {
        let events = own(watch_from(client, target, None));
        if let [(rule, index)] = readers[..] {
            streams[rule][index] = Some(events);
            continue;
        }
        let mut senders = Vec::with_capacity(readers.len());
        for (rule, index) in readers {
            let (tx, rx) = mpsc::channel(WAITING);
            senders.push(tx);
            streams[rule][index] = Some(received(rx));
        }
        tokio::spawn(hand_out(events, senders));
    }
    streams
        .into_iter()
        .map(|targets| targets.into_iter().flatten().collect())
        .collect()
}

/// One target's own watch, not shared (a rule that restarts its watches:
/// from a checkpoint, or after its type was resolved again).
pub(crate) fn own(
    events: BoxStream<'static, Result<WatchEvent, watcher::Error>>,
) -> BoxStream<'static, Event> {
    events.map(|event| event.map_err(Arc::new)).boxed()
}

/// Hands each event to every reader still there: a copy to each but the
/// last, which gets the event itself. A reader that is behind holds the
/// watch back (at most [`WAITING`] events wait for it).
async fn hand_out(mut events: BoxStream<'static, Event>, mut readers: Vec<mpsc::Sender<Event>>) {
    while let Some(event) = events.next().await {
        readers.retain(|reader| !reader.is_closed());
        let Some((last, others)) = readers.split_last() else {
            return;
        };
        for reader in others {
            let _ = reader.send(event.clone()).await;
        }
        let _ = last.send(event).await;
    }
}

fn received(mut rx: mpsc::Receiver<Event>) -> BoxStream<'static, Event> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}
