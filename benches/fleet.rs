//! One process reconciles 1,000 simulated devices: the time of a full
//! in-sync pass against its floor (the same number of bare HTTP GETs on
//! loopback, with the same concurrency), in the same run, and the peak memory.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use mediant_operator::config::ini;
use mediant_operator::device::{ClientOptions, Credentials, MediantClient};
use mediant_operator::plan::{self, DesiredState, MediantDeviceKind, SecretDigests};
use mediant_operator::simulator::{Fleet, FleetConfig};
use tokio::sync::Semaphore;

const DEVICES: usize = 1000;
const CONCURRENCY: usize = 64;

struct Setup {
    runtime: tokio::runtime::Runtime,
    _fleet: Fleet,
    clients: Vec<Arc<MediantClient>>,
    urls: Vec<String>,
    bare: reqwest::Client,
    desired: Arc<DesiredState>,
}

fn setup() -> Setup {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let fleet = runtime
        .block_on(Fleet::start(FleetConfig {
            devices: DEVICES,
            ..FleetConfig::default()
        }))
        .expect("simulator");
    let clients: Vec<Arc<MediantClient>> = fleet
        .devices()
        .iter()
        .map(|d| {
            Arc::new(
                MediantClient::new(
                    &d.base_url,
                    Credentials::new("Admin", "Admin"),
                    ClientOptions::default(),
                )
                .expect("client"),
            )
        })
        .collect();
    let urls = fleet
        .devices()
        .iter()
        .map(|d| format!("{}api/v1/files/ini", d.base_url))
        .collect();
    let desired = Arc::new(DesiredState {
        ini: Some(
            ini::parse("GWDEBUGLEVEL = 7\nSyslogServerIP = 10.9.8.7\nEnableSyslog = 1\n")
                .expect("ini"),
        ),
        save_after_apply: true,
        ..DesiredState::default()
    });
    let s = Setup {
        runtime,
        _fleet: fleet,
        clients,
        urls,
        bare: reqwest::Client::new(),
        desired,
    };
    s.runtime.block_on(pass(&s)); // converge: later passes are in sync
    s
}

async fn reconcile(client: Arc<MediantClient>, desired: Arc<DesiredState>) -> usize {
    plan::reconcile_once::<MediantDeviceKind>(&client, &desired, &SecretDigests::new(), false)
        .await
        .expect("reconcile")
        .outcome
        .map_or(0, |o| o.steps.len())
}

/// Reconciles every device, `CONCURRENCY` at a time.
async fn pass(s: &Setup) -> usize {
    let gate = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = Vec::with_capacity(DEVICES);
    for client in &s.clients {
        let (client, desired, gate) = (client.clone(), s.desired.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("open");
            reconcile(client, desired).await
        }));
    }
    let mut steps = 0;
    for t in tasks {
        steps += t.await.expect("task");
    }
    steps
}

/// The floor: one bare GET of the INI file per device, same concurrency.
async fn floor(s: &Setup) -> usize {
    let gate = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = Vec::with_capacity(DEVICES);
    for url in &s.urls {
        let (http, url, gate) = (s.bare.clone(), url.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("open");
            let r = http
                .get(url)
                .basic_auth("Admin", Some("Admin"))
                .send()
                .await
                .expect("get");
            r.bytes().await.expect("body").len()
        }));
    }
    let mut bytes = 0;
    for t in tasks {
        bytes += t.await.expect("task");
    }
    bytes
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("fleet_1000");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("floor_bare_get_per_device", |b| {
        b.iter(|| s.runtime.block_on(floor(black_box(&s))))
    });
    group.bench_function("in_sync_pass", |b| {
        b.iter(|| s.runtime.block_on(pass(black_box(&s))))
    });
    group.finish();
}

criterion_group!(benches, bench);

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    benches();
    Criterion::default().configure_from_args().final_summary();
    let s = setup();
    let time = |f: &dyn Fn() -> usize| {
        let mut v: Vec<Duration> = (0..5)
            .map(|_| {
                let t = Instant::now();
                black_box(f());
                t.elapsed()
            })
            .collect();
        v.sort();
        v[2]
    };
    let p = time(&|| s.runtime.block_on(pass(&s)));
    let f = time(&|| s.runtime.block_on(floor(&s)));
    println!(
        "fleet_1000: in-sync pass {:.0} ms vs floor {:.0} ms ({DEVICES} bare GETs, {CONCURRENCY} at a time): ratio {:.2}; peak RSS {:.0} MB (simulator and operator in one process)",
        p.as_secs_f64() * 1e3,
        f.as_secs_f64() * 1e3,
        p.as_secs_f64() / f.as_secs_f64(),
        peak_rss_mb()
    );
}
