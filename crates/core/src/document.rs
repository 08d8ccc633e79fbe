//! The one JSON envelope of every document cdcform prints or serves (a plan, the plans of
//! several clusters, status, reconcile's `/status`): `format_version` and `kind` first, so a
//! script can tell what it reads and whether it knows that version.

use serde_json::{Map, Value};

/// The version of every JSON document's shape; raised when a field changes meaning or goes.
/// 2: a `state` change's `before`/`after` are `{"manifest": …, "ticdc": …}` objects, no longer
/// display strings such as `"paused (stopped)"`.
pub const FORMAT_VERSION: u32 = 2;

/// `body` (an object) with `format_version` and `kind` in front; anything else is put under
/// `"value"`.
pub fn envelope(kind: &str, body: Value) -> Value {
    let mut doc = Map::new();
    doc.insert("format_version".into(), FORMAT_VERSION.into());
    doc.insert("kind".into(), kind.into());
    match body {
        Value::Object(fields) => {
            for (k, v) in fields {
                if k != "format_version" && k != "kind" {
                    doc.insert(k, v);
                }
            }
        }
        other => {
            doc.insert("value".into(), other);
        }
    }
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_envelope_comes_first_and_keeps_the_rest_in_order() {
        let v = super::envelope(
            "status",
            serde_json::json!({"b": 1, "format_version": 9, "a": 2}),
        );
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["format_version", "kind", "b", "a"]);
        assert_eq!(v["format_version"], super::FORMAT_VERSION);
        assert_eq!(v["kind"], "status");
    }
}
