//! The Kubernetes controllers: kube-runtime wiring (one `Controller` per
//! kind registered in `crate::plan::kinds`), the one reconcile pipeline
//! generic over `crate::plan::Kind`, status, events, metrics and the device
//! locks.
//! The process around it (leader election, HTTP endpoints, logging, the
//! `run` command) is in [`leader`], [`server`], [`logging`] and [`run`].
//!
//! # Guarantees
//! - The controller talks to devices only through `crate::plan` (observe,
//!   plan, apply, `client_for`), as the command line does.
//! - One writer per device at a time ([`DeviceLocks`], keyed by endpoint).
//! - In sync means no writes: an in-sync device gets only the GETs needed
//!   to observe it, and its status is not rewritten (see
//!   [`reconcile::status`] for `lastSyncTime`).
//! - A malformed resource gets `Stalled=True` (reason `InvalidSpec`) and
//!   does not stop the others ([`reconcile::invalid`]).
//! - Failures back off exponentially per object ([`backoff`]); an in-sync
//!   device is checked again every `spec.interval` ±10 %.
//! - Secret values never appear in status, events, logs, errors or metrics.
//!
//! # Caveats
//! - Secrets and ConfigMaps are watched in the whole watched scope (all
//!   namespaces, or the configured one) to requeue the devices naming
//!   them, as metadata only (`PartialObjectMeta`): nothing of them is
//!   cached and their data never comes through the watch; a reconcile
//!   reads the keys its resource names.
//! - kube-runtime's stable API cannot filter the controller's own status
//!   writes out of the watch; the context remembers the resourceVersion
//!   each write produced and skips the echo (`Context::own_write_only`),
//!   so a write neither costs a second look at the device nor cuts a
//!   failure's backoff short. After a restart the first echo is not known
//!   and costs one extra observation.
//! - Readiness means "the API answered a list of MediantDevices and the
//!   controller runs", not "the cache is filled" (see `run_controller`).
//! - cert-manager installed after the operator started: the kinds that
//!   sign through it list CertificateRequests again every
//!   `ControllerConfig::cert_manager_recheck` and, once served, rebuild
//!   their controller with the watch (see `runner::run_kind`).
//! - Deletion policy `Orphan` (the only one) needs no finalizer: deleting a
//!   MediantDevice leaves the device's configuration as it is.

mod backoff;
pub mod cert_manager;
mod clients;
mod config;
mod context;
mod error;
#[cfg(test)]
mod external_target_test;
pub mod leader;
pub mod locks;
pub mod logging;
mod metrics;
pub mod reconcile;
pub mod run;
mod runner;
pub mod server;
pub mod shield;
pub mod sources;
pub mod watches;

pub use crate::plan::PAUSED_ANNOTATION;
pub use backoff::{FailureBackoff, jittered};
pub use clients::{ClientInputs, KeptClient};
pub use config::{ControllerConfig, DIGEST_KEY_SECRET, DigestKeySource, FIELD_MANAGER};
pub use context::{Context, KIND, Records};
pub use error::{ControllerError, ReconcileError};
pub use locks::{DeviceLocks, normalise_endpoint};
pub use metrics::{Metrics, ReconcileTimer};
pub use runner::{run_controller, run_controller_with_locks};
