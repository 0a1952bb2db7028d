//! The cluster as [`Issuer`]: cert-manager `CertificateRequest`s and the
//! Secret a TlsContext publishes its CSR and chain in.
//!
//! The `CertificateRequest` type mirrors the fields of cert-manager.io/v1
//! the operator reads and writes (`pkg/apis/certmanager/v1/
//! types_certificaterequest.go`): `spec.request`, `spec.issuerRef`,
//! `spec.usages`, `spec.duration`, `spec.isCA`; `status.conditions`,
//! `status.certificate`, `status.ca`, `status.failureTime`. Its `[]byte`
//! fields are base64 strings in JSON, hence [`ByteString`]. It is not one
//! of our CRDs (cert-manager installs it) and has no schema here.

use std::collections::BTreeMap;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::api::{ListParams, PostParams};
use kube::{Api, CustomResource};
use serde::{Deserialize, Serialize};

use crate::api::IssuerRef;
use crate::plan::issuer::{
    Issuer, IssuerError, NewCertificateRequest, OWNER_LABEL, ObservedRequest, Owner,
    PublishedSecret, REPLACES_ANNOTATION, RequestCondition, request_state,
};

/// What the operator uses of a cert-manager CertificateRequest's spec.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "CertificateRequest",
    plural = "certificaterequests",
    namespaced,
    status = "CertificateRequestStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRequestSpec {
    /// Requested lifetime (Go-style duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// The issuer.
    pub issuer_ref: CertManagerIssuerRef,
    /// The PEM CSR.
    pub request: ByteString,
    /// Requested key usages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usages: Vec<String>,
    /// Requested basic constraints.
    #[serde(default, rename = "isCA", skip_serializing_if = "std::ops::Not::not")]
    pub is_ca: bool,
}

/// `spec.issuerRef` (cert-manager's `ObjectReference`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertManagerIssuerRef {
    /// Issuer name.
    pub name: String,
    /// `Issuer`, `ClusterIssuer`, or an external kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `cert-manager.io` or an external group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// What the operator reads of a CertificateRequest's status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRequestStatus {
    /// `Ready`, `InvalidRequest`, `Approved`, `Denied`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<CertificateRequestCondition>,
    /// The PEM certificate (and chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<ByteString>,
    /// The signer's PEM certificate, best effort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<ByteString>,
    /// When it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_time: Option<Time>,
}

/// One condition of a CertificateRequest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRequestCondition {
    /// Its type.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False`, `Unknown`.
    pub status: String,
    /// Reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When it last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
}

/// The API server, as the CSR flow's [`Issuer`].
#[derive(Clone)]
pub struct ClusterIssuer {
    client: kube::Client,
}

impl std::fmt::Debug for ClusterIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterIssuer")
    }
}

impl ClusterIssuer {
    /// The issuer reached through `client`.
    pub fn new(client: kube::Client) -> Self {
        ClusterIssuer { client }
    }
}

fn owner_references(owner: &Owner) -> Option<Vec<OwnerReference>> {
    // Outside a cluster the owner has no uid, and a reference needs one.
    (!owner.uid.is_empty()).then(|| {
        vec![OwnerReference {
            api_version: owner.api_version.clone(),
            kind: owner.kind.clone(),
            name: owner.name.clone(),
            uid: owner.uid.clone(),
            controller: Some(true),
            // Not set: it needs the owner's finalizers permission, and
            // nothing is lost when the owner goes first.
            block_owner_deletion: None,
        }]
    })
}

fn api_error(what: String) -> impl FnOnce(kube::Error) -> IssuerError {
    move |e| match &e {
        kube::Error::Api(s) if s.is_not_found() && what.contains("CertificateRequest") => {
            IssuerError::NotInstalled
        }
        _ => IssuerError::Api {
            what,
            reason: e.to_string(),
        },
    }
}

fn text(bytes: Option<ByteString>) -> Option<String> {
    bytes.map(|b| String::from_utf8_lossy(&b.0).into_owned())
}

/// What the CSR flow reads of `cr`.
pub fn observed_request(cr: CertificateRequest) -> ObservedRequest {
    let meta = cr.metadata;
    let status = cr.status.unwrap_or_default();
    let conditions: Vec<RequestCondition> = status
        .conditions
        .into_iter()
        .map(|c| RequestCondition {
            type_: c.type_,
            status: c.status,
            reason: c.reason.unwrap_or_default(),
            message: c.message.unwrap_or_default(),
        })
        .collect();
    let (state, message) = request_state(&conditions, text(status.certificate), text(status.ca));
    ObservedRequest {
        name: meta.name.unwrap_or_default(),
        request_pem: String::from_utf8_lossy(&cr.spec.request.0).into_owned(),
        issuer_ref: IssuerRef {
            name: cr.spec.issuer_ref.name,
            kind: cr.spec.issuer_ref.kind,
            group: cr.spec.issuer_ref.group,
        },
        duration: cr.spec.duration,
        replaces: meta
            .annotations
            .and_then(|mut a| a.remove(REPLACES_ANNOTATION))
            .unwrap_or_default(),
        created: meta.creation_timestamp.map_or(0, |t| t.0.as_second()),
        state,
        message,
    }
}

impl Issuer for ClusterIssuer {
    fn requests<'a>(
        &'a self,
        namespace: &'a str,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ObservedRequest>, IssuerError>> {
        async move {
            let api: Api<CertificateRequest> = Api::namespaced(self.client.clone(), namespace);
            let params = ListParams::default().labels(&format!("{OWNER_LABEL}={owner}"));
            let list = api.list(&params).await.map_err(api_error(format!(
                "listing the CertificateRequests of `{namespace}/{owner}`"
            )))?;
            Ok(list.items.into_iter().map(observed_request).collect())
        }
        .boxed()
    }

    fn create_request<'a>(
        &'a self,
        request: &'a NewCertificateRequest,
    ) -> BoxFuture<'a, Result<(), IssuerError>> {
        async move {
            let api: Api<CertificateRequest> =
                Api::namespaced(self.client.clone(), &request.namespace);
            let mut cr = CertificateRequest::new(
                &request.name,
                CertificateRequestSpec {
                    duration: request.duration.clone(),
                    issuer_ref: CertManagerIssuerRef {
                        name: request.issuer_ref.name.clone(),
                        kind: request.issuer_ref.kind.clone(),
                        group: request.issuer_ref.group.clone(),
                    },
                    request: ByteString(request.request_pem.clone().into_bytes()),
                    usages: request.usages.clone(),
                    is_ca: false,
                },
            );
            cr.metadata = ObjectMeta {
                name: Some(request.name.clone()),
                namespace: Some(request.namespace.clone()),
                labels: Some(BTreeMap::from([(
                    OWNER_LABEL.to_string(),
                    request.owner.name.clone(),
                )])),
                annotations: Some(BTreeMap::from([(
                    REPLACES_ANNOTATION.to_string(),
                    request.replaces.clone(),
                )])),
                owner_references: owner_references(&request.owner),
                ..ObjectMeta::default()
            };
            match api.create(&PostParams::default(), &cr).await {
                Ok(_) => Ok(()),
                // The name is derived from the content: it is this request.
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
                Err(e) => Err(api_error(format!(
                    "creating CertificateRequest `{}/{}`",
                    request.namespace, request.name
                ))(e)),
            }
        }
        .boxed()
    }

    fn published<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<BTreeMap<String, String>>, IssuerError>> {
        async move {
            let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
            let secret = api
                .get_opt(name)
                .await
                .map_err(api_error(format!("reading Secret `{namespace}/{name}`")))?;
            Ok(secret.map(|s| {
                s.data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                    .collect()
            }))
        }
        .boxed()
    }

    fn publish<'a>(
        &'a self,
        secret: &'a PublishedSecret,
    ) -> BoxFuture<'a, Result<(), IssuerError>> {
        async move {
            let what = format!("writing Secret `{}/{}`", secret.namespace, secret.name);
            let api: Api<Secret> = Api::namespaced(self.client.clone(), &secret.namespace);
            let data: BTreeMap<String, ByteString> = secret
                .data
                .iter()
                .map(|(k, v)| (k.clone(), ByteString(v.clone().into_bytes())))
                .collect();
            match api
                .get_opt(&secret.name)
                .await
                .map_err(api_error(what.clone()))?
            {
                None => {
                    let object = Secret {
                        metadata: ObjectMeta {
                            name: Some(secret.name.clone()),
                            namespace: Some(secret.namespace.clone()),
                            labels: Some(BTreeMap::from([(
                                OWNER_LABEL.to_string(),
                                secret.owner.name.clone(),
                            )])),
                            owner_references: owner_references(&secret.owner),
                            ..ObjectMeta::default()
                        },
                        type_: Some("Opaque".into()),
                        data: Some(data),
                        ..Secret::default()
                    };
                    api.create(&PostParams::default(), &object)
                        .await
                        .map(drop)
                        .map_err(api_error(what))
                }
                Some(mut existing) => {
                    if existing.data.as_ref() == Some(&data) {
                        return Ok(());
                    }
                    existing.data = Some(data);
                    existing.string_data = None;
                    // An update (PUT with resourceVersion): a concurrent
                    // change makes it fail, and the next pass sees it.
                    api.replace(&secret.name, &PostParams::default(), &existing)
                        .await
                        .map(drop)
                        .map_err(api_error(what))
                }
            }
        }
        .boxed()
    }
}
