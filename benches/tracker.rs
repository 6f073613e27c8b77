//! Tracker cost per watch event over a target of 5,000 objects: the first
//! list, then a steady stream of modifications, each one a new version; for
//! each way of keeping objects between events.

mod common;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kubectl_notify::tracker::{Change, Keep, Tracker, WatchEvent};
use serde_json::Value;

const OBJECTS: usize = 5_000;
/// No managedFields: objects of about 1.8 KB.
const MANAGERS: usize = 0;
/// resourceVersions of the first list; every later version is above them.
const LISTED_AT: u64 = 1_000_000;
const MODIFIED_FROM: u64 = 2_000_000;
const KEEPS: [(&str, Keep); 3] = [
    ("objects", Keep::Objects),
    ("diffs", Keep::Diffs),
    ("identity", Keep::Identity),
];

fn first_list(objects: &[Value]) -> Vec<WatchEvent> {
    let mut events = Vec::with_capacity(objects.len() + 2);
    events.push(WatchEvent::Relisting);
    events.extend(objects.iter().map(|o| WatchEvent::Listed(o.clone().into())));
    events.push(WatchEvent::ListDone);
    events
}

fn objects() -> Vec<Value> {
    let objects: Vec<Value> = (0..OBJECTS)
        .map(|i| common::widget(i, LISTED_AT + i as u64, MANAGERS))
        .collect();
    let size = common::wire_size(&objects[0]);
    assert!((1_000..=2_048).contains(&size), "object is {size} bytes");
    objects
}

fn initial_list(c: &mut Criterion) {
    let objects = objects();
    let events = first_list(&objects);
    let mut group = c.benchmark_group("tracker/initial_list_5000");
    group.throughput(Throughput::Elements(OBJECTS as u64));
    for (name, keep) in KEEPS {
        group.bench_function(name, |b| {
            b.iter_batched(
                // The changes are handed back, so dropping them is not timed.
                || (events.clone(), Vec::with_capacity(OBJECTS)),
                |(events, mut changes): (Vec<WatchEvent>, Vec<Change>)| {
                    let mut tracker = Tracker::new(1, keep);
                    for event in events {
                        changes.extend(tracker.apply(0, event));
                    }
                    assert_eq!(changes.len(), OBJECTS);
                    (tracker, changes)
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn modified(c: &mut Criterion) {
    let objects = objects();
    let mut group = c.benchmark_group("tracker/modified_of_5000");
    for (name, keep) in KEEPS {
        let mut tracker = Tracker::new(1, keep);
        for event in first_list(&objects) {
            tracker.apply(0, event);
        }
        // Round-robin over the objects, each event a newer version than the
        // last one of that object, so every event is a real modification.
        let mut sent = 0u64;
        let mut next_event = || {
            let mut object = objects[sent as usize % OBJECTS].clone();
            object["metadata"]["resourceVersion"] = (MODIFIED_FROM + sent).to_string().into();
            object["status"]["ready"] = sent.is_multiple_of(2).into();
            sent += 1;
            WatchEvent::Applied(object.into())
        };
        group.bench_function(name, |b| {
            b.iter_batched(
                &mut next_event,
                |event| {
                    let changes = tracker.apply(0, event);
                    debug_assert_eq!(changes.len(), 1);
                    changes
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, initial_list, modified);
criterion_main!(benches);
