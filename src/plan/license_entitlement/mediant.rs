//! Provider `mediant`: the licence key of an AudioCodes Mediant device.
//!
//! Form, from the device's HA state (`GET /status` `highAvailability`),
//! never from an error: a standalone device with a declared key gets the
//! JSON form (`licenseVersion`, `key`, and the serial number check); one of
//! an HA pair gets the licence file ("application/json … not supported for
//! HA configurations"; the file is "supported for all configurations"), as
//! does a standalone device with only a file declared.
//!
//! Diff: the key for the device's serial number (the declared key, or the
//! file's line for that serial) against `GET /license`'s `key`, compared
//! exactly (keys are opaque). Every install resets the device, so it is a
//! disruptive change: it runs only through the gate, the reset is awaited
//! (the device is unreachable for a while; that is expected), and the key is
//! read back afterwards.

use std::time::Duration;

use crate::api::{
    EntitlementSpecError, MediantLicenseFacts, MediantLicenseSpec, ResolvedSources, SourceRef,
    ValidationError,
};
use crate::device::{DeviceError, DeviceStatus, InstalledLicense, LicenseKey, MediantClient};
use crate::plan::kind::{StepDone, Target};
use crate::plan::{Change, Plan, PlanError, SecretDigests, SideEffect, Step};

use super::{LicenseFile, Provider, key_features};

/// Provider `mediant` (registered in `crate::api::license_entitlement`'s
/// `with_providers!`).
#[derive(Clone, Copy, Debug)]
pub struct Mediant;

impl Provider for Mediant {
    type Spec = MediantLicenseSpec;
    type Facts = MediantLicenseFacts;
    type Desired = MediantDesired;
    type Observed = MediantObserved;
    type Action = MediantAction;
    type Client = MediantClient;

    fn target(spec: &MediantLicenseSpec) -> Target<'_> {
        Target::Named(&spec.device_ref.name)
    }

    fn connect(
        refs: &crate::plan::Dereferenced,
        options: &crate::plan::ConnectOptions,
    ) -> Result<MediantClient, DeviceError> {
        crate::plan::connect_device(refs, options)
    }

    fn references(spec: &MediantLicenseSpec) -> Vec<SourceRef> {
        spec.secret_refs()
            .map(|r| SourceRef::Secret(r.clone()))
            .collect()
    }

    fn desired(
        spec: &MediantLicenseSpec,
        resolved: &ResolvedSources,
    ) -> Result<MediantDesired, ValidationError> {
        desired(spec, resolved)
    }

    async fn observe(
        client: &MediantClient,
        _desired: &MediantDesired,
    ) -> Result<MediantObserved, DeviceError> {
        observe(client).await
    }

    fn target_name(desired: &MediantDesired, observed: &MediantObserved) -> String {
        target(desired, observed)
    }

    fn facts(desired: &MediantDesired, observed: &MediantObserved) -> MediantLicenseFacts {
        facts(desired, observed)
    }

    fn plan(
        desired: &MediantDesired,
        observed: &MediantObserved,
        memory: &SecretDigests,
    ) -> Result<Plan<MediantAction>, PlanError> {
        plan(desired, observed, memory).map_err(|e| PlanError::Unplannable(e.to_string()))
    }

    async fn run_step(
        client: &MediantClient,
        _desired: &MediantDesired,
        observed: &MediantObserved,
        action: &MediantAction,
    ) -> Result<StepDone, DeviceError> {
        run(client, observed, action, RESET_TIMEOUT).await
    }
}

/// The entry of the memory (status `appliedSecretDigests`, the command
/// line's state file) under which the fingerprint of the last install is
/// recorded: the key the device is to show, its serial number and the key
/// it showed before. Planned again with the very same fingerprint, the
/// device did not take the key (it still shows the old one), and another
/// reset would change nothing but its uptime.
pub const INSTALL_ENTRY: &str = "@reset/license-key";

/// How long a device may take to come back after a licence install.
pub const RESET_TIMEOUT: Duration = Duration::from_secs(600);

/// The licence declared for one device, Secret values resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MediantDesired {
    /// `MediantDevice/<name>`, for messages.
    pub device: String,
    /// The licence key (`licenseKey`), if declared.
    pub key: Option<LicenseKey>,
    /// The licence file (`licenseFile`), if declared.
    pub file: Option<LicenseFile>,
    /// The serial number the key is for (`serialNumber`), if declared.
    pub serial_number: Option<String>,
}

/// What the device holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MediantObserved {
    /// `GET /status`.
    pub status: DeviceStatus,
    /// `GET /license`.
    pub license: InstalledLicense,
}

impl MediantObserved {
    /// The device's serial number: `/license` shows it in both dialects
    /// (the 2015 `/status` has none).
    pub fn serial(&self) -> &str {
        if self.license.serial_number.is_empty() {
            &self.status.serial_number
        } else {
            &self.license.serial_number
        }
    }

    /// Whether the device is one of an HA pair: any `highAvailability` but
    /// the standalone values of the documents' examples ("Not Operational"
    /// in v7.4, "Stand Alone" in 2015).
    pub fn is_ha(&self) -> bool {
        let ha = self.status.high_availability.trim();
        !(ha.is_empty()
            || ha.eq_ignore_ascii_case("Not Operational")
            || ha.eq_ignore_ascii_case("Stand Alone")
            || ha.eq_ignore_ascii_case("Standalone"))
    }
}

/// How the licence reaches the device.
#[derive(Clone, PartialEq, Eq)]
pub enum MediantAction {
    /// JSON `PUT /license` with this key (and serial number check).
    Key {
        /// The key.
        key: LicenseKey,
        /// `serialNumber` of the request.
        serial_number: String,
        /// Recorded once the install ran ([`INSTALL_ENTRY`]).
        record: SecretDigests,
    },
    /// `PUT /license` with this licence file.
    File {
        /// The file.
        file: LicenseFile,
        /// Recorded once the install ran ([`INSTALL_ENTRY`]).
        record: SecretDigests,
    },
}

impl std::fmt::Debug for MediantAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediantAction::Key { serial_number, .. } => {
                write!(f, "Key(S/N {serial_number}, <redacted>)")
            }
            MediantAction::File { file, .. } => write!(f, "File({} bytes)", file.bytes().len()),
        }
    }
}

impl MediantAction {
    /// `key` or `file`, as status.facts.mediant.form shows it.
    pub fn form(&self) -> &'static str {
        match self {
            MediantAction::Key { .. } => "key",
            MediantAction::File { .. } => "file",
        }
    }
}

/// Why the declared licence cannot be planned for this device. Messages
/// name serial numbers and Secret keys, never a licence key; each says that
/// nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediantLicenseError {
    /// The declared key is for another serial number.
    #[error(
        "serial number mismatch: the licence key is for S/N {declared} (spec.provider.mediant.serialNumber) but {target} reports S/N {device}; nothing was sent"
    )]
    SerialMismatch {
        /// The declared serial number.
        declared: String,
        /// The device's.
        device: String,
        /// The MediantDevice.
        target: String,
    },
    /// The licence file holds no key for this device.
    #[error(
        "the licence file holds no key for S/N {serial} ({target}); it holds keys for {count} other serial number(s): {serials}; nothing was sent"
    )]
    NoKeyForSerial {
        /// The device's serial number.
        serial: String,
        /// The MediantDevice.
        target: String,
        /// How many serial numbers the file holds.
        count: usize,
        /// The first few of them.
        serials: String,
    },
    /// Only a key is declared, and the device is one of an HA pair.
    #[error(
        "{target} is one of an HA pair (highAvailability `{ha_state}`), which takes only a licence file: declare spec.provider.mediant.licenseFile (with the keys of both units); nothing was sent"
    )]
    HaNeedsFile {
        /// The MediantDevice.
        target: String,
        /// `/status` `highAvailability`.
        ha_state: String,
    },
}

/// The declared licence of `spec`, with the Secret texts `resolved` holds.
pub fn desired(
    spec: &MediantLicenseSpec,
    resolved: &ResolvedSources,
) -> Result<MediantDesired, ValidationError> {
    let text = |r: &crate::api::SecretKeyRef| {
        let source = SourceRef::Secret(r.clone());
        resolved
            .get(&source)
            .cloned()
            .ok_or_else(|| ValidationError::Unresolved {
                reference: source.to_string(),
            })
    };
    let invalid = |r: &crate::api::SecretKeyRef, reason| {
        ValidationError::from(EntitlementSpecError::InvalidSource {
            reference: SourceRef::Secret(r.clone()).to_string(),
            reason,
        })
    };
    let key = match &spec.license_key {
        Some(r) => {
            let key = LicenseKey::new(&text(r)?);
            if key.is_empty() {
                return Err(invalid(r, "the licence key is empty"));
            }
            Some(key)
        }
        None => None,
    };
    let file = match &spec.license_file {
        Some(r) => Some(LicenseFile::parse(text(r)?.into_bytes()).ok_or_else(|| {
            invalid(
                r,
                "not a licence file: it holds no line `S/N<serial> <key>`",
            )
        })?),
        None => None,
    };
    Ok(MediantDesired {
        device: format!("MediantDevice/{}", spec.device_ref.name),
        key,
        file,
        serial_number: spec.serial_number.clone(),
    })
}

/// Reads `/status` (HA state, serial, uptime) and `/license`.
pub async fn observe(client: &MediantClient) -> Result<MediantObserved, DeviceError> {
    let (status, license) = tokio::join!(client.status(), client.license());
    Ok(MediantObserved {
        status: status?,
        license: license?,
    })
}

/// status.target: `MediantDevice/<name> (S/N <serial>)`.
pub fn target(desired: &MediantDesired, observed: &MediantObserved) -> String {
    match observed.serial() {
        "" => desired.device.clone(),
        serial => format!("{} (S/N {serial})", desired.device),
    }
}

/// The action that installs the declared licence on this device, and the
/// key the device shows afterwards. Pure.
pub fn action(
    desired: &MediantDesired,
    observed: &MediantObserved,
) -> Result<(MediantAction, LicenseKey), MediantLicenseError> {
    let serial = observed.serial().to_string();
    let target = || desired.device.clone();
    let from_file = |file: &LicenseFile| match file.key_for(&serial) {
        Some(key) => Ok((
            MediantAction::File {
                file: file.clone(),
                record: SecretDigests::new(),
            },
            key.clone(),
        )),
        None => {
            let serials: Vec<&str> = file.serials().collect();
            let mut shown = serials
                .iter()
                .take(5)
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            if serials.len() > 5 {
                shown.push_str(", …");
            }
            Err(MediantLicenseError::NoKeyForSerial {
                serial: serial.clone(),
                target: target(),
                count: serials.len(),
                serials: shown,
            })
        }
    };
    match (&desired.key, &desired.file, observed.is_ha()) {
        (_, Some(file), true) | (None, Some(file), false) => from_file(file),
        (Some(_), None, true) => Err(MediantLicenseError::HaNeedsFile {
            target: target(),
            ha_state: observed.status.high_availability.clone(),
        }),
        (Some(key), _, false) => {
            if let Some(declared) = &desired.serial_number
                && *declared != serial
            {
                return Err(MediantLicenseError::SerialMismatch {
                    declared: declared.clone(),
                    device: serial,
                    target: target(),
                });
            }
            Ok((
                MediantAction::Key {
                    key: key.clone(),
                    serial_number: serial,
                    record: SecretDigests::new(),
                },
                key.clone(),
            ))
        }
        // Validation requires a key or a file: nothing to install.
        (None, None, _) => Err(MediantLicenseError::HaNeedsFile {
            target: target(),
            ha_state: observed.status.high_availability.clone(),
        }),
    }
}

/// A short keyed digest of a key on the device `serial`: equal keys show
/// equal digests, and nothing of the key.
fn key_digest(serial: &str, key: &LicenseKey) -> String {
    let full = crate::plan::digest(serial, "mediant/licenseKey", key.expose());
    format!("sha256:{}", &full[..12])
}

/// The plan: nothing when the device shows the key for its serial number
/// (compared exactly), else one step that installs it and resets the
/// device — held back when `memory` shows that this very install (same key,
/// same serial number, same key on the device before) already ran: the
/// device did not take the key, and resetting it again would not help.
/// Pure.
pub fn plan(
    desired: &MediantDesired,
    observed: &MediantObserved,
    memory: &SecretDigests,
) -> Result<Plan<MediantAction>, MediantLicenseError> {
    let (mut action, want) = action(desired, observed)?;
    let have = &observed.license.key;
    if want == *have {
        return Ok(Plan::default());
    }
    let serial = observed.serial();
    let name = format!("licenseKey[S/N {serial}]");
    let (before, after) = (
        if have.is_empty() {
            "(none)".to_string()
        } else {
            key_digest(serial, have)
        },
        key_digest(serial, &want),
    );
    // The fingerprint: a length-prefixed join, so no two (key, old key)
    // pairs share a text.
    let what = format!(
        "{}:{}|{}",
        want.expose().len(),
        want.expose(),
        have.expose()
    );
    let fingerprint = memory.seal(serial, INSTALL_ENTRY, &what);
    let repeated = memory.get(INSTALL_ENTRY) == Some(&fingerprint);
    match &mut action {
        MediantAction::Key { record, .. } | MediantAction::File { record, .. } => {
            *record = memory.empty_like();
            record.insert(INSTALL_ENTRY.to_owned(), fingerprint);
        }
    }
    let how = match &action {
        MediantAction::Key { .. } => "JSON PUT /license",
        MediantAction::File { .. } => "licence file PUT /license",
    };
    let step = Step {
        action,
        description: format!("install the licence key for S/N {serial} ({how}; the device resets)"),
        changes: vec![Change {
            key: name.clone(),
            before: Some(before.clone()),
            after: Some(after.clone()),
        }],
        side_effect: SideEffect::ResetsDevice,
    };
    let mut plan = Plan {
        drift_count: 1,
        drift_keys: vec![format!("{name}: {after} → {before}")],
        steps: Vec::new(),
        blocked: Vec::new(),
    };
    if repeated {
        // Never a reset loop: names digests, never the key.
        let reason = format!(
            "{}: this licence key ({after}) was already installed on S/N {serial} with a reset \
             and the device still shows {before}; another reset would not change that. Check \
             the key (is it for this device and product?) or why the device does not take it, \
             declare another key, or forget the record `{INSTALL_ENTRY}` (status \
             appliedSecretDigests, or the command line's state file) to retry",
            crate::plan::REPEATED_RESET
        );
        plan.blocked.push((step, reason));
    } else {
        plan.steps.push(step);
    }
    Ok(plan)
}

/// Sends `action` once, then awaits the device's reset. A lost connection
/// on the PUT is not an error (the device may go down before answering):
/// the reset is awaited all the same and the caller's verification reads
/// the key back. A 409 for the JSON form (an HA device) is permanent: it
/// comes back as [`DeviceError::Rejected`], never retried.
pub async fn run(
    client: &MediantClient,
    observed: &MediantObserved,
    action: &MediantAction,
    reset_timeout: Duration,
) -> Result<StepDone, DeviceError> {
    let sent = match action {
        MediantAction::Key {
            key, serial_number, ..
        } => client.put_license_key(key, Some(serial_number)).await,
        MediantAction::File { file, .. } => client.put_license_file(file.bytes()).await,
    };
    match sent {
        Ok(_) => {}
        Err(e) if e.is_unreachable() => {}
        Err(DeviceError::Busy {
            method,
            resource,
            description,
            ..
        }) if matches!(action, MediantAction::Key { .. }) => {
            return Err(DeviceError::Rejected {
                method,
                resource,
                description: format!(
                    "409 Conflict: {description} (the device is one of an HA pair: declare spec.provider.mediant.licenseFile; not retried)"
                ),
            });
        }
        Err(e) => return Err(e),
    }
    // Recorded once the PUT went out (even if the restart is not seen in
    // time): the device reset, or may have, for this very install.
    let record = match action {
        MediantAction::Key { record, .. } | MediantAction::File { record, .. } => record.clone(),
    };
    client
        .wait_for_restart(observed.status.system_up_time, reset_timeout)
        .await?;
    Ok(StepDone {
        output: None,
        digests: record,
    })
}

/// status.facts for this device.
pub fn facts(desired: &MediantDesired, observed: &MediantObserved) -> MediantLicenseFacts {
    let form = action(desired, observed)
        .map(|(a, _)| a.form())
        .unwrap_or("");
    MediantLicenseFacts {
        serial_number: observed.serial().to_string(),
        product: observed.status.product_type.clone(),
        ha_state: observed.status.high_availability.clone(),
        form: form.to_string(),
        features: key_features(&observed.license.key_description),
        file_serials: desired
            .file
            .as_ref()
            .map(|f| u32::try_from(f.serials().count()).unwrap_or(u32::MAX)),
    }
}
