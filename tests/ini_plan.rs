//! The plan wiring of issue 8 over real HTTP against the simulator: whole
//! rows, pruning through an incremental CLI step, refusals before anything
//! is sent, and a fresh observation after a step whose effect is unknown.
//! Every outcome is judged on the simulated device's own state.

use std::time::Duration;

use mediant_operator::config::ini::{self, DiffOptions};
use mediant_operator::device::{
    ClientOptions, Credentials, DeviceError, MediantClient, RetryPolicy,
};
use mediant_operator::plan::{
    self, Action, ApplyError, DesiredState, MediantDeviceKind, PlanError, SecretDigests,
};
use mediant_operator::simulator::device::Dialect as SimDialect;
use mediant_operator::simulator::faults::FaultPlan;
use mediant_operator::simulator::firmware::config::RowKey;
use mediant_operator::simulator::{Fleet, FleetConfig};

async fn fleet() -> Fleet {
    Fleet::start(FleetConfig {
        devices: 1,
        dialect: SimDialect::V74,
        reset_time: Duration::from_millis(200),
        ..FleetConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn client(fleet: &Fleet) -> MediantClient {
    MediantClient::new(
        &fleet.devices()[0].base_url,
        Credentials::new("Admin", "Admin"),
        ClientOptions {
            retry: RetryPolicy {
                attempts: 3,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(20),
            },
            busy_budget: Duration::from_millis(300),
            ..ClientOptions::default()
        },
    )
    .expect("client")
}

fn desired(text: &str, options: DiffOptions) -> DesiredState {
    DesiredState {
        ini: Some(ini::parse(text).expect("desired INI parses")),
        ini_options: options,
        save_after_apply: true,
        ..DesiredState::default()
    }
}

fn prune(tables: &[&str]) -> DiffOptions {
    DiffOptions {
        prune_tables: tables.iter().map(|t| t.to_string()).collect(),
        ..DiffOptions::default()
    }
}

/// The desired ProxyIp rows: the device's first `keep` rows, by address.
async fn keep_first_proxy_ips(client: &MediantClient, keep: usize) -> (String, Vec<String>) {
    let observed = ini::parse(&client.ini().await.expect("ini")).expect("device INI");
    let proxies = observed
        .table("ProxyIp")
        .expect("the seed has proxy addresses");
    assert!(proxies.row_count() > keep, "seed too small");
    let mut text = String::from("[ ProxyIp ]\nFORMAT ProxyIp_Index = ProxyIp_IpAddress;\n");
    let mut kept = Vec::new();
    for (index, _) in proxies.rows().take(keep) {
        let address = proxies.cell(index, "IpAddress").expect("address");
        text.push_str(&format!("ProxyIp {index} = \"{address}\";\n"));
        kept.push(index.to_string());
    }
    text.push_str("[ \\ProxyIp ]\n");
    (text, kept)
}

#[tokio::test]
async fn pruning_deletes_rows_through_an_incremental_cli_step() {
    let fleet = fleet().await;
    let sim = &fleet.devices()[0];
    let client = client(&fleet);
    let (text, kept) = keep_first_proxy_ips(&client, 1).await;
    let want = desired(&text, prune(&["ProxyIp"]));
    let survey = plan::survey::<MediantDeviceKind>(&client, &want, &SecretDigests::new(), false)
        .await
        .expect("survey");
    let actions: Vec<&Action> = survey.plan.steps.iter().map(|s| &s.action).collect();
    assert!(
        matches!(actions.as_slice(), [Action::CliIncremental(script, _), Action::SaveConfiguration] if script.contains(" no proxy-ip ")),
        "{actions:?}"
    );
    sim.device.counters.reset();
    let outcome = plan::converge::<MediantDeviceKind>(
        &client,
        &want,
        &survey.observed,
        &survey.plan,
        &SecretDigests::new(),
        |_, _| {},
    )
    .await
    .expect("apply");
    assert!(outcome.not_taken.is_empty(), "{:?}", outcome.not_taken);
    let counts = sim.device.counters.snapshot();
    assert_eq!(
        counts.count("PUT", "/api/v1/files/cliScript/incremental"),
        1
    );
    assert_eq!(
        counts.count("PUT", "/api/v1/files/ini/incremental"),
        0,
        "{counts:?}"
    );
    // On the device (running and saved startup): only the kept row is left.
    for config in [sim.device.running(), sim.device.startup()] {
        let table = config.table("ProxyIp").expect("ProxyIp");
        let keys: Vec<&str> = table.rows().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, kept, "rows left on the device");
        assert!(table.row(&RowKey::new(&kept[0])).is_some());
    }
    // In sync now: zero writes.
    sim.device.counters.reset();
    let again = plan::reconcile_once::<MediantDeviceKind>(&client, &want, &outcome.digests, false)
        .await
        .expect("second reconcile");
    assert!(again.survey.plan.is_empty());
    assert_eq!(sim.device.counters.snapshot().writes, 0);
}

#[tokio::test]
async fn refusals_come_before_anything_is_sent() {
    let fleet = fleet().await;
    let sim = &fleet.devices()[0];
    let client = client(&fleet);
    let cases: Vec<(DesiredState, &str)> = vec![
        // No CLI entity deletes a StaticRouteTable row.
        (
            desired("GWDEBUGLEVEL = 7\n", prune(&["StaticRouteTable"])),
            "StaticRouteTable",
        ),
        // Part of a secret table (the catalogue knows IPsecSATable).
        (
            desired(
                "GWDEBUGLEVEL = 7\n[ IPsecSATable ]\nFORMAT IPsecSATable_Index = IPsecSATable_SharedKey;\nIPsecSATable 0 = \"MARKER-psk\";\n[ \\IPsecSATable ]\n",
                DiffOptions::default(),
            ),
            "IPsecSATable",
        ),
    ];
    for (want, table) in cases {
        sim.device.counters.reset();
        let err =
            plan::reconcile_once::<MediantDeviceKind>(&client, &want, &SecretDigests::new(), false)
                .await
                .err()
                .expect("refused");
        assert!(matches!(&err, ApplyError::Plan(PlanError::Ini(_))), "{err}");
        let text = err.to_string();
        assert!(text.contains(table), "{text}");
        assert!(!text.contains("MARKER"), "{text}");
        assert_eq!(
            sim.device.counters.snapshot().writes,
            0,
            "nothing sent for {table}"
        );
    }
}

#[tokio::test]
async fn a_new_row_is_announced_with_defaults_and_a_changed_row_goes_out_whole() {
    let fleet = fleet().await;
    let sim = &fleet.devices()[0];
    let client = client(&fleet);
    let before = ini::parse(&client.ini().await.expect("ini")).expect("device INI");
    let proxies = before.table("ProxyIp").expect("ProxyIp");
    let (index, _) = proxies.rows().next().expect("a row");
    let text = format!(
        "[ ProxyIp ]\nFORMAT ProxyIp_Index = ProxyIp_IpAddress;\nProxyIp {index} = \"203.0.113.9:5060\";\n[ \\ProxyIp ]\n\
         [ ProxySet ]\nFORMAT ProxySet_Index = ProxySet_ProxyName;\nProxySet 77 = \"NewSet\";\n[ \\ProxySet ]\n"
    );
    let want = desired(&text, DiffOptions::default());
    let survey = plan::survey::<MediantDeviceKind>(&client, &want, &SecretDigests::new(), false)
        .await
        .expect("survey");
    let lines: Vec<String> = survey.plan.changes().map(ToString::to_string).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("+ ProxySet[77]")
                && l.contains("other columns take their defaults")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("ProxyIp[{index}].IpAddress"))),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 2, "only changed cells are shown: {lines:?}");
    plan::converge::<MediantDeviceKind>(
        &client,
        &want,
        &survey.observed,
        &survey.plan,
        &SecretDigests::new(),
        |_, _| {},
    )
    .await
    .expect("apply");
    // The changed row kept every undeclared cell (the device would have
    // defaulted any column missing from the row line).
    let running = sim.device.running();
    let row = RowKey::new(index.as_str());
    let after = running.table("ProxyIp").expect("ProxyIp");
    for column in proxies.columns() {
        let expected = if proxies.short_column(column) == "IpAddress" {
            Some("203.0.113.9:5060")
        } else {
            proxies.cell(index, column)
        };
        assert_eq!(after.cell(&row, column), expected, "{column}");
    }
}

#[tokio::test]
async fn a_lost_answer_is_followed_by_a_fresh_observation_and_a_report() {
    let fleet = fleet().await;
    let sim = &fleet.devices()[0];
    let client = client(&fleet);
    let (text, _) = keep_first_proxy_ips(&client, 1).await;
    let want = desired(&text, prune(&["ProxyIp"]));
    let survey = plan::survey::<MediantDeviceKind>(&client, &want, &SecretDigests::new(), false)
        .await
        .expect("survey");
    client.dialect().await.expect("dialect");
    sim.device.faults.set(FaultPlan {
        drop_connections: 1,
        ..FaultPlan::default()
    });
    sim.device.counters.reset();
    let err = plan::converge::<MediantDeviceKind>(
        &client,
        &want,
        &survey.observed,
        &survey.plan,
        &SecretDigests::new(),
        |_, _| {},
    )
    .await
    .expect_err("the answer to the CLI script was lost");
    match &err {
        ApplyError::StateUnknown {
            number: 1,
            source: DeviceError::Unconfirmed { .. },
            remaining: Some(left),
            reobserved,
            ..
        } => {
            // The simulator dropped the request before running it: the rows
            // are still there, and the report says so.
            assert!(*left > 0, "{reobserved}");
            assert!(reobserved.contains("ProxyIp["), "{reobserved}");
        }
        other => panic!("expected a re-observed unknown state, got {other}"),
    }
    let counts = sim.device.counters.snapshot();
    assert_eq!(
        counts.count("PUT", "/api/v1/files/cliScript/incremental"),
        1,
        "not re-sent"
    );
    assert!(
        counts.count("GET", "/api/v1/files/ini") >= 1,
        "re-observed: {counts:?}"
    );
}

#[tokio::test]
async fn a_cli_script_the_device_reports_as_failed_is_reobserved_and_reported() {
    let fleet = fleet().await;
    let sim = &fleet.devices()[0];
    let client = client(&fleet);
    // The first line applies, the second fails on the device (partial apply).
    let want = DesiredState {
        cli: Some(
            mediant_operator::config::cli::CliScript::parse(
                "configure system\n snmp settings\n  sys-name \"partial-1\"\n exit\n no-such-command-here 1\nexit\n",
            )
            .expect("desired CLI"),
        ),
        ..DesiredState::default()
    };
    let result =
        plan::reconcile_once::<MediantDeviceKind>(&client, &want, &SecretDigests::new(), false)
            .await;
    let Err(err) = result else {
        panic!("the device accepted an unknown command");
    };
    match &err {
        ApplyError::StateUnknown {
            source: DeviceError::CliFailed { lines, .. },
            reobserved,
            ..
        } => {
            assert!(!lines.is_empty(), "the failing output lines are shown");
            assert!(!reobserved.is_empty());
        }
        other => panic!("expected a failed CLI script, got {other}"),
    }
    assert_eq!(
        sim.device
            .counters
            .snapshot()
            .count("PUT", "/api/v1/files/cliScript/incremental"),
        1
    );
}
