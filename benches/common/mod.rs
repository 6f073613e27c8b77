//! The object the benchmarks feed in: a custom resource shaped like what a
//! controller-managed object looks like on the wire, sized by its history.

use serde_json::{Value, json};

/// Widget `web-{index}` at `resource_version`. `managers` is the number of
/// managedFields entries (about 500 bytes each), the part of real objects
/// that grows while nothing we match on does.
pub fn widget(index: usize, resource_version: u64, managers: usize) -> Value {
    let name = format!("web-{index}");
    let managed: Vec<Value> = (0..managers)
        .map(|m| {
            json!({
                "manager": format!("widget-controller-{m}"),
                "operation": if m == 0 { "Apply" } else { "Update" },
                "apiVersion": "example.com/v1",
                "time": "2026-03-14T09:26:53Z",
                "fieldsType": "FieldsV1",
                "subresource": if m % 2 == 1 { "status" } else { "" },
                "fieldsV1": {
                    "f:metadata": {"f:labels": {".": {}, "f:app.kubernetes.io/name": {}, "f:tier": {}}},
                    "f:spec": {"f:replicas": {}, "f:image": {}, "f:ports": {}},
                    "f:status": {"f:conditions": {"k:{\"type\":\"Ready\"}": {".": {}, "f:status": {}, "f:reason": {}}}}
                }
            })
        })
        .collect();
    json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {
            "name": name,
            "namespace": "prod",
            "uid": format!("6f1c2a7e-3b4d-4e8f-9a0b-{index:012}"),
            "resourceVersion": resource_version.to_string(),
            "generation": 7,
            "creationTimestamp": "2026-03-14T09:26:53Z",
            "labels": {
                "app.kubernetes.io/name": "web",
                "app.kubernetes.io/instance": name,
                "app.kubernetes.io/managed-by": "widget-operator",
                "tier": "frontend",
                "region": "eu-west-1"
            },
            "annotations": {
                "widgets.example.com/revision": "42",
                "widgets.example.com/owner": "team-payments@example.com",
                "widgets.example.com/rollout": "canary: 10%, then 50% after 15m, then 100%"
            },
            "finalizers": ["widgets.example.com/cleanup"],
            "managedFields": managed
        },
        "spec": {
            "replicas": 3,
            "image": "registry.example.com/payments/web:v1.42.7",
            "paused": false,
            "ports": [
                {"name": "http", "port": 80, "protocol": "TCP"},
                {"name": "https", "port": 443, "protocol": "TCP"}
            ],
            "resources": {
                "requests": {"cpu": "250m", "memory": "256Mi"},
                "limits": {"cpu": "1", "memory": "512Mi"}
            }
        },
        "status": {
            "ready": resource_version.is_multiple_of(2),
            "observedGeneration": 7,
            "replicas": 3,
            "readyReplicas": 3,
            "phase": "Running",
            // Ready last, so a filter looking for it walks the whole array.
            "conditions": [
                condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
                condition("Progressing", "True", "NewReplicaSetAvailable", "ReplicaSet \"web-7d4b9c\" has successfully progressed."),
                condition("ReplicaFailure", "False", "AllReplicasCreated", "All replicas were created."),
                condition("Ready", "True", "AllPodsReady", "All 3 pods are ready.")
            ]
        }
    })
}

fn condition(kind: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-03-14T09:27:41Z",
        "lastUpdateTime": "2026-03-14T09:27:41Z"
    })
}

/// The size of `object` as compact JSON, which is how the server sends it.
pub fn wire_size(object: &Value) -> usize {
    serde_json::to_vec(object).map_or(0, |bytes| bytes.len())
}
