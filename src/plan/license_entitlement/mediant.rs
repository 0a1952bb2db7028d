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

use sha2::{Digest, Sha256};

use crate::api::{MediantLicenseFacts, ProviderFacts};
use crate::device::{DeviceError, DeviceStatus, InstalledLicense, LicenseKey, MediantClient};

use super::{Change, ItemDrift, LicenseFile, Provider, ProviderError, ProviderPlan, key_features};

/// How long a device may take to come back after a licence install.
pub const RESET_TIMEOUT: Duration = Duration::from_secs(600);

/// The licence declared for one device, Secret values resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MediantDesired {
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
    },
    /// `PUT /license` with this licence file.
    File(LicenseFile),
}

impl std::fmt::Debug for MediantAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediantAction::Key { serial_number, .. } => {
                write!(f, "Key(S/N {serial_number}, <redacted>)")
            }
            MediantAction::File(file) => write!(f, "File({} bytes)", file.bytes().len()),
        }
    }
}

impl MediantAction {
    /// `key` or `file`, as status.facts.mediant.form shows it.
    pub fn form(&self) -> &'static str {
        match self {
            MediantAction::Key { .. } => "key",
            MediantAction::File(_) => "file",
        }
    }
}

/// Why the licence of a device cannot be brought to the declared one.
/// Messages name serial numbers and Secret keys, never a licence key.
#[derive(Debug, thiserror::Error)]
pub enum MediantLicenseError {
    /// A Secret or its key is missing (or not text).
    #[error("{reference} is missing (or lacks the key): create it, or fix spec.provider.mediant")]
    MissingSecret {
        /// e.g. "Secret `sbc-licence` key `license.key`".
        reference: String,
    },
    /// The licence file holds no `S/N<serial> <key>` line.
    #[error("{reference} is not a licence file: it holds no line `S/N<serial> <key>`")]
    NotALicenseFile {
        /// The Secret key.
        reference: String,
    },
    /// The declared key is for another serial number: nothing was sent.
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
    /// The licence file holds no key for this device: nothing was sent.
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
    /// The device refused the JSON form as an HA device (409): permanent.
    #[error(
        "{target} refused the licence key as an HA device (409: {description}): declare spec.provider.mediant.licenseFile; not retried"
    )]
    HaRefusedKey {
        /// The MediantDevice.
        target: String,
        /// The device's description.
        description: String,
    },
    /// The device came back without the declared key.
    #[error(
        "{target} accepted the licence and reset, but shows another key for S/N {serial} afterwards; check that the licence was issued for this device; not resent"
    )]
    NotTaken {
        /// The MediantDevice.
        target: String,
        /// The device's serial number.
        serial: String,
    },
    /// A device request failed.
    #[error("{target}: {source}")]
    Device {
        /// The MediantDevice.
        target: String,
        /// What the device (or the network) said.
        #[source]
        source: DeviceError,
    },
}

impl ProviderError for MediantLicenseError {
    fn reason(&self) -> &'static str {
        match self {
            MediantLicenseError::MissingSecret { .. } => "SecretMissing",
            MediantLicenseError::NotALicenseFile { .. } => "InvalidLicenseFile",
            MediantLicenseError::SerialMismatch { .. } => "SerialMismatch",
            MediantLicenseError::NoKeyForSerial { .. } => "NoKeyForSerial",
            MediantLicenseError::HaNeedsFile { .. } => "HaNeedsLicenseFile",
            MediantLicenseError::HaRefusedKey { .. } => "HaNeedsLicenseFile",
            MediantLicenseError::NotTaken { .. } => "NotTaken",
            MediantLicenseError::Device { source, .. } => match source {
                DeviceError::Rejected { .. } => "LicenseRejected",
                other => other.category(),
            },
        }
    }

    fn retryable(&self) -> bool {
        match self {
            MediantLicenseError::Device { source, .. } => matches!(
                source,
                DeviceError::Busy { .. }
                    | DeviceError::Unreachable { .. }
                    | DeviceError::Timeout { .. }
                    | DeviceError::ResetTimeout { .. }
                    | DeviceError::Server { .. }
            ),
            _ => false,
        }
    }
}

/// The `mediant` provider for one device.
pub struct MediantProvider<'a> {
    /// The device's client (from its MediantDevice).
    pub client: &'a MediantClient,
    /// `MediantDevice/<name>`, for messages.
    pub device: String,
    /// How long a reset may take.
    pub reset_timeout: Duration,
}

impl<'a> MediantProvider<'a> {
    /// The provider for the device `client` talks to, named `device` (the
    /// MediantDevice's name).
    pub fn new(client: &'a MediantClient, device: &str) -> Self {
        MediantProvider {
            client,
            device: format!("MediantDevice/{device}"),
            reset_timeout: RESET_TIMEOUT,
        }
    }

    fn device_error(&self, source: DeviceError) -> MediantLicenseError {
        MediantLicenseError::Device {
            target: self.device.clone(),
            source,
        }
    }

    /// The action that installs the declared licence on this device, and
    /// the key the device should show afterwards.
    fn action(
        &self,
        desired: &MediantDesired,
        observed: &MediantObserved,
    ) -> Result<(MediantAction, LicenseKey), MediantLicenseError> {
        let serial = observed.serial().to_string();
        let from_file = |file: &LicenseFile| match file.key_for(&serial) {
            Some(key) => Ok((MediantAction::File(file.clone()), key.clone())),
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
                    target: self.device.clone(),
                    count: serials.len(),
                    serials: shown,
                })
            }
        };
        match (&desired.key, &desired.file, observed.is_ha()) {
            (_, Some(file), true) | (None, Some(file), false) => from_file(file),
            (Some(_), None, true) => Err(MediantLicenseError::HaNeedsFile {
                target: self.device.clone(),
                ha_state: observed.status.high_availability.clone(),
            }),
            (Some(key), _, false) => {
                if let Some(declared) = &desired.serial_number
                    && *declared != serial
                {
                    return Err(MediantLicenseError::SerialMismatch {
                        declared: declared.clone(),
                        device: serial,
                        target: self.device.clone(),
                    });
                }
                Ok((
                    MediantAction::Key {
                        key: key.clone(),
                        serial_number: serial,
                    },
                    key.clone(),
                ))
            }
            // The spec's validation requires a key or a file.
            (None, None, _) => Err(MediantLicenseError::MissingSecret {
                reference: "spec.provider.mediant.licenseKey or licenseFile".into(),
            }),
        }
    }

    async fn read(&self) -> Result<MediantObserved, MediantLicenseError> {
        let (status, license) = tokio::join!(self.client.status(), self.client.license());
        Ok(MediantObserved {
            status: status.map_err(|e| self.device_error(e))?,
            license: license.map_err(|e| self.device_error(e))?,
        })
    }
}

/// A short keyed digest of a key on the device `serial`: equal keys show
/// equal digests, and nothing of the key.
fn key_digest(serial: &str, key: &LicenseKey) -> String {
    let full = crate::plan::digest(serial, "mediant/licenseKey", key.expose());
    format!("sha256:{}", &full[..12])
}

impl Provider for MediantProvider<'_> {
    const NAME: &'static str = "mediant";
    type Desired = MediantDesired;
    type Observed = MediantObserved;
    type Action = MediantAction;
    type Error = MediantLicenseError;

    fn target(&self, observed: Option<&MediantObserved>) -> String {
        match observed.map(MediantObserved::serial) {
            Some(serial) if !serial.is_empty() => format!("{} (S/N {serial})", self.device),
            _ => self.device.clone(),
        }
    }

    async fn observe(&self, _desired: &MediantDesired) -> Result<MediantObserved, Self::Error> {
        self.read().await
    }

    fn plan(
        &self,
        desired: &MediantDesired,
        observed: &MediantObserved,
    ) -> Result<ProviderPlan<MediantAction>, Self::Error> {
        let (action, want) = self.action(desired, observed)?;
        let have = &observed.license.key;
        if want == *have {
            return Ok(ProviderPlan::default());
        }
        let serial = observed.serial();
        let how = match &action {
            MediantAction::Key { .. } => "JSON PUT /license",
            MediantAction::File(_) => "licence file PUT /license",
        };
        Ok(ProviderPlan {
            drift: vec![ItemDrift {
                name: format!("licenseKey[S/N {serial}]"),
                desired: key_digest(serial, &want),
                observed: if have.is_empty() {
                    "(none)".into()
                } else {
                    key_digest(serial, have)
                },
            }],
            changes: vec![Change {
                action,
                description: format!(
                    "install the licence key for S/N {serial} ({how}; the device resets)"
                ),
                disruptive: true,
            }],
        })
    }

    fn desired_digest(&self, desired: &MediantDesired, observed: &MediantObserved) -> String {
        // Keyed with the serial number; covers what would be sent.
        let serial = observed.serial();
        let mut h = Sha256::new();
        for part in [
            "mediant".as_bytes(),
            serial.as_bytes(),
            desired
                .key
                .as_ref()
                .map_or(&b""[..], |k| k.expose().as_bytes()),
            desired.file.as_ref().map_or(&b""[..], LicenseFile::bytes),
            desired.serial_number.as_deref().unwrap_or("").as_bytes(),
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }

    async fn apply(
        &self,
        _desired: &MediantDesired,
        observed: &MediantObserved,
        change: &Change<MediantAction>,
    ) -> Result<MediantObserved, Self::Error> {
        let want = match &change.action {
            MediantAction::Key { key, .. } => key.clone(),
            MediantAction::File(file) => {
                file.key_for(observed.serial()).cloned().unwrap_or_default()
            }
        };
        let sent = match &change.action {
            MediantAction::Key { key, serial_number } => {
                self.client.put_license_key(key, Some(serial_number)).await
            }
            MediantAction::File(file) => self.client.put_license_file(file.bytes()).await,
        };
        match sent {
            Ok(_) => {}
            // The device may have taken the request and gone down to reset
            // before answering: await it and read the key back (not resent).
            Err(e) if e.is_unreachable() => {}
            Err(DeviceError::Busy { description, .. })
                if matches!(change.action, MediantAction::Key { .. }) =>
            {
                return Err(MediantLicenseError::HaRefusedKey {
                    target: self.device.clone(),
                    description,
                });
            }
            Err(e) => return Err(self.device_error(e)),
        }
        self.client
            .wait_for_restart(observed.status.system_up_time, self.reset_timeout)
            .await
            .map_err(|e| self.device_error(e))?;
        let after = self.read().await?;
        if after.license.key != want {
            return Err(MediantLicenseError::NotTaken {
                target: self.device.clone(),
                serial: after.serial().to_string(),
            });
        }
        Ok(after)
    }

    fn facts(&self, desired: &MediantDesired, observed: &MediantObserved) -> ProviderFacts {
        let form = self
            .action(desired, observed)
            .map(|(a, _)| a.form())
            .unwrap_or("");
        ProviderFacts::Mediant(MediantLicenseFacts {
            serial_number: observed.serial().to_string(),
            product: observed.status.product_type.clone(),
            ha_state: observed.status.high_availability.clone(),
            form: form.to_string(),
            features: key_features(&observed.license.key_description),
            file_serials: desired
                .file
                .as_ref()
                .map(|f| u32::try_from(f.serials().count()).unwrap_or(u32::MAX)),
        })
    }
}

/// The declared licence of `spec`, with Secret values from `secret` (a
/// Secret key's bytes, `None` when the Secret or key is missing).
pub fn desired_from(
    spec: &crate::api::MediantLicenseSpec,
    mut secret: impl FnMut(&crate::api::SecretKeyRef) -> Option<Vec<u8>>,
) -> Result<MediantDesired, MediantLicenseError> {
    let missing = |r: &crate::api::SecretKeyRef| MediantLicenseError::MissingSecret {
        reference: r.to_string(),
    };
    let key = match &spec.license_key {
        Some(r) => {
            let bytes = secret(r).ok_or_else(|| missing(r))?;
            let text = String::from_utf8(bytes).map_err(|_| missing(r))?;
            let key = LicenseKey::new(&text);
            if key.is_empty() {
                return Err(missing(r));
            }
            Some(key)
        }
        None => None,
    };
    let file = match &spec.license_file {
        Some(r) => {
            let bytes = secret(r).ok_or_else(|| missing(r))?;
            Some(
                LicenseFile::parse(bytes).ok_or_else(|| MediantLicenseError::NotALicenseFile {
                    reference: r.to_string(),
                })?,
            )
        }
        None => None,
    };
    Ok(MediantDesired {
        key,
        file,
        serial_number: spec.serial_number.clone(),
    })
}
