//! Replica-config rules: defaults per profile (§6.1/§6.2), create-merge and update-replace
//! decoding (§4.2/§4.5), `ValidateAndAdjust` (§6.3) and `VerifyAndComplete` + `RmUnusedFields`
//! (upstream tiflow `pkg/config/replica_config.go`, `pkg/config/sink.go`).

use serde_json::{json, Map, Value};

use super::time as t;
use super::SimProfile;
use crate::ticdc::mask::GoUrl;
use crate::ticdc::Version;

/// A simulated API error: code and message (without the `[CODE]` prefix).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiErr {
    pub code: String,
    pub msg: String,
    /// Forced status (401/503/…); otherwise the bad-request-list rule decides.
    pub status: Option<u16>,
}

impl ApiErr {
    pub fn new(code: &str, msg: impl Into<String>) -> ApiErr {
        ApiErr {
            code: code.to_string(),
            msg: msg.into(),
            status: None,
        }
    }
    pub fn with_status(mut self, s: u16) -> ApiErr {
        self.status = Some(s);
        self
    }
    /// `[CODE]message` (or just the message for an uncoded error).
    pub fn text(&self) -> String {
        if self.code.is_empty() {
            self.msg.clone()
        } else {
            format!("[{}]{}", self.code, self.msg)
        }
    }
    /// Wrap as `outer` (the outer code wins, the inner text is kept).
    pub fn wrap(self, outer: &str) -> ApiErr {
        ApiErr::new(outer, self.text())
    }
    /// `WrapError(ErrInvalidReplicaConfig, err)` with no argument (pingcap/ticdc v8.5.7
    /// pkg/errors/helper.go: `Wrap(err).GenWithStackByArgs()`): pingcap/errors normalize.go
    /// `GetMsg` leaves the template "invalid replica config, %s" unformatted and `Error()`
    /// appends ": <cause>".
    pub fn wrap_invalid_replica_config(self) -> ApiErr {
        ApiErr::new(
            "CDC:ErrInvalidReplicaConfig",
            format!("invalid replica config, %s: {}", self.text()),
        )
    }
    pub fn invalid_param(msg: impl Into<String>) -> ApiErr {
        ApiErr::new("CDC:ErrAPIInvalidParam", msg)
    }
}

/// tiflow `cdc/api/util.go` bad-request list (ticdc `pkg/api/util.go` adds two codes).
const BAD_REQUEST: &[&str] = &[
    "CDC:ErrAPIInvalidParam",
    "CDC:ErrSinkURIInvalid",
    "CDC:ErrStartTsBeforeGC",
    "CDC:ErrChangeFeedNotExists",
    "CDC:ErrTargetTsBeforeStartTs",
    "CDC:ErrTableIneligible",
    "CDC:ErrFilterRuleInvalid",
    "CDC:ErrChangefeedUpdateRefused",
    "CDC:ErrMySQLConnectionError",
    "CDC:ErrMySQLInvalidConfig",
    "CDC:ErrCaptureNotExist",
    "CDC:ErrSchedulerRequestFailed",
];

/// 400 when the code is on the list or the text merely contains a listed code; else 500.
pub fn status_for(e: &ApiErr, newarch: bool) -> u16 {
    if let Some(s) = e.status {
        return s;
    }
    let text = e.text();
    let extra: &[&str] = if newarch {
        &["CDC:ErrActiveActiveTSOIndexIncompatible"]
    } else {
        &[]
    };
    if BAD_REQUEST
        .iter()
        .chain(extra)
        .any(|c| e.code == *c || text.contains(c))
    {
        400
    } else {
        500
    }
}

const V85: &str = include_str!("defaults-v8.5.json");

/// Default API replica config for a profile.
pub fn defaults(profile: &SimProfile) -> Value {
    let mut v: Value = serde_json::from_str(V85).expect("embedded defaults");
    let o = v.as_object_mut().unwrap();
    match profile {
        SimProfile::Classic { version } => {
            let version = *version;
            if version < Version::new(8, 5, 0) {
                // v8.5 added send-all-bootstrap-at-start (§6.1 last paragraph).
                sink(o).remove("send-all-bootstrap-at-start");
                if let Some(csv) = sink(o).get_mut("csv").and_then(Value::as_object_mut) {
                    csv.remove("output_field_header");
                }
            }
            if version < Version::new(8, 1, 0) {
                // v8.1 added table monitor, synced status, content_compatible, debezium/open,
                // the bootstrap settings; redo's memory_usage (and compression,
                // flush_concurrency), csv's output_old_value/output_handle_key: none is in
                // tiflow v7.5.0 cdc/api/v2/model.go `ConsistentConfig`/`CSVConfig`.
                o.remove("enable_table_monitor");
                o.remove("synced_status");
                if let Some(c) = o.get_mut("consistent").and_then(Value::as_object_mut) {
                    c.remove("memory_usage");
                }
                if let Some(csv) = sink(o).get_mut("csv").and_then(Value::as_object_mut) {
                    csv.remove("output_old_value");
                    csv.remove("output_handle_key");
                }
                let s = sink(o);
                for k in [
                    "content_compatible",
                    "debezium",
                    "open",
                    "debezium_disable_schema",
                    "send_bootstrap_interval_in_sec",
                    "send_bootstrap_in_msg_count",
                    "send_bootstrap_to_all_partition",
                ] {
                    s.remove(k);
                }
            }
            if version < Version::new(7, 5, 0) {
                o.remove("changefeed_error_stuck_duration");
                sink(o).remove("advance_timeout");
                o.insert("case_sensitive".into(), json!(true));
                o.insert("enable_old_value".into(), json!(true));
            }
        }
        SimProfile::Newarch => {
            // ticdc `pkg/config/replica_config.go` (§6.2).
            o.remove("force_replicate");
            o.remove("ignore_ineligible_table");
            sink(o).remove("enable_kafka_sink_v2");
            // No `performance_mode` (pingcap/ticdc master only, PR #5862) and no active-active
            // keys (next-gen v26.3 builds and master): v8.5.7 api/v2/model.go `ReplicaConfig`
            // has neither.
            let c = o.get_mut("consistent").unwrap().as_object_mut().unwrap();
            c.insert("storage".into(), json!(""));
            c.insert("compression".into(), json!(""));
            o.insert(
                "scheduler".into(),
                json!({"enable_table_across_nodes":false,"region_threshold":10000,
                    "region_count_per_span":100,"region_count_refresh_interval":300000000000u64,
                    "write_key_threshold":0,"scheduling_task_count_per_node":20,
                    "enable_splittable_check":false,"force_split":false,
                    "balance_score_threshold":20,"min_traffic_percentage":0.8,
                    "max_traffic_percentage":1.25}),
            );
        }
    }
    v
}

fn sink(o: &mut Map<String, Value>) -> &mut Map<String, Value> {
    o.get_mut("sink").unwrap().as_object_mut().unwrap()
}

/// Objects merge key by key, everything else (arrays included) replaces; `null` clears.
pub fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(bv) if bv.is_object() && v.is_object() => merge(bv, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

const DURATION_KEYS: &[&str] = &[
    "sync_point_interval",
    "sync_point_retention",
    "changefeed_error_stuck_duration",
    "active_active_progress_interval",
    "active_active_sync_stats_interval",
];

/// Keys Go declares as signed `int`/`int64` (tiflow v8.5.7 `cdc/api/v2/model.go`, ticdc
/// `api/v2/model.go`): a negative value decodes, and `ValidateAndAdjust` decides.
const SIGNED_KEYS: &[&str] = &[
    "worker_num",
    "encoder_concurrency",
    "file_index_width",
    "max_log_size",
    "flush_interval",
    "meta_flush_interval",
    "encoding_worker_num",
    "flush_worker_num",
    "flush_concurrency",
    "region_threshold",
    "write_key_threshold",
    "region_count_per_span",
    "region_count_refresh_interval",
    "scheduling_task_count_per_node",
    "balance_score_threshold",
    "synced_check_interval",
    "checkpoint_interval",
    "send_bootstrap_interval_in_sec",
    "send_bootstrap_in_msg_count",
];

/// encoding/json-style decoding checks against the defaults' types, and duration strings
/// (`"10m"`) turned into nanoseconds. Errors are 400 `ErrAPIInvalidParam`.
pub fn decode(cfg: &mut Value, defaults: &Value, path: &str) -> Result<(), ApiErr> {
    let (Some(o), Some(d)) = (cfg.as_object_mut(), defaults.as_object()) else {
        if !cfg.is_object() && !cfg.is_null() {
            let (parent, key) = path.rsplit_once('.').unwrap_or(("", path));
            return Err(super::gojson::unmarshal_error(
                cfg,
                parent,
                key,
                &super::gojson::type_name(key, defaults, false),
            ));
        }
        return Ok(());
    };
    for (k, v) in o.iter_mut() {
        if DURATION_KEYS.contains(&k.as_str()) {
            if let Value::String(s) = v {
                let d = humantime::parse_duration(s).map_err(|_| {
                    ApiErr::invalid_param(format!(
                        "invalid api parameter: time: invalid duration \"{s}\""
                    ))
                })?;
                *v = json!(d.as_nanos() as u64);
            } else if !(v.is_u64() || v.is_null()) {
                return Err(super::gojson::unmarshal_error(v, path, k, "time.Duration"));
            }
            continue;
        }
        let Some(dv) = d.get(k) else { continue };
        if v.is_null() {
            continue;
        }
        let ok = match dv {
            Value::Object(_) => v.is_object(),
            Value::Array(_) => v.is_array(),
            Value::Bool(_) => v.is_boolean(),
            Value::String(_) => v.is_string(),
            Value::Number(_) if SIGNED_KEYS.contains(&k.as_str()) => v.is_i64(),
            Value::Number(n) if n.is_u64() => v.is_u64(),
            Value::Number(_) => v.is_number(),
            Value::Null => true,
        };
        if !ok {
            let signed = SIGNED_KEYS.contains(&k.as_str());
            let ty = super::gojson::type_name(k, dv, signed);
            return Err(super::gojson::unmarshal_error(v, path, k, &ty));
        }
        if dv.is_object() {
            decode(v, dv, &format!("{path}.{k}"))?;
        }
    }
    Ok(())
}

/// Keys no simulated server's API `ReplicaConfig` has, which encoding/json therefore drops:
/// `performance_mode` is only on pingcap/ticdc master (api/v2/model.go, PR #5862), in no tag of
/// tiflow (v7.5.0–v8.5.7) or pingcap/ticdc; the active-active keys are in pingcap/ticdc v26.3
/// (next-gen) and master, not in tiflow nor pingcap/ticdc v8.5.7.
fn drop_unknown_top_level(body: &mut Value) {
    if let Some(o) = body.as_object_mut() {
        for k in [
            "performance_mode",
            "enable_active_active",
            "active_active_progress_interval",
            "active_active_sync_stats_interval",
        ] {
            o.remove(k);
        }
    }
}

/// Create: the body's `replica_config` merged over the defaults.
///
/// A top-level `null` keeps the default: create decodes into the API defaults
/// (`GetDefaultReplicaConfig`), where `null` makes a pointer nil and leaves any other field
/// alone, and `ToInternalReplicaConfig` starts from the internal defaults and skips nil
/// durations and sections (tiflow v7.5.0–v8.5.0 cdc/api/v2/model.go
/// `toInternalReplicaConfigWithOriginConfig`; pingcap/ticdc v8.5.7-release.1 api/v2/model.go,
/// which skips nil fields but for the two copied below). The pointer bools `enable_sync_point`,
/// `enable_table_monitor` (both) and `bdr_mode` (classic) are copied as they are: nil, unset.
pub fn for_create(profile: &SimProfile, body: Option<&Value>) -> Result<Value, ApiErr> {
    let d = defaults(profile);
    let mut cfg = d.clone();
    if let Some(b) = body {
        let mut b = b.clone();
        decode(&mut b, &d, "replica_config")?;
        drop_unknown_top_level(&mut b);
        if let (Some(bo), Some(co)) = (b.as_object_mut(), cfg.as_object_mut()) {
            let nulls: Vec<String> = bo
                .iter()
                .filter(|(_, v)| v.is_null())
                .map(|(k, _)| k.clone())
                .collect();
            for k in nulls {
                bo.remove(&k);
                let copied = match k.as_str() {
                    "enable_sync_point" | "enable_table_monitor" => true,
                    "bdr_mode" => profile.is_classic(),
                    _ => false,
                };
                if copied {
                    co.remove(&k);
                }
            }
        }
        merge(&mut cfg, &b);
    }
    Ok(cfg)
}

/// Update: full replacement (§4.5). tiflow decodes into a zero-valued struct: omitted scalars
/// become zero (`check_gc_safe_point` false), pointer bools absent, omitted sections and
/// durations default, present sections are taken as sent. ticdc: omitted fields take the
/// defaults, except `enable_sync_point`/`enable_table_monitor` (copied, so absent if omitted).
pub fn for_update(profile: &SimProfile, body: &Value) -> Result<Value, ApiErr> {
    let d = defaults(profile);
    let mut b = body.clone();
    decode(&mut b, &d, "replica_config")?;
    drop_unknown_top_level(&mut b);
    let Some(bo) = b.as_object() else {
        return Ok(d);
    };
    if !profile.is_classic() {
        let mut cfg = d.clone();
        merge(&mut cfg, &b);
        let o = cfg.as_object_mut().unwrap();
        for k in ["enable_sync_point", "enable_table_monitor"] {
            if !bo.contains_key(k) {
                o.remove(k);
            }
        }
        return Ok(cfg);
    }
    let mut out = Map::new();
    for (k, dv) in d.as_object().unwrap() {
        let given = bo.get(k).filter(|v| !v.is_null());
        let v = match (given, dv) {
            (Some(g), _) => g.clone(),
            (None, _) if DURATION_KEYS.contains(&k.as_str()) => dv.clone(),
            (None, Value::Object(_)) => dv.clone(),
            (None, _)
                if matches!(
                    k.as_str(),
                    "enable_sync_point" | "enable_table_monitor" | "bdr_mode"
                ) =>
            {
                continue
            }
            (None, Value::Bool(_)) => json!(false),
            (None, Value::Number(_)) => json!(0),
            (None, Value::String(_)) => json!(""),
            (None, _) => continue,
        };
        out.insert(k.clone(), v);
    }
    // Keys the defaults lack (e.g. sql_mode) pass through as sent.
    for (k, v) in bo {
        if !out.contains_key(k) && !v.is_null() {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Object(out))
}

/// Sink scheme classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    Mysql,
    Mq,
    Storage,
    Blackhole,
}

pub fn sink_kind(scheme: &str) -> Option<SinkKind> {
    Some(match scheme.to_ascii_lowercase().as_str() {
        "mysql" | "mysql+ssl" | "tidb" | "tidb+ssl" => SinkKind::Mysql,
        "kafka" | "kafka+ssl" | "pulsar" | "pulsar+ssl" | "pulsar+http" | "pulsar+https" => {
            SinkKind::Mq
        }
        "s3" | "file" | "gcs" | "gs" | "azblob" | "azure" | "noop" => SinkKind::Storage,
        "blackhole" => SinkKind::Blackhole,
        _ => return None,
    })
}

const MQ_PROTOCOLS: &[&str] = &[
    "default",
    "open-protocol",
    "canal",
    "canal-json",
    "avro",
    "maxwell",
    "craft",
    "debezium",
    "simple",
];
const STORAGE_PROTOCOLS: &[&str] = &["csv", "canal-json"];

/// tiflow pkg/config/sink_protocol.go `ParseSinkProtocolFromString`: `debezium` and `simple`
/// arrive in v8.1.0 (v7.5.0 refuses them as unknown, `ErrSinkUnknownProtocol`); pingcap/ticdc
/// v8.5.7-release.1 has both.
fn mq_protocol_known(protocol: &str, profile: &SimProfile) -> bool {
    let since_v81 = matches!(protocol, "debezium" | "simple");
    MQ_PROTOCOLS.contains(&protocol)
        && !(since_v81 && profile.is_classic() && profile.version() < Version::new(8, 1, 0))
}

/// Parse a sink URI as TiCDC does (§4.2 step 9): 400 `ErrSinkURIInvalid` on failure.
pub fn parse_sink_uri(uri: &str) -> Result<(GoUrl, SinkKind), ApiErr> {
    let masked = crate::uri_mask::mask_sensitive_data_in_uri(uri);
    let u = GoUrl::parse(uri).map_err(|e| {
        ApiErr::new(
            "CDC:ErrSinkURIInvalid",
            format!("sink uri invalid '{masked}': {e}"),
        )
    })?;
    let kind = sink_kind(&u.scheme).ok_or_else(|| {
        ApiErr::new(
            "CDC:ErrSinkURIInvalid",
            format!(
                "sink uri invalid 'the sink scheme ({}) is not supported'",
                u.scheme
            ),
        )
    })?;
    Ok((u, kind))
}

/// `ValidateAndAdjust(sinkURI)` (§6.3).
pub fn validate_and_adjust(
    cfg: &mut Value,
    u: &GoUrl,
    kind: SinkKind,
    profile: &SimProfile,
) -> Result<(), ApiErr> {
    let d = defaults(profile);
    api_shape(cfg, profile);
    let o = cfg.as_object_mut().expect("replica config is an object");
    let q = u.query_pairs();
    let qget = |k: &str| q.iter().find(|(qk, _)| qk == k).map(|(_, v)| v.clone());
    if !o.get("sink").is_some_and(Value::is_object) {
        o.insert("sink".into(), json!({}));
    }
    {
        let s = o.get_mut("sink").unwrap().as_object_mut().unwrap();
        if let Some(p) = qget("protocol") {
            s.insert("protocol".into(), json!(p));
        }
        if let Some(t) = qget("transaction-atomicity") {
            s.insert("transaction_atomicity".into(), json!(t));
        }
        let protocol = s
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match kind {
            SinkKind::Mysql if !protocol.is_empty() => {
                return Err(ApiErr::new(
                    "CDC:ErrSinkURIInvalid",
                    format!(
                        "sink uri invalid 'protocol {protocol} is incompatible with {} scheme'",
                        u.scheme
                    ),
                ))
            }
            SinkKind::Mq if !mq_protocol_known(&protocol, profile) => {
                return Err(ApiErr::new(
                    "CDC:ErrSinkUnknownProtocol",
                    format!("unknown '{protocol}' message protocol for sink"),
                ))
            }
            SinkKind::Storage if !STORAGE_PROTOCOLS.contains(&protocol.as_str()) => {
                return Err(ApiErr::new(
                    "CDC:ErrSinkUnknownProtocol",
                    format!("unknown '{protocol}' message protocol for sink"),
                ))
            }
            _ => {}
        }
        if s.get("terminator").is_none_or(Value::is_null) {
            s.insert("terminator".into(), json!("\r\n"));
        }
        if profile.version() >= Version::new(7, 5, 0)
            && s.get("advance_timeout")
                .is_none_or(|v| v.is_null() || v == 0)
        {
            s.insert("advance_timeout".into(), json!(150));
        }
        if kind == SinkKind::Storage {
            let w = s
                .get("file_index_width")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if !(6..=20).contains(&w) {
                s.insert("file_index_width".into(), json!(20));
            }
        }
        if u.scheme.starts_with("pulsar") && s.get("pulsar_config").is_none_or(Value::is_null) {
            s.insert("pulsar_config".into(), json!({}));
        }
    }
    if kind != SinkKind::Mysql {
        large_message_defaults(o);
    }
    redo_compression(o, profile)?;
    if !profile.is_classic() {
        newarch_scheduler(o, kind);
    }
    if o.get("memory_quota").is_none_or(|v| v.is_null() || v == 0) {
        o.insert("memory_quota".into(), d["memory_quota"].clone());
    }
    if !o.get("scheduler").is_some_and(Value::is_object) {
        o.insert("scheduler".into(), d["scheduler"].clone());
    }
    if profile.is_classic() && !(u.scheme.contains("kafka") || u.scheme.contains("blackhole")) {
        o["scheduler"]["enable_table_across_nodes"] = json!(false);
    }
    if let Some(i) = o.get_mut("integrity").and_then(Value::as_object_mut) {
        if !u.scheme.contains("kafka") {
            i.insert("integrity_check_level".into(), json!("none"));
        }
    }
    let ns = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
    if o.get("enable_sync_point").and_then(Value::as_bool) == Some(true) {
        // pingcap/ticdc v8.5.7 pkg/config/replica_config.go
        // `(*ReplicaConfig).ValidateAndAdjust`: sync point only for MySQL/TiDB downstreams
        // (tiflow v8.5.0 has no such check; it strips the setting on load instead).
        if !profile.is_classic() && kind != SinkKind::Mysql {
            return Err(ApiErr::new(
                "CDC:ErrInvalidReplicaConfig",
                "invalid replica config, The SyncPoint must be disabled when the downstream is not tidb or mysql",
            ));
        }
        // tiflow v7.5.0-v8.5.0 and pingcap/ticdc v8.5.7 pkg/config/replica_config.go
        // `(*ReplicaConfig).ValidateAndAdjust`: `FastGenByArgs` of "The SyncPointInterval:%s
        // must be larger than %s" with Go's `Duration.String()` of both.
        let interval = ns(o.get("sync_point_interval"));
        if interval < 30_000_000_000 {
            return Err(ApiErr::new(
                "CDC:ErrInvalidReplicaConfig",
                format!(
                    "invalid replica config, The SyncPointInterval:{} must be larger than 30s",
                    t::go_duration(interval)
                ),
            ));
        }
        let retention = ns(o.get("sync_point_retention"));
        if retention < 3_600_000_000_000 {
            return Err(ApiErr::new(
                "CDC:ErrInvalidReplicaConfig",
                format!(
                    "invalid replica config, The SyncPointRetention:{} must be larger than 1h0m0s",
                    t::go_duration(retention)
                ),
            ));
        }
    }
    if let Some(v) = o
        .get("changefeed_error_stuck_duration")
        .and_then(Value::as_u64)
    {
        // Same function: "The ChangefeedErrorStuckDuration:%f must be larger than %f Seconds"
        // (Go's %f: six decimals).
        if v < 1_800_000_000_000 {
            return Err(ApiErr::new(
                "CDC:ErrInvalidReplicaConfig",
                format!(
                    "invalid replica config, The ChangefeedErrorStuckDuration:{:.6} must be larger than 1800.000000 Seconds",
                    v as f64 / 1e9
                ),
            ));
        }
    }
    Ok(())
}

/// The JSON tags of a Go API struct: (key, omitempty, zero value).
type Tags = &'static [(&'static str, bool, fn() -> Value)];

fn null() -> Value {
    Value::Null
}
fn empty() -> Value {
    json!("")
}
fn no() -> Value {
    json!(false)
}

/// tiflow v7.5.0–v8.5.7 and pingcap/ticdc v8.5.7 api/v2/model.go `DispatchRule`: no
/// legacy `dispatcher` key (encoding/json drops it), every field omitempty. pingcap/ticdc v8.5.7
/// adds `target-schema` and `target-table` (table routing); tiflow has neither.
const DISPATCH_RULE: Tags = &[
    ("matcher", true, null),
    ("partition", true, empty),
    ("index", true, empty),
    ("columns", true, null),
    ("topic", true, empty),
    ("target-schema", true, empty),
    ("target-table", true, empty),
];
/// api/v2/model.go `ColumnSelector` (same tags and versions).
const COLUMN_SELECTOR: Tags = &[("matcher", true, null), ("columns", true, null)];
/// api/v2/model.go `EventFilterRule`: no omitempty, so GET shows `null` and `""` for what was
/// not sent (same in tiflow v7.5.0–v8.5.7 and pingcap/ticdc v8.5.7).
const EVENT_FILTER_RULE: Tags = &[
    ("matcher", false, null),
    ("ignore_event", false, null),
    ("ignore_sql", false, null),
    ("ignore_insert_value_expr", false, empty),
    ("ignore_update_new_value_expr", false, empty),
    ("ignore_update_old_value_expr", false, empty),
    ("ignore_delete_value_expr", false, empty),
];
/// api/v2/model.go `LargeMessageHandleConfig`: no omitempty; `claim_check_raw_value` from tiflow
/// v8.5.0 (absent in v7.5.0/v8.1.0) and in pingcap/ticdc v8.5.7.
const LARGE_MESSAGE_HANDLE: Tags = &[
    ("large_message_handle_option", false, empty),
    ("large_message_handle_compression", false, empty),
    ("claim_check_storage_uri", false, empty),
    ("claim_check_raw_value", false, no),
];

/// Re-encode `v` as the Go struct with `tags` would: unknown keys dropped, omitempty fields
/// dropped when empty, the others present (zero value when not sent).
fn reencode(v: &mut Value, tags: Tags) {
    let Some(o) = v.as_object_mut() else { return };
    let mut out = Map::new();
    for (key, omitempty, zero) in tags {
        let val = o.remove(*key).filter(|x| !x.is_null()).unwrap_or_else(zero);
        let is_empty = match &val {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Bool(b) => !b,
            _ => false,
        };
        if !(*omitempty && is_empty) {
            out.insert(key.to_string(), val);
        }
    }
    *o = out;
}

fn reencode_items(v: Option<&mut Value>, tags: Tags) {
    if let Some(Value::Array(items)) = v {
        for item in items.iter_mut() {
            reencode(item, tags);
        }
    }
}

/// Decode the nested API structs the way encoding/json does (see the `Tags` above), so GET
/// shows what a real server shows.
fn api_shape(cfg: &mut Value, profile: &SimProfile) {
    let raw_value = !profile.is_classic() || profile.version() >= Version::new(8, 5, 0);
    let lmh: Tags = if raw_value {
        LARGE_MESSAGE_HANDLE
    } else {
        &LARGE_MESSAGE_HANDLE[..3]
    };
    let dispatch: Tags = if profile.is_classic() {
        &DISPATCH_RULE[..5]
    } else {
        DISPATCH_RULE
    };
    reencode_items(cfg.pointer_mut("/sink/dispatchers"), dispatch);
    reencode_items(cfg.pointer_mut("/sink/column_selectors"), COLUMN_SELECTOR);
    reencode_items(cfg.pointer_mut("/filter/event_filters"), EVENT_FILTER_RULE);
    if let Some(h) = cfg.pointer_mut("/sink/kafka_config/large_message_handle") {
        if h.is_object() {
            reencode(h, lmh);
        }
    }
    if profile.is_classic() {
        // tiflow v7.5.0/v8.1.0/v8.5.0 cdc/api/v2/model.go `CloudStorageConfig` has no field
        // for these (pingcap/ticdc v8.5.7 api/v2/model.go adds them): encoding/json drops them.
        if let Some(c) = cfg
            .pointer_mut("/sink/cloud_storage_config")
            .and_then(Value::as_object_mut)
        {
            for k in NEWARCH_ONLY_STORAGE_KEYS {
                c.remove(*k);
            }
        }
    }
}

/// pingcap/ticdc v8.5.7 api/v2/model.go `CloudStorageConfig` fields no tiflow release has.
const NEWARCH_ONLY_STORAGE_KEYS: &[&str] =
    &["spool_disk_quota", "spool_base_dir", "use_table_id_as_path"];

/// `LargeMessageHandleConfig.AdjustAndValidate` (tiflow v7.5.0–v8.5.0 and pingcap/ticdc
/// v8.5.7 pkg/config/large_message.go), run by the sink's `validateAndAdjust` for
/// non-MySQL sinks: an empty option and an empty compression become "none".
fn large_message_defaults(o: &mut Map<String, Value>) {
    let Some(h) = o
        .get_mut("sink")
        .and_then(|s| s.pointer_mut("/kafka_config/large_message_handle"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for k in [
        "large_message_handle_option",
        "large_message_handle_compression",
    ] {
        if h.get(k).is_none_or(|v| v.is_null() || v == "") {
            h.insert(k.into(), json!("none"));
        }
    }
}

/// Redo `compression` when redo is enabled (`level: eventual`): pingcap/ticdc v8.5.7
/// pkg/config/consistent.go `(*ConsistentConfig).validateAndAdjust` turns "" into "none"; both it
/// and tiflow v8.5.0 (`(*ConsistentConfig).ValidateAndAdjust`, which keeps "") refuse anything but
/// `none`/`lz4` with `ErrInvalidReplicaConfig`.
fn redo_compression(o: &mut Map<String, Value>, profile: &SimProfile) -> Result<(), ApiErr> {
    let Some(c) = o.get_mut("consistent").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    if c.get("level").and_then(Value::as_str) != Some("eventual") {
        return Ok(());
    }
    let mut comp = c
        .get("compression")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if comp.is_empty() && !profile.is_classic() {
        comp = "none".into();
        c.insert("compression".into(), json!("none"));
    }
    if !comp.is_empty() && comp != "none" && comp != "lz4" {
        return Err(ApiErr::new(
            "CDC:ErrInvalidReplicaConfig",
            format!(
                "invalid replica config, The consistent.compression:{comp} must be 'none' or 'lz4'"
            ),
        ));
    }
    Ok(())
}

/// pingcap/ticdc v8.5.7 pkg/config/scheduler_config.go
/// `(*ChangefeedSchedulerConfig).ValidateAndAdjust`, only with `enable_table_across_nodes`:
/// `write_key_threshold` in (0, 10485760) is raised to `MinWriteKeyThreshold` (10485760);
/// `region_count_per_span` above a positive `region_threshold` is clamped to it; and
/// `enable_splittable_check` becomes true for MySQL sinks unless `force_split`, false with it.
fn newarch_scheduler(o: &mut Map<String, Value>, kind: SinkKind) {
    const MIN_WRITE_KEY_THRESHOLD: i64 = 10_485_760;
    let Some(s) = o.get_mut("scheduler").and_then(Value::as_object_mut) else {
        return;
    };
    if s.get("enable_table_across_nodes").and_then(Value::as_bool) != Some(true) {
        return;
    }
    let int = |s: &Map<String, Value>, k: &str| s.get(k).and_then(Value::as_i64).unwrap_or(0);
    let wkt = int(s, "write_key_threshold");
    if wkt > 0 && wkt < MIN_WRITE_KEY_THRESHOLD {
        s.insert("write_key_threshold".into(), json!(MIN_WRITE_KEY_THRESHOLD));
    }
    let threshold = int(s, "region_threshold");
    if threshold > 0 && int(s, "region_count_per_span") > threshold {
        s.insert("region_count_per_span".into(), json!(threshold));
    }
    let force_split = s.get("force_split").and_then(Value::as_bool) == Some(true);
    if kind == SinkKind::Mysql && !force_split {
        s.insert("enable_splittable_check".into(), json!(true));
    } else if force_split {
        s.insert("enable_splittable_check".into(), json!(false));
    }
}

/// `VerifyAndComplete` + `RmUnusedFields` when the owner loads a changefeed (§6.3).
pub fn complete_and_strip(cfg: &mut Value, kind: SinkKind, profile: &SimProfile) {
    let d = defaults(profile);
    let Some(o) = cfg.as_object_mut() else { return };
    for (k, dv) in d.as_object().unwrap() {
        if dv.is_object() && !o.get(k).is_some_and(Value::is_object) {
            o.insert(k.clone(), dv.clone());
        }
    }
    if kind == SinkKind::Blackhole {
        return;
    }
    let classic = profile.is_classic();
    let protocol = o["sink"]
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let s = o.get_mut("sink").unwrap().as_object_mut().unwrap();
    if kind != SinkKind::Mq {
        if classic {
            s.remove("dispatchers");
        }
        for k in [
            "schema_registry",
            "encoder_concurrency",
            "enable_kafka_sink_v2",
            "only_output_updated_columns",
            "kafka_config",
        ] {
            s.remove(k);
        }
        s.insert("delete_only_output_handle_key_columns".into(), Value::Null);
        s.insert("content_compatible".into(), Value::Null);
    } else if !(protocol == "avro" || (!classic && protocol == "debezium-avro")) {
        s.remove("schema_registry");
    }
    if kind != SinkKind::Storage {
        for k in [
            "csv",
            "date_separator",
            "enable_partition_separator",
            "file_index_width",
            "cloud_storage_config",
        ] {
            s.remove(k);
        }
    }
    if kind == SinkKind::Mysql {
        s.remove("protocol");
        s.remove("terminator");
    } else {
        s.remove("safe_mode");
        s.remove("mysql_config");
        for k in [
            "enable_sync_point",
            "bdr_mode",
            "sync_point_interval",
            "sync_point_retention",
        ] {
            o.remove(k);
        }
        if classic {
            o.remove("consistent");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classic(v: (u32, u32, u32)) -> SimProfile {
        SimProfile::Classic {
            version: Version::new(v.0, v.1, v.2),
        }
    }

    #[test]
    fn create_merges_objects_and_replaces_arrays() {
        let p = classic((8, 5, 0));
        let c = for_create(
            &p,
            Some(&json!({"filter":{"rules":["a.*"]},"mounter":{"worker_num":8},"sync_point_interval":"1m"})),
        )
        .unwrap();
        assert_eq!(c["filter"]["rules"], json!(["a.*"]));
        assert_eq!(c["mounter"]["worker_num"], json!(8));
        assert_eq!(c["sink"]["advance_timeout"], json!(150));
        assert_eq!(c["check_gc_safe_point"], json!(true));
        assert_eq!(c["sync_point_interval"], json!(60_000_000_000u64));
        let e = for_create(&p, Some(&json!({"memory_quota":"big"}))).unwrap_err();
        assert_eq!(e.code, "CDC:ErrAPIInvalidParam");
    }

    /// pingcap/ticdc v8.5.7 api/v2/model.go `CloudStorageConfig` keeps the spool settings and
    /// `use_table_id_as_path` (pointers: a `false` is kept and shown); tiflow's has no such
    /// fields, so encoding/json drops them.
    #[test]
    fn newarch_only_storage_keys() {
        let sent = json!({"sink": {"cloud_storage_config": {"worker_count": 4,
            "spool_disk_quota": 1024, "spool_base_dir": "/spool", "use_table_id_as_path": false}}});
        let (u, k) = parse_sink_uri("s3://b/p?protocol=csv").unwrap();
        for p in [classic((7, 5, 0)), classic((8, 5, 0)), SimProfile::Newarch] {
            let mut c = for_create(&p, Some(&sent)).unwrap();
            validate_and_adjust(&mut c, &u, k, &p).unwrap();
            let got = &c["sink"]["cloud_storage_config"];
            if p.is_classic() {
                assert_eq!(got, &json!({"worker_count": 4}), "{p:?}");
            } else {
                assert_eq!(got, &sent["sink"]["cloud_storage_config"]);
            }
        }
    }

    /// tiflow v8.5.0 cdc/api/v2/model.go `toInternalReplicaConfigWithOriginConfig` (and
    /// pingcap/ticdc v8.5.7-release.1 api/v2/model.go): a nil `SyncPointInterval` leaves the
    /// default 10m, so `null` with sync point on is accepted.
    #[test]
    fn create_keeps_defaults_for_null_durations() {
        for p in [classic((7, 5, 0)), classic((8, 5, 0)), SimProfile::Newarch] {
            let mut c = for_create(
                &p,
                Some(
                    &json!({"enable_sync_point": true, "sync_point_interval": null,
                    "sync_point_retention": null, "changefeed_error_stuck_duration": null}),
                ),
            )
            .unwrap();
            assert_eq!(c["sync_point_interval"], json!(600_000_000_000u64));
            assert_eq!(c["sync_point_retention"], json!(86_400_000_000_000u64));
            let (u, k) = parse_sink_uri("mysql://root@h:3306/").unwrap();
            validate_and_adjust(&mut c, &u, k, &p).unwrap();
        }
    }

    #[test]
    fn update_replaces() {
        let p = classic((8, 5, 0));
        let c = for_update(&p, &json!({"mounter":{"worker_num":8}})).unwrap();
        assert_eq!(c["check_gc_safe_point"], json!(false));
        assert!(c.get("enable_sync_point").is_none());
        assert_eq!(c["filter"], json!({"rules":["*.*"]}));
        assert_eq!(c["sync_point_interval"], json!(600_000_000_000u64));
        let n = for_update(&SimProfile::Newarch, &json!({"mounter":{"worker_num":8}})).unwrap();
        assert_eq!(n["check_gc_safe_point"], json!(true));
        assert!(n.get("enable_table_monitor").is_none());
    }

    #[test]
    fn defaults_differ_by_version() {
        let d75 = defaults(&classic((7, 5, 0)));
        let d81 = defaults(&classic((8, 1, 0)));
        let d85 = defaults(&classic((8, 5, 0)));
        assert!(d75.get("synced_status").is_none());
        assert!(d81.get("synced_status").is_some());
        assert!(d81["sink"].get("send-all-bootstrap-at-start").is_none());
        assert!(d85["sink"].get("send-all-bootstrap-at-start").is_some());
        let n = defaults(&SimProfile::Newarch);
        assert!(n.get("force_replicate").is_none());
        assert_eq!(n["scheduler"]["region_threshold"], json!(10000));
    }

    #[test]
    fn adjust_and_strip() {
        let p = classic((8, 5, 0));
        let mut c = for_create(&p, None).unwrap();
        let (u, k) = parse_sink_uri("kafka://h:9092/t?protocol=canal-json").unwrap();
        validate_and_adjust(&mut c, &u, k, &p).unwrap();
        assert_eq!(c["sink"]["protocol"], json!("canal-json"));
        complete_and_strip(&mut c, k, &p);
        assert!(c["sink"].get("csv").is_none());
        assert!(c.get("consistent").is_none());
        assert!(c.get("enable_sync_point").is_none());

        let mut c = for_create(&p, None).unwrap();
        let (u, k) = parse_sink_uri("kafka://h:9092/t").unwrap();
        let e = validate_and_adjust(&mut c, &u, k, &p).unwrap_err();
        assert_eq!(e.code, "CDC:ErrSinkUnknownProtocol");
        assert_eq!(status_for(&e, false), 500);

        let mut c = for_create(&p, None).unwrap();
        let (u, k) = parse_sink_uri("mysql://root@h:3306/?protocol=canal-json").unwrap();
        let e = validate_and_adjust(&mut c, &u, k, &p).unwrap_err();
        assert_eq!(status_for(&e, false), 400);

        let mut c = for_create(&p, None).unwrap();
        let (u, k) = parse_sink_uri("mysql://root@h:3306/").unwrap();
        validate_and_adjust(&mut c, &u, k, &p).unwrap();
        complete_and_strip(&mut c, k, &p);
        assert!(c["sink"].get("terminator").is_none());
        assert_eq!(c["sink"]["content_compatible"], Value::Null);
        assert!(c.get("consistent").is_some());
    }

    /// tiflow v7.5.0 pkg/config/sink_protocol.go `ParseSinkProtocolFromString` has no
    /// `debezium`/`simple` (v8.1.0 adds them): v7.5.0 refuses with 500 ErrSinkUnknownProtocol.
    #[test]
    fn debezium_and_simple_need_v81() {
        for proto in ["debezium", "simple"] {
            let uri = format!("kafka://h:9092/t?protocol={proto}");
            for (p, ok) in [
                (classic((7, 5, 0)), false),
                (classic((8, 1, 0)), true),
                (classic((8, 5, 0)), true),
                (SimProfile::Newarch, true),
            ] {
                let mut c = for_create(&p, None).unwrap();
                let (u, k) = parse_sink_uri(&uri).unwrap();
                let r = validate_and_adjust(&mut c, &u, k, &p);
                assert_eq!(r.is_ok(), ok, "{proto} on {}", p.label());
                if let Err(e) = r {
                    assert_eq!(e.code, "CDC:ErrSinkUnknownProtocol");
                    assert_eq!(status_for(&e, false), 500);
                }
            }
        }
    }

    #[test]
    fn status_rule() {
        let e = ApiErr::new("CDC:ErrChangeFeedAlreadyExists", "x");
        assert_eq!(status_for(&e, false), 500);
        let e = ApiErr::new("CDC:ErrSinkURIInvalid", "x").wrap_invalid_replica_config();
        assert_eq!(status_for(&e, true), 400);
        assert_eq!(
            e.text(),
            "[CDC:ErrInvalidReplicaConfig]invalid replica config, %s: [CDC:ErrSinkURIInvalid]x"
        );
    }
}
