//! Property-based tests over generated configurations, per profile (classic v8.5/v8.1/v7.5 and
//! newarch): apply → plan is empty; a mutated manifest (fields changed, removed, added; run state
//! flipped) → apply → plan is empty; a raw POST → export → validate → plan is empty.
//!
//! `cargo test` runs a few cases per profile from a fixed seed; `PROPTEST_CASES=200 cargo test
//! --test it props::` runs more (docs/testing.md, "Property tests").

use std::sync::atomic::{AtomicUsize, Ordering};

use cdcform::simulator::{SimProfile, Simulator};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{json, Map, Value};

use crate::export::{export_text, raw_create, validate};
use crate::harness::{converge, manifests, plan, profiles, sim};

/// Sink families a generated changefeed uses (hosts are never dialled: sink checks are off).
const SINKS: &[&str] = &[
    "blackhole://",
    "kafka://127.0.0.1:9092/orders?protocol=canal-json",
    "kafka://127.0.0.1:9092/orders?protocol=open-protocol",
    "mysql://root@127.0.0.1:3306/",
    "file:///tmp/cdcform-props?protocol=csv",
];

const RULES: &[&str] = &["*.*", "shop.*", "!shop.tmp_*", "db?.t[0-9]", "sales.orders"];

fn rules() -> impl Strategy<Value = Value> {
    prop::sample::subsequence(RULES.to_vec(), 1..=3).prop_map(|r| json!(r))
}

fn event_filter() -> impl Strategy<Value = Value> {
    (
        rules(),
        prop::sample::subsequence(
            vec!["delete", "insert", "truncate table", "drop table"],
            0..=2,
        ),
        prop::option::of(Just("^DROP")),
    )
        .prop_map(|(m, ev, sql)| {
            let mut o = Map::new();
            o.insert("matcher".into(), m);
            if !ev.is_empty() {
                o.insert("ignore_event".into(), json!(ev));
            }
            if let Some(s) = sql {
                o.insert("ignore_sql".into(), json!([s]));
            }
            Value::Object(o)
        })
}

/// Scalars any profile accepts, each present or not.
fn common() -> impl Strategy<Value = Map<String, Value>> {
    (
        prop::option::of(1_000_000u64..4_000_000_000),
        prop::option::of(any::<bool>()),
        prop::option::of(1u32..64),
        prop::option::of(rules()),
        prop::option::of(prop::collection::vec(event_filter(), 1..3)),
        prop::option::of(prop::sample::select(vec!["30m", "45m", "1h", "2h30m"])),
        prop::option::of(prop::sample::select(vec!["throughput", "low-latency"])),
    )
        .prop_map(|(quota, case, workers, rules, efs, stuck, perf)| {
            let mut o = Map::new();
            if let Some(q) = quota {
                o.insert("memory_quota".into(), json!(q));
            }
            if let Some(c) = case {
                o.insert("case_sensitive".into(), json!(c));
            }
            if let Some(w) = workers {
                o.insert("mounter".into(), json!({"worker_num": w}));
            }
            let mut filter = Map::new();
            if let Some(r) = rules {
                filter.insert("rules".into(), r);
            }
            if let Some(e) = efs {
                filter.insert("event_filters".into(), json!(e));
            }
            if !filter.is_empty() {
                o.insert("filter".into(), Value::Object(filter));
            }
            if let Some(s) = stuck {
                o.insert("changefeed_error_stuck_duration".into(), json!(s));
            }
            if let Some(p) = perf {
                o.insert("performance_mode".into(), json!(p));
            }
            o
        })
}

/// Settings that only make sense (or are only valid) for some sinks or profiles.
fn specific(sink: &'static str, newarch: bool) -> BoxedStrategy<Map<String, Value>> {
    let kafka = sink.starts_with("kafka");
    let mysql = sink.starts_with("mysql");
    (
        prop::option::of((
            prop::sample::select(vec!["table", "ts", "default"]),
            rules(),
        )),
        prop::option::of(1i64..64),
        prop::option::of(prop::sample::select(vec!["", "none", "lz4"])),
        prop::option::of(prop::sample::select(vec!["30s", "1m", "10m"])),
        prop::option::of((0i64..20_000_000, 1i64..20_000)),
        prop::option::of(prop::sample::select(vec!["", "none", "lz4"])),
    )
        .prop_map(move |(disp, conc, lmh, sp, sched, redo)| {
            let mut o = Map::new();
            let mut s = Map::new();
            if kafka {
                if let Some((p, m)) = disp {
                    s.insert(
                        "dispatchers".into(),
                        json!([{"matcher": m, "partition": p}]),
                    );
                }
                if let Some(c) = conc {
                    s.insert("encoder_concurrency".into(), json!(c));
                }
                if let Some(c) = lmh {
                    s.insert(
                        "kafka_config".into(),
                        json!({"large_message_handle": {"large_message_handle_compression": c}}),
                    );
                }
            }
            if mysql {
                if let Some(i) = sp {
                    o.insert("enable_sync_point".into(), json!(true));
                    o.insert("sync_point_interval".into(), json!(i));
                }
                if let Some(c) = redo {
                    o.insert(
                        "consistent".into(),
                        json!({"level": "eventual", "storage": "file:///tmp/cdcform-redo",
                            "compression": c}),
                    );
                }
            }
            if newarch && !mysql {
                if let Some((wkt, per_span)) = sched {
                    o.insert(
                        "scheduler".into(),
                        json!({"enable_table_across_nodes": true, "write_key_threshold": wkt,
                            "region_count_per_span": per_span}),
                    );
                }
            }
            if !s.is_empty() {
                o.insert("sink".into(), Value::Object(s));
            }
            o
        })
        .boxed()
}

fn config(sink: &'static str, newarch: bool) -> impl Strategy<Value = Value> {
    (common(), specific(sink, newarch)).prop_map(|(mut a, b)| {
        a.extend(b);
        Value::Object(a)
    })
}

/// One case: a sink, two configurations for it and two run states.
fn case(newarch: bool) -> impl Strategy<Value = (&'static str, Value, bool, Value, bool)> {
    prop::sample::select(SINKS.to_vec()).prop_flat_map(move |sink| {
        (
            Just(sink),
            config(sink, newarch),
            any::<bool>(),
            config(sink, newarch),
            any::<bool>(),
        )
    })
}

/// The manifest YAML of one changefeed (written by the same emitter export uses).
fn manifest_yaml(id: &str, sink: &str, cfg: &Value, paused: bool) -> String {
    let mut item = json!({"id": id, "sink_uri": sink});
    if paused {
        item["state"] = json!("paused");
    }
    if cfg.as_object().is_some_and(|o| !o.is_empty()) {
        item["replica_config"] = cfg.clone();
    }
    cdcform::yaml::to_string(&json!({"changefeeds": [item]}))
}

fn fail(what: &str, p: &cdcform::plan::Plan, yaml: &str) -> TestCaseError {
    TestCaseError::fail(format!(
        "{what}: plan is not empty:\n{}\n--- manifest ---\n{yaml}",
        cdcform::render::plan::human(p, false, true)
    ))
}

fn empty(p: &cdcform::plan::Plan) -> bool {
    !p.summary.has_changes() && p.summary.blocked == 0
}

async fn one_case(
    s: &Simulator,
    n: usize,
    (sink, a, paused_a, b, paused_b): (&'static str, Value, bool, Value, bool),
) -> Result<(), TestCaseError> {
    let id = format!("p{n}");
    let yaml = manifest_yaml(&id, sink, &a, paused_a);
    let desired = manifests(&yaml);
    converge(s, &desired).await;
    let p = plan(s, &desired).await;
    if !empty(&p) {
        return Err(fail("apply", &p, &yaml));
    }
    // Mutated: every field regenerated (changed, removed or added), run state maybe flipped.
    let yaml = manifest_yaml(&id, sink, &b, paused_b);
    let desired = manifests(&yaml);
    converge(s, &desired).await;
    let p = plan(s, &desired).await;
    if !empty(&p) {
        return Err(fail("mutated apply", &p, &yaml));
    }
    // Raw POST of the first configuration (as another client would), then export it.
    let raw_id = format!("r{n}");
    raw_create(
        s,
        json!({"changefeed_id": raw_id, "sink_uri": sink, "replica_config": a}),
    )
    .await;
    let text = export_text(s, "default", &[&raw_id])
        .await
        .map_err(|e| TestCaseError::fail(format!("export: {e}")))?;
    let desired = validate(&text);
    let p = plan(s, &desired).await;
    if !empty(&p) {
        return Err(fail("export", &p, &text));
    }
    // Keep the cluster small so that later cases plan over as few changefeeds as the first.
    let c = crate::harness::client(s);
    for gone in [&id, &raw_id] {
        c.delete_changefeed("default", gone)
            .await
            .map_err(|e| TestCaseError::fail(format!("delete {gone}: {e}")))?;
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(8)
}

/// A runner with a fixed seed (deterministic RNG).
fn runner(cases: u32, max_shrink_iters: u32) -> TestRunner {
    let config = Config {
        cases,
        max_shrink_iters,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// Run `f` on every profile side by side (a case mostly waits on the simulator, it hardly
/// computes), each with its own simulator driven by a current-thread runtime; fails with every
/// profile's failure.
fn on_every_profile(
    f: impl Fn(&tokio::runtime::Runtime, &Simulator, &SimProfile) -> Result<(), String> + Sync,
) {
    let f = &f;
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = profiles()
            .into_iter()
            .map(|(name, cfg)| {
                scope.spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    let profile = cfg.profile.clone();
                    let s = rt.block_on(sim(cfg));
                    let r = f(&rt, &s, &profile);
                    rt.block_on(s.shutdown());
                    r.map_err(|e| format!("{name}: {e}"))
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().expect("profile thread").err())
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every profile, `PROPTEST_CASES` cases each (default 8).
#[test]
fn generated_configs_plan_empty_after_apply_mutation_and_export() {
    on_every_profile(|rt, s, profile| {
        let counter = AtomicUsize::new(0);
        runner(cases(), 32)
            .run(&case(*profile == SimProfile::Newarch), |c| {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                rt.block_on(one_case(s, n, c))
            })
            .map_err(|e| e.to_string())
    });
}

// ---- URI parameters: the simulator and `validate` agree (#31 item 4) ----

/// Typed sink-URI parameters as TiCDC's documentation names them (a third list, apart from the
/// simulator's and the validator's tables, so that neither is the test's source).
const KAFKA_PARAMS: &[&str] = &[
    "partition-num",
    "replication-factor",
    "max-message-bytes",
    "auto-create-topic",
    "required-acks",
    "enable-tls",
    "insecure-skip-verify",
    "sasl-gssapi-disable-pafxfast",
    "enable-tidb-extension",
    "max-batch-size",
    "only-output-updated-columns",
    "content-compatible",
    "avro-enable-watermark",
];
const MYSQL_PARAMS: &[&str] = &[
    "worker-count",
    "max-txn-row",
    "max-multi-update-row",
    "max-multi-update-row-size",
    "safe-mode",
    "batch-dml-enable",
    "multi-stmt-enable",
    "cache-prep-stmts",
    "read-timeout",
    "write-timeout",
    "timeout",
    "enable-ddl-ts",
];
/// Values that bind, values that do not, and edges (Go's ParseBool and ParseInt accept "1",
/// "T", "TRUE"; an empty value; out of range for 16 and 32 bits).
const VALUES: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "5",
    "65536",
    "4294967296",
    "a",
    "true",
    "false",
    "TRUE",
    "T",
    "maybe",
    "1.5",
    "10s",
    "1m",
];

fn uri_case() -> impl Strategy<Value = String> {
    let kafka = prop::collection::vec(
        (
            prop::sample::select(KAFKA_PARAMS),
            prop::sample::select(VALUES),
        ),
        1..=3,
    )
    .prop_map(|ps| ("kafka://127.0.0.1:9092/t?protocol=canal-json", ps));
    let mysql = prop::collection::vec(
        (
            prop::sample::select(MYSQL_PARAMS),
            prop::sample::select(VALUES),
        ),
        1..=3,
    )
    .prop_map(|ps| ("mysql://root@127.0.0.1:3306/?", ps));
    prop_oneof![kafka, mysql].prop_map(|(base, ps)| {
        let q: Vec<String> = ps.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let sep = if base.ends_with('?') { "" } else { "&" };
        format!("{base}{sep}{}", q.join("&"))
    })
}

/// Per profile: every generated URI is accepted by both the simulator (a create) and
/// `validate` for that server, or refused by both.
#[test]
fn generated_uri_parameters_are_accepted_or_refused_by_both() {
    on_every_profile(|rt, s, profile| {
        let target = crate::harness::target_of(profile);
        let c = crate::harness::client_for(s);
        let counter = AtomicUsize::new(0);
        let check = |uri: String| {
            let id = format!("u{}", counter.fetch_add(1, Ordering::Relaxed));
            let yaml = format!("changefeeds:\n  - id: {id}\n    sink_uri: \"{uri}\"\n");
            let offline =
                cdcform::manifest::load_str_for("u.yaml", &yaml, &|_| None, Some(&target));
            let body = cdcform::ticdc::models::ChangefeedConfig {
                changefeed_id: id.clone(),
                sink_uri: uri.clone(),
                ..Default::default()
            };
            let served = rt.block_on(c.create_changefeed("default", &body));
            if served.is_ok() {
                let _ = rt.block_on(c.delete_changefeed("default", &id));
            }
            match (&offline, &served) {
                (Ok(_), Ok(_)) | (Err(_), Err(_)) => Ok(()),
                (Ok(_), Err(e)) => Err(TestCaseError::fail(format!(
                    "{uri}: validate accepts, the simulator refuses: {e}"
                ))),
                (Err(d), Ok(_)) => Err(TestCaseError::fail(format!(
                    "{uri}: the simulator accepts, validate refuses: {d}"
                ))),
            }
        };
        // Disagreements found by earlier runs, always checked first.
        if let Some(e) = EDGES
            .iter()
            .map(|u| check(u.to_string()))
            .find_map(Result::err)
        {
            return Err(e.to_string());
        }
        runner(cases() * 8, 64)
            .run(&uri_case(), check)
            .map_err(|e| e.to_string())
    });
}

/// An empty duration: gin binds it as "" and `time.ParseDuration("")` fails on classic servers
/// (tiflow v8.5.0 pkg/sink/mysql/config.go `getDuration`); pingcap/ticdc skips empty values.
const EDGES: &[&str] = &[
    "mysql://root@127.0.0.1:3306/?read-timeout=",
    "mysql://root@127.0.0.1:3306/?worker-count=",
    "kafka://127.0.0.1:9092/t?protocol=canal-json&replication-factor=65536",
];
