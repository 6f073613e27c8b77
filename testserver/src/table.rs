//! The forms an object can be answered in, chosen from the Accept header:
//! itself, a `meta.k8s.io/v1` Table (`kubectl get`), or PartialObjectMetadata.

use serde_json::{Value, json};

use crate::catalog::ResourceType;
use crate::clock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    Object,
    Table,
    Metadata,
}

impl Form {
    /// The first media type in Accept that the server can produce.
    pub fn from_accept(accept: Option<&str>) -> Form {
        for media in accept.unwrap_or("").split(',') {
            let params: Vec<&str> = media.split(';').map(str::trim).collect();
            let meta_group = params.contains(&"g=meta.k8s.io");
            match params.first().copied() {
                Some("application/json") if meta_group && params.contains(&"as=Table") => {
                    return Form::Table;
                }
                Some("application/json")
                    if meta_group
                        && (params.contains(&"as=PartialObjectMetadata")
                            || params.contains(&"as=PartialObjectMetadataList")) =>
                {
                    return Form::Metadata;
                }
                Some("application/json") if params.iter().all(|p| !p.starts_with("as=")) => {
                    return Form::Object;
                }
                Some("*/*") | Some("application/*") => return Form::Object,
                _ => {}
            }
        }
        Form::Object
    }
}

/// An object reduced to its metadata.
pub(crate) fn partial(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
    })
}

/// What each row's `object` carries (`?includeObject=`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(s: Option<&str>) -> IncludeObject {
        match s {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

struct Column {
    name: &'static str,
    kind: &'static str,
    format: &'static str,
    description: &'static str,
    cell: fn(&Value) -> Value,
}

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

fn name_cell(o: &Value) -> Value {
    o.pointer("/metadata/name").cloned().unwrap_or(json!(""))
}

fn age_cell(o: &Value) -> Value {
    let created = o
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(clock::parse_rfc3339);
    match created {
        Some(t) => json!(clock::human_duration(clock::unix_now() - t)),
        None => json!("<unknown>"),
    }
}

fn int_at(o: &Value, p: &str) -> i64 {
    o.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

fn columns(rt: &ResourceType) -> Vec<Column> {
    let name = Column {
        name: "Name",
        kind: "string",
        format: "name",
        description: NAME_DESCRIPTION,
        cell: name_cell,
    };
    let age = Column {
        name: "Age",
        kind: "date",
        format: "",
        description: AGE_DESCRIPTION,
        cell: age_cell,
    };
    let col = |name, kind, description, cell| Column {
        name,
        kind,
        format: "",
        description,
        cell,
    };
    let middle: Vec<Column> = match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "namespaces") => vec![col(
            "Status",
            "string",
            "The status of the namespace",
            |o| o.pointer("/status/phase").cloned().unwrap_or(json!("")),
        )],
        ("", "configmaps") => vec![col("Data", "string", "Number of data in configmap", |o| {
            let n = |k: &str| o.get(k).and_then(Value::as_object).map_or(0, |m| m.len());
            json!(n("data") + n("binaryData"))
        })],
        ("", "pods") => vec![
            col(
                "Ready",
                "string",
                "The aggregate readiness state of this pod for accepting traffic.",
                |o| {
                    let statuses = o
                        .pointer("/status/containerStatuses")
                        .and_then(Value::as_array);
                    let total = o
                        .pointer("/spec/containers")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len);
                    let ready =
                        statuses.map_or(0, |s| s.iter().filter(|c| c["ready"] == true).count());
                    json!(format!("{ready}/{total}"))
                },
            ),
            col(
                "Status",
                "string",
                "The aggregate status of the containers in this pod.",
                |o| {
                    o.pointer("/status/phase")
                        .cloned()
                        .unwrap_or(json!("Pending"))
                },
            ),
            col(
                "Restarts",
                "string",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
                |o| {
                    let statuses = o
                        .pointer("/status/containerStatuses")
                        .and_then(Value::as_array);
                    json!(
                        statuses
                            .map_or(0, |s| s
                                .iter()
                                .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                                .sum::<i64>())
                            .to_string()
                    )
                },
            ),
        ],
        ("apps", "deployments") => vec![
            col(
                "Ready",
                "string",
                "Number of the pod with ready state",
                |o| {
                    json!(format!(
                        "{}/{}",
                        int_at(o, "/status/readyReplicas"),
                        o.pointer("/spec/replicas")
                            .and_then(Value::as_i64)
                            .unwrap_or(1)
                    ))
                },
            ),
            col(
                "Up-to-date",
                "integer",
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
                |o| json!(int_at(o, "/status/updatedReplicas")),
            ),
            col(
                "Available",
                "integer",
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
                |o| json!(int_at(o, "/status/availableReplicas")),
            ),
        ],
        ("batch", "jobs") => vec![col(
            "Completions",
            "string",
            "The desired number of successfully finished pods the job should be run with.",
            |o| {
                let want = o
                    .pointer("/spec/completions")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                json!(format!("{}/{want}", int_at(o, "/status/succeeded")))
            },
        )],
        _ => Vec::new(),
    };
    let mut cols = vec![name];
    cols.extend(middle);
    cols.push(age);
    cols
}

fn row(cols: &[Column], obj: &Value, include: IncludeObject) -> Value {
    let cells: Vec<Value> = cols.iter().map(|c| (c.cell)(obj)).collect();
    let object = match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Object => obj.clone(),
        IncludeObject::Metadata => partial(obj),
    };
    let mut r = json!({"cells": cells});
    if !object.is_null() {
        r["object"] = object;
    }
    r
}

/// A Table of `objects`. `metadata` is the list metadata (resourceVersion,
/// continue); `headers` false leaves out columnDefinitions, as watch events
/// after the first do.
pub(crate) fn table(
    rt: &ResourceType,
    objects: &[&Value],
    metadata: Value,
    headers: bool,
    include: IncludeObject,
) -> Value {
    let cols = columns(rt);
    let defs: Vec<Value> = if headers {
        cols.iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "type": c.kind,
                    "format": c.format,
                    "description": c.description,
                    "priority": 0,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let rows: Vec<Value> = objects.iter().map(|o| row(&cols, o, include)).collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": defs,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_the_form_from_accept() {
        let form = |a: &str| Form::from_accept(Some(a));
        assert_eq!(
            form(
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
            ),
            Form::Table
        );
        assert_eq!(
            form("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"),
            Form::Metadata
        );
        assert_eq!(
            form("application/vnd.kubernetes.protobuf,application/json"),
            Form::Object
        );
        assert_eq!(form("application/json"), Form::Object);
        assert_eq!(Form::from_accept(None), Form::Object);
    }
}
