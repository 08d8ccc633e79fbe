//! Owner elections, refused connections, rolling upgrades and concurrent applies: the simulator's
//! outage faults answer as TiCDC does, and plan/apply ride through them without leaving a
//! changefeed paused.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cdcform::apply::{apply, ApplyOptions, ApplyReport};
use cdcform::manifest::DesiredChangefeed;
use cdcform::plan::pipeline::compute;
use cdcform::plan::{Plan, PlanOptions};
use cdcform::settings::Settings;
use cdcform::simulator::faults::{OutageKind, Rolling};
use cdcform::simulator::{FaultSpec, SimConfig, Simulator};
use cdcform::ticdc::{Client, ClientOptions};

use crate::harness::*;

/// A client that gives up at once, to see the raw answers.
fn raw_client(url: &str) -> Client {
    let mut o = ClientOptions::new(url);
    o.retry_for = Duration::ZERO;
    o.timeout = Duration::from_secs(2);
    Client::new(o).unwrap()
}

// tiflow v8.5.0 cdc/capture/capture.go `GetOwnerCaptureInfo` → `ErrOwnerNotFound`, answered 500
// by cdc/api/middleware/middleware.go `ErrorHandleMiddleware`; `status` and `tso` are not
// forwarded to the owner (cdc/api/v2/api.go `RegisterOpenAPIV2Routes`).
#[tokio::test]
async fn simulator_no_owner_answers_500_owner_not_found_on_owner_routes() {
    for cfg in [classic(), newarch()] {
        let s = sim(cfg).await;
        let c = raw_client(&s.url());
        c.list_changefeeds("default", None).await.unwrap();
        s.start_outage(Duration::from_millis(600), OutageKind::NoOwner);
        let e = c.list_changefeeds("default", None).await.unwrap_err();
        assert_eq!(e.status(), Some(500), "{e}");
        assert_eq!(e.code(), Some("CDC:ErrOwnerNotFound"), "{e}");
        assert!(c.health().await.is_err());
        let st = c.status().await.expect("status is served locally");
        assert!(!st.is_owner);
        c.tso().await.expect("tso is served locally");
        assert_eq!(s.owner(), None);
        tokio::time::sleep(Duration::from_millis(700)).await;
        c.list_changefeeds("default", None).await.unwrap();
        assert!(c.status().await.unwrap().is_owner);
        assert!(s.owner().is_some());
        s.shutdown().await;
    }
}

#[tokio::test]
async fn simulator_refused_outage_closes_and_reopens_the_port() {
    let s = sim(classic()).await;
    let c = raw_client(&s.url());
    c.status().await.unwrap();
    s.start_outage(Duration::from_millis(500), OutageKind::Refused);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let e = c.status().await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(
        std::net::TcpStream::connect(s.addr()).is_err(),
        "port still open"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    c.status().await.expect("the port reopened");
    s.shutdown().await;
}

#[tokio::test]
async fn simulator_outage_at_the_nth_request() {
    let cfg = SimConfig {
        faults: Some(FaultSpec::parse("outage=3:400ms").unwrap()),
        ..classic()
    };
    let s = sim(cfg).await;
    let c = raw_client(&s.url());
    c.list_changefeeds("default", None).await.unwrap();
    c.list_changefeeds("default", None).await.unwrap();
    let e = c.list_changefeeds("default", None).await.unwrap_err();
    assert_eq!(e.code(), Some("CDC:ErrOwnerNotFound"));
    tokio::time::sleep(Duration::from_millis(450)).await;
    c.list_changefeeds("default", None).await.unwrap();
    s.shutdown().await;
}

#[tokio::test]
async fn simulator_faults_spec_refuses_connections_and_rolls_captures() {
    let cfg = SimConfig {
        faults: Some(FaultSpec::parse("outage-refused=2:400ms,rolling-upgrade=3:5s:1s").unwrap()),
        ..classic()
    };
    let s = sim(cfg).await;
    let c = raw_client(&s.url());
    assert_eq!(c.list_captures().await.unwrap().len(), 3);
    let e = c.status().await.unwrap_err();
    assert!(
        matches!(e, cdcform::ticdc::ClientError::Transport { .. }),
        "{e}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let caps = c.list_captures().await.expect("the port reopened");
    assert_eq!(caps.iter().filter(|c| c.is_owner).count(), 1);
    s.shutdown().await;
}

#[tokio::test]
async fn simulator_rolling_upgrade_moves_the_owner_each_restart() {
    let s = sim(classic()).await;
    let c = raw_client(&s.url());
    s.start_rolling_upgrade(Rolling {
        captures: 3,
        every: Duration::from_millis(300),
        election: Duration::from_millis(150),
    });
    let mut owners = vec![];
    let t0 = Instant::now();
    while !s.rolling_upgrade_done() {
        assert!(t0.elapsed() < Duration::from_secs(5));
        if let Ok(caps) = c.list_captures().await {
            assert_eq!(caps.iter().filter(|c| c.is_owner).count(), 1);
            let o = caps.into_iter().find(|c| c.is_owner).unwrap().id;
            if owners.last() != Some(&o) {
                owners.push(o);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let caps = c.list_captures().await.unwrap();
    assert_eq!(caps.len(), 3);
    let last = caps.into_iter().find(|c| c.is_owner).unwrap().id;
    if owners.last() != Some(&last) {
        owners.push(last);
    }
    // Three restarts of the owner: four owners in turn, the first one back at the end.
    assert_eq!(owners.len(), 4, "{owners:?}");
    assert_eq!(owners[0], owners[3]);
    s.shutdown().await;
}

// ---- plan and apply through outages ----

/// Settings for a run that must ride through an outage: the default `--retry-for` (60 s).
fn patient(s: &Simulator) -> Settings {
    let mut set = settings(s);
    set.client.retry_for = cdcform::retry::DEFAULT_RETRY_FOR;
    set
}

fn cf_yaml(id: &str, workers: u32) -> String {
    format!(
        "  - id: {id}\n    sink_uri: \"blackhole://\"\n    replica_config:\n      mounter:\n        worker_num: {workers}\n"
    )
}

fn fleet(ids: impl Iterator<Item = String>, workers: u32) -> Vec<DesiredChangefeed> {
    let mut y = String::from("changefeeds:\n");
    for id in ids {
        y += &cf_yaml(&id, workers);
    }
    manifests(&y)
}

fn ids(n: usize) -> impl Iterator<Item = String> {
    (0..n).map(|i| format!("cf-{i:03}"))
}

/// Plan and apply as the commands do, with the given settings; the progress lines are kept.
async fn plan_and_apply(
    set: &Settings,
    desired: &[DesiredChangefeed],
    opts: &ApplyOptions,
) -> (Plan, ApplyReport, Vec<String>) {
    let client = Client::new(set.client.clone()).unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    client.set_progress(Arc::new(move |l: &str| {
        sink.lock().unwrap().push(l.to_string())
    }));
    let (plan, _) = compute(
        set,
        &client,
        desired,
        &PlanOptions::default(),
        opts.wait_timeout,
    )
    .await
    .expect("plan rides through the outage");
    let progress = |l: &str| lines.lock().unwrap().push(l.to_string());
    let report = apply(&client, &plan, opts, &progress).await;
    let lines = lines.lock().unwrap().clone();
    (plan, report, lines)
}

/// Every changefeed of `ids` runs with `worker_num: workers` (the stored, owner-loaded config).
fn assert_converged(s: &Simulator, ids: impl Iterator<Item = String>, workers: u64, ctx: &str) {
    for id in ids {
        let st = s
            .stored("default", &id)
            .unwrap_or_else(|| panic!("{ctx}: {id} missing"));
        assert_eq!(st["state"], "normal", "{ctx}: {id} is {}", st["state"]);
        assert_eq!(
            st["config"]["mounter"]["worker_num"].as_u64(),
            Some(workers),
            "{ctx}: {id} has {}",
            st["config"]["mounter"]
        );
    }
}

/// Changefeeds that are paused once the owner has carried out what it was asked (a pause sent
/// just before an outage is applied on the next owner tick).
async fn paused(s: &Simulator, ids: impl Iterator<Item = String>) -> Vec<String> {
    let t0 = Instant::now();
    while s.owner().is_none() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the outage never ended"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Two owner ticks, then a read: pending admin jobs are applied.
    tokio::time::sleep(Duration::from_millis(50)).await;
    client(s)
        .list_changefeeds("default", Some("all"))
        .await
        .unwrap();
    ids.filter(|id| {
        let st = s.stored("default", id);
        assert!(
            st.as_ref().is_some_and(|st| st["pending_ops"] == 0),
            "{id}: {st:?}"
        );
        st.is_some_and(|st| st["state"] == "stopped")
    })
    .collect()
}

type RequestMatcher = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;
type Phase = (&'static str, OutageKind, RequestMatcher);

/// The phases of an apply of config updates, each as the first request that belongs to it.
fn phases() -> Vec<Phase> {
    let resumed = Arc::new(AtomicBool::new(false));
    let health = {
        let resumed = resumed.clone();
        move |m: &str, p: &str| {
            if m == "POST" && p.ends_with("/resume") {
                resumed.store(true, Ordering::SeqCst);
            }
            resumed.load(Ordering::SeqCst) && m == "GET" && p.ends_with("/status")
        }
    };
    let cf_status = |m: &str, p: &str| {
        m == "GET" && p.starts_with("/api/v2/changefeeds/") && p.ends_with("/status")
    };
    let no = OutageKind::NoOwner;
    vec![
        ("first read", no, Arc::new(|_: &str, _: &str| true)),
        (
            "list",
            no,
            Arc::new(|m: &str, p: &str| m == "GET" && p == "/api/v2/changefeeds"),
        ),
        (
            "reads",
            no,
            Arc::new(|_: &str, p: &str| p.ends_with("/meta_info")),
        ),
        (
            "pause",
            no,
            Arc::new(|m: &str, p: &str| m == "POST" && p.ends_with("/pause")),
        ),
        ("wait", no, Arc::new(cf_status)),
        ("PUT", no, Arc::new(|m: &str, _: &str| m == "PUT")),
        (
            "resume",
            no,
            Arc::new(|m: &str, p: &str| m == "POST" && p.ends_with("/resume")),
        ),
        ("health wait", no, Arc::new(health)),
        (
            "pause, refused",
            OutageKind::Refused,
            Arc::new(|m: &str, p: &str| m == "POST" && p.ends_with("/pause")),
        ),
        (
            "PUT, refused",
            OutageKind::Refused,
            Arc::new(|m: &str, _: &str| m == "PUT"),
        ),
    ]
}

/// After an apply through an outage: it met the outage, said so on an election, and the
/// changefeeds `ids(n)` hold config `version`, with nothing left to plan.
async fn rode_through(
    s: &Simulator,
    name: &str,
    kind: OutageKind,
    lines: &[String],
    n: usize,
    version: u32,
) {
    assert!(
        s.faults_injected() > 0,
        "outage at {name}: never met the outage"
    );
    if kind == OutageKind::NoOwner {
        assert!(
            lines
                .iter()
                .any(|l| l.contains("owner election in progress")
                    && l.contains("retrying for up to")),
            "outage at {name}: no progress line about the election: {lines:#?}"
        );
    }
    assert_converged(s, ids(n), version.into(), name);
    assert_empty(&plan(s, &fleet(ids(n), version)).await, name);
}

/// One phase: six running changefeeds get a new config while an 8 s outage starts at the
/// phase's first request.
async fn outage_at(name: &'static str, kind: OutageKind, matcher: RequestMatcher) {
    let s = sim(classic()).await;
    let set = patient(&s);
    converge(&s, &fleet(ids(6), 1)).await;
    s.outage_when(move |m, p| matcher(m, p), Duration::from_secs(8), kind);
    let t0 = Instant::now();
    let (_, report, lines) = plan_and_apply(&set, &fleet(ids(6), 4), &apply_options()).await;
    assert!(
        report.all_ok(),
        "outage at {name}: apply failed:\n{}",
        cdcform::apply::summary_text(&report)
    );
    rode_through(&s, name, kind, &lines, 6, 4).await;
    println!(
        "outage at {name} ({kind:?}): converged in {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_8s_outage_at_every_phase_of_an_apply_ends_converged() {
    // Concurrently, each against its own simulator: the module's run time stays near one outage.
    let runs = phases()
        .into_iter()
        .map(|(name, kind, m)| outage_at(name, kind, m));
    futures::future::join_all(runs).await;
}

#[tokio::test]
async fn a_plan_during_an_election_succeeds() {
    let s = sim(classic()).await;
    converge(&s, &fleet(ids(3), 1)).await;
    let expected = plan(&s, &fleet(ids(3), 2)).await;
    s.start_outage(Duration::from_secs(3), OutageKind::NoOwner);
    let set = patient(&s);
    let client = Client::new(set.client.clone()).unwrap();
    let (p, _) = compute(
        &set,
        &client,
        &fleet(ids(3), 2),
        &PlanOptions::default(),
        Duration::from_secs(120),
    )
    .await
    .expect("the plan waits the election out");
    assert!(s.faults_injected() > 0);
    assert_eq!(p.summary, expected.summary);
    assert!(p.unknown().is_empty());
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_upgrade_of_3_captures_during_an_apply_of_100_changes_converges_in_one_run() {
    let s = sim(classic()).await;
    converge(&s, &fleet(ids(100), 1)).await;
    // Each of 3 captures restarts in turn, 0.7 s apart; each time the owner, so a 0.5 s
    // election follows and the owner moves.
    s.start_rolling_upgrade(Rolling {
        captures: 3,
        every: Duration::from_millis(700),
        election: Duration::from_millis(500),
    });
    let (_, report, _) = plan_and_apply(&patient(&s), &fleet(ids(100), 2), &apply_options()).await;
    assert!(
        report.all_ok(),
        "apply failed:\n{}",
        cdcform::apply::summary_text(&report)
    );
    assert_eq!(report.succeeded(), 100);
    assert!(s.faults_injected() > 0, "the apply never met an election");
    assert_converged(&s, ids(100), 2, "rolling upgrade");
    while !s.rolling_upgrade_done() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_empty(
        &plan(&s, &fleet(ids(100), 2)).await,
        "after the rolling upgrade",
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_25_percent_transient_failures_300_changes_converge_within_3_runs_never_paused() {
    // 1 − 0.92·0.92·0.94·0.94 ≈ 25% of requests fail: 500, 503, a cut connection (half of them
    // after the request was carried out), or an owner change.
    let cfg = SimConfig {
        faults: Some(
            FaultSpec::parse("seed=25,http500=0.08,http503=0.08,drop=0.06,owner-change=0.06")
                .unwrap(),
        ),
        ..classic()
    };
    let s = sim(cfg).await;
    s.set_faults_enabled(false);
    converge(&s, &fleet(ids(300), 1)).await;
    s.set_faults_enabled(true);
    let desired = fleet(ids(300), 2);
    let opts = ApplyOptions {
        parallelism: 16,
        ..apply_options()
    };
    let mut runs = 0;
    loop {
        runs += 1;
        let (_, report, _) = plan_and_apply(&patient(&s), &desired, &opts).await;
        let left = paused(&s, ids(300)).await;
        assert!(left.is_empty(), "run {runs} left paused: {left:?}");
        assert!(report.entries.iter().all(|e| !e.left_paused));
        println!(
            "run {runs}: {} succeeded, {} failed, {} faults injected so far",
            report.succeeded(),
            report.failed(),
            s.faults_injected()
        );
        if report.all_ok() {
            break;
        }
        assert!(
            runs < 3,
            "not converged after 3 runs:\n{}",
            cdcform::apply::summary_text(&report)
        );
    }
    s.set_faults_enabled(false);
    assert_converged(&s, ids(300), 2, "25% faults");
    assert_empty(&plan(&s, &desired).await, "after converging under faults");
    s.shutdown().await;
}

// ---- interrupts during an outage, through the binary ----

/// `cdcform apply` on four running changefeeds getting a new config, in the background.
fn spawn_apply(s: &Simulator, dir: &std::path::Path) -> std::process::Child {
    std::fs::write(dir.join("cf.yaml"), {
        let mut y = String::from("changefeeds:\n");
        for id in ids(4) {
            y += &cf_yaml(&id, 7);
        }
        y
    })
    .unwrap();
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("cdcform"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("CDCFORM_")) {
        cmd.env_remove(k);
    }
    cmd.env("NO_COLOR", "1")
        .args([
            "apply",
            "--auto-approve",
            "--wait-timeout",
            "30s",
            "--server",
        ])
        .arg(s.url())
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Send SIGTERM `n` times, a little apart (signals arriving together may be counted once).
async fn sigterm(child: &std::process::Child, n: usize) {
    for _ in 0..n {
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill failed");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Arm an outage at the first PUT (every changefeed is paused by then), start the apply, and
/// send `signals` SIGTERMs once the outage is on. Returns (exit code, stdout + stderr).
async fn interrupted_apply(signals: usize, outage: Duration) -> (Simulator, i32, String) {
    let s = sim(classic()).await;
    converge(&s, &fleet(ids(4), 1)).await;
    s.outage_when(|m, _| m == "PUT", outage, OutageKind::NoOwner);
    let dir = tempfile::tempdir().unwrap();
    let child = spawn_apply(&s, dir.path());
    let t0 = Instant::now();
    while s.owner().is_some() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the apply never reached a PUT"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sigterm(&child, signals).await;
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (s, out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn sigterm_during_an_outage_finishes_the_sequences_in_flight() {
    let (s, code, text) = interrupted_apply(1, Duration::from_secs(4)).await;
    assert!(text.contains("Interrupted"), "{text}");
    assert!(paused(&s, ids(4)).await.is_empty(), "left paused:\n{text}");
    assert_eq!(code, 0, "{text}");
    assert_converged(&s, ids(4), 7, "one SIGTERM");
    s.shutdown().await;
}

#[tokio::test]
async fn a_second_sigterm_aborts_but_still_resumes_what_was_paused() {
    let (s, code, text) = interrupted_apply(2, Duration::from_secs(4)).await;
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("aborted by a second interrupt"), "{text}");
    assert!(text.contains("resumed it with its old config"), "{text}");
    assert!(!text.contains("LEFT PAUSED"), "{text}");
    assert!(paused(&s, ids(4)).await.is_empty(), "left paused:\n{text}");
    s.shutdown().await;
}

#[tokio::test]
async fn a_third_sigterm_names_exactly_the_changefeeds_left_paused() {
    let (s, code, text) = interrupted_apply(3, Duration::from_secs(8)).await;
    assert_eq!(code, 1, "{text}");
    let named: std::collections::BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.split("LEFT PAUSED: changefeed default/").nth(1))
        .filter_map(|rest| rest.split(':').next())
        .map(str::to_string)
        .collect();
    let actual: std::collections::BTreeSet<String> = paused(&s, ids(4)).await.into_iter().collect();
    assert!(
        !actual.is_empty(),
        "nothing was paused: the test did not interrupt a sequence"
    );
    assert_eq!(named, actual, "{text}");
    s.shutdown().await;
}

// ---- concurrent writers ----

/// What an apply claimed for each changefeed: succeeded, or failed with this message.
fn claims(r: &ApplyReport) -> BTreeMap<String, Result<(), String>> {
    r.entries
        .iter()
        .map(|e| {
            let claim = match &e.failure {
                None if !e.skipped => Ok(()),
                None => Err("skipped".to_string()),
                // As the summary shows it: the code beside the message.
                Some(f) => Err(format!(
                    "{} at {}: [{}] {}",
                    e.key,
                    f.step,
                    f.code.as_deref().unwrap_or("-"),
                    f.message
                )),
            };
            (e.key.id.clone(), claim)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_applies_started_together_never_both_claim_a_changefeed_they_do_not_hold() {
    for round in 0..2 {
        let s = sim(classic()).await;
        converge(&s, &fleet(ids(40), 1)).await;
        let (a, b) = (fleet(ids(40), 3), fleet(ids(40), 5));
        let (set, opts) = (patient(&s), apply_options());
        let ((_, ra, _), (_, rb, _)) = tokio::join!(
            plan_and_apply(&set, &a, &opts),
            plan_and_apply(&set, &b, &opts)
        );
        let (ca, cb) = (claims(&ra), claims(&rb));
        // Settle first: what the owner has still to carry out counts.
        let left = paused(&s, ids(40)).await;
        assert!(left.is_empty(), "round {round}: left paused: {left:?}");
        let mut finals = BTreeMap::new();
        for id in ids(40) {
            let st = s.stored("default", &id).unwrap();
            let w = st["config"]["mounter"]["worker_num"].as_u64().unwrap();
            finals.insert(id.clone(), w);
            // A success claim is true: the changefeed holds that apply's config.
            if ca[&id].is_ok() {
                assert_eq!(w, 3, "round {round}: apply A claims {id}, which holds {w}");
            }
            if cb[&id].is_ok() {
                assert_eq!(w, 5, "round {round}: apply B claims {id}, which holds {w}");
            }
            // #30 item 7: what a compensation says it left is true. "Its old config" means
            // the config before both applies (1); when the other writer's config runs, it says so.
            for (r, mine) in [(&ra, 3), (&rb, 5)] {
                let said = r
                    .entries
                    .iter()
                    .find(|e| e.key.id == id)
                    .and_then(|e| e.compensation.as_deref());
                match said {
                    Some(c) if c.contains("with its old config") => {
                        assert_eq!(w, 1, "round {round}: {id}: '{c}' but it holds {w}")
                    }
                    Some(c) if c.contains("another writer changed it") => {
                        assert!(
                            w != 1 && w != mine,
                            "round {round}: {id}: '{c}' but it holds {w}"
                        )
                    }
                    _ => {}
                }
            }
        }
        let uniform = finals.values().all(|w| *w == 3) || finals.values().all(|w| *w == 5);
        let conflicts: Vec<&String> = ca
            .values()
            .chain(cb.values())
            .filter_map(|c| c.as_ref().err())
            .collect();
        assert!(
            uniform || (!ra.all_ok() || !rb.all_ok()),
            "round {round}: the cluster matches neither apply, and both succeeded"
        );
        for c in &conflicts {
            assert!(
                c.contains("another writer") || c.contains("refused") || c.contains("Refused"),
                "round {round}: a failure that does not name the conflict: {c}"
            );
            // Another writer is not cured by waiting longer: no advice to raise --wait-timeout.
            assert!(
                !c.contains("--wait-timeout"),
                "round {round}: a conflict that advises waiting: {c}"
            );
        }
        println!(
            "round {round}: A {} ok, B {} ok; final 3×{} 5×{}; e.g. {:?}",
            ra.succeeded(),
            rb.succeeded(),
            finals.values().filter(|w| **w == 3).count(),
            finals.values().filter(|w| **w == 5).count(),
            conflicts.first()
        );
        s.shutdown().await;
    }
}

// ---- a read that fails after the budget ----

#[tokio::test]
async fn a_changefeed_that_cannot_be_read_is_unknown_in_the_plan_and_left_alone_by_apply() {
    let s = sim(classic()).await;
    converge(&s, &fleet(ids(3), 1)).await;
    // cf-001's read keeps failing (500) beyond its budget; the rest of the cluster answers.
    s.fail_when(|_, p| p.ends_with("/cf-001/meta_info"), 1_000);
    let mut set = settings(&s);
    set.client.retry_for = Duration::from_millis(400);
    let client = Client::new(set.client.clone()).unwrap();
    let desired = fleet(ids(3), 2);
    let (p, _) = compute(
        &set,
        &client,
        &desired,
        &PlanOptions::default(),
        Duration::from_secs(20),
    )
    .await
    .expect("one unreadable changefeed does not fail the plan");
    let unknown: Vec<String> = p.unknown().iter().map(|k| k.id.clone()).collect();
    assert_eq!(unknown, ["cf-001"]);
    assert_eq!(p.summary.update, 2);
    let human = cdcform::render::plan::human(&p, false, false);
    assert!(
        human.contains("unknown") && human.contains("CDC:ErrInternalServerError"),
        "{human}"
    );
    assert!(human.contains("attempts in"), "{human}");
    let json = cdcform::render::plan::json(&p);
    assert!(json.contains("\"unknown\": true"), "{json}");
    let md = cdcform::render::plan::markdown(&p, &Default::default());
    assert!(md.contains("cf-001") && md.contains("unknown"), "{md}");

    let report = apply(&client, &p, &apply_options(), &|_: &str| {}).await;
    assert!(!report.all_ok());
    assert_eq!(report.succeeded(), 2);
    let failed: Vec<&str> = report
        .entries
        .iter()
        .filter(|e| e.failure.is_some())
        .map(|e| e.key.id.as_str())
        .collect();
    assert_eq!(failed, ["cf-001"]);
    assert!(report
        .entries
        .iter()
        .all(|e| e.key.id != "cf-001" || e.steps.is_empty()));
    let st = s.stored("default", "cf-001").unwrap();
    assert_eq!(
        st["config"]["mounter"]["worker_num"], 1,
        "cf-001 was touched"
    );
    assert_eq!(st["state"], "normal");
    s.shutdown().await;
}

#[tokio::test]
async fn prune_never_deletes_when_the_list_could_not_be_read() {
    let s = sim(classic()).await;
    converge(&s, &fleet(ids(3), 1)).await;
    s.outage_when(
        |m, p| m == "GET" && p == "/api/v2/changefeeds",
        Duration::from_secs(2),
        OutageKind::NoOwner,
    );
    let mut set = settings(&s);
    set.client.retry_for = Duration::from_millis(300);
    set.manage = Some(cdcform::settings::IdGlobs::new(&["cf-*".to_string()]).unwrap());
    let client = Client::new(set.client.clone()).unwrap();
    let o = PlanOptions {
        prune: true,
        ..PlanOptions::default()
    };
    // Only cf-000 in the manifests: with the list, --prune would delete cf-001 and cf-002.
    let (p, _) = compute(
        &set,
        &client,
        &fleet(ids(1), 1),
        &o,
        Duration::from_secs(20),
    )
    .await
    .expect("plan");
    assert_eq!(p.summary.delete, 0, "{:?}", p.entries);
    assert_eq!(p.summary.create, 0, "{:?}", p.entries);
    assert_eq!(p.unknown().len(), 1);
    assert!(
        p.notes.iter().any(|n| n.contains("could not be listed")),
        "{:?}",
        p.notes
    );
    let report = apply(&client, &p, &apply_options(), &|_: &str| {}).await;
    assert!(!report.all_ok());
    for id in ids(3) {
        assert!(s.stored("default", &id).is_some(), "{id} was deleted");
    }
    s.shutdown().await;
}

#[tokio::test]
async fn plan_exits_1_naming_the_unknown_changefeeds_and_retry_for_is_honoured() {
    let s = sim(classic()).await;
    converge(&s, &fleet(ids(2), 1)).await;
    s.outage_when(
        |_, p| p.ends_with("/meta_info"),
        Duration::from_secs(3),
        OutageKind::NoOwner,
    );
    let dir = tempfile::tempdir().unwrap();
    let mut y = String::from("changefeeds:\n");
    for id in ids(2) {
        y += &cf_yaml(&id, 2);
    }
    std::fs::write(dir.path().join("cf.yaml"), y).unwrap();
    let mut cmd = cdcform();
    cmd.args(["plan", "--retry-for", "300ms", "--server"])
        .arg(s.url())
        .arg(dir.path());
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("is unknown") && stderr.contains("default/cf-000"),
        "{stderr}"
    );
    assert!(stdout.contains("unknown"), "{stdout}");
    assert!(
        stderr.contains("owner election in progress (CDC:ErrOwnerNotFound), retrying for up to"),
        "{stderr}"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn a_saved_plan_with_an_unreadable_changefeed_applies_the_others() {
    let s = sim(classic()).await;
    converge(&s, &fleet(ids(3), 1)).await;
    let mut set = settings(&s);
    set.client.retry_for = Duration::from_millis(400);
    let client = Client::new(set.client.clone()).unwrap();
    let desired = fleet(ids(3), 2);
    let o = PlanOptions::default();
    let (p, snap) = compute(&set, &client, &desired, &o, Duration::from_secs(20))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.plan");
    cdcform::plan::pipeline::save(&file, &p, &snap, &desired, &set, &o).unwrap();
    s.fail_when(|_, p| p.ends_with("/cf-001/meta_info"), 1_000);
    let p = cdcform::plan::pipeline::recheck_saved(&file, &set, &client, Duration::from_secs(20))
        .await
        .expect("an unreadable changefeed is not a moved one");
    let unknown: Vec<String> = p.unknown().iter().map(|k| k.id.clone()).collect();
    assert_eq!(unknown, ["cf-001"]);
    let report = apply(&client, &p, &apply_options(), &|_: &str| {}).await;
    assert_eq!(report.succeeded(), 2);
    assert_eq!(
        s.stored("default", "cf-001").unwrap()["config"]["mounter"]["worker_num"],
        1
    );
    s.shutdown().await;
}

#[tokio::test]
async fn an_outage_longer_than_the_budget_fails_the_remaining_reads_at_once() {
    let s = sim(classic()).await;
    converge(&s, &fleet(ids(40), 1)).await;
    s.outage_when(
        |_, p| p.ends_with("/meta_info"),
        Duration::from_secs(30),
        OutageKind::NoOwner,
    );
    s.clear_requests();
    let mut set = settings(&s);
    set.parallelism = 2;
    set.client.retry_for = Duration::from_millis(300);
    let client = Client::new(set.client.clone()).unwrap();
    let (p, _) = compute(
        &set,
        &client,
        &fleet(ids(40), 2),
        &PlanOptions::default(),
        Duration::from_secs(20),
    )
    .await
    .expect("plan");
    assert_eq!(p.unknown().len(), 40);
    // The budget counts from the start of the outage, not from each read: after it, each read
    // is tried once (without that, each would retry for --retry-for, one after another).
    let reads = s
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/meta_info"))
        .count();
    assert!(reads < 60, "{reads} reads for 40 changefeeds");
    s.shutdown().await;
}

// ---- creates through an owner election ----

/// The phases of an apply of 20 creates, each as the first request that belongs to it.
fn create_phases() -> Vec<Phase> {
    let post = |m: &str, p: &str| m == "POST" && p == "/api/v2/changefeeds";
    let nth_post = |n: usize| {
        let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        move |m: &str, p: &str| post(m, p) && seen.fetch_add(1, Ordering::SeqCst) + 1 == n
    };
    let created = Arc::new(AtomicBool::new(false));
    let visible = move |m: &str, p: &str| {
        if post(m, p) {
            created.store(true, Ordering::SeqCst);
        }
        created.load(Ordering::SeqCst) && m == "GET" && p.ends_with("/status")
    };
    vec![
        ("first create", OutageKind::NoOwner, Arc::new(post)),
        ("10th create", OutageKind::NoOwner, Arc::new(nth_post(10))),
        ("last create", OutageKind::NoOwner, Arc::new(nth_post(20))),
        ("wait visible", OutageKind::NoOwner, Arc::new(visible)),
        (
            "create, refused",
            OutageKind::Refused,
            Arc::new(nth_post(5)),
        ),
    ]
}

/// Twenty changefeeds are created while an outage of `dur` starts at the phase's first
/// request: one apply run creates them all and reports every one ok.
async fn creates_through(name: &'static str, kind: OutageKind, m: RequestMatcher, dur: Duration) {
    let s = sim(classic()).await;
    let set = patient(&s);
    s.outage_when(move |me, p| m(me, p), dur, kind);
    let t0 = Instant::now();
    let (planned, report, lines) = plan_and_apply(&set, &fleet(ids(20), 2), &apply_options()).await;
    assert_eq!(planned.summary.create, 20, "{name}");
    let text = cdcform::apply::summary_text(&report);
    assert!(report.all_ok(), "outage at {name}: apply failed:\n{text}");
    assert_eq!(report.succeeded(), 20, "{name}:\n{text}");
    // Never a blind second POST, and each changefeed exists once with the config sent.
    if let Err(blind) = crate::faults::no_blind_resend(&s) {
        panic!("outage at {name}: {blind}\n{text}");
    }
    rode_through(&s, name, kind, &lines, 20, 2).await;
    println!(
        "creates, outage of {dur:?} at {name} ({kind:?}): converged in {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_8s_election_at_several_points_of_20_creates_ends_with_all_created_in_one_run() {
    let runs = create_phases()
        .into_iter()
        .map(|(name, kind, m)| creates_through(name, kind, m, Duration::from_secs(8)));
    futures::future::join_all(runs).await;
}

/// The longest election the issue names: 30 s, met by the first create, within the default
/// `--retry-for` (60 s). Its own test, so the runner overlaps its wait with other tests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_30s_election_at_the_first_create_ends_with_all_created_in_one_run() {
    let (name, kind, m) = create_phases().remove(0);
    creates_through(name, kind, m, Duration::from_secs(30)).await;
}
