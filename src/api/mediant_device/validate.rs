//! Checks of a spec before anything is sent to a device: the schema's and
//! CEL rules again (the command line has no API server to enforce them, and
//! a cluster may hold objects from an older CRD). Checks that need the text
//! parsed (inline INI and CLI, prune paths) are the plan's
//! (`crate::plan`'s `MediantDeviceKind::validate`): `api` parses nothing.

use std::time::Duration;

use crate::api::{ConfigMapKeyRef, SecretKeyRef, ValidationError};

use super::{CaBundleKeyRef, MIN_INTERVAL, MediantDevice, MediantDeviceSpec, ResetPolicy, TlsSpec};

impl MediantDevice {
    /// Checks the spec (see [`MediantDeviceSpec::validate`]).
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.spec.validate()
    }

    /// Checks the spec as the controller reads it from a cluster: also
    /// rejects `files`, which only the command line can read.
    pub fn validate_for_cluster(&self) -> Result<(), ValidationError> {
        self.spec.validate()?;
        if self.spec.ini.as_ref().is_some_and(|i| !i.files.is_empty()) {
            return Err(ValidationError::FilesInCluster { field: "spec.ini" });
        }
        if self
            .spec
            .cli_script
            .as_ref()
            .is_some_and(|c| !c.files.is_empty())
        {
            return Err(ValidationError::FilesInCluster {
                field: "spec.cliScript",
            });
        }
        Ok(())
    }
}

impl MediantDeviceSpec {
    /// Checks every field against the schema's and CEL rules (and the
    /// duration and window formats). That the texts parse is checked by the
    /// plan, which parses them. Returns the first problem.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_endpoint(&self.endpoint)?;
        let creds = &self.credentials_secret_ref;
        check_name("spec.credentialsSecretRef.name", &creds.name)?;
        check_key("spec.credentialsSecretRef.usernameKey", &creds.username_key)?;
        check_key("spec.credentialsSecretRef.passwordKey", &creds.password_key)?;
        if let Some(tls) = &self.tls {
            check_tls(tls)?;
        }
        check_range(
            "spec.timeouts.connect",
            self.connect_timeout()?,
            Duration::from_secs(5 * 60),
            "more than 0s and at most 5m",
        )?;
        check_range(
            "spec.timeouts.request",
            self.request_timeout()?,
            Duration::from_secs(3600),
            "more than 0s and at most 1h",
        )?;
        if self.busy_timeout()? > Duration::from_secs(3600) {
            return Err(ValidationError::DurationRange {
                field: "spec.timeouts.busy",
                range: "at least 0s and at most 1h",
            });
        }
        if self.interval()? < MIN_INTERVAL {
            return Err(ValidationError::DurationRange {
                field: "spec.interval",
                range: "at least 10s",
            });
        }
        if self.ini.is_none() && self.cli_script.is_none() {
            return Err(ValidationError::NothingDeclared);
        }
        if let Some(ini) = &self.ini {
            check_sources(
                "spec.ini",
                &ini.inline,
                &ini.config_map_refs,
                &ini.secret_refs,
                &ini.files,
            )?;
            for table in &ini.prune_tables {
                if !is_table_name(&table.0) {
                    return Err(ValidationError::TableName {
                        name: table.0.chars().take(64).collect(),
                    });
                }
            }
        }
        if let Some(cli) = &self.cli_script {
            let field = "spec.cliScript";
            check_sources(
                field,
                &cli.inline,
                &cli.config_map_refs,
                &cli.secret_refs,
                &cli.files,
            )?;
        }
        if self.reset_policy == ResetPolicy::MaintenanceWindow && self.maintenance_window.is_none()
        {
            return Err(ValidationError::MaintenanceWindowMissing);
        }
        if let Some(window) = &self.maintenance_window {
            window.bounds()?;
        }
        Ok(())
    }
}

/// The endpoint rules of the schema: http(s), a host, no credentials.
fn check_endpoint(endpoint: &str) -> Result<(), ValidationError> {
    let bad = |reason| Err(ValidationError::Endpoint { reason });
    let Some(rest) = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"))
    else {
        return bad("endpoint must start with http:// or https://");
    };
    if endpoint.len() > 2048 {
        return bad("endpoint is longer than 2048 characters");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return bad(
            "endpoint must not hold a user name or password: put them in the Secret named by credentialsSecretRef",
        );
    }
    if authority.is_empty() {
        return bad("endpoint needs a host, e.g. https://10.0.0.5");
    }
    if endpoint.chars().any(char::is_whitespace) {
        return bad("endpoint must not contain spaces");
    }
    Ok(())
}

fn check_tls(tls: &TlsSpec) -> Result<(), ValidationError> {
    let Some(bundle) = &tls.ca_bundle else {
        return Ok(());
    };
    if tls.insecure_skip_verify {
        return Err(ValidationError::TlsConflict);
    }
    let check = |r: &CaBundleKeyRef| {
        check_name("spec.tls.caBundle name", &r.name)?;
        check_key("spec.tls.caBundle key", &r.key)
    };
    match (&bundle.secret_key_ref, &bundle.config_map_key_ref) {
        (Some(r), None) | (None, Some(r)) => check(r),
        _ => Err(ValidationError::CaBundleSource),
    }
}

fn check_range(
    field: &'static str,
    value: Duration,
    max: Duration,
    range: &'static str,
) -> Result<(), ValidationError> {
    if value.is_zero() || value > max {
        return Err(ValidationError::DurationRange { field, range });
    }
    Ok(())
}

/// At least one source, and well-formed references.
fn check_sources(
    field: &'static str,
    inline: &Option<String>,
    config_maps: &[ConfigMapKeyRef],
    secrets: &[SecretKeyRef],
    files: &[String],
) -> Result<(), ValidationError> {
    if inline.is_none() && config_maps.is_empty() && secrets.is_empty() && files.is_empty() {
        return Err(ValidationError::NoSource { field });
    }
    for r in config_maps {
        check_name("configMapRefs name", &r.name)?;
        check_key("configMapRefs key", &r.key)?;
    }
    for r in secrets {
        check_name("secretRefs name", &r.name)?;
        check_key("secretRefs key", &r.key)?;
    }
    if files.iter().any(|f| f.trim().is_empty()) {
        return Err(ValidationError::Name {
            field: "files",
            reason: "a file path is empty",
        });
    }
    Ok(())
}

/// A DNS subdomain name (RFC 1123), as Secrets and ConfigMaps are named.
fn check_name(field: &'static str, name: &str) -> Result<(), ValidationError> {
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        let inner = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-';
        let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        matches!((b.first(), b.last()), (Some(f), Some(l)) if edge(f) && edge(l))
            && b.iter().all(inner)
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(ValidationError::Name {
            field,
            reason: "must be a Kubernetes object name: lower-case letters, digits, '-' and '.', \
                     starting and ending with a letter or digit, at most 253 characters",
        });
    }
    Ok(())
}

/// A Secret or ConfigMap key.
fn check_key(field: &'static str, key: &str) -> Result<(), ValidationError> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    if key.is_empty() || key.len() > 253 || !key.chars().all(ok) {
        return Err(ValidationError::Name {
            field,
            reason: "must be a Secret or ConfigMap key: letters, digits, '-', '_' and '.', \
                     at most 253 characters",
        });
    }
    Ok(())
}

fn is_table_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 128
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::mediant_device::{
        CaBundleSource, CliScriptSpec, IniSpec, MaintenanceWindow, TableName,
    };

    fn spec() -> MediantDeviceSpec {
        let mut s = MediantDeviceSpec::new("https://10.0.0.5", "sbc-credentials");
        s.ini = Some(IniSpec {
            inline: Some("[SIP Params]\nEnableEarlyMedia = 1\n".into()),
            ..IniSpec::default()
        });
        s
    }

    fn error_of(change: impl FnOnce(&mut MediantDeviceSpec)) -> String {
        let mut s = spec();
        change(&mut s);
        s.validate().expect_err("must be rejected").to_string()
    }

    #[test]
    fn a_plain_spec_is_valid() {
        spec().validate().unwrap();
    }

    #[test]
    fn endpoints_need_http_a_host_and_no_credentials() {
        for ok in [
            "http://127.0.0.1:8443",
            "https://sbc.example.com/api/v1",
            "https://[::1]:443",
        ] {
            let mut s = spec();
            s.endpoint = ok.into();
            s.validate().unwrap();
        }
        assert!(error_of(|s| s.endpoint = "ftp://10.0.0.5".into()).contains("http://"));
        assert!(error_of(|s| s.endpoint = "10.0.0.5".into()).contains("http://"));
        assert!(error_of(|s| s.endpoint = "https:///api".into()).contains("needs a host"));
        let leak = error_of(|s| s.endpoint = "https://admin:hunter2@10.0.0.5".into());
        assert!(leak.contains("credentialsSecretRef"), "{leak}");
        assert!(!leak.contains("hunter2"), "{leak}");
    }

    #[test]
    fn some_configuration_must_be_declared() {
        let e = error_of(|s| s.ini = None);
        assert!(e.contains("spec.ini and/or spec.cliScript"), "{e}");
        let e = error_of(|s| s.ini = Some(IniSpec::default()));
        assert!(e.starts_with("spec.ini: name at least one source"), "{e}");
        let e = error_of(|s| s.cli_script = Some(CliScriptSpec::default()));
        assert!(
            e.starts_with("spec.cliScript: name at least one source"),
            "{e}"
        );
    }

    #[test]
    fn prune_tables_must_be_table_names() {
        let e = error_of(|s| {
            if let Some(ini) = &mut s.ini {
                ini.prune_tables = vec![TableName("IP Group".into())];
            }
        });
        assert!(e.contains("not a table name"), "{e}");
    }

    #[test]
    fn names_and_keys_follow_kubernetes_rules() {
        let e = error_of(|s| s.credentials_secret_ref.name = "Bad_Name".into());
        assert!(e.starts_with("spec.credentialsSecretRef.name: "), "{e}");
        let e = error_of(|s| s.credentials_secret_ref.password_key = "pass word".into());
        assert!(
            e.starts_with("spec.credentialsSecretRef.passwordKey: "),
            "{e}"
        );
    }

    #[test]
    fn durations_are_parsed_and_bounded() {
        let e = error_of(|s| s.interval = "5s".into());
        assert_eq!(e, "spec.interval must be at least 10s");
        let e = error_of(|s| s.interval = "often".into());
        assert!(
            e.starts_with("spec.interval: `often` is not a duration"),
            "{e}"
        );
        let e = error_of(|s| s.timeouts.request = "2h".into());
        assert!(e.starts_with("spec.timeouts.request must be"), "{e}");
        let e = error_of(|s| s.timeouts.connect = "0s".into());
        assert!(e.starts_with("spec.timeouts.connect must be"), "{e}");
        assert_eq!(spec().interval().unwrap(), Duration::from_secs(300));
    }

    #[test]
    fn maintenance_window_is_required_by_its_policy_and_checked() {
        let e = error_of(|s| s.reset_policy = ResetPolicy::MaintenanceWindow);
        assert!(e.contains("needs spec.maintenanceWindow"), "{e}");
        let e = error_of(|s| {
            s.maintenance_window = Some(MaintenanceWindow {
                days: vec![],
                start: "25:00".into(),
                duration: "1h".into(),
            })
        });
        assert!(e.starts_with("spec.maintenanceWindow: "), "{e}");
    }

    #[test]
    fn tls_options_exclude_each_other() {
        let bundle = CaBundleSource {
            secret_key_ref: Some(CaBundleKeyRef {
                name: "sbc-ca".into(),
                key: "ca.crt".into(),
            }),
            config_map_key_ref: None,
        };
        let e = error_of(|s| {
            s.tls = Some(TlsSpec {
                ca_bundle: Some(bundle.clone()),
                insecure_skip_verify: true,
            })
        });
        assert!(e.contains("exclude each other"), "{e}");
        let e = error_of(|s| {
            s.tls = Some(TlsSpec {
                ca_bundle: Some(CaBundleSource {
                    secret_key_ref: None,
                    config_map_key_ref: None,
                }),
                insecure_skip_verify: false,
            })
        });
        assert!(e.contains("exactly one of"), "{e}");
        let mut ok = spec();
        ok.tls = Some(TlsSpec {
            ca_bundle: Some(bundle),
            insecure_skip_verify: false,
        });
        ok.validate().unwrap();
    }
}
