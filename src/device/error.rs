//! Every way a device request can fail that a user must act on differently.
//! Messages name the device and the resource, never a credential.

use super::privilege::Privilege;

/// A failed device request.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The endpoint or TLS settings cannot be used.
    #[error("invalid device settings: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// 401: wrong or missing username/password.
    #[error(
        "{endpoint} rejected the credentials (401 Unauthorized): check the username and password in the credentials Secret"
    )]
    Unauthorized {
        /// The device's base URL.
        endpoint: String,
    },
    /// 403/405 on a method the resource offers: the user's level is too low.
    #[error(
        "{method} {resource} was refused ({status}): the device user needs at least {needed} privilege"
    )]
    Forbidden {
        /// HTTP method.
        method: String,
        /// Resource below `/api/v1`.
        resource: String,
        /// 403 or 405.
        status: u16,
        /// The documented minimum level.
        needed: Privilege,
    },
    /// 405 on a method the resource does not offer at all.
    #[error("{method} {resource} is not supported by the device (405 Method Not Allowed)")]
    NotSupported {
        /// HTTP method.
        method: String,
        /// Resource below `/api/v1`.
        resource: String,
    },
    /// 409 after every retry: HA synchronisation or another state that says "not now".
    #[error(
        "{method} {resource}: device busy after {attempts} attempts (409 Conflict: {description})"
    )]
    Busy {
        /// HTTP method.
        method: String,
        /// Resource below `/api/v1`.
        resource: String,
        /// Attempts made.
        attempts: u32,
        /// The device's own description.
        description: String,
    },
    /// 400: the device refused the content; sending it again will not help.
    #[error("{method} {resource} was rejected by the device (400 Bad Request): {description}")]
    Rejected {
        /// HTTP method.
        method: String,
        /// Resource below `/api/v1`.
        resource: String,
        /// The device's own description.
        description: String,
    },
    /// 404.
    #[error("{method} {resource}: not found on the device (404)")]
    NotFound {
        /// HTTP method.
        method: String,
        /// Resource below `/api/v1`.
        resource: String,
    },
    /// Another unexpected status (5xx …).
    #[error("{method} {resource} failed with HTTP {status}: {description}")]
    Server {
        /// HTTP method.
        method: String,
        /// Resource below `/api/v1`.
        resource: String,
        /// HTTP status.
        status: u16,
        /// The device's description or the body's start.
        description: String,
    },
    /// The device's certificate failed verification: permanent until the
    /// trust settings or the certificate change, so never retried.
    #[error(
        "{endpoint}: TLS verification of the device's certificate failed ({reason}); this is \
         not a network problem: give the CA that issued the device certificate (tls.caBundle), \
         or fix the certificate"
    )]
    TlsVerification {
        /// The device's base URL.
        endpoint: String,
        /// What the TLS layer said.
        reason: String,
    },
    /// A request that must not be sent twice (a full upload, a reset, a
    /// licence, software, a CLI script) lost its answer after it was sent:
    /// the device may have applied it.
    #[error(
        "{endpoint}: the answer to {request} was lost ({reason}); the device may have \
         applied {what}; its state is unknown: re-observe before trying again"
    )]
    Unconfirmed {
        /// The device's base URL.
        endpoint: String,
        /// Method and resource below `/api/v1` (`PUT files/ini`).
        request: String,
        /// What the device may have applied, in words.
        what: &'static str,
        /// What the transport said.
        reason: String,
    },
    /// An incremental CLI script answered 200 with a `status` other than
    /// `success`: lines before the failing one may be applied (partial
    /// apply), so the device must be re-observed.
    #[error(
        "the device reported the CLI script as `{status}`: {description}{}; lines before the \
         failing one may have been applied: re-observe the device",
        if lines.is_empty() { String::new() } else { format!(" (device output: {})", lines.join(" | ")) }
    )]
    CliFailed {
        /// The device's `status` value.
        status: String,
        /// The device's `description`.
        description: String,
        /// The relevant lines of `output`, secrets masked.
        lines: Vec<String>,
    },
    /// No connection, reset connection, DNS, TLS handshake … after every retry.
    #[error("{endpoint} is unreachable: {reason}")]
    Unreachable {
        /// The device's base URL.
        endpoint: String,
        /// What the transport said.
        reason: String,
    },
    /// No answer in time after every retry.
    #[error("{endpoint} did not answer {method} {resource} in time")]
    Timeout {
        /// The device's base URL.
        endpoint: String,
        /// HTTP method.
        method: String,
        /// Resource below `/api/v1`.
        resource: String,
    },
    /// A device reset did not complete in time.
    #[error("{endpoint} did not come back within {seconds} s after a reset")]
    ResetTimeout {
        /// The device's base URL.
        endpoint: String,
        /// How long we waited.
        seconds: u64,
    },
    /// The device's firmware generation has no such API at all.
    #[error("{feature} is not supported on {dialect} firmware: {hint}")]
    NotInDialect {
        /// What was asked for, e.g. `TLS context files (/files/tls)`.
        feature: &'static str,
        /// The device's dialect, e.g. `2015`.
        dialect: &'static str,
        /// What the user can do instead.
        hint: &'static str,
    },
    /// The part of a step done outside the device (e.g. creating a
    /// cert-manager CertificateRequest from the CSR the device returned)
    /// failed; what the step sent to the device before it succeeded.
    #[error("{what} failed: {reason}")]
    External {
        /// What was attempted.
        what: String,
        /// Why it failed (never a secret value).
        reason: String,
    },
    /// The answer was not what the document describes.
    #[error("{method} {resource}: unexpected answer from the device: {reason}")]
    InvalidResponse {
        /// HTTP method.
        method: String,
        /// Resource below `/api/v1`.
        resource: String,
        /// What was wrong with it.
        reason: String,
    },
}

impl DeviceError {
    /// Whether the device could not be reached (as opposed to answering "no").
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            DeviceError::Unreachable { .. }
                | DeviceError::Timeout { .. }
                | DeviceError::ResetTimeout { .. }
        )
    }

    /// Whether the device may have applied part or all of the request, so
    /// its state is unknown and must be observed again before planning.
    pub fn state_unknown(&self) -> bool {
        matches!(
            self,
            DeviceError::Unconfirmed { .. } | DeviceError::CliFailed { .. }
        )
    }

    /// A short, bounded identifier of the failure kind, for event reasons and
    /// metric labels (never free text).
    pub fn category(&self) -> &'static str {
        match self {
            DeviceError::Config { .. } => "Config",
            DeviceError::Unauthorized { .. } => "Unauthorized",
            DeviceError::Forbidden { .. } => "InsufficientPrivilege",
            DeviceError::NotSupported { .. } => "NotSupported",
            DeviceError::Busy { .. } => "DeviceBusy",
            DeviceError::Rejected { .. } => "Rejected",
            DeviceError::NotFound { .. } => "NotFound",
            DeviceError::Server { .. } => "DeviceError",
            DeviceError::Unreachable { .. } => "Unreachable",
            DeviceError::TlsVerification { .. } => "TlsVerificationFailed",
            DeviceError::Unconfirmed { .. } => "AnswerLost",
            DeviceError::CliFailed { .. } => "CliScriptFailed",
            DeviceError::Timeout { .. } => "Timeout",
            DeviceError::ResetTimeout { .. } => "ResetTimeout",
            DeviceError::InvalidResponse { .. } => "InvalidResponse",
            DeviceError::NotInDialect { .. } => "NotSupported",
            DeviceError::External { .. } => "KubeApiError",
        }
    }
}
