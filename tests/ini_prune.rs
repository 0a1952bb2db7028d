//! Pruned INI rows are deleted through the documented path — an incremental
//! CLI script (`no <entity> <key>`) — and the simulated device's own state
//! is read back to show the rows gone (issue 8).

use std::time::Duration;

use mediant_operator::config::ini::{self, DiffOptions};
use mediant_operator::device::{ClientOptions, Credentials, MediantClient, RetryPolicy};
use mediant_operator::simulator::device::Dialect as SimDialect;
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

fn client(base: &str) -> MediantClient {
    MediantClient::new(
        base,
        Credentials::new("Admin", "Admin"),
        ClientOptions {
            retry: RetryPolicy {
                attempts: 3,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(20),
            },
            ..ClientOptions::default()
        },
    )
    .expect("client")
}

#[tokio::test]
async fn pruned_rows_are_deleted_through_the_cli_and_are_gone_on_the_device() {
    let fleet = fleet().await;
    let sim = &fleet.devices()[0];
    let client = client(&sim.base_url);
    let observed = ini::parse(&client.ini().await.expect("ini")).expect("device INI");
    let proxies = observed
        .table("ProxyIp")
        .expect("the seed has proxy addresses");
    let before = proxies.row_count();
    assert!(before >= 3, "seed too small: {before}");
    // Keep the first two addresses; prune the rest.
    let keep: Vec<_> = proxies.rows().take(2).map(|(i, _)| i.clone()).collect();
    let mut desired_text = String::from("[ ProxyIp ]\nFORMAT ProxyIp_Index = ProxyIp_IpAddress;\n");
    for index in &keep {
        let address = proxies.cell(index, "IpAddress").expect("address");
        desired_text.push_str(&format!("ProxyIp {index} = \"{address}\";\n"));
    }
    desired_text.push_str("[ \\ProxyIp ]\n");
    let desired = ini::parse(&desired_text).expect("desired");
    let options = DiffOptions {
        prune_tables: vec!["ProxyIp".into()],
        ..DiffOptions::default()
    };
    let changes = ini::plan_diff(&desired, &observed, &options).expect("plans");
    assert!(!changes.has_ini_changes(), "nothing for INI:\n{changes}");
    let script = changes
        .render_cli_deletions(&observed)
        .expect("ProxyIp is mapped")
        .expect("rows to delete");
    assert!(script.starts_with("configure voip\n"), "{script}");
    assert_eq!(
        script.matches(" no proxy-ip ").count(),
        before - 2,
        "{script}"
    );

    sim.device.counters.reset();
    client
        .put_cli_incremental(&script)
        .await
        .expect("the device runs it");
    let counts = sim.device.counters.snapshot();
    assert_eq!(
        counts.writes, 1,
        "one CLI script, no INI upload: {counts:?}"
    );
    assert_eq!(counts.count("PUT", "/api/v1/files/ini/incremental"), 0);

    // The device's own state (its model, not our parser): only the kept
    // rows remain, untouched.
    let running = sim.device.running();
    let after = running.table("ProxyIp").expect("ProxyIp");
    assert_eq!(after.row_count(), 2);
    for index in &keep {
        let key = RowKey::new(index.as_str());
        for column in proxies.columns() {
            assert_eq!(
                after.cell(&key, column),
                proxies.cell(index, column),
                "{column} of kept row {index}"
            );
        }
    }
    let reobserved = ini::parse(&client.ini().await.expect("ini")).expect("device INI");
    assert!(
        ini::plan_diff(&desired, &reobserved, &options)
            .expect("plans")
            .is_empty()
    );
}

#[tokio::test]
async fn pruning_a_table_without_a_cli_mapping_is_refused_before_anything_is_sent() {
    let fleet = fleet().await;
    let sim = &fleet.devices()[0];
    let client = client(&sim.base_url);
    let observed = ini::parse(&client.ini().await.expect("ini")).expect("device INI");
    sim.device.counters.reset();
    let desired = ini::parse("GWDEBUGLEVEL = 7\n").expect("desired");
    let options = DiffOptions {
        // `StaticRouteTable` has no CLI entity in the catalogue: refused
        // whatever the device holds (the check needs no observation).
        prune_tables: vec!["StaticRouteTable".into()],
        ..DiffOptions::default()
    };
    let err = ini::plan_diff(&desired, &observed, &options).expect_err("refused");
    assert!(
        matches!(&err, ini::IniPlanError::UnmappedPrune { table } if table == "StaticRouteTable"),
        "{err}"
    );
    assert_eq!(sim.device.counters.snapshot().writes, 0);
}
