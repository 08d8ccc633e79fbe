//! JSON values to regorus values in one walk (no JSON text, no serde round trip), with each
//! object key allocated once, and the size in bytes the value has as JSON text.

use std::collections::{BTreeMap, HashMap};

use regorus::Value;
use serde_json::{Map, Value as Json};

/// Converts JSON values to regorus values; object keys seen before are shared (a plan's
/// thousand entries repeat a few dozen keys).
#[derive(Default)]
pub struct Converter {
    keys: HashMap<String, Value>,
}

impl Converter {
    /// The regorus value of `v`, as regorus' own deserializer makes it from the same JSON.
    pub fn value(&mut self, v: &Json) -> Value {
        match v {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => number(n),
            Json::String(s) => Value::String(s.as_str().into()),
            Json::Array(a) => Value::from(a.iter().map(|x| self.value(x)).collect::<Vec<_>>()),
            Json::Object(o) => Value::from(self.map(o)),
        }
    }

    /// The entries of an object, ready for more keys before `Value::from`.
    pub fn map(&mut self, o: &Map<String, Json>) -> BTreeMap<Value, Value> {
        o.iter()
            .map(|(k, v)| (self.key(k), self.value(v)))
            .collect()
    }

    /// An object key, shared with every earlier use of the same name.
    pub fn key(&mut self, k: &str) -> Value {
        if let Some(v) = self.keys.get(k) {
            return v.clone();
        }
        let v = Value::String(k.into());
        self.keys.insert(k.to_string(), v.clone());
        v
    }
}

/// serde_json numbers (without `arbitrary_precision`) are a u64, an i64 or a finite f64.
fn number(n: &serde_json::Number) -> Value {
    if let Some(u) = n.as_u64() {
        Value::from(u)
    } else if let Some(i) = n.as_i64() {
        Value::from(i)
    } else {
        Value::from(n.as_f64().unwrap_or_default())
    }
}

/// Counts the bytes of JSON text a value would take, without keeping them.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Bytes of `v` as compact JSON text (`serde_json::to_string(v).len()`).
pub fn json_size(v: &Json) -> usize {
    let mut size = ByteCount(0);
    let _ = serde_json::to_writer(&mut size, v);
    size.0
}

/// Whether two values are equal with their object keys in the same order: a walk that
/// allocates nothing, and stops at the first difference.
pub fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| same(p, q))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn converts_as_regorus_deserializes() {
        let v = json!({
            "s": "x\"y", "n": 1, "neg": -7, "f": 1.5, "big": u64::MAX, "b": true, "z": null,
            "a": [1, "two", {"k": []}], "o": {"inner": {"deep": [null, false]}}, "e": {},
        });
        let mut c = Converter::default();
        let mine = c.value(&v);
        let theirs: Value = serde_json::from_value(v.clone()).expect("regorus deserializes");
        assert_eq!(mine, theirs);
        assert_eq!(json_size(&v), serde_json::to_string(&v).unwrap().len());
    }

    #[test]
    fn same_is_ordered_equality() {
        let a = json!({"x": 1, "y": [1, {"z": 2}]});
        assert!(same(&a, &json!({"x": 1, "y": [1, {"z": 2}]})));
        assert!(!same(&a, &json!({"x": 1, "y": [1, {"z": 3}]})));
        assert!(!same(&a, &json!({"y": [1, {"z": 2}], "x": 1})));
        assert!(!same(&json!(1), &json!(1.0)));
    }
}
