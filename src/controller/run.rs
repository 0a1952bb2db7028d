//! `mediant-operator run`: the controller process — kubeconfig or
//! in-cluster client, leader election, health and metrics endpoints,
//! graceful shutdown on SIGTERM/Ctrl-C.
//!
//! # Guarantees
//! Only the Lease holder runs the reconciler. A holder that loses the Lease
//! (another holder, or no renewal within the renew deadline, two thirds of
//! the lease) cancels its reconciliations at once and the process exits
//! with an error, so Kubernetes restarts it as a follower; on SIGTERM the
//! holder keeps renewing while it finishes the reconciliations in flight,
//! then releases the Lease (a follower takes over at once) and exits 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::leader::{LeaderElector, LeaseConfig};
use super::logging::{self, LogFormat};
use super::metrics::Metrics;
use super::server::{self, Health};
use super::{ControllerConfig, run_controller};

/// Options of `run`.
#[derive(Clone, Debug, clap::Args)]
pub struct RunArgs {
    /// Kubeconfig file; default: in-cluster, else KUBECONFIG or ~/.kube/config.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: the current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long)]
    pub namespace: Option<String>,
    /// Address of /metrics, /healthz and /readyz (9464: clear of the
    /// simulator's customary 8080).
    #[arg(long, default_value = "0.0.0.0:9464")]
    pub metrics_addr: SocketAddr,
    /// The most device reconciliations running at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: u16,
    /// Log format.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Name of the Lease used for leader election.
    #[arg(long, default_value = "mediant-operator")]
    pub lease_name: String,
    /// Namespace of the Lease (default: POD_NAMESPACE, else the client's default namespace).
    #[arg(long, env = "POD_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// This replica's identity in the Lease (default: POD_NAME, else the host name).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
}

/// Why the process stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// No usable kubeconfig or in-cluster configuration.
    #[error("cannot configure the Kubernetes client: {0}")]
    Config(String),
    /// The health/metrics listener could not bind.
    #[error("cannot serve {addr}: {source}")]
    Serve {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The Lease was lost (another replica took over): restart as a follower.
    #[error("lost the leader Lease {0}; exiting so this replica restarts as a follower")]
    LostLease(String),
    /// The controller stopped with an error.
    #[error(transparent)]
    Controller(#[from] super::ControllerError),
}

/// Runs the controller process until SIGTERM/Ctrl-C.
pub async fn run(args: RunArgs) -> Result<(), RunError> {
    logging::init(args.log_format);
    // kube's TLS to an https API server uses the process-wide rustls
    // provider; install ring (the only one compiled in) before any client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let options = kube::config::KubeConfigOptions {
        context: args.context.clone(),
        ..Default::default()
    };
    let config_error = |e: &dyn std::fmt::Display| RunError::Config(e.to_string());
    let config = match (&args.kubeconfig, &args.context) {
        (Some(path), _) => {
            let kubeconfig =
                kube::config::Kubeconfig::read_from(path).map_err(|e| config_error(&e))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options).await
        }
        (None, Some(_)) => kube::Config::from_kubeconfig(&options).await,
        (None, None) => Ok(kube::Config::infer().await.map_err(|e| config_error(&e))?),
    }
    .map_err(|e| config_error(&e))?;
    let lease_namespace = args
        .lease_namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = kube::Client::try_from(config).map_err(|e| config_error(&e))?;
    let identity = args.identity.clone().unwrap_or_else(hostname);
    let lease = LeaseConfig::new(&args.lease_name, &lease_namespace, &identity);

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested");
        let _ = stop_tx.send(true);
    });

    let controller = ControllerConfig {
        namespace: args.namespace.clone(),
        instance: Some(identity.clone()),
        concurrency: args.concurrency,
        ..ControllerConfig::default()
    };
    lead_and_run(client, lease, controller, args.metrics_addr, stop_rx).await
}

/// The election loop around the controller: follow until the Lease is won,
/// then run the controller while renewing it.
pub async fn lead_and_run(
    client: kube::Client,
    lease: LeaseConfig,
    controller: ControllerConfig,
    metrics_addr: SocketAddr,
    mut stop: watch::Receiver<bool>,
) -> Result<(), RunError> {
    let health = Health {
        metrics: Metrics::new(),
        ready: Arc::new(AtomicBool::new(false)),
        leading: Arc::new(AtomicBool::new(false)),
    };
    let listener = tokio::net::TcpListener::bind(metrics_addr)
        .await
        .map_err(|source| RunError::Serve {
            addr: metrics_addr,
            source,
        })?;
    // The endpoints outlive the controller's drain: they stop last.
    let (server_stop, server_stop_rx) = watch::channel(false);
    let server_health = health.clone();
    let server = tokio::spawn(async move {
        server::serve(listener, server_health, stopped(server_stop_rx))
            .await
            .map_err(|source| RunError::Serve {
                addr: metrics_addr,
                source,
            })
    });

    let elector = LeaderElector::new(client.clone(), lease.clone());
    // Follow until leader or stopped.
    let acquired_at = loop {
        if *stop.borrow() {
            return finish(server, server_stop).await;
        }
        let sent = Instant::now();
        match elector.try_acquire_or_renew().await {
            Ok(true) => break sent,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "leader election round failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(lease.renew_every) => {}
            _ = stop.changed() => {}
        }
    };
    tracing::info!(lease = %lease.name, identity = %lease.identity, "acquired the leader Lease");
    health.leading.store(true, Ordering::Relaxed);

    // Lead. The Lease is renewed until the controller has returned, also
    // while it drains on shutdown. Losing it drops the controller at once:
    // reconciliations in flight are cancelled at their next await, so no
    // device write follows another replica's takeover.
    let (lost_tx, mut lost_rx) = watch::channel(false);
    let renewer = tokio::spawn(keep_renewing(
        LeaderElector::new(client.clone(), lease.clone()),
        acquired_at,
        lost_tx,
    ));
    let controller = run_controller(
        client,
        controller,
        health.metrics.clone(),
        health.ready.clone(),
        stopped(stop.clone()),
    );
    let result = tokio::select! {
        result = controller => Some(result),
        _ = lost_rx.changed() => None,
    };
    health.leading.store(false, Ordering::Relaxed);
    renewer.abort();
    let Some(result) = result else {
        tracing::error!(lease = %lease.name, "lost the leader Lease; stopped reconciling");
        let _ = finish(server, server_stop).await;
        return Err(RunError::LostLease(lease.name));
    };
    if let Err(e) = elector.release().await {
        tracing::warn!(error = %e, "releasing the leader Lease failed; it expires on its own");
    }
    result?;
    finish(server, server_stop).await
}

/// Renews the Lease every `renew_every` (half that after a failed attempt)
/// and reports its loss: another holder, or no successful renewal within
/// the renew deadline, counted from when the last successful request was
/// sent (the Lease's `renewTime` is stamped before sending), so the holder
/// gives up before any follower may take over.
async fn keep_renewing(elector: LeaderElector, acquired_at: Instant, lost: watch::Sender<bool>) {
    let config = elector.config().clone();
    let deadline = config.renew_deadline();
    let mut renewed_at = acquired_at;
    let mut pause = config.renew_every;
    loop {
        tokio::time::sleep(pause).await;
        let sent = Instant::now();
        let left = deadline.saturating_sub(sent.duration_since(renewed_at));
        match tokio::time::timeout(left, elector.try_acquire_or_renew()).await {
            Ok(Ok(true)) => renewed_at = sent,
            Ok(Ok(false)) => {
                tracing::warn!("another replica holds the leader Lease");
                break;
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "renewing the leader Lease failed"),
            Err(_) => tracing::warn!("renewing the leader Lease timed out"),
        }
        if renewed_at.elapsed() >= deadline {
            break;
        }
        // Retry sooner after a failed attempt.
        pause = if renewed_at == sent {
            config.renew_every
        } else {
            config.renew_every / 2
        };
    }
    let _ = lost.send(true);
}

/// Stops the endpoints and waits (briefly) for them to close.
async fn finish(
    server: tokio::task::JoinHandle<Result<(), RunError>>,
    stop: watch::Sender<bool>,
) -> Result<(), RunError> {
    let _ = stop.send(true);
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Ok(result)) => result,
        _ => Ok(()),
    }
}

/// Resolves once the stop flag is set.
async fn stopped(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("mediant-operator-{}", std::process::id()))
}
