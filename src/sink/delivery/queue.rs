//! The bounded queue of one sink: first in, first out, and when full, a
//! notification folds into the one already waiting for the same object, so
//! the newest state of every object stays and the queue stays bounded. The
//! survivor carries every path changed since the object's message before.

use std::collections::{HashMap, VecDeque};

use serde_json::Value;

use super::Message;
use crate::sink::printer::FieldChange;

pub struct Queue {
    items: VecDeque<Message>,
    /// How many waiting messages each object has.
    per_key: HashMap<String, usize>,
    capacity: usize,
    /// Messages replaced by a newer one of the same object.
    pub folds: u64,
}

impl Queue {
    pub fn new(capacity: usize) -> Queue {
        Queue {
            items: VecDeque::new(),
            per_key: HashMap::new(),
            capacity: capacity.max(1),
            folds: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Adds a message. When full: it replaces the newest waiting message of
    /// its object, in that one's place (order per object kept); else the
    /// oldest waiting message of an object that has a newer one waiting
    /// goes; else (every waiting message is a different object's newest
    /// state) the queue grows by one rather than lose an object's state.
    pub fn push(&mut self, mut message: Message) {
        if self.items.len() >= self.capacity {
            if self.per_key.contains_key(&message.key) {
                let slot = self
                    .items
                    .iter_mut()
                    .rev()
                    .find(|m| m.key == message.key)
                    .expect("counted key is queued");
                message.take_in(slot);
                *slot = message;
                self.folds += 1;
                return;
            }
            if let Some(at) = self.oldest_superseded() {
                let gone = self.items.remove(at).expect("index in range");
                if let Some(next) = self.items.range_mut(at..).find(|m| m.key == gone.key) {
                    next.take_in(&gone);
                }
                self.forget(&gone.key);
                self.folds += 1;
            }
        }
        *self.per_key.entry(message.key.clone()).or_default() += 1;
        self.items.push_back(message);
    }

    /// The lowest `seq` waiting: a message folded away is accounted for by
    /// the one that replaced it.
    pub fn lowest_seq(&self) -> Option<u64> {
        self.items.iter().map(|m| m.seq).min()
    }

    /// The message `pop` would take.
    pub fn front(&self) -> Option<&Message> {
        self.items.front()
    }

    pub fn pop(&mut self) -> Option<Message> {
        let message = self.items.pop_front()?;
        self.forget(&message.key);
        Some(message)
    }

    fn oldest_superseded(&self) -> Option<usize> {
        self.items
            .iter()
            .position(|m| self.per_key.get(&m.key).is_some_and(|n| *n > 1))
    }

    fn forget(&mut self, key: &str) {
        if let Some(n) = self.per_key.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                self.per_key.remove(key);
            }
        }
    }
}

/// The changes since the version before `older`'s, given `older`'s and
/// then `newer`'s, as one diff of the two ends would tell them: a path keeps
/// the old value of its first change and the new value of its last; a path
/// changed back to where it started is left out (nothing changed there since
/// the message before, as `--throttle` tells it too). A change of a whole
/// object or list and changes inside it become one change of the outer path.
pub fn merge(older: &[FieldChange], newer: &[FieldChange]) -> Vec<FieldChange> {
    // No change in `out` lies inside another, so at most one is around a path.
    let mut out = older.to_vec();
    for change in newer {
        if let Some(outer) = out.iter_mut().find(|o| inside(&change.pointer, &o.pointer)) {
            let rest = &change.pointer[outer.pointer.len()..];
            outer.new = put(outer.new.take(), rest, change.new.clone());
            continue;
        }
        let mut change = change.clone();
        let (within, rest): (Vec<_>, Vec<_>) = out
            .into_iter()
            .partition(|o| inside(&o.pointer, &change.pointer));
        out = rest;
        // Undone last first, so list items go from the end.
        for inner in within.into_iter().rev() {
            let rest = &inner.pointer[change.pointer.len()..];
            change.old = put(change.old.take(), rest, inner.old);
        }
        out.push(change);
    }
    out.retain(|c| c.old != c.new);
    out
}

/// Whether the JSON pointer `path` is `outer` or lies inside it.
fn inside(path: &str, outer: &str) -> bool {
    path == outer
        || path
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// `root` with the value at the JSON pointer `at` set (`None`: removed).
fn put(root: Option<Value>, at: &str, value: Option<Value>) -> Option<Value> {
    let Some(at) = at.strip_prefix('/') else {
        return value;
    };
    let (token, deeper) = at.split_at(at.find('/').unwrap_or(at.len()));
    let token = token.replace("~1", "/").replace("~0", "~");
    let mut root = root.unwrap_or_else(|| Value::Object(Default::default()));
    if let Some(items) = root.as_array_mut() {
        let Ok(i) = token.parse::<usize>() else {
            return Some(root);
        };
        let inner = items.get_mut(i).map(Value::take);
        match (put(inner, deeper, value), i < items.len()) {
            (Some(v), true) => items[i] = v,
            (Some(v), false) => items.push(v),
            (None, true) => {
                items.remove(i);
            }
            (None, false) => {}
        }
        return Some(root);
    }
    if !root.is_object() {
        root = Value::Object(Default::default());
    }
    let map = root.as_object_mut().expect("an object");
    let inner = map.remove(&token);
    if let Some(v) = put(inner, deeper, value) {
        map.insert(token, v);
    }
    Some(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(key: &str, version: u32) -> Message {
        Message::new(
            key.into(),
            format!("{key}/{version}"),
            Vec::new(),
            Vec::new(),
        )
    }

    fn drain(queue: &mut Queue) -> Vec<String> {
        std::iter::from_fn(|| queue.pop()).map(|m| m.id).collect()
    }

    fn change(pointer: &str, old: Option<Value>, new: Option<Value>) -> FieldChange {
        FieldChange {
            path: pointer.replace('/', "."),
            pointer: pointer.into(),
            old,
            new,
        }
    }

    /// A modification of `key` as a webhook sends it: a `-o json` line.
    fn modified(key: &str, version: u32, changes: &[FieldChange]) -> Message {
        let body = crate::sink::printer::json_line_with_changes(
            json!({"type": "modified", "object": {"n": version}})
                .to_string()
                .as_bytes(),
            changes,
        );
        Message::new(key.into(), format!("{key}/{version}"), Vec::new(), body)
            .with_changes(super::super::Changes::in_json_line())
    }

    fn shown(message: &Message) -> Vec<(String, Value, Value)> {
        crate::sink::printer::json_line_changes(&message.body)
            .into_iter()
            .map(|c| {
                let v = |v: Option<Value>| v.unwrap_or(Value::Null);
                (c.pointer, v(c.old), v(c.new))
            })
            .collect()
    }

    #[test]
    fn merged_changes_run_from_the_first_old_value_to_the_last_new_one() {
        let older = [
            change("/spec/size", Some(json!(1)), Some(json!(2))),
            change(
                "/status/phase",
                Some(json!("Running")),
                Some(json!("Failed")),
            ),
            change("/status/message", None, Some(json!("oom"))),
        ];
        let newer = [
            change("/spec/size", Some(json!(2)), Some(json!(3))),
            // Changed back: nothing changed there since the message before.
            change(
                "/status/phase",
                Some(json!("Failed")),
                Some(json!("Running")),
            ),
            change("/spec/paused", Some(json!(false)), Some(json!(true))),
        ];
        assert_eq!(
            merge(&older, &newer),
            [
                change("/spec/size", Some(json!(1)), Some(json!(3))),
                change("/status/message", None, Some(json!("oom"))),
                change("/spec/paused", Some(json!(false)), Some(json!(true))),
            ]
        );
        // Added, then removed again: gone from the list too.
        let added = [change("/metadata/labels/x", None, Some(json!("1")))];
        let removed = [change("/metadata/labels/x", Some(json!("1")), None)];
        assert_eq!(merge(&added, &removed), []);
    }

    #[test]
    fn a_change_around_older_ones_takes_them_in_and_the_other_way_round() {
        // Older inside, newer around: the outer path, old from before both.
        let older = [change("/spec/a/b", Some(json!(1)), Some(json!(2)))];
        let newer = [change("/spec/a", Some(json!({"b": 2, "c": 0})), None)];
        assert_eq!(
            merge(&older, &newer),
            [change("/spec/a", Some(json!({"b": 1, "c": 0})), None)]
        );
        // Older around, newer inside: the outer path's new value updated.
        let older = [change("/spec/a", None, Some(json!({"b": 1})))];
        let newer = [change("/spec/a/b", Some(json!(1)), Some(json!(5)))];
        assert_eq!(
            merge(&older, &newer),
            [change("/spec/a", None, Some(json!({"b": 5})))]
        );
        // List items added then removed from the end.
        let older = [
            change("/l/1", None, Some(json!("x"))),
            change("/l/2", None, Some(json!("y"))),
        ];
        let newer = [change(
            "/l",
            Some(json!(["a", "x", "y"])),
            Some(json!(["a"])),
        )];
        assert_eq!(merge(&older, &newer), []);
    }

    #[test]
    fn a_folded_message_carries_every_path_changed_since_the_one_before() {
        let mut queue = Queue::new(2);
        queue.push(modified(
            "a",
            1,
            &[change("/x", Some(json!(0)), Some(json!(1)))],
        ));
        queue.push(message("b", 1));
        // Full: folds into a/1 in its place.
        queue.push(modified(
            "a",
            2,
            &[change("/y", Some(json!(0)), Some(json!(1)))],
        ));
        queue.push(modified(
            "a",
            3,
            &[change("/x", Some(json!(1)), Some(json!(2)))],
        ));
        assert_eq!(queue.folds, 2);
        let a = queue.pop().unwrap();
        assert_eq!(a.id, "a/3");
        assert_eq!(
            shown(&a),
            [
                ("/x".to_string(), json!(0), json!(2)),
                ("/y".to_string(), json!(0), json!(1)),
            ]
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&a.body).unwrap()["object"]["n"],
            3
        );
    }

    #[test]
    fn a_message_pushed_out_hands_its_changes_to_the_next_of_its_object() {
        let mut queue = Queue::new(3);
        queue.push(modified(
            "a",
            1,
            &[change("/x", Some(json!(0)), Some(json!(1)))],
        ));
        queue.push(modified(
            "a",
            2,
            &[change("/y", Some(json!(0)), Some(json!(1)))],
        ));
        queue.push(message("b", 1));
        queue.push(message("c", 1));
        assert_eq!(queue.folds, 1);
        let a = queue.pop().unwrap();
        assert_eq!(a.id, "a/2");
        assert_eq!(
            shown(&a),
            [
                ("/x".to_string(), json!(0), json!(1)),
                ("/y".to_string(), json!(0), json!(1)),
            ]
        );
    }

    #[test]
    fn in_order_while_there_is_room() {
        let mut queue = Queue::new(10);
        for (key, v) in [("a", 1), ("b", 1), ("a", 2)] {
            queue.push(message(key, v));
        }
        assert_eq!(drain(&mut queue), ["a/1", "b/1", "a/2"]);
        assert_eq!(queue.folds, 0);
    }

    #[test]
    fn when_full_an_object_folds_into_its_newest_in_place() {
        let mut queue = Queue::new(2);
        queue.push(message("a", 1));
        queue.push(message("b", 1));
        queue.push(message("a", 2));
        queue.push(message("a", 3));
        assert_eq!(queue.folds, 2);
        assert_eq!(drain(&mut queue), ["a/3", "b/1"]);
    }

    #[test]
    fn when_full_a_new_object_pushes_out_an_older_version_of_another() {
        let mut queue = Queue::new(3);
        for (key, v) in [("a", 1), ("a", 2), ("b", 1), ("c", 1)] {
            queue.push(message(key, v));
        }
        assert_eq!(queue.folds, 1);
        assert_eq!(drain(&mut queue), ["a/2", "b/1", "c/1"]);
    }

    #[test]
    fn the_newest_state_of_every_object_is_never_dropped() {
        let mut queue = Queue::new(2);
        for key in ["a", "b", "c", "d"] {
            queue.push(message(key, 1));
        }
        assert_eq!(queue.len(), 4);
        assert_eq!(drain(&mut queue), ["a/1", "b/1", "c/1", "d/1"]);
    }

    #[test]
    fn the_lowest_waiting_seq_follows_folds() {
        let mut queue = Queue::new(2);
        for (n, (key, v)) in [("a", 1), ("b", 1), ("a", 2)].into_iter().enumerate() {
            queue.push(Message {
                seq: n as u64 + 1,
                ..message(key, v)
            });
        }
        // a/1 (seq 1) folded into a/2 (seq 3), in its place.
        assert_eq!(queue.lowest_seq(), Some(2));
        queue.pop();
        assert_eq!(queue.lowest_seq(), Some(2));
        queue.pop();
        assert_eq!(queue.lowest_seq(), None);
    }
}
