//! Serving one device: its listener (plain or TLS), its connections, and
//! the reset cycle during which it refuses connections (the listener is
//! closed, so clients see "connection refused", then bound again).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::simulator::device::Device;
use crate::simulator::http::guard::DropConnection;
use crate::simulator::http::router;

/// How long a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Returned by the connection's service to make hyper close the connection
/// without a response (the dropped-connection fault).
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}
impl std::error::Error for Dropped {}

/// Binds a listening socket with SO_REUSEADDR, so a device can take its
/// port back right after a reset.
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Serves a device until `shutdown` turns true. The device's HTTP
/// application is built at its first connection: a device nobody talks to
/// costs only its state and this task.
pub(crate) async fn run(
    device: Arc<Device>,
    first: TcpListener,
    tls: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    let Ok(addr) = first.local_addr() else {
        return;
    };
    let mut listener = Some(first);
    let mut resets = device.subscribe_resets();
    let mut app: Option<Router> = None;
    loop {
        let current = match listener.take() {
            Some(l) => l,
            None => match rebind(addr, &mut shutdown).await {
                Some(l) => l,
                None => return,
            },
        };
        loop {
            tokio::select! {
                accepted = current.accept() => match accepted {
                    Ok((stream, _)) => {
                        let app = app.get_or_insert_with(|| router::app(Arc::clone(&device))).clone();
                        let conn = serve_connection(stream, app, tls.clone(), device.subscribe_resets(), shutdown.clone());
                        tokio::spawn(conn);
                    }
                    Err(e) => {
                        // Out of descriptors and the like: back off briefly.
                        tracing::debug!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                },
                changed = resets.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    break;
                }
                _ = shutdown.changed() => return,
            }
        }
        // Reset: the listener closes here (dropped), and the device stays
        // away until the reset ends; a reset during a reset extends it.
        drop(current);
        while let Some(back) = device.back_at() {
            tokio::select! {
                () = tokio::time::sleep_until(back.into()) => {}
                _ = shutdown.changed() => return,
            }
            resets.borrow_and_update();
            if !device.is_resetting() {
                break;
            }
        }
    }
}

/// Binds the device's address again after a reset, retrying while the port
/// is briefly unavailable; `None` on shutdown.
async fn rebind(addr: SocketAddr, shutdown: &mut watch::Receiver<bool>) -> Option<TcpListener> {
    loop {
        match bind(addr) {
            Ok(l) => return Some(l),
            Err(e) => {
                tracing::warn!(%addr, error = %e, "cannot listen again after reset; retrying")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = shutdown.changed() => return None,
        }
    }
}

/// Serves one connection, closing it gracefully when the device resets.
async fn serve_connection(
    stream: TcpStream,
    app: Router,
    tls: Option<TlsAcceptor>,
    resets: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    match tls {
        None => serve_io(TokioIo::new(stream), app, resets, shutdown).await,
        Some(acceptor) => {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => serve_io(TokioIo::new(stream), app, resets, shutdown).await,
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        }
    }
}

async fn serve_io<I>(
    io: I,
    app: Router,
    mut resets: watch::Receiver<u64>,
    mut shutdown: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let app = app.clone();
        async move {
            let response = match app.oneshot(request.map(Body::new)).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            if response.extensions().get::<DropConnection>().is_some() {
                return Err(Dropped);
            }
            Ok(response)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = resets.changed() => {}
        _ = shutdown.changed() => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}
