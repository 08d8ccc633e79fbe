//! YAML for manifests written by `export`, through serde-saphyr's serializer (the crate that
//! parses manifests), which quotes every key or value YAML would read back as something else
//! (`null`, `true`, `~`, `1`, `- x`, …).

use serde_json::Value;

/// Block-style YAML of `v`. serde-saphyr cannot fail on a `serde_json::Value` (string keys,
/// finite numbers); should it ever, the JSON text (also valid YAML) is written instead.
pub fn to_string(v: &Value) -> String {
    serde_saphyr::to_string(v).unwrap_or_else(|_| {
        let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
        s.push('\n');
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn back(s: &str) -> Value {
        serde_saphyr::from_str(s).unwrap_or_else(|e| panic!("does not parse back: {e}\n{s}"))
    }

    #[test]
    fn keys_that_yaml_would_retype_are_quoted() {
        let v = json!({"null": 1, "true": "yes", "~": "~", "1": "1.0", "": "", "a: b": "x: y",
            "t": "\r\n", "p": "${X}", "n": null, "e": [], "o": {}, "- x": "#c",
            "l": [{"matcher": ["db.*"], "partition": "table"}, [1, 2]]});
        let s = to_string(&v);
        assert_eq!(back(&s), v, "{s}");
        assert!(s.contains("\"null\": 1"), "{s}");
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::String),
            prop::sample::select(vec![
                "null", "true", "~", "1", "0x1f", "1e3", "yes", "- a", "#", "a: b", "'", "\"",
                "${A}", " x ", "\n"
            ])
            .prop_map(|s| Value::String(s.to_string())),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,10}",
            prop::sample::select(vec![
                "null", "true", "false", "~", "1", "-1", "0.5", "yes", "No", "", "? x", "[a]",
                "{b}", "&a", "*a", "!t", "%", "@", "`"
            ])
            .prop_map(str::to_string),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256)
        ))]

        /// Emit → parse gives the same value back, for arbitrary keys and values.
        #[test]
        fn emit_then_parse_round_trips(m in prop::collection::btree_map(key(), value(), 0..6)) {
            let v = Value::Object(m.into_iter().collect());
            let s = to_string(&v);
            prop_assert_eq!(back(&s), v, "{}", s);
        }
    }
}
