//! The gate every `/api` request passes before its handler: counters,
//! injected faults, authentication, the dialect's resources, the access
//! table, HA synchronisation and content negotiation (`Accept`).
//!
//! Handlers behind it need not check credentials or levels; the caller is in
//! the request extensions as [`Caller`].

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::simulator::device::counters::is_write;
use crate::simulator::device::faults::Injected;
use crate::simulator::device::users::Privilege;
use crate::simulator::device::{Device, Dialect};
use crate::simulator::http::access::{self, Rule};
use crate::simulator::http::{ApiError, HA_SYNC_DESCRIPTION, JSON};

/// The authenticated user of a request (in its extensions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Login name.
    pub name: String,
    /// Access level.
    pub privilege: Privilege,
}

/// Marks a response whose connection must be closed without answering (the
/// dropped-connection fault); the connection layer acts on it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DropConnection;

/// The path relative to `/api/v1` without surrounding slashes, or `None` for
/// paths outside `/api/v1` (`/api` itself gives `Some("")`-like treatment
/// through the caller).
fn relative(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/api/v1")?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    Some(rest.trim_matches('/'))
}

/// Whether an `Accept` header admits a media type (absent header admits all).
fn accepts(headers: &HeaderMap, media: &str) -> bool {
    let values: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if values.is_empty() {
        return true;
    }
    let (kind, _) = media.split_once('/').unwrap_or((media, ""));
    values.iter().flat_map(|v| v.split(',')).any(|range| {
        let range = range
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        range.is_empty()
            || range == "*/*"
            || range == media
            || range.strip_suffix("/*").is_some_and(|k| k == kind)
    })
}

/// The media type of a response, without parameters.
fn content_type(response: &Response) -> Option<String> {
    let value = response
        .headers()
        .get(header::CONTENT_TYPE)?
        .to_str()
        .ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

/// The middleware itself (see the module documentation for the order).
pub(crate) async fn guard(
    State(device): State<Arc<Device>>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    if path != "/api" && !path.starts_with("/api/") {
        return next.run(request).await;
    }
    let method = request.method().clone();
    device.counters.record(&method, &path);

    let latency = device.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match device.faults.take_failure() {
        Injected::Drop => {
            let mut response = ().into_response();
            response.extensions_mut().insert(DropConnection);
            return response;
        }
        Injected::ServerError => {
            return ApiError::Internal("Internal server error".to_string()).into_response();
        }
        Injected::None => {}
    }

    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let Some(user) = device.users.authenticate(authorization) else {
        return ApiError::Unauthorized.into_response();
    };
    let caller = Caller {
        name: user.name.clone(),
        privilege: user.privilege,
    };

    let rule = match relative(&path) {
        Some(rel) => {
            if !access::exists_in(device.info.dialect, rel) {
                return ApiError::NotFound(format!("Resource {path} not found")).into_response();
            }
            access::rule(rel, &method)
        }
        // `/api` itself: the top-level folder, readable by every user.
        None if path == "/api" || path == "/api/" => Some(if method == Method::GET {
            Rule::Min(Privilege::Monitor)
        } else {
            Rule::NotAllowed
        }),
        None => None,
    };
    // The 2015 document (section 2): "Provided credentials should correspond
    // to a valid device user with the Security Administrator privilege
    // level." It has no per-resource table, so every resource needs that
    // level there.
    let rule = match (device.info.dialect, rule) {
        (Dialect::V2015, Some(Rule::Min(_))) => Some(Rule::Min(Privilege::SecurityAdministrator)),
        (_, rule) => rule,
    };
    match rule {
        Some(Rule::NotAllowed) => {
            return ApiError::MethodNotAllowed(format!(
                "Method {method} is not allowed for {path}"
            ))
            .into_response();
        }
        Some(Rule::Min(level)) if caller.privilege < level => {
            return ApiError::Forbidden(format!(
                "User {} ({}) is not authorized to {method} {path}: {} level required",
                caller.name,
                caller.privilege.as_str(),
                level.as_str()
            ))
            .into_response();
        }
        _ => {}
    }

    let write = is_write(&method);
    if write && device.faults.take_ha_sync() {
        return ApiError::Conflict(HA_SYNC_DESCRIPTION.to_string()).into_response();
    }
    let headers = request.headers().clone();
    if write && !accepts(&headers, JSON) {
        return ApiError::NotAcceptable(format!(
            "{path} answers {JSON}, which the Accept header excludes"
        ))
        .into_response();
    }

    request.extensions_mut().insert(caller);
    let mut response = next.run(request).await;
    if device.faults.take_lost_answer() {
        response.extensions_mut().insert(DropConnection);
        return response;
    }
    if !write
        && let Some(produced) = content_type(&response)
        && !accepts(&headers, &produced)
    {
        return ApiError::NotAcceptable(format!(
            "{path} answers {produced}, which the Accept header excludes"
        ))
        .into_response();
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn accept_ranges() {
        let mut h = HeaderMap::new();
        assert!(accepts(&h, JSON));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html, application/*;q=0.8"),
        );
        assert!(accepts(&h, JSON));
        h.insert(header::ACCEPT, HeaderValue::from_static("text/html"));
        assert!(!accepts(&h, JSON));
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert!(accepts(&h, "application/octet-stream"));
    }

    #[test]
    fn relative_paths() {
        assert_eq!(relative("/api/v1"), Some(""));
        assert_eq!(relative("/api/v1/files/ini/"), Some("files/ini"));
        assert_eq!(relative("/api/v10/x"), None);
        assert_eq!(relative("/api"), None);
    }
}
