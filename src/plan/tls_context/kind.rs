//! The `TlsContext` kind behind the seam: it configures the MediantDevice
//! its `deviceRef` names; its desired state is built by
//! [`tls_desired`](super::tls_desired), observed by
//! [`observe_tls`](super::io::observe_tls), planned by
//! [`plan_tls`](super::plan_tls).
//!
//! The key digest the pipeline remembers (status
//! `privateKey.uploadedDigest`) travels as the write-only-secret digest
//! [`KEY_DIGEST`] of the pipeline's memory.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use sha2::{Digest, Sha256};

use crate::api::{
    CertificateRequestStatus, Condition, ConditionStatus, ConditionType, find_condition,
    remove_condition, set_condition,
};
use crate::api::{
    CertificateStatus, PrivateKeyStatus, ResolvedSources, SourceRef, TlsContext, TlsContextStatus,
    ValidationError,
};
use crate::config::pem::Certificate;
use crate::device::{DeviceError, MediantClient};
use crate::plan::issuer::{Issuer, IssuerError, ObservedRequest, RequestState};
use crate::plan::kind::{Expiry, Kind, KindStatus, Origin, StepDone, Target};
use crate::plan::report::CommonStatus;
use crate::plan::{ApplyError, Plan, PlanError, ResetPermission, SecretDigests, SideEffect, Step};

use super::io::{TlsApplyError, observe_tls, run_action};
use super::{
    DesiredFiles, TlsAction, TlsDesired, TlsMemory, TlsObserved, plan_tls, resolve_context,
    tls_desired,
};

/// The memory key of the uploaded private key's digest.
pub const KEY_DIGEST: &str = "privateKey";

/// The `TlsContext` kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct TlsContextKind;

impl KindStatus for TlsContextStatus {
    fn common(&self) -> CommonStatus {
        CommonStatus {
            conditions: self.conditions.clone(),
            observed_generation: self.observed_generation,
            last_applied_revision: self.last_applied_revision.clone(),
            drift: self.drift.clone(),
            pending_steps: Vec::new(),
            last_sync_time: self.last_sync_time.clone(),
            applied_secret_digests: self
                .private_key
                .as_ref()
                .and_then(|k| k.uploaded_digest.clone())
                .map(|d| SecretDigests::from([(KEY_DIGEST.to_string(), d)]))
                .unwrap_or_default(),
        }
    }

    fn without_clock(&self) -> Self {
        let mut s = self.clone();
        s.last_sync_time = None;
        s
    }

    fn pending_save(&self) -> Option<Time> {
        self.pending_save.clone()
    }

    fn with_pending_save(mut self, pending: Option<Time>) -> Self {
        self.pending_save = pending;
        self
    }
}

fn now_unix() -> i64 {
    // Only used where the trait passes no clock (plan): the renewal
    // threshold of self-signed certificates, which is days wide.
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn time_of(unix: i64) -> Option<Time> {
    k8s_openapi::jiff::Timestamp::from_second(unix)
        .ok()
        .map(Time)
}

/// The status facts of a certificate, `now` being Unix seconds.
pub fn certificate_status(cert: &Certificate, now: i64) -> CertificateStatus {
    CertificateStatus {
        fingerprint: cert.fingerprint.clone(),
        subject: cert.subject.clone(),
        issuer: cert.issuer.clone(),
        sans: cert.sans.iter().take(64).cloned().collect(),
        not_before: time_of(cert.not_before),
        not_after: time_of(cert.not_after),
        days_to_expiry: cert.seconds_to_expiry(now).div_euclid(86_400),
    }
}

fn hex_sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Names the CertificateRequest the certificate waits for in Ready (and
/// Reconciling, or Stalled when the issuer refused it), instead of the
/// generic `Drifted`: the pipeline's conditions know drift, not why.
fn waiting_conditions(
    conditions: &mut Vec<Condition>,
    request: &ObservedRequest,
    generation: Option<i64>,
    now: &Time,
) {
    let drifted = find_condition(conditions, ConditionType::Ready)
        .is_some_and(|c| c.status == ConditionStatus::False && c.reason == "Drifted");
    if !drifted {
        return;
    }
    let (reason, message, stalled) = match &request.state {
        RequestState::Pending => (
            "CertificateRequestPending",
            format!(
                "waiting for CertificateRequest `{}` to be signed{}",
                request.name,
                if request.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", request.message)
                }
            ),
            false,
        ),
        RequestState::Denied => (
            "CertificateRequestDenied",
            format!(
                "CertificateRequest `{}` was denied: {}; delete it or change the spec to request again",
                request.name, request.message
            ),
            true,
        ),
        RequestState::Failed => (
            "CertificateRequestFailed",
            format!(
                "CertificateRequest `{}` failed: {}; delete it or change the spec to request again",
                request.name, request.message
            ),
            true,
        ),
        RequestState::InvalidRequest => (
            "CertificateRequestInvalid",
            format!(
                "the issuer refused CertificateRequest `{}` as invalid: {}",
                request.name, request.message
            ),
            true,
        ),
        RequestState::Issued { .. } => return,
    };
    let c = |t, s| {
        Condition::new(t, s, generation, now.clone())
            .reason(reason)
            .message(message.clone())
    };
    set_condition(conditions, c(ConditionType::Ready, ConditionStatus::False));
    set_condition(conditions, c(ConditionType::Synced, ConditionStatus::False));
    if stalled {
        set_condition(conditions, c(ConditionType::Stalled, ConditionStatus::True));
        remove_condition(conditions, ConditionType::Reconciling);
    } else {
        set_condition(
            conditions,
            c(ConditionType::Reconciling, ConditionStatus::True),
        );
        remove_condition(conditions, ConditionType::Stalled);
    }
    conditions.sort_by_key(|c| {
        ConditionType::ALL
            .iter()
            .position(|t| c.is(*t))
            .unwrap_or(usize::MAX)
    });
}

impl Kind for TlsContextKind {
    type Resource = TlsContext;
    type Desired = TlsDesired;
    type Observed = TlsObserved;
    type Action = TlsAction;
    type Status = TlsContextStatus;
    type Client = MediantClient;

    const KIND: &'static str = "TlsContext";
    const USES_ISSUER: bool = true;

    fn requests_certificates(resource: &TlsContext) -> bool {
        resource
            .spec
            .certificate
            .generate_on_device
            .as_ref()
            .is_some_and(|g| g.certificate_request.is_some())
    }

    fn target(resource: &TlsContext) -> Target<'_> {
        Target::Named(&resource.spec.device_ref.name)
    }

    fn connect(
        refs: &crate::plan::Dereferenced,
        _desired: &TlsDesired,
        options: &crate::plan::ConnectOptions,
    ) -> Result<MediantClient, DeviceError> {
        crate::plan::connect_device(refs, options)
    }

    fn validate(resource: &TlsContext, _origin: Origin) -> Result<(), ValidationError> {
        resource
            .spec
            .validate()
            .map_err(|e| ValidationError::TlsContext(e.to_string()))?;
        Ok(())
    }

    fn interval(resource: &TlsContext) -> Result<Duration, ValidationError> {
        resource
            .spec
            .interval()
            .map_err(|e| ValidationError::TlsContext(e.to_string()))
    }

    fn attach_issuer(desired: &mut TlsDesired, issuer: Arc<dyn Issuer>) {
        desired.issuer = Some(issuer);
    }

    fn paused(resource: &TlsContext) -> bool {
        resource.spec.suspend
    }

    fn references(resource: &TlsContext) -> Vec<SourceRef> {
        resource.spec.references()
    }

    fn desired(
        resource: &TlsContext,
        resolved: &ResolvedSources,
        _reset: ResetPermission,
    ) -> Result<TlsDesired, ValidationError> {
        let namespace = resource.namespace().unwrap_or_else(|| "default".into());
        let mut desired = tls_desired(&namespace, &resource.name_any(), &resource.spec, &|r| {
            resolved.get(r).cloned()
        })
        .map_err(|e| ValidationError::TlsContext(e.to_string()))?;
        if let DesiredFiles::Requested(request) = &mut desired.files {
            // The ownerReference of the CertificateRequests and the Secret.
            request.owner.uid = resource.uid().unwrap_or_default();
        }
        Ok(desired)
    }

    fn revision(resource: &TlsContext, resolved: &ResolvedSources) -> String {
        // The spec and a digest of each text it names (never the text).
        let mut h = Sha256::new();
        h.update(serde_json::to_vec(&resource.spec).unwrap_or_default());
        for reference in resource.spec.references() {
            h.update(reference.to_string().as_bytes());
            if let Some(text) = resolved.get(&reference) {
                h.update(Sha256::digest(text.as_bytes()));
            }
        }
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }

    async fn observe(
        client: &MediantClient,
        desired: &TlsDesired,
        _thorough: bool,
    ) -> Result<TlsObserved, ApplyError> {
        observe_tls(client, desired).await.map_err(|e| match e {
            TlsApplyError::Observe(d) => ApplyError::Observe(d),
            TlsApplyError::DeviceIni(i) => ApplyError::DeviceIni(i),
            TlsApplyError::DevicePem { what, source } => ApplyError::DeviceUnreadable {
                what: what.to_string(),
                reason: source.to_string(),
            },
            // The API server failed a read, or does not serve
            // CertificateRequests yet: retried with backoff (KubeApiError),
            // so installing cert-manager is enough.
            TlsApplyError::Issuer(e) => ApplyError::Observe(DeviceError::External {
                what: match &e {
                    IssuerError::Api { what, .. } => what.clone(),
                    IssuerError::NotInstalled => "listing cert-manager CertificateRequests".into(),
                },
                reason: match e {
                    IssuerError::Api { reason, .. } => reason,
                    other => other.to_string(),
                },
            }),
            other => ApplyError::Plan(PlanError::Unplannable(other.to_string())),
        })
    }

    fn plan(
        desired: &TlsDesired,
        observed: &TlsObserved,
        memory: &SecretDigests,
    ) -> Result<Plan<TlsAction>, PlanError> {
        let memory = TlsMemory {
            uploaded_key_digest: memory.get(KEY_DIGEST).cloned(),
        };
        let planned = plan_tls(desired, observed, &memory, now_unix())
            .map_err(|e| PlanError::Unplannable(e.to_string()))?;
        let drift_keys = planned.drift_keys(10);
        let drift_count = planned.changes().count();
        let step = |s: super::TlsStep| Step {
            action: s.action,
            description: s.description,
            changes: s.changes,
            side_effect: SideEffect::None,
        };
        Ok(Plan {
            steps: planned.steps.into_iter().map(step).collect(),
            blocked: planned
                .blocked
                .into_iter()
                .map(|(s, reason)| (step(s), reason))
                .collect(),
            drift_count,
            drift_keys,
        })
    }

    fn saves(action: &TlsAction) -> bool {
        matches!(action, TlsAction::Save)
    }

    async fn save_pending(client: &MediantClient) -> Result<(), ApplyError> {
        crate::plan::save_pending(client).await
    }

    async fn run_step(
        client: &MediantClient,
        desired: &TlsDesired,
        observed: &TlsObserved,
        action: &TlsAction,
    ) -> Result<StepDone, DeviceError> {
        let (id, name, _) =
            resolve_context(&desired.context, observed).map_err(|e| DeviceError::Config {
                reason: e.to_string(),
            })?;
        let mut done = StepDone::default();
        let result = run_action(client, desired, id, action).await;
        if let (Ok(()), TlsAction::UploadKey { digest, .. }) = (&result, action) {
            done.digests.insert(KEY_DIGEST.to_string(), digest.clone());
        }
        match (result, action, &desired.files) {
            (Ok(()), _, _) => Ok(done),
            // A refused certificate: say which context and which Secret.
            (
                Err(DeviceError::Rejected {
                    method,
                    resource,
                    description,
                }),
                TlsAction::UploadCertificate(_),
                DesiredFiles::Secret { origin, .. },
            ) => Err(DeviceError::Rejected {
                method,
                resource,
                description: format!(
                    "{description} (TLS context {id} `{name}`, certificate from {origin})"
                ),
            }),
            (Err(e), _, _) => Err(e),
        }
    }

    fn expiry(resource: &TlsContext, status: &TlsContextStatus) -> Option<Expiry> {
        let not_after = status
            .certificate
            .as_ref()?
            .not_after
            .as_ref()?
            .0
            .as_second();
        Some(Expiry {
            not_after,
            warn_within: i64::from(resource.spec.expiry_warning_days) * 86_400,
        })
    }

    fn status(
        previous: Option<&TlsContextStatus>,
        common: CommonStatus,
        observed: Option<&TlsObserved>,
        now: &Time,
    ) -> TlsContextStatus {
        let prev = previous.cloned().unwrap_or_default();
        let now_s = now.0.as_second();
        let digest = common.applied_secret_digests.get(KEY_DIGEST).cloned();
        let files = observed.and_then(|o| o.files.as_ref());
        let context = observed.and_then(|o| {
            let id = o.context_id?;
            o.contexts
                .iter()
                .find(|c| c.id == id)
                .map(|c| (c.id, c.name.clone()))
        });
        let request = observed.and_then(|o| o.request.as_ref());
        let mut conditions = common.conditions;
        if let Some(r) = request {
            waiting_conditions(&mut conditions, r, common.observed_generation, now);
        }
        TlsContextStatus {
            conditions,
            observed_generation: common.observed_generation,
            last_applied_revision: common.last_applied_revision,
            drift: common.drift,
            context: context
                .as_ref()
                .map(|(id, name)| format!("{id} ({name})"))
                .or(prev.context),
            context_index: context.as_ref().map(|(id, _)| *id).or(prev.context_index),
            certificate: match files {
                Some(f) => f.certificate.as_ref().map(|c| certificate_status(c, now_s)),
                None => prev.certificate,
            },
            private_key: match files {
                Some(f) => Some(PrivateKeyStatus {
                    size: f.key.size,
                    valid: f.key.valid,
                    uploaded_digest: digest,
                }),
                None => prev.private_key.map(|k| PrivateKeyStatus {
                    uploaded_digest: digest.or(k.uploaded_digest),
                    ..k
                }),
            },
            trusted_root_count: match files.and_then(|f| f.roots.as_ref()) {
                Some(roots) => u32::try_from(roots.len()).ok(),
                None => prev.trusted_root_count,
            },
            // A fresh observation says what is there (nothing, outside the
            // CSR flow); without one, status keeps what it said.
            certificate_request: match observed {
                Some(_) => request.map(|r| CertificateRequestStatus {
                    name: r.name.clone(),
                    csr_digest: hex_sha256(r.request_pem.trim()),
                    state: r.state.as_str().to_string(),
                    message: r.message.chars().take(1024).collect(),
                }),
                _ => prev.certificate_request,
            },
            last_sync_time: common.last_sync_time,
            // The pipeline sets it (KindStatus::with_pending_save).
            pending_save: prev.pending_save,
        }
    }
}
