//! An in-sync reconcile (observe + plan + no-op apply) against the bare
//! `GET /api/v1/files/ini` of the same configuration on loopback, in the same
//! run; plus the request count of an in-sync reconcile (observe GETs only).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use mediant_operator::config::ini;
use mediant_operator::device::{ClientOptions, Credentials, MediantClient};
use mediant_operator::plan::{self, DesiredState, MediantDeviceKind, SecretDigests};
use mediant_operator::simulator::{Fleet, FleetConfig};

struct Setup {
    runtime: tokio::runtime::Runtime,
    fleet: Fleet,
    client: MediantClient,
    bare: reqwest::Client,
    desired: DesiredState,
    digests: SecretDigests,
}

fn setup() -> Setup {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let fleet = runtime
        .block_on(Fleet::start(FleetConfig::default()))
        .expect("simulator");
    let base = fleet.devices()[0].base_url.clone();
    let client = MediantClient::new(
        &base,
        Credentials::new("Admin", "Admin"),
        ClientOptions::default(),
    )
    .expect("client");
    let desired = DesiredState {
        ini: Some(
            ini::parse("GWDEBUGLEVEL = 7\nSyslogServerIP = 10.9.8.7\nEnableSyslog = 1\n")
                .expect("ini"),
        ),
        save_after_apply: true,
        ..DesiredState::default()
    };
    // Converge once so every measured reconcile is in sync.
    let digests = runtime.block_on(async {
        plan::reconcile_once::<MediantDeviceKind>(&client, &desired, &SecretDigests::new(), false)
            .await
            .expect("reconcile")
            .outcome
            .map(|o| o.digests)
            .unwrap_or_default()
    });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bare = reqwest::Client::new();
    Setup {
        runtime,
        fleet,
        client,
        bare,
        desired,
        digests,
    }
}

async fn reconcile(s: &Setup) -> usize {
    plan::reconcile_once::<MediantDeviceKind>(&s.client, &s.desired, &s.digests, false)
        .await
        .expect("reconcile")
        .outcome
        .map_or(0, |o| o.steps.len())
}

async fn bare_get(s: &Setup) -> usize {
    let url = format!("{}api/v1/files/ini", s.fleet.devices()[0].base_url);
    let body = s
        .bare
        .get(url)
        .basic_auth("Admin", Some("Admin"))
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .expect("body");
    body.len()
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("in_sync_reconcile");
    group.bench_function("bare_get_files_ini", |b| {
        b.iter(|| s.runtime.block_on(bare_get(black_box(&s))))
    });
    group.bench_function("reconcile_in_sync", |b| {
        b.iter(|| s.runtime.block_on(reconcile(black_box(&s))))
    });
    group.finish();
}

criterion_group!(benches, bench);

fn median(s: &Setup, runs: usize, reconciling: bool) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            if reconciling {
                black_box(s.runtime.block_on(reconcile(s)));
            } else {
                black_box(s.runtime.block_on(bare_get(s)));
            }
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let s = setup();
    let device = &s.fleet.devices()[0].device;
    device.counters.reset();
    let steps = s.runtime.block_on(reconcile(&s));
    let counts = device.counters.snapshot();
    let (r, g) = (median(&s, 101, true), median(&s, 101, false));
    println!(
        "in_sync_reconcile: {} request(s) per reconcile ({} write(s), {steps} step(s)): {:?}; \
         reconcile {:.3} ms vs bare GET /files/ini {:.3} ms: ratio {:.2}",
        counts.total,
        counts.writes,
        counts.requests,
        r.as_secs_f64() * 1e3,
        g.as_secs_f64() * 1e3,
        r.as_secs_f64() / g.as_secs_f64()
    );
}
