//! The routes of `/alarms…` and the cursor pagination of their lists (see
//! the module documentation of [`super`]).

use crate::simulator::device::Device;
use crate::simulator::http::{ApiError, json_response};
use crate::simulator::resources::status::{iso_millis, rfc3339_spaced};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

use super::store::*;

/// Routes of `/alarms…`, relative to `/api/v1`.
pub fn routes() -> Router<Arc<Device>> {
    Router::new()
        .route("/alarms", get(alarm_lists))
        .route("/alarms/active", get(list_active))
        .route("/alarms/active/lastChange", get(last_change))
        .route("/alarms/active/{id}", get(one_active))
        .route("/alarms/history", get(list_history))
        .route("/alarms/history/{id}", get(one_history))
}

/// `GET /alarms`.
async fn alarm_lists() -> Response {
    json_response(
        StatusCode::OK,
        &json!({ "alarms": [
            { "id": "active", "description": "Active alarms", "url": "/api/v1/alarms/active" },
            { "id": "history", "description": "History alarms", "url": "/api/v1/alarms/history" },
        ] }),
    )
}

/// Which table a request reads.
#[derive(Clone, Copy)]
enum Table {
    Active,
    History,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Active => "active",
            Table::History => "history",
        }
    }

    fn read(self, device: &Device) -> Vec<Alarm> {
        device.alarms.observe_resets(device.reset_count());
        match self {
            Table::Active => device.alarms.active(),
            Table::History => device.alarms.history(),
        }
    }
}

async fn list_active(
    State(device): State<Arc<Device>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    list(&device, Table::Active, &query)
}

async fn list_history(
    State(device): State<Arc<Device>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    list(&device, Table::History, &query)
}

fn list(
    device: &Device,
    table: Table,
    query: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let request = PageRequest::from_query(query)?;
    let alarms = table.read(device);
    let ids: Vec<u32> = alarms.iter().map(|a| a.id).collect();
    let Some(page) = request.select(&ids) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let items: Vec<_> = alarms[page.range.clone()]
        .iter()
        .map(|a| {
            json!({
                "id": a.id.to_string(),
                "description": a.condition.description,
                "url": format!("/api/v1/alarms/{}/{}", table.name(), a.id),
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "alarms": items, "cursor": { "after": page.after, "before": page.before } }),
    ))
}

async fn one_active(
    State(device): State<Arc<Device>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    one(&device, Table::Active, &id, &query)
}

async fn one_history(
    State(device): State<Arc<Device>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    one(&device, Table::History, &id, &query)
}

fn one(
    device: &Device,
    table: Table,
    raw_id: &str,
    query: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let with_oid = match query.get("oid").map(String::as_str) {
        None => false,
        Some(v) => v.parse::<u32>().map_err(|_| bad_value("oid", v))? == 1,
    };
    let alarm = raw_id
        .parse::<u32>()
        .ok()
        .and_then(|id| table.read(device).into_iter().find(|a| a.id == id))
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "Alarm {raw_id} is not found in {} alarms",
                table.name()
            ))
        })?;
    let mut body = json!({
        "id": alarm.id.to_string(),
        "description": alarm.condition.description,
        "severity": alarm.severity.as_str(),
        "source": alarm.condition.source,
        "date": iso_millis(alarm.date),
        "url": format!("/api/v1/alarms/{}/{}", table.name(), alarm.id),
    });
    if with_oid {
        body["oid"] = json!(alarm.condition.oid);
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /alarms/active/lastChange`: when an active alarm was last raised or
/// cleared; 404 when nothing changed since boot.
async fn last_change(State(device): State<Arc<Device>>) -> Result<Response, ApiError> {
    device.alarms.observe_resets(device.reset_count());
    let last = device.alarms.last_change();
    let last = last.ok_or_else(|| {
        ApiError::NotFound("No active alarm was raised or cleared since boot".into())
    })?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "lastChange": rfc3339_spaced(last) }),
    ))
}

fn bad_value(parameter: &str, value: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "Invalid value `{value}` of parameter `{parameter}`"
    ))
}

/// A cursor parameter: an id, or `-1` (none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cursor {
    None,
    Id(u32),
}

/// `limit`, `after` and `before` of a list request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PageRequest {
    limit: usize,
    after: Option<Cursor>,
    before: Option<Cursor>,
}

/// The selected slice and its cursors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Page {
    range: std::ops::Range<usize>,
    before: String,
    after: String,
}

impl PageRequest {
    fn from_query(query: &HashMap<String, String>) -> Result<Self, ApiError> {
        let limit = match query.get("limit") {
            None => DEFAULT_LIMIT,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n > 0 => n.min(MAX_LIMIT),
                _ => return Err(bad_value("limit", v)),
            },
        };
        let cursor = |name: &str| -> Result<Option<Cursor>, ApiError> {
            match query.get(name).map(String::as_str) {
                None => Ok(None),
                Some(NONE) => Ok(Some(Cursor::None)),
                Some(v) => v
                    .parse::<u32>()
                    .map(|id| Some(Cursor::Id(id)))
                    .map_err(|_| bad_value(name, v)),
            }
        };
        let (after, before) = (cursor("after")?, cursor("before")?);
        if after.is_some() && before.is_some() {
            return Err(ApiError::BadRequest(
                "Parameters `after` and `before` cannot be combined".into(),
            ));
        }
        Ok(PageRequest {
            limit,
            after,
            before,
        })
    }

    /// The page of `ids` (ascending) this request selects; None when empty.
    fn select(&self, ids: &[u32]) -> Option<Page> {
        let range = match (self.after, self.before) {
            (Some(Cursor::None), _) | (_, Some(Cursor::None)) => return None,
            (Some(Cursor::Id(after)), _) => {
                let start = ids.partition_point(|&id| id <= after);
                start..ids.len().min(start + self.limit)
            }
            (None, Some(Cursor::Id(before))) => {
                let end = ids.partition_point(|&id| id < before);
                end.saturating_sub(self.limit)..end
            }
            (None, None) => 0..ids.len().min(self.limit),
        };
        if range.is_empty() {
            return None;
        }
        // The range is non-empty and inside `ids`: the indexes below hold.
        let before = if range.start > 0 {
            ids[range.start].to_string()
        } else {
            NONE.to_string()
        };
        let after = if range.end < ids.len() {
            ids[range.end - 1].to_string()
        } else {
            NONE.to_string()
        };
        Some(Page {
            range,
            before,
            after,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::device::DeviceInfo;
    use crate::simulator::device::Dialect;

    fn request(pairs: &[(&str, &str)]) -> Result<PageRequest, ApiError> {
        PageRequest::from_query(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn page(pairs: &[(&str, &str)], ids: &[u32]) -> Option<(Vec<u32>, String, String)> {
        request(pairs)
            .unwrap()
            .select(ids)
            .map(|p| (ids[p.range].to_vec(), p.before, p.after))
    }

    fn owned(ids: &[u32], before: &str, after: &str) -> Option<(Vec<u32>, String, String)> {
        Some((ids.to_vec(), before.to_string(), after.to_string()))
    }

    #[test]
    fn the_documents_three_examples() {
        // Example 1 with a device that returns two per page.
        assert_eq!(
            page(&[("limit", "2")], &[1, 2, 3]),
            owned(&[1, 2], "-1", "2")
        );
        // Example 2: ?after=2.
        assert_eq!(page(&[("after", "2")], &[1, 2, 3]), owned(&[3], "3", "-1"));
        // Example 3: ?after=3 is 204.
        assert_eq!(page(&[("after", "3")], &[1, 2, 3]), None);
    }

    #[test]
    fn before_walks_backwards_and_returns_ascending_pages() {
        let ids: Vec<u32> = (1..=7).collect();
        assert_eq!(
            page(&[("before", "6"), ("limit", "2")], &ids),
            owned(&[4, 5], "4", "5")
        );
        assert_eq!(
            page(&[("before", "2"), ("limit", "5")], &ids),
            owned(&[1], "-1", "1")
        );
        assert_eq!(page(&[("before", "1")], &ids), None);
    }

    #[test]
    fn edges_default_limit_cap_gaps_and_minus_one() {
        let many: Vec<u32> = (1..=250).collect();
        let (first, before, after) = page(&[], &many).unwrap();
        assert_eq!(
            (first.len(), before.as_str(), after.as_str()),
            (DEFAULT_LIMIT, "-1", "20")
        );
        assert_eq!(
            page(&[("limit", "1000")], &many).unwrap().0.len(),
            MAX_LIMIT
        );
        assert_eq!(
            page(&[("limit", "50")], &[1, 2]),
            owned(&[1, 2], "-1", "-1")
        );
        // A cursor whose alarm was cleared meanwhile still works.
        assert_eq!(
            page(&[("after", "3")], &[2, 5, 9]),
            owned(&[5, 9], "5", "-1")
        );
        assert_eq!(page(&[("after", "-1")], &[1, 2]), None);
        assert_eq!(page(&[("before", "-1")], &[1, 2]), None);
        assert_eq!(page(&[], &[]), None);
    }

    #[test]
    fn malformed_parameters_are_400() {
        for pairs in [
            vec![("limit", "0")],
            vec![("limit", "-3")],
            vec![("limit", "ten")],
            vec![("after", "x")],
            vec![("before", "1.5")],
            vec![("after", "1"), ("before", "3")],
        ] {
            let err = request(&pairs).unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{pairs:?}");
        }
    }

    #[test]
    fn seeded_log_has_three_active_alarms_and_a_cleared_one_in_history() {
        let log = AlarmLog::new(&DeviceInfo::numbered(0, Dialect::V74, false));
        let active = log.active();
        assert_eq!(
            active.iter().map(|a| a.id).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        let history = log.history();
        assert_eq!(history.len(), 5);
        assert_eq!(history[2].severity, Severity::Cleared);
        assert_eq!(
            history[2].condition.description,
            "Ethernet link alarm. LAN port number 1 is down."
        );
        assert!(
            active
                .iter()
                .all(|a| a.condition.oid.starts_with(TRAP_PREFIX))
        );
    }

    #[test]
    fn raise_clear_and_reboot() {
        let log = AlarmLog::new(&DeviceInfo::numbered(0, Dialect::V74, false));
        let id = log.raise(condition(
            "Board temperature is too high",
            Severity::Critical,
            "Board#1",
            3,
        ));
        assert_eq!(id, 5);
        assert!(log.clear(id));
        assert!(!log.clear(id));
        assert_eq!(log.history().len(), 7);
        log.observe_resets(0);
        assert_eq!(log.history().len(), 7, "no reset yet");
        log.observe_resets(1);
        let active = log.active();
        assert_eq!(
            active.iter().map(|a| a.id).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(
            log.history().len(),
            3,
            "history restarts at boot with the standing alarms"
        );
        assert!(log.last_change().is_some());
    }
}
