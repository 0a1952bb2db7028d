//! The routes of `/kpi…` (v7.4) and `/performanceMonitoring…` (2015).

use super::{
    APPLICATIONS, AppDef, EntityDef, EntityKind, GroupDef, KpiDef, KpiStore, Slot, catalog, cursor,
    intervals, pm2015,
};

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::simulator::device::Device;
use crate::simulator::http::{ApiError, json_response};
use crate::simulator::resources::status::rfc3339_offset;
use catalog::{Instance, find};
use cursor::{ListParams, Order, bad_parameter};

/// Routes of `/kpi…` and `/performanceMonitoring…`, relative to `/api/v1`.
pub fn routes() -> Router<Arc<Device>> {
    Router::new()
        .route("/kpi", get(kpi_root))
        .route("/kpi/{*path}", get(kpi_path))
        .route("/performanceMonitoring", get(pm2015::list))
        .route("/performanceMonitoring/{pm}", get(pm2015::one))
}

/// `GET /kpi`.
async fn kpi_root() -> Response {
    json_response(
        StatusCode::OK,
        &json!({ "items": [
            { "id": "current", "description": "Real-time KPIs", "url": "/api/v1/kpi/current" },
            { "id": "history", "description": "Historical KPIs", "url": "/api/v1/kpi/history" },
            { "id": "interval", "description": "Intervals Information", "url": "/api/v1/kpi/interval" },
        ] }),
    )
}

/// Which tree a request reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Current,
    History,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Current => "current",
            Source::History => "history",
        }
    }
}

/// `GET /kpi/...`.
async fn kpi_path(
    State(device): State<Arc<Device>>,
    Path(path): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let now = OffsetDateTime::now_utc();
    let Some((first, rest)) = segments.split_first() else {
        return Ok(kpi_root().await);
    };
    let source = if first.eq_ignore_ascii_case("interval") && rest.is_empty() {
        return intervals(&device.kpi, &query, now);
    } else if first.eq_ignore_ascii_case("current") {
        Source::Current
    } else if first.eq_ignore_ascii_case("history") {
        Source::History
    } else {
        return Err(ApiError::NotFound(format!(
            "/api/v1/kpi/{path} does not exist"
        )));
    };
    let request = TreeRequest::new(&device, source, &query, now)?;
    request.answer(rest)
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn interval_json(interval: &intervals::Interval) -> Value {
    json!({
        "id": interval.id,
        "start": rfc3339_offset(interval.start),
        "end": rfc3339_offset(interval.end),
        "url": format!("/api/v1/kpi/interval?id={}", interval.id),
    })
}

/// `GET /kpi/interval`.
fn intervals(
    store: &KpiStore,
    query: &HashMap<String, String>,
    now: OffsetDateTime,
) -> Result<Response, ApiError> {
    let retained = store.clock.retained(now);
    if let Some(raw) = query.get("id") {
        let id = if raw.eq_ignore_ascii_case("last") {
            *retained.end()
        } else {
            raw.parse::<u64>().map_err(|_| bad_parameter("id", raw))?
        };
        return Ok(match store.clock.interval(id, now) {
            Some(interval) => json_response(
                StatusCode::OK,
                &json!({ "intervals": [interval_json(&interval)] }),
            ),
            None => no_content(),
        });
    }
    let ids: Vec<String> = retained.map(|id| id.to_string()).collect();
    let params = ListParams::from_query(query)?.newest_first_page();
    let Some(page) = params.select(&ids, Order::Numbers)? else {
        return Ok(no_content());
    };
    let items: Vec<Value> = ids[page.range]
        .iter()
        .filter_map(|id| id.parse().ok().and_then(|id| store.clock.interval(id, now)))
        .map(|interval| interval_json(&interval))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "intervals": items, "cursor": page.cursor }),
    ))
}

/// A request below `/kpi/current` or `/kpi/history`.
struct TreeRequest<'a> {
    device: &'a Device,
    source: Source,
    query: &'a HashMap<String, String>,
    now: OffsetDateTime,
    detailed: bool,
}

impl<'a> TreeRequest<'a> {
    fn new(
        device: &'a Device,
        source: Source,
        query: &'a HashMap<String, String>,
        now: OffsetDateTime,
    ) -> Result<Self, ApiError> {
        let detailed = match query.get("detailed").map(String::as_str) {
            None => true,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => return Err(bad_parameter("detailed", v)),
        };
        Ok(TreeRequest {
            device,
            source,
            query,
            now,
            detailed,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("/api/v1/kpi/{}/{path}", self.source.name())
    }

    fn invalid_path(&self, path: &[&str]) -> ApiError {
        ApiError::BadRequest(format!(
            "Invalid path /api/v1/kpi/{}/{}",
            self.source.name(),
            path.join("/")
        ))
    }

    fn not_found(&self, path: &[&str]) -> ApiError {
        ApiError::NotFound(format!(
            "/api/v1/kpi/{}/{} does not exist",
            self.source.name(),
            path.join("/")
        ))
    }

    /// The newest retained interval, if any.
    fn last_interval(&self) -> Option<u64> {
        let newest = self.device.kpi.clock.newest(self.now);
        (newest > 0).then_some(newest)
    }

    /// The slot of a list's values: `interval` if given, else real time
    /// (current) or the last interval (history). `None`: nothing to show.
    fn list_slot(&self) -> Result<Option<Slot>, ApiError> {
        match self.query.get("interval").map(String::as_str) {
            Some(v) if v.eq_ignore_ascii_case("last") => {
                Ok(self.last_interval().map(Slot::interval))
            }
            Some(v) => {
                let id: u64 = v.parse().map_err(|_| bad_parameter("interval", v))?;
                self.device
                    .kpi
                    .clock
                    .interval(id, self.now)
                    .map(|_| Some(Slot::interval(id)))
                    .ok_or_else(|| bad_parameter("interval", v))
            }
            None => Ok(match self.source {
                Source::Current => {
                    Some(Slot::realtime(self.device.kpi.clock.current_slot(self.now)))
                }
                Source::History => self.last_interval().map(Slot::interval),
            }),
        }
    }

    fn answer(&self, path: &[&str]) -> Result<Response, ApiError> {
        if self.source == Source::History && self.last_interval().is_none() {
            // No interval completed yet: nothing to discover or display.
            return Ok(no_content());
        }
        let Some((app_id, rest)) = path.split_first() else {
            return self.applications();
        };
        let app = find(APPLICATIONS, app_id, |a| a.id).ok_or_else(|| self.invalid_path(path))?;
        let Some((group_id, rest)) = rest.split_first() else {
            return self.groups(app);
        };
        let group = find(app.groups, group_id, |g| g.id).ok_or_else(|| self.invalid_path(path))?;
        let Some((entity_id, rest)) = rest.split_first() else {
            return self.entities(app, group);
        };
        let entity =
            find(group.entities, entity_id, |e| e.id).ok_or_else(|| self.invalid_path(path))?;
        let base = format!("{}/{}/{}", app.id, group.id, entity.id);
        match (entity.kind, rest) {
            (EntityKind::Singular, []) => self.kpi_list(&base, entity),
            (EntityKind::Singular, [kpi]) => self.single_kpi(&base, entity, kpi, path),
            (EntityKind::PerIpGroup, []) => self.instances(&base),
            (EntityKind::PerIpGroup, [index, more @ ..]) => {
                let instance = index
                    .parse::<u32>()
                    .ok()
                    .filter(|i| self.ip_groups().iter().any(|g| g.index == *i))
                    .map(|i| format!("{base}/{i}"));
                match (instance, more) {
                    (Some(instance), []) => self.kpi_list(&instance, entity),
                    (Some(instance), [kpi]) => self.single_kpi(&instance, entity, kpi, path),
                    (None, []) => Err(self.invalid_path(path)),
                    _ => Err(self.not_found(path)),
                }
            }
            _ => Err(self.not_found(path)),
        }
    }

    fn ip_groups(&self) -> Vec<Instance> {
        catalog::ip_groups(&self.device.running())
    }

    /// A discovery list of `ids` whose items `item` renders.
    fn discovery(
        &self,
        ids: &[String],
        order: Order,
        item: impl Fn(usize) -> Value,
    ) -> Result<Response, ApiError> {
        if self.query.contains_key("kpi") {
            return Err(ApiError::BadRequest(
                "Query parameter `kpi` needs a KPI list path".into(),
            ));
        }
        let params = ListParams::from_query(self.query)?;
        let Some(page) = params.select(ids, order)? else {
            return Ok(no_content());
        };
        let items: Vec<Value> = page.range.clone().map(item).collect();
        Ok(json_response(
            StatusCode::OK,
            &json!({ "items": items, "cursor": page.cursor }),
        ))
    }

    fn node(&self, id: &str, description: &str, path: &str) -> Value {
        let mut item = json!({ "id": id, "url": self.url(path) });
        if self.detailed {
            item["description"] = json!(description);
        }
        item
    }

    fn applications(&self) -> Result<Response, ApiError> {
        let ids: Vec<String> = APPLICATIONS.iter().map(|a| a.id.to_string()).collect();
        self.discovery(&ids, Order::Names, |i| {
            let app = &APPLICATIONS[i];
            let mut item = self.node(app.id, app.description, app.id);
            item["groups"] = json!(app.groups.iter().map(|g| g.id).collect::<Vec<_>>());
            item
        })
    }

    fn groups(&self, app: &AppDef) -> Result<Response, ApiError> {
        let ids: Vec<String> = app.groups.iter().map(|g| g.id.to_string()).collect();
        self.discovery(&ids, Order::Names, |i| {
            let group = &app.groups[i];
            self.node(
                group.id,
                group.description,
                &format!("{}/{}", app.id, group.id),
            )
        })
    }

    fn entities(&self, app: &AppDef, group: &GroupDef) -> Result<Response, ApiError> {
        let ids: Vec<String> = group.entities.iter().map(|e| e.id.to_string()).collect();
        self.discovery(&ids, Order::Names, |i| {
            let entity = &group.entities[i];
            self.node(
                entity.id,
                entity.description,
                &format!("{}/{}/{}", app.id, group.id, entity.id),
            )
        })
    }

    /// Entity index discovery (`…/ipGroup`).
    fn instances(&self, base: &str) -> Result<Response, ApiError> {
        let mut groups = self.ip_groups();
        let render = |g: &Instance| {
            let mut item = json!({ "id": g.index.to_string(), "url": self.url(&format!("{base}/{}", g.index)) });
            if self.detailed {
                item["name"] = json!(g.name);
                item["description"] = json!(g.description);
            }
            item
        };
        if let Some(raw) = self.query.get("id") {
            let index: u32 = raw.parse().map_err(|_| bad_parameter("id", raw))?;
            groups.retain(|g| g.index == index);
            return Ok(match groups.first() {
                Some(g) => json_response(StatusCode::OK, &json!({ "items": [render(g)] })),
                None => no_content(),
            });
        }
        let ids: Vec<String> = groups.iter().map(|g| g.index.to_string()).collect();
        self.discovery(&ids, Order::Numbers, |i| render(&groups[i]))
    }

    /// The KPIs of one entity (instance) with their values.
    fn kpi_list(&self, path: &str, entity: &EntityDef) -> Result<Response, ApiError> {
        let Some(slot) = self.list_slot()? else {
            return Ok(no_content());
        };
        let render = |kpi: &KpiDef| {
            let value = self.device.kpi.value(path, kpi, slot).to_string();
            if self.detailed {
                json!({
                    "id": kpi.id,
                    "name": kpi.name,
                    "description": kpi.description,
                    "url": self.url(&format!("{path}/{}", kpi.id)),
                    "value": value,
                })
            } else {
                json!({ "id": kpi.id, "value": value })
            }
        };
        if let Some(name) = self.query.get("kpi") {
            let kpi =
                find(entity.kpis, name, |k| k.id).ok_or_else(|| bad_parameter("kpi", name))?;
            return Ok(json_response(
                StatusCode::OK,
                &json!({ "items": [render(kpi)] }),
            ));
        }
        let ids: Vec<String> = entity.kpis.iter().map(|k| k.id.to_string()).collect();
        let params = ListParams::from_query(self.query)?;
        let Some(page) = params.select(&ids, Order::Names)? else {
            return Ok(no_content());
        };
        let items: Vec<Value> = entity.kpis[page.range].iter().map(render).collect();
        Ok(json_response(
            StatusCode::OK,
            &json!({ "items": items, "cursor": page.cursor }),
        ))
    }

    /// One KPI (`…/<kpi>`): its value now, in one interval, or in all.
    fn single_kpi(
        &self,
        path: &str,
        entity: &EntityDef,
        name: &str,
        full: &[&str],
    ) -> Result<Response, ApiError> {
        let kpi = find(entity.kpis, name, |k| k.id).ok_or_else(|| self.not_found(full))?;
        let store = &self.device.kpi;
        if self
            .query
            .get("interval")
            .is_some_and(|v| v.eq_ignore_ascii_case("all"))
        {
            let items: Vec<Value> = store
                .clock
                .retained(self.now)
                .rev()
                .map(|id| json!({ "interval": id.to_string(), "value": store.value(path, kpi, Slot::interval(id)).to_string() }))
                .collect();
            if items.is_empty() {
                return Ok(no_content());
            }
            return Ok(json_response(StatusCode::OK, &json!({ "items": items })));
        }
        let Some(slot) = self.list_slot()? else {
            return Ok(no_content());
        };
        let mut body = json!({ "id": kpi.id, "value": store.value(path, kpi, slot) });
        // The document's example shows only id and value; names on request.
        if self
            .query
            .get("detailed")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            body["name"] = json!(kpi.name);
            body["description"] = json!(kpi.description);
        }
        Ok(json_response(StatusCode::OK, &body))
    }
}
