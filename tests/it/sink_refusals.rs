//! The refusal corpus (`tests/corpus/refusals.json`, taken from TiCDC's own unit tests: each row
//! cites its test) run against the simulator on every profile a row names (sink check off, as
//! `--no-sink-check`) and through `cdcform validate` with that profile as the target. Refusals
//! must come back with TiCDC's status and `error_code`, and validate must name the field; near
//! misses must be accepted by both. `tests/REFUSALS.md` is generated from the same data.

use std::path::PathBuf;
use std::time::Duration;

use cdcform::manifest;
use cdcform::simulator::{SimConfig, SimProfile};
use cdcform::ticdc::{ServerProfile, Version};
use serde_json::{json, Value};

use crate::harness::sim as start_sim;

fn corpus() -> Vec<Value> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/refusals.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    v["rows"].as_array().unwrap().clone()
}

/// Profile names used in the corpus.
const PROFILES: &[&str] = &["classic-v7.5", "classic-v8.1", "classic-v8.5", "newarch"];

fn sim_profile(name: &str) -> SimProfile {
    match name {
        "newarch" => SimProfile::Newarch,
        v => {
            let ver = Version::parse(v.trim_start_matches("classic-")).unwrap();
            SimProfile::Classic { version: ver }
        }
    }
}

fn server_profile(name: &str) -> ServerProfile {
    crate::harness::target_of(&sim_profile(name))
}

fn applies(row: &Value, profile: &str) -> bool {
    row["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == profile)
}

/// The expectation for a profile: None = accepted, Some((status, code)) = refused.
fn expected(row: &Value, profile: &str) -> Option<(u16, String)> {
    let arch = if profile == "newarch" {
        "newarch"
    } else {
        "classic"
    };
    let e = &row["expect"][arch];
    if e == "accept" {
        return None;
    }
    Some((
        e["status"].as_u64().unwrap() as u16,
        e["error_code"].as_str().unwrap().to_string(),
    ))
}

fn is_refusal(row: &Value, profile: &str) -> bool {
    expected(row, profile).is_some()
}

async fn run_simulator(profile: &str, rows: &[Value]) -> (usize, usize, Vec<String>) {
    let sim = start_sim(SimConfig {
        profile: sim_profile(profile),
        sink_check: false,
        tick: Duration::ZERO,
        ..SimConfig::default()
    })
    .await;
    let http = reqwest::Client::new();
    let (mut runs, mut matched, mut bad) = (0, 0, Vec::new());
    for (i, row) in rows.iter().enumerate() {
        if !applies(row, profile) {
            continue;
        }
        runs += 1;
        let mut body = row["body"].clone();
        body["changefeed_id"] = json!(format!("row-{i}"));
        let resp = http
            .post(format!("{}/api/v2/changefeeds", sim.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let code = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error_code"].as_str().map(str::to_string));
        let ok = match expected(row, profile) {
            None => status == 200,
            Some((s, c)) => status == s && code.as_deref() == Some(c.as_str()),
        };
        if ok {
            matched += 1;
        } else {
            bad.push(format!(
                "{profile} {}: want {:?}, got {status} {text}",
                row["name"],
                expected(row, profile)
            ));
        }
    }
    (runs, matched, bad)
}

/// `cdcform validate` of the row as a manifest, with `profile` as the known target.
fn run_validate(profile: &str, rows: &[Value]) -> (usize, usize, Vec<String>) {
    let target = server_profile(profile);
    let (mut runs, mut matched, mut bad) = (0, 0, Vec::new());
    for (i, row) in rows.iter().enumerate() {
        if !applies(row, profile) {
            continue;
        }
        runs += 1;
        let mut cf = json!({"id": format!("row-{i}"), "sink_uri": row["body"]["sink_uri"]});
        if let Some(rc) = row["body"].get("replica_config") {
            cf["replica_config"] = rc.clone();
        }
        let text = serde_json::to_string_pretty(&json!({"changefeeds": [cf]})).unwrap();
        let got = manifest::load_str_for("row.yaml", &text, &|_| None, Some(&target));
        let field = row["field"].as_str().unwrap();
        let leaf = field.rsplit('.').next().unwrap();
        let ok = match (&got, is_refusal(row, profile)) {
            (Ok(_), false) => true,
            (Err(d), true) => d
                .0
                .iter()
                .any(|x| x.message.contains(leaf) || enclosing_keys(&text, x.line).contains(&leaf)),
            _ => false,
        };
        if ok {
            matched += 1;
        } else {
            let shown = match &got {
                Ok(_) => "accepted".to_string(),
                Err(d) => {
                    d.0.iter()
                        .map(|x| x.message.clone())
                        .collect::<Vec<_>>()
                        .join(" | ")
                }
            };
            bad.push(format!(
                "validate {profile} {}: refusal expected {} naming `{leaf}`, got {shown}",
                row["name"],
                is_refusal(row, profile)
            ));
        }
    }
    (runs, matched, bad)
}

/// The keys a 1-based line of pretty-printed JSON sits under: its own key, then each parent's
/// (the lines above it with less indentation), so a diagnostic located at a value names its field.
fn enclosing_keys(text: &str, line: usize) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    fn key(l: &str) -> Option<&str> {
        let t = l.trim_start();
        t.strip_prefix('"')
            .and_then(|r| r.split_once("\":"))
            .map(|(k, _)| k)
    }
    let indent = |l: &str| l.len() - l.trim_start().len();
    let Some(start) = line.checked_sub(1).filter(|i| *i < lines.len()) else {
        return Vec::new();
    };
    let mut out: Vec<&str> = key(lines[start]).into_iter().collect();
    let mut level = indent(lines[start]);
    for l in lines[..start].iter().rev() {
        if indent(l) < level {
            level = indent(l);
            out.extend(key(l));
        }
    }
    out
}

#[tokio::test]
async fn corpus_rows_are_well_formed() {
    let rows = corpus();
    assert!(rows.len() >= 80, "{} rows", rows.len());
    for r in &rows {
        for p in r["profiles"].as_array().unwrap() {
            assert!(PROFILES.contains(&p.as_str().unwrap()), "{}", r["name"]);
            let arch = if p == "newarch" { "newarch" } else { "classic" };
            assert!(
                !r["expect"][arch].is_null(),
                "{} has no {arch} outcome",
                r["name"]
            );
        }
        assert!(
            !r["sources"].as_array().unwrap().is_empty(),
            "{}",
            r["name"]
        );
        assert!(
            r["field"].as_str().unwrap().starts_with("replica_config") || r["field"] == "sink_uri"
        );
    }
}

/// Every refusal of the corpus is refused by the simulator with TiCDC's status and
/// `error_code`, every near miss accepted, on each profile the row names.
#[tokio::test]
async fn simulator_refuses_what_ticdc_refuses() {
    let rows = corpus();
    let mut all_bad = Vec::new();
    for p in PROFILES {
        let (runs, matched, bad) = run_simulator(p, &rows).await;
        eprintln!("simulator {p}: {matched}/{runs} rows match");
        all_bad.extend(bad);
    }
    assert!(all_bad.is_empty(), "{}", all_bad.join("\n"));
}

/// `cdcform validate` (target profile known) refuses the same rows, naming the field, and
/// accepts the near misses.
#[test]
fn validate_refuses_what_ticdc_refuses() {
    let rows = corpus();
    let mut all_bad = Vec::new();
    for p in PROFILES {
        let (runs, matched, bad) = run_validate(p, &rows);
        eprintln!("validate {p}: {matched}/{runs} rows match");
        all_bad.extend(bad);
    }
    assert!(all_bad.is_empty(), "{}", all_bad.join("\n"));
}

/// `cdcform validate --target`: a rule of one architecture only applies to that target
/// (tiflow v8.5.7 cdc/sink/validator/validator.go `preCheckSinkURI`: classic refuses an IPv6
/// host without brackets; pingcap/ticdc has no such check).
#[test]
fn validate_target_selects_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("cf.yaml");
    std::fs::write(
        &f,
        "changefeeds:\n  - id: a\n    sink_uri: \"mysql://root@::1:3306/\"\n",
    )
    .unwrap();
    let run = |target: Option<&str>| {
        let mut c = assert_cmd::Command::cargo_bin("cdcform").unwrap();
        c.arg("validate").arg(&f).env("NO_COLOR", "1");
        if let Some(t) = target {
            c.args(["--target", t]);
        }
        c.output().unwrap()
    };
    let any = run(None);
    assert_eq!(any.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&any.stderr).contains("IPv6 host"));
    assert_eq!(run(Some("v8.5.0")).status.code(), Some(1));
    let newarch = run(Some("newarch"));
    assert_eq!(newarch.status.code(), Some(0), "{newarch:?}");
    let bad = run(Some("v-nine"));
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid --target"));
}

/// Fields Go reads as signed ints accept negative values in manifests (TiCDC decides per sink:
/// tiflow v8.5.7 cdc/api/v2/model.go `EncoderConcurrency *int`, `RegionThreshold int`), and
/// `event_collector_batch_count` (pingcap/ticdc master api/v2/model.go `ReplicaConfig` and
/// `ConsistentConfig`) is a known key.
#[test]
fn validate_knows_signed_fields_and_event_collector_batch_count() {
    let text = r#"
changefeeds:
  - id: a
    sink_uri: "mysql://root@127.0.0.1:3306/"
    replica_config:
      event_collector_batch_count: 16
      mounter: {worker_num: -1}
      sink: {encoder_concurrency: -1}
      scheduler: {region_threshold: -1, write_key_threshold: -1}
      consistent: {level: none, event_collector_batch_count: 0, flush_worker_num: -1}
"#;
    let set = manifest::load_str("a.yaml", text, &|_| None).expect("valid");
    let rc = set.changefeeds[0].replica_config.as_ref().unwrap();
    assert_eq!(rc["sink"]["encoder_concurrency"], json!(-1));
    assert_eq!(rc["event_collector_batch_count"], json!(16));
    let typo = text.replace(
        "event_collector_batch_count: 16",
        "event_collector_batch_cnt: 16",
    );
    let e = manifest::load_str("a.yaml", &typo, &|_| None).unwrap_err();
    assert!(e.0[0]
        .help
        .as_deref()
        .unwrap_or("")
        .contains("event_collector_batch_count"));
}

const TABLE_BEGIN: &str = "<!-- BEGIN generated from tests/corpus/refusals.json -->";
const TABLE_END: &str = "<!-- END generated from tests/corpus/refusals.json -->";

fn outcome(row: &Value, arch: &str, profiles: &[&str]) -> String {
    let applies = profiles
        .iter()
        .any(|p| row["profiles"].as_array().unwrap().iter().any(|x| x == *p));
    let e = &row["expect"][arch];
    if !applies || e.is_null() {
        return "—".into();
    }
    if e == "accept" {
        return "accepted".into();
    }
    let code = e["error_code"].as_str().unwrap();
    let code = if code.is_empty() {
        "(none)".to_string()
    } else {
        format!("`{code}`")
    };
    format!("{} {code}", e["status"])
}

/// The section of tests/REFUSALS.md this corpus generates.
fn refusal_table() -> String {
    let mut out = vec![
        TABLE_BEGIN.to_string(),
        "## Sink and replica-config checks from TiCDC's own unit tests".into(),
        String::new(),
        "Create-time refusals TiCDC makes without contacting the sink, and near misses it accepts. \
         Status and `error_code` per architecture (classic = tiflow v7.5/v8.1/v8.5, newarch = \
         pingcap/ticdc v8.5.7); `—` = the row does not apply there. Every row runs in \
         `sink_refusals::simulator_refuses_what_ticdc_refuses` (simulator, sink check off) and \
         `sink_refusals::validate_refuses_what_ticdc_refuses` (`cdcform validate --target`)."
            .into(),
        String::new(),
        "| rule | source | classic | newarch | test |".into(),
        "| --- | --- | --- | --- | --- |".into(),
    ];
    let classic = ["classic-v7.5", "classic-v8.1", "classic-v8.5"];
    for row in corpus() {
        let sources: Vec<String> = row["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                format!(
                    "{} {} `{}` {}",
                    s["repo"].as_str().unwrap(),
                    s["tag"].as_str().unwrap(),
                    s["file"].as_str().unwrap(),
                    s["test"].as_str().unwrap()
                )
            })
            .collect();
        out.push(format!(
            "| `{}`: {} | {} | {} | {} | corpus row `{}` |",
            row["name"].as_str().unwrap(),
            row["rule"].as_str().unwrap().replace('|', "\\|"),
            sources.join("; ").replace('|', "\\|"),
            outcome(&row, "classic", &classic),
            outcome(&row, "newarch", &["newarch"]),
            row["name"].as_str().unwrap(),
        ));
    }
    out.push(TABLE_END.to_string());
    out.join("\n") + "\n"
}

/// tests/REFUSALS.md holds the table generated from the corpus (`UPDATE_REFUSALS=1` rewrites
/// this section, leaving the rest of the file alone).
#[test]
fn refusals_table_is_fresh() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/REFUSALS.md");
    let fresh = refusal_table();
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    let spliced = match (current.find(TABLE_BEGIN), current.find(TABLE_END)) {
        (Some(b), Some(e)) => {
            format!(
                "{}{fresh}{}",
                &current[..b],
                &current[e + TABLE_END.len() + 1..]
            )
        }
        _ if current.is_empty() => {
            format!("# Refusals the simulator and `cdcform validate` model\n\n{fresh}")
        }
        _ => format!("{current}\n{fresh}"),
    };
    if std::env::var("UPDATE_REFUSALS").as_deref() == Ok("1") {
        std::fs::write(&path, &spliced).unwrap();
        return;
    }
    assert!(
        current.contains(&fresh),
        "tests/REFUSALS.md is stale: run `UPDATE_REFUSALS=1 cargo test --test it sink_refusals::refusals_table_is_fresh`"
    );
}

/// The same checks on update: tiflow v8.5.7 `verifyUpdateChangefeedConfig` (cdc/api/v2/
/// api_helpers.go) wraps the ValidateAndAdjust error in ErrChangefeedUpdateRefused (400);
/// ticdc v8.5.7 `UpdateChangefeed` wraps it in ErrInvalidReplicaConfig (500).
#[tokio::test]
async fn update_is_checked_like_create() {
    for (profile, status, code) in [
        ("classic-v8.5", 400, "CDC:ErrChangefeedUpdateRefused"),
        ("newarch", 500, "CDC:ErrInvalidReplicaConfig"),
    ] {
        let sim = start_sim(SimConfig {
            profile: sim_profile(profile),
            sink_check: false,
            tick: Duration::ZERO,
            ..SimConfig::default()
        })
        .await;
        let http = reqwest::Client::new();
        let url = sim.url();
        let uri = "s3://bucket/prefix?protocol=csv";
        let r = http
            .post(format!("{url}/api/v2/changefeeds"))
            .json(&json!({"changefeed_id": "u", "sink_uri": uri}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
        let r = http
            .post(format!("{url}/api/v2/changefeeds/u/pause"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let r = http
            .put(format!("{url}/api/v2/changefeeds/u"))
            .json(&json!({"replica_config": {"sink": {"csv": {"quote": "***"}}}}))
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            (st, v["error_code"].as_str().unwrap()),
            (status, code),
            "{profile}: {v}"
        );
        assert!(
            v["error_msg"]
                .as_str()
                .unwrap()
                .contains("csv config quote"),
            "{v}"
        );
    }
}

/// `claim_check_raw_value` arrives in tiflow v8.3.0 (pkg/config/large_message.go
/// `LargeMessageHandleConfig`, cdc/api/v2/model.go; PR #11395); tiflow v8.1.0's API decodes
/// with encoding/json, which drops the unknown key, and its `AdjustAndValidate` has no raw-value
/// check. So the v8.1 simulator accepts claim-check + raw value with the open protocol (v8.5
/// refuses it), and `cdcform validate --target v8.1.0` refuses the key the server would lose.
#[tokio::test]
async fn claim_check_raw_value_is_unknown_before_v8_3() {
    let rc = json!({"sink": {"kafka_config": {"large_message_handle": {
        "large_message_handle_option": "claim-check",
        "claim_check_storage_uri": "s3://bucket/claim",
        "claim_check_raw_value": true}}}});
    let body = json!({"changefeed_id": "cc", "sink_uri": "kafka://127.0.0.1:9092/t?protocol=open-protocol",
        "replica_config": rc});
    for (profile, accepted) in [("classic-v8.1", true), ("classic-v8.5", false)] {
        let sim = start_sim(SimConfig {
            profile: sim_profile(profile),
            sink_check: false,
            tick: Duration::ZERO,
            ..SimConfig::default()
        })
        .await;
        let r = reqwest::Client::new()
            .post(format!("{}/api/v2/changefeeds", sim.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        if accepted {
            assert_eq!(status, 200, "{profile}: {v}");
            let lmh = &v["config"]["sink"]["kafka_config"]["large_message_handle"];
            assert!(
                lmh.get("claim_check_raw_value").is_none(),
                "{profile}: {lmh}"
            );
        } else {
            assert_eq!(status, 500, "{profile}: {v}");
            assert!(
                v["error_msg"].as_str().unwrap().contains("raw value"),
                "{v}"
            );
        }
        sim.shutdown().await;
    }
    let text = serde_json::to_string_pretty(&json!({"changefeeds": [{"id": "cc",
        "sink_uri": "kafka://127.0.0.1:9092/t?protocol=simple", "replica_config": rc}]}))
    .unwrap();
    let v81 = ServerProfile::classic(Version::new(8, 1, 0));
    let e = manifest::load_str_for("cc.yaml", &text, &|_| None, Some(&v81)).unwrap_err();
    assert!(
        e.0.iter()
            .any(|d| d.message.contains("claim_check_raw_value") && d.message.contains("v8.3.0")),
        "{e:?}"
    );
    let v85 = ServerProfile::classic(Version::new(8, 5, 0));
    manifest::load_str_for("cc.yaml", &text, &|_| None, Some(&v85)).expect("v8.5 knows it");
}

/// `cdcform validate` names the file, line and TiCDC's error code for a sink-URI parameter
/// that does not bind to its Go type (tiflow v8.5.0 pkg/sink/mysql/config.go `getWorkerCount`,
/// pkg/sink/kafka/options.go `urlConfig`), and for a protocol the target lacks (tiflow v7.5.0
/// pkg/config/sink_protocol.go `ParseSinkProtocolFromString`).
#[test]
fn validate_names_file_line_and_code_for_typed_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("cf.yaml");
    std::fs::write(
        &f,
        "changefeeds:\n  - id: m\n    sink_uri: \"mysql://root@127.0.0.1:3306/?worker-count=0\"\n  - id: k\n    sink_uri: \"kafka://127.0.0.1:9092/t?protocol=debezium&enable-tls=maybe\"\n",
    )
    .unwrap();
    let run = |target: &str| {
        let mut c = assert_cmd::Command::cargo_bin("cdcform").unwrap();
        c.arg("validate")
            .arg(&f)
            .args(["--target", target])
            .env("NO_COLOR", "1");
        c.output().unwrap()
    };
    let out = run("v7.5.0");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cf.yaml:3"), "{err}");
    assert!(
        err.contains("worker-count=0") && err.contains("CDC:ErrMySQLInvalidConfig"),
        "{err}"
    );
    assert!(err.contains("cf.yaml:5"), "{err}");
    assert!(
        err.contains("enable-tls=maybe") && err.contains("CDC:ErrKafkaInvalidConfig"),
        "{err}"
    );
    assert!(err.contains("CDC:ErrSinkUnknownProtocol"), "{err}");
    let out = run("v8.1.0");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("ErrSinkUnknownProtocol"), "{err}");
    assert!(err.contains("enable-tls=maybe"), "{err}");
}

/// #31 item 6 with a server: `plan` and `apply` against a classic v8.1.0 server refuse a field
/// it does not know (`claim_check_raw_value`, added in tiflow v8.3.0) at its line, before any
/// write, as `validate --target v8.1.0` does offline; a v8.5.0 server takes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_apply_refuse_a_field_the_server_version_does_not_know() {
    use cdcform::simulator::{SimConfig, SimProfile};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cc.yaml"),
        "changefeeds:\n  - id: cc\n    sink_uri: \"kafka://127.0.0.1:9092/t?protocol=simple\"\n    replica_config:\n      sink:\n        kafka_config:\n          large_message_handle:\n            large_message_handle_option: claim-check\n            claim_check_storage_uri: \"s3://b/p\"\n            claim_check_raw_value: true\n",
    )
    .unwrap();
    for (v, refused) in [((8, 1, 0), true), ((8, 5, 0), false)] {
        let s = crate::harness::sim(SimConfig {
            profile: SimProfile::Classic {
                version: Version::new(v.0, v.1, v.2),
            },
            ..crate::harness::classic()
        })
        .await;
        let url = s.url();
        for cmd in [
            &["plan", "cc.yaml"][..],
            &["apply", "cc.yaml", "--auto-approve"],
        ] {
            let (code, out, err) =
                crate::harness::run_cli(dir.path(), &[cmd, &["--server", &url]].concat(), &[]);
            if refused {
                assert_eq!(code, Some(1), "{v:?} {cmd:?}: {out}{err}");
                assert!(err.contains("cc.yaml:10:36"), "{err}");
                assert!(err.contains("unknown to TiCDC v8.1.0"), "{err}");
            } else {
                assert_eq!(code, Some(0), "{v:?} {cmd:?}: {out}{err}");
            }
        }
        if refused {
            assert!(
                crate::harness::mutations(&s).is_empty(),
                "{:?}",
                crate::harness::mutations(&s)
            );
        }
        s.shutdown().await;
    }
}
