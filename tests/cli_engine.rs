//! The CLI-script engine against scripts as devices and users write them.

use mediant_operator::config::cli::{
    CliChange, CliDefaults, CliDiffOptions, CliError, CliNode, CliPrune, CliScript, MAX_DEPTH, diff,
};
use proptest::prelude::*;

const RUNNING: &str = include_str!("fixtures/cli/running-config.txt");

fn parse(text: &str) -> CliScript {
    match CliScript::parse(text) {
        Ok(script) => script,
        Err(e) => panic!("parse failed: {e}\n---\n{text}"),
    }
}

fn running() -> CliScript {
    parse(RUNNING)
}

fn flush_left(text: &str) -> String {
    text.lines()
        .map(str::trim_start)
        .collect::<Vec<_>>()
        .join("\n")
}

fn no_options() -> CliDiffOptions {
    CliDiffOptions::default()
}

// ---------------------------------------------------------------- parsing

#[test]
fn reads_a_device_running_config() {
    let s = running();
    let tops: Vec<_> = s
        .nodes
        .iter()
        .map(|n| match n {
            CliNode::Mode { opener, .. } => opener.as_str(),
            other => panic!("top-level node is not a mode: {other:?}"),
        })
        .collect();
    assert_eq!(
        tops,
        [
            "configure system",
            "configure network",
            "configure voip",
            "configure troubleshoot"
        ]
    );

    let voip = s.mode(&["configure voip"]).unwrap();
    let entries = voip
        .iter()
        .filter(|n| matches!(n, CliNode::Mode { .. }))
        .count();
    assert_eq!(entries, 17);
    assert_eq!(
        s.value(&["configure voip", "sip-interface 0"], "udp-port"),
        Some("5060")
    );
    assert_eq!(
        s.value(&["configure voip", "proxy-ip 1/1"], "proxy-address"),
        Some("sip2.itsp.example:5060")
    );
    assert_eq!(
        s.value(
            &["configure voip", "sbc routing ip2ip-routing 1"],
            "route-name"
        ),
        Some("FromITSP")
    );
    assert_eq!(
        s.value(
            &["configure network", "interface network-if 0"],
            "underlying-dev"
        ),
        Some("vlan 1")
    );
    assert_eq!(
        s.value(&["configure network", "tls 1"], "private-key-size"),
        Some("2048")
    );
    assert_eq!(
        s.value(&["configure system", "ntp"], "primary-server"),
        Some("10.1.1.5")
    );
    // A setting whose key is also a mode keyword stays a setting.
    assert_eq!(
        s.value(&["configure troubleshoot", "syslog"], "syslog"),
        Some("on")
    );
    // Settings are settings: nothing below an entry became a mode.
    let sip0 = s.mode(&["configure voip", "sip-interface 0"]).unwrap();
    assert_eq!(sip0.len(), 7);
    assert!(sip0.iter().all(|n| matches!(n, CliNode::Leaf { .. })));
}

#[test]
fn flush_left_reads_like_indented() {
    let flush = flush_left(RUNNING);
    assert!(flush.lines().all(|l| !l.starts_with(' ')));
    assert_eq!(parse(&flush), running());
}

#[test]
fn exits_indented_like_the_content_read_like_the_device_layout() {
    let body_style = "configure voip\n  sip-interface 0\n    udp-port 5060\n    activate\n    exit\n  proxy-set 1\n    proxy-name ITSP\n    exit\n  exit\n";
    let device = "configure voip\n sip-interface 0\n  udp-port 5060\n activate\n exit\n proxy-set 1\n  proxy-name ITSP\n activate\n exit\nexit\n";
    assert_eq!(parse(body_style), parse(device));
    // Content at the opener's own indentation and an `exit` that lines up
    // with nothing: not the device layout, so the keyword `ntp` decides.
    let sloppy = "configure system\n  ntp\n  primary-server 10.1.1.5\n exit\n";
    let tidy = "configure system\n ntp\n  primary-server 10.1.1.5\n exit\nexit\n";
    assert_eq!(parse(sloppy), parse(tidy));
    let sloppy_activate = "configure system\n  ntp\n  primary-server 10.1.1.5\n activate\nexit\n";
    assert_eq!(parse(sloppy_activate), parse(tidy));
}

#[test]
fn crlf_and_lone_cr_read_like_lf() {
    assert_eq!(parse(&RUNNING.replace('\n', "\r\n")), running());
    assert_eq!(parse(&RUNNING.replace('\n', "\r")), running());
}

#[test]
fn comments_and_blank_lines_are_ignored_anywhere() {
    let noisy: String = RUNNING
        .lines()
        .flat_map(|l| {
            [
                l.to_owned(),
                "   # a comment with \"odd quote".to_owned(),
                String::new(),
                "\t".to_owned(),
            ]
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(parse(&noisy), running());
}

#[test]
fn quotes_do_not_matter_but_case_of_values_does() {
    let a = parse(
        "configure voip\n ip-group 1\n  name \"ITSP\"\n  dev \"vlan 1\"\n activate\n exit\nexit\n",
    );
    let b = parse("CONFIGURE Voip\n IP-Group \"1\"\n  Name ITSP\n  DEV vlan   1\n exit\nexit\n");
    assert_eq!(a, b);
    let c = parse("configure voip\n ip-group 1\n  name itsp\n exit\nexit\n");
    assert_ne!(
        a.value(&["configure voip", "ip-group 1"], "name"),
        c.value(&["configure voip", "ip-group 1"], "name")
    );
}

#[test]
fn quoted_opener_arguments_keep_their_case() {
    let s = parse(
        "configure system\n user \"Admin\"\n  privilege 15\n exit\n user admin\n  privilege 5\n exit\nexit\n",
    );
    assert_eq!(
        s.value(&["configure system", "user \"Admin\""], "privilege"),
        Some("15")
    );
    assert_eq!(
        s.value(&["configure system", "user admin"], "privilege"),
        Some("5")
    );
}

#[test]
fn missing_trailing_exits_are_tolerated() {
    let full = parse(
        "configure voip\n sip-interface 0\n  udp-port 5060\n activate\n exit\nexit\nconfigure system\n ntp\n  primary-server 1.2.3.4\n exit\nexit\n",
    );
    let partial = parse(
        "configure voip\n sip-interface 0\n  udp-port 5060\nconfigure system\n ntp\n  primary-server 1.2.3.4\n",
    );
    assert_eq!(partial, full);
}

#[test]
fn unknown_sub_modes_follow_the_device_layout() {
    let s = parse(
        "configure voip\n future-table 4\n  colour blue\n activate\n exit\n empty-mode\n exit\n flag-setting\nexit\n",
    );
    let voip = s.mode(&["configure voip"]).unwrap();
    assert_eq!(
        voip,
        [
            CliNode::mode(
                "future-table 4",
                vec![CliNode::leaf("colour", "blue").unwrap()]
            )
            .unwrap(),
            CliNode::mode("empty-mode", vec![]).unwrap(),
            CliNode::leaf("flag-setting", "").unwrap(),
        ]
    );
}

#[test]
fn flush_left_unknown_sub_mode_is_an_error_naming_the_line() {
    let err =
        CliScript::parse("configure voip\nfuture-table 4\ncolour blue\nexit\nexit\n").unwrap_err();
    assert_eq!(err, CliError::UnbalancedExit { line: 5 });
}

fn error_of(text: &str) -> CliError {
    match CliScript::parse(text) {
        Ok(s) => panic!("expected an error, parsed {s:?}"),
        Err(e) => e,
    }
}

#[test]
fn every_error_names_its_line() {
    let cases: Vec<(&str, CliError)> = vec![
        (
            "configure voip\n ip-group 1\n  name \"ITSP\n exit\nexit\n",
            CliError::UnterminatedQuote { line: 3 },
        ),
        (
            "configure voip\nexit\n\n# c\nexit\n",
            CliError::UnbalancedExit { line: 5 },
        ),
        ("exit\n", CliError::UnbalancedExit { line: 1 }),
        (
            "# header\nactivate\n",
            CliError::ActivateOutsideMode { line: 2 },
        ),
        (
            "udp-port 5060\n",
            CliError::OutsideConfigure {
                line: 1,
                keyword: "udp-port".into(),
            },
        ),
        (
            "configure voip\nexit\nno proxy-ip 0/1\n",
            CliError::OutsideConfigure {
                line: 3,
                keyword: "no".into(),
            },
        ),
        ("\n\nconfigure\n", CliError::MissingModeName { line: 3 }),
        (
            "configure voip\n no\nexit\n",
            CliError::MissingNoTarget { line: 2 },
        ),
        (
            "configure voip\n exit now\n",
            CliError::UnexpectedArguments {
                line: 2,
                keyword: "exit",
            },
        ),
        (
            "configure voip\n activate please\n",
            CliError::UnexpectedArguments {
                line: 2,
                keyword: "activate",
            },
        ),
    ];
    for (text, expected) in cases {
        let err = error_of(text);
        assert_eq!(err, expected, "{text:?}");
        assert_eq!(err.line(), expected.line());
        assert!(
            err.to_string()
                .starts_with(&format!("line {}:", expected.line().unwrap())),
            "{err}"
        );
    }
}

#[test]
fn nesting_beyond_the_limit_is_an_error_not_a_stack_overflow() {
    let mut text = String::from("configure voip\n");
    for depth in 1..=MAX_DEPTH {
        text.push_str(&" ".repeat(depth));
        text.push_str("level\n");
    }
    text.push_str(&" ".repeat(MAX_DEPTH + 1));
    text.push_str("leaf 1\n");
    assert_eq!(
        error_of(&text),
        CliError::TooDeep {
            line: MAX_DEPTH + 1
        }
    );
    // A hostile staircase (each line one space deeper, 20 000 lines, 199
    // levels) is refused too, naming the first line past the limit.
    let stairs: String = (0..20_000)
        .map(|i| format!("{}x\n", " ".repeat(i % 200)))
        .collect();
    assert_eq!(
        CliScript::parse(&format!("configure voip\n{stairs}")).map(|_| ()),
        Err(CliError::TooDeep {
            line: MAX_DEPTH + 1
        })
    );
}

#[test]
fn errors_never_echo_values() {
    let err = error_of("password hunter2\n").to_string();
    assert!(!err.contains("hunter2"), "{err}");
    let err = error_of("configure system\n password \"hunter2\n").to_string();
    assert!(!err.contains("hunter2"), "{err}");
}

// -------------------------------------------------------------- rendering

#[test]
fn renders_in_the_device_style() {
    let s = parse(
        "configure system\nntp\nprimary-server \"10.1.1.5\"\nactivate\nexit\nexit\n\
         configure voip\nsip-interface 0\nname \"SIP 0\"\nudp-port 5060\nexit\n\
         proxy-ip 0/1\nno transport-type\nexit\ngateway dtmf-supp-service supp-service-settings\n\
         hook-flash-option rfc2833\nexit\nno ip-group 3\nexit\n",
    );
    let expected = "configure system\n ntp\n  primary-server 10.1.1.5\n exit\nexit\n\
                    configure voip\n sip-interface 0\n  name \"SIP 0\"\n  udp-port 5060\n activate\n exit\n \
                    proxy-ip 0/1\n  no transport-type\n activate\n exit\n \
                    gateway dtmf-supp-service supp-service-settings\n  hook-flash-option rfc2833\n exit\n \
                    no ip-group 3\nexit\n";
    assert_eq!(s.render(), expected);
}

#[test]
fn rendered_running_config_reads_back_identically() {
    let s = running();
    let text = s.render();
    assert_eq!(parse(&text), s);
    assert_eq!(parse(&flush_left(&text)), s);
    assert_eq!(CliScript::default().render(), "");
}

#[test]
fn rendering_cannot_inject_lines_from_hand_built_nodes() {
    let s = CliScript {
        nodes: vec![CliNode::Mode {
            opener: "configure voip".into(),
            children: vec![CliNode::Leaf {
                key: "name".into(),
                value: "x\nexit\nconfigure system\r\nreload".into(),
            }],
        }],
    };
    let text = s.render();
    assert_eq!(text.lines().count(), 3, "{text}");
}

// ------------------------------------------------------------------- diff

#[test]
fn in_sync_when_desired_declares_a_subset() {
    let desired = parse(
        "configure voip\n sip-interface 0\n  udp-port 5060\n  srd-name DefaultSRD\n activate\n exit\n\
         ip-group 1\n  name ITSP\n exit\nexit\nconfigure network\n tls 1\n  name Teams\n exit\nexit\n",
    );
    let d = diff(&desired, &running(), &no_options());
    assert!(d.is_empty(), "{:?}", d.summary());
    assert_eq!(d.render_incremental(), "");
    assert!(diff(&running(), &running(), &no_options()).is_empty());
    assert!(diff(&CliScript::default(), &running(), &no_options()).is_empty());
}

#[test]
fn reports_and_renders_only_what_changes() {
    let desired = parse(
        "configure voip\n sip-interface 0\n  udp-port 5070\n  tcp-port 5060\n activate\n exit\n\
         ip-group 3\n  name \"ITSP2\"\n  proxy-set-name ITSP\n activate\n exit\nexit\n",
    );
    let d = diff(&desired, &running(), &no_options());
    assert_eq!(
        d.summary(),
        [
            "configure voip / sip-interface 0: udp-port 5060 → 5070",
            "+ configure voip / ip-group 3",
            "configure voip / ip-group 3: name (unset) → ITSP2",
            "configure voip / ip-group 3: proxy-set-name (unset) → ITSP",
        ]
    );
    assert_eq!(
        d.render_incremental(),
        "configure voip\n sip-interface 0\n  udp-port 5070\n activate\n exit\n \
         ip-group 3\n  name ITSP2\n  proxy-set-name ITSP\n activate\n exit\nexit\n"
    );
    assert_eq!(parse(&d.render_incremental()), d.to_script());
}

#[test]
fn nothing_is_deleted_by_omission() {
    let desired = parse("configure voip\n proxy-ip 0/0\n  transport-type tcp\n exit\nexit\n");
    let d = diff(&desired, &running(), &no_options());
    assert_eq!(
        d.summary(),
        ["configure voip / proxy-ip 0/0: transport-type udp → tcp"]
    );
    assert!(
        d.changes()
            .iter()
            .all(|c| matches!(c, CliChange::Set { .. }))
    );
}

#[test]
fn prune_deletes_undeclared_entries_only_under_listed_paths() {
    let desired = parse(
        "configure voip\n proxy-ip 0/0\n  transport-type udp\n exit\n proxy-ip 1/0\n exit\nexit\n",
    );
    let prune = CliPrune::new()
        .with(["configure voip", "proxy-ip"])
        .unwrap()
        .with(["configure voip", "sbc routing ip2ip-routing"])
        .unwrap()
        .with(["configure network", "tls"])
        .unwrap();
    let d = diff(&desired, &running(), &prune.into());
    assert_eq!(
        d.summary(),
        [
            "- configure voip / proxy-ip 1/1",
            "- configure voip / sbc routing ip2ip-routing 0",
            "- configure voip / sbc routing ip2ip-routing 1",
            "- configure network / tls 0",
            "- configure network / tls 1",
        ]
    );
    assert_eq!(
        d.render_incremental(),
        "configure voip\n no proxy-ip 1/1\n no sbc routing ip2ip-routing 0\n no sbc routing ip2ip-routing 1\nexit\n\
         configure network\n no tls 0\n no tls 1\nexit\n"
    );
    // Unlisted tables (ip-group, proxy-set, …) are untouched.
    assert!(!d.render_incremental().contains("ip-group"));
}

#[test]
fn a_no_line_and_a_prune_rule_for_the_same_entry_delete_it_once() {
    let desired = parse(
        "configure voip\n proxy-ip 0/0\n exit\n proxy-ip 1/0\n exit\n no proxy-ip 1/1\nexit\n",
    );
    let prune = CliPrune::new()
        .with(["configure voip", "proxy-ip"])
        .unwrap();
    let d = diff(&desired, &running(), &prune.into());
    assert_eq!(d.summary(), ["- configure voip / proxy-ip 1/1"]);
}

#[test]
fn values_compare_case_sensitively() {
    let desired = parse("configure voip\n ip-group 1\n  name itsp\n exit\nexit\n");
    let d = diff(&desired, &running(), &no_options());
    assert_eq!(
        d.summary(),
        ["configure voip / ip-group 1: name ITSP → itsp"]
    );
}

#[test]
fn prune_paths_are_validated() {
    for bad in [
        vec![],
        vec!["proxy-ip"],
        vec!["voip", "proxy-ip"],
        vec!["configure", "proxy-ip"],
        vec!["configure voip", "proxy-ip 0/1"],
        vec!["configure voip", "\"x"],
        vec!["configure voip", " "],
    ] {
        let err = CliPrune::new().with(bad.clone()).unwrap_err();
        assert!(
            matches!(err, CliError::InvalidPrunePath { .. }),
            "{bad:?}: {err}"
        );
        assert_eq!(err.line(), None);
    }
}

#[test]
fn desired_no_lines_reset_settings_and_delete_entries_when_present() {
    let desired = parse(
        "configure voip\n sip-interface 0\n  no tls-port\n  no tls-context-name\n exit\n no proxy-ip 1/1\n no ip-group 9\nexit\n",
    );
    let d = diff(&desired, &running(), &no_options());
    assert_eq!(
        d.summary(),
        [
            "configure voip / sip-interface 0: tls-port 5061 → (default)",
            "- configure voip / proxy-ip 1/1"
        ]
    );
    assert_eq!(
        d.render_incremental(),
        "configure voip\n sip-interface 0\n  no tls-port\n activate\n exit\n no proxy-ip 1/1\nexit\n"
    );
}

#[test]
fn summary_masks_secrets_but_the_incremental_script_carries_them() {
    let desired = parse(
        "configure voip\n sip-definition account 0\n  password \"n3w-s3cret\"\n exit\n\
         ip-group 5\n  pre-shared-key abcdef123\n exit\nexit\n\
         configure network\n tls 2\n  private-key \"PEMDATA\"\n exit\nexit\n\
         configure system\n snmp settings\n  no read-only-community-string\n exit\n\
         snmp v3-users 0\n  auth-key \"v3-auth-k3y\"\n exit\nexit\n",
    );
    let d = diff(&desired, &running(), &no_options());
    let summary = d.summary().join("\n");
    for secret in [
        "n3w-s3cret",
        "c2VjcmV0LXRydW5r",
        "abcdef123",
        "PEMDATA",
        "public-ro",
        "v3-auth-k3y",
    ] {
        assert!(
            !summary.contains(secret),
            "{secret} leaked into:\n{summary}"
        );
        assert!(
            !format!("{d:?}").contains(secret),
            "{secret} leaked into Debug"
        );
    }
    assert!(
        summary.contains("configure voip / sip-definition account 0: password *** → ***"),
        "{summary}"
    );
    assert!(
        summary.contains("configure voip / ip-group 5: pre-shared-key (unset) → ***"),
        "{summary}"
    );
    assert!(
        summary.contains(
            "configure system / snmp settings: read-only-community-string *** → (default)"
        ),
        "{summary}"
    );
    assert!(
        summary.contains("configure system / snmp v3-users 0: auth-key (unset) → ***"),
        "{summary}"
    );
    let script = d.render_incremental();
    for clear in [
        "password n3w-s3cret",
        "pre-shared-key abcdef123",
        "private-key PEMDATA",
        "auth-key v3-auth-k3y",
    ] {
        assert!(script.contains(clear), "{clear} missing from:\n{script}");
    }
    assert!(!format!("{:?}", running()).contains("c2VjcmV0LXRydW5r"));
}

// --------------------------------------------------------------- defaults

/// A running configuration as a device writes it: settings at their default
/// (`udp-port 5060`, NTP `update-interval 86400`) are left out.
const TERSE_RUNNING: &str = "configure system\n ntp\n  primary-server \"10.1.1.5\"\n exit\nexit\n\
configure voip\n sip-interface 0\n  network-interface \"Voice\"\n  tcp-port 5070\n activate\n exit\n\
 sip-interface 1\n  network-interface \"WAN\"\n activate\n exit\n\
 sip-interface 12\n  network-interface \"Voice\"\n  udp-port 5090\n activate\n exit\n\
 proxy-set 0\n  proxy-name \"ITSP\"\n activate\n exit\nexit\n";

fn sip_defaults() -> CliDefaults {
    CliDefaults::new()
        .with(["configure voip", "sip-interface"], "udp-port", "5060")
        .unwrap()
        .with(["configure system", "ntp"], "update-interval", "86400")
        .unwrap()
}

fn with_defaults(defaults: CliDefaults) -> CliDiffOptions {
    CliDiffOptions {
        prune: CliPrune::new(),
        defaults,
    }
}

#[test]
fn a_desired_value_equal_to_its_default_is_in_sync() {
    let desired = parse(
        "configure voip\n sip-interface 0\n  udp-port 5060\n  tcp-port 5070\n activate\n exit\nexit\n\
         configure system\n ntp\n  update-interval 86400\n exit\nexit\n",
    );
    let running = parse(TERSE_RUNNING);
    // Without the defaults this is the drift that never goes away.
    assert_eq!(
        diff(&desired, &running, &no_options()).summary(),
        [
            "configure voip / sip-interface 0: udp-port (unset) → 5060",
            "configure system / ntp: update-interval (unset) → 86400",
        ]
    );
    let d = diff(&desired, &running, &with_defaults(sip_defaults()));
    assert!(d.is_empty(), "{:?}", d.summary());
    assert_eq!(d.render_incremental(), "");
}

#[test]
fn a_value_other_than_the_default_still_differs() {
    let desired = parse(
        "configure voip\n sip-interface 0\n  udp-port 5070\n exit\n\
         sip-interface 12\n  udp-port 5060\n exit\nexit\n",
    );
    let d = diff(
        &desired,
        &parse(TERSE_RUNNING),
        &with_defaults(sip_defaults()),
    );
    // A listed value is not the default, whatever the default is.
    assert_eq!(
        d.summary(),
        [
            "configure voip / sip-interface 0: udp-port (unset) → 5070",
            "configure voip / sip-interface 12: udp-port 5090 → 5060",
        ]
    );
    assert_eq!(
        d.render_incremental(),
        "configure voip\n sip-interface 0\n  udp-port 5070\n activate\n exit\n \
         sip-interface 12\n  udp-port 5060\n activate\n exit\nexit\n"
    );
}

#[test]
fn an_entry_default_matches_every_index_and_nothing_else() {
    let defaults = sip_defaults()
        // An exact entry overrides the kind, for that index only.
        .with(["configure voip", "sip-interface 1"], "udp-port", "5080")
        .unwrap();
    for (path, expected) in [
        (["configure voip", "sip-interface 0"], Some("5060")),
        (["configure voip", "sip-interface 12"], Some("5060")),
        (["configure voip", "SIP-Interface \"7\""], Some("5060")),
        (["configure voip", "sip-interface 1"], Some("5080")),
        (["configure voip", "proxy-set 0"], None),
        (["configure network", "sip-interface 0"], None),
        (["configure voip", "sip-interface x"], None),
        (["configure system", "ntp"], None),
    ] {
        assert_eq!(defaults.default_of(&path, "udp-port"), expected, "{path:?}");
    }
    assert_eq!(
        defaults.default_of(&["configure system", "ntp"], "Update-Interval"),
        Some("86400")
    );
    // The exact mode path matches that mode only.
    assert_eq!(
        defaults.default_of(&["configure system", "ntp 0"], "update-interval"),
        Some("86400"),
        "an indexed `ntp 0` is an entry of kind `ntp`"
    );
    assert_eq!(
        defaults.default_of(&["configure network", "ntp"], "update-interval"),
        None
    );

    let desired = parse(
        "configure voip\n sip-interface 0\n  udp-port 5060\n exit\n\
         sip-interface 1\n  udp-port 5060\n exit\n\
         proxy-set 0\n  udp-port 5060\n exit\nexit\n",
    );
    let d = diff(&desired, &parse(TERSE_RUNNING), &with_defaults(defaults));
    assert_eq!(
        d.summary(),
        [
            "configure voip / sip-interface 1: udp-port (unset) → 5060",
            "configure voip / proxy-set 0: udp-port (unset) → 5060",
        ]
    );
}

#[test]
fn defaults_hold_in_an_entry_being_created() {
    let desired = parse(
        "configure voip\n sip-interface 3\n  network-interface \"Voice\"\n  udp-port 5060\n activate\n exit\nexit\n",
    );
    let options = with_defaults(sip_defaults());
    let d = diff(&desired, &parse(TERSE_RUNNING), &options);
    assert_eq!(
        d.summary(),
        [
            "+ configure voip / sip-interface 3",
            "configure voip / sip-interface 3: network-interface (unset) → Voice",
        ]
    );
    let mut device = parse(TERSE_RUNNING);
    device.apply(&parse(&d.render_incremental()));
    assert!(diff(&desired, &device, &options).is_empty());
}

#[test]
fn a_desired_no_line_is_in_sync_when_the_running_value_is_the_default() {
    let desired = parse("configure voip\n sip-interface 0\n  no udp-port\n exit\nexit\n");
    let options = with_defaults(sip_defaults());
    // Missing from the running tree: already at the default.
    assert!(diff(&desired, &parse(TERSE_RUNNING), &options).is_empty());
    // Listed with the default value (some firmware lists defaults).
    let listing = running();
    assert_eq!(
        listing.value(&["configure voip", "sip-interface 0"], "udp-port"),
        Some("5060")
    );
    assert!(diff(&desired, &listing, &options).is_empty());
    assert_eq!(
        diff(&desired, &listing, &no_options()).summary(),
        ["configure voip / sip-interface 0: udp-port 5060 → (default)"]
    );
    // Listed with another value: reset it.
    let other = parse("configure voip\n sip-interface 0\n  udp-port 5070\n exit\nexit\n");
    assert_eq!(
        diff(&desired, &other, &options).render_incremental(),
        "configure voip\n sip-interface 0\n  no udp-port\n activate\n exit\nexit\n"
    );
}

#[test]
fn default_rules_are_validated_without_echoing_values() {
    for (path, key, value) in [
        (vec![], "udp-port", "5060"),
        (vec!["sip-interface"], "udp-port", "5060"),
        (vec!["voip", "sip-interface"], "udp-port", "5060"),
        (vec!["configure", "sip-interface"], "udp-port", "5060"),
        (vec!["configure voip", "\"x"], "udp-port", "5060"),
        (vec!["configure voip", " "], "udp-port", "5060"),
        (vec!["configure voip", "sip-interface"], "two words", "5060"),
        (vec!["configure voip", "sip-interface"], "", "5060"),
        (vec!["configure voip", "sip-interface"], "exit", "5060"),
        (
            vec!["configure voip", "sip-interface"],
            "password",
            "s3\"cret",
        ),
        (
            vec!["configure voip", "sip-interface"],
            "password",
            "s3\ncret",
        ),
    ] {
        let err = CliDefaults::new()
            .with(path.clone(), key, value)
            .unwrap_err();
        assert!(
            matches!(err, CliError::InvalidDefault { .. }),
            "{path:?} {key}: {err}"
        );
        assert_eq!(err.line(), None);
        let text = err.to_string();
        assert!(!text.contains("s3"), "{text}");
        assert!(text.starts_with("default for `"), "{text}");
    }
}

#[test]
fn adding_a_default_again_replaces_it() {
    let d = sip_defaults()
        .with(["Configure VoIP", "sip-interface"], "UDP-Port", "5062")
        .unwrap();
    assert_eq!(
        d.default_of(&["configure voip", "sip-interface 0"], "udp-port"),
        Some("5062")
    );
    assert!(!d.is_empty() && CliDefaults::new().is_empty());
}

// ------------------------------------------------------------------ apply

#[test]
fn apply_sets_creates_and_removes() {
    let mut s = running();
    s.apply(&parse(
        "configure voip\n sip-interface 0\n  udp-port 5070\n  no tls-port\n exit\n\
         ip-group 3\n  name New\n activate\n exit\n no proxy-ip 1/1\nexit\n\
         configure troubleshoot\n no syslog\nexit\n",
    ));
    assert_eq!(
        s.value(&["configure voip", "sip-interface 0"], "udp-port"),
        Some("5070")
    );
    assert_eq!(
        s.value(&["configure voip", "sip-interface 0"], "tls-port"),
        None
    );
    assert_eq!(
        s.value(&["configure voip", "sip-interface 0"], "tcp-port"),
        Some("5060")
    );
    assert_eq!(
        s.value(&["configure voip", "ip-group 3"], "name"),
        Some("New")
    );
    assert!(s.mode(&["configure voip", "proxy-ip 1/1"]).is_none());
    assert!(s.mode(&["configure voip", "proxy-ip 1/0"]).is_some());
    assert_eq!(s.mode(&["configure troubleshoot"]), Some(&[][..]));
}

#[test]
fn apply_normalises_repeats_as_the_device_would() {
    let mut s = parse(
        "configure voip\n ip-group 1\n  name A\n  name Z\n exit\n ip-group 1\n  name B\n  name C\n exit\n no ip-group 7\nexit\n",
    );
    // Lookups on a literal tree: first matching mode, last matching setting.
    assert_eq!(
        s.value(&["configure voip", "ip-group 1"], "name"),
        Some("Z")
    );
    s.apply(&CliScript::default());
    assert_eq!(
        s,
        parse("configure voip\n ip-group 1\n  name C\n exit\nexit\n")
    );
}

#[test]
fn applying_the_incremental_script_converges() {
    let desired = parse(
        "configure voip\n sip-interface 0\n  udp-port 5070\n exit\n ip-group 3\n  name X\n exit\n no proxy-set 1\nexit\n",
    );
    let prune = CliDiffOptions::from(
        CliPrune::new()
            .with(["configure voip", "proxy-ip"])
            .unwrap(),
    );
    let mut device = running();
    let d = diff(&desired, &device, &prune);
    assert!(!d.is_empty());
    device.apply(&parse(&d.render_incremental()));
    let again = diff(&desired, &device, &prune);
    assert!(again.is_empty(), "{:?}", again.summary());
    assert!(device.mode(&["configure voip", "proxy-ip 0/0"]).is_none());
}

// ------------------------------------------------------------- properties

const LEAF_KEYS: &[&str] = &[
    "name",
    "udp-port",
    "mode",
    "description",
    "password",
    "private-key",
    "x",
];
const MODE_WORDS: &[&str] = &["alpha", "beta-table", "gamma zone"];
const INDEXES: &[&str] = &["", " 0", " 1", " 0/1", " 12"];
const TOPS: &[&str] = &["configure system", "configure network", "configure voip"];

fn value() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._:/$#-]{0,6}( [A-Za-z0-9]{0,3}){0,2}"
}

fn opener() -> impl Strategy<Value = String> {
    (
        prop::sample::select(MODE_WORDS),
        prop::sample::select(INDEXES),
    )
        .prop_map(|(w, i)| format!("{w}{i}"))
}

/// Values the default rules below use, so that generated settings hit them.
const DEFAULT_VALUES: &[&str] = &["5060", "on", ""];

fn leaf() -> impl Strategy<Value = CliNode> {
    let value = prop_oneof![4 => value(), 1 => prop::sample::select(DEFAULT_VALUES).prop_map(str::to_owned)];
    (prop::sample::select(LEAF_KEYS), value).prop_map(|(k, v)| CliNode::leaf(k, &v).unwrap())
}

fn no_node() -> impl Strategy<Value = CliNode> {
    prop_oneof![
        prop::sample::select(LEAF_KEYS).prop_map(str::to_owned),
        opener()
    ]
    .prop_map(|t| CliNode::no(&t).unwrap())
}

fn node(depth: u32) -> BoxedStrategy<CliNode> {
    if depth == 0 {
        prop_oneof![3 => leaf(), 1 => no_node()].boxed()
    } else {
        prop_oneof![
            3 => leaf(),
            1 => no_node(),
            2 => (opener(), prop::collection::vec(node(depth - 1), 0..4))
                .prop_map(|(o, c)| CliNode::mode(&o, c).unwrap()),
        ]
        .boxed()
    }
}

fn script() -> impl Strategy<Value = CliScript> {
    prop::collection::vec(
        (
            prop::sample::select(TOPS),
            prop::collection::vec(node(2), 0..6),
        ),
        0..4,
    )
    .prop_map(|tops| CliScript {
        nodes: tops
            .into_iter()
            .map(|(o, c)| CliNode::mode(o, c).unwrap())
            .collect(),
    })
}

fn prune() -> impl Strategy<Value = CliPrune> {
    let rules: Vec<Vec<&'static str>> = vec![
        vec!["configure voip", "alpha"],
        vec!["configure voip", "gamma zone"],
        vec!["configure system", "beta-table"],
        vec!["configure voip", "alpha 1", "beta-table"],
        vec!["configure network", "alpha 0", "gamma zone"],
    ];
    prop::sample::subsequence(rules.clone(), 0..=rules.len()).prop_map(|chosen| {
        chosen
            .into_iter()
            .fold(CliPrune::new(), |p, r| p.with(r).unwrap())
    })
}

/// A default rule: mode path (entry keywords without an index match every
/// index), key, value. No two rules can match the same setting, so the
/// simulated device below needs no precedence.
type DefaultRule = (&'static [&'static str], &'static str, &'static str);

const DEFAULT_RULES: &[DefaultRule] = &[
    (&["configure voip", "alpha"], "udp-port", "5060"),
    (&["configure voip", "gamma zone"], "mode", "on"),
    (&["configure system", "beta-table"], "name", ""),
    (&["configure network"], "x", "on"),
    (
        &["configure voip", "alpha 1", "beta-table"],
        "description",
        "5060",
    ),
    (&["configure system", "alpha 0"], "udp-port", "on"),
];

/// Prune rules and a subset of [`DEFAULT_RULES`], also returned for the
/// simulated device.
fn options() -> impl Strategy<Value = (CliDiffOptions, Vec<DefaultRule>)> {
    (
        prune(),
        prop::sample::subsequence(DEFAULT_RULES.to_vec(), 0..=DEFAULT_RULES.len()),
    )
        .prop_map(|(prune, rules)| {
            let defaults = rules
                .iter()
                .fold(CliDefaults::new(), |d, (path, key, value)| {
                    d.with(path.iter(), key, value).unwrap()
                });
            (CliDiffOptions { prune, defaults }, rules)
        })
}

/// What a device does after a change: it stops listing settings that hold
/// their default. Written independently of the engine's matcher: a rule
/// element matches the same opener, or the opener plus ` <digits>`.
fn drop_defaults(nodes: &mut Vec<CliNode>, path: &mut Vec<String>, rules: &[DefaultRule]) {
    let matches = |rule: &[&str], path: &[String]| {
        rule.len() == path.len()
            && rule.iter().zip(path).all(|(r, p)| {
                p == r
                    || p.strip_prefix(r)
                        .and_then(|rest| rest.strip_prefix(' '))
                        .is_some_and(|index| {
                            !index.is_empty()
                                && index.chars().all(|c| c.is_ascii_digit() || c == '/')
                        })
            })
    };
    nodes.retain_mut(|node| match node {
        CliNode::Leaf { key, value } => !rules
            .iter()
            .any(|(rule, k, v)| k == key && v == value && matches(rule, path)),
        CliNode::Mode { opener, children } => {
            path.push(opener.clone());
            drop_defaults(children, path, rules);
            path.pop();
            true
        }
        CliNode::No { .. } => true,
    });
}

/// Lines as users and devices write them, good and (more rarely) broken, at
/// any indentation, inside a `configure` mode so most of them parse.
fn line_soup() -> impl Strategy<Value = String> {
    let good = prop::sample::select(vec![
        "configure system",
        "exit",
        "exit",
        "activate",
        "sip-interface 0",
        "proxy-ip 0/1",
        "ntp",
        "alpha 2",
        "gamma",
        "name \"A b\"",
        "udp-port 5060",
        "no proxy-ip 0/1",
        "no name",
        "# comment",
        "",
        "\"#x\" 1",
        "\"\" \"\"",
        "key \"\"",
        "NaMe \"UP\" low",
        "\t",
        "exit\r",
    ]);
    let broken = prop::sample::select(vec!["configure", "exit now", "no", "\"", "activate x"]);
    let fragment = prop_oneof![30 => good, 1 => broken];
    let line = (0usize..4, fragment).prop_map(|(indent, f)| format!("{}{f}", " ".repeat(indent)));
    (
        prop::collection::vec(line, 0..40),
        prop::sample::select(vec!["\n", "\r\n", "\r"]),
    )
        .prop_map(|(lines, eol)| format!("configure voip{eol}{}", lines.join(eol)))
}

proptest! {
    #[test]
    fn rendered_trees_read_back_identically(s in script()) {
        let text = s.render();
        prop_assert_eq!(CliScript::parse(&text), Ok(s));
    }

    #[test]
    fn one_incremental_apply_converges(desired in script(), running in script(), (options, rules) in options()) {
        let d = diff(&desired, &running, &options);
        let incremental = CliScript::parse(&d.render_incremental());
        prop_assert_eq!(incremental.as_ref(), Ok(&d.to_script()));
        let mut device = running.clone();
        device.apply(&d.to_script());
        let again = diff(&desired, &device, &options);
        prop_assert!(again.is_empty(), "left over: {:?}\nincremental:\n{}", again.summary(), d.render_incremental());
        // The device then leaves defaults out of its listing.
        drop_defaults(&mut device.nodes, &mut Vec::new(), &rules);
        let listed = diff(&desired, &device, &options);
        prop_assert!(listed.is_empty(), "left over once defaults are dropped: {:?}\nincremental:\n{}", listed.summary(), d.render_incremental());
    }

    #[test]
    fn defaults_only_ever_remove_changes(desired in script(), running in script(), (options, _) in options()) {
        let with = diff(&desired, &running, &options);
        let without = diff(&desired, &running, &CliDiffOptions::from(options.prune.clone()));
        for change in with.changes() {
            prop_assert!(without.changes().contains(change), "{} appears only with defaults", change);
        }
    }

    #[test]
    fn removals_come_only_from_no_lines_and_prune(desired in script(), running in script()) {
        let has_no = desired.render().lines().any(|l| l.trim_start().starts_with("no "));
        let d = diff(&desired, &running, &no_options());
        if !has_no {
            let only_additive = d.changes().iter().all(|c| matches!(c, CliChange::Set { .. } | CliChange::Create { .. }));
            prop_assert!(only_additive, "{:?}", d.summary());
        }
    }

    #[test]
    fn summary_never_shows_a_secret_value(desired in script(), running in script()) {
        let d = diff(&desired, &running, &no_options());
        for change in d.changes() {
            if let CliChange::Set { key, new, .. } = change
                && (key == "password" || key == "private-key")
            {
                let line = change.to_string();
                let shown = line.rsplit_once(&format!(": {key} ")).map(|(_, rest)| rest);
                prop_assert!(matches!(shown, Some("(unset) → ***" | "*** → ***")), "{} (value {:?})", line, new);
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = CliScript::parse(&text);
    }

    #[test]
    fn whatever_parses_renders_back_to_itself(text in line_soup()) {
        if let Ok(s) = CliScript::parse(&text) {
            prop_assert_eq!(CliScript::parse(&s.render()), Ok(s));
        }
    }
}

#[test]
fn nul_and_control_characters_are_refused_with_their_position() {
    for (text, line, column) in [
        ("configure system\n hostname sbc\0x\n exit\n", 2, 14),
        ("configure system\r\n name a\x1b[31m\r\n exit\r\n", 2, 8),
        ("configure system\r hostname\0\r exit\r", 2, 10),
    ] {
        match CliScript::parse(text) {
            Err(CliError::ControlCharacter {
                line: l, column: c, ..
            }) => assert_eq!((l, c), (line, column), "{text:?}"),
            other => panic!("{text:?}: {other:?}"),
        }
    }
    assert!(CliScript::parse("configure system\n\thostname a\n exit\n").is_ok());
}
