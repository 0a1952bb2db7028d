//! Device status (`GET /status`, v7.4 chapter 10, 2015 chapter 8) and the
//! device clock's renderings that status, alarms and KPIs share.
//!
//! Both dialects answer the twelve fields of the v7.4 document's example,
//! which shows a 7.20A.200.014 device (the 2015 dialect's firmware); the
//! 2015 document's own example is cut off after `highAvailability`. The 2015
//! example names a standalone device "Stand Alone" where v7.4 says "Not
//! Operational".
//! The simulated device's clock is UTC, so offsets are `+00:00` / `Z`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;
use time::OffsetDateTime;

use crate::simulator::device::{Device, DeviceInfo, Dialect};
use crate::simulator::http::json_response;

/// Routes of `/status`, relative to `/api/v1`.
pub fn routes() -> Router<Arc<Device>> {
    Router::new().route("/status", get(status))
}

/// `GET /status`.
async fn status(State(device): State<Arc<Device>>) -> Response {
    let body = status_body(
        &device.info,
        device.uptime_seconds(),
        OffsetDateTime::now_utc(),
    );
    json_response(StatusCode::OK, &body)
}

/// The `/status` document of a device with this identity and uptime.
pub fn status_body(
    info: &DeviceInfo,
    uptime_seconds: u64,
    now: OffsetDateTime,
) -> serde_json::Value {
    if info.dialect == Dialect::V2015 && info.software_version.starts_with("7.00") {
        // The 2015 document's two `/status` examples (firmware
        // 7.00A.018.005) hold nine fields and end at `"highAvailability":
        // "Stand Alone"` with no comma after it: no serialNumber, macAddress
        // or systemUpTime.
        return json!({
            "localTimeStamp": iso_millis(now),
            "ipAddress": info.ip_address.to_string(),
            "subnetMask": info.subnet_mask.to_string(),
            "defaultGateway": info.default_gateway.to_string(),
            "productType": info.product,
            "versionID": info.software_version,
            "protocolType": "SIP",
            "operationalState": "UNLOCKED",
            "highAvailability": high_availability(info),
        });
    }
    json!({
        "localTimeStamp": iso_millis(now),
        "ipAddress": info.ip_address.to_string(),
        "subnetMask": info.subnet_mask.to_string(),
        "defaultGateway": info.default_gateway.to_string(),
        "productType": info.product,
        "versionID": info.software_version,
        "protocolType": "SIP",
        "operationalState": "UNLOCKED",
        "highAvailability": high_availability(info),
        "serialNumber": info.serial_number,
        "macAddress": info.mac_address,
        "systemUpTime": uptime_seconds,
    })
}

/// The `highAvailability` value: the active unit of a pair reports
/// "Active"; a standalone device has HA "Not Operational" (v7.4) or
/// "Stand Alone" (2015), as the documents' examples show.
fn high_availability(info: &DeviceInfo) -> &'static str {
    match (info.ha, info.dialect) {
        (true, _) => "Active",
        (false, Dialect::V74) => "Not Operational",
        (false, Dialect::V2015) => "Stand Alone",
    }
}

/// `2010-01-17T17:29:15.000Z`: the form of `localTimeStamp` and alarm dates.
pub(crate) fn iso_millis(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// `2020-07-14T10:06:00+00:00`: RFC 3339 with an offset, as KPI intervals
/// write it.
pub(crate) fn rfc3339_offset(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `2016-06-09 19:00:00+00:00`: RFC 3339 with a space (RFC 3339 §5.6 note),
/// as `alarms/active/lastChange` writes it.
pub(crate) fn rfc3339_spaced(t: OffsetDateTime) -> String {
    rfc3339_offset(t).replacen('T', " ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    #[test]
    fn clock_renderings_match_the_documents() {
        // 2010-01-17T17:29:15Z, the document's localTimeStamp.
        let t = at(1_263_749_355) + time::Duration::milliseconds(7);
        assert_eq!(iso_millis(t), "2010-01-17T17:29:15.007Z");
        assert_eq!(rfc3339_offset(t), "2010-01-17T17:29:15+00:00");
        assert_eq!(rfc3339_spaced(t), "2010-01-17 17:29:15+00:00");
    }

    #[test]
    fn v74_status_has_the_twelve_documented_fields() {
        let info = DeviceInfo::numbered(3, Dialect::V74, false);
        let body = status_body(&info, 161_446, at(0));
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
            "localTimeStamp",
            "ipAddress",
            "subnetMask",
            "defaultGateway",
            "productType",
            "versionID",
            "protocolType",
            "operationalState",
            "highAvailability",
            "serialNumber",
            "macAddress",
            "systemUpTime",
        ];
        let mut keys_sorted = keys.clone();
        keys_sorted.sort_unstable();
        expected.sort_unstable();
        assert_eq!(keys_sorted, expected);
        assert_eq!(body["systemUpTime"], 161_446);
        assert_eq!(body["serialNumber"], info.serial_number.as_str());
        assert_eq!(body["highAvailability"], "Not Operational");
        assert_eq!(body["localTimeStamp"], "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn status_2015_has_the_twelve_fields_of_the_7_20a_example() {
        let info = DeviceInfo::numbered(0, Dialect::V2015, false);
        let body = status_body(&info, 5, at(0));
        assert_eq!(body.as_object().unwrap().len(), 12);
        assert_eq!(body["highAvailability"], "Stand Alone");
        assert_eq!(body["serialNumber"], info.serial_number.as_str());
        assert_eq!(body["systemUpTime"], 5);
        let ha = DeviceInfo::numbered(0, Dialect::V2015, true);
        assert_eq!(status_body(&ha, 5, at(0))["highAvailability"], "Active");
    }

    #[test]
    fn status_of_7_00_firmware_has_the_nine_fields_of_the_2015_example() {
        // 001 §2: GET /status of "versionID": "7.00A.018.005" lists
        // localTimeStamp … "highAvailability": "Stand Alone" (no comma
        // after it: the last field).
        let mut info = DeviceInfo::numbered(0, Dialect::V2015, false);
        info.software_version = "7.00A.018.005".into();
        let body = status_body(&info, 5, at(0));
        let mut keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "defaultGateway",
                "highAvailability",
                "ipAddress",
                "localTimeStamp",
                "operationalState",
                "productType",
                "protocolType",
                "subnetMask",
                "versionID"
            ]
        );
        assert_eq!(body["highAvailability"], "Stand Alone");
        assert_eq!(body["versionID"], "7.00A.018.005");
    }
}
