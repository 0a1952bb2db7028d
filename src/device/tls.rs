//! The TLS context files of a Mediant (v7.4 REST guide, chapter 8,
//! `/api/v1/files/tls/<id>/…`): private key (upload, size and validity,
//! generation), device certificate (download, upload, self-signed, CSR) and
//! the trusted root store (download, replace, add).
//!
//! # Guarantees
//! - A private key and its password travel only in the request body (the
//!   password as a multipart part named `password`, never in the URL, which
//!   errors and logs show); neither is part of any error or `Debug` output.
//! - On 2015 firmware every call fails at once with
//!   [`DeviceError::NotInDialect`]: the 2015 REST API (document 001) lists no
//!   `/files/tls` in its navigation tree, so nothing is sent.
//!
//! # Caveats
//! - "For requested resources that do not have any content, a 400 Bad
//!   Request response is sent" (v7.4 §2): a 400 to `GET …/certificate` or
//!   `GET …/trustedRoot` reads as "none".

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::error::DeviceError;
use super::mediant::{Body, Dialect, MediantClient, OnBusy, Repeat};

/// One TLS context as `GET /files/tls` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsContextEntry {
    /// The context's id (its `TLSContexts` row index).
    pub id: u32,
    /// Its name.
    pub name: String,
}

/// What `GET …/privateKey` reports: never the key itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrivateKeyState {
    /// Size in bits.
    pub size: u32,
    /// Whether the key and the device certificate belong together ("as per
    /// Private Key status in Web").
    pub valid: bool,
}

/// The subject attributes of `certificate/generate` and
/// `certificate/request` (v7.4 §8.4, §8.5); empty ones are not sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceSubject {
    /// CN.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject_name: String,
    /// OU.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub organizational_unit: String,
    /// O.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub company_name: String,
    /// L.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub locality_name: String,
    /// ST.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub state: String,
    /// C.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub country_code: String,
}

/// What the 2015 API lacks.
const FEATURE: &str = "TLS context files (/api/v1/files/tls)";
/// What a 2015 user can do instead.
const HINT: &str = "the 2015 REST API has no /files/tls; upgrade the device to 7.4 firmware, or manage this context's key and certificates in its Web interface";

impl MediantClient {
    /// Refuses at once on 2015 firmware (detecting the dialect if needed).
    async fn require_tls_api(&self) -> Result<(), DeviceError> {
        match self.dialect().await? {
            Dialect::V74 => Ok(()),
            Dialect::V2015 => Err(DeviceError::NotInDialect {
                feature: FEATURE,
                dialect: "2015",
                hint: HINT,
            }),
        }
    }

    /// `GET /files/tls`: the contexts the device has.
    pub async fn tls_contexts(&self) -> Result<Vec<TlsContextEntry>, DeviceError> {
        self.require_tls_api().await?;
        #[derive(Deserialize)]
        struct Listed {
            #[serde(default)]
            tls: Vec<Entry>,
        }
        #[derive(Deserialize)]
        struct Entry {
            id: serde_json::Value,
            #[serde(default)]
            name: String,
        }
        let resource = "files/tls";
        let answer = self.send(Method::GET, resource, Body::None).await?;
        let listed: Listed = self.json("GET", resource, &answer)?;
        listed
            .tls
            .into_iter()
            .map(|e| {
                // The document writes ids as strings ("0"); accept numbers too.
                let id = match &e.id {
                    serde_json::Value::String(s) => s.parse().ok(),
                    serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
                    _ => None,
                };
                id.map(|id| TlsContextEntry { id, name: e.name })
                    .ok_or_else(|| DeviceError::InvalidResponse {
                        method: "GET".into(),
                        resource: resource.into(),
                        reason: "a context id is not a number".into(),
                    })
            })
            .collect()
    }

    /// `GET /files/tls/<id>/privateKey`: size and validity.
    pub async fn tls_private_key(&self, id: u32) -> Result<PrivateKeyState, DeviceError> {
        self.require_tls_api().await?;
        let resource = format!("files/tls/{id}/privateKey");
        let answer = self.send(Method::GET, &resource, Body::None).await?;
        let value: serde_json::Value = self.json("GET", &resource, &answer)?;
        let size = value
            .get("size")
            .and_then(|s| match s {
                serde_json::Value::Number(n) => n.as_u64(),
                serde_json::Value::String(s) => s.parse().ok(),
                _ => None,
            })
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| DeviceError::InvalidResponse {
                method: "GET".into(),
                resource: resource.clone(),
                reason: "no numeric `size`".into(),
            })?;
        // The document's example writes `True`; accept JSON booleans and strings.
        let valid = match value.get("valid") {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        };
        Ok(PrivateKeyState { size, valid })
    }

    /// `PUT /files/tls/<id>/privateKey`: uploads a PEM private key; an
    /// encrypted one with its `password`.
    pub async fn put_tls_private_key(
        &self,
        id: u32,
        pem: &str,
        password: Option<&str>,
    ) -> Result<(), DeviceError> {
        self.require_tls_api().await?;
        let resource = format!("files/tls/{id}/privateKey");
        let fields: Vec<(&str, &str)> = password.map(|p| ("password", p)).into_iter().collect();
        let body = Body::UploadWithFields {
            filename: "key.pem",
            data: pem.as_bytes(),
            fields: &fields,
        };
        self.send(Method::PUT, &resource, body).await.map(drop)
    }

    /// `POST /files/tls/<id>/privateKey/generate`: a new key made on the device.
    pub async fn generate_tls_private_key(&self, id: u32, size: u32) -> Result<(), DeviceError> {
        self.require_tls_api().await?;
        let resource = format!("files/tls/{id}/privateKey/generate");
        let body = Body::Json(serde_json::json!({ "size": size }));
        // Sent twice, it would generate a second key.
        self.send_with(
            Method::POST,
            &resource,
            body,
            Repeat::Once("a new private key may have been generated"),
            OnBusy::Wait,
        )
        .await
        .map(drop)
    }

    /// `GET /files/tls/<id>/certificate`: the device certificate as PEM, or
    /// `None` when the context has none (the device answers 400).
    pub async fn tls_certificate(&self, id: u32) -> Result<Option<String>, DeviceError> {
        self.get_optional_text(&format!("files/tls/{id}/certificate"))
            .await
    }

    /// `PUT /files/tls/<id>/certificate`: a PEM certificate (and its chain)
    /// for the context's key. A certificate of another key is refused (400).
    pub async fn put_tls_certificate(&self, id: u32, pem: &str) -> Result<(), DeviceError> {
        self.require_tls_api().await?;
        // Idempotent: the same certificate twice is the same state.
        self.upload(
            &format!("files/tls/{id}/certificate"),
            "cert.pem",
            pem.as_bytes(),
            Repeat::Safe,
        )
        .await
        .map(drop)
    }

    /// `POST /files/tls/<id>/certificate/generate`: a self-signed certificate.
    pub async fn generate_tls_self_signed(
        &self,
        id: u32,
        subject: &DeviceSubject,
    ) -> Result<(), DeviceError> {
        self.require_tls_api().await?;
        let resource = format!("files/tls/{id}/certificate/generate");
        let body = Body::Json(serde_json::to_value(subject).unwrap_or_default());
        self.send(Method::POST, &resource, body).await.map(drop)
    }

    /// `POST /files/tls/<id>/certificate/request`: a CSR for the context's
    /// key, as PEM; `signature_algorithm` is `sha1`, `sha256` or `sha512`.
    pub async fn tls_signing_request(
        &self,
        id: u32,
        subject: &DeviceSubject,
        signature_algorithm: &str,
    ) -> Result<String, DeviceError> {
        self.require_tls_api().await?;
        let resource = format!("files/tls/{id}/certificate/request");
        let mut attributes = serde_json::to_value(subject).unwrap_or_default();
        if let Some(map) = attributes.as_object_mut() {
            map.insert(
                "signatureAlgorithm".into(),
                serde_json::Value::String(signature_algorithm.to_string()),
            );
        }
        let answer = self
            .send(Method::POST, &resource, Body::Json(attributes))
            .await?;
        Ok(String::from_utf8_lossy(&answer.body).into_owned())
    }

    /// `GET /files/tls/<id>/trustedRoot`: the whole store as PEM, or `None`
    /// when it is empty (the device answers 400).
    pub async fn tls_trusted_roots(&self, id: u32) -> Result<Option<String>, DeviceError> {
        self.get_optional_text(&format!("files/tls/{id}/trustedRoot"))
            .await
    }

    /// `PUT /files/tls/<id>/trustedRoot`: replaces the whole store.
    pub async fn put_tls_trusted_roots(&self, id: u32, pem: &str) -> Result<(), DeviceError> {
        self.require_tls_api().await?;
        self.upload(
            &format!("files/tls/{id}/trustedRoot"),
            "trust.pem",
            pem.as_bytes(),
            Repeat::Safe,
        )
        .await
        .map(drop)
    }

    /// `PUT /files/tls/<id>/trustedRoot/incremental`: adds a certificate.
    pub async fn add_tls_trusted_root(&self, id: u32, pem: &str) -> Result<(), DeviceError> {
        self.require_tls_api().await?;
        // Sent twice, it could add the certificate twice.
        self.upload(
            &format!("files/tls/{id}/trustedRoot/incremental"),
            "trust.pem",
            pem.as_bytes(),
            Repeat::Once("the trusted root certificate may have been added"),
        )
        .await
        .map(drop)
    }

    /// A text resource; 400 ("no content") reads as `None`.
    async fn get_optional_text(&self, resource: &str) -> Result<Option<String>, DeviceError> {
        self.require_tls_api().await?;
        match self.send(Method::GET, resource, Body::None).await {
            Ok(answer) => Ok(Some(String::from_utf8_lossy(&answer.body).into_owned())),
            Err(DeviceError::Rejected { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
