//! The routes of `/license`.

use crate::simulator::device::Device;
use crate::simulator::http::{ApiError, described, json_response, read_upload};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use serde_json::json;
use std::sync::Arc;

use super::store::*;

/// Routes of `/license`, relative to `/api/v1`.
pub fn routes() -> Router<Arc<Device>> {
    Router::new().route("/license", get(get_license).put(put_license))
}

/// `GET /license`.
async fn get_license(State(device): State<Arc<Device>>) -> Response {
    let store = &device.license;
    json_response(
        StatusCode::OK,
        &json!({
            "licenseVersion": LICENSE_VERSION,
            "serialNumber": store.serial_number,
            "key": store.key(),
            "keyDescription": store.key_description,
        }),
    )
}

/// `PUT /license`: JSON key or licence file; the device then resets.
async fn put_license(
    State(device): State<Arc<Device>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    let before = device.license.snapshot();
    let description = if is_json {
        device.license.apply_json(&body, device.is_ha())?;
        "Device will reset now to activate new license"
    } else {
        let file = read_upload(&device, &headers, body).await?;
        device.license.apply_file(&file)?;
        // The document's own wording for a licence file.
        "Device will reset now to activate new software load"
    };
    // Fault `ignoreLicenseInstalls`: accepted, reset, but the old key stays.
    if device.faults.take_ignored_license_install() {
        device.license.restore(before);
    }
    // A licence reset does not save the running configuration.
    device.reset(false);
    Ok(described(description))
}
