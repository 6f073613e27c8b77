//! The process's watches, shared: one watch per distinct (type, namespace,
//! label and field selector), its events handed to every rule that needs it.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use kube::Client;
use kube::runtime::watcher;
use tokio::sync::mpsc;

use crate::decide::filter::{Gate, uid, uid_hash};
use crate::target::Target;
use crate::tracker::{Change, Entry, Keep, Tracker, WatchEvent};
use crate::watch::watch_from;

/// Events waiting per reader of a shared watch: the watch waits for its
/// slowest reader past this, so a shared list is never held in as many
/// copies as there are readers.
const WAITING: usize = 16;

/// A watch's event or error, as every rule sharing the watch gets it: its
/// object is one for all of them (see [`WatchEvent`]); with 50 readers each
/// [`WAITING`] events behind during a list, a copy each was 1.1 MB of the
/// peak. With the event, for a reader of a hub whose tracker tracks for it,
/// the changes that tracker made of it (see [`Tracker::follow`]).
pub(crate) type Event = Result<(WatchEvent, Tracked), Arc<watcher::Error>>;

/// The changes a hub's tracker made of an event, for a reader it tracks
/// for: the objects of a watch are tracked once, however many rules read
/// it (their own trackers were each reader's most costly part, and one
/// copy of every object each).
pub(crate) type Tracked = Option<Arc<[Change]>>;

/// What tells one watch from another: the request it makes.
#[derive(PartialEq, Eq, Clone)]
struct Key {
    api_version: String,
    plural: String,
    namespace: Option<String>,
    labels: Option<String>,
    fields: Option<String>,
}

impl Key {
    fn of(target: &Target) -> Key {
        let (labels, fields) = target.selection.selectors();
        Key {
            api_version: target.api.api_version(),
            plural: target.api.plural.clone(),
            namespace: target.namespace.clone(),
            labels: labels.as_deref().map(normalised),
            fields: fields.as_deref().map(normalised),
        }
    }
}

/// A label or field selector in one spelling, so that two that select the
/// same make one watch: requirements sorted, blanks only between words
/// (`notin`), `==` as `=`, a set's values sorted (`b=2, a=1` is `a=1,b=2`).
fn normalised(selector: &str) -> String {
    let mut requirements: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    for c in selector.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                requirements.push(requirement(&current));
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    requirements.push(requirement(&current));
    requirements.retain(|r| !r.is_empty());
    requirements.sort();
    requirements.dedup();
    requirements.join(",")
}

/// One requirement: `key op value`, `key in (a,b)`, `!key`, `key`.
fn requirement(text: &str) -> String {
    let (head, set) = match text.split_once('(') {
        Some((head, rest)) => (head, Some(rest.trim_end().trim_end_matches(')'))),
        None => (text, None),
    };
    let mut out = String::new();
    let mut blank = false;
    for c in head.trim().chars() {
        if c.is_whitespace() {
            blank = true;
            continue;
        }
        let operator = matches!(c, '=' | '!');
        // A blank between two words stays one blank; around an operator, none.
        if blank && !operator && !out.ends_with(['=', '!']) && !out.is_empty() {
            out.push(' ');
        }
        blank = false;
        out.push(c);
    }
    let out = out.replace("==", "=");
    match set {
        Some(values) => {
            let mut values: Vec<&str> = values
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .collect();
            values.sort_unstable();
            values.dedup();
            format!("{} ({})", out.trim_end(), values.join(","))
        }
        None => out,
    }
}

/// Where a watch's events go: a rule, and the index of its target.
type Reader = (usize, usize);

/// Starts one watch per distinct request among every rule's targets; per
/// rule, per target, the stream of that target's events. A watch read by
/// one target alone is that target's stream, pulled as it reads (no copy,
/// no task); a shared one runs on its own and hands each reader a copy,
/// until every reader has dropped its stream.
///
/// `from`: per rule, per target, the resourceVersion its checkpoint section
/// resumes from (a takeover; none: it lists). The targets that resume share
/// one watch from the oldest of their positions, each reader skipping what
/// its own section covers (see [`after`]); those that list share another.
pub(crate) fn share(
    client: &Client,
    rules: &[Vec<Target>],
    from: &[Vec<Option<u64>>],
) -> Vec<Vec<BoxStream<'static, Event>>> {
    let watches = requests(rules, from);
    let from = |reader: Reader| position(from, reader);
    let mut streams: Vec<Vec<Option<BoxStream<'static, Event>>>> = rules
        .iter()
        .map(|targets| targets.iter().map(|_| None).collect())
        .collect();
    for (target, oldest, readers) in watches {
        if let [(rule, index)] = readers[..] {
            let events = own(watch_from(client, target, oldest.map(|p| p.to_string())));
            streams[rule][index] = Some(events);
            continue;
        }
        let mut senders = Vec::with_capacity(readers.len());
        for (rule, index) in readers {
            let (tx, rx) = mpsc::channel(WAITING);
            let at = from((rule, index));
            senders.push((at.unwrap_or(0), tx));
            let events = match (at, oldest) {
                (Some(at), Some(oldest)) if at > oldest => after(received(rx), at),
                _ => received(rx),
            };
            streams[rule][index] = Some(events);
        }
        match oldest {
            Some(_) => {
                tokio::spawn(resume(client.clone(), target.clone(), senders));
            }
            None => {
                let events = own(watch_from(client, target, None));
                tokio::spawn(hand_out(
                    events,
                    senders.into_iter().map(|(_, tx)| tx).collect(),
                ));
            }
        }
    }
    streams
        .into_iter()
        .map(|targets| targets.into_iter().flatten().collect())
        .collect()
}

/// One watch resumed for readers at different positions: from the oldest.
/// Where the server no longer has that history (410), the readers at that
/// position will list, and the others resume from the next oldest, and so
/// on: one rule's old position (a `--hold` pending for long keeps its
/// section there) costs the rules ahead of it no step of their own
/// history. The readers that must list share the list of the first
/// position still in the history (after its 410, each compares it with
/// its own section), or one list after a last 410.
async fn resume(client: Client, target: Target, mut readers: Vec<(u64, mpsc::Sender<Event>)>) {
    readers.sort_by_key(|(at, _)| *at);
    let mut behind: Vec<mpsc::Sender<Event>> = Vec::new();
    let mut gone = None;
    loop {
        let oldest = readers[0].0;
        let mut events = own(watch_from(&client, &target, Some(oldest.to_string())));
        let first = events.next().await;
        let expired =
            matches!(&first, Some(Err(err)) if crate::watch::status_code(err) == Some(410));
        let newer = readers.iter().position(|(at, _)| *at > oldest);
        if let (true, Some(newer)) = (expired, newer) {
            // Not polled further: its list is not asked for.
            drop(events);
            let rest = readers.split_off(newer);
            behind.extend(readers.into_iter().map(|(_, tx)| tx));
            readers = rest;
            gone = first;
            continue;
        }
        let mut all: Vec<mpsc::Sender<Event>> = readers.into_iter().map(|(_, tx)| tx).collect();
        let events = futures::stream::iter(first).chain(events).boxed();
        if expired {
            // The last position is past the history too: one list for all.
            all.append(&mut behind);
        } else if !behind.is_empty() {
            let listing = futures::stream::iter(gone)
                .chain(own(watch_from(&client, &target, None)))
                .boxed();
            tokio::spawn(hand_out(listing, behind));
        }
        hand_out(events, all).await;
        return;
    }
}

/// Per distinct request among the targets (resumed or listed): the first
/// target making it, the oldest position among its readers (see
/// [`share`]), and its readers.
fn requests<'a>(
    rules: &'a [Vec<Target>],
    from: &[Vec<Option<u64>>],
) -> Vec<(&'a Target, Option<u64>, Vec<Reader>)> {
    let mut watches: Vec<(Key, &Target, Option<u64>, Vec<Reader>)> = Vec::new();
    for (rule, targets) in rules.iter().enumerate() {
        for (index, target) in targets.iter().enumerate() {
            let key = Key::of(target);
            let at = position(from, (rule, index));
            match watches
                .iter_mut()
                .find(|(k, _, oldest, _)| *k == key && oldest.is_some() == at.is_some())
            {
                Some((_, _, oldest, readers)) => {
                    *oldest = (*oldest).min(at);
                    readers.push((rule, index));
                }
                None => watches.push((key, target, at, vec![(rule, index)])),
            }
        }
    }
    watches
        .into_iter()
        .map(|(_, target, oldest, readers)| (target, oldest, readers))
        .collect()
}

fn position(from: &[Vec<Option<u64>>], (rule, index): Reader) -> Option<u64> {
    from.get(rule)
        .and_then(|targets| targets.get(index).copied().flatten())
}

/// Per rule, per target: whether it counts its watch's events for the
/// process's metrics (once per watch, however many rules read it): the
/// first reader of each watch [`share`] starts that resumes where the watch
/// does (it skips nothing).
pub(crate) fn counting(rules: &[Vec<Target>], from: &[Vec<Option<u64>>]) -> Vec<Vec<bool>> {
    let mut counting: Vec<Vec<bool>> = rules.iter().map(|t| vec![false; t.len()]).collect();
    for (_, oldest, readers) in requests(rules, from) {
        if let Some(&(rule, index)) = readers.iter().find(|&&r| position(from, r) == oldest) {
            counting[rule][index] = true;
        }
    }
    counting
}

/// One target's own watch, not shared (a rule that restarts its watches:
/// from a checkpoint, or after its type was resolved again).
pub(crate) fn own(
    events: BoxStream<'static, Result<WatchEvent, watcher::Error>>,
) -> BoxStream<'static, Event> {
    events
        .map(|event| event.map(|event| (event, None)).map_err(Arc::new))
        .boxed()
}

/// A reader of a watch resumed from an older position than its own (its
/// checkpoint section is newer): the changes at or below `position` are in
/// its section already, not its to tell again. Past the first change above
/// it, or a list (the server no longer had the history: 410), every event
/// is its own. A resourceVersion that is not an integer is never skipped.
fn after(events: BoxStream<'static, Event>, position: u64) -> BoxStream<'static, Event> {
    let mut past = false;
    events
        .filter(move |event| {
            let keep = past
                || match event {
                    Ok((WatchEvent::Applied(object) | WatchEvent::Deleted(object), _)) => {
                        object["metadata"]["resourceVersion"]
                            .as_str()
                            .and_then(|v| v.parse::<u64>().ok())
                            .is_none_or(|v| v > position)
                    }
                    _ => true,
                };
            if keep
                && matches!(
                    event,
                    Ok((
                        WatchEvent::Relisting | WatchEvent::Applied(_) | WatchEvent::Deleted(_),
                        _
                    ))
                )
            {
                past = true;
            }
            std::future::ready(keep)
        })
        .boxed()
}

/// Hands each event to every reader still there, shared (see [`Event`]).
/// A reader that is behind holds the watch back (at most [`WAITING`]
/// events wait for it).
async fn hand_out(mut events: BoxStream<'static, Event>, mut readers: Vec<mpsc::Sender<Event>>) {
    while let Some(event) = events.next().await {
        readers.retain(|reader| !reader.is_closed());
        if readers.is_empty() {
            return;
        }
        for reader in &readers {
            let _ = reader.send(event.clone()).await;
        }
    }
}

/// A reader's events.
fn received(mut rx: mpsc::Receiver<Event>) -> BoxStream<'static, Event> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

/// The watches of a process of rules (`--rules`), each run by a hub that a
/// rule may join while it runs: a rule a reload starts or changes reads
/// the watch already there, from the event where it joins.
pub(crate) struct Feeds {
    hubs: Vec<(Key, mpsc::UnboundedSender<Order>)>,
    /// Whether a hub's tracker tracks for its readers (see [`Tracked`]):
    /// not where each rule's tracker holds what its checkpoint section
    /// keeps, is seeded from it, and starts over at a takeover.
    tracks: bool,
    /// The server, as errors name it.
    server: String,
}

/// What a hub is told, between two events.
enum Order {
    /// Run `run` reads the watch from here on, starting from the state the
    /// hub holds; the runs in `replaces` (the rule's version before) stop
    /// reading at this very event, so each event is read by one of them.
    Join {
        run: u64,
        /// The rule's name, for the watch's `-v` lines.
        name: Option<String>,
        reader: mpsc::Sender<Event>,
        replaces: Option<u64>,
        /// Its rule's gate, and the index of its target (see [`Gate`]).
        gate: Option<(Arc<Gate>, usize)>,
    },
    /// Run `run` stops reading: its streams end once it has read what was
    /// handed to it.
    Leave { run: u64 },
}

impl Feeds {
    /// `tracks`: see [`Feeds::tracks`]; `server`: as errors name it.
    pub fn new(tracks: bool, server: &str) -> Feeds {
        Feeds {
            hubs: Vec::new(),
            tracks,
            server: server.to_string(),
        }
    }

    /// Per target of run `run`, its events: from the hub of the same
    /// request, started if there is none. `replaces`: the run of the
    /// rule's version before, which stops reading where this one starts.
    /// `name` and `verbosity`: the rule's, for the watch's own `-v` lines
    /// (a list said once per watch, not once per rule reading it).
    /// `gate`: the rule's, where its hubs may keep changes from it.
    #[allow(clippy::too_many_arguments)]
    pub fn join(
        &mut self,
        client: &Client,
        run: u64,
        name: Option<&str>,
        verbosity: u8,
        targets: &[Target],
        replaces: Option<u64>,
        gate: Option<&Arc<Gate>>,
    ) -> Vec<BoxStream<'static, Event>> {
        targets
            .iter()
            .enumerate()
            .map(|(index, target)| {
                let key = Key::of(target);
                let (tx, rx) = mpsc::channel(WAITING);
                let mut order = Order::Join {
                    run,
                    name: name.map(str::to_string),
                    reader: tx,
                    replaces,
                    gate: gate.map(|gate| (gate.clone(), index)),
                };
                if let Some((_, hub)) = self.hubs.iter().find(|(k, _)| *k == key) {
                    match hub.send(order) {
                        Ok(()) => return received(rx),
                        // That hub has ended (nobody read it): a new one.
                        Err(mpsc::error::SendError(back)) => order = back,
                    }
                }
                self.hubs.retain(|(k, _)| *k != key);
                let (control, orders) = mpsc::unbounded_channel();
                let _ = control.send(order);
                let events = own(watch_from(client, target, None));
                let resource = target.api.qualified();
                let said = Said {
                    verbosity,
                    watch: target.display(),
                    server: self.server.clone(),
                    resource: resource.clone(),
                    namespace: target.namespace.clone(),
                    outage: None,
                };
                tokio::spawn(hub(events, orders, resource, said, self.tracks));
                self.hubs.push((key, control));
                received(rx)
            })
            .collect()
    }

    /// Run `run` stops reading every watch it reads (those a join did not
    /// hand over already).
    pub fn leave(&mut self, run: u64) {
        self.hubs
            .retain(|(_, hub)| hub.send(Order::Leave { run }).is_ok());
    }
}

/// What a shared watch says: at `-v`, that a list starts; and that the
/// watch fails and is back, once for every rule reading it (each rule
/// still says when it has read the list, and, at `-v`, each attempt).
struct Said {
    verbosity: u8,
    /// The watch as its first reader's target shows it.
    watch: String,
    /// The server, the watch's type and namespace, for its errors' words.
    server: String,
    resource: String,
    namespace: Option<String>,
    /// The watch failing, once said.
    outage: Option<super::Outage>,
}

impl Said {
    fn event(&mut self, event: &Event, synced: bool, readers: &[HubReader]) {
        match event {
            // Before its first list the rules say why it fails, if it
            // ends them.
            Err(_) if !synced => {}
            Err(err) => {
                let scope = crate::trouble::Scope {
                    server: &self.server,
                    resource: Some(&self.resource),
                    namespace: self.namespace.as_deref(),
                };
                let (crate::trouble::Trouble::Rejected(message)
                | crate::trouble::Trouble::Refused(message)
                | crate::trouble::Trouble::Transient(message)) =
                    crate::trouble::from_watcher(err, &scope)
                else {
                    return;
                };
                let (name, rules) = names(readers);
                crate::term::erase();
                let watch = &self.watch;
                match &mut self.outage {
                    // The protocol working: the watcher re-lists.
                    _ if super::expired(err) => {
                        if self.verbosity > 0 {
                            crate::term::stderr_line!(
                                "{name}{watch}: {message}; re-listing{rules}"
                            );
                        }
                    }
                    None => {
                        crate::log::warning(
                            "watch",
                            format_args!("{name}watching {watch}: {message}; retrying{rules}"),
                        );
                        self.outage = Some(super::Outage::new(true));
                    }
                    Some(outage) => {
                        outage.attempts += 1;
                        if self.verbosity > 0 {
                            crate::term::stderr_line!(
                                "{name}{watch}: attempt {} failed: {message}; retrying{rules}",
                                outage.attempts
                            );
                        }
                    }
                }
            }
            Ok((WatchEvent::Relisting, _)) if self.verbosity > 0 => {
                let what = match synced {
                    true => "re-listing after a watch restart",
                    false => "listing",
                };
                let (name, rules) = names(readers);
                crate::term::erase();
                crate::term::stderr_line!("{name}{}: {what}{rules}", self.watch);
            }
            Ok((WatchEvent::Relisting, _)) => {}
            Ok(_) => {
                if let Some(outage) = self.outage.take() {
                    let (name, rules) = names(readers);
                    crate::log::info(
                        "watch",
                        format_args!(
                            "{name}{}: reconnected after {}{rules}",
                            self.watch,
                            outage.down_for()
                        ),
                    );
                }
            }
        }
    }
}

/// Who a shared watch's line names: the one rule reading it, as the
/// start of that rule's own line; several, as the line's end.
fn names(readers: &[HubReader]) -> (String, String) {
    // In the order of their names, whichever joined first; a rule in the
    // middle of a hand-over (two versions reading) once.
    let names: std::collections::BTreeSet<&str> = readers
        .iter()
        .filter(|reader| !reader.sender.is_closed())
        .filter_map(|reader| reader.name.as_deref())
        .collect();
    let names: Vec<&str> = names.into_iter().collect();
    match names[..] {
        [name] => (format!("{name}  "), String::new()),
        [] => (String::new(), String::new()),
        _ => (
            String::new(),
            format!(" (one watch for rules {})", names.join(", ")),
        ),
    }
}

/// A reader of a hub.
struct HubReader {
    run: u64,
    sender: mpsc::Sender<Event>,
    /// Its rule's name.
    name: Option<String>,
    follows: Follows,
    /// Its rule's gate, and the index of its target (see [`Gate`]).
    gate: Option<(Arc<Gate>, usize)>,
    /// How many events it was sent.
    sent: u64,
    /// Of those, the ones its rule may not have judged yet: their number,
    /// and the object they are of (see [`whose`]; none: of no one object).
    unjudged: VecDeque<(u64, Option<u64>)>,
    /// The last event it was sent was an error: the next is its own (the
    /// rule says when its watch is back).
    failed: bool,
}

impl HubReader {
    fn new(
        run: u64,
        sender: mpsc::Sender<Event>,
        name: Option<String>,
        follows: Follows,
        gate: Option<(Arc<Gate>, usize)>,
    ) -> HubReader {
        HubReader {
            run,
            sender,
            name,
            follows,
            gate,
            sent: 0,
            unjudged: VecDeque::new(),
            failed: false,
        }
    }

    /// Whether this reader's rule can do without the event (see
    /// [`Gate::drops`]): the hub's tracker tracks for it, and it has judged
    /// every event of the same object it was sent.
    /// `of`: see [`whose`].
    /// An error has neither changes nor an object: it always goes.
    fn does_without(&mut self, changes: &Tracked, of: Option<u64>) -> bool {
        let (Some((gate, target)), Follows::Yes, Some(changes), Some(hash), false) =
            (&self.gate, self.follows, changes, of, self.failed)
        else {
            return false;
        };
        let judged = gate.judged(*target);
        while self.unjudged.front().is_some_and(|(n, _)| *n < judged) {
            self.unjudged.pop_front();
        }
        if self
            .unjudged
            .iter()
            .any(|(_, h)| h.is_none_or(|h| h == hash))
        {
            return false;
        }
        changes.iter().all(|change| gate.drops(change, hash))
    }

    /// `of`: see [`whose`].
    async fn send(&mut self, event: Event, of: Option<u64>) {
        if self.gate.is_some() {
            self.unjudged.push_back((self.sent, of));
            self.failed = event.is_err();
        }
        self.sent += 1;
        let _ = self.sender.send(event).await;
    }
}

/// The object an event is of, if one (a list's start and end, and errors,
/// are of none): its uid's [`uid_hash`]. `changes`: what the hub's tracker
/// found in it, if it tracks; an event whose changes are of another object
/// too (a re-list finding an object deleted and created again under its
/// name: the old one's deletion comes with the new one's event) is of
/// none either.
fn whose(event: &Event, changes: &Tracked) -> Option<u64> {
    let (WatchEvent::Listed(object) | WatchEvent::Applied(object) | WatchEvent::Deleted(object)) =
        &event.as_ref().ok()?.0
    else {
        return None;
    };
    let of = uid(object);
    let others = changes
        .iter()
        .flat_map(|changes| changes.iter())
        .any(|change| uid(&change.object) != of);
    (!others).then(|| uid_hash(&of))
}

/// Whether a reader's changes are those of the hub's tracker (see
/// [`Tracker::follow`]): from the start when it joined before the watch's
/// first event, else once it has read a list to its end itself (both
/// trackers then hold the same versions of the same objects).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Follows {
    No,
    AfterList,
    Yes,
}

/// One shared watch: hands each event to its readers, counts it once for
/// the process, and keeps the state so far for a reader that joins later.
/// `tracks`: its tracker tracks for its readers (see [`Tracked`]).
async fn hub(
    mut events: BoxStream<'static, Event>,
    mut orders: mpsc::UnboundedReceiver<Order>,
    resource: String,
    mut said: Said,
    tracks: bool,
) {
    let mut readers: Vec<HubReader> = Vec::new();
    let mut state = State::new();
    loop {
        tokio::select! {
            biased;
            order = orders.recv() => match order {
                Some(order) => obey(order, &mut readers, &state, tracks).await,
                None => return,
            },
            event = events.next() => {
                let Some(event) = event else {
                    return;
                };
                said.event(&event, state.tracker.synced(0), &readers);
                let changes = state.apply(&event, &resource);
                readers.retain(|reader| !reader.sender.is_closed());
                let list_done = matches!(event, Ok((WatchEvent::ListDone, _)));
                let gated = readers.iter().any(|reader| reader.gate.is_some());
                let of = gated.then(|| whose(&event, &changes)).flatten();
                for reader in &mut readers {
                    let tracked = match reader.follows {
                        Follows::Yes => changes.clone(),
                        _ => None,
                    };
                    if reader.does_without(&tracked, of) {
                        continue;
                    }
                    let event = event.as_ref().map(|(event, _)| (event.clone(), tracked));
                    reader.send(event.map_err(Arc::clone), of).await;
                    if list_done && reader.follows == Follows::AfterList {
                        reader.follows = Follows::Yes;
                    }
                }
            }
        }
        if readers.iter().all(|reader| reader.sender.is_closed()) {
            // Nobody reads it (its rules left or ended): the watch ends,
            // unless someone just joined.
            orders.close();
            while let Ok(order) = orders.try_recv() {
                obey(order, &mut readers, &state, tracks).await;
            }
            if readers.iter().all(|reader| reader.sender.is_closed()) {
                return;
            }
        }
    }
}

async fn obey(order: Order, readers: &mut Vec<HubReader>, state: &State, tracks: bool) {
    match order {
        Order::Join {
            run,
            name,
            reader,
            replaces,
            gate,
        } => {
            readers.retain(|reader| Some(reader.run) != replaces);
            let follows = match (tracks, state.fresh()) {
                (false, _) => Follows::No,
                (true, true) => Follows::Yes,
                (true, false) => Follows::AfterList,
            };
            let mut reader = HubReader::new(run, reader, name, follows, gate);
            // Its own tracker makes the state so far from these.
            for event in state.so_far() {
                if event == WatchEvent::ListDone && reader.follows == Follows::AfterList {
                    reader.follows = Follows::Yes;
                }
                let event = Ok((event, None));
                let gated = reader.gate.is_some();
                let hash = gated.then(|| whose(&event, &None)).flatten();
                reader.send(event, hash).await;
            }
            readers.push(reader);
        }
        Order::Leave { run } => readers.retain(|reader| reader.run != run),
    }
}

/// What a hub knows of its watch: the last version of each object (as
/// compact JSON, as a rule showing diffs keeps it), and the list under way,
/// for the events a joining reader starts from.
struct State {
    tracker: Tracker,
    /// While a list is under way: the objects it has listed so far.
    listing: Option<BTreeSet<String>>,
}

impl State {
    fn new() -> State {
        State {
            tracker: Tracker::new(1, Keep::Diffs),
            listing: None,
        }
    }

    /// Whether the watch has brought nothing yet.
    fn fresh(&self) -> bool {
        !self.tracker.synced(0) && self.listing.is_none() && self.tracker.len(0) == 0
    }

    /// Takes in one event, and counts it (and what it changed) for the
    /// process's metrics: once per watch, however many rules read it.
    /// What it changed, for the readers it tracks for.
    fn apply(&mut self, event: &Event, resource: &str) -> Tracked {
        let event = match event {
            Ok((event, _)) => event,
            Err(err) => {
                if !super::expired(err) {
                    crate::metrics::watch_restarted_with(|| resource.to_string());
                }
                return None;
            }
        };
        let synced = self.tracker.synced(0);
        match event {
            WatchEvent::Relisting => {
                if synced {
                    crate::metrics::relisted(resource);
                }
                self.listing = Some(BTreeSet::new());
            }
            WatchEvent::Listed(object) => {
                if let Some(listing) = &mut self.listing {
                    listing.insert(crate::tracker::key(object));
                }
                crate::metrics::watch_event(resource, "listed");
            }
            WatchEvent::ListDone => self.listing = None,
            WatchEvent::Applied(_) => crate::metrics::watch_event(resource, "applied"),
            WatchEvent::Deleted(_) => crate::metrics::watch_event(resource, "deleted"),
        }
        let changes = self.tracker.apply(0, event.clone());
        for change in &changes {
            crate::metrics::change(resource, change.kind.as_str());
        }
        Some(changes.into())
    }

    /// The events that bring a reader joining now to where the watch is:
    /// the list so far (complete, or under way), nothing before the first.
    fn so_far(&self) -> Vec<WatchEvent> {
        let listed = |entry: &Entry| WatchEvent::Listed(entry.whole().into());
        match &self.listing {
            Some(keys) => {
                let mut events = vec![WatchEvent::Relisting];
                events.extend(
                    keys.iter()
                        .filter_map(|key| self.tracker.entry(0, key))
                        .map(listed),
                );
                events
            }
            None if self.tracker.synced(0) => {
                let mut events = vec![WatchEvent::Relisting];
                events.extend(self.tracker.entries(0).map(listed));
                events.push(WatchEvent::ListDone);
                events
            }
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A hub of a watch whose events the test sends; its orders' sender.
    fn start_hub(tracks: bool) -> (mpsc::UnboundedSender<Event>, mpsc::UnboundedSender<Order>) {
        let (watch, events) = mpsc::unbounded_channel::<Event>();
        let (control, orders) = mpsc::unbounded_channel();
        let events = futures::stream::unfold(events, |mut events| async move {
            events.recv().await.map(|event| (event, events))
        });
        let said = Said {
            verbosity: 0,
            watch: String::new(),
            server: String::new(),
            resource: String::new(),
            namespace: None,
            outage: None,
        };
        tokio::spawn(hub(events.boxed(), orders, "widgets".into(), said, tracks));
        (watch, control)
    }

    /// Whether each event a reader got came with the hub's changes.
    async fn read(events: &mut BoxStream<'static, Event>, n: usize) -> Vec<(String, bool)> {
        let mut read = Vec::new();
        for _ in 0..n {
            let (event, tracked) = events.next().await.unwrap().unwrap();
            let what = match event {
                WatchEvent::Relisting => "relisting".to_string(),
                WatchEvent::ListDone => "done".to_string(),
                WatchEvent::Listed(o) | WatchEvent::Applied(o) | WatchEvent::Deleted(o) => {
                    o["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap()
                        .to_string()
                }
            };
            read.push((what, tracked.is_some()));
        }
        read
    }

    /// The hub's tracker tracks for a reader that joined before the watch's
    /// first event, and for the others once they have read a list to its
    /// end themselves (see `Tracker::follow`); not at all without `tracks`.
    #[tokio::test]
    async fn a_hubs_tracker_tracks_for_a_reader_once_both_hold_the_same() {
        for tracks in [true, false] {
            let (watch, control) = start_hub(tracks);
            let join = |run: u64| {
                let (tx, rx) = mpsc::channel(WAITING);
                let order = Order::Join {
                    run,
                    name: None,
                    reader: tx,
                    replaces: None,
                    gate: None,
                };
                control.send(order).map_err(drop).unwrap();
                received(rx)
            };
            let send = |event: WatchEvent| watch.send(Ok((event, None))).map_err(drop).unwrap();
            let widget = |rv: &str| {
                let object = serde_json::json!({"metadata": {"name": "a", "namespace": "default",
                    "uid": "1", "resourceVersion": rv}});
                object.into()
            };
            let mut first = join(1);
            send(WatchEvent::Relisting);
            send(WatchEvent::Listed(widget("5")));
            let mut first_read = read(&mut first, 2).await;
            let mut mid_list = join(2);
            let mut mid_list_read = read(&mut mid_list, 2).await;
            send(WatchEvent::ListDone);
            first_read.extend(read(&mut first, 1).await);
            mid_list_read.extend(read(&mut mid_list, 1).await);
            let mut listed = join(3);
            let mut listed_read = read(&mut listed, 3).await;
            send(WatchEvent::Applied(widget("6")));
            for (events, read_so_far) in [
                (&mut first, &mut first_read),
                (&mut mid_list, &mut mid_list_read),
                (&mut listed, &mut listed_read),
            ] {
                read_so_far.extend(read(events, 1).await);
            }
            let all = |read: &[(String, bool)]| {
                read.iter()
                    .map(|(what, _)| what.clone())
                    .collect::<Vec<_>>()
            };
            let tracked =
                |read: &[(String, bool)]| read.iter().map(|(_, t)| *t).collect::<Vec<_>>();
            let events = ["relisting", "5", "done", "6"];
            for read in [&first_read, &mid_list_read, &listed_read] {
                assert_eq!(all(read), events, "tracks: {tracks}");
            }
            assert_eq!(tracked(&first_read), [tracks; 4]);
            assert_eq!(tracked(&mid_list_read), [false, false, false, tracks]);
            assert_eq!(tracked(&listed_read), [false, false, false, tracks]);
        }
    }

    /// A gated reader is not sent the changes its rule's filter would drop
    /// without a trace, once it has judged what it was sent of the same
    /// object; what it must judge reaches it in order.
    #[tokio::test]
    async fn a_hub_keeps_from_a_gated_reader_only_what_its_filter_would_drop() {
        let (watch, control) = start_hub(true);
        let when = crate::expr::Expr::parse(r#".status.phase == "Failed""#).unwrap();
        let mut filter = crate::decide::filter::Filter::new(Some(when), vec![], &[], false);
        let gate = filter.gate(1).unwrap();
        filter.open_gate();
        let (tx, rx) = mpsc::channel(WAITING);
        let order = Order::Join {
            run: 1,
            name: None,
            reader: tx,
            replaces: None,
            gate: Some((gate.clone(), 0)),
        };
        control.send(order).map_err(drop).unwrap();
        let mut reader = received(rx);
        let rv = std::cell::Cell::new(0);
        let send = |event: WatchEvent| watch.send(Ok((event, None))).map_err(drop).unwrap();
        let widget = |uid: &str, phase: &str| {
            rv.set(rv.get() + 1);
            let object = serde_json::json!({"metadata": {"name": uid, "namespace": "default",
                "uid": uid, "resourceVersion": rv.get().to_string()}, "status": {"phase": phase}});
            Arc::new(object)
        };
        // The rule's side: judges each event it reads, as its task does.
        let mut judge = async |n: usize| {
            let mut read = Vec::new();
            for _ in 0..n {
                let next = tokio::time::timeout(Duration::from_secs(5), reader.next());
                let (event, tracked) = next
                    .await
                    .expect("an event the rule must judge")
                    .unwrap()
                    .unwrap();
                for mut change in tracked.iter().flat_map(|c| c.iter()).cloned() {
                    let uid = uid(&change.object).into_owned();
                    let phase = change.object["status"]["phase"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    let told = filter.admit(&mut change);
                    read.push(format!("{uid} {phase}{}", if told { " told" } else { "" }));
                }
                if matches!(event, WatchEvent::ListDone) {
                    read.push("done".into());
                }
                gate.judge(0);
            }
            read
        };
        send(WatchEvent::Relisting);
        send(WatchEvent::Listed(widget("a", "Running")));
        send(WatchEvent::ListDone);
        assert_eq!(judge(3).await, ["a Running", "done"]);
        // Neither held nor holds, all judged: dropped. Held: its end is sent.
        send(WatchEvent::Applied(widget("a", "Pending")));
        send(WatchEvent::Applied(widget("b", "Failed")));
        send(WatchEvent::Applied(widget("b", "Running")));
        assert_eq!(judge(2).await, ["b Failed told", "b Running"]);
        // Not judged yet: a's second change goes to the rule, c's does not.
        send(WatchEvent::Applied(widget("a", "Failed")));
        send(WatchEvent::Applied(widget("a", "Running")));
        send(WatchEvent::Applied(widget("c", "Running")));
        send(WatchEvent::Applied(widget("a", "Failed")));
        assert_eq!(
            judge(3).await,
            ["a Failed told", "a Running", "a Failed told"]
        );
        send(WatchEvent::Deleted(widget("c", "Running")));
        send(WatchEvent::Deleted(widget("a", "Failed")));
        assert_eq!(judge(1).await, ["a Failed"]);
    }

    #[test]
    fn selectors_that_select_the_same_are_spelled_the_same() {
        for (a, b) in [
            ("a=1,b=2", "b=2,a=1"),
            ("a=1, b=2", " b = 2 ,a==1"),
            ("env in (prod,dev),tier", "tier, env in ( dev , prod )"),
            ("!canary,x!=y", "x != y, !canary"),
            ("metadata.name=foo", "metadata.name==foo"),
        ] {
            assert_eq!(normalised(a), normalised(b), "{a:?} and {b:?}");
        }
        for (a, b) in [
            ("a=1", "a=2"),
            ("a notin (x)", "anot in (x)"),
            ("a in (x)", "a notin (x)"),
            ("a", "!a"),
        ] {
            assert_ne!(normalised(a), normalised(b), "{a:?} and {b:?}");
        }
    }
}
