//! The accept loop: HTTP/1.1 (or HTTPS) connections served by hyper, each in
//! a task of one `JoinSet`, so that a "restart" can drop them all at once,
//! close the listener and re-bind the same port later.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// Requests from the synchronous `TestServer` to the accept loop.
pub(crate) enum Control {
    /// Drop every connection and close the listener, acknowledge, stay down
    /// for the duration, then listen on the same address again.
    Restart {
        down_for: Duration,
        done: std::sync::mpsc::Sender<()>,
    },
}

async fn connection(tcp: TcpStream, app: Router, tls: Option<TlsAcceptor>) {
    // Watch events are small writes that must not wait for Nagle.
    let _ = tcp.set_nodelay(true);
    let service = TowerToHyperService::new(app);
    let http = hyper::server::conn::http1::Builder::new();
    match tls {
        Some(acceptor) => {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let _ = http.serve_connection(TokioIo::new(stream), service).await;
        }
        None => {
            let _ = http.serve_connection(TokioIo::new(tcp), service).await;
        }
    }
}

/// Listens on `addr` again, as soon as the kernel lets us.
async fn rebind(addr: SocketAddr) -> TcpListener {
    let mut tries = 0u32;
    loop {
        let listener = TcpSocket::new_v4().and_then(|s| {
            s.set_reuseaddr(true)?;
            s.bind(addr)?;
            s.listen(1024)
        });
        match listener {
            Ok(l) => return l,
            Err(e) => {
                tries += 1;
                if tries.is_multiple_of(100) {
                    eprintln!("testserver: re-binding {addr} after a restart: {e}; retrying");
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn accept(listener: &Option<TcpListener>) -> std::io::Result<TcpStream> {
    match listener {
        Some(l) => l.accept().await.map(|(s, _)| s),
        None => std::future::pending().await,
    }
}

/// Serves until `control` is closed (the `TestServer` was dropped).
pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let addr = listener.local_addr().expect("listener address");
    let acceptor = tls.map(TlsAcceptor::from);
    let mut listener = Some(listener);
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = accept(&listener) => match accepted {
                Ok(tcp) => {
                    conns.spawn(connection(tcp, app.clone(), acceptor.clone()));
                }
                // Such as EMFILE: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            c = control.recv() => match c {
                None => return,
                Some(Control::Restart { down_for, done }) => {
                    // Closing the listener makes new connections fail with
                    // ECONNREFUSED; aborting the tasks resets open ones.
                    drop(listener.take());
                    conns.shutdown().await;
                    let _ = done.send(());
                    tokio::time::sleep(down_for).await;
                    listener = Some(rebind(addr).await);
                }
            },
        }
    }
}
