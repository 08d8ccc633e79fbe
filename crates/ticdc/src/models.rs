//! Wire models of the TiCDC OpenAPI v2 (tiflow `cdc/api/v2/model.go`, pingcap/ticdc `api/v2/model.go`). Every TSO is a u64.
//! `replica_config` stays a `serde_json::Value` on the wire so that keys cdcform does not
//! know survive a GET → PUT round trip untouched.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::hash::CacheGate;

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// `GET /api/v2/status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ServerStatus {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub git_hash: String,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub cluster_id: String,
    #[serde(default)]
    pub pid: i64,
    #[serde(default)]
    pub is_owner: bool,
    /// 0 = alive, 1 = stopping.
    #[serde(default)]
    pub liveness: i32,
}

/// `{total, items}` wrapper of the list endpoints.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ListResponse<T> {
    pub total: usize,
    pub items: Vec<T>,
}

/// `{addr, code, message}` (+ `time` on list items and on ticdc).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RunningError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(default)]
    pub addr: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// One item of `GET /api/v2/changefeeds`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ChangefeedCommonInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyspace: Option<String>,
    pub id: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub checkpoint_tso: u64,
    #[serde(default)]
    pub checkpoint_time: String,
    /// Always present on the wire: `null` or an error object.
    #[serde(default)]
    pub error: Option<RunningError>,
}

/// ticdc `gid`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Gid {
    pub low: u64,
    pub high: u64,
}

/// `GET /api/v2/changefeeds/{id}` (also the create/update/meta_info responses).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ChangefeedInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyspace: Option<String>,
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sink_uri: String,
    #[serde(default)]
    pub create_time: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_ts: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub target_ts: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub admin_job_type: u64,
    /// The API `ReplicaConfig`, kept verbatim. Decoded through [`decode_config`].
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "shared_config"
    )]
    pub config: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RunningError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_version: Option<String>,
    #[serde(default)]
    pub resolved_ts: u64,
    #[serde(default)]
    pub checkpoint_ts: u64,
    #[serde(default)]
    pub checkpoint_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_status: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<Gid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintainer_addr: Option<String>,
}

/// Decodes a `config` through [`decode_config`], from any serde_json source.
fn shared_config<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    if !DECODED.with(|c| c.borrow_mut().gate.ask()) {
        return Deserialize::deserialize(d);
    }
    // A copy of the text (a borrowed `&RawValue` would fail from a reader or a `Value`): every
    // way of decoding a `ChangefeedInfo` works, for about 2 KB copied per changefeed.
    let raw: Option<Box<RawValue>> = Deserialize::deserialize(d)?;
    match raw {
        None => Ok(None),
        Some(raw) => decode_config(raw.get())
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// Configs decoded lately on this thread, by the hash of their exact text.
#[derive(Default)]
struct Decoded {
    /// Texts seen once (their hashes): a text is kept only when it comes again, so a run over
    /// configs that are all distinct copies nothing.
    seen: HashSet<u64>,
    kept: HashMap<u64, Vec<(Box<str>, Value)>>,
    /// Whether a config goes through the cache at all (not while every config is distinct).
    gate: CacheGate,
}

thread_local! {
    static DECODED: RefCell<Decoded> = RefCell::default();
}

/// Decode one `replica_config` text, through the configs decoded lately: the changefeeds of a
/// repository mostly share a few templates, and copying a decoded tree costs less than
/// decoding its text again. The answer is what `serde_json` decodes from the text, whichever
/// way it is found. Per thread, so no lock; bounded in entries and text size.
pub fn decode_config(text: &str) -> Result<Value, serde_json::Error> {
    const MAX_KEPT: usize = 32;
    const MAX_SEEN: usize = 4096;
    const MAX_TEXT: usize = 32 * 1024;
    if text.len() > MAX_TEXT {
        return serde_json::from_str(text);
    }
    let mut h = crate::hash::Fold64::new();
    h.str(text);
    let key = h.0;
    DECODED.with(|c| {
        let mut c = c.borrow_mut();
        let found = c
            .kept
            .get(&key)
            .and_then(|e| e.iter().find(|(t, _)| &**t == text))
            .map(|(_, v)| v.clone());
        if let Some(v) = found {
            c.gate.hit();
            return Ok(v);
        }
        c.gate.miss();
        let v: Value = serde_json::from_str(text)?;
        if c.seen.len() >= MAX_SEEN {
            c.seen.clear();
        }
        if c.seen.insert(key) {
            return Ok(v);
        }
        // The second sighting: kept from now on.
        if c.kept.len() >= MAX_KEPT {
            c.kept.clear();
        }
        c.kept
            .entry(key)
            .or_default()
            .push((text.into(), v.clone()));
        Ok(v)
    })
}

impl ChangefeedInfo {
    /// Namespace (classic) or keyspace (new architecture).
    pub fn scope(&self) -> &str {
        self.namespace
            .as_deref()
            .or(self.keyspace.as_deref())
            .unwrap_or("default")
    }
    pub fn state_str(&self) -> &str {
        self.state.as_deref().unwrap_or("")
    }
}

/// Body of create (`POST /changefeeds`) and update (`PUT /changefeeds/{id}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ChangefeedConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyspace: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub changefeed_id: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_ts: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub target_ts: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sink_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_config: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pd_addrs: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_allowed_cn: Option<Vec<String>>,
}

/// Body of `POST /changefeeds/{id}/resume`. tiflow requires a JSON body, `{}` at least.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ResumeChangefeedConfig {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub overwrite_checkpoint_ts: u64,
}

/// `GET /changefeeds/{id}/status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ChangefeedStatus {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub resolved_ts: u64,
    #[serde(default)]
    pub checkpoint_ts: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<RunningError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_warning: Option<RunningError>,
}

/// `GET /changefeeds/{id}/synced` (v8.1+). The three `*_ts` fields and `now_ts` are tiflow
/// `model.JSONTime` values, i.e. strings in the `2006-01-02 15:04:05.000` format, not TSOs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SyncedStatus {
    #[serde(default)]
    pub synced: bool,
    #[serde(default)]
    pub sink_checkpoint_ts: String,
    #[serde(default)]
    pub puller_resolved_ts: String,
    #[serde(default)]
    pub last_synced_ts: String,
    #[serde(default)]
    pub now_ts: String,
    #[serde(default)]
    pub info: String,
}

/// `GET /api/v2/captures` item.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Capture {
    pub id: String,
    #[serde(default)]
    pub is_owner: bool,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub cluster_id: String,
}

/// `GET /api/v2/processors` item.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProcessorCommonInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyspace: Option<String>,
    pub changefeed_id: String,
    pub capture_id: String,
}

/// `GET /api/v2/processors/{changefeed_id}/{capture_id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProcessorDetail {
    /// `null` when the capture runs no processor of the changefeed (tiflow v8.5.0
    /// cdc/api/v2/processor.go `getProcessor`: the capture's task status is absent).
    #[serde(default)]
    pub table_ids: Option<Vec<i64>>,
}

/// `POST /api/v2/tso`: physical milliseconds and logical counter.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Tso {
    pub timestamp: i64,
    pub logic_time: i64,
}

impl Tso {
    /// The composed TSO: physical ms << 18 | logical.
    pub fn compose(&self) -> u64 {
        ((self.timestamp.max(0) as u64) << 18) | (self.logic_time.max(0) as u64 & 0x3ffff)
    }
}

/// Physical milliseconds of a TSO.
pub fn tso_physical_ms(ts: u64) -> u64 {
    ts >> 18
}

/// `POST /api/v2/log` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LogLevelReq {
    pub log_level: String,
}

/// The error body both architectures send: `{"error_msg": "[CODE]text", "error_code": "CODE"}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ApiErrorBody {
    #[serde(default)]
    pub error_msg: String,
    #[serde(default)]
    pub error_code: String,
}

/// `POST /api/v2/verify_table` response.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TablesResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ineligible_tables: Option<Vec<TableName>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligible_tables: Option<Vec<TableName>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_tables: Option<Vec<TableName>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TableName {
    pub database_name: String,
    pub table_name: String,
    #[serde(default)]
    pub table_id: i64,
    #[serde(default)]
    pub is_partition: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A reply decoded through the config cache equals the same reply decoded as plain JSON,
    /// on the first, second and later sightings of a config text.
    #[test]
    fn cached_config_decodes_as_plain_json() {
        let configs = [
            json!({"filter": {"rules": ["db_1.*"]}, "sink": {"protocol": "canal-json"}, "n": 1.5}),
            json!({"filter": {"rules": ["db_2.*"]}, "sink": {"protocol": "canal-json"}, "n": 1.5}),
            json!({"b": 1, "a": {"y": [1, "x", null, {"k": true}], "x": -3}}),
            json!({}),
        ];
        for round in 0..3 {
            for c in &configs {
                let reply = json!({"id": "cf", "state": "normal", "config": c, "checkpoint_ts": 7});
                let text = reply.to_string();
                let info: ChangefeedInfo = serde_json::from_str(&text).unwrap();
                assert_eq!(info.config.as_ref(), Some(c), "round {round}");
                let keys: Vec<_> = info
                    .config
                    .as_ref()
                    .unwrap()
                    .as_object()
                    .unwrap()
                    .keys()
                    .collect();
                let want: Vec<_> = c.as_object().unwrap().keys().collect();
                assert_eq!(keys, want, "key order kept");
                let from_bytes: ChangefeedInfo = serde_json::from_slice(text.as_bytes()).unwrap();
                assert_eq!(from_bytes, info);
                // Nor only from a buffer: from a reader and from a `Value` too.
                let from_reader: ChangefeedInfo = serde_json::from_reader(text.as_bytes()).unwrap();
                assert_eq!(from_reader, info);
                let from_value: ChangefeedInfo = serde_json::from_value(reply.clone()).unwrap();
                assert_eq!(from_value, info);
            }
        }
        // A hundred distinct configs (the cache turns to direct decoding), then a shared
        // one again (it comes back): the same answers throughout.
        let shared = json!({"filter": {"rules": ["*.*"]}, "n": 1});
        for i in 0..(CacheGate::MISSES as usize + 36 + 4 * CacheGate::PROBE as usize) {
            let c = if i < CacheGate::MISSES as usize + 36 {
                json!({"filter": {"rules": [format!("db_{i}.*")]}})
            } else {
                shared.clone()
            };
            let text = json!({"id": "cf", "config": c}).to_string();
            let info: ChangefeedInfo = serde_json::from_str(&text).unwrap();
            assert_eq!(info.config.as_ref(), Some(&c), "config {i}");
        }
        assert!(
            DECODED.with(|d| d.borrow().gate.is_open()),
            "repeats turn the cache back on"
        );
        for text in [r#"{"id": "cf", "config": null}"#, r#"{"id": "cf"}"#] {
            let info: ChangefeedInfo = serde_json::from_str(text).unwrap();
            assert_eq!(info.config, None);
        }
        let bad: Result<ChangefeedInfo, _> =
            serde_json::from_str(r#"{"id": "cf", "config": {"a": }}"#);
        assert!(bad.is_err());
    }
}
