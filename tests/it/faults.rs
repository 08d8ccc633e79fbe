//! Plan and apply against a simulator that injects faults (`--faults`): 5xx replies, dropped
//! connections (before and after the request is carried out), slow replies, 503 while the owner
//! changes. Every test uses fixed seeds; the number of injected faults is printed
//! (`cargo test faults -- --nocapture`) and must be non-zero, so a test cannot pass by accident
//! with the faults switched off.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cdcform::manifest::DesiredChangefeed;
use cdcform::plan::pipeline::compute;
use cdcform::plan::Plan;
use cdcform::plan::PlanOptions;
use cdcform::simulator::{FaultSpec, SimConfig, Simulator};

use crate::harness::*;

static INJECTED: AtomicU64 = AtomicU64::new(0);

fn faulty(base: SimConfig, seed: u64) -> SimConfig {
    SimConfig {
        faults: Some(
            FaultSpec::parse(&format!(
                "seed={seed},http500=0.04,http503=0.06,drop=0.06,slow=0.05:150ms,owner-change=0.04"
            ))
            .unwrap(),
        ),
        ..base
    }
}

fn report(test: &str, s: &Simulator) {
    let n = s.faults_injected();
    let total = INJECTED.fetch_add(n, Ordering::Relaxed) + n;
    println!("{test}: {n} faults injected ({total} so far in this run)");
    assert!(n > 0, "{test}: no fault was injected");
}

fn cf(id: &str, extra: &str) -> String {
    format!("  - id: {id}\n    sink_uri: \"blackhole://\"\n{extra}")
}

fn workers(n: u32) -> String {
    format!("    replica_config:\n      mounter:\n        worker_num: {n}\n")
}

/// Twelve changefeeds: the scene before the change.
fn before() -> Vec<DesiredChangefeed> {
    let mut y = String::from("changefeeds:\n");
    for i in 0..10 {
        y += &cf(&format!("cf-{i}"), "");
    }
    y += &cf("was-paused", "    state: paused\n");
    y += &cf("to-delete", "");
    manifests(&y)
}

/// Three updates, a pause, a resume, two creates, a delete.
fn after() -> Vec<DesiredChangefeed> {
    let mut y = String::from("changefeeds:\n");
    for i in 0..10 {
        let extra = match i {
            0..=2 => workers(3 + i),
            3 => "    state: paused\n".into(),
            _ => String::new(),
        };
        y += &cf(&format!("cf-{i}"), &extra);
    }
    y += &cf("was-paused", "");
    y += &cf("new-a", &workers(5));
    y += &cf("new-b", "");
    y += &cf("to-delete", "    state: absent\n");
    manifests(&y)
}

/// What a plan decides, without timestamps: (changefeed, action, changed paths and values).
fn decisions(p: &Plan) -> Vec<String> {
    p.entries
        .iter()
        .map(|e| {
            let changes: Vec<String> = e
                .changes
                .iter()
                .map(|c| format!("{}={:?}->{:?}", c.path, c.before, c.after))
                .collect();
            format!("{} {:?} {}", e.key, e.action, changes.join(","))
        })
        .collect()
}

async fn try_plan(s: &Simulator, desired: &[DesiredChangefeed]) -> Result<Plan, String> {
    let set = settings(s);
    let c = cdcform::ticdc::Client::new(set.client.clone()).unwrap();
    compute(
        &set,
        &c,
        desired,
        &PlanOptions::default(),
        Duration::from_secs(120),
    )
    .await
    .map(|(p, _)| p)
    .map_err(|e| e.to_string())
}

#[tokio::test]
async fn plan_under_faults_is_exact_or_fails_clearly() {
    for seed in [11, 12, 13] {
        let s = sim(faulty(classic(), seed)).await;
        s.set_faults_enabled(false);
        converge(&s, &before()).await;
        let reference = decisions(&plan(&s, &after()).await);
        s.set_faults_enabled(true);
        let (mut exact, mut failed) = (0, 0);
        for _ in 0..10 {
            match try_plan(&s, &after()).await {
                Ok(p) => {
                    assert_eq!(decisions(&p), reference, "seed {seed}: a wrong plan");
                    exact += 1;
                }
                Err(msg) => {
                    // A clear message: the server, and the error code or transport failure.
                    assert!(
                        msg.contains(&s.url()) || msg.contains("CDC:"),
                        "seed {seed}: unclear error: {msg}"
                    );
                    assert!(!msg.contains("panick"), "{msg}");
                    if failed == 0 {
                        println!("seed {seed}: e.g. {msg}");
                    }
                    failed += 1;
                }
            }
        }
        println!("seed {seed}: {exact} exact plans, {failed} clear failures");
        assert!(exact > 0, "seed {seed}: retries never got a plan through");
        report(&format!("plan seed {seed}"), &s);
        s.shutdown().await;
    }
}

/// Create POSTs per changefeed id in the recorded requests.
fn create_posts(s: &Simulator) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for r in s.requests() {
        if r.method == "POST" && r.path == "/api/v2/changefeeds" {
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap_or_default();
            if let Some(id) = v["changefeed_id"].as_str() {
                *n.entry(id.to_string()).or_insert(0) += 1;
            }
        }
    }
    n
}

/// Each create POST after the first for a changefeed follows a read of that changefeed
/// (`meta_info` or GET) made since the previous POST; the first offender otherwise.
pub fn no_blind_resend(s: &Simulator) -> Result<(), String> {
    no_blind_resend_in(s.requests())
}

/// [`no_blind_resend`] over these requests (one client's).
fn no_blind_resend_in(reqs: Vec<cdcform::simulator::RecordedRequest>) -> Result<(), String> {
    // Per changefeed id: whether it was POSTed, and read since the last POST.
    let mut state: BTreeMap<String, bool> = BTreeMap::new();
    for r in reqs {
        if r.method == "POST" && r.path == "/api/v2/changefeeds" {
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap_or_default();
            let Some(id) = v["changefeed_id"].as_str() else {
                continue;
            };
            if state.get(id) == Some(&false) {
                return Err(format!("{id}: create re-sent without a read in between"));
            }
            state.insert(id.to_string(), false);
        } else if r.method == "GET" {
            let rest = r.path.strip_prefix("/api/v2/changefeeds/").unwrap_or("");
            let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
            if !id.is_empty() && (tail.is_empty() || tail == "meta_info") {
                if let Some(read) = state.get_mut(id) {
                    *read = true;
                }
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn apply_under_faults_never_repeats_a_create_never_strands_a_pause_and_converges() {
    for (name, base) in [("classic", classic()), ("newarch", newarch())] {
        for seed in [21, 22, 23] {
            let s = sim(faulty(base.clone(), seed)).await;
            s.set_faults_enabled(false);
            converge(&s, &before()).await;
            s.set_faults_enabled(true);
            // Planning may fail under faults; a plan that succeeds is exact (test above).
            let mut p = None;
            for _ in 0..20 {
                if let Ok(x) = try_plan(&s, &after()).await {
                    p = Some(x);
                    break;
                }
            }
            let p = p.expect("a plan gets through within 20 tries");
            s.clear_requests();
            let r = run_apply(&s, &p).await;
            let text = cdcform::apply::summary_text(&r);
            // Every failure names its step and a message.
            for e in r.entries.iter().filter(|e| !e.ok()) {
                let f = e.failure.as_ref().expect("a failed entry has a failure");
                assert!(!f.step.is_empty() && !f.message.is_empty(), "{text}");
                assert!(text.contains(&e.key.to_string()), "{text}");
            }
            // Never a blind second POST for the same changefeed: a create is sent again only
            // after a read of it since the previous POST (which found it absent).
            if let Err(blind) = no_blind_resend(&s) {
                panic!("{name} seed {seed}: {blind}\n{text}");
            }
            // The creates ride the faults out within the budget, in this one run.
            for e in r.entries.iter().filter(|e| e.key.id.starts_with("new-")) {
                assert!(e.ok(), "{name} seed {seed}: {} failed\n{text}", e.key);
            }
            report(&format!("apply {name} seed {seed}"), &s);
            // Nothing that should run is left paused, unless the report says so loudly.
            s.set_faults_enabled(false);
            let c = client(&s);
            for d in after()
                .iter()
                .filter(|d| d.state == cdcform::manifest::DesiredState::Running)
            {
                let was_running = !d.id.starts_with("new-") && d.id != "was-paused";
                if !was_running {
                    continue;
                }
                let mut state = String::new();
                for _ in 0..50 {
                    state = c.changefeed_status("default", &d.id).await.unwrap().state;
                    if state != "stopped" {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                if state == "stopped" {
                    let e = r.entries.iter().find(|e| e.key.id == d.id);
                    assert!(
                        e.is_some_and(|e| e.left_paused && text.contains("LEFT PAUSED")),
                        "{name} seed {seed}: {} silently left paused\n{text}",
                        d.id
                    );
                }
            }
            // A re-run without faults converges, and then there is nothing left to do.
            converge(&s, &after()).await;
            assert_empty(&plan(&s, &after()).await, &format!("{name} seed {seed}"));
            s.shutdown().await;
        }
    }
}

#[tokio::test]
async fn a_lost_create_answer_is_looked_up_not_re_sent() {
    // Every request's answer is lost after the server carried it out.
    let s = sim(SimConfig {
        faults: Some(FaultSpec::parse("seed=1,drop=1,drop-after=1").unwrap()),
        ..classic()
    })
    .await;
    s.set_faults_enabled(false);
    let p = plan(&s, &manifests(&format!("changefeeds:\n{}", cf("lost", "")))).await;
    s.set_faults_enabled(true);
    let r = {
        let run = run_apply(&s, &p);
        // Let the POST through with its answer dropped, then heal the network for the reads.
        let heal = async {
            for _ in 0..500 {
                if !create_posts(&s).is_empty() {
                    s.set_faults_enabled(false);
                    return;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        };
        let (r, ()) = tokio::join!(run, heal);
        r
    };
    let posts = create_posts(&s);
    assert_eq!(posts.get("lost"), Some(&1), "{posts:?}");
    assert!(s.faults_injected() > 0);
    // The apply says what happened: the create it could not see answered was found done.
    assert!(
        r.all_ok() && r.entries.len() == 1,
        "{}",
        cdcform::apply::summary_text(&r)
    );
    // Either way it exists exactly once and a re-run has nothing to do.
    assert_empty(
        &plan(&s, &manifests(&format!("changefeeds:\n{}", cf("lost", "")))).await,
        "after a lost create answer",
    );
    s.shutdown().await;
}

/// A classic owner slower than the look-up after a lost answer: the changefeed is created in
/// etcd but not shown for 2 s, longer than a create's answer is looked up.
fn slow_owner(faults: &str) -> SimConfig {
    SimConfig {
        tick: Duration::from_secs(2),
        faults: Some(FaultSpec::parse(faults).unwrap()),
        ..classic()
    }
}

/// Run the apply of `p`; at the first create POST of `id`, call `then` (once).
async fn apply_and_at_first_post(
    s: &Simulator,
    p: &Plan,
    id: &str,
    then: impl AsyncFnOnce(),
) -> cdcform::apply::ApplyReport {
    let run = run_apply(s, p);
    let hook = async {
        for _ in 0..2000 {
            if create_posts(s).contains_key(id) {
                then().await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("no create of {id} was sent");
    };
    let (r, ()) = tokio::join!(run, hook);
    r
}

#[tokio::test]
async fn a_create_re_sent_after_its_lost_answer_settles_already_exists_as_its_own() {
    let s = sim(slow_owner("seed=1,drop=1,drop-after=1")).await;
    s.set_faults_enabled(false);
    let desired = manifests(&format!("changefeeds:\n{}", cf("lost", &workers(5))));
    let p = plan(&s, &desired).await;
    s.set_faults_enabled(true);
    // The POST is carried out and its answer dropped; then the network heals.
    let r = apply_and_at_first_post(&s, &p, "lost", async || s.set_faults_enabled(false)).await;
    let text = cdcform::apply::summary_text(&r);
    assert!(s.faults_injected() > 0);
    // Looked up, not found (not shown yet), sent again after that read: TiCDC answers that it
    // exists, and it holds what was sent, so it is this run's create.
    assert_eq!(create_posts(&s).get("lost"), Some(&2), "{text}");
    no_blind_resend(&s).unwrap();
    assert!(r.all_ok(), "{text}");
    assert_empty(&plan(&s, &desired).await, "after a re-sent create");
    s.shutdown().await;
}

#[tokio::test]
async fn a_create_re_sent_that_meets_another_writers_changefeed_fails_naming_it() {
    let s = sim(slow_owner("seed=1")).await;
    let desired = manifests(&format!("changefeeds:\n{}", cf("taken", &workers(5))));
    let p = plan(&s, &desired).await;
    // This run's first POST fails (500, maybe done); meanwhile another writer creates the
    // same id with another config, which the slow owner does not show during the look-up.
    s.fail_when(|m, p| m == "POST" && p == "/api/v2/changefeeds", 1);
    let other = async || {
        let cfg = cdcform::ticdc::models::ChangefeedConfig {
            changefeed_id: "taken".into(),
            sink_uri: "blackhole://".into(),
            replica_config: Some(serde_json::json!({"mounter": {"worker_num": 9}})),
            ..Default::default()
        };
        client(&s).create_changefeed("default", &cfg).await.unwrap();
    };
    let r = apply_and_at_first_post(&s, &p, "taken", other).await;
    let text = cdcform::apply::summary_text(&r);
    assert_eq!(create_posts(&s).get("taken"), Some(&3), "{text}");
    // This run's own requests: a read came between its two POSTs.
    let ours = s
        .requests()
        .into_iter()
        .filter(|r| !r.body.contains("\"worker_num\":9"))
        .collect();
    no_blind_resend_in(ours).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let f = r.entries[0].failure.as_ref().expect("the create fails");
    assert_eq!(f.step, "create", "{text}");
    assert_eq!(
        f.code.as_deref(),
        Some("CDC:ErrChangeFeedAlreadyExists"),
        "{text}"
    );
    assert!(f.message.contains("another writer"), "{text}");
    // The other writer's changefeed is left as it made it.
    let st = s.stored("default", "taken").unwrap();
    assert_eq!(st["config"]["mounter"]["worker_num"], 9, "{st}");
    s.shutdown().await;
}

#[tokio::test]
async fn a_create_ticdc_refuses_fails_at_once_and_is_sent_once() {
    // A MySQL sink nothing listens on: TiCDC checks the sink before it creates (400).
    let s = sim(SimConfig {
        sink_check: true,
        ..classic()
    })
    .await;
    let desired =
        manifests("changefeeds:\n  - id: refused\n    sink_uri: \"mysql://root@127.0.0.1:1/\"\n");
    let p = plan(&s, &desired).await;
    let mut set = settings(&s);
    set.client.retry_for = cdcform::retry::DEFAULT_RETRY_FOR;
    let c = cdcform::ticdc::Client::new(set.client).unwrap();
    let r = cdcform::apply::apply(&c, &p, &apply_options(), &|_: &str| {}).await;
    let text = cdcform::apply::summary_text(&r);
    let f = r.entries[0].failure.as_ref().expect("refused");
    assert_eq!(f.step, "create", "{text}");
    assert!(
        f.code.as_deref().is_some_and(|c| c.starts_with("CDC:")),
        "{text}"
    );
    assert!(!f.message.contains("attempts"), "{text}");
    assert_eq!(create_posts(&s).get("refused"), Some(&1), "{text}");
    assert!(s.stored("default", "refused").is_none());
    s.shutdown().await;
}

/// TiCDC answers 500 for every refusal outside its bad-request list (tiflow v8.5.0
/// cdc/api/util.go, pingcap/ticdc v8.5.7 pkg/api/util.go): a Kafka broker it cannot reach on a
/// classic server (`ErrKafkaNewProducer`), or a config `ValidateAndAdjust` refuses on the new
/// architecture (`ErrInvalidReplicaConfig`, which `validate` already catches offline; the unit
/// test `a_500_verdict_is_not_retried_an_outage_is` covers the codes). Those are verdicts, not
/// outages: the create fails at once, sent once, instead of being retried for `--retry-for`
/// (it took 57 s before).
#[tokio::test]
async fn a_create_refused_with_a_500_verdict_fails_at_once() {
    for (name, cfg, uri, extra, code) in [(
        "classic",
        SimConfig {
            sink_check: true,
            ..classic()
        },
        "kafka://127.0.0.1:1/t?protocol=canal-json",
        "",
        "CDC:ErrKafkaNewProducer",
    )] {
        let s = sim(cfg).await;
        let desired = manifests(&format!(
            "changefeeds:\n  - id: refused\n    sink_uri: \"{uri}\"\n{extra}"
        ));
        let p = plan(&s, &desired).await;
        let mut set = settings(&s);
        set.client.retry_for = cdcform::retry::DEFAULT_RETRY_FOR;
        let c = cdcform::ticdc::Client::new(set.client).unwrap();
        let t0 = std::time::Instant::now();
        let r = cdcform::apply::apply(&c, &p, &apply_options(), &|_: &str| {}).await;
        let text = cdcform::apply::summary_text(&r);
        let f = r.entries[0].failure.as_ref().expect("refused");
        assert_eq!(f.code.as_deref(), Some(code), "{name}: {text}");
        assert!(!f.message.contains("attempts"), "{name}: {text}");
        assert_eq!(create_posts(&s).get("refused"), Some(&1), "{name}: {text}");
        assert!(
            t0.elapsed() < DEFAULT_RETRY_FOR_HALF,
            "{name}: retried for {:?}",
            t0.elapsed()
        );
        s.shutdown().await;
    }
}

/// Far below the retry budget: a refusal is not waited on.
const DEFAULT_RETRY_FOR_HALF: Duration = Duration::from_secs(30);

/// 50 changefeeds before: 10 each to update, pause, resume, delete, and 10 left alone.
fn chaos_before() -> String {
    let mut y = String::from("changefeeds:\n");
    for i in 0..10 {
        y += &cf(&format!("upd-{i}"), "");
        y += &cf(&format!("pause-{i}"), "");
        y += &cf(&format!("resume-{i}"), "    state: paused\n");
        y += &cf(&format!("del-{i}"), "");
        y += &cf(&format!("keep-{i}"), "");
    }
    y
}

/// What the manifests ask next: 10 updates, 10 pauses, 10 resumes, 10 deletes, 10 creates.
fn chaos_after() -> String {
    let mut y = String::from("changefeeds:\n");
    for i in 0..10 {
        y += &cf(&format!("upd-{i}"), &workers(4));
        y += &cf(&format!("pause-{i}"), "    state: paused\n");
        y += &cf(&format!("resume-{i}"), "");
        y += &cf(&format!("del-{i}"), "    state: absent\n");
        y += &cf(&format!("keep-{i}"), "");
        y += &cf(&format!("new-{i}"), &workers(2));
    }
    y
}

/// #30: the chaos run. Under 24% transient faults (5xx, 503 while the owner changes, dropped
/// connections, slow answers), an `apply` of creates, deletes, pauses, resumes and updates is
/// killed (SIGKILL) part-way; the next run, under the same faults, exits 0 with every step ok,
/// and afterwards nothing is left paused that should run and the plan is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_the_first_run_after_a_killed_one_exits_0() {
    for (name, base, seed) in [("classic", classic(), 31), ("newarch", newarch(), 32)] {
        let s = sim(faulty(base, seed)).await;
        s.set_faults_enabled(false);
        converge(&s, &manifests(&chaos_before())).await;
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("after.yaml");
        std::fs::write(&m, chaos_after()).unwrap();
        s.set_faults_enabled(true);
        s.clear_requests();
        let args = [
            "apply",
            m.to_str().unwrap(),
            "--server",
            &s.url(),
            "--auto-approve",
        ];
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cdcform"))
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut killed = false;
        for _ in 0..20_000 {
            if mutations(&s).len() >= 25 {
                child.kill().unwrap();
                killed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let _ = child.wait();
        assert!(killed, "{name}: the first run finished before the kill");
        let o = cdcform().args(args).output().unwrap();
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert_eq!(
            o.status.code(),
            Some(0),
            "{name}: the run after the killed one\n{out}{err}"
        );
        assert!(out.contains("Apply complete"), "{name}: {out}");
        assert!(
            !format!("{out}{err}").contains("LEFT PAUSED"),
            "{name}: {out}{err}"
        );
        report(&format!("chaos {name} seed {seed}"), &s);
        s.set_faults_enabled(false);
        let desired = manifests(&chaos_after());
        let c = client(&s);
        for d in &desired {
            let want = match d.state {
                cdcform::manifest::DesiredState::Running => Some("normal"),
                cdcform::manifest::DesiredState::Paused => Some("stopped"),
                cdcform::manifest::DesiredState::Absent => None,
            };
            match want {
                Some(w) => wait_state(&c, "default", &d.id, w).await,
                None => assert!(
                    c.get_changefeed("default", &d.id).await.is_err(),
                    "{name}: {} exists",
                    d.id
                ),
            }
        }
        assert_empty(&plan(&s, &desired).await, &format!("chaos {name}"));
        s.shutdown().await;
    }
}
