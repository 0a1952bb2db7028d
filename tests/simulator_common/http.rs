//! HTTP helpers the simulator tests share: a fleet with a short reset time,
//! and requests over real HTTP on loopback.

use std::time::Duration;

use mediant_operator::simulator::{Fleet, FleetConfig};
use reqwest::{Client, Method, Response};

/// How long a simulated reset takes in these tests.
pub const RESET: Duration = Duration::from_millis(300);

pub async fn start(config: FleetConfig) -> Fleet {
    Fleet::start(FleetConfig {
        reset_time: RESET,
        ..config
    })
    .await
    .expect("fleet starts")
}

pub async fn one() -> (Fleet, String) {
    let fleet = start(FleetConfig::default()).await;
    let base = fleet.devices()[0].base_url.clone();
    (fleet, base)
}

/// A client without connection reuse, so a reset or a dropped connection
/// shows on the next request instead of hiding in the pool.
pub fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

pub fn url(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

pub async fn call(base: &str, method: Method, path: &str, user: (&str, &str)) -> Response {
    client()
        .request(method, url(base, path))
        .basic_auth(user.0, Some(user.1))
        .send()
        .await
        .expect("request")
}
