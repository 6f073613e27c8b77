//! Running in a cluster (SPEC §12): the manifests `--print-manifests` prints,
//! read back and checked; the pod's command line run with exactly the rights
//! they grant; `/metrics`, `/healthz`, `/readyz`; warnings as JSON lines.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testserver::Rule;

use crate::common::*;

/// The documents `--print-manifests` printed, parsed back from YAML.
fn manifests(s: &Scenario, args: &[&str]) -> Vec<Value> {
    let mut argv = args.to_vec();
    argv.push("--print-manifests");
    let out = s.run(&argv);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    serde_saphyr::from_multiple(&stdout(&out)).unwrap_or_else(|e| {
        panic!("not YAML: {e}\n{}", stdout(&out));
    })
}

fn kinds(docs: &[Value]) -> Vec<&str> {
    docs.iter().map(|d| d["kind"].as_str().unwrap()).collect()
}

fn doc<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {docs:#?}"))
}

fn container(workload: &Value) -> &Value {
    &workload["spec"]["template"]["spec"]["containers"][0]
}

fn args_of(workload: &Value) -> Vec<String> {
    container(workload)["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// Each document read as the k8s-openapi type of its kind and written back
/// unchanged: no field the API does not know, none in the wrong place or
/// of the wrong type (what `kubectl apply --dry-run=server` would check of
/// the shapes; no real API server runs here).
fn assert_valid_shapes(docs: &[Value]) {
    use k8s_openapi::api::{apps, batch, core, rbac};
    fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &Value) {
        let typed: T =
            serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{e}: {}", doc["kind"]));
        let back = serde_json::to_value(&typed).unwrap();
        assert_eq!(
            &back, doc,
            "fields the API does not know in {}",
            doc["kind"]
        );
    }
    for doc in docs {
        match doc["kind"].as_str().unwrap() {
            "ServiceAccount" => round_trip::<core::v1::ServiceAccount>(doc),
            "ConfigMap" => round_trip::<core::v1::ConfigMap>(doc),
            "Service" => round_trip::<core::v1::Service>(doc),
            "Role" => round_trip::<rbac::v1::Role>(doc),
            "RoleBinding" => round_trip::<rbac::v1::RoleBinding>(doc),
            "ClusterRole" => round_trip::<rbac::v1::ClusterRole>(doc),
            "ClusterRoleBinding" => round_trip::<rbac::v1::ClusterRoleBinding>(doc),
            "Deployment" => round_trip::<apps::v1::Deployment>(doc),
            "Job" => round_trip::<batch::v1::Job>(doc),
            other => panic!("unexpected kind {other}"),
        }
        let labels = &doc["metadata"]["labels"];
        for key in ["name", "instance", "version", "component", "managed-by"] {
            assert!(
                labels[format!("app.kubernetes.io/{key}")].is_string(),
                "{} lacks app.kubernetes.io/{key}",
                doc["kind"]
            );
        }
    }
}

/// Every rule of every Role and ClusterRole, with no wildcard anywhere.
fn rules(docs: &[Value], kind: &str) -> Vec<Value> {
    let rules: Vec<Value> = docs
        .iter()
        .filter(|d| d["kind"] == kind)
        .flat_map(|d| d["rules"].as_array().unwrap().clone())
        .collect();
    assert!(!serde_json::to_string(&rules).unwrap().contains('*'));
    rules
}

#[test]
fn notify_mode_becomes_a_deployment_with_exactly_the_rights_it_needs() {
    let s = Scenario::new();
    let docs = manifests(
        &s,
        &[
            "wg",
            "--all",
            "--when",
            ".status.phase == \"Failed\"",
            "-o",
            "json",
            "-n",
            "default",
            "--request-timeout=5s",
        ],
    );
    // The connection flags never reach the manifests; the name defaults to
    // a hash of the rule.
    let name = doc(&docs, "ServiceAccount")["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(name.starts_with("kubectl-notify-"), "{name}");
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
    assert_valid_shapes(&docs);
    assert_eq!(
        rules(&docs, "Role"),
        [
            json!({"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list", "watch"]}),
            json!({"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]}),
            json!({"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": [name], "verbs": ["get", "update"]}),
            json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}),
            json!({"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [name], "verbs": ["get", "update"]}),
        ]
    );
    let binding = doc(&docs, "RoleBinding");
    assert_eq!(binding["roleRef"]["name"], name);
    assert_eq!(binding["subjects"][0]["name"], name);
    for d in &docs {
        assert_eq!(d["metadata"]["namespace"], "default");
    }

    let deployment = doc(&docs, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(
        args_of(deployment),
        [
            "wg",
            "--all",
            "--when",
            ".status.phase == \"Failed\"",
            "-o",
            "json",
            "--leader-elect",
            "--lease",
            &name,
            "--checkpoint",
            &name,
            "--metrics-addr",
            ":9090",
            "--log-format",
            "json"
        ]
    );
    let c = container(deployment);
    assert_eq!(
        c["image"],
        format!(
            "ghcr.io/kubectl-notify/kubectl-notify:{}",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    assert!(c["resources"]["requests"]["memory"].is_string());
    assert!(c["resources"]["limits"]["memory"].is_string());
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(pod["serviceAccountName"], name);
    // Only the pod's own name in the environment: no secret, no URL.
    assert_eq!(
        c["env"],
        json!([{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}])
    );
    let service = doc(&docs, "Service");
    assert_eq!(service["spec"]["ports"][0]["port"], 9090);
    assert_eq!(
        service["spec"]["selector"],
        deployment["spec"]["selector"]["matchLabels"]
    );

    // The same rule gets the same name; --name chooses another.
    assert_eq!(
        doc(
            &manifests(
                &s,
                &[
                    "wg",
                    "--all",
                    "--when",
                    ".status.phase == \"Failed\"",
                    "-o",
                    "json"
                ]
            ),
            "Role"
        )["metadata"]["name"],
        name
    );
    let named = manifests(&s, &["wg", "--all", "--name", "widget-alerts"]);
    for d in &named {
        assert_eq!(d["metadata"]["name"], "widget-alerts");
    }
}

#[test]
fn all_namespaces_reads_through_a_cluster_role_and_wait_mode_is_a_job() {
    let s = Scenario::new();
    s.server.create(
        "namespaces",
        None,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "notify-system"}}),
    );
    let docs = manifests(
        &s,
        &["widgets", "-A", "-n", "notify-system", "--name", "fleet"],
    );
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
    assert_valid_shapes(&docs);
    assert_eq!(
        rules(&docs, "ClusterRole"),
        [
            json!({"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list", "watch"]})
        ]
    );
    // The lease and the checkpoint stay in the notifier's own namespace.
    let role = doc(&docs, "Role");
    assert_eq!(role["metadata"]["namespace"], "notify-system");
    assert_eq!(rules(&docs, "Role").len(), 4);
    assert_eq!(
        doc(&docs, "ClusterRoleBinding")["subjects"][0],
        json!({"kind": "ServiceAccount", "name": "fleet", "namespace": "notify-system"})
    );
    assert_eq!(
        args_of(doc(&docs, "Deployment"))[..2],
        ["widgets".to_string(), "-A".to_string()]
    );

    // Wait mode: a gate, a Job that is never retried; --for ready reads
    // what its explanations need, and only then.
    let docs = manifests(
        &s,
        &["deployments/web", "--for", "ready", "--timeout", "5m"],
    );
    assert_eq!(
        kinds(&docs),
        ["ServiceAccount", "Role", "RoleBinding", "Job"]
    );
    assert_valid_shapes(&docs);
    let job = doc(&docs, "Job");
    assert_eq!(job["spec"]["backoffLimit"], 0);
    assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
    assert_eq!(
        args_of(job),
        [
            "deployments/web",
            "--for",
            "ready",
            "--timeout",
            "5m",
            "--log-format",
            "json"
        ]
    );
    assert_eq!(
        rules(&docs, "Role"),
        [
            json!({"apiGroups": [""], "resources": ["events"], "verbs": ["list"]}),
            json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]}),
            json!({"apiGroups": ["apps"], "resources": ["controllerrevisions", "replicasets"], "verbs": ["list"]}),
            json!({"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["list"]}),
            json!({"apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["web"],
                   "verbs": ["get", "list", "watch"]}),
        ]
    );
    let docs = manifests(&s, &["jobs/migrate", "--for", "condition=Complete"]);
    assert_eq!(
        rules(&docs, "Role"),
        [
            json!({"apiGroups": ["batch"], "resources": ["jobs"], "resourceNames": ["migrate"],
                "verbs": ["get", "list", "watch"]})
        ]
    );
    // A cluster-scoped type needs a ClusterRole without -A.
    let docs = manifests(&s, &["namespaces/team-a", "--for", "delete"]);
    assert_eq!(
        kinds(&docs),
        ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Job"]
    );
}

/// The rules of the manifests as the test server's user rules.
fn as_user_rules(docs: &[Value]) -> Vec<Rule> {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    docs.iter()
        .filter(|d| d["kind"] == "Role" || d["kind"] == "ClusterRole")
        .flat_map(|role| {
            let namespaces: Vec<String> = role["metadata"]["namespace"]
                .as_str()
                .map(|ns| vec![ns.to_string()])
                .unwrap_or_default();
            role["rules"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |r| Rule {
                    verbs: strings(&r["verbs"]),
                    groups: strings(&r["apiGroups"]),
                    resources: strings(&r["resources"]),
                    namespaces: namespaces.clone(),
                    names: strings(&r["resourceNames"]),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A port nothing listens on now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` on the metrics server: the status code and the body.
pub(crate) fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// Blocks until `/readyz` answers 200.
pub(crate) fn wait_ready(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some((200, _)) = get(port, "/readyz") {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("kubectl-notify exited early with {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("/readyz never answered 200");
}

/// Reads `n` lines of the child's stdout.
pub(crate) fn read_lines(child: &mut Child, n: usize) -> Vec<String> {
    use std::io::BufRead;
    let stdout = child.stdout.as_mut().unwrap();
    let mut reader = std::io::BufReader::new(stdout);
    (0..n)
        .map(|_| {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            line
        })
        .collect()
}

#[test]
fn the_pods_command_line_runs_with_the_manifests_rights_and_nothing_more() {
    let s = Scenario::new();
    s.widget("w1", json!({}), json!({"phase": "Running"}));
    let docs = manifests(
        &s,
        &[
            "wg",
            "--all",
            "--when",
            ".status.phase == \"Failed\"",
            "-o",
            "name",
        ],
    );
    s.server
        .add_user("notifier", "notifier-token", as_user_rules(&docs));
    s.server
        .write_kubeconfig(&s.kubeconfig, "notifier-token", "default");

    // The Deployment's own arguments; only the metrics port differs, so
    // tests can run side by side.
    let port = free_port();
    let args: Vec<String> = args_of(doc(&docs, "Deployment"))
        .into_iter()
        .map(|a| match a.as_str() {
            ":9090" => format!("127.0.0.1:{port}"),
            _ => a,
        })
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = s
        .notify(&args)
        .env("KUBECTL_NOTIFY_LEASE_TIMINGS", "3s,2s,200ms")
        .env("POD_NAME", "notifier-0")
        .spawn()
        .unwrap();
    s.wait_for_watch_matching("widgets", &mut child);
    wait_ready(port, &mut child);
    s.set_status("w1", json!({"phase": "Failed"}));
    let lines = read_lines(&mut child, 1);
    assert_eq!(lines, ["widget.example.com/w1\n"]);
    // The lease and the checkpoint were written with those rights alone.
    let name = doc(&docs, "ServiceAccount")["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let lease = s
        .server
        .get("leases.coordination.k8s.io", Some("default"), &name)
        .expect("the lease");
    let holder = lease["spec"]["holderIdentity"].as_str().unwrap();
    assert!(holder.starts_with("notifier-0_"), "{holder}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.server.get("configmaps", Some("default"), &name).is_none() {
        assert!(Instant::now() < deadline, "no checkpoint written");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, metrics) = get(port, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(metrics.contains("kubectl_notify_leader 1"), "{metrics}");
    child.kill().unwrap();
    child.wait().unwrap();

    // Nothing else: other types, other namespaces, other ConfigMaps.
    for (argv, refused) in [
        (&["configmaps", "--all"][..], "configmaps"),
        (&["wg", "--all", "-n", "other"][..], "widgets"),
        (&["wg", "-A"][..], "widgets"),
        (
            &["wg", "--all", "--checkpoint", "another"][..],
            "configmaps \"another\"",
        ),
    ] {
        let out = s.run(argv);
        assert_eq!(code(&out), 3, "{argv:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(refused), "{argv:?}: {}", stderr(&out));
    }
}

/// All samples of a metric, by their labels.
fn samples(scrape: &prometheus_parse::Scrape, metric: &str) -> Vec<prometheus_parse::Sample> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .cloned()
        .collect()
}

fn value(sample: &prometheus_parse::Sample) -> f64 {
    match &sample.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => *v,
        other => panic!("not a number: {other:?}"),
    }
}

#[test]
fn metrics_count_the_notifications_of_the_scenario_from_the_cli() {
    let s = Scenario::new();
    s.widget("a", json!({}), json!({"ready": false}));
    s.widget("b", json!({}), json!({"ready": false}));
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = s
        .notify(&[WIDGETS, "--all", "--metrics-addr", &addr, "-o", "name"])
        .spawn()
        .unwrap();
    wait_ready(port, &mut child);
    assert_eq!(get(port, "/healthz").unwrap().0, 200);
    assert_eq!(get(port, "/nothing").unwrap().0, 404);
    s.set_status("a", json!({"ready": true}));
    s.set_status("b", json!({"ready": true}));
    s.server.delete(WIDGETS, Some("default"), "a");
    assert_eq!(read_lines(&mut child, 3).len(), 3);

    let (status, text) = get(port, "/metrics").unwrap();
    assert_eq!(status, 200);
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let by = |metric: &str, label: &str, want: &str| -> f64 {
        samples(&scrape, metric)
            .iter()
            .filter(|s| s.labels.get(label) == Some(want))
            .map(value)
            .sum()
    };
    assert_eq!(
        by("kubectl_notify_notifications_total", "change", "modified"),
        2.0,
        "{text}"
    );
    assert_eq!(
        by("kubectl_notify_notifications_total", "change", "deleted"),
        1.0,
        "{text}"
    );
    assert_eq!(
        by("kubectl_notify_changes_total", "change", "initial"),
        2.0,
        "{text}"
    );
    assert_eq!(
        by("kubectl_notify_watch_events_total", "event", "listed"),
        2.0,
        "{text}"
    );
    assert_eq!(
        by("kubectl_notify_deliveries_total", "sink", "printer"),
        3.0,
        "{text}"
    );
    let leader = samples(&scrape, "kubectl_notify_leader");
    assert_eq!(
        leader.iter().map(value).collect::<Vec<_>>(),
        [1.0],
        "{text}"
    );
    let delay = samples(&scrape, "kubectl_notify_delivery_delay_seconds");
    let count = delay
        .iter()
        .find_map(|s| match &s.value {
            prometheus_parse::Value::Histogram(buckets) => {
                buckets.iter().map(|b| b.count).reduce(f64::max)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no delay histogram in\n{text}"));
    assert_eq!(count, 3.0, "{text}");
    for family in [
        "notifications",
        "deliveries",
        "delivery_delay_seconds",
        "leader",
    ] {
        assert!(
            scrape
                .docs
                .contains_key(&format!("kubectl_notify_{family}")),
            "no HELP for {family} in\n{text}"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn warnings_and_errors_are_json_lines_with_log_format_json() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": false}));
    let out = s.run(&[
        "widgets/foo",
        "--until",
        READY,
        "--timeout",
        "0",
        "--insecure-skip-tls-verify",
        "--log-format",
        "json",
    ]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let lines: Vec<Value> = stderr(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() >= 2, "{}", stderr(&out));
    assert_eq!(lines[0]["level"], "warning");
    assert!(
        lines[0]["message"]
            .as_str()
            .unwrap()
            .contains("TLS verification is off")
    );
    let last = lines.last().unwrap();
    assert_eq!(last["level"], "error");
    assert!(
        last["message"].as_str().unwrap().contains("checked once"),
        "{last}"
    );
    for line in &lines {
        assert!(
            line["time"].is_string() && line["target"].is_string(),
            "{line}"
        );
    }
}

#[test]
fn bad_in_cluster_input_is_one_line_and_exit_2() {
    let s = Scenario::new();
    for (argv, words) in [
        (
            &["wg", "--all", "--metrics-addr", "nonsense"][..],
            "--metrics-addr",
        ),
        (&["wg", "--all", "--log-format", "xml"], "text or json"),
        (
            &["wg", "--all", "--print-manifests", "--name", "Not_A_Name"],
            "--name",
        ),
        (&["wg", "--all", "--name", "x"], "--print-manifests"),
        (
            &["wg", "--all", "--print-manifests", "--", "./page.sh"],
            "could not run in the pod",
        ),
    ] {
        let out = s.run(argv);
        assert_eq!(code(&out), 2, "{argv:?}: {}", stderr(&out));
        assert_eq!(
            stderr(&out).lines().count(),
            1,
            "{argv:?}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(words), "{argv:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "");
    }
    // A port already taken is said at start.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = s.run(&["wg", "--all", "--metrics-addr", &addr]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot listen"), "{}", stderr(&out));
}

/// A projected service-account token is rotated by the kubelet: the file
/// changes and the old token stops working. kube reads a token file again at
/// least once a minute, and so keeps working; this takes about a minute.
#[test]
fn a_rotated_token_file_is_read_again() {
    let s = Scenario::new();
    s.widget("w", json!({}), json!({"n": 0}));
    let rules = vec![Rule {
        verbs: vec!["get".into(), "list".into(), "watch".into()],
        groups: vec!["example.com".into()],
        resources: vec!["widgets".into()],
        ..Rule::default()
    }];
    s.server.add_user("sa", "token-1", rules.clone());
    let token_file = s.dir.path().join("token");
    std::fs::write(&token_file, "token-1").unwrap();
    let kubeconfig = s.server.kubeconfig("token-1", "default").replace(
        "token: \"token-1\"",
        &format!("tokenFile: {:?}", token_file.display().to_string()),
    );
    assert!(kubeconfig.contains("tokenFile"));
    std::fs::write(&s.kubeconfig, kubeconfig).unwrap();
    let started = Instant::now();
    let mut child = s.notify(&[WIDGETS, "--all", "-o", "name"]).spawn().unwrap();
    s.wait_for_watch_matching("widgets", &mut child);

    // Rotated: a new token in the file, the old one refused from now on.
    std::fs::write(&token_file, "token-2").unwrap();
    s.server.add_user("sa", "token-2", rules);
    s.server.add_user("revoked", "token-1", Vec::new());
    std::thread::sleep(Duration::from_secs(55).saturating_sub(started.elapsed()));
    // Every connection dropped: the watch starts again with a new request.
    let before = s.server.requests().len();
    s.server.restart(Duration::from_millis(100));
    s.wait_for_watch_since(before, "widgets", &mut child);
    s.set_status("w", json!({"n": 1}));
    assert_eq!(read_lines(&mut child, 1), ["widget.example.com/w\n"]);
    assert!(still_running(&mut child, Duration::from_millis(200)));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!stderr(&out).contains("forbidden"), "{}", stderr(&out));
}

#[test]
fn sinks_reach_the_pod_from_a_secret_and_never_as_a_url() {
    let s = Scenario::new();
    let out = s.run(&[
        "wg",
        "-A",
        "--when",
        ".status.phase == \"Failed\"",
        "--sink",
        "slack:env:SLACK_WEBHOOK_URL",
        "--sink",
        "webhook:env:HOOK",
        "--name",
        "alerts",
        "--print-manifests",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("kubectl create secret generic alerts-sinks -n default"),
        "{text}"
    );
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    assert_valid_shapes(&docs);
    let deployment = doc(&docs, "Deployment");
    let env = &container(deployment)["env"];
    assert_eq!(
        env[1],
        json!({"name": "SLACK_WEBHOOK_URL", "valueFrom": {"secretKeyRef": {"name": "alerts-sinks", "key": "SLACK_WEBHOOK_URL"}}})
    );
    assert_eq!(env[2]["valueFrom"]["secretKeyRef"]["key"], "HOOK");
    let args = args_of(deployment);
    assert!(
        args.windows(2)
            .any(|w| w == ["--sink", "slack:env:SLACK_WEBHOOK_URL"]),
        "{args:?}"
    );

    let secret = "https://hooks.slack.example/services/T0/B0/very-secret";
    let out = s.run(&[
        "wg",
        "--all",
        "--sink",
        &format!("slack:{secret}"),
        "--print-manifests",
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("slack:env:NAME"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("very-secret"), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
}

/// The alert and chat sinks' secrets (a URL, or PagerDuty's routing key)
/// reach the pod as the others do; the rule's flags go with it.
#[test]
fn alert_and_chat_sinks_reach_the_pod_from_a_secret_too() {
    let s = Scenario::new();
    let args = [
        "wg",
        "-A",
        "--when",
        ".status.phase == \"Failed\"",
        "--resolve",
        "--sink",
        "alertmanager:env:AM_URL",
        "--sink",
        "pagerduty:env:PD_ROUTING_KEY",
        "--sink",
        "teams:env:TEAMS_URL",
        "--alert-name",
        "WidgetFailed",
        "--label",
        "team=payments",
        "--name",
        "alerts",
    ];
    let docs = manifests(&s, &args);
    assert_valid_shapes(&docs);
    let deployment = doc(&docs, "Deployment");
    let keys: Vec<&str> = container(deployment)["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["valueFrom"]["secretKeyRef"]["key"].as_str())
        .collect();
    assert_eq!(keys, ["AM_URL", "PD_ROUTING_KEY", "TEAMS_URL"]);
    let pod = args_of(deployment);
    for words in [
        ["--sink", "pagerduty:env:PD_ROUTING_KEY"],
        ["--label", "team=payments"],
        ["--alert-name", "WidgetFailed"],
    ] {
        assert!(pod.windows(2).any(|w| w == words), "{pod:?}");
    }
    assert!(pod.iter().any(|a| a == "--resolve"), "{pod:?}");

    for sink in ["pagerduty:R0UT1NGs3cr3t", "discord:file:/etc/hook"] {
        let out = s.run(&["wg", "--all", "--sink", sink, "--print-manifests"]);
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(stderr(&out).contains(":env:NAME"), "{}", stderr(&out));
        assert!(!stderr(&out).contains("s3cr3t"), "{}", stderr(&out));
    }
}

/// A variable the pod gives a meaning (POD_NAMESPACE is the namespace, so a
/// secret URL there would end in logs; the kubelet sets KUBERNETES_*) cannot
/// carry a sink's secret.
#[test]
fn print_manifests_refuses_a_sink_secret_in_a_variable_the_pod_gives_a_meaning() {
    let s = Scenario::new();
    for name in [
        "POD_NAMESPACE",
        "POD_NAME",
        "KUBERNETES_SERVICE_HOST",
        "KUBERNETES_PORT",
        "HOSTNAME",
        "KUBECTL_NOTIFY_X",
    ] {
        let sink = format!("webhook:env:{name}");
        let out = s.run(&["wg", "--all", "--sink", &sink, "--print-manifests"]);
        assert_eq!(code(&out), 2, "{name}: {}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("already has a meaning in the pod"),
            "{name}: {}",
            stderr(&out)
        );
        assert_eq!(stdout(&out), "", "{name}");
    }
}

#[test]
fn a_network_sinks_deliveries_retries_and_delay_are_counted() {
    use crate::receiver::{Answer, Receiver};
    let s = Scenario::new();
    let hook = Receiver::start();
    hook.script([Answer::Status(503)]);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = s
        .notify(&[
            WIDGETS,
            "--all",
            "--sink",
            "webhook:env:HOOK",
            "--metrics-addr",
            &addr,
            "-o",
            "name",
        ])
        .env("HOOK", hook.url())
        .spawn()
        .unwrap();
    wait_ready(port, &mut child);
    s.widget("a", json!({}), json!(null));
    s.widget("b", json!({}), json!(null));
    let deadline = Instant::now() + Duration::from_secs(20);
    while hook.delivered().len() < 2 {
        assert!(Instant::now() < deadline, "{:?}", hook.received());
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, text) = get(port, "/metrics").unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let of = |metric: &str, outcome: Option<&str>| -> f64 {
        samples(&scrape, metric)
            .iter()
            .filter(|s| s.labels.get("sink") == Some("webhook#1"))
            .filter(|s| outcome.is_none_or(|o| s.labels.get("outcome") == Some(o)))
            .map(value)
            .sum()
    };
    assert_eq!(
        of("kubectl_notify_deliveries_total", Some("ok")),
        2.0,
        "{text}"
    );
    assert_eq!(
        of("kubectl_notify_delivery_retries_total", None),
        1.0,
        "{text}"
    );
    assert_eq!(of("kubectl_notify_sink_queue_length", None), 0.0, "{text}");
    let observed = samples(&scrape, "kubectl_notify_delivery_delay_seconds")
        .iter()
        .filter(|s| s.labels.get("sink") == Some("webhook#1"))
        .find_map(|s| match &s.value {
            prometheus_parse::Value::Histogram(buckets) => {
                buckets.iter().map(|b| b.count).reduce(f64::max)
            }
            _ => None,
        });
    assert_eq!(observed, Some(2.0), "{text}");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// `--print-manifests -n missing`: the manifests still print (the namespace
/// may be created next), and a warning says it does not exist yet.
#[test]
fn manifests_for_a_namespace_that_does_not_exist_say_so() {
    let s = Scenario::new();
    let out = s.run(&["wg", "--all", "-n", "missing", "--print-manifests"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "warning: namespace \"missing\" does not exist: create it before applying these \
         (kubectl create namespace missing), or choose another with -n\n"
    );
    assert!(
        stdout(&out).contains("namespace: missing"),
        "{}",
        stdout(&out)
    );
}

/// Named targets: the Role grants get, list and watch on those names only
/// (`resourceNames`), which RBAC applies to a list or watch whose field
/// selector is `metadata.name=NAME` — the watch of a named target is such
/// a watch, so the pod works with these rights, and another object of the
/// type is refused.
#[test]
fn named_targets_are_granted_by_name() {
    let s = Scenario::new();
    s.widget("w1", json!({}), json!({"phase": "Running"}));
    let docs = manifests(&s, &["wg/w1", "wg/w2", "-o", "name"]);
    let read: Vec<Value> = rules(&docs, "Role")
        .into_iter()
        .filter(|r| r["apiGroups"] == json!(["example.com"]))
        .collect();
    assert_eq!(
        read,
        [
            json!({"apiGroups": ["example.com"], "resources": ["widgets"],
                "resourceNames": ["w1", "w2"], "verbs": ["get", "list", "watch"]})
        ]
    );
    s.server
        .add_user("notifier", "notifier-token", as_user_rules(&docs));
    s.server
        .write_kubeconfig(&s.kubeconfig, "notifier-token", "default");
    let args: Vec<String> = args_of(doc(&docs, "Deployment"))
        .into_iter()
        .filter(|a| a != "--metrics-addr" && a != ":9090")
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = s
        .notify(&args)
        .env("KUBECTL_NOTIFY_LEASE_TIMINGS", "3s,2s,200ms")
        .env("POD_NAME", "notifier-0")
        .spawn()
        .unwrap();
    s.wait_for_watch_matching("fieldSelector=metadata.name%3Dw2", &mut child);
    s.wait_for_watch_matching("fieldSelector=metadata.name%3Dw1", &mut child);
    s.set_status("w1", json!({"phase": "Failed"}));
    s.widget("w2", json!({}), json!(null));
    let mut lines = read_lines(&mut child, 2);
    lines.sort();
    assert_eq!(
        lines,
        ["widget.example.com/w1\n", "widget.example.com/w2\n"]
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // Another name, or the whole type, is refused.
    for argv in [&["wg/w3", "--timeout", "5s"][..], &["wg", "--all"]] {
        let out = s.run(argv);
        assert_eq!(code(&out), 3, "{argv:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("forbidden"),
            "{argv:?}: {}",
            stderr(&out)
        );
    }
}

/// A rules file for one team: a rule over every namespace, two on named
/// ConfigMaps, one on every Job of the namespace; two sinks from Secrets.
pub(crate) const TEAM_RULES: &str = r#"# the team's notifier
rules:
  - name: failed-widgets
    args: [widgets, -A, --when, '.status.phase == "Failed"', -o, json, --sink, 'slack:env:SLACK_URL']
  - name: app-config
    args: "configmaps/app --on-change .data -o json --sink webhook:env:HOOK_URL"
  - name: gate-config
    args: "configmaps/gate -o json --sink slack:env:SLACK_URL"
  - name: jobs
    args: "jobs --all -o json"
"#;

/// A rules file in a folder `team-a` beside the scenario's kubeconfig.
fn write_rules(s: &Scenario, name: &str, text: &str) -> String {
    let dir = s.dir.path().join("team-a");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn a_rules_file_becomes_one_notifier_with_the_union_of_its_rules_rights() {
    let s = Scenario::new();
    let file = write_rules(&s, "rules.yaml", TEAM_RULES);
    let docs = manifests(
        &s,
        &["--rules", &file, "-n", "default", "--request-timeout=5s"],
    );
    let name = "kubectl-notify-team-a-rules";
    assert_eq!(
        kinds(&docs),
        [
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "ConfigMap",
            "Deployment",
            "Service"
        ]
    );
    assert_valid_shapes(&docs);
    // Each rule keeps its scope: only the -A rule reads every namespace;
    // the ConfigMaps every rule names are read by name.
    assert_eq!(
        rules(&docs, "ClusterRole"),
        [
            json!({"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list", "watch"]})
        ]
    );
    assert_eq!(
        rules(&docs, "Role"),
        [
            json!({"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"]}),
            json!({"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["app", "gate"],
                   "verbs": ["get", "list", "watch"]}),
            json!({"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]}),
            json!({"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": [name], "verbs": ["get", "update"]}),
            json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}),
            json!({"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [name], "verbs": ["get", "update"]}),
        ]
    );
    for d in &docs {
        let expected = match d["kind"].as_str().unwrap() {
            "ClusterRole" | "ClusterRoleBinding" => {
                "kubectl-notify:default:kubectl-notify-team-a-rules"
            }
            "ConfigMap" => "kubectl-notify-team-a-rules-rules",
            _ => name,
        };
        assert_eq!(d["metadata"]["name"], expected);
    }
    // The file itself, byte for byte (its comments too), mounted as a folder
    // so that an edit of the ConfigMap reaches the pod and reloads.
    let config = doc(&docs, "ConfigMap");
    assert_eq!(config["data"], json!({"rules.yaml": TEAM_RULES}));
    let deployment = doc(&docs, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(
        args_of(deployment),
        [
            "--rules",
            "/etc/kubectl-notify/rules.yaml",
            "--leader-elect",
            "--lease",
            name,
            "--checkpoint",
            name,
            "--metrics-addr",
            ":9090",
            "--log-format",
            "json"
        ]
    );
    let c = container(deployment);
    assert_eq!(
        c["volumeMounts"],
        json!([{"name": "rules", "mountPath": "/etc/kubectl-notify", "readOnly": true}])
    );
    assert_eq!(
        deployment["spec"]["template"]["spec"]["volumes"],
        json!([{"name": "rules", "configMap": {"name": "kubectl-notify-team-a-rules-rules"}}])
    );
    // Every rule's env: sink, once, from one Secret.
    let secret = |key: &str| json!({"name": key, "valueFrom": {"secretKeyRef": {"name": "kubectl-notify-team-a-rules-sinks", "key": key}}});
    assert_eq!(
        c["env"],
        json!([
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            secret("SLACK_URL"),
            secret("HOOK_URL"),
        ])
    );
    assert_eq!(doc(&docs, "Service")["spec"]["ports"][0]["port"], 9090);

    // --name names every object; a rule the pod could not run is refused,
    // naming the rule.
    let named = manifests(&s, &["--rules", &file, "--name", "team-a"]);
    assert_eq!(doc(&named, "ConfigMap")["metadata"]["name"], "team-a-rules");
    let local = write_rules(
        &s,
        "local.yaml",
        "rules:\n  - name: paged\n    args: [wg, --all, --sink, 'webhook:https://hooks.example/T0K3N']\n",
    );
    let out = s.run(&["--rules", &local, "--print-manifests"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("rule paged"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("webhook:env:NAME"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("T0K3N"), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
}

/// Two teams each keep a `rules.yaml` in their own folder and print their
/// notifier into one namespace: every object of one is named apart from
/// the other's (the file's name alone made them the same, and the second
/// apply overwrote the first team's rules), and printing again from
/// another current folder gives the same names.
#[test]
fn two_rules_files_of_one_name_in_two_folders_are_two_notifiers() {
    let s = Scenario::new();
    for team in ["team-a", "team-b"] {
        let dir = s.dir.path().join(team);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("rules.yaml"),
            TEAM_RULES.replace("the team's", team),
        )
        .unwrap();
    }
    // The file as given, from this current folder.
    let printed = |file: &str, cwd: &std::path::Path| -> Vec<Value> {
        let out = s
            .notify(&["--rules", file, "-n", "default", "--print-manifests"])
            .current_dir(cwd)
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        serde_saphyr::from_multiple(&stdout(&out)).unwrap()
    };
    let names = |docs: &[Value]| -> Vec<String> {
        docs.iter()
            .map(|d| {
                let kind = d["kind"].as_str().unwrap();
                format!("{kind}/{}", d["metadata"]["name"].as_str().unwrap())
            })
            .collect()
    };
    let a = printed("team-a/rules.yaml", s.dir.path());
    let b = printed("team-b/rules.yaml", s.dir.path());
    assert_eq!(kinds(&a), kinds(&b));
    for (a, b) in names(&a).iter().zip(names(&b)) {
        assert_ne!(*a, b, "the two notifiers share an object");
    }
    assert_eq!(
        doc(&a, "ConfigMap")["metadata"]["name"],
        "kubectl-notify-team-a-rules-rules"
    );
    assert_eq!(
        doc(&b, "ConfigMap")["metadata"]["name"],
        "kubectl-notify-team-b-rules-rules"
    );
    let rules_of = |docs: &[Value]| doc(docs, "ConfigMap")["data"]["rules.yaml"].clone();
    assert!(rules_of(&b).as_str().unwrap().starts_with("# team-b"));
    // The same file printed from its own folder: the same objects.
    let again = printed("rules.yaml", &s.dir.path().join("team-a"));
    assert_eq!(names(&again), names(&a));
    assert_eq!(rules_of(&again), rules_of(&a));
}

/// The Deployment's arguments for a rules file, run here: the ConfigMap's
/// key written as a file of a folder under `dir`, as the kubelet mounts it,
/// and the metrics port moved to `port`. `--leader-elect` and `--checkpoint`
/// are left out until they run beside `--rules` (refused until then); the
/// Lease's and the checkpoint's rights are a single rule's, tested with it.
pub(crate) fn rules_pod_args(docs: &[Value], dir: &std::path::Path, port: u16) -> Vec<String> {
    let mounted = dir.join("mounted");
    std::fs::create_dir_all(&mounted).unwrap();
    let rules_file = mounted.join("rules.yaml");
    let text = doc(docs, "ConfigMap")["data"]["rules.yaml"]
        .as_str()
        .unwrap();
    std::fs::write(&rules_file, text).unwrap();
    let mut args: Vec<String> = Vec::new();
    let mut printed = args_of(doc(docs, "Deployment")).into_iter();
    while let Some(arg) = printed.next() {
        match arg.as_str() {
            "/etc/kubectl-notify/rules.yaml" => args.push(rules_file.display().to_string()),
            ":9090" => args.push(format!("127.0.0.1:{port}")),
            "--leader-elect" => {}
            "--lease" | "--checkpoint" => {
                printed.next();
            }
            _ => args.push(arg),
        }
    }
    args
}

#[test]
fn the_pods_rules_run_with_the_manifests_rights_and_nothing_more() {
    let s = Scenario::new();
    s.widget("w1", json!({}), json!({"phase": "Running"}));
    s.server.create(
        "configmaps",
        Some("default"),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"}, "data": {"v": "1"}}),
    );
    let file = write_rules(&s, "rules.yaml", TEAM_RULES);
    let docs = manifests(&s, &["--rules", &file]);
    s.server
        .add_user("notifier", "notifier-token", as_user_rules(&docs));
    s.server
        .write_kubeconfig(&s.kubeconfig, "notifier-token", "default");

    let port = free_port();
    let args = rules_pod_args(&docs, s.dir.path(), port);
    let receiver = crate::receiver::Receiver::start();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = s
        .notify(&args)
        .env("SLACK_URL", format!("{}/slack", receiver.url()))
        .env("HOOK_URL", format!("{}/hook", receiver.url()))
        .spawn()
        .unwrap();
    wait_ready(port, &mut child);
    s.set_status("w1", json!({"phase": "Failed"}));
    let line: Value = serde_json::from_str(&read_lines(&mut child, 1)[0]).unwrap();
    assert_eq!(
        (&line["rule"], &line["name"]),
        (&json!("failed-widgets"), &json!("w1"))
    );
    s.server.merge_patch(
        "configmaps",
        Some("default"),
        "app",
        json!({"data": {"v": "2"}}),
    );
    let line: Value = serde_json::from_str(&read_lines(&mut child, 1)[0]).unwrap();
    assert_eq!(
        (&line["rule"], &line["name"]),
        (&json!("app-config"), &json!("app"))
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while receiver.delivered().len() < 2 {
        assert!(Instant::now() < deadline, "{:?}", receiver.received());
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut paths: Vec<String> = receiver
        .delivered()
        .iter()
        .map(|r| r.path.rsplit('/').next().unwrap().to_string())
        .collect();
    paths.sort();
    assert_eq!(paths, ["hook", "slack"]);
    child.kill().unwrap();
    child.wait().unwrap();

    // Nothing else: another ConfigMap, every ConfigMap, the Jobs of another
    // namespace, another type.
    for (argv, refused) in [
        (&["configmaps/other"][..], "configmaps"),
        (&["configmaps", "--all"][..], "configmaps"),
        (&["jobs", "--all", "-n", "other"][..], "jobs"),
        (&["deployments", "--all"][..], "deployments"),
    ] {
        let out = s.run(argv);
        assert_eq!(code(&out), 3, "{argv:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(refused), "{argv:?}: {}", stderr(&out));
    }
}
