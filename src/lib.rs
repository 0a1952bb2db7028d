//! mediant-operator: declarative management of AudioCodes Mediant SBCs and gateways.
//!
//! Data flows one way (see `DESIGN.md` in the shared folder):
//! manifests → observe the device → `plan(desired, observed)` → apply → status.
//! `config` holds the pure models (INI, CLI) and is free of I/O.

pub mod api;
pub mod cmd;
pub mod config;
pub mod controller;
pub mod device;
pub mod plan;
pub mod simulator;
pub mod sync;
