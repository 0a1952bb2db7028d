//! The command-line front ends that need more than a line in `main`:
//! `diff` and `apply` over manifests, and how they show plans.

pub mod manifests;
pub mod reconcile;
pub mod show;

pub use reconcile::{CommandError, Mode, ReconcileArgs, run};
