//! `apply` against the simulator: the exact request sequence, every failure path, saved plans,
//! parallelism, and convergence after a killed process.

use std::time::Duration;

use serde_json::json;

use crate::harness::*;
use cdcform::plan::Action;

const ONE: &str = "changefeeds:\n  - id: cf\n    sink_uri: \"blackhole://\"\n";

fn with_workers(n: u32) -> String {
    format!("changefeeds:\n  - id: cf\n    sink_uri: \"blackhole://\"\n    replica_config:\n      mounter:\n        worker_num: {n}\n")
}

#[tokio::test]
async fn update_of_a_running_changefeed_is_pause_put_resume() {
    for (name, cfg) in [("classic", classic()), ("newarch", newarch())] {
        let s = sim(cfg).await;
        converge(&s, &manifests(ONE)).await;
        s.clear_requests();
        let p = converge(&s, &manifests(&with_workers(4))).await;
        assert_eq!(
            p.entries[0].action,
            Action::Update {
                pause_first: true,
                resume_after: true
            }
        );
        assert_eq!(
            mutations(&s),
            vec![
                "POST /api/v2/changefeeds/cf/pause".to_string(),
                "PUT /api/v2/changefeeds/cf".to_string(),
                "POST /api/v2/changefeeds/cf/resume".to_string(),
            ],
            "{name}"
        );
        let put = s
            .requests()
            .into_iter()
            .find(|r| r.method == "PUT")
            .unwrap();
        let body: serde_json::Value = serde_json::from_str(&put.body).unwrap();
        assert!(body.get("start_ts").is_none(), "never start_ts in a PUT");
        assert!(
            body.get("sink_uri").is_none(),
            "sink_uri only when it changed"
        );
        assert_eq!(body["replica_config"]["mounter"]["worker_num"], json!(4));
        assert_eq!(
            body["replica_config"]["check_gc_safe_point"],
            json!(true),
            "the complete config, not a patch"
        );
        let live = client(&s).get_changefeed("default", "cf").await.unwrap();
        assert_eq!(live.state.as_deref(), Some("normal"), "{name}");
        s.shutdown().await;
    }
}

#[tokio::test]
async fn refused_put_resumes_with_the_old_config() {
    let s = sim(cdcform::simulator::SimConfig {
        sink_check: true,
        ..classic()
    })
    .await;
    converge(&s, &manifests(ONE)).await;
    // Nothing listens on this port: TiCDC refuses the new MySQL sink on PUT.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bad = manifests(&format!(
        "changefeeds:\n  - id: cf\n    sink_uri: \"mysql://root@127.0.0.1:{port}/\"\n"
    ));
    let p = plan(&s, &bad).await;
    let r = run_apply(&s, &p).await;
    let e = &r.entries[0];
    let f = e.failure.as_ref().expect("the PUT fails");
    assert_eq!(f.step, "update");
    assert!(
        f.code.as_deref().is_some_and(|c| c.starts_with("CDC:")),
        "{f:?}"
    );
    assert_eq!(
        e.compensation.as_deref(),
        Some("resumed it with its old config")
    );
    assert!(!e.left_paused);
    let live = client(&s).get_changefeed("default", "cf").await.unwrap();
    assert_eq!(live.state.as_deref(), Some("normal"));
    assert_eq!(live.sink_uri, "blackhole:");
    let text = cdcform::apply::summary_text(&r);
    assert!(
        text.contains("FAILED  default/cf update at update [CDC:"),
        "{text}"
    );
}

#[tokio::test]
async fn gc_ttl_refuses_the_pause() {
    let s = sim(classic()).await;
    converge(&s, &manifests(ONE)).await;
    let c = client(&s);
    let now = c.tso().await.unwrap().compose();
    s.set_checkpoint("default", "cf", now - ((24 * 3600 * 1000 - 30_000) << 18));
    s.clear_requests();
    let p = plan(&s, &manifests(&with_workers(4))).await;
    assert_eq!(p.entries[0].action, Action::Blocked);
    assert!(p.entries[0]
        .blocked
        .as_ref()
        .unwrap()
        .reason
        .contains("GC TTL"));
    let r = run_apply(&s, &p).await;
    assert!(!r.all_ok());
    assert!(
        mutations(&s).is_empty(),
        "nothing paused: {:?}",
        mutations(&s)
    );
}

#[tokio::test]
async fn many_changefeeds_in_parallel() {
    let s = sim(classic()).await;
    let yaml: String = (0..40)
        .map(|i| format!("  - id: feed-{i:02}\n    sink_uri: \"blackhole://\"\n"))
        .collect();
    let desired = manifests(&format!("changefeeds:\n{yaml}"));
    let p = converge(&s, &desired).await;
    assert_eq!(p.summary.create, 40);
    assert_empty(&plan(&s, &desired).await, "after parallel create");
    let updated = manifests(&format!(
        "changefeeds:\n{}",
        yaml.replace(
            "\"blackhole://\"\n",
            "\"blackhole://\"\n    replica_config:\n      mounter:\n        worker_num: 2\n"
        )
    ));
    let p = converge(&s, &updated).await;
    assert_eq!(p.summary.update, 40);
    assert_empty(&plan(&s, &updated).await, "after parallel update");
}

#[tokio::test]
async fn turned_failed_during_apply_is_reported() {
    let s = sim(classic()).await;
    converge(
        &s,
        &manifests("changefeeds:\n  - id: cf\n    sink_uri: \"blackhole://\"\n    state: paused\n"),
    )
    .await;
    let p = plan(&s, &manifests(ONE)).await;
    assert_eq!(p.entries[0].action, Action::Resume);
    // The changefeed breaks right after the resume is accepted.
    let s2 = &s;
    let breaker = async {
        for _ in 0..500 {
            if mutations(s2).iter().any(|m| m.ends_with("/resume")) {
                s2.set_state(
                    "default",
                    "cf",
                    "failed",
                    Some(("CDC:ErrKafkaNewProducer", "broker down")),
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let (r, _) = tokio::join!(run_apply(&s, &p), breaker);
    let f = r.entries[0].failure.as_ref().expect("reported");
    assert!(f.message.contains("failed"), "{f:?}");
}

const MINUTE: u64 = 60_000 << 18;

fn replace(id: &str) -> cdcform::plan::PlanOptions {
    cdcform::plan::PlanOptions {
        replace: vec![id.into()],
        ..Default::default()
    }
}

/// #29 item 2: `--replace` checks the re-create's start point against the GC safepoint before
/// any write (tiflow v8.5.0 `pkg/txnutil/gc/gc_service.go` `EnsureChangefeedStartTsSafety`;
/// `cdc/model/changefeed.go` `NeedBlockGC`). A paused changefeed 20 minutes behind holds the
/// safepoint at its checkpoint, and the hold outlives its delete by up to a minute (tiflow
/// `pkg/txnutil/gc/gc_manager.go` `gcSafepointUpdateInterval`), so re-creating it from its
/// checkpoint is safe; from an older manifest `start_ts`, or after it failed because of GC, it
/// is not, and the plan blocks it with the way out.
#[tokio::test]
async fn replace_is_blocked_when_the_recreate_would_start_behind_gc() {
    for (name, cfg) in [("classic", classic()), ("newarch", newarch())] {
        let s = sim(cfg).await;
        let yaml = |id: &str, start: Option<u64>| {
            let start = start
                .map(|t| format!("    start_ts: {t}\n"))
                .unwrap_or_default();
            format!("changefeeds:\n  - id: {id}\n    sink_uri: \"blackhole://\"\n    state: paused\n{start}")
        };
        for id in ["held", "old-start", "gc-failed"] {
            converge(&s, &manifests(&yaml(id, None))).await;
        }
        let c = client(&s);
        let now = c.tso().await.unwrap().compose();
        for id in ["held", "old-start", "gc-failed"] {
            s.set_checkpoint("default", id, now - 20 * MINUTE);
        }
        s.set_state(
            "default",
            "gc-failed",
            "failed",
            Some(("CDC:ErrGCTTLExceeded", "gc ttl exceeded")),
        );
        // Held: replaced, from its checkpoint, in one apply.
        let p = plan_with(&s, &manifests(&yaml("held", None)), &replace("held")).await;
        assert_eq!(p.entries[0].action, Action::Replace, "{name}");
        let r = run_apply(&s, &p).await;
        assert!(r.all_ok(), "{name}: {}", cdcform::apply::summary_text(&r));
        let live = c.get_changefeed("default", "held").await.unwrap();
        assert_eq!(live.start_ts, now - 20 * MINUTE, "{name}");
        // Older than what it holds, or not held at all: blocked, and nothing is written.
        let old = now - 40 * MINUTE;
        for (id, start, why) in [
            ("old-start", Some(old), "before its checkpoint"),
            (
                "gc-failed",
                None,
                "failed because of GC (CDC:ErrGCTTLExceeded)",
            ),
        ] {
            let desired = manifests(&yaml(id, start));
            let p = plan_with(&s, &desired, &replace(id)).await;
            let e = &p.entries[0];
            assert_eq!(e.action, Action::Blocked, "{name} {id}");
            let b = e.blocked.as_ref().unwrap();
            assert!(b.reason.contains(why), "{name} {id}: {}", b.reason);
            assert!(b.reason.contains("ErrStartTsBeforeGC"), "{}", b.reason);
            assert!(b.hint.contains("start_ts: "), "{}", b.hint);
            s.clear_requests();
            let r = run_apply(&s, &p).await;
            assert!(!r.all_ok());
            assert!(mutations(&s).is_empty(), "{name} {id}: {:?}", mutations(&s));
            assert!(c.get_changefeed("default", id).await.is_ok());
            // The way out the hint gives (start from now, skipping the gap) is not blocked.
            let now_ts = b
                .hint
                .split("start_ts: ")
                .nth(1)
                .and_then(|t| t.split('`').next())
                .and_then(|t| t.parse::<u64>().ok())
                .unwrap();
            let p = plan_with(&s, &manifests(&yaml(id, Some(now_ts))), &replace(id)).await;
            assert_eq!(p.entries[0].action, Action::Replace, "{name} {id}");
            let r = run_apply(&s, &p).await;
            assert!(
                r.all_ok(),
                "{name} {id}: {}",
                cdcform::apply::summary_text(&r)
            );
        }
        s.shutdown().await;
    }
}

/// #29 item 2: a replace whose delete went through and whose create was refused says so
/// plainly, in the summary and at the end. The plan was saved while the start point was safe;
/// TiDB's GC then passed it (the simulator's safepoint hook).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replace_that_deleted_and_could_not_create_says_so() {
    let s = sim(classic()).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f.yaml"), ONE).unwrap();
    converge(&s, &manifests(ONE)).await;
    let c = client(&s);
    c.pause_changefeed("default", "cf").await.unwrap();
    wait_state(&c, "default", "cf", "stopped").await;
    let url = s.url();
    let ok = |args: &[&str]| run_cli(d, &[args, &["--server", &url]].concat(), &[]);
    let (code, out, err) = ok(&["plan", "f.yaml", "--replace", "cf", "--out", "p.json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let now = c.tso().await.unwrap().compose();
    s.set_gc_safepoint(now);
    let (code, out, err) = ok(&["apply", "p.json", "--auto-approve"]);
    s.set_gc_safepoint(0);
    assert_eq!(code, Some(1), "{out}{err}");
    let both = format!("{out}{err}");
    assert!(both.contains("ErrStartTsBeforeGC"), "{both}");
    assert_eq!(
        both.matches("DELETED, NOT RE-CREATED: changefeed default/cf no longer exists")
            .count(),
        2,
        "{both}"
    );
    assert!(c.get_changefeed("default", "cf").await.is_err());
}

/// #30 item 7: another writer updates and resumes the changefeed between this apply's pause and
/// its PUT (the simulator's interleave hook). The PUT is refused (it is running again) and the
/// compensating resume finds it running: the report says the other writer's config runs, not
/// "resumed it with its old config".
#[tokio::test]
async fn a_compensation_that_finds_another_writers_config_says_so() {
    for (name, cfg) in [("classic", classic()), ("newarch", newarch())] {
        let s = sim(cfg).await;
        converge(&s, &manifests(&with_workers(1))).await;
        let p = plan(&s, &manifests(&with_workers(4))).await;
        s.interleave_when(
            |m, p| m == "PUT" && p == "/api/v2/changefeeds/cf",
            "default",
            "cf",
            json!({"mounter": {"worker_num": 9}}),
            "normal",
        );
        let r = run_apply(&s, &p).await;
        let e = &r.entries[0];
        assert!(
            e.failure.is_some(),
            "{name}: {}",
            cdcform::apply::summary_text(&r)
        );
        let c = e.compensation.as_deref().unwrap_or_default();
        assert!(
            c.contains("another writer changed it meanwhile: it runs their config"),
            "{name}: {}",
            cdcform::apply::summary_text(&r)
        );
        assert!(!c.contains("old config"), "{name}: {c}");
        let st = s.stored("default", "cf").unwrap();
        assert_eq!(st["config"]["mounter"]["worker_num"], 9, "{name}");
        assert!(!e.left_paused, "{name}");
        s.shutdown().await;
    }
}
