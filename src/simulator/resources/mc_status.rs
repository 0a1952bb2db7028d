//! `GET /mc_status` (v7.4 Table 2-2: Monitor; other methods 405).
//!
//! The document names the resource and its privilege but gives no body.
//! Media Components (MCs) exist only in a Mediant Cloud Edition media
//! cluster, where a Signaling Component manages them; the simulated
//! product (a Mediant 800) has none, so the resource has no content. For
//! that case section 2 says: "For requested resources that do not have any
//! content, a 400 Bad Request response is sent". The simulator answers so,
//! with the usual `{"description": ...}`, rather than invent a status body
//! a client could come to depend on.

use std::sync::Arc;

use axum::extract::State;

use crate::simulator::device::Device;
use crate::simulator::http::ApiError;

/// `GET /mc_status`: 400, as this device has no Media Components.
pub(crate) async fn get_mc_status(State(device): State<Arc<Device>>) -> ApiError {
    ApiError::BadRequest(format!(
        "Resource mc_status has no content: this {} has no Media Components",
        device.info.product
    ))
}
