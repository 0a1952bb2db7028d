//! The controller's errors: why it could not start ([`ControllerError`])
//! and why one reconciliation failed ([`ReconcileError`], one variant per
//! step, each with a bounded category).

use super::reconcile::apply::ApplyStepError;
use super::reconcile::dereference::DereferenceError;
use super::reconcile::observe::ObserveError;
use super::reconcile::plan::PlanStepError;
use super::reconcile::status::{Failure, StatusError};
use super::reconcile::validate::ValidateError;

/// Why the controller could not run.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// The MediantDevice CRD is not installed (or not served) in the cluster.
    #[error(
        "the MediantDevice CRD is not installed: apply crds/*.yaml (or `mediant-operator crd | kubectl apply -f -`) first: {0}"
    )]
    CrdMissing(#[source] kube::Error),
    /// The API server refused or failed the first list of MediantDevices.
    #[error("listing MediantDevices failed: {0}")]
    List(#[source] kube::Error),
}

/// Why one reconciliation of a MediantDevice failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// Reading what the spec names.
    #[error(transparent)]
    Dereference(#[from] DereferenceError),
    /// Checking the spec and building the desired state.
    #[error(transparent)]
    Validate(#[from] ValidateError),
    /// Reading the device.
    #[error(transparent)]
    Observe(#[from] ObserveError),
    /// Planning.
    #[error(transparent)]
    Plan(#[from] PlanStepError),
    /// Changing the device.
    #[error(transparent)]
    Apply(#[from] ApplyStepError),
    /// Writing status.
    #[error(transparent)]
    Status(#[from] StatusError),
}

impl ReconcileError {
    /// A bounded identifier for event reasons, condition reasons and metric
    /// labels.
    pub fn category(&self) -> &'static str {
        match self {
            ReconcileError::Dereference(e) => e.category(),
            ReconcileError::Validate(e) => e.category(),
            ReconcileError::Observe(e) => e.category(),
            ReconcileError::Plan(e) => e.category(),
            ReconcileError::Apply(e) => e.category(),
            ReconcileError::Status(e) => e.category(),
        }
    }

    /// Whether only a change by the user can fix it (the object is Stalled),
    /// rather than time (it is Reconciling, retried with backoff).
    pub fn needs_user(&self) -> bool {
        match self {
            ReconcileError::Dereference(e) => e.needs_user(),
            ReconcileError::Validate(_) | ReconcileError::Plan(_) => true,
            ReconcileError::Observe(_) | ReconcileError::Apply(_) => {
                needs_user_category(self.category())
            }
            ReconcileError::Status(_) => false,
        }
    }

    /// How status shows this error.
    pub fn failure(&self) -> Failure {
        Failure {
            category: self.category(),
            message: self.to_string(),
            needs_user: self.needs_user(),
        }
    }
}

/// Device answers that retrying the same request cannot change.
fn needs_user_category(category: &str) -> bool {
    matches!(
        category,
        "Config"
            | "Unauthorized"
            | "InsufficientPrivilege"
            | "NotSupported"
            | "Rejected"
            | "DeviceConfigUnreadable"
            | "InternalError"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::DeviceError;
    use crate::plan::ApplyError;

    fn observe(e: DeviceError) -> ReconcileError {
        ReconcileError::Observe(ObserveError(ApplyError::Observe(e)))
    }

    #[test]
    fn transport_failures_are_retried_and_refusals_need_the_user() {
        let unreachable = observe(DeviceError::Unreachable {
            endpoint: "https://10.0.0.5".into(),
            reason: "connection refused".into(),
        });
        assert_eq!(unreachable.category(), "Unreachable");
        assert!(!unreachable.needs_user());
        let unauthorized = observe(DeviceError::Unauthorized {
            endpoint: "https://10.0.0.5".into(),
        });
        assert_eq!(unauthorized.category(), "Unauthorized");
        assert!(unauthorized.needs_user());
        let busy = ReconcileError::Apply(ApplyStepError(ApplyError::Step {
            number: 1,
            description: "apply".into(),
            completed: 0,
            source: DeviceError::Busy {
                method: "PUT".into(),
                resource: "files/ini/incremental".into(),
                attempts: 6,
                description: "HA sync".into(),
            },
        }));
        assert_eq!(busy.category(), "DeviceBusy");
        assert!(!busy.needs_user());
        let f = busy.failure();
        assert_eq!(f.category, "DeviceBusy");
        assert!(f.message.contains("step 1"), "{}", f.message);
    }
}
