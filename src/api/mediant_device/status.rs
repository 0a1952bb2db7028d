//! What the operator reports about a device: conditions, facts from
//! `GET /api/v1/status`, drift, held-back steps, alarms. Never a secret
//! value: drift lists keys, write-only secrets are kept as digests.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::condition::{Condition, date_time_schema, nullable_date_time_schema};

/// The observed state of a MediantDevice.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediantDeviceStatus {
    /// Ready, Reconciling, Stalled (kstatus), Reachable and Synced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The `.metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
    /// Facts the device reports about itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceFacts>,
    /// Revision of the desired configuration last applied in full: the
    /// spec's configuration fields and the texts of the ConfigMaps and
    /// Secrets they name, as `hmac-sha256:<hex>` keyed with the operator's
    /// digest key (so it cannot be checked against guessed Secret values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub last_applied_revision: Option<String>,
    /// How far the device is from the desired configuration at the last
    /// check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
    /// Steps held back because they would reset the device and resetPolicy
    /// does not allow it now, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub pending_steps: Vec<PendingStep>,
    /// Number of active alarms on the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_alarms: Option<u32>,
    /// When the set of active alarms last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_date_time_schema")]
    pub last_alarm_change: Option<Time>,
    /// When the device was last compared with the desired configuration.
    /// While nothing else in status changes, it is refreshed at most once
    /// an hour (a write per check would be a write per device per
    /// interval), so it may lag the latest comparison by up to that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_date_time_schema")]
    pub last_sync_time: Option<Time>,
    /// For each write-only secret sent to the device (parameter, hidden
    /// parameter, `Table[index].Column`, `Table[*]`, a CLI password setting
    /// as `cli:<mode path> / <key>`), `hmac-sha256:<hex>` of
    /// the device serial, key and what was sent, keyed by the operator's
    /// digest key Secret; never the value (bare hex entries are the salted
    /// SHA-256 of earlier versions, still read). `@reset/ini-full` is the
    /// fingerprint of the desired INI last uploaded whole with a reset,
    /// which is not repeated. The device shows such secrets only as hashes
    /// or not at all, so the digest is how the operator knows the secret it
    /// sent is still the desired one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 1024))]
    pub applied_secret_digests: BTreeMap<String, String>,
    /// Set (to when) before changes that are to be saved are written, and
    /// cleared once the save succeeded: a reconcile (of this or a new
    /// leader) that finds it set saves the running configuration first, so
    /// a save cut off by a lost Lease or a killed process is never lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "nullable_date_time_schema")]
    pub pending_save: Option<Time>,
}

/// Facts from the device's `GET /api/v1/status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceFacts {
    /// Product, e.g. `Mediant 800`.
    #[serde(default)]
    pub product: String,
    /// Software version, e.g. `7.40A.500.357`.
    #[serde(default)]
    pub version: String,
    /// Serial number.
    #[serde(default)]
    pub serial: String,
    /// High-availability state, e.g. `Not Operational`, `Active`, `Standby`.
    #[serde(default)]
    pub ha_state: String,
    /// Operational state, e.g. `UNLOCKED`.
    #[serde(default)]
    pub operational_state: String,
    /// Seconds since the device started, as of the last status write (it
    /// alone does not cause a write, so it lags by up to an hour).
    #[serde(default)]
    pub uptime_seconds: u64,
}

/// Differences between the device and the desired configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// Number of differing settings (parameters, table cells and rows, CLI
    /// settings and entries).
    pub count: u32,
    /// The first few differing keys (e.g. `GWDebugLevel`,
    /// `IPGroup[1].Name`, `configure voip / sip-interface 0 / udp-port`),
    /// never their values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub keys: Vec<String>,
}

/// A step held back by the reset policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingStep {
    /// What the step would do.
    pub description: String,
    /// Why it waits and how to let it run.
    pub reason: String,
}

/// `Option<Time>`: an RFC 3339 string when present.
fn optional_date_time_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    date_time_schema(generator)
}
