//! Table impact: the simulator's catalog, table-filter rules and eligibility (checked against the
//! TiCDC sources each rule comes from), and the plan's verify_table-based impact per entry.

use std::sync::Arc;

use cdcform::plan::{Action, PlanOptions};
use cdcform::simulator::catalog::Catalog;
use cdcform::simulator::{SimConfig, SimProfile, Simulator};
use cdcform::ticdc::models::ChangefeedConfig;
use cdcform::ticdc::Version;
use serde_json::{json, Value};

use crate::harness::{self, manifests, mutations, plan, plan_with, sim};

/// The catalog, plus system schemas and a mixed-case table.
const CATALOG: &str = "\
databases:
  shop:
    orders: {primary_key: [id]}
    order_items: {primary_key: [order_id, line]}
    audit_log: {}
    customers: {unique_keys: [{columns: [email], not_null: true}]}
    sales: {primary_key: [id], partitions: 4}
  app:
    events: {primary_key: [id]}
    Sessions: {primary_key: [id]}
  mysql:
    user: {primary_key: [host, user]}
  INFORMATION_SCHEMA:
    tables: {}
  tidb_cdc:
    syncpoint_v1: {primary_key: [ticdc_cluster_id]}
  lightning_task_info:
    conflict_records: {primary_key: [id]}
";

fn with_catalog(cfg: SimConfig) -> SimConfig {
    SimConfig {
        catalog: Some(Arc::new(Catalog::from_yaml(CATALOG).unwrap())),
        ..cfg
    }
}

fn classic_at(v: (u32, u32, u32)) -> SimConfig {
    with_catalog(SimConfig {
        profile: SimProfile::Classic {
            version: Version::new(v.0, v.1, v.2),
        },
        ..harness::classic()
    })
}

/// The classic v8.5, v8.1, v7.5 and newarch profiles, each with the catalog.
fn profiles() -> Vec<(&'static str, SimConfig)> {
    harness::profiles()
        .into_iter()
        .map(|(n, c)| (n, with_catalog(c)))
        .collect()
}

/// `verify_table` for a replica config: (eligible, ineligible) as sorted `db.table` names.
async fn verify(sim: &Simulator, rc: Value) -> (Vec<String>, Vec<String>) {
    let body = ChangefeedConfig {
        replica_config: Some(rc),
        ..ChangefeedConfig::default()
    };
    let r = harness::client(sim).verify_table(&body).await.unwrap();
    let names = |v: &Option<Vec<cdcform::ticdc::models::TableName>>| {
        let mut n: Vec<String> = v
            .iter()
            .flatten()
            .map(|t| format!("{}.{}", t.database_name, t.table_name))
            .collect();
        n.sort();
        n
    };
    (names(&r.eligible_tables), names(&r.ineligible_tables))
}

async fn eligible(sim: &Simulator, rules: &[&str]) -> Vec<String> {
    let (e, i) = verify(sim, json!({"filter": {"rules": rules}})).await;
    let mut all = [e, i].concat();
    all.sort();
    all
}

// tidb pkg/util/table-filter parser.go `parseWildcardPattern` / table_filter.go `Parse`
// (reversed rules: the last match wins) and tiflow v8.5.0 pkg/filter/filter.go
// `ShouldIgnoreTable` (system schemas first); the same library in ticdc pkg/filter.
#[tokio::test]
async fn filter_rule_forms_select_the_same_tables_on_every_profile() {
    for (name, cfg) in profiles() {
        let s = sim(cfg).await;
        let all = eligible(&s, &["*.*"]).await;
        assert_eq!(
            all,
            [
                "app.Sessions",
                "app.events",
                "shop.audit_log",
                "shop.customers",
                "shop.order_items",
                "shop.orders",
                "shop.sales"
            ]
            .iter()
            .map(|s| s.to_string())
            .chain(
                // tidb_cdc is a system schema from tiflow v8.1.0, lightning_task_info from v8.5.0
                // (pkg/filter/utils.go `isSysSchema` at those tags).
                match name {
                    "classic v7.5" => vec![
                        "lightning_task_info.conflict_records",
                        "tidb_cdc.syncpoint_v1"
                    ],
                    "classic v8.1" => vec!["lightning_task_info.conflict_records"],
                    _ => vec![],
                }
                .into_iter()
                .map(String::from)
            )
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>(),
            "{name}: *.* takes every table but the system schemas"
        );
        let cases: &[(&[&str], &[&str])] = &[
            (
                &["shop.*", "!shop.audit_log"],
                &[
                    "shop.customers",
                    "shop.order_items",
                    "shop.orders",
                    "shop.sales",
                ],
            ),
            (&["shop.order?"], &["shop.orders"]),
            (&["shop.order[_s]*"], &["shop.order_items", "shop.orders"]),
            (
                &["shop.[!o]*"],
                &["shop.audit_log", "shop.customers", "shop.sales"],
            ),
            (
                &["*.*", "!shop.*", "shop.orders"],
                &["app.Sessions", "app.events", "shop.orders"],
            ),
            (&["shop.orders", "!*.*"], &[]),
            (
                &["`shop`.\"orders\"", "/^ap+$/.events"],
                &["app.events", "shop.orders"],
            ),
            (&["mysql.*", "information_schema.*"], &[]),
            (&["# only a comment", "app.sessions"], &["app.Sessions"]),
        ];
        for (rules, want) in cases {
            let mut all = eligible(&s, rules).await;
            all.retain(|t| !t.starts_with("tidb_cdc") && !t.starts_with("lightning"));
            assert_eq!(&all, want, "{name}: rules {rules:?}");
        }
        s.shutdown().await;
    }
}

// tiflow v8.5.0 pkg/filter/filter.go `NewFilter`: `tfilter.CaseInsensitive` unless case_sensitive.
#[tokio::test]
async fn case_sensitive_decides_whether_names_fold() {
    for (name, cfg) in profiles() {
        let s = sim(cfg).await;
        let rules = json!({"rules": ["SHOP.Orders", "app.sessions"]});
        let (folded, _) = verify(&s, json!({"filter": rules, "case_sensitive": false})).await;
        assert_eq!(folded, ["app.Sessions", "shop.orders"], "{name}");
        let (exact, _) = verify(&s, json!({"filter": rules, "case_sensitive": true})).await;
        assert!(exact.is_empty(), "{name}: {exact:?}");
        s.shutdown().await;
    }
}

// tiflow v7.5.0 pkg/filter/utils.go `VerifyTableRules`: the MySQL-style rules apply when `rules`
// is empty; v8.1.0 pkg/config/filter.go dropped them (the keys are ignored, `*.*` applies).
#[tokio::test]
async fn legacy_rules_apply_on_v7_5_only() {
    let rc = json!({"filter": {"rules": [], "do_dbs": ["shop"],
        "ignore_tables": [{"database_name": "shop", "table_name": "audit_*"}]}});
    let s = sim(classic_at((7, 5, 0))).await;
    let (e, i) = verify(&s, rc.clone()).await;
    assert_eq!(
        e,
        [
            "shop.customers",
            "shop.order_items",
            "shop.orders",
            "shop.sales"
        ]
    );
    assert!(i.is_empty());
    s.shutdown().await;
    let s = sim(classic_at((8, 1, 0))).await;
    let (e, i) = verify(&s, rc).await;
    assert!(
        e.contains(&"app.events".to_string()),
        "v8.1 ignores do_dbs: {e:?}"
    );
    assert_eq!(i, ["shop.audit_log"]);
    s.shutdown().await;
}

// tiflow v8.5.0 cdc/entry/validator.go `VerifyTables` / cdc/model `IsEligible`; ticdc
// v8.5.7-release.1 api/v2/model.go `Tables` adds `all_tables`.
#[tokio::test]
async fn verify_table_splits_by_key_and_newarch_adds_all_tables() {
    for (name, cfg) in profiles() {
        let newarch = name == "newarch";
        let s = sim(cfg).await;
        let body = json!({"replica_config": {"filter": {"rules": ["shop.*"]}}});
        let r: Value = reqwest::Client::new()
            .post(format!("{}/api/v2/verify_table", s.url()))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            r["ineligible_tables"][0]["table_name"], "audit_log",
            "{name}"
        );
        let sales = r["eligible_tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table_name"] == "sales")
            .unwrap();
        assert_eq!(sales["is_partition"], true, "{name}");
        assert_eq!(r.get("all_tables").is_some(), newarch, "{name}: {r}");
        if newarch {
            assert_eq!(
                r["all_tables"].as_array().unwrap().len(),
                5,
                "shop's tables"
            );
        }
        // A rule the filter library cannot parse: tiflow pkg/filter/utils.go VerifyTableRules.
        let bad = reqwest::Client::new()
            .post(format!("{}/api/v2/verify_table", s.url()))
            .json(&json!({"replica_config": {"filter": {"rules": ["shop"]}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400, "{name}");
        let bad: Value = bad.json().await.unwrap();
        assert_eq!(bad["error_code"], "CDC:ErrFilterRuleInvalid", "{name}");
        s.shutdown().await;
    }
}

// tiflow v8.5.0 cdc/api/v2/api_helpers.go `verifyCreateChangefeedConfig` and ticdc
// v8.5.7-release.1 api/v2/changefeed.go `CreateChangefeed`: 400 CDC:ErrTableIneligible unless
// force_replicate or ignore_ineligible_table.
#[tokio::test]
async fn create_with_an_ineligible_table_is_refused_unless_ignored_or_forced() {
    for (name, cfg) in profiles() {
        let s = sim(cfg).await;
        let http = reqwest::Client::new();
        let create = |id: &str, extra: Value| {
            let mut rc = json!({"filter": {"rules": ["shop.*"]}});
            if let (Some(o), Some(x)) = (rc.as_object_mut(), extra.as_object()) {
                o.extend(x.clone());
            }
            http.post(format!("{}/api/v2/changefeeds", s.url()))
                .json(
                    &json!({"changefeed_id": id, "sink_uri": "blackhole://", "replica_config": rc}),
                )
                .send()
        };
        let r = create("refused", json!({})).await.unwrap();
        assert_eq!(r.status(), 400, "{name}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error_code"], "CDC:ErrTableIneligible", "{name}");
        assert_eq!(
            body["error_msg"],
            "[CDC:ErrTableIneligible]some tables are not eligible to replicate([shop.audit_log]), if you want to ignore these tables, please set ignore_ineligible_table to true",
            "{name}"
        );
        for (id, extra) in [
            ("ignored", json!({"ignore_ineligible_table": true})),
            ("forced", json!({"force_replicate": true})),
        ] {
            let r = create(id, extra).await.unwrap();
            assert_eq!(r.status(), 200, "{name}: {id}: {}", r.text().await.unwrap());
        }
        s.shutdown().await;
    }
}

// tiflow cdc/api/v2/model.go `CaptureTaskStatus` / processor `table_ids`: physical ids, one per
// partition; force_replicate adds the key-less table.
#[tokio::test]
async fn running_changefeeds_report_their_table_ids_on_classic() {
    let s = sim(classic_at((8, 5, 0))).await;
    let c = harness::client(&s);
    let desired = manifests(
        "changefeeds:\n  - id: shop\n    sink_uri: blackhole://\n    replica_config:\n      force_replicate: true\n      filter: {rules: ['shop.*']}\n",
    );
    harness::converge(&s, &desired).await;
    crate::harness::wait_state(&c, "default", "shop", "normal").await;
    let info = c.get_changefeed("default", "shop").await.unwrap();
    let ts = info.task_status.unwrap();
    let ids = ts[0]["table_ids"].as_array().unwrap().len();
    assert_eq!(
        ids,
        3 + 1 + 4,
        "orders, order_items, customers, audit_log, 4 partitions"
    );
    s.shutdown().await;
}

const SHOP_ORDERS: &str = "\
changefeeds:
  - id: shop-feed
    sink_uri: blackhole://
    replica_config:
      filter: {rules: ['shop.orders']}
";

const SHOP_WIDER: &str = "\
changefeeds:
  - id: shop-feed
    sink_uri: blackhole://
    replica_config:
      ignore_ineligible_table: true
      filter: {rules: ['shop.*', 'app.*', '!shop.orders']}
";

/// A plan's text with the simulator's address replaced.
fn scrub(text: &str, sim: &Simulator) -> String {
    text.replace(&sim.url(), "http://SIM")
}

#[tokio::test]
async fn a_filter_change_shows_tables_added_removed_and_ineligible_in_all_formats() {
    let s = sim(classic_at((8, 5, 0))).await;
    harness::converge(&s, &manifests(SHOP_ORDERS)).await;
    let p = plan(&s, &manifests(SHOP_WIDER)).await;
    let e = &p.entries[0];
    assert!(matches!(e.action, Action::Update { .. }), "{:?}", e.action);
    let t = e.tables.as_ref().expect("impact attached");
    assert_eq!((t.before, t.after), (Some(1), Some(5)));
    assert_eq!(
        t.added,
        [
            "app.Sessions",
            "app.events",
            "shop.customers",
            "shop.order_items",
            "shop.sales"
        ]
    );
    assert_eq!(t.removed, ["shop.orders"]);
    assert_eq!(t.ineligible, ["shop.audit_log"]);
    assert!(
        e.notes.iter().any(|n| n.contains("no historical data")),
        "{:?}",
        e.notes
    );
    insta::assert_snapshot!(
        "impact_human",
        scrub(&cdcform::render::plan::human(&p, false, false), &s)
    );
    // The live checkpoint moves from run to run: left out of the snapshot.
    let mut doc: Value = serde_json::from_str(&cdcform::render::plan::json(&p)).unwrap();
    doc["entries"][0].as_object_mut().unwrap().remove("live");
    let doc = serde_json::to_string_pretty(&doc).unwrap();
    insta::assert_snapshot!("impact_json", scrub(&doc, &s));
    let md = cdcform::render::plan::markdown(&p, &Default::default());
    insta::assert_snapshot!("impact_markdown", scrub(&md, &s));
    // Nothing was written by the plan: verify_table is read-only.
    assert_eq!(
        mutations(&s)
            .iter()
            .filter(|m| m.starts_with("PUT"))
            .count(),
        0
    );
    // Applying it converges, and the next plan asks nothing (no filter change left).
    harness::converge(&s, &manifests(SHOP_WIDER)).await;
    s.clear_requests();
    let again = plan(&s, &manifests(SHOP_WIDER)).await;
    harness::assert_empty(&again, "after the filter change");
    assert!(s
        .requests()
        .iter()
        .all(|r| r.path != "/api/v2/verify_table"));
}

#[tokio::test]
async fn more_than_ten_tables_are_cut_without_verbose() {
    let mut yaml = String::from("databases:\n  big:\n");
    for i in 0..15 {
        yaml.push_str(&format!("    t{i:02}: {{primary_key: [id]}}\n"));
    }
    let s = sim(SimConfig {
        catalog: Some(Arc::new(Catalog::from_yaml(&yaml).unwrap())),
        ..harness::classic()
    })
    .await;
    let p = plan(
        &s,
        &manifests("changefeeds:\n  - id: big\n    sink_uri: blackhole://\n"),
    )
    .await;
    let t = p.entries[0].tables.as_ref().unwrap();
    assert_eq!((t.before, t.after, t.added.len()), (Some(0), Some(15), 15));
    let short = cdcform::render::plan::human(&p, false, false);
    assert!(
        short.contains("+ big.t09") && !short.contains("big.t10"),
        "{short}"
    );
    assert!(short.contains("… and 5 more (-v lists all)"), "{short}");
    let long = cdcform::render::plan::human(&p, false, true);
    assert!(long.contains("+ big.t14"), "{long}");
    s.shutdown().await;
}

#[tokio::test]
async fn a_create_the_server_would_refuse_is_blocked_at_plan_time() {
    for (name, cfg) in profiles() {
        let s = sim(cfg).await;
        let desired = manifests(
            "changefeeds:\n  - id: shop-all\n    sink_uri: blackhole://\n    replica_config:\n      filter: {rules: ['shop.*']}\n",
        );
        let p = plan(&s, &desired).await;
        let e = &p.entries[0];
        assert_eq!(e.action, Action::Blocked, "{name}");
        let b = e.blocked.as_ref().unwrap();
        assert!(
            b.reason.contains("CDC:ErrTableIneligible") && b.reason.contains("shop.audit_log"),
            "{name}: {}",
            b.reason
        );
        assert!(
            b.hint.contains("!shop.audit_log") && b.hint.contains("ignore_ineligible_table"),
            "{name}: {}",
            b.hint
        );
        assert_eq!(p.summary.blocked, 1);
        // The apply reports it as a failure and sends nothing for it.
        let r = harness::run_apply(&s, &p).await;
        assert!(!r.all_ok(), "{name}");
        assert!(mutations(&s).is_empty(), "{name}: {:?}", mutations(&s));
        // Without the impact the plan is a create, and the server refuses it at apply time.
        let o = PlanOptions {
            no_table_impact: true,
            ..PlanOptions::default()
        };
        let blind = plan_with(&s, &desired, &o).await;
        assert!(
            matches!(blind.entries[0].action, Action::Create { .. }),
            "{name}"
        );
        assert!(blind.entries[0].tables.is_none());
        let r = harness::run_apply(&s, &blind).await;
        assert!(!r.all_ok(), "{name}: the server refuses the create");
        assert!(
            cdcform::apply::summary_text(&r).contains("CDC:ErrTableIneligible"),
            "{name}: {}",
            cdcform::apply::summary_text(&r)
        );
        s.shutdown().await;
    }
}

// ticdc v8.5.7-release.1 api/v2/changefeed.go `UpdateChangefeed` refuses ineligible tables;
// tiflow v8.5.0 `verifyUpdateChangefeedConfig` does not (it ignores VerifyTables' ineligible list).
#[tokio::test]
async fn an_update_to_ineligible_tables_is_blocked_on_newarch_only() {
    for (name, cfg) in profiles() {
        let s = sim(cfg).await;
        harness::converge(&s, &manifests(SHOP_ORDERS)).await;
        let wider = manifests(
            "changefeeds:\n  - id: shop-feed\n    sink_uri: blackhole://\n    replica_config:\n      filter: {rules: ['shop.*']}\n",
        );
        let p = plan(&s, &wider).await;
        let e = &p.entries[0];
        assert_eq!(
            e.tables.as_ref().unwrap().ineligible,
            ["shop.audit_log"],
            "{name}"
        );
        if name == "newarch" {
            assert_eq!(e.action, Action::Blocked, "{name}");
        } else {
            assert!(
                matches!(e.action, Action::Update { .. }),
                "{name}: {:?}",
                e.action
            );
            let r = harness::run_apply(&s, &p).await;
            assert!(r.all_ok(), "{name}: {}", cdcform::apply::summary_text(&r));
        }
        s.shutdown().await;
    }
}

#[tokio::test]
async fn verify_table_failure_leaves_the_impact_unknown_and_the_plan_complete() {
    let s = sim(classic_at((8, 5, 0))).await;
    s.set_upstream_reachable(false);
    let desired = manifests(
        "changefeeds:\n  - id: shop-all\n    sink_uri: blackhole://\n    replica_config:\n      filter: {rules: ['shop.*']}\n",
    );
    let p = plan(&s, &desired).await;
    let e = &p.entries[0];
    assert!(
        matches!(e.action, Action::Create { .. }),
        "not blocked when unknown"
    );
    let t = e.tables.as_ref().unwrap();
    assert!(
        t.before.is_none() && t.unknown.as_deref().unwrap().contains("CDC:ErrNewStore"),
        "{t:?}"
    );
    let text = cdcform::render::plan::human(&p, false, false);
    assert!(text.contains("table impact unknown"), "{text}");
    let doc: Value = serde_json::from_str(&cdcform::render::plan::json(&p)).unwrap();
    assert!(doc["entries"][0]["tables"]["unknown"].is_string(), "{doc}");
    let md = cdcform::render::plan::markdown(&p, &Default::default());
    assert!(md.contains("| 3 | ? |") || md.contains(" | ? |"), "{md}");
    s.shutdown().await;
}

// `status` counts each running changefeed's tables from its processors' `table_ids` (classic);
// the new architecture exposes no processor tables, so the count is unknown there. #29 item 14:
// the plan counts tables as `verify_table` names them (a partitioned table once) and status the
// physical tables TiCDC schedules (each partition); each says which it counts.
#[tokio::test]
async fn status_shows_each_changefeeds_table_count() {
    use cdcform::render::status::table;
    use cdcform::status::{collect, StatusFilter};
    for (name, cfg) in [
        ("classic", classic_at((8, 5, 0))),
        ("newarch", with_catalog(harness::newarch())),
    ] {
        let s = sim(cfg).await;
        let desired = manifests(
            "changefeeds:\n  - id: shop-feed\n    sink_uri: blackhole://\n    replica_config:\n      filter: {rules: ['shop.orders', 'shop.sales']}\n",
        );
        let p = harness::plan(&s, &desired).await;
        let t = p.entries[0].tables.as_ref().unwrap();
        assert_eq!((t.after, t.partitioned), (Some(2), 1), "{name}");
        let human = cdcform::render::plan::human(&p, false, false);
        assert!(
            human.contains("tables: 0 → 2 (+2 -0; 1 partitioned, counted once)"),
            "{human}"
        );
        harness::converge(&s, &desired).await;
        crate::harness::wait_state(&harness::client(&s), "default", "shop-feed", "normal").await;
        let r = collect(
            &harness::settings(&s),
            &harness::client(&s),
            &StatusFilter::default(),
        )
        .await
        .unwrap();
        let row = r.changefeeds.iter().find(|c| c.id == "shop-feed").unwrap();
        let text = table(&r, true);
        assert!(text.contains("TABLES"), "{text}");
        if name == "classic" {
            assert_eq!(
                row.tables,
                Some(1 + 4),
                "orders and the 4 partitions of sales"
            );
            assert!(
                text.contains("TABLES counts physical tables as TiCDC schedules them"),
                "{text}"
            );
        } else {
            assert_eq!(row.tables, None, "{name}");
        }
        s.shutdown().await;
    }
}

#[test]
fn the_demo_shows_a_filter_change_with_its_impact_and_ends_empty() {
    let out = harness::cdcform().arg("demo").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let drift = text
        .split("=== 4.")
        .nth(1)
        .and_then(|t| t.split("=== 5.").next())
        .unwrap();
    assert!(drift.contains("tables: 3 → 1 (+0 -2)"), "{drift}");
    assert!(
        drift.contains("- billing.invoices") && drift.contains("- billing.payments"),
        "{drift}"
    );
}

#[tokio::test]
async fn changefeeds_with_the_same_filter_share_one_verify_table_call() {
    let s = sim(classic_at((8, 5, 0))).await;
    let desired = manifests(
        "changefeeds:\n  - id: a\n    sink_uri: blackhole://\n    replica_config:\n      filter: {rules: ['app.*']}\n  - id: b\n    sink_uri: blackhole://\n    replica_config:\n      filter: {rules: ['app.*']}\n",
    );
    s.clear_requests();
    let p = plan(&s, &desired).await;
    assert!(p
        .entries
        .iter()
        .all(|e| e.tables.as_ref().unwrap().after == Some(2)));
    let calls = s
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v2/verify_table")
        .count();
    assert_eq!(calls, 1);
    s.shutdown().await;
}

fn simulate_config(args: &[&str]) -> Result<SimConfig, cdcform::Error> {
    use clap::Parser;
    let cli = cdcform::cli::Cli::try_parse_from([&["cdcform", "simulate"], args].concat()).unwrap();
    match cli.command {
        cdcform::cli::Command::Simulate(a) => cdcform::commands::simulate::config_from_args(&a),
        _ => unreachable!(),
    }
}

#[test]
fn simulate_takes_a_catalog_file_or_the_builtin_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("catalog.yaml");
    std::fs::write(&good, CATALOG).unwrap();
    let cfg = simulate_config(&["--catalog", good.to_str().unwrap()]).unwrap();
    assert_eq!(cfg.catalog.unwrap().tables.len(), 11);
    let builtin = simulate_config(&["--catalog", "builtin"]).unwrap();
    assert_eq!(*builtin.catalog.unwrap(), Catalog::builtin());
    assert!(simulate_config(&[]).unwrap().catalog.is_none());
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "databases:\n  shop:\n    orders: {primary_kee: [id]}\n",
    )
    .unwrap();
    let e = simulate_config(&["--catalog", bad.to_str().unwrap()])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bad.yaml") && e.contains("shop.orders") && e.contains("help:"),
        "{e}"
    );
}

#[tokio::test]
async fn verify_table_bodies_carry_only_the_table_keys_never_a_secret() {
    let s = sim(classic_at((8, 5, 0))).await;
    let desired = manifests(
        "changefeeds:\n  - id: k\n    sink_uri: \"kafka://127.0.0.1:9/t?protocol=canal-json&sasl-password=${CANARY}\"\n    replica_config:\n      filter: {rules: ['app.*']}\n      sink:\n        kafka_config:\n          sasl_password: \"${CANARY}\"\n      consistent:\n        level: eventual\n        storage: \"s3://redo/r?secret-access-key=${CANARY}\"\n",
    );
    s.clear_requests();
    let p = plan(&s, &desired).await;
    assert_eq!(p.entries[0].tables.as_ref().unwrap().after, Some(2));
    let bodies: Vec<String> = s
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v2/verify_table")
        .map(|r| r.body)
        .collect();
    assert_eq!(bodies.len(), 1);
    assert!(!bodies[0].contains(harness::CANARY), "{}", bodies[0]);
    let b: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(
        b,
        json!({"replica_config": {"filter": {"rules": ["app.*"]}}})
    );
    s.shutdown().await;
}

#[tokio::test]
async fn a_replace_is_checked_like_a_create() {
    let s = sim(classic_at((8, 5, 0))).await;
    harness::converge(&s, &manifests(SHOP_ORDERS)).await;
    let wider = manifests(
        "changefeeds:\n  - id: shop-feed\n    sink_uri: blackhole://\n    replica_config:\n      filter: {rules: ['shop.*']}\n",
    );
    let o = PlanOptions {
        replace: vec!["shop-feed".into()],
        ..PlanOptions::default()
    };
    let p = plan_with(&s, &wider, &o).await;
    let e = &p.entries[0];
    assert_eq!(e.action, Action::Blocked, "{:?}", e.notes);
    let t = e.tables.as_ref().unwrap();
    assert_eq!((t.before, t.after), (Some(1), Some(4)));
    s.shutdown().await;
}

/// The CLI end to end: `plan --out` records the impact, `apply FILE` plans it again (blocked
/// again, nothing sent), and a plan saved with `--no-table-impact` meets the server's refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_plans_keep_the_table_impact_choice() {
    let s = sim(classic_at((8, 5, 0))).await;
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.yaml");
    std::fs::write(
        &m,
        "changefeeds:\n  - id: shop-all\n    sink_uri: blackhole://\n    replica_config:\n      filter: {rules: ['shop.*']}\n",
    )
    .unwrap();
    let (m, url) = (m.to_str().unwrap(), s.url());
    let with = dir.path().join("with.plan");
    let out = harness::cdcform()
        .args(["plan", m, "--server", &url, "--format", "json", "--out"])
        .arg(&with)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "blocked fails the plan");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["entries"][0]["action"], "blocked");
    assert_eq!(
        doc["entries"][0]["tables"]["ineligible"],
        json!(["shop.audit_log"])
    );
    let out = harness::cdcform()
        .args(["apply", "--auto-approve", "--server", &url])
        .arg(&with)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(mutations(&s).is_empty(), "{:?}", mutations(&s));
    let without = dir.path().join("without.plan");
    harness::cdcform()
        .args(["plan", m, "--server", &url, "--no-table-impact", "--out"])
        .arg(&without)
        .assert()
        .code(0);
    let out = harness::cdcform()
        .args(["apply", "--auto-approve", "--server", &url])
        .arg(&without)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(err.contains("CDC:ErrTableIneligible"), "{err}");
    s.shutdown().await;
}
