//! `/files`: the INI file and CLI script (full and incremental), software
//! loads and the auxiliary files (v7.4 section 7).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::cli_exec::{self, ShowContext};
use super::cli_file;
use super::device::{Device, lock};
use super::http::{ApiError, described, json_response, octet_stream, read_upload};
use super::ini_file;
use super::model::{self, ConfigError};
use crate::config::ini;

/// What a full upload answers before the device resets.
pub(crate) const RESET_FOR_CONFIGURATION: &str =
    "Device will reset now to activate new configuration";

impl From<ConfigError> for ApiError {
    fn from(e: ConfigError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

/// The uploaded file as text (configuration files are text).
async fn upload_text(
    device: &Device,
    headers: &HeaderMap,
    body: Bytes,
    what: &str,
) -> Result<String, ApiError> {
    let bytes = read_upload(device, headers, body).await?;
    String::from_utf8(bytes.to_vec()).map_err(|e| {
        ApiError::BadRequest(format!(
            "Provided {what} is incorrect: not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Parses INI text, naming the line of a syntax error.
fn parse_ini(text: &str) -> Result<ini::IniDocument, ApiError> {
    ini::parse(text)
        .map_err(|e| ApiError::BadRequest(format!("Provided ini file is incorrect: {e}")))
}

/// Auxiliary files taken with `PUT /files/<name>` (v7.4 Table 2-2 and
/// section 7.5; both spellings of the CAS table the documents use). The
/// first spelling of a name is the canonical one (the `/files` listing's).
pub(crate) const AUXILIARY_FILES: &[&str] = &[
    "cpt",
    "prt",
    "dialplan",
    "casTable",
    "castable",
    "amd",
    "usersInfo",
    "sbcWizard",
    "fixs",
    "fixo",
    "codertable",
    "voiceprompts",
];

/// The canonical spelling of an auxiliary file's resource name, matched
/// case-insensitively (`CASTABLE` gives `casTable`); `None` for other names.
pub(crate) fn auxiliary_name(name: &str) -> Option<&'static str> {
    AUXILIARY_FILES
        .iter()
        .copied()
        .find(|known| known.eq_ignore_ascii_case(name))
}

/// The device's INI file for its running configuration, rendered once per
/// configuration generation.
pub(crate) fn ini_text(device: &Device) -> Bytes {
    let config = device.configuration();
    {
        let cache = lock(&device.ini_cache);
        if let Some((generation, text)) = cache.as_ref()
            && *generation == config.generation
        {
            return text.clone();
        }
    }
    let text = Bytes::from(ini_file::render(&device.info, &config));
    *lock(&device.ini_cache) = Some((config.generation, text.clone()));
    text
}

/// `GET /files/ini`: the device's own rendering of its running configuration.
pub(crate) async fn get_ini(State(device): State<Arc<Device>>) -> Response {
    octet_stream(ini_text(&device))
}

/// `PUT /files/ini`: replaces the configuration and resets the device.
pub(crate) async fn put_ini(
    State(device): State<Arc<Device>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let text = upload_text(&device, &headers, body, "ini file").await?;
    let upload = parse_ini(&text)?;
    let (config, report) = model::load_full(&text, &upload)?;
    if !report.ignored.is_empty() {
        tracing::debug!(
            ignored = report.ignored.len(),
            "full ini upload: unknown names ignored"
        );
    }
    device.load_and_reset(config);
    Ok(described(RESET_FOR_CONFIGURATION))
}

/// `PUT /files/ini/incremental`: applies to running, no reset. The
/// document's example answers 200 with no body.
pub(crate) async fn put_ini_incremental(
    State(device): State<Arc<Device>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let text = upload_text(&device, &headers, body, "ini file").await?;
    let upload = parse_ini(&text)?;
    device.update_running(|doc| model::apply_upload(doc, &text, &upload).map(|_| ()))?;
    Ok(StatusCode::OK.into_response())
}

/// `GET /files/cliScript`: the running configuration as a CLI script.
pub(crate) async fn get_cli(State(device): State<Arc<Device>>) -> Response {
    octet_stream(cli_file::render(&device.info, &device.running(), None))
}

/// `PUT /files/cliScript`: factory defaults plus the script become the
/// configuration, and the device resets (like `copy startup-script`).
pub(crate) async fn put_cli(
    State(device): State<Arc<Device>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let text = upload_text(&device, &headers, body, "CLI script").await?;
    let mut config = model::factory_default();
    let ctx = ShowContext {
        info: &device.info,
        uptime_seconds: device.uptime_seconds(),
        allow_show: false,
    };
    cli_exec::execute(&mut config, &text, &ctx)
        .map_err(|e| ApiError::BadRequest(format!("Provided CLI script is incorrect: {e}")))?;
    device.load_and_reset(config);
    Ok(described(RESET_FOR_CONFIGURATION))
}

/// `PUT /files/cliScript/incremental`: runs the script on running and
/// answers the output of its `show` commands.
pub(crate) async fn put_cli_incremental(
    State(device): State<Arc<Device>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let text = upload_text(&device, &headers, body, "CLI script").await?;
    let ctx = ShowContext {
        info: &device.info,
        uptime_seconds: device.uptime_seconds(),
        allow_show: true,
    };
    let mut output = String::new();
    device
        .update_running(|doc| cli_exec::execute(doc, &text, &ctx).map(|o| output = o))
        .map_err(|e| ApiError::BadRequest(format!("Provided CLI script is incorrect: {e}")))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "description": "Incremental CLI Script file was loaded.", "output": output }),
    ))
}

/// `PUT /files/software`: a new software load; the device resets to run it.
pub(crate) async fn put_software(
    State(device): State<Arc<Device>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let load = read_upload(&device, &headers, body).await?;
    if load.is_empty() {
        return Err(ApiError::BadRequest(
            "Provided software load is incorrect: the file is empty".to_string(),
        ));
    }
    device.reset(false);
    Ok(described(
        "Device will reset now to activate new software load",
    ))
}

/// `PUT /files/software/hitless`: an HA pair upgrades by switching over,
/// without service interruption (no reset seen through the REST endpoint,
/// running configuration kept). A standalone device cannot: 409, the
/// document's answer for a load that "can't be applied due to the current
/// device state".
pub(crate) async fn put_software_hitless(
    State(device): State<Arc<Device>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let load = read_upload(&device, &headers, body).await?;
    if load.is_empty() {
        return Err(ApiError::BadRequest(
            "Provided software load is incorrect: the file is empty".to_string(),
        ));
    }
    if !device.is_ha() {
        return Err(ApiError::Conflict(
            "Hitless software upgrade requires a High Availability system; use /files/software"
                .to_string(),
        ));
    }
    Ok(described(
        "Device will perform switchover to activate new software load",
    ))
}

/// `PUT /files/<auxiliary>`: stores the file (cpt, prt, dialplan …).
pub(crate) async fn put_auxiliary(
    State(device): State<Arc<Device>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let file = read_upload(&device, &headers, body).await?;
    let name = uri.path().rsplit('/').next().unwrap_or("").to_string();
    if file.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "Provided {name} file is incorrect: the file is empty"
        )));
    }
    lock(&device.aux_files).insert(name.to_ascii_lowercase(), file);
    Ok(described("File was successfully loaded"))
}
