//! Licence management (`/license`, v7.4 chapter 12, 2015 chapter 10).
//!
//! `GET` shows the installed key (the device does show it). `PUT` takes
//! either JSON (`licenseVersion`, optional `serialNumber`, `key`) — refused
//! with 409 on an HA device, as documented — or a licence file (multipart
//! part `file` in v7.4, `application/octet-stream` in 2015) that may hold keys
//! for several devices. Either way a new key makes the device reset (without
//! saving the running configuration).
//!
//! Real keys are encrypted blobs only AudioCodes can read, so the simulator
//! checks their form, not their content: a key is base64 text of at least
//! [`MIN_KEY_LEN`] characters. A licence file holds one key per line as
//! `S/N<serial> <key>` (separator: spaces, `=` or `:`); lines for other
//! serial numbers are skipped; `;`/`#` lines are comments. A mismatching
//! `serialNumber`, a file without a key for this device or a malformed key
//! is 400 ("provided license key is incorrect").

mod routes;
mod store;

pub use routes::routes;
pub use store::*;
