//! `--print-manifests` on a real control plane: the apiserver accepts what
//! it prints (`kubectl apply --dry-run=server`, then for real, and the
//! controller-manager makes the Pods), and the pod's command line, run with
//! a token of the printed ServiceAccount, works — and nothing more.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::common::{code, plugin, stderr, stdout, text};
use crate::incluster::{free_port, get, read_lines, wait_ready};
use crate::real::Namespace;

/// What `--print-manifests` prints for this command line.
fn print_manifests(ns: &Namespace, args: &[&str]) -> String {
    let mut argv = args.to_vec();
    argv.push("--print-manifests");
    let out = ns.run(&argv);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    stdout(&out)
}

/// Applies the manifests (a server dry run first: it must accept them and
/// leave nothing behind); the `kind/name` lines kubectl printed.
fn apply(ns: &Namespace, manifests: &str) -> Vec<String> {
    let dry = ns.kubectl_fed(
        &["apply", "--dry-run=server", "-o", "name", "-f", "-"],
        manifests,
    );
    assert!(dry.status.success(), "dry run: {}", text(&dry.stderr));
    let applied = ns.kubectl_fed(&["apply", "-o", "name", "-f", "-"], manifests);
    assert!(applied.status.success(), "apply: {}", text(&applied.stderr));
    assert_eq!(text(&dry.stdout), text(&applied.stdout));
    text(&applied.stdout).lines().map(String::from).collect()
}

/// Blocks until `n` Pods of the instance exist (made by the controllers).
fn wait_for_pods(ns: &Namespace, instance: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pods: Value = serde_json::from_str(&ns.kubectl_ok(&[
            "get",
            "pods",
            "-l",
            &format!("app.kubernetes.io/instance={instance}"),
            "-o",
            "json",
        ]))
        .unwrap();
        let count = pods["items"].as_array().unwrap().len();
        if count >= n {
            assert_eq!(count, n);
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{count} of {n} pods of {instance}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn the_apiserver_accepts_every_kind_of_printed_manifests_and_runs_them() {
    let ns = Namespace::new();
    let notifier = format!("n-{}", ns.name);
    let applied = apply(
        &ns,
        &print_manifests(
            &ns,
            &[
                "wg",
                "--all",
                "--when",
                ".status.phase == Failed",
                "--name",
                &notifier,
            ],
        ),
    );
    assert_eq!(
        applied,
        [
            format!("serviceaccount/{notifier}"),
            format!("role.rbac.authorization.k8s.io/{notifier}"),
            format!("rolebinding.rbac.authorization.k8s.io/{notifier}"),
            format!("deployment.apps/{notifier}"),
            format!("service/{notifier}"),
        ]
    );
    wait_for_pods(&ns, &notifier, 2);

    // Wait mode is a Job; every namespace needs a ClusterRole, named after
    // the namespace too, as cluster-wide names are shared.
    let gate = format!("g-{}", ns.name);
    let cluster_wide = format!("kubectl-notify:{}:{gate}", ns.name);
    let applied = apply(
        &ns,
        &print_manifests(
            &ns,
            &[
                "wg",
                "-A",
                "--all",
                "--for",
                "condition=Ready",
                "--name",
                &gate,
            ],
        ),
    );
    assert_eq!(
        applied,
        [
            format!("serviceaccount/{gate}"),
            format!("clusterrole.rbac.authorization.k8s.io/{cluster_wide}"),
            format!("clusterrolebinding.rbac.authorization.k8s.io/{cluster_wide}"),
            format!("job.batch/{gate}"),
        ]
    );
    wait_for_pods(&ns, &gate, 1);
}

/// The printed manifests applied, and a kubeconfig holding a token of the
/// printed ServiceAccount (`kubectl create token`), as the pod would have.
struct Installed<'a> {
    ns: &'a Namespace<'static>,
    name: String,
    docs: Vec<Value>,
    kubeconfig: PathBuf,
}

impl<'a> Installed<'a> {
    fn new(ns: &'a Namespace<'static>, args: &[&str]) -> Installed<'a> {
        let name = format!("n-{}", ns.name);
        let mut argv = args.to_vec();
        argv.extend(["--name", &name]);
        let manifests = print_manifests(ns, &argv);
        let docs: Vec<Value> = serde_saphyr::from_multiple(&manifests).unwrap();
        apply(ns, &manifests);
        let token = ns.kubectl_ok(&["create", "token", &name]);
        let kubeconfig = ns.dir.path().join("service-account");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: real\n  cluster:\n    server: {}\n    certificate-authority: {}\n\
                 users:\n- name: sa\n  user:\n    token: {}\n\
                 contexts:\n- name: sa\n  context:\n    cluster: real\n    user: sa\n    namespace: {}\n\
                 current-context: sa\n",
                ns.plane.url,
                ns.plane.ca_file.display(),
                token.trim(),
                ns.name
            ),
        )
        .unwrap();
        Installed {
            ns,
            name,
            docs,
            kubeconfig,
        }
    }

    /// The plugin with the ServiceAccount's rights.
    fn notify(&self, args: &[&str]) -> std::process::Command {
        plugin(&self.kubeconfig, self.ns.home(), args)
    }

    /// The Deployment's container arguments, the metrics port moved to `port`.
    fn pod_args(&self, port: u16) -> Vec<String> {
        let deployment = self
            .docs
            .iter()
            .find(|d| d["kind"] == "Deployment")
            .unwrap();
        deployment["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| match a.as_str().unwrap() {
                ":9090" => format!("127.0.0.1:{port}"),
                other => other.to_string(),
            })
            .collect()
    }
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn the_pods_command_line_runs_with_a_token_of_the_printed_service_account() {
    let ns = Namespace::new();
    ns.create_widget("w1", json!({}));
    ns.set_widget_status("w1", json!({"phase": "Running"}));
    let sa = Installed::new(
        &ns,
        &[
            "wg",
            "--all",
            "--when",
            ".status.phase == Failed",
            "-o",
            "name",
        ],
    );
    let port = free_port();
    let args = sa.pod_args(port);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = sa
        .notify(&args)
        .env("KUBECTL_NOTIFY_LEASE_TIMINGS", "3s,2s,200ms")
        .env("POD_NAME", "notifier-0")
        .spawn()
        .unwrap();
    wait_ready(port, &mut child);
    ns.set_widget_status("w1", json!({"phase": "Failed"}));
    assert_eq!(read_lines(&mut child, 1), ["widget.example.com/w1\n"]);
    // The Lease and the checkpoint, written with those rights alone.
    assert_eq!(
        ns.lease_holder(&sa.name).as_deref().map(crate::ha::pod_of),
        Some("notifier-0")
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while ns.get("configmaps", &sa.name).is_none() {
        assert!(Instant::now() < deadline, "no checkpoint written");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, metrics) = get(port, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(metrics.contains("kubectl_notify_leader 1"), "{metrics}");
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        !text(&out.stderr).contains(r#""level":"error""#),
        "{}",
        text(&out.stderr)
    );
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn the_service_account_is_refused_another_type_namespace_lease_or_checkpoint() {
    let ns = Namespace::new();
    let sa = Installed::new(&ns, &["wg", "--all", "-o", "name"]);
    for (argv, refused) in [
        (&["configmaps", "--all"][..], "configmaps"),
        (&["wg", "--all", "-n", "kube-system"][..], "widgets"),
        (&["wg", "-A"][..], "widgets"),
        (
            &["wg", "--all", "--leader-elect", "--lease", "another"][..],
            "leases",
        ),
        (
            &["wg", "--all", "--checkpoint", "another"][..],
            "configmaps \"another\"",
        ),
    ] {
        let out = crate::common::finish(sa.notify(argv).spawn().unwrap(), Duration::from_secs(30));
        assert_eq!(code(&out), 3, "{argv:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(refused), "{argv:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{argv:?}");
    }
    // Its own lease and checkpoint, and its type, are allowed.
    let out = crate::common::finish(
        sa.notify(&[
            "wg",
            "--all",
            "--leader-elect",
            "--lease",
            &sa.name,
            "--checkpoint",
            &sa.name,
            "--timeout",
            "3s",
        ])
        .env("KUBECTL_NOTIFY_LEASE_TIMINGS", "3s,2s,200ms")
        .spawn()
        .unwrap(),
        Duration::from_secs(30),
    );
    assert_eq!(code(&out), 124, "{}", stderr(&out));
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_rules_files_manifests_apply_and_its_rules_run_with_the_service_accounts_token() {
    use crate::incluster::{TEAM_RULES, rules_pod_args};
    let ns = Namespace::new();
    ns.create_widget("w1", json!({}));
    ns.set_widget_status("w1", json!({"phase": "Running"}));
    ns.create(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "app"}, "data": {"v": "1"},
    }));
    let file = ns.dir.path().join("rules.yaml");
    std::fs::write(&file, TEAM_RULES).unwrap();
    // Applied after a server dry run: the ClusterRole, the Role, the
    // ConfigMap and the Deployment that mounts it.
    let sa = Installed::new(&ns, &["--rules", file.to_str().unwrap()]);
    let rules_map = format!("{}-rules", sa.name);
    let config: Value =
        serde_json::from_str(&ns.kubectl_ok(&["get", "configmap", &rules_map, "-o", "json"]))
            .unwrap();
    assert_eq!(config["data"]["rules.yaml"], TEAM_RULES);
    assert!(
        ns.kubectl(&[
            "get",
            "clusterrole",
            &format!("kubectl-notify:{}:{}", ns.name, sa.name)
        ])
        .status
        .success()
    );
    wait_for_pods(&ns, &sa.name, 2);

    // The pod's rules, with the ServiceAccount's token: each rule tells
    // what it watches, the sinks get theirs.
    let port = free_port();
    let args = rules_pod_args(&sa.docs, ns.dir.path(), port);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let receiver = crate::receiver::Receiver::start();
    let mut child = sa
        .notify(&args)
        .env("SLACK_URL", format!("{}/slack", receiver.url()))
        .env("HOOK_URL", format!("{}/hook", receiver.url()))
        .spawn()
        .unwrap();
    wait_ready(port, &mut child);
    ns.set_widget_status("w1", json!({"phase": "Failed"}));
    let line: Value = serde_json::from_str(&read_lines(&mut child, 1)[0]).unwrap();
    assert_eq!(
        (&line["rule"], &line["name"]),
        (&json!("failed-widgets"), &json!("w1"))
    );
    ns.patch("configmap/app", json!({"data": {"v": "2"}}));
    let line: Value = serde_json::from_str(&read_lines(&mut child, 1)[0]).unwrap();
    assert_eq!(
        (&line["rule"], &line["name"]),
        (&json!("app-config"), &json!("app"))
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.delivered().len() < 2 {
        assert!(Instant::now() < deadline, "{:?}", receiver.received());
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        !text(&out.stderr).contains(r#""level":"error""#),
        "{}",
        text(&out.stderr)
    );

    // Nothing outside the rules: another ConfigMap, the Jobs of another
    // namespace, another type.
    for (argv, refused) in [
        (&["configmaps/other"][..], "configmaps"),
        (&["jobs", "--all", "-n", "kube-system"][..], "jobs"),
        (&["deployments", "--all"][..], "deployments"),
    ] {
        let out = crate::common::finish(sa.notify(argv).spawn().unwrap(), Duration::from_secs(30));
        assert_eq!(code(&out), 3, "{argv:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(refused), "{argv:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{argv:?}");
    }
}

/// Two teams' `rules.yaml`, each in its own folder, printed with no
/// `--name` into one namespace: the apiserver takes both (a server dry
/// run, then for real) as two notifiers, each ConfigMap holding its own
/// team's rules; with names from the file's name alone, the second apply
/// configured the first team's objects and their rules were lost.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn two_teams_rules_files_of_one_name_apply_side_by_side() {
    use crate::incluster::TEAM_RULES;
    let ns = Namespace::new();
    let mut applied = Vec::new();
    for team in ["team-a", "team-b"] {
        let dir = ns.dir.path().join(team);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("rules.yaml");
        std::fs::write(&file, TEAM_RULES.replace("the team's", team)).unwrap();
        let manifests = print_manifests(&ns, &["--rules", file.to_str().unwrap()]);
        applied.push(apply(&ns, &manifests));
    }
    for line in &applied[0] {
        assert!(!applied[1].contains(line), "both applied {line}");
    }
    for team in ["team-a", "team-b"] {
        let map = format!("kubectl-notify-{team}-rules-rules");
        let config: Value =
            serde_json::from_str(&ns.kubectl_ok(&["get", "configmap", &map, "-o", "json"]))
                .unwrap();
        let rules = config["data"]["rules.yaml"].as_str().unwrap();
        assert!(rules.starts_with(&format!("# {team} notifier")), "{rules}");
    }
    let deployments = ns.kubectl_ok(&["get", "deployments", "-o", "name"]);
    assert_eq!(
        deployments.lines().collect::<Vec<_>>(),
        [
            "deployment.apps/kubectl-notify-team-a-rules",
            "deployment.apps/kubectl-notify-team-b-rules"
        ]
    );
}
