//! Clients of the devices we manage. They execute steps; they never decide
//! them (that is `plan`). Only I/O and the mapping of device answers to typed
//! errors live here.

mod error;
mod license;
mod mediant;
mod privilege;
mod retry;
mod tls;

pub use error::DeviceError;
pub use license::{InstalledLicense, LICENSE_VERSION, LicenseKey};
pub use mediant::{
    CliOutput, ClientOptions, Credentials, DEFAULT_BUSY_BUDGET, DeviceStatus, Dialect,
    MediantClient, OnBusy, RequestObserver, TlsTrust,
};
pub use privilege::{Privilege, required_privilege};
pub use retry::RetryPolicy;
pub use tls::{DeviceSubject, PrivateKeyState, TlsContextEntry};
