//! `reconcile`: one cycle over 1,000 managed, unchanged changefeeds at 5 ms per request against a
//! plan of the same (manifests read from disk, then the cluster: what `cdcform plan` does), and
//! the process's RSS over 1,000 cycles (latency 0) with every cycle recorded for /metrics and
//! /status and the metrics rendered, as a scrape would.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cdcform::plan::pipeline::{compute, load_manifests};
use cdcform::plan::PlanOptions;
use cdcform::reconcile::{cycle, Cluster, Options, Shared};
use cdcform::settings::{Settings, Target};
use cdcform::simulator::{SimConfig, Simulator};

use crate::{Row, LATENCY, PARALLELISM};

async fn setup(n: usize, latency: Duration) -> (Simulator, Settings, tempfile::TempDir, PathBuf) {
    let sim = Simulator::start(
        SimConfig {
            changefeeds: n,
            latency,
            sink_check: false,
            ..SimConfig::default()
        },
        "127.0.0.1:0",
    )
    .await
    .expect("simulator");
    let mut settings = Settings::for_server(&sim.url());
    settings.parallelism = PARALLELISM;
    settings.client.timeout = Duration::from_secs(60);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("feeds.yaml");
    let mut yaml = String::from("changefeeds:\n");
    for i in 1..=n {
        yaml.push_str(&format!(
            "  - id: cf-{i:05}\n    sink_uri: \"blackhole://\"\n"
        ));
    }
    std::fs::write(&path, yaml).expect("manifest");
    (sim, settings, dir, path)
}

fn options(path: &Path) -> Options {
    Options {
        paths: vec![path.to_path_buf()],
        ..Options::default()
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// One cycle against `cdcform plan`'s work (load the manifests, read, plan), medians of 5 each,
/// interleaved.
pub async fn cycle_vs_plan(n: usize, rows: &mut Vec<Row>) {
    let (sim, settings, _dir, path) = setup(n, LATENCY).await;
    let o = options(&path);
    let cluster = Cluster::new(Target {
        name: "bench".into(),
        settings: Ok(settings.clone()),
    });
    let client = cdcform::ticdc::Client::new(settings.client.clone()).expect("client");
    let stop = cdcform::shutdown::Shutdown::new();
    let (mut cycles, mut plans) = (vec![], vec![]);
    for round in 0..6 {
        let t0 = Instant::now();
        let rec = cycle(&cluster, &o, &stop).await;
        let c = t0.elapsed();
        assert!(
            rec.ok && rec.drift.is_empty(),
            "the cycle must find no drift"
        );
        let t1 = Instant::now();
        let set = load_manifests(&settings, &o.paths).expect("manifests");
        let (plan, _) = compute(
            &settings,
            &client,
            &set.changefeeds,
            &PlanOptions::default(),
            o.wait_timeout,
        )
        .await
        .expect("plan");
        let p = t1.elapsed();
        assert_eq!(plan.summary.unchanged, n);
        if round > 0 {
            cycles.push(c);
            plans.push(p);
        }
    }
    let (c, p) = (median(cycles), median(plans));
    rows.push(Row {
        what: format!("reconcile cycle, {n} unchanged changefeeds"),
        measured: c,
        floor: p,
        extra: "floor = plan of the same (load manifests + read + plan), target ≤ 1.2×".into(),
    });
    sim.shutdown().await;
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|v| v.parse().unwrap_or(0)))
        })
        .unwrap_or(0)
}

/// RSS before and after `cycles` cycles over `n` changefeeds, each recorded and rendered.
pub async fn rss_over_cycles(n: usize, cycles: usize, rows: &mut Vec<Row>) {
    let (sim, settings, _dir, path) = setup(n, Duration::ZERO).await;
    let o = options(&path);
    let cluster = Cluster::new(Target {
        name: "bench".into(),
        settings: Ok(settings),
    });
    let shared = Shared::new(&o, std::slice::from_ref(&cluster));
    let stop = cdcform::shutdown::Shutdown::new();
    let run = |k: usize| {
        let (cluster, o, shared, stop, sim) = (&cluster, &o, &shared, &stop, &sim);
        async move {
            for _ in 0..k {
                let rec = cycle(cluster, o, stop).await;
                assert!(rec.ok, "{:?}", rec.error);
                shared.record("bench", rec, o.interval);
                std::hint::black_box(shared.metrics.render());
                std::hint::black_box(shared.status_json());
                // The simulator keeps a log of requests for tests; it is not the reconciler's.
                sim.clear_requests();
            }
        }
    };
    run(100).await;
    let before = rss_kib();
    let t0 = Instant::now();
    run(cycles).await;
    let elapsed = t0.elapsed();
    let after = rss_kib();
    rows.push(Row {
        what: format!("reconcile RSS over {cycles} cycles, {n} changefeeds"),
        measured: Duration::from_secs_f64(after.max(1) as f64 / 1000.0),
        floor: Duration::from_secs_f64(before.max(1) as f64 / 1000.0),
        extra: format!(
            "measured/floor columns hold RSS after/before in thousands of KiB (after 100 warm-up cycles): {:.1} → {:.1} MiB, {:+} KiB ({:.2} KiB per cycle); {:.1} ms per cycle",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            after as i64 - before as i64,
            (after as f64 - before as f64) / cycles as f64,
            elapsed.as_secs_f64() * 1000.0 / cycles as f64
        ),
    });
    sim.shutdown().await;
}
