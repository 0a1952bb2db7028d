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
