//! The one place that knows both the manifest and the wire forms of a changefeed's
//! `replica_config`: server defaults per version, the derivations the server applies
//! (`ValidateAndAdjust`), the fields it strips per sink scheme (`RmUnusedFields`), and the
//! comparison rules that keep a plan after apply empty (tiflow `pkg/config/replica_config.go`, `cdc/api/v2/model.go`).
//!
//! Effective desired = defaults(profile) ⊕ manifest, then adjusted and stripped like the server
//! does; live is stripped the same way (new-architecture servers strip only on resume).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

pub use crate::ticdc::hash::{CacheGate, Fold64};
use serde_json::{json, Map, Value};

use crate::ticdc::mask::SinkUri;
use crate::ticdc::{Arch, ServerProfile, Version};

/// Sink families; they decide derivations and stripping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkClass {
    Mysql,
    Kafka,
    Pulsar,
    Storage,
    Blackhole,
    Other,
}

impl SinkClass {
    pub fn is_mq(self) -> bool {
        matches!(self, SinkClass::Kafka | SinkClass::Pulsar)
    }
}

/// Lower-case scheme of a sink URI ("" when it has none).
pub fn scheme(uri: &str) -> String {
    match uri.find(':') {
        Some(i)
            if uri[..i]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            uri[..i].to_ascii_lowercase()
        }
        _ => String::new(),
    }
}

/// Scheme families of upstream `pkg/sink/sink_type.go`.
pub fn sink_class(uri: &str) -> SinkClass {
    match scheme(uri).as_str() {
        "mysql" | "mysql+ssl" | "tidb" | "tidb+ssl" => SinkClass::Mysql,
        "kafka" | "kafka+ssl" => SinkClass::Kafka,
        "pulsar" | "pulsar+ssl" | "pulsar+http" | "pulsar+https" => SinkClass::Pulsar,
        "s3" | "gcs" | "gs" | "azblob" | "azure" | "file" | "noop" => SinkClass::Storage,
        "blackhole" => SinkClass::Blackhole,
        _ => SinkClass::Other,
    }
}

/// The v8.5 defaults (tiflow v8.5.0 `pkg/config/replica_config.go` `defaultReplicaConfig`).
fn defaults_v85() -> Value {
    json!({
        "memory_quota": 1073741824u64,
        "case_sensitive": false,
        "force_replicate": false,
        "ignore_ineligible_table": false,
        "check_gc_safe_point": true,
        "enable_sync_point": false,
        "enable_table_monitor": false,
        "bdr_mode": false,
        "sync_point_interval": 600000000000u64,
        "sync_point_retention": 86400000000000u64,
        "filter": { "rules": ["*.*"] },
        "mounter": { "worker_num": 16 },
        "sink": {
            "csv": {
                "delimiter": ",", "quote": "\"", "null": "\\N", "include_commit_ts": false,
                "binary_encoding_method": "base64", "output_old_value": false,
                "output_handle_key": false, "output_field_header": false
            },
            "encoder_concurrency": 32,
            "terminator": "\r\n",
            "date_separator": "day",
            "enable_partition_separator": true,
            "enable_kafka_sink_v2": false,
            "only_output_updated_columns": false,
            "delete_only_output_handle_key_columns": false,
            "content_compatible": false,
            "advance_timeout": 150,
            "send_bootstrap_interval_in_sec": 120,
            "send_bootstrap_in_msg_count": 10000,
            "send_bootstrap_to_all_partition": true,
            "send-all-bootstrap-at-start": false,
            "debezium_disable_schema": false,
            "debezium": { "output_old_value": true },
            "open": { "output_old_value": true }
        },
        "consistent": {
            "level": "none", "max_log_size": 64, "flush_interval": 2000, "meta_flush_interval": 200,
            "encoding_worker_num": 16, "flush_worker_num": 8, "use_file_backend": false,
            "memory_usage": { "memory_quota_percentage": 50 }
        },
        "scheduler": { "enable_table_across_nodes": false, "region_threshold": 100000, "write_key_threshold": 0 },
        "integrity": { "integrity_check_level": "none", "corruption_handle_level": "warn" },
        "changefeed_error_stuck_duration": 1800000000000u64,
        "synced_status": { "synced_check_interval": 300, "checkpoint_interval": 15 }
    })
}

/// The `replica_config` a fresh all-defaults changefeed reports on this server
/// (before scheme stripping). Version differences read from tiflow v7.5.0, v8.1.0 and v8.5.0 `pkg/config`.
pub fn defaults(profile: &ServerProfile) -> Value {
    // Built once per profile (arch, version, build) and copied from then on: a plan asks for
    // them once per changefeed.
    type Cache = std::sync::Mutex<Vec<(ServerProfile, std::sync::Arc<Value>)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, d)) = c.iter().find(|(p, _)| p == profile) {
        return Value::clone(d);
    }
    let d = std::sync::Arc::new(build_defaults(profile));
    c.push((profile.clone(), d.clone()));
    Value::clone(&d)
}

fn build_defaults(profile: &ServerProfile) -> Value {
    let mut d = defaults_v85();
    if profile.arch == Arch::Newarch {
        let o = d.as_object_mut().expect("object");
        o.remove("force_replicate");
        o.remove("ignore_ineligible_table");
        if has_active_active(profile) {
            o.insert("enable_active_active".into(), json!(false));
            o.insert(
                "active_active_progress_interval".into(),
                json!(1800000000000u64),
            );
            o.insert(
                "active_active_sync_stats_interval".into(),
                json!(60000000000u64),
            );
        }
        o.insert(
            "scheduler".into(),
            json!({
                "enable_table_across_nodes": false, "region_threshold": 10000, "region_count_per_span": 100,
                "region_count_refresh_interval": 300000000000u64, "write_key_threshold": 0,
                "scheduling_task_count_per_node": 20, "enable_splittable_check": false, "force_split": false,
                "balance_score_threshold": 20, "min_traffic_percentage": 0.8, "max_traffic_percentage": 1.25
            }),
        );
        remove_path(&mut d, "sink.enable_kafka_sink_v2");
        set_path(&mut d, "consistent.storage", json!(""));
        set_path(&mut d, "consistent.compression", json!(""));
        return d;
    }
    let v = profile.version;
    if v < Version::new(8, 5, 0) {
        remove_path(&mut d, "sink.send-all-bootstrap-at-start");
        remove_path(&mut d, "sink.csv.output_field_header");
    }
    // The redo settings `consistent.{meta_flush_interval,encoding_worker_num,flush_worker_num}`
    // are in v7.5 already; `memory_usage` (and `compression`, `flush_concurrency`) and csv's
    // `output_old_value`/`output_handle_key` came with v8.1 (tiflow v7.5.0 vs v8.1.0
    // cdc/api/v2/model.go `ConsistentConfig`, `CSVConfig`).
    if v < Version::new(8, 1, 0) {
        for p in [
            "consistent.memory_usage",
            "sink.csv.output_old_value",
            "sink.csv.output_handle_key",
            "enable_table_monitor",
            "synced_status",
            "sink.content_compatible",
            "sink.debezium",
            "sink.open",
            "sink.debezium_disable_schema",
            "sink.send_bootstrap_interval_in_sec",
            "sink.send_bootstrap_in_msg_count",
            "sink.send_bootstrap_to_all_partition",
        ] {
            remove_path(&mut d, p);
        }
    }
    if v < Version::new(7, 5, 0) {
        remove_path(&mut d, "changefeed_error_stuck_duration");
        set_path(&mut d, "case_sensitive", json!(true));
        set_path(&mut d, "enable_old_value", json!(true));
    }
    d
}

// ---------- JSON path helpers (dotted paths; keys never contain dots) ----------

pub fn get_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(v, |cur, k| cur.as_object()?.get(k))
}

pub fn set_path(v: &mut Value, path: &str, new: Value) {
    let mut cur = v;
    let parts: Vec<&str> = path.split('.').collect();
    for k in &parts[..parts.len() - 1] {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        cur = cur
            .as_object_mut()
            .expect("object")
            .entry(k.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    cur.as_object_mut()
        .expect("object")
        .insert(parts[parts.len() - 1].to_string(), new);
}

pub fn remove_path(v: &mut Value, path: &str) -> Option<Value> {
    let (parent, last) = match path.rsplit_once('.') {
        Some((p, l)) => (get_path_mut(v, p)?, l),
        None => (v, path),
    };
    parent.as_object_mut()?.remove(last)
}

fn get_path_mut<'a>(v: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    path.split('.')
        .try_fold(v, |cur, k| cur.as_object_mut()?.get_mut(k))
}

/// Create-style merge: objects merge key by key, anything else (arrays too) replaces.
pub fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Leaves of a JSON object as dotted paths; arrays and scalars are leaves.
pub fn flatten(v: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    flatten_into("", v, &mut out);
    out
}

fn flatten_into(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match branches(prefix, Some(v)) {
        Some(m) => {
            for (k, child) in m {
                flatten_into(&join_path(prefix, k), child, out);
            }
        }
        None => {
            out.insert(prefix.to_string(), v.clone());
        }
    }
}

/// The object [`flatten`] descends into at `prefix` (an empty object below the root is a leaf).
fn branches<'v>(prefix: &str, v: Option<&'v Value>) -> Option<&'v Map<String, Value>> {
    match v {
        Some(Value::Object(m)) if !m.is_empty() || prefix.is_empty() => Some(m),
        _ => None,
    }
}

fn join_path(prefix: &str, k: &str) -> String {
    if prefix.is_empty() {
        k.to_string()
    } else {
        format!("{prefix}.{k}")
    }
}

/// A leaf where two configs differ: its path and each side's value (absent = `None`).
pub type LeafDifference = (String, Option<Value>, Option<Value>);

/// The leaves (as [`flatten`] makes them) where `a` and `b` are not [`equivalent`], sorted by
/// path: the same answer as comparing the two flattened maps, without building them. Both are
/// walked together, so two equal configs cost a walk and no allocation per leaf.
pub fn differing_leaves(a: &Value, b: &Value) -> Vec<LeafDifference> {
    let mut out = Vec::new();
    let mut path = String::new();
    differ_at(&mut path, Some(a), Some(b), &mut out);
    out.sort_by(|x, y| x.0.cmp(&y.0));
    out
}

fn differ_at(
    path: &mut String,
    a: Option<&Value>,
    b: Option<&Value>,
    out: &mut Vec<LeafDifference>,
) {
    match (branches(path, a), branches(path, b)) {
        (Some(x), Some(y)) => {
            // Walked in step: where both sides hold the same key at the same place (they
            // mostly keep one order) no key is hashed; only keys of `y` that `x` lacks are
            // looked for apart, and only when there are some.
            let mut ys = y.iter();
            let mut found = 0;
            for (k, xv) in x {
                let yv = match ys.next() {
                    Some((yk, yv)) if yk == k => Some(yv),
                    _ => y.get(k),
                };
                found += usize::from(yv.is_some());
                differ_below(path, k, Some(xv), yv, out);
            }
            if found < y.len() {
                for (k, yv) in y.iter().filter(|(k, _)| !x.contains_key(*k)) {
                    differ_below(path, k, None, Some(yv), out);
                }
            }
        }
        (None, None) => {
            if !equivalent(a, b) {
                out.push((path.clone(), a.cloned(), b.cloned()));
            }
        }
        // An object on one side only: the leaves each side has below here, compared by path.
        _ => {
            let mut fa = BTreeMap::new();
            let mut fb = BTreeMap::new();
            if let Some(v) = a {
                flatten_into(path, v, &mut fa);
            }
            if let Some(v) = b {
                flatten_into(path, v, &mut fb);
            }
            let all: BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
            for p in all {
                let (l, r) = (fa.get(p), fb.get(p));
                if !equivalent(l, r) {
                    out.push((p.clone(), l.cloned(), r.cloned()));
                }
            }
        }
    }
}

/// [`differ_at`] on the member `k` of the object at `path`.
fn differ_below(
    path: &mut String,
    k: &str,
    a: Option<&Value>,
    b: Option<&Value>,
    out: &mut Vec<LeafDifference>,
) {
    let len = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(k);
    differ_at(path, a, b, out);
    path.truncate(len);
}

/// absent ≡ null ≡ "" ≡ [] ≡ {}: the server omits empty values (`omitempty`).
pub fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        _ => false,
    }
}

/// Equality after the server's representation quirks (numbers by value, empties alike), also
/// inside list items: an event filter the server echoes as `{"ignore_sql": null,
/// "ignore_insert_value_expr": "", …}` equals the manifest's item without those keys, and
/// `claim_check_raw_value: false` equals its absence.
pub fn equivalent(a: Option<&Value>, b: Option<&Value>) -> bool {
    if is_empty(a) && is_empty(b) {
        return true;
    }
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            x == y || matches!((x.as_f64(), y.as_f64()), (Some(p), Some(q)) if p == q)
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equivalent(Some(p), Some(q)))
        }
        (Some(Value::Object(x)), Some(Value::Object(y))) => x
            .keys()
            .chain(y.keys())
            .all(|k| equivalent_member(x.get(k), y.get(k))),
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// A member of an object inside a list: `false` is as good as absent there (Go's zero value).
fn equivalent_member(a: Option<&Value>, b: Option<&Value>) -> bool {
    let zero = |v: Option<&Value>| is_empty(v) || v == Some(&Value::Bool(false));
    (zero(a) && zero(b)) || equivalent(a, b)
}

// ---------- server derivations and stripping ----------

/// `ValidateAndAdjust` (tiflow `pkg/config/replica_config.go`). Returns the paths it set or changed.
pub fn adjust(profile: &ServerProfile, uri: &str, cfg: &mut Value) -> BTreeSet<String> {
    adjust_parsed(profile, &SinkUri::parse(uri), cfg)
}

/// [`adjust`] for a URI parsed already.
fn adjust_parsed(profile: &ServerProfile, parsed: &SinkUri, cfg: &mut Value) -> BTreeSet<String> {
    let uri = parsed.as_str();
    let mut derived = BTreeSet::new();
    let class = sink_class(uri);
    let mut set = |cfg: &mut Value, path: &str, v: Value| {
        if !equivalent(get_path(cfg, path), Some(&v)) {
            set_path(cfg, path, v);
        }
        derived.insert(path.to_string());
    };
    let q = parsed.query();
    if let Some((_, p)) = q.iter().find(|(k, _)| k == "protocol") {
        set(cfg, "sink.protocol", json!(p));
    }
    if let Some((_, a)) = q.iter().find(|(k, _)| k == "transaction-atomicity") {
        set(cfg, "sink.transaction_atomicity", json!(a));
    }
    if is_empty(get_path(cfg, "sink.terminator")) && get_path(cfg, "sink.terminator").is_none() {
        set(cfg, "sink.terminator", json!("\r\n"));
    }
    if matches!(
        get_path(cfg, "sink.advance_timeout"),
        None | Some(Value::Null)
    ) || get_path(cfg, "sink.advance_timeout").and_then(Value::as_u64) == Some(0)
    {
        set(cfg, "sink.advance_timeout", json!(150));
    }
    if class == SinkClass::Storage {
        let w = get_path(cfg, "sink.file_index_width")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if !(6..=20).contains(&w) {
            set(cfg, "sink.file_index_width", json!(20));
        }
    }
    if let Some(Value::Array(rules)) = get_path_mut(cfg, "sink.dispatchers") {
        for r in rules.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(d) = r.remove("dispatcher") {
                if is_empty(r.get("partition")) {
                    r.insert("partition".into(), d);
                }
            }
        }
    }
    let lmh = "sink.kafka_config.large_message_handle";
    if get_path(cfg, lmh).is_some_and(Value::is_object)
        && (profile.arch == Arch::Newarch || profile.version >= Version::new(8, 5, 0))
        && get_path(cfg, &format!("{lmh}.claim_check_raw_value")).is_none()
    {
        // The API struct has no omitempty on it (v8.5 on): a GET always shows it.
        set(cfg, &format!("{lmh}.claim_check_raw_value"), json!(false));
    }
    if class != SinkClass::Mysql && get_path(cfg, lmh).is_some_and(Value::is_object) {
        // The server's large-message `AdjustAndValidate` fills an empty option/compression with
        // "none" (tiflow pkg/config/large_message.go, v7.5 on).
        for k in [
            "large_message_handle_option",
            "large_message_handle_compression",
        ] {
            let p = format!("sink.kafka_config.large_message_handle.{k}");
            if is_empty(get_path(cfg, &p)) {
                set(cfg, &p, json!("none"));
            }
        }
    }
    if profile.arch == Arch::Newarch
        && get_path(cfg, "consistent.level").and_then(Value::as_str) == Some("eventual")
        && is_empty(get_path(cfg, "consistent.compression"))
    {
        // New-architecture servers (pingcap/ticdc v8.5.7 pkg/config/consistent.go) name the
        // default redo compression once redo is on.
        set(cfg, "consistent.compression", json!("none"));
    }
    if profile.arch == Arch::Newarch
        && get_path(cfg, "scheduler.enable_table_across_nodes") == Some(&Value::Bool(true))
    {
        for (p, v) in newarch_scheduler_rewrites(cfg, class) {
            set(cfg, p, v);
        }
    }
    if class == SinkClass::Pulsar && get_path(cfg, "sink.pulsar_config").is_none() {
        set(cfg, "sink.pulsar_config", json!({}));
    }
    if get_path(cfg, "memory_quota").and_then(Value::as_u64) == Some(0) {
        set(cfg, "memory_quota", json!(1073741824u64));
    }
    let sch = scheme(uri);
    if profile.arch == Arch::Classic
        && !(sch.contains("kafka") || sch.contains("blackhole"))
        && get_path(cfg, "scheduler.enable_table_across_nodes") == Some(&Value::Bool(true))
    {
        set(cfg, "scheduler.enable_table_across_nodes", json!(false));
    }
    if class != SinkClass::Kafka
        && get_path(cfg, "integrity.integrity_check_level").is_some_and(|v| v != "none")
    {
        set(cfg, "integrity.integrity_check_level", json!("none"));
    }
    derived
}

/// What a new-architecture server's scheduler `ValidateAndAdjust` rewrites when tables may span
/// nodes (pingcap/ticdc pkg/config/scheduler_config.go): a `write_key_threshold` below 10 MiB
/// (but above 0) is raised to it, a `region_count_per_span` above `region_threshold` comes down
/// to it, `enable_splittable_check` follows the sink (MySQL) and `force_split`.
fn newarch_scheduler_rewrites(cfg: &Value, class: SinkClass) -> Vec<(&'static str, Value)> {
    let num = |p: &str| get_path(cfg, p).and_then(Value::as_i64).unwrap_or(0);
    let mut out = Vec::new();
    let wkt = num("scheduler.write_key_threshold");
    if (1..10 * 1024 * 1024).contains(&wkt) {
        out.push(("scheduler.write_key_threshold", json!(10 * 1024 * 1024)));
    }
    let threshold = num("scheduler.region_threshold");
    if threshold > 0 && num("scheduler.region_count_per_span") > threshold {
        out.push(("scheduler.region_count_per_span", json!(threshold)));
    }
    let force = get_path(cfg, "scheduler.force_split") == Some(&Value::Bool(true));
    if force {
        out.push(("scheduler.enable_splittable_check", json!(false)));
    } else if class == SinkClass::Mysql {
        out.push(("scheduler.enable_splittable_check", json!(true)));
    }
    out
}

/// `RmUnusedFields`: what the server drops for this sink scheme when it loads the changefeed.
pub fn strip(profile: &ServerProfile, uri: &str, cfg: &mut Value) {
    let mut c = Cow::Owned(std::mem::take(cfg));
    strip_cow(profile, uri, &mut c);
    *cfg = c.into_owned();
}

/// [`strip`] that copies `cfg` only when it holds something to remove.
fn strip_cow(profile: &ServerProfile, uri: &str, cfg: &mut Cow<'_, Value>) {
    let class = sink_class(uri);
    if class == SinkClass::Blackhole {
        return;
    }
    let rm = |cfg: &mut Cow<'_, Value>, paths: &[&str]| {
        for p in paths {
            cut(cfg, p);
        }
    };
    if !class.is_mq() {
        rm(
            cfg,
            &[
                "sink.schema_registry",
                "sink.encoder_concurrency",
                "sink.enable_kafka_sink_v2",
                "sink.only_output_updated_columns",
                "sink.delete_only_output_handle_key_columns",
                "sink.content_compatible",
                "sink.kafka_config",
            ],
        );
        if profile.arch == Arch::Classic {
            rm(cfg, &["sink.dispatchers"]);
        }
    } else {
        let protocol = get_path(cfg.as_ref(), "sink.protocol")
            .and_then(Value::as_str)
            .unwrap_or("");
        let keeps_registry =
            protocol == "avro" || (profile.arch == Arch::Newarch && protocol == "debezium-avro");
        if !keeps_registry {
            rm(cfg, &["sink.schema_registry"]);
        }
    }
    if class != SinkClass::Storage {
        rm(
            cfg,
            &[
                "sink.csv",
                "sink.date_separator",
                "sink.enable_partition_separator",
                "sink.file_index_width",
                "sink.cloud_storage_config",
            ],
        );
    }
    if class != SinkClass::Mysql {
        rm(
            cfg,
            &[
                "enable_sync_point",
                "bdr_mode",
                "sync_point_interval",
                "sync_point_retention",
                "sink.safe_mode",
                "sink.mysql_config",
            ],
        );
        if profile.arch == Arch::Classic {
            rm(cfg, &["consistent"]);
        }
    } else {
        rm(cfg, &["sink.protocol", "sink.terminator"]);
    }
}

/// The desired config as the server will hold it, plus the paths the server derives.
#[derive(Debug)]
pub struct Effective {
    /// Defaults ⊕ manifest, adjusted, then stripped for this sink scheme: what a later GET shows.
    pub compare: Value,
    pub derived: BTreeSet<String>,
    /// The desired sink URI, parsed once for adjusting and for comparing.
    pub uri: SinkUri,
}

/// Defaults ⊕ manifest, adjusted for the sink (and the fields adjusting set).
fn adjusted(
    profile: &ServerProfile,
    uri: &SinkUri,
    manifest: Option<&Value>,
) -> (Value, BTreeSet<String>) {
    let mut body = defaults(profile);
    if let Some(m) = manifest {
        merge(&mut body, m);
    }
    let derived = adjust_parsed(profile, uri, &mut body);
    (body, derived)
}

/// What the desired changefeed will look like on the server, for comparison with a read.
/// Comparing is all most changefeeds of a plan need: the body of a write is built apart
/// ([`effective_body`]) for the few that change.
///
/// Pure, so it is computed once per distinct (profile, URI, manifest config) and shared: the
/// changefeeds of a repository mostly share a few templates.
pub fn effective_desired(
    profile: &ServerProfile,
    uri: &str,
    manifest: Option<&Value>,
) -> Arc<Effective> {
    // Per thread (no lock), and bounded: a run over thousands of distinct configs must not
    // keep them all.
    const MAX: usize = 32;
    thread_local! {
        static MEMO: std::cell::RefCell<Memo> = Default::default();
    }
    MEMO.with(|memo| {
        let mut m = memo.borrow_mut();
        if !m.gate.ask() {
            return Arc::new(compute_effective(profile, uri, manifest));
        }
        let key = effective_key(profile, uri, manifest);
        let found = m.entries.get(&key).and_then(|v| {
            v.iter()
                .find(|(p, mf, e)| e.uri.as_str() == uri && p == profile && mf.as_ref() == manifest)
                .map(|(_, _, e)| e.clone())
        });
        if let Some(e) = found {
            m.gate.hit();
            return e;
        }
        m.gate.miss();
        let e = Arc::new(compute_effective(profile, uri, manifest));
        if m.entries.len() >= MAX {
            m.entries.clear();
        }
        m.entries
            .entry(key)
            .or_default()
            .push((profile.clone(), manifest.cloned(), e.clone()));
        e
    })
}

type MemoEntry = (ServerProfile, Option<Value>, Arc<Effective>);

/// The effective configs [`effective_desired`] computed lately on this thread.
#[derive(Default)]
struct Memo {
    /// By the hash of the inputs: the inputs themselves and their effective config.
    entries: HashMap<u64, Vec<MemoEntry>>,
    /// Whether a call asks the memo at all (not while every config is distinct).
    gate: CacheGate,
}

/// The memo key of [`effective_desired`]'s inputs (equal inputs, equal keys).
fn effective_key(profile: &ServerProfile, uri: &str, manifest: Option<&Value>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (uri, profile).hash(&mut h);
    h.write_u64(manifest.map_or(0, config_hash));
    h.finish()
}

/// [`effective_desired`] computed afresh.
fn compute_effective(profile: &ServerProfile, uri: &str, manifest: Option<&Value>) -> Effective {
    let parsed = SinkUri::parse(uri);
    let (compare, derived) = adjusted(profile, &parsed, manifest);
    let mut compare = Cow::Owned(compare);
    strip_cow(profile, uri, &mut compare);
    drop_unheld(profile, &mut compare);
    Effective {
        compare: compare.into_owned(),
        derived,
        uri: parsed,
    }
}

/// The `replica_config` of a create or update: defaults ⊕ manifest, adjusted, not stripped.
pub fn effective_body(profile: &ServerProfile, uri: &str, manifest: Option<&Value>) -> Value {
    let (mut body, _) = adjusted(profile, &SinkUri::parse(uri), manifest);
    // The body itself must not carry what the server refuses (e.g. `protocol` on MySQL).
    if sink_class(uri) == SinkClass::Mysql {
        remove_path(&mut body, "sink.protocol");
    }
    body
}

/// Live config stripped like the server strips on load (new-arch keeps fields until resume).
/// Borrowed when there is nothing to strip, which is the rule: the server stripped it already.
pub fn normalize_live<'a>(profile: &ServerProfile, uri: &str, live: &'a Value) -> Cow<'a, Value> {
    let mut v = Cow::Borrowed(live);
    strip_cow(profile, uri, &mut v);
    drop_unheld(profile, &mut v);
    v
}

/// Remove `path`, copying a borrowed config only when the path is there.
fn cut(cfg: &mut Cow<'_, Value>, path: &str) {
    if get_path(cfg.as_ref(), path).is_some() {
        remove_path(cfg.to_mut(), path);
    }
}

/// Keys the server does not hold, so they are never compared (`validate` and `plan` warn about
/// them instead): the new architecture's storage spool keys on classic servers, `performance_mode` and event filters' `ignore_update_only_columns` exist only
/// on pingcap/ticdc master (after v8.5.7), and tiflow's dispatch rules have no `target-schema` /
/// `target-table` (pingcap/ticdc v8.5.7 api/v2/model.go has them). Their JSON decoding drops them.
fn drop_unheld(profile: &ServerProfile, cfg: &mut Cow<'_, Value>) {
    cut(cfg, "performance_mode");
    if profile.arch == Arch::Classic {
        // pingcap/ticdc v8.5.7 api/v2/model.go `CloudStorageConfig` only; tiflow drops them.
        for k in ["spool_disk_quota", "spool_base_dir", "use_table_id_as_path"] {
            cut(cfg, &format!("sink.cloud_storage_config.{k}"));
        }
    }
    if !has_active_active(profile) {
        for k in [
            "enable_active_active",
            "active_active_progress_interval",
            "active_active_sync_stats_interval",
        ] {
            cut(cfg, k);
        }
    }
    let mut drop_in = |path: &str, keys: &[&str]| {
        let holds = |v: &Value| keys.iter().any(|k| v.get(*k).is_some());
        let found = match get_path(cfg.as_ref(), path) {
            Some(Value::Array(items)) => items.iter().any(holds),
            _ => false,
        };
        if !found {
            return;
        }
        if let Some(Value::Array(items)) = get_path_mut(cfg.to_mut(), path) {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                for k in keys {
                    item.remove(*k);
                }
            }
        }
    };
    drop_in("filter.event_filters", &["ignore_update_only_columns"]);
    if !has_table_routing(profile) {
        drop_in("sink.dispatchers", &["target-schema", "target-table"]);
    }
}

/// New-architecture next-gen builds (pingcap/ticdc v26.3.x, v8.5.4-nextgen.*) have the
/// active-active keys in api/v2/model.go `ReplicaConfig`; v8.5.7 and tiflow do not.
pub fn has_active_active(profile: &ServerProfile) -> bool {
    profile.arch == Arch::Newarch && is_next_gen(profile)
}

/// Dispatch rules route tables (`target-schema`/`target-table`) in pingcap/ticdc v8.5.7
/// api/v2/model.go `DispatchRule`; neither tiflow nor the next-gen v26.3 builds have them.
pub fn has_table_routing(profile: &ServerProfile) -> bool {
    profile.arch == Arch::Newarch && !is_next_gen(profile)
}

fn is_next_gen(profile: &ServerProfile) -> bool {
    profile.version.major >= 26 || profile.raw_version.contains("nextgen")
}

// ---------- hashing configs, and per-thread caches of them ----------

/// A stable 64-bit hash of a JSON value (the config part of a plan fingerprint, and memo keys).
pub fn config_hash(v: &Value) -> u64 {
    let mut h = Fold64::new();
    h.value(v);
    h.0
}

// ---------- which keys cdcform knows ----------

/// Dotted `replica_config` paths cdcform knows (from the manifest schema). Live keys outside
/// this set are never diffed and are carried over unchanged in a PUT.
pub fn known_paths() -> &'static KnownPaths {
    static K: OnceLock<KnownPaths> = OnceLock::new();
    K.get_or_init(|| KnownPaths::from_schema(&crate::manifest::json_schema()))
}

#[derive(Debug, Default)]
pub struct KnownPaths {
    /// Paths that are objects with declared properties.
    objects: BTreeSet<String>,
    /// Paths that hold a scalar, an array or a free-form map.
    leaves: BTreeSet<String>,
}

impl KnownPaths {
    /// Walks the JSON Schema (schemars output: `$defs` + `$ref`, `anyOf` for options).
    pub fn from_schema(schema: &Value) -> KnownPaths {
        let defs = schema
            .get("$defs")
            .or_else(|| schema.get("definitions"))
            .cloned()
            .unwrap_or(Value::Null);
        let mut k = KnownPaths::default();
        // Find the replica_config schema: the changefeed item's `replica_config` property.
        fn find_rc<'a>(v: &'a Value, defs: &'a Value, depth: usize) -> Option<&'a Value> {
            if depth > 8 {
                return None;
            }
            let v = resolve(v, defs);
            if let Some(rc) = v.get("properties").and_then(|p| p.get("replica_config")) {
                return Some(rc);
            }
            if let Some(p) = v.get("properties").and_then(|p| p.get("changefeeds")) {
                let p = resolve(p, defs);
                if let Some(items) = p.get("items") {
                    return find_rc(items, defs, depth + 1);
                }
            }
            for key in ["anyOf", "oneOf", "allOf"] {
                if let Some(Value::Array(alts)) = v.get(key) {
                    for a in alts {
                        if let Some(r) = find_rc(a, defs, depth + 1) {
                            return Some(r);
                        }
                    }
                }
            }
            None
        }
        if let Some(rc) = find_rc(schema, &defs, 0) {
            k.walk("", rc, &defs, 0);
        }
        k
    }

    fn walk(&mut self, prefix: &str, v: &Value, defs: &Value, depth: usize) {
        if depth > 12 {
            return;
        }
        let v = resolve(v, defs);
        for key in ["anyOf", "oneOf", "allOf"] {
            if let Some(Value::Array(alts)) = v.get(key) {
                for a in alts {
                    self.walk(prefix, a, defs, depth + 1);
                }
            }
        }
        if let Some(Value::Object(props)) = v.get("properties") {
            if !prefix.is_empty() {
                self.objects.insert(prefix.to_string());
            }
            for (name, sub) in props {
                let p = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                self.walk(&p, sub, defs, depth + 1);
            }
        } else if !prefix.is_empty() && v.get("anyOf").is_none() && v.get("oneOf").is_none() {
            self.leaves.insert(prefix.to_string());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty() && self.leaves.is_empty()
    }

    /// A leaf path (from `flatten`) is known when it, or an ancestor, is a declared leaf.
    /// With no schema available every path counts as known.
    pub fn knows(&self, path: &str) -> bool {
        if self.is_empty() {
            return true;
        }
        if self.leaves.contains(path) {
            return true;
        }
        let mut p = path;
        while let Some((parent, _)) = p.rsplit_once('.') {
            if self.leaves.contains(parent) {
                return true;
            }
            p = parent;
        }
        // An empty object at a declared object path.
        self.objects.contains(path)
    }
}

fn resolve<'a>(v: &'a Value, defs: &'a Value) -> &'a Value {
    let mut cur = v;
    for _ in 0..8 {
        match cur.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap_or("");
                match defs.get(name) {
                    Some(d) => cur = d,
                    None => return cur,
                }
            }
            None => return cur,
        }
    }
    cur
}

/// Keys of `live` that cdcform does not know, to be carried over unchanged in a PUT.
pub fn carry_unknown(body: &mut Value, live: &Value) {
    let known = known_paths();
    for (path, v) in flatten(live) {
        if !known.knows(&path) && get_path(body, &path).is_none() {
            set_path(body, &path, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Small alphabets, so generated pairs share keys and values often.
    fn config() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            Just(json!("")),
            Just(json!("x")),
            Just(json!(1)),
            Just(json!(1.0)),
            Just(json!(true)),
            Just(json!([])),
            Just(json!({})),
        ];
        leaf.prop_recursive(3, 24, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map("[ab]", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(512)
        ))]

        /// Walking two configs together finds exactly the differences that flattening both and
        /// comparing every path finds.
        #[test]
        fn differing_leaves_agree_with_flatten(
            a in prop::collection::btree_map("[abc]", config(), 0..4),
            b in prop::collection::btree_map("[abc]", config(), 0..4),
        ) {
            // `b` also in the reverse key order: the walk in step must not depend on order.
            let b_rev = Value::Object(b.clone().into_iter().rev().collect());
            let (a, b) = (Value::Object(a.into_iter().collect()), Value::Object(b.into_iter().collect()));
            let (fa, fb) = (flatten(&a), flatten(&b));
            let all: BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
            let want: Vec<LeafDifference> = all
                .into_iter()
                .filter(|p| !equivalent(fa.get(*p), fb.get(*p)))
                .map(|p| (p.clone(), fa.get(p).cloned(), fb.get(p).cloned()))
                .collect();
            prop_assert_eq!(differing_leaves(&a, &b_rev), want.clone());
            prop_assert_eq!(differing_leaves(&a, &b), want);
        }
    }

    /// The gate closes after a run of misses, then asks one call in `PROBE`; a hit opens it.
    #[test]
    fn a_cache_gate_closes_on_misses_and_opens_on_a_hit() {
        let mut g = CacheGate::default();
        for _ in 0..CacheGate::MISSES {
            assert!(g.ask());
            g.miss();
        }
        assert!(!g.is_open());
        let asked = (0..4 * CacheGate::PROBE).filter(|_| g.ask()).count();
        assert_eq!(asked, 4);
        g.hit();
        assert!(g.is_open() && g.ask());
    }

    /// The memoised effective config is the one computed afresh, for every profile, URI and
    /// manifest, however often and in whatever order it is asked for (a memo must never hand
    /// one changefeed's config to another).
    #[test]
    fn memoised_effective_equals_a_fresh_one() {
        let profiles = [
            p85(),
            ServerProfile::classic(Version::new(7, 5, 0)),
            ServerProfile::newarch(),
            ServerProfile {
                raw_version: "v8.5.4-nextgen.1".into(),
                ..ServerProfile::newarch()
            },
        ];
        let uris = [
            "blackhole://",
            "kafka://k:9092/t?protocol=canal-json&sasl-password=p",
            "kafka://k:9092/t?protocol=avro",
            "mysql://root:pw@h:3306/?transaction-atomicity=none",
            "s3://b/p?protocol=csv",
        ];
        let manifests = [
            None,
            Some(json!({"filter": {"rules": ["a.*"]}})),
            Some(json!({"filter": {"rules": ["b.*"]}})),
            Some(json!({"mounter": {"worker_num": 8}, "sink": {"encoder_concurrency": 4}})),
            Some(json!({"mounter": {"worker_num": 8.0}})),
        ];
        // A run of distinct configs (the memo turns to computing directly), then repeats.
        let p = p85();
        for i in 0..(2 * CacheGate::MISSES as usize) {
            let m = json!({"filter": {"rules": [format!("db_{}.*", i % 100)]}});
            let memo = effective_desired(&p, "blackhole://", Some(&m));
            let fresh = compute_effective(&p, "blackhole://", Some(&m));
            assert_eq!(memo.compare, fresh.compare, "config {i}");
            assert_eq!(memo.derived, fresh.derived, "config {i}");
        }
        for _ in 0..2 {
            for p in &profiles {
                for u in uris {
                    for m in &manifests {
                        let memo = effective_desired(p, u, m.as_ref());
                        let fresh = compute_effective(p, u, m.as_ref());
                        assert_eq!(memo.compare, fresh.compare, "{p:?} {u} {m:?}");
                        assert_eq!(memo.derived, fresh.derived, "{p:?} {u} {m:?}");
                        assert_eq!(memo.uri.as_str(), u);
                    }
                }
            }
        }
    }

    fn p85() -> ServerProfile {
        ServerProfile::classic(Version::new(8, 5, 0))
    }

    #[test]
    fn classes_follow_the_scheme() {
        assert_eq!(sink_class("mysql://u@h:3306/"), SinkClass::Mysql);
        assert_eq!(sink_class("TiDB://h:4000/"), SinkClass::Mysql);
        assert_eq!(
            sink_class("kafka+ssl://h/t?protocol=avro"),
            SinkClass::Kafka
        );
        assert_eq!(sink_class("s3://b/p"), SinkClass::Storage);
        assert_eq!(sink_class("blackhole://"), SinkClass::Blackhole);
        assert_eq!(sink_class("nope"), SinkClass::Other);
    }

    #[test]
    fn merge_objects_replace_arrays() {
        let mut base = json!({"filter": {"rules": ["*.*"], "x": 1}, "a": 1});
        merge(&mut base, &json!({"filter": {"rules": ["db.t"]}}));
        assert_eq!(base, json!({"filter": {"rules": ["db.t"], "x": 1}, "a": 1}));
    }

    #[test]
    fn protocol_is_copied_from_the_uri_and_mysql_loses_it() {
        let e = effective_desired(&p85(), "kafka://k:9092/t?protocol=canal-json", None);
        assert_eq!(
            get_path(&e.compare, "sink.protocol"),
            Some(&json!("canal-json"))
        );
        assert!(e.derived.contains("sink.protocol"));
        assert!(
            get_path(&e.compare, "sink.csv").is_none(),
            "csv is storage-only"
        );
        assert!(
            get_path(&e.compare, "consistent").is_none(),
            "tiflow strips redo for non-MySQL"
        );
        let m = effective_desired(
            &p85(),
            "mysql://root@h:3306/",
            Some(&json!({"sink": {"protocol": "canal-json"}})),
        );
        assert!(get_path(&m.compare, "sink.protocol").is_none());
        let body = effective_body(
            &p85(),
            "mysql://root@h:3306/",
            Some(&json!({"sink": {"protocol": "canal-json"}})),
        );
        assert!(get_path(&body, "sink.protocol").is_none());
        assert!(get_path(&m.compare, "sink.terminator").is_none());
        assert!(get_path(&m.compare, "sync_point_interval").is_some());
    }

    #[test]
    fn defaults_differ_by_version_and_arch() {
        let v75 = defaults(&ServerProfile::classic(Version::new(7, 5, 0)));
        assert!(get_path(&v75, "synced_status").is_none());
        assert!(get_path(&v75, "sink.send-all-bootstrap-at-start").is_none());
        let v81 = defaults(&ServerProfile::classic(Version::new(8, 1, 0)));
        assert!(get_path(&v81, "synced_status").is_some());
        assert!(get_path(&v81, "sink.send-all-bootstrap-at-start").is_none());
        let na = defaults(&ServerProfile::newarch());
        assert_eq!(
            get_path(&na, "scheduler.region_threshold"),
            Some(&json!(10000))
        );
        assert!(get_path(&na, "force_replicate").is_none());
    }

    #[test]
    fn keys_follow_the_newarch_build() {
        // pingcap/ticdc v8.5.7 api/v2/model.go: table routing, no active-active;
        // v26.3.4 (next-gen): the other way round.
        let v857 = ServerProfile::newarch();
        let next = ServerProfile {
            version: Version::new(26, 3, 4),
            raw_version: "v26.3.4".into(),
            ..ServerProfile::newarch()
        };
        assert!(get_path(&defaults(&v857), "enable_active_active").is_none());
        assert_eq!(
            get_path(&defaults(&next), "enable_active_active"),
            Some(&json!(false))
        );
        let m = json!({"sink": {"dispatchers": [{"matcher": ["a.*"], "target-schema": "b"}]}});
        let uri = "kafka://k/t?protocol=canal-json";
        let keep = effective_desired(&v857, uri, Some(&m));
        assert!(get_path(&keep.compare, "sink.dispatchers").unwrap()[0]
            .get("target-schema")
            .is_some());
        let drop = effective_desired(&next, uri, Some(&m));
        assert!(get_path(&drop.compare, "sink.dispatchers").unwrap()[0]
            .get("target-schema")
            .is_none());
    }

    #[test]
    fn storage_sinks_get_a_file_index_width() {
        let e = effective_desired(&p85(), "s3://bucket/p?protocol=csv", None);
        assert_eq!(
            get_path(&e.compare, "sink.file_index_width"),
            Some(&json!(20))
        );
        assert!(get_path(&e.compare, "sink.csv").is_some());
    }

    #[test]
    fn empties_are_equivalent() {
        assert!(equivalent(None, Some(&json!([]))));
        assert!(equivalent(Some(&Value::Null), Some(&json!(""))));
        assert!(!equivalent(None, Some(&json!(0))));
        assert!(equivalent(Some(&json!(1)), Some(&json!(1.0))));
    }

    #[test]
    fn legacy_dispatcher_moves_to_partition() {
        let e = effective_desired(
            &p85(),
            "kafka://k/t?protocol=open-protocol",
            Some(&json!({"sink": {"dispatchers": [{"matcher": ["a.*"], "dispatcher": "table"}]}})),
        );
        assert_eq!(
            get_path(&e.compare, "sink.dispatchers"),
            Some(&json!([{"matcher": ["a.*"], "partition": "table"}]))
        );
    }
}

/// A duration in nanoseconds written the way Go's `time.ParseDuration` (and so the manifest)
/// reads it: `24h`, `1h30m`, `1m0.5s` is written `1m500ms`. Never `1day`.
pub fn go_duration(ns: u64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    const S: u64 = 1_000_000_000;
    let parts = [
        (ns / (3600 * S), "h"),
        (ns % (3600 * S) / (60 * S), "m"),
        (ns % (60 * S) / S, "s"),
        (ns % S / 1_000_000, "ms"),
        (ns % 1_000_000 / 1_000, "us"),
        (ns % 1_000, "ns"),
    ];
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect()
}

#[cfg(test)]
mod go_duration_tests {
    use super::go_duration;

    #[test]
    fn writes_what_go_reads() {
        let s = 1_000_000_000u64;
        assert_eq!(go_duration(86_400 * s), "24h");
        assert_eq!(go_duration(5_400 * s), "1h30m");
        assert_eq!(go_duration(300 * s), "5m");
        assert_eq!(go_duration(60 * s + s / 2), "1m500ms");
        assert_eq!(go_duration(1), "1ns");
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(48 * 3600 * s), "48h");
    }
}
