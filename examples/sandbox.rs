//! A cluster-free playground: starts the project's test server with Widgets,
//! writes a kubeconfig for it, and keeps changing the widgets so every README
//! example has something to wait for. Run: `cargo run --example sandbox`.

use std::time::Duration;

use serde_json::json;
use testserver::{Crd, Rule, TestServer};

const WIDGETS: &str = "widgets.example.com";

fn main() {
    let every = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(4));
    let server = TestServer::start();
    server.add_crd(Crd::widget());
    // kubectl sends no bearer token over plain HTTP: let it in anyway, so
    // `kubectl get` and `kubectl patch` work in the sandbox too.
    server.set_anonymous_rules(vec![Rule::allow_all()]);
    let widget = |ns: &str, name: &str, spec: serde_json::Value| {
        server.create(
            WIDGETS,
            Some(ns),
            json!({"apiVersion": "example.com/v1", "kind": "Widget",
                   "metadata": {"name": name, "labels": {"env": "prod"}}, "spec": spec}),
        );
    };
    widget("default", "foo", json!({"size": 1}));
    widget("default", "bar", json!({"size": 3}));
    widget("team-a", "foo", json!({"size": 1}));

    let dir = std::env::temp_dir().join("kubectl-notify-sandbox");
    std::fs::create_dir_all(&dir).expect("create the sandbox folder");
    let kubeconfig = dir.join("config");
    std::fs::write(&kubeconfig, kubeconfig_text(&server.url())).expect("write the kubeconfig");

    println!(
        "Sandbox Kubernetes API on {} (Ctrl-C to stop)",
        server.url()
    );
    println!("In another terminal:\n");
    println!("  export KUBECONFIG={}", kubeconfig.display());
    println!("  kubectl notify widgets/foo --until '.status.ready == true' --timeout 2m");
    println!("  kubectl notify widgets/foo --for ready");
    println!("  kubectl notify widgets -l env=prod --until '.status.replicas >= 3'");
    println!(
        "  kubectl notify wg foo bar --until '.status.replicas >= 3 && .metadata.labels.env == prod'"
    );
    println!(
        "  kubectl notify widgets.v1.example.com/foo -n team-a --context staging --until '.status.phase =~ \"^Run\"'\n"
    );

    let mut tick: u64 = 0;
    loop {
        let ready = tick % 2 == 1;
        let replicas = tick % 5;
        let phase = if tick % 3 == 2 { "Running" } else { "Pending" };
        let status = |ns: &str, name: &str, status: serde_json::Value| {
            server.patch_status(WIDGETS, Some(ns), name, json!({ "status": status }));
        };
        status(
            "default",
            "foo",
            json!({"ready": ready, "replicas": replicas,
                   "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}),
        );
        status(
            "default",
            "bar",
            json!({"ready": !ready, "replicas": replicas}),
        );
        status("team-a", "foo", json!({"phase": phase}));
        println!(
            "default/foo ready={ready} replicas={replicas}   default/bar ready={} replicas={replicas}   team-a/foo phase={phase}",
            !ready
        );
        std::thread::sleep(every);
        tick += 1;
    }
}

/// Two contexts on the same server: `sandbox` (namespace default, current)
/// and `staging` (namespace team-a), so `--context staging` works too.
fn kubeconfig_text(url: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
current-context: sandbox
clusters:
- name: sandbox
  cluster:
    server: \"{url}\"
users:
- name: admin
  user:
    token: {token}
contexts:
- name: sandbox
  context: {{cluster: sandbox, user: admin, namespace: default}}
- name: staging
  context: {{cluster: sandbox, user: admin, namespace: team-a}}
",
        token = testserver::ADMIN_TOKEN
    )
}
