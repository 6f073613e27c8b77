//! What the test server's tests share: a tiny blocking HTTP/1.1 client over
//! std's TcpStream, enough to speak to the server exactly as a client would,
//! watch streams included; kube-rs pointed at the server; the reference captures.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::watcher::{self, Event};
use serde_json::{Value, json};
use testserver::TestServer;

pub const AGGREGATED: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
pub const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads a chunked transfer-encoded body as a plain byte stream.
struct Chunked<R> {
    inner: R,
    left: usize,
    done: bool,
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        if self.left == 0 {
            let mut size = String::new();
            if self.inner.read_line(&mut size)? == 0 {
                self.done = true;
                return Ok(0);
            }
            let hex = size.trim().split(';').next().unwrap_or("");
            self.left = usize::from_str_radix(hex, 16).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("chunk size {size:?}"),
                )
            })?;
            if self.left == 0 {
                self.done = true;
                return Ok(0);
            }
        }
        let want = buf.len().min(self.left);
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n;
        if self.left == 0 {
            let mut crlf = String::new();
            self.inner.read_line(&mut crlf)?;
        }
        Ok(n)
    }
}

pub struct Client {
    pub base: String,
    pub token: Option<String>,
    pub extra_headers: Vec<(String, String)>,
}

/// An open response whose body is read incrementally (a watch).
pub struct Stream {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    body: BufReader<Box<dyn Read + Send>>,
    tcp: TcpStream,
}

impl Stream {
    /// The next newline-delimited JSON value, or None at end of stream.
    pub fn next(&mut self) -> Option<Value> {
        let mut line = String::new();
        match self.body.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(
                serde_json::from_str(line.trim())
                    .unwrap_or_else(|e| panic!("watch line is not JSON ({e}): {line:?}")),
            ),
            Err(e) => panic!("reading the watch stream: {e}"),
        }
    }

    /// The next line as the socket gives it: `Ok(None)` at a clean end,
    /// `Err` for a reset or an end without the last chunk.
    pub fn try_next(&mut self) -> std::io::Result<Option<Value>> {
        let mut line = String::new();
        if self.body.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        serde_json::from_str(line.trim())
            .map(Some)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// The next line if one arrives within `wait`; `Err(TimedOut/WouldBlock)`
    /// if nothing does (then the stream can still be read).
    pub fn next_within(&mut self, wait: Duration) -> std::io::Result<Option<Value>> {
        self.tcp.set_read_timeout(Some(wait))?;
        let r = self.try_next();
        self.tcp.set_read_timeout(Some(Duration::from_secs(20)))?;
        r
    }

    /// Whether the stream ended (cleanly or not) rather than delivering more.
    pub fn ended(&mut self) -> bool {
        !matches!(self.try_next(), Ok(Some(_)))
    }

    /// Every remaining event until the server closes the stream.
    pub fn collect(mut self) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(v) = self.next() {
            out.push(v);
        }
        out
    }
}

impl Client {
    pub fn new(base: &str, token: Option<&str>) -> Client {
        Client {
            base: base.trim_start_matches("http://").to_string(),
            token: token.map(str::to_string),
            extra_headers: Vec::new(),
        }
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> &str {
        &self.base
    }

    pub fn open(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Stream {
        let mut tcp = TcpStream::connect(&self.base).expect("connect to the test server");
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.base
        );
        if let Some(t) = &self.token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        for (k, v) in &self.extra_headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        let body = body.unwrap_or_default();
        if !body.is_empty() || method != "GET" {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        tcp.write_all(req.as_bytes()).unwrap();
        tcp.write_all(body).unwrap();
        let clone = tcp.try_clone().unwrap();
        let mut reader = BufReader::new(tcp);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).unwrap();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let find = |name: &str| {
            headers
                .iter()
                .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let body: Box<dyn Read + Send> =
            if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
                Box::new(Chunked {
                    inner: reader,
                    left: 0,
                    done: false,
                })
            } else if let Some(len) = find("content-length").and_then(|l| l.parse::<u64>().ok()) {
                Box::new(reader.take(len))
            } else {
                Box::new(reader)
            };
        Stream {
            status,
            headers,
            body: BufReader::new(body),
            tcp: clone,
        }
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        let mut s = self.open(method, path, headers, body);
        let mut bytes = Vec::new();
        s.body.read_to_end(&mut bytes).unwrap();
        Response {
            status: s.status,
            headers: s.headers,
            body: bytes,
        }
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[("Accept", "application/json")], None)
    }

    pub fn get_accept(&self, path: &str, accept: &str) -> Response {
        self.request("GET", path, &[("Accept", accept)], None)
    }

    pub fn send_json(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &Value,
    ) -> Response {
        let bytes = serde_json::to_vec(body).unwrap();
        self.request(
            method,
            path,
            &[
                ("Content-Type", content_type),
                ("Accept", "application/json"),
            ],
            Some(&bytes),
        )
    }

    pub fn post(&self, path: &str, body: &Value) -> Response {
        self.send_json("POST", path, "application/json", body)
    }

    pub fn put(&self, path: &str, body: &Value) -> Response {
        self.send_json("PUT", path, "application/json", body)
    }

    pub fn merge_patch(&self, path: &str, body: &Value) -> Response {
        self.send_json("PATCH", path, "application/merge-patch+json", body)
    }

    pub fn delete(&self, path: &str) -> Response {
        self.request("DELETE", path, &[("Accept", "application/json")], None)
    }

    pub fn watch(&self, path: &str) -> Stream {
        let s = self.open("GET", path, &[("Accept", "application/json")], None);
        assert_eq!(s.status, 200, "watch {path}");
        s
    }
}

/// kube-rs with the given kubeconfig (YAML), as kubectl-notify builds it.
pub async fn kube_client(kubeconfig: &str) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// The Widget CRD's objects in `default`, as a dynamic API.
pub fn widgets(client: kube::Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("example.com", "v1", "Widget");
    Api::namespaced_with(client, "default", &ApiResource::from_gvk(&gvk))
}

/// Runs kube-rs's watcher on widgets and, once its initial list is done,
/// changes w1 (size 1) to size 2 through the server: the next object the
/// watcher applies must be that change. Fails rather than hangs when the
/// change never comes.
pub async fn sees_a_change(server: &TestServer, client: kube::Client, config: watcher::Config) {
    let mut stream = watcher::watcher(widgets(client), config).boxed();
    let watch = async {
        let mut seen_init_done = false;
        while let Some(ev) = stream.try_next().await.unwrap() {
            match ev {
                Event::InitDone => {
                    seen_init_done = true;
                    server.merge_patch(
                        "widgets.example.com",
                        Some("default"),
                        "w1",
                        json!({"spec": {"size": 2}}),
                    );
                }
                Event::Apply(o) if seen_init_done => {
                    assert_eq!(o.data["spec"]["size"], 2);
                    return;
                }
                _ => {}
            }
        }
        panic!("the watcher ended");
    };
    tokio::time::timeout(Duration::from_secs(20), watch)
        .await
        .expect("the watcher saw no change within 20 s");
}

/// A reference capture shipped with the tests (copied from the real apiserver).
pub fn reference(name: &str) -> String {
    let path = format!("{}/tests/k8s-reference/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn reference_json(name: &str) -> Value {
    serde_json::from_str(&reference(name)).unwrap()
}

/// Polls `cond` every 5 ms for up to 10 s.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
