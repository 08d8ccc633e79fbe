//! Export's contract: what it writes passes `validate` and plans empty, on every profile and for
//! live configs created by raw POSTs (legacy keys, server rewrites, zero values); nothing matched
//! is an error; `--namespace` and empty passwords survive the round trip.

use std::collections::BTreeSet;

use cdcform::export::{self, ExportError, ExportOptions};
use cdcform::manifest::{self, DesiredChangefeed};
use cdcform::plan::live;
use cdcform::simulator::{SimProfile, Simulator};
use serde_json::{json, Value};

use crate::harness::{assert_empty, cdcform, client, plan, profiles, sim};

/// Export `namespace` of `s` through the library, as `cdcform export` does.
pub async fn export_text(
    s: &Simulator,
    namespace: &str,
    ids: &[&str],
) -> Result<String, ExportError> {
    let c = client(s);
    let ns: BTreeSet<String> = [namespace.to_string()].into();
    let snap = live::read(&c, &ns, 8, None).await.expect("live read");
    let opts = ExportOptions {
        ids: ids.iter().map(|s| s.to_string()).collect(),
        namespace: namespace.into(),
    };
    let chosen = export::select(&snap.changefeeds, &snap.listed_only, &opts)?;
    let items: Vec<export::Entry> = chosen
        .into_iter()
        .map(|l| export::export_one(&snap.profile, l))
        .collect();
    export::document(&items)
}

/// Export never writes a manifest that validate refuses: checked after every `converge` of every
/// test, over each namespace the manifests use. A read that fails (injected faults) is skipped:
/// this checks what export writes, not whether it can read.
pub async fn assert_export_validates(s: &Simulator, desired: &[DesiredChangefeed]) {
    let mut namespaces: BTreeSet<String> =
        desired.iter().filter_map(|d| d.namespace.clone()).collect();
    namespaces.insert("default".into());
    let c = client(s);
    for ns in namespaces {
        let snap = live::read(&c, &[ns.clone()].into(), 8, None)
            .await
            .unwrap_or_else(|e| panic!("namespace {ns} cannot be read after converge: {e}"));
        assert!(
            snap.unlisted.is_empty() && snap.unreadable.is_empty(),
            "namespace {ns}: not every changefeed was read after converge"
        );
        let items: Vec<export::Entry> = snap
            .changefeeds
            .values()
            .map(|l| export::export_one(&snap.profile, l))
            .collect();
        match export::document(&items) {
            Ok(text) => {
                validate(&text);
            }
            Err(e) => panic!("export of namespace {ns} after converge: {e}"),
        }
    }
}

/// What `cdcform validate` does with a file: load it (variables set to `x`).
pub fn validate(text: &str) -> Vec<DesiredChangefeed> {
    manifest::load_str("exported.yaml", text, &|_| Some("x".into()))
        .unwrap_or_else(|d| panic!("validate refuses the export:\n{d}\n{text}"))
        .changefeeds
}

/// POST a raw body (as any other client could) and wait until the owner shows it.
pub async fn raw_create(s: &Simulator, body: Value) {
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v2/changefeeds", s.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{body}: {status} {text}");
    let id = body["changefeed_id"].as_str().unwrap();
    let ns = body["namespace"].as_str().unwrap_or("default");
    crate::harness::wait_visible(&client(s), ns, id).await;
}

/// Raw create bodies that exercise what the server rewrites or drops (tiflow v8.5.0 and
/// pingcap/ticdc v8.5.7 api/v2/model.go: no `dispatcher` in `DispatchRule`, no
/// omitempty on `EventFilterRule`/`LargeMessageHandleConfig`; large_message.go fills "none").
fn rewritten_bodies(newarch: bool) -> Vec<Value> {
    let mut v = vec![
        json!({"changefeed_id": "legacy-dispatcher", "sink_uri": "kafka://127.0.0.1:9092/t?protocol=open-protocol",
            "replica_config": {"sink": {"dispatchers": [
                {"matcher": ["a.*"], "dispatcher": "table"},
                {"matcher": ["b.*"], "partition": "ts", "dispatcher": "rowid"}]}}}),
        json!({"changefeed_id": "event-filters", "sink_uri": "blackhole://",
            "replica_config": {"filter": {"event_filters": [
                {"matcher": ["a.*"], "ignore_event": ["delete"]}, {"matcher": ["b.*"], "ignore_sql": ["^drop"], "bogus": 1}]}}}),
        json!({"changefeed_id": "large-message", "sink_uri": "kafka://127.0.0.1:9092/t?protocol=canal-json",
            "replica_config": {"sink": {"kafka_config": {"large_message_handle": {"large_message_handle_option": ""}}}}}),
        json!({"changefeed_id": "perf-mode", "sink_uri": "blackhole://",
            "replica_config": {"performance_mode": "low-latency"}}),
        json!({"changefeed_id": "empty-password", "sink_uri": "mysql://cdc:@127.0.0.1:3306/"}),
    ];
    if newarch {
        v.push(json!({"changefeed_id": "scheduler", "sink_uri": "kafka://127.0.0.1:9092/t?protocol=canal-json",
            "replica_config": {"scheduler": {"enable_table_across_nodes": true, "write_key_threshold": 100,
                "region_count_per_span": 50000}}}));
    }
    v
}

/// Issue 10 item 3 and issue 16 item 4: export never writes a manifest that validate refuses,
/// and the export plans empty — over configs a raw POST made, on every profile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_of_server_rewritten_configs_validates_and_plans_empty() {
    for (name, cfg) in profiles() {
        let newarch = cfg.profile == SimProfile::Newarch;
        let s = sim(cfg).await;
        for body in rewritten_bodies(newarch) {
            raw_create(&s, body).await;
        }
        let live = client(&s)
            .get_changefeed("default", "legacy-dispatcher")
            .await
            .unwrap();
        let cfgv = live.config.unwrap();
        assert_eq!(
            cfgv["sink"]["dispatchers"],
            json!([{"matcher": ["a.*"]}, {"matcher": ["b.*"], "partition": "ts"}]),
            "{name}: the API drops the legacy `dispatcher` key"
        );
        let text = export_text(&s, "default", &[]).await.unwrap();
        assert!(!text.contains("dispatcher:"), "{name}:\n{text}");
        assert!(!text.contains("performance_mode"), "{name}:\n{text}");
        // Classic servers give the unmasked URI (meta_info): an empty password is exported as
        // is. New-architecture servers mask it (`cdc:xxxxx`), so it stays a placeholder.
        if !newarch {
            assert!(
                text.contains("mysql://cdc:@127.0.0.1:3306/"),
                "{name}: empty password kept:\n{text}"
            );
        }
        let desired = validate(&text);
        assert_empty(
            &plan(&s, &desired).await,
            &format!("{name}: plan after export"),
        );
        s.shutdown().await;
    }
}

/// Issue 16 item 4: an `--id` that matches nothing, or an empty namespace, exits 1 with the
/// count and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_with_nothing_matched_exits_1_and_writes_nothing() {
    let s = sim(crate::harness::classic()).await;
    raw_create(
        &s,
        json!({"changefeed_id": "orders", "sink_uri": "blackhole://"}),
    )
    .await;
    let e = export_text(&s, "default", &["ordres*"]).await.unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("no changefeed matches --id `ordres*`")
            && msg.contains("(1 changefeed there)"),
        "{msg}"
    );
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out");
    let o = cdcform()
        .args(["export", "--server", &s.url(), "--id", "nope", "--out"])
        .arg(&target)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("no changefeed matches"), "{err}");
    assert!(!target.exists(), "nothing is written");
    let o = cdcform()
        .args(["export", "--server", &s.url(), "--namespace", "empty"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("namespace `empty` (0 changefeeds there)"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
    // An empty list, should export ever write one, is valid too.
    assert!(validate(&export::document(&[]).unwrap()).is_empty());
    s.shutdown().await;
}

/// Issue 10 item 6: `export --namespace ns` writes `namespace: ns`, so a plan without the flag
/// finds the changefeeds where they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_with_namespace_plans_empty_without_the_flag() {
    let s = sim(crate::harness::classic()).await;
    raw_create(
        &s,
        json!({"changefeed_id": "n1", "namespace": "team-a", "sink_uri": "blackhole://"}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let o = cdcform()
        .args(["export", "--server", &s.url(), "--namespace", "team-a"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(text.contains("namespace: team-a"), "{text}");
    let f = dir.path().join("e.yaml");
    std::fs::write(&f, &text).unwrap();
    let o = cdcform()
        .args(["plan", "--detailed-exitcode", "--server", &s.url()])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}\n{text}",
        String::from_utf8_lossy(&o.stdout)
    );
    s.shutdown().await;
}

/// Issue 10 item 5: a variable that is set but empty is a value: `${PW}` with `PW=""` plans.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_variable_is_a_value() {
    let s = sim(crate::harness::classic()).await;
    raw_create(
        &s,
        json!({"changefeed_id": "my", "sink_uri": "mysql://cdc:@127.0.0.1:3306/"}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("m.yaml");
    std::fs::write(
        &f,
        "changefeeds:\n  - id: my\n    sink_uri: \"mysql://cdc:${PW}@127.0.0.1:3306/\"\n",
    )
    .unwrap();
    let o = cdcform()
        .env("PW", "")
        .args(["plan", "--detailed-exitcode", "--server", &s.url()])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    s.shutdown().await;
}

/// Every example, applied on every profile, exports to a manifest that validates and plans
/// empty (placeholders filled with the values the examples used).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_of_every_example_validates_and_plans_empty() {
    let desired = crate::harness::examples();
    for (name, cfg) in profiles() {
        let s = sim(cfg).await;
        crate::harness::converge(&s, &desired).await;
        let text = export_text(&s, "default", &[]).await.unwrap();
        validate(&text);
        // The harness environment gives every variable the value the examples were applied with.
        let back = crate::harness::manifests(&text);
        let live = desired
            .iter()
            .filter(|d| d.state != cdcform::manifest::DesiredState::Absent)
            .count();
        assert_eq!(back.len(), live, "{name}: one entry per live changefeed");
        assert_empty(
            &plan(&s, &back).await,
            &format!("{name}: export of the examples"),
        );
        s.shutdown().await;
    }
}

/// What `export` writes, as a user reads it, on both profiles: a Kafka changefeed with a
/// password in its URI (written as a `${…}` placeholder, never the value), a filter and a
/// paused MySQL one. Snapshotted, so a change in wording, order or defaults shows in the diff.
#[tokio::test]
async fn export_yaml_is_as_snapshotted() {
    let desired = crate::harness::manifests(
        r#"changefeeds:
  - id: orders-to-kafka
    sink_uri: "kafka://cdc:${CDCFORM_TEST_KAFKA_PASSWORD}@10.0.0.9:9092/orders?protocol=canal-json"
    replica_config:
      filter:
        rules: ["shop.orders", "shop.order_items"]
  - id: billing-archive
    sink_uri: "mysql://root@10.0.0.8:3306/"
    state: paused
"#,
    );
    for (name, cfg) in profiles() {
        let s = sim(cdcform::simulator::SimConfig {
            sink_check: false,
            ..cfg
        })
        .await;
        crate::harness::converge(&s, &desired).await;
        let text = export_text(&s, "default", &[]).await.unwrap();
        assert!(!text.contains(crate::harness::CANARY), "{text}");
        let file = name.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        insta::assert_snapshot!(format!("export_{file}"), text);
        s.shutdown().await;
    }
}
