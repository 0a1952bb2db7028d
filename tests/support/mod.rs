//! Helpers shared by the integration tests (`mod support;`).

// Each test crate uses a different part of these helpers.
#![allow(dead_code)]

pub mod apiserver;
