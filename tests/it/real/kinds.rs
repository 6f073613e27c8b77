//! `--for ready` on every kind a pipeline applies besides workloads, on a
//! real kube-apiserver and kube-controller-manager: the `apply-app` folder
//! (testserver/tests/k8s-reference/apply-app) applied with real kubectl,
//! each object waited for, the cluster's missing parts (kubelet, load
//! balancer controller, storage provisioner) played by the test.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cluster::{Cluster, Watching};
use crate::common::{code, result_lines, stderr, stdout};
use crate::real::Namespace;
use crate::real::ready::{eventually, play_ready, pods};

/// A file of the folder a pipeline applies.
fn app(file: &str) -> String {
    format!(
        "{}/testserver/tests/k8s-reference/apply-app/{file}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn apply(ns: &Namespace, file: &str) {
    ns.kubectl_ok(&["apply", "-f", &app(file)]);
}

/// Deletes cluster-scoped objects a test made (a namespace's deletion
/// leaves them) when the test ends, however it ends.
struct ClusterScoped<'a>(&'a Namespace<'a>, Vec<String>);

impl Drop for ClusterScoped<'_> {
    fn drop(&mut self) {
        for object in &self.1 {
            let _ = self.0.kubectl(&["delete", object, "--wait=false"]);
        }
    }
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn config_and_services_are_ready_a_load_balancer_once_it_has_an_address() {
    let ns = Namespace::new();
    apply(&ns, "10-config.yaml");
    let out = ns.run(&["cm/web-config", "svc/web", "--for", "ready"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "configmap/web-config condition met\nservice/web condition met\n"
    );
    assert_eq!(stderr(&out), "", "ready at start: no progress to tell");

    let out = ns.run(&["svc/web-public", "--for", "ready", "--timeout", "3s"]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("service/web-public: waiting for a load balancer address\n"),
        "{err}"
    );
    assert!(
        result_lines(&out).contains("[no] --for ready: waiting for a load balancer address"),
        "{err}"
    );

    let run = Watching::start(
        &ns,
        &["svc/web-public", "--for", "ready", "--timeout", "30s"],
        1,
    );
    // As a load balancer controller writes it.
    ns.patch_status(
        "service/web-public",
        json!({"loadBalancer": {"ingress": [{"ip": "192.0.2.10", "ipMode": "VIP"}]}}),
    );
    let out = run.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "service/web-public condition met\n");
}

/// The workloads' file: the Deployment, its PDB and its HPA become ready
/// once its pods are (played) Ready; the Job and StatefulSet stay as they
/// are (nothing runs them), so they are not waited for here.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_budget_and_an_autoscaler_are_ready_with_the_deployments_pods() {
    let ns = Namespace::new();
    apply(&ns, "20-workloads.yaml");
    let started = Instant::now();
    let run = Watching::start(
        &ns,
        &[
            "deploy/web",
            "pdb/web",
            "hpa/web",
            "--for",
            "ready",
            "--timeout",
            "90s",
        ],
        3,
    );
    let web = eventually("two pods of web", || {
        let pods = pods(&ns, "app=web");
        (pods.len() == 2).then_some(pods)
    });
    // Progress is told from two seconds on.
    std::thread::sleep(Duration::from_millis(2500));
    for pod in &web {
        play_ready(&ns, pod["metadata"]["name"].as_str().unwrap());
    }
    let out = run.finish(Duration::from_secs(90));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "deployment.apps/web condition met\npoddisruptionbudget.policy/web condition met\n\
         horizontalpodautoscaler.autoscaling/web condition met\n"
    );
    let err = stderr(&out);
    assert!(
        err.contains("poddisruptionbudget.policy/web: 0 of 1 required healthy pods"),
        "the budget's progress, said in the log: {err}"
    );
    eprintln!(
        "deployment, budget and autoscaler ready {:?} after the apply",
        started.elapsed()
    );
}

/// No provisioner: the claim is explained, then bound by a volume made for
/// it (as an administrator would); the volume is ready too.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_claim_is_explained_until_a_volume_binds_it() {
    let ns = Namespace::new();
    ns.kubectl_fed(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n\
         spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n",
    );
    let out = ns.run(&["pvc/data", "--for", "ready", "--timeout", "2s"]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let err = result_lines(&out);
    assert!(
        err.contains("  persistentvolumeclaim/data\n    [no] --for ready: phase Pending\n"),
        "{err}"
    );

    let volume = format!("data-{}", ns.name);
    let _cleanup = ClusterScoped(&ns, vec![format!("pv/{volume}")]);
    let run = Watching::start(&ns, &["pvc/data", "--for", "ready", "--timeout", "60s"], 1);
    ns.create(json!({"apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": volume},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": format!("/tmp/{volume}")}, "storageClassName": "",
            "claimRef": {"namespace": ns.name, "name": "data"}}}));
    let out = run.finish(Duration::from_secs(60));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "persistentvolumeclaim/data condition met\n");
    let out = ns.run(&[
        &format!("pv/{volume}"),
        "--for",
        "ready",
        "--timeout",
        "20s",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("persistentvolume/{volume} condition met\n")
    );
}

/// The folder's CRD is ready once established; a CRD whose kind another
/// CRD of its group holds fails at once, naming the conflict; the
/// namespace itself is ready.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_definition_is_ready_once_established_and_a_name_conflict_fails() {
    let ns = Namespace::new();
    apply(&ns, "crds/gadget-crd.yaml");
    let out = ns.run(&[
        "crd/gadgets.example.com",
        "--for",
        "ready",
        "--timeout",
        "30s",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "customresourcedefinition.apiextensions.k8s.io/gadgets.example.com condition met\n"
    );

    let group = format!("{}.example.com", ns.name);
    let crd = |plural: &str| -> Value {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.{group}")},
            "spec": {"group": group, "scope": "Namespaced",
                "names": {"plural": plural, "singular": plural.trim_end_matches('s'), "kind": "Gadget"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object",
                        "x-kubernetes-preserve-unknown-fields": true}}}]}})
    };
    let _cleanup = ClusterScoped(
        &ns,
        vec![
            format!("crd/gadgets.{group}"),
            format!("crd/gizmos.{group}"),
        ],
    );
    ns.create(crd("gadgets"));
    ns.create(crd("gizmos"));
    let started = Instant::now();
    let out = ns.run(&[
        &format!("crd/gizmos.{group}"),
        "--for",
        "ready",
        "--timeout",
        "60s",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(
        result_lines(&out).lines().next().unwrap(),
        format!(
            "customresourcedefinition.apiextensions.k8s.io/gizmos.{group} failed: \
             NamesAccepted=False: \"GadgetList\" is already in use"
        ),
        "{}",
        stderr(&out)
    );
    assert!(started.elapsed() < Duration::from_secs(20), "fails fast");

    let out = ns.run(&[&format!("ns/{}", ns.name), "--for", "ready"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("namespace/{} condition met\n", ns.name)
    );
}

/// Item 2 of the issue: what `--print-manifests` grants for `--for ready`
/// on these kinds is all a wait reads, explanation included: as the printed
/// ServiceAccount, a timeout is explained with nothing left out.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn the_printed_service_account_may_read_all_that_ready_reads() {
    let ns = Namespace::new();
    apply(&ns, "10-config.yaml");
    ns.kubectl_fed(
        &["apply", "-f", "-"],
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\n\
         spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}\n",
    );
    let targets = [
        "cm/web-config",
        "svc/web-public",
        "pdb/web",
        "--for",
        "ready",
    ];
    let name = format!("n-{}", ns.name);
    let mut args = targets.to_vec();
    args.extend(["--name", &name, "--print-manifests"]);
    let out = ns.run(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let applied = ns.kubectl_fed(&["apply", "-f", "-"], &stdout(&out));
    assert!(applied.status.success(), "{}", stderr(&applied));
    let service_account = format!("system:serviceaccount:{}:{name}", ns.name);
    let mut args = targets.to_vec();
    args.extend(["--as", &service_account, "-v", "--timeout", "2s"]);
    let out = ns.run(&args);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        !err.contains("left out") && !err.contains("forbidden"),
        "{err}"
    );
    assert!(
        err.contains("[no] --for ready: waiting for a load balancer address")
            && err.contains("[no] --for ready: 0 of 1 required healthy pods"),
        "{err}"
    );
}

/// A rollout in a CI log (stderr piped): a line per step, as `kubectl
/// rollout status` prints, from the state at start to the last pod.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_rollout_is_told_step_by_step_in_a_ci_log() {
    let ns = Namespace::new();
    ns.create(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns.name},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "registry.invalid/web:1"}]}}}}));
    let run = Watching::start(
        &ns,
        &["deploy/web", "--for", "ready", "--timeout", "60s"],
        1,
    );
    let web = eventually("two pods of web", || {
        let pods = pods(&ns, "app=web");
        (pods.len() == 2).then_some(pods)
    });
    let said = |line: &str| {
        let line = format!("deployment.apps/web: {line}\n");
        eventually(&line.clone(), || run.stderr().contains(&line).then_some(()));
    };
    said("0 of 2 updated replicas are available");
    play_ready(&ns, web[0]["metadata"]["name"].as_str().unwrap());
    said("1 of 2 updated replicas are available");
    play_ready(&ns, web[1]["metadata"]["name"].as_str().unwrap());
    let out = run.finish(Duration::from_secs(60));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "deployment.apps/web condition met\n");
    let err = stderr(&out);
    let steps: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("deployment.apps/web: "))
        .collect();
    assert_eq!(
        steps.last(),
        Some(&"deployment.apps/web: 1 of 2 updated replicas are available"),
        "{err}"
    );
    assert!(
        steps.windows(2).all(|w| w[0] != w[1]),
        "a line per change, never the same twice in a row: {err}"
    );
}

/// `all` and a CRD's own category name every type that lists them, as in
/// `kubectl get all -l app=web`: the same objects, nothing outside the
/// category (a ConfigMap with the same label), and a name refused.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_category_names_the_types_kubectl_expands_it_to() {
    let ns = Namespace::new();
    let labels = json!({"app": "web"});
    ns.create(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1"}]}}}}));
    ns.create(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "labels": labels},
        "spec": {"selector": labels, "ports": [{"port": 80}]}}));
    ns.create(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "web", "labels": labels}, "data": {"a": "1"}}));
    let names = |args: &[&str]| -> Vec<String> {
        let mut names: Vec<String> = ns.kubectl_ok(args).lines().map(String::from).collect();
        names.sort();
        names
    };
    let kubectls = eventually("the deployment's replica set and pod", || {
        let names = names(&["get", "all", "-l", "app=web", "-o", "name"]);
        (names.len() == 4).then_some(names)
    });
    let met = |out: &std::process::Output| -> Vec<String> {
        let mut names: Vec<String> = stdout(out)
            .lines()
            .map(|l| l.trim_end_matches(" condition met").to_string())
            .collect();
        names.sort();
        names
    };
    let out = ns.run(&[
        "all",
        "-l",
        "app=web",
        "--until",
        ".metadata.labels.app == \"web\"",
        "--timeout",
        "30s",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(met(&out), kubectls);

    let group = format!("{}.example.com", ns.name);
    let category = format!("gear-{}", ns.name);
    let _cleanup = ClusterScoped(
        &ns,
        vec![
            format!("crd/gadgets.{group}"),
            format!("crd/gizmos.{group}"),
        ],
    );
    // A CRD in the category and one of its objects: (kind, plural, object).
    let joined = |kind: &str, plural: &str, object: &str| {
        ns.create(
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.{group}")},
            "spec": {"group": group, "scope": "Namespaced",
                "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind,
                    "categories": [category]},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object",
                        "x-kubernetes-preserve-unknown-fields": true}}}]}}),
        );
        ns.kubectl_ok(&[
            "wait",
            "--for=condition=Established",
            &format!("crd/{plural}.{group}"),
        ]);
        eventually("the object created", || {
            ns.kubectl_fed(
                &["create", "-f", "-"],
                &json!({"apiVersion": format!("{group}/v1"), "kind": kind,
                    "metadata": {"name": object}})
                .to_string(),
            )
            .status
            .success()
            .then_some(())
        });
    };
    joined("Gadget", "gadgets", "g1");
    let out = ns.run(&[&category, "--all", "--for", "create", "--timeout", "30s"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(met(&out), names(&["get", &category, "-o", "name"]));
    assert_eq!(met(&out), [format!("gadget.{group}/g1")]);
    // A second CRD joins the category the discovery cache now knows: the
    // server says what the category holds, not the cache.
    joined("Gizmo", "gizmos", "z1");
    let out = ns.run(&[&category, "--all", "--for", "create", "--timeout", "30s"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(met(&out), names(&["get", &category, "-o", "name"]));
    assert_eq!(
        met(&out),
        [format!("gadget.{group}/g1"), format!("gizmo.{group}/z1")]
    );

    let out = ns.run(&["all", "web", "--for", "ready"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`all` is a category of "),
        "{}",
        stderr(&out)
    );
}
