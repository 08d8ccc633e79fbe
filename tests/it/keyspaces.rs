//! Keyspaces on the new architecture, per kernel (pingcap/ticdc `pkg/config/kerneltype`;
//! api/v2/changefeed.go `GetKeyspaceValueWithDefault`, api/middleware/middleware.go
//! `KeyspaceCheckerMiddleware`): the simulator's two kernels, cdcform's detection, and plan /
//! validate refusing a namespace the server cannot honour.

use std::time::Duration;

use cdcform::plan::pipeline::compute;
use cdcform::plan::PlanOptions;
use cdcform::simulator::{SimConfig, SimKernel, SimProfile, Simulator};
use serde_json::{json, Value};

use crate::harness::{apply_options, assert_empty, cdcform, manifests, settings};

fn newarch(kernel: SimKernel) -> SimConfig {
    SimConfig {
        profile: SimProfile::Newarch,
        sink_check: false,
        tick: Duration::ZERO,
        kernel,
        ..SimConfig::default()
    }
}

fn nextgen(keyspaces: &[&str]) -> SimConfig {
    newarch(SimKernel::NextGen {
        keyspaces: keyspaces.iter().map(|s| s.to_string()).collect(),
    })
}

async fn call(sim: &Simulator, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let http = reqwest::Client::new();
    let mut req = http.request(method.parse().unwrap(), format!("{}{path}", sim.url()));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

const TEAM_A: &str = "changefeeds:\n  - id: orders\n    namespace: team-a\n    sink_uri: blackhole://\n    replica_config:\n      mounter: {worker_num: 4}\n";

/// Classic kernel: the keyspace parameter and body field are ignored; everything lives in
/// `default`, and a list for `team-a` shows the `default` changefeeds.
#[tokio::test]
async fn classic_kernel_ignores_the_keyspace() {
    let sim = crate::harness::sim(newarch(SimKernel::Classic)).await;
    let body = json!({"changefeed_id": "cf1", "keyspace": "team-b", "sink_uri": "blackhole://"});
    let (s, v) = call(
        &sim,
        "POST",
        "/api/v2/changefeeds?keyspace=team-a",
        Some(body),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["keyspace"], "default");
    let (s, v) = call(&sim, "GET", "/api/v2/changefeeds?keyspace=team-a", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["items"][0]["id"], "cf1");
    assert_eq!(v["items"][0]["keyspace"], "default");
    let (s, _) = call(
        &sim,
        "GET",
        "/api/v2/changefeeds/cf1?keyspace=anything",
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = call(&sim, "GET", "/api/v2/changefeeds", None).await;
    assert_eq!((s, v["total"].clone()), (200, json!(1)));
}

/// Next-gen kernel: the parameter is required and must name an existing keyspace.
#[tokio::test]
async fn nextgen_kernel_requires_an_existing_keyspace() {
    let sim = crate::harness::sim(nextgen(&["team-a"])).await;
    let (s, v) = call(&sim, "GET", "/api/v2/changefeeds", None).await;
    assert_eq!(s, 400);
    assert_eq!(v["error_code"], "CDC:ErrAPIInvalidParam");
    assert!(v["error_msg"]
        .as_str()
        .unwrap()
        .contains("missing required query parameter keyspace"));
    let (s, v) = call(&sim, "GET", "/api/v2/changefeeds?keyspace=team-b", None).await;
    assert_eq!(s, 400);
    assert!(v["error_msg"].as_str().unwrap().contains("does not exist"));
    let body = json!({"changefeed_id": "cf1", "sink_uri": "blackhole://"});
    let (s, v) = call(
        &sim,
        "POST",
        "/api/v2/changefeeds?keyspace=team-a",
        Some(body),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["keyspace"], "team-a");
    // Routes outside the keyspace middleware answer without it.
    let (s, _) = call(&sim, "GET", "/api/v2/captures", None).await;
    assert_eq!(s, 200);
}

/// End to end: `namespace: team-a` against a classic-kernel new-architecture server is refused at
/// plan time with the reason and the fix; against next-gen with keyspace team-a it applies there
/// and the next plan is empty; a keyspace that does not exist is named.
#[tokio::test]
async fn plan_refuses_a_namespace_the_kernel_cannot_honour() {
    let desired = manifests(TEAM_A);
    let sim = crate::harness::sim(newarch(SimKernel::Classic)).await;
    let s = settings(&sim);
    let c = cdcform::ticdc::Client::new(s.client.clone()).unwrap();
    let err = compute(
        &s,
        &c,
        &desired,
        &PlanOptions::default(),
        Duration::from_secs(60),
    )
    .await
    .err()
    .expect("refused")
    .to_string();
    assert!(err.contains("classic kernel"), "{err}");
    assert!(
        err.contains("`team-a`") && err.contains("changefeed `orders`"),
        "{err}"
    );
    assert!(err.contains("help: remove `namespace:`"), "{err}");
    assert!(
        sim.requests().iter().all(|r| r.method == "GET"),
        "nothing written"
    );

    let sim = crate::harness::sim(nextgen(&["team-a"])).await;
    let mut s = settings(&sim);
    s.namespace = "team-a".into();
    let c = cdcform::ticdc::Client::new(s.client.clone()).unwrap();
    let (p, _) = compute(
        &s,
        &c,
        &desired,
        &PlanOptions::default(),
        Duration::from_secs(60),
    )
    .await
    .expect("plan");
    assert_eq!(p.summary.create, 1);
    let r = cdcform::apply::apply(&c, &p, &apply_options(), &|_: &str| {}).await;
    assert!(r.all_ok(), "{}", cdcform::apply::summary_text(&r));
    let (st, v) = call(
        &sim,
        "GET",
        "/api/v2/changefeeds/orders?keyspace=team-a",
        None,
    )
    .await;
    assert_eq!((st, v["keyspace"].clone()), (200, json!("team-a")));
    let (again, _) = compute(
        &s,
        &c,
        &desired,
        &PlanOptions::default(),
        Duration::from_secs(60),
    )
    .await
    .expect("plan");
    assert_empty(&again, "next-gen keyspace team-a after apply");
    // Every changefeed request names the keyspace, except the kernel probe (a bare list).
    let unscoped: Vec<String> = sim
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/v2/changefeeds") && !r.query.contains("keyspace="))
        .filter(|r| !(r.method == "GET" && r.path == "/api/v2/changefeeds" && r.query.is_empty()))
        .map(|r| format!("{} {}?{}", r.method, r.path, r.query))
        .collect();
    assert!(unscoped.is_empty(), "{unscoped:?}");

    let team_b = manifests(&TEAM_A.replace("team-a", "team-b"));
    let err = compute(
        &s,
        &c,
        &team_b,
        &PlanOptions::default(),
        Duration::from_secs(60),
    )
    .await
    .err()
    .expect("refused")
    .to_string();
    assert!(err.contains("`team-b` do not exist"), "{err}");
    assert!(err.contains("help: set `namespace:`"), "{err}");
}

/// `validate --target newarch` (classic kernel, as every self-hosted cluster) refuses a
/// non-default namespace; `--target newarch-nextgen` accepts it.
#[test]
fn validate_target_newarch_refuses_other_namespaces() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("cf.yaml");
    std::fs::write(&f, TEAM_A).unwrap();
    let out = cdcform()
        .args(["validate", "--target", "newarch"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("classic kernel keeps every changefeed in keyspace `default`"),
        "{err}"
    );
    assert!(err.contains("cf.yaml:2:"), "{err}");
    let out = cdcform()
        .args(["validate", "--target", "newarch-nextgen"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}
