//! Lifecycle and replica-config refusals the simulator models from TiCDC's source, one test
//! per row of tests/REFUSALS.md ("Lifecycle and replica-config refusals").

use cdcform::simulator::{SimConfig, SimProfile};
use cdcform::ticdc::error::codes;
use cdcform::ticdc::models::ChangefeedConfig;
use cdcform::ticdc::{Client, ClientError};
use serde_json::{json, Value};

use crate::harness::profiles;
use crate::harness::{client_for, sim as start_sim};

const MINUTE: u64 = 60_000 << 18;

fn cfg(id: &str, sink: &str) -> ChangefeedConfig {
    ChangefeedConfig {
        changefeed_id: id.into(),
        sink_uri: sink.into(),
        ..Default::default()
    }
}

#[track_caller]
fn assert_api(e: &ClientError, status: u16, code: &str) {
    assert_eq!(e.status(), Some(status), "{e}");
    assert_eq!(e.code(), Some(code), "{e}");
}

fn on_both() -> Vec<(&'static str, SimConfig)> {
    profiles()
        .into_iter()
        .filter(|(n, _)| *n == "classic v8.5" || *n == "newarch")
        .map(|(n, c)| {
            (
                n,
                SimConfig {
                    tick: std::time::Duration::ZERO,
                    ..c
                },
            )
        })
        .collect()
}

async fn now(c: &Client) -> u64 {
    c.tso().await.unwrap().compose()
}

/// tiflow v8.5.0 and pingcap/ticdc v8.5.7 pkg/txnutil/gc/gc_service.go
/// `EnsureChangefeedStartTsSafety`, called by create (`verifyCreateChangefeedConfig` /
/// `createChangefeed`): TiDB's GC worker keeps the safepoint at now − `tikv_gc_life_time` (10m).
#[tokio::test]
async fn create_with_start_ts_behind_gc_is_refused() {
    for (name, sc) in on_both() {
        let sim = start_sim(sc).await;
        let c = client_for(&sim);
        let mut old = cfg("old", "blackhole://");
        old.start_ts = now(&c).await - 11 * MINUTE;
        let e = c.create_changefeed("default", &old).await.unwrap_err();
        assert_api(&e, 400, codes::START_TS_BEFORE_GC);
        assert!(e.to_string().contains("GC safepoint"), "{name}: {e}");
        // The old constant-0 safepoint accepted start_ts 1.
        old.start_ts = 1;
        let e = c.create_changefeed("default", &old).await.unwrap_err();
        assert_api(&e, 400, codes::START_TS_BEFORE_GC);
        // Within the GC life time: accepted.
        let mut recent = cfg("recent", "blackhole://");
        recent.start_ts = now(&c).await - 5 * MINUTE;
        c.create_changefeed("default", &recent)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        sim.shutdown().await;
    }
}

/// TiCDC's service safepoint (tiflow v8.5.0 cdc/owner/owner.go `updateGCSafepoint`: minimum
/// checkpoint − 1 of the changefeeds that `NeedBlockGC`) holds GC back: with a paused
/// changefeed 30 minutes behind, a start 20 minutes back is still safe, one 31 minutes back is not.
#[tokio::test]
async fn a_paused_changefeed_holds_the_gc_safepoint_back() {
    for (name, sc) in on_both() {
        let sim = start_sim(sc).await;
        let c = client_for(&sim);
        c.create_changefeed("default", &cfg("holder", "blackhole://"))
            .await
            .unwrap();
        c.pause_changefeed("default", "holder").await.unwrap();
        let behind = now(&c).await - 30 * MINUTE;
        sim.set_checkpoint("default", "holder", behind);
        let mut ok = cfg("ok", "blackhole://");
        ok.start_ts = now(&c).await - 20 * MINUTE;
        c.create_changefeed("default", &ok)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut late = cfg("late", "blackhole://");
        late.start_ts = behind - 1;
        let e = c.create_changefeed("default", &late).await.unwrap_err();
        assert_api(&e, 400, codes::START_TS_BEFORE_GC);
        sim.shutdown().await;
    }
}

/// `verifyResumeChangefeedConfig` (tiflow v8.5.0 cdc/api/v2/api_helpers.go, pingcap/ticdc
/// v8.5.7 api/v2/changefeed.go): `overwrite_checkpoint_ts` goes through the same check.
#[tokio::test]
async fn resume_with_overwrite_checkpoint_behind_gc_is_refused() {
    for (name, sc) in on_both() {
        let sim = start_sim(sc).await;
        let c = client_for(&sim);
        c.create_changefeed("default", &cfg("r", "blackhole://"))
            .await
            .unwrap();
        c.pause_changefeed("default", "r").await.unwrap();
        let e = c.resume_changefeed("default", "r", 1).await.unwrap_err();
        assert_api(&e, 400, codes::START_TS_BEFORE_GC);
        let e = c
            .resume_changefeed("default", "r", now(&c).await - 11 * MINUTE)
            .await
            .unwrap_err();
        assert_api(&e, 400, codes::START_TS_BEFORE_GC);
        c.resume_changefeed("default", "r", now(&c).await - MINUTE)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        sim.shutdown().await;
    }
}

/// `set_gc_safepoint` still pins the safepoint for tests (and 0 hands it back to the model).
#[tokio::test]
async fn the_gc_safepoint_test_hook_still_works() {
    let sim = start_sim(SimConfig::default()).await;
    let c = client_for(&sim);
    let n = now(&c).await;
    sim.set_gc_safepoint(n);
    let mut x = cfg("x", "blackhole://");
    x.start_ts = n;
    let e = c.create_changefeed("default", &x).await.unwrap_err();
    assert_api(&e, 400, codes::START_TS_BEFORE_GC);
    sim.set_gc_safepoint(0);
    c.create_changefeed("default", &x).await.unwrap();
    sim.shutdown().await;
}

/// pingcap/ticdc v8.5.7 pkg/config/replica_config.go `(*ReplicaConfig).ValidateAndAdjust`:
/// sync point needs a MySQL/TiDB sink; api/v2/changefeed.go wraps the error in
/// `ErrInvalidReplicaConfig`, which is not on pkg/api/util.go's bad-request list (500). tiflow
/// refuses it earlier, in the sink validator create runs (v8.5.0 cdc/api/v2/api_helpers.go
/// `verifyCreateChangefeedConfig` → cdc/sink/validator/validator.go
/// `checkSyncPointSchemeCompatibility`: 400 `ErrSinkURIInvalid`).
#[tokio::test]
async fn newarch_refuses_sync_point_on_non_mysql_sinks() {
    for (name, sc) in on_both() {
        let sim = start_sim(sc.clone()).await;
        let c = client_for(&sim);
        let mut body = cfg("sp", "blackhole://");
        body.replica_config = Some(json!({"enable_sync_point": true}));
        let r = c.create_changefeed("default", &body).await;
        if sc.profile == SimProfile::Newarch {
            let e = r.unwrap_err();
            assert_api(&e, 500, codes::INVALID_REPLICA_CONFIG);
            assert!(e.to_string().contains("SyncPoint must be disabled"), "{e}");
            // Update goes through the same ValidateAndAdjust.
            c.create_changefeed("default", &cfg("sp2", "blackhole://"))
                .await
                .unwrap();
            c.pause_changefeed("default", "sp2").await.unwrap();
            let upd = ChangefeedConfig {
                replica_config: Some(json!({"enable_sync_point": true})),
                ..Default::default()
            };
            let e = c
                .update_changefeed("default", "sp2", &upd)
                .await
                .unwrap_err();
            assert_api(&e, 500, codes::INVALID_REPLICA_CONFIG);
            // A MySQL sink may have it.
            let mut my = cfg("sp3", "mysql://root@127.0.0.1:3306/");
            my.replica_config = Some(json!({"enable_sync_point": true}));
            c.create_changefeed("default", &my)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        } else {
            let e = r.unwrap_err();
            assert_api(&e, 400, codes::SINK_URI_INVALID);
            assert!(
                e.to_string().contains("not supported with syncpoint"),
                "{e}"
            );
        }
        sim.shutdown().await;
    }
}

/// Both architectures refuse sync point on a non-MySQL sink (see above), so `cdcform validate`
/// refuses it too, at the line, before the pull request merges.
#[test]
fn validate_refuses_sync_point_on_non_mysql_sinks() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("cf.yaml");
    std::fs::write(
        &f,
        "changefeeds:\n  - id: sp\n    sink_uri: \"kafka://k:9092/t?protocol=canal-json\"\n    replica_config:\n      enable_sync_point: true\n",
    )
    .unwrap();
    let o = crate::harness::cdcform()
        .arg("validate")
        .arg(&f)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cf.yaml:5:") && err.contains("only supported by MySQL/TiDB sinks"),
        "{err}"
    );
}

/// Server-side rewrites (issue 10 item 7), each applied by the simulator from source and
/// tolerated by the normaliser: apply → plan is empty on every profile.
/// - `large_message_handle_option`/`_compression` "" → "none": tiflow v7.5.0–v8.5.0 and
///   pingcap/ticdc v8.5.7 pkg/config/large_message.go `AdjustAndValidate`;
/// - event-filter fields without omitempty come back as `null`/`""` (api/v2/model.go
///   `EventFilterRule`), `claim_check_raw_value` as false (`LargeMessageHandleConfig`, v8.5+);
/// - newarch, tables across nodes: `write_key_threshold` raised to 10485760,
///   `region_count_per_span` clamped to `region_threshold`, `enable_splittable_check` derived
///   (pingcap/ticdc v8.5.7 pkg/config/scheduler_config.go `ValidateAndAdjust`);
/// - `performance_mode` dropped by every released server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_rewrites_plan_empty_after_apply() {
    use crate::harness::{assert_empty, converge, manifests, plan, sim};
    for (name, sc) in profiles() {
        let newarch = sc.profile == SimProfile::Newarch;
        let s = sim(sc).await;
        let desired = manifests(&rewrites_manifest(newarch));
        converge(&s, &desired).await;
        let c = client_for(&s);
        let lm = config_of(&c, "lm").await;
        let h = &lm["sink"]["kafka_config"]["large_message_handle"];
        assert_eq!(
            h["large_message_handle_compression"],
            json!("none"),
            "{name}"
        );
        assert_eq!(h["large_message_handle_option"], json!("none"), "{name}");
        let ef = config_of(&c, "ef").await;
        let rule = &ef["filter"]["event_filters"][0];
        assert_eq!(rule["ignore_sql"], json!(null), "{name}");
        assert_eq!(rule["ignore_delete_value_expr"], json!(""), "{name}");
        assert!(ef.get("performance_mode").is_none(), "{name}");
        let redo = config_of(&c, "redo").await;
        let want = if newarch { json!("none") } else { Value::Null };
        let got = redo["consistent"].get("compression").cloned();
        assert_eq!(got.unwrap_or(Value::Null), want, "{name}");
        if newarch {
            let sc = config_of(&c, "sched").await;
            assert_eq!(sc["scheduler"]["write_key_threshold"], json!(10_485_760));
            assert_eq!(sc["scheduler"]["region_count_per_span"], json!(10000));
            assert_eq!(sc["scheduler"]["enable_splittable_check"], json!(true));
        }
        let p = plan(&s, &desired).await;
        assert_empty(&p, &format!("{name}: plan after apply"));
        s.shutdown().await;
    }
}

async fn config_of(c: &Client, id: &str) -> Value {
    c.get_changefeed("default", id)
        .await
        .unwrap()
        .config
        .unwrap()
}

/// Manifests whose values the server rewrites (see above).
fn rewrites_manifest(newarch: bool) -> String {
    let mut yaml = String::from(
        r#"changefeeds:
  - id: lm
    sink_uri: "kafka://127.0.0.1:9092/t?protocol=canal-json"
    replica_config:
      sink:
        kafka_config:
          large_message_handle:
            large_message_handle_compression: ""
  - id: ef
    sink_uri: "blackhole://"
    replica_config:
      performance_mode: low-latency
      filter:
        event_filters:
          - matcher: ["a.*"]
            ignore_event: ["delete"]
  - id: redo
    sink_uri: "mysql://root@127.0.0.1:3306/"
    replica_config:
      consistent:
        level: eventual
        storage: "file:///tmp/cdcform-redo"
"#,
    );
    if newarch {
        yaml.push_str(
            r#"  - id: sched
    sink_uri: "mysql://root@127.0.0.1:3306/"
    replica_config:
      scheduler:
        enable_table_across_nodes: true
        write_key_threshold: 100
        region_count_per_span: 50000
"#,
        );
    }
    yaml
}

/// `performance_mode` (pingcap/ticdc master pkg/config/replica_config.go: `throughput` or
/// `low-latency`; in no released tag): the manifest takes TiCDC's values, not `latency`, and
/// `validate` warns that released servers drop it.
#[test]
fn performance_mode_takes_ticdc_values_and_warns() {
    let load = |v: &str| {
        cdcform::manifest::load_str(
            "cf.yaml",
            &format!("changefeeds:\n  - id: a\n    sink_uri: \"blackhole://\"\n    replica_config:\n      performance_mode: {v}\n"),
            &|_| None,
        )
    };
    let ok = load("low-latency").expect("low-latency is TiCDC's value");
    let w = cdcform::manifest::compat::warnings(&ok.changefeeds[0], None);
    assert!(w[0].message.contains("unreleased"), "{w:?}");
    assert!(load("throughput").is_ok());
    let e = load("latency").unwrap_err().to_string();
    assert!(e.contains("latency"), "{e}");
}

/// Redo compression other than `none`/`lz4` (with redo on): pingcap/ticdc v8.5.7
/// pkg/config/consistent.go `validateAndAdjust` and tiflow v8.5.0 `ValidateAndAdjust` refuse it
/// with `ErrInvalidReplicaConfig` (not on the bad-request list: 500).
#[tokio::test]
async fn redo_compression_is_checked() {
    for (name, sc) in on_both() {
        let sim = start_sim(sc).await;
        let c = client_for(&sim);
        let mut body = cfg("redo", "mysql://root@127.0.0.1:3306/");
        body.replica_config = Some(json!({"consistent": {"level": "eventual",
            "storage": "file:///tmp/cdcform-redo", "compression": "zstd"}}));
        let e = c.create_changefeed("default", &body).await.unwrap_err();
        assert_api(&e, 500, codes::INVALID_REPLICA_CONFIG);
        assert!(
            e.to_string().contains("must be 'none' or 'lz4'"),
            "{name}: {e}"
        );
        // Redo off: the value is not looked at.
        body.replica_config = Some(json!({"consistent": {"level": "none", "compression": "zstd"}}));
        c.create_changefeed("default", &body)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        sim.shutdown().await;
    }
}

/// Keys some servers' API structs lack are dropped on decode, and the normaliser does not
/// compare them: `target-schema`/`target-table` of dispatch rules (pingcap/ticdc v8.5.7
/// api/v2/model.go `DispatchRule` has them, tiflow v8.5.0 cdc/api/v2/model.go does not) and
/// `ignore_update_only_columns` of event filters (pingcap/ticdc master only, PR #5194), and the
/// active-active keys (pingcap/ticdc v26.3 next-gen builds and master, not v8.5.7 nor tiflow).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_a_server_lacks_are_dropped_and_plan_empty() {
    use crate::harness::{assert_empty, converge, manifests, plan, sim};
    let yaml = r#"changefeeds:
  - id: routed
    sink_uri: "kafka://127.0.0.1:9092/t?protocol=canal-json"
    replica_config:
      enable_active_active: true
      filter:
        event_filters:
          - matcher: ["a.*"]
            ignore_update_only_columns: ["updated_at"]
      sink:
        dispatchers:
          - matcher: ["a.*"]
            partition: table
            target-schema: "{schema}_bak"
"#;
    let desired = manifests(yaml);
    let w = cdcform::manifest::compat::warnings(&desired[0], None);
    assert_eq!(w.len(), 3, "{w:?}");
    for (name, sc) in profiles() {
        let newarch = sc.profile == SimProfile::Newarch;
        let s = sim(sc).await;
        converge(&s, &desired).await;
        let cfg = config_of(&client_for(&s), "routed").await;
        let rule = &cfg["sink"]["dispatchers"][0];
        assert_eq!(
            rule.get("target-schema").is_some(),
            newarch,
            "{name}: {rule}"
        );
        let ef = &cfg["filter"]["event_filters"][0];
        assert!(ef.get("ignore_update_only_columns").is_none(), "{name}");
        // pingcap/ticdc v8.5.7 api/v2/model.go `ReplicaConfig` has no active-active keys (v26.3 has).
        assert!(cfg.get("enable_active_active").is_none(), "{name}");
        let p = plan(&s, &desired).await;
        assert_empty(&p, &format!("{name}: plan after apply"));
        s.shutdown().await;
    }
}

/// Every test tests/REFUSALS.md names exists (`module::name` → `fn name` in tests/it/module.rs).
#[test]
fn refusal_table_names_real_tests() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let table = std::fs::read_to_string(root.join("tests/REFUSALS.md")).unwrap();
    let mut checked = 0;
    for cell in table.split('`') {
        let Some((module, name)) = cell.split_once("::") else {
            continue;
        };
        if !module.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            continue;
        }
        let file = root.join(format!("tests/it/{module}.rs"));
        let src = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            src.contains(&format!("fn {name}(")),
            "tests/REFUSALS.md names `{module}::{name}`, which {} does not define",
            file.display()
        );
        checked += 1;
    }
    assert!(
        checked >= 10,
        "only {checked} test names found in tests/REFUSALS.md"
    );
}

/// Resume without `overwrite_checkpoint_ts` checks the current checkpoint (tiflow v8.5.0 and
/// pingcap/ticdc v8.5.7 api/v2/changefeed.go `resumeChangefeed` → `verifyResumeChangefeedConfig`):
/// a paused changefeed holds the safepoint back itself, so 20 minutes behind resumes; one behind
/// the 24h gc-ttl, or failed because of GC, no longer holds it and is refused.
#[tokio::test]
async fn resume_checks_the_current_checkpoint_against_gc() {
    for (name, sc) in on_both() {
        let sim = start_sim(sc).await;
        let c = client_for(&sim);
        for id in ["recent", "ancient", "gc-failed"] {
            c.create_changefeed("default", &cfg(id, "blackhole://"))
                .await
                .unwrap();
            c.pause_changefeed("default", id).await.unwrap();
        }
        let n = now(&c).await;
        sim.set_checkpoint("default", "recent", n - 20 * MINUTE);
        sim.set_checkpoint("default", "ancient", n - 25 * 60 * MINUTE);
        sim.set_state(
            "default",
            "gc-failed",
            "failed",
            Some(("CDC:ErrGCTTLExceeded", "gc ttl exceeded")),
        );
        sim.set_checkpoint("default", "gc-failed", n - 20 * MINUTE);
        c.resume_changefeed("default", "recent", 0)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // `recent` runs again (its checkpoint caught up), so nothing holds GC 20 minutes back now.
        for id in ["ancient", "gc-failed"] {
            let e = c.resume_changefeed("default", id, 0).await.unwrap_err();
            assert_api(&e, 400, codes::START_TS_BEFORE_GC);
        }
        sim.shutdown().await;
    }
}
