//! Waiting for a whole apply (issue 24): 200 objects of 12 kinds in one
//! folder, made ready by the bench one after another over about two seconds
//! (a label `ready: done`, a condition every kind can meet, so kubectl can
//! wait for the same); the time from the last one to the tool's exit, and the
//! watches and requests it made. kubectl runs `kubectl wait -f DIR
//! --for=jsonpath='{.metadata.labels.ready}'=done`; we run `kubectl notify -f
//! DIR --until '.metadata.labels.ready == done'`.

use std::time::Duration;

use serde_json::{Value, json};
use testserver::Crd;

use crate::bench::{Bench, NAMESPACE};
use crate::error::{Result, io_err};
use crate::launcher::{Stdout, now_ns};
use crate::tools::Tool;

/// (resource as the test server names it, apiVersion, kind).
const KINDS: [(&str, &str, &str); 12] = [
    ("configmaps", "v1", "ConfigMap"),
    ("pods", "v1", "Pod"),
    ("deployments.apps", "apps/v1", "Deployment"),
    ("replicasets.apps", "apps/v1", "ReplicaSet"),
    ("statefulsets.apps", "apps/v1", "StatefulSet"),
    ("daemonsets.apps", "apps/v1", "DaemonSet"),
    ("jobs.batch", "batch/v1", "Job"),
    (
        "leases.coordination.k8s.io",
        "coordination.k8s.io/v1",
        "Lease",
    ),
    ("widgets.example.com", "example.com/v1", "Widget"),
    ("gadgets.bench.io", "bench.io/v1", "Gadget"),
    ("gizmos.bench.io", "bench.io/v1", "Gizmo"),
    ("sprockets.bench.io", "bench.io/v1", "Sprocket"),
];
const OBJECTS: usize = 200;
/// Between two objects becoming ready: 200 of them in about two seconds.
const GAP: Duration = Duration::from_millis(10);

pub(crate) struct Apply {
    pub(crate) notify: Figures,
    pub(crate) kubectl: Option<Figures>,
}

pub(crate) struct Figures {
    /// From the last object becoming ready to the tool's exit.
    pub(crate) after_last_ns: u64,
    pub(crate) watches: usize,
    pub(crate) requests: usize,
    pub(crate) wall_ns: u64,
}

fn objects() -> Vec<(&'static str, Value)> {
    (0..OBJECTS)
        .map(|i| {
            let (resource, api_version, kind) = KINDS[i % KINDS.len()];
            let object = json!({"apiVersion": api_version, "kind": kind,
                "metadata": {"name": format!("app-{i:03}"), "namespace": NAMESPACE,
                             "labels": {"ready": "waiting"}}});
            (resource, object)
        })
        .collect()
}

pub(crate) fn run(b: &mut Bench) -> Result<Apply> {
    for (plural, kind) in [
        ("gadgets", "Gadget"),
        ("gizmos", "Gizmo"),
        ("sprockets", "Sprocket"),
    ] {
        b.server.add_crd(Crd {
            group: "bench.io".into(),
            version: "v1".into(),
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            short_names: vec![],
            namespaced: true,
        });
    }
    let dir = tempfile::tempdir().map_err(io_err("make the manifests' folder"))?;
    let objects = objects();
    for (index, (_, _, kind)) in KINDS.iter().enumerate() {
        let docs: Vec<String> = objects
            .iter()
            .skip(index)
            .step_by(KINDS.len())
            .map(|(_, o)| serde_yaml_ng::to_string(o).unwrap_or_default())
            .collect();
        let file = dir
            .path()
            .join(format!("{index:02}-{}.yaml", kind.to_lowercase()));
        std::fs::write(&file, docs.join("---\n")).map_err(io_err("write a manifest"))?;
    }
    for (resource, object) in &objects {
        b.server.create(resource, Some(NAMESPACE), object.clone());
    }
    let folder = dir.path().display().to_string();
    eprintln!(
        "apply: {OBJECTS} objects of {} kinds in {folder}",
        KINDS.len()
    );
    let notify = measure(b, Tool::Notify, &folder, &objects)?;
    let kubectl = match b.tools.kubectl {
        Some(_) => Some(measure(b, Tool::Kubectl, &folder, &objects)?),
        None => None,
    };
    Ok(Apply { notify, kubectl })
}

fn measure(b: &mut Bench, tool: Tool, folder: &str, objects: &[(&str, Value)]) -> Result<Figures> {
    let label = |ready: &str| json!({"metadata": {"labels": {"ready": ready}}});
    for (resource, object) in objects {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        b.server
            .merge_patch(resource, Some(NAMESPACE), name, label("waiting"));
    }
    b.quiesce();
    let args: Vec<String> = match tool {
        Tool::Notify => vec![
            "-f".into(),
            folder.into(),
            "--until".into(),
            ".metadata.labels.ready == done".into(),
            "--timeout".into(),
            "2m".into(),
        ],
        Tool::Kubectl => vec![
            "wait".into(),
            "-f".into(),
            folder.into(),
            "--for=jsonpath={.metadata.labels.ready}=done".into(),
            "--timeout=2m".into(),
        ],
    };
    let before = b.server.requests().len();
    let watching = b.server.open_watches();
    let mut run = b.launch_tool(tool, "apply wait", &args, Stdout::Null)?;
    b.wait_for_watch(&mut run, watching, Duration::from_secs(30))?;
    std::thread::sleep(Duration::from_millis(500));
    let mut last = 0;
    for (resource, object) in objects {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        b.server
            .merge_patch(resource, Some(NAMESPACE), name, label("done"));
        last = now_ns();
        std::thread::sleep(GAP);
    }
    let m = run.wait_ok(Duration::from_secs(120))?;
    let requests: Vec<String> = b
        .server
        .requests()
        .into_iter()
        .skip(before)
        .map(|r| r.path_and_query)
        .collect();
    Ok(Figures {
        after_last_ns: m.exit_ns.saturating_sub(last),
        watches: requests.iter().filter(|p| p.contains("watch=")).count(),
        requests: requests.len(),
        wall_ns: m.wall_ns(),
    })
}

fn ms(ns: u64) -> String {
    format!("{:.1} ms", ns as f64 / 1e6)
}

/// The figures side by side, as markdown table rows.
pub(crate) fn render(apply: &Apply) -> String {
    let peer = |f: &dyn Fn(&Figures) -> String| {
        apply
            .kubectl
            .as_ref()
            .map_or_else(|| "(no kubectl)".to_string(), f)
    };
    let n = &apply.notify;
    let mut out = format!(
        "Waiting for a whole apply: {OBJECTS} objects of {} kinds from one folder, \
         ready one by one {} ms apart\n\n| figure | kubectl notify -f | kubectl wait -f | target |\n|---|---|---|---|\n",
        KINDS.len(),
        GAP.as_millis()
    );
    out.push_str(&format!(
        "| last object ready → exit | {} | {} | ≤ 50 ms |\n",
        ms(n.after_last_ns),
        peer(&|k| ms(k.after_last_ns))
    ));
    out.push_str(&format!(
        "| watches opened | {} | {} | ≤ 12 |\n",
        n.watches,
        peer(&|k| k.watches.to_string())
    ));
    out.push_str(&format!(
        "| requests (discovery included) | {} | {} | |\n",
        n.requests,
        peer(&|k| k.requests.to_string())
    ));
    out.push_str(&format!(
        "| wall time of the run | {} | {} | |\n",
        ms(n.wall_ns),
        peer(&|k| ms(k.wall_ns))
    ));
    out
}
