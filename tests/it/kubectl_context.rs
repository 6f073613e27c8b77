//! "Reuses the kubectl context" (SPEC §2), checked side by side: each row is
//! one invocation run through real kubectl 1.37 (`kubectl get`) and through
//! kubectl-notify (`--timeout 0`), against the same servers, comparing who the
//! server saw, which namespace was asked for, and whether the run succeeded.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;
use testserver::{Crd, Rule, TestServer};

use crate::common::*;

/// The servers and files every row shares: an HTTPS server that knows the
/// users alice and bob by their tokens, a plain-HTTP one that lets anyone
/// in (kubectl sends no credentials there), a widget "foo" in each
/// namespace, and the files rows point at.
struct World {
    tls: Scenario,
    plain: TestServer,
    vars: HashMap<&'static str, String>,
}

const NAMESPACES: [&str; 3] = ["default", "team-a", "team-b"];

impl World {
    fn new() -> World {
        let tls = Scenario::tls();
        tls.server
            .add_user("alice", "alice-token", vec![Rule::allow_all()]);
        tls.server
            .add_user("bob", "bob-token", vec![Rule::allow_all()]);
        let plain = TestServer::start();
        plain.add_crd(Crd::widget());
        plain.set_anonymous_rules(vec![Rule::allow_all()]);
        for ns in NAMESPACES {
            tls.widget_in(ns, "foo", json!({}), json!({"ready": true}));
            let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
                             "metadata": {"name": "foo", "namespace": ns}});
            plain.create(WIDGETS, Some(ns), widget);
            plain.patch_status(WIDGETS, Some(ns), "foo", json!({"status": {"ready": true}}));
        }
        let dir = tls.dir.path().to_path_buf();
        let ca = tls.server.ca_pem().unwrap();
        std::fs::write(dir.join("ca.pem"), &ca).unwrap();
        std::fs::write(dir.join("wrong-ca.pem"), testserver::unrelated_ca_pem()).unwrap();
        std::fs::write(dir.join("bob-token"), "bob-token\n").unwrap();
        std::fs::create_dir_all(dir.join("home")).unwrap();
        // The CA as the test server's own kubeconfig carries it, base64.
        let kubeconfig = tls.server.kubeconfig(testserver::ADMIN_TOKEN, "default");
        let ca_data = kubeconfig
            .lines()
            .find_map(|l| l.trim().strip_prefix("certificate-authority-data: "))
            .unwrap()
            .trim_matches('"')
            .to_string();
        let vars = HashMap::from([
            ("{TLS}", tls.server.url()),
            ("{HTTP}", plain.url()),
            (
                "{HOSTPORT}",
                plain.url().trim_start_matches("http://").to_string(),
            ),
            ("{CA}", dir.join("ca.pem").display().to_string()),
            ("{CADATA}", ca_data),
            ("{WRONGCA}", dir.join("wrong-ca.pem").display().to_string()),
            ("{DIR}", dir.display().to_string()),
        ]);
        World { tls, plain, vars }
    }

    fn fill(&self, template: &str) -> String {
        self.vars
            .iter()
            .fold(template.to_string(), |text, (k, v)| text.replace(k, v))
    }

    fn dir(&self) -> &Path {
        self.tls.dir.path()
    }

    /// How many requests each server has answered so far.
    fn mark(&self) -> (usize, usize) {
        (
            self.tls.server.requests().len(),
            self.plain.requests().len(),
        )
    }

    /// The requests both servers answered since `mark`.
    fn requests_since(&self, (tls, plain): (usize, usize)) -> Vec<testserver::RequestRecord> {
        let mut new: Vec<_> = self.tls.server.requests().split_off(tls);
        new.extend(self.plain.requests().split_off(plain));
        new
    }
}

/// A kubeconfig with two clusters (tls, plain), two users and two contexts;
/// `main` (alice in team-a on the HTTPS server) is current.
const MAIN: &str = r#"apiVersion: v1
kind: Config
current-context: main
clusters:
- name: tls
  cluster: {server: "{TLS}", certificate-authority-data: "{CADATA}"}
- name: plain
  cluster: {server: "{HTTP}"}
users:
- name: alice
  user: {token: alice-token}
- name: bob
  user: {token: bob-token}
contexts:
- name: main
  context: {cluster: tls, user: alice, namespace: team-a}
- name: other
  context: {cluster: tls, user: bob, namespace: team-b}
"#;

/// One cluster and one context over it, for rows that vary a single entry.
fn single(cluster: &str, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: one\nclusters:\n- name: c\n  cluster: {cluster}\nusers:\n- name: u\n  user: {user}\ncontexts:\n- name: one\n  context: {{cluster: c, user: u, namespace: team-b}}\n"
    )
}

struct Row {
    name: &'static str,
    /// Files written under the test directory before the run (name, text).
    files: Vec<(&'static str, String)>,
    /// Environment for both programs; KUBECONFIG defaults to `{DIR}/main`.
    env: Vec<(&'static str, &'static str)>,
    args: Vec<&'static str>,
}

fn row(name: &'static str, args: &[&'static str]) -> Row {
    Row {
        name,
        files: Vec::new(),
        env: Vec::new(),
        args: args.to_vec(),
    }
}

impl Row {
    fn file(mut self, name: &'static str, text: impl Into<String>) -> Row {
        self.files.push((name, text.into()));
        self
    }
    fn env(mut self, name: &'static str, value: &'static str) -> Row {
        self.env.push((name, value));
        self
    }
}

/// What one program did, as the servers saw it.
#[derive(Debug, PartialEq)]
struct Seen {
    /// The user of the first widget request (None: anonymous), if any was made.
    user: Option<Option<String>>,
    /// The namespace and server of that request.
    place: Option<String>,
    succeeded: bool,
    /// Whether it went through the rows' proxy (None: no proxy in the test).
    proxied: Option<bool>,
}

fn seen(world: &World, before: (usize, usize), out: &Output) -> Seen {
    let requests = world.requests_since(before);
    let first = requests
        .iter()
        .find(|r| r.path_and_query.contains("/widgets"));
    let place = first.map(|r| {
        r.path_and_query
            .split("/namespaces/")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or("(all namespaces)")
            .to_string()
    });
    Seen {
        user: first.map(|r| r.user.clone()),
        place,
        succeeded: out.status.success(),
        proxied: None,
    }
}

fn prepare(world: &World, row: &Row, cmd: &mut Command) {
    cmd.env("HOME", world.dir().join("home"))
        .env("KUBECONFIG", world.dir().join("main"))
        .env_remove("KUBECACHEDIR")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env_remove("POD_NAMESPACE");
    for name in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        cmd.env_remove(name);
    }
    for (name, value) in &row.env {
        cmd.env(name, world.fill(value));
    }
}

fn run_both(
    world: &World,
    row: &Row,
    proxy: Option<&ConnectProxy>,
) -> (Seen, Output, Seen, Output) {
    for (name, text) in &row.files {
        let path = world.dir().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, world.fill(text)).unwrap();
    }
    let args: Vec<String> = row.args.iter().map(|a| world.fill(a)).collect();
    let tunnels = || proxy.map(ConnectProxy::tunnels);
    let went_through = |before: Option<usize>| Some(proxy?.tunnels() > before?);

    let before = world.mark();
    let tunnels_before = tunnels();
    let mut kubectl = Command::new(real_kubectl());
    kubectl.args(["get", "widgets.example.com", "foo", "-o", "name"]);
    kubectl.args(&args);
    prepare(world, row, &mut kubectl);
    let theirs = kubectl.output().unwrap();
    let mut kubectl_seen = seen(world, before, &theirs);
    kubectl_seen.proxied = went_through(tunnels_before);

    let before = world.mark();
    let tunnels_before = tunnels();
    let mut notify = Command::new(bin());
    notify.args(["widgets/foo", "--until", READY, "--timeout", "0"]);
    notify.args(&args);
    prepare(world, row, &mut notify);
    let ours = finish(
        notify
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
        std::time::Duration::from_secs(30),
    );
    let mut notify_seen = seen(world, before, &ours);
    notify_seen.proxied = went_through(tunnels_before);
    (kubectl_seen, theirs, notify_seen, ours)
}

fn rows() -> Vec<Row> {
    let with_main = |r: Row| r.file("main", MAIN);
    vec![
        // Already the same: the current context, a context flag, overrides.
        with_main(row("current context", &[])),
        with_main(row("--context", &["--context", "other"])),
        with_main(row("--user", &["--user", "bob"])),
        with_main(row("--token", &["--token", "bob-token"])),
        with_main(row("--as", &["--as", "bob"])),
        with_main(row("-n", &["-n", "default"])),
        with_main(row("--cluster plain: no token over HTTP", &["--cluster", "plain"])),
        // 1. An empty flag is an unset flag.
        with_main(row("-n ''", &["-n", ""])),
        with_main(row("--context ''", &["--context", ""])),
        with_main(row("--user ''", &["--user", ""])),
        with_main(row("--cluster ''", &["--cluster", ""])),
        with_main(row("--as ''", &["--as", ""])),
        // 3. An unset $TOKEN keeps the kubeconfig's user.
        with_main(row("--token ''", &["--token", ""])),
        with_main(row("--kubeconfig ''", &["--kubeconfig", ""])),
        // 10. kubectl's flag forms.
        with_main(row("-n twice: the last wins", &["-n", "team-b", "-n", "default"])),
        with_main(row("--request-timeout in seconds", &["--request-timeout", "5"])),
        with_main(row("--insecure-skip-tls-verify=false", &["--insecure-skip-tls-verify=false"])),
        with_main(row("--insecure-skip-tls-verify=true", &["--insecure-skip-tls-verify=true"])),
        // 2. token and tokenFile: the file.
        row("token and tokenFile", &[]).file(
            "main",
            single(
                r#"{server: "{TLS}", certificate-authority: "{CA}"}"#,
                r#"{token: alice-token, tokenFile: "{DIR}/bob-token"}"#,
            ),
        ),
        row("--token over a tokenFile", &["--token", "alice-token"]).file(
            "main",
            single(
                r#"{server: "{TLS}", certificate-authority: "{CA}"}"#,
                r#"{tokenFile: "{DIR}/bob-token"}"#,
            ),
        ),
        // 4. No bearer token over plain HTTP, from a flag or a kubeconfig.
        with_main(row("-s http:// --token", &["-s", "{HTTP}", "--token", "alice-token"])),
        with_main(row("-s host:port is plain HTTP", &["-s", "{HOSTPORT}", "--token", "alice-token"])),
        row("an http server in the kubeconfig", &[]).file(
            "main",
            single(r#"{server: "{HTTP}"}"#, "{token: alice-token}"),
        ),
        // 5. TLS overrides.
        row("insecure kubeconfig, --certificate-authority wrong", &["--certificate-authority", "{WRONGCA}"]).file(
            "main",
            single(r#"{server: "{TLS}", insecure-skip-tls-verify: true}"#, "{token: alice-token}"),
        ),
        row("insecure kubeconfig, --certificate-authority right", &["--certificate-authority", "{CA}"]).file(
            "main",
            single(r#"{server: "{TLS}", insecure-skip-tls-verify: true}"#, "{token: alice-token}"),
        ),
        row("a CA and insecure in the kubeconfig", &[]).file(
            "main",
            single(
                r#"{server: "{TLS}", certificate-authority-data: "{CADATA}", insecure-skip-tls-verify: true}"#,
                "{token: alice-token}",
            ),
        ),
        // 8. --server clears the kubeconfig's tls-server-name.
        row("tls-server-name alone", &[]).file(
            "main",
            single(
                r#"{server: "{TLS}", certificate-authority: "{CA}", tls-server-name: elsewhere.example}"#,
                "{token: alice-token}",
            ),
        ),
        row("--server clears tls-server-name", &["--server", "{TLS}"]).file(
            "main",
            single(
                r#"{server: "{TLS}", certificate-authority: "{CA}", tls-server-name: elsewhere.example}"#,
                "{token: alice-token}",
            ),
        ),
        // 7. Merging KUBECONFIG.
        row("KUBECONFIG=a:b, a's current-context empty", &[])
            .file(
                "a",
                "apiVersion: v1\nkind: Config\ncurrent-context: \"\"\nusers:\n- name: alice\n  user: {token: alice-token}\n",
            )
            .file("b", MAIN.replace("current-context: main", "current-context: other"))
            .env("KUBECONFIG", "{DIR}/a:{DIR}/b"),
        row("KUBECONFIG=a:b, the first file's user wins", &[])
            .file("a", "apiVersion: v1\nkind: Config\nusers:\n- name: bob\n  user: {token: alice-token}\n")
            .file("b", MAIN.replace("current-context: main", "current-context: other"))
            .env("KUBECONFIG", "{DIR}/a:{DIR}/missing:{DIR}/b"),
        row("KUBECONFIG set but empty", &[])
            .file("home/.kube/config", MAIN)
            .env("KUBECONFIG", ""),
    ]
}

#[test]
fn each_invocation_reaches_the_server_kubectl_reaches_as_the_same_user() {
    let world = World::new();
    let mut differences = Vec::new();
    for row in rows() {
        let (theirs, kubectl_out, ours, notify_out) = run_both(&world, &row, None);
        if theirs != ours {
            differences.push(format!(
                "{} ({:?}):\n  kubectl:        {theirs:?} {}\n  kubectl-notify: {ours:?} {}",
                row.name,
                row.args,
                one_line(&text(&kubectl_out.stderr)),
                one_line(&text(&notify_out.stderr)),
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "kubectl-notify differs from kubectl in {} rows:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

fn one_line(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    line.chars().take(300).collect()
}

/// A tiny HTTP CONNECT proxy on 127.0.0.1 that records each tunnel's target
/// and resolves the made-up name `kube.test` to 127.0.0.1 (only the proxy
/// resolves names: the client hands it the name).
struct ConnectProxy {
    url: String,
    targets: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ConnectProxy {
    fn start() -> ConnectProxy {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let targets = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = targets.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(client.try_clone().unwrap());
                    let mut request = String::new();
                    reader.read_line(&mut request).unwrap_or_default();
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                            break;
                        }
                    }
                    let target = request
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or_default()
                        .to_string();
                    seen.lock().unwrap().push(target.clone());
                    let Ok(upstream) =
                        std::net::TcpStream::connect(target.replace("kube.test", "127.0.0.1"))
                    else {
                        let _ = (&client).write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                        return;
                    };
                    (&client)
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .unwrap();
                    let (mut up_read, mut down_write) =
                        (upstream.try_clone().unwrap(), client.try_clone().unwrap());
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut up_read, &mut down_write);
                        let _ = down_write.shutdown(std::net::Shutdown::Both);
                    });
                    let mut up_write = upstream;
                    let _ = std::io::copy(&mut reader, &mut up_write);
                    let _ = up_write.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        ConnectProxy { url, targets }
    }

    fn tunnels(&self) -> usize {
        self.targets.lock().unwrap().len()
    }
}

/// Proxies as kubectl uses them: a cluster's `proxy-url` for every request
/// (loopback too); `HTTPS_PROXY` except for loopback and what `NO_PROXY`
/// names (a suffix here). Each row: through the proxy or not, and the outcome,
/// the same for both programs.
#[test]
fn proxies_are_used_where_kubectl_uses_them() {
    let world = World::new();
    let proxy = ConnectProxy::start();
    let port = world
        .tls
        .server
        .url()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let by_name = format!("https://kube.test:{port}");
    let proxied_cluster = format!(
        r#"{{server: "{{TLS}}", certificate-authority: "{{CA}}", proxy-url: "{}"}}"#,
        proxy.url
    );
    let named_cluster = format!(
        r#"{{server: "{by_name}", certificate-authority: "{{CA}}", tls-server-name: localhost}}"#
    );
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let https_proxy = leak(proxy.url.clone());
    // What kubectl does in each row: through the proxy, succeeded.
    let expected = [
        (true, true),
        (false, true),
        (true, true),
        (true, true),
        (false, false),
        (false, false),
    ];
    let rows = vec![
        row("proxy-url", &[]).file("main", single(&proxied_cluster, "{token: alice-token}")),
        row("HTTPS_PROXY, a loopback server", &[])
            .file("main", MAIN)
            .env("HTTPS_PROXY", https_proxy),
        row("HTTPS_PROXY, a server by name", &[])
            .file("main", single(&named_cluster, "{token: alice-token}"))
            .env("HTTPS_PROXY", https_proxy),
        row("https_proxy, NO_PROXY naming another host", &[])
            .file("main", single(&named_cluster, "{token: alice-token}"))
            .env("https_proxy", https_proxy)
            .env("NO_PROXY", "127.0.0.1,example.com"),
        row("HTTPS_PROXY, NO_PROXY a suffix of the server", &[])
            .file("main", single(&named_cluster, "{token: alice-token}"))
            .env("HTTPS_PROXY", https_proxy)
            .env("NO_PROXY", ".test"),
        row("ALL_PROXY is not one of Go's", &[])
            .file("main", single(&named_cluster, "{token: alice-token}"))
            .env("ALL_PROXY", https_proxy),
    ];
    let mut differences = Vec::new();
    for (row, expected) in rows.into_iter().zip(expected) {
        let (theirs, kubectl_out, ours, notify_out) = run_both(&world, &row, Some(&proxy));
        assert_eq!(
            (theirs.proxied, theirs.succeeded),
            (Some(expected.0), expected.1),
            "{}: kubectl itself: {}",
            row.name,
            one_line(&text(&kubectl_out.stderr))
        );
        if theirs != ours {
            differences.push(format!(
                "{}:\n  kubectl:        {theirs:?} {}\n  kubectl-notify: {ours:?} {}",
                row.name,
                one_line(&text(&kubectl_out.stderr)),
                one_line(&text(&notify_out.stderr)),
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "kubectl-notify differs from kubectl in {} rows:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
