//! What `--print-manifests` grants, checked on a real kube-apiserver: the
//! printed RBAC applied with real kubectl, and the pod's own arguments run
//! with the service account's token.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::{Cluster, Watching};
use crate::common::{code, stderr, stdout};
use crate::real::Namespace;

/// The test's namespace, as its service account `name` sees it.
struct AsServiceAccount<'a> {
    ns: &'a Namespace<'a>,
    kubeconfig: PathBuf,
}

impl<'a> AsServiceAccount<'a> {
    fn new(ns: &'a Namespace<'a>, name: &str) -> AsServiceAccount<'a> {
        let token = ns.kubectl_ok(&["create", "token", name]);
        let kubeconfig = ns.dir.path().join(format!("{name}.kubeconfig"));
        std::fs::copy(&ns.kubeconfig, &kubeconfig).unwrap();
        let config = kubeconfig.to_str().unwrap();
        for args in [
            &["config", "set-credentials", name, "--token", token.trim()][..],
            &["config", "set-context", "--current", "--user", name],
        ] {
            let out = ns
                .kubectl_cmd(args)
                .env("KUBECONFIG", config)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
        }
        AsServiceAccount { ns, kubeconfig }
    }
}

impl Cluster for AsServiceAccount<'_> {
    fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    fn home(&self) -> &Path {
        self.ns.dir.path()
    }

    fn namespace(&self) -> &str {
        &self.ns.name
    }

    fn create_widget(&self, name: &str, spec: Value) -> Value {
        self.ns.create_widget(name, spec)
    }

    fn patch_widget(&self, name: &str, patch: Value) -> Value {
        self.ns.patch_widget(name, patch)
    }

    fn set_widget_status(&self, name: &str, status: Value) -> Value {
        self.ns.set_widget_status(name, status)
    }

    fn delete_widget(&self, name: &str) {
        self.ns.delete_widget(name)
    }

    fn create_object(&self, resource: &str, object: Value) -> Value {
        self.ns.create_object(resource, object)
    }

    fn patch_object(&self, resource: &str, name: &str, patch: Value) -> Value {
        self.ns.patch_object(resource, name, patch)
    }

    fn delete_object(&self, resource: &str, name: &str) {
        self.ns.delete_object(resource, name)
    }

    fn get(&self, resource: &str, name: &str) -> Option<Value> {
        self.ns.get(resource, name)
    }

    fn kubeconfig_without_rights(&self) -> PathBuf {
        self.ns.kubeconfig_without_rights()
    }

    fn forget_history(&self) {
        self.ns.forget_history()
    }

    fn restart_apiserver(&self) {
        self.ns.restart_apiserver()
    }
}

/// Named targets get `get, list, watch` by `resourceNames` only: RBAC
/// applies them to a list or watch whose field selector is
/// `metadata.name=NAME`, which is how each named target is watched, so the
/// pod's command line works with exactly these rights; another object of
/// the type is refused.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn named_targets_are_granted_by_name_and_the_pod_works_with_it() {
    use std::io::Write;
    let ns = Namespace::new();
    ns.create(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "a", "namespace": ns.name}, "data": {"x": "1"}}));
    let printed = ns.run(&[
        "cm/a",
        "cm/b",
        "-o",
        "name",
        "--name",
        "n1",
        "--print-manifests",
    ]);
    assert_eq!(code(&printed), 0, "{}", stderr(&printed));
    assert!(
        stdout(&printed).contains("resourceNames:\n  - a\n  - b\n  resources:\n  - configmaps"),
        "{}",
        stdout(&printed)
    );
    let mut apply = ns
        .kubectl_cmd(&["apply", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    apply
        .stdin
        .take()
        .unwrap()
        .write_all(&printed.stdout)
        .unwrap();
    let applied = apply.wait_with_output().unwrap();
    assert!(applied.status.success(), "{}", stderr(&applied));

    let pod = AsServiceAccount::new(&ns, "n1");
    // The Deployment's arguments (its metrics port left out), until the
    // two changes are printed.
    let args = [
        "cm/a",
        "cm/b",
        "-o",
        "name",
        "--leader-elect",
        "--lease",
        "n1",
        "--checkpoint",
        "n1",
        "--count",
        "2",
        "--timeout",
        "60s",
    ];
    let run = Watching::start(&pod, &args, 2);
    ns.patch("configmap/a", json!({"data": {"x": "2"}}));
    ns.create(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "b", "namespace": ns.name}}));
    let out = run.finish(Duration::from_secs(90));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let said = stdout(&out);
    let mut lines: Vec<&str> = said.lines().collect();
    lines.sort();
    assert_eq!(lines, ["configmap/a", "configmap/b"], "{}", stderr(&out));
    let others = pod.run(&["cm/c", "--timeout", "5s"]);
    assert_eq!(code(&others), 3, "{}", stderr(&others));
    assert!(
        stderr(&others).contains("forbidden") && stderr(&others).contains("configmaps"),
        "{}",
        stderr(&others)
    );
}

/// `-n` naming a namespace that does not exist, with `--leader-elect` or
/// `--checkpoint`: one line at start, exit 3 — found by reading the
/// namespace, or, for a user who may not read namespaces, from the 404 of
/// creating the Lease or the ConfigMap there.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_namespace_that_does_not_exist_is_said_once_at_start() {
    let ns = Namespace::new();
    ns.kubectl_ok(&["create", "serviceaccount", "keeper"]);
    // May keep a Lease and a ConfigMap anywhere, but not read namespaces.
    let binding = format!("{}-keeper", ns.name);
    ns.kubectl_ok(&[
        "create",
        "clusterrole",
        &binding,
        "--verb=get,list,watch,create,update",
        "--resource=configmaps,leases.coordination.k8s.io",
    ]);
    ns.kubectl_ok(&[
        "create",
        "clusterrolebinding",
        &binding,
        "--clusterrole",
        &binding,
        "--serviceaccount",
        &format!("{}:keeper", ns.name),
    ]);
    let keeper = AsServiceAccount::new(&ns, "keeper");
    let missing = format!("{}-missing", ns.name);
    for who in [&ns as &dyn Cluster, &keeper] {
        for (flags, why) in [
            (
                &["--leader-elect"][..],
                "--leader-elect keeps its Lease there",
            ),
            (
                &["--checkpoint", "cp"],
                "--checkpoint keeps its ConfigMap there",
            ),
        ] {
            let mut args = vec!["configmaps", "--all", "-n", &missing, "--timeout", "30s"];
            args.extend_from_slice(flags);
            let out = who.run(&args);
            assert_eq!(code(&out), 3, "{flags:?}: {}", stderr(&out));
            assert_eq!(
                stderr(&out),
                format!(
                    "error: namespace \"{missing}\" not found: {why}; create it (kubectl create \
                     namespace {missing}) or choose another with -n\n"
                )
            );
        }
    }
    ns.kubectl_ok(&["delete", "clusterrolebinding,clusterrole", &binding]);
}
