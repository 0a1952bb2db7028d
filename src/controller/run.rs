//! The controller process behind `mediant-operator run` (its arguments and
//! client set-up are in `crate::cmd::run`): leader election, health and
//! metrics endpoints, graceful shutdown.
//!
//! # Guarantees
//! Only the Lease holder runs the reconciler. A holder that loses the Lease
//! (another holder, or no renewal within the renew deadline, two thirds of
//! the lease) cancels its reconciliations at once and the process exits
//! with an error, so Kubernetes restarts it as a follower; on SIGTERM the
//! holder keeps renewing while it finishes the reconciliations in flight,
//! then releases the Lease (a follower takes over at once) and exits 0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::config::DigestKeySource;
use super::leader::{LeaderElector, LeaseConfig};
use super::metrics::Metrics;
use super::server::{self, Health};
use super::{ControllerConfig, run_controller};
use crate::plan::DigestKey;

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
    /// The digest key's Secret could not be read or created.
    #[error(
        "cannot read or create the digest key Secret {namespace}/{name}: {reason} (the \
         operator needs get and create on it; or give a key with --digest-key-file)"
    )]
    DigestKey {
        /// The Secret's namespace (the Lease's).
        namespace: String,
        /// The Secret's name.
        name: String,
        /// What failed (never the key).
        reason: String,
    },
}

/// The data key of the digest key's Secret.
pub const DIGEST_KEY_DATA: &str = "key";

/// The digest key from the Secret `name` in `namespace`, created with a
/// random key when absent (by the leader only, so replicas do not race;
/// a 409 means another one created it first: it is read again).
pub async fn digest_key_from_secret(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<DigestKey, RunError> {
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{Api, PostParams};
    let failed = |reason: String| RunError::DigestKey {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        reason,
    };
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let read = |secret: &Secret| -> Result<DigestKey, RunError> {
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(DIGEST_KEY_DATA))
            .ok_or_else(|| failed(format!("it has no data key `{DIGEST_KEY_DATA}`")))?;
        let text = std::str::from_utf8(&bytes.0)
            .map_err(|_| failed(format!("its `{DIGEST_KEY_DATA}` is not UTF-8")))?;
        DigestKey::from_text(text).map_err(|e| failed(e.to_string()))
    };
    for _ in 0..2 {
        if let Some(secret) = api.get_opt(name).await.map_err(|e| failed(e.to_string()))? {
            return read(&secret);
        }
        let (key, text) = DigestKey::generate().map_err(|e| failed(e.to_string()))?;
        let secret = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(namespace.to_owned()),
                labels: Some(std::collections::BTreeMap::from([(
                    "app.kubernetes.io/managed-by".to_owned(),
                    "mediant-operator".to_owned(),
                )])),
                ..Default::default()
            },
            data: Some(std::collections::BTreeMap::from([(
                DIGEST_KEY_DATA.to_owned(),
                k8s_openapi::ByteString(text.into_bytes()),
            )])),
            type_: Some("Opaque".to_owned()),
            ..Secret::default()
        };
        match api.create(&PostParams::default(), &secret).await {
            Ok(_) => {
                tracing::info!(namespace, name, "created the digest key Secret");
                return Ok(key);
            }
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => return Err(failed(e.to_string())),
        }
    }
    Err(failed("it was created and deleted concurrently".to_owned()))
}

/// The election loop around the controller: follow until the Lease is won,
/// then run the controller while renewing it.
pub async fn lead_and_run(
    client: kube::Client,
    lease: LeaseConfig,
    mut controller: ControllerConfig,
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
    if let DigestKeySource::Secret(name) = &controller.digest_key {
        match digest_key_from_secret(&client, &lease.namespace, name).await {
            Ok(key) => controller.digest_key = DigestKeySource::Given(key),
            Err(e) => {
                let _ = elector.release().await;
                let _ = finish(server, server_stop).await;
                return Err(e);
            }
        }
    }
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
        // A write already sent finishes with its save, within the margin
        // before a follower may take over (the Lease's last third).
        let margin = lease.duration.saturating_sub(lease.renew_deadline());
        let left = super::shield::drain(margin).await;
        if left > 0 {
            tracing::warn!(
                left,
                "device writes still running at exit; their saves are recorded as pending"
            );
        }
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
