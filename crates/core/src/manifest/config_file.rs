//! `replica_config_file:` in a manifest: the `cdc cli` TOML file is read ([`super::cdc_toml`]),
//! type-checked against the manifest schema's `ReplicaConfig`, and merged under the changefeed's
//! own `replica_config` (a deep merge: the manifest's values win, field by field; a list is
//! replaced whole). The merged item then goes through the manifest checks like any other.
//!
//! The values that came from the TOML file keep their line and column in that file, shifted by
//! [`LINE_BASE`] so that a problem found later (by the semantic checks, which know one file per
//! item) can be moved back into the TOML file by the loader.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::diagnostics::Diagnostic;
use super::load::{self, Kind, Node};
use crate::ticdc::ServerProfile;

/// Added to the line of every node read from a TOML file while it sits in a manifest item.
pub const LINE_BASE: usize = 1 << 40;

/// A manifest item with its TOML file merged in.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The TOML file, resolved against the manifest's directory.
    pub path: PathBuf,
    /// The item as written, with the TOML values (positions shifted) under `replica_config`.
    pub located: Node,
    /// The item to load, likewise (values that failed a check taken out).
    pub item: Node,
    /// Some values of the TOML file failed a check and were taken out.
    pub broken: bool,
    /// `file:line:col` and a message per key only some versions' `cdc cli` know (read for any
    /// server): `validate` warns, a plan for a server that does not know it refuses it.
    pub limited: Vec<(String, String)>,
}

/// The TOML file's path, resolved against the manifest's directory.
pub fn resolve(manifest: &Path, written: &str) -> PathBuf {
    let p = Path::new(written);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    manifest
        .parent()
        .map_or_else(|| p.to_path_buf(), |d| d.join(p))
}

fn shift(node: &mut Node) {
    if node.line > 0 {
        node.line += LINE_BASE;
    }
    match &mut node.kind {
        Kind::Seq(items) => items.iter_mut().for_each(shift),
        Kind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            shift(k);
            shift(v);
        }),
        _ => {}
    }
}

/// The dotted paths of the leaves of `node` that came from the TOML file (shifted lines).
pub fn file_paths(node: &Node, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
    match &node.kind {
        Kind::Map(entries) if !entries.is_empty() => {
            for (k, v) in entries {
                let path = if prefix.is_empty() {
                    k.key_text()
                } else {
                    format!("{prefix}.{}", k.key_text())
                };
                file_paths(v, &path, out);
            }
        }
        _ if node.line >= LINE_BASE => {
            out.insert(prefix.to_string());
        }
        _ => {}
    }
}

/// `over` merged onto `base`: mappings key by key, anything else replaced.
pub fn deep_merge(base: &Node, over: &Node) -> Node {
    match (&base.kind, &over.kind) {
        (Kind::Map(b), Kind::Map(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                let key = k.key_text();
                match out.iter_mut().find(|(bk, _)| bk.key_text() == key) {
                    Some(slot) => slot.1 = deep_merge(&slot.1, v),
                    None => out.push((k.clone(), v.clone())),
                }
            }
            Node {
                line: over.line,
                column: over.column,
                kind: Kind::Map(out),
            }
        }
        _ => over.clone(),
    }
}

/// The same, on JSON values (for export and tests).
pub fn deep_merge_json(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(slot) => deep_merge_json(slot, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// `item` with `config` as its `replica_config`, merged under what the item already has.
fn with_config(item: &Node, config: &Node, key_at: &Node) -> Node {
    let Kind::Map(entries) = &item.kind else {
        return item.clone();
    };
    let nothing = matches!(&config.kind, Kind::Map(m) if m.is_empty());
    if nothing {
        return item.clone();
    }
    let mut entries = entries.clone();
    match entries
        .iter_mut()
        .find(|(k, _)| k.key_text() == "replica_config")
    {
        Some(slot) => slot.1 = deep_merge(config, &slot.1),
        None => entries.push((
            Node {
                line: key_at.line,
                column: key_at.column,
                kind: Kind::Str("replica_config".into()),
            },
            config.clone(),
        )),
    }
    Node {
        line: item.line,
        column: item.column,
        kind: Kind::Map(entries),
    }
}

/// Read and merge the file `at` (the item's `replica_config_file` value) names. Returns the
/// merged item (`None` when the value is not a string: the schema check reported it), the
/// problems found in the TOML file, and the file's text (for source snippets).
#[allow(clippy::type_complexity)]
pub fn merge(
    manifest: &Path,
    located: &Node,
    item: &Node,
    at: &Node,
    schema: &Value,
    target: Option<&ServerProfile>,
) -> (Option<Merged>, Vec<Diagnostic>, Option<(PathBuf, String)>) {
    let Some(written) = at.as_str() else {
        return (None, Vec::new(), None);
    };
    let path = resolve(manifest, written);
    let mut diags = Vec::new();
    let mut limited = Vec::new();
    let (config, broken, text) = match load::read_text(&path) {
        Err(mut d) => {
            // Reported at the manifest's `replica_config_file:` value.
            d.message = format!("replica_config_file `{written}`: {}", d.message);
            d.file = manifest.to_path_buf();
            d.line = at.line;
            d.column = at.column;
            diags.push(d);
            (
                Node {
                    line: 0,
                    column: 0,
                    kind: Kind::Map(Vec::new()),
                },
                true,
                None,
            )
        }
        Ok(text) => {
            let conv = super::cdc_toml::convert(&path, &text, target);
            for (line, column, key, versions) in &conv.limited {
                limited.push((
                    format!("{}:{line}:{column}", path.display()),
                    format!("`{key}` is known to `cdc cli` of {versions} only: the others refuse the file"),
                ));
            }
            let mut broken = !conv.diags.is_empty();
            diags.extend(conv.diags);
            let errors = super::schema::check_definition(
                schema,
                "ReplicaConfig",
                &conv.config,
                &path,
                &["replica_config"],
            );
            let mut config = conv.config;
            if !errors.is_empty() {
                broken = true;
                let paths: Vec<Vec<String>> = errors.iter().map(|e| e.path[1..].to_vec()).collect();
                diags.extend(
                    errors
                        .into_iter()
                        .map(|e| not_modelled(e.path, e.diagnostic)),
                );
                config = super::prune(&config, &paths).unwrap_or(Node {
                    line: 0,
                    column: 0,
                    kind: Kind::Map(Vec::new()),
                });
            }
            (config, broken, Some((path.clone(), text)))
        }
    };
    let mut shifted = config;
    shift(&mut shifted);
    let merged = Merged {
        located: with_config(located, &shifted, at),
        item: with_config(item, &shifted, at),
        path: path.clone(),
        broken,
        limited,
    };
    (Some(merged), diags, text)
}

/// A key `cdc cli` knows (it passed the TOML table) that the manifest format does not model
/// (none at present; it was pingcap/ticdc's storage spool keys once): say so, rather than "unknown key".
fn not_modelled(path: Vec<String>, mut d: Diagnostic) -> Diagnostic {
    if !d.message.starts_with("unknown key") {
        return d;
    }
    let json = path.last().map(String::as_str).unwrap_or("");
    let toml = super::cdc_toml_keys::KEYS
        .iter()
        .find(|k| k.json == json)
        .map_or(json, |k| k.toml);
    d.message = format!(
        "`{toml}` (the API's `{json}`) is a setting `cdc cli` knows but cdcform does not model yet"
    );
    d.help = Some(
        "remove it from the file (and set it with `cdc cli changefeed update` until cdcform knows it)"
            .into(),
    );
    d
}

/// The `replica_config_file`s of `desired` read again for the server that is now known: a key
/// its `cdc cli` does not know (one a later version added, or one it renamed) is refused, as that
/// `cdc cli`'s strict decode refuses it. Loading (without a server) took the keys of every version.
pub fn check_for_target(
    desired: &[super::DesiredChangefeed],
    profile: &ServerProfile,
) -> super::Diagnostics {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = super::Diagnostics::default();
    for path in desired
        .iter()
        .filter_map(|d| d.replica_config_file.as_ref())
    {
        if !seen.insert(path.clone()) {
            continue;
        }
        // Unreadable now: it was read a moment ago; the next run reports it.
        let Ok(text) = load::read_text(path) else {
            continue;
        };
        let conv = super::cdc_toml::convert(path, &text, Some(profile));
        let mut d = super::Diagnostics(conv.diags);
        d.attach_source(path, &text);
        out.0.extend(d.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn manifest_values_win_field_by_field() {
        let docs = load::parse_documents(
            Path::new("t"),
            "a: {b: 1, c: {d: 2, e: [1, 2]}}\n---\na: {c: {e: [3]}, f: 4}\n",
        )
        .unwrap();
        let m = deep_merge(&docs[0], &docs[1]);
        assert_eq!(
            m.to_json(),
            json!({"a": {"b": 1, "c": {"d": 2, "e": [3]}, "f": 4}})
        );
        let mut v = json!({"a": {"b": 1}});
        deep_merge_json(&mut v, &json!({"a": {"c": 2}}));
        assert_eq!(v, json!({"a": {"b": 1, "c": 2}}));
    }
}
