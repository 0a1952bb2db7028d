//! A faithful simulator of Mediant devices, built from the REST API
//! documents (v7.4 and the 2015 dialect), the AudioCodes manuals and the CLI
//! reference, never from our client: it uses nothing of `config`, `device`
//! or `plan` (`tests/architecture.rs` checks it). Which behaviour rests on
//! which source, and which is our assumption, is listed in
//! `src/simulator/README.md`.
//!
//! # What a simulated device does
//! - Serves `/api/v1` over HTTP/1.1 (optionally HTTPS) with HTTP Basic auth
//!   and the documents' privilege table (see [`users`] for the users:
//!   `Admin`/`Admin` Security Administrator, `Operator`/`Operator`
//!   Administrator, `Monitor`/`Monitor` Monitor).
//! - Keeps a running and a startup configuration; incremental INI/CLI
//!   change running, `saveConfiguration` copies it to startup, every reset
//!   brings startup back, and a resetting device refuses connections.
//! - Writes its own INI and CLI (header, canonical names, its own quoting,
//!   defaults omitted, full table columns), never an echo of an upload.
//! - Takes faults on demand (see [`control`] for the `/_simulator` endpoint).
//!
//! Start devices with [`Fleet::start`] (tests) or `mediant-operator simulate`.

mod cmd;
pub mod device;
pub mod firmware;
mod fleet;
pub mod http;
pub mod resources;

pub use cmd::{SimulateArgs, run};
pub use device::{counters, faults, users};
pub use firmware::seed;
pub use fleet::{Fleet, FleetConfig, SimError, SimulatedDevice};
pub use http::control;
pub use http::guard::Caller;
pub use resources::{alarms, kpi, license, status, tls};
