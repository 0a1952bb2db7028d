//! Step 5, apply: run the plan's steps through `crate::plan::apply`, which
//! also verifies the result by observing again. Skipped while the device is
//! paused (`spec.suspend` or the annotation `mediant.io/paused: "true"`).

use crate::api::MediantDevice;
use crate::device::MediantClient;
use crate::plan::{self, ApplyError, DesiredState, ObservedState, Outcome, Plan, SecretDigests};

/// The annotation that pauses writes like `spec.suspend` does, for a quick
/// `kubectl annotate` without editing the spec (e.g. during an incident).
pub const PAUSED_ANNOTATION: &str = "mediant.io/paused";

/// Why applying failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ApplyStepError(#[source] pub ApplyError);

impl ApplyStepError {
    /// A bounded identifier for event reasons and metric labels.
    pub fn category(&self) -> &'static str {
        match &self.0 {
            ApplyError::DeviceIni(_) | ApplyError::DeviceCli(_) => "DeviceConfigUnreadable",
            ApplyError::Plan(_) => "InternalError",
            other => other
                .device_error()
                .map_or("ApplyFailed", crate::device::DeviceError::category),
        }
    }
}

/// Whether writes to the device are paused.
pub fn paused(device: &MediantDevice) -> bool {
    device.spec.suspend
        || device
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(PAUSED_ANNOTATION))
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Runs the plan's steps and verifies them.
pub async fn run(
    client: &MediantClient,
    desired: &DesiredState,
    observed: &ObservedState,
    plan_to_run: &Plan,
    digests: &SecretDigests,
) -> Result<Outcome, ApplyStepError> {
    plan::apply(
        client,
        desired,
        observed,
        plan_to_run,
        digests,
        |number, step| {
            tracing::info!(step = number, description = %step.description, "applying");
        },
    )
    .await
    .map_err(ApplyStepError)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{MediantDevice, MediantDeviceSpec};
    use std::collections::BTreeMap;

    #[test]
    fn suspend_or_the_annotation_pauses() {
        let mut d = MediantDevice::new("sbc", MediantDeviceSpec::new("https://10.0.0.5", "c"));
        assert!(!paused(&d));
        d.spec.suspend = true;
        assert!(paused(&d));
        d.spec.suspend = false;
        d.metadata.annotations = Some(BTreeMap::from([(PAUSED_ANNOTATION.into(), "True".into())]));
        assert!(paused(&d));
        d.metadata.annotations = Some(BTreeMap::from([(PAUSED_ANNOTATION.into(), "no".into())]));
        assert!(!paused(&d));
    }
}
