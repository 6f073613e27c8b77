//! A webhook receiver for the sink stories, on 127.0.0.1 only: it records
//! every request (headers, body, when) and answers as the story says —
//! 200, a status (503, 429 with Retry-After), slowly, or not at all (down);
//! over plain HTTP, or HTTPS with a certificate from a CA made for the test.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::task::JoinSet;

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16),
    /// A status with `Retry-After: seconds`.
    RetryAfter(u16, u64),
    /// 200, after this long.
    Slow(Duration),
    /// A status with this JSON body (Discord's 429 says `retry_after` there).
    Body(u16, String),
}

#[derive(Debug, Clone)]
pub struct Received {
    /// The request's path (and query).
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: Instant,
    /// The status it was answered with.
    pub status: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct State {
    /// Answers for the next requests, in order; then `usual`.
    script: VecDeque<Answer>,
    usual: Option<Answer>,
    received: Vec<Received>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    runtime: tokio::runtime::Handle,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// HTTPS: the handshake, and the PEM of the CA that signed the certificate.
    tls: Option<(testserver::TlsAcceptor, String)>,
    _thread: std::thread::JoinHandle<()>,
}

impl Receiver {
    pub fn start() -> Receiver {
        Receiver::with_tls(None)
    }

    /// An HTTPS receiver for `127.0.0.1`, its certificate signed by a CA
    /// made here ([`Receiver::ca_pem`]), which nothing trusts by default.
    pub fn start_tls() -> Receiver {
        let (ca_pem, config) = testserver::tls_identity();
        Receiver::with_tls(Some((testserver::TlsAcceptor::from(config), ca_pem)))
    }

    /// The PEM of the CA of an HTTPS receiver.
    pub fn ca_pem(&self) -> &str {
        &self.tls.as_ref().expect("an HTTPS receiver").1
    }

    fn with_tls(tls: Option<(testserver::TlsAcceptor, String)>) -> Receiver {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            tx.send(runtime.handle().clone()).unwrap();
            runtime.block_on(std::future::pending::<()>());
        });
        let runtime = rx.recv().unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let receiver = Receiver {
            addr: listener.local_addr().unwrap(),
            state: Arc::default(),
            runtime,
            server: Mutex::new(None),
            tls,
            _thread: thread,
        };
        receiver.serve(listener);
        receiver
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}/hook/s3cr3t-path", self.addr)
    }

    /// The next requests get these answers, in order; then 200.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state.lock().unwrap().script.extend(answers);
    }

    /// Every request (after the script) gets this answer; `None`: 200.
    pub fn always(&self, answer: Option<Answer>) {
        self.state.lock().unwrap().usual = answer;
    }

    /// Stops listening and drops every connection: connections are refused.
    pub fn down(&self) {
        if let Some(server) = self.server.lock().unwrap().take() {
            server.abort();
        }
        // Let the abort land before the port is reused.
        std::thread::sleep(Duration::from_millis(50));
    }

    /// Listens again on the same port (which the system may hold a moment
    /// longer after the last connection: tried again for up to 5 s).
    pub fn up(&self) {
        let addr = self.addr;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match self
                .runtime
                .block_on(async move { tokio::net::TcpListener::bind(addr).await })
            {
                Ok(listener) => break listener,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("cannot listen on {addr} again: {e}"),
            }
        };
        self.serve(listener);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// The requests answered 2xx.
    pub fn delivered(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let state = self.state.clone();
        let tls = self.tls.as_ref().map(|(acceptor, _)| acceptor.clone());
        let task = self.runtime.spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = state.clone();
                let tls = tls.clone();
                connections.spawn(async move {
                    let service =
                        hyper::service::service_fn(move |request| answer(state.clone(), request));
                    let http = hyper::server::conn::http1::Builder::new();
                    match tls {
                        // A client that does not trust the CA hangs up here.
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(stream).await {
                                let _ = http.serve_connection(TokioIo::new(stream), service).await;
                            }
                        }
                        None => {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                });
            }
        });
        *self.server.lock().unwrap() = Some(task);
    }
}

async fn answer(
    state: Arc<Mutex<State>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(String::new, |p| p.to_string());
    let headers = request
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = request.into_body().collect().await.map(|b| b.to_bytes());
    let body = String::from_utf8_lossy(&body.unwrap_or_default()).into_owned();
    let answer = {
        let mut state = state.lock().unwrap();
        state.script.pop_front().or_else(|| state.usual.clone())
    };
    let mut reply = Bytes::new();
    let (status, retry_after) = match answer {
        None => (200, None),
        Some(Answer::Status(code)) => (code, None),
        Some(Answer::RetryAfter(code, seconds)) => (code, Some(seconds)),
        Some(Answer::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            (200, None)
        }
        Some(Answer::Body(code, body)) => {
            reply = Bytes::from(body);
            (code, None)
        }
    };
    state.lock().unwrap().received.push(Received {
        path,
        headers,
        body,
        at: Instant::now(),
        status,
    });
    let mut response = Response::builder().status(status);
    if let Some(seconds) = retry_after {
        response = response.header("retry-after", seconds.to_string());
    }
    if !reply.is_empty() {
        response = response.header("content-type", "application/json");
    }
    Ok(response.body(Full::new(reply)).unwrap())
}
