//! HTTPS with `Options { tls: true, .. }`: real kubectl and kube-rs verify the
//! server with the CA from the kubeconfig, and fail with any other CA.

use std::process::Command;

use kube::api::ListParams;
use kube::runtime::watcher;
use serde_json::json;
use testserver::{Crd, Options, TestServer, real_kubectl, unrelated_ca_pem};

use crate::common::{kube_client, sees_a_change, widgets};

fn tls_server() -> TestServer {
    let server = TestServer::start_with(Options {
        tls: true,
        ..Default::default()
    });
    server.add_crd(Crd::widget());
    server.create(
        "widgets.example.com",
        Some("default"),
        json!({"metadata": {"name": "w1"}, "spec": {"size": 1}}),
    );
    server
}

#[test]
fn urls_and_kubeconfig_carry_the_ca() {
    let server = tls_server();
    assert!(
        server.url().starts_with("https://127.0.0.1:"),
        "{}",
        server.url()
    );
    let ca = server.ca_pem().expect("a CA with tls");
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    let kubeconfig = server.kubeconfig(TestServer::ADMIN_TOKEN, "default");
    assert!(
        kubeconfig.contains("certificate-authority-data:"),
        "{kubeconfig}"
    );
    assert_ne!(unrelated_ca_pem(), ca);
    // Plain HTTP servers are unchanged.
    let plain = TestServer::start();
    assert!(plain.url().starts_with("http://"));
    assert_eq!(plain.ca_pem(), None);
    assert!(
        !plain
            .kubeconfig(TestServer::ADMIN_TOKEN, "default")
            .contains("certificate-authority")
    );
    // And an HTTPS server does not answer plain HTTP.
    let port = server.url().rsplit(':').next().unwrap().to_string();
    let stream = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut stream = stream;
    use std::io::{Read, Write};
    let _ = stream.write_all(b"GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/1.1 200"),
        "plain HTTP was served"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_client_over_tls() {
    let server = tls_server();
    let client = kube_client(&server.kubeconfig(TestServer::ADMIN_TOKEN, "default")).await;
    let w = widgets(client.clone()).get("w1").await.unwrap();
    assert_eq!(w.data["spec"]["size"], 1);
    let list = widgets(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    // A watch over TLS sees a change.
    sees_a_change(&server, client, watcher::Config::default()).await;
    let admin = server
        .requests()
        .iter()
        .filter(|r| r.user.as_deref() == Some("admin"))
        .count();
    assert!(admin >= 3, "the token is sent over TLS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_client_rejects_a_wrong_ca() {
    let server = tls_server();
    let kubeconfig = server.kubeconfig_with_ca(
        TestServer::ADMIN_TOKEN,
        "default",
        Some(&unrelated_ca_pem()),
    );
    let client = kube_client(&kubeconfig).await;
    let err = widgets(client).get("w1").await.unwrap_err();
    let text = format!("{err:?}");
    assert!(
        text.contains("UnknownIssuer") || text.contains("certificate"),
        "{text}"
    );
    assert!(
        server.requests().is_empty(),
        "no request gets through an unverified connection"
    );
}

fn kubectl(kubeconfig: &str, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, kubeconfig).unwrap();
    Command::new(real_kubectl())
        .arg("--kubeconfig")
        .arg(&path)
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .arg("--request-timeout=20s")
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap()
}

#[test]
fn kubectl_over_tls_with_the_admin_token() {
    let server = tls_server();
    // No anonymous rights: only the bearer token, which kubectl sends over TLS.
    let out = kubectl(
        &server.kubeconfig(TestServer::ADMIN_TOKEN, "default"),
        &["get", "widgets", "-o", "name"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kubectl failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "widget.example.com/w1");
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.user.as_deref() == Some("admin")),
        "{:?}",
        server.requests()
    );
}

#[test]
fn kubectl_rejects_a_wrong_ca() {
    let server = tls_server();
    let kubeconfig = server.kubeconfig_with_ca(
        TestServer::ADMIN_TOKEN,
        "default",
        Some(&unrelated_ca_pem()),
    );
    let out = kubectl(&kubeconfig, &["get", "widgets", "-o", "name"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("x509: certificate signed by unknown authority"),
        "{stderr}"
    );
    assert!(server.requests().is_empty());
}
