//! The disruption gate: whether a change that interrupts service (a device
//! reset) may run now. Window arithmetic is the MediantDevice's
//! [`MaintenanceWindow`]; the clock is passed in.

use std::fmt;

use k8s_openapi::jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::{MaintenanceWindow, ResetDecision};

use super::EntitlementSpecError;

/// Whether disruptive changes may run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Disruption {
    /// Never disrupt: disruptive changes wait in status.pendingDisruption
    /// with how to allow them.
    #[default]
    Never,
    /// Disrupt whenever a change needs it.
    Allowed,
    /// Disrupt only inside spec.maintenanceWindow.
    MaintenanceWindow,
}

impl fmt::Display for Disruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Disruption::Never => "Never",
            Disruption::Allowed => "Allowed",
            Disruption::MaintenanceWindow => "MaintenanceWindow",
        })
    }
}

/// The message of a change held back by `disruption: Never`.
pub const HOW_TO_ALLOW_DISRUPTION: &str = "spec.disruption is Never: set it to Allowed, or to \
     MaintenanceWindow with spec.maintenanceWindow, to let the operator make this change (it \
     resets the device)";

impl Disruption {
    /// The decision at `now` under this gate and `window`.
    pub fn decide(
        self,
        window: Option<&MaintenanceWindow>,
        now: Timestamp,
    ) -> Result<ResetDecision, EntitlementSpecError> {
        match self {
            Disruption::Never => Ok(ResetDecision::Refused {
                how_to_allow: HOW_TO_ALLOW_DISRUPTION.to_owned(),
            }),
            Disruption::Allowed => Ok(ResetDecision::Allowed),
            Disruption::MaintenanceWindow => {
                let window = window.ok_or(EntitlementSpecError::MaintenanceWindowMissing)?;
                let bad = |e: crate::api::ValidationError| {
                    EntitlementSpecError::MaintenanceWindow(e.to_string())
                };
                let open = window.is_open(now).map_err(bad)?;
                if open {
                    return Ok(ResetDecision::Allowed);
                }
                let opens_at = window.next_opening(now).map_err(bad)?;
                Ok(ResetDecision::NotNow {
                    reason: format!(
                        "outside spec.maintenanceWindow: the change waits until the window opens at {opens_at}"
                    ),
                    opens_at,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-01-01 was a Monday.
    fn monday(hh: i64, mm: i64) -> Timestamp {
        Timestamp::from_second(1_704_067_200 + hh * 3600 + mm * 60).unwrap()
    }

    #[test]
    fn the_gate_follows_the_policy_and_the_window() {
        let window = MaintenanceWindow {
            days: vec![],
            start: "02:00".into(),
            duration: "1h".into(),
        };
        assert_eq!(
            Disruption::Allowed.decide(None, monday(12, 0)),
            Ok(ResetDecision::Allowed)
        );
        match Disruption::Never.decide(Some(&window), monday(2, 30)) {
            Ok(ResetDecision::Refused { how_to_allow }) => {
                assert!(how_to_allow.contains("spec.disruption"), "{how_to_allow}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            Disruption::MaintenanceWindow.decide(Some(&window), monday(2, 30)),
            Ok(ResetDecision::Allowed)
        );
        match Disruption::MaintenanceWindow.decide(Some(&window), monday(12, 0)) {
            Ok(ResetDecision::NotNow { opens_at, reason }) => {
                assert_eq!(opens_at, monday(26, 0));
                assert!(reason.contains("2024-01-02T02:00:00Z"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            Disruption::MaintenanceWindow.decide(None, monday(0, 0)),
            Err(EntitlementSpecError::MaintenanceWindowMissing)
        );
    }
}
