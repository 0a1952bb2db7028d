//! `/actions`: reset, saveConfiguration and authToken (v7.4 section 6).

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::simulator::device::Device;
use crate::simulator::http::{ApiError, described, json_response};

/// The body of `POST /actions/reset`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ResetRequest {
    /// Store the running configuration first (default true).
    #[serde(default = "yes")]
    save_configuration: bool,
    /// 0: now; 1: when calls end; n: wait up to n seconds for calls.
    #[serde(default)]
    graceful_timeout: u64,
}

fn yes() -> bool {
    true
}

/// Parses an optional JSON body; an empty body gives the defaults.
fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes, empty: &str) -> Result<T, ApiError> {
    let text = if body.iter().all(u8::is_ascii_whitespace) {
        empty.as_bytes()
    } else {
        body.as_ref()
    };
    serde_json::from_slice(text).map_err(|e| {
        ApiError::BadRequest(format!("Provided attributes or values are incorrect: {e}"))
    })
}

/// `POST /actions/reset`. The simulated device carries no calls, so a
/// graceful timeout has nothing to wait for and the reset starts at once.
pub(crate) async fn reset(
    State(device): State<Arc<Device>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: ResetRequest = json_body(&body, "{}")?;
    let _ = request.graceful_timeout;
    device.reset(request.save_configuration);
    Ok(described("Device will reset now"))
}

/// `POST /actions/saveConfiguration`: running → startup. The document's
/// example answers 200 with no body.
pub(crate) async fn save_configuration(State(device): State<Arc<Device>>) -> Response {
    device.save_configuration();
    StatusCode::OK.into_response()
}

/// The body of `POST /actions/authToken`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AuthTokenRequest {
    username: String,
    priv_level: String,
    #[serde(default)]
    session_timeout: Option<u32>,
    #[serde(default)]
    cross_host: Option<String>,
}

/// 32 hex digits from the process's random hasher keys (no crypto-grade
/// randomness is needed for a simulator's web session token).
fn token() -> String {
    let state = std::collections::hash_map::RandomState::new();
    let mut out = String::with_capacity(32);
    for salt in [0x5eed_u64, 0xfeed] {
        let mut h = state.build_hasher();
        h.write_u64(salt);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// `POST /actions/authToken`: a token for the web interface.
pub(crate) async fn auth_token(body: Bytes) -> Result<Response, ApiError> {
    let request: AuthTokenRequest = json_body(&body, "")?;
    if request.username.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "Attribute username must not be empty".to_string(),
        ));
    }
    if !["admin", "operator", "monitor"].contains(&request.priv_level.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "Attribute privLevel must be admin, operator or monitor (got '{}')",
            request.priv_level
        )));
    }
    let _ = (request.session_timeout, request.cross_host);
    Ok(json_response(
        StatusCode::OK,
        &json!({ "authToken": token(), "description": "Authentication token successfully generated" }),
    ))
}
