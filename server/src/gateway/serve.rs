//! The HTTP/1 server under the router. `axum::serve` cannot time out a request whose
//! headers never finish, so 1,000 half-sent request lines held 1,000 descriptors for over a
//! minute (issue 18). Here hyper's `header_read_timeout` closes a connection that has not
//! delivered a request's headers in time — after opening, or idle after a response — and
//! each request carries its peer address (`ConnectInfo`) for the per-address limits.
//!
//! With `[server.tls]` each connection's task first runs the TLS handshake (`tls`), bounded
//! by the same timeout, then serves HTTP over the encrypted stream exactly as over TCP.

use std::{convert::Infallible, future::Future, net::SocketAddr, time::Duration};

use axum::{Router, body::Body, extract::ConnectInfo, http::Request};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpListener,
    sync::watch,
};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

/// Serves `app` on `listener` until `signal` resolves, then stops accepting, lets requests
/// in flight finish and returns once every connection has closed (upgraded WebSockets are
/// their own tasks and say goodbye themselves). With `tls`, every connection speaks TLS
/// (the handshake happens in the connection's task, never in this accept loop).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    tls: Option<TlsAcceptor>,
    signal: impl Future<Output = ()>,
) {
    // Every connection task holds a `alive` receiver; `done` resolves when none is left.
    let (done, alive) = watch::channel(());
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(signal);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: wait and go on.
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        // Chat frames are small and latency-bound: without TCP_NODELAY, Nagle's algorithm
        // meets the peer's delayed ACK and holds acks and messages back ~40 ms
        // (benches/plugin_latency).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "setting TCP_NODELAY");
        }
        let service = app.clone().map_request(move |req: Request<Incoming>| {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
        let alive = alive.clone();
        let mut stopping = stopping.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _alive = alive;
            let Some(acceptor) = tls else {
                serve_connection(tcp, peer, service, header_read_timeout, &mut stopping).await;
                return;
            };
            let handshake = super::tls::handshake(&acceptor, tcp, peer, header_read_timeout);
            let stream = tokio::select! {
                stream = handshake => stream,
                // Shutting down: a connection still saying hello has no request to finish.
                _ = stopping.changed() => None,
            };
            if let Some(stream) = stream {
                serve_connection(stream, peer, service, header_read_timeout, &mut stopping).await;
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    drop(alive);
    done.closed().await;
}

async fn serve_connection<S, I>(
    io: I,
    peer: SocketAddr,
    service: S,
    header_read_timeout: Duration,
    stopping: &mut watch::Receiver<bool>,
) where
    S: tower::Service<Request<Incoming>, Response = axum::response::Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let conn = builder
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
        .with_upgrades();
    tokio::pin!(conn);
    let mut asked_to_stop = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::trace!(%peer, error = %e, "connection ended");
                }
                return;
            }
            changed = stopping.changed(), if !asked_to_stop => {
                asked_to_stop = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
