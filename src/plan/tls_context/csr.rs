//! The CSR flow (`generateOnDevice.certificateRequest`), planned: the key
//! stays on the device, which makes the CSR (v7.4 §8.5); cert-manager signs
//! it through a `CertificateRequest`; the certificate is uploaded (§8.3).
//! Pure: the cluster is read in `observe` ([`super::io`]) and written by
//! the steps.
//!
//! # When a certificate is requested
//! The device certificate is kept while it is *healthy*: the key is valid
//! (matches the certificate) and of `keySize` bits, the certificate is not
//! self-issued (the factory's or a self-signed one), its CN is the declared
//! one, and it is not due: `now < notAfter - renewBefore`, or two thirds
//! into its lifetime when renewBefore is not shorter than it (cert-manager's
//! rule).
//! Otherwise the latest CertificateRequest of the TlsContext decides, if it
//! is *current* (same issuerRef and duration, made to replace the
//! certificate the device holds now):
//! - Pending: wait (no step; the drift names the request);
//! - Issued: upload `status.certificate` (refused before sending when it is
//!   not PEM or not for the CSR's key), publish, save;
//! - Denied, Failed, InvalidRequest: wait, saying so by name; a new request
//!   is made once that one is deleted or the spec's issuerRef/duration
//!   changes.
//!
//! With no current request: generate a fresh key first when `rotateKey` (or
//! the key size differs), then request: the step asks the device for a CSR
//! and creates the CertificateRequest, named `<tlscontext>-<10 hex>` from a
//! digest of the CSR, the issuer, the duration, the usages and the
//! certificate it replaces, so a repeated step finds its own request.
//!
//! # Caveat
//! The device has one key per context: between a key generation and the
//! upload of the certificate signed for it, the context's certificate does
//! not match its key (`valid: false`). With an automated issuer this lasts
//! seconds; `rotateKey: false` (the default) avoids it by reusing the key.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::api::IssuerRef;
use crate::config::pem::{self, Certificate, SigningRequest};
use crate::device::DeviceSubject;
use crate::plan::Change;
use crate::plan::issuer::{ObservedRequest, Owner, PublishedSecret, RequestState};

use super::{
    CSR_NEEDS_CLUSTER, DesiredRequest, ObservedFiles, TlsAction, TlsDesired, TlsObserved, TlsPlan,
    TlsPlanError, TlsStep, cert_label,
};

/// What the request step sends and creates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestStep {
    /// The CSR's subject.
    pub subject: DeviceSubject,
    /// `sha1`, `sha256` or `sha512`.
    pub signature_algorithm: &'static str,
    /// Namespace of the TlsContext.
    pub namespace: String,
    /// The TlsContext.
    pub owner: Owner,
    /// The issuer.
    pub issuer_ref: IssuerRef,
    /// cert-manager usages.
    pub usages: Vec<String>,
    /// Requested lifetime.
    pub duration: Option<String>,
    /// SHA-256 of the device certificate being replaced, or `none`.
    pub replaces: String,
    /// The Secret the CSR is published in.
    pub publish_secret: String,
}

/// The CertificateRequest name for `csr_pem` made by `step`: the owner's
/// name (shortened to fit 253 characters) and 10 hex digits of a digest of
/// everything the request holds.
pub fn request_name(csr_pem: &str, step: &RequestStep) -> String {
    let mut h = Sha256::new();
    for part in [
        csr_pem.trim(),
        &step.issuer_ref.name,
        step.issuer_ref.kind.as_deref().unwrap_or(""),
        step.issuer_ref.group.as_deref().unwrap_or(""),
        step.duration.as_deref().unwrap_or(""),
        &step.usages.join(","),
        &step.replaces,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let base: String = step.owner.name.chars().take(253 - 11).collect();
    let base = base.trim_end_matches(['-', '.']);
    format!("{base}-{}", &hex[..10])
}

/// Whether `cert` is due for renewal at `now`: `renewBefore` before
/// notAfter, or, when renewBefore is not shorter than the certificate's
/// lifetime, at two thirds of it (cert-manager's rule, so a short-lived
/// certificate is not renewed the moment it arrives).
fn due(cert: &Certificate, renew_before: i64, now: i64) -> bool {
    let lifetime = cert.not_after.saturating_sub(cert.not_before).max(0);
    let window = if renew_before < lifetime {
        renew_before
    } else {
        lifetime / 3
    };
    now >= cert.not_after.saturating_sub(window)
}

fn issuer_label(r: &IssuerRef) -> String {
    format!("{} `{}`", r.kind.as_deref().unwrap_or("Issuer"), r.name)
}

/// The data the published Secret holds for `request`: `tls.csr`, and once
/// issued `tls.crt` (the chain as issued) and `ca.crt` (when given).
pub(super) fn published_data(request: &ObservedRequest) -> BTreeMap<String, String> {
    let mut data = BTreeMap::from([("tls.csr".to_string(), request.request_pem.clone())]);
    if let RequestState::Issued { certificate, ca } = &request.state {
        data.insert("tls.crt".into(), certificate.clone());
        if let Some(ca) = ca.as_ref().filter(|c| !c.trim().is_empty()) {
            data.insert("ca.crt".into(), ca.clone());
        }
    }
    data
}

/// Adds the steps (or the wait) of the CSR flow to `plan`.
#[allow(clippy::too_many_arguments)] // the parts of one plan_tls call
pub(super) fn plan_requested(
    plan: &mut TlsPlan,
    desired: &TlsDesired,
    request: &DesiredRequest,
    observed: &TlsObserved,
    files: &ObservedFiles,
    exists: bool,
    context_key: &str,
    now: i64,
) -> Result<(), TlsPlanError> {
    let have = files.certificate.as_ref();
    let device_fp = have.map_or_else(|| "none".to_string(), |c| c.fingerprint.clone());
    let cn = &request.subject.subject_name;
    let healthy = exists
        && files.key.valid
        && files.key.size == request.key_size
        && have.is_some_and(|c| {
            !c.is_self_issued()
                && (cn.is_empty() || c.subject_attribute("CN").as_deref() == Some(cn.as_str()))
                && !due(c, request.renew_before, now)
        });
    let cert_key = format!("{context_key} certificate");
    let issuer = issuer_label(&request.issuer_ref);
    let in_cluster = desired.issuer.is_some();
    let step = RequestStep {
        subject: request.subject.clone(),
        signature_algorithm: request.signature_algorithm,
        namespace: request.namespace.clone(),
        owner: request.owner.clone(),
        issuer_ref: request.issuer_ref.clone(),
        usages: request.usages.clone(),
        duration: request.duration.clone(),
        replaces: device_fp.clone(),
        publish_secret: request.publish_secret.clone(),
    };
    let request_step = TlsStep {
        action: TlsAction::RequestCertificate(Box::new(step)),
        description: format!(
            "ask the device for a CSR of {context_key} and request its certificate from {issuer} (cert-manager CertificateRequest)"
        ),
        changes: vec![Change {
            key: cert_key.clone(),
            before: cert_label(have),
            after: Some(format!("signed by {issuer}")),
        }],
    };
    if healthy {
        publish(plan, request, observed, in_cluster);
        return Ok(());
    }
    if !in_cluster {
        plan.blocked
            .push((request_step, CSR_NEEDS_CLUSTER.to_string()));
        return Ok(());
    }
    let qualified =
        |r: &ObservedRequest| format!("CertificateRequest `{}/{}`", request.namespace, r.name);
    // "none": made before the context had a certificate (or existed), so a
    // context created with its factory certificate in the same pass still
    // finds its request.
    let current = observed.request.as_ref().filter(|r| {
        r.issuer_ref == request.issuer_ref
            && r.duration == request.duration
            && (r.replaces == device_fp || r.replaces == "none")
    });
    let wait = |plan: &mut TlsPlan, after: String| {
        plan.waiting.push(Change {
            key: cert_key.clone(),
            before: cert_label(have),
            after: Some(after),
        });
    };
    match current {
        Some(r) => match &r.state {
            RequestState::Pending => wait(
                plan,
                format!("waiting for {} to be signed by {issuer}", qualified(r)),
            ),
            RequestState::Issued { certificate, .. } => {
                let bad = |reason: String| TlsPlanError::Issued {
                    name: format!("{}/{}", request.namespace, r.name),
                    reason,
                };
                let chain = pem::parse_certificates(certificate).map_err(|e| {
                    bad(format!("status.certificate is not a PEM certificate: {e}"))
                })?;
                let leaf = &chain[0]; // parse_certificates returns at least one
                if let Ok(csr) = SigningRequest::parse(&r.request_pem)
                    && !csr.matches(leaf)
                {
                    return Err(bad(format!(
                        "the issued certificate ({}) is not for the key of the CSR: the device would refuse it",
                        leaf.subject
                    )));
                }
                if have.is_some_and(|c| c.fingerprint == leaf.fingerprint) {
                    // Uploaded earlier and no longer healthy (due, or the
                    // key or CN changed): spent; request anew. The new
                    // request replaces this certificate, so it has another
                    // name.
                    return start_over(plan, request, files, exists, context_key, request_step);
                } else {
                    plan.steps.push(TlsStep {
                        action: TlsAction::UploadCertificate(pem::bundle(&chain)),
                        description: format!(
                            "upload the certificate {} issued ({} certificate(s)) to {context_key}",
                            qualified(r),
                            chain.len()
                        ),
                        changes: vec![Change {
                            key: cert_key.clone(),
                            before: cert_label(have),
                            after: cert_label(Some(leaf)),
                        }],
                    });
                }
            }
            failed => wait(
                plan,
                format!(
                    "{} was refused ({}: {}); delete it, or change spec.certificate.generateOnDevice.certificateRequest, to request again",
                    qualified(r),
                    failed.as_str(),
                    r.message
                ),
            ),
        },
        None => return start_over(plan, request, files, exists, context_key, request_step),
    }
    publish(plan, request, observed, in_cluster);
    Ok(())
}

/// A fresh key first when `rotateKey` (or the size differs), then the
/// request step (which publishes the new CSR itself).
fn start_over(
    plan: &mut TlsPlan,
    request: &DesiredRequest,
    files: &ObservedFiles,
    exists: bool,
    context_key: &str,
    request_step: TlsStep,
) -> Result<(), TlsPlanError> {
    let size = request.key_size;
    if request.rotate_key || !exists || files.key.size != size {
        plan.steps.push(TlsStep {
            action: TlsAction::GenerateKey { size },
            description: format!(
                "generate a fresh {size}-bit private key on {context_key} for the CSR"
            ),
            changes: vec![Change {
                key: format!("{context_key} privateKey"),
                before: exists.then(|| format!("{} bits", files.key.size)),
                after: Some(format!("{size} bits, generated on the device")),
            }],
        });
    }
    plan.steps.push(request_step);
    Ok(())
}

/// A step publishing the latest request's CSR and chain, when the Secret
/// holds something else.
fn publish(plan: &mut TlsPlan, request: &DesiredRequest, observed: &TlsObserved, in_cluster: bool) {
    let Some(latest) = observed.request.as_ref().filter(|_| in_cluster) else {
        return;
    };
    let data = published_data(latest);
    if observed.published.as_ref() == Some(&data) {
        return;
    }
    let keys = |d: &BTreeMap<String, String>| d.keys().cloned().collect::<Vec<_>>().join(", ");
    let key = format!("Secret `{}/{}`", request.namespace, request.publish_secret);
    plan.steps.push(TlsStep {
        description: format!(
            "publish the CSR and chain of CertificateRequest `{}` in {key}",
            latest.name
        ),
        changes: vec![Change {
            key,
            before: observed.published.as_ref().map(keys),
            after: Some(keys(&data)),
        }],
        action: TlsAction::Publish(Box::new(PublishedSecret {
            namespace: request.namespace.clone(),
            name: request.publish_secret.clone(),
            owner: request.owner.clone(),
            data,
        })),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(replaces: &str) -> RequestStep {
        RequestStep {
            subject: DeviceSubject::default(),
            signature_algorithm: "sha256",
            namespace: "voice".into(),
            owner: Owner {
                name: "teams-tls".into(),
                ..Owner::default()
            },
            issuer_ref: IssuerRef {
                name: "ca".into(),
                kind: None,
                group: None,
            },
            usages: vec!["server auth".into()],
            duration: None,
            replaces: replaces.into(),
            publish_secret: "teams-tls-csr".into(),
        }
    }

    #[test]
    fn names_are_deterministic_and_differ_per_replaced_certificate() {
        let a = request_name("CSR", &step("none"));
        assert_eq!(a, request_name("CSR", &step("none")));
        assert!(
            a.starts_with("teams-tls-") && a.len() == "teams-tls-".len() + 10,
            "{a}"
        );
        assert_ne!(a, request_name("CSR", &step("abcd")));
        assert_ne!(a, request_name("CSR2", &step("none")));
        let mut long = step("none");
        long.owner.name = format!("{}.x", "a".repeat(250));
        let n = request_name("CSR", &long);
        assert!(n.len() <= 253, "{}", n.len());
    }
}
