//! `--checkpoint NAME`: what the active replica has delivered, kept in one
//! ConfigMap so that the next active replica resumes where it stopped.
//!
//! One key, `checkpoint.json`: per target the resourceVersion up to which
//! every change was delivered, and per object UID its name, resourceVersion,
//! `--when` truth, `--on-change` values and (`--resolve`) whether its
//! alert is open. Writes carry the resourceVersion
//! last read or written (optimistic concurrency): a write over a version
//! this replica has not seen fails with 409 instead of losing it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The one data key of the ConfigMap.
pub const KEY: &str = "checkpoint.json";

/// The apiserver refuses ConfigMaps whose data (keys included) passes 1 MiB.
pub const LIMIT: usize = 1024 * 1024;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The replica that wrote it (its lease identity).
    pub writer: String,
    /// The rule whose state it is (targets, `--when`, `--on-change`,
    /// `--events`): a different rule must not take it as its own.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rule: String,
    /// Per target, by `run::replica::target_key`.
    pub targets: BTreeMap<String, Mark>,
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

    pub fn objects(&self) -> usize {
        self.targets.values().map(|m| m.objects.len()).sum()
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
    /// Over the ConfigMap limit (422).
    TooLarge,
    Other(kube::Error),
}

/// The ConfigMap, and the resourceVersion of it this replica last saw.
pub struct Store {
    api: Api<ConfigMap>,
    pub name: String,
    pub namespace: String,
    seen: Option<String>,
    exists: bool,
}

impl Store {
    pub fn new(api: Api<ConfigMap>, name: String, namespace: String) -> Store {
        Store {
            api,
            name,
            namespace,
            seen: None,
            exists: false,
        }
    }

    /// The checkpoint as stored, if any. One that cannot be read is
    /// reported and ignored: the watch then starts as without one.
    pub async fn load(&mut self) -> Result<Option<Checkpoint>, Failure> {
        let found = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| failure(e, "get"))?;
        let Some(map) = found else {
            self.exists = false;
            self.seen = None;
            return Ok(None);
        };
        self.exists = true;
        self.seen = map.metadata.resource_version.clone();
        let text = map.data.as_ref().and_then(|d| d.get(KEY));
        match text.map(|t| serde_json::from_str::<Checkpoint>(t)) {
            Some(Ok(checkpoint)) => Ok(Some(checkpoint)),
            Some(Err(err)) => {
                crate::log::warning(
                    "checkpoint",
                    format_args!(
                        "checkpoint configmap/{} cannot be read ({err}); starting without it",
                        self.name
                    ),
                );
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// Writes the checkpoint over the version last seen (or creates it).
    pub async fn save(&mut self, encoded: String) -> Result<(), Failure> {
        let map = ConfigMap {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                resource_version: self.seen.clone(),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(KEY.to_string(), encoded)])),
            ..ConfigMap::default()
        };
        let params = PostParams::default();
        let written = if self.exists {
            self.api
                .replace(&self.name, &params, &map)
                .await
                .map_err(|e| failure(e, "update"))
        } else {
            self.api
                .create(&params, &map)
                .await
                .map_err(|e| failure(e, "create"))
        };
        match written {
            Ok(map) => {
                self.exists = true;
                self.seen = map.metadata.resource_version;
                Ok(())
            }
            Err(Failure::Conflict) => {
                // Learn the version now stored; the next write goes over it
                // only if this replica still holds the lease then.
                if let Ok(Some(map)) = self.api.get_opt(&self.name).await {
                    self.exists = true;
                    self.seen = map.metadata.resource_version;
                }
                Err(Failure::Conflict)
            }
            Err(other) => Err(other),
        }
    }
}

fn failure(err: kube::Error, verb: &'static str) -> Failure {
    match &err {
        kube::Error::Api(status) if status.code == 403 => Failure::Forbidden(verb),
        kube::Error::Api(status) if status.code == 409 => Failure::Conflict,
        kube::Error::Api(status) if status.code == 422 => Failure::TooLarge,
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
        let mut checkpoint = loaded;
        let mark = checkpoint.targets.get_mut("widgets").unwrap();
        mark.announced.insert("uid-2".into(), "default/w2".into());
        let text = checkpoint.encode();
        assert!(
            text.contains(r#""announced":{"uid-2":"default/w2"}"#),
            "{text}"
        );
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
            targets: BTreeMap::from([(
                "widgets".into(),
                Mark {
                    resource_version: "105000".into(),
                    objects,
                    announced: BTreeMap::new(),
                },
            )]),
        };
        let size = Checkpoint::size(&checkpoint.encode());
        assert!(size < LIMIT / 2, "{size} bytes");
    }
}
