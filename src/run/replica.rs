//! One replica of several, as the notify loop sees it: whether it may
//! deliver, when it takes over or steps down (its watches started from the
//! checkpoint, or stopped), and the checkpoint written after deliveries.
//!
//! "Delivered" means acknowledged: a checkpoint is a snapshot of the state
//! taken after some notification was handed to the sinks, and it is written
//! only once every sink has acknowledged (or given up on) everything up to
//! that one. Until then the stored checkpoint stays behind, so a restart
//! replays from there, with the same delivery ids.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::stream::BoxStream;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, ListParams};
use serde_json::json;
use tokio::sync::{Notify, oneshot, watch};
use tokio::time::Instant;

use super::{Session, feed};
use crate::connect::Connection;
use crate::decide::filter::Filter;
use crate::decide::noise::{Notice, Unsaid};
use crate::exit::{Exit, Result};
use crate::ha::checkpoint::{Checkpoint, Failure, Mark, ObjectMark, Store, same_rule};
use crate::ha::lease::{Elector, Role};
use crate::ha::{HaPlan, checkpoint, lease};
use crate::sink::network::Outbox;
use crate::target::Target;
use crate::tracker::ChangeKind;

/// At most one checkpoint write a second.
const WRITE_EVERY: Duration = Duration::from_secs(1);

/// How often to look again whether the sinks have acknowledged a snapshot.
const RECHECK: Duration = Duration::from_millis(250);

/// Snapshots kept while the sinks catch up; past it the newest is replaced,
/// so memory stays bounded (about this many times the checkpoint's size).
const SNAPSHOTS: usize = 8;

/// How long the rules taking over wait for the next of them (each reads
/// its checkpoint section first): past it with none come, those there
/// start their watches, and a rule that comes later starts its own.
const TOGETHER: Duration = Duration::from_secs(1);

/// What every rule of the process shares of high availability: one
/// Lease (its campaign) and one checkpoint ConfigMap.
pub struct Ha {
    identity: String,
    role: watch::Receiver<Role>,
    elector: Option<tokio::task::JoinHandle<Elector<Api<Lease>>>>,
    /// Without --leader-elect: the role, fixed at active.
    _alone: Option<watch::Sender<Role>>,
    store: Option<Store>,
    /// How many rules' replicas have not left yet.
    present: Arc<(AtomicUsize, Notify)>,
    /// `--rules`: per rule name, the rule as a checkpoint names it, and
    /// its flags (`Filter::describe`).
    rules: Rules,
    verbose: bool,
    /// The rules taking over together, which share their watches.
    takeover: Arc<Takeover>,
}

/// One takeover for the process: the rules whose replicas take over
/// together read one watch per distinct request (`feed::share`), resumed
/// from the oldest of their sections' positions, each rule skipping what
/// its own section covers; those with no position share one list.
struct Takeover {
    client: kube::Client,
    round: std::sync::Mutex<Round>,
    /// Per collection (apiVersion, plural, namespace), its resourceVersion
    /// now, read once per round for every rule with no position in it.
    now: tokio::sync::Mutex<(u64, BTreeMap<Collection, Option<u64>>)>,
}

type Collection = (String, String, Option<String>);

/// The rules taking over together.
#[derive(Default)]
struct Round {
    /// Which round this is: one more at each start.
    number: u64,
    /// The runs still to come: standby, not waiting for their old version.
    expected: BTreeSet<u64>,
    /// Those come, each with its targets, positions and where its streams go.
    come: Vec<Arrival>,
    /// When the last of them came.
    last: Option<Instant>,
}

struct Arrival {
    targets: Vec<Target>,
    from: Vec<Option<u64>>,
    to: oneshot::Sender<Shared>,
}

/// A rule's share of the watches started at a takeover: per target, its
/// events, and whether it counts them for the metrics.
type Shared = (Vec<BoxStream<'static, feed::Event>>, Vec<bool>);

impl Takeover {
    fn round(&self) -> std::sync::MutexGuard<'_, Round> {
        self.round.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `run` will take over with the others (it is standby).
    fn expect(&self, run: u64) {
        self.round().expected.insert(run);
    }

    /// Run `run` will not come (it ended, or keeps its watches its own): the
    /// others start without it.
    fn excuse(&self, run: u64) {
        let complete = {
            let mut round = self.round();
            round.expected.remove(&run) && round.expected.is_empty() && !round.come.is_empty()
        };
        if complete && tokio::runtime::Handle::try_current().is_ok() {
            self.start();
        }
    }

    /// Run `run` takes over: per target, its events, once every rule
    /// expected has come (or none has for [`TOGETHER`]); `None` if the
    /// round was lost (then it watches alone).
    async fn join(&self, run: u64, targets: Vec<Target>, from: Vec<Option<u64>>) -> Option<Shared> {
        let (to, mut streams) = oneshot::channel();
        let complete = {
            let mut round = self.round();
            round.expected.remove(&run);
            round.come.push(Arrival { targets, from, to });
            round.last = Some(Instant::now());
            round.expected.is_empty()
        };
        if complete {
            self.start();
        }
        loop {
            let quiet = self.round().last.unwrap_or_else(Instant::now) + TOGETHER;
            tokio::select! {
                streams = &mut streams => return streams.ok(),
                _ = tokio::time::sleep_until(quiet) => {}
            }
            if self
                .round()
                .last
                .is_none_or(|last| last + TOGETHER <= Instant::now())
            {
                break;
            }
        }
        self.start();
        streams.await.ok()
    }

    /// The watches of the rules come so far, started and handed out.
    fn start(&self) {
        let come = {
            let mut round = self.round();
            if round.come.is_empty() {
                return;
            }
            round.number += 1;
            std::mem::take(&mut round.come)
        };
        let targets: Vec<Vec<Target>> = come.iter().map(|a| a.targets.clone()).collect();
        let from: Vec<Vec<Option<u64>>> = come.iter().map(|a| a.from.clone()).collect();
        let streams = feed::share(&self.client, &targets, &from);
        let counting = feed::counting(&targets, &from);
        for ((arrival, streams), counting) in come.into_iter().zip(streams).zip(counting) {
            let _ = arrival.to.send((streams, counting));
        }
    }

    /// The collection's resourceVersion now (see [`position_now`]), asked
    /// once for the rules of one round.
    async fn position_now(&self, session: &Session, target: &Target) -> Option<u64> {
        let number = self.round().number;
        let mut now = self.now.lock().await;
        if now.0 != number {
            *now = (number, BTreeMap::new());
        }
        let collection = (
            target.api.api_version(),
            target.api.plural.clone(),
            target.namespace.clone(),
        );
        if let Some(position) = now.1.get(&collection) {
            return *position;
        }
        let position = position_now(session, target).await;
        now.1.insert(collection, position);
        position
    }
}

/// A rule's run, until it takes over or is dropped: the takeover waits for
/// it while it is expected.
struct Taking {
    takeover: Arc<Takeover>,
    run: u64,
}

impl Drop for Taking {
    fn drop(&mut self) {
        self.takeover.excuse(self.run);
    }
}

/// A rule's replica, counted until it has left (dropped).
struct Presence(Arc<(AtomicUsize, Notify)>);

impl Drop for Presence {
    fn drop(&mut self) {
        if self.0.0.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.1.notify_one();
        }
    }
}

/// One rule's replica: its role (the process's), and the checkpoint it
/// keeps while active.
pub struct Replica {
    identity: String,
    role: watch::Receiver<Role>,
    keeper: Option<Keeper>,
    _present: Presence,
    /// The `--sink`s, whose acknowledgements the checkpoint waits for.
    outbox: Outbox,
    /// Whether this replica's watches run (it took over).
    active: bool,
    /// Whether its watches resumed from a checkpoint's position when it
    /// last took over (the server replays what came since).
    resumed: bool,
    /// `--rules`: every rule of the file (see [`Ha::rules`]).
    rules: Rules,
    /// `--count`: the notifications told so far, as the notify loop counts
    /// them, kept in the checkpoint; at a takeover, as the checkpoint had.
    told: u64,
    verbose: bool,
    /// Its old version's replica, which it waits to have left before it
    /// takes over: it resumes from the last section that one wrote.
    after: Option<watch::Receiver<()>>,
    /// The section (rule, run) it takes when it takes over, not before:
    /// until then its old version writes it.
    claim: Option<(String, u64)>,
    /// With `--checkpoint`: dropped with the replica, once it has left.
    left: Option<watch::Sender<()>>,
    /// Its part in the process's takeover (one for every rule).
    taking: Taking,
    /// `--resolve` with `--hold`: firings are marked in the checkpoint
    /// before they go out (see [`Replica::announce`]).
    marks_firings: bool,
}

struct Keeper {
    store: Store,
    dirty: bool,
    last_write: Option<Instant>,
    /// Snapshots waiting for the sinks' acknowledgements, oldest first.
    waiting: VecDeque<Snapshot>,
    /// The checkpoint as last read or written.
    stored: Checkpoint,
    /// Per target key, the UIDs (and `namespace/name`) told of before a
    /// written checkpoint held them: every write carries them until one
    /// holds the object, or its deletion is acknowledged.
    announced: BTreeMap<String, BTreeMap<String, String>>,
    /// Per target key, the UIDs whose firing was marked in the checkpoint
    /// before it went out, each with how many notifications had been
    /// handed to the sinks before it: every write carries them until it
    /// writes a snapshot taken after the firing was handed.
    firing: BTreeMap<String, BTreeMap<String, u64>>,
    /// On the way out: the last checkpoint is written at once.
    leaving: bool,
}

/// The checkpoint as it was right after the `through`th notification was
/// handed to the sinks.
struct Snapshot {
    through: u64,
    encoded: String,
    /// Announced UIDs (by target key) deleted by then: no longer announced
    /// once this snapshot is written.
    gone: Vec<(String, String)>,
}

/// `--rules`: per rule name, the rule as a checkpoint names it, and its
/// flags (`Filter::describe`).
type Rules = Arc<std::sync::Mutex<BTreeMap<String, (String, String)>>>;

/// What the replica asks the notify loop to do.
pub enum Turn {
    TakeOver,
    StepDown,
    Flush,
    Failed(Exit),
}

impl Ha {
    /// Starts the election (if asked); `None` without either flag.
    pub fn start(plan: &HaPlan, conn: &Connection, verbose: bool) -> Option<Ha> {
        if plan.lease.is_none() && plan.checkpoint.is_none() {
            return None;
        }
        let client = conn.client.clone();
        let namespace = conn.namespace.clone();
        let identity = lease::identity();
        let takeover = Arc::new(Takeover {
            client: client.clone(),
            round: std::sync::Mutex::default(),
            now: tokio::sync::Mutex::default(),
        });
        let (role, elector, alone) = match &plan.lease {
            Some((name, timings)) => {
                let api: Api<Lease> = Api::namespaced(client.clone(), &namespace);
                let elector = Elector::new(api, name.clone(), identity.clone(), *timings);
                let (name, ns) = (name.clone(), namespace.clone());
                let describe = move |verb: &str, code: u16| match code {
                    404 => crate::trouble::namespace_missing(
                        &ns,
                        "--leader-elect keeps its Lease there",
                    ),
                    _ => format!(
                        "--leader-elect: forbidden to {verb} leases.coordination.k8s.io \"{name}\" \
                         in namespace {ns}; it needs get, create and update on leases there"
                    ),
                };
                let (role, task) = lease::campaign(elector, describe, verbose);
                (role, Some(task), None)
            }
            None => {
                // Alone: active for ever.
                let (tx, rx) = watch::channel(Role::Active {
                    until: Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600),
                });
                (rx, None, Some(tx))
            }
        };
        let store = plan.checkpoint.as_ref().map(|name| {
            Store::new(
                Api::namespaced(client, &namespace),
                name.clone(),
                namespace.clone(),
            )
        });
        Some(Ha {
            identity,
            role,
            elector,
            _alone: alone,
            store,
            present: Arc::default(),
            rules: Arc::default(),
            verbose,
            takeover,
        })
    }

    /// A rule's replica; `rule` names a rule of a rules file (its section
    /// of the checkpoint) in its run `run`; `is` says the rule as a
    /// checkpoint names it, and its flags. `after`: with `--checkpoint`,
    /// the new version of a changed rule takes over, and its section,
    /// only once its old version's replica has left (see [`Replica::left`]).
    pub fn replica(
        &self,
        rule: Option<&str>,
        run: u64,
        is: (String, String),
        after: Option<watch::Receiver<()>>,
    ) -> Replica {
        if let (Some(name), Ok(mut rules)) = (rule, self.rules.lock()) {
            rules.insert(name.to_string(), is);
        }
        let after = after.filter(|_| self.store.is_some() && rule.is_some());
        // One waiting for its old version takes over once that has left.
        if after.is_none() {
            self.takeover.expect(run);
        }
        let keeper = self.store.as_ref().map(|store| Keeper {
            store: match rule {
                // The old version writes the section until it has left.
                Some(_) if after.is_some() => store.clone(),
                Some(rule) => store.section(rule, run),
                None => store.clone(),
            },
            dirty: false,
            last_write: None,
            waiting: VecDeque::new(),
            stored: Checkpoint::default(),
            announced: BTreeMap::new(),
            firing: BTreeMap::new(),
            leaving: false,
        });
        Replica {
            identity: self.identity.clone(),
            role: self.role.clone(),
            keeper,
            _present: {
                self.present.0.fetch_add(1, Ordering::SeqCst);
                Presence(self.present.clone())
            },
            outbox: Outbox::default(),
            active: false,
            resumed: false,
            rules: self.rules.clone(),
            told: 0,
            verbose: self.verbose,
            claim: rule
                .filter(|_| after.is_some())
                .map(|rule| (rule.to_string(), run)),
            after,
            left: self.store.as_ref().map(|_| watch::channel(()).0),
            taking: Taking {
                takeover: self.takeover.clone(),
                run,
            },
            marks_firings: false,
        }
    }

    /// Whether this replica holds the lease now (always, without
    /// `--leader-elect`): a rule started now watches at once.
    pub fn leads(&self) -> bool {
        self.role.borrow().may_deliver()
    }

    /// Whether the role comes from a lease (`--leader-elect`).
    pub fn elects(&self) -> bool {
        self.elector.is_some()
    }

    /// Completes once this replica holds the lease.
    async fn takes_over(&self) {
        let mut role = self.role.clone();
        if role.wait_for(Role::may_deliver).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Completes once every rule's replica has left (its last checkpoint
    /// written): the lease may go then, while the sinks still flush.
    pub async fn left(&self) {
        loop {
            if self.present.0.load(Ordering::SeqCst) == 0 {
                return;
            }
            self.present.1.notified().await;
        }
    }

    /// A rule's run `run` was removed from the rules file (or changed):
    /// its section of the checkpoint is dropped at the next write.
    pub fn stopped(&self, rule: &str, run: u64) {
        if let Some(store) = &self.store {
            store.stopped(rule, run);
        }
    }

    /// On the way out, once every rule's replica has left: the lease
    /// released, so a standby takes over at once.
    pub async fn leave(mut self) {
        let Some(task) = self.elector.take() else {
            return;
        };
        let was_active = self.role.borrow().may_deliver();
        // The campaign ends when nobody watches the role any more.
        drop(self.role);
        let Ok(Ok(mut elector)) = tokio::time::timeout(Duration::from_secs(5), task).await else {
            return;
        };
        if was_active {
            let _ = tokio::time::timeout(Duration::from_secs(5), elector.release()).await;
        }
    }
}

impl Replica {
    /// With `--checkpoint`: ends (the sender gone) once this replica has
    /// left, its last checkpoint written.
    pub fn left(&self) -> Option<watch::Receiver<()>> {
        self.left.as_ref().map(watch::Sender::subscribe)
    }

    /// Whether it keeps a checkpoint (`--checkpoint`).
    pub fn keeps_checkpoint(&self) -> bool {
        self.keeper.is_some()
    }

    /// `--count`: how many notifications the checkpoint said were told at
    /// the last takeover (0 without one).
    pub fn told(&self) -> u64 {
        self.told
    }

    /// `--count`: how many notifications are told so far, for the
    /// checkpoints written from now.
    pub fn count(&mut self, told: u64) {
        self.told = told;
    }

    /// Whether the watches resumed from a checkpoint at the last takeover.
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    /// The sinks whose acknowledgements count: a checkpoint never gets
    /// ahead of what they have not acknowledged.
    pub fn follow(&mut self, outbox: &Outbox) {
        self.outbox = outbox.clone();
        let role = self.role.clone();
        outbox.gate(std::sync::Arc::new(move || role.borrow().may_deliver()));
    }

    /// `--resolve` with `--hold`: a firing is marked in the checkpoint
    /// before it goes out. The next replica replays the change that fired
    /// from the checkpoint before it, and holds it again: should the object
    /// be deleted or stop meeting `--when` before that hold completes, the
    /// mark makes it tell the resolution of the alert the receiver may hold.
    pub fn marks_firings(&mut self, marks: bool) {
        self.marks_firings = marks;
    }

    /// Whether a notification may go out now: this replica holds the lease
    /// and its renew deadline has not passed.
    pub fn may_deliver(&self) -> bool {
        self.active && self.role.borrow().may_deliver()
    }

    /// The next thing to do. Cancel-safe.
    pub async fn next(&mut self) -> Turn {
        loop {
            let (leading, until) = match &*self.role.borrow_and_update() {
                Role::Failed(message) => return Turn::Failed(Exit::Refused(message.clone())),
                role @ Role::Active { until } => (role.may_deliver(), Some(*until)),
                Role::Standby { .. } => (false, None),
            };
            // A changed rule's new version: its old one tells what it
            // read, flushes and writes its last section first.
            if leading
                && !self.active
                && let Some(after) = &mut self.after
            {
                tokio::select! {
                    _ = after.changed() => {
                        self.after = None;
                        self.taking.takeover.expect(self.taking.run);
                    }
                    changed = self.role.changed() => {
                        if changed.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                }
                continue;
            }
            if leading != self.active {
                return if leading {
                    Turn::TakeOver
                } else {
                    Turn::StepDown
                };
            }
            let flush_at = self
                .keeper
                .as_ref()
                .filter(|k| k.dirty && self.active)
                .map(|k| {
                    k.last_write
                        .map_or_else(Instant::now, |last| last + WRITE_EVERY)
                });
            tokio::select! {
                changed = self.role.changed() => {
                    if changed.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
                _ = at(until.filter(|_| self.active)) => {}
                _ = at(flush_at) => return Turn::Flush,
            }
        }
    }

    /// Carries out a turn.
    pub async fn handle(
        &mut self,
        turn: Turn,
        session: &mut Session,
        filter: &mut Filter,
        unsaid: &Unsaid,
        settled: bool,
    ) -> Result<()> {
        match turn {
            Turn::Failed(exit) => Err(exit),
            Turn::TakeOver => self.take_over(session, filter).await,
            Turn::StepDown => {
                session.stop_watches();
                // It takes over again with the others.
                self.taking.takeover.expect(self.taking.run);
                filter.forget();
                self.active = false;
                if let Some(keeper) = &mut self.keeper {
                    keeper.waiting.clear();
                }
                crate::metrics::leader(false);
                crate::log::info(
                    "lease",
                    "leader election: no longer active; standby, delivering nothing",
                );
                Ok(())
            }
            Turn::Flush => self.write(session, filter, unsaid, settled).await,
        }
    }

    /// Starts the watches, from the checkpoint where there is one.
    async fn take_over(&mut self, session: &mut Session, filter: &mut Filter) -> Result<()> {
        self.active = true;
        crate::metrics::leader(true);
        let mut from = vec![None; session.targets.len()];
        if let Some(keeper) = &mut self.keeper {
            if let Some((rule, run)) = self.claim.take() {
                keeper.store = keeper.store.section(&rule, run);
            }
            let stored = keeper
                .store
                .load()
                .await
                .map_err(|f| refused(f, &keeper.store))?;
            let rule = rule(session, filter);
            let mut stored = stored;
            if let Some(found) = &stored {
                same_form(&self.rules, &keeper.store, found, &rule)?;
            }
            if let Some(found) = &stored
                && (keeper.store.is_section() || !found.rule.is_empty())
                && !same_rule(&found.rule, &rule, &filter.describe())
            {
                // A rule of a rules file changed since (or new): its old
                // section is not its own; it starts from now.
                if !keeper.store.is_section() {
                    return Err(another_rule(&keeper.store, &found.rule, &rule));
                }
                stored = None;
            }
            keeper.stored = stored.clone().unwrap_or_default();
            self.told = keeper.stored.told;
            keeper.announced.clear();
            keeper.firing.clear();
            let mut marks = stored.map(|c| c.targets).unwrap_or_default();
            for (index, target) in session.targets.clone().iter().enumerate() {
                match marks.remove(&target_key(target)) {
                    Some(mark) => {
                        from[index] = restore(session, filter, index, target, mark);
                    }
                    None => {
                        let takeover = &self.taking.takeover;
                        if let Some(position) = takeover.position_now(session, target).await {
                            session.tracker.advance(index, position);
                        }
                    }
                }
                if self.verbose {
                    crate::term::erase();
                    match &from[index] {
                        Some(rv) => crate::term::stderr_line!(
                            "{}{}: resuming from checkpoint resourceVersion {rv}",
                            session.said,
                            target.display()
                        ),
                        None => crate::term::stderr_line!(
                            "{}{}: no checkpoint yet; listing",
                            session.said,
                            target.display()
                        ),
                    }
                }
            }
            keeper.dirty = true;
            keeper.waiting.clear();
        }
        self.resumed = from.iter().any(Option::is_some);
        // One watch per distinct request among the rules taking over, each
        // rule from its own position (a rule with a manifest's objects
        // keeps its own watches).
        let takeover = &self.taking.takeover;
        let positions = from
            .iter()
            .map(|at| at.as_deref().and_then(|at| at.parse().ok()))
            .collect();
        let shared = match session.shares_watches() {
            true => {
                let targets = session.targets.clone();
                takeover.join(self.taking.run, targets, positions).await
            }
            false => None,
        };
        match shared {
            Some((streams, counting)) => session.read_watches(streams, counting),
            None => {
                takeover.excuse(self.taking.run);
                session.start_watches(from);
            }
        }
        self.outbox.forget_firing();
        if self.outbox.keeps_alerts_alive() && filter.any_open() {
            keep_firing(&self.outbox, session, filter).await;
        }
        Ok(())
    }

    /// After deliveries: the checkpoint is due, and written if a second has
    /// passed since the last write.
    pub async fn delivered(
        &mut self,
        session: &Session,
        filter: &Filter,
        unsaid: &Unsaid,
        settled: bool,
    ) -> Result<()> {
        let Some(keeper) = &mut self.keeper else {
            return Ok(());
        };
        keeper.dirty = true;
        if keeper
            .last_write
            .is_some_and(|last| last.elapsed() < WRITE_EVERY)
        {
            return Ok(());
        }
        self.write(session, filter, unsaid, settled).await
    }

    /// Writes the newest checkpoint the sinks have acknowledged, if this
    /// replica may and the command has run what it was given: otherwise a
    /// little later.
    async fn write(
        &mut self,
        session: &Session,
        filter: &Filter,
        unsaid: &Unsaid,
        settled: bool,
    ) -> Result<()> {
        let may = self.may_deliver();
        let Some(keeper) = &mut self.keeper else {
            return Ok(());
        };
        if !may {
            keeper.dirty = false;
            keeper.waiting.clear();
            return Ok(());
        }
        let retry_soon = |keeper: &mut Keeper| {
            keeper.last_write = Some(Instant::now() - WRITE_EVERY + RECHECK);
        };
        if !settled {
            retry_soon(keeper);
            return Ok(());
        }
        let mut checkpoint = build(&self.identity, session, filter, unsaid);
        checkpoint.told = self.told;
        let checkpoint_rule = checkpoint.rule.clone();
        // A target still at its first list has no mark yet: the next
        // replica would start it from its own "now", so write again as soon
        // as the list is in, not at the next delivery.
        let complete = checkpoint.targets.len() == session.targets.len();
        // An announced object neither held nor waiting in a window is
        // deleted, its deletion handed over by now.
        let gone = keeper
            .announced
            .iter()
            .filter_map(|(key, uids)| Some((key, uids, checkpoint.targets.get(key)?)))
            .flat_map(|(key, uids, mark)| {
                uids.keys()
                    .filter(|uid| !mark.objects.contains_key(*uid) && !unsaid.contains(uid))
                    .map(|uid| (key.clone(), uid.clone()))
            })
            .collect();
        let snapshot = Snapshot {
            through: self.outbox.handed(),
            encoded: checkpoint.encode(),
            gone,
        };
        let (size, objects, rules) = keeper.store.measure(&checkpoint).await;
        if size > checkpoint::LIMIT {
            return Err(too_large(&keeper.store, size, objects, rules));
        }
        keeper.keep(snapshot);
        let Some(Snapshot {
            through,
            encoded,
            gone,
        }) = keeper.acknowledged(self.outbox.acknowledged())
        else {
            retry_soon(keeper);
            return Ok(());
        };
        // A snapshot taken after a marked firing was handed keeps what
        // became of its alert: the mark is no longer needed.
        for uids in keeper.firing.values_mut() {
            uids.retain(|_, before| *before >= through);
        }
        keeper.firing.retain(|_, uids| !uids.is_empty());
        for (key, uid) in &gone {
            if let Some(uids) = keeper.announced.get_mut(key) {
                uids.remove(uid);
            }
        }
        let mut written: Checkpoint = serde_json::from_str(&encoded).unwrap_or_default();
        keeper.announce_in(&mut written);
        if keeper.leaving && !keeper.store.is_section() && written == keeper.stored {
            keeper.dirty = false;
            return Ok(());
        }
        keeper.last_write = Some(Instant::now());
        keeper.dirty = !keeper.waiting.is_empty() || !complete;
        if !complete {
            retry_soon(keeper);
        }
        // The rules' sections are written together, at most once a second;
        // the last one on the way out at once.
        match keeper.store.offer(&written, keeper.leaving).await {
            Ok(None) => {
                keeper.held(written);
                Ok(())
            }
            Ok(Some(due)) => {
                keeper.dirty = true;
                keeper.last_write = Some(due - WRITE_EVERY);
                Ok(())
            }
            Err(Failure::Conflict) => {
                keeper.dirty = true;
                // Written by a replica of this rule, or by another rule
                // given the same name: that one is refused, never
                // overwritten every second.
                // A rules file's section refuses a command line's checkpoint
                // written meanwhile, and a command line a rules file's.
                let store = keeper.store.clone();
                if store.is_section() {
                    if let Some(theirs) = store.command_line_stored().await {
                        of_a_rule(&self.rules, &store, &theirs)?;
                    }
                } else if let Ok(Some(stored)) = store.load().await {
                    same_form(&self.rules, &store, &stored, &checkpoint_rule)?;
                    if !stored.rule.is_empty()
                        && !same_rule(&stored.rule, &checkpoint_rule, &filter.describe())
                    {
                        return Err(another_rule(&store, &stored.rule, &checkpoint_rule));
                    }
                }
                if self.verbose {
                    crate::term::stderr_line!(
                        "checkpoint configmap/{}: written meanwhile by another replica; \
                         writing over it next time if still active",
                        store.name
                    );
                }
                Ok(())
            }
            Err(Failure::TooLarge {
                size,
                objects,
                rules,
            }) => Err(too_large(&keeper.store, size, objects, rules)),
            Err(Failure::Forbidden(verb)) => Err(refused(Failure::Forbidden(verb), &keeper.store)),
            Err(Failure::Other(err)) if crate::trouble::no_namespace(&err) => {
                Err(Exit::Refused(crate::trouble::namespace_missing(
                    &keeper.store.namespace,
                    "--checkpoint keeps its ConfigMap there",
                )))
            }
            Err(Failure::Other(err)) => {
                keeper.dirty = true;
                crate::log::warning(
                    "checkpoint",
                    format_args!(
                        "checkpoint configmap/{}: {}; retrying",
                        keeper.store.name,
                        crate::trouble::said(&err)
                    ),
                );
                Ok(())
            }
        }
    }

    /// Before notifications go out: the UIDs among them the stored
    /// checkpoint does not know are written to it as announced (one write
    /// for them all), so that a replica that must re-list tells their
    /// deletion even if no later checkpoint held them; so are, with
    /// [`Replica::marks_firings`], the firings (a mark kept until a
    /// checkpoint taken after they were handed over is written). Retried until stored; `false` if this replica may no longer
    /// deliver meanwhile.
    pub async fn announce(&mut self, session: &Session, notices: &[Notice]) -> Result<bool> {
        let Some(keeper) = &mut self.keeper else {
            return Ok(true);
        };
        // Another rule's write may have stored this rule's section since.
        if let Some(stored) = keeper.store.stored().await {
            keeper.held(stored);
        }
        let mut new = false;
        let handed = self.outbox.handed();
        for (index, change) in notices {
            if matches!(
                change.kind,
                ChangeKind::Deleted | ChangeKind::Resolved { gone: true }
            ) {
                continue;
            }
            let key = target_key(&session.targets[*index]);
            let uid = crate::decide::filter::uid(&change.object);
            // With --resolve (and --when) every other notification fires.
            // Marked even if a checkpoint has the alert open: one written
            // before this firing (an older snapshot) may close it.
            let fires = !matches!(change.kind, ChangeKind::Resolved { .. });
            if self.marks_firings && fires && !uid.is_empty() {
                let uids = keeper.firing.entry(key.clone()).or_default();
                new |= uids.insert(uid.to_string(), handed).is_none();
            }
            if uid.is_empty() || keeper.knows(&key, &uid) {
                continue;
            }
            new = true;
            keeper
                .announced
                .entry(key)
                .or_default()
                .insert(uid.into_owned(), crate::tracker::key(&change.object));
        }
        if !new {
            return Ok(true);
        }
        let mut pause = RECHECK;
        loop {
            if !self.may_deliver() {
                return Ok(false);
            }
            let Some(keeper) = &mut self.keeper else {
                return Ok(true);
            };
            // A section carries what it offered since, if it did.
            let mut checkpoint = match keeper.store.current().await {
                Some(current) if keeper.store.is_section() => current,
                _ => keeper.stored.clone(),
            };
            checkpoint.writer = self.identity.clone();
            keeper.announce_in(&mut checkpoint);
            let failure = match keeper.store.save(&checkpoint).await {
                Ok(()) => {
                    keeper.stored = checkpoint;
                    return Ok(true);
                }
                Err(Failure::TooLarge {
                    size,
                    objects,
                    rules,
                }) => {
                    return Err(too_large(&keeper.store, size, objects, rules));
                }
                Err(Failure::Forbidden(verb)) => {
                    return Err(refused(Failure::Forbidden(verb), &keeper.store));
                }
                Err(Failure::Other(err)) if crate::trouble::no_namespace(&err) => {
                    return Err(Exit::Refused(crate::trouble::namespace_missing(
                        &keeper.store.namespace,
                        "--checkpoint keeps its ConfigMap there",
                    )));
                }
                Err(Failure::Conflict) => "written meanwhile by another replica".to_string(),
                Err(Failure::Other(err)) => crate::trouble::said(&err),
            };
            crate::log::warning(
                "checkpoint",
                format_args!(
                    "checkpoint configmap/{}: {failure}; retrying before notifying of new objects",
                    keeper.store.name
                ),
            );
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(WRITE_EVERY);
        }
    }

    /// On the way out: the last checkpoint (the process then releases
    /// the lease, once every rule has left), after what the exit flushed
    /// (a throttle window's last change): written unless it is stored.
    pub async fn leave(mut self, session: &Session, filter: &Filter, unsaid: &Unsaid) {
        let Some(keeper) = &mut self.keeper else {
            return;
        };
        keeper.leaving = true;
        // Once it took over (a refused checkpoint is never written over).
        keeper.dirty |= keeper.last_write.is_some();
        if keeper.dirty {
            let _ = self.write(session, filter, unsaid, true).await;
        }
    }
}

impl Keeper {
    /// Adds to a checkpoint the announced UIDs it does not hold, and the
    /// marked firings.
    fn announce_in(&self, checkpoint: &mut Checkpoint) {
        for (key, uids) in &self.announced {
            let mark = checkpoint.targets.entry(key.clone()).or_default();
            for (uid, name) in uids {
                if !mark.objects.contains_key(uid) {
                    mark.announced.insert(uid.clone(), name.clone());
                }
            }
        }
        for (key, uids) in &self.firing {
            let mark = checkpoint.targets.entry(key.clone()).or_default();
            mark.firing.extend(uids.keys().cloned());
        }
    }

    /// The checkpoint is stored: an object it holds is no longer announced.
    fn held(&mut self, stored: Checkpoint) {
        for (key, uids) in &mut self.announced {
            if let Some(mark) = stored.targets.get(key) {
                uids.retain(|uid, _| !mark.objects.contains_key(uid));
            }
        }
        self.announced.retain(|_, uids| !uids.is_empty());
        self.stored = stored;
    }

    /// Whether the stored checkpoint knows this UID (held or announced).
    fn knows(&self, key: &str, uid: &str) -> bool {
        self.stored
            .targets
            .get(key)
            .is_some_and(|m| m.objects.contains_key(uid) || m.announced.contains_key(uid))
    }

    /// Keeps a snapshot until the sinks acknowledge it. One taken with
    /// nothing handed over since the last replaces it; past [`SNAPSHOTS`]
    /// the newest is replaced, which only delays a write.
    fn keep(&mut self, snapshot: Snapshot) {
        let replaces = self
            .waiting
            .back()
            .is_some_and(|last| last.through == snapshot.through)
            || self.waiting.len() >= SNAPSHOTS;
        if replaces {
            self.waiting.pop_back();
        }
        self.waiting.push_back(snapshot);
    }

    /// The newest snapshot whose notifications are all acknowledged (up to
    /// `acknowledged`); it and the older ones leave the waiting list.
    fn acknowledged(&mut self, acknowledged: u64) -> Option<Snapshot> {
        let mut newest = None;
        while self
            .waiting
            .front()
            .is_some_and(|s| s.through <= acknowledged)
        {
            newest = self.waiting.pop_front();
        }
        newest
    }
}

/// Free-standing forms for the notify loop, where the replica is optional.
pub async fn next(replica: &mut Option<Replica>) -> Turn {
    match replica {
        Some(replica) => replica.next().await,
        None => std::future::pending().await,
    }
}

/// [`Ha::takes_over`], never without `--leader-elect` or `--checkpoint`.
pub async fn takes_over(ha: &Option<Ha>) {
    match ha {
        Some(ha) => ha.takes_over().await,
        None => std::future::pending().await,
    }
}

/// [`Ha::left`], never without `--leader-elect` or `--checkpoint`.
pub async fn left(ha: &Option<Ha>) {
    match ha {
        Some(ha) => ha.left().await,
        None => std::future::pending().await,
    }
}

pub fn may_deliver(replica: &Option<Replica>) -> bool {
    replica.as_ref().is_none_or(Replica::may_deliver)
}

/// What tells a target's part of the checkpoint from another's: its type,
/// selection and namespace, as given.
pub fn target_key(target: &Target) -> String {
    // As written before objects were named with their namespace.
    let target = &Target {
        spread: false,
        ..target.clone()
    };
    format!(
        "{} in {}",
        target.display(),
        target.namespace.as_deref().unwrap_or("every namespace")
    )
}

/// Seeds the tracker and the filter from one target's mark; the
/// resourceVersion to resume the watch from, if the mark has one.
fn restore(
    session: &mut Session,
    filter: &mut Filter,
    index: usize,
    target: &Target,
    mark: Mark,
) -> Option<String> {
    let api_version = target.api.api_version();
    let kind = target.api.kind.clone();
    let mut identities = Vec::with_capacity(mark.objects.len());
    for (uid, object) in mark.objects {
        let (namespace, name) = object.key.split_once('/').unwrap_or(("", &object.key));
        let mut metadata =
            json!({"name": name, "uid": uid, "resourceVersion": object.resource_version});
        if !namespace.is_empty() {
            metadata["namespace"] = json!(namespace);
        }
        identities.push(json!({"apiVersion": api_version, "kind": kind, "metadata": metadata}));
        filter.restore(&uid, object.when, object.values, object.open);
    }
    let announced = mark
        .announced
        .into_iter()
        .map(|(uid, key)| {
            let (namespace, name) = key.split_once('/').unwrap_or(("", &key));
            let mut metadata = json!({"name": name, "uid": uid});
            if !namespace.is_empty() {
                metadata["namespace"] = json!(namespace);
            }
            json!({"apiVersion": api_version, "kind": kind, "metadata": metadata})
        })
        .collect();
    for uid in &mark.firing {
        filter.may_have_fired(uid);
    }
    let position = mark.resource_version.parse::<u64>().unwrap_or(0);
    session.tracker.seed(index, position, identities, announced);
    (position > 0).then_some(mark.resource_version)
}

/// The alerts the checkpoint has open whose condition still holds on the
/// object as listed now: Alertmanager gets them again on its re-send
/// interval, as the replica before did (else they would expire at their
/// `endsAt` while they still fire). Those that no longer hold are resolved
/// by what the watch replays since the checkpoint.
pub(super) async fn keep_firing(outbox: &Outbox, session: &Session, filter: &Filter) {
    for (index, target) in session.targets.iter().enumerate() {
        // Handed over by a rule's version before, the open alerts are in
        // the filter before any object is in the tracker.
        let open = session.tracker.versions(index).next().is_none()
            || session
                .tracker
                .versions(index)
                .any(|(_, uid, _)| filter.remembered(uid).open);
        if !open {
            continue;
        }
        let api = objects_of(session, target);
        let mut params = ListParams::default();
        let (labels, fields) = target.selection.selectors();
        if let Some(labels) = &labels {
            params = params.labels(labels);
        }
        if let Some(fields) = &fields {
            params = params.fields(fields);
        }
        let list = match api.list(&params).await {
            Ok(list) => list,
            Err(err) => {
                crate::log::warning(
                    "sink",
                    format_args!(
                        "{}: cannot list it to keep its open alerts alive at Alertmanager ({}); \
                         they expire at their endsAt unless they change",
                        target.display(),
                        crate::trouble::said(&err)
                    ),
                );
                continue;
            }
        };
        for item in list.items {
            let Ok(mut object) = serde_json::to_value(&item) else {
                continue;
            };
            // A list's items may come without their type.
            if object.get("kind").is_none() {
                object["apiVersion"] = json!(target.api.api_version());
                object["kind"] = json!(target.api.kind);
            }
            if filter.still_firing(&object) {
                outbox.keep_firing(target, &object);
            }
        }
    }
}

/// The target's collection: in its namespace, or in all.
fn objects_of(session: &Session, target: &Target) -> Api<DynamicObject> {
    let resource = ApiResource::from(&target.api);
    let client = session.conn.client.clone();
    match &target.namespace {
        Some(ns) => Api::namespaced_with(client, ns, &resource),
        None => Api::all_with(client, &resource),
    }
}

/// The collection's resourceVersion now, before the watch starts: a target
/// with no object yet still gets a place to resume from.
async fn position_now(session: &Session, target: &Target) -> Option<u64> {
    let list = objects_of(session, target)
        .list_metadata(&ListParams::default().limit(1))
        .await
        .ok()?;
    list.metadata.resource_version?.parse().ok()
}

/// The checkpoint of what this replica has delivered. An object with a
/// notification waiting in a window is kept as it was before the first
/// change that waits, and its target's position stays before that change:
/// the replica that resumes from it sees the change again (SPEC §8).
fn build(identity: &str, session: &Session, filter: &Filter, unsaid: &Unsaid) -> Checkpoint {
    let mut targets = BTreeMap::new();
    for (index, target) in session.targets.iter().enumerate() {
        if !session.tracker.synced(index) {
            continue;
        }
        let mut objects: BTreeMap<String, ObjectMark> = session
            .tracker
            .versions(index)
            .filter_map(|(key, uid, resource_version)| {
                if unsaid.contains(uid) {
                    return None;
                }
                let memory = filter.remembered(uid);
                let mark = ObjectMark {
                    key: key.to_string(),
                    resource_version: resource_version.to_string(),
                    when: memory.when,
                    values: memory.values.cloned(),
                    open: memory.open,
                };
                Some((uid.to_string(), mark))
            })
            .collect();
        let mut position = session.tracker.position(index);
        for (uid, before) in unsaid.iter().filter(|(_, b)| b.target == index) {
            let just_before = before.resource_version.saturating_sub(1);
            position = position.map(|p| p.min(just_before));
            if let Some((when, values, open)) = &before.known {
                let mark = ObjectMark {
                    key: before.key.clone(),
                    resource_version: just_before.to_string(),
                    when: *when,
                    values: values.clone(),
                    open: *open,
                };
                objects.insert(uid.clone(), mark);
            }
        }
        let mark = Mark {
            resource_version: position.map(|p| p.to_string()).unwrap_or_default(),
            objects,
            announced: BTreeMap::new(),
            // The filter's are the rule's: every target carries them.
            firing: filter.unsure().cloned().collect(),
        };
        targets.insert(target_key(target), mark);
    }
    Checkpoint {
        writer: identity.to_string(),
        rule: rule(session, filter),
        targets,
        rules: BTreeMap::new(),
        told: 0,
    }
}

/// The rule a checkpoint belongs to: its targets and what shapes the state
/// kept of each object.
fn rule(session: &Session, filter: &Filter) -> String {
    rule_of(&session.targets, &filter.describe())
}

/// The rule of these targets and flags (`Filter::describe`), as a
/// checkpoint names it.
pub fn rule_of(targets: &[Target], flags: &str) -> String {
    let targets: Vec<String> = targets.iter().map(target_key).collect();
    let mut rule = targets.join(", ");
    if !flags.is_empty() {
        rule.push(' ');
        rule.push_str(flags);
    }
    rule
}

/// A command line's checkpoint and a rules file's are not each other's:
/// a command line refuses a rules file's; a rules file (`rules`: its rules,
/// see [`Ha::rules`]) refuses a command line's unless one of its rules is
/// that command line (which takes it: the same targets and flags).
fn same_form(rules: &Rules, store: &Store, found: &Checkpoint, ours: &str) -> Result<()> {
    if !store.is_section() && !found.rules.is_empty() {
        return Err(another_form(
            store,
            &rules_named(found.rules.keys()),
            &format!("a command line ({ours})"),
        ));
    }
    if store.found_command_line() && !found.rule.is_empty() {
        return of_a_rule(rules, store, &found.rule);
    }
    Ok(())
}

/// A command line's checkpoint (of rule `theirs`) found by a rules file:
/// refused unless one of its rules is that command line.
fn of_a_rule(rules: &Rules, store: &Store, theirs: &str) -> Result<()> {
    let rules = rules.lock().map(|r| r.clone()).unwrap_or_default();
    if rules
        .values()
        .any(|(rule, flags)| same_rule(theirs, rule, flags))
    {
        return Ok(());
    }
    Err(another_form(
        store,
        &format!("a command line ({theirs})"),
        &rules_named(rules.keys()),
    ))
}

/// A command line's checkpoint found by a rules file none of whose rules
/// is that command line (which would take it), or the other way round.
fn another_form(store: &Store, stored: &str, ours: &str) -> Exit {
    Exit::Usage(format!(
        "--checkpoint {name}: configmap/{name} in namespace {ns} holds the checkpoint of \
         {stored}; this is {ours}: give each its own --checkpoint name",
        name = store.name,
        ns = store.namespace
    ))
}

/// The rules of a rules file, as a refusal names them.
fn rules_named<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    format!("a rules file (--rules; rules {})", names.join(", "))
}

fn another_rule(store: &Store, stored: &str, ours: &str) -> Exit {
    Exit::Usage(format!(
        "--checkpoint {name}: configmap/{name} in namespace {ns} holds the checkpoint of \
         another rule ({stored}); this rule is {ours}: give each rule its own --checkpoint name",
        name = store.name,
        ns = store.namespace
    ))
}

fn refused(failure: Failure, store: &Store) -> Exit {
    match failure {
        Failure::Forbidden(verb) => Exit::Refused(format!(
            "--checkpoint: forbidden to {verb} configmaps \"{}\" in namespace {}; \
             it needs get, create and update on configmaps there",
            store.name, store.namespace
        )),
        Failure::Other(err) => Exit::Refused(format!(
            "--checkpoint: cannot read configmap/{} in namespace {}: {}",
            store.name,
            store.namespace,
            crate::trouble::said(&err)
        )),
        Failure::Conflict | Failure::TooLarge { .. } => Exit::Refused(format!(
            "--checkpoint: cannot read configmap/{} in namespace {}",
            store.name, store.namespace
        )),
    }
}

fn too_large(store: &Store, size: usize, objects: usize, rules: usize) -> Exit {
    let of_rules = match rules {
        0 => String::new(),
        1 => " of 1 rule".to_string(),
        n => format!(" of {n} rules"),
    };
    Exit::Usage(format!(
        "--checkpoint: the state of {objects} objects{of_rules} takes {size} bytes, over the \
         1048576 bytes (1 MiB) a ConfigMap may hold; select fewer objects (-l, \
         --field-selector) or drop --checkpoint (configmap/{} keeps its last checkpoint)",
        store.name
    ))
}

async fn at(when: Option<Instant>) {
    match when {
        Some(when) => tokio::time::sleep_until(when).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline() -> kube::Client {
        kube::Client::new(
            tower::service_fn(|_: http::Request<kube::client::Body>| async {
                Err::<http::Response<kube::client::Body>, std::io::Error>(std::io::Error::other(
                    "offline",
                ))
            }),
            "default",
        )
    }

    fn takeover(runs: &[u64]) -> Arc<Takeover> {
        let takeover = Arc::new(Takeover {
            client: offline(),
            round: std::sync::Mutex::default(),
            now: tokio::sync::Mutex::default(),
        });
        for &run in runs {
            takeover.expect(run);
        }
        takeover
    }

    #[tokio::test(start_paused = true)]
    async fn the_rules_taking_over_start_as_soon_as_every_one_expected_came_or_ended() {
        let takeover = takeover(&[1, 2, 3]);
        let started = Instant::now();
        let ended = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            // Run 3 ends before it takes over (its replica dropped).
            drop(Taking {
                takeover: takeover.clone(),
                run: 3,
            });
        };
        let (one, two, ()) = tokio::join!(
            takeover.join(1, Vec::new(), Vec::new()),
            takeover.join(2, Vec::new(), Vec::new()),
            ended
        );
        assert!(one.is_some() && two.is_some());
        assert_eq!(started.elapsed(), Duration::from_millis(100));
        assert_eq!(takeover.round().number, 1, "one round for both");
    }

    #[tokio::test(start_paused = true)]
    async fn the_rules_taking_over_wait_while_they_keep_coming_and_not_for_one_that_never_comes() {
        let takeover = takeover(&[1, 2, 3]);
        let started = Instant::now();
        let late = async {
            tokio::time::sleep(Duration::from_millis(900)).await;
            takeover.join(2, Vec::new(), Vec::new()).await
        };
        // Run 3 never comes: one second after the last one came, they start.
        let (one, two) = tokio::join!(takeover.join(1, Vec::new(), Vec::new()), late);
        assert!(one.is_some() && two.is_some());
        assert_eq!(started.elapsed(), Duration::from_millis(900) + TOGETHER);
        assert_eq!(takeover.round().number, 1, "one round for both");
        // Run 3 comes later: a round of its own, at once.
        let started = Instant::now();
        assert!(takeover.join(3, Vec::new(), Vec::new()).await.is_some());
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    fn keeper() -> Keeper {
        let client = offline();
        Keeper {
            store: Store::new(
                Api::namespaced(client, "default"),
                "c".into(),
                "default".into(),
            ),
            dirty: false,
            last_write: None,
            waiting: VecDeque::new(),
            stored: Checkpoint::default(),
            announced: BTreeMap::new(),
            firing: BTreeMap::new(),
            leaving: false,
        }
    }

    fn snapshot(through: u64, encoded: &str) -> Snapshot {
        Snapshot {
            through,
            encoded: encoded.into(),
            gone: Vec::new(),
        }
    }

    fn through(keeper: &Keeper) -> Vec<u64> {
        keeper.waiting.iter().map(|s| s.through).collect()
    }

    #[tokio::test]
    async fn a_snapshot_is_written_only_once_the_sinks_acknowledged_all_before_it() {
        let mut keeper = keeper();
        keeper.keep(snapshot(3, "a"));
        keeper.keep(snapshot(5, "b"));
        keeper.keep(snapshot(9, "c"));
        assert!(keeper.acknowledged(2).is_none());
        assert_eq!(keeper.acknowledged(7).unwrap().encoded, "b");
        assert_eq!(through(&keeper), [9]);
        assert_eq!(keeper.acknowledged(9).unwrap().encoded, "c");
        assert!(keeper.waiting.is_empty());
    }

    #[tokio::test]
    async fn nothing_handed_since_replaces_the_last_snapshot_and_the_list_stays_bounded() {
        let mut keeper = keeper();
        keeper.keep(snapshot(3, "a"));
        keeper.keep(snapshot(3, "b"));
        assert_eq!(through(&keeper), [3]);
        assert_eq!(keeper.waiting[0].encoded, "b");
        for n in 4..40 {
            keeper.keep(snapshot(n, "x"));
        }
        assert_eq!(keeper.waiting.len(), SNAPSHOTS);
        assert_eq!(keeper.waiting.front().unwrap().through, 3);
        assert_eq!(keeper.waiting.back().unwrap().through, 39);
    }
}
