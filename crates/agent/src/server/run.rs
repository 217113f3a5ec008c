//! Binding and running all servers of the agent with a shared cache and graceful shutdown.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::credentials::CredentialsEndpoint;
use super::probe::{metrics_router, probe_router};
use crate::cache::CredentialCache;
use crate::clock::{Clock, SystemClock};
use crate::config::{AgentConfig, ConfigError};
use crate::eksauth::EksAuth;
use crate::metrics::AgentMetrics;

/// How often the background refresher looks for due entries.
const REFRESH_TICK: Duration = Duration::from_secs(1);

/// Why the agent could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Invalid settings.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A listener could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// None of the credential addresses exists on this node (`podpass agent init` adds them).
    #[error("none of the addresses {0:?} exists on this node: run `podpass agent init` first")]
    NoAddress(Vec<std::net::IpAddr>),
    /// The probe HTTP client could not be built.
    #[error("cannot build the probe HTTP client: {0}")]
    ProbeClient(#[source] reqwest::Error),
    /// A server failed while running.
    #[error("server on {address} failed: {source}")]
    Serve {
        /// The server's address.
        address: SocketAddr,
        /// The error.
        source: io::Error,
    },
    /// A server task panicked or was cancelled.
    #[error("server task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A started agent: its bound addresses, and the tasks to wait for after shutdown.
#[derive(Debug)]
pub struct RunningAgent {
    credential_addrs: Vec<SocketAddr>,
    probe_addr: SocketAddr,
    metrics_addr: SocketAddr,
    metrics: AgentMetrics,
    servers: Vec<(SocketAddr, JoinHandle<io::Result<()>>)>,
    background: Vec<JoinHandle<()>>,
}

impl RunningAgent {
    /// The agent's counters, to serve them from another registry as well (`podpass up`).
    pub fn metrics(&self) -> &AgentMetrics {
        &self.metrics
    }

    /// Bound credentials servers, one per bind host, in `--bind-hosts` order.
    pub fn credential_addrs(&self) -> &[SocketAddr] {
        &self.credential_addrs
    }

    /// Bound probe server (127.0.0.1).
    pub fn probe_addr(&self) -> SocketAddr {
        self.probe_addr
    }

    /// Bound metrics server.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    /// Waits until every server has shut down (after the shutdown future completed).
    pub async fn wait(self) -> Result<(), AgentError> {
        let mut first_error = None;
        for (address, server) in self.servers {
            let outcome = match server.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(source)) => Err(AgentError::Serve { address, source }),
                Err(join) => Err(AgentError::Task(join)),
            };
            if let Err(error) = outcome {
                first_error.get_or_insert(error);
            }
        }
        for task in self.background {
            if let Err(join) = task.await {
                first_error.get_or_insert(AgentError::Task(join));
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Binds and starts the credentials servers (one per bind host, port 0 picks a free port), the
/// probe server on 127.0.0.1 and the metrics server, plus the cache refresher. All stop
/// gracefully when `shutdown` completes. Unlike the reference, the bind hosts share one cache
/// (it is keyed by token, so sharing only saves EKS Auth calls); each keeps its own rate limit.
pub async fn start(
    config: &AgentConfig,
    eks_auth: Arc<dyn EksAuth>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<RunningAgent, AgentError> {
    config.validate()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let metrics = AgentMetrics::default();
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    let cache_settings = config.cache_settings();
    let cache = Arc::new(CredentialCache::new(
        cache_settings,
        eks_auth,
        clock.clone(),
        metrics.clone(),
    ));

    let mut credential_listeners = Vec::with_capacity(config.bind_hosts.len());
    for host in &config.bind_hosts {
        match bind(SocketAddr::new(*host, config.port)).await {
            Ok(bound) => credential_listeners.push(bound),
            // A node without IPv6 (or without the link `agent init` sets up) lacks an address:
            // serve on the others, as the reference agent, rather than crash-loop.
            Err(AgentError::Bind { address, source })
                if source.kind() == io::ErrorKind::AddrNotAvailable =>
            {
                tracing::warn!(%address, error = %source, "not serving on an address this node does not have");
            }
            Err(e) => return Err(e),
        }
    }
    if credential_listeners.is_empty() {
        return Err(AgentError::NoAddress(config.bind_hosts.clone()));
    }
    let probe_listener = bind(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        config.probe_port,
    ))
    .await?;
    let metrics_listener =
        bind(SocketAddr::new(config.metrics_address, config.metrics_port)).await?;
    let credential_addrs = credential_listeners
        .iter()
        .map(|(_, address)| *address)
        .collect::<Vec<_>>();

    let (stop_sender, stop) = watch::channel(false);
    let mut background = vec![tokio::spawn(async move {
        shutdown.await;
        // Receivers may all be gone already; nothing left to stop then.
        let _ = stop_sender.send(true);
    })];
    if cache_settings.is_enabled() {
        background.push(cache.clone().spawn_refresher(REFRESH_TICK, stop.clone()));
    }

    let mut servers = Vec::new();
    for (listener, address) in credential_listeners {
        let endpoint = CredentialsEndpoint::new(
            cache.clone(),
            config.bind_hosts.clone(),
            config.rate_limit(),
            clock.clone(),
            metrics.clone(),
        );
        servers.push((
            address,
            serve(listener, endpoint.router(), config.listener, stop.clone()),
        ));
    }
    let probe = probe_router(credential_addrs.clone()).map_err(AgentError::ProbeClient)?;
    let (listener, probe_addr) = probe_listener;
    servers.push((
        probe_addr,
        serve(listener, probe, config.listener, stop.clone()),
    ));
    let metrics_routes = metrics_router(credential_addrs.clone(), Arc::new(registry))
        .map_err(AgentError::ProbeClient)?;
    let (listener, metrics_addr) = metrics_listener;
    servers.push((
        metrics_addr,
        serve(listener, metrics_routes, config.listener, stop),
    ));

    tracing::info!(?credential_addrs, %probe_addr, %metrics_addr, cluster = %config.cluster_name, "pod identity agent started");
    Ok(RunningAgent {
        credential_addrs,
        probe_addr,
        metrics_addr,
        metrics,
        servers,
        background,
    })
}

/// [`start`], then wait for shutdown.
pub async fn run(
    config: &AgentConfig,
    eks_auth: Arc<dyn EksAuth>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AgentError> {
    start(config, eks_auth, shutdown).await?.wait().await
}

async fn bind(address: SocketAddr) -> Result<(TcpListener, SocketAddr), AgentError> {
    let bind_error = |source| AgentError::Bind { address, source };
    let listener = TcpListener::bind(address).await.map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    Ok((listener, bound))
}

fn serve(
    listener: TcpListener,
    router: Router,
    options: podpass_http::ServeOptions,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<io::Result<()>> {
    tokio::spawn(podpass_http::serve(listener, router, options, async move {
        // An error means the sender is gone, which also means stop.
        let _ = stop.wait_for(|stop| *stop).await;
    }))
}
