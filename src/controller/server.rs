//! The operator's own HTTP endpoints: `/metrics` (Prometheus/OpenMetrics),
//! `/healthz` (the process is alive) and `/readyz` (the leader's caches are
//! synced, or this replica is a standby ready to take over).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::metrics::Metrics;

/// What the endpoints report.
#[derive(Clone)]
pub struct Health {
    /// The reconciler's metrics.
    pub metrics: Arc<Metrics>,
    /// Set by the controller once its first list succeeded.
    pub ready: Arc<AtomicBool>,
    /// Whether this replica leads; a follower is ready as a standby.
    pub leading: Arc<AtomicBool>,
}

/// The router of the three endpoints.
pub fn router(health: Health) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(health)
}

async fn metrics(State(h): State<Health>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, Metrics::CONTENT_TYPE)],
        h.metrics.encode(),
    )
}

async fn readyz(State(h): State<Health>) -> impl IntoResponse {
    if !h.leading.load(Ordering::Relaxed) {
        (StatusCode::OK, "standby")
    } else if h.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "starting: caches not synced",
        )
    }
}

/// Serves the endpoints on a bound listener until `shutdown` resolves.
/// (The caller binds, so a taken port fails the process before it joins
/// the leader election.)
pub async fn serve(
    listener: tokio::net::TcpListener,
    health: Health,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(address = %listener.local_addr()?, "serving /metrics, /healthz, /readyz");
    axum::serve(listener, router(health))
        .with_graceful_shutdown(shutdown)
        .await
}
