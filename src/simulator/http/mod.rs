//! The device's HTTP side: the server ([`server`]), the route table
//! ([`router`]), the guard every request passes ([`guard`]: counters,
//! faults, authentication, the privilege table of [`access`], HA-sync 409s),
//! the `/_simulator` control endpoint ([`control`]) and the JSON answers and
//! upload decoding every resource shares ([`response`]).

pub(crate) mod access;
pub mod control;
pub(crate) mod guard;
mod response;
pub(crate) mod router;
pub(crate) mod server;

pub use response::*;
