//! The REST resources of a device, each its store (the state a device keeps
//! for it) and its routes in separate files: configuration files
//! ([`files`]), actions, status, alarms, performance monitoring ([`kpi`]),
//! TLS context files ([`tls`]), the licence, the navigation folders and the
//! media-components status.

pub(crate) mod actions;
pub mod alarms;
pub(crate) mod files;
pub mod kpi;
pub mod license;
pub(crate) mod mc_status;
pub(crate) mod navigation;
pub mod status;
pub mod tls;
