//! The seam to the cluster objects a kind exchanges with besides its
//! device and its sources: cert-manager `CertificateRequest`s (created from
//! a CSR the device made, read back for the signed certificate) and the
//! Secret the CSR and the issued chain are published in.
//!
//! [`Issuer`] is implemented over the API server by
//! `crate::controller::sources::ClusterIssuer`; the command line
//! (`diff`/`apply -f`) has none, so a kind that needs one reports its
//! certificate as waiting (see `crate::plan::tls_context`).
//!
//! cert-manager's API (cert-manager.io/v1, `pkg/apis/certmanager/v1/
//! types_certificaterequest.go`): `spec.request` is the PEM CSR (base64 in
//! JSON, as every `[]byte`), `spec.issuerRef`, `spec.usages`,
//! `spec.duration`; `status.certificate` the PEM certificate (and chain),
//! `status.ca` the signer's certificate "on a best-effort basis"; the
//! conditions `Ready`, `InvalidRequest`, `Approved` and `Denied`, with the
//! `Ready` reasons `Pending`, `Failed`, `Issued` and `Denied`. "A
//! CertificateRequest is a one-shot resource": a renewal is a new one.

use std::collections::BTreeMap;
use std::fmt::Debug;

use futures::future::BoxFuture;

use crate::api::IssuerRef;

/// The label every CertificateRequest of a TlsContext carries (its name), so
/// the latest is found by a list, not by a cache that may lag.
pub const OWNER_LABEL: &str = "mediant.io/tls-context";

/// The annotation naming (by SHA-256) the device certificate a request was
/// made to replace (`none` for a context without one).
pub const REPLACES_ANNOTATION: &str = "mediant.io/replaces-certificate";

/// The resource that owns what the issuer creates (its ownerReference).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Owner {
    /// `mediant.io/v1alpha1`.
    pub api_version: String,
    /// `TlsContext`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its uid (empty outside a cluster).
    pub uid: String,
}

/// A CertificateRequest to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCertificateRequest {
    /// Namespace (the owner's).
    pub namespace: String,
    /// Name (deterministic: the same request gets the same name).
    pub name: String,
    /// Owner.
    pub owner: Owner,
    /// The PEM CSR (public data).
    pub request_pem: String,
    /// The issuer that signs it.
    pub issuer_ref: IssuerRef,
    /// cert-manager key usages.
    pub usages: Vec<String>,
    /// Requested lifetime, Go-style.
    pub duration: Option<String>,
    /// Fingerprint of the device certificate it replaces (`none` if none).
    pub replaces: String,
}

/// Where a CertificateRequest is, from its conditions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestState {
    /// Not decided yet (no condition, `Ready=False` with reason `Pending`, or
    /// approved and not yet signed).
    Pending,
    /// `Ready=True` and `status.certificate` set.
    Issued {
        /// `status.certificate`: PEM, the certificate then its chain.
        certificate: String,
        /// `status.ca`, when the issuer sets it.
        ca: Option<String>,
    },
    /// `Denied=True` (or `Ready=False` reason `Denied`): never signed.
    Denied,
    /// `Ready=False` reason `Failed`: failed permanently.
    Failed,
    /// `InvalidRequest=True`: the signer refused the input.
    InvalidRequest,
}

impl RequestState {
    /// The name status shows.
    pub fn as_str(&self) -> &'static str {
        match self {
            RequestState::Pending => "Pending",
            RequestState::Issued { .. } => "Issued",
            RequestState::Denied => "Denied",
            RequestState::Failed => "Failed",
            RequestState::InvalidRequest => "InvalidRequest",
        }
    }

    /// Whether it will never be signed.
    pub fn is_terminal_failure(&self) -> bool {
        matches!(
            self,
            RequestState::Denied | RequestState::Failed | RequestState::InvalidRequest
        )
    }
}

/// One condition of a CertificateRequest, as the API returns it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestCondition {
    /// `Ready`, `InvalidRequest`, `Approved`, `Denied`.
    pub type_: String,
    /// `True`, `False`, `Unknown`.
    pub status: String,
    /// Machine-readable reason.
    pub reason: String,
    /// The issuer's message.
    pub message: String,
}

/// The state of a request with these conditions and `certificate` (PEM),
/// and the message of the condition that decided it. Pure.
pub fn request_state(
    conditions: &[RequestCondition],
    certificate: Option<String>,
    ca: Option<String>,
) -> (RequestState, String) {
    let find = |t: &str| conditions.iter().find(|c| c.type_ == t);
    let is_true = |c: Option<&RequestCondition>| c.is_some_and(|c| c.status == "True");
    let message = |c: Option<&RequestCondition>| {
        c.map(|c| {
            if c.message.is_empty() {
                c.reason.clone()
            } else {
                c.message.clone()
            }
        })
        .unwrap_or_default()
    };
    let ready = find("Ready");
    if is_true(find("Denied")) {
        return (RequestState::Denied, message(find("Denied")));
    }
    if is_true(find("InvalidRequest")) {
        return (
            RequestState::InvalidRequest,
            message(find("InvalidRequest")),
        );
    }
    if let Some(r) = ready.filter(|r| r.status == "False") {
        match r.reason.as_str() {
            "Failed" => return (RequestState::Failed, message(ready)),
            "Denied" => return (RequestState::Denied, message(ready)),
            _ => {}
        }
    }
    match certificate.filter(|c| !c.trim().is_empty()) {
        Some(certificate) if is_true(ready) => {
            (RequestState::Issued { certificate, ca }, message(ready))
        }
        _ => (RequestState::Pending, message(ready)),
    }
}

/// A CertificateRequest as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedRequest {
    /// Its name.
    pub name: String,
    /// `spec.request`: the PEM CSR.
    pub request_pem: String,
    /// `spec.issuerRef`.
    pub issuer_ref: IssuerRef,
    /// `spec.duration`.
    pub duration: Option<String>,
    /// The [`REPLACES_ANNOTATION`].
    pub replaces: String,
    /// Creation time, Unix seconds (orders the requests).
    pub created: i64,
    /// From its conditions.
    pub state: RequestState,
    /// The message of the deciding condition.
    pub message: String,
}

/// A Secret to publish (created, or updated when its data differs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedSecret {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Owner.
    pub owner: Owner,
    /// Key → text (public data only: CSR and certificates, never a key).
    pub data: BTreeMap<String, String>,
}

/// Why the issuer could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerError {
    /// The cert-manager CertificateRequest API is not served.
    #[error(
        "the cluster does not serve cert-manager.io/v1 CertificateRequest: install cert-manager (or its CRDs) to sign device CSRs"
    )]
    NotInstalled,
    /// The API server refused or failed the request.
    #[error("{what} failed: {reason}")]
    Api {
        /// What was attempted, e.g. "creating CertificateRequest `voice/x`".
        what: String,
        /// The API server's answer.
        reason: String,
    },
}

/// The cluster objects of the CSR flow.
pub trait Issuer: Send + Sync + Debug {
    /// The CertificateRequests labelled [`OWNER_LABEL`]` = owner` in
    /// `namespace`, read from the API server (not a cache).
    fn requests<'a>(
        &'a self,
        namespace: &'a str,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ObservedRequest>, IssuerError>>;

    /// Creates `request`; one of that name already existing counts as done
    /// (the name is derived from the content).
    fn create_request<'a>(
        &'a self,
        request: &'a NewCertificateRequest,
    ) -> BoxFuture<'a, Result<(), IssuerError>>;

    /// The data of Secret `name`, if it exists.
    fn published<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<BTreeMap<String, String>>, IssuerError>>;

    /// Creates or updates `secret` so its data is exactly `secret.data`.
    fn publish<'a>(&'a self, secret: &'a PublishedSecret)
    -> BoxFuture<'a, Result<(), IssuerError>>;
}

/// The latest of `requests` (by creation time, then name).
pub fn latest(requests: Vec<ObservedRequest>) -> Option<ObservedRequest> {
    requests
        .into_iter()
        .max_by(|a, b| (a.created, &a.name).cmp(&(b.created, &b.name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(t: &str, s: &str, reason: &str) -> RequestCondition {
        RequestCondition {
            type_: t.into(),
            status: s.into(),
            reason: reason.into(),
            message: format!("{t} {reason}"),
        }
    }

    #[test]
    fn states_follow_cert_managers_conditions() {
        let pem = Some("-----BEGIN CERTIFICATE-----\n".to_string());
        assert_eq!(request_state(&[], None, None).0, RequestState::Pending);
        assert_eq!(
            request_state(&[c("Ready", "False", "Pending")], None, None).0,
            RequestState::Pending
        );
        assert_eq!(
            request_state(
                &[c("Approved", "True", "ok"), c("Ready", "False", "Pending")],
                None,
                None
            )
            .0,
            RequestState::Pending
        );
        let (denied, message) = request_state(
            &[c("Denied", "True", "Policy"), c("Ready", "False", "Denied")],
            None,
            None,
        );
        assert_eq!(
            (denied, message.as_str()),
            (RequestState::Denied, "Denied Policy")
        );
        assert_eq!(
            request_state(&[c("Ready", "False", "Failed")], None, None).0,
            RequestState::Failed
        );
        assert_eq!(
            request_state(&[c("InvalidRequest", "True", "BadCSR")], None, None).0,
            RequestState::InvalidRequest
        );
        // Ready without a certificate is not issued yet.
        assert_eq!(
            request_state(&[c("Ready", "True", "Issued")], None, None).0,
            RequestState::Pending
        );
        assert!(matches!(
            request_state(&[c("Ready", "True", "Issued")], pem, None).0,
            RequestState::Issued { .. }
        ));
    }

    #[test]
    fn the_latest_request_is_the_newest_then_the_greatest_name() {
        let r = |name: &str, created: i64| ObservedRequest {
            name: name.into(),
            request_pem: String::new(),
            issuer_ref: IssuerRef {
                name: "ca".into(),
                kind: None,
                group: None,
            },
            duration: None,
            replaces: "none".into(),
            created,
            state: RequestState::Pending,
            message: String::new(),
        };
        let got = latest(vec![r("b", 5), r("a", 9), r("c", 9)]).expect("some");
        assert_eq!(got.name, "c");
        assert!(latest(Vec::new()).is_none());
    }
}
