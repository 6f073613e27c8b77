//! A raw watch, the floor the tools' reaction is measured against: a client
//! of the server's HTTPS API that connects, sends a request, and reads a
//! response or a stream, and no more.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::json;
use testserver::TestServer;

use crate::error::{Result, io_err};

/// A client of the server's HTTPS API that does no more than a raw watch
/// needs: connect, send a request, read a response or a stream.
pub(crate) struct Api {
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    /// Where the widgets that are patched and watched live.
    namespace: String,
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// One keep-alive connection and the bytes read from it but not yet consumed.
pub(crate) struct Conn {
    tls: TlsStream,
    buf: Vec<u8>,
}

pub(crate) struct Head {
    pub(crate) status: u16,
    content_length: Option<usize>,
    chunked: bool,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Api {
    pub(crate) fn new(server: &TestServer, namespace: &str) -> Result<Api> {
        let pem = server.ca_pem().ok_or("the test server has no CA")?;
        Api::from_parts(&server.url(), &pem, namespace)
    }

    /// A client of the server at `url` (`https://IP:PORT`) whose CA is `pem`.
    pub(crate) fn from_parts(url: &str, pem: &str, namespace: &str) -> Result<Api> {
        let addr = url
            .strip_prefix("https://")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| format!("the test server is not on https://IP:PORT: {url}"))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| format!("the server CA: {e}"))?;
            roots.add(cert).map_err(|e| format!("the server CA: {e}"))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Api {
            addr,
            tls: Arc::new(config),
            namespace: namespace.to_string(),
        })
    }

    /// A connection with its TLS handshake done, ready for requests.
    pub(crate) fn connect(&self) -> Result<Conn> {
        let tcp = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))
            .map_err(io_err("connect to the test server"))?;
        tcp.set_nodelay(true).map_err(io_err("TCP_NODELAY"))?;
        tcp.set_read_timeout(Some(Duration::from_secs(20)))
            .map_err(io_err("read timeout"))?;
        let name = ServerName::IpAddress(self.addr.ip().into());
        let conn = rustls::ClientConnection::new(self.tls.clone(), name)
            .map_err(|e| format!("TLS: {e}"))?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .map_err(io_err("TLS handshake with the test server"))?;
        }
        Ok(Conn {
            tls,
            buf: Vec::new(),
        })
    }

    fn request(&self, method: &str, path: &str, body: Option<(&str, &[u8])>) -> Vec<u8> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nAccept: application/json\r\nUser-Agent: process-bench\r\n",
            self.addr,
            testserver::ADMIN_TOKEN
        );
        if let Some((content_type, bytes)) = body {
            let _ = write!(
                head,
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                bytes.len()
            );
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        if let Some((_, bytes)) = body {
            out.extend_from_slice(bytes);
        }
        out
    }

    /// The status PATCH a controller would send.
    pub(crate) fn status_patch(&self, name: &str, ready: bool) -> Vec<u8> {
        let path = format!(
            "/apis/example.com/v1/namespaces/{}/widgets/{name}/status",
            self.namespace
        );
        let body = json!({"status": {"ready": ready}}).to_string();
        self.request(
            "PATCH",
            &path,
            Some(("application/merge-patch+json", body.as_bytes())),
        )
    }

    /// A watch on one object from resourceVersion `rv`, as a client resumes one.
    pub(crate) fn watch_request(&self, name: &str, rv: u64) -> Vec<u8> {
        self.watch(&format!("fieldSelector=metadata.name%3D{name}"), rv)
    }

    /// A watch on the widgets with a label (`key=value`) from `rv`.
    pub(crate) fn label_watch_request(&self, label: &str, rv: u64) -> Vec<u8> {
        self.watch(&format!("labelSelector={}", label.replace('=', "%3D")), rv)
    }

    fn watch(&self, selector: &str, rv: u64) -> Vec<u8> {
        let path = format!(
            "/apis/example.com/v1/namespaces/{}/widgets?watch=1&{selector}&resourceVersion={rv}",
            self.namespace
        );
        self.request("GET", &path, None)
    }
}

impl Conn {
    pub(crate) fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.tls
            .write_all(bytes)
            .and_then(|()| self.tls.flush())
            .map_err(io_err("send a request to the test server"))
    }

    fn fill(&mut self) -> Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self
            .tls
            .read(&mut chunk)
            .map_err(io_err("read from the test server"))?;
        if n == 0 {
            return Err("the test server closed the connection".into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    fn take_until(&mut self, delim: &[u8]) -> Result<Vec<u8>> {
        loop {
            if let Some(i) = find(&self.buf, delim) {
                let rest = self.buf.split_off(i + delim.len());
                let mut taken = std::mem::replace(&mut self.buf, rest);
                taken.truncate(i);
                return Ok(taken);
            }
            self.fill()?;
        }
    }

    fn take_exact(&mut self, n: usize) -> Result<Vec<u8>> {
        while self.buf.len() < n {
            self.fill()?;
        }
        let rest = self.buf.split_off(n);
        Ok(std::mem::replace(&mut self.buf, rest))
    }

    pub(crate) fn head(&mut self) -> Result<Head> {
        let raw = self.take_until(b"\r\n\r\n")?;
        let text = String::from_utf8_lossy(&raw);
        let mut lines = text.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an HTTP response: {text}"))?;
        let mut head = Head {
            status,
            content_length: None,
            chunked: false,
        };
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                head.content_length = value.parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                head.chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
        Ok(head)
    }

    /// A whole response: status and body.
    pub(crate) fn response(&mut self) -> Result<(u16, Vec<u8>)> {
        let head = self.head()?;
        let body = if head.chunked {
            let mut body = Vec::new();
            loop {
                let line = self.take_until(b"\r\n")?;
                let size = String::from_utf8_lossy(&line);
                let size = size.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size, 16)
                    .map_err(|_| format!("bad chunk size {size:?}"))?;
                if size == 0 {
                    self.take_until(b"\r\n")?;
                    break;
                }
                body.extend(self.take_exact(size)?);
                self.take_until(b"\r\n")?;
            }
            body
        } else {
            self.take_exact(head.content_length.unwrap_or(0))?
        };
        Ok((head.status, body))
    }

    /// Reads a watch stream until `events` events have come, writing a line
    /// to `out` as each arrives and doing nothing else: no HTTP library, no
    /// JSON, one blocking read a TLS record. Events are counted by the
    /// `{"type":` that opens each (chunk framing is left in).
    pub(crate) fn count_events(&mut self, events: usize, out: &mut impl Write) -> Result<()> {
        const OPENS: &[u8] = b"{\"type\":";
        let finder = memchr::memmem::Finder::new(OPENS);
        let mut seen = 0;
        let mut chunk = vec![0u8; 64 * 1024];
        // What was read with the response's head, then each read; the last
        // bytes of a read are kept in case a marker is split between two.
        let mut window = std::mem::take(&mut self.buf);
        loop {
            let found = finder.find_iter(&window).count();
            for _ in 0..found {
                out.write_all(b"event\n").map_err(io_err("write a line"))?;
            }
            seen += found;
            if seen >= events {
                return Ok(());
            }
            let keep = window.len().min(OPENS.len() - 1);
            window.drain(..window.len() - keep);
            let n = self
                .tls
                .read(&mut chunk)
                .map_err(io_err("read the watch"))?;
            if n == 0 {
                return Err(format!("the watch ended after {seen} of {events} events"));
            }
            window.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads a stream until `needle` has arrived (chunk framing is left in:
    /// each watch event is one chunk, so it never splits an event line).
    pub(crate) fn read_until(&mut self, needle: &[u8]) -> Result<()> {
        let mut searched = 0;
        loop {
            if find(&self.buf[searched..], needle).is_some() {
                return Ok(());
            }
            searched = self.buf.len().saturating_sub(needle.len());
            self.fill()?;
        }
    }
}
