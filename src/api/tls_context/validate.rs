//! The checks of a TlsContext spec that the command line makes without an
//! API server: the same as the CRD's CEL rules and patterns, so `apply -f`
//! refuses what a cluster refuses.

use std::str::FromStr;
use std::time::Duration;

use super::{KEY_SIZES, TlsContextSpec};

/// A TlsContext spec the operator cannot act on. Messages name the field;
/// they never quote a Secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsContextError {
    /// An exactly-one-of rule is broken.
    #[error("{field}: {rule}")]
    OneOf {
        /// The field.
        field: &'static str,
        /// The rule, in words.
        rule: &'static str,
    },
    /// A field's value is out of range or malformed.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// What a valid value looks like.
        reason: String,
    },
}

fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn is_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// Whether `s` is a `TLSContexts` column name (without the table prefix).
pub(crate) fn is_column(s: &str) -> bool {
    let mut bytes = s.bytes();
    s.len() <= 64
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A Go-style duration of `field`.
pub(crate) fn duration(field: &str, text: &str) -> Result<Duration, TlsContextError> {
    kube::core::Duration::from_str(text)
        .map(Duration::from)
        .map_err(|_| TlsContextError::Invalid {
            field: field.to_string(),
            reason: "not a duration such as 720h or 90m".into(),
        })
}

impl TlsContextSpec {
    /// Checks what the schema and its CEL rules check.
    pub fn validate(&self) -> Result<(), TlsContextError> {
        let invalid = |field: &str, reason: &str| TlsContextError::Invalid {
            field: field.to_string(),
            reason: reason.to_string(),
        };
        const NAME: &str = "a lower-case DNS name (letters, digits, - and .)";
        const KEY: &str = "a key: letters, digits, -, . and _";
        if !is_dns_name(&self.device_ref.name) {
            return Err(invalid("spec.deviceRef.name", NAME));
        }
        if self.context.index.is_none() && self.context.name.is_none() {
            return Err(TlsContextError::OneOf {
                field: "spec.context",
                rule: "context needs an index or a name (or both)",
            });
        }
        if self.context.index.is_some_and(|i| i > 1023) {
            return Err(invalid("spec.context.index", "at most 1023"));
        }
        if let Some(name) = &self.context.name
            && (name.is_empty()
                || name.chars().count() > 31
                || name.contains(['"', '\'', ',', ';']))
        {
            return Err(invalid(
                "spec.context.name",
                "1 to 31 characters, without quotes, commas or semicolons",
            ));
        }
        for column in self.settings.keys() {
            if !is_column(column) {
                return Err(invalid(
                    "spec.settings",
                    "keys are TLSContexts column names (a letter, then letters, digits or _)",
                ));
            }
            if column.eq_ignore_ascii_case("Name") || column.eq_ignore_ascii_case("Index") {
                return Err(invalid(
                    "spec.settings",
                    "Name and Index are set through spec.context, not settings",
                ));
            }
        }
        let source = &self.certificate;
        match (&source.secret_ref, &source.generate_on_device) {
            (Some(secret), None) => {
                if !is_dns_name(&secret.name) {
                    return Err(invalid("spec.certificate.secretRef.name", NAME));
                }
                if let Some(p) = &secret.key_password_secret_ref {
                    if !is_dns_name(&p.name) {
                        return Err(invalid(
                            "spec.certificate.secretRef.keyPasswordSecretRef.name",
                            NAME,
                        ));
                    }
                    if !is_key(&p.key) {
                        return Err(invalid(
                            "spec.certificate.secretRef.keyPasswordSecretRef.key",
                            KEY,
                        ));
                    }
                }
            }
            (None, Some(generate)) => {
                if !KEY_SIZES.contains(&generate.key_size) {
                    return Err(invalid(
                        "spec.certificate.generateOnDevice.keySize",
                        "keySize must be one of 512, 768, 1024, 2048, 4096",
                    ));
                }
                let subject = match (&generate.self_signed, &generate.certificate_request) {
                    (Some(s), None) => &s.subject,
                    (None, Some(r)) => {
                        if r.issuer_ref.name.is_empty() {
                            return Err(invalid(
                                "spec.certificate.generateOnDevice.certificateRequest.issuerRef.name",
                                "the name of a cert-manager Issuer or ClusterIssuer",
                            ));
                        }
                        duration(
                            "spec.certificate.generateOnDevice.certificateRequest.renewBefore",
                            &r.renew_before,
                        )?;
                        if let Some(d) = &r.duration {
                            duration(
                                "spec.certificate.generateOnDevice.certificateRequest.duration",
                                d,
                            )?;
                        }
                        if let Some(name) = &r.publish_secret_name
                            && !is_dns_name(name)
                        {
                            return Err(invalid(
                                "spec.certificate.generateOnDevice.certificateRequest.publishSecretName",
                                NAME,
                            ));
                        }
                        &r.subject
                    }
                    _ => {
                        return Err(TlsContextError::OneOf {
                            field: "spec.certificate.generateOnDevice",
                            rule: "generateOnDevice needs exactly one of selfSigned and certificateRequest",
                        });
                    }
                };
                if !subject.country.is_empty()
                    && (subject.country.len() != 2
                        || !subject.country.bytes().all(|b| b.is_ascii_alphabetic()))
                {
                    return Err(invalid(
                        "spec.certificate.generateOnDevice subject.country",
                        "two letters (ISO 3166)",
                    ));
                }
            }
            _ => {
                return Err(TlsContextError::OneOf {
                    field: "spec.certificate",
                    rule: "certificate needs exactly one of secretRef and generateOnDevice",
                });
            }
        }
        if let Some(roots) = &self.trusted_roots {
            if roots.sources.is_empty() || roots.sources.len() > 32 {
                return Err(invalid(
                    "spec.trustedRoots.sources",
                    "1 to 32 sources (to empty the store, remove it on the device)",
                ));
            }
            for source in &roots.sources {
                let r = match (&source.secret_key_ref, &source.config_map_key_ref) {
                    (Some(r), None) | (None, Some(r)) => r,
                    _ => {
                        return Err(TlsContextError::OneOf {
                            field: "spec.trustedRoots.sources",
                            rule: "a trusted root source needs exactly one of secretKeyRef and configMapKeyRef",
                        });
                    }
                };
                if !is_dns_name(&r.name) {
                    return Err(invalid("spec.trustedRoots.sources[].name", NAME));
                }
                if !is_key(&r.key) {
                    return Err(invalid("spec.trustedRoots.sources[].key", KEY));
                }
            }
        }
        if !(1..=3650).contains(&self.expiry_warning_days) {
            return Err(invalid("spec.expiryWarningDays", "1 to 3650"));
        }
        self.interval()?;
        Ok(())
    }

    /// `spec.interval`, at least 10s (the CEL rule's bound).
    pub fn interval(&self) -> Result<Duration, TlsContextError> {
        let field = "spec.interval";
        if self.interval.len() > 32 {
            return Err(TlsContextError::Invalid {
                field: field.into(),
                reason: "at most 32 characters".into(),
            });
        }
        let interval = duration(field, &self.interval)?;
        if interval < MIN_INTERVAL {
            return Err(TlsContextError::Invalid {
                field: field.into(),
                reason: "interval must be at least 10s".into(),
            });
        }
        Ok(interval)
    }
}

/// The smallest drift-check interval accepted (as for MediantDevice).
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);
