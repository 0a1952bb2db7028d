//! The navigation resources: `/api` (versions), `/api/v1` (items),
//! `/actions` and `/files` listings, as the documents' examples show them.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::simulator::device::{Device, Dialect};
use crate::simulator::http::{JSON, OCTET_STREAM, json_response};

fn item(id: &str, description: &str, url: &str) -> Value {
    json!({ "id": id, "description": description, "url": url })
}

/// `GET /api`: the supported API versions.
pub(crate) async fn api_root() -> Response {
    json_response(
        StatusCode::OK,
        &json!({ "versions": [ { "id": "v1", "status": "stable", "url": "/api/v1" } ] }),
    )
}

/// `GET /api/v1`: the top of the navigation tree.
pub(crate) async fn v1_root(State(device): State<Arc<Device>>) -> Response {
    // Both documents (2015 and 2021) give the alarms item the URL of
    // actions. Two firmware generations agreeing suggests the device really
    // answers so; we do too, so clients navigate by `id`, not by `url`.
    let mut items = vec![
        item("actions", "Device actions", "/api/v1/actions"),
        item("alarms", "Device alarms", "/api/v1/actions"),
        item(
            "files",
            "Upload and download of configuration files",
            "/api/v1/files",
        ),
        item("license", "License management", "/api/v1/license"),
    ];
    match device.info.dialect {
        Dialect::V74 => {
            items.push(item("status", "Device status", "/api/v1/status"));
            items.push(item("kpi", "key indicators performance", "/api/v1/kpi"));
        }
        Dialect::V2015 => {
            items.push(item(
                "performanceMonitoring",
                "Performance monitoring",
                "/api/v1/performanceMonitoring",
            ));
            items.push(item("status", "Device status", "/api/v1/status"));
        }
    }
    json_response(StatusCode::OK, &json!({ "items": items }))
}

/// `GET /api/v1/actions`.
pub(crate) async fn actions(State(device): State<Arc<Device>>) -> Response {
    let mut actions = vec![
        item("reset", "Reset device", "/api/v1/actions/reset"),
        item(
            "saveConfiguration",
            "Save device configuration to NVRAM",
            "/api/v1/actions/saveConfiguration",
        ),
    ];
    if device.info.dialect == Dialect::V74 {
        actions.push(item(
            "authToken",
            "Get authentication token",
            "/api/v1/actions/authToken",
        ));
    }
    json_response(StatusCode::OK, &json!({ "actions": actions }))
}

/// The files a device of this dialect offers under `/files`, with the
/// descriptions of the documents (section 7.5).
pub(crate) fn file_items(dialect: Dialect) -> Vec<(&'static str, &'static str)> {
    let mut files = vec![
        ("ini", "INI configuration file"),
        ("software", "Software load"),
        ("cliScript", "CLI configuration script"),
    ];
    if dialect == Dialect::V74 {
        files.push(("tls", "TLS context files"));
    }
    files.extend([
        ("amd", "Answering machine detection"),
        ("casTable", "CAS table"),
        ("codertable", "External coders table"),
        ("cpt", "Call progress tones"),
        ("dialplan", "Dialing plan"),
        ("prt", "Pre-recorded tones"),
        ("voiceprompts", "Voice prompts"),
    ]);
    if dialect == Dialect::V74 {
        files.extend([
            ("usersInfo", "Users information"),
            ("sbcWizard", "SBC wizard template package"),
            ("fixs", "FIX sessions"),
            ("fixo", "FIX objects"),
            ("configurationPackage.tar.gz", "Configuration package"),
        ]);
    }
    files
}

/// `GET /api/v1/files`. The v7.4 document shows this JSON listing served as
/// `application/octet-stream`; the 2015 one as `application/json`. Each
/// dialect answers as its document shows, so clients must not rely on the
/// content type here.
pub(crate) async fn files(State(device): State<Arc<Device>>) -> Response {
    let files: Vec<Value> = file_items(device.info.dialect)
        .into_iter()
        .map(|(id, description)| item(id, description, &format!("/api/v1/files/{id}")))
        .collect();
    let mut text = json!({ "files": files }).to_string();
    text.push('\n');
    let content_type = match device.info.dialect {
        Dialect::V74 => OCTET_STREAM,
        Dialect::V2015 => JSON,
    };
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, content_type)],
        text,
    )
        .into_response()
}
