//! A small YAML emitter for manifests written by `export`: block maps and sequences, every
//! string double-quoted with JSON escaping (valid YAML), so nothing is ever mis-typed.

use serde_json::Value;

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        && !k.starts_with('-');
    if plain {
        k.to_string()
    } else {
        serde_json::to_string(k).unwrap_or_default()
    }
}

/// Emit `v` at `indent` spaces. Maps and sequences go in block style; empty ones as `{}`/`[]`.
pub fn emit(out: &mut String, v: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                match child {
                    Value::Object(c) if !c.is_empty() => {
                        out.push_str(&format!("{pad}{}:\n", key(k)));
                        emit(out, child, indent + 2);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push_str(&format!("{pad}{}:\n", key(k)));
                        emit(out, child, indent + 2);
                    }
                    Value::Object(_) => out.push_str(&format!("{pad}{}: {{}}\n", key(k))),
                    Value::Array(_) => out.push_str(&format!("{pad}{}: []\n", key(k))),
                    other => out.push_str(&format!("{pad}{}: {}\n", key(k), scalar(other))),
                }
            }
        }
        Value::Array(a) => {
            for item in a {
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        let mut inner = String::new();
                        emit(&mut inner, item, indent + 2);
                        // First line of the item goes after "- ".
                        let trimmed = inner.trim_start_matches(' ');
                        out.push_str(&format!("{pad}- {trimmed}"));
                    }
                    Value::Array(x) if !x.is_empty() => {
                        out.push_str(&format!("{pad}-\n"));
                        emit(out, item, indent + 2);
                    }
                    other => out.push_str(&format!(
                        "{pad}- {}\n",
                        if other.is_object() {
                            "{}".into()
                        } else if other.is_array() {
                            "[]".into()
                        } else {
                            scalar(other)
                        }
                    )),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn emits_block_yaml() {
        let mut s = String::new();
        emit(
            &mut s,
            &json!({"a": {"b": [1, "x"]}, "rules": [{"matcher": ["db.*"], "partition": "table"}], "e": []}),
            0,
        );
        assert_eq!(s, "a:\n  b:\n    - 1\n    - \"x\"\nrules:\n  - matcher:\n      - \"db.*\"\n    partition: \"table\"\ne: []\n");
    }
}
