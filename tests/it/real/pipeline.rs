//! The pipeline line, whole, on a real kube-apiserver and
//! kube-controller-manager: a folder (the `apply-app` manifests, a CRD and a
//! custom resource of it) applied with real kubectl, then
//! `kubectl notify -f DIR -R --for ready`: every object waited for with its
//! kind's rule in one run, met when the last is ready, with progress lines in
//! the CI log. What the control plane lacks (kubelet, load balancer, storage
//! provisioner, the CR's controller) is played by the test.

use std::time::Duration;

use serde_json::json;

use crate::cluster::{Cluster, Watching};
use crate::common::{code, stderr, stdout};
use crate::real::Namespace;
use crate::real::ready::{eventually, play_ready, pods};

fn reference(file: &str) -> String {
    let path = format!(
        "{}/testserver/tests/k8s-reference/apply-app/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Deletes what a namespace's deletion leaves (cluster-scoped objects).
struct Leftovers<'a>(&'a Namespace<'a>, Vec<String>);

impl Drop for Leftovers<'_> {
    fn drop(&mut self) {
        for object in &self.1 {
            let _ = self.0.kubectl(&["delete", object, "--wait=false"]);
        }
    }
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines.sort();
    lines
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn the_pipeline_line_waits_for_a_whole_apply_until_its_last_object_is_ready() {
    let ns = Namespace::new();
    // A group of this test's own: CRDs are cluster-wide.
    let group = format!("{}.pipeline.example.com", ns.name);
    let crd_name = format!("gadgets.{group}");
    let volume = format!("data-{}", ns.name);
    let _leftovers = Leftovers(&ns, vec![format!("crd/{crd_name}"), format!("pv/{volume}")]);
    let dir = ns.dir.path().join("k8s");
    std::fs::create_dir_all(dir.join("crds")).unwrap();
    for file in ["10-config.yaml", "20-workloads.yaml"] {
        std::fs::write(dir.join(file), reference(file)).unwrap();
    }
    let crd = reference("crds/gadget-crd.yaml")
        .replace("name: gadgets.example.com", &format!("name: {crd_name}"))
        .replace("group: example.com", &format!("group: {group}"));
    assert!(crd.contains(&crd_name) && crd.contains(&format!("group: {group}")));
    std::fs::write(dir.join("crds/gadget-crd.yaml"), &crd).unwrap();
    std::fs::write(
        dir.join("30-gadget.yaml"),
        format!("apiVersion: {group}/v1\nkind: Gadget\nmetadata:\n  name: g1\nspec: {{}}\n"),
    )
    .unwrap();
    let folder = dir.to_str().unwrap();

    // `kubectl apply -f k8s/ -R`: the custom resource cannot be applied
    // before its CRD is served (kubectl says so and applies the rest), so
    // a pipeline applies again; the wait starts in between, its type not
    // yet known to it either.
    let first = ns.kubectl(&["apply", "-f", folder, "-R"]);
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("deployment.apps/web created"),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let mut wait = ns.notify(&["-f", folder, "-R", "--for", "ready", "--timeout", "180s"]);
    wait.env("KUBECTL_NOTIFY_PROGRESS_EVERY", "5s");
    let mut wait = Watching::of(wait.spawn().unwrap());
    ns.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        &format!("crd/{crd_name}"),
        "--timeout=60s",
    ]);
    eventually("the custom resource applied", || {
        ns.kubectl(&["apply", "-f", folder, "-R"])
            .status
            .success()
            .then_some(())
    });

    // What the control plane lacks, played: a load balancer's address (once
    // the CI log has said it is awaited), a volume for the claim, the
    // kubelet's word on every pod, the CR's controller.
    wait.said(
        "service/web-public: waiting for a load balancer address",
        Duration::from_secs(60),
    );
    ns.patch_status(
        "service/web-public",
        json!({"loadBalancer": {"ingress": [{"ip": "192.0.2.10", "ipMode": "VIP"}]}}),
    );
    ns.create(json!({"apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": volume},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": format!("/tmp/{volume}")}, "storageClassName": "",
            "claimRef": {"namespace": ns.name, "name": "data"}}}));
    let web = eventually("two pods of web", || {
        let pods = pods(&ns, "app=web");
        (pods.len() == 2).then_some(pods)
    });
    for pod in &web {
        play_ready(&ns, pod["metadata"]["name"].as_str().unwrap());
    }
    let db = eventually("the pod of db", || {
        let pods = pods(&ns, "app=db");
        (pods.len() == 1).then_some(pods)
    });
    play_ready(&ns, db[0]["metadata"]["name"].as_str().unwrap());
    let migrate = eventually("the pod of migrate", || {
        let pods = pods(&ns, "job-name=migrate");
        (pods.len() == 1).then_some(pods)
    });
    let now = "2026-01-01T00:00:00Z";
    ns.patch_status(
        &format!("pod/{}", migrate[0]["metadata"]["name"].as_str().unwrap()),
        json!({"phase": "Succeeded", "conditions": [
            {"type": "Ready", "status": "False", "reason": "PodCompleted"}],
            "containerStatuses": [{"name": "m", "image": "registry.invalid/migrate:1",
                "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                    "startedAt": now, "finishedAt": now}}}]}),
    );
    ns.patch_status(
        &format!("gadgets.{group}/g1"),
        json!({"conditions": [{"type": "Ready", "status": "True"}]}),
    );

    let out = wait.finish(Duration::from_secs(180));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut expected = vec![
        "configmap/web-config condition met".to_string(),
        "service/web condition met".into(),
        "service/web-public condition met".into(),
        "deployment.apps/web condition met".into(),
        "statefulset.apps/db condition met".into(),
        "job.batch/migrate condition met".into(),
        "poddisruptionbudget.policy/web condition met".into(),
        "horizontalpodautoscaler.autoscaling/web condition met".into(),
        "persistentvolumeclaim/data condition met".into(),
        format!("customresourcedefinition.apiextensions.k8s.io/{crd_name} condition met"),
        format!("gadget.{group}/g1 condition met"),
    ];
    expected.sort();
    assert_eq!(sorted_lines(&stdout(&out)), expected);
    // The CI log told the wait as it went: a line per object's progress
    // (the load balancer's, awaited above) and a summary of what was not
    // ready yet.
    let log = stderr(&out);
    assert!(
        log.lines()
            .any(|l| l.starts_with("waiting ") && l.contains(" of 11 ready; not yet: ")),
        "{log}"
    );
}
