//! `/files`: the INI file and CLI script (full and incremental), software
//! loads and auxiliary files ([`routes`]), and the configuration package
//! ([`package`]). Their store is the device's configuration itself
//! ([`crate::simulator::firmware`]) and its auxiliary files.

pub(crate) mod package;
pub(crate) mod routes;

pub(crate) use routes::*;
