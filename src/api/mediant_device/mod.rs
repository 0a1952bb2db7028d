//! The `MediantDevice` kind: one AudioCodes Mediant SBC or gateway, its
//! connection and its desired configuration.

mod connection;
mod desired;
mod durations;
mod policy;
mod status;
mod validate;

use std::time::Duration;

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

pub use connection::{
    CaBundleKeyRef, CaBundleSource, CredentialsSecretRef, Dialect, Timeouts, TlsSpec,
};
pub use desired::{CliDefault, CliScriptSpec, IniMode, IniSpec, PrunePath, TableName};
pub use policy::{
    DeletionPolicy, HOW_TO_ALLOW_RESETS, MaintenanceWindow, ResetDecision, ResetPolicy, Weekday,
};
pub use status::{DeviceFacts, Drift, MediantDeviceStatus, PendingStep};

use crate::api::{SourceRef, ValidationError};

use durations::parse_duration;

/// Desired state of one AudioCodes Mediant SBC or gateway, managed through
/// its REST API.
// clippy compares the nested items of every `#[kube(...)]` and takes the
// printer columns' shared `type_ = "string"` for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "mediant.io",
    version = "v1alpha1",
    kind = "MediantDevice",
    plural = "mediantdevices",
    singular = "mediantdevice",
    shortname = "mdev",
    category = "mediant",
    namespaced,
    status = "MediantDeviceStatus",
    derive = "PartialEq",
    doc = "An AudioCodes Mediant SBC or gateway whose configuration the operator keeps as declared."
)]
#[kube(printcolumn(
    name = "Ready",
    type_ = "string",
    json_path = ".status.conditions[?(@.type==\"Ready\")].status",
    description = "Whether the device matches the desired configuration"
))]
#[kube(printcolumn(
    name = "Reachable",
    type_ = "string",
    json_path = ".status.conditions[?(@.type==\"Reachable\")].status",
    description = "Whether the device answers its REST API"
))]
#[kube(printcolumn(
    name = "Version",
    type_ = "string",
    json_path = ".status.device.version",
    description = "Software version the device reports"
))]
#[kube(printcolumn(
    name = "Drift",
    type_ = "integer",
    json_path = ".status.drift.count",
    description = "Number of settings that differ from the desired configuration"
))]
#[kube(printcolumn(
    name = "Age",
    type_ = "date",
    json_path = ".metadata.creationTimestamp"
))]
#[kube(printcolumn(
    name = "Endpoint",
    type_ = "string",
    json_path = ".spec.endpoint",
    priority = 1,
    description = "The device's REST API root"
))]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.ini) || has(self.cliScript)")
    .message("declare the desired configuration in spec.ini and/or spec.cliScript"))]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.resetPolicy) || self.resetPolicy != 'MaintenanceWindow' || has(self.maintenanceWindow)"
).message("resetPolicy MaintenanceWindow needs spec.maintenanceWindow (days, start, duration)"))]
pub struct MediantDeviceSpec {
    /// URL of the device's REST API root, e.g. `https://10.0.0.5` (with or
    /// without `/api/v1`). No user name or password in it: they come from
    /// credentialsSecretRef.
    #[schemars(length(min = 8, max = 2048))]
    #[x_kube(validation = kube::core::Rule::new(
        "self.startsWith('http://') || self.startsWith('https://')"
    ).message("endpoint must start with http:// or https://"))]
    #[x_kube(validation = kube::core::Rule::new("!self.matches('^https?://[^/?#]*@')")
        .message("endpoint must not hold a user name or password: put them in the Secret named by credentialsSecretRef"))]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^https?://[^/?#]+([/?#].*)?$')")
        .message("endpoint needs a host, e.g. https://10.0.0.5"))]
    pub endpoint: String,
    /// The Secret with the device user's name and password. Credentials are
    /// never written in the MediantDevice itself.
    pub credentials_secret_ref: CredentialsSecretRef,
    /// Trust for the device's HTTPS certificate. Absent: the platform's
    /// trust store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSpec>,
    /// The REST upload dialect (`v7.4` or `2015`). Detected from the device
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialect: Option<Dialect>,
    /// Time limits of requests to the device.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Desired INI parameters and tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ini: Option<IniSpec>,
    /// Desired CLI configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli_script: Option<CliScriptSpec>,
    /// Whether the operator may reset the device for steps that need it
    /// (ini.mode Full). Never (default): such steps are held back and listed
    /// in status.pendingSteps. Allowed: at any time. MaintenanceWindow: only
    /// inside maintenanceWindow.
    #[serde(default)]
    pub reset_policy: ResetPolicy,
    /// When resets may happen under resetPolicy MaintenanceWindow (ignored
    /// under the other policies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_window: Option<MaintenanceWindow>,
    /// Save the running configuration to the device's startup configuration
    /// after applying incremental changes, so a restart keeps them.
    #[serde(default = "default_true")]
    pub save_after_apply: bool,
    /// Stop all writes to the device; the operator keeps observing it and
    /// reporting drift.
    #[serde(default)]
    pub suspend: bool,
    /// How often the device is checked for drift when nothing else happens,
    /// Go-style (`5m`, `1h`), at least 10s. A small jitter is added.
    #[serde(default = "default_interval")]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
    )]
    #[x_kube(validation = kube::core::Rule::new("duration(self) >= duration('10s')")
        .message("interval must be at least 10s"))]
    pub interval: String,
    /// What deleting this resource does to the device. Orphan (the only
    /// policy): the device keeps its configuration.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

fn default_true() -> bool {
    true
}

fn default_interval() -> String {
    "5m".into()
}

/// The smallest drift-check interval accepted.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);

impl MediantDeviceSpec {
    /// A spec for the device at `endpoint` with credentials from Secret
    /// `secret`, no configuration yet, and every other field at its default.
    pub fn new(endpoint: impl Into<String>, secret: impl Into<String>) -> Self {
        MediantDeviceSpec {
            endpoint: endpoint.into(),
            credentials_secret_ref: CredentialsSecretRef::new(secret),
            tls: None,
            dialect: None,
            timeouts: Timeouts::default(),
            ini: None,
            cli_script: None,
            reset_policy: ResetPolicy::default(),
            maintenance_window: None,
            save_after_apply: true,
            suspend: false,
            interval: default_interval(),
            deletion_policy: DeletionPolicy::default(),
        }
    }

    /// The drift-check interval.
    pub fn interval(&self) -> Result<Duration, ValidationError> {
        parse_duration("spec.interval", &self.interval)
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Result<Duration, ValidationError> {
        parse_duration("spec.timeouts.connect", &self.timeouts.connect)
    }

    /// The request timeout.
    pub fn request_timeout(&self) -> Result<Duration, ValidationError> {
        parse_duration("spec.timeouts.request", &self.timeouts.request)
    }

    /// How long 409 answers are waited out (`spec.timeouts.busy`).
    pub fn busy_timeout(&self) -> Result<Duration, ValidationError> {
        parse_duration("spec.timeouts.busy", &self.timeouts.busy)
    }

    /// Whether steps that reset the device may run at `now`.
    pub fn reset_decision(
        &self,
        now: k8s_openapi::jiff::Timestamp,
    ) -> Result<ResetDecision, ValidationError> {
        self.reset_policy
            .decide(self.maintenance_window.as_ref(), now)
    }

    /// Every source of text the spec refers to (INI first, then CLI), for
    /// the caller to load before planning.
    pub fn references(&self) -> Vec<SourceRef> {
        let ini = self.ini.iter().flat_map(IniSpec::references);
        let cli = self.cli_script.iter().flat_map(CliScriptSpec::references);
        ini.chain(cli).collect()
    }
}
