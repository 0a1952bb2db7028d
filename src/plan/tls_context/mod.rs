//! Plan for one TLS context: desired (from a `TlsContext` spec and the texts
//! it names) against observed (the device's context list, INI, key state,
//! certificate and trusted roots) → the ordered steps that make the device
//! match. Pure: no I/O (observe and apply are in `tls_context_io`).
//!
//! # Diff
//! - Certificate: SHA-256 of the DER of the first certificate of the
//!   Secret's `tls.crt` against the one `GET …/certificate` returns.
//! - Private key: the device shows only size and validity, so the key is in
//!   sync when the size matches, the device calls it valid, and either the
//!   device certificate is the desired one (valid then proves the key is its
//!   key) or the keyed digest recorded in status at the last upload is the
//!   desired key's.
//! - Trusted roots: sets of fingerprints. `Replace` uploads the whole store
//!   when the sets differ; `Add` adds each missing certificate.
//! - Settings: the `TLSContexts` row through the INI engine (only declared
//!   cells compared; the engine renders what a device needs).
//!
//! # Order
//! Context row (creating the context when absent), key, certificate, roots,
//! then save.
//!
//! # Guarantees
//! - A malformed PEM, a missing Secret key or a certificate that does not
//!   match the key is an error before any step exists: nothing is sent.
//! - Keys and passwords are only in [`TlsAction`] payloads, whose `Debug`
//!   shows sizes; no error message holds them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use crate::api::{
    ConfigMapKeyRef, IssuerRef, SecretKeyRef, SourceRef, Subject, TlsContextSpec, TrustedRootsMode,
};
use crate::config::ini::{self, DiffOptions, IniDocument, RowIndex};
use crate::config::pem::{self, Certificate, PemError, PrivateKey};
use crate::device::{DeviceSubject, PrivateKeyState, TlsContextEntry};

use crate::plan::Change;
use crate::plan::issuer::{Issuer, ObservedRequest, Owner, PublishedSecret};

mod csr;
pub mod io;
mod kind;

pub use csr::{RequestStep, request_name};
pub use kind::{KEY_DIGEST, TlsContextKind, certificate_status};

/// Why `diff`/`apply -f` leave a CSR-flow certificate alone.
pub const CSR_NEEDS_CLUSTER: &str = "waiting for a signed certificate: a device CSR is signed through a cert-manager CertificateRequest, which needs the cluster (`mediant-operator run`); `diff`/`apply -f` change neither the key nor the certificate of this context";

/// The INI table of TLS contexts.
pub const TLS_CONTEXTS_TABLE: &str = "TLSContexts";

/// Why no plan could be made for a TLS context. Nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsPlanError {
    /// A Secret or ConfigMap key the spec names is missing.
    #[error("{reference} is missing (or lacks the key)")]
    Missing {
        /// e.g. "Secret `voice/teams-cert` key `tls.key`".
        reference: String,
    },
    /// A text is not the PEM it should be.
    #[error("{origin}: {source}")]
    Pem {
        /// Where the text came from.
        origin: String,
        /// What is wrong (never the content).
        source: PemError,
    },
    /// The certificate's public key is not the private key's.
    #[error(
        "{origin}: the certificate ({subject}, SHA-256 {fingerprint}) does not match the private key in tls.key: the device would refuse it"
    )]
    KeyMismatch {
        /// The Secret.
        origin: String,
        /// The certificate's subject.
        subject: String,
        /// Its fingerprint.
        fingerprint: String,
    },
    /// The named context does not exist and cannot be created here.
    #[error("TLS context {0}")]
    Context(String),
    /// The certificate a CertificateRequest returned cannot be uploaded.
    #[error("CertificateRequest `{name}`: {reason}")]
    Issued {
        /// The request.
        name: String,
        /// What is wrong with its certificate.
        reason: String,
    },
    /// The planned INI does not render (a bug: please report it).
    #[error("internal error: the context's INI row cannot be written: {0}")]
    Render(String),
}

/// Where a text comes from, in words.
fn describe(namespace: &str, reference: &SourceRef) -> String {
    match reference {
        SourceRef::Secret(k) => format!("Secret `{namespace}/{}` key `{}`", k.name, k.key),
        SourceRef::ConfigMap(k) => {
            format!("ConfigMap `{namespace}/{}` key `{}`", k.name, k.key)
        }
        SourceRef::File(path) => format!("file `{}`", path.display()),
    }
}

/// A secret text: `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(String);

impl SecretText {
    /// Wraps `text`.
    pub fn new(text: impl Into<String>) -> Self {
        SecretText(text.into())
    }
    /// The text, for the request body only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted {} bytes>", self.0.len())
    }
}

/// The key and certificate the context must hold.
#[derive(Clone, Debug)]
pub enum DesiredFiles {
    /// From a `kubernetes.io/tls` Secret.
    Secret {
        /// `namespace/name` of the Secret, for messages.
        origin: String,
        /// The private key (parsed, to check and digest it).
        key: Box<PrivateKey>,
        /// Its password, for an encrypted key.
        password: Option<SecretText>,
        /// `tls.crt`: the device certificate, then its chain.
        chain: Vec<Certificate>,
    },
    /// A key generated on the device and a self-signed certificate.
    SelfSigned {
        /// Key size in bits.
        key_size: u32,
        /// The certificate's subject.
        subject: DeviceSubject,
    },
    /// A key on the device and a certificate signed through a cert-manager
    /// CertificateRequest made from the device's CSR.
    Requested(Box<DesiredRequest>),
}

/// What `generateOnDevice.certificateRequest` declares, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredRequest {
    /// Key size in bits.
    pub key_size: u32,
    /// The CSR's subject.
    pub subject: DeviceSubject,
    /// `sha1`, `sha256` or `sha512`.
    pub signature_algorithm: &'static str,
    /// The issuer.
    pub issuer_ref: IssuerRef,
    /// cert-manager usages.
    pub usages: Vec<String>,
    /// Requested lifetime (Go-style), if declared.
    pub duration: Option<String>,
    /// Renew this many seconds before notAfter (at two thirds of the
    /// lifetime when that is shorter, as cert-manager does).
    pub renew_before: i64,
    /// Generate a fresh key before each CSR.
    pub rotate_key: bool,
    /// The TlsContext's namespace.
    pub namespace: String,
    /// The TlsContext (owner of the CertificateRequests and the Secret).
    pub owner: Owner,
    /// The Secret the CSR and the issued chain are published in.
    pub publish_secret: String,
}

/// The trusted root store the context must hold.
#[derive(Clone, Debug)]
pub struct DesiredRoots {
    /// Replace the store or add to it.
    pub mode: TrustedRootsMode,
    /// The certificates, deduplicated by fingerprint, in declared order.
    pub certificates: Vec<Certificate>,
}

/// Which context, as declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextTarget {
    /// Declared index.
    pub index: Option<u32>,
    /// Declared name.
    pub name: Option<String>,
    /// The name a context created by index alone gets (the resource's name).
    pub default_name: String,
}

/// Everything declared for one TLS context, texts loaded and parsed.
#[derive(Clone, Debug)]
pub struct TlsDesired {
    /// Which context.
    pub context: ContextTarget,
    /// Declared `TLSContexts` cells (short column → value).
    pub settings: BTreeMap<String, String>,
    /// Key and certificate.
    pub files: DesiredFiles,
    /// Trusted roots, when declared.
    pub roots: Option<DesiredRoots>,
    /// Save after changes.
    pub save_after_apply: bool,
    /// The cluster's CertificateRequests and Secrets (the CSR flow), when
    /// running in a cluster ([`crate::plan::Kind::attach_issuer`]).
    pub issuer: Option<Arc<dyn Issuer>>,
}

/// The device's subject attributes for an API subject.
pub fn device_subject(subject: &Subject) -> DeviceSubject {
    DeviceSubject {
        subject_name: subject.common_name.clone(),
        organizational_unit: subject.organizational_unit.clone(),
        company_name: subject.organization.clone(),
        locality_name: subject.locality.clone(),
        state: subject.state.clone(),
        country_code: subject.country.to_ascii_uppercase(),
    }
}

/// Builds the desired state of `spec` (resource `name` in `namespace`);
/// `lookup` returns the text of a Secret or ConfigMap key.
pub fn tls_desired(
    namespace: &str,
    name: &str,
    spec: &TlsContextSpec,
    lookup: &dyn Fn(&SourceRef) -> Option<String>,
) -> Result<TlsDesired, TlsPlanError> {
    let load = |reference: SourceRef| -> Result<(String, String), TlsPlanError> {
        let origin = describe(namespace, &reference);
        match lookup(&reference) {
            Some(text) => Ok((origin, text)),
            None => Err(TlsPlanError::Missing { reference: origin }),
        }
    };
    let files = if let Some(secret) = &spec.certificate.secret_ref {
        let key_ref = |key: &str| {
            SourceRef::Secret(SecretKeyRef {
                name: secret.name.clone(),
                key: key.to_string(),
            })
        };
        let password = match &secret.key_password_secret_ref {
            Some(r) => Some(SecretText::new(
                load(SourceRef::Secret(SecretKeyRef {
                    name: r.name.clone(),
                    key: r.key.clone(),
                }))?
                .1
                .trim_end_matches(['\r', '\n']),
            )),
            None => None,
        };
        let (key_origin, key_text) = load(key_ref("tls.key"))?;
        let key = PrivateKey::parse(&key_text, password.as_ref().map(SecretText::expose)).map_err(
            |source| TlsPlanError::Pem {
                origin: key_origin,
                source,
            },
        )?;
        let (crt_origin, crt_text) = load(key_ref("tls.crt"))?;
        let chain = pem::parse_certificates(&crt_text).map_err(|source| TlsPlanError::Pem {
            origin: crt_origin,
            source,
        })?;
        let origin = format!("Secret `{namespace}/{}`", secret.name);
        let leaf = &chain[0]; // parse_certificates returns at least one
        if !key.matches(leaf) {
            return Err(TlsPlanError::KeyMismatch {
                origin,
                subject: leaf.subject.clone(),
                fingerprint: leaf.fingerprint.clone(),
            });
        }
        DesiredFiles::Secret {
            origin,
            key: Box::new(key),
            password,
            chain,
        }
    } else if let Some(generate) = &spec.certificate.generate_on_device {
        match (&generate.self_signed, &generate.certificate_request) {
            (Some(s), _) => DesiredFiles::SelfSigned {
                key_size: generate.key_size,
                subject: device_subject(&s.subject),
            },
            (None, Some(r)) => {
                let renew = validate_duration("renewBefore", &r.renew_before)?;
                if let Some(d) = &r.duration {
                    validate_duration("duration", d)?;
                }
                DesiredFiles::Requested(Box::new(DesiredRequest {
                    key_size: generate.key_size,
                    subject: device_subject(&r.subject),
                    signature_algorithm: r.signature_algorithm.as_str(),
                    issuer_ref: r.issuer_ref.clone(),
                    usages: r.usages.iter().map(|u| u.as_str().to_string()).collect(),
                    duration: r.duration.clone(),
                    renew_before: i64::try_from(renew.as_secs()).unwrap_or(i64::MAX),
                    rotate_key: r.rotate_key,
                    namespace: namespace.to_string(),
                    owner: Owner {
                        api_version: "mediant.io/v1alpha1".into(),
                        kind: "TlsContext".into(),
                        name: name.to_string(),
                        uid: String::new(),
                    },
                    publish_secret: r
                        .publish_secret_name
                        .clone()
                        .unwrap_or_else(|| format!("{name}-csr")),
                }))
            }
            (None, None) => {
                return Err(TlsPlanError::Context(
                    "spec.certificate.generateOnDevice needs selfSigned or certificateRequest"
                        .into(),
                ));
            }
        }
    } else {
        return Err(TlsPlanError::Context(
            "spec.certificate needs secretRef or generateOnDevice".into(),
        ));
    };

    let roots = match &spec.trusted_roots {
        Some(roots) => {
            let mut seen = BTreeSet::new();
            let mut certificates = Vec::new();
            for source in &roots.sources {
                let reference = match (&source.secret_key_ref, &source.config_map_key_ref) {
                    (Some(r), _) => SourceRef::Secret(SecretKeyRef {
                        name: r.name.clone(),
                        key: r.key.clone(),
                    }),
                    (None, Some(r)) => SourceRef::ConfigMap(ConfigMapKeyRef {
                        name: r.name.clone(),
                        key: r.key.clone(),
                    }),
                    (None, None) => continue,
                };
                let (origin, text) = load(reference)?;
                for cert in pem::parse_certificates(&text)
                    .map_err(|source| TlsPlanError::Pem { origin, source })?
                {
                    if seen.insert(cert.fingerprint.clone()) {
                        certificates.push(cert);
                    }
                }
            }
            Some(DesiredRoots {
                mode: roots.mode,
                certificates,
            })
        }
        None => None,
    };

    Ok(TlsDesired {
        context: ContextTarget {
            index: spec.context.index,
            name: spec.context.name.clone(),
            default_name: name.chars().take(31).collect(),
        },
        settings: spec
            .settings
            .iter()
            .map(|(k, v)| (k.clone(), v.as_cell()))
            .collect(),
        files,
        roots,
        save_after_apply: spec.save_after_apply,
        issuer: None,
    })
}

/// A Go-style duration of `certificateRequest.<field>`.
fn validate_duration(field: &str, text: &str) -> Result<std::time::Duration, TlsPlanError> {
    use std::str::FromStr;
    kube::core::Duration::from_str(text)
        .map(std::time::Duration::from)
        .map_err(|_| {
            TlsPlanError::Context(format!(
                "spec.certificate.generateOnDevice.certificateRequest.{field}: not a duration such as 720h"
            ))
        })
}

/// The files of an existing context as the device reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedFiles {
    /// `GET …/privateKey`.
    pub key: PrivateKeyState,
    /// `GET …/certificate`: the device certificate, if any.
    pub certificate: Option<Certificate>,
    /// `GET …/trustedRoot` (empty when the store is empty); `None` when not
    /// observed (no roots declared).
    pub roots: Option<Vec<Certificate>>,
}

/// What the device holds for the context.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsObserved {
    /// The device's serial number (salts the key digest).
    pub serial: String,
    /// `GET /files/tls`.
    pub contexts: Vec<TlsContextEntry>,
    /// The index of the declared context, when it exists.
    pub context_id: Option<u32>,
    /// `GET /files/ini`, when the context row must be compared or created.
    pub ini: Option<IniDocument>,
    /// The files, when the context exists.
    pub files: Option<ObservedFiles>,
    /// The CSR flow in a cluster: the latest CertificateRequest of the
    /// TlsContext, if any.
    pub request: Option<ObservedRequest>,
    /// The CSR flow in a cluster: the published Secret's data (`None`:
    /// absent, or not looked at).
    pub published: Option<BTreeMap<String, String>>,
}

/// What the operator remembers between passes (from status).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsMemory {
    /// Keyed digest of the private key last uploaded to this context.
    pub uploaded_key_digest: Option<String>,
}

/// The request a step sends. `Debug` never shows a key or password.
#[derive(Clone, PartialEq, Eq)]
pub enum TlsAction {
    /// `PUT /files/ini/incremental` with this text (the context row).
    Ini(String),
    /// `PUT …/privateKey`.
    UploadKey {
        /// The PEM key block.
        pem: SecretText,
        /// Its password.
        password: Option<SecretText>,
        /// The keyed digest to record once it is uploaded.
        digest: String,
    },
    /// `POST …/privateKey/generate`.
    GenerateKey {
        /// Bits.
        size: u32,
    },
    /// `PUT …/certificate` with this PEM chain.
    UploadCertificate(String),
    /// `POST …/certificate/generate`.
    GenerateSelfSigned(DeviceSubject),
    /// `PUT …/trustedRoot` with this PEM bundle.
    ReplaceRoots(String),
    /// `PUT …/trustedRoot/incremental` with one PEM certificate.
    AddRoot(String),
    /// `POST …/certificate/request`, then a cert-manager CertificateRequest
    /// from the CSR, which is also published.
    RequestCertificate(Box<RequestStep>),
    /// Publishes the CSR and the issued chain in a Secret (no device write).
    Publish(Box<PublishedSecret>),
    /// `POST /actions/saveConfiguration`.
    Save,
}

impl TlsAction {
    /// Whether the step changes the device (a save follows those).
    fn writes_device(&self) -> bool {
        !matches!(
            self,
            TlsAction::RequestCertificate(_) | TlsAction::Publish(_) | TlsAction::Save
        )
    }
}

impl fmt::Debug for TlsAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsAction::Ini(t) => write!(f, "Ini({} bytes)", t.len()),
            TlsAction::UploadKey { pem, password, .. } => write!(
                f,
                "UploadKey({} bytes{})",
                pem.0.len(),
                if password.is_some() {
                    ", with password"
                } else {
                    ""
                }
            ),
            TlsAction::GenerateKey { size } => write!(f, "GenerateKey({size})"),
            TlsAction::UploadCertificate(t) => write!(f, "UploadCertificate({} bytes)", t.len()),
            TlsAction::GenerateSelfSigned(s) => write!(f, "GenerateSelfSigned({s:?})"),
            TlsAction::ReplaceRoots(t) => write!(f, "ReplaceRoots({} bytes)", t.len()),
            TlsAction::AddRoot(t) => write!(f, "AddRoot({} bytes)", t.len()),
            TlsAction::RequestCertificate(r) => {
                write!(f, "RequestCertificate(issuer {})", r.issuer_ref.name)
            }
            TlsAction::Publish(p) => write!(f, "Publish({}/{})", p.namespace, p.name),
            TlsAction::Save => f.write_str("Save"),
        }
    }
}

/// One step of a TLS plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsStep {
    /// What is sent.
    pub action: TlsAction,
    /// One line saying what the step does.
    pub description: String,
    /// The human diff (fingerprints and subjects, never keys).
    pub changes: Vec<Change>,
}

/// The steps for one context, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsPlan {
    /// The context's index on the device (chosen when it is created).
    pub context_id: u32,
    /// The context's name, as it will be.
    pub context_name: String,
    /// Whether the context is created by this plan.
    pub creates_context: bool,
    /// Steps, in order.
    pub steps: Vec<TlsStep>,
    /// What the key digest in status should be after the steps ran.
    pub key_digest: Option<String>,
    /// Differences no step can fix now: the certificate waits for its
    /// CertificateRequest (pending, or refused by the issuer).
    pub waiting: Vec<Change>,
    /// Steps held back, with the reason (the CSR flow without a cluster).
    pub blocked: Vec<(TlsStep, String)>,
}

impl TlsPlan {
    /// Whether the context already matches.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.waiting.is_empty() && self.blocked.is_empty()
    }

    /// The human diff of all steps, then of what waits.
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.steps
            .iter()
            .flat_map(|s| s.changes.iter())
            .chain(self.waiting.iter())
            .chain(self.blocked.iter().flat_map(|(s, _)| s.changes.iter()))
    }

    /// Up to `n` changed keys (no values), for status.
    pub fn drift_keys(&self, n: usize) -> Vec<String> {
        self.changes().take(n).map(|c| c.key.clone()).collect()
    }
}

/// The digest salt for a key on context `id` of the device with `serial`.
pub fn key_salt(serial: &str, id: u32) -> String {
    format!("mediant-operator/tls-key/v1/{serial}/{id}")
}

/// Where the context is (its index and name) and whether it exists.
pub fn resolve_context(
    target: &ContextTarget,
    observed: &TlsObserved,
) -> Result<(u32, String, bool), TlsPlanError> {
    let by_id = |id: u32| observed.contexts.iter().find(|c| c.id == id);
    match (target.index, &target.name) {
        (Some(id), name) => {
            let existing = by_id(id);
            let name = name
                .clone()
                .or_else(|| existing.map(|c| c.name.clone()))
                .unwrap_or_else(|| target.default_name.clone());
            if let Some(other) = observed
                .contexts
                .iter()
                .find(|c| c.id != id && c.name.eq_ignore_ascii_case(&name))
                && target.name.is_some()
            {
                return Err(TlsPlanError::Context(format!(
                    "`{name}` already exists at index {}, not {id}: fix spec.context",
                    other.id
                )));
            }
            Ok((id, name, existing.is_some()))
        }
        (None, Some(name)) => {
            if let Some(c) = observed
                .contexts
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
            {
                return Ok((c.id, c.name.clone(), true));
            }
            // Created at the lowest free index (0 is the default context).
            let used: BTreeSet<u32> = observed
                .contexts
                .iter()
                .map(|c| c.id)
                .chain(
                    observed
                        .ini
                        .as_ref()
                        .and_then(|d| d.table(TLS_CONTEXTS_TABLE))
                        .into_iter()
                        .flat_map(|t| t.rows().filter_map(|(i, _)| i.as_str().parse().ok())),
                )
                .collect();
            let id = (1..1024).find(|i| !used.contains(i)).ok_or_else(|| {
                TlsPlanError::Context(format!("`{name}`: no free index to create it at"))
            })?;
            Ok((id, name.clone(), false))
        }
        (None, None) => Err(TlsPlanError::Context(
            "spec.context needs an index or a name".into(),
        )),
    }
}

/// Whether the context row must be looked at in the INI (settings are
/// declared, or the context does not exist or needs its name set).
pub fn needs_ini(desired: &TlsDesired, contexts: &[TlsContextEntry]) -> bool {
    if !desired.settings.is_empty() {
        return true;
    }
    match (desired.context.index, &desired.context.name) {
        (Some(id), Some(name)) => !contexts
            .iter()
            .any(|c| c.id == id && c.name.eq_ignore_ascii_case(name)),
        (Some(id), None) => !contexts.iter().any(|c| c.id == id),
        (None, Some(name)) => !contexts.iter().any(|c| c.name.eq_ignore_ascii_case(name)),
        (None, None) => false,
    }
}

/// The subject a device certificate must have for `subject`, compared by
/// attribute.
fn subject_matches(cert: &Certificate, subject: &DeviceSubject) -> bool {
    [
        ("CN", &subject.subject_name),
        ("O", &subject.company_name),
        ("OU", &subject.organizational_unit),
        ("L", &subject.locality_name),
        ("ST", &subject.state),
        ("C", &subject.country_code),
    ]
    .iter()
    .all(|(short, want)| {
        let have = cert.subject_attribute(short).unwrap_or_default();
        have == **want
    })
}

pub(super) fn cert_label(cert: Option<&Certificate>) -> Option<String> {
    cert.map(|c| format!("{} (SHA-256 {})", c.subject, short_fp(&c.fingerprint)))
}

fn short_fp(fp: &str) -> &str {
    &fp[..fp.len().min(16)]
}

/// Plans the steps that make the context match. `now` is Unix seconds.
pub fn plan_tls(
    desired: &TlsDesired,
    observed: &TlsObserved,
    memory: &TlsMemory,
    now: i64,
) -> Result<TlsPlan, TlsPlanError> {
    let (id, name, exists) = resolve_context(&desired.context, observed)?;
    let mut plan = TlsPlan {
        context_id: id,
        context_name: name.clone(),
        creates_context: !exists,
        ..TlsPlan::default()
    };
    let context_key = format!("TLS context {id} ({name})");

    // 1. The context row: created when absent, declared cells otherwise.
    let mut want = IniDocument::new();
    {
        let table = want.ensure_table(TLS_CONTEXTS_TABLE);
        let index = RowIndex::new(&id.to_string());
        // The name cell is compared when the INI was read for it
        // (`needs_ini`): a context found by its name is not renamed, and
        // without settings its row is not read at all.
        let named = !exists || (desired.context.name.is_some() && observed.ini.is_some());
        if named {
            table.set_cell(index.clone(), "Name", &name);
        }
        for (column, value) in &desired.settings {
            table.set_cell(index.clone(), column, value);
        }
        if !named && desired.settings.is_empty() {
            want = IniDocument::new();
        }
    }
    if !want.is_empty() {
        let have = observed.ini.clone().unwrap_or_default();
        let changes = ini::diff(&want, &have, &DiffOptions::default());
        if !changes.is_empty() {
            let text = changes
                .render_incremental()
                .map_err(|e| TlsPlanError::Render(e.to_string()))?;
            plan.steps.push(TlsStep {
                action: TlsAction::Ini(text),
                description: if exists {
                    format!("change {} cell(s) of {context_key}", changes.len())
                } else {
                    format!("create {context_key} (incremental INI)")
                },
                changes: changes
                    .entries()
                    .into_iter()
                    .map(|(key, before, after)| Change { key, before, after })
                    .collect(),
            });
        }
    }

    // A context being created has no files yet; plan them all.
    let files = observed.files.clone().unwrap_or_default();
    let have_cert = files.certificate.as_ref();

    // 2. Key and certificate.
    match &desired.files {
        DesiredFiles::Secret {
            origin,
            key,
            password,
            chain,
        } => {
            let leaf = &chain[0]; // parse_certificates returns at least one
            let digest = key.digest(&key_salt(&observed.serial, id));
            let cert_in_sync = have_cert.is_some_and(|c| c.fingerprint == leaf.fingerprint);
            let key_in_sync = exists
                && files.key.size as usize == key.bits()
                && files.key.valid
                && (cert_in_sync || memory.uploaded_key_digest.as_deref() == Some(&digest));
            if !key_in_sync {
                plan.steps.push(TlsStep {
                    action: TlsAction::UploadKey {
                        pem: SecretText::new(key.pem()),
                        password: password.clone(),
                        digest: digest.clone(),
                    },
                    description: format!("upload the private key of {origin} to {context_key}"),
                    changes: vec![Change {
                        key: format!("{context_key} privateKey"),
                        before: exists.then(|| {
                            format!(
                                "{} bits{}",
                                files.key.size,
                                if files.key.valid { "" } else { ", invalid" }
                            )
                        }),
                        after: Some(format!(
                            "{} bits from {origin} (digest {})",
                            key.bits(),
                            short_fp(&digest)
                        )),
                    }],
                });
            }
            if !cert_in_sync || !key_in_sync {
                plan.steps.push(TlsStep {
                    action: TlsAction::UploadCertificate(pem::bundle(chain)),
                    description: format!(
                        "upload the certificate of {origin} ({} certificate(s)) to {context_key}",
                        chain.len()
                    ),
                    changes: vec![Change {
                        key: format!("{context_key} certificate"),
                        before: cert_label(have_cert),
                        after: cert_label(Some(leaf)),
                    }],
                });
            }
            plan.key_digest = Some(digest);
        }
        DesiredFiles::Requested(request) => {
            csr::plan_requested(
                &mut plan,
                desired,
                request,
                observed,
                &files,
                exists,
                &context_key,
                now,
            )?;
        }
        DesiredFiles::SelfSigned { key_size, subject } => {
            let key_ok = exists && files.key.size == *key_size;
            let cert_ok = key_ok
                && files.key.valid
                && have_cert.is_some_and(|c| {
                    c.is_self_issued() && subject_matches(c, subject) && c.not_after > now
                });
            if !key_ok {
                plan.steps.push(TlsStep {
                    action: TlsAction::GenerateKey { size: *key_size },
                    description: format!("generate a {key_size}-bit private key on {context_key}"),
                    changes: vec![Change {
                        key: format!("{context_key} privateKey"),
                        before: exists.then(|| format!("{} bits", files.key.size)),
                        after: Some(format!("{key_size} bits, generated on the device")),
                    }],
                });
            }
            if !cert_ok {
                plan.steps.push(TlsStep {
                    action: TlsAction::GenerateSelfSigned(subject.clone()),
                    description: format!("generate a self-signed certificate on {context_key}"),
                    changes: vec![Change {
                        key: format!("{context_key} certificate"),
                        before: cert_label(have_cert),
                        after: Some(format!("self-signed CN={}", subject.subject_name)),
                    }],
                });
            }
        }
    }

    // 3. Trusted roots.
    if let Some(roots) = &desired.roots {
        let have: Vec<Certificate> = files.roots.clone().unwrap_or_default();
        let have_set: BTreeSet<&str> = have.iter().map(|c| c.fingerprint.as_str()).collect();
        let want_set: BTreeSet<&str> = roots
            .certificates
            .iter()
            .map(|c| c.fingerprint.as_str())
            .collect();
        match roots.mode {
            TrustedRootsMode::Replace if have_set != want_set => {
                let mut changes: Vec<Change> = roots
                    .certificates
                    .iter()
                    .filter(|c| !have_set.contains(c.fingerprint.as_str()))
                    .map(|c| Change {
                        key: format!("{context_key} trustedRoot"),
                        before: None,
                        after: cert_label(Some(c)),
                    })
                    .collect();
                changes.extend(
                    have.iter()
                        .filter(|c| !want_set.contains(c.fingerprint.as_str()))
                        .map(|c| Change {
                            key: format!("{context_key} trustedRoot"),
                            before: cert_label(Some(c)),
                            after: None,
                        }),
                );
                plan.steps.push(TlsStep {
                    action: TlsAction::ReplaceRoots(pem::bundle(&roots.certificates)),
                    description: format!(
                        "replace the trusted root store of {context_key} ({} certificate(s))",
                        roots.certificates.len()
                    ),
                    changes,
                });
            }
            TrustedRootsMode::Replace => {}
            TrustedRootsMode::Add => {
                for cert in roots
                    .certificates
                    .iter()
                    .filter(|c| !have_set.contains(c.fingerprint.as_str()))
                {
                    plan.steps.push(TlsStep {
                        action: TlsAction::AddRoot(cert.to_pem()),
                        description: format!(
                            "add {} to the trusted root store of {context_key}",
                            cert.subject
                        ),
                        changes: vec![Change {
                            key: format!("{context_key} trustedRoot"),
                            before: None,
                            after: cert_label(Some(cert)),
                        }],
                    });
                }
            }
        }
    }

    if desired.save_after_apply && plan.steps.iter().any(|s| s.action.writes_device()) {
        plan.steps.push(TlsStep {
            action: TlsAction::Save,
            description: "save the running configuration so a restart keeps it".into(),
            changes: Vec::new(),
        });
    }
    Ok(plan)
}
