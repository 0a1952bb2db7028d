//! mediant-operator: declarative management of AudioCodes Mediant SBCs and gateways.
//!
//! Data flows one way: a resource → its desired state → observe the device
//! → `plan(desired, observed)` (pure) → apply → verify → status. Every kind
//! of resource goes through the one pipeline behind the `plan::Kind` seam
//! (see `ARCHITECTURE.md`).
//!
//! # Which module may use which
//!
//! Arrows point from user to used (`tests/architecture.rs` enforces them):
//!
//! ```text
//! main ─► cmd ─► controller ─► plan ─► device ─► config
//!          │         │           │                 ▲
//!          │         └──► api ◄──┘                 │
//!          └──► simulator ─────────────────────────┘      sync: used by all
//! ```
//!
//! - [`config`] (INI, CLI, PEM models) uses nothing of ours: pure, no I/O,
//!   no Kubernetes, no tokio or HTTP.
//! - [`device`] (clients) uses `config`, never `plan`, `api` or
//!   `controller`: clients execute steps, they do not decide them.
//! - [`api`] (CRD types, schema, CEL, validation) uses nothing of ours:
//!   not `config` either, since parsing and merging the texts a spec names
//!   is `plan`'s.
//! - [`plan`] (the kind seam, the engine, each kind's plan) uses `config`,
//!   `device`, `api`; never `controller` or `cmd`: both front ends share it.
//! - [`controller`] uses `plan`, `api`, `device`; never `cmd`.
//! - [`simulator`] may use `config`'s data structures, never `device`,
//!   `plan`, `api` or `controller`: it is built from the documents, not from
//!   our client.
//! - [`cmd`] holds the front ends (every subcommand) and may use all of the
//!   above; only `main.rs` uses it.
//! - [`sync`] uses nothing of ours.

// No unwrap()/expect() outside tests: errors are values with messages a user
// can act on (unit tests, under cfg(test), may unwrap).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod cmd;
pub mod config;
pub mod controller;
pub mod device;
pub mod plan;
pub mod simulator;
pub mod sync;
