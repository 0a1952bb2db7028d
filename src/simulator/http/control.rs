//! The control endpoint of a simulated device, outside the device's API
//! (no authentication, never counted, never faulted):
//!
//! | request | effect |
//! |---|---|
//! | `GET /_simulator/faults` | the armed faults (JSON, see [`FaultPlan`]) |
//! | `PUT /_simulator/faults` | replace them: `{"haSyncWrites":2,"latencyMs":0,"serverErrors":0,"dropConnections":0,"resetDelayMs":0}` (omitted fields are 0) |
//! | `DELETE /_simulator/faults` | disarm all |
//! | `POST /_simulator/reset` | force a reset now; body `{"saveConfiguration": false}` (default false) |
//! | `GET /_simulator/counters` | `{"total":n,"writes":n,"requests":{"GET /api/v1/files/ini":n,…}}` |
//! | `DELETE /_simulator/counters` | set the counters to zero |
//! | `GET /_simulator/device` | identity, reset count, uptime |
//!
//! While the device resets it refuses connections, this endpoint included.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::simulator::device::Device;
use crate::simulator::device::faults::FaultPlan;
use crate::simulator::http::{ApiError, json_response};

async fn get_faults(State(device): State<Arc<Device>>) -> Response {
    json_response(StatusCode::OK, &json!(device.faults.get()))
}

async fn put_faults(State(device): State<Arc<Device>>, body: Bytes) -> Result<Response, ApiError> {
    let plan: FaultPlan = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("fault plan: {e}")))?;
    device.faults.set(plan);
    Ok(json_response(StatusCode::OK, &json!(device.faults.get())))
}

async fn clear_faults(State(device): State<Arc<Device>>) -> Response {
    device.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ForcedReset {
    #[serde(default)]
    save_configuration: bool,
}

async fn force_reset(State(device): State<Arc<Device>>, body: Bytes) -> Result<Response, ApiError> {
    let request: ForcedReset = if body.iter().all(u8::is_ascii_whitespace) {
        ForcedReset::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("reset: {e}")))?
    };
    device.reset(request.save_configuration);
    Ok(json_response(
        StatusCode::OK,
        &json!({ "description": "Device will reset now" }),
    ))
}

async fn get_counters(State(device): State<Arc<Device>>) -> Response {
    json_response(StatusCode::OK, &json!(device.counters.snapshot()))
}

async fn clear_counters(State(device): State<Arc<Device>>) -> Response {
    device.counters.reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_device(State(device): State<Arc<Device>>) -> Response {
    let info = &device.info;
    json_response(
        StatusCode::OK,
        &json!({
            "serialNumber": info.serial_number,
            "product": info.product,
            "softwareVersion": info.software_version,
            "dialect": info.dialect.as_str(),
            "ha": info.ha,
            "resets": device.reset_count(),
            "uptimeSeconds": device.uptime_seconds(),
        }),
    )
}

/// The control routes, relative to `/_simulator`.
pub(crate) fn routes() -> Router<Arc<Device>> {
    Router::new()
        .route(
            "/faults",
            get(get_faults).put(put_faults).delete(clear_faults),
        )
        .route("/reset", post(force_reset))
        .route("/counters", get(get_counters).delete(clear_counters))
        .route("/device", get(get_device))
}
