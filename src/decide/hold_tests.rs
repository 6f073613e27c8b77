//! Wait mode's `--hold`: sequences of versions at explicit instants, judged
//! by the tally and the decision as the wait loop drives them.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;
use crate::condition::ForSpec;
use crate::discovery::ApiType;
use crate::expr::Expr;
use crate::tracker::{Keep, WatchEvent};

fn widgets(selection: Selection) -> Target {
    Target {
        api: ApiType {
            group: "example.com".into(),
            version: "v1".into(),
            kind: "Widget".into(),
            plural: "widgets".into(),
            singular: "widget".into(),
            short_names: vec![],
            namespaced: true,
            verbs: vec![],
            categories: vec![],
        },
        namespace: Some("default".into()),
        selection,
        served: true,
        manifest: false,
        spread: false,
    }
}

fn selected() -> Target {
    widgets(Selection::Query {
        labels: Some("app=web".into()),
        fields: None,
    })
}

fn widget(name: &str, uid: &str, rv: u64, ready: bool) -> Value {
    json!({"metadata": {"name": name, "namespace": "default", "uid": uid, "resourceVersion": rv.to_string()},
           "status": {"ready": ready}})
}

/// A wait as the loop runs it, with the clock in the test's hands.
struct Wait {
    condition: Condition,
    any: bool,
    changes_only: bool,
    targets: Vec<Target>,
    tracker: Tracker,
    tally: Tally,
    t0: Instant,
}

impl Wait {
    fn new(targets: Vec<Target>, condition: Condition, hold_secs: u64) -> Wait {
        Wait {
            condition,
            any: false,
            changes_only: false,
            tracker: Tracker::new(targets.len(), Keep::Objects),
            tally: Tally::new(targets.len(), Some(Duration::from_secs(hold_secs))),
            targets,
            t0: Instant::now(),
        }
    }

    fn until_ready(targets: Vec<Target>, hold_secs: u64) -> Wait {
        let until = Expr::parse(".status.ready == true").unwrap();
        Wait::new(
            targets,
            Condition::new(vec![], Some(until), None).unwrap(),
            hold_secs,
        )
    }

    fn rules(&self) -> Rules<'_> {
        Rules {
            condition: &self.condition,
            any: self.any,
            min: None,
            changes_only: self.changes_only,
        }
    }

    /// An event for target 0 at `secs` after start; the names met, if done.
    fn at(&mut self, secs: f64, event: Option<WatchEvent>) -> Option<Vec<String>> {
        let now = self.t0 + Duration::from_secs_f64(secs);
        if let Some(event) = event {
            let changes = self.tracker.apply(0, event);
            let rules = Rules {
                condition: &self.condition,
                any: self.any,
                min: None,
                changes_only: self.changes_only,
            };
            self.tally
                .update(&rules, &self.targets[0], &self.tracker, 0, &changes, now)
                .unwrap();
        }
        self.tally.ripen(now);
        match decide(&self.rules(), &self.targets, &self.tracker, &self.tally) {
            Decision::Pending => None,
            Decision::Met(met) => Some(met.iter().map(|m| name(&m.object)).collect()),
        }
    }

    fn list(&mut self, objects: Vec<Value>) -> Option<Vec<String>> {
        self.at(0.0, Some(WatchEvent::Relisting));
        for object in objects {
            self.at(0.0, Some(WatchEvent::Listed(object.into())));
        }
        self.at(0.0, Some(WatchEvent::ListDone))
    }

    fn apply(&mut self, secs: f64, object: Value) -> Option<Vec<String>> {
        self.at(secs, Some(WatchEvent::Applied(object.into())))
    }
}

#[test]
fn already_true_at_start_counts_once_it_has_held() {
    let mut w = Wait::until_ready(vec![selected()], 5);
    assert_eq!(w.list(vec![widget("a", "1", 1, true)]), None);
    assert_eq!(w.at(4.9, None), None);
    assert_eq!(w.tally.next_due(), Some(w.t0 + Duration::from_secs(5)));
    assert_eq!(w.at(5.0, None), Some(vec!["a".to_string()]));
}

#[test]
fn a_flapping_object_never_counts_and_each_hold_is_its_own() {
    let mut w = Wait::until_ready(vec![selected()], 5);
    w.list(vec![widget("a", "1", 1, false), widget("b", "2", 2, false)]);
    assert_eq!(w.apply(1.0, widget("a", "1", 3, true)), None);
    assert_eq!(w.apply(3.0, widget("b", "2", 4, true)), None);
    // a flaps at 4s: its hold starts over at 5s.
    assert_eq!(w.apply(4.0, widget("a", "1", 5, false)), None);
    assert_eq!(w.apply(5.0, widget("a", "1", 6, true)), None);
    // A version that keeps it true does not restart the hold.
    assert_eq!(w.apply(7.0, widget("b", "2", 7, true)), None);
    assert_eq!(w.at(8.0, None), None, "b has held, a not yet: all must");
    let holding = w.tally.holding(&w.targets, w.t0 + Duration::from_secs(8));
    assert_eq!(
        holding,
        ["widget.example.com/a (met for 3s, not yet for --hold 5s)"]
    );
    assert_eq!(w.at(10.0, None), Some(vec!["a".into(), "b".into()]));
}

#[test]
fn with_any_the_first_object_to_hold_is_enough() {
    let mut w = Wait::until_ready(vec![selected()], 5);
    w.any = true;
    w.list(vec![widget("a", "1", 1, false), widget("b", "2", 2, false)]);
    w.apply(1.0, widget("a", "1", 3, true));
    w.apply(2.0, widget("b", "2", 4, true));
    w.apply(3.0, widget("a", "1", 5, false));
    assert_eq!(w.at(6.0, None), None);
    assert_eq!(w.at(7.0, None), Some(vec!["b".into()]));
}

#[test]
fn changes_only_starts_the_hold_at_the_first_change() {
    let mut w = Wait::until_ready(vec![selected()], 5);
    w.changes_only = true;
    w.list(vec![widget("a", "1", 1, true)]);
    assert_eq!(
        w.at(10.0, None),
        None,
        "the state at start counts for nothing"
    );
    assert_eq!(w.apply(11.0, widget("a", "1", 2, true)), None);
    assert_eq!(w.at(15.9, None), None);
    assert_eq!(w.at(16.0, None), Some(vec!["a".into()]));
}

#[test]
fn a_deletion_breaks_the_hold_even_when_the_name_comes_back_at_once() {
    let mut w = Wait::until_ready(vec![widgets(Selection::Name("a".into()))], 5);
    w.list(vec![widget("a", "1", 1, true)]);
    // Deleted and re-created under the same name (new UID) within one re-list.
    w.at(2.0, Some(WatchEvent::Relisting));
    w.at(
        2.0,
        Some(WatchEvent::Listed(widget("a", "2", 5, true).into())),
    );
    w.at(2.0, Some(WatchEvent::ListDone));
    assert_eq!(w.at(6.0, None), None, "the new object's hold began at 2s");
    assert_eq!(w.at(7.0, None), Some(vec!["a".into()]));
    let mut w = Wait::until_ready(vec![widgets(Selection::Name("a".into()))], 5);
    w.list(vec![widget("a", "1", 1, true)]);
    w.at(
        1.0,
        Some(WatchEvent::Deleted(widget("a", "1", 2, true).into())),
    );
    assert_eq!(w.at(10.0, None), None);
}

#[test]
fn for_delete_holds_the_absence() {
    let condition = Condition::new(vec![ForSpec::parse("delete").unwrap()], None, None).unwrap();
    let mut w = Wait::new(vec![widgets(Selection::Name("a".into()))], condition, 5);
    w.list(vec![widget("a", "1", 1, true)]);
    assert_eq!(
        w.at(
            1.0,
            Some(WatchEvent::Deleted(widget("a", "1", 2, true).into()))
        ),
        None
    );
    // Back before the hold ends: the absence starts over when it goes again.
    assert_eq!(w.apply(3.0, widget("a", "2", 3, true)), None);
    w.at(
        4.0,
        Some(WatchEvent::Deleted(widget("a", "2", 4, true).into())),
    );
    assert_eq!(w.at(8.9, None), None);
    assert_eq!(w.at(9.0, None), Some(vec!["a".into()]));
}
