//! `--print-manifests` (SPEC §12): the objects that run a command line in the
//! cluster, built from the plan's request and the targets resolved against
//! the cluster. Pure: values in, YAML text out.

pub mod sinks;
mod yaml;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

pub use sinks::{SinkSecret, secret_refs};

/// The image the release publishes for this version (see `Dockerfile`).
pub const IMAGE: &str = concat!(
    "ghcr.io/kubectl-notify/kubectl-notify:",
    env!("CARGO_PKG_VERSION")
);

/// The port `--metrics-addr :9090` serves in the pod.
pub const METRICS_PORT: u16 = 9090;

/// Where the pod finds `--rules FILE`: the rules ConfigMap's key, in a
/// folder the whole ConfigMap is mounted on (not a `subPath`, which the
/// kubelet never updates), so an edit swaps `..data` and reloads the rules.
pub const RULES_DIR: &str = "/etc/kubectl-notify";
pub const RULES_KEY: &str = "rules.yaml";

/// What the command line asks to run in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `--name`, else `kubectl-notify-` and a hash of the rule.
    pub name: String,
    /// The container's arguments: the command line without connection flags
    /// and `--print-manifests`, plus what the pod needs (`--leader-elect`, ...).
    pub args: Vec<String>,
    /// Wait mode: a Job; notify mode: a Deployment and a Service.
    pub wait: bool,
    /// `--for ready`: it watches pods; its explanations read replicasets,
    /// controllerrevisions and events (in every namespace with `-A`).
    pub for_ready: bool,
    pub all_namespaces: bool,
    /// Notify mode: the Lease and the checkpoint ConfigMap.
    pub lease: Option<String>,
    pub checkpoint: Option<String>,
    pub sinks: Vec<SinkSecret>,
    /// `--rules FILE`: the file's text, held by a ConfigMap the pod mounts.
    pub rules: Option<String>,
}

/// A target's type as the cluster serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub group: String,
    pub plural: String,
    pub namespaced: bool,
    /// The one object a named target watches (by the field selector
    /// `metadata.name=NAME`, which RBAC's `resourceNames` applies to);
    /// `None` for a selector, `--all` or `-A`.
    pub name: Option<String>,
    /// The rule reading it has `-A`.
    pub all_namespaces: bool,
}

impl Resource {
    /// Read in every namespace (a ClusterRole's), not only the notifier's.
    fn everywhere(&self) -> bool {
        self.all_namespaces || !self.namespaced
    }
}

/// Every document, in the order `kubectl apply` needs them. What is read in
/// every namespace (`-A`, a cluster-scoped type) goes to a ClusterRole, the
/// rest to a Role: with several rules, each keeps its own scope.
pub fn documents(request: &Request, namespace: &str, resources: &[Resource]) -> Vec<Value> {
    let mut docs = vec![object(
        "v1",
        "ServiceAccount",
        request,
        Some(namespace),
        &request.name,
    )];
    let (everywhere, here): (Vec<Resource>, Vec<Resource>) =
        resources.iter().cloned().partition(Resource::everywhere);
    let ready = |everywhere: bool| request.for_ready && request.all_namespaces == everywhere;
    let reads = read_rules(ready(true), &everywhere);
    let mut local = read_rules(ready(false), &here);
    local.extend(own_rules(request));
    let cluster_name = format!("kubectl-notify:{namespace}:{}", request.name);
    let mut bind = |kind: &str, name: &str, ns: Option<&str>, rules: Vec<Value>| {
        let mut role = object("rbac.authorization.k8s.io/v1", kind, request, ns, name);
        role["rules"] = Value::Array(rules);
        let binding_kind = format!("{kind}Binding");
        let mut binding = object(
            "rbac.authorization.k8s.io/v1",
            &binding_kind,
            request,
            ns,
            name,
        );
        binding["roleRef"] = json!({
            "apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name,
        });
        binding["subjects"] = json!([{
            "kind": "ServiceAccount", "name": request.name, "namespace": namespace,
        }]);
        docs.push(role);
        docs.push(binding);
    };
    if !reads.is_empty() {
        bind("ClusterRole", &cluster_name, None, reads);
    }
    if !local.is_empty() {
        bind("Role", &request.name, Some(namespace), local);
    }
    if let Some(text) = &request.rules {
        let mut config = object(
            "v1",
            "ConfigMap",
            request,
            Some(namespace),
            &rules_name(request),
        );
        config["data"] = json!({ RULES_KEY: text });
        docs.push(config);
    }
    if request.wait {
        docs.push(job(request, namespace));
    } else {
        docs.push(deployment(request, namespace));
        docs.push(service(request, namespace));
    }
    docs
}

/// The documents as `kubectl apply -f -` reads them, with a comment on the
/// Secret to create when sinks read their URLs from one.
pub fn render(request: &Request, namespace: &str, docs: &[Value]) -> String {
    let mut out = format!(
        "# kubectl-notify {}: {} in namespace {namespace}\n",
        env!("CARGO_PKG_VERSION"),
        request.name
    );
    if !request.sinks.is_empty() {
        out.push_str(&format!(
            "# The sinks read their URLs from Secret {} (one key per variable); create it first, e.g.\n\
             #   kubectl create secret generic {} -n {namespace}",
            secret_name(request),
            secret_name(request)
        ));
        for sink in &request.sinks {
            out.push_str(&format!(" \\\n#     --from-file={0}=./{0}", sink.env));
        }
        out.push_str(
            "\n# where each file holds the sink's URL (files keep it out of shell history).\n",
        );
    }
    for doc in docs {
        out.push_str("---\n");
        out.push_str(&yaml::document(doc));
    }
    out
}

fn secret_name(request: &Request) -> String {
    format!("{}-sinks", request.name)
}

/// The ConfigMap holding `--rules FILE`.
pub fn rules_name(request: &Request) -> String {
    format!("{}-rules", request.name)
}

fn labels(request: &Request) -> Value {
    json!({
        "app.kubernetes.io/name": "kubectl-notify",
        "app.kubernetes.io/instance": request.name,
        "app.kubernetes.io/version": env!("CARGO_PKG_VERSION"),
        "app.kubernetes.io/component": if request.wait { "gate" } else { "notifier" },
        "app.kubernetes.io/managed-by": "kubectl-notify",
    })
}

fn selector(request: &Request) -> Value {
    json!({
        "app.kubernetes.io/name": "kubectl-notify",
        "app.kubernetes.io/instance": request.name,
    })
}

fn object(api_version: &str, kind: &str, request: &Request, ns: Option<&str>, name: &str) -> Value {
    let mut metadata = json!({"name": name});
    if let Some(ns) = ns {
        metadata["namespace"] = json!(ns);
    }
    metadata["labels"] = labels(request);
    json!({"apiVersion": api_version, "kind": kind, "metadata": metadata})
}

/// `get`, `list`, `watch` on every target's resource — only on the names
/// when every target of it is named — and `list` on what `--for ready`'s
/// explanations read; one rule per group and verbs (and names).
fn read_rules(for_ready: bool, resources: &[Resource]) -> Vec<Value> {
    // Per resource, its names; `None` once any target takes every object.
    let mut names: BTreeMap<(String, String), Option<BTreeSet<String>>> = BTreeMap::new();
    for r in resources {
        let key = (r.group.clone(), r.plural.clone());
        let entry = names.entry(key).or_insert_with(|| Some(BTreeSet::new()));
        match (entry.as_mut(), &r.name) {
            (Some(set), Some(name)) => {
                set.insert(name.clone());
            }
            _ => *entry = None,
        }
    }
    let mut named = Vec::new();
    let mut verbs: BTreeMap<(String, String), BTreeSet<&str>> = BTreeMap::new();
    for ((group, plural), names) in names {
        match names {
            Some(names) => named.push(json!({
                "apiGroups": [group], "resources": [plural],
                "resourceNames": names, "verbs": ["get", "list", "watch"],
            })),
            None => verbs
                .entry((group, plural))
                .or_default()
                .extend(["get", "list", "watch"]),
        }
    }
    if for_ready {
        // Pods are watched (a stuck pod brings the next look forward); a
        // DaemonSet's current revision is its newest ControllerRevision.
        for (group, plural, wanted) in [
            ("", "pods", &["list", "watch"][..]),
            ("apps", "replicasets", &["list"]),
            ("apps", "controllerrevisions", &["list"]),
            ("", "events", &["list"]),
            ("events.k8s.io", "events", &["list"]),
        ] {
            verbs
                .entry((group.into(), plural.into()))
                .or_default()
                .extend(wanted);
        }
    }
    let mut rules: BTreeMap<(String, Vec<&str>), Vec<String>> = BTreeMap::new();
    for ((group, plural), verbs) in verbs {
        let verbs: Vec<&str> = ["get", "list", "watch"]
            .into_iter()
            .filter(|v| verbs.contains(v))
            .collect();
        rules.entry((group, verbs)).or_default().push(plural);
    }
    rules
        .into_iter()
        .map(|((group, verbs), plurals)| {
            json!({"apiGroups": [group], "resources": plurals, "verbs": verbs})
        })
        .chain(named)
        .collect()
}

/// The Lease and the checkpoint in the notifier's own namespace: `create`
/// cannot be limited by name, `get` and `update` are.
fn own_rules(request: &Request) -> Vec<Value> {
    let mut rules = Vec::new();
    for (group, plural, name) in [
        ("coordination.k8s.io", "leases", &request.lease),
        ("", "configmaps", &request.checkpoint),
    ] {
        if let Some(name) = name {
            rules.push(json!({"apiGroups": [group], "resources": [plural], "verbs": ["create"]}));
            rules.push(json!({
                "apiGroups": [group], "resources": [plural],
                "resourceNames": [name], "verbs": ["get", "update"],
            }));
        }
    }
    rules
}

/// The pod: non-root, no privilege, a read-only root file system, every
/// capability dropped, small requests and limits.
fn pod_spec(request: &Request, restart: &str) -> Value {
    let mut env = vec![json!({
        "name": "POD_NAME",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
    })];
    for sink in &request.sinks {
        env.push(json!({
            "name": sink.env,
            "valueFrom": {"secretKeyRef": {"name": secret_name(request), "key": sink.env}},
        }));
    }
    let mut container = json!({
        "name": "kubectl-notify",
        "image": IMAGE,
        "args": request.args,
        "env": env,
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {
            "requests": {"cpu": "10m", "memory": "32Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
    });
    if request.rules.is_some() {
        container["volumeMounts"] = json!([{
            "name": "rules", "mountPath": RULES_DIR, "readOnly": true,
        }]);
    }
    if !request.wait {
        container["ports"] = json!([{"name": "metrics", "containerPort": METRICS_PORT}]);
        container["livenessProbe"] = json!({
            "httpGet": {"path": "/healthz", "port": "metrics"},
            "periodSeconds": 10,
        });
        container["readinessProbe"] = json!({
            "httpGet": {"path": "/readyz", "port": "metrics"},
            "periodSeconds": 5,
        });
    }
    let mut pod = json!({
        "serviceAccountName": request.name,
        "restartPolicy": restart,
        "securityContext": {
            "runAsNonRoot": true,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
    });
    if request.rules.is_some() {
        pod["volumes"] = json!([{
            "name": "rules", "configMap": {"name": rules_name(request)},
        }]);
    }
    pod
}

fn template(request: &Request, restart: &str) -> Value {
    json!({
        "metadata": {"labels": labels(request)},
        "spec": pod_spec(request, restart),
    })
}

fn deployment(request: &Request, namespace: &str) -> Value {
    let mut doc = object(
        "apps/v1",
        "Deployment",
        request,
        Some(namespace),
        &request.name,
    );
    doc["spec"] = json!({
        "replicas": 2,
        "selector": {"matchLabels": selector(request)},
        "template": template(request, "Always"),
    });
    doc
}

fn service(request: &Request, namespace: &str) -> Value {
    let mut doc = object("v1", "Service", request, Some(namespace), &request.name);
    doc["spec"] = json!({
        "selector": selector(request),
        "ports": [{"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"}],
    });
    doc
}

/// A gate: the Job completes when the condition holds and fails otherwise,
/// never retried (`backoffLimit: 0`), so others can wait on it.
fn job(request: &Request, namespace: &str) -> Value {
    let mut doc = object("batch/v1", "Job", request, Some(namespace), &request.name);
    doc["spec"] = json!({
        "backoffLimit": 0,
        "template": template(request, "Never"),
    });
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(wait: bool) -> Request {
        Request {
            name: "alerts".into(),
            args: vec!["widgets".into(), "--all".into()],
            wait,
            for_ready: false,
            all_namespaces: false,
            lease: (!wait).then(|| "alerts".into()),
            checkpoint: (!wait).then(|| "alerts".into()),
            sinks: Vec::new(),
            rules: None,
        }
    }

    fn widgets() -> Vec<Resource> {
        vec![Resource {
            group: "example.com".into(),
            plural: "widgets".into(),
            namespaced: true,
            name: None,
            all_namespaces: false,
        }]
    }

    fn kinds(docs: &[Value]) -> Vec<&str> {
        docs.iter().map(|d| d["kind"].as_str().unwrap()).collect()
    }

    #[test]
    fn notify_mode_is_a_deployment_with_a_service_and_one_role() {
        let docs = documents(&request(false), "team-a", &widgets());
        assert_eq!(
            kinds(&docs),
            [
                "ServiceAccount",
                "Role",
                "RoleBinding",
                "Deployment",
                "Service"
            ]
        );
        assert_eq!(
            docs[1]["rules"][0],
            json!({"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list", "watch"]})
        );
    }

    #[test]
    fn all_namespaces_reads_through_a_cluster_role_and_keeps_the_lease_local() {
        let req = request(false);
        let mut resources = widgets();
        resources[0].all_namespaces = true;
        let docs = documents(&req, "ops", &resources);
        assert_eq!(
            kinds(&docs),
            [
                "ServiceAccount",
                "ClusterRole",
                "ClusterRoleBinding",
                "Role",
                "RoleBinding",
                "Deployment",
                "Service"
            ]
        );
        assert_eq!(docs[1]["metadata"]["name"], "kubectl-notify:ops:alerts");
        assert!(docs[1]["metadata"].get("namespace").is_none());
    }

    #[test]
    fn named_targets_are_read_by_name_unless_another_target_reads_every_object() {
        let widget = |name: Option<&str>| Resource {
            group: "example.com".into(),
            plural: "widgets".into(),
            namespaced: true,
            name: name.map(String::from),
            all_namespaces: false,
        };
        let named = [widget(Some("b")), widget(Some("a")), widget(Some("a"))];
        assert_eq!(
            Value::Array(read_rules(false, &named)),
            json!([{"apiGroups": ["example.com"], "resources": ["widgets"],
                    "resourceNames": ["a", "b"], "verbs": ["get", "list", "watch"]}])
        );
        let mixed = [widget(Some("a")), widget(None)];
        assert_eq!(
            Value::Array(read_rules(false, &mixed)),
            json!([{"apiGroups": ["example.com"], "resources": ["widgets"],
                    "verbs": ["get", "list", "watch"]}])
        );
    }

    #[test]
    fn for_ready_adds_list_on_what_its_explanations_read_merged_with_targets() {
        let mut req = request(true);
        req.for_ready = true;
        let pods = vec![Resource {
            group: "".into(),
            plural: "pods".into(),
            namespaced: true,
            name: None,
            all_namespaces: false,
        }];
        let rules = read_rules(req.for_ready, &pods);
        assert_eq!(
            Value::Array(rules),
            json!([
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
                {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]},
                {"apiGroups": ["apps"], "resources": ["controllerrevisions", "replicasets"], "verbs": ["list"]},
                {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["list"]},
            ])
        );
    }
}
