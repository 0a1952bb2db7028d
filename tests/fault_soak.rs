//! A bounded fault soak: `apply -f` (in-process, the command's own client
//! and retries) against a simulated device whose REST traffic meets random
//! faults — dropped connections, 500s, HA-synchronisation 409s and lost
//! answers (served, then the connection closes) — from a seeded RNG, so a
//! failure replays. Each round changes the desired INI, arms faults and
//! applies until the command reports converged; then, with faults off:
//! the device holds the desired values (read back from the simulator), one
//! more apply writes nothing, a reset without save keeps every change (it
//! was saved), and the device was reset only by the test and once per full
//! upload (every tenth round uses `ini.mode: Full`). No output mentions a
//! panic. (Secret markers are the corpus' job, tests/bad_inputs.rs: the
//! simulator's only user is its factory one.)

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mediant_operator::cmd::{self, Mode, ReconcileArgs};
use mediant_operator::simulator::faults::FaultPlan;
use mediant_operator::simulator::{Fleet, FleetConfig};

/// The RNG seed (change it to explore; a failure names it).
const SEED: u64 = 0x5eed_0012;
/// At least this many reconciles (apply runs) in all.
const RECONCILES: usize = 200;
/// Applies one round may take before it counts as not converging.
const MAX_ATTEMPTS: usize = 12;
/// The soak's wall-clock bound.
const BUDGET: Duration = Duration::from_secs(240);

fn manifest(dir: &Path, endpoint: &str, params: &[(&str, String)], full: bool) -> PathBuf {
    let ini: String = params
        .iter()
        .map(|(k, v)| format!("      {k} = {v}\n"))
        .collect();
    let text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  username: Admin\n  password: Admin\n---\n\
         apiVersion: mediant.io/v1alpha1\nkind: MediantDevice\nmetadata:\n  name: sbc\nspec:\n  endpoint: {endpoint}\n  credentialsSecretRef:\n    name: creds\n  resetPolicy: {policy}\n  saveAfterApply: true\n  ini:\n    mode: {mode}\n    inline: |\n      [SYSTEM Params]\n{ini}",
        policy = if full { "Allowed" } else { "Never" },
        mode = if full { "Full" } else { "Incremental" },
    );
    let path = dir.join("device.yaml");
    std::fs::write(&path, text).expect("write manifest");
    path
}

async fn apply(path: &Path) -> (Result<u8, String>, String) {
    let args = ReconcileArgs {
        files: vec![path.to_path_buf()],
        simulate: false,
        username: None,
        password_file: None,
        color: "never".into(),
        state: None,
        state_key_file: None,
    };
    let mut out = Vec::new();
    let result = cmd::run(&args, Mode::Apply, &mut out)
        .await
        .map_err(|e| format!("{e} / {e:?}"));
    (result, String::from_utf8_lossy(&out).into_owned())
}

#[derive(Default, Debug)]
struct Figures {
    rounds: usize,
    reconciles: usize,
    failed_applies: usize,
    max_attempts: usize,
    drops: u32,
    server_errors: u32,
    ha_sync: u32,
    lost_answers: u32,
    /// Armed faults no request met (the apply was done before them).
    unused: u32,
    lost_changes: usize,
    writes_in_sync: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_faults_converge_without_loss_extra_reset_or_writes_in_sync() {
    let fleet = Fleet::start(FleetConfig {
        reset_time: Duration::from_millis(200),
        ..FleetConfig::default()
    })
    .await
    .expect("simulator");
    let sim = &fleet.devices()[0];
    let device = &sim.device;
    let dir = std::env::temp_dir().join(format!("mediant-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut rng = fastrand::Rng::with_seed(SEED);
    let mut f = Figures::default();
    let mut forced_resets = 0u64;
    let mut full_rounds = 0u64;
    let started = Instant::now();

    while f.reconciles < RECONCILES {
        assert!(
            started.elapsed() < BUDGET,
            "seed {SEED:#x}: over budget: {f:?}"
        );
        f.rounds += 1;
        let desired = vec![
            (
                "SyslogServerIP",
                format!(
                    "10.{}.{}.{}",
                    rng.u8(0..=255),
                    rng.u8(0..=255),
                    rng.u8(1..=254)
                ),
            ),
            ("NTPUpdateInterval", (rng.u32(60..=86_400)).to_string()),
            // Never its default 0: a desired default reads as a change
            // the device "did not take" (it leaves defaults out of its
            // dump) — a perpetual diff found by this soak, not its subject.
            ("EnableSyslog", "1".to_string()),
            ("SBCSessionExpires", rng.u32(90..=3_600).to_string()),
        ];
        // Every tenth round uploads the whole INI (a reset-causing write,
        // sent once): exactly one reset for it, whatever its answer meets.
        let full = f.rounds % 10 == 0;
        full_rounds += u64::from(full);
        let path = manifest(&dir, &sim.base_url, &desired, full);
        let faults = FaultPlan {
            drop_connections: rng.u32(0..=2),
            server_errors: rng.u32(0..=2),
            ha_sync_writes: rng.u32(0..=2),
            lose_answers: rng.u32(0..=2),
            ..FaultPlan::default()
        };
        f.drops += faults.drop_connections;
        f.server_errors += faults.server_errors;
        f.ha_sync += faults.ha_sync_writes;
        f.lost_answers += faults.lose_answers;
        device.faults.set(faults);
        // Faults armed up front meet the first requests (the observation);
        // one more lost answer lands at a random later request, so writes
        // and saves lose theirs too.
        let at = device.counters.snapshot().total + rng.u64(1..=10);
        let late = {
            let device = std::sync::Arc::clone(device);
            tokio::spawn(async move {
                while device.counters.snapshot().total < at {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                device.faults.update(|p| p.lose_answers += 1);
            })
        };
        f.lost_answers += 1;

        let mut attempts = 0;
        loop {
            attempts += 1;
            f.reconciles += 1;
            let (result, out) = apply(&path).await;
            for text in [&out, &format!("{result:?}")] {
                assert!(!text.contains("panicked"), "{text}");
            }
            if result == Ok(0) {
                break;
            }
            f.failed_applies += 1;
            assert!(
                attempts < MAX_ATTEMPTS,
                "seed {SEED:#x} round {}: no convergence after {attempts} applies: {result:?}\n{out}",
                f.rounds
            );
            // A device in a reset (none is expected) or a lost answer:
            // the next run observes again.
            while device.is_resetting() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        f.max_attempts = f.max_attempts.max(attempts);
        late.abort();
        let left = device.faults.get();
        f.unused +=
            left.drop_connections + left.server_errors + left.ha_sync_writes + left.lose_answers;
        device.faults.clear();

        // Converged means the device holds it, read back from the simulator.
        let running = device.running();
        for (name, value) in &desired {
            assert_eq!(
                running.param(name).map(|p| p.value.as_str()),
                Some(value.as_str()),
                "seed {SEED:#x} round {}: running {name}",
                f.rounds
            );
        }
        // In sync: one more apply writes nothing.
        let before = device.counters.snapshot().writes;
        let (result, out) = apply(&path).await;
        f.reconciles += 1;
        assert_eq!(result, Ok(0), "{out}");
        let writes = device.counters.snapshot().writes - before;
        f.writes_in_sync += writes;
        assert_eq!(writes, 0, "seed {SEED:#x}: writes in sync: {out}");

        // Every few rounds, a reset without save: nothing applied is lost.
        if f.rounds % 4 == 0 {
            device.reset(false);
            forced_resets += 1;
            while device.is_resetting() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let after = device.running();
            let lost: Vec<&str> = desired
                .iter()
                .filter(|(n, v)| after.param(n).map(|p| p.value.as_str()) != Some(v.as_str()))
                .map(|(n, _)| *n)
                .collect();
            f.lost_changes += lost.len();
            assert!(
                lost.is_empty(),
                "seed {SEED:#x} round {}: a reset without save lost {lost:?}",
                f.rounds
            );
        }
    }
    let resets = device.reset_count();
    eprintln!(
        "fault soak (seed {SEED:#x}): {} rounds, {} reconciles ({} failed and retried, at most {} applies to converge); \
         faults armed: {} dropped connections, {} 500s, {} HA 409s, {} lost answers ({} met no request); \
         lost saved changes {}, device resets {} ({} forced by the test, {} full uploads), writes once in sync {}; {:?}",
        f.rounds,
        f.reconciles,
        f.failed_applies,
        f.max_attempts,
        f.drops,
        f.server_errors,
        f.ha_sync,
        f.lost_answers,
        f.unused,
        f.lost_changes,
        resets,
        forced_resets,
        full_rounds,
        f.writes_in_sync,
        started.elapsed()
    );
    assert_eq!(
        resets,
        forced_resets + full_rounds,
        "seed {SEED:#x}: an extra reset"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
