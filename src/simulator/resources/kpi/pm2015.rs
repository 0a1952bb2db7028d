//! `/performanceMonitoring` of the 2015 dialect (2015 document chapter 9).
//!
//! - `GET /performanceMonitoring`: `{"items": [PM names]}`;
//! - `GET /performanceMonitoring/<pm>` (name matched without regard to case,
//!   as the document's own example asks for `netUtilPackets`): the PM's
//!   `indexes`, `intervalsPerIndex` and thresholds;
//! - `?index=<i>[&interval=<n>]`: `index`, `interval`, `value`, `min`,
//!   `max`, `average`; interval 0 is real time (default), 1 the last
//!   15-minute interval, 2 the one before;
//! - an unknown PM is 404; a bad index or interval is 400 (the document's
//!   example answers `400 Bad Request` with `"Invalid index"`).
//!
//! The PMs are the three the document names; their indexes and thresholds
//! beyond `NetUtilPackets` (whose example gives them) are plausible choices.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use time::OffsetDateTime;

use super::catalog::{KpiDef, value};
use super::{KpiStore, Slot};
use crate::simulator::device::Device;
use crate::simulator::http::{ApiError, json_response};

/// A 2015 performance monitor.
struct Pm {
    def: KpiDef,
    indexes: &'static [u32],
    low_threshold: u64,
    high_threshold: u64,
}

const PMS: &[Pm] = &[
    Pm {
        def: KpiDef {
            id: "ActiveContextCount",
            name: "",
            description: "Number of active calls",
            max: 400,
        },
        indexes: &[0],
        low_threshold: 0,
        high_threshold: 400,
    },
    Pm {
        def: KpiDef {
            id: "NetUtilKBytes",
            name: "",
            description: "Network utilization in KBytes",
            max: 60_000,
        },
        indexes: &[0, 1],
        low_threshold: 100,
        high_threshold: 30_000,
    },
    Pm {
        def: KpiDef {
            id: "NetUtilPackets",
            name: "",
            description: "Network utilization in packets",
            max: 40_000,
        },
        indexes: &[0, 1],
        low_threshold: 100,
        high_threshold: 30_000,
    },
];

/// The intervals every PM has: real time, last and previous 15 minutes.
const INTERVALS: [u64; 3] = [0, 1, 2];

/// `GET /performanceMonitoring`.
pub(super) async fn list() -> Response {
    let names: Vec<&str> = PMS.iter().map(|pm| pm.def.id).collect();
    json_response(StatusCode::OK, &json!({ "items": names }))
}

/// `GET /performanceMonitoring/<pm>`.
pub(super) async fn one(
    State(device): State<Arc<Device>>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let pm = PMS
        .iter()
        .find(|pm| pm.def.id.eq_ignore_ascii_case(&name))
        .ok_or_else(|| ApiError::NotFound(format!("Performance monitor {name} does not exist")))?;
    let body = reading(&device.kpi, pm, &query, OffsetDateTime::now_utc())?;
    Ok(json_response(StatusCode::OK, &body))
}

fn reading(
    store: &KpiStore,
    pm: &Pm,
    query: &HashMap<String, String>,
    now: OffsetDateTime,
) -> Result<serde_json::Value, ApiError> {
    let index = query.get("index");
    let interval = query.get("interval");
    let Some(index) = index else {
        if interval.is_some() {
            return Err(ApiError::BadRequest("Invalid index".into()));
        }
        return Ok(json!({
            "indexes": pm.indexes,
            "intervalsPerIndex": INTERVALS,
            "lowThreshold": pm.low_threshold,
            "highThreshold": pm.high_threshold,
        }));
    };
    let index: u32 = index
        .parse()
        .ok()
        .filter(|i| pm.indexes.contains(i))
        .ok_or_else(|| ApiError::BadRequest("Invalid index".into()))?;
    let interval: u64 = match interval {
        None => 0,
        Some(v) => v
            .parse()
            .ok()
            .filter(|i| INTERVALS.contains(i))
            .ok_or_else(|| ApiError::BadRequest("Invalid interval".into()))?,
    };
    let clock = store.clock();
    // Interval 1 is the newest completed one, 2 the one before.
    let slot = match interval {
        0 => Slot::realtime(clock.current_slot(now)),
        back => Slot::interval(clock.newest(now).saturating_sub(back - 1)),
    };
    let path = format!("{}/{index}", pm.def.id);
    let sample = |salt: &str| value(store.seed, &format!("{path}/{salt}"), &pm.def, slot.0);
    let (a, b) = (sample("min"), sample("max"));
    let (min, max) = (a.min(b), a.max(b));
    let average = min + (max - min) / 2;
    let value = if interval == 0 {
        sample("value").clamp(min, max)
    } else {
        average
    };
    Ok(json!({
        "index": index,
        "interval": interval,
        "value": value,
        "min": min,
        "max": max,
        "average": average,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::device::{DeviceInfo, Dialect};

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn store() -> KpiStore {
        KpiStore::new(&DeviceInfo::numbered(0, Dialect::V2015, false))
    }

    #[test]
    fn descriptor_matches_the_documents_example() {
        let pm = &PMS[2];
        let body = reading(&store(), pm, &query(&[]), OffsetDateTime::now_utc()).unwrap();
        assert_eq!(
            body,
            json!({ "indexes": [0, 1], "intervalsPerIndex": [0, 1, 2], "lowThreshold": 100, "highThreshold": 30000 })
        );
    }

    #[test]
    fn readings_are_ordered_and_checked() {
        let s = store();
        let now = OffsetDateTime::now_utc();
        for interval in ["0", "1", "2"] {
            let body = reading(
                &s,
                &PMS[1],
                &query(&[("index", "1"), ("interval", interval)]),
                now,
            )
            .unwrap();
            let (min, max, avg, value) =
                (&body["min"], &body["max"], &body["average"], &body["value"]);
            assert!(
                min.as_u64() <= avg.as_u64() && avg.as_u64() <= max.as_u64(),
                "{body}"
            );
            assert!(
                min.as_u64() <= value.as_u64() && value.as_u64() <= max.as_u64(),
                "{body}"
            );
        }
        let invalid =
            |pairs: &[(&str, &str)]| reading(&s, &PMS[1], &query(pairs), now).unwrap_err();
        assert_eq!(
            invalid(&[("index", "100")]),
            ApiError::BadRequest("Invalid index".into())
        );
        assert_eq!(
            invalid(&[("index", "x")]),
            ApiError::BadRequest("Invalid index".into())
        );
        assert_eq!(
            invalid(&[("index", "0"), ("interval", "3")]),
            ApiError::BadRequest("Invalid interval".into())
        );
        assert_eq!(
            invalid(&[("interval", "1")]),
            ApiError::BadRequest("Invalid index".into())
        );
    }
}
