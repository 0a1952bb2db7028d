//! Observe a TLS context, run its plan, observe again and verify: the I/O
//! around the pure [`plan_tls`](super::tls_context::plan_tls).
//!
//! # Guarantees
//! - An in-sync context costs only GETs (`/status`, `/files/tls`, the key
//!   state, the certificate, the trusted roots when declared, the INI when
//!   the context row is declared): no write.
//! - A failed step stops the run and is reported with the steps completed
//!   before it; a certificate the device refuses is reported with the
//!   context and the Secret it came from.

use std::collections::BTreeMap;

use crate::config::ini::{self, IniError};
use crate::config::pem::{self, Certificate, PemError, SigningRequest};
use crate::device::{DeviceError, MediantClient};
use crate::plan::issuer::{self, IssuerError, NewCertificateRequest, PublishedSecret};

use super::{
    DesiredFiles, ObservedFiles, TlsAction, TlsDesired, TlsMemory, TlsObserved, TlsPlan,
    TlsPlanError, TlsStep, needs_ini, plan_tls, request_name, resolve_context,
};

/// Why observing or applying a TLS context failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsApplyError {
    /// The device refused or could not be reached while observing.
    #[error("observing the device failed: {0}")]
    Observe(#[source] DeviceError),
    /// The device's INI did not parse.
    #[error("the device's INI file could not be read: {0}")]
    DeviceIni(#[source] IniError),
    /// The device returned a certificate file that is not PEM.
    #[error("the device's {what} could not be read: {source}")]
    DevicePem {
        /// Which file.
        what: &'static str,
        /// What is wrong.
        source: PemError,
    },
    /// No plan could be made (bad input: nothing was sent).
    #[error(transparent)]
    Plan(#[from] TlsPlanError),
    /// A step failed; the ones before it were applied.
    #[error("step {number} ({description}) failed after {completed} completed step(s): {source}")]
    Step {
        /// 1-based number of the failed step.
        number: usize,
        /// What the step was doing.
        description: String,
        /// Steps that completed before it.
        completed: usize,
        /// The device's answer.
        #[source]
        source: DeviceError,
    },
    /// The device accepted the steps but the context still differs.
    #[error("the device accepted the changes but still differs: {0}")]
    NotConverged(String),
    /// The cluster's CertificateRequests or the published Secret could not
    /// be read.
    #[error("reading the CSR flow's cluster objects failed: {0}")]
    Issuer(#[source] IssuerError),
}

impl TlsApplyError {
    /// The device error underneath, if any.
    pub fn device_error(&self) -> Option<&DeviceError> {
        match self {
            TlsApplyError::Observe(e) | TlsApplyError::Step { source: e, .. } => Some(e),
            _ => None,
        }
    }

    /// A short, bounded identifier of the failure, for event reasons and
    /// metric labels.
    pub fn category(&self) -> &'static str {
        match self {
            TlsApplyError::Observe(e) | TlsApplyError::Step { source: e, .. } => e.category(),
            TlsApplyError::DeviceIni(_) | TlsApplyError::DevicePem { .. } => "InvalidResponse",
            TlsApplyError::Plan(TlsPlanError::Missing { .. }) => "SourceMissing",
            TlsApplyError::Plan(TlsPlanError::Pem { .. }) => "InvalidPem",
            TlsApplyError::Plan(TlsPlanError::KeyMismatch { .. }) => "KeyMismatch",
            TlsApplyError::Plan(_) => "InvalidSpec",
            TlsApplyError::NotConverged(_) => "NotTaken",
            TlsApplyError::Issuer(_) => "KubeApiError",
        }
    }
}

/// The certificates of a PEM file the device returned (none when empty).
fn parse_device_pem(text: Option<String>) -> Result<Vec<Certificate>, PemError> {
    match text {
        Some(t) if t.contains("-----BEGIN") => pem::parse_certificates(&t),
        _ => Ok(Vec::new()),
    }
}

/// Reads what the device holds for the context `desired` names.
pub async fn observe_tls(
    client: &MediantClient,
    desired: &TlsDesired,
) -> Result<TlsObserved, TlsApplyError> {
    let contexts = client
        .tls_contexts()
        .await
        .map_err(TlsApplyError::Observe)?;
    let status = client.status().await.map_err(TlsApplyError::Observe)?;
    let ini = if needs_ini(desired, &contexts) {
        let text = client.ini().await.map_err(TlsApplyError::Observe)?;
        Some(ini::parse(&text).map_err(TlsApplyError::DeviceIni)?)
    } else {
        None
    };
    let mut observed = TlsObserved {
        serial: status.serial_number,
        contexts,
        context_id: None,
        ini,
        files: None,
        request: None,
        published: None,
    };
    // Which context (and whether it exists) is the planner's decision.
    let (id, _, exists) = resolve_context(&desired.context, &observed)?;
    if !exists {
        return Ok(observed);
    }
    observed.context_id = Some(id);
    let key = client
        .tls_private_key(id)
        .await
        .map_err(TlsApplyError::Observe)?;
    let certificate = parse_device_pem(
        client
            .tls_certificate(id)
            .await
            .map_err(TlsApplyError::Observe)?,
    )
    .map_err(|source| TlsApplyError::DevicePem {
        what: "certificate",
        source,
    })?
    .into_iter()
    .next();
    let roots = match &desired.roots {
        Some(_) => Some(
            parse_device_pem(
                client
                    .tls_trusted_roots(id)
                    .await
                    .map_err(TlsApplyError::Observe)?,
            )
            .map_err(|source| TlsApplyError::DevicePem {
                what: "trusted root store",
                source,
            })?,
        ),
        None => None,
    };
    observed.files = Some(ObservedFiles {
        key,
        certificate,
        roots,
    });
    // The CSR flow in a cluster: its latest CertificateRequest, listed from
    // the API server (a cache could lag behind a request just created), and
    // the published Secret.
    if let (DesiredFiles::Requested(request), Some(issuer)) = (&desired.files, &desired.issuer) {
        let requests = issuer
            .requests(&request.namespace, &request.owner.name)
            .await
            .map_err(TlsApplyError::Issuer)?;
        observed.request = issuer::latest(requests);
        observed.published = issuer
            .published(&request.namespace, &request.publish_secret)
            .await
            .map_err(TlsApplyError::Issuer)?;
    }
    Ok(observed)
}

/// An issuer failure inside a step, as the step's error.
fn external(what: String) -> impl FnOnce(IssuerError) -> DeviceError {
    move |e| DeviceError::External {
        what,
        reason: e.to_string(),
    }
}

/// Runs one step's action on context `id`.
pub(super) async fn run_action(
    client: &MediantClient,
    desired: &TlsDesired,
    id: u32,
    action: &TlsAction,
) -> Result<(), DeviceError> {
    match action {
        TlsAction::Ini(text) => client.put_ini_incremental(text).await,
        TlsAction::UploadKey { pem, password, .. } => {
            client
                .put_tls_private_key(id, pem.expose(), password.as_ref().map(|p| p.expose()))
                .await
        }
        TlsAction::GenerateKey { size } => client.generate_tls_private_key(id, *size).await,
        TlsAction::UploadCertificate(chain) => client.put_tls_certificate(id, chain).await,
        TlsAction::GenerateSelfSigned(subject) => {
            client.generate_tls_self_signed(id, subject).await
        }
        TlsAction::ReplaceRoots(bundle) => client.put_tls_trusted_roots(id, bundle).await,
        TlsAction::AddRoot(cert) => client.add_tls_trusted_root(id, cert).await,
        TlsAction::RequestCertificate(step) => {
            // Planned only with an issuer; without one nothing is sent.
            let Some(issuer) = &desired.issuer else {
                return Err(DeviceError::Config {
                    reason: super::CSR_NEEDS_CLUSTER.to_string(),
                });
            };
            let resource = format!("files/tls/{id}/certificate/request");
            let text = client
                .tls_signing_request(id, &step.subject, step.signature_algorithm)
                .await?;
            let csr = SigningRequest::parse(&text).map_err(|e| DeviceError::InvalidResponse {
                method: "POST".into(),
                resource: resource.clone(),
                reason: format!("not a PEM certificate request: {e}"),
            })?;
            let name = request_name(&csr.pem, step);
            let qualified = format!("CertificateRequest `{}/{name}`", step.namespace);
            issuer
                .create_request(&NewCertificateRequest {
                    namespace: step.namespace.clone(),
                    name,
                    owner: step.owner.clone(),
                    request_pem: csr.pem.clone(),
                    issuer_ref: step.issuer_ref.clone(),
                    usages: step.usages.clone(),
                    duration: step.duration.clone(),
                    replaces: step.replaces.clone(),
                })
                .await
                .map_err(external(format!("creating {qualified}")))?;
            let secret = PublishedSecret {
                namespace: step.namespace.clone(),
                name: step.publish_secret.clone(),
                owner: step.owner.clone(),
                data: BTreeMap::from([("tls.csr".to_string(), csr.pem)]),
            };
            issuer.publish(&secret).await.map_err(external(format!(
                "publishing the CSR in Secret `{}/{}`",
                secret.namespace, secret.name
            )))
        }
        TlsAction::Publish(secret) => {
            let Some(issuer) = &desired.issuer else {
                return Err(DeviceError::Config {
                    reason: super::CSR_NEEDS_CLUSTER.to_string(),
                });
            };
            issuer.publish(secret).await.map_err(external(format!(
                "publishing Secret `{}/{}`",
                secret.namespace, secret.name
            )))
        }
        TlsAction::Save => client.save_configuration().await,
    }
}

/// Runs one step.
async fn run_step(
    client: &MediantClient,
    desired: &TlsDesired,
    id: u32,
    step: &TlsStep,
) -> Result<(), DeviceError> {
    run_action(client, desired, id, &step.action).await
}

/// Runs `plan`'s steps in order; stops at the first failure.
pub async fn apply_tls(
    client: &MediantClient,
    plan: &TlsPlan,
    desired: &TlsDesired,
) -> Result<usize, TlsApplyError> {
    for (i, step) in plan.steps.iter().enumerate() {
        if let Err(source) = run_step(client, desired, plan.context_id, step).await {
            // A refused certificate: say which context and which Secret.
            let source = match (&step.action, &desired.files, source) {
                (
                    TlsAction::UploadCertificate(_),
                    DesiredFiles::Secret { origin, .. },
                    DeviceError::Rejected {
                        method,
                        resource,
                        description,
                    },
                ) => DeviceError::Rejected {
                    method,
                    resource,
                    description: format!(
                        "{description} (TLS context {} `{}`, certificate from {origin})",
                        plan.context_id, plan.context_name
                    ),
                },
                (_, _, other) => other,
            };
            return Err(TlsApplyError::Step {
                number: i + 1,
                description: step.description.clone(),
                completed: i,
                source,
            });
        }
    }
    Ok(plan.steps.len())
}

/// The result of one observe → plan (→ apply → verify) pass.
#[derive(Clone, Debug)]
pub struct TlsOutcome {
    /// The plan made from the first observation.
    pub plan: TlsPlan,
    /// Whether the steps were run.
    pub applied: bool,
    /// The device after the pass (re-observed when steps ran).
    pub observed: TlsObserved,
    /// What to remember for the next pass.
    pub memory: TlsMemory,
}

/// Observes, plans and, when `apply`, runs the steps and verifies that a
/// second plan is empty. `now` is Unix seconds.
pub async fn reconcile_tls(
    client: &MediantClient,
    desired: &TlsDesired,
    memory: &TlsMemory,
    now: i64,
    apply: bool,
) -> Result<TlsOutcome, TlsApplyError> {
    let observed = observe_tls(client, desired).await?;
    let plan = plan_tls(desired, &observed, memory, now)?;
    if !apply || plan.is_empty() {
        let memory = TlsMemory {
            uploaded_key_digest: if plan.is_empty() {
                plan.key_digest
                    .clone()
                    .or(memory.uploaded_key_digest.clone())
            } else {
                memory.uploaded_key_digest.clone()
            },
        };
        return Ok(TlsOutcome {
            plan,
            applied: false,
            observed,
            memory,
        });
    }
    apply_tls(client, &plan, desired).await?;
    let memory = TlsMemory {
        uploaded_key_digest: plan.key_digest.clone(),
    };
    let after = observe_tls(client, desired).await?;
    let remaining = plan_tls(desired, &after, &memory, now)?;
    if !remaining.is_empty() {
        let keys = remaining.drift_keys(10).join(", ");
        return Err(TlsApplyError::NotConverged(keys));
    }
    Ok(TlsOutcome {
        plan,
        applied: true,
        observed: after,
        memory,
    })
}
