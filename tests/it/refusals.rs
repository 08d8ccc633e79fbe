//! Lifecycle and replica-config refusals the simulator models from TiCDC's source, one test
//! per row of tests/REFUSALS.md ("Lifecycle and replica-config refusals").

use cdcform::simulator::{SimConfig, SimProfile};
use cdcform::ticdc::error::codes;
use cdcform::ticdc::models::ChangefeedConfig;
use cdcform::ticdc::{Client, ClientError};
use serde_json::json;

use crate::common::{client_for, start_sim};
use crate::harness::profiles;

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
        .map(|(n, c)| (n, SimConfig { tick: std::time::Duration::ZERO, ..c }))
        .collect()
}

async fn now(c: &Client) -> u64 {
    c.tso().await.unwrap().compose()
}

/// tiflow v8.5.0 and pingcap/ticdc v8.5.7-release.1 pkg/txnutil/gc/gc_service.go
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
/// v8.5.7-release.1 api/v2/changefeed.go): `overwrite_checkpoint_ts` goes through the same check.
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
    let _ = (json!(null), SimProfile::Newarch);
}
