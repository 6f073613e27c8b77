//! The resource types the server knows (built-ins plus CRDs added at run time)
//! and the discovery documents built from them, shaped like kube-apiserver 1.32's.

use serde_json::{Value, json};

/// A CustomResourceDefinition's served version, enough for discovery and storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crd {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub namespaced: bool,
}

impl Crd {
    /// `widgets.example.com/v1`, kind Widget, short name `wg`, namespaced,
    /// with a status subresource: the CRD of the reference captures.
    pub fn widget() -> Crd {
        Crd {
            group: "example.com".into(),
            version: "v1".into(),
            kind: "Widget".into(),
            plural: "widgets".into(),
            singular: "widget".into(),
            short_names: vec!["wg".into()],
            namespaced: true,
        }
    }
}

/// A subresource as discovery lists it. `kind` overrides the parent's
/// group/version/kind when the subresource answers another type.
#[derive(Clone, Debug)]
pub(crate) struct Subresource {
    pub name: &'static str,
    pub kind: Option<(&'static str, &'static str, &'static str)>,
    pub verbs: &'static [&'static str],
}

#[derive(Clone, Debug)]
pub(crate) struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub namespaced: bool,
    pub verbs: Vec<&'static str>,
    pub subresources: Vec<Subresource>,
    pub storage_version_hash: String,
    /// Custom resources answer a few things differently (responseKind, verbs order).
    pub custom: bool,
    /// DELETE answers the deleted object (CRDs, pods, namespaces) rather than a Status.
    pub returns_deleted_object: bool,
    /// Field labels accepted by fieldSelector besides metadata.name/namespace,
    /// with the JSON pointer they read.
    pub extra_field_labels: Vec<(&'static str, &'static str)>,
}

const STATUS_SUB: Subresource = Subresource {
    name: "status",
    kind: None,
    verbs: &["get", "patch", "update"],
};

const BUILTIN_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const CRD_VERBS: &[&str] = &[
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "create",
    "update",
    "watch",
];

impl ResourceType {
    /// "configmaps" for the core group, "deployments.apps" otherwise: the key
    /// the store and the public helpers use.
    pub fn key(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether its objects carry `metadata.generation`, moved by spec
    /// changes: custom resources and the workload-like built-ins do; a
    /// ConfigMap, Pod, Namespace, Lease or Event has none in kube 1.32.
    pub fn has_generation(&self) -> bool {
        self.custom
            || matches!(
                self.group.as_str(),
                "apps" | "batch" | "policy" | "networking.k8s.io" | "apiextensions.k8s.io"
            )
    }

    pub fn has_status(&self) -> bool {
        self.subresources.iter().any(|s| s.name == "status")
    }

    fn aggregated(&self) -> Value {
        let (group, version) = if self.custom {
            (self.group.as_str(), self.version.as_str())
        } else {
            ("", "")
        };
        let mut r = json!({
            "resource": self.plural,
            "responseKind": {"group": group, "version": version, "kind": self.kind},
            "scope": if self.namespaced { "Namespaced" } else { "Cluster" },
            "singularResource": self.singular,
            "verbs": self.verbs,
        });
        if !self.short_names.is_empty() {
            r["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            r["categories"] = json!(self.categories);
        }
        if !self.subresources.is_empty() {
            let subs: Vec<Value> = self
                .subresources
                .iter()
                .map(|s| {
                    let (g, v, k) = s.kind.unwrap_or((group, version, &self.kind));
                    json!({
                        "subresource": s.name,
                        "responseKind": {"group": g, "version": v, "kind": k},
                        "verbs": s.verbs,
                    })
                })
                .collect();
            r["subresources"] = Value::Array(subs);
        }
        r
    }

    fn legacy(&self) -> Vec<Value> {
        let mut r = json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": self.verbs,
        });
        if !self.short_names.is_empty() {
            r["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            r["categories"] = json!(self.categories);
        }
        r["storageVersionHash"] = json!(self.storage_version_hash);
        let mut out = vec![r];
        for s in &self.subresources {
            let mut sub = json!({
                "name": format!("{}/{}", self.plural, s.name),
                "singularName": "",
                "namespaced": self.namespaced,
            });
            if let Some((g, v, k)) = s.kind {
                if !g.is_empty() {
                    sub["group"] = json!(g);
                    sub["version"] = json!(v);
                }
                sub["kind"] = json!(k);
            } else {
                sub["kind"] = json!(self.kind);
            }
            sub["verbs"] = json!(s.verbs);
            out.push(sub);
        }
        out
    }
}

#[allow(clippy::too_many_arguments)]
fn builtin(
    group: &str,
    kind: &str,
    plural: &str,
    short: &[&str],
    categories: &[&str],
    namespaced: bool,
    subresources: Vec<Subresource>,
    hash: &str,
) -> ResourceType {
    ResourceType {
        group: group.into(),
        version: "v1".into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories: categories.iter().map(|s| s.to_string()).collect(),
        namespaced,
        verbs: BUILTIN_VERBS.to_vec(),
        subresources,
        storage_version_hash: hash.into(),
        custom: false,
        returns_deleted_object: false,
        extra_field_labels: Vec::new(),
    }
}

/// The field labels kube-apiserver accepts for core v1 events.
const CORE_EVENT_FIELDS: &[(&str, &str)] = &[
    ("involvedObject.kind", "/involvedObject/kind"),
    ("involvedObject.namespace", "/involvedObject/namespace"),
    ("involvedObject.name", "/involvedObject/name"),
    ("involvedObject.uid", "/involvedObject/uid"),
    ("involvedObject.apiVersion", "/involvedObject/apiVersion"),
    (
        "involvedObject.resourceVersion",
        "/involvedObject/resourceVersion",
    ),
    ("involvedObject.fieldPath", "/involvedObject/fieldPath"),
    ("reason", "/reason"),
    ("reportingComponent", "/reportingComponent"),
    ("source", "/source/component"),
    ("type", "/type"),
];

/// The same for events.k8s.io/v1, which names the object `regarding`.
const EVENTS_V1_FIELDS: &[(&str, &str)] = &[
    ("regarding.kind", "/regarding/kind"),
    ("regarding.namespace", "/regarding/namespace"),
    ("regarding.name", "/regarding/name"),
    ("regarding.uid", "/regarding/uid"),
    ("regarding.apiVersion", "/regarding/apiVersion"),
    ("regarding.resourceVersion", "/regarding/resourceVersion"),
    ("regarding.fieldPath", "/regarding/fieldPath"),
    ("reason", "/reason"),
    ("reportingController", "/reportingController"),
    ("type", "/type"),
];

/// The built-in types, as kube-apiserver 1.32 describes them.
pub(crate) fn builtins() -> Vec<ResourceType> {
    let mut namespaces = builtin(
        "",
        "Namespace",
        "namespaces",
        &["ns"],
        &[],
        false,
        vec![
            Subresource {
                name: "finalize",
                kind: None,
                verbs: &["update"],
            },
            STATUS_SUB,
        ],
        "Q3oi5N2YM8M=",
    );
    namespaces.verbs = vec![
        "create", "delete", "get", "list", "patch", "update", "watch",
    ];
    namespaces.returns_deleted_object = true;
    namespaces.extra_field_labels = vec![("status.phase", "/status/phase")];

    let configmaps = builtin(
        "",
        "ConfigMap",
        "configmaps",
        &["cm"],
        &[],
        true,
        vec![],
        "qFsyl6wFWjQ=",
    );

    let mut pods = builtin(
        "",
        "Pod",
        "pods",
        &["po"],
        &["all"],
        true,
        vec![
            Subresource {
                name: "attach",
                kind: Some(("", "", "PodAttachOptions")),
                verbs: &["create", "get"],
            },
            Subresource {
                name: "binding",
                kind: Some(("", "", "Binding")),
                verbs: &["create"],
            },
            Subresource {
                name: "ephemeralcontainers",
                kind: None,
                verbs: &["get", "patch", "update"],
            },
            Subresource {
                name: "eviction",
                kind: Some(("policy", "v1", "Eviction")),
                verbs: &["create"],
            },
            Subresource {
                name: "exec",
                kind: Some(("", "", "PodExecOptions")),
                verbs: &["create", "get"],
            },
            Subresource {
                name: "log",
                kind: None,
                verbs: &["get"],
            },
            Subresource {
                name: "portforward",
                kind: Some(("", "", "PodPortForwardOptions")),
                verbs: &["create", "get"],
            },
            Subresource {
                name: "proxy",
                kind: Some(("", "", "PodProxyOptions")),
                verbs: &["create", "delete", "get", "patch", "update"],
            },
            STATUS_SUB,
        ],
        "xPOwRZ+Yhw8=",
    );
    pods.returns_deleted_object = true;
    pods.extra_field_labels = vec![
        ("spec.nodeName", "/spec/nodeName"),
        ("spec.restartPolicy", "/spec/restartPolicy"),
        ("spec.schedulerName", "/spec/schedulerName"),
        ("spec.serviceAccountName", "/spec/serviceAccountName"),
        ("status.phase", "/status/phase"),
        ("status.podIP", "/status/podIP"),
        ("status.nominatedNodeName", "/status/nominatedNodeName"),
    ];

    let deployments = builtin(
        "apps",
        "Deployment",
        "deployments",
        &["deploy"],
        &["all"],
        true,
        vec![
            Subresource {
                name: "scale",
                kind: Some(("autoscaling", "v1", "Scale")),
                verbs: &["get", "patch", "update"],
            },
            STATUS_SUB,
        ],
        "8aSe+NMegvE=",
    );

    let mut jobs = builtin(
        "batch",
        "Job",
        "jobs",
        &[],
        &["all"],
        true,
        vec![STATUS_SUB],
        "mudhfqk/qZY=",
    );
    jobs.extra_field_labels = vec![("status.successful", "/status/succeeded")];

    // What replicas elect a leader on (kubectl-notify's --leader-elect).
    let leases = builtin(
        "coordination.k8s.io",
        "Lease",
        "leases",
        &[],
        &[],
        true,
        vec![],
        "gqkMMb/YqFM=",
    );

    let apps = |kind: &str, plural: &str, short: &str, hash: &str| {
        let scale = Subresource {
            name: "scale",
            kind: Some(("autoscaling", "v1", "Scale")),
            verbs: &["get", "patch", "update"],
        };
        let subresources = match kind {
            "DaemonSet" => vec![STATUS_SUB],
            _ => vec![scale, STATUS_SUB],
        };
        builtin(
            "apps",
            kind,
            plural,
            &[short],
            &["all"],
            true,
            subresources,
            hash,
        )
    };
    let replicasets = apps("ReplicaSet", "replicasets", "rs", "P1RzHs8/mWQ=");
    let statefulsets = apps("StatefulSet", "statefulsets", "sts", "H+vl74LkKdo=");
    let daemonsets = apps("DaemonSet", "daemonsets", "ds", "dd7pWHUlMKQ=");

    // One event, two APIs: kube-apiserver serves the same stored events as
    // core v1 (`involvedObject`) and events.k8s.io/v1 (`regarding`), each
    // with its own field labels (a wrong one is a 400, as in the reference).
    // The test server stores them apart; `TestServer::event` writes both.
    let mut events = builtin(
        "",
        "Event",
        "events",
        &["ev"],
        &[],
        true,
        vec![],
        "r2yiGXH7wu8=",
    );
    events.extra_field_labels = CORE_EVENT_FIELDS.to_vec();
    let mut events_v1 = builtin(
        "events.k8s.io",
        "Event",
        "events",
        &["ev"],
        &[],
        true,
        vec![],
        "r2yiGXH7wu8=",
    );
    events_v1.extra_field_labels = EVENTS_V1_FIELDS.to_vec();

    vec![
        namespaces,
        configmaps,
        events,
        pods,
        deployments,
        replicasets,
        statefulsets,
        daemonsets,
        events_v1,
        jobs,
        leases,
    ]
}

impl From<Crd> for ResourceType {
    fn from(crd: Crd) -> ResourceType {
        let hash = storage_hash(&format!("{}/{}/{}", crd.group, crd.version, crd.kind));
        ResourceType {
            group: crd.group,
            version: crd.version,
            kind: crd.kind,
            plural: crd.plural,
            singular: crd.singular,
            short_names: crd.short_names,
            categories: Vec::new(),
            namespaced: crd.namespaced,
            verbs: CRD_VERBS.to_vec(),
            subresources: vec![STATUS_SUB],
            storage_version_hash: hash,
            custom: true,
            returns_deleted_object: true,
            extra_field_labels: Vec::new(),
        }
    }
}

/// A stable 8-byte hash, base64-encoded like the apiserver's storageVersionHash.
fn storage_hash(s: &str) -> String {
    let h = fnv64(s.as_bytes()).to_be_bytes();
    base64(&h)
}

pub(crate) fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The types, in registration order, grouped by (group, version) as discovery lists them.
pub(crate) struct Catalog {
    pub types: Vec<ResourceType>,
}

impl Catalog {
    pub fn new() -> Catalog {
        Catalog { types: builtins() }
    }

    pub fn add(&mut self, t: ResourceType) {
        self.types
            .retain(|x| !(x.group == t.group && x.version == t.version && x.plural == t.plural));
        self.types.push(t);
    }

    /// The type served at group/version/plural.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    /// The type named "plural" or "plural.group" (the public helpers' spelling).
    pub fn by_key(&self, key: &str) -> Option<&ResourceType> {
        self.types.iter().find(|t| t.key() == key)
    }

    /// Non-core groups in order of first appearance, each with its versions.
    fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for t in self.types.iter().filter(|t| !t.group.is_empty()) {
            match out.iter_mut().find(|(g, _)| *g == t.group) {
                Some((_, vs)) => {
                    if !vs.contains(&t.version) {
                        vs.push(t.version.clone());
                    }
                }
                None => out.push((t.group.clone(), vec![t.version.clone()])),
            }
        }
        out
    }

    fn in_version(&self, group: &str, version: &str) -> Vec<&ResourceType> {
        let mut v: Vec<&ResourceType> = self
            .types
            .iter()
            .filter(|t| t.group == group && t.version == version)
            .collect();
        v.sort_by(|a, b| a.plural.cmp(&b.plural));
        v
    }

    pub fn has_group_version(&self, group: &str, version: &str) -> bool {
        self.types
            .iter()
            .any(|t| t.group == group && t.version == version)
    }

    fn aggregated_group(&self, name: Option<&str>, versions: &[String]) -> Value {
        let group = name.unwrap_or("");
        let versions: Vec<Value> = versions
            .iter()
            .map(|v| {
                let resources: Vec<Value> = self
                    .in_version(group, v)
                    .iter()
                    .map(|t| t.aggregated())
                    .collect();
                json!({"version": v, "resources": resources, "freshness": "Current"})
            })
            .collect();
        let mut metadata = json!({"creationTimestamp": null});
        if let Some(n) = name {
            metadata = json!({"name": n, "creationTimestamp": null});
        }
        json!({"metadata": metadata, "versions": versions})
    }

    /// `GET /api` as APIGroupDiscoveryList.
    pub fn aggregated_core(&self) -> Value {
        json!({
            "kind": "APIGroupDiscoveryList",
            "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {},
            "items": [self.aggregated_group(None, &["v1".to_string()])],
        })
    }

    /// `GET /apis` as APIGroupDiscoveryList.
    pub fn aggregated_groups(&self) -> Value {
        let items: Vec<Value> = self
            .groups()
            .iter()
            .map(|(g, vs)| self.aggregated_group(Some(g), vs))
            .collect();
        json!({
            "kind": "APIGroupDiscoveryList",
            "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {},
            "items": items,
        })
    }

    /// `GET /api` as APIVersions.
    pub fn legacy_core(&self, server_address: &str) -> Value {
        json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
            ],
        })
    }

    fn api_group(name: &str, versions: &[String]) -> Value {
        let vs: Vec<Value> = versions
            .iter()
            .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
            .collect();
        json!({
            "name": name,
            "versions": vs,
            "preferredVersion": vs[0].clone(),
        })
    }

    /// `GET /apis` as APIGroupList.
    pub fn legacy_groups(&self) -> Value {
        let groups: Vec<Value> = self
            .groups()
            .iter()
            .map(|(g, vs)| Catalog::api_group(g, vs))
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    /// `GET /apis/<group>` as APIGroup.
    pub fn legacy_group(&self, group: &str) -> Option<Value> {
        let (g, vs) = self.groups().into_iter().find(|(g, _)| g == group)?;
        let mut v = Catalog::api_group(&g, &vs);
        let obj = v.as_object_mut()?;
        let mut out = serde_json::Map::new();
        out.insert("kind".into(), json!("APIGroup"));
        out.insert("apiVersion".into(), json!("v1"));
        out.append(obj);
        Some(Value::Object(out))
    }

    /// `GET /api/v1` or `GET /apis/<group>/<version>` as APIResourceList.
    pub fn legacy_resources(&self, group: &str, version: &str) -> Value {
        let resources: Vec<Value> = self
            .in_version(group, version)
            .iter()
            .flat_map(|t| t.legacy())
            .collect();
        if group.is_empty() {
            // The real /api/v1 answer carries no apiVersion.
            json!({"kind": "APIResourceList", "groupVersion": version, "resources": resources})
        } else {
            json!({
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": format!("{group}/{version}"),
                "resources": resources,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_known_values() {
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(&[0u8; 8]), "AAAAAAAAAAA=");
    }

    #[test]
    fn crd_discovery_matches_reference_shape() {
        let mut c = Catalog::new();
        c.add(Crd::widget().into());
        let legacy = c.legacy_resources("example.com", "v1");
        let r = &legacy["resources"];
        assert_eq!(r[0]["name"], "widgets");
        assert_eq!(r[0]["shortNames"], json!(["wg"]));
        assert_eq!(r[1]["name"], "widgets/status");
        assert_eq!(r[1]["singularName"], "");
        let agg = c.aggregated_groups();
        let last = agg["items"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["metadata"]["name"], "example.com");
        assert_eq!(
            last["versions"][0]["resources"][0]["responseKind"],
            json!({"group": "example.com", "version": "v1", "kind": "Widget"})
        );
    }
}
