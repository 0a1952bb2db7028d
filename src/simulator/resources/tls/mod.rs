//! TLS context files (`/files/tls…`, v7.4 document chapter 8): the private
//! key (size and validity only, never the key), the device certificate
//! (download, upload, self-signed generation, CSR) and the trusted root
//! store, of each TLS context the configuration defines.
//!
//! Behaviour beyond the document, chosen to be what a device plausibly does:
//! - every context starts with a 2048-bit key and a self-signed certificate
//!   (`CN=<MAC>, O=ACL`), generated when the context is first used;
//! - a new private key leaves the old certificate in place and `valid`
//!   turns false until a matching certificate is uploaded or generated;
//! - an uploaded certificate file may hold a chain: the first certificate is
//!   the device certificate and must match the key (else 400), the rest is
//!   ignored;
//! - an empty trusted root store answers `GET` with 400, per the document's
//!   rule for "requested resources that do not have any content";
//! - `password` of a key upload is read from a multipart part named
//!   `password` or from the query string.
//!
//! The 2015 dialect has no `/files/tls` (the core's dialect filter answers 404).

mod crypto;
mod pem;
mod routes;
mod store;

pub use crypto::{
    DEFAULT_GENERATED_KEY_SIZE, GENERATED_KEY_SIZES, SignatureHash, Subject, TlsError,
};
pub use routes::routes;
pub use store::{ContextEntry, KeyStatus, TlsStore, contexts};
