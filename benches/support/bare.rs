//! Ratios against a bare client written here: a reqwest client over keep-alive connections that
//! makes the same requests at the same parallelism and does nothing else (no decoding beyond
//! reading the body, no planning). What cdcform costs above it is its own overhead.
//! Also: the simulator's `--latency` precision, and shared clusters (10 managed changefeeds in
//! a cluster of 10,000 or 100,000).

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use cdcform::plan::pipeline::compute;
use cdcform::plan::PlanOptions;
use cdcform::settings::Settings;
use cdcform::simulator::{SimConfig, Simulator};
use cdcform::ticdc::Client;

use crate::{desired, Row, LATENCY};

async fn sim(n: usize, latency: Duration) -> Simulator {
    let cfg = SimConfig {
        changefeeds: n,
        latency,
        sink_check: false,
        ..SimConfig::default()
    };
    Simulator::start(cfg, "127.0.0.1:0")
        .await
        .expect("simulator")
}

fn settings(sim: &Simulator, parallelism: usize) -> Settings {
    let mut s = Settings::for_server(&sim.url());
    s.parallelism = parallelism;
    s.client.timeout = Duration::from_secs(60);
    s
}

/// One timed plan (`compute` as the commands run it), with its result.
async fn timed_plan(
    st: &Settings,
    client: &Client,
    want: &[cdcform::manifest::DesiredChangefeed],
) -> (Duration, cdcform::plan::Plan) {
    let t = Instant::now();
    let (plan, _) = compute(
        st,
        client,
        want,
        &PlanOptions::default(),
        Duration::from_secs(120),
    )
    .await
    .expect("plan");
    (t.elapsed(), plan)
}

/// CPU time used so far by every thread of this process (nanosecond counters of
/// `/proc/self/task/*/schedstat`).
fn process_cpu() -> Duration {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    let ns: u64 = tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ns)
}

fn bare() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .no_proxy()
        .build()
        .unwrap()
}

async fn fetch(c: &reqwest::Client, req: reqwest::RequestBuilder) -> usize {
    let _ = c;
    req.send().await.unwrap().bytes().await.unwrap().len()
}

/// The requests of a classic plan: status, TSO, list and the credentials check at once, then
/// one `meta_info` per changefeed, `parallelism` in flight.
async fn bare_plan(c: &reqwest::Client, base: &str, ids: &[String], parallelism: usize) {
    let probe =
        format!("{base}/api/v2/changefeeds/cdcform_credential_check/pause?namespace=default");
    tokio::join!(
        fetch(c, c.get(format!("{base}/api/v2/status"))),
        fetch(
            c,
            c.post(format!("{base}/api/v2/tso"))
                .json(&serde_json::json!({}))
        ),
        fetch(
            c,
            c.get(format!(
                "{base}/api/v2/changefeeds?namespace=default&state=all"
            ))
        ),
        fetch(c, c.post(probe)),
    );
    stream::iter(ids.iter().map(|id| {
        let url = format!("{base}/api/v2/changefeeds/{id}/meta_info?namespace=default");
        async move { fetch(c, c.get(url)).await }
    }))
    .buffer_unordered(parallelism)
    .for_each(|_| async {})
    .await;
}

/// Plan of `n` unchanged changefeeds against the bare client, at several parallelisms; the
/// best of five runs of each (both sides, after one warm-up), so a noisy neighbour does not
/// pick the winner.
pub async fn plan_vs_bare(n: usize, rows: &mut Vec<Row>) {
    let sim = sim(n, LATENCY).await;
    let base = sim.url();
    let ids: Vec<String> = (1..=n).map(|i| format!("cf-{i:05}")).collect();
    let want = desired(&ids, None);
    let c = bare();
    for p in [8usize, 32, 64] {
        let s = settings(&sim, p);
        let client = Client::new(s.client.clone()).unwrap();
        let mut ours = Duration::MAX;
        let mut theirs = Duration::MAX;
        // Warm both: connection pools, the defaults cache, the allocator's arenas.
        timed_plan(&s, &client, &want).await;
        bare_plan(&c, &base, &ids, p).await;
        let mut cpu_above = Vec::new();
        for _ in 0..5 {
            let (took, bare_took, above) = cpu_pair(&s, &client, &want, &c, &base, &ids, p).await;
            ours = ours.min(took);
            theirs = theirs.min(bare_took);
            cpu_above.push(above);
        }
        if p == 8 {
            // The simulator runs in this process for both, so the difference is cdcform's own;
            // the median of 5 pairs, each taken back to back.
            cpu_above.sort();
            let per = cpu_above[2] / n as u32;
            rows.push(Row {
                what: format!("CPU per unchanged changefeed above the bare client ({n})"),
                measured: per,
                floor: Duration::from_micros(50),
                extra: "floor = the 50 µs budget; CPU of every thread of the process".into(),
            });
        }
        let rounds = 1 + n.div_ceil(p);
        rows.push(Row {
            what: format!("plan, {n} unchanged, parallelism {p}"),
            measured: ours,
            floor: theirs,
            extra: format!(
                "floor = bare client, same requests; latency×rounds model {:.3}s",
                (LATENCY * rounds as u32).as_secs_f64()
            ),
        });
    }
    sim.shutdown().await;
    plan_vs_bare_distinct(n, rows).await;
}

/// One plan of unchanged changefeeds and one bare run of the same requests, back to back:
/// their wall times and the process CPU the plan took above the bare client.
async fn cpu_pair(
    s: &Settings,
    client: &Client,
    want: &[cdcform::manifest::DesiredChangefeed],
    c: &reqwest::Client,
    base: &str,
    ids: &[String],
    p: usize,
) -> (Duration, Duration, Duration) {
    let c0 = process_cpu();
    let (took, plan) = timed_plan(s, client, want).await;
    let c1 = process_cpu();
    assert_eq!(
        plan.summary.unchanged,
        ids.len(),
        "{:?}",
        plan.entries.first()
    );
    let t = Instant::now();
    bare_plan(c, base, ids, p).await;
    let bare_took = t.elapsed();
    let bare_cpu = process_cpu() - c1;
    (took, bare_took, (c1 - c0).saturating_sub(bare_cpu))
}

/// The manifest config of changefeed `i` of the distinct-config row: its own filter rule and
/// its own `changefeed_error_stuck_duration`, so no two changefeeds share a config.
fn distinct_config(i: usize) -> serde_json::Value {
    serde_json::json!({
        "filter": { "rules": [format!("db_{i:05}.*")] },
        "changefeed_error_stuck_duration": (1800 + i as u64) * 1_000_000_000,
    })
}

/// [`plan_vs_bare`]'s CPU row when every changefeed has a config of its own (created with
/// it, and the manifest says the same): nothing a plan computes for one changefeed can be
/// reused for another.
async fn plan_vs_bare_distinct(n: usize, rows: &mut Vec<Row>) {
    let sim = sim(0, LATENCY).await;
    let base = sim.url();
    let ids: Vec<String> = (1..=n).map(|i| format!("cf-{i:05}")).collect();
    let s = settings(&sim, 8);
    let client = Client::new(s.client.clone()).unwrap();
    stream::iter(ids.iter().enumerate().map(|(i, id)| {
        let cfg = cdcform::ticdc::models::ChangefeedConfig {
            changefeed_id: id.clone(),
            sink_uri: "blackhole://".into(),
            replica_config: Some(distinct_config(i)),
            ..Default::default()
        };
        let client = &client;
        async move {
            client
                .create_changefeed("default", &cfg)
                .await
                .expect("create")
        }
    }))
    .buffer_unordered(64)
    .for_each(|_| async {})
    .await;
    let mut want = desired(&ids, None);
    for (i, d) in want.iter_mut().enumerate() {
        d.replica_config = Some(distinct_config(i));
        d.replica_config_template = d.replica_config.clone();
    }
    let c = bare();
    timed_plan(&s, &client, &want).await;
    bare_plan(&c, &base, &ids, 8).await;
    let mut cpu_above = Vec::new();
    for _ in 0..5 {
        cpu_above.push(cpu_pair(&s, &client, &want, &c, &base, &ids, 8).await.2);
    }
    cpu_above.sort();
    rows.push(Row {
        what: format!(
            "CPU per unchanged changefeed above the bare client ({n}, each config distinct)"
        ),
        measured: cpu_above[2] / n as u32,
        floor: Duration::from_micros(50),
        extra:
            "floor = the 50 µs budget; every changefeed has its own filter rule and stuck duration"
                .into(),
    });
    sim.shutdown().await;
}

/// How close the simulator's `--latency` is to what it says: the mean added time per request,
/// sequentially and with 64 in flight, against a latency-free run of the same requests.
pub async fn latency_precision(rows: &mut Vec<Row>) {
    let c = bare();
    let mut line = Vec::new();
    for conc in [1usize, 64] {
        let mut per_request = [Duration::ZERO; 2];
        for (i, lat) in [Duration::ZERO, LATENCY].into_iter().enumerate() {
            let s = sim(0, lat).await;
            let url = format!("{}/api/v2/status", s.url());
            let reqs = 64 * 8;
            // Warm the pool.
            fetch(&c, c.get(&url)).await;
            let t = Instant::now();
            stream::iter((0..reqs).map(|_| fetch(&c, c.get(&url))))
                .buffer_unordered(conc)
                .for_each(|_| async {})
                .await;
            per_request[i] = t.elapsed() * conc as u32 / reqs as u32;
            s.shutdown().await;
        }
        let added = per_request[1].saturating_sub(per_request[0]);
        line.push(format!(
            "{conc} in flight: {:.3} ms added per request",
            added.as_secs_f64() * 1000.0
        ));
        if conc == 1 {
            rows.push(Row {
                what: "simulator --latency 5ms, per request".into(),
                measured: added,
                floor: LATENCY,
                extra: String::new(),
            });
        }
    }
    if let Some(r) = rows.last_mut() {
        r.extra = line.join("; ");
    }
}

/// A repository managing 10 changefeeds of a shared cluster, against the same plan on a cluster
/// that holds only those 10.
pub async fn shared_cluster(rows: &mut Vec<Row>) {
    let ids: Vec<String> = (1..=10).map(|i| format!("cf-{i:05}")).collect();
    let want = desired(&ids, None);
    let mut alone = Duration::MAX;
    {
        let s = sim(10, LATENCY).await;
        let st = settings(&s, 8);
        let client = Client::new(st.client.clone()).unwrap();
        for _ in 0..5 {
            alone = alone.min(timed_plan(&st, &client, &want).await.0);
        }
        s.shutdown().await;
    }
    let c = bare();
    // The repository owns its 10 ids (`manage`); the rest of the cluster is someone else's.
    let owned = cdcform::settings::IdGlobs::new(&ids).expect("plain ids");
    for n in [10_000usize, 100_000] {
        let s = sim(n, LATENCY).await;
        let mut st = settings(&s, 8);
        st.manage = Some(owned.clone());
        let client = Client::new(st.client.clone()).unwrap();
        let (mut best, mut theirs) = (Duration::MAX, Duration::MAX);
        // Best of 5, as the floor above.
        for _ in 0..5 {
            let (took, plan) = timed_plan(&st, &client, &want).await;
            best = best.min(took);
            assert_eq!(plan.summary.unmanaged, n - 10);
            let t = Instant::now();
            bare_plan(&c, &s.url(), &ids, 8).await;
            theirs = theirs.min(t.elapsed());
        }
        rows.push(Row {
            what: format!("plan, 10 managed in a cluster of {n}"),
            measured: best,
            floor: alone,
            extra: "floor = the same plan against a cluster of only those 10".into(),
        });
        rows.push(Row {
            what: format!("plan, 10 managed in a cluster of {n}, against a bare client"),
            measured: best,
            floor: theirs,
            extra: "floor = bare client: the same list (read whole) and 10 reads".into(),
        });
        s.shutdown().await;
    }
}

/// The simulator's list of 100,000 changefeeds (no added latency) read whole by the bare client,
/// against the same body served from memory by a plain axum route: what building the list costs
/// the simulator above moving the bytes.
pub async fn simulator_list(rows: &mut Vec<Row>) {
    let n = 100_000;
    let s = sim(n, Duration::ZERO).await;
    let c = bare();
    let url = format!("{}/api/v2/changefeeds?namespace=default&state=all", s.url());
    let body = c.get(&url).send().await.unwrap().bytes().await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).expect("list json");
    assert_eq!(v["total"], n);
    let served = body.clone();
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let b = served.clone();
            async move { ([("content-type", "application/json; charset=utf-8")], b) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fixed = format!("http://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let (mut theirs, mut floor) = (Duration::MAX, Duration::MAX);
    for _ in 0..7 {
        let t = Instant::now();
        assert_eq!(fetch(&c, c.get(&url)).await, body.len());
        theirs = theirs.min(t.elapsed());
        let t = Instant::now();
        assert_eq!(fetch(&c, c.get(&fixed)).await, body.len());
        floor = floor.min(t.elapsed());
    }
    server.abort();
    rows.push(Row {
        what: format!("simulator list of {n}, read whole"),
        measured: theirs,
        floor,
        extra: format!(
            "floor = the same {:.1} MB body served from memory",
            body.len() as f64 / 1e6
        ),
    });
    s.shutdown().await;
}

/// `cdcform plan`, `status --managed` and `export --id` as processes, for a repository managing
/// 10 changefeeds of a cluster of 10,000 and 100,000 (simulator in its own process): time (best
/// of 3) against the same command on a cluster of only those 10, and peak RSS (the most of the
/// 3).
pub fn shared_processes(rows: &mut Vec<Row>) {
    let mut floors = Vec::new();
    for n in [10, 10_000, 100_000] {
        let runs = shared_commands(n);
        if n == 10 {
            floors = runs.into_iter().map(|(_, time, _)| time).collect();
            continue;
        }
        for ((what, time, rss), floor) in runs.into_iter().zip(&floors) {
            rows.push(Row {
                what: format!("{what}, 10 managed of {n}, separate process"),
                measured: time,
                floor: *floor,
                extra: format!(
                    "floor = the same command on a cluster of only those 10; peak RSS {:.1} MiB",
                    rss as f64 / 1024.0
                ),
            });
        }
    }
}

/// The three commands against a simulator of `n` changefeeds: (what, best time, peak RSS KiB).
fn shared_commands(n: usize) -> Vec<(&'static str, Duration, u64)> {
    let bin = env!("CARGO_BIN_EXE_cdcform");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut sim = std::process::Command::new(bin)
        .args([
            "simulate",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--changefeeds",
            &n.to_string(),
            "--latency",
            "5ms",
            "--tick",
            "0s",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("simulate");
    let url = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = Client::new(cdcform::ticdc::ClientOptions::new(url.clone())).unwrap();
        for _ in 0..600 {
            if client.status().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("simulator did not start");
    });
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (1..=10).map(|i| format!("cf-{i:05}")).collect();
    let manifest = crate::write_manifest(dir.path(), &ids);
    std::fs::write(
        dir.path().join("cdcform.toml"),
        format!("manage = [\"cf-0000*\", \"cf-00010\"]\nserver = \"{url}\"\n"),
    )
    .unwrap();
    let mut out = Vec::new();
    for (what, args) in [
        (
            "plan",
            vec!["plan", manifest.to_str().unwrap(), "--detailed-exitcode"],
        ),
        ("status --managed", vec!["status", "--managed"]),
        ("export --id 'cf-0000*'", vec!["export", "--id", "cf-0000*"]),
    ] {
        let (mut best, mut peak) = (Duration::MAX, 0);
        for _ in 0..3 {
            let mut c = std::process::Command::new(bin);
            c.current_dir(dir.path()).args(&args);
            let (rss, ok, time) = crate::peak_rss_kib(c);
            assert!(ok, "{what} failed");
            best = best.min(time);
            peak = peak.max(rss);
        }
        out.push((what, best, peak));
    }
    let _ = sim.kill();
    let _ = sim.wait();
    out
}

/// Planning 3 clusters of 1,000 changefeeds in one run, against the slowest of the three
/// planned alone (the clusters are read concurrently, so the run should cost about the slowest).
pub async fn fleet_vs_single(rows: &mut Vec<Row>) {
    let n = 1000;
    let sims = vec![
        sim(n, LATENCY).await,
        sim(n, LATENCY).await,
        sim(n, LATENCY).await,
    ];
    let ids: Vec<String> = (1..=n).map(|i| format!("cf-{i:05}")).collect();
    let want = desired(&ids, None);
    let mut slowest = Duration::ZERO;
    for s in &sims {
        let st = settings(s, 8);
        let client = Client::new(st.client.clone()).unwrap();
        let mut best = Duration::MAX;
        for _ in 0..2 {
            best = best.min(timed_plan(&st, &client, &want).await.0);
        }
        slowest = slowest.max(best);
    }
    let mut together = Duration::MAX;
    for _ in 0..2 {
        let clients: Vec<(Settings, Client)> = sims
            .iter()
            .map(|s| {
                let st = settings(s, 8);
                let c = Client::new(st.client.clone()).unwrap();
                (st, c)
            })
            .collect();
        let opts = PlanOptions::default();
        let t = Instant::now();
        let runs = clients
            .iter()
            .map(|(st, c)| compute(st, c, &want, &opts, Duration::from_secs(120)));
        for r in futures::future::join_all(runs).await {
            r.expect("plan");
        }
        together = together.min(t.elapsed());
    }
    rows.push(Row {
        what: "plan, 3 clusters of 1000 in one run".into(),
        measured: together,
        floor: slowest,
        extra: "floor = the slowest of the three planned alone".into(),
    });
    for s in sims {
        s.shutdown().await;
    }
}

/// One changefeed's update as a bare client makes it: the calls of cdcform's sequence (a read
/// before the first write, pause, wait for `stopped`, PUT, resume, wait for `normal` with the
/// checkpoint moving), polling every 10 ms, decoding nothing but the state it waits for.
async fn bare_update(c: &reqwest::Client, base: &str, id: &str, body: &serde_json::Value) {
    let cf = format!("{base}/api/v2/changefeeds/{id}");
    let q = "?namespace=default";
    let read = |url: String| async move {
        let b = c.get(url).send().await.unwrap().bytes().await.unwrap();
        serde_json::from_slice::<serde_json::Value>(&b).unwrap()
    };
    let since = read(format!("{cf}/meta_info{q}")).await["checkpoint_ts"]
        .as_u64()
        .unwrap_or(0);
    let url = format!("{cf}/status{q}");
    fetch(c, c.post(format!("{cf}/pause{q}"))).await;
    while read(url.clone()).await["state"] != "stopped" {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    fetch(c, c.put(format!("{cf}{q}")).json(body)).await;
    fetch(
        c,
        c.post(format!("{cf}/resume{q}"))
            .json(&serde_json::json!({})),
    )
    .await;
    loop {
        let s = read(url.clone()).await;
        let moving = s["checkpoint_ts"].as_u64().unwrap_or(0) > since;
        if (s["state"] == "normal" || s["state"] == "warning") && moving {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Apply of `n` config updates against a bare client making the same calls (and, after all
/// sequences, the same one read per changefeed that verifies it), on a fresh simulator each.
pub async fn apply_vs_bare(n: usize, tick: Duration, rows: &mut Vec<Row>) {
    use cdcform::apply::{apply, ApplyOptions};
    let want = desired(
        &(1..=n).map(|i| format!("cf-{i:05}")).collect::<Vec<_>>(),
        Some(serde_json::json!({"mounter": {"worker_num": 8}})),
    );
    // A fresh simulator (`crate::start`, parallelism 8), past the first second when fresh
    // checkpoints still sit at their start_ts, and the plan of the updates.
    let fresh = || async {
        let (sim, st, client, _) = crate::start(n, tick).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (plan, _) = compute(
            &st,
            &client,
            &want,
            &PlanOptions::default(),
            Duration::from_secs(120),
        )
        .await
        .expect("plan");
        assert_eq!(plan.summary.update, n);
        (sim, client, plan)
    };
    // The bare client, with the bodies cdcform would send.
    let (sim, _, plan) = fresh().await;
    let base = sim.url();
    let c = bare();
    let work: Vec<(String, serde_json::Value)> = plan
        .entries
        .iter()
        .map(|e| {
            let x = e.exec.as_ref().unwrap();
            let body = serde_json::json!({"replica_config": x.config});
            (e.key.id.clone(), body)
        })
        .collect();
    let t = Instant::now();
    stream::iter(work.iter().map(|(id, b)| bare_update(&c, &base, id, b)))
        .buffer_unordered(8)
        .for_each(|_| async {})
        .await;
    stream::iter(work.iter().map(|(id, _)| {
        let url = format!("{base}/api/v2/changefeeds/{id}/meta_info?namespace=default");
        fetch(&c, c.get(url))
    }))
    .buffer_unordered(8)
    .for_each(|_| async {})
    .await;
    let theirs = t.elapsed();
    sim.shutdown().await;
    // cdcform.
    let (sim, client, plan) = fresh().await;
    let opts = ApplyOptions {
        parallelism: 8,
        wait_timeout: Duration::from_secs(300),
        ..ApplyOptions::default()
    };
    let t = Instant::now();
    let report = apply(&client, &plan, &opts, &|_: &str| {}).await;
    let ours = t.elapsed();
    assert!(report.all_ok(), "apply failed in the benchmark");
    sim.shutdown().await;
    rows.push(Row {
        what: format!(
            "apply, {n} updates, parallelism 8 (tick {}ms)",
            tick.as_millis()
        ),
        measured: ours,
        floor: theirs,
        extra: "floor = bare client, same calls, 10 ms polls".into(),
    });
}
