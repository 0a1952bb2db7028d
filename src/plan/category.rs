//! The bounded set of error categories: one name per way a reconciliation
//! can fail that a user acts on differently. A category is a condition
//! reason, an event reason and a metric label, so it is never free text.

use crate::device::DeviceError;

/// Why a reconciliation failed, as a bounded identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// The connection settings in the spec cannot be used.
    Config,
    /// The device rejected the credentials.
    Unauthorized,
    /// The device user's privilege level is too low.
    InsufficientPrivilege,
    /// The device does not support the request.
    NotSupported,
    /// The device stayed busy (409) through the retries.
    DeviceBusy,
    /// The device rejected the content (400).
    Rejected,
    /// The device has no such resource (404).
    NotFound,
    /// The device failed the request (5xx).
    DeviceError,
    /// The device could not be reached.
    Unreachable,
    /// The device did not answer in time.
    Timeout,
    /// The device did not come back after a reset.
    ResetTimeout,
    /// The device's answer was not what its API documents.
    InvalidResponse,
    /// The device's TLS certificate failed verification (permanent until
    /// the trust settings or the device's certificate change).
    TlsVerificationFailed,
    /// The answer to a write that must not be sent twice was lost: the
    /// device may have applied it; it is re-observed, not resent.
    AnswerLost,
    /// The device ran a CLI script and reported a failure (HTTP 200 with a
    /// `status` other than `success`); lines before it may be applied.
    CliScriptFailed,
    /// A Secret the spec names does not exist.
    SecretNotFound,
    /// A ConfigMap the spec names does not exist.
    ConfigMapNotFound,
    /// The MediantDevice a `deviceRef` names does not exist.
    DeviceNotFound,
    /// A Secret or ConfigMap lacks the key the spec names.
    KeyMissing,
    /// A Secret or ConfigMap value is not UTF-8 text.
    NotText,
    /// The Kubernetes API did not answer a read.
    KubeApiError,
    /// The spec, or text it refers to, is invalid.
    InvalidSpec,
    /// The connection settings cannot be used (e.g. a CA bundle that is not PEM).
    InvalidConnectionSettings,
    /// The device's own configuration file did not parse.
    DeviceConfigUnreadable,
    /// Observing failed for another reason.
    ObserveFailed,
    /// Applying failed for another reason.
    ApplyFailed,
    /// A desired value cannot be written in the device's format.
    UnrenderableValue,
    /// A bug of ours: please report it.
    InternalError,
    /// The status could not be written.
    StatusWriteFailed,
}

impl Category {
    /// Every category, in declaration order.
    pub const ALL: [Category; 29] = [
        Category::Config,
        Category::Unauthorized,
        Category::InsufficientPrivilege,
        Category::NotSupported,
        Category::DeviceBusy,
        Category::Rejected,
        Category::NotFound,
        Category::DeviceError,
        Category::Unreachable,
        Category::Timeout,
        Category::ResetTimeout,
        Category::InvalidResponse,
        Category::TlsVerificationFailed,
        Category::AnswerLost,
        Category::CliScriptFailed,
        Category::SecretNotFound,
        Category::ConfigMapNotFound,
        Category::DeviceNotFound,
        Category::KeyMissing,
        Category::NotText,
        Category::KubeApiError,
        Category::InvalidSpec,
        Category::InvalidConnectionSettings,
        Category::DeviceConfigUnreadable,
        Category::ObserveFailed,
        Category::ApplyFailed,
        Category::UnrenderableValue,
        Category::InternalError,
        Category::StatusWriteFailed,
    ];

    /// The name used as condition reason, event reason and metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Config => "Config",
            Category::Unauthorized => "Unauthorized",
            Category::InsufficientPrivilege => "InsufficientPrivilege",
            Category::NotSupported => "NotSupported",
            Category::DeviceBusy => "DeviceBusy",
            Category::Rejected => "Rejected",
            Category::NotFound => "NotFound",
            Category::DeviceError => "DeviceError",
            Category::Unreachable => "Unreachable",
            Category::Timeout => "Timeout",
            Category::ResetTimeout => "ResetTimeout",
            Category::InvalidResponse => "InvalidResponse",
            Category::TlsVerificationFailed => "TlsVerificationFailed",
            Category::AnswerLost => "AnswerLost",
            Category::CliScriptFailed => "CliScriptFailed",
            Category::SecretNotFound => "SecretNotFound",
            Category::ConfigMapNotFound => "ConfigMapNotFound",
            Category::DeviceNotFound => "DeviceNotFound",
            Category::KeyMissing => "KeyMissing",
            Category::NotText => "NotText",
            Category::KubeApiError => "KubeApiError",
            Category::InvalidSpec => "InvalidSpec",
            Category::InvalidConnectionSettings => "InvalidConnectionSettings",
            Category::DeviceConfigUnreadable => "DeviceConfigUnreadable",
            Category::ObserveFailed => "ObserveFailed",
            Category::ApplyFailed => "ApplyFailed",
            Category::UnrenderableValue => "UnrenderableValue",
            Category::InternalError => "InternalError",
            Category::StatusWriteFailed => "StatusWriteFailed",
        }
    }

    /// Whether only a change by the user can fix it (the resource is
    /// Stalled), rather than time (it is Reconciling, retried with backoff).
    pub fn needs_user(self) -> bool {
        matches!(
            self,
            Category::Config
                | Category::Unauthorized
                | Category::InsufficientPrivilege
                | Category::NotSupported
                | Category::Rejected
                | Category::TlsVerificationFailed
                | Category::CliScriptFailed
                | Category::SecretNotFound
                | Category::ConfigMapNotFound
                | Category::DeviceNotFound
                | Category::KeyMissing
                | Category::NotText
                | Category::InvalidSpec
                | Category::InvalidConnectionSettings
                | Category::DeviceConfigUnreadable
                | Category::UnrenderableValue
                | Category::InternalError
        )
    }

    /// The category of a device client's error.
    pub fn of_device(error: &DeviceError) -> Category {
        match error {
            DeviceError::Config { .. } => Category::Config,
            DeviceError::Unauthorized { .. } => Category::Unauthorized,
            DeviceError::Forbidden { .. } => Category::InsufficientPrivilege,
            DeviceError::NotSupported { .. } => Category::NotSupported,
            DeviceError::Busy { .. } => Category::DeviceBusy,
            DeviceError::Rejected { .. } => Category::Rejected,
            DeviceError::NotFound { .. } => Category::NotFound,
            DeviceError::Server { .. } => Category::DeviceError,
            DeviceError::Unreachable { .. } => Category::Unreachable,
            DeviceError::Timeout { .. } => Category::Timeout,
            DeviceError::ResetTimeout { .. } => Category::ResetTimeout,
            DeviceError::InvalidResponse { .. } => Category::InvalidResponse,
            DeviceError::NotInDialect { .. } => Category::NotSupported,
            DeviceError::TlsVerification { .. } => Category::TlsVerificationFailed,
            DeviceError::Unconfirmed { .. } => Category::AnswerLost,
            DeviceError::CliFailed { .. } => Category::CliScriptFailed,
            DeviceError::External { .. } => Category::KubeApiError,
        }
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_and_match_the_device_clients() {
        let names: std::collections::BTreeSet<&str> =
            Category::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), Category::ALL.len());
        let e = DeviceError::Busy {
            method: "PUT".into(),
            resource: "files/ini".into(),
            attempts: 3,
            description: "HA".into(),
        };
        assert_eq!(Category::of_device(&e).as_str(), e.category());
        assert!(!Category::of_device(&e).needs_user());
        assert!(Category::SecretNotFound.needs_user());
        assert!(!Category::KubeApiError.needs_user());
    }
}
