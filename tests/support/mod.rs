//! Helpers shared by the integration tests (`mod support;`).

// Each test crate uses a different part of these helpers.
#![allow(dead_code)]

/// The API server double: its own dev-only workspace crate
/// (`crates/apiserver-double`), compiled once for every test binary.
pub use apiserver_double as apiserver;

/// A loopback address with a port that was free a moment ago.
pub fn free_addr() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

/// A controller started in the background by [`spawn_controller`].
pub type ControllerTask =
    tokio::task::JoinHandle<Result<(), mediant_operator::controller::ControllerError>>;

/// Starts `run_controller` on the current runtime; sending on (or dropping)
/// the returned sender shuts it down.
pub fn spawn_controller(
    client: kube::Client,
    config: mediant_operator::controller::ControllerConfig,
    metrics: std::sync::Arc<mediant_operator::controller::Metrics>,
    ready: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> (tokio::sync::oneshot::Sender<()>, ControllerTask) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(mediant_operator::controller::run_controller(
        client,
        config,
        metrics,
        ready,
        async move {
            let _ = stopped.await;
        },
    ));
    (stop, task)
}
