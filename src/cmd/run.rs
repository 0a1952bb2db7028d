//! `mediant-operator run`: the Kubernetes controller process — kubeconfig
//! or in-cluster client, then `crate::controller::run::lead_and_run`
//! (leader election, health and metrics endpoints, graceful shutdown on
//! SIGTERM/Ctrl-C).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use tokio::sync::watch;

use crate::controller::leader::LeaseConfig;
use crate::controller::logging::{self, LogFormat};
use crate::controller::run::{RunError, lead_and_run};
use crate::controller::{ControllerConfig, DigestKeySource};
use crate::plan::DigestKey;

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
    /// Secret (in the Lease's namespace, data key `key`) holding the key of
    /// the write-only-secret digests in status (`appliedSecretDigests`,
    /// HMAC-SHA256); the leader creates it with a random key when absent.
    #[arg(long, default_value = crate::controller::DIGEST_KEY_SECRET)]
    pub digest_key_secret: String,
    /// File holding the digest key instead (at least 32 bytes of text,
    /// e.g. a mounted Secret); the Secret is then not read.
    #[arg(long)]
    pub digest_key_file: Option<PathBuf>,
    /// While cert-manager's CertificateRequests are not served (cert-manager
    /// not installed yet), how often to check whether they are now; once
    /// they are, TlsContexts follow them without a restart. Go duration, at
    /// least 1s.
    #[arg(long, default_value = "60s", value_parser = recheck_duration)]
    pub cert_manager_recheck: Duration,
}

/// A Go-style duration of at least one second.
fn recheck_duration(text: &str) -> Result<Duration, String> {
    let d: Duration = kube::core::Duration::from_str(text)
        .map_err(|e| format!("not a duration like 60s or 5m: {e}"))?
        .into();
    if d < Duration::from_secs(1) {
        return Err("at least 1s".into());
    }
    Ok(d)
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

    let digest_key = match &args.digest_key_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                RunError::Config(format!(
                    "cannot read the digest key file {}: {e}",
                    path.display()
                ))
            })?;
            let key = DigestKey::from_text(&text).map_err(|e| {
                RunError::Config(format!("the digest key file {}: {e}", path.display()))
            })?;
            DigestKeySource::Given(key)
        }
        None => DigestKeySource::Secret(args.digest_key_secret.clone()),
    };
    let controller = ControllerConfig {
        namespace: args.namespace.clone(),
        instance: Some(identity.clone()),
        concurrency: args.concurrency,
        digest_key,
        cert_manager_recheck: args.cert_manager_recheck,
        ..ControllerConfig::default()
    };
    lead_and_run(client, lease, controller, args.metrics_addr, stop_rx).await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cert_manager_recheck_is_a_go_duration_of_at_least_a_second() {
        assert_eq!(recheck_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(recheck_duration("2m30s"), Ok(Duration::from_secs(150)));
        assert!(recheck_duration("500ms").is_err_and(|e| e.contains("at least 1s")));
        assert!(recheck_duration("soon").is_err_and(|e| e.contains("not a duration")));
    }
}
