//! Failures as kube-apiserver reports them: a `meta/v1 Status` object with
//! the HTTP code repeated in `code`, a machine-readable `reason` and
//! `details` naming the object, so `kube` maps them to `kube::Error::Api`.

use std::fmt;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::resource::ResourceType;

/// One field-level cause of a `422 Invalid` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueForbidden`, ...
    pub reason: &'static str,
    /// The field path, like `metadata.name`.
    pub field: String,
    /// The message without the field prefix, like `Required value: ...`.
    pub message: String,
}

impl Cause {
    /// A required field is missing.
    pub fn required(field: &str, detail: &str) -> Self {
        Self {
            reason: "FieldValueRequired",
            field: field.to_owned(),
            message: format!("Required value: {detail}"),
        }
    }

    /// A field has a value the server does not accept.
    pub fn invalid(field: &str, value: &str, detail: &str) -> Self {
        Self {
            reason: "FieldValueInvalid",
            field: field.to_owned(),
            message: format!("Invalid value: \"{value}\": {detail}"),
        }
    }

    /// A field may not be set or changed this way.
    pub fn forbidden(field: &str, detail: &str) -> Self {
        Self {
            reason: "FieldValueForbidden",
            field: field.to_owned(),
            message: format!("Forbidden: {detail}"),
        }
    }
}

/// A failed API call, rendered as the `Status` body kube-apiserver sends.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status code, repeated as `code` in the body.
    pub code: u16,
    /// Machine-readable reason (`NotFound`, `Conflict`, `Invalid`, ...).
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
    /// The `details` object, when the reason defines one.
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: String, details: Option<Value>) -> Self {
        Self {
            code,
            reason,
            message,
            details,
        }
    }

    fn object_details(rt: &ResourceType, name: &str) -> Value {
        json!({ "name": name, "group": rt.group, "kind": rt.plural })
    }

    /// `404 NotFound` for a named object of a known resource.
    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", rt.qualified_plural()),
            Some(Self::object_details(rt, name)),
        )
    }

    /// `404 NotFound` for a path that names no resource the server serves.
    pub fn path_not_found() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource".to_owned(),
            Some(json!({})),
        )
    }

    /// `409 AlreadyExists` on create.
    pub fn already_exists(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", rt.qualified_plural()),
            Some(Self::object_details(rt, name)),
        )
    }

    /// `409 Conflict`, mostly a stale `resourceVersion`.
    pub fn conflict(rt: &ResourceType, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                rt.qualified_plural()
            ),
            Some(Self::object_details(rt, name)),
        )
    }

    /// `409 Conflict` for a write carrying an outdated `resourceVersion`.
    pub fn stale(rt: &ResourceType, name: &str) -> Self {
        Self::conflict(
            rt,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// `422 Invalid` naming the failing fields of an object.
    pub fn invalid(kind: &str, group: &str, name: &str, causes: Vec<Cause>) -> Self {
        let qualified = if group.is_empty() {
            kind.to_owned()
        } else {
            format!("{kind}.{group}")
        };
        let listed: Vec<String> = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect();
        let message = match listed.as_slice() {
            [one] => format!("{qualified} \"{name}\" is invalid: {one}"),
            many => format!("{qualified} \"{name}\" is invalid: [{}]", many.join(", ")),
        };
        let causes: Vec<Value> = causes
            .iter()
            .map(|c| json!({ "reason": c.reason, "message": c.message, "field": c.field }))
            .collect();
        Self::new(
            422,
            "Invalid",
            message,
            Some(json!({ "name": name, "group": group, "kind": kind, "causes": causes })),
        )
    }

    /// `422 Invalid` for an object of a registered resource.
    pub fn invalid_object(rt: &ResourceType, name: &str, causes: Vec<Cause>) -> Self {
        Self::invalid(&rt.kind, &rt.group, name, causes)
    }

    /// `422` without an object, as kube-apiserver answers a JSON patch whose
    /// operations cannot be applied.
    pub fn unprocessable(message: String) -> Self {
        Self::new(422, "Invalid", message, None)
    }

    /// `400 BadRequest`: a body that cannot be decoded or that contradicts the URL.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message.into(), None)
    }

    /// `405 MethodNotAllowed`.
    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource".to_owned(),
            None,
        )
    }

    /// `406 NotAcceptable` for an `Accept` header asking for a form not served.
    pub fn not_acceptable() -> Self {
        Self::new(
            406,
            "NotAcceptable",
            "only the following media types are accepted: application/json, \
             application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, \
             application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
                .to_owned(),
            None,
        )
    }

    /// `413 RequestEntityTooLarge`.
    pub fn too_large() -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            "the request body is larger than the 3 MiB the server accepts".to_owned(),
            None,
        )
    }

    /// `415 UnsupportedMediaType` listing what the endpoint accepts.
    pub fn unsupported_media_type(accepted: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
            None,
        )
    }

    /// `410 Expired`: the requested `resourceVersion` is older than the history kept.
    pub fn expired(message: String) -> Self {
        Self::new(410, "Expired", message, None)
    }

    /// `504 Timeout` for a `resourceVersion` the server has not reached.
    pub fn too_large_resource_version(asked: u64, current: u64) -> Self {
        Self::new(
            504,
            "Timeout",
            format!("Too large resource version: {asked}, current: {current}"),
            Some(json!({
                "causes": [{
                    "reason": "ResourceVersionTooLarge",
                    "message": "Too large resource version"
                }],
                "retryAfterSeconds": 1
            })),
        )
    }

    /// The `Status` object as JSON.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let (Some(details), Some(map)) = (&self.details, status.as_object_mut()) {
            map.insert("details".to_owned(), details.clone());
        }
        status
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            code,
            [(header::CONTENT_TYPE, "application/json")],
            self.to_status().to_string(),
        )
            .into_response()
    }
}
