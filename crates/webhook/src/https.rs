//! The HTTPS accept loop: every connection gets its own task, and its TLS handshake runs there
//! under a timeout, so one slow or stalled client never holds up the others.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::stop::stopped;

/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Timeouts of the HTTPS server.
#[derive(Debug, Clone, Copy)]
pub struct HttpsTimeouts {
    /// Longest a TLS handshake may take.
    pub handshake: Duration,
    /// Longest in-flight requests may run after shutdown starts.
    pub drain: Duration,
}

/// Serves `router` over TLS on `listener` until `shutdown` turns true (or its sender is dropped),
/// then lets open connections finish their requests for up to `timeouts.drain`.
pub async fn serve_https(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    router: Router,
    timeouts: HttpsTimeouts,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let builder = auto::Builder::new(TokioExecutor::new());
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve_connection(
                        stream,
                        peer,
                        acceptor.clone(),
                        builder.clone(),
                        router.clone(),
                        timeouts.handshake,
                        shutdown.clone(),
                    ));
                }
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            },
            // Reap finished connections so the set stays as small as the open connections.
            Some(_) = connections.join_next() => {}
            _ = stopped(&mut shutdown) => break,
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(timeouts.drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "closing connections still open after the shutdown grace period"
        );
        connections.shutdown().await;
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    builder: auto::Builder<TokioExecutor>,
    router: Router,
    handshake_timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let handshake = tokio::time::timeout(handshake_timeout, acceptor.accept(stream));
    let handshake = tokio::select! {
        handshake = handshake => handshake,
        // Nothing was requested yet: a connection still in its handshake is simply dropped.
        _ = stopped(&mut shutdown) => return,
    };
    let tls = match handshake {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let connection = builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(router));
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = stopped(&mut shutdown) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}
