//! `/files`: the INI file and CLI script (full and incremental), software
//! loads and the auxiliary files (v7.4 section 7).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::simulator::device::Device;
use crate::simulator::firmware::cli_exec::{self, ShowContext};
use crate::simulator::firmware::ini_load::{self, ConfigError};
use crate::simulator::firmware::{cli_render, ini_render};
use crate::simulator::http::{ApiError, described, json_response, octet_stream, read_upload};
use crate::sync::lock;

/// What a full upload answers before the device resets.
pub(crate) const RESET_FOR_CONFIGURATION: &str =
    "Device will reset now to activate new configuration";

impl From<ConfigError> for ApiError {
    fn from(e: ConfigError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

/// The documented 400 for a refused INI file ("400 Bad request - provided
/// ini file is incorrect"), naming the line.
fn ini_incorrect(e: ConfigError) -> ApiError {
    ApiError::BadRequest(format!("Provided ini file is incorrect: {e}"))
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
    let text = Bytes::from(ini_render::render(&device.info, &config.running));
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
    let (config, report) = ini_load::load_full(&device.running(), &text).map_err(ini_incorrect)?;
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
    device
        .update_running(|doc| ini_load::apply_incremental(doc, &text).map(|_| ()))
        .map_err(ini_incorrect)?;
    Ok(StatusCode::OK.into_response())
}

/// `GET /files/cliScript`: the running configuration as a CLI script.
pub(crate) async fn get_cli(State(device): State<Arc<Device>>) -> Response {
    octet_stream(cli_render::render(&device.info, &device.running(), None))
}

/// `PUT /files/cliScript`: factory defaults plus the script become the
/// configuration, and the device resets (v7.4 section 7.3.1: "The full CLI
/// script completely overrides the current device configuration in the same
/// manner as the “copy startup-script from” CLI command"). Assumption: a
/// script with a failing line is refused whole with the documented "400 Bad
/// request - provided CLI script is incorrect" and nothing is applied; the
/// `status`/`output` answer of public code is seen for incremental scripts.
pub(crate) async fn put_cli(
    State(device): State<Arc<Device>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let text = upload_text(&device, &headers, body, "CLI script").await?;
    let mut config =
        ini_load::factory_default_with(std::sync::Arc::clone(&device.running().learned));
    let ctx = ShowContext {
        info: &device.info,
        uptime_seconds: device.uptime_seconds(),
        allow_show: false,
    };
    let outcome = cli_exec::execute(&mut config, &text, &ctx);
    if let Some(e) = outcome.failed {
        return Err(ApiError::BadRequest(format!(
            "Provided CLI script is incorrect: {e}"
        )));
    }
    device.load_and_reset(config);
    Ok(described(RESET_FOR_CONFIGURATION))
}

/// `PUT /files/cliScript/incremental`: runs the script on running, line by
/// line, and answers 200 with `description`, `output` (the output of its
/// `show` commands, and the failing line) and `status` (`success` or
/// `failure`), as public code driving real firmware reads it
/// (`../shared/reference/audiocodes-cli.md`, [P]). The lines before a
/// failing line stay applied ([I], our assumption); a `write` in the script
/// saves the configuration as it was at that line.
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
    let mut outcome = cli_exec::Outcome::default();
    let _ = device.update_running(|doc| {
        outcome = cli_exec::execute(doc, &text, &ctx);
        Ok::<(), ()>(())
    });
    if let Some(saved) = outcome.saved.take() {
        device.save_as_startup(saved);
    }
    let (status, description) = match &outcome.failed {
        None => ("success", "Incremental CLI Script file was loaded."),
        Some(_) => (
            "failure",
            "Incremental CLI Script file was loaded with errors; see output.",
        ),
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({ "description": description, "output": outcome.output, "status": status }),
    ))
}

/// Whether an upload is plainly not a firmware image, and why. The documents
/// give no image format; they name the file `software.cmp` and answer "400
/// Bad request – provided software load is incorrect". Our judgement
/// (assumption): a `.cmp` image is binary, so an empty file, or one that is
/// all text (valid UTF-8 without NUL or other control bytes than tab, CR and
/// LF — an INI file, a script, an HTML error page), is not one.
fn not_a_firmware_image(load: &[u8]) -> Option<&'static str> {
    if load.is_empty() {
        return Some("the file is empty");
    }
    let text = std::str::from_utf8(load).is_ok_and(|t| {
        t.chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\r' | '\n'))
    });
    text.then_some("the file is text, not a firmware image")
}

/// `PUT /files/software`: a new software load; the device resets to run it.
pub(crate) async fn put_software(
    State(device): State<Arc<Device>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let load = read_upload(&device, &headers, body).await?;
    if let Some(why) = not_a_firmware_image(&load) {
        return Err(ApiError::BadRequest(format!(
            "Provided software load is incorrect: {why}"
        )));
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
    if let Some(why) = not_a_firmware_image(&load) {
        return Err(ApiError::BadRequest(format!(
            "Provided software load is incorrect: {why}"
        )));
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
