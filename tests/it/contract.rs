//! Simulator responses checked against the tiflow swagger v7.5 and v8.5 definitions
//! (`tests/corpus/swagger`: pingcap/tiflow `docs/swagger/swagger.json` at those tags, see its
//! README). Known swagger inaccuracies tolerated: duration fields typed `string`/`object` are
//! integers of nanoseconds; list endpoints are documented as bare arrays but answer
//! `{total, items}` (items checked against the item schema); nullable pointers may be `null`.

use std::path::PathBuf;

use cdcform::simulator::{SimConfig, SimProfile, Simulator};
use cdcform::ticdc::Version;
use serde_json::{json, Value};

use crate::harness::sim as start_sim;

const DURATIONS: &[&str] = &[
    "sync_point_interval",
    "sync_point_retention",
    "changefeed_error_stuck_duration",
];

fn swagger(folder: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/swagger")
        .join(folder)
        .join("swagger.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("swagger parses")
}

struct Checker<'a> {
    defs: &'a Value,
    errors: Vec<String>,
    checked: usize,
}

impl Checker<'_> {
    fn resolve<'s>(&'s self, schema: &'s Value) -> &'s Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.trim_start_matches("#/definitions/");
                self.defs
                    .get(name)
                    .unwrap_or_else(|| panic!("unknown ref {r}"))
            }
            None => schema,
        }
    }

    fn check(&mut self, v: &Value, schema: &Value, path: &str) {
        let schema = self.resolve(schema).clone();
        let schema = &schema;
        self.checked += 1;
        if v.is_null() {
            return;
        }
        let key = path.rsplit('.').next().unwrap_or("");
        if DURATIONS.contains(&key) {
            if !v.is_u64() {
                self.errors
                    .push(format!("{path}: duration should be integer ns, got {v}"));
            }
            return;
        }
        let ty = schema
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("object");
        let ok = match ty {
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => true,
        };
        if !ok {
            self.errors.push(format!("{path}: declared {ty}, got {v}"));
            return;
        }
        if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
            for (i, x) in arr.iter().enumerate() {
                self.check(x, items, &format!("{path}[{i}]"));
            }
        }
        if let (Some(props), Some(obj)) = (
            schema.get("properties").and_then(Value::as_object),
            v.as_object(),
        ) {
            for (k, x) in obj {
                if let Some(s) = props.get(k) {
                    self.check(x, s, &format!("{path}.{k}"));
                }
            }
            if let Some(req) = schema.get("required").and_then(Value::as_array) {
                for r in req.iter().filter_map(Value::as_str) {
                    if !obj.contains_key(r) {
                        self.errors
                            .push(format!("{path}: required key {r} missing"));
                    }
                }
            }
        }
    }

    fn check_def(&mut self, v: &Value, def: &str, path: &str, must_have: &[&str]) {
        let schema = json!({"$ref": format!("#/definitions/{def}")});
        self.check(v, &schema, path);
        let declared = self.resolve(&schema)["properties"].clone();
        for k in must_have {
            assert!(
                declared.get(k).is_some(),
                "{def} does not declare {k} (test bug)"
            );
            if v.get(k).is_none() {
                self.errors.push(format!("{path}: key {k} missing"));
            }
        }
    }
}

async fn call(
    http: &reqwest::Client,
    sim: &Simulator,
    m: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = http.request(m.parse().unwrap(), format!("{}{path}", sim.url()));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn contract(folder: &str, version: Version) {
    let sw = swagger(folder);
    let defs = sw["definitions"].clone();
    let mut c = Checker {
        defs: &defs,
        errors: Vec::new(),
        checked: 0,
    };
    let mysql_port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = mysql_port.local_addr().unwrap().port();
    let sim = start_sim(SimConfig {
        profile: SimProfile::Classic { version },
        ..SimConfig::default()
    })
    .await;
    let http = reqwest::Client::new();
    let info_keys = &[
        "id",
        "namespace",
        "upstream_id",
        "sink_uri",
        "create_time",
        "start_ts",
        "config",
        "state",
        "creator_version",
        "resolved_ts",
        "checkpoint_ts",
        "checkpoint_time",
    ];
    let sinks = [
        ("bh", "blackhole://".to_string()),
        ("my", format!("mysql://root:pw@127.0.0.1:{port}/")),
        (
            "kf",
            format!("kafka://127.0.0.1:{port}/t?protocol=canal-json&sasl-user=u&sasl-password=p"),
        ),
        ("st", "file:///tmp/cdc?protocol=csv".to_string()),
    ];
    for (id, uri) in &sinks {
        // Sync point only on the MySQL sink: tiflow's validator refuses it elsewhere
        // (cdc/sink/validator/validator.go checkSyncPointSchemeCompatibility).
        let sync_point = *id == "my";
        let (s, v) = call(&http, &sim, "POST", "/api/v2/changefeeds", Some(json!({"changefeed_id": id, "sink_uri": uri, "replica_config": {"enable_sync_point": sync_point}}))).await;
        assert_eq!(s, 200, "{v}");
        c.check_def(&v, "v2.ChangeFeedInfo", &format!("create {id}"), info_keys);
        let (s, v) = call(
            &http,
            &sim,
            "GET",
            &format!("/api/v2/changefeeds/{id}"),
            None,
        )
        .await;
        assert_eq!(s, 200);
        c.check_def(&v, "v2.ChangeFeedInfo", &format!("get {id}"), info_keys);
        c.check_def(
            &v["config"],
            "v2.ReplicaConfig",
            &format!("get {id}.config"),
            &["memory_quota", "filter", "sink"],
        );
    }
    let (_, _) = call(&http, &sim, "POST", "/api/v2/changefeeds/bh/pause", None).await;
    let (s, v) = call(
        &http,
        &sim,
        "PUT",
        "/api/v2/changefeeds/bh",
        Some(json!({"target_ts": u64::MAX >> 1})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    c.check_def(&v, "v2.ChangeFeedInfo", "update", info_keys);
    let (_, v) = call(&http, &sim, "GET", "/api/v2/changefeeds?state=all", None).await;
    assert_eq!(v["total"], json!(sinks.len()));
    for (i, item) in v["items"].as_array().unwrap().iter().enumerate() {
        c.check_def(
            item,
            "v2.ChangefeedCommonInfo",
            &format!("list[{i}]"),
            &[
                "id",
                "namespace",
                "state",
                "checkpoint_tso",
                "checkpoint_time",
                "error",
            ],
        );
    }
    let (_, v) = call(&http, &sim, "GET", "/api/v2/captures", None).await;
    for item in v["items"].as_array().unwrap() {
        c.check_def(
            item,
            "v2.Capture",
            "captures",
            &["id", "is_owner", "address", "cluster_id"],
        );
    }
    let (_, v) = call(&http, &sim, "GET", "/api/v2/processors", None).await;
    let items = v["items"].as_array().unwrap().clone();
    assert!(!items.is_empty());
    for item in &items {
        c.check_def(
            item,
            "v2.ProcessorCommonInfo",
            "processors",
            &["namespace", "changefeed_id", "capture_id"],
        );
    }
    let p = &items[0];
    let (s, v) = call(
        &http,
        &sim,
        "GET",
        &format!(
            "/api/v2/processors/{}/{}",
            p["changefeed_id"].as_str().unwrap(),
            p["capture_id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    c.check_def(&v, "v2.ProcessorDetail", "processor", &["table_ids"]);
    let (_, v) = call(&http, &sim, "GET", "/api/v2/status", None).await;
    c.check_def(
        &v,
        "v2.ServerStatus",
        "status",
        &[
            "version",
            "git_hash",
            "id",
            "cluster_id",
            "pid",
            "is_owner",
            "liveness",
        ],
    );
    for (m, path, body) in [
        ("GET", "/api/v2/health", None),
        ("POST", "/api/v2/log", Some(json!({"log_level": "info"}))),
        ("POST", "/api/v2/owner/resign", None),
        ("POST", "/api/v2/changefeeds/my/pause", None),
        ("POST", "/api/v2/changefeeds/my/resume", Some(json!({}))),
        ("DELETE", "/api/v2/changefeeds/st", None),
    ] {
        let (s, v) = call(&http, &sim, m, path, body).await;
        assert_eq!((s, &v), (200, &json!({})), "{m} {path}");
        c.check_def(&v, "v2.EmptyResponse", path, &[]);
    }
    if defs.get("v2.SyncedStatus").is_some() {
        let (s, v) = call(&http, &sim, "GET", "/api/v2/changefeeds/my/synced", None).await;
        assert_eq!(s, 200);
        // The swagger types the *_ts fields as string (they are model.JSONTime), correctly.
        c.check_def(
            &v,
            "v2.SyncedStatus",
            "synced",
            &[
                "synced",
                "sink_checkpoint_ts",
                "puller_resolved_ts",
                "last_synced_ts",
                "now_ts",
                "info",
            ],
        );
    }
    let (s, v) = call(&http, &sim, "GET", "/api/v2/changefeeds/nope", None).await;
    assert_eq!(s, 400);
    c.check_def(&v, "model.HTTPError", "error", &["error_code", "error_msg"]);
    sim.shutdown().await;
    assert!(c.errors.is_empty(), "{folder}: {:#?}", c.errors);
    assert!(c.checked > 200, "only {} values checked", c.checked);
}

#[tokio::test]
async fn responses_match_swagger_v7_5() {
    contract("tiflow-v7.5.0", Version::new(7, 5, 0)).await;
}

#[tokio::test]
async fn responses_match_swagger_v8_5() {
    contract("tiflow-v8.5.0", Version::new(8, 5, 0)).await;
}
