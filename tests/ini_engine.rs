//! The INI engine against INI text in the forms real Mediant devices write.

use mediant_operator::config::ini::{self, DiffOptions, IniDocument, RowIndex};

const DUMP: &str = include_str!("fixtures/ini/mediant800-7.4.ini");

fn parse(text: &str) -> IniDocument {
    match ini::parse(text) {
        Ok(doc) => doc,
        Err(e) => panic!("parse failed: {e}\n{text}"),
    }
}

fn idx(i: u32) -> RowIndex {
    RowIndex::from(i)
}

#[test]
fn realistic_dump_parses_with_every_feature() {
    assert!(DUMP.lines().count() >= 300, "fixture must be a full dump");
    assert!(DUMP.contains("\r\n"), "fixture keeps the device's CRLF");
    let doc = parse(DUMP);

    // Header comments, without the leading `;`.
    assert!(doc.header.iter().any(|l| l == "Board: Mediant 800"));
    assert!(doc.header.iter().any(|l| l == "Serial Number: 8912367"));
    assert!(
        doc.header
            .iter()
            .any(|l| l.starts_with("Software Version: 7.40A"))
    );

    // Case-insensitive names, bare and quoted values, section remembered.
    let p = doc.param("gwdebuglevel").expect("GWDEBUGLEVEL");
    assert_eq!((p.name.as_str(), p.value.as_str()), ("GWDEBUGLEVEL", "5"));
    assert_eq!(p.section.as_deref(), Some("SYSTEM Params"));
    assert_eq!(
        doc.param("EnableEarlyMedia").map(|p| p.value.as_str()),
        Some("1")
    );
    assert_eq!(
        doc.param("NTPServerIP").map(|p| p.value.as_str()),
        Some("10.15.2.10")
    );
    assert_eq!(doc.param("WebLogoText").map(|p| p.value.as_str()), Some(""));
    assert_eq!(
        doc.param("SyslogServerIP").map(|p| p.value.as_str()),
        Some("10.15.2.3")
    );
    // Indexed scalars are ordinary names; spaced section headers work.
    assert_eq!(
        doc.param("CASFileName_1").map(|p| p.value.as_str()),
        Some("R2_Korea_CP_ANI.dat")
    );
    assert_eq!(
        doc.param("casfilename_0")
            .and_then(|p| p.section.as_deref()),
        Some("PSTN Params")
    );
    // A list of quoted items keeps its items.
    let list = doc.param("ActivityListToLog").map(|p| p.value.as_str());
    assert_eq!(
        list,
        Some("'pvc', 'afl', 'dr', 'fb', 'swu', 'ard', 'naa', 'spc', 'll', 'cli', 'ae'")
    );
    // Hidden-parameter comments are not parameters.
    assert!(doc.param("LastConfigChangeTime").is_none());
    assert!(doc.param("HTTPRemoteServices").is_none());

    // Tables: full column sets, quoted strings, bare numbers and IPs, hashes, empty cells.
    let ifs = doc.table("interfacetable").expect("InterfaceTable");
    assert_eq!(ifs.row_count(), 3);
    assert_eq!(ifs.cell(&idx(0), "IPAddress"), Some("10.15.77.55"));
    assert_eq!(
        ifs.cell(&idx(1), "InterfaceTable_InterfaceName"),
        Some("WANSP")
    );
    assert_eq!(ifs.cell(&idx(0), "underlyingdevice"), Some("vlan 1"));
    let users = doc.table("WebUsers").expect("WebUsers");
    assert!(
        users
            .cell(&idx(0), "Password")
            .is_some_and(|h| h.starts_with("$1$"))
    );
    let tls = doc.table("TLSContexts").expect("TLSContexts");
    assert_eq!(tls.cell(&idx(0), "OcspServerPrimary"), Some(""));
    assert_eq!(tls.cell(&idx(0), "OcspServerPort"), Some("2560"));
    let ipg = doc.table("IPGroup").expect("IPGroup");
    assert_eq!(ipg.columns().len(), 50);
    assert_eq!(ipg.cell(&idx(2), "Name"), Some("Teams"));
    let syslog = doc
        .table("SyslogServers")
        .expect("unspaced headers and end markers");
    assert_eq!(syslog.cell(&idx(1), "IPAddress"), Some(""));
    let mm = doc
        .table("MessageManipulations")
        .expect("MessageManipulations");
    assert_eq!(mm.cell(&idx(1), "ActionValue"), Some("Param.IPG.Src.Host"));

    // A comment-only (hidden) table exists with no rows.
    let hidden = doc.table("SNMPUsers").expect("hidden table");
    assert_eq!((hidden.row_count(), hidden.columns().len()), (0, 0));
    assert_eq!(doc.tables().count(), 20);
}

#[test]
fn render_of_the_dump_parses_back_to_the_same_model() {
    let doc = parse(DUMP);
    let text = doc.render().expect("render");
    assert!(text.contains("\r\n"));
    assert_eq!(parse(&text), doc);
    // Dependency order: referenced tables before the tables that name them.
    let pos = |t: &str| text.find(&format!("[ {t} ]")).expect(t);
    assert!(pos("SIPInterface") < pos("ProxySet"));
    assert!(pos("ProxySet") < pos("IPGroup"));
    assert!(pos("IPGroup") < pos("IP2IPRouting"));
}

#[test]
fn quirks_of_real_files_are_accepted() {
    let text = "\u{feff};header\n\n[SIP Params]\r\n  MEDIACHANNELS=120 \r\nSipGatewayName = \"gw.example\"\n\
        ISPRACKREQUIRED = '1' ; trailing comment\n\n[ IPGroup ]\n\n; comment inside a table\n\
        FORMAT IPGroup_Index = IPGroup_Type, IPGroup_Name, IPGroup_Password;\n\
        IPGroup 0 = 0 , \"a,b;c\" ,'$1$x==';\nIPGroup   10 = $$, , \"\";\n[\\IPGroup ]\n\
        [ Empty ]\n[ \\Empty]\n[ Other ]\n; only a comment\n[\\ Other ]\nTrailing = x\n";
    let doc = parse(text);
    assert_eq!(
        doc.param("MediaChannels").map(|p| p.value.as_str()),
        Some("120")
    );
    assert_eq!(
        doc.param("SIPGATEWAYNAME").map(|p| p.value.as_str()),
        Some("gw.example")
    );
    assert_eq!(
        doc.param("IsPrackRequired").map(|p| p.value.as_str()),
        Some("1")
    );
    assert_eq!(
        doc.param("Trailing").and_then(|p| p.section.as_deref()),
        None
    );
    let t = doc.table("ipgroup").expect("table");
    assert_eq!(t.cell(&idx(0), "Name"), Some("a,b;c"));
    assert_eq!(t.cell(&idx(0), "Password"), Some("$1$x=="));
    // `$$` sets nothing; a blank cell and `""` are both the empty string.
    assert_eq!(t.cell(&idx(10), "Type"), None);
    assert_eq!(t.cell(&idx(10), "Name"), Some(""));
    assert_eq!(t.cell(&idx(10), "Password"), Some(""));
    assert!(doc.table("Empty").is_some() && doc.table("other").is_some());
}

#[test]
fn row_indexes_sort_numerically_and_multi_index_rows_parse() {
    let doc = parse(
        "[ T ]\nFORMAT T_Index1, T_Index2 = T_A;\nT 10 0 = 1;\nT 2 1 = 2;\nT 2 0 = 3;\n[ \\T ]\n",
    );
    let t = doc.table("T").expect("T");
    assert_eq!(t.index_columns, vec!["T_Index1", "T_Index2"]);
    let order: Vec<&str> = t.rows().map(|(i, _)| i.as_str()).collect();
    assert_eq!(order, vec!["2 0", "2 1", "10 0"]);
}

#[test]
fn malformed_input_names_the_line_and_reason() {
    let cases: &[(&str, usize, &str)] = &[
        ("A = 1\nB = 'open\n", 2, "unterminated quote"),
        (
            "[ T ]\nFORMAT T_Index = T_A;\nT 0 = \"open;\n[ \\T ]\n",
            3,
            "unterminated quote",
        ),
        ("A = 1\nT 0 = 1, 2;\n", 2, "outside a table"),
        ("[ T ]\nT 0 = 1;\n[ \\T ]\n", 2, "before its FORMAT"),
        (
            "[ T ]\nFORMAT T_Index = T_A;\nT 0 = 1, 2;\n[ \\T ]\n",
            3,
            "2 cells but the FORMAT line",
        ),
        (
            "[ T ]\nFORMAT T_Index = T_A, T_B;\nT 0 = 1;\n[ \\T ]\n",
            3,
            "1 cells",
        ),
        (
            "[ T ]\nFORMAT T_Index = T_A;\n[ \\U ]\n",
            3,
            "does not close table `T`",
        ),
        ("A = 1\n[ \\T ]\n", 2, "without an open table"),
        (
            "[ T ]\nFORMAT T_Index = T_A;\nT 0 = 1;\n",
            1,
            "never closed",
        ),
        (
            "[ T ]\nFORMAT T_Index = T_A;\n[ U ]\n",
            3,
            "not closed before",
        ),
        ("[ T \n", 1, "closing `]`"),
        (
            "A = 1\nFORMAT T_Index = T_A;\n",
            2,
            "FORMAT line outside a table",
        ),
        (
            "[ T ]\nFORMAT T_Index = T_A;\nFORMAT T_Index = T_A;\n[ \\T ]\n",
            3,
            "second FORMAT",
        ),
        ("[ T ]\nFORMAT T_A, T_B;\n[ \\T ]\n", 2, "has no `=`"),
        ("just words\n", 1, "expected `Name = value`"),
        ("A = 'x' y\n", 1, "after the quoted value"),
        (
            "[ T ]\nFORMAT T_Index = T_A;\nT 0 = 1 2 \"x\";\n[ \\T ]\n",
            3,
            "stray quote",
        ),
        (
            "[ T ]\nFORMAT T_Index = T_A;\nT 0 = 1; junk\n[ \\T ]\n",
            3,
            "after the end of the row",
        ),
        (
            "[ T ]\nFORMAT T_Index = T_A;\nU 0 = 1;\n[ \\T ]\n",
            3,
            "not one of its rows",
        ),
        ("[ ]\n", 1, "empty"),
        ("= 3\n", 1, "missing name"),
    ];
    for (text, line, reason) in cases {
        match ini::parse(text) {
            Ok(doc) => panic!("accepted {text:?} as {doc:?}"),
            Err(e) => {
                assert_eq!(e.line, *line, "{text:?}: {e}");
                assert!(
                    e.reason.contains(reason),
                    "{text:?}: `{e}` lacks `{reason}`"
                );
                assert!(e.to_string().starts_with(&format!("line {line}: ")));
            }
        }
    }
}

#[test]
fn diff_compares_only_what_the_desired_side_declares() {
    let observed = parse(DUMP);
    let desired = parse(
        "GwDebugLevel = 5\nEnableSyslog = '1'\n[ ipgroup ]\n\
         FORMAT IPGroup_Index = IPGroup_Name, IPGroup_MediaRealm;\n\
         IPGroup 1 = 'ITSP', MRWan;\n[ \\IPGroup ]\n",
    );
    let changes = ini::diff(&desired, &observed, &DiffOptions::default());
    assert!(changes.is_empty(), "{changes}");
    assert_eq!(changes.render_incremental().expect("render"), "");
}

/// A device's reading of an incremental upload, as the manuals describe it
/// ("all other fields are assigned with the pre-defined default values for
/// each configured line"; "$$ … indicates the default value"): a row line
/// replaces the whole row, unlisted columns get `DEFAULT!`, a stand-in for
/// the device's default we cannot know. Written here, independently of the
/// engine's own merge, so a partial row would show up as lost cells.
fn device_reads(device: &mut IniDocument, upload: &IniDocument) {
    for p in upload.params() {
        device.set_param(&p.name, p.value.clone());
    }
    for table in upload.tables() {
        let target = device.ensure_table(&table.name);
        let columns: Vec<String> = target.columns().to_vec();
        for (index, row) in table.rows() {
            for column in &columns {
                target.set_cell(index.clone(), column, "DEFAULT!");
            }
            for (pos, column) in table.columns().iter().enumerate() {
                match row.cell(pos) {
                    ini::Cell::Value(v) => target.set_cell(index.clone(), column, v),
                    ini::Cell::Default => target.set_cell(index.clone(), column, "DEFAULT!"),
                    ini::Cell::Absent => {}
                }
            }
        }
    }
}

#[test]
fn a_changed_row_is_sent_whole_and_the_plan_shows_only_changed_cells() {
    let observed = parse(DUMP);
    let desired = parse(
        "GWDEBUGLEVEL = 7\nNewParam = 'x y'\n[ IPGroup ]\n\
         FORMAT IPGroup_Index = IPGroup_Name, IPGroup_MediaRealm, IPGroup_ProxySetName;\n\
         IPGroup 1 = \"ITSP\", \"MRWan2\", \"ITSP\";\nIPGroup 2 = \"Teams\", \"MRTeams\", \"Teams2\";\n\
         IPGroup 9 = \"New\", \"MRLan\", \"IPPBX\";\n[ \\IPGroup ]\n",
    );
    let changes = ini::diff(&desired, &observed, &DiffOptions::default());
    assert_eq!(
        changes.summary(),
        vec![
            "GWDEBUGLEVEL: 5 → 7",
            "NewParam: (default) → x y",
            "IPGroup[1].MediaRealm: MRWan → MRWan2",
            "IPGroup[2].ProxySetName: Teams → Teams2",
            "+ IPGroup[9] Name=New, MediaRealm=MRLan, ProxySetName=IPPBX; other columns take their defaults",
        ]
    );
    assert_eq!(changes.len(), 5);
    let text = changes.render_incremental().expect("render");
    assert!(!text.contains("$$"), "`$$` never means keep:\n{text}");
    let upload = parse(&text);
    let have = observed.table("IPGroup").expect("observed IPGroup");
    let sent = upload.table("IPGroup").expect("sent IPGroup");
    // Rows 1 and 2 carry every column the device reports, with its values
    // except the declared change.
    for (index, changed) in [
        (idx(1), ("MediaRealm", "MRWan2")),
        (idx(2), ("ProxySetName", "Teams2")),
    ] {
        for column in have.columns() {
            let expected = if have.short_column(column) == changed.0 {
                Some(changed.1)
            } else {
                have.cell(&index, column)
            };
            assert_eq!(
                sent.cell(&index, column),
                expected,
                "{column} of row {index}"
            );
        }
    }
    // The new row lists only what is declared: the others take defaults.
    let new_row = sent.row(&idx(9)).expect("row 9 sent");
    let listed = (0..new_row.len())
        .filter(|p| new_row.cell(*p).is_listed())
        .count();
    assert_eq!(listed, 3, "{text}");
    assert!(text.contains("GWDEBUGLEVEL = 7\r\n") && text.contains("NewParam = 'x y'\r\n"));

    // Read by the manual's rule, nothing undeclared changed and the next
    // diff is empty.
    let mut device = observed.clone();
    device_reads(&mut device, &upload);
    assert!(ini::diff(&desired, &device, &DiffOptions::default()).is_empty());
    let after = device.table("IPGroup").expect("IPGroup");
    for index in [idx(1), idx(2)] {
        for column in have.columns() {
            let short = have.short_column(column);
            if ["Name", "MediaRealm", "ProxySetName"].contains(&short) {
                continue;
            }
            assert_eq!(
                after.cell(&index, column),
                have.cell(&index, column),
                "{column}"
            );
        }
    }
}

#[test]
fn a_desired_default_cell_is_compared_against_the_known_default() {
    let observed = parse(DUMP);
    let desired = parse(
        "[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Name, IPGroup_Type;\nIPGroup 1 = \"ITSP\", $$;\n[ \\IPGroup ]\n",
    );
    let have_type = observed
        .table("IPGroup")
        .and_then(|t| t.cell(&idx(1), "Type"))
        .map(str::to_string);
    let Some(have_type) = have_type else {
        panic!("fixture IPGroup 1 has a Type")
    };
    // Unknown default while the device shows a value: refused, not a
    // change sent for ever.
    let err = ini::plan_diff(&desired, &observed, &DiffOptions::default()).expect_err("refused");
    assert!(err.to_string().contains("IPGroup[1].Type"), "{err}");
    // Known and equal: in sync.
    let same = DiffOptions {
        defaults: [("IPGroup_Type".to_string(), have_type.clone())].into(),
        ..DiffOptions::default()
    };
    assert!(
        ini::plan_diff(&desired, &observed, &same)
            .expect("plans")
            .is_empty()
    );
    // Known and different: the row goes out whole with `$$` for that cell.
    let other = DiffOptions {
        defaults: [("IPGroup_Type".to_string(), format!("{have_type}9"))].into(),
        ..DiffOptions::default()
    };
    let changes = ini::plan_diff(&desired, &observed, &other).expect("plans");
    assert_eq!(
        changes.summary(),
        vec![format!("IPGroup[1].Type: {have_type} → (default)")]
    );
    let text = changes.render_incremental().expect("render");
    let sent = parse(&text);
    let row = sent
        .table("IPGroup")
        .and_then(|t| t.row(&idx(1)))
        .expect("row sent");
    let pos = sent
        .table("IPGroup")
        .and_then(|t| t.column_position("Type"))
        .expect("Type sent");
    assert_eq!(row.cell(pos), ini::Cell::Default);
}

#[test]
fn pruned_rows_are_deleted_through_the_cli_children_first_never_through_ini() {
    let observed = parse(DUMP);
    let desired = parse(
        "[ ProxyIp ]\nFORMAT ProxyIp_Index = ProxyIp_IpAddress;\nProxyIp 0 = \"sip.itsp.example:5060\";\n[ \\ProxyIp ]\n",
    );
    assert!(ini::diff(&desired, &observed, &DiffOptions::default()).is_empty());

    let options = DiffOptions {
        prune_tables: vec!["proxyip".into(), "Classification".into()],
        reset_parameters: [
            ("GwDebugLevel".to_string(), "0".to_string()),
            ("Absent".into(), "1".into()),
        ]
        .into(),
        ..DiffOptions::default()
    };
    let changes = ini::plan_diff(&desired, &observed, &options).expect("plans");
    assert_eq!(
        changes.summary(),
        vec![
            "GWDEBUGLEVEL: 5 → 0",
            "- ProxyIp[1]",
            "- ProxyIp[2]",
            "- ProxyIp[3]",
            "- ProxyIp[4]",
            "- Classification[0]",
            "- Classification[1]"
        ]
    );
    let text = changes.render_incremental().expect("render");
    assert_eq!(
        text, "[SYSTEM Params]\r\n\r\nGWDEBUGLEVEL = 0\r\n",
        "no INI row deletion exists"
    );
    let script = changes
        .render_cli_deletions(&observed)
        .expect("mapped")
        .expect("deletions");
    assert_eq!(
        script,
        "configure voip\n no sbc classification 1\n no sbc classification 0\n \
         no proxy-ip 3/0\n no proxy-ip 2/2\n no proxy-ip 2/1\n no proxy-ip 2/0\nexit\n"
    );
}

#[test]
fn pruning_a_table_without_a_cli_mapping_is_refused_naming_it() {
    let observed = parse(DUMP);
    let desired = parse("GWDEBUGLEVEL = 5\n");
    let options = DiffOptions {
        prune_tables: vec!["StaticRouteTable".into()],
        ..DiffOptions::default()
    };
    let err = ini::plan_diff(&desired, &observed, &options).expect_err("refused");
    assert!(
        matches!(&err, ini::IniPlanError::UnmappedPrune { table } if table == "StaticRouteTable"),
        "{err}"
    );
    assert!(err.to_string().contains("`StaticRouteTable`"));
}

#[test]
fn an_action_column_is_an_ordinary_column_now() {
    // `<Table>_Action = Delete` was our invention (no document defines
    // it): it deletes nothing.
    let observed = parse(DUMP);
    let desired = parse(
        "[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Action;\nIPGroup 3 = Delete;\n[ \\IPGroup ]\n",
    );
    let changes = ini::diff(&desired, &observed, &DiffOptions::default());
    assert!(!changes.has_deletions(), "{changes}");
    assert!(
        changes
            .render_cli_deletions(&observed)
            .expect("ok")
            .is_none()
    );
}

#[test]
fn known_defaults_absent_from_the_dump_are_in_sync() {
    let observed = parse("EnableSyslog = 1\n");
    let desired = parse("GwDebugLevel = 0\nEnableSyslog = 1\n");
    assert_eq!(
        ini::diff(&desired, &observed, &DiffOptions::default()).len(),
        1
    );
    let options = DiffOptions {
        defaults: [("GWDEBUGLEVEL".to_string(), "0".to_string())].into(),
        ..DiffOptions::default()
    };
    assert!(ini::diff(&desired, &observed, &options).is_empty());
}

#[test]
fn secret_values_never_appear_in_the_summary() {
    let observed = parse(DUMP);
    let desired = parse(
        "SNMPReadOnlyCommunityString = 'topsecret1'\n[ WebUsers ]\nFORMAT WebUsers_Index = WebUsers_Username, WebUsers_Password;\n\
         WebUsers 0 = \"Admin\", \"topsecret2\";\nWebUsers 5 = \"new\", \"topsecret3\";\n[ \\WebUsers ]\n",
    );
    let changes = ini::diff(&desired, &observed, &DiffOptions::default());
    let shown = format!("{changes}{:?}", changes.changed_keys(10));
    for secret in ["topsecret1", "topsecret2", "topsecret3", "$1$"] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
    assert!(shown.contains("WebUsers[0].Password: *** → ***"));
    // The device still receives the values.
    let text = changes.render_incremental().expect("render");
    assert!(text.contains("topsecret2") && text.contains("topsecret3"));
}

#[test]
fn values_ini_cannot_carry_are_render_errors_not_corrupt_files() {
    let mut doc = IniDocument::new();
    doc.set_param("A", "it's \"both\"");
    assert!(doc.render().unwrap_err().to_string().contains("`A`"));
    let mut doc = IniDocument::new();
    doc.ensure_table("T").set_cell(idx(1), "Name", "two\nlines");
    assert!(
        doc.render()
            .unwrap_err()
            .to_string()
            .contains("T[1].T_Name")
    );
}

#[test]
fn a_device_rewrite_of_the_dump_is_no_change_but_a_text_diff_sees_many() {
    let doc = parse(DUMP);
    let rewritten = DUMP
        .replace("GWDEBUGLEVEL = 5", "GwDebugLevel = '5'")
        .replace("EnableSyslog = 1", "ENABLESYSLOG = \"1\"")
        .replace("IPGroup 1 = 0, \"ITSP\"", "ipgroup 1 = '0', ITSP")
        .replace("[ \\IPGroup ]", "[\\IPGroup]");
    assert_ne!(rewritten, DUMP);
    let changes = ini::diff(&doc, &parse(&rewritten), &DiffOptions::default());
    assert!(changes.is_empty(), "{changes}");
    let text_changes = similar::TextDiff::from_lines(DUMP, &rewritten)
        .iter_all_changes()
        .filter(|c| c.tag() != similar::ChangeTag::Equal)
        .count();
    assert!(text_changes >= 8, "{text_changes}");
}

#[test]
fn parse_errors_never_quote_the_values_of_the_line() {
    for text in [
        "Password Hunter2Secret here\n",
        "A = 'Hunter2Secret' trailing\n",
        "[ T ]\nFORMAT T_Index = T_A;\nT 0 = x\"Hunter2Secret\";\n[ \\T ]\n",
        "[ T ]\nFORMAT T_Index = T_A;\nT 0 = \"a\" Hunter2Secret;\n[ \\T ]\n",
        "[ T ]\nFORMAT T_Index = T_A;\nT 0 = 1; Hunter2Secret\n[ \\T ]\n",
        "A = 'x', Hunter2Secret\n",
    ] {
        let err = ini::parse(text).expect_err("malformed");
        assert!(!err.to_string().contains("Hunter2Secret"), "{err}");
    }
}

const SECRET_TABLE_DUMP: &str = "[SYSTEM Params]\r\nGWDEBUGLEVEL = 5\r\n\r\n\
[ IPsecSATable ]\r\n\r\n;\r\n;  *** TABLE IPsecSATable *** \r\n\
; This table contains hidden elements and will not be exposed.\r\n\
; This table exists on board and will be saved during restarts.\r\n;\r\n\r\n[ \\IPsecSATable ]\r\n\r\n\
[ MyHiddenTable ]\r\n\r\n; This table contains hidden elements and will not be exposed.\r\n\r\n[ \\MyHiddenTable ]\r\n";

#[test]
fn secret_tables_are_recognised_from_the_device_rendering_and_the_catalogue() {
    let observed = parse(SECRET_TABLE_DUMP);
    assert!(
        observed
            .table("IPsecSATable")
            .is_some_and(|t| t.is_hidden())
    );
    assert!(
        observed
            .table("MyHiddenTable")
            .is_some_and(|t| t.is_hidden())
    );
    // A hidden table renders as the device writes it: no FORMAT line (an
    // empty table with one would delete it on the device).
    let text = observed.render().expect("render");
    assert!(!text.contains("FORMAT MyHiddenTable"), "{text}");
    assert_eq!(parse(&text), observed);

    for table in ["MyHiddenTable", "IPsecSATable"] {
        let desired = parse(&format!(
            "[ {table} ]\nFORMAT {table}_Index = {table}_Name;\n{table} 0 = \"a\";\n[ \\{table} ]\n"
        ));
        let err = ini::plan_diff(&desired, &observed, &DiffOptions::default())
            .expect_err("part of a secret table is refused");
        assert!(
            matches!(&err, ini::IniPlanError::PartialSecretTable { table: t } if t == table),
            "{err}"
        );
        assert!(err.to_string().contains(&format!("`{table}`")));
    }
    // The catalogue knows IPsecSATable even before the device is read.
    let desired = parse(
        "[ IPsecSATable ]\nFORMAT IPsecSATable_Index = IPsecSATable_SharedKey;\nIPsecSATable 0 = \"k\";\n[ \\IPsecSATable ]\n",
    );
    assert!(ini::check_declared(&desired, &DiffOptions::default()).is_err());
}

#[test]
fn a_secret_table_declared_whole_is_sent_whole_and_masked() {
    let observed = parse(SECRET_TABLE_DUMP);
    let desired = parse(
        "[ IPsecSATable ]\nFORMAT IPsecSATable_Index = IPsecSATable_RemoteEndpointAddressOrName, IPsecSATable_SharedKey;\n\
         IPsecSATable 0 = 10.0.0.1, \"MARKER-psk-1\";\nIPsecSATable 1 = 10.0.0.2, \"MARKER-psk-2\";\n[ \\IPsecSATable ]\n",
    );
    let options = DiffOptions {
        prune_tables: vec!["IPsecSATable".into()],
        ..DiffOptions::default()
    };
    let changes = ini::plan_diff(&desired, &observed, &options).expect("whole table is managed");
    assert!(changes.has_secrets());
    let shown = format!("{changes}{:?}", changes.changed_keys(10));
    assert!(!shown.contains("MARKER"), "{shown}");
    let text = changes.render_incremental().expect("render");
    let sent = parse(&text);
    let table = sent.table("IPsecSATable").expect("sent");
    assert_eq!(
        table.row_count(),
        2,
        "every declared row, in one block:\n{text}"
    );
    assert_eq!(text.matches("[ IPsecSATable ]").count(), 1);
    // An empty declared secret table deletes the device's: an empty block.
    let empty = parse(
        "[ IPsecSATable ]\nFORMAT IPsecSATable_Index = IPsecSATable_SharedKey;\n[ \\IPsecSATable ]\n",
    );
    let changes = ini::plan_diff(&empty, &observed, &options).expect("plans");
    let text = changes.render_incremental().expect("render");
    assert!(
        text.contains("FORMAT IPsecSATable_Index = IPsecSATable_SharedKey;"),
        "{text}"
    );
    assert_eq!(
        parse(&text).table("IPsecSATable").map(|t| t.row_count()),
        Some(0)
    );
    // A device without the table and an empty declaration: in sync.
    let none = parse("GWDEBUGLEVEL = 5\n");
    assert!(
        ini::plan_diff(&empty, &none, &options)
            .expect("plans")
            .is_empty()
    );
}
