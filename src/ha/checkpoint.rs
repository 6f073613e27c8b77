//! `--checkpoint NAME`: what the active replica has delivered, kept in one
//! ConfigMap so that the next active replica resumes where it stopped.
//!
//! One key, `checkpoint.json`: per target the resourceVersion up to which
//! every change was delivered, and per object UID its name, resourceVersion,
//! `--when` truth, `--on-change` values and (`--resolve`) whether its
//! alert is open, and (`--resolve --hold`) the alerts whose firing may
//! have gone out since the state it keeps. Writes carry the resourceVersion
//! last read or written (optimistic concurrency): a write over a version
//! this replica has not seen fails with 409 instead of losing it.
//!
//! With `--rules`, one ConfigMap for every rule: the same key holds one
//! section per rule (by its name) under `rules`, each a checkpoint as a
//! command line's, all written in one update. A section is written only
//! by the rule running under that name; the section of a rule no longer
//! running is dropped at the next write. The sections' writes coalesce:
//! a section offered within a second of the last write waits for the next
//! one, which carries every section changed meanwhile (see
//! [`Store::offer`]), so the rules together write at most once a second.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The one data key of the ConfigMap.
pub const KEY: &str = "checkpoint.json";

/// The apiserver refuses ConfigMaps whose data (keys included) passes 1 MiB.
pub const LIMIT: usize = 1024 * 1024;

/// The sections of a rules file's checkpoint are written together, at
/// most once in this long.
pub const WRITE_EVERY: Duration = Duration::from_secs(1);

/// On the way out, how long a rule's last section waits for the other
/// rules' (which leave at the same moment) to be written in one update.
const LEAVING_TOGETHER: Duration = Duration::from_millis(100);

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The replica that wrote it (its lease identity); "" in a section.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub writer: String,
    /// The rule whose state it is (targets, `--when`, `--on-change`,
    /// `--events`): a different rule must not take it as its own.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rule: String,
    /// Per target, by `run::replica::target_key`.
    #[serde(default)]
    pub targets: BTreeMap<String, Mark>,
    /// `--rules`: per rule name, its section (and no targets here).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rules: BTreeMap<String, Checkpoint>,
    /// `--count`: how many notifications the rule has told so far (the
    /// next replica counts on from there); absent in checkpoints before.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub told: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// One target's state at the last delivery.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mark {
    /// Every change up to this resourceVersion was delivered ("" if unknown).
    #[serde(rename = "resourceVersion")]
    pub resource_version: String,
    /// Per object UID.
    pub objects: BTreeMap<String, ObjectMark>,
    /// Per UID, `namespace/name` of objects not in `objects` whose first
    /// notification may have gone out: written before it did, so that a
    /// replica that re-lists (the server forgot the position) and does not
    /// find one tells its deletion.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub announced: BTreeMap<String, String>,
    /// `--resolve` with `--hold`: UIDs whose firing may have gone out
    /// though this checkpoint keeps the object as it was before (written
    /// before the firing was handed to the sinks): the replica that resumes
    /// from it tells the alert's resolution even if its own replayed hold
    /// of that firing never completed.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub firing: BTreeSet<String>,
}

/// One object, in short field names: at thousands of objects they count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectMark {
    /// `namespace/name`.
    #[serde(rename = "k")]
    pub key: String,
    /// Its resourceVersion when last delivered (or listed).
    #[serde(rename = "v")]
    pub resource_version: String,
    /// Its last `--when` truth.
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    pub when: Option<bool>,
    /// Its last `--on-change` values, one list per path.
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<Vec<Value>>>,
    /// `--resolve`: it fired and was not resolved since (an open alert).
    #[serde(rename = "o", default, skip_serializing_if = "is_false")]
    pub open: bool,
}

fn is_false(value: &bool) -> bool {
    !value
}

impl Checkpoint {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// What the apiserver counts against [`LIMIT`].
    pub fn size(encoded: &str) -> usize {
        KEY.len() + encoded.len()
    }

    /// Its objects, every section's included.
    pub fn objects(&self) -> usize {
        let own: usize = self.targets.values().map(|m| m.objects.len()).sum();
        own + self.rules.values().map(Checkpoint::objects).sum::<usize>()
    }
}

/// Whether a stored [`Checkpoint::rule`] is this rule's (`ours`, whose flags
/// text, after its targets, is `flags`): the targets compare as a set, so
/// the same targets in another order (`cm b a`, `-f` files reordered) are
/// the same rule; the flags compare exactly. Checkpoints written before
/// this compare alike: the text is unchanged.
pub fn same_rule(stored: &str, ours: &str, flags: &str) -> bool {
    let targets = |rule: &'_ str| -> Option<Vec<String>> {
        let listed = match flags {
            "" => rule,
            _ => rule.strip_suffix(flags)?.strip_suffix(' ')?,
        };
        let mut targets: Vec<String> = listed.split(", ").map(str::to_string).collect();
        targets.sort_unstable();
        Some(targets)
    };
    stored == ours || targets(stored).is_some_and(|theirs| targets(ours) == Some(theirs))
}

/// Why a checkpoint could not be read or written.
#[derive(Debug)]
pub enum Failure {
    /// RBAC: the verb that was refused.
    Forbidden(&'static str),
    /// Another writer got there first (409); the version is now known.
    Conflict,
    /// Over the ConfigMap limit: the document's size and objects, and how
    /// many rules' sections it holds (0 for a command line's).
    TooLarge {
        size: usize,
        objects: usize,
        rules: usize,
    },
    Other(kube::Error),
}

/// The ConfigMap, or (`--rules`) one rule's section of it. Clones share
/// the ConfigMap: every section is written by one update at a time.
#[derive(Clone)]
pub struct Store {
    pub name: String,
    pub namespace: String,
    /// `--rules`: the rule's name, and which run of it (a reload restarts
    /// a changed rule under the same name).
    section: Option<(String, u64)>,
    shared: Arc<tokio::sync::Mutex<Shared>>,
    /// `--rules`: the run of each rule running, by name.
    running: Arc<Mutex<BTreeMap<String, u64>>>,
    /// `--rules`: the document last loaded was a command line's.
    command_line: Arc<std::sync::atomic::AtomicBool>,
}

/// The ConfigMap as this replica last saw it.
struct Shared {
    api: Api<ConfigMap>,
    seen: Option<String>,
    exists: bool,
    /// `--rules`: every section as last read or written.
    sections: BTreeMap<String, Checkpoint>,
    /// `--rules`: the sections offered since, written at the next write.
    pending: BTreeMap<String, Checkpoint>,
    /// When the ConfigMap was last written.
    written: Option<tokio::time::Instant>,
}

impl Store {
    pub fn new(api: Api<ConfigMap>, name: String, namespace: String) -> Store {
        Store {
            name,
            namespace,
            section: None,
            shared: Arc::new(tokio::sync::Mutex::new(Shared {
                api,
                seen: None,
                exists: false,
                sections: BTreeMap::new(),
                pending: BTreeMap::new(),
                written: None,
            })),
            running: Arc::default(),
            command_line: Arc::default(),
        }
    }

    /// The section of rule `rule`, in its run `run` (which from now on is
    /// the one that writes it).
    pub fn section(&self, rule: &str, run: u64) -> Store {
        if let Ok(mut running) = self.running.lock() {
            running.insert(rule.to_string(), run);
        }
        Store {
            section: Some((rule.to_string(), run)),
            ..self.clone()
        }
    }

    /// Rule `rule`'s run `run` was removed (or changed): its section is
    /// dropped at the next write, unless a new run took the name.
    pub fn stopped(&self, rule: &str, run: u64) {
        if let Ok(mut running) = self.running.lock()
            && running.get(rule) == Some(&run)
        {
            running.remove(rule);
        }
    }

    /// A section whose last [`Store::load`] found a command line's whole
    /// checkpoint (not a rules file's sections).
    pub fn found_command_line(&self) -> bool {
        self.section.is_some() && self.command_line.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The rule of the command line whose checkpoint is stored, if a
    /// command line's is (read only to refuse it: nothing is learnt).
    pub async fn command_line_stored(&self) -> Option<String> {
        let shared = self.shared.lock().await;
        let map = shared.api.get_opt(&self.name).await.ok()??;
        let text = map.data.as_ref()?.get(KEY)?;
        let stored: Checkpoint = serde_json::from_str(text).ok()?;
        (stored.rules.is_empty() && !stored.rule.is_empty()).then_some(stored.rule)
    }

    /// Whether this is one rule's section of a `--rules` checkpoint.
    pub fn is_section(&self) -> bool {
        self.section.is_some()
    }

    /// The checkpoint as stored, if any (a section: the rule's section, or
    /// a command line's whole checkpoint, which the rule takes if it is
    /// its own). One that cannot be read is reported and ignored: the
    /// watch then starts as without one.
    pub async fn load(&self) -> Result<Option<Checkpoint>, Failure> {
        let mut shared = self.shared.lock().await;
        let found = shared
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| failure(e, "get"))?;
        let Some(map) = found else {
            shared.exists = false;
            shared.seen = None;
            shared.sections.clear();
            return Ok(None);
        };
        shared.exists = true;
        shared.seen = map.metadata.resource_version.clone();
        let text = map.data.as_ref().and_then(|d| d.get(KEY));
        let stored = match text.map(|t| serde_json::from_str::<Checkpoint>(t)) {
            Some(Ok(checkpoint)) => checkpoint,
            Some(Err(err)) => {
                crate::log::warning(
                    "checkpoint",
                    format_args!(
                        "checkpoint configmap/{} cannot be read ({err}); starting without it",
                        self.name
                    ),
                );
                return Ok(None);
            }
            None => return Ok(None),
        };
        let Some((rule, _)) = &self.section else {
            return Ok(Some(stored));
        };
        // What it offered before (a takeover ago) is not written now.
        shared.pending.remove(rule);
        let command_line = stored.rules.is_empty();
        self.command_line
            .store(command_line, std::sync::atomic::Ordering::SeqCst);
        if command_line {
            shared.sections.clear();
            return Ok(Some(stored));
        }
        shared.sections = stored.rules;
        Ok(shared.sections.get(rule).cloned())
    }

    /// The size, objects and sections of what writing this checkpoint (as
    /// this rule's section) would store.
    pub async fn measure(&self, checkpoint: &Checkpoint) -> (usize, usize, usize) {
        let shared = self.shared.lock().await;
        let document = self.document(&shared, checkpoint);
        let document = document.as_ref().unwrap_or(checkpoint);
        (
            Checkpoint::size(&document.encode()),
            document.objects(),
            document.rules.len(),
        )
    }

    /// The document to write: the checkpoint, or every running rule's
    /// section (as offered since, else as stored) with this one's replaced;
    /// `None` if this rule's run no longer writes its section.
    fn document(&self, shared: &Shared, checkpoint: &Checkpoint) -> Option<Checkpoint> {
        let Some((rule, run)) = &self.section else {
            return Some(checkpoint.clone());
        };
        let running = self.running.lock().map(|r| r.clone()).unwrap_or_default();
        if running.get(rule) != Some(run) {
            return None;
        }
        let mut rules: BTreeMap<String, Checkpoint> = shared
            .sections
            .iter()
            .chain(&shared.pending)
            .filter(|(name, _)| running.contains_key(*name))
            .map(|(name, section)| (name.clone(), section.clone()))
            .collect();
        let mut section = checkpoint.clone();
        section.writer = String::new();
        rules.insert(rule.clone(), section);
        Some(Checkpoint {
            writer: checkpoint.writer.clone(),
            rules,
            ..Checkpoint::default()
        })
    }

    /// A section as last stored (by any rule's write); `None` for a command
    /// line's checkpoint.
    pub async fn stored(&self) -> Option<Checkpoint> {
        let (rule, _) = self.section.as_ref()?;
        self.shared.lock().await.sections.get(rule).cloned()
    }

    /// A section as it is next written (offered) or as last stored; `None`
    /// for a command line's checkpoint.
    pub async fn current(&self) -> Option<Checkpoint> {
        let (rule, _) = self.section.as_ref()?;
        let shared = self.shared.lock().await;
        shared
            .pending
            .get(rule)
            .or_else(|| shared.sections.get(rule))
            .cloned()
    }

    /// A section's checkpoint, written with the others at the next write:
    /// now if the last was a second ago or more (carrying every section
    /// offered meanwhile) or `now` (the last one, on the way out), else
    /// `Some(when)` it is due (the rule offers its newest then; a write by
    /// another rule before may carry this one). A section as stored
    /// already is not written again. A command line's checkpoint is
    /// written now.
    pub async fn offer(
        &self,
        checkpoint: &Checkpoint,
        now: bool,
    ) -> Result<Option<tokio::time::Instant>, Failure> {
        let Some((rule, _)) = &self.section else {
            return self.save(checkpoint).await.map(|()| None);
        };
        let mut section = checkpoint.clone();
        section.writer = String::new();
        let mut shared = self.shared.lock().await;
        if now && shared.sections.get(rule) != Some(&section) {
            shared.pending.insert(rule.clone(), section.clone());
            drop(shared);
            // The rules leaving together: the first one's write carries
            // the others' last sections.
            tokio::time::sleep(LEAVING_TOGETHER).await;
            shared = self.shared.lock().await;
        }
        if shared.sections.get(rule) == Some(&section) {
            shared.pending.remove(rule);
            return Ok(None);
        }
        if let Some(due) = shared.written.map(|at| at + WRITE_EVERY)
            && !now
            && tokio::time::Instant::now() < due
        {
            shared.pending.insert(rule.clone(), section);
            return Ok(Some(due));
        }
        self.write(&mut shared, checkpoint).await.map(|()| None)
    }

    /// Writes the checkpoint (as this rule's section: with every other
    /// section, in one update) over the version last seen, or creates it,
    /// now.
    pub async fn save(&self, checkpoint: &Checkpoint) -> Result<(), Failure> {
        let mut shared = self.shared.lock().await;
        self.write(&mut shared, checkpoint).await
    }

    /// [`Store::save`], the ConfigMap as last seen in hand.
    async fn write(&self, shared: &mut Shared, checkpoint: &Checkpoint) -> Result<(), Failure> {
        let Some(document) = self.document(shared, checkpoint) else {
            return Ok(());
        };
        let encoded = document.encode();
        let size = Checkpoint::size(&encoded);
        let too_large = Failure::TooLarge {
            size,
            objects: document.objects(),
            rules: document.rules.len(),
        };
        if size > LIMIT {
            return Err(too_large);
        }
        let map = ConfigMap {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                resource_version: shared.seen.clone(),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(KEY.to_string(), encoded)])),
            ..ConfigMap::default()
        };
        let params = PostParams::default();
        let written = if shared.exists {
            shared
                .api
                .replace(&self.name, &params, &map)
                .await
                .map_err(|e| failure(e, "update"))
        } else {
            shared
                .api
                .create(&params, &map)
                .await
                .map_err(|e| failure(e, "create"))
        };
        match written {
            Ok(map) => {
                shared.exists = true;
                shared.seen = map.metadata.resource_version;
                shared.sections = document.rules;
                shared.pending.clear();
                shared.written = Some(tokio::time::Instant::now());
                Ok(())
            }
            Err(Failure::Conflict) => {
                // Learn the version now stored; the next write goes over it
                // only if this replica still holds the lease then.
                if let Ok(Some(map)) = shared.api.get_opt(&self.name).await {
                    shared.exists = true;
                    shared.seen = map.metadata.resource_version;
                }
                Err(Failure::Conflict)
            }
            Err(Failure::TooLarge { .. }) => Err(too_large),
            Err(other) => Err(other),
        }
    }
}

fn failure(err: kube::Error, verb: &'static str) -> Failure {
    match &err {
        kube::Error::Api(status) if status.code == 403 => Failure::Forbidden(verb),
        kube::Error::Api(status) if status.code == 409 => Failure::Conflict,
        kube::Error::Api(status) if status.code == 422 => Failure::TooLarge {
            size: 0,
            objects: 0,
            rules: 0,
        },
        _ => Failure::Other(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_rule_is_its_targets_as_a_set_and_its_flags_exactly() {
        let flags = "--when '.a == 1'";
        let ours = format!("configmap/a in default, configmap/b in default {flags}");
        let reordered = format!("configmap/b in default, configmap/a in default {flags}");
        assert!(same_rule(&reordered, &ours, flags));
        assert!(!same_rule(
            "configmap/b in default, configmap/a in default",
            &ours,
            flags
        ));
        assert!(!same_rule(
            &format!("configmap/a in default {flags}"),
            &ours,
            flags
        ));
        assert!(same_rule(
            "configmap/b in default, configmap/a in default",
            "configmap/a in default, configmap/b in default",
            ""
        ));
        assert!(!same_rule(
            &reordered,
            "configmap/a in default, configmap/b in default",
            ""
        ));
    }

    #[test]
    fn a_checkpoint_reads_back_as_written_in_short_field_names() {
        let checkpoint = Checkpoint {
            writer: "a".into(),
            rule: String::new(),
            rules: BTreeMap::new(),
            told: 0,
            targets: BTreeMap::from([(
                "widgets".into(),
                Mark {
                    resource_version: "42".into(),
                    objects: BTreeMap::from([(
                        "uid-1".into(),
                        ObjectMark {
                            key: "default/w1".into(),
                            resource_version: "40".into(),
                            when: Some(true),
                            values: Some(vec![vec![json!("x")]]),
                            open: true,
                        },
                    )]),
                    announced: BTreeMap::new(),
                    firing: BTreeSet::new(),
                },
            )]),
        };
        let text = checkpoint.encode();
        assert_eq!(
            text,
            r#"{"writer":"a","targets":{"widgets":{"resourceVersion":"42","objects":{"uid-1":{"k":"default/w1","v":"40","w":true,"c":[["x"]],"o":true}}}}}"#
        );
        assert_eq!(
            serde_json::from_str::<Checkpoint>(&text).unwrap(),
            checkpoint
        );
        assert_eq!(checkpoint.objects(), 1);
    }

    #[test]
    fn announced_objects_round_trip_and_a_checkpoint_without_them_still_loads() {
        let old = r#"{"writer":"a","targets":{"widgets":{"resourceVersion":"42","objects":{}}}}"#;
        let loaded = serde_json::from_str::<Checkpoint>(old).unwrap();
        assert!(loaded.targets["widgets"].announced.is_empty());
        assert!(loaded.targets["widgets"].firing.is_empty());
        assert!(!loaded.encode().contains("firing"));
        let mut checkpoint = loaded;
        let mark = checkpoint.targets.get_mut("widgets").unwrap();
        mark.announced.insert("uid-2".into(), "default/w2".into());
        mark.firing.insert("uid-3".into());
        let text = checkpoint.encode();
        assert!(
            text.contains(r#""announced":{"uid-2":"default/w2"}"#),
            "{text}"
        );
        assert!(text.contains(r#""firing":["uid-3"]"#), "{text}");
        assert_eq!(
            serde_json::from_str::<Checkpoint>(&text).unwrap(),
            checkpoint
        );
    }

    #[test]
    fn five_thousand_objects_fit_well_within_the_limit() {
        let objects = (0..5000)
            .map(|i| {
                (
                    format!("0b5f3c1e-7a5d-4c59-9a3e-{i:012}"),
                    ObjectMark {
                        key: format!("default/w{i:04}"),
                        resource_version: format!("{}", 100_000 + i),
                        when: Some(i % 2 == 0),
                        values: None,
                        open: false,
                    },
                )
            })
            .collect();
        let checkpoint = Checkpoint {
            writer: "a".into(),
            rule: String::new(),
            rules: BTreeMap::new(),
            told: 0,
            targets: BTreeMap::from([(
                "widgets".into(),
                Mark {
                    resource_version: "105000".into(),
                    objects,
                    announced: BTreeMap::new(),
                    firing: BTreeSet::new(),
                },
            )]),
        };
        let size = Checkpoint::size(&checkpoint.encode());
        assert!(size < LIMIT / 2, "{size} bytes");
    }

    fn offline() -> Store {
        let client = kube::Client::new(
            tower::service_fn(|_: http::Request<kube::client::Body>| async {
                Err::<http::Response<kube::client::Body>, std::io::Error>(std::io::Error::other(
                    "offline",
                ))
            }),
            "default",
        );
        Store::new(
            Api::namespaced(client, "default"),
            "c".into(),
            "default".into(),
        )
    }

    fn of(objects: usize) -> Checkpoint {
        let objects = (0..objects)
            .map(|i| {
                let mark = ObjectMark {
                    key: format!("default/w{i}"),
                    resource_version: "1".into(),
                    when: None,
                    values: None,
                    open: false,
                };
                (format!("uid-{i}"), mark)
            })
            .collect();
        Checkpoint {
            writer: "r".into(),
            rule: "widgets".into(),
            targets: BTreeMap::from([(
                "widgets".into(),
                Mark {
                    resource_version: "1".into(),
                    objects,
                    announced: BTreeMap::new(),
                    firing: BTreeSet::new(),
                },
            )]),
            rules: BTreeMap::new(),
            told: 0,
        }
    }

    #[tokio::test]
    async fn the_limit_counts_every_running_rules_section_and_a_stopped_one_is_dropped() {
        let store = offline();
        let a = store.section("a", 1);
        let b = store.section("b", 2);
        store.shared.lock().await.sections.insert("b".into(), of(3));
        assert_eq!(a.measure(&of(2)).await.1, 5);
        assert_eq!(a.measure(&of(2)).await.2, 2);
        // b removed by a reload: its section goes at a's next write.
        b.stopped("b", 2);
        assert_eq!(a.measure(&of(2)).await.1, 2);
        assert_eq!(a.measure(&of(2)).await.2, 1);
        // A command line's checkpoint is written as it is.
        assert_eq!(
            store.measure(&of(2)).await,
            (Checkpoint::size(&of(2).encode()), 2, 0)
        );
    }

    #[tokio::test]
    async fn a_rule_restarted_under_its_name_takes_its_section_from_the_old_run() {
        let store = offline();
        let old = store.section("a", 1);
        let new = store.section("a", 3);
        // The old run (stopping) writes nothing: no request is made.
        assert!(old.save(&of(1)).await.is_ok());
        assert!(matches!(new.save(&of(1)).await, Err(Failure::Other(_))));
        old.stopped("a", 1);
        assert_eq!(new.measure(&of(1)).await.2, 1);
    }

    #[test]
    fn the_count_told_reads_back_and_a_checkpoint_written_before_it_reads_as_none_told() {
        let mut checkpoint = of(1);
        checkpoint.told = 2;
        let text = checkpoint.encode();
        assert!(text.contains("\"told\":2"), "{text}");
        assert_eq!(
            serde_json::from_str::<Checkpoint>(&text).unwrap(),
            checkpoint
        );
        let before: Checkpoint =
            serde_json::from_str(r#"{"writer":"a","rule":"widgets","targets":{}}"#).unwrap();
        assert_eq!(before.told, 0);
        assert!(!of(1).encode().contains("told"));
    }

    #[test]
    fn a_rules_checkpoint_reads_back_with_its_sections() {
        let mut document = Checkpoint {
            writer: "r".into(),
            ..Checkpoint::default()
        };
        let mut section = of(1);
        section.writer = String::new();
        document.rules.insert("a".into(), section);
        let text = document.encode();
        assert!(
            text.starts_with(r#"{"writer":"r","targets":{},"rules":{"a":{"rule":"widgets","#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Checkpoint>(&text).unwrap(), document);
        assert_eq!(document.objects(), 1);
    }
}
