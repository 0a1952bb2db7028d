//! The routes of `/files/tls…`.

use super::*;
use super::{crypto, store};

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Path, Query, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post, put};
use serde_json::json;

use crate::simulator::device::Device;
use crate::simulator::http::{ApiError, described, json_response, octet_stream, read_upload};
use crypto::RsaKey;
use store::FactoryFiles;

/// Routes of `/files/tls…`, relative to `/api/v1`.
pub fn routes() -> Router<Arc<Device>> {
    Router::new()
        .route("/files/tls", get(list_contexts))
        .route("/files/tls/{id}", get(context_items))
        .route(
            "/files/tls/{id}/privateKey",
            get(get_private_key).put(put_private_key),
        )
        .route(
            "/files/tls/{id}/privateKey/generate",
            post(generate_private_key),
        )
        .route(
            "/files/tls/{id}/certificate",
            get(get_certificate).put(put_certificate),
        )
        .route(
            "/files/tls/{id}/certificate/generate",
            post(generate_certificate),
        )
        .route(
            "/files/tls/{id}/certificate/request",
            post(certificate_request),
        )
        .route(
            "/files/tls/{id}/trustedRoot",
            get(get_trusted_root).put(put_trusted_root),
        )
        .route(
            "/files/tls/{id}/trustedRoot/incremental",
            put(add_trusted_root),
        )
}

impl From<TlsError> for ApiError {
    fn from(e: TlsError) -> Self {
        match e {
            TlsError::Crypto(_) => ApiError::Internal(e.to_string()),
            _ => ApiError::BadRequest(e.to_string()),
        }
    }
}

/// `GET /files/tls`: the contexts of the running configuration.
async fn list_contexts(State(device): State<Arc<Device>>) -> Response {
    let items: Vec<_> = contexts(&device.running())
        .into_iter()
        .map(|c| json!({ "id": c.id.to_string(), "name": c.name, "url": format!("/api/v1/files/tls/{}", c.id) }))
        .collect();
    json_response(StatusCode::OK, &json!({ "tls": items }))
}

/// Resolves `{id}` to an existing context and makes sure it has files.
async fn open_context(device: &Arc<Device>, raw_id: &str) -> Result<u32, ApiError> {
    let not_found = || ApiError::NotFound(format!("TLS context {raw_id} does not exist"));
    let id: u32 = raw_id.parse().map_err(|_| not_found())?;
    let live = contexts(&device.running());
    if !live.iter().any(|c| c.id == id) {
        return Err(not_found());
    }
    if !device.tls.prune_and_check(&live, id) {
        let subject = device.tls.factory_subject().clone();
        let files = tokio::task::spawn_blocking(move || FactoryFiles::generate(&subject))
            .await
            .map_err(|e| ApiError::Internal(format!("key generation task failed: {e}")))??;
        device.tls.install_factory(id, files);
    }
    Ok(id)
}

/// `GET /files/tls/<id>`: the files of one context.
async fn context_items(
    State(device): State<Arc<Device>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = open_context(&device, &id).await?;
    let item = |name: &str, description: &str| json!({ "id": name, "description": description, "url": format!("/api/v1/files/tls/{id}/{name}") });
    Ok(json_response(
        StatusCode::OK,
        &json!({ "items": [
            item("privateKey", "Private key"),
            item("certificate", "TLS certificate"),
            item("trustedRoot", "Trusted root"),
        ] }),
    ))
}

/// `GET …/privateKey`: size and validity, never the key.
async fn get_private_key(
    State(device): State<Arc<Device>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = open_context(&device, &id).await?;
    let status = device.tls.key_status(id)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "size": status.size, "valid": status.valid }),
    ))
}

/// `PUT …/privateKey`: a PEM key, encrypted ones opened with `password`.
async fn put_private_key(
    State(device): State<Arc<Device>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = open_context(&device, &id).await?;
    let upload = read_key_upload(&headers, body).await?;
    let password = upload.password.or_else(|| query.get("password").cloned());
    // Decrypting PKCS#8 runs a slow KDF (scrypt/PBKDF2): keep it off the runtime.
    let key =
        tokio::task::spawn_blocking(move || RsaKey::from_pem(&upload.file, password.as_deref()))
            .await
            .map_err(|e| ApiError::Internal(format!("key import task failed: {e}")))??;
    device.tls.set_key(id, key)?;
    Ok(described("Private key was successfully changed"))
}

/// The parts of a private key upload.
struct KeyUpload {
    file: Bytes,
    password: Option<String>,
}

/// Reads the `file` and optional `password` parts of a multipart key upload.
async fn read_key_upload(headers: &HeaderMap, body: Bytes) -> Result<KeyUpload, ApiError> {
    let is_multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if !is_multipart {
        return Err(ApiError::BadRequest(
            "File upload requires multipart/form-data encoding with a part named \"file\""
                .to_string(),
        ));
    }
    let mut request = Request::new(Body::from(body));
    *request.headers_mut() = headers.clone();
    let malformed = |e: &dyn std::fmt::Display| {
        ApiError::BadRequest(format!("Malformed multipart/form-data body: {e}"))
    };
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| malformed(&e.body_text()))?;
    let (mut file, mut password) = (None, None);
    while let Some(field) = multipart.next_field().await.map_err(|e| malformed(&e))? {
        match field.name() {
            Some("file") => file = Some(field.bytes().await.map_err(|e| malformed(&e))?),
            Some("password") => password = Some(field.text().await.map_err(|e| malformed(&e))?),
            _ => {}
        }
    }
    let file = file.ok_or_else(|| {
        ApiError::BadRequest("multipart/form-data body has no part named \"file\"".into())
    })?;
    Ok(KeyUpload { file, password })
}

/// Parses an optional JSON request body; an empty body means all defaults.
fn json_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("Invalid request attributes: {e}")))
}

/// Attributes of `privateKey/generate`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerateKey {
    size: Option<u64>,
}

/// `POST …/privateKey/generate`: a new key made on the device.
async fn generate_private_key(
    State(device): State<Arc<Device>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = open_context(&device, &id).await?;
    let request: GenerateKey = json_body(&body)?;
    let size = request.size.unwrap_or(DEFAULT_GENERATED_KEY_SIZE as u64);
    let key = tokio::task::spawn_blocking(move || RsaKey::generate(size))
        .await
        .map_err(|e| ApiError::Internal(format!("key generation task failed: {e}")))??;
    device.tls.set_key(id, key)?;
    Ok(described("Private key was successfully generated"))
}

/// `GET …/certificate`: the device certificate as PEM.
async fn get_certificate(
    State(device): State<Arc<Device>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = open_context(&device, &id).await?;
    let der = device
        .tls
        .certificate(id)
        .ok_or_else(|| ApiError::BadRequest(format!("TLS context {id} has no certificate")))?;
    Ok(octet_stream(pem::encode("CERTIFICATE", &der)))
}

/// `PUT …/certificate`: a PEM certificate that must match the context's key.
async fn put_certificate(
    State(device): State<Arc<Device>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = open_context(&device, &id).await?;
    let file = read_upload(&device, &headers, body).await?;
    // The first certificate is the device's; a chain behind it is ignored.
    let leaf = crypto::parse_certificates(&file)?
        .into_iter()
        .next()
        .ok_or(TlsError::NotPem("certificate file"))?;
    device.tls.set_certificate(id, leaf)?;
    Ok(described("Certificate was successfully changed"))
}

/// `POST …/certificate/generate`: a self-signed certificate for the key.
async fn generate_certificate(
    State(device): State<Arc<Device>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = open_context(&device, &id).await?;
    let subject: Subject = json_body(&body)?;
    let key = device.tls.key(id)?;
    let der = tokio::task::spawn_blocking(move || {
        crypto::self_signed_certificate(&key, &subject, time::OffsetDateTime::now_utc())
    })
    .await
    .map_err(|e| ApiError::Internal(format!("certificate generation task failed: {e}")))??;
    // The key may have changed meanwhile; set_certificate then refuses.
    device.tls.set_certificate(id, der)?;
    Ok(described(
        "Self-signed certificate was successfully generated",
    ))
}

/// Attributes of `certificate/request`: the subject plus the signature hash.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
struct RequestAttributes {
    subject_name: String,
    organizational_unit: String,
    company_name: String,
    locality_name: String,
    state: String,
    country_code: String,
    signature_algorithm: Option<String>,
}

/// `POST …/certificate/request`: a CSR for the context's key, as PEM. v7.4
/// §8.5: "The generated CSR is returned in the response" (its example:
/// `200 OK`, `Content-Type: application/octet-stream`, a `CERTIFICATE
/// REQUEST` block); the key and the certificate stay as they are.
async fn certificate_request(
    State(device): State<Arc<Device>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = open_context(&device, &id).await?;
    let request: RequestAttributes = json_body(&body)?;
    // The documented default is sha1.
    let hash: SignatureHash = request
        .signature_algorithm
        .as_deref()
        .unwrap_or("sha1")
        .parse()?;
    let subject = Subject {
        subject_name: request.subject_name,
        organizational_unit: request.organizational_unit,
        company_name: request.company_name,
        locality_name: request.locality_name,
        state: request.state,
        country_code: request.country_code,
    };
    let key = device.tls.key(id)?;
    let der = tokio::task::spawn_blocking(move || crypto::signing_request(&key, &subject, hash))
        .await
        .map_err(|e| ApiError::Internal(format!("request generation task failed: {e}")))??;
    Ok(octet_stream(pem::encode("CERTIFICATE REQUEST", &der)))
}

/// `GET …/trustedRoot`: every trusted root as PEM, blank-line separated.
async fn get_trusted_root(
    State(device): State<Arc<Device>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = open_context(&device, &id).await?;
    let roots = device.tls.trusted_roots(id);
    if roots.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "Trusted root store of TLS context {id} is empty"
        )));
    }
    let text = roots
        .iter()
        .map(|der| pem::encode("CERTIFICATE", der))
        .collect::<Vec<_>>()
        .join("\n");
    Ok(octet_stream(text))
}

/// `PUT …/trustedRoot`: replaces the whole store.
async fn put_trusted_root(
    State(device): State<Arc<Device>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = open_context(&device, &id).await?;
    let file = read_upload(&device, &headers, body).await?;
    let roots = crypto::parse_certificates(&file)?;
    device.tls.set_trusted_roots(id, roots)?;
    Ok(described("Trusted root store was successfully changed"))
}

/// `PUT …/trustedRoot/incremental`: adds certificates to the store.
async fn add_trusted_root(
    State(device): State<Arc<Device>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = open_context(&device, &id).await?;
    let file = read_upload(&device, &headers, body).await?;
    let roots = crypto::parse_certificates(&file)?;
    device.tls.add_trusted_roots(id, roots)?;
    Ok(described("Trusted root certificate was successfully added"))
}
