//! Step 3, observe: read what the desired state needs from the device
//! (`/status`, and the INI file and CLI script when declared), through
//! `crate::plan::observe`. Read-only.

use crate::device::{DeviceError, MediantClient};
use crate::plan::{self, ApplyError, DesiredState, ObservedState};

/// Why the device could not be observed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ObserveError(#[source] pub ApplyError);

impl ObserveError {
    /// A bounded identifier for event reasons and metric labels.
    pub fn category(&self) -> &'static str {
        match &self.0 {
            ApplyError::DeviceIni(_) | ApplyError::DeviceCli(_) => "DeviceConfigUnreadable",
            other => other
                .device_error()
                .map_or("ObserveFailed", DeviceError::category),
        }
    }

    /// Whether the device itself could not be reached or refused the
    /// credentials: the `Reachable` condition turns False.
    pub fn unreachable(&self) -> bool {
        self.0
            .device_error()
            .is_some_and(|e| e.is_unreachable() || matches!(e, DeviceError::Unauthorized { .. }))
    }
}

/// Observes the device.
pub async fn run(
    client: &MediantClient,
    desired: &DesiredState,
) -> Result<ObservedState, ObserveError> {
    plan::observe(client, desired).await.map_err(ObserveError)
}
