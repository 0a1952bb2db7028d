//! HTTP plumbing shared by every resource handler: the device's error
//! responses (`{"description": "..."}`) and reading an uploaded file in the
//! device's dialect.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::simulator::device::{Device, Dialect};

/// The JSON content type of every API answer but downloads.
pub const JSON: &str = "application/json";
/// The content type of downloads and of 2015-dialect uploads.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// A refusal, answered with its status and `{"description": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400: the request's content is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no or wrong credentials (adds `WWW-Authenticate: Basic`).
    #[error("Authentication required")]
    Unauthorized,
    /// 403: the user's level is too low for this resource and method.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such resource.
    #[error("{0}")]
    NotFound(String),
    /// 405: the resource does not support this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 406: the `Accept` header excludes what the resource produces.
    #[error("{0}")]
    NotAcceptable(String),
    /// 409: not now (e.g. HA synchronisation in progress).
    #[error("{0}")]
    Conflict(String),
    /// 500: an internal failure.
    #[error("{0}")]
    Internal(String),
}

/// The description a device gives while it synchronises with its HA peer.
pub const HA_SYNC_DESCRIPTION: &str = "Device is currently performing HA synchronization";

impl ApiError {
    /// 409 for HA synchronisation in progress, with the documented description.
    pub fn ha_sync() -> Self {
        ApiError::Conflict(HA_SYNC_DESCRIPTION.to_string())
    }

    /// The HTTP status of this refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = json_response(
            status,
            &serde_json::json!({ "description": self.to_string() }),
        );
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Mediant\""),
            );
        }
        response
    }
}

/// A JSON response with this status and body.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut text = body.to_string();
    text.push('\n');
    (status, [(header::CONTENT_TYPE, JSON)], text).into_response()
}

/// 200 with `{"description": "..."}`.
pub fn described(description: &str) -> Response {
    json_response(
        StatusCode::OK,
        &serde_json::json!({ "description": description }),
    )
}

/// 200 with a download body as `application/octet-stream`.
pub fn octet_stream(body: impl Into<Body>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, OCTET_STREAM)],
        body.into(),
    )
        .into_response()
}

/// The media type of a `Content-Type` value, lower-cased, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

/// The uploaded file of a PUT in the device's dialect: the `file` part of a
/// `multipart/form-data` body (v7.4) or the whole `application/octet-stream`
/// body (2015). Any other encoding is a 400, as the device refuses it.
pub async fn read_upload(
    device: &Device,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Bytes, ApiError> {
    let media = media_type(headers);
    match device.info.dialect {
        Dialect::V74 => {
            if media.as_deref() != Some("multipart/form-data") {
                return Err(ApiError::BadRequest(format!(
                    "File upload requires multipart/form-data encoding with a part named \"file\" (got {})",
                    media.as_deref().unwrap_or("no Content-Type")
                )));
            }
            multipart_file(headers, body).await
        }
        Dialect::V2015 => {
            if media.as_deref() != Some(OCTET_STREAM) {
                return Err(ApiError::BadRequest(format!(
                    "File upload requires application/octet-stream encoding (got {})",
                    media.as_deref().unwrap_or("no Content-Type")
                )));
            }
            Ok(body)
        }
    }
}

/// The bytes of the part named `file` of a multipart body.
async fn multipart_file(headers: &HeaderMap, body: Bytes) -> Result<Bytes, ApiError> {
    let mut request = Request::new(Body::from(body));
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        request
            .headers_mut()
            .insert(header::CONTENT_TYPE, ct.clone());
    }
    let malformed = |e: &dyn std::fmt::Display| {
        ApiError::BadRequest(format!("Malformed multipart/form-data body: {e}"))
    };
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| malformed(&e.body_text()))?;
    while let Some(field) = multipart.next_field().await.map_err(|e| malformed(&e))? {
        if field.name() == Some("file") {
            return field.bytes().await.map_err(|e| malformed(&e));
        }
    }
    Err(ApiError::BadRequest(
        "multipart/form-data body has no part named \"file\"".to_string(),
    ))
}
