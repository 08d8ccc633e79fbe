//! Scale benchmarks (`cargo bench`, or `cargo bench -- plan` for one group). Every figure is a
//! ratio against a floor measured or computed in the same run, never an absolute target:
//!
//! - plan of N changefeeds with 5 ms latency per request, against the round-trip floor
//!   (1 list + ⌈N/parallelism⌉ GET rounds), and against a plain sequential client (one GET after
//!   another, as a shell loop over `cdc cli` does);
//! - plan of 100 filter updates with table impact (two verify_table calls each), against the
//!   floor of its reads and verify_table rounds;
//! - apply of N config updates (pause → PUT → resume) with latency and owner ticks, against the
//!   floor of its round trips and ticks;
//! - peak RSS of a `cdcform plan` process over 10,000 changefeeds (simulator in another process);
//! - `cdcform validate` of a 10,000-changefeed manifest;
//! - `bare`: plan of 1,000 unchanged against a bare client at parallelism 8, 32, 64;
//! - `latency`: the simulator's `--latency` precision;
//! - `fleet`: 3 clusters of 1,000 planned in one run, against the slowest planned alone;
//! - `shared`: 10 managed changefeeds in a cluster of 10,000 and 100,000, in process and as
//!   `plan`, `status --managed` and `export --id` processes (time against the same on a cluster of
//!   only those 10, and peak RSS);
//! - `simulator`: the simulator's list of 100,000 read whole, against the same body served from
//!   memory;
//! - `reconcile`: one cycle over 1,000 unchanged against a plan of the same; RSS over 1,000 cycles;
//! - policy: a plan of 1,000 changefeed updates with 20 Rego policies (the six of
//!   examples/policies and 14 more), end to end, against the same plan without policies
//!   (`cargo bench -- policy`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cdcform::apply::{apply, ApplyOptions};
use cdcform::manifest::{DesiredChangefeed, DesiredState};
use cdcform::plan::pipeline::{compute, compute_checked};
use cdcform::plan::PlanOptions;
use cdcform::settings::Settings;
use cdcform::simulator::catalog::Catalog;
use cdcform::simulator::{SimConfig, Simulator};
use cdcform::ticdc::Client;

#[path = "support/bare.rs"]
mod bare;
#[path = "support/reconcile.rs"]
mod reconcile;

const LATENCY: Duration = Duration::from_millis(5);
const PARALLELISM: usize = 8;

fn desired(ids: &[String], cfg: Option<serde_json::Value>) -> Vec<DesiredChangefeed> {
    ids.iter()
        .map(|id| DesiredChangefeed {
            id: id.clone(),
            sink_uri: "blackhole://".into(),
            sink_uri_template: "blackhole://".into(),
            state: DesiredState::Running,
            replica_config: cfg.clone(),
            replica_config_template: cfg.clone(),
            ..Default::default()
        })
        .collect()
}

async fn start(n: usize, tick: Duration) -> (Simulator, Settings, Client, Vec<String>) {
    let cfg = SimConfig {
        changefeeds: n,
        latency: LATENCY,
        tick,
        sink_check: false,
        ..SimConfig::default()
    };
    let sim = Simulator::start(cfg, "127.0.0.1:0")
        .await
        .expect("simulator");
    let mut settings = Settings::for_server(&sim.url());
    settings.parallelism = PARALLELISM;
    settings.client.timeout = Duration::from_secs(60);
    let client = Client::new(settings.client.clone()).expect("client");
    let ids = client
        .list_changefeeds("default", Some("all"))
        .await
        .expect("list")
        .into_iter()
        .map(|i| i.id)
        .collect();
    (sim, settings, client, ids)
}

struct Row {
    what: String,
    measured: Duration,
    floor: Duration,
    extra: String,
}

async fn bench_plan(n: usize, rows: &mut Vec<Row>) {
    let (sim, settings, client, ids) = start(n, Duration::ZERO).await;
    let want = desired(&ids, None);
    // Warm-up (connection pool), then the measured run.
    let _ = compute(
        &settings,
        &client,
        &want,
        &PlanOptions::default(),
        Duration::from_secs(120),
    )
    .await
    .expect("plan");
    let t0 = Instant::now();
    let (plan, _) = compute(
        &settings,
        &client,
        &want,
        &PlanOptions::default(),
        Duration::from_secs(120),
    )
    .await
    .expect("plan");
    let measured = t0.elapsed();
    assert_eq!(
        plan.summary.unchanged, n,
        "the benchmark plan must be empty"
    );
    assert!(!plan.summary.has_changes());
    let rounds = 1 + n.div_ceil(PARALLELISM);
    let floor = LATENCY * rounds as u32;
    // The same reads, one after another.
    let t1 = Instant::now();
    let list = client
        .list_changefeeds("default", Some("all"))
        .await
        .expect("list");
    for i in &list {
        client.get_changefeed("default", &i.id).await.expect("get");
    }
    let sequential = t1.elapsed();
    rows.push(Row {
        what: format!("plan, {n} changefeeds"),
        measured,
        floor,
        extra: format!(
            "sequential client {:.2}s, cdcform {:.1}× faster",
            sequential.as_secs_f64(),
            sequential.as_secs_f64() / measured.as_secs_f64()
        ),
    });
    sim.shutdown().await;
}

/// 20 policy files: the examples, and 14 rules of the same kinds (field limits, id patterns,
/// sink checks, change inspection) so that each walks every entry.
fn write_policies(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/policies");
    let mut n = 0;
    for e in std::fs::read_dir(&examples).expect("examples/policies") {
        let p = e.expect("entry").path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".rego") && !name.ends_with("_test.rego") {
            std::fs::copy(&p, dir.join(&name)).expect("copy");
            n += 1;
        }
    }
    for i in n..20 {
        let rule = match i % 4 {
            0 => format!(
                "object.get(e.desired, [\"replica_config\", \"mounter\", \"worker_num\"], 0) > {}",
                100 + i
            ),
            1 => format!("regex.match(`^forbidden-{i}-`, e.id)"),
            2 => format!("e.desired.sink.scheme == \"scheme{i}\""),
            _ => format!("some c in e.changes\n    c.path == \"replica_config.never_{i}\""),
        };
        let text = format!(
            "package cdcform\n\ndeny_generated_{i} contains {{\"msg\": sprintf(\"%s: rule {i}\", [e.id]), \"changefeed\": e.id}} if {{\n    some e in input.entries\n    {rule}\n}}\n"
        );
        std::fs::write(dir.join(format!("generated_{i}.rego")), text).expect("write");
    }
    vec![dir.to_path_buf()]
}

async fn bench_policy(n: usize, rows: &mut Vec<Row>) {
    let (sim, settings, client, ids) = start(n, Duration::ZERO).await;
    // Every changefeed gets an update, so every one is an entry the policies look at.
    let want = desired(
        &ids,
        Some(serde_json::json!({"mounter": {"worker_num": 8}})),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = cdcform::policy::PolicyOptions {
        paths: write_policies(dir.path()),
        namespaces: vec![],
    };
    let opts = PlanOptions::default();
    let budget = Duration::from_secs(120);
    let plan_once = || compute(&settings, &client, &want, &opts, budget);
    let checked_once = || compute_checked(&settings, &client, &want, &opts, budget, &policy);
    let _ = plan_once().await.expect("warm-up plan");
    let _ = checked_once().await.expect("warm-up plan with policies");
    // What a user waits for, end to end: the plan with its policies against the same plan
    // without them, taken in turn so that both see the same machine.
    let mut plan_times = Vec::new();
    let mut checked_times = Vec::new();
    for _ in 0..3 {
        let t0 = Instant::now();
        let (plan, _) = plan_once().await.expect("plan");
        plan_times.push(t0.elapsed());
        assert_eq!(plan.entries.len(), n, "every changefeed is an update");
        assert!(plan.policy.is_none());
        let t1 = Instant::now();
        let (plan, _) = checked_once().await.expect("plan with policies");
        checked_times.push(t1.elapsed());
        assert_eq!(plan.entries.len(), n, "every changefeed is an update");
        let report = plan.policy.expect("report");
        assert_eq!(report.files.len(), 20);
        assert!(
            report.deny.len() >= n,
            "the id rule fires on every simulator id"
        );
    }
    plan_times.sort();
    checked_times.sort();
    let (plan_t, checked_t) = (plan_times[1], checked_times[1]);
    rows.push(Row {
        what: format!("plan + 20 policies, {n} changefeed updates"),
        measured: checked_t,
        floor: plan_t,
        extra: format!(
            "median of 3, end to end: plan with policies {:.3}s (files load while the cluster is read; then input, evaluate), plan alone {:.3}s",
            checked_t.as_secs_f64(),
            plan_t.as_secs_f64()
        ),
    });
    sim.shutdown().await;
}

async fn bench_apply(n: usize, tick: Duration, rows: &mut Vec<Row>) {
    let (sim, settings, client, ids) = start(n, tick).await;
    // Fresh changefeeds' checkpoints sit at their start_ts for the simulator's first second
    // (they trail the clock by 1 s); let them reach that steady state, as long-running ones have.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let want = desired(
        &ids,
        Some(serde_json::json!({"mounter": {"worker_num": 8}})),
    );
    let (plan, _) = compute(
        &settings,
        &client,
        &want,
        &PlanOptions::default(),
        Duration::from_secs(120),
    )
    .await
    .expect("plan");
    assert_eq!(plan.summary.update, n);
    let opts = ApplyOptions {
        parallelism: PARALLELISM,
        wait_timeout: Duration::from_secs(300),
        ..ApplyOptions::default()
    };
    let quiet = |_: &str| {};
    let t0 = Instant::now();
    let report = apply(&client, &plan, &opts, &quiet).await;
    let measured = t0.elapsed();
    assert!(report.all_ok(), "apply failed in the benchmark");
    let (after, _) = compute(
        &settings,
        &client,
        &want,
        &PlanOptions::default(),
        Duration::from_secs(120),
    )
    .await
    .expect("plan");
    assert!(
        !after.summary.has_changes(),
        "plan after apply must be empty"
    );
    // Per changefeed: pause, PUT, resume round trips, and one owner tick each for `stopped`
    // and `normal` to become visible; changefeeds run PARALLELISM at a time.
    let waves = n.div_ceil(PARALLELISM) as u32;
    let floor = (LATENCY * 3 + tick * 2) * waves;
    // Mean time per step, to show where the time above the floor goes.
    let mut per_step: Vec<(&str, Duration, u32)> = Vec::new();
    for e in &report.entries {
        for s in &e.steps {
            match per_step.iter_mut().find(|(n, _, _)| *n == s.step) {
                Some((_, d, c)) => {
                    *d += s.elapsed;
                    *c += 1;
                }
                None => per_step.push((s.step, s.elapsed, 1)),
            }
        }
    }
    let steps: Vec<String> = per_step
        .iter()
        .map(|(n, d, c)| format!("{n} {}ms", (*d / *c).as_millis()))
        .collect();
    rows.push(Row {
        what: format!("apply, {n} updates (tick {}ms)", tick.as_millis()),
        measured,
        floor,
        extra: format!("mean per changefeed: {}", steps.join(", ")),
    });
    sim.shutdown().await;
}

/// A plan of N filter updates: the reads of `bench_plan` plus, per changefeed, a verify_table
/// call for the live and one for the desired config (table impact), all at PARALLELISM.
async fn bench_plan_filter_updates(n: usize, rows: &mut Vec<Row>) {
    let cfg = SimConfig {
        changefeeds: n,
        latency: LATENCY,
        sink_check: false,
        catalog: Some(std::sync::Arc::new(Catalog::builtin())),
        ..SimConfig::default()
    };
    let sim = Simulator::start(cfg, "127.0.0.1:0")
        .await
        .expect("simulator");
    let mut settings = Settings::for_server(&sim.url());
    settings.parallelism = PARALLELISM;
    let client = Client::new(settings.client.clone()).expect("client");
    let ids: Vec<String> = (1..=n).map(|i| format!("cf-{i:05}")).collect();
    // A different filter per changefeed, so no two desired-side verify_table calls coincide
    // (the live side is the same pre-created config everywhere: one call serves all).
    let mut want = desired(&ids, None);
    for (i, d) in want.iter_mut().enumerate() {
        let rc =
            serde_json::json!({"filter": {"rules": ["shop.*", "billing.*", format!("!x.t{i}")]}});
        d.replica_config = Some(rc.clone());
        d.replica_config_template = Some(rc);
    }
    let opts = PlanOptions::default();
    let budget = Duration::from_secs(120);
    let _ = compute(&settings, &client, &want, &opts, budget)
        .await
        .expect("plan");
    sim.clear_requests();
    let t0 = Instant::now();
    let (plan, _) = compute(&settings, &client, &want, &opts, budget)
        .await
        .expect("plan");
    let mut measured = t0.elapsed();
    let verify_calls = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v2/verify_table")
        .count();
    let blind = PlanOptions {
        no_table_impact: true,
        ..PlanOptions::default()
    };
    let mut without = Duration::MAX;
    // Best of three of each, interleaved: the 2-core machine is shared, and one run is noisy.
    for round in 0..3 {
        if round > 0 {
            let t = Instant::now();
            let _ = compute(&settings, &client, &want, &opts, budget)
                .await
                .expect("plan");
            measured = measured.min(t.elapsed());
        }
        let t = Instant::now();
        let _ = compute(&settings, &client, &want, &blind, budget)
            .await
            .expect("plan");
        without = without.min(t.elapsed());
    }
    assert_eq!(plan.summary.update, n);
    assert!(plan
        .entries
        .iter()
        .all(|e| e.tables.as_ref().is_some_and(|t| t.after == Some(7))));
    // 1 list, ⌈N/P⌉ GET rounds, then the verify_table rounds: N desired-side calls and one
    // live-side call.
    let calls = n + 1;
    assert_eq!(verify_calls, calls, "one call per distinct body");
    let rounds = 1 + n.div_ceil(PARALLELISM) + calls.div_ceil(PARALLELISM);
    rows.push(Row {
        what: format!("plan, {n} filter updates with table impact"),
        measured,
        floor: LATENCY * rounds as u32,
        extra: format!(
            "best of 3; {calls} verify_table calls; the same plan with --no-table-impact {:.3}s (floor {:.3}s)",
            without.as_secs_f64(),
            (LATENCY * (1 + n.div_ceil(PARALLELISM)) as u32).as_secs_f64()
        ),
    });
    sim.shutdown().await;
}

fn write_manifest(dir: &std::path::Path, ids: &[String]) -> std::path::PathBuf {
    let p = dir.join("many.yaml");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    writeln!(f, "changefeeds:").unwrap();
    for id in ids {
        writeln!(f, "  - id: {id}\n    sink_uri: \"blackhole://\"").unwrap();
    }
    p
}

/// Peak RSS (KiB, `VmHWM` read every millisecond while it runs), success and wall time of a
/// process. The time is taken when the process is reaped, not at the next poll.
fn peak_rss_kib(mut cmd: Command) -> (u64, bool, Duration) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let t0 = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let path = format!("/proc/{}/status", child.id());
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let poll = s.spawn(|| {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                if let Ok(s) = std::fs::read_to_string(&path) {
                    if let Some(l) = s.lines().find(|l| l.starts_with("VmHWM:")) {
                        peak = peak.max(
                            l.split_whitespace()
                                .nth(1)
                                .and_then(|v| v.parse().ok())
                                .unwrap_or(0),
                        );
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            peak
        });
        let status = child.wait().expect("wait");
        let took = t0.elapsed();
        done.store(true, Ordering::Relaxed);
        (poll.join().expect("poll"), status.success(), took)
    })
}

fn bench_memory_and_validate(rows: &mut Vec<Row>) {
    let bin = env!("CARGO_BIN_EXE_cdcform");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut sim = Command::new(bin)
        .args([
            "simulate",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--changefeeds",
            "10000",
            "--latency",
            "5ms",
            "--tick",
            "0s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("simulate");
    let url = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ids: Vec<String> = rt.block_on(async {
        let client = Client::new(cdcform::ticdc::ClientOptions::new(url.clone())).unwrap();
        for _ in 0..200 {
            if let Ok(l) = client.list_changefeeds("default", Some("all")).await {
                return l.into_iter().map(|i| i.id).collect();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("simulator did not start");
    });
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), &ids);

    let mut v = Command::new(bin);
    v.args(["validate", manifest.to_str().unwrap()]);
    let (v_rss, v_ok, v_time) = peak_rss_kib(v);
    assert!(v_ok, "validate failed");
    // In the same process: the whole load and check, against the floor of parsing the same
    // text as YAML (no typing, no checks).
    let text = std::fs::read_to_string(&manifest).unwrap();
    let t = Instant::now();
    let docs = cdcform::manifest::load::parse_documents(&manifest, &text).expect("yaml");
    let parse = t.elapsed();
    drop(docs);
    let t = Instant::now();
    let set = cdcform::manifest::load(std::slice::from_ref(&manifest), &|_| None).expect("valid");
    let full = t.elapsed();
    rows.push(Row {
        what: format!("validate, {} changefeeds (one file)", set.changefeeds.len()),
        measured: full,
        floor: parse,
        extra: format!(
            "floor = YAML parse alone; `cdcform validate` process {:.2}s, peak RSS {:.1} MiB",
            v_time.as_secs_f64(),
            v_rss as f64 / 1024.0
        ),
    });

    let mut p = Command::new(bin);
    p.args([
        "plan",
        manifest.to_str().unwrap(),
        "--server",
        &url,
        "--parallelism",
        "8",
        "--detailed-exitcode",
    ]);
    let (rss, ok, time) = peak_rss_kib(p);
    assert!(ok, "plan of 10,000 must succeed with no changes");
    let floor = LATENCY * (1 + ids.len().div_ceil(PARALLELISM)) as u32;
    rows.push(Row {
        what: format!("plan, {} changefeeds, separate process", ids.len()),
        measured: time,
        floor,
        extra: format!("peak RSS {:.1} MiB (target < 64 MiB)", rss as f64 / 1024.0),
    });
    let _ = sim.kill();
    let _ = sim.wait();
}

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    let mut rows = Vec::new();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if want("plan") {
        for n in [100, 1000, 10_000] {
            rt.block_on(bench_plan(n, &mut rows));
        }
    }
    if want("plan") || want("impact") {
        rt.block_on(bench_plan_filter_updates(100, &mut rows));
    }
    if want("policy") {
        rt.block_on(bench_policy(1000, &mut rows));
    }
    if want("apply") {
        rt.block_on(bare::apply_vs_bare(
            100,
            Duration::from_millis(50),
            &mut rows,
        ));
        for n in [100, 1000] {
            rt.block_on(bench_apply(n, Duration::from_millis(50), &mut rows));
        }
    }
    if want("memory") || want("validate") {
        bench_memory_and_validate(&mut rows);
    }
    if want("bare") {
        rt.block_on(bare::plan_vs_bare(1000, &mut rows));
    }
    if want("fleet") {
        rt.block_on(bare::fleet_vs_single(&mut rows));
    }
    if want("latency") {
        rt.block_on(bare::latency_precision(&mut rows));
    }
    if want("shared") {
        rt.block_on(bare::shared_cluster(&mut rows));
        bare::shared_processes(&mut rows);
    }
    if want("simulator") {
        rt.block_on(bare::simulator_list(&mut rows));
    }
    if want("reconcile") {
        rt.block_on(reconcile::cycle_vs_plan(1000, &mut rows));
        rt.block_on(reconcile::rss_over_cycles(100, 1000, &mut rows));
    }
    println!("\n| benchmark | measured | floor | ratio | notes |\n|---|---|---|---|---|");
    for r in &rows {
        // Below a millisecond (CPU per changefeed) the figure is shown in µs.
        let shown = |d: Duration| {
            if r.floor < Duration::from_millis(1) {
                format!("{:.1}µs", d.as_secs_f64() * 1e6)
            } else {
                format!("{:.3}s", d.as_secs_f64())
            }
        };
        println!(
            "| {} | {} | {} | {:.2}× | {} |",
            r.what,
            shown(r.measured),
            shown(r.floor),
            r.measured.as_secs_f64() / r.floor.as_secs_f64(),
            r.extra
        );
    }
}
