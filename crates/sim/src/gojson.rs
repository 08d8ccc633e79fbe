//! Go `encoding/json` wording for request bodies that do not fit the API structs, as gin's
//! `BindJSON` reports them and TiCDC wraps them (`[CDC:ErrAPIInvalidParam]invalid api
//! parameter: json: cannot unmarshal string into Go struct field ChangefeedConfig.start_ts of
//! type uint64`). Struct and field types follow tiflow v8.5.7 `cdc/api/v2/model.go`. Also the
//! compact writer that escapes response bodies as Go does.

use serde_json::Value;

use super::config::ApiErr;

/// Compact JSON written as Go's `encoding/json` writes it: `<`, `>` and `&` escaped as they are
/// written, so a large list is not scanned a second time.
pub struct GoCompact;

impl serde_json::ser::Formatter for GoCompact {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut rest = fragment.as_bytes();
        while let Some(i) = memchr::memchr3(b'<', b'>', b'&', rest) {
            w.write_all(&rest[..i])?;
            w.write_all(format!("\\u{:04x}", rest[i]).as_bytes())?;
            rest = &rest[i + 1..];
        }
        w.write_all(rest)
    }
}

pub fn go_compact(v: &impl serde::Serialize) -> Vec<u8> {
    let mut buf = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, GoCompact);
    v.serialize(&mut ser).expect("json");
    buf
}

/// The Go struct that holds the fields of the object at `path` (JSON field names).
fn struct_name(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "" => "ChangefeedConfig",
        "replica_config" => "ReplicaConfig",
        "filter" => "FilterConfig",
        "mounter" => "MounterConfig",
        "sink" => "SinkConfig",
        "csv" => "CSVConfig",
        "consistent" => "ConsistentConfig",
        "memory_usage" => "ConsistentMemoryUsage",
        "scheduler" => "ChangefeedSchedulerConfig",
        "integrity" => "IntegrityConfig",
        "synced_status" => "SyncedStatusConfig",
        "debezium" => "DebeziumConfig",
        "open" => "OpenProtocolConfig",
        _ => "ReplicaConfig",
    }
}

/// The Go type of a field, from its key and the default value's JSON type.
pub fn type_name(key: &str, default: &Value, signed: bool) -> String {
    match default {
        Value::Bool(_) => "bool".into(),
        Value::String(_) => "string".into(),
        Value::Array(_) => "[]string".into(),
        Value::Object(_) => format!("v2.{}", struct_name(key)),
        Value::Number(n) if n.is_f64() => "float64".into(),
        Value::Number(_) => match key {
            "memory_quota" | "memory_quota_percentage" | "start_ts" | "target_ts" => {
                "uint64".into()
            }
            "advance_timeout" => "uint".into(),
            "max_log_size"
            | "flush_interval"
            | "meta_flush_interval"
            | "synced_check_interval"
            | "checkpoint_interval"
            | "send_bootstrap_interval_in_sec" => "int64".into(),
            "send_bootstrap_in_msg_count" => "int32".into(),
            _ if signed => "int".into(),
            _ => "uint64".into(),
        },
        Value::Null => "interface {}".into(),
    }
}

/// `UnmarshalTypeError.Value`: the JSON kind, with the literal for numbers that do not fit.
fn value_kind(v: &Value, target_is_number: bool) -> String {
    match v {
        Value::String(_) => "string".into(),
        Value::Number(n) if target_is_number => format!("number {n}"),
        Value::Number(_) => "number".into(),
        Value::Bool(_) => "bool".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
        Value::Null => "null".into(),
    }
}

/// `[CDC:ErrAPIInvalidParam]invalid api parameter: json: cannot unmarshal … into Go struct
/// field Struct.path.key of type T`. `parent` is the JSON path of the enclosing object ("" for
/// the request body).
pub fn unmarshal_error(v: &Value, parent: &str, key: &str, go_type: &str) -> ApiErr {
    let numeric =
        go_type.starts_with("int") || go_type.starts_with("uint") || go_type.starts_with("float");
    let field = if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    };
    ApiErr::invalid_param(format!(
        "invalid api parameter: json: cannot unmarshal {} into Go struct field {}.{field} of type {go_type}",
        value_kind(v, numeric),
        struct_name(parent)
    ))
}

/// The top-level fields of `ChangefeedConfig` (create/update bodies).
pub fn check_changefeed_config(raw: &Value) -> Result<(), ApiErr> {
    let Some(o) = raw.as_object() else {
        return Err(ApiErr::invalid_param(format!(
            "invalid api parameter: json: cannot unmarshal {} into Go value of type v2.ChangefeedConfig",
            value_kind(raw, false)
        )));
    };
    for (k, v) in o {
        let ty = match k.as_str() {
            "start_ts" | "target_ts" => "uint64",
            "changefeed_id" | "sink_uri" | "namespace" | "keyspace" | "ca_path" | "cert_path"
            | "key_path" => "string",
            "pd_addrs" | "cert_allowed_cn" => "[]string",
            "replica_config" => "v2.ReplicaConfig",
            _ => continue,
        };
        let ok = match ty {
            "uint64" => v.is_u64(),
            "string" => v.is_string(),
            "[]string" => v
                .as_array()
                .is_some_and(|a| a.iter().all(|x| x.is_string())),
            _ => v.is_object(),
        };
        if !ok && !v.is_null() {
            return Err(unmarshal_error(v, "", k, ty));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_wording() {
        let e = check_changefeed_config(&json!({"start_ts": "x"})).unwrap_err();
        assert_eq!(
            e.text(),
            "[CDC:ErrAPIInvalidParam]invalid api parameter: json: cannot unmarshal string into Go struct field ChangefeedConfig.start_ts of type uint64"
        );
        let e = unmarshal_error(&json!(-1), "replica_config", "memory_quota", "uint64");
        assert!(e.msg.ends_with("cannot unmarshal number -1 into Go struct field ReplicaConfig.replica_config.memory_quota of type uint64"), "{}", e.msg);
        let e = unmarshal_error(&json!(true), "replica_config.sink.csv", "quote", "string");
        assert!(e
            .msg
            .contains("Go struct field CSVConfig.replica_config.sink.csv.quote of type string"));
    }
}
