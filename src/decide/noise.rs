//! Noise control as pure state over explicit instants: `--hold` (a condition
//! must stay true for a while before it counts) and `--throttle` (at most one
//! notification per object per window). The run loops own the timers.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::filter::uid;
use crate::tracker::{Change, ChangeKind, Previous, key};

/// Things that each become due a fixed time after they started. Since every
/// start is "now" and time only moves forward, the due times are in order:
/// a queue, not a heap, and finding the next one costs nothing.
#[derive(Debug)]
struct Timeline<K> {
    after: Duration,
    queue: VecDeque<(Instant, K)>,
}

impl<K: Clone> Timeline<K> {
    fn new(after: Duration) -> Self {
        Timeline {
            after,
            queue: VecDeque::new(),
        }
    }

    /// Starts `key` at `now`; returns when it is due.
    fn start(&mut self, key: K, now: Instant) -> Instant {
        // Durations are bounded by the plan, so this cannot overflow.
        let due = now + self.after;
        self.queue.push_back((due, key));
        due
    }

    /// Starts `key` with a due time of its own, kept in order among the
    /// others.
    fn insert(&mut self, key: K, due: Instant) -> Instant {
        let at = self.queue.partition_point(|(d, _)| *d <= due);
        self.queue.insert(at, (due, key));
        due
    }

    /// The earliest due time, perhaps of something since cancelled (waking
    /// for it then finds nothing to do).
    fn next(&self) -> Option<Instant> {
        self.queue.front().map(|(due, _)| *due)
    }

    /// Everything due at `now`, oldest first, with the time it was due.
    fn pop_due(&mut self, now: Instant) -> Vec<(Instant, K)> {
        let ready = self.queue.iter().take_while(|(due, _)| *due <= now).count();
        self.queue.drain(..ready).collect()
    }
}

/// Folds a later change to the same object into a waiting one: the newest
/// state, the kind of change the first announced (a deletion wins), and the
/// version before the first, so a diff shows every path changed in between.
/// With `--resolve`, the later of a firing and a resolution wins: it says
/// whether the alert is open now.
pub fn fold(waiting: &mut Change, later: Change) {
    let resolution = |kind| matches!(kind, ChangeKind::Resolved { .. });
    if later.kind == ChangeKind::Deleted || resolution(later.kind) || resolution(waiting.kind) {
        waiting.kind = later.kind;
    }
    waiting.object = later.object;
}

/// A change to an object of one target (by its index): what notifies.
pub type Notice = (usize, Change);

/// `--hold`: what has held since when. Each subject's hold is its own; a
/// subject that stops holding is dropped, and starts over if it holds again.
#[derive(Debug)]
pub struct Hold<K, V> {
    timeline: Timeline<K>,
    holding: HashMap<K, (Instant, V)>,
}

impl<K: Clone + Eq + Hash, V> Hold<K, V> {
    pub fn new(duration: Duration) -> Self {
        Hold {
            timeline: Timeline::new(duration),
            holding: HashMap::new(),
        }
    }

    /// `key` holds at `now`: starts its hold with `value`, unless it is
    /// already holding, in which case `merge` folds `value` into what waits.
    pub fn holds(&mut self, key: K, value: V, now: Instant, merge: impl FnOnce(&mut V, V)) {
        match self.holding.get_mut(&key) {
            Some((_, waiting)) => merge(waiting, value),
            None => {
                let due = self.timeline.start(key.clone(), now);
                self.holding.insert(key, (due, value));
            }
        }
    }

    /// `key` does not hold (any more): its hold is dropped.
    pub fn breaks(&mut self, key: &K) -> Option<V> {
        self.holding.remove(key).map(|(_, value)| value)
    }

    pub fn is_holding(&self, key: &K) -> bool {
        self.holding.contains_key(key)
    }

    /// How long a hold lasts.
    pub fn duration(&self) -> Duration {
        self.timeline.after
    }

    /// What is holding, and since when.
    pub fn held(&self) -> impl Iterator<Item = (&K, Instant)> {
        let duration = self.timeline.after;
        self.holding
            .iter()
            .map(move |(key, (due, _))| (key, *due - duration))
    }

    /// When the next hold may be complete.
    pub fn next_due(&self) -> Option<Instant> {
        self.timeline.next()
    }

    /// Every hold, taken out with when it completes, in that order (to
    /// hand them to another hold of the same duration).
    pub fn take_all(&mut self) -> Vec<(Instant, V)> {
        self.timeline.queue.clear();
        let mut holds: Vec<(Instant, V)> = self.holding.drain().map(|(_, held)| held).collect();
        holds.sort_by_key(|(due, _)| *due);
        holds
    }

    /// A hold handed over: `key` holds with `value` until `due`.
    pub fn resume(&mut self, key: K, due: Instant, value: V) {
        self.timeline.insert(key.clone(), due);
        self.holding.insert(key, (due, value));
    }

    /// When the last hold pending completes.
    pub fn last_due(&self) -> Option<Instant> {
        self.holding.values().map(|(due, _)| *due).max()
    }

    /// The holds complete at `now`, in the order they started; they are
    /// dropped from the hold (what to do next is the caller's).
    pub fn complete(&mut self, now: Instant) -> Vec<(K, V)> {
        let mut done = Vec::new();
        for (due, key) in self.timeline.pop_due(now) {
            // A hold broken and started again is due later: not this one.
            if self.holding.get(&key).is_some_and(|(d, _)| *d == due) {
                let (_, value) = self.holding.remove(&key).expect("just seen");
                done.push((key, value));
            }
        }
        done
    }
}

/// `--throttle`: at most one notification per object (UID) per window. The
/// first goes out at once and opens the window; what comes inside it is
/// folded into one trailing notification sent when the window ends, which
/// opens the next window.
#[derive(Debug)]
pub struct Throttle {
    timeline: Timeline<String>,
    objects: HashMap<String, Throttled>,
    /// The UID last offered under each name (target and `namespace/name`).
    names: HashMap<String, String>,
    /// Keep the version last notified, to diff the next one against
    /// (only when diffs are shown: objects are whole then).
    diffs: bool,
    /// Until then, every object counts as inside a window: see
    /// [`Throttle::open_all`].
    grace: Option<Instant>,
}

#[derive(Debug, Default)]
struct Throttled {
    /// When the open window ends; `None`: no window open.
    open_until: Option<Instant>,
    /// What came inside the window, folded.
    waiting: Option<Notice>,
    /// The version last notified.
    last: Option<Previous>,
    /// Its name, as in [`Throttle::names`].
    name: String,
    /// The last notification sent was a resolution (`--resolve`): the
    /// alert is closed, so a resolution of a firing never sent is dropped.
    closed: bool,
    /// The window was opened by a takeover: its first notice stands for one
    /// a single process would have sent at once (the replica before may or
    /// may not have), so a resolution does not fold into that firing but
    /// trails it, in `then`.
    taken_over: bool,
    /// What came after such a firing, folded: the next window's trailing one.
    then: Option<Notice>,
}

impl Throttle {
    pub fn new(window: Duration, diffs: bool) -> Throttle {
        Throttle {
            timeline: Timeline::new(window),
            objects: HashMap::new(),
            names: HashMap::new(),
            diffs,
            grace: None,
        }
    }

    /// Started or took over from a checkpoint at `now`: every object counts
    /// as inside a window opened then. The replica before may have just
    /// notified it, and what the watch replays since the checkpoint may be
    /// what that replica folded into a later version: told at once, an
    /// older version would follow the newer one it already sent.
    pub fn open_all(&mut self, now: Instant) {
        self.grace = Some(now + self.timeline.after);
    }

    /// A notification wants out at `now`: returned to send at once, or kept
    /// for the end of the object's window.
    pub fn offer(&mut self, (target, change): Notice, now: Instant) -> Option<Notice> {
        let uid = uid(&change.object).into_owned();
        let state = self.objects.entry(uid.clone()).or_default();
        if state.open_until.is_none()
            && let Some(until) = self.grace.filter(|until| now < *until)
        {
            state.open_until = Some(self.timeline.insert(uid, until));
            state.waiting = Some((target, change));
            state.taken_over = true;
            return None;
        }
        if state.open_until.is_some() && state.taken_over {
            let resolves = matches!(change.kind, ChangeKind::Resolved { .. });
            let firing = |(_, c): &Notice| !matches!(c.kind, ChangeKind::Resolved { .. });
            match &mut state.then {
                Some((_, then)) => fold(then, change),
                None if resolves && state.waiting.as_ref().is_some_and(firing) => {
                    state.then = Some((target, change));
                }
                None => match &mut state.waiting {
                    Some((_, waiting)) => fold(waiting, change),
                    None => state.waiting = Some((target, change)),
                },
            }
            return None;
        }
        if state.open_until.is_some() {
            match &mut state.waiting {
                Some((_, waiting)) => fold(waiting, change),
                None => state.waiting = Some((target, change)),
            }
            // A firing and its resolution inside one window, after the
            // alert was closed: the firing was never sent, so an alert
            // never sent is never closed either.
            let resolves = |(_, c): &Notice| matches!(c.kind, ChangeKind::Resolved { .. });
            if state.closed && state.waiting.as_ref().is_some_and(resolves) {
                let (_, dropped) = state.waiting.take().expect("just seen");
                if dropped.kind == (ChangeKind::Resolved { gone: true }) {
                    state.last = None;
                }
            }
            return None;
        }
        state.open_until = Some(self.timeline.start(uid.clone(), now));
        Some(self.sent(uid, (target, change)))
    }

    /// A notice about to be offered: if another object (an older UID) had
    /// its name and something of it waits — its deletion, surely — that
    /// goes first, so an object's deletion never follows the creation of
    /// the object that took its name.
    pub fn make_way(&mut self, (target, change): &Notice) -> Vec<Notice> {
        let uid = uid(&change.object).into_owned();
        let name = format!("{target} {}", key(&change.object));
        let old = self.names.insert(name.clone(), uid.clone());
        self.objects.entry(uid.clone()).or_default().name = name;
        let Some(old) = old.filter(|old| *old != uid) else {
            return Vec::new();
        };
        let Some(state) = self.objects.get_mut(&old) else {
            return Vec::new();
        };
        let waiting = state.waiting.take().into_iter().chain(state.then.take());
        let waiting: Vec<Notice> = waiting.collect();
        waiting
            .into_iter()
            .map(|notice| self.sent(old.clone(), notice))
            .collect()
    }

    /// Whether something of this object (UID) waits for its window to end.
    pub fn is_waiting(&self, uid: &str) -> bool {
        self.objects.get(uid).is_some_and(|s| s.waiting.is_some())
    }

    /// When the next window ends.
    pub fn next_due(&self) -> Option<Instant> {
        self.timeline.next()
    }

    /// The trailing notifications of the windows ended at `now`; each opens
    /// a new window, so the object stays at one notification per window.
    pub fn due(&mut self, now: Instant) -> Vec<Notice> {
        let mut out = Vec::new();
        for (due, uid) in self.timeline.pop_due(now) {
            let Some(state) = self.objects.get_mut(&uid) else {
                continue;
            };
            if state.open_until != Some(due) {
                continue;
            }
            state.open_until = None;
            state.taken_over = false;
            match state.waiting.take() {
                Some(notice) => {
                    state.waiting = state.then.take();
                    state.open_until = Some(self.timeline.start(uid.clone(), now));
                    out.push(self.sent(uid, notice));
                }
                // Nothing to remember but the version last notified.
                None if state.last.is_none() => {
                    let state = self.objects.remove(&uid).expect("just seen");
                    if self.names.get(&state.name) == Some(&uid) {
                        self.names.remove(&state.name);
                    }
                }
                None => {}
            }
        }
        out
    }

    /// Everything still waiting, at once: the run is ending.
    pub fn flush(&mut self) -> Vec<Notice> {
        let mut waiting: Vec<(Instant, Notice)> = Vec::new();
        for s in self.objects.values_mut() {
            if let (Some(due), Some(notice)) = (s.open_until, s.waiting.take()) {
                waiting.push((due, notice));
                if let Some(then) = s.then.take() {
                    waiting.push((due, then));
                }
            }
        }
        // Stable: a firing stays before the resolution that trails it.
        waiting.sort_by_key(|(due, _)| *due);
        waiting.into_iter().map(|(_, notice)| notice).collect()
    }

    /// Records what is sent; a modification is diffed against the version
    /// last notified, so it shows every path changed since.
    fn sent(&mut self, uid: String, (target, mut change): Notice) -> Notice {
        let state = self.objects.get_mut(&uid).expect("offered");
        state.closed = matches!(change.kind, ChangeKind::Resolved { .. });
        if matches!(
            change.kind,
            ChangeKind::Deleted | ChangeKind::Resolved { gone: true }
        ) {
            // Its window still runs out (harmlessly); nothing else is kept.
            state.last = None;
            state.waiting = None;
            return (target, change);
        }
        if self.diffs {
            let last = state.last.replace(Previous::of(&change.object));
            if change.kind == ChangeKind::Modified && last.is_some() {
                change.previous = last;
            }
        }
        (target, change)
    }
}

/// Notify mode's noise control: a notification the filter admitted waits out
/// `--hold` (its `--when` must stay true), then passes `--throttle`.
#[derive(Debug)]
pub struct Quieting {
    /// Per object UID, the `--when` edge waiting to have held long enough.
    hold: Option<Hold<String, Notice>>,
    throttle: Option<Throttle>,
    /// A changed rule's new version, while its old version still delivers
    /// (see [`Quieting::fall_behind`]): what it would tell, in order.
    behind: Option<Vec<Notice>>,
    /// What waited behind the old version, due at once.
    caught_up: Vec<Notice>,
}

impl Quieting {
    pub fn new(hold: Option<Duration>, throttle: Option<Duration>, diffs: bool) -> Quieting {
        Quieting {
            hold: hold.map(Hold::new),
            throttle: throttle.map(|window| Throttle::new(window, diffs)),
            behind: None,
            caught_up: Vec::new(),
        }
    }

    /// Whether there is anything to do: without `--hold` or `--throttle`
    /// every admitted change is a notification at once.
    pub fn is_active(&self) -> bool {
        self.hold.is_some() || self.throttle.is_some() || self.behind.is_some()
    }

    /// A changed rule's new version starts behind its old one: whatever it
    /// tells waits, in order, until [`Quieting::catch_up`], so that no
    /// receiver hears of an object from both versions out of order.
    pub fn fall_behind(&mut self) {
        self.behind.get_or_insert_with(Vec::new);
    }

    /// The old version delivered all it had: what waited is due at once.
    pub fn catch_up(&mut self) {
        if let Some(behind) = self.behind.take() {
            self.caught_up.extend(behind);
        }
    }

    /// What to tell now, unless it waits behind the old version.
    fn in_turn(&mut self, notices: Vec<Notice>) -> Vec<Notice> {
        match &mut self.behind {
            Some(behind) => {
                behind.extend(notices);
                Vec::new()
            }
            None => notices,
        }
    }

    /// Every change, in order, with whether the filter admitted it and
    /// whether `--when` holds on it; what to notify at once.
    pub fn pass(
        &mut self,
        notice: Notice,
        admitted: bool,
        when_holds: bool,
        now: Instant,
    ) -> Vec<Notice> {
        let notices = self.judge(notice, admitted, when_holds, now);
        self.in_turn(notices)
    }

    fn judge(
        &mut self,
        notice: Notice,
        admitted: bool,
        when_holds: bool,
        now: Instant,
    ) -> Vec<Notice> {
        if let Some(hold) = &mut self.hold {
            let key = uid(&notice.1.object).into_owned();
            if !when_holds {
                // A resolution closes an alert that went out; one whose
                // firing was still held never fired (a flap): nothing to say.
                let held = hold.breaks(&key).is_some();
                let resolves = matches!(notice.1.kind, ChangeKind::Resolved { .. });
                if !(admitted && resolves && !held) {
                    return Vec::new();
                }
            } else {
                if admitted || hold.is_holding(&key) {
                    hold.holds(key, notice, now, |(_, waiting), (_, later)| {
                        fold(waiting, later)
                    });
                }
                return Vec::new();
            }
        }
        if !admitted {
            return Vec::new();
        }
        self.throttle(notice, now)
    }

    /// The resolution of an alert whose firing may have gone out before
    /// this replica took over ([`Filter::is_unsure`]): told even if it
    /// breaks the hold of that firing's replay (which alone would be a flap
    /// to keep quiet), since the receiver may hold the alert open.
    ///
    /// [`Filter::is_unsure`]: crate::decide::filter::Filter::is_unsure
    pub fn resolve_unsure(&mut self, notice: Notice, now: Instant) -> Vec<Notice> {
        if let Some(hold) = &mut self.hold {
            hold.breaks(&uid(&notice.1.object).into_owned());
        }
        let notices = self.throttle(notice, now);
        self.in_turn(notices)
    }

    /// Started or took over from a checkpoint: see [`Throttle::open_all`].
    pub fn taken_over(&mut self, now: Instant) {
        if let Some(throttle) = &mut self.throttle {
            throttle.open_all(now);
        }
    }

    /// The pending holds, taken out, each with when it started: a new
    /// version of a changed rule keeps waiting them out, for its own
    /// `--hold`.
    pub fn hand_over_holds(&mut self) -> Vec<(Instant, Notice)> {
        let Some(hold) = &mut self.hold else {
            return Vec::new();
        };
        let duration = hold.duration();
        hold.take_all()
            .into_iter()
            .map(|(due, notice)| (due - duration, notice))
            .collect()
    }

    /// Holds handed over by the rule's version before, each with when it
    /// started: each completes its own `--hold` after that.
    pub fn resume_holds(&mut self, holds: Vec<(Instant, Notice)>) {
        if let Some(hold) = &mut self.hold {
            let duration = hold.duration();
            for (since, notice) in holds {
                hold.resume(uid(&notice.1.object).into_owned(), since + duration, notice);
            }
        }
    }

    /// The rule was removed: what holds was never told and never will be
    /// (as at `--timeout`, a hold not complete fires nothing).
    pub fn drop_holds(&mut self) {
        if let Some(hold) = &mut self.hold {
            hold.take_all();
        }
    }

    /// The `--throttle` windows, taken out: a new version of a changed rule
    /// that throttles the same keeps them open.
    pub fn hand_over_throttle(&mut self) -> Option<Throttle> {
        self.throttle.take()
    }

    /// Windows handed over by the rule's version before (the new version's
    /// way of showing changes kept).
    pub fn resume_throttle(&mut self, throttle: Throttle) {
        if let Some(mine) = &mut self.throttle {
            let diffs = mine.diffs;
            *mine = throttle;
            mine.diffs = diffs;
        }
    }

    /// When the last pending hold completes.
    pub fn holds_until(&self) -> Option<Instant> {
        self.hold.as_ref().and_then(Hold::last_due)
    }

    /// Whether a notification of this object (UID) waits for its
    /// `--throttle` window to end.
    pub fn is_throttling(&self, uid: &str) -> bool {
        self.throttle.as_ref().is_some_and(|t| t.is_waiting(uid))
    }

    /// Whether a notification of this object (UID) waits in a `--hold` or
    /// `--throttle` window: not delivered yet, so not in a checkpoint yet.
    pub fn is_waiting(&self, uid: &str) -> bool {
        self.hold
            .as_ref()
            .is_some_and(|h| h.is_holding(&uid.to_string()))
            || self.throttle.as_ref().is_some_and(|t| t.is_waiting(uid))
            || self
                .behind
                .iter()
                .chain([&self.caught_up])
                .flatten()
                .any(|(_, change)| super::filter::uid(&change.object) == uid)
    }

    /// When something may be due.
    pub fn next_due(&self) -> Option<Instant> {
        if !self.caught_up.is_empty() {
            return Some(Instant::now());
        }
        let hold = self.hold.as_ref().and_then(Hold::next_due);
        let throttle = self.throttle.as_ref().and_then(Throttle::next_due);
        match (hold, throttle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// What is due at `now`: what waited behind the old version, holds
    /// complete, trailing notifications.
    pub fn due(&mut self, now: Instant) -> Vec<Notice> {
        let mut out = std::mem::take(&mut self.caught_up);
        let held = match &mut self.hold {
            Some(hold) => hold.complete(now),
            None => Vec::new(),
        };
        let mut released: Vec<Notice> = held
            .into_iter()
            .flat_map(|(_, notice)| self.throttle(notice, now))
            .collect();
        if let Some(throttle) = &mut self.throttle {
            released.extend(throttle.due(now));
        }
        out.extend(self.in_turn(released));
        out
    }

    /// The run is ending: what waited behind the old version and trailing
    /// notifications go out now. (Holds not complete never held long
    /// enough: they fire nothing.)
    pub fn flush(&mut self) -> Vec<Notice> {
        self.catch_up();
        let mut out = std::mem::take(&mut self.caught_up);
        out.extend(
            self.throttle
                .as_mut()
                .map(Throttle::flush)
                .unwrap_or_default(),
        );
        out
    }

    fn throttle(&mut self, notice: Notice, now: Instant) -> Vec<Notice> {
        match &mut self.throttle {
            Some(throttle) => {
                let mut out = throttle.make_way(&notice);
                out.extend(throttle.offer(notice, now));
                out
            }
            None => vec![notice],
        }
    }
}

/// What a checkpoint must not count as delivered yet (SPEC §8): per object
/// UID with a notification waiting in a `--hold` or `--throttle` window, what
/// was known of it before the first change that waits. A checkpoint records
/// such an object as it was then, and its target only up to before that
/// change, so the replica that resumes from it sees the change again.
#[derive(Debug, Default)]
pub struct Unsaid {
    objects: HashMap<String, Before>,
}

/// One object as it was before the first of its changes that waits.
#[derive(Debug, Clone, PartialEq)]
pub struct Before {
    /// Its target, by index.
    pub target: usize,
    /// `namespace/name`.
    pub key: String,
    /// The resourceVersion of the first change that waits.
    pub resource_version: u64,
    /// What the filter remembered of it then; `None`: it was created
    /// since, so no checkpoint has it.
    pub known: Option<Remembered>,
}

/// What the filter remembers of one object: its `--when` truth, its
/// `--on-change` values, and whether its alert is open (`--resolve`).
pub type Remembered = (Option<bool>, Option<Vec<Vec<Value>>>, bool);

impl Unsaid {
    pub fn contains(&self, uid: &str) -> bool {
        self.objects.contains_key(uid)
    }

    /// Notes an object whose change now waits, unless one of its changes
    /// already did (what was known before that one stays).
    pub fn note(&mut self, uid: &str, before: impl FnOnce() -> Before) {
        if !self.objects.contains_key(uid) {
            self.objects.insert(uid.to_string(), before());
        }
    }

    /// Forgets the objects of which nothing waits any more: delivered, or
    /// a hold broken.
    pub fn settle(&mut self, quieting: &Quieting) {
        if !self.objects.is_empty() {
            self.objects.retain(|uid, _| quieting.is_waiting(uid));
        }
    }

    /// Takes out what was known of this object before its change that
    /// waits (to hand it over with its hold).
    pub fn take(&mut self, uid: &str) -> Option<Before> {
        self.objects.remove(uid)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Before)> {
        self.objects.iter()
    }

    pub fn clear(&mut self) {
        self.objects.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn widget(uid: &str, rv: u64, ready: bool) -> Value {
        json!({"metadata": {"name": format!("w{uid}"), "uid": uid, "resourceVersion": rv.to_string()},
               "status": {"ready": ready, "rv": rv}})
    }

    fn modified(uid: &str, rv: u64, ready: bool) -> Notice {
        let previous = Some(Previous::of(&widget(uid, rv - 1, !ready)));
        (
            0,
            Change {
                kind: ChangeKind::Modified,
                object: widget(uid, rv, ready).into(),
                previous,
            },
        )
    }

    /// `uid@rv` of each notice.
    fn shown(notices: &[Notice]) -> Vec<String> {
        notices
            .iter()
            .map(|(_, c)| {
                let meta = &c.object["metadata"];
                format!(
                    "{}@{}",
                    meta["uid"].as_str().unwrap(),
                    meta["resourceVersion"].as_str().unwrap()
                )
            })
            .collect()
    }

    fn secs(t0: Instant, s: f64) -> Instant {
        t0 + Duration::from_secs_f64(s)
    }

    #[test]
    fn throttle_sends_the_first_at_once_and_folds_the_window_into_one_trailing() {
        let t0 = Instant::now();
        let mut t = Throttle::new(Duration::from_secs(10), true);
        assert_eq!(
            shown(
                &t.offer(modified("a", 1, true), t0)
                    .into_iter()
                    .collect::<Vec<_>>()
            ),
            ["a@1"]
        );
        for (at, rv) in [(1.0, 2), (2.0, 3), (9.0, 4)] {
            assert!(
                t.offer(modified("a", rv, rv % 2 == 0), secs(t0, at))
                    .is_none()
            );
        }
        assert_eq!(t.next_due(), Some(secs(t0, 10.0)));
        assert!(
            t.due(secs(t0, 9.9)).is_empty(),
            "not before the window ends"
        );
        let trailing = t.due(secs(t0, 10.0));
        assert_eq!(shown(&trailing), ["a@4"], "the newest state");
        // Diffed against the version last notified (rv 1), not rv 3.
        let previous = trailing[0].1.previous.as_ref().unwrap().value();
        assert_eq!(previous["metadata"]["resourceVersion"], "1");
        // The trailing one opened a new window.
        assert!(t.offer(modified("a", 5, false), secs(t0, 11.0)).is_none());
        assert!(t.due(secs(t0, 19.9)).is_empty());
        assert_eq!(shown(&t.due(secs(t0, 20.0))), ["a@5"]);
        // A quiet window closes; the next change goes out at once.
        assert!(t.due(secs(t0, 30.0)).is_empty());
        let next = t.offer(modified("a", 6, true), secs(t0, 31.0)).unwrap();
        let previous = next.1.previous.as_ref().unwrap().value();
        assert_eq!(previous["metadata"]["resourceVersion"], "5");
    }

    #[test]
    fn throttle_windows_are_per_object() {
        let t0 = Instant::now();
        let mut t = Throttle::new(Duration::from_secs(10), false);
        assert!(t.offer(modified("a", 1, true), t0).is_some());
        assert!(t.offer(modified("b", 1, true), secs(t0, 1.0)).is_some());
        assert!(t.offer(modified("a", 2, true), secs(t0, 2.0)).is_none());
        assert!(t.offer(modified("b", 2, true), secs(t0, 3.0)).is_none());
        assert_eq!(shown(&t.due(secs(t0, 10.5))), ["a@2"]);
        assert_eq!(shown(&t.due(secs(t0, 11.0))), ["b@2"]);
        // Without diffs nothing is remembered: the tracker's previous stays.
        let (_, c) = t.offer(modified("c", 7, true), secs(t0, 12.0)).unwrap();
        assert_eq!(
            c.previous.unwrap().value()["metadata"]["resourceVersion"],
            "6"
        );
    }

    #[test]
    fn throttle_folds_a_deletion_and_flushes_what_waits() {
        let t0 = Instant::now();
        let mut t = Throttle::new(Duration::from_secs(10), true);
        t.offer(modified("a", 1, true), t0).unwrap();
        t.offer(modified("a", 2, false), secs(t0, 1.0));
        let deleted = Change {
            kind: ChangeKind::Deleted,
            object: widget("a", 3, false).into(),
            previous: None,
        };
        assert!(t.offer((0, deleted), secs(t0, 2.0)).is_none());
        t.offer(modified("b", 1, true), secs(t0, 3.0)).unwrap();
        t.offer(modified("b", 2, true), secs(t0, 4.0));
        let flushed = t.flush();
        assert_eq!(
            shown(&flushed),
            ["a@3", "b@2"],
            "in the order their windows end"
        );
        assert_eq!(flushed[0].1.kind, ChangeKind::Deleted, "a deletion wins");
        assert!(t.due(secs(t0, 20.0)).is_empty(), "flushed once");
    }

    #[test]
    fn behind_an_old_version_everything_waits_in_order_until_it_catches_up() {
        let t0 = Instant::now();
        // A throttle too: what it lets through waits behind as well.
        let mut q = Quieting::new(None, Some(Duration::from_secs(10)), false);
        q.fall_behind();
        assert!(q.is_active());
        assert!(q.pass(modified("a", 1, true), true, true, t0).is_empty());
        assert!(q.pass(modified("b", 1, true), true, true, t0).is_empty());
        assert!(q.pass(modified("a", 2, true), true, true, t0).is_empty());
        assert!(
            q.is_waiting("a") && q.is_waiting("b"),
            "kept out of a checkpoint"
        );
        assert!(q.due(secs(t0, 20.0)).is_empty(), "a window's end waits too");
        q.catch_up();
        assert!(q.next_due().is_some_and(|at| at <= Instant::now()));
        assert_eq!(shown(&q.due(secs(t0, 20.0))), ["a@1", "b@1", "a@2"]);
        assert!(!q.is_waiting("a"));
        assert!(
            q.pass(modified("b", 2, true), true, true, secs(t0, 30.0))
                .len()
                == 1
        );
        // Ending while behind: what waits goes with the flush.
        let mut q = Quieting::new(None, None, false);
        q.fall_behind();
        assert!(q.pass(modified("a", 1, true), true, true, t0).is_empty());
        assert_eq!(shown(&q.flush()), ["a@1"]);
        assert_eq!(
            shown(&q.pass(modified("a", 2, true), true, true, t0)),
            ["a@2"]
        );
    }

    #[test]
    fn a_deletion_waiting_in_its_window_goes_before_the_object_that_takes_its_name() {
        let t0 = Instant::now();
        let mut q = Quieting::new(None, Some(Duration::from_secs(10)), false);
        let change = |kind, uid: &str, rv| {
            let mut object = widget(uid, rv, true);
            object["metadata"]["name"] = json!("c1");
            (
                0,
                Change {
                    kind,
                    object: object.into(),
                    previous: None,
                },
            )
        };
        let created = q.pass(change(ChangeKind::Created, "old", 1), true, true, t0);
        assert_eq!(shown(&created), ["old@1"]);
        let deleted = change(ChangeKind::Deleted, "old", 2);
        assert!(q.pass(deleted, true, false, secs(t0, 1.0)).is_empty());
        assert!(q.is_waiting("old"));
        // The same name, a new UID: the old one's deletion first.
        let out = q.pass(
            change(ChangeKind::Created, "new", 3),
            true,
            true,
            secs(t0, 2.0),
        );
        assert_eq!(shown(&out), ["old@2", "new@3"]);
        assert_eq!(out[0].1.kind, ChangeKind::Deleted);
        assert!(!q.is_waiting("old"));
        assert!(q.due(secs(t0, 20.0)).is_empty(), "told once");
    }

    #[test]
    fn after_a_takeover_each_object_waits_for_the_window_opened_then() {
        let t0 = Instant::now();
        let mut t = Throttle::new(Duration::from_secs(10), false);
        t.offer(modified("a", 1, true), t0).unwrap();
        t.open_all(secs(t0, 2.0));
        // Replayed: rv 2 and 3 of b, folded; a's own window runs as it was.
        assert!(t.offer(modified("b", 2, true), secs(t0, 3.0)).is_none());
        assert!(t.offer(modified("b", 3, true), secs(t0, 4.0)).is_none());
        assert!(t.offer(modified("a", 2, true), secs(t0, 5.0)).is_none());
        assert_eq!(shown(&t.due(secs(t0, 10.0))), ["a@2"]);
        assert!(t.due(secs(t0, 11.9)).is_empty());
        assert_eq!(shown(&t.due(secs(t0, 12.0))), ["b@3"], "the newest, once");
        // After the grace, a quiet object's change goes at once again.
        assert!(t.offer(modified("c", 1, true), secs(t0, 13.0)).is_some());
    }

    #[test]
    fn a_hold_completes_only_when_nothing_broke_it() {
        let t0 = Instant::now();
        let mut h: Hold<&str, u32> = Hold::new(Duration::from_secs(5));
        h.holds("a", 1, t0, |w, v| *w = v);
        h.holds("a", 2, secs(t0, 1.0), |w, v| *w = v);
        h.holds("b", 1, secs(t0, 2.0), |w, v| *w = v);
        h.breaks(&"b");
        h.holds("b", 2, secs(t0, 3.0), |w, v| *w = v);
        assert!(h.complete(secs(t0, 4.9)).is_empty());
        assert_eq!(h.complete(secs(t0, 5.0)), [("a", 2)], "the newest value");
        assert!(h.complete(secs(t0, 7.9)).is_empty(), "b started over at 3s");
        assert_eq!(h.complete(secs(t0, 8.0)), [("b", 2)]);
        assert_eq!(h.next_due(), None);
    }

    #[test]
    fn quieting_holds_a_when_edge_and_a_flap_fires_nothing() {
        let t0 = Instant::now();
        let mut q = Quieting::new(Some(Duration::from_secs(5)), None, true);
        // rv 1: --when turns true (admitted); rv 2 false: broken.
        assert!(q.pass(modified("a", 1, true), true, true, t0).is_empty());
        assert!(
            q.pass(modified("a", 2, false), false, false, secs(t0, 1.0))
                .is_empty()
        );
        assert!(q.due(secs(t0, 10.0)).is_empty(), "a flap fires nothing");
        // rv 3: true again, rv 4 still true (not an edge), then held.
        assert!(
            q.pass(modified("a", 3, true), true, true, secs(t0, 11.0))
                .is_empty()
        );
        assert!(
            q.pass(modified("a", 4, true), false, true, secs(t0, 12.0))
                .is_empty()
        );
        assert!(q.due(secs(t0, 15.9)).is_empty());
        let fired = q.due(secs(t0, 16.0));
        assert_eq!(
            shown(&fired),
            ["a@4"],
            "the newest version that kept it true"
        );
        let previous = fired[0].1.previous.as_ref().unwrap().value();
        assert_eq!(
            previous["metadata"]["resourceVersion"], "2",
            "the diff shows the edge"
        );
        // A deletion breaks a hold.
        q.pass(modified("b", 1, true), true, true, secs(t0, 20.0));
        let gone = Change {
            kind: ChangeKind::Deleted,
            object: widget("b", 2, true).into(),
            previous: None,
        };
        q.pass((0, gone), false, false, secs(t0, 21.0));
        assert!(q.due(secs(t0, 30.0)).is_empty());
    }

    /// The resolution of an alert that may have fired before a takeover
    /// breaks the hold of its replayed firing and goes out (a flap's would
    /// not); the held firing never does.
    #[test]
    fn an_unsure_resolution_breaks_the_hold_and_goes_out() {
        let t0 = Instant::now();
        let mut q = Quieting::new(Some(Duration::from_secs(1)), None, false);
        q.pass(modified("a", 1, true), true, true, t0);
        let resolved = |rv| {
            let (index, mut change) = modified("a", rv, false);
            change.kind = ChangeKind::Resolved { gone: false };
            (index, change)
        };
        assert_eq!(
            shown(&q.resolve_unsure(resolved(2), secs(t0, 0.5))),
            ["a@2"]
        );
        assert!(q.due(secs(t0, 2.0)).is_empty());
        // The same resolution as a flap's is kept quiet.
        q.pass(modified("a", 3, true), true, true, secs(t0, 3.0));
        assert!(q.pass(resolved(4), true, false, secs(t0, 3.5)).is_empty());
    }

    #[test]
    fn quieting_throttles_what_held() {
        let t0 = Instant::now();
        let mut q = Quieting::new(
            Some(Duration::from_secs(1)),
            Some(Duration::from_secs(10)),
            false,
        );
        q.pass(modified("a", 1, true), true, true, t0);
        assert_eq!(shown(&q.due(secs(t0, 1.0))), ["a@1"]);
        q.pass(modified("a", 2, false), false, false, secs(t0, 2.0));
        q.pass(modified("a", 3, true), true, true, secs(t0, 3.0));
        assert!(
            q.due(secs(t0, 4.0)).is_empty(),
            "held, but inside the window"
        );
        assert_eq!(q.next_due(), Some(secs(t0, 11.0)));
        assert_eq!(shown(&q.due(secs(t0, 11.0))), ["a@3"]);
        assert!(!Quieting::new(None, None, true).is_active());
    }

    fn resolved(uid: &str, rv: u64) -> Notice {
        let (index, mut change) = modified(uid, rv, false);
        change.kind = ChangeKind::Resolved { gone: false };
        (index, change)
    }

    #[test]
    fn hold_a_resolution_of_a_firing_still_held_is_a_flap_and_says_nothing() {
        let t0 = Instant::now();
        let mut q = Quieting::new(Some(Duration::from_secs(5)), None, false);
        assert!(q.pass(modified("a", 1, true), true, true, t0).is_empty());
        assert!(
            q.pass(resolved("a", 2), true, false, secs(t0, 1.0))
                .is_empty(),
            "the firing never went out"
        );
        assert!(q.due(secs(t0, 10.0)).is_empty(), "nor does it later");
        // Held long enough, it went out: its resolution goes at once.
        assert!(
            q.pass(modified("a", 3, true), true, true, secs(t0, 11.0))
                .is_empty()
        );
        assert_eq!(shown(&q.due(secs(t0, 16.0))), ["a@3"]);
        let out = q.pass(resolved("a", 4), true, false, secs(t0, 17.0));
        assert_eq!(shown(&out), ["a@4"]);
        assert_eq!(out[0].1.kind, ChangeKind::Resolved { gone: false });
    }

    #[test]
    fn after_a_takeover_a_replayed_firing_goes_out_before_its_resolution() {
        let t0 = Instant::now();
        let mut t = Throttle::new(Duration::from_secs(10), false);
        t.open_all(t0);
        // Replayed since the checkpoint: the replica before may or may not
        // have sent the firing; its resolution must not stand alone.
        assert!(t.offer(modified("a", 2, true), secs(t0, 1.0)).is_none());
        assert!(t.offer(resolved("a", 3), secs(t0, 2.0)).is_none());
        assert!(t.offer(modified("a", 4, true), secs(t0, 3.0)).is_none());
        assert!(t.offer(resolved("a", 5), secs(t0, 4.0)).is_none());
        let first = t.due(secs(t0, 10.0));
        assert_eq!(shown(&first), ["a@2"]);
        assert_eq!(first[0].1.kind, ChangeKind::Modified);
        let next = t.due(secs(t0, 20.0));
        assert_eq!(shown(&next), ["a@5"], "what came after, folded, trails");
        assert_eq!(next[0].1.kind, ChangeKind::Resolved { gone: false });
        // Ended early: both, in order.
        let mut t = Throttle::new(Duration::from_secs(10), false);
        t.open_all(t0);
        t.offer(modified("b", 2, true), secs(t0, 1.0));
        t.offer(resolved("b", 3), secs(t0, 2.0));
        assert_eq!(shown(&t.flush()), ["b@2", "b@3"]);
    }

    #[test]
    fn throttle_the_later_of_a_firing_and_a_resolution_wins_the_fold() {
        let t0 = Instant::now();
        let mut q = Quieting::new(None, Some(Duration::from_secs(10)), false);
        assert_eq!(
            shown(&q.pass(modified("a", 1, true), true, true, t0)),
            ["a@1"]
        );
        assert!(
            q.pass(resolved("a", 2), true, false, secs(t0, 1.0))
                .is_empty()
        );
        let due = q.due(secs(t0, 10.0));
        assert_eq!(shown(&due), ["a@2"]);
        assert_eq!(due[0].1.kind.as_str(), "resolved");
        assert!(
            q.pass(modified("a", 3, true), true, true, secs(t0, 11.0))
                .is_empty()
        );
        assert!(
            q.pass(resolved("a", 4), true, false, secs(t0, 12.0))
                .is_empty()
        );
        assert!(
            q.pass(modified("a", 5, true), true, true, secs(t0, 13.0))
                .is_empty()
        );
        let due = q.due(secs(t0, 20.0));
        assert_eq!(shown(&due), ["a@5"]);
        assert_eq!(due[0].1.kind.as_str(), "modified", "open again");
    }
}
