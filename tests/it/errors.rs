//! Error codes, statuses and message shapes that real TiCDC answers at the HTTP edges, each
//! checked against the simulator with the Go function it comes from.

use std::time::Duration;

use cdcform::simulator::{SimConfig, SimProfile, Simulator};
use serde_json::{json, Value};

use crate::harness::sim as start_sim;

fn cfg(classic: bool) -> SimConfig {
    SimConfig {
        profile: if classic {
            SimProfile::Classic {
                version: cdcform::ticdc::Version::new(8, 5, 0),
            }
        } else {
            SimProfile::Newarch
        },
        tick: Duration::ZERO,
        sink_check: false,
        ..SimConfig::default()
    }
}

async fn raw(sim: &Simulator, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let http = reqwest::Client::new();
    let mut req = http.request(method.parse().unwrap(), format!("{}{path}", sim.url()));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn call(sim: &Simulator, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let b = body.map(|b| b.to_string());
    let (s, t) = raw(sim, method, path, b.as_deref()).await;
    (s, serde_json::from_str(&t).unwrap_or(Value::Null))
}

/// An unreachable Kafka broker on the new architecture: ticdc v8.5.7 CreateChangefeed wraps
/// `sink.Verify`'s error as `WrapError(ErrSinkURIInvalid, err, sinkURI)` (api/v2/changefeed.go),
/// the cause being `ErrKafkaNewProducer` (downstreamadapter/sink/kafka/helper.go; master wraps
/// ErrNewKafkaSink in pkg/sink/kafka/sarama_factory.go). The URI in the message is masked.
#[tokio::test]
async fn newarch_unreachable_kafka_is_sink_uri_invalid_with_the_uri() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sim = start_sim(SimConfig {
        sink_check: true,
        ..cfg(false)
    })
    .await;
    let uri = format!("kafka://127.0.0.1:{port}/t?protocol=canal-json&sasl-password=s3cret");
    let (s, v) = call(
        &sim,
        "POST",
        "/api/v2/changefeeds",
        Some(json!({"changefeed_id": "k", "sink_uri": uri})),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error_code"], "CDC:ErrSinkURIInvalid");
    let msg = v["error_msg"].as_str().unwrap();
    assert!(
        msg.starts_with(&format!(
            "[CDC:ErrSinkURIInvalid]sink uri invalid 'kafka://127.0.0.1:{port}/t?"
        )),
        "{msg}"
    );
    assert!(
        msg.contains("': [CDC:ErrKafkaNewProducer]new kafka producer: "),
        "{msg}"
    );
    assert!(!msg.contains("s3cret"), "{msg}");
}

/// tiflow v8.5.7 cdc/api/v2/processor.go `getProcessor`: a changefeed that is not running
/// (`FeedState.IsRunning`: normal or warning) is 400 ErrAPIInvalidParam, checked before the capture.
#[tokio::test]
async fn processor_of_a_stopped_changefeed_is_invalid_param() {
    let sim = start_sim(cfg(true)).await;
    let (s, _) = call(
        &sim,
        "POST",
        "/api/v2/changefeeds",
        Some(json!({"changefeed_id": "p", "sink_uri": "blackhole://"})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = call(&sim, "GET", "/api/v2/processors/p/no-such-capture", None).await;
    assert_eq!(
        (s, v["error_code"].clone()),
        (400, json!("CDC:ErrCaptureNotExist"))
    );
    let (s, _) = call(&sim, "POST", "/api/v2/changefeeds/p/pause", None).await;
    assert_eq!(s, 200);
    let (s, v) = call(&sim, "GET", "/api/v2/processors/p/no-such-capture", None).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error_code"], "CDC:ErrAPIInvalidParam");
    assert!(v["error_msg"]
        .as_str()
        .unwrap()
        .contains("changefeed in abnormal state: stopped"));
}

/// tiflow v8.5.0 cdc/api/v2/processor.go `getProcessor` validates the changefeed id, then the
/// capture id (`model.ValidateChangefeedID`), before looking anything up: a malformed capture id
/// is 400 `ErrAPIInvalidParam` "invalid capture_id: …" even for a missing changefeed (#31.9).
#[tokio::test]
async fn processor_capture_id_is_validated_first() {
    let sim = start_sim(cfg(true)).await;
    for cid in ["bad_capture", "-x", "a--b"] {
        let (s, v) = call(
            &sim,
            "GET",
            &format!("/api/v2/processors/missing/{cid}"),
            None,
        )
        .await;
        assert_eq!(s, 400, "{v}");
        assert_eq!(v["error_code"], "CDC:ErrAPIInvalidParam");
        assert_eq!(
            v["error_msg"],
            format!("[CDC:ErrAPIInvalidParam]invalid capture_id: {cid}")
        );
    }
    // The changefeed id first; a well-formed unknown capture id meets the look-up.
    let (_, v) = call(&sim, "GET", "/api/v2/processors/bad_cf/bad_capture", None).await;
    assert_eq!(
        v["error_msg"],
        "[CDC:ErrAPIInvalidParam]invalid changefeed_id: bad_cf"
    );
    let (_, v) = call(
        &sim,
        "GET",
        "/api/v2/processors/missing/no-such-capture",
        None,
    )
    .await;
    assert_eq!(v["error_code"], "CDC:ErrChangeFeedNotExists");
}

/// `"replica_config": null`: tiflow verifyCreateChangefeedConfig and ticdc CreateChangefeed
/// check the sink URI, id, existence, start_ts and target_ts first, then dereference the nil
/// config: gin's recovery answers 500 with an empty body. A literal `null` body: 500, empty.
#[tokio::test]
async fn null_replica_config_and_null_body() {
    for classic in [true, false] {
        let sim = start_sim(cfg(classic)).await;
        let (s, v) = call(
            &sim,
            "POST",
            "/api/v2/changefeeds",
            Some(json!({"changefeed_id": "a", "sink_uri": "", "replica_config": null})),
        )
        .await;
        assert_eq!(
            (s, v["error_code"].clone()),
            (400, json!("CDC:ErrSinkURIInvalid"))
        );
        let (s, v) = call(
            &sim,
            "POST",
            "/api/v2/changefeeds",
            Some(
                json!({"changefeed_id": "a_b", "sink_uri": "blackhole://", "replica_config": null}),
            ),
        )
        .await;
        assert_eq!(
            (s, v["error_code"].clone()),
            (400, json!("CDC:ErrAPIInvalidParam"))
        );
        let (s, v) = call(&sim, "POST", "/api/v2/changefeeds", Some(json!({"changefeed_id": "a", "sink_uri": "blackhole://", "target_ts": 1, "replica_config": null}))).await;
        assert_eq!(
            (s, v["error_code"].clone()),
            (400, json!("CDC:ErrTargetTsBeforeStartTs"))
        );
        let (s, body) = raw(
            &sim,
            "POST",
            "/api/v2/changefeeds",
            Some(r#"{"changefeed_id":"a","sink_uri":"blackhole://","replica_config":null}"#),
        )
        .await;
        assert_eq!((s, body.as_str()), (500, ""), "classic={classic}");
        let (s, body) = raw(&sim, "POST", "/api/v2/changefeeds", Some("null")).await;
        assert_eq!((s, body.as_str()), (500, ""), "classic={classic}");
    }
}

/// ticdc ResumeChangefeed binds a non-empty body before looking the changefeed up; tiflow
/// looks it up first (cdc/api/v2/changefeed.go resumeChangefeed).
#[tokio::test]
async fn newarch_resume_parses_the_body_first() {
    let sim = start_sim(cfg(false)).await;
    let (s, v) = call_raw_json(&sim, "/api/v2/changefeeds/missing/resume", "{bad").await;
    assert_eq!(
        (s, v["error_code"].clone()),
        (400, json!("CDC:ErrAPIInvalidParam"))
    );
    let sim = start_sim(cfg(true)).await;
    let (s, v) = call_raw_json(&sim, "/api/v2/changefeeds/missing/resume", "{bad").await;
    assert_eq!(
        (s, v["error_code"].clone()),
        (400, json!("CDC:ErrChangeFeedNotExists"))
    );
}

async fn call_raw_json(sim: &Simulator, path: &str, body: &str) -> (u16, Value) {
    let (s, t) = raw(sim, "POST", path, Some(body)).await;
    (s, serde_json::from_str(&t).unwrap_or(Value::Null))
}

/// Type errors read as Go's encoding/json reports them through gin's BindJSON, wrapped by
/// TiCDC as `[CDC:ErrAPIInvalidParam]invalid api parameter: …` (tiflow cdc/api/v2/model.go types).
#[tokio::test]
async fn type_errors_use_go_wording() {
    let sim = start_sim(cfg(true)).await;
    let cases = [
        (
            json!({"sink_uri": "blackhole://", "start_ts": "x"}),
            "[CDC:ErrAPIInvalidParam]invalid api parameter: json: cannot unmarshal string into Go struct field ChangefeedConfig.start_ts of type uint64",
        ),
        (
            json!({"sink_uri": "blackhole://", "replica_config": {"memory_quota": "big"}}),
            "[CDC:ErrAPIInvalidParam]invalid api parameter: json: cannot unmarshal string into Go struct field ReplicaConfig.replica_config.memory_quota of type uint64",
        ),
        (
            json!({"sink_uri": "blackhole://", "replica_config": {"memory_quota": -1}}),
            "[CDC:ErrAPIInvalidParam]invalid api parameter: json: cannot unmarshal number -1 into Go struct field ReplicaConfig.replica_config.memory_quota of type uint64",
        ),
        (
            json!({"sink_uri": "blackhole://", "replica_config": {"sink": {"csv": {"quote": 1}}}}),
            "[CDC:ErrAPIInvalidParam]invalid api parameter: json: cannot unmarshal number into Go struct field CSVConfig.replica_config.sink.csv.quote of type string",
        ),
        (
            json!({"sink_uri": "blackhole://", "replica_config": {"mounter": {"worker_num": "8"}}}),
            "[CDC:ErrAPIInvalidParam]invalid api parameter: json: cannot unmarshal string into Go struct field MounterConfig.replica_config.mounter.worker_num of type int",
        ),
    ];
    for (body, want) in cases {
        let (s, v) = call(&sim, "POST", "/api/v2/changefeeds", Some(body)).await;
        assert_eq!(s, 400);
        assert_eq!(v["error_msg"], want);
    }
}

/// A changefeed id that is not valid UTF-8 once percent-decoded: tiflow's handler refuses the
/// id (400 ErrAPIInvalidParam, JSON body, the bytes as U+FFFD); ticdc's GET does not validate
/// the id and answers "not exists".
#[tokio::test]
async fn invalid_utf8_id_is_answered_like_go() {
    let sim = start_sim(cfg(true)).await;
    let (s, v) = call(&sim, "GET", "/api/v2/changefeeds/%FF", None).await;
    assert_eq!(
        (s, v["error_code"].clone()),
        (400, json!("CDC:ErrAPIInvalidParam"))
    );
    assert_eq!(
        v["error_msg"],
        "[CDC:ErrAPIInvalidParam]invalid changefeed_id: \u{fffd}"
    );
    let sim = start_sim(cfg(false)).await;
    let (s, v) = call(&sim, "GET", "/api/v2/changefeeds/%FF", None).await;
    assert_eq!(
        (s, v["error_code"].clone()),
        (400, json!("CDC:ErrChangeFeedNotExists"))
    );
    let (s, v) = call(&sim, "POST", "/api/v2/changefeeds/%FF/pause", None).await;
    assert_eq!(
        (s, v["error_code"].clone()),
        (400, json!("CDC:ErrAPIInvalidParam"))
    );
}

/// gin binding/json.go `decodeJSON` decodes one value with `json.Decoder.Decode` and never
/// reads what follows, so create, update and tiflow's resume (cdc/api/v2/changefeed.go
/// `resumeChangefeed`, `BindJSON`) accept a body with trailing text; pingcap/ticdc v8.5.7
/// api/v2/changefeed.go `ResumeChangefeed` `json.Unmarshal`s a non-empty body and refuses it.
/// Malformed bodies read as Go's encoding/json scanner words them (issue #31 item 8).
#[tokio::test]
async fn bodies_decode_as_gin_and_go_decode_them() {
    for classic in [true, false] {
        let sim = start_sim(cfg(classic)).await;
        let create = r#"{"changefeed_id": "tail", "sink_uri": "blackhole://"} trailing text"#;
        let (s, t) = raw(&sim, "POST", "/api/v2/changefeeds", Some(create)).await;
        assert_eq!(s, 200, "classic={classic}: {t}");
        let (s, t) = raw(&sim, "POST", "/api/v2/changefeeds/tail/pause", None).await;
        assert_eq!(s, 200, "{t}");
        let update = r#"{"target_ts": 0, "replica_config": {"memory_quota": 1073741824}}}}"#;
        let (s, t) = raw(&sim, "PUT", "/api/v2/changefeeds/tail", Some(update)).await;
        assert_eq!(s, 200, "classic={classic}: {t}");
        let (s, t) = raw(
            &sim,
            "POST",
            "/api/v2/changefeeds/tail/resume",
            Some("{} x"),
        )
        .await;
        let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
        if classic {
            assert_eq!(s, 200, "{t}");
        } else {
            assert_eq!(s, 400, "{t}");
            assert_eq!(
                v["error_msg"],
                "[CDC:ErrAPIInvalidParam]invalid api parameter: invalid character 'x' after top-level value"
            );
        }
        let cases = [
            (
                r#"{"sink_uri": blackhole}"#,
                "invalid character 'b' looking for beginning of value",
            ),
            (
                r#"{"sink_uri" "x"}"#,
                "invalid character '\"' after object key",
            ),
            (
                r#"{sink_uri: 1}"#,
                "invalid character 's' looking for beginning of object key string",
            ),
            (r#"{"sink_uri": "x""#, "unexpected EOF"),
        ];
        for (body, want) in cases {
            let (s, t) = raw(&sim, "POST", "/api/v2/changefeeds", Some(body)).await;
            let v: Value = serde_json::from_str(&t).unwrap();
            assert_eq!(s, 400, "{body}");
            assert_eq!(
                v["error_msg"],
                format!("[CDC:ErrAPIInvalidParam]invalid api parameter: {want}"),
                "classic={classic}: {body}"
            );
        }
        sim.shutdown().await;
    }
}

/// pingcap/ticdc v8.5.7 api/v2/changefeed.go `UpdateChangefeed` checks `target_ts` against the
/// start_ts before it refuses a `start_ts` in the body (#31.12): a body with both meets the
/// target_ts refusal (ErrChangefeedUpdateRefused), not `start_ts can not be updated`.
#[tokio::test]
async fn newarch_update_checks_target_ts_before_start_ts() {
    let sim = start_sim(cfg(false)).await;
    let (s, _) = call(
        &sim,
        "POST",
        "/api/v2/changefeeds",
        Some(json!({"changefeed_id": "u", "sink_uri": "blackhole://"})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = call(&sim, "POST", "/api/v2/changefeeds/u/pause", None).await;
    assert_eq!(s, 200);
    let body = json!({"start_ts": 1, "target_ts": 1});
    let (s, v) = call(&sim, "PUT", "/api/v2/changefeeds/u", Some(body)).await;
    assert_eq!(
        (s, v["error_code"].clone()),
        (400, json!("CDC:ErrChangefeedUpdateRefused")),
        "{v}"
    );
    // A start_ts alone: the start_ts refusal.
    let (s, v) = call(
        &sim,
        "PUT",
        "/api/v2/changefeeds/u",
        Some(json!({"start_ts": 1})),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(
        v["error_msg"],
        "[CDC:ErrAPIInvalidParam]start_ts can not be updated"
    );
}

/// Error texts as TiCDC words them (#31.14):
/// * classic not-exists names `namespace/id` (tiflow v8.5.0 cdc/owner/status_provider.go passes
///   a `model.ChangeFeedID`, whose `String()` in cdc/model/changefeed.go is `ns/id`); pingcap/ticdc
///   v8.5.7 coordinator/controller.go `GetChangefeed` names the id alone;
/// * `ErrTargetTsBeforeStartTs` ("fail to create changefeed because target-ts %d is earlier than
///   start-ts %d", tiflow v8.5.0 pkg/errors/cdc_errors.go, pingcap/ticdc v8.5.7 pkg/errors/error.go);
/// * the update's target_ts refusal is `GenWithStack` (tiflow cdc/api/v2/api_helpers.go
///   `verifyUpdateChangefeedConfig`, pingcap/ticdc api/v2/changefeed.go `UpdateChangefeed`): its
///   text replaces the "changefeed update error: %s" template;
/// * sync-point and stuck-duration minimums as pkg/config/replica_config.go
///   `(*ReplicaConfig).ValidateAndAdjust` words them (Go `Duration.String()`, `%f`);
/// * pkg/integrity/integrity.go `(*Config).Validate` calls `GenWithStackByArgs()` with no
///   argument and pingcap/errors normalize.go `GetMsg` leaves the template's `%s` as it is.
#[tokio::test]
async fn error_texts_follow_ticdc() {
    for classic in [true, false] {
        let sim = start_sim(cfg(classic)).await;
        let msg = |v: &Value| v["error_msg"].as_str().unwrap_or_default().to_string();
        let (_, v) = call(&sim, "GET", "/api/v2/changefeeds/missing", None).await;
        let name = if classic {
            "default/missing"
        } else {
            "missing"
        };
        assert_eq!(
            msg(&v),
            format!("[CDC:ErrChangeFeedNotExists]changefeed not exists, {name}")
        );
        let create = |extra: Value| {
            let mut b = json!({"changefeed_id": "t", "sink_uri": "mysql://root@127.0.0.1:3306/"});
            b.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            b
        };
        let (_, v) = call(
            &sim,
            "POST",
            "/api/v2/changefeeds",
            Some(create(json!({"target_ts": 1}))),
        )
        .await;
        assert!(
            msg(&v).starts_with("[CDC:ErrTargetTsBeforeStartTs]fail to create changefeed because target-ts 1 is earlier than start-ts "),
            "{v}"
        );
        let refused = [
            (json!({"enable_sync_point": true, "sync_point_interval": "10s"}),
             "[CDC:ErrInvalidReplicaConfig]invalid replica config, The SyncPointInterval:10s must be larger than 30s"),
            (json!({"enable_sync_point": true, "sync_point_retention": "30m"}),
             "[CDC:ErrInvalidReplicaConfig]invalid replica config, The SyncPointRetention:30m0s must be larger than 1h0m0s"),
            (json!({"changefeed_error_stuck_duration": "1m"}),
             "[CDC:ErrInvalidReplicaConfig]invalid replica config, The ChangefeedErrorStuckDuration:60.000000 must be larger than 1800.000000 Seconds"),
        ];
        for (rc, want) in refused {
            let (_, v) = call(
                &sim,
                "POST",
                "/api/v2/changefeeds",
                Some(create(json!({"replica_config": rc}))),
            )
            .await;
            assert!(msg(&v).contains(want), "classic={classic}: {v}");
        }
        let bad_level = json!({"integrity": {"integrity_check_level": "bogus"}});
        let (_, v) = call(
            &sim,
            "POST",
            "/api/v2/changefeeds",
            Some(create(json!({"replica_config": bad_level}))),
        )
        .await;
        assert!(msg(&v).contains("invalid replica config, %s"), "{v}");
        assert!(!msg(&v).contains("MISSING"), "{v}");
        if !classic {
            // pingcap/ticdc v8.5.7 api/v2/changefeed.go `CreateChangefeed`:
            // `WrapError(ErrInvalidReplicaConfig, err)` (pkg/errors/helper.go) has no argument,
            // so the template's `%s` stays and the cause follows.
            let route =
                json!({"sink": {"dispatchers": [{"matcher": ["a.*"], "target-table": "{TABLE}"}]}});
            let (s, v) = call(
                &sim,
                "POST",
                "/api/v2/changefeeds",
                Some(create(json!({"replica_config": route}))),
            )
            .await;
            assert_eq!(s, 500);
            assert_eq!(
                msg(&v),
                "[CDC:ErrInvalidReplicaConfig]invalid replica config, %s: [CDC:ErrInvalidTableRoutingRule]target-table \"{TABLE}\" must contain only literal text, {schema}, and {table}"
            );
        }
        // The update's target_ts refusal.
        let (s, _) = call(&sim, "POST", "/api/v2/changefeeds", Some(create(json!({})))).await;
        assert_eq!(s, 200);
        call(&sim, "POST", "/api/v2/changefeeds/t/pause", None).await;
        let (_, v) = call(
            &sim,
            "PUT",
            "/api/v2/changefeeds/t",
            Some(json!({"target_ts": 1})),
        )
        .await;
        assert!(
            msg(&v).starts_with(
                "[CDC:ErrChangefeedUpdateRefused]can not update target_ts:1 less than start_ts:"
            ),
            "{v}"
        );
        sim.shutdown().await;
    }
}

/// `/synced` (#31.11): tiflow v8.5.0 cdc/api/v2/changefeed.go `synced` and pingcap/ticdc
/// v8.5.7 api/v2/changefeed.go `synced` word the same cases differently ("Data syncing is
/// finished" / "The data syncing is finished"; only tiflow's PD hint names Grafana), and both
/// answer `now_ts` as `time.Unix(physicalNow/1e3, 0)`: whole seconds.
#[tokio::test]
async fn synced_texts_per_architecture() {
    for classic in [true, false] {
        let sim = start_sim(cfg(classic)).await;
        let (_, tso) = call(&sim, "POST", "/api/v2/tso", Some(json!({}))).await;
        let ms = tso["timestamp"].as_u64().unwrap();
        // Started 9 minutes ago (the GC safepoint is 10 minutes back), checked after 60 s.
        let start_ts = (ms - 9 * 60 * 1000) << 18;
        let body = json!({"changefeed_id": "s", "sink_uri": "blackhole://", "start_ts": start_ts,
            "replica_config": {"synced_status": {"synced_check_interval": 60, "checkpoint_interval": 15}}});
        let (s, v) = call(&sim, "POST", "/api/v2/changefeeds", Some(body)).await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = call(&sim, "GET", "/api/v2/changefeeds/s/synced", None).await;
        assert_eq!(s, 200, "{v}");
        assert!(v["now_ts"].as_str().unwrap().ends_with(".000"), "{v}");
        let finished = if classic {
            "Data syncing is finished"
        } else {
            "The data syncing is finished"
        };
        assert_eq!(
            (&v["synced"], &v["info"]),
            (&json!(true), &json!(finished)),
            "{v}"
        );
        // A checkpoint left behind: the PD hint.
        sim.set_checkpoint("default", "s", start_ts);
        let (_, v) = call(&sim, "GET", "/api/v2/changefeeds/s/synced", None).await;
        let info = v["info"].as_str().unwrap();
        if v["synced"] == json!(false) && info.starts_with("Please check") {
            assert_eq!(info.contains("Grafana"), classic, "{info}");
        } else {
            panic!("classic={classic}: {v}");
        }
        sim.shutdown().await;
    }
}

/// `/unsafe` routes (#31.10), tiflow v8.5.0 and pingcap/ticdc v8.5.7 api/v2/unsafe.go:
/// `DeleteServiceGcSafePoint` and `ResolveLock` bind their bodies with gin's `BindJSON` first
/// (an empty or malformed body is 400 `ErrAPIInvalidParam`); tiflow's `ResolveLock` answers 503
/// with an empty body only when it has no kv storage, pingcap/ticdc has no such path;
/// `CDCMetaData` lists the etcd keys (pkg/etcd/etcdkey.go) including each changefeed's
/// `changefeed/info/<id>` and `changefeed/status/<id>`.
#[tokio::test]
async fn unsafe_routes_bind_their_bodies_and_list_etcd_keys() {
    for classic in [true, false] {
        let sim = start_sim(cfg(classic)).await;
        for body in [None, Some(""), Some("{bad")] {
            let (s, t) = raw(&sim, "DELETE", "/api/v2/unsafe/service_gc_safepoint", body).await;
            assert_eq!(s, 400, "classic={classic} {body:?}: {t}");
            assert!(t.contains("CDC:ErrAPIInvalidParam"), "{t}");
        }
        let (s, t) = raw(
            &sim,
            "DELETE",
            "/api/v2/unsafe/service_gc_safepoint",
            Some("{}"),
        )
        .await;
        assert_eq!((s, t.as_str()), (200, "{}"));
        for body in [None, Some("{\"region_id\": \"x\"}")] {
            let (s, t) = raw(&sim, "POST", "/api/v2/unsafe/resolve_lock", body).await;
            assert_eq!(s, 400, "classic={classic} {body:?}: {t}");
        }
        let (s, t) = raw(
            &sim,
            "POST",
            "/api/v2/unsafe/resolve_lock",
            Some(r#"{"region_id": 1, "ts": 1}"#),
        )
        .await;
        if classic {
            assert_eq!((s, t.as_str()), (503, ""));
        } else {
            assert_eq!((s, t.as_str()), (200, "{}"));
        }
        let (s, _) = call(
            &sim,
            "POST",
            "/api/v2/changefeeds",
            Some(json!({"changefeed_id": "m", "sink_uri": "blackhole://"})),
        )
        .await;
        assert_eq!(s, 200);
        let (s, v) = call(&sim, "GET", "/api/v2/unsafe/metadata", None).await;
        assert_eq!(s, 200);
        let keys: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|kv| kv["key"].as_str().unwrap())
            .collect();
        for want in [
            "/tidb/cdc/default/default/changefeed/info/m",
            "/tidb/cdc/default/default/changefeed/status/m",
        ] {
            assert!(keys.contains(&want), "{keys:?}");
        }
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "etcd answers a range sorted: {keys:?}"
        );
        let info = v
            .as_array()
            .unwrap()
            .iter()
            .find(|kv| kv["key"] == "/tidb/cdc/default/default/changefeed/info/m")
            .unwrap();
        let info: Value = serde_json::from_str(info["value"].as_str().unwrap()).unwrap();
        assert_eq!(info["sink-uri"], "blackhole://");
        sim.shutdown().await;
    }
}

/// The new architecture's v8.5.7 routes beyond the public ones (#31.13), pingcap/ticdc v8.5.7
/// api/v2/api.go `RegisterOpenAPIV2Routes`: root `GET /status` (`ServerStatus`; tiflow's root
/// `/status` is cdc/api/status/status.go `handleStatus`), `POST /log/redact` (api/v2/log.go
/// `SetRedactMode`), `POST /get_all_tables`, and the internal table routes of
/// api/v2/changefeed.go (`MoveTable`, `MoveSplitTable`, `SplitTableByRegionCount`, `MergeTable`,
/// `ListTables`, `getDispatcherCount`) with the statuses their checks give. tiflow has none of
/// them but the root `/status` (404).
#[tokio::test]
async fn newarch_internal_routes_answer_as_ticdc() {
    let classic = start_sim(cfg(true)).await;
    for (m, p) in [
        ("POST", "/api/v2/log/redact"),
        ("POST", "/api/v2/get_all_tables"),
        ("POST", "/api/v2/changefeeds/x/move_table?tableID=1"),
        ("POST", "/api/v2/changefeeds/x/move_split_table?tableID=1"),
        (
            "POST",
            "/api/v2/changefeeds/x/split_table_by_region_count?tableID=1",
        ),
        ("POST", "/api/v2/changefeeds/x/merge_table?tableID=1"),
        ("GET", "/api/v2/changefeeds/x/tables"),
        ("GET", "/api/v2/changefeeds/x/get_dispatcher_count"),
    ] {
        let (s, t) = raw(&classic, m, p, Some("{}")).await;
        assert_eq!((s, t.as_str()), (404, "404 page not found"), "{m} {p}");
    }
    let (s, t) = raw(&classic, "GET", "/status", None).await;
    assert_eq!(s, 200);
    assert!(t.starts_with("{\n \"version\""), "{t}");
    classic.shutdown().await;

    let sim = start_sim(cfg(false)).await;
    let (s, v) = call(&sim, "GET", "/status", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["cluster_id"], "default");
    // Redaction only grows stricter.
    let redact = |mode: &str| json!({ "redact_info_log": mode });
    let (s, v) = call(&sim, "POST", "/api/v2/log/redact", Some(redact("marker"))).await;
    assert_eq!(
        (s, v),
        (
            200,
            json!({"previous_mode": "OFF", "current_mode": "MARKER"})
        )
    );
    let (s, v) = call(&sim, "POST", "/api/v2/log/redact", Some(redact("off"))).await;
    assert_eq!(s, 400);
    assert!(
        v["error_msg"]
            .as_str()
            .unwrap()
            .contains("cannot transition from 'MARKER' to 'off'"),
        "{v}"
    );
    let (s, v) = call(&sim, "POST", "/api/v2/log/redact", Some(redact("loud"))).await;
    assert_eq!(s, 400, "{v}");
    let (s, t) = raw(&sim, "POST", "/api/v2/log/redact", None).await;
    assert_eq!(s, 400);
    assert!(t.contains("invalid redact mode: EOF"), "{t}");
    let (s, v) = call(&sim, "POST", "/api/v2/get_all_tables", Some(json!({}))).await;
    assert_eq!(s, 200, "{v}");
    assert!(v.get("all_tables").is_some(), "{v}");

    // Internal table routes.
    let (s, _) = call(
        &sim,
        "POST",
        "/api/v2/changefeeds",
        Some(json!({"changefeed_id": "t", "sink_uri": "blackhole://"})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = call(&sim, "GET", "/api/v2/changefeeds/t/tables", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["total"], 1);
    let ids: Vec<i64> = serde_json::from_value(v["items"][0]["table_ids"].clone()).unwrap();
    assert_eq!(ids[0], 0, "the DDL span: {v}");
    assert!(ids.len() > 1, "the catalog's tables: {v}");
    let (_, v) = call(
        &sim,
        "GET",
        "/api/v2/changefeeds/t/get_dispatcher_count",
        None,
    )
    .await;
    assert_eq!(v["count"], ids.len());
    let node = v2_capture_id(&sim).await;
    let post = |p: String| {
        let sim = &sim;
        async move { call(sim, "POST", &p, None).await }
    };
    let (s, v) = post("/api/v2/changefeeds/t/move_table".into()).await;
    assert_eq!((s, &v["error_code"]), (500, &json!("")), "{v}");
    assert_eq!(
        v["error_msg"],
        "strconv.ParseInt: parsing \"\": invalid syntax"
    );
    let (s, v) = post("/api/v2/changefeeds/nope/move_table?tableID=1".into()).await;
    assert_eq!(
        (s, v["error_msg"].clone()),
        (500, json!("Can't not find maintainer for changefeed: nope"))
    );
    let (s, v) = post("/api/v2/changefeeds/bad_id/merge_table?tableID=1".into()).await;
    assert_eq!(
        (s, v["error_code"].clone()),
        (400, json!("CDC:ErrAPIInvalidParam"))
    );
    let (s, v) = post(format!(
        "/api/v2/changefeeds/t/move_table?tableID=0&targetNodeID={node}"
    ))
    .await;
    assert_eq!(
        (s, v["error_code"].clone()),
        (500, json!("CDC:ErrTableNotSupportMove"))
    );
    let (s, v) = post("/api/v2/changefeeds/t/merge_table?tableID=987654321".into()).await;
    assert_eq!(
        (s, v["error_code"].clone()),
        (500, json!("CDC:ErrTableIsNotFounded"))
    );
    {
        let table = ids[1];
        let (s, v) = post(format!(
            "/api/v2/changefeeds/t/move_table?tableID={table}&targetNodeID={node}"
        ))
        .await;
        assert_eq!((s, v), (200, json!({})));
        let (s, v) = post(format!(
            "/api/v2/changefeeds/t/move_split_table?tableID={table}&targetNodeID=elsewhere"
        ))
        .await;
        assert_eq!(
            (s, v["error_code"].clone()),
            (500, json!("CDC:ErrNodeIsNotFound"))
        );
        let (s, v) = post(format!("/api/v2/changefeeds/t/merge_table?tableID={table}")).await;
        assert_eq!((s, v), (200, json!({})));
    }
    let (s, v) = post("/api/v2/changefeeds/t/split_table_by_region_count?tableID=1".into()).await;
    assert_eq!(
        (s, v["error_code"].clone()),
        (400, json!("CDC:ErrAPIInvalidParam"))
    );
    let (s, t) = raw(
        &sim,
        "POST",
        "/api/v2/changefeeds/nope/split_table_by_region_count?tableID=1",
        None,
    )
    .await;
    assert_eq!((s, t.as_str()), (500, ""));
    sim.shutdown().await;
}

async fn v2_capture_id(sim: &Simulator) -> String {
    let (_, v) = call(sim, "GET", "/api/v2/captures", None).await;
    v["items"][0]["id"].as_str().unwrap().to_string()
}
