//! Waiting for what a pipeline applied, on a real control plane: a type list
//! with a selector (cross-checked with real `kubectl wait`), the names real
//! `kubectl apply -o name` prints read from stdin, and a folder whose custom
//! resource's CRD is applied a moment after the wait starts.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::cluster::Cluster;
use crate::common::{code, finish, stderr, stdout, still_running};
use crate::real::Namespace;

fn sorted(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines.sort();
    lines
}

/// A Deployment of no replicas: ready (Available, rolled out) as soon as
/// the deployment controller has seen it, no kubelet needed.
fn idle_deployment(name: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels: {{app: web}}\n\
         spec:\n  replicas: 0\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    \
         metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers: [{{name: c, image: registry.invalid/x:1}}]\n"
    )
}

#[cfg_attr(
    not(real_tier),
    ignore = "needs KUBEBUILDER_ASSETS (see README, Tests)"
)]
#[test]
fn a_type_list_with_a_selector_ends_as_kubectl_wait_does() {
    let ns = Namespace::new();
    ns.create(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "web-config", "labels": {"app": "web"}}}));
    ns.create(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "db-config", "labels": {"app": "db"}}}));
    ns.kubectl_fed(&["apply", "-f", "-"], &idle_deployment("web"));
    let args = [
        "cm,deploy,sts",
        "-l",
        "app=web",
        "--for=create",
        "--timeout=20s",
    ];
    let theirs = ns.kubectl(&[&["wait"][..], &args].concat());
    let ours = ns.run(&args);
    assert_eq!(code(&ours), 0, "{}", stderr(&ours));
    assert_eq!(theirs.status.code(), Some(0));
    assert_eq!(
        sorted(&stdout(&ours)),
        sorted(&String::from_utf8_lossy(&theirs.stdout))
    );
    assert_eq!(
        sorted(&stdout(&ours)),
        [
            "configmap/web-config condition met",
            "deployment.apps/web condition met"
        ]
    );
}

#[cfg_attr(
    not(real_tier),
    ignore = "needs KUBEBUILDER_ASSETS (see README, Tests)"
)]
#[test]
fn what_kubectl_apply_prints_is_waited_for_ready_from_stdin() {
    let ns = Namespace::new();
    let dir = ns.dir.path().join("k8s");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("app.yaml"),
        format!("{}---\n{}", idle_deployment("web"), idle_deployment("api")),
    )
    .unwrap();
    let applied = ns.kubectl_ok(&["apply", "-f", dir.to_str().unwrap(), "-o", "name"]);
    assert_eq!(applied, "deployment.apps/web\ndeployment.apps/api\n");
    let mut child = ns
        .notify(&["-f", "-", "--for", "ready", "--timeout", "60s"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(applied.as_bytes())
        .unwrap();
    let out = finish(child, Duration::from_secs(90));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "deployment.apps/web condition met\ndeployment.apps/api condition met\n"
    );
}

#[cfg_attr(
    not(real_tier),
    ignore = "needs KUBEBUILDER_ASSETS (see README, Tests)"
)]
#[test]
fn a_custom_resource_beside_its_crd_is_waited_for_until_the_crd_is_applied() {
    let ns = Namespace::new();
    // A group of this test's own: CRDs are cluster-wide.
    let group = format!("{}.apply.example.com", ns.name);
    let crd_name = format!("sprockets.{group}");
    let dir = ns.dir.path().join("k8s");
    std::fs::create_dir_all(dir.join("crds")).unwrap();
    let crd = format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
         metadata: {{name: {crd_name}}}\nspec:\n  group: {group}\n  \
         names: {{plural: sprockets, singular: sprocket, kind: Sprocket}}\n  scope: Namespaced\n  \
         versions:\n  - name: v1\n    served: true\n    storage: true\n    \
         schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}\n"
    );
    std::fs::write(dir.join("crds/sprocket-crd.yaml"), &crd).unwrap();
    let cr = format!("apiVersion: {group}/v1\nkind: Sprocket\nmetadata:\n  name: s1\nspec: {{}}\n");
    std::fs::write(
        dir.join("app.yaml"),
        format!("{}---\n{cr}", idle_deployment("web")),
    )
    .unwrap();

    let mut child = ns
        .notify(&[
            "-f",
            dir.to_str().unwrap(),
            "-R",
            "--for",
            "create",
            "--timeout",
            "60s",
        ])
        .spawn()
        .unwrap();
    assert!(
        still_running(&mut child, Duration::from_millis(1500)),
        "ended before anything was applied"
    );
    ns.kubectl_fed(&["apply", "-f", "-"], &crd);
    ns.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        &format!("crd/{crd_name}"),
    ]);
    std::thread::sleep(Duration::from_millis(500));
    ns.kubectl_fed(
        &["apply", "-f", "-"],
        &format!("{}---\n{cr}", idle_deployment("web")),
    );
    let out = finish(child, Duration::from_secs(60));
    let _ = ns.kubectl(&["delete", "crd", &crd_name, "--wait=false"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "deployment.apps/web condition met\nsprocket.{group}/s1 condition met\n\
             customresourcedefinition.apiextensions.k8s.io/{crd_name} condition met\n"
        )
    );
}

/// A folder holding a CRD of this test's own group and a custom resource
/// of it (`s1`), both applied: the group, the CRD's name and the folder.
fn sprockets_applied(ns: &Namespace) -> (String, String, std::path::PathBuf) {
    let group = format!("{}.gone.example.com", ns.name);
    let crd_name = format!("sprockets.{group}");
    let dir = ns.dir.path().join("k8s");
    std::fs::create_dir_all(&dir).unwrap();
    let crd = format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
         metadata: {{name: {crd_name}}}\nspec:\n  group: {group}\n  \
         names: {{plural: sprockets, singular: sprocket, kind: Sprocket}}\n  scope: Namespaced\n  \
         versions:\n  - name: v1\n    served: true\n    storage: true\n    \
         schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}\n"
    );
    let cr = format!("apiVersion: {group}/v1\nkind: Sprocket\nmetadata:\n  name: s1\nspec: {{}}\n");
    std::fs::write(dir.join("10-crd.yaml"), &crd).unwrap();
    std::fs::write(dir.join("20-sprocket.yaml"), &cr).unwrap();
    ns.kubectl_fed(&["apply", "-f", "-"], &crd);
    ns.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        &format!("crd/{crd_name}"),
    ]);
    std::thread::sleep(Duration::from_millis(500));
    ns.kubectl_fed(&["apply", "-f", "-"], &cr);
    (group, crd_name, dir)
}

/// `kubectl delete -f` of a CRD and its custom resource: once both are gone
/// the resource's type is no longer served; `--for delete` counts it
/// deleted, as `kubectl wait --for=delete -f` does.
#[cfg_attr(
    not(real_tier),
    ignore = "needs KUBEBUILDER_ASSETS (see README, Tests)"
)]
#[test]
fn a_custom_resource_deleted_with_its_crd_ends_a_wait_for_delete() {
    let ns = Namespace::new();
    let (group, crd_name, dir) = sprockets_applied(&ns);

    let mut child = ns
        .notify(&[
            "-f",
            dir.to_str().unwrap(),
            "--for",
            "delete",
            "--timeout",
            "60s",
        ])
        .spawn()
        .unwrap();
    assert!(still_running(&mut child, Duration::from_millis(1500)));
    // The CRD's deletion may take its objects before kubectl reaches them.
    ns.kubectl_ok(&["delete", "--ignore-not-found", "-f", dir.to_str().unwrap()]);
    let out = finish(child, Duration::from_secs(60));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        sorted(&stdout(&out)),
        sorted(&format!(
            "customresourcedefinition.apiextensions.k8s.io/{crd_name} condition met\n\
             sprocket.{group}/s1 condition met\n"
        ))
    );
}

/// Started after `kubectl delete -f` removed a CRD and its custom resource
/// (the discovery cache still holding the type from a run before): met at
/// once, as `kubectl wait --for=delete -f` is.
#[cfg_attr(
    not(real_tier),
    ignore = "needs KUBEBUILDER_ASSETS (see README, Tests)"
)]
#[test]
fn a_wait_for_delete_started_after_the_crd_and_its_resource_are_gone_is_met() {
    let ns = Namespace::new();
    let (group, crd_name, dir) = sprockets_applied(&ns);
    let folder = dir.to_str().unwrap();
    // A run while both exist fills the discovery cache with the type.
    let out = ns.run(&["-f", folder, "--for", "create", "--timeout", "30s"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // The CRD's deletion may take its objects before kubectl reaches them.
    ns.kubectl_ok(&["delete", "--ignore-not-found", "-f", folder]);
    let kubectl = ns.kubectl(&["wait", "--for=delete", "-f", folder, "--timeout=20s"]);
    let out = finish(
        ns.notify(&["-f", folder, "--for", "delete", "--timeout", "20s", "-v"])
            .spawn()
            .unwrap(),
        Duration::from_secs(30),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        code(&out),
        kubectl.status.code().unwrap(),
        "kubectl wait: {}",
        String::from_utf8_lossy(&kubectl.stderr)
    );
    assert_eq!(
        sorted(&stdout(&out)),
        sorted(&format!(
            "customresourcedefinition.apiextensions.k8s.io/{crd_name} condition met\n\
             sprocket.{group}/s1 condition met\n"
        ))
    );
}
