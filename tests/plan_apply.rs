//! The device client and the plan/apply engine over real HTTP against the
//! simulator (issue: device client, plan/apply).

use std::time::Duration;

use mediant_operator::config::ini;
use mediant_operator::device::{
    ClientOptions, Credentials, DeviceError, Dialect, MediantClient, Privilege, RetryPolicy,
};
use mediant_operator::plan::{
    self, ApplyError, DesiredState, IniMode, MediantDeviceKind, ResetPermission, SecretDigests,
    SideEffect,
};
use mediant_operator::simulator::device::{Device, Dialect as SimDialect};
use mediant_operator::simulator::faults::FaultPlan;
use mediant_operator::simulator::{Fleet, FleetConfig};

const DESIRED_INI: &str =
    "[SYSTEM Params]\nGWDEBUGLEVEL = 7\nSyslogServerIP = 10.9.8.7\nEnableSyslog = 1\n";

async fn fleet(dialect: SimDialect) -> Fleet {
    Fleet::start(FleetConfig {
        devices: 1,
        dialect,
        reset_time: Duration::from_millis(300),
        ..FleetConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn fast_retries() -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(40),
        },
        request_timeout: Duration::from_secs(10),
        // 409s are waited out for this long (minutes by default).
        busy_budget: Duration::from_millis(400),
        ..ClientOptions::default()
    }
}

fn client(fleet: &Fleet, user: &str, password: &str) -> MediantClient {
    MediantClient::new(
        &fleet.devices()[0].base_url,
        Credentials::new(user, password),
        fast_retries(),
    )
    .expect("client")
}

fn desired_ini(text: &str) -> DesiredState {
    DesiredState {
        ini: Some(ini::parse(text).expect("desired INI parses")),
        save_after_apply: true,
        ..DesiredState::default()
    }
}

/// A parameter of the device's running configuration, read back from the
/// simulator (not from anything the client reported).
fn running(device: &Device, name: &str) -> Option<String> {
    device.running().param(name).map(|p| p.value.clone())
}

/// A parameter of the device's startup configuration (what a reset brings back).
fn startup(device: &Device, name: &str) -> Option<String> {
    device.startup().param(name).map(|p| p.value.clone())
}

/// Observe, plan and apply once through the engine façade; returns the
/// outcome (with the verified after-state).
async fn reconcile(
    client: &MediantClient,
    desired: &DesiredState,
    digests: &SecretDigests,
) -> plan::Outcome {
    plan::reconcile_once::<MediantDeviceKind>(client, desired, digests, false)
        .await
        .expect("reconcile")
        .outcome
        .expect("applied")
}

#[tokio::test]
async fn ini_converges_in_one_apply_and_an_in_sync_device_gets_no_writes() {
    let fleet = fleet(SimDialect::V74).await;
    let device = &fleet.devices()[0].device;
    let client = client(&fleet, "Admin", "Admin");
    let desired = desired_ini(DESIRED_INI);

    let observed = plan::observe(&client, &desired).await.expect("observe");
    let first = plan::plan(&desired, &observed, &SecretDigests::new()).expect("plan");
    assert!(!first.is_empty());
    assert!(first.changes().any(|c| c.key == "SyslogServerIP"));
    let outcome = plan::apply(
        &client,
        &desired,
        &observed,
        &first,
        &SecretDigests::new(),
        |_, _| {},
    )
    .await
    .expect("apply");
    assert!(
        outcome.not_taken.is_empty(),
        "not taken: {:?}",
        outcome.not_taken
    );
    assert_eq!(outcome.steps.len(), 2, "incremental INI then save");
    // The device holds the desired values, running and saved.
    for (name, value) in [
        ("GWDebugLevel", "7"),
        ("SyslogServerIP", "10.9.8.7"),
        ("EnableSyslog", "1"),
    ] {
        assert_eq!(
            running(device, name).as_deref(),
            Some(value),
            "running {name}"
        );
        assert_eq!(
            startup(device, name).as_deref(),
            Some(value),
            "startup {name}"
        );
    }

    device.counters.reset();
    let (running_before, startup_before) = (device.running(), device.startup());
    for _ in 0..3 {
        let outcome = reconcile(&client, &desired, &outcome.digests).await;
        assert!(outcome.steps.is_empty());
    }
    let counts = device.counters.snapshot();
    assert_eq!(counts.writes, 0, "{counts:?}");
    assert_eq!(counts.total, 6, "status + ini per reconcile: {counts:?}");
    assert_eq!(*device.running(), *running_before, "running untouched");
    assert_eq!(*device.startup(), *startup_before, "startup untouched");
}

#[tokio::test]
async fn a_saved_change_survives_a_reset_and_an_unsaved_one_does_not() {
    let fleet = fleet(SimDialect::V74).await;
    let device = &fleet.devices()[0].device;
    let client = client(&fleet, "Admin", "Admin");
    // The seed's values, which the two changes below replace.
    assert_eq!(running(device, "GWDebugLevel").as_deref(), Some("5"));
    assert_eq!(
        running(device, "SyslogServerIP").as_deref(),
        Some("10.4.2.10")
    );
    let saved = desired_ini("GWDEBUGLEVEL = 6\n");
    reconcile(&client, &saved, &SecretDigests::new()).await;
    assert_eq!(running(device, "GWDebugLevel").as_deref(), Some("6"));
    assert_eq!(
        startup(device, "GWDebugLevel").as_deref(),
        Some("6"),
        "saved"
    );

    let mut unsaved = desired_ini("SyslogServerIP = 10.1.2.3\n");
    unsaved.save_after_apply = false;
    let outcome = reconcile(&client, &unsaved, &SecretDigests::new()).await;
    assert!(
        outcome
            .steps
            .iter()
            .all(|s| !s.description.contains("save"))
    );
    // Applied to running, not saved to startup.
    assert_eq!(
        running(device, "SyslogServerIP").as_deref(),
        Some("10.1.2.3"),
        "the unsaved change was applied"
    );
    assert_eq!(
        startup(device, "SyslogServerIP").as_deref(),
        Some("10.4.2.10"),
        "and not saved"
    );

    let before = client.status().await.expect("status").system_up_time;
    let resets = device.reset_count();
    client.reset(false).await.expect("reset");
    client
        .wait_for_restart(before, Duration::from_secs(10))
        .await
        .expect("device comes back");
    assert_eq!(device.reset_count(), resets + 1, "the device reset");
    // Read back from the device after the reset: the saved change is
    // there, the unsaved one is gone (startup came back).
    assert_eq!(running(device, "GWDebugLevel").as_deref(), Some("6"));
    assert_eq!(
        running(device, "SyslogServerIP").as_deref(),
        Some("10.4.2.10")
    );
    let after_saved = plan::observe(&client, &saved).await.expect("observe");
    assert!(
        plan::plan(&saved, &after_saved, &SecretDigests::new())
            .expect("plan")
            .is_empty()
    );
    let after_unsaved = plan::observe(&client, &unsaved).await.expect("observe");
    assert!(
        !plan::plan(&unsaved, &after_unsaved, &SecretDigests::new())
            .expect("plan")
            .is_empty()
    );
}

#[tokio::test]
async fn ha_synchronisation_409s_are_retried_and_converge() {
    let fleet = fleet(SimDialect::V74).await;
    let device = &fleet.devices()[0].device;
    let client = client(&fleet, "Admin", "Admin");
    device.faults.set(FaultPlan {
        ha_sync_writes: 2,
        ..FaultPlan::default()
    });
    let outcome = reconcile(&client, &desired_ini(DESIRED_INI), &SecretDigests::new()).await;
    assert!(outcome.not_taken.is_empty());
    let counts = device.counters.snapshot();
    assert_eq!(
        counts.count("PUT", "/api/v1/files/ini/incremental"),
        3,
        "{counts:?}"
    );
}

#[tokio::test]
async fn a_busy_device_that_stays_busy_is_a_busy_error() {
    let fleet = fleet(SimDialect::V74).await;
    fleet.devices()[0].device.faults.set(FaultPlan {
        ha_sync_writes: 100,
        ..FaultPlan::default()
    });
    let client = client(&fleet, "Admin", "Admin");
    let err = client.save_configuration().await.expect_err("busy");
    assert!(matches!(err, DeviceError::Busy { .. }), "{err}");
    assert!(err.to_string().contains("HA synchronization"), "{err}");
}

#[tokio::test]
async fn rejected_content_is_reported_with_the_device_message_and_nothing_more_is_sent() {
    let fleet = fleet(SimDialect::V74).await;
    let device = &fleet.devices()[0].device;
    let client = client(&fleet, "Admin", "Admin");
    // A device refuses a value of the wrong kind (an unknown table it
    // would merely ignore, as the manuals say).
    let desired = desired_ini(
        "[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Type, IPGroup_Name;\nIPGroup 30 = notanumber, \"X\";\n[ \\IPGroup ]\n",
    );
    let observed = plan::observe(&client, &desired).await.expect("observe");
    let p = plan::plan(&desired, &observed, &SecretDigests::new()).expect("plan");
    device.counters.reset();
    let before = device.running();
    let err = plan::apply(
        &client,
        &desired,
        &observed,
        &p,
        &SecretDigests::new(),
        |_, _| {},
    )
    .await
    .expect_err("400");
    match &err {
        ApplyError::Step {
            number: 1,
            completed: 0,
            source: DeviceError::Rejected { description, .. },
            ..
        } => {
            assert!(
                description.contains("IPGroup row 30: column Type"),
                "{description}"
            );
        }
        other => panic!("unexpected {other}"),
    }
    let counts = device.counters.snapshot();
    assert_eq!(
        counts.writes, 1,
        "no retry, no save after a 400: {counts:?}"
    );
    assert_eq!(
        *device.running(),
        *before,
        "the refused upload changed nothing"
    );
}

#[tokio::test]
async fn wrong_password_and_low_privilege_have_their_own_errors() {
    let fleet = fleet(SimDialect::V74).await;
    let wrong = client(&fleet, "Admin", "not-the-password");
    let err = wrong.status().await.expect_err("401");
    assert!(matches!(err, DeviceError::Unauthorized { .. }), "{err}");
    assert!(!format!("{err} {err:?} {wrong:?}").contains("not-the-password"));

    let monitor = client(&fleet, "Monitor", "Monitor");
    monitor.status().await.expect("a Monitor may read /status");
    let err = monitor.ini().await.expect_err("403");
    match &err {
        DeviceError::Forbidden { needed, .. } => {
            assert_eq!(*needed, Privilege::SecurityAdministrator)
        }
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("Security Administrator"), "{err}");
    let operator = client(&fleet, "Operator", "Operator");
    let err = operator
        .put_ini_incremental("GWDEBUGLEVEL = 1\n")
        .await
        .expect_err("403");
    assert!(matches!(err, DeviceError::Forbidden { .. }), "{err}");
}

#[tokio::test]
async fn the_2015_dialect_is_detected_and_converges_with_octet_stream_uploads() {
    let fleet = fleet(SimDialect::V2015).await;
    let client = client(&fleet, "Admin", "Admin");
    assert_eq!(client.dialect().await.expect("detect"), Dialect::V2015);
    let device = &fleet.devices()[0].device;
    let outcome = reconcile(&client, &desired_ini(DESIRED_INI), &SecretDigests::new()).await;
    assert!(outcome.not_taken.is_empty());
    // The 2015 simulator refuses any upload that is not
    // application/octet-stream, so this upload reached running that way.
    let counts = device.counters.snapshot();
    assert_eq!(
        counts.count("PUT", "/api/v1/files/ini/incremental"),
        1,
        "{counts:?}"
    );
    for (name, value) in [
        ("GWDebugLevel", "7"),
        ("SyslogServerIP", "10.9.8.7"),
        ("EnableSyslog", "1"),
    ] {
        assert_eq!(
            running(device, name).as_deref(),
            Some(value),
            "running {name}"
        );
        assert_eq!(
            startup(device, name).as_deref(),
            Some(value),
            "startup {name}"
        );
    }
    device.counters.reset();
    let again = reconcile(&client, &desired_ini(DESIRED_INI), &outcome.digests).await;
    assert!(again.steps.is_empty());
    assert_eq!(device.counters.snapshot().writes, 0);
}

#[tokio::test]
async fn a_reset_causing_plan_is_refused_by_default_and_applied_when_allowed() {
    let fleet = fleet(SimDialect::V74).await;
    let device = &fleet.devices()[0].device;
    let client = client(&fleet, "Admin", "Admin");
    let mut desired = desired_ini(DESIRED_INI);
    desired.ini_mode = IniMode::FullWithReset;

    let observed = plan::observe(&client, &desired).await.expect("observe");
    let refused = plan::plan(&desired, &observed, &SecretDigests::new()).expect("plan");
    assert!(refused.steps.is_empty());
    assert_eq!(refused.blocked.len(), 1);
    assert!(
        refused.blocked[0].1.contains("resetPolicy"),
        "{}",
        refused.blocked[0].1
    );
    device.counters.reset();
    let (running_before, resets_before) = (device.running(), device.reset_count());
    let outcome = plan::apply(
        &client,
        &desired,
        &observed,
        &refused,
        &SecretDigests::new(),
        |_, _| {},
    )
    .await
    .expect("nothing to run");
    assert_eq!(outcome.blocked.len(), 1);
    assert_eq!(device.counters.snapshot().writes, 0);
    assert_eq!(device.reset_count(), resets_before, "no reset");
    assert_eq!(*device.running(), *running_before, "nothing changed");

    desired.reset = ResetPermission::Allowed;
    let allowed = plan::plan(&desired, &observed, &SecretDigests::new()).expect("plan");
    assert_eq!(allowed.steps.len(), 1);
    assert_eq!(allowed.steps[0].side_effect, SideEffect::ResetsDevice);
    let resets_before = device.reset_count();
    let outcome = plan::apply(
        &client,
        &desired,
        &observed,
        &allowed,
        &SecretDigests::new(),
        |_, _| {},
    )
    .await
    .expect("apply with reset");
    assert_eq!(device.reset_count(), resets_before + 1, "the device reset");
    assert!(outcome.not_taken.is_empty(), "{:?}", outcome.not_taken);
    // After the reset the device runs, and will boot with, the desired values.
    for (name, value) in [
        ("GWDebugLevel", "7"),
        ("SyslogServerIP", "10.9.8.7"),
        ("EnableSyslog", "1"),
    ] {
        assert_eq!(
            running(device, name).as_deref(),
            Some(value),
            "running {name}"
        );
        assert_eq!(
            startup(device, name).as_deref(),
            Some(value),
            "startup {name}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_device_is_an_unreachable_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let client = MediantClient::new(
        &format!("http://127.0.0.1:{port}"),
        Credentials::new("Admin", "Admin"),
        fast_retries(),
    )
    .expect("client");
    let err = client.status().await.expect_err("nothing listens");
    assert!(err.is_unreachable(), "{err}");
    assert_eq!(err.category(), "Unreachable");
}

#[tokio::test]
async fn credentials_in_the_endpoint_are_refused_without_echoing_them() {
    let err = MediantClient::new(
        "https://admin:hunter2@10.0.0.5",
        Credentials::new("Admin", "Admin"),
        ClientOptions::default(),
    )
    .expect_err("refused");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test]
async fn secrets_never_appear_in_plans_errors_or_debug_output() {
    let fleet = fleet(SimDialect::V74).await;
    let client = client(&fleet, "Admin", "Admin");
    let desired = desired_ini(
        "SNMPReadOnlyCommunityString = 'Sup3rS3cret'\n[ WebUsers ]\nFORMAT WebUsers_Index = WebUsers_Username, WebUsers_Password;\n\
         WebUsers 5 = \"ops\", \"Sup3rS3cret\";\n[ \\WebUsers ]\n",
    );
    let observed = plan::observe(&client, &desired).await.expect("observe");
    let p = plan::plan(&desired, &observed, &SecretDigests::new()).expect("plan");
    let shown = format!(
        "{p:?} {:?}",
        p.changes().map(ToString::to_string).collect::<Vec<_>>()
    );
    assert!(!shown.contains("Sup3rS3cret"), "{shown}");
    let outcome = plan::apply(
        &client,
        &desired,
        &observed,
        &p,
        &SecretDigests::new(),
        |_, _| {},
    )
    .await;
    let shown = match &outcome {
        Ok(o) => format!("{:?} {:?}", o.steps, o.digests),
        Err(e) => format!("{e} {e:?}"),
    };
    assert!(!shown.contains("Sup3rS3cret"), "{shown}");
}

#[tokio::test]
async fn a_write_only_password_is_sent_once_and_then_in_sync() {
    let fleet = fleet(SimDialect::V74).await;
    let device = &fleet.devices()[0].device;
    let client = client(&fleet, "Admin", "Admin");
    let desired = desired_ini(
        "[ WebUsers ]\nFORMAT WebUsers_Index = WebUsers_Username, WebUsers_Password, WebUsers_UserLevel;\n\
         WebUsers 5 = \"ops\", \"Op3rat0r!\", 100;\n[ \\WebUsers ]\n",
    );
    let first = reconcile(&client, &desired, &SecretDigests::new()).await;
    assert!(first.not_taken.is_empty(), "{:?}", first.not_taken);
    assert_eq!(first.digests.len(), 1, "one secret sent, its digest kept");
    let observed = plan::observe(&client, &desired).await.expect("observe");
    let hash = observed.ini.as_ref().and_then(|d| {
        d.table("WebUsers")?
            .cell(&5.into(), "Password")
            .map(str::to_string)
    });
    assert!(
        hash.as_deref().is_some_and(|h| h.starts_with("$1$")),
        "the device keeps a hash: {hash:?}"
    );

    device.counters.reset();
    let again = reconcile(&client, &desired, &first.digests).await;
    assert!(again.steps.is_empty());
    assert_eq!(device.counters.snapshot().writes, 0);
    // Without the digest the password cannot be known to match: it is sent again.
    let observed = plan::observe(&client, &desired).await.expect("observe");
    assert!(
        !plan::plan(&desired, &observed, &SecretDigests::new())
            .expect("plan")
            .is_empty()
    );
}

/// A desired value equal to the parameter's default: the device takes it
/// and then no longer lists the parameter (a dump lists only non-default
/// values), so verification calls it not taken — and says why, naming
/// `spec.ini.defaults`, by name only. Declaring the default makes the very
/// same desired state in sync, with no write.
#[tokio::test]
async fn a_value_at_its_default_is_not_taken_with_a_hint_and_in_sync_once_declared() {
    let fleet = fleet(SimDialect::V74).await;
    let device = &fleet.devices()[0].device;
    let client = client(&fleet, "Admin", "Admin");
    assert_eq!(
        running(device, "EnableSyslog").as_deref(),
        Some("1"),
        "seeded on"
    );
    let text = "[SYSTEM Params]\nEnableSyslog = 0\n";

    let outcome = reconcile(&client, &desired_ini(text), &SecretDigests::new()).await;
    // The device took the value: running and saved, it is the default now.
    assert_eq!(running(device, "EnableSyslog"), None);
    assert_eq!(startup(device, "EnableSyslog"), None);
    assert_eq!(outcome.not_taken, ["EnableSyslog"]);
    let hint = outcome.not_taken_hint.as_deref().expect("a hint");
    assert!(hint.contains("spec.ini.defaults"), "{hint}");
    assert!(hint.starts_with("EnableSyslog "), "{hint}");
    assert!(!hint.contains("= 0"), "names only: {hint}");

    let mut declared = desired_ini(text);
    declared
        .ini_options
        .defaults
        .insert("EnableSyslog".into(), "0".into());
    device.counters.reset();
    let again =
        plan::reconcile_once::<MediantDeviceKind>(&client, &declared, &SecretDigests::new(), false)
            .await
            .expect("reconcile");
    assert!(
        again.survey.plan.is_empty(),
        "{:?}",
        again.survey.plan.drift_keys
    );
    assert!(again.outcome.is_none_or(|o| o.steps.is_empty()));
    assert_eq!(device.counters.snapshot().writes, 0);
}

/// A parameter unknown to the firmware (a misspelling) is accepted and
/// ignored by the device: the same hint, which also says to check the
/// spelling; the taken parameter beside it is not named.
#[tokio::test]
async fn a_misspelled_parameter_gets_the_same_hint_which_names_the_spelling() {
    let fleet = fleet(SimDialect::V74).await;
    let client = client(&fleet, "Admin", "Admin");
    let outcome = reconcile(
        &client,
        &desired_ini("[SYSTEM Params]\nEnableSyslgo = 1\nGWDebugLevel = 5\n"),
        &SecretDigests::new(),
    )
    .await;
    assert_eq!(outcome.not_taken, ["EnableSyslgo"]);
    let hint = outcome.not_taken_hint.as_deref().expect("a hint");
    assert!(hint.contains("spelling"), "{hint}");
}

/// A CLI password is write-only: the device shows its hash, never the
/// value. One apply sends it; every later one with the same value writes
/// nothing (the digest of what was sent, carried like the INI ones); a
/// new value is sent; an entry deleted by hand gets its password again.
/// Asserted on the device's own state (the stored hash).
#[tokio::test]
async fn a_cli_password_is_sent_once_then_in_sync_and_again_when_changed_or_recreated() {
    use mediant_operator::config::cli::CliScript;
    let fleet = fleet(SimDialect::V74).await;
    let device = &fleet.devices()[0].device;
    let client = client(&fleet, "Admin", "Admin");
    let script = |password: &str| {
        DesiredState {
        cli: Some(
            CliScript::parse(&format!(
                "configure voip\n ip-group 7\n  name \"TRUNK7\"\n  password \"{password}\"\n exit\nexit\n"
            ))
            .expect("script"),
        ),
        save_after_apply: true,
        ..DesiredState::default()
    }
    };
    let hash = || {
        device
            .running()
            .table("IPGroup")
            .and_then(|t| t.cell("7", "Password").map(str::to_owned))
    };
    let mut memory = SecretDigests::new();
    let run = async |desired: &DesiredState, memory: &mut SecretDigests| {
        device.counters.reset();
        let done = plan::reconcile_once::<MediantDeviceKind>(&client, desired, memory, false)
            .await
            .expect("reconcile");
        if let Some(o) = &done.outcome {
            assert!(o.not_taken.is_empty(), "{:?}", o.not_taken);
            assert!(o.remaining.is_empty(), "{:?}", o.remaining.drift_keys);
            *memory = o.digests.clone();
        }
        device.counters.snapshot().writes
    };

    assert_eq!(
        run(&script("S3cretPW"), &mut memory).await,
        2,
        "CLI, then save"
    );
    let first = hash().expect("a hash");
    assert!(first.starts_with("$1$"), "{first}");
    for _ in 0..2 {
        assert_eq!(run(&script("S3cretPW"), &mut memory).await, 0, "in sync");
    }
    assert_eq!(hash().as_deref(), Some(first.as_str()));

    assert_eq!(
        run(&script("N3wPW"), &mut memory).await,
        2,
        "a new value is sent"
    );
    let second = hash().expect("a hash");
    assert_ne!(second, first);
    assert_eq!(run(&script("N3wPW"), &mut memory).await, 0);

    // Deleted by hand: the entry and its password come back.
    client
        .put_cli_incremental("configure voip\nno ip-group 7\nexit\n")
        .await
        .expect("delete by hand");
    assert_eq!(hash(), None);
    assert_eq!(run(&script("N3wPW"), &mut memory).await, 2);
    assert_eq!(
        hash().as_deref(),
        Some(second.as_str()),
        "same value, same hash"
    );
    assert!(
        !format!("{memory:?}").contains("N3wPW"),
        "digests only, never the value"
    );
}
