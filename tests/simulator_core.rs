//! The simulated device against the v7.4 and 2015 REST documents, over real
//! HTTP: each expectation below is taken from the documents (status codes,
//! content types, JSON shapes, privilege tables) or from how real devices
//! write their INI files, never from the simulator's own code. Read-backs
//! use the tests' own INI reader (`simulator_common`), not the client's
//! parser. Behaviour no document states is labelled "Assumption".

use std::time::{Duration, Instant};

mod simulator_common;

use mediant_operator::simulator::FleetConfig;
use mediant_operator::simulator::device::Dialect;
use mediant_operator::simulator::faults::FaultPlan;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::Value;
use simulator_common::Dump;
use simulator_common::http::{RESET, call, client, one, start, url};

const ADMIN: (&str, &str) = ("Admin", "Admin");
const OPERATOR: (&str, &str) = ("Operator", "Operator");
const MONITOR: (&str, &str) = ("Monitor", "Monitor");

async fn get(base: &str, path: &str) -> Response {
    call(base, Method::GET, path, ADMIN).await
}

async fn post_json(base: &str, path: &str, body: &str) -> Response {
    client()
        .post(url(base, path))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request")
}

/// A v7.4 upload: `multipart/form-data` with the file in part `file`.
async fn put_file(base: &str, path: &str, name: &str, content: &str) -> Response {
    let part = reqwest::multipart::Part::bytes(content.as_bytes().to_vec())
        .file_name(name.to_string())
        .mime_str("application/octet-stream")
        .expect("mime");
    client()
        .put(url(base, path))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("request")
}

/// A 2015-dialect upload: the file as an `application/octet-stream` body.
async fn put_octets(base: &str, path: &str, content: &str) -> Response {
    client()
        .put(url(base, path))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .header("Content-Type", "application/octet-stream")
        .body(content.to_string())
        .send()
        .await
        .expect("request")
}

fn content_type(r: &Response) -> String {
    r.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .to_string()
}

async fn json(r: Response) -> Value {
    assert_eq!(content_type(&r), "application/json");
    serde_json::from_str(&r.text().await.expect("body")).expect("JSON body")
}

async fn ini_of(base: &str) -> String {
    let r = get(base, "/api/v1/files/ini").await;
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.expect("body")
}

/// Waits until the device answers again after a reset.
async fn wait_up(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answered = client()
            .get(url(base, "/api"))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .send()
            .await;
        if answered.is_ok() {
            return;
        }
        assert!(Instant::now() < deadline, "device did not come back");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_string())
        .collect()
}

// ---------------------------------------------------------------- navigation

#[tokio::test]
async fn top_level_folder_and_navigation_tree_match_the_examples() {
    let (_fleet, base) = one().await;
    let r = get(&base, "/api").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        json(r).await,
        serde_json::json!({ "versions": [ { "id": "v1", "status": "stable", "url": "/api/v1" } ] })
    );

    let v1 = json(get(&base, "/api/v1").await).await;
    assert_eq!(
        ids(&v1["items"]),
        ["actions", "alarms", "files", "license", "status", "kpi"]
    );
    for item in v1["items"].as_array().expect("items") {
        assert!(
            item["description"].is_string()
                && item["url"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("/api/v1/"))
        );
    }

    let actions = json(get(&base, "/api/v1/actions").await).await;
    assert_eq!(
        ids(&actions["actions"]),
        ["reset", "saveConfiguration", "authToken"]
    );
    assert_eq!(actions["actions"][0]["url"], "/api/v1/actions/reset");

    // Section 7: the listing is JSON but the example serves it as octet-stream.
    let r = get(&base, "/api/v1/files").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(content_type(&r), "application/octet-stream");
    let files: Value = serde_json::from_str(&r.text().await.expect("body")).expect("JSON");
    let listed = ids(&files["files"]);
    assert_eq!(&listed[..3], ["ini", "software", "cliScript"]);
    assert!(listed.contains(&"cpt".to_string()));
}

#[tokio::test]
async fn dialect_2015_has_its_own_tree() {
    let fleet = start(FleetConfig {
        dialect: Dialect::V2015,
        ..FleetConfig::default()
    })
    .await;
    let base = &fleet.devices()[0].base_url;
    let v1 = json(get(base, "/api/v1").await).await;
    assert_eq!(
        ids(&v1["items"]),
        [
            "actions",
            "alarms",
            "files",
            "license",
            "performanceMonitoring",
            "status"
        ]
    );
    assert_eq!(
        ids(&json(get(base, "/api/v1/actions").await).await["actions"]),
        ["reset", "saveConfiguration"]
    );
    let r = get(base, "/api/v1/files").await;
    assert_eq!(content_type(&r), "application/json");
    for missing in ["/api/v1/kpi", "/api/v1/files/tls"] {
        let r = get(base, missing).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{missing}");
        assert!(json(r).await["description"].is_string());
    }
    let r = post_json(
        base,
        "/api/v1/actions/authToken",
        r#"{"username":"john","privLevel":"admin"}"#,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_paths_and_unsupported_methods_answer_json_errors() {
    let (_fleet, base) = one().await;
    let r = get(&base, "/api/v1/nothing/here").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(json(r).await["description"].is_string());
    // Table 2-2: POST files/ini and GET files/ini/incremental are 405.
    for (method, path) in [
        (Method::POST, "/api/v1/files/ini"),
        (Method::GET, "/api/v1/files/ini/incremental"),
        (Method::DELETE, "/api/v1/files/tls"),
    ] {
        let r = call(&base, method.clone(), path, ADMIN).await;
        assert_eq!(
            r.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert!(json(r).await["description"].is_string());
    }
}

#[tokio::test]
async fn accept_header_excluding_the_format_gives_406() {
    let (_fleet, base) = one().await;
    let r = client()
        .get(url(&base, "/api/v1/files/ini"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .header("Accept", "application/json")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::NOT_ACCEPTABLE);
    let r = client()
        .get(url(&base, "/api/v1/actions"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .header("Accept", "application/*")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
}

// ------------------------------------------------------------- authentication

#[tokio::test]
async fn missing_or_wrong_credentials_give_401_with_basic_challenge() {
    let (_fleet, base) = one().await;
    let anonymous = client()
        .get(url(&base, "/api/v1/status"))
        .send()
        .await
        .expect("request");
    let wrong = call(&base, Method::GET, "/api/v1/files/ini", ("Admin", "admin")).await;
    let unknown = call(&base, Method::GET, "/api", ("root", "root")).await;
    for r in [anonymous, wrong, unknown] {
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let challenge = r
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(challenge.starts_with("Basic"), "{challenge}");
    }
}

/// Table 2-2 (and 2-1 for the directories), for each of the three levels:
/// `None` is "405 Method Not Allowed" for everyone; `Some(level)` is the
/// minimum level (0 Monitor, 1 Administrator, 2 Security Administrator).
const SKIP_LEVEL: u8 = 9;
/// A cell of the matrix this test does not check.
const SKIP: Option<u8> = Some(SKIP_LEVEL);

#[tokio::test]
async fn privilege_matrix_follows_table_2_2() {
    let (_fleet, base) = one().await;
    let users = [(MONITOR, 0), (OPERATOR, 1), (ADMIN, 2)];
    let rows: &[(&str, [Option<u8>; 4])] = &[
        ("actions/reset", [None, None, Some(1), None]),
        ("actions/saveConfiguration", [None, None, Some(1), None]),
        ("actions/authToken", [None, None, Some(2), None]),
        ("actions", [Some(1), None, None, None]),
        ("status", [Some(0), None, None, None]),
        ("license", [Some(1), Some(2), None, None]),
        ("alarms/active", [Some(0), None, None, None]),
        ("alarms/history", [Some(0), None, None, None]),
        ("alarms", [Some(0), None, None, None]),
        ("kpi", [Some(0), None, None, None]),
        ("files/ini", [Some(2), Some(2), None, None]),
        ("files/ini/incremental", [None, Some(2), None, None]),
        ("files/cliScript/incremental", [None, Some(2), None, None]),
        ("files/cliScript", [Some(2), Some(2), None, None]),
        ("files/software", [None, Some(1), None, None]),
        ("files/software/hitless", [None, Some(1), None, None]),
        ("files/cpt", [None, Some(1), None, None]),
        ("files/prt", [None, Some(1), None, None]),
        ("files/dialplan", [None, Some(1), None, None]),
        ("files/casTable", [None, Some(1), None, None]),
        ("files/amd", [None, Some(1), None, None]),
        ("files/usersInfo", [None, Some(1), None, None]),
        ("files/sbcWizard", [None, Some(1), None, None]),
        ("files/fixs", [None, Some(1), None, None]),
        ("files/fixo", [None, Some(1), None, None]),
        ("files", [Some(1), None, None, None]),
        // Table 2-2 gives files/tls one row for the whole folder; PUT and
        // POST are checked on the resources of it that take them.
        ("files/tls", [Some(2), SKIP, SKIP, None]),
        ("files/tls/0/certificate", [Some(2), Some(2), SKIP, None]),
        (
            "files/tls/0/privateKey/generate",
            [SKIP, SKIP, Some(2), None],
        ),
    ];
    let methods = [Method::GET, Method::PUT, Method::POST, Method::DELETE];
    for (path, rules) in rows {
        for (method, rule) in methods.iter().zip(rules) {
            for (user, level) in users {
                // Bodies that a permitted user gets refused with 400, so the
                // matrix never resets the device: no Content-Type on uploads,
                // malformed JSON on actions.
                let r = client()
                    .request(method.clone(), url(&base, &format!("/api/v1/{path}")))
                    .basic_auth(user.0, Some(user.1))
                    .header("Content-Type", "text/plain")
                    .body("{")
                    .send()
                    .await
                    .expect("request");
                let status = r.status();
                match rule {
                    Some(l) if *l == SKIP_LEVEL => {}
                    None => assert_eq!(
                        status,
                        StatusCode::METHOD_NOT_ALLOWED,
                        "{method} {path} as {}",
                        user.0
                    ),
                    Some(min) if level < *min => {
                        assert_eq!(
                            status,
                            StatusCode::FORBIDDEN,
                            "{method} {path} as {}",
                            user.0
                        );
                    }
                    // Permitted: the request reaches the resource, which
                    // answers it (2xx) or refuses the deliberately bad body
                    // (400 as the documents list; 406/415 for the media
                    // types the body lacks). 404 or 500 would mean the
                    // resource is missing or broken, not permitted.
                    Some(_) => assert!(
                        status.is_success()
                            || [
                                StatusCode::BAD_REQUEST,
                                StatusCode::NOT_ACCEPTABLE,
                                StatusCode::UNSUPPORTED_MEDIA_TYPE
                            ]
                            .contains(&status),
                        "{method} {path} as {}: {status}",
                        user.0
                    ),
                }
            }
        }
    }
}

// -------------------------------------------------------------------- actions

#[tokio::test]
async fn actions_answer_as_documented() {
    let (fleet, base) = one().await;
    let r = post_json(
        &base,
        "/api/v1/actions/authToken",
        r#"{"username":"john","privLevel":"admin","sessionTimeout":180,"crossHost":"10.3.2.40"}"#,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = json(r).await;
    let token = body["authToken"].as_str().expect("token");
    assert!(
        token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "{token}"
    );
    assert_eq!(
        body["description"],
        "Authentication token successfully generated"
    );
    let r = post_json(
        &base,
        "/api/v1/actions/authToken",
        r#"{"username":"john","privLevel":"root"}"#,
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let r = post_json(&base, "/api/v1/actions/saveConfiguration", "").await;
    assert_eq!(r.status(), StatusCode::OK);

    // Section 6.1: wrong attributes or values are a 400.
    for bad in [
        r#"{"saveConfiguration":"yes"}"#,
        r#"{"gracefulTimeout":-1}"#,
        r#"{"reboot":true}"#,
        "{",
    ] {
        let r = post_json(&base, "/api/v1/actions/reset", bad).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(json(r).await["description"].is_string());
    }
    assert_eq!(fleet.devices()[0].device.reset_count(), 0);
    let r = post_json(
        &base,
        "/api/v1/actions/reset",
        r#"{"saveConfiguration": true, "gracefulTimeout": 0}"#,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json(r).await["description"], "Device will reset now");
    assert_eq!(fleet.devices()[0].device.reset_count(), 1);
}

// --------------------------------------------------------- running vs startup

const SET_GATEWAY_NAME: &str = "[SIP Params]\nSIPGatewayName = 'changed.example.net'\n";

#[tokio::test]
async fn unsaved_change_is_lost_on_reset_and_saved_one_stays() {
    let (_fleet, base) = one().await;
    let r = put_file(
        &base,
        "/api/v1/files/ini/incremental",
        "ini.txt",
        SET_GATEWAY_NAME,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        ini_of(&base)
            .await
            .contains("SIPGatewayName = 'changed.example.net'")
    );

    let r = post_json(
        &base,
        "/api/v1/actions/reset",
        r#"{"saveConfiguration": false}"#,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    wait_up(&base).await;
    let after = ini_of(&base).await;
    assert!(
        !after.contains("changed.example.net"),
        "unsaved change survived a reset"
    );

    put_file(
        &base,
        "/api/v1/files/ini/incremental",
        "ini.txt",
        SET_GATEWAY_NAME,
    )
    .await;
    assert_eq!(
        post_json(&base, "/api/v1/actions/saveConfiguration", "")
            .await
            .status(),
        StatusCode::OK
    );
    post_json(
        &base,
        "/api/v1/actions/reset",
        r#"{"saveConfiguration": false}"#,
    )
    .await;
    wait_up(&base).await;
    assert!(
        ini_of(&base).await.contains("changed.example.net"),
        "saved change lost"
    );
}

#[tokio::test]
async fn reset_saves_first_by_default() {
    let (_fleet, base) = one().await;
    put_file(
        &base,
        "/api/v1/files/ini/incremental",
        "ini.txt",
        SET_GATEWAY_NAME,
    )
    .await;
    // Section 6.1: saveConfiguration defaults to true.
    assert_eq!(
        post_json(&base, "/api/v1/actions/reset", "{}")
            .await
            .status(),
        StatusCode::OK
    );
    wait_up(&base).await;
    assert!(ini_of(&base).await.contains("changed.example.net"));
}

#[tokio::test]
async fn resetting_device_refuses_connections_then_comes_back() {
    let (fleet, base) = one().await;
    post_json(&base, "/api/v1/actions/reset", "{}").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let during = client()
        .get(url(&base, "/api"))
        .basic_auth("Admin", Some("Admin"))
        .send()
        .await;
    let error = during.expect_err("device answered while resetting");
    assert!(error.is_connect(), "expected a refused connection: {error}");
    assert!(fleet.devices()[0].device.is_resetting());
    tokio::time::sleep(RESET).await;
    wait_up(&base).await;
    assert_eq!(get(&base, "/api").await.status(), StatusCode::OK);
}

// --------------------------------------------------------------- INI file

/// An upload in an administrator's own style: lower-case names, double
/// quotes, a default value, a parameter the firmware does not know, and
/// table rows that name only some columns.
const UPLOAD: &str = "enablesyslog = \"1\"\r\n\
syslogserverport = 514\r\n\
NoSuchParameterAnywhere = 7\r\n\
[SIP Params]\r\n\
sipgatewayname = \"gw.example.net\"\r\n\
[ ProxySet ]\r\n\
FORMAT ProxySet_Index = ProxySet_ProxyName, ProxySet_SRDName;\r\n\
ProxySet 0 = \"ITSP\", \"DefaultSRD\";\r\n\
[ \\ProxySet ]\r\n\
[ IPGroup ]\r\n\
FORMAT IPGroup_Index = IPGroup_Name, IPGroup_ProxySetName, IPGroup_Type;\r\n\
IPGroup 1 = 'ITSP', 'ITSP', 0;\r\n\
[ \\IPGroup ]\r\n";

#[tokio::test]
async fn downloaded_ini_is_the_devices_own_rendering_not_an_echo() {
    let (fleet, base) = one().await;
    let r = put_file(&base, "/api/v1/files/ini", "ini.txt", UPLOAD).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        json(r).await["description"],
        "Device will reset now to activate new configuration"
    );
    wait_up(&base).await;

    let r = get(&base, "/api/v1/files/ini").await;
    assert_eq!(content_type(&r), "application/octet-stream");
    let text = r.text().await.expect("body");
    assert_ne!(text, UPLOAD);
    assert!(text.contains("\r\n"), "device files use CRLF");
    // Header as in section 7.1.2's example.
    let info = &fleet.devices()[0].device.info;
    for line in [
        format!(";Board: {}", info.product),
        format!(";Serial Number: {}", info.serial_number),
        format!(";Software Version: {}", info.software_version),
        format!(";Board IP Address: {}", info.ip_address),
    ] {
        assert!(text.contains(&line), "missing header {line}");
    }
    // Canonical names and the device's quoting; unknown names gone ("If
    // there is a syntax error in the parameter name, the value is ignored").
    // Defaults are not written: the real exports in
    // ../shared/fixtures/real-devices/ mark what they leave out with
    // ";X is hidden but has non-default value", i.e. the device writes a
    // parameter when its value is not the default (SyslogServerPort's
    // default, 514, is therefore not written).
    assert!(text.contains("\r\nEnableSyslog = 1\r\n"));
    assert!(text.contains("\r\nSIPGatewayName = 'gw.example.net'\r\n"));
    assert!(!text.to_ascii_lowercase().contains("syslogserverport"));
    assert!(!text.contains("NoSuchParameterAnywhere"));
    assert!(
        text.contains("[SIP Params]")
            && text.contains("[SYSTEM Params]")
            && text.contains("[WEB Params]")
    );
    assert!(text.contains(";LastConfigChangeTime is hidden but has non-default value"));

    // Tables: full column set, defaults filled in, cells re-quoted.
    let doc = Dump::read(&text);
    let groups = doc.table("IPGroup").expect("IPGroup");
    assert!(
        groups.columns.len() > 40,
        "only {} columns",
        groups.columns.len()
    );
    // "all other fields are assigned with the pre-defined default values"
    assert_eq!(groups.cell("1", "Name"), Some("ITSP"));
    assert_eq!(groups.cell("1", "ClassifyByProxySet"), Some("1"));
    assert_eq!(groups.cell("1", "SBCOperationMode"), Some("-1"));
    assert!(
        text.contains("IPGroup 1 = 0, \"ITSP\", \"ITSP\","),
        "row not re-quoted as the device does"
    );
    // Assumption: a full upload replaces the tables it names and restores
    // factory values for the rest.
    assert_eq!(doc.table("ProxySet").map(|t| t.row_count()), Some(1));
    assert!(
        doc.table("SRD")
            .is_some_and(|t| t.cell("0", "Name") == Some("DefaultSRD"))
    );
}

#[tokio::test]
async fn downloaded_ini_uploads_back_to_the_same_configuration() {
    let (_fleet, base) = one().await;
    let first = ini_of(&base).await;
    assert_eq!(
        put_file(&base, "/api/v1/files/ini", "ini.txt", &first)
            .await
            .status(),
        StatusCode::OK
    );
    wait_up(&base).await;
    let second = ini_of(&base).await;
    let diff = Dump::read(&first).differences(&Dump::read(&second));
    assert!(diff.is_empty(), "{diff:#?}");
    // Secrets come back as hashes, never as uploaded.
    assert!(!first.contains("trunk-secret-1"));
    assert!(first.contains("$1$"));
}

// The incremental-row semantics (whole rows, `$$`, unknown names, secret
// tables) are checked against the manual's sentences in simulator_ini.rs.

#[tokio::test]
async fn bad_ini_is_refused_with_400_naming_the_line_and_nothing_is_applied() {
    let (_fleet, base) = one().await;
    let before = ini_of(&base).await;
    let cases = [
        // Malformed: a table never closed.
        (
            "[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Name;\nIPGroup 9 = \"x\";\n[ SRD ]\n",
            "line 4",
        ),
        // A value of the wrong kind (line 4).
        (
            "[SIP Params]\nSIPGatewayName = 'x'\n\nSBCSessionExpires = soon\n",
            "line 4",
        ),
        // A data line that does not match its FORMAT line ("Data lines must
        // match the Format line").
        (
            "[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Name, IPGroup_ProxySetName;\nIPGroup 9 = \"x\";\n[ \\IPGroup ]\n",
            "line 3",
        ),
    ];
    for (upload, named) in cases {
        for path in ["/api/v1/files/ini/incremental", "/api/v1/files/ini"] {
            let r = put_file(&base, path, "ini.txt", upload).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}: {upload}");
            let description = json(r).await["description"]
                .as_str()
                .expect("description")
                .to_string();
            assert!(
                description.contains(named),
                "{description} should name {named}"
            );
        }
    }
    let after = ini_of(&base).await;
    let diff = Dump::read(&before).differences(&Dump::read(&after));
    assert!(diff.is_empty(), "{diff:#?}");
}

#[tokio::test]
async fn uploads_take_each_dialects_encoding_only() {
    let (_fleet, base) = one().await;
    // v7.4: multipart part "file"; a bare octet-stream body or another part name is a 400.
    assert_eq!(
        put_octets(&base, "/api/v1/files/ini/incremental", SET_GATEWAY_NAME)
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    let part =
        reqwest::multipart::Part::bytes(SET_GATEWAY_NAME.as_bytes().to_vec()).file_name("ini.txt");
    let r = client()
        .put(url(&base, "/api/v1/files/ini/incremental"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .multipart(reqwest::multipart::Form::new().part("upload", part))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(!ini_of(&base).await.contains("changed.example.net"));
    assert_eq!(
        put_file(
            &base,
            "/api/v1/files/ini/incremental",
            "ini.txt",
            SET_GATEWAY_NAME
        )
        .await
        .status(),
        StatusCode::OK
    );
    assert!(ini_of(&base).await.contains("changed.example.net"));

    let fleet = start(FleetConfig {
        dialect: Dialect::V2015,
        ..FleetConfig::default()
    })
    .await;
    let old = &fleet.devices()[0].base_url;
    assert_eq!(
        put_file(
            old,
            "/api/v1/files/ini/incremental",
            "ini.txt",
            SET_GATEWAY_NAME
        )
        .await
        .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        put_octets(old, "/api/v1/files/ini/incremental", SET_GATEWAY_NAME)
            .await
            .status(),
        StatusCode::OK
    );
    assert!(ini_of(old).await.contains("changed.example.net"));
}

// ----------------------------------------------------------------- CLI script

#[tokio::test]
async fn incremental_cli_runs_show_and_configuration_commands() {
    let (fleet, base) = one().await;
    let r = put_file(
        &base,
        "/api/v1/files/cliScript/incremental",
        "cli.txt",
        "show system version\n",
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = json(r).await;
    assert_eq!(
        body["description"],
        "Incremental CLI Script file was loaded."
    );
    let output = body["output"].as_str().expect("output");
    assert!(output.contains(&format!(
        ";Serial Number: {}",
        fleet.devices()[0].device.info.serial_number
    )));
    assert!(output.contains(";Software Version: 7.40A.500.001"));

    let script = "configure voip\n proxy-set 20\n  proxy-name \"Carrier-X\"\n  srd-name \"DefaultSRD\"\n  activate\n exit\n proxy-ip 20/0\n  proxy-address \"192.0.2.7:5061\"\n  transport-type tls\n  activate\n exit\n ip-group 20\n  name \"Carrier-X\"\n  proxy-set-name \"Carrier-X\"\n  activate\n exit\n sip-definition settings\n  gw-name \"cli.example.net\"\n exit\nexit\nshow running-config voip\n";
    let r = put_file(
        &base,
        "/api/v1/files/cliScript/incremental",
        "cli.txt",
        script,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = json(r).await;
    assert_eq!(body["status"], "success", "{body}");
    let output = body["output"].as_str().expect("output").to_string();
    assert!(
        output.contains(" ip-group 20\n") && output.contains("proxy-ip 20/0"),
        "{output}"
    );

    let doc = Dump::read(&ini_of(&base).await);
    assert_eq!(doc.param("SIPGatewayName"), Some("cli.example.net"));
    let ips = doc.table("ProxyIp").expect("ProxyIp");
    let row = ips
        .rows
        .iter()
        .find(|(_, r)| r.get("proxysetid").map(String::as_str) == Some("20"))
        .map(|(i, _)| i.clone())
        .expect("row");
    assert_eq!(ips.cell(&row, "IpAddress"), Some("192.0.2.7:5061"));
    assert_eq!(ips.cell(&row, "TransportType"), Some("2"));

    let r = put_file(
        &base,
        "/api/v1/files/cliScript/incremental",
        "cli.txt",
        "configure voip\n no ip-group 20\nexit\n",
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let doc = Dump::read(&ini_of(&base).await);
    assert!(
        doc.table("IPGroup")
            .is_some_and(|t| !t.rows.contains_key("20"))
    );
}

/// Reference (`../shared/reference/audiocodes-cli.md`): failed CLI lines
/// are reported in `output` with `status` `failure`, apparently with HTTP
/// 200 [P]; what ran before the failing line stays applied [I, assumption].
#[tokio::test]
async fn unknown_cli_commands_fail_with_status_failure_naming_the_line() {
    let (_fleet, base) = one().await;
    for (script, failing) in [
        (
            "configure voip\n sip-definition settings\n  gw-name \"partial.example.net\"\n exit\n frobnicate 3\nexit\n",
            "frobnicate 3",
        ),
        (
            "configure voip\n ip-group 0\n  no-such-key 1\n",
            "no-such-key 1",
        ),
        (
            "configure voip\n ip-group 0\n  type router\n",
            "type router",
        ),
        ("configure everything\n", "configure everything"),
        (
            "copy startup-script from http://example.net/x\n",
            "copy startup-script",
        ),
    ] {
        let r = put_file(
            &base,
            "/api/v1/files/cliScript/incremental",
            "cli.txt",
            script,
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK, "{script}");
        let body = json(r).await;
        assert_eq!(body["status"], "failure", "{script}");
        assert!(
            body["output"].as_str().is_some_and(|o| o.contains(failing)),
            "{body}"
        );
    }
    // The lines before the failing one stayed applied.
    assert_eq!(
        Dump::read(&ini_of(&base).await).param("SIPGatewayName"),
        Some("partial.example.net")
    );
}

#[tokio::test]
async fn cli_script_download_is_octet_stream_and_full_upload_resets_to_it() {
    let (fleet, base) = one().await;
    let r = get(&base, "/api/v1/files/cliScript").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(content_type(&r), "application/octet-stream");
    let script = r.text().await.expect("body");
    for expected in [
        "configure network\n",
        "configure voip\n",
        " sip-interface 0\n",
        " proxy-set 0\n",
        " proxy-ip 0/0\n",
        " sbc routing ip2ip-routing 0\n",
        " tls 0\n",
    ] {
        assert!(script.contains(expected), "missing {expected:?}");
    }
    // Our client's CLI engine reads the device's script too.
    mediant_operator::config::cli::CliScript::parse(&script).expect("the client's engine reads it");

    // What the device should hold after the upload, in its own rendering.
    let changed = script.replace(
        "gw-name \"sbc.example.net\"",
        "gw-name \"full.example.net\"",
    );
    assert_ne!(changed, script);
    // The upload is the same configuration in another hand: no indentation,
    // comments and blank lines. An echo would give it
    // back; the device re-renders its configuration. (Indentation: "Device
    // dumps appear to indent two spaces per level" [P]/[I].)
    let upload: String = changed
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{}\n\n# a comment\n", l.trim()))
        .collect();
    let r = put_file(&base, "/api/v1/files/cliScript", "cli.txt", &upload).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        json(r).await["description"],
        "Device will reset now to activate new configuration"
    );
    assert_eq!(fleet.devices()[0].device.reset_count(), 1);
    wait_up(&base).await;
    let again = get(&base, "/api/v1/files/cliScript")
        .await
        .text()
        .await
        .expect("body");
    assert_ne!(again, upload, "the download is not an echo of the upload");
    assert_eq!(again, changed, "the download is the device's rendering");
    // show commands do not belong in a full script.
    let r = put_file(
        &base,
        "/api/v1/files/cliScript",
        "cli.txt",
        "show system version\n",
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

// ------------------------------------------------------ software and aux files

/// A stand-in for a `.cmp` image: binary (the simulator refuses text as
/// "plainly not a firmware image", our assumption; see simulator_ini.rs).
const FIRMWARE: &[u8] = b"\x7fCMP\x00\x01\x02\xff binary image";

#[tokio::test]
async fn software_upload_resets_and_hitless_needs_ha() {
    let (fleet, base) = one().await;
    let r = put_bytes(
        &base,
        "/api/v1/files/software/hitless",
        "software.cmp",
        FIRMWARE.to_vec(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = put_file(&base, "/api/v1/files/software", "software.cmp", "").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = put_bytes(
        &base,
        "/api/v1/files/software",
        "software.cmp",
        FIRMWARE.to_vec(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        json(r).await["description"],
        "Device will reset now to activate new software load"
    );
    assert_eq!(fleet.devices()[0].device.reset_count(), 1);

    let ha = start(FleetConfig {
        ha: true,
        ..FleetConfig::default()
    })
    .await;
    let r = put_bytes(
        &ha.devices()[0].base_url,
        "/api/v1/files/software/hitless",
        "software.cmp",
        FIRMWARE.to_vec(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        json(r).await["description"],
        "Device will perform switchover to activate new software load"
    );
    assert_eq!(ha.devices()[0].device.reset_count(), 0);
}

#[tokio::test]
async fn auxiliary_files_are_accepted_with_put_only() {
    let (_fleet, base) = one().await;
    for name in [
        "cpt",
        "prt",
        "dialplan",
        "casTable",
        "amd",
        "usersInfo",
        "sbcWizard",
        "fixs",
        "fixo",
    ] {
        let path = format!("/api/v1/files/{name}");
        assert_eq!(
            put_file(&base, &path, "aux.dat", "content").await.status(),
            StatusCode::OK,
            "{name}"
        );
        assert_eq!(
            get(&base, &path).await.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{name}"
        );
    }
}

// -------------------------------------------------------------------- faults

#[tokio::test]
async fn ha_synchronisation_refuses_the_next_writes_with_409() {
    let (fleet, base) = one().await;
    fleet.devices()[0].device.faults.set(FaultPlan {
        ha_sync_writes: 2,
        ..FaultPlan::default()
    });
    // Reads go through.
    assert_eq!(
        get(&base, "/api/v1/files/ini").await.status(),
        StatusCode::OK
    );
    for _ in 0..2 {
        let r = put_file(
            &base,
            "/api/v1/files/ini/incremental",
            "ini.txt",
            SET_GATEWAY_NAME,
        )
        .await;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert_eq!(
            json(r).await,
            serde_json::json!({ "description": "Device is currently performing HA synchronization" })
        );
    }
    assert!(!ini_of(&base).await.contains("changed.example.net"));
    let r = put_file(
        &base,
        "/api/v1/files/ini/incremental",
        "ini.txt",
        SET_GATEWAY_NAME,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn latency_500s_and_dropped_connections_on_demand() {
    let (fleet, base) = one().await;
    let device = &fleet.devices()[0].device;
    device.faults.set(FaultPlan {
        latency_ms: 250,
        ..FaultPlan::default()
    });
    let t = Instant::now();
    assert_eq!(get(&base, "/api").await.status(), StatusCode::OK);
    assert!(t.elapsed() >= Duration::from_millis(250));

    device.faults.set(FaultPlan {
        server_errors: 1,
        ..FaultPlan::default()
    });
    let r = get(&base, "/api/v1/files/ini").await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(json(r).await["description"].is_string());
    assert_eq!(
        get(&base, "/api/v1/files/ini").await.status(),
        StatusCode::OK
    );

    device.faults.set(FaultPlan {
        drop_connections: 1,
        ..FaultPlan::default()
    });
    let dropped = client()
        .get(url(&base, "/api"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await;
    assert!(dropped.is_err(), "connection should have been dropped");
    assert_eq!(get(&base, "/api").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn control_endpoint_arms_faults_forces_resets_and_reports_counters() {
    let (fleet, base) = one().await;
    let control = |path: &str| url(&base, &format!("/_simulator/{path}"));
    let r = client()
        .put(control("faults"))
        .body(r#"{"haSyncWrites":1}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(fleet.devices()[0].device.faults.get().ha_sync_writes, 1);
    assert_eq!(
        put_file(
            &base,
            "/api/v1/files/ini/incremental",
            "ini.txt",
            SET_GATEWAY_NAME
        )
        .await
        .status(),
        StatusCode::CONFLICT
    );
    assert_eq!(
        put_file(
            &base,
            "/api/v1/files/ini/incremental",
            "ini.txt",
            SET_GATEWAY_NAME
        )
        .await
        .status(),
        StatusCode::OK
    );
    get(&base, "/api/v1/files/ini").await;
    call(&base, Method::GET, "/api/v1/files/ini", ("Admin", "wrong")).await;

    let counters: Value = client()
        .get(control("counters"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(counters["requests"]["PUT /api/v1/files/ini/incremental"], 2);
    assert_eq!(counters["requests"]["GET /api/v1/files/ini"], 2);
    assert_eq!(counters["writes"], 2);
    assert_eq!(counters["total"], 4);
    assert_eq!(
        fleet.devices()[0]
            .device
            .counters
            .snapshot()
            .count("GET", "/api/v1/files/ini"),
        2
    );

    assert_eq!(
        client()
            .delete(control("counters"))
            .send()
            .await
            .expect("request")
            .status(),
        StatusCode::NO_CONTENT
    );
    let counters: Value = client()
        .get(control("counters"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(counters["total"], 0);

    // A forced reset without saving: the change made above is gone.
    let r = client()
        .post(control("reset"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(client().get(url(&base, "/api")).send().await.is_err());
    wait_up(&base).await;
    assert!(!ini_of(&base).await.contains("changed.example.net"));
}

#[tokio::test]
async fn faults_can_be_armed_at_start() {
    let fleet = start(FleetConfig {
        devices: 2,
        faults: FaultPlan {
            server_errors: 1,
            ..FaultPlan::default()
        },
        ..FleetConfig::default()
    })
    .await;
    for d in fleet.devices() {
        assert_eq!(
            get(&d.base_url, "/api").await.status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(get(&d.base_url, "/api").await.status(), StatusCode::OK);
    }
    let serials: Vec<&str> = fleet
        .devices()
        .iter()
        .map(|d| d.device.info.serial_number.as_str())
        .collect();
    assert_ne!(
        serials[0], serials[1],
        "each device has its own serial number"
    );
}

// ----------------------------------------------------------------------- TLS

#[tokio::test]
async fn tls_devices_serve_https_with_their_certificate() {
    let fleet = start(FleetConfig {
        tls: true,
        ..FleetConfig::default()
    })
    .await;
    let d = &fleet.devices()[0];
    assert!(d.base_url.starts_with("https://"));
    let pem = fleet.tls_certificate_pem().expect("certificate");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let https = Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).expect("pem")])
        .build()
        .expect("client");
    let r = https
        .get(url(&d.base_url, "/api"))
        .basic_auth("Admin", Some("Admin"))
        .send()
        .await
        .expect("https request");
    assert_eq!(r.status(), StatusCode::OK);
}

// ------------------------------- versions, mc_status, configuration package

/// The document's `/api` example (section 4), which `/api/v1/versions`
/// (Table 2-2) lists too.
fn versions_example() -> Value {
    serde_json::json!({ "versions": [ { "id": "v1", "status": "stable", "url": "/api/v1" } ] })
}

/// Every request a user of each level makes to `path` with each method,
/// checked against one row of Table 2-2 (as in
/// `privilege_matrix_follows_table_2_2`: `None` is 405 for everyone,
/// `Some(min)` the minimum level). Bodies are ones a permitted user gets
/// refused with 400, so nothing is applied.
async fn check_table_row(base: &str, path: &str, rules: [Option<u8>; 4]) {
    let users = [(MONITOR, 0), (OPERATOR, 1), (ADMIN, 2)];
    let methods = [Method::GET, Method::PUT, Method::POST, Method::DELETE];
    for (method, rule) in methods.iter().zip(rules) {
        for (user, level) in users {
            let r = client()
                .request(method.clone(), url(base, &format!("/api/v1/{path}")))
                .basic_auth(user.0, Some(user.1))
                .header("Content-Type", "text/plain")
                .body("{")
                .send()
                .await
                .expect("request");
            let status = r.status();
            let what = format!("{method} {path} as {}: {status}", user.0);
            match rule {
                None => assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{what}"),
                Some(min) if level < min => assert_eq!(status, StatusCode::FORBIDDEN, "{what}"),
                // Permitted: answered, or the bad body refused — never a
                // missing (404) or broken (500) resource.
                Some(_) => assert!(
                    status.is_success()
                        || [
                            StatusCode::BAD_REQUEST,
                            StatusCode::NOT_ACCEPTABLE,
                            StatusCode::UNSUPPORTED_MEDIA_TYPE,
                            StatusCode::NO_CONTENT,
                        ]
                        .contains(&status),
                    "{what}"
                ),
            }
            if !status.is_success() {
                assert!(json(r).await["description"].is_string(), "{what}");
            }
        }
    }
}

#[tokio::test]
async fn new_resources_follow_table_2_2_privileges() {
    let (fleet, base) = one().await;
    // Table 2-2 rows; codertable and voiceprompts (section 7.5 only) and the
    // `castable` spelling of section 7.5 take the level of their siblings.
    let rows: &[(&str, [Option<u8>; 4])] = &[
        ("versions", [Some(0), None, None, None]),
        ("mc_status", [Some(0), None, None, None]),
        (
            "files/configurationPackage.tar.gz",
            [Some(2), Some(2), None, None],
        ),
        ("files/castable", [None, Some(1), None, None]),
        ("files/codertable", [None, Some(1), None, None]),
        ("files/voiceprompts", [None, Some(1), None, None]),
    ];
    for (path, rules) in rows {
        check_table_row(&base, path, *rules).await;
    }
    assert_eq!(
        fleet.devices()[0].device.reset_count(),
        0,
        "a refused package must not reset the device"
    );
    let anonymous = client()
        .get(url(&base, "/api/v1/versions"))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn versions_lists_the_api_versions_like_the_top_level_folder() {
    let (_fleet, base) = one().await;
    for user in [MONITOR, OPERATOR, ADMIN] {
        let r = call(&base, Method::GET, "/api/v1/versions", user).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", user.0);
        assert_eq!(json(r).await, versions_example());
    }
    assert_eq!(
        json(get(&base, "/api").await).await,
        json(get(&base, "/api/v1/versions").await).await
    );
}

#[tokio::test]
async fn mc_status_has_no_content_on_a_device_without_media_components() {
    let (_fleet, base) = one().await;
    // Section 2: "For requested resources that do not have any content, a
    // 400 Bad Request response is sent"; a Mediant 800 has no MCs.
    for user in [MONITOR, ADMIN] {
        let r = call(&base, Method::GET, "/api/v1/mc_status", user).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{}", user.0);
        let body = json(r).await;
        assert!(
            body["description"]
                .as_str()
                .is_some_and(|d| d.contains("mc_status")),
            "{body}"
        );
        assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
    }
}

#[tokio::test]
async fn resources_the_2015_document_lacks_answer_404_there() {
    let fleet = start(FleetConfig {
        dialect: Dialect::V2015,
        ..FleetConfig::default()
    })
    .await;
    let base = &fleet.devices()[0].base_url;
    for path in [
        "/api/v1/versions",
        "/api/v1/mc_status",
        "/api/v1/files/configurationPackage.tar.gz",
    ] {
        let r = get(base, path).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(json(r).await["description"].is_string());
    }
    // Section 6.4 of the 2015 document: seven auxiliary files, uploaded as
    // application/octet-stream; the v7.4-only ones are not there.
    for name in [
        "amd",
        "castable",
        "codertable",
        "cpt",
        "dialplan",
        "prt",
        "voiceprompts",
    ] {
        let path = format!("/api/v1/files/{name}");
        assert_eq!(
            put_octets(base, &path, "content").await.status(),
            StatusCode::OK,
            "{name}"
        );
    }
    for name in ["usersInfo", "sbcWizard", "fixs", "fixo"] {
        let path = format!("/api/v1/files/{name}");
        assert_eq!(
            put_octets(base, &path, "content").await.status(),
            StatusCode::NOT_FOUND,
            "{name}"
        );
    }
}

#[tokio::test]
async fn section_7_5_auxiliary_files_are_accepted_with_put_only() {
    let (_fleet, base) = one().await;
    // Those `auxiliary_files_are_accepted_with_put_only` does not cover:
    // section 7.5's spelling `castable` and its two files Table 2-2 omits.
    for name in ["castable", "codertable", "voiceprompts"] {
        let path = format!("/api/v1/files/{name}");
        let r = put_file(&base, &path, "aux.dat", "content").await;
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        assert!(json(r).await["description"].is_string());
        assert_eq!(
            put_file(&base, &path, "aux.dat", "").await.status(),
            StatusCode::BAD_REQUEST,
            "{name}: empty file"
        );
        assert_eq!(
            put_octets(&base, &path, "content").await.status(),
            StatusCode::BAD_REQUEST,
            "{name}: v7.4 takes multipart only"
        );
        assert_eq!(
            get(&base, &path).await.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{name}"
        );
    }
}

/// A v7.4 upload of binary content.
async fn put_bytes(base: &str, path: &str, name: &str, content: Vec<u8>) -> Response {
    let part = reqwest::multipart::Part::bytes(content)
        .file_name(name.to_string())
        .mime_str("application/octet-stream")
        .expect("mime");
    client()
        .put(url(base, path))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("request")
}

/// The entries of a gzip'd tar archive: (path, content), regular files only.
fn untar(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read as _;
    let mut reader = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut out = Vec::new();
    for entry in reader.entries().expect("a tar archive") {
        let mut entry = entry.expect("entry");
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).expect("content");
        out.push((path, content));
    }
    out
}

/// A gzip'd tar archive of these regular files.
fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (name, content) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, name, *content)
            .expect("append");
    }
    builder
        .into_inner()
        .and_then(flate2::write::GzEncoder::finish)
        .expect("finish")
}

const PACKAGE: &str = "/api/v1/files/configurationPackage.tar.gz";

async fn package_of(base: &str) -> Vec<(String, Vec<u8>)> {
    let r = get(base, PACKAGE).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(content_type(&r), "application/octet-stream");
    let bytes = r.bytes().await.expect("body");
    // RFC 1952: every gzip member starts with ID1 0x1f, ID2 0x8b.
    assert_eq!(bytes.get(..2), Some(&[0x1f, 0x8b][..]), "not gzip");
    untar(&bytes)
}

fn entry<'a>(entries: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    entries
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, c)| c.as_slice())
}

/// v7.4 Table 2-2 and section 7.5 name `files/configurationPackage.tar.gz`
/// (GET and PUT, Security Administrator) and nothing of its content.
/// Assumption (the simulator's, see `src/simulator/resources/files/package.rs`): a
/// gzip tar holding `ini.ini` and `<name>.dat` per auxiliary file, loaded
/// like a full INI upload (reset, same answer). This test checks those
/// assumptions hold together; it is not a document fact.
#[tokio::test]
async fn configuration_package_round_trip_resets_to_the_modified_ini() {
    let (fleet, base) = one().await;
    let device = &fleet.devices()[0].device;
    let listing = get(&base, "/api/v1/files")
        .await
        .text()
        .await
        .expect("body");
    let listing: Value = serde_json::from_str(&listing).expect("JSON");
    assert!(
        listing["files"]
            .as_array()
            .expect("files")
            .iter()
            .any(|f| f["url"] == "/api/v1/files/configurationPackage.tar.gz"),
        "{listing}"
    );

    assert_eq!(
        put_file(&base, "/api/v1/files/cpt", "cpt.dat", "CPT-TONES-1")
            .await
            .status(),
        StatusCode::OK
    );
    let entries = package_of(&base).await;
    let ini_text = String::from_utf8(entry(&entries, "ini.ini").expect("ini.ini").to_vec())
        .expect("INI is text");
    let diff = Dump::read(&ini_text).differences(&Dump::read(&ini_of(&base).await));
    assert!(
        diff.is_empty(),
        "the package holds the device's INI file: {diff:#?}"
    );
    assert_eq!(entry(&entries, "cpt.dat"), Some(&b"CPT-TONES-1"[..]));
    assert_eq!(
        entries.len(),
        2,
        "{:?}",
        entries.iter().map(|e| &e.0).collect::<Vec<_>>()
    );

    let modified = ini_text.replace(
        "SIPGatewayName = 'sbc.example.net'",
        "SIPGatewayName = 'package.example.net'",
    );
    assert_ne!(modified, ini_text);
    let upload = tar_gz(&[
        ("ini.ini", modified.as_bytes()),
        ("cpt.dat", b"CPT-TONES-2"),
        ("dialplan.dat", b"DIALPLAN"),
    ]);
    let r = put_bytes(&base, PACKAGE, "configurationPackage.tar.gz", upload).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        json(r).await["description"],
        "Device will reset now to activate new configuration"
    );
    assert_eq!(
        device.reset_count(),
        1,
        "a package upload resets the device"
    );
    wait_up(&base).await;

    let after = ini_of(&base).await;
    assert!(
        after.contains("\r\nSIPGatewayName = 'package.example.net'\r\n"),
        "{after}"
    );
    let entries = package_of(&base).await;
    assert_eq!(entry(&entries, "cpt.dat"), Some(&b"CPT-TONES-2"[..]));
    assert_eq!(entry(&entries, "dialplan.dat"), Some(&b"DIALPLAN"[..]));
    assert!(
        String::from_utf8_lossy(entry(&entries, "ini.ini").expect("ini.ini"))
            .contains("package.example.net")
    );
}

/// The 400 is the documents' answer to incorrect content ("400 Bad request
/// - provided … is incorrect"). Assumption: which packages are incorrect
/// (not gzip/tar, no or two `ini.ini`, an INI the device refuses, empty) and
/// the wording of the descriptions are the simulator's own, as is "nothing
/// of a refused package is applied".
#[tokio::test]
async fn malformed_configuration_package_is_refused_with_400_and_nothing_applied() {
    let (fleet, base) = one().await;
    let device = &fleet.devices()[0].device;
    put_file(&base, "/api/v1/files/cpt", "cpt.dat", "CPT-ORIGINAL").await;
    let before_ini = ini_of(&base).await;
    let before = package_of(&base).await;
    let good_ini = before_ini.replace("sbc.example.net", "never.example.net");
    assert_ne!(good_ini, before_ini);

    let mut truncated = tar_gz(&[("ini.ini", good_ini.as_bytes()), ("cpt.dat", b"NEW")]);
    truncated.truncate(truncated.len() / 2);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not gzip", b"ini.ini plain text".to_vec(), "gzip"),
        ("gzip of no tar", {
            use std::io::Write as _;
            let mut gz =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&[b'x'; 2048]).expect("write");
            gz.finish().expect("finish")
        }, "tar"),
        ("truncated", truncated, "incorrect"),
        (
            "no INI file",
            tar_gz(&[("cpt.dat", b"NEW")]),
            "ini.ini",
        ),
        (
            "INI the device refuses (a data line that does not match its FORMAT line, line 5)",
            tar_gz(&[
                (
                    "ini.ini",
                    b"[SIP Params]\r\nSIPGatewayName = 'never.example.net'\r\n[ IPGroup ]\r\nFORMAT IPGroup_Index = IPGroup_Name, IPGroup_ContactUser;\r\nIPGroup 0 = 1;\r\n[ \\IPGroup ]\r\n",
                ),
                ("cpt.dat", b"NEW"),
            ]),
            "line 5",
        ),
        (
            "INI that does not parse",
            tar_gz(&[("ini.ini", b"[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Name;\n"), ("cpt.dat", b"NEW")]),
            "ini.ini",
        ),
        (
            "two INI files",
            tar_gz(&[("ini.ini", good_ini.as_bytes()), ("a/ini.ini", good_ini.as_bytes())]),
            "ini.ini",
        ),
        ("empty", Vec::new(), "empty"),
    ];
    for (what, upload, named) in cases {
        let r = put_bytes(&base, PACKAGE, "configurationPackage.tar.gz", upload).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{what}");
        let description = json(r).await["description"]
            .as_str()
            .expect("description")
            .to_string();
        assert!(
            description.contains(named),
            "{what}: {description} should name {named}"
        );
    }
    // v7.4 takes multipart uploads only, packages included.
    let r = client()
        .put(url(&base, PACKAGE))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .header("Content-Type", "application/octet-stream")
        .body(tar_gz(&[("ini.ini", good_ini.as_bytes())]))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    assert_eq!(device.reset_count(), 0, "a refused package must not reset");
    let diff = Dump::read(&before_ini).differences(&Dump::read(&ini_of(&base).await));
    assert!(diff.is_empty(), "{diff:#?}");
    let after = package_of(&base).await;
    assert_eq!(entry(&after, "cpt.dat"), Some(&b"CPT-ORIGINAL"[..]));
    assert_eq!(
        before.iter().map(|e| &e.0).collect::<Vec<_>>(),
        after.iter().map(|e| &e.0).collect::<Vec<_>>()
    );
}
