//! The bounded queue of one sink: first in, first out, and when full, a
//! notification folds into the one already waiting for the same object, so
//! the newest state of every object stays and the queue stays bounded.

use std::collections::{HashMap, VecDeque};

use super::Message;

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

    /// Adds a message. When full: it replaces the newest waiting message of
    /// its object, in that one's place (order per object kept); else the
    /// oldest waiting message of an object that has a newer one waiting
    /// goes; else (every waiting message is a different object's newest
    /// state) the queue grows by one rather than lose an object's state.
    pub fn push(&mut self, message: Message) {
        if self.items.len() >= self.capacity {
            if self.per_key.contains_key(&message.key) {
                let slot = self
                    .items
                    .iter_mut()
                    .rev()
                    .find(|m| m.key == message.key)
                    .expect("counted key is queued");
                *slot = message;
                self.folds += 1;
                return;
            }
            if let Some(at) = self.oldest_superseded() {
                let gone = self.items.remove(at).expect("index in range");
                self.forget(&gone.key);
                self.folds += 1;
            }
        }
        *self.per_key.entry(message.key.clone()).or_default() += 1;
        self.items.push_back(message);
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
