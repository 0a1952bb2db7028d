//! The simulated device's reading of INI uploads and CLI scripts, over real
//! HTTP, checked against the sentences of the AudioCodes documents each test
//! quotes (Mediant 800 MSBG SIP User's Manual v6.2 "Format of ini File Table
//! Parameters" — the same text is in the Mediant 1000/600 v5.4 and Mediant
//! 2000 SIP User's Manuals —, the v7.4 and 2015 REST documents in
//! `../shared/seeds`, and `../shared/reference/audiocodes-cli.md`). What the
//! documents do not say is labelled "Assumption" in the test.
//!
//! Every read-back goes through `GET /files/ini` and this file's own INI
//! reader (`simulator_common`), never the client's parser.

mod simulator_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mediant_operator::simulator::device::Dialect;
use mediant_operator::simulator::{Fleet, FleetConfig, seed};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use simulator_common::Dump;
use simulator_common::http::{call, client, one, start, url};

const ADMIN: (&str, &str) = ("Admin", "Admin");

/// The two real exports (`../shared/fixtures/real-devices/README.md`) and
/// our Mediant 800 7.40A dump (`tests/fixtures/README.md` says where its
/// format comes from).
fn dumps() -> Vec<(&'static str, String)> {
    // CI has ../shared beside the checkout; a worktree one level deeper
    // finds it at ../../shared.
    let real = |name: &str| {
        let root = env!("CARGO_MANIFEST_DIR");
        let path = [
            format!("{root}/../shared/fixtures/real-devices/{name}"),
            format!("{root}/../../shared/fixtures/real-devices/{name}"),
        ]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or_else(|| {
            panic!("the real export {name} is missing from ../shared/fixtures/real-devices")
        });
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    vec![
        ("mediant1000-7.00A.ini", real("mediant1000-7.00A.ini")),
        ("mp124.ini", real("mp124.ini")),
        (
            "mediant800-7.40A.ini",
            include_str!("fixtures/ini/mediant800-7.40A.ini").to_string(),
        ),
    ]
}

async fn seeded(text: &str) -> (Fleet, String) {
    let seed = seed::from_dump(text).expect("a real dump seeds the simulator");
    let fleet = start(FleetConfig {
        seed: Some(Arc::new(seed)),
        ..FleetConfig::default()
    })
    .await;
    let base = fleet.devices()[0].base_url.clone();
    (fleet, base)
}

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

async fn put_file(base: &str, path: &str, content: &str) -> Response {
    put_bytes(base, path, "ini.txt", content.as_bytes().to_vec()).await
}

async fn incremental(base: &str, ini: &str) -> StatusCode {
    put_file(base, "/api/v1/files/ini/incremental", ini)
        .await
        .status()
}

async fn json(r: Response) -> Value {
    serde_json::from_str(&r.text().await.expect("body")).expect("JSON body")
}

async fn ini_text(base: &str) -> String {
    let r = call(base, Method::GET, "/api/v1/files/ini", ADMIN).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.expect("body")
}

async fn dump_of(base: &str) -> Dump {
    Dump::read(&ini_text(base).await)
}

async fn cli(base: &str, script: &str) -> Value {
    let r = put_file(base, "/api/v1/files/cliScript/incremental", script).await;
    assert_eq!(r.status(), StatusCode::OK, "{script}");
    json(r).await
}

async fn wait_up(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while client()
        .get(url(base, "/api"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "device did not come back");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The whole data line of `row` of `table` in a dump, with `column` set to
/// `value`: what a client that sends whole rows uploads.
fn whole_row(text: &str, table: &str, row: &str, column: &str, value: &str) -> String {
    let dump = Dump::read(text);
    let t = dump.table(table).expect("table");
    let cells = t.rows.get(row).expect("row");
    let names: Vec<String> = t.columns.iter().map(|c| format!("{table}_{c}")).collect();
    let values: Vec<String> = t
        .columns
        .iter()
        .map(|c| {
            let v = if c.eq_ignore_ascii_case(column) {
                value
            } else {
                &cells[c]
            };
            format!("\"{v}\"")
        })
        .collect();
    format!(
        "[ {table} ]\r\nFORMAT {table}_Index = {};\r\n{table} {row} = {};\r\n[ \\{table} ]\r\n",
        names.join(", "),
        values.join(", ")
    )
}

// ------------------------------------------------------------- real dumps

/// `../shared/fixtures/real-devices/README.md`: "A simulator seeded with
/// either must serve it back with nothing lost".
#[tokio::test]
async fn real_dumps_are_served_back_with_nothing_lost() {
    for (name, text) in dumps() {
        let (_fleet, base) = seeded(&text).await;
        let served = dump_of(&base).await;
        let original = Dump::read(&text);
        let diff = original.differences(&served);
        assert!(diff.is_empty(), "{name}: {diff:#?}");
        // Tables the catalogue has no entry for keep their real names.
        for table in [
            "PhysicalPortsTable",
            "EtherGroupTable",
            "DeviceTable",
            "CpMediaRealm",
            "Account",
            "AltRouteCauseTel2Ip",
            "DspTemplates",
        ] {
            if original.table(table).is_some() {
                assert!(served.table(table).is_some(), "{name}: {table}");
            }
        }
    }
}

/// The same, after an incremental upload of one whole row of another table:
/// that row changes, nothing else does.
#[tokio::test]
async fn real_dumps_survive_an_incremental_change_to_another_table() {
    let changes = [
        (
            "mediant1000-7.00A.ini",
            "Account",
            "0",
            "Username",
            "NewUser",
        ),
        (
            "mp124.ini",
            "TrunkGroup",
            "3",
            "FirstPhoneNumber",
            "370109999",
        ),
        (
            "mediant800-7.40A.ini",
            "DeviceTable",
            "2",
            "DeviceName",
            "vlan 30",
        ),
    ];
    for ((name, text), (fixture, table, row, column, value)) in dumps().into_iter().zip(changes) {
        assert_eq!(name, fixture);
        let (_fleet, base) = seeded(&text).await;
        let upload = whole_row(&text, table, row, column, value);
        assert_eq!(incremental(&base, &upload).await, StatusCode::OK, "{name}");
        let served = dump_of(&base).await;
        let mut expected = Dump::read(&text);
        let key = table.to_ascii_lowercase();
        if let Some(cells) = expected
            .tables
            .get_mut(&key)
            .and_then(|t| t.rows.get_mut(row))
        {
            cells.insert(column.to_ascii_lowercase(), value.to_string());
        }
        let diff = expected.differences(&served);
        assert!(diff.is_empty(), "{name}: {diff:#?}");
    }
}

// ------------------------------------------------------- manual sentences

/// "The Format line can include a subset of the configurable fields in a
/// table. In this case, all other fields are assigned with the pre-defined
/// default values for each configured line."
#[tokio::test]
async fn a_data_line_gives_every_column_it_does_not_list_its_default() {
    let (_fleet, base) = one().await;
    let before = dump_of(&base).await;
    let old = before.table("IPGroup").expect("IPGroup");
    assert_eq!(old.cell("1", "Name"), Some("ITSP-001"));
    let subset = "[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_ContactUser;\nIPGroup 1 = \"contact-1\";\nIPGroup 90 = \"contact-1\";\n[ \\IPGroup ]\n";
    assert_eq!(incremental(&base, subset).await, StatusCode::OK);
    let after = dump_of(&base).await;
    let groups = after.table("IPGroup").expect("IPGroup");
    assert_eq!(groups.cell("1", "ContactUser"), Some("contact-1"));
    // Row 1 is now what a brand-new row with the same line is: defaults
    // everywhere else, its old name, proxy set and password gone.
    assert_eq!(groups.rows.get("1"), groups.rows.get("90"));
    assert_ne!(groups.cell("1", "Name"), Some("ITSP-001"));
    assert_ne!(
        groups.cell("1", "ProxySetName"),
        old.cell("1", "ProxySetName")
    );
    // Other rows are untouched.
    assert_eq!(groups.rows.get("2"), old.rows.get("2"));
}

/// "The double dollar sign ($$) in a Data line indicates the default value
/// for the parameter."
#[tokio::test]
async fn a_double_dollar_sign_is_the_default_value() {
    let (_fleet, base) = one().await;
    let set = "[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Name, IPGroup_ClassifyByProxySet, IPGroup_ContactUser;\nIPGroup 50 = \"A\", 0, \"c\";\nIPGroup 51 = \"B\", 0, \"c\";\n[ \\IPGroup ]\n";
    assert_eq!(incremental(&base, set).await, StatusCode::OK);
    let fresh =
        "[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Name;\nIPGroup 52 = \"C\";\n[ \\IPGroup ]\n";
    assert_eq!(incremental(&base, fresh).await, StatusCode::OK);
    let dollars = "[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Name, IPGroup_ClassifyByProxySet, IPGroup_ContactUser;\nIPGroup 50 = \"A\", $$, \"c\";\n[ \\IPGroup ]\n";
    assert_eq!(incremental(&base, dollars).await, StatusCode::OK);
    let dump = dump_of(&base).await;
    let groups = dump.table("IPGroup").expect("IPGroup");
    let default = groups.cell("52", "ClassifyByProxySet");
    assert_ne!(default, Some("0"), "the default differs from 0");
    assert_eq!(groups.cell("50", "ClassifyByProxySet"), default);
    assert_eq!(groups.cell("50", "ContactUser"), Some("c"));
    // `$$` never means "keep": row 51 (not uploaded again) keeps its 0.
    assert_eq!(groups.cell("51", "ClassifyByProxySet"), Some("0"));
}

/// "If there is a syntax error in the parameter name, the value is
/// ignored." The manual calls tables "table parameters" and their columns
/// "parameters (column)", so the same holds for unknown table and column
/// names; the rest of the file applies.
#[tokio::test]
async fn unknown_parameter_table_and_column_names_are_ignored() {
    let (_fleet, base) = one().await;
    let upload = "[SIP Params]\nNoSuchParameterAnywhere = 1\nSIPGatewayName = 'known.example.net'\n[ NoSuchTable ]\nFORMAT NoSuchTable_Index = NoSuchTable_A;\nNoSuchTable 0 = 1;\n[ \\NoSuchTable ]\n[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Name, IPGroup_NoSuchColumn, IPGroup_Action;\nIPGroup 60 = \"G60\", 7, \"Delete\";\n[ \\IPGroup ]\n";
    assert_eq!(incremental(&base, upload).await, StatusCode::OK);
    let text = ini_text(&base).await;
    let dump = Dump::read(&text);
    assert_eq!(dump.param("SIPGatewayName"), Some("known.example.net"));
    assert!(dump.param("NoSuchParameterAnywhere").is_none());
    assert!(dump.table("NoSuchTable").is_none());
    assert!(!text.contains("NoSuchColumn"));
    // Our client's old `_Action = "Delete"` is just an unknown column: the
    // row is written (with defaults), not deleted.
    assert_eq!(
        dump.table("IPGroup").and_then(|t| t.cell("60", "Name")),
        Some("G60")
    );
    assert!(!text.contains("IPGroup_Action"));
}

/// "Data lines must match the Format line, i.e., it must contain exactly
/// the same number of Indices and Data fields and must be in exactly the
/// same order." The v7.4 document answers an incorrect file with "400 Bad
/// request - provided ini file is incorrect"; naming the line is ours.
#[tokio::test]
async fn a_data_line_that_does_not_match_its_format_line_is_refused() {
    let (_fleet, base) = one().await;
    let before = dump_of(&base).await;
    let upload = "[SIP Params]\nSIPGatewayName = 'x'\n[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Name, IPGroup_ContactUser;\nIPGroup 61 = \"A\";\n[ \\IPGroup ]\n";
    let r = put_file(&base, "/api/v1/files/ini/incremental", upload).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let description = json(r).await["description"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(description.contains("line 5"), "{description}");
    assert!(
        before.differences(&dump_of(&base).await).is_empty(),
        "nothing applied"
    );
}

/// "A row in a table is identified by its table name and Index field. Each
/// such row may appear only once in the ini file." Assumption: a file that
/// repeats a row is refused (the manual does not say what happens).
#[tokio::test]
async fn a_row_repeated_in_one_file_is_refused() {
    let (_fleet, base) = one().await;
    let upload = "[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Name;\nIPGroup 62 = \"A\";\nIPGroup 62 = \"B\";\n[ \\IPGroup ]\n";
    assert_eq!(incremental(&base, upload).await, StatusCode::BAD_REQUEST);
}

/// "Secret tables are always hidden when loading an ini file to the
/// device. However, there is a commented title that states that the secret
/// table exists in the device, but is not to be revealed." / "If a secret
/// table appears in an ini file, it replaces the current table regardless of
/// its content. To delete a secret table from the device, include an empty
/// table of the same type (with no data lines) as part of a new ini file."
/// The secret table is `DspTemplates`, which the Mediant 1000 shows that way.
#[tokio::test]
async fn a_secret_table_is_replaced_whole_deleted_when_empty_and_shown_as_a_title() {
    let (_, text) = dumps().swap_remove(0);
    let (fleet, base) = seeded(&text).await;
    let device = &fleet.devices()[0].device;
    let served = ini_text(&base).await;
    assert!(served.contains("[ DspTemplates ]"));
    assert!(served.contains("This table contains hidden elements and will not be exposed."));
    assert!(!served.contains("FORMAT DspTemplates_Index"));

    let two = "[ DspTemplates ]\nFORMAT DspTemplates_Index = DspTemplates_DspVersionTemplateName;\nDspTemplates 0 = \"a\";\nDspTemplates 1 = \"b\";\n[ \\DspTemplates ]\n";
    assert_eq!(incremental(&base, two).await, StatusCode::OK);
    let rows = |d: &mediant_operator::simulator::device::Device| {
        d.running().table("DspTemplates").map(|t| t.row_count())
    };
    assert_eq!(rows(device), Some(2));
    let one_row = "[ DspTemplates ]\nFORMAT DspTemplates_Index = DspTemplates_DspVersionTemplateName;\nDspTemplates 5 = \"c\";\n[ \\DspTemplates ]\n";
    assert_eq!(incremental(&base, one_row).await, StatusCode::OK);
    assert_eq!(rows(device), Some(1), "replaced, not merged");
    let served = dump_of(&base).await;
    let hidden = served
        .table("DspTemplates")
        .expect("still a commented title");
    assert!(hidden.secret && hidden.rows.is_empty());

    let empty = "[ DspTemplates ]\n[ \\DspTemplates ]\n";
    assert_eq!(incremental(&base, empty).await, StatusCode::OK);
    assert_eq!(rows(device), None);
    assert!(!ini_text(&base).await.contains("DspTemplates"));
    // An ordinary table is not deleted by an empty block.
    assert_eq!(
        incremental(&base, "[ IPGroup ]\n[ \\IPGroup ]\n").await,
        StatusCode::OK
    );
    assert!(dump_of(&base).await.table("IPGroup").is_some());
}

/// The same sentence applied to a full upload of the device's own dump: it
/// carries the secret table's empty commented title, so the device deletes
/// the table. (A client must never upload a downloaded dump as it is.)
#[tokio::test]
async fn a_full_upload_of_the_devices_own_dump_deletes_its_secret_tables() {
    let (_, text) = dumps().swap_remove(0);
    let (_fleet, base) = seeded(&text).await;
    let own = ini_text(&base).await;
    let r = put_file(&base, "/api/v1/files/ini", &own).await;
    let status = r.status();
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        r.text().await.unwrap_or_default()
    );
    wait_up(&base).await;
    let after = dump_of(&base).await;
    assert!(after.table("DspTemplates").is_none());
    assert!(
        after.table("Account").is_some(),
        "the firmware still knows Account"
    );
}

// -------------------------------------------------------------------- CLI

/// Reference: "Real firmware answers with `description`, `output` and a
/// `status` field (`success` / `failure`); failed CLI lines are reported in
/// `output`, apparently with HTTP 200." [P] — and, [I] our assumption, "lines
/// before a failing line stay applied (partial apply)".
#[tokio::test]
async fn a_failing_cli_line_answers_200_failure_and_keeps_the_lines_before() {
    let (_fleet, base) = one().await;
    let ok = cli(
        &base,
        "configure voip\n sbc settings\n  sbc-sess-exp-time 900\n exit\nexit\n",
    )
    .await;
    assert_eq!(ok["status"], "success");
    let body = cli(
        &base,
        "configure voip\n srd 7\n  name \"Seven\"\n exit\n frobnicate 3\n srd 8\n  name \"Eight\"\n exit\nexit\n",
    )
    .await;
    assert_eq!(body["status"], "failure");
    let output = body["output"].as_str().unwrap_or_default();
    assert!(output.contains("frobnicate 3"), "{output}");
    assert!(body["description"].is_string());
    let dump = dump_of(&base).await;
    let srd = dump.table("SRD").expect("SRD");
    assert_eq!(srd.cell("7", "Name"), Some("Seven"));
    assert!(
        !srd.rows.contains_key("8"),
        "nothing after the failing line"
    );
    assert_eq!(dump.param("SBCSessionExpires"), Some("900"));
}

/// Reference: "`write` saves the configuration and is accepted inside a
/// REST script; `reload if-needed` is valid too." [P]
#[tokio::test]
async fn write_in_a_script_saves_and_reload_if_needed_is_accepted() {
    let (fleet, base) = one().await;
    let body = cli(
        &base,
        "configure voip\n srd 9\n  name \"Saved\"\n exit\nexit\nwrite\nreload if-needed\n",
    )
    .await;
    assert_eq!(body["status"], "success", "{body}");
    let startup = fleet.devices()[0].device.startup();
    assert_eq!(
        startup.table("SRD").and_then(|t| t.cell(
            &mediant_operator::simulator::firmware::config::RowKey::from(9),
            "Name"
        )),
        Some("Saved")
    );
}

/// Reference: "Delete a row with `no <entity> <key>` in the parent mode" [P]/[I];
/// "`no <entity> where <column> <value>` deletes by column value; `<entity>
/// new` adds a row at the next free index" [P]; a referenced row: "assume the
/// device refuses it" [I].
#[tokio::test]
async fn cli_rows_are_added_with_new_and_deleted_by_key_or_where() {
    let (_fleet, base) = one().await;
    let before = dump_of(&base)
        .await
        .table("SRD")
        .map_or(0, |t| t.row_count());
    let body = cli(
        &base,
        "configure voip\n srd new\n  name \"Fresh\"\n exit\nexit\n",
    )
    .await;
    assert_eq!(body["status"], "success", "{body}");
    let dump = dump_of(&base).await;
    let srd = dump.table("SRD").expect("SRD");
    assert_eq!(srd.row_count(), before + 1);
    let fresh = srd
        .rows
        .iter()
        .find(|(_, r)| r.get("name").map(String::as_str) == Some("Fresh"));
    assert!(fresh.is_some());

    let body = cli(
        &base,
        "configure voip\n no srd where name \"Fresh\"\nexit\n",
    )
    .await;
    assert_eq!(body["status"], "success", "{body}");
    assert_eq!(
        dump_of(&base)
            .await
            .table("SRD")
            .map_or(0, |t| t.row_count()),
        before
    );

    // IP group 11 is named by routes and classification rules: refused.
    let body = cli(&base, "configure voip\n no ip-group 11\nexit\n").await;
    assert_eq!(body["status"], "failure", "{body}");
    assert!(
        dump_of(&base)
            .await
            .table("IPGroup")
            .is_some_and(|t| t.rows.contains_key("11"))
    );
    // Children first: the routes and the classification rule, then the group.
    let body = cli(
        &base,
        "configure voip\n no sbc routing ip2ip-routing 22\n no sbc routing ip2ip-routing 23\n no sbc classification 11\n sbc routing\n  no ip2ip-routing 1\n exit\n no ip-group 11\nexit\n",
    )
    .await;
    assert_eq!(body["status"], "success", "{body}");
    assert!(
        dump_of(&base)
            .await
            .table("IPGroup")
            .is_some_and(|t| !t.rows.contains_key("11"))
    );
}

/// Reference: "`configure system` → `automatic-update` → `firmware <url>` is
/// a real path (the CLI form of INI `CmpFileURL`)" [C], and the v7.4
/// document's own example (section 7.3.2); names from the reference:
/// `voip-network realm`, `sbc-sess-exp-time`; modes nest (`sbc routing` →
/// `ip2ip-routing N`).
#[tokio::test]
async fn cli_takes_the_documented_names_and_nests_as_deep_as_the_paths() {
    let (_fleet, base) = one().await;
    let body = cli(
        &base,
        "configure system\n  automatic-update\n    firmware http://audc.com/ssbc_7.20A.200.014.cmp\n  exit\nexit\nconfigure voip\n voip-network realm 5\n  name \"MR-5\"\n exit\n sbc routing\n  ip2ip-routing 40\n   route-name \"Nested\"\n   dst-ip-group-name \"PBX\"\n  exit\n exit\nexit\n",
    )
    .await;
    assert_eq!(body["status"], "success", "{body}");
    let dump = dump_of(&base).await;
    assert_eq!(
        dump.param("CmpFileURL"),
        Some("http://audc.com/ssbc_7.20A.200.014.cmp")
    );
    assert_eq!(
        dump.table("CpMediaRealm")
            .and_then(|t| t.cell("5", "MediaRealmName")),
        Some("MR-5")
    );
    assert_eq!(
        dump.table("IP2IPRouting")
            .and_then(|t| t.cell("40", "RouteName")),
        Some("Nested")
    );
    let running = call(&base, Method::GET, "/api/v1/files/cliScript", ADMIN)
        .await
        .text()
        .await
        .expect("body");
    assert!(running.contains(" voip-network realm 5\n"), "{running}");
    assert!(
        running.contains("firmware \"http://audc.com/ssbc_7.20A.200.014.cmp\""),
        "{running}"
    );
}

// ------------------------------------------------------------ 2015 dialect

/// 2015 document section 2: "Provided credentials should correspond to a
/// valid device user with the Security Administrator privilege level."
#[tokio::test]
async fn the_2015_dialect_serves_only_security_administrators() {
    let fleet = start(FleetConfig {
        dialect: Dialect::V2015,
        ..FleetConfig::default()
    })
    .await;
    let base = &fleet.devices()[0].base_url;
    for user in [("Monitor", "Monitor"), ("Operator", "Operator")] {
        for path in [
            "/api/v1/status",
            "/api/v1/alarms/active",
            "/api/v1/files/ini",
        ] {
            let r = call(base, Method::GET, path, user).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} as {}", user.0);
        }
    }
    let r = call(base, Method::GET, "/api/v1/status", ADMIN).await;
    assert_eq!(r.status(), StatusCode::OK);
    // v7.4 section 10's example of the same 7.20A.200.014 build has twelve
    // fields; the 2015 example is cut off after `highAvailability`.
    let status = json(r).await;
    assert_eq!(status.as_object().map(|o| o.len()), Some(12), "{status}");
    for field in ["serialNumber", "macAddress", "systemUpTime"] {
        assert!(status.get(field).is_some(), "{field}");
    }
}

// ---------------------------------------------------------- software loads

/// v7.4 section 7.4: "400 Bad request – provided software load is
/// incorrect." Assumption (how we judge): a `.cmp` image is binary, so an
/// empty or all-text file is plainly not one.
#[tokio::test]
async fn a_text_file_is_not_a_software_load() {
    let (fleet, base) = one().await;
    for load in [Vec::new(), b"[SYSTEM Params]\nEnableSyslog = 1\n".to_vec()] {
        let r = put_bytes(&base, "/api/v1/files/software", "software.cmp", load).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(json(r).await["description"].as_str().is_some_and(|d| {
            d.to_ascii_lowercase()
                .contains("provided software load is incorrect")
        }));
    }
    assert_eq!(fleet.devices()[0].device.reset_count(), 0);
    let image = [0x7f, b'C', b'M', b'P', 0, 1, 2, 0xff].repeat(64);
    let r = put_bytes(&base, "/api/v1/files/software", "software.cmp", image).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(fleet.devices()[0].device.reset_count(), 1);
}

/// The lost-answer fault (test machinery, not device behaviour): the
/// upload takes effect, its answer never arrives, the next request is
/// served normally.
#[tokio::test]
async fn a_lost_answer_is_served_in_full_then_dropped() {
    use mediant_operator::simulator::faults::FaultPlan;
    let (fleet, base) = one().await;
    let device = &fleet.devices()[0].device;
    device.faults.set(FaultPlan {
        lose_answers: 1,
        ..FaultPlan::default()
    });
    let part = reqwest::multipart::Part::bytes(
        "[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Name;\nIPGroup 7 = \"lost\";\n[ \\IPGroup ]\n"
            .as_bytes()
            .to_vec(),
    )
    .file_name("ini.txt")
    .mime_str("application/octet-stream")
    .expect("mime");
    let lost = client()
        .put(url(&base, "/api/v1/files/ini/incremental"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await;
    assert!(lost.is_err(), "the answer should have been lost");
    let dump = dump_of(&base).await;
    assert_eq!(
        dump.table("IPGroup").and_then(|t| t.cell("7", "Name")),
        Some("lost"),
        "the upload took effect"
    );
    assert_eq!(device.faults.get().lose_answers, 0);
}
