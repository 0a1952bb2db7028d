//! The controller's errors: why it could not start ([`ControllerError`])
//! and why one reconciliation failed ([`ReconcileError`], one variant per
//! step, each with a bounded [`Category`]).

use crate::plan::report::Failure;
use crate::plan::{ApplyError, Category, PlanError, SourceError};

use super::reconcile::status::StatusError;
use super::reconcile::validate::ValidateError;

/// Why the controller could not run.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// A CRD is not installed (or not served) in the cluster.
    #[error(
        "a CRD is not installed: apply crds/*.yaml (or `mediant-operator crd | kubectl apply -f -`) first: {0}"
    )]
    CrdMissing(#[source] kube::Error),
    /// The API server refused or failed the first list of a kind.
    #[error("listing the custom resources failed: {0}")]
    List(#[source] kube::Error),
}

/// Why one reconciliation failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// Reading what the resource names.
    #[error(transparent)]
    Dereference(#[from] SourceError),
    /// Checking the spec and building the desired state.
    #[error(transparent)]
    Validate(#[from] ValidateError),
    /// Reading the device.
    #[error("{0}")]
    Observe(#[source] ApplyError),
    /// Planning.
    #[error("{0}")]
    Plan(#[from] PlanError),
    /// Changing the device.
    #[error("{0}")]
    Apply(#[source] ApplyError),
    /// Writing status.
    #[error(transparent)]
    Status(#[from] StatusError),
}

impl ReconcileError {
    /// The bounded category: condition reason, event reason, metric label.
    pub fn category(&self) -> Category {
        match self {
            ReconcileError::Dereference(e) => e.category(),
            ReconcileError::Validate(e) => e.category(),
            ReconcileError::Observe(e) => e.category(Category::ObserveFailed),
            ReconcileError::Plan(e) => e.category(),
            ReconcileError::Apply(e) => e.category(Category::ApplyFailed),
            ReconcileError::Status(_) => Category::StatusWriteFailed,
        }
    }

    /// Whether only a change by the user can fix it (the object is Stalled),
    /// rather than time (it is Reconciling, retried with backoff).
    pub fn needs_user(&self) -> bool {
        self.category().needs_user()
    }

    /// How status shows this error.
    pub fn failure(&self) -> Failure {
        Failure {
            category: self.category(),
            message: self.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::DeviceError;

    fn observe(e: DeviceError) -> ReconcileError {
        ReconcileError::Observe(ApplyError::Observe(e))
    }

    #[test]
    fn transport_failures_are_retried_and_refusals_need_the_user() {
        let unreachable = observe(DeviceError::Unreachable {
            endpoint: "https://10.0.0.5".into(),
            reason: "connection refused".into(),
        });
        assert_eq!(unreachable.category().as_str(), "Unreachable");
        assert!(!unreachable.needs_user());
        let unauthorized = observe(DeviceError::Unauthorized {
            endpoint: "https://10.0.0.5".into(),
        });
        assert_eq!(unauthorized.category().as_str(), "Unauthorized");
        assert!(unauthorized.needs_user());
        let busy = ReconcileError::Apply(ApplyError::Step {
            number: 1,
            description: "apply".into(),
            completed: 0,
            source: DeviceError::Busy {
                method: "PUT".into(),
                resource: "files/ini/incremental".into(),
                attempts: 6,
                description: "HA sync".into(),
            },
        });
        assert_eq!(busy.category().as_str(), "DeviceBusy");
        assert!(!busy.needs_user());
        let f = busy.failure();
        assert_eq!(f.category.as_str(), "DeviceBusy");
        assert!(f.message.contains("step 1"), "{}", f.message);
    }
}
