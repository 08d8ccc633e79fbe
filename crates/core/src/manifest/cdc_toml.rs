//! `replica_config_file:`: a changefeed's settings in the TOML file `cdc cli changefeed create
//! --config` reads, read the way `cdc cli` reads it for the target server.
//!
//! `cdc cli` decodes the file into its internal `ReplicaConfig` with a strict TOML decode
//! (tiflow `pkg/cmd/util/helper.go` `StrictDecodeFile`, the same in pingcap/ticdc
//! `cmd/util/helper.go`: any key the Go structs do not know is refused) and sends the API
//! model `ToAPIReplicaConfig` makes of it (tiflow `cdc/api/v2/model.go`). Here the file is read
//! into a tree that keeps each key's line and column, and each kebab-case TOML key is renamed to
//! its JSON name with the table in [`super::cdc_toml_keys`], so the result is checked, merged and
//! planned like a manifest's own `replica_config`.
//!
//! How `cdc cli` treats what is not a plain value:
//! - an empty table (`[sink.kafka-config]` with nothing below it) decodes into the defaults
//!   `cdc cli` starts from and changes nothing: it is left out;
//! - `dispatcher` in a dispatch rule is the legacy alias of `partition` (tiflow `pkg/config/sink.go`
//!   `validateAndAdjust` moves it over and refuses a rule that sets both);
//! - a key the API model has no field for is accepted and dropped, as `ToAPIReplicaConfig` drops it;
//! - keys match their Go tag exactly, or else case-insensitively (BurntSushi/toml's field lookup).

use std::fmt;
use std::ops::Range;
use std::path::Path;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::cdc_toml_keys::{Shape, TomlKey, Versions, ALL, KEYS, NEW, V7_5, V8_1, V8_5};
use super::diagnostics::Diagnostic;
use super::load::{line_col, Kind, Node};
use super::schema::did_you_mean;
use crate::ticdc::{Arch, ServerProfile};

/// The `cdc cli` versions whose TOML names apply to `target` (all of them when it is unknown, as
/// in `validate`), and how to name them in messages.
pub fn versions_for(target: Option<&ServerProfile>) -> (Versions, String) {
    match target {
        None => (ALL, "any supported TiCDC".into()),
        Some(p) if p.arch == Arch::Newarch => (NEW, format!("TiCDC {}", p.label())),
        Some(p) => {
            let v = (p.version.major, p.version.minor);
            let bit = if v >= (8, 5) {
                V8_5
            } else if v >= (8, 1) {
                V8_1
            } else {
                V7_5
            };
            (bit, format!("TiCDC {}", p.label()))
        }
    }
}

/// The versions in a bit set, for messages.
fn version_names(v: Versions) -> String {
    let mut out = Vec::new();
    for (bit, name) in [
        (V7_5, "tiflow v7.5"),
        (V8_1, "tiflow v8.1"),
        (V8_5, "tiflow v8.5"),
        (NEW, "pingcap/ticdc v8.5 (new architecture)"),
    ] {
        if v & bit != 0 {
            out.push(name);
        }
    }
    out.join(", ")
}

/// A TOML value with its byte span.
#[derive(Debug, Clone)]
struct TNode {
    span: Range<usize>,
    kind: TKind,
}

#[derive(Debug, Clone)]
enum TKind {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<TNode>),
    Table(Vec<(TKey, TNode)>),
}

#[derive(Debug, Clone)]
struct TKey {
    span: Range<usize>,
    name: String,
}

impl<'de> Deserialize<'de> for TNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct(SPANNED, &[SPAN_START, SPAN_END, SPAN_VALUE], NodeVisitor)
    }
}

/// A value with its span, or (an implicit table has none) the table alone.
struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = TNode;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a TOML value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TNode, A::Error> {
        let Some(first) = map.next_key::<TKey>()? else {
            return Ok(TNode {
                span: 0..0,
                kind: TKind::Table(Vec::new()),
            });
        };
        if first.name == SPAN_START {
            let start: usize = map.next_value()?;
            let mut end = start;
            let mut kind = None;
            while let Some(k) = map.next_key::<TKey>()? {
                match k.name.as_str() {
                    SPAN_END => end = map.next_value()?,
                    SPAN_VALUE => kind = Some(map.next_value::<TKind>()?),
                    _ => return Err(de::Error::custom("unexpected field in a TOML value")),
                }
            }
            let kind = kind.ok_or_else(|| de::Error::custom("a TOML value without a value"))?;
            return Ok(TNode {
                span: start..end,
                kind,
            });
        }
        let mut entries = vec![(first, map.next_value::<TNode>()?)];
        TVisitor::rest(&mut map, &mut entries)?;
        Ok(TNode {
            span: 0..0,
            kind: TKind::Table(entries),
        })
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<TNode, E> {
        unspanned(TVisitor.visit_bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<TNode, E> {
        unspanned(TVisitor.visit_i64(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<TNode, E> {
        unspanned(TVisitor.visit_u64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<TNode, E> {
        unspanned(TVisitor.visit_f64(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<TNode, E> {
        unspanned(TVisitor.visit_str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<TNode, A::Error> {
        unspanned(TVisitor.visit_seq(seq))
    }
}

fn unspanned<E>(k: Result<TKind, E>) -> Result<TNode, E> {
    k.map(|kind| TNode { span: 0..0, kind })
}

impl<'de> Deserialize<'de> for TKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TVisitor)
    }
}

struct TVisitor;

impl<'de> Visitor<'de> for TVisitor {
    type Value = TKind;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a TOML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<TKind, E> {
        Ok(TKind::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<TKind, E> {
        Ok(TKind::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<TKind, E> {
        i64::try_from(v)
            .map(TKind::Int)
            .map_err(|_| E::custom("integer too large"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<TKind, E> {
        Ok(TKind::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<TKind, E> {
        Ok(TKind::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<TKind, E> {
        Ok(TKind::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TKind, A::Error> {
        let mut items = Vec::new();
        while let Some(n) = seq.next_element::<TNode>()? {
            items.push(n);
        }
        Ok(TKind::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TKind, A::Error> {
        let mut entries = Vec::new();
        TVisitor::rest(&mut map, &mut entries)?;
        Ok(TKind::Table(entries))
    }
}

impl TVisitor {
    /// The remaining entries of a table.
    fn rest<'de, A: MapAccess<'de>>(
        map: &mut A,
        entries: &mut Vec<(TKey, TNode)>,
    ) -> Result<(), A::Error> {
        while let Some(TKey { span, name }) = map.next_key::<TKey>()? {
            // TOML date-times arrive as a one-key map; no changefeed setting is one.
            if name == "$__toml_private_datetime" {
                return Err(de::Error::custom(
                    "a TOML date-time is not a value any changefeed setting takes",
                ));
            }
            let v = map.next_value::<TNode>()?;
            entries.push((TKey { span, name }, v));
        }
        Ok(())
    }
}

// serde_spanned's protocol (what `toml::Spanned` asks for), by hand: the key of an implicit
// table (`sink` in a lone `[sink.kafka-config]`) has no span and arrives as a plain string,
// which `toml::Spanned` itself refuses.
const SPANNED: &str = "$__serde_spanned_private_Spanned";
const SPAN_START: &str = "$__serde_spanned_private_start";
const SPAN_END: &str = "$__serde_spanned_private_end";
const SPAN_VALUE: &str = "$__serde_spanned_private_value";

impl<'de> Deserialize<'de> for TKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a TOML key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TKey, E> {
                Ok(TKey {
                    span: 0..0,
                    name: v.to_owned(),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TKey, A::Error> {
                let (mut start, mut end, mut name) = (0usize, 0usize, None);
                while let Some(k) = map.next_key::<String>()? {
                    match k.as_str() {
                        SPAN_START => start = map.next_value()?,
                        SPAN_END => end = map.next_value()?,
                        SPAN_VALUE => name = Some(map.next_value::<String>()?),
                        _ => return Err(de::Error::custom("unexpected field in a TOML key")),
                    }
                }
                let name = name.ok_or_else(|| de::Error::custom("a TOML key without a name"))?;
                Ok(TKey {
                    span: start..end,
                    name,
                })
            }
        }
        d.deserialize_struct(SPANNED, &[SPAN_START, SPAN_END, SPAN_VALUE], V)
    }
}

/// What reading one file gave: the settings in the API's JSON names, positions in the TOML file
/// (1-based line and column), and the problems found.
#[derive(Debug, Clone)]
pub struct Converted {
    /// A mapping (possibly empty).
    pub config: Node,
    pub diags: Vec<Diagnostic>,
    /// Read for any server (no target): the keys only some versions' `cdc cli` know, with
    /// where they are and which versions know them.
    pub limited: Vec<(usize, usize, String, String)>,
}

struct Conv<'a> {
    file: &'a Path,
    text: &'a str,
    versions: Versions,
    target_label: String,
    diags: Vec<Diagnostic>,
    limited: Vec<(usize, usize, String, String)>,
}

impl Conv<'_> {
    fn pos(&self, span: &Range<usize>) -> (usize, usize) {
        line_col(self.text.as_bytes(), span.start)
    }

    /// Where a key is: its span, or (an implicit table's key has none) where its name first
    /// appears in a table header.
    fn key_span(&self, key: &TKey) -> Range<usize> {
        if !key.span.is_empty() {
            return key.span.clone();
        }
        let at = self
            .text
            .find(&format!("{}.", key.name))
            .or_else(|| self.text.find(&key.name))
            .unwrap_or(0);
        at..at + key.name.len()
    }

    fn push(&mut self, span: &Range<usize>, message: String, help: String) {
        let (line, column) = self.pos(span);
        self.diags.push(Diagnostic::new(
            self.file,
            line,
            column,
            message,
            Some(help),
        ));
    }

    fn node(&self, span: &Range<usize>, kind: Kind) -> Node {
        let (line, column) = self.pos(span);
        Node { line, column, kind }
    }

    /// The row for `key` in the table at `parent` (TOML path), known to the versions read.
    fn lookup(&self, parent: &str, key: &str) -> Option<&'static TomlKey> {
        let here = || {
            KEYS.iter()
                .filter(move |k| k.parent == parent && k.versions & self.versions != 0)
        };
        here()
            .find(|k| k.toml == key)
            .or_else(|| here().find(|k| k.toml.eq_ignore_ascii_case(key)))
    }

    fn unknown(&mut self, parent: &str, key: &TKey) {
        let shown_parent = if parent.is_empty() {
            "the top level".to_string()
        } else {
            format!("`[{parent}]`")
        };
        // Known to another version: the target's `cdc cli` refuses it.
        if let Some(other) = KEYS
            .iter()
            .find(|k| k.parent == parent && k.toml.eq_ignore_ascii_case(&key.name))
        {
            let help = match KEYS.iter().find(|k| {
                k.parent == parent
                    && k.json == other.json
                    && !other.json.is_empty()
                    && k.versions & self.versions != 0
            }) {
                Some(k) => format!("this version calls it `{}`", k.toml),
                None => format!(
                    "remove it, or target a server whose `cdc cli` knows it ({})",
                    version_names(other.versions)
                ),
            };
            self.push(
                &self.key_span(key),
                format!(
                    "`{}` in {shown_parent} is not known to `cdc cli` of {}: its strict decode refuses it (it exists in {})",
                    key.name,
                    self.target_label,
                    version_names(other.versions)
                ),
                help,
            );
            return;
        }
        let names: Vec<&str> = KEYS
            .iter()
            .filter(|k| k.parent == parent && k.versions & self.versions != 0)
            .map(|k| k.toml)
            .collect();
        // A manifest's snake_case name where the TOML wants kebab-case.
        let kebab = key.name.replace('_', "-");
        let help = if kebab != key.name && names.contains(&kebab.as_str()) {
            format!("`cdc cli` files use kebab-case names: did you mean `{kebab}`?")
        } else {
            match did_you_mean(&key.name, names.iter().copied()) {
                Some(m) => format!("did you mean `{m}`?"),
                None if names.is_empty() => "remove it".into(),
                None => format!("known keys here: {}", names.join(", ")),
            }
        };
        self.push(
            &self.key_span(key),
            format!(
                "unknown key `{}` in {shown_parent}: `cdc cli` refuses keys its config does not know",
                key.name
            ),
            help,
        );
    }

    /// A table at TOML path `parent` → a mapping of JSON names.
    fn table(&mut self, parent: &str, span: &Range<usize>, entries: &[(TKey, TNode)]) -> Node {
        let mut out: Vec<(Node, Node)> = Vec::new();
        let mut from_dispatcher: Option<&TKey> = None;
        let mut partition: Option<&TKey> = None;
        for (key, value) in entries {
            let Some(row) = self.lookup(parent, &key.name) else {
                self.unknown(parent, key);
                continue;
            };
            if parent == "sink.dispatchers" {
                match row.toml {
                    "dispatcher" => from_dispatcher = Some(key),
                    "partition" => partition = Some(key),
                    _ => {}
                }
            }
            let path = if parent.is_empty() {
                row.toml.to_string()
            } else {
                format!("{parent}.{}", row.toml)
            };
            // Only some versions know it (reported once, at the outermost such key).
            let inside_limited = self
                .limited
                .iter()
                .any(|(_, _, p, _)| path.starts_with(&format!("{p}.")));
            if self.versions == ALL && row.versions != ALL && !inside_limited {
                let (line, column) = self.pos(&self.key_span(key));
                self.limited
                    .push((line, column, path.clone(), version_names(row.versions)));
            }
            let converted = match (row.shape, &value.kind) {
                (Shape::Table, TKind::Table(inner)) => {
                    let t = self.table(&path, &value.span, inner);
                    // An empty table changes nothing of the defaults `cdc cli` starts from.
                    match &t.kind {
                        Kind::Map(m) if m.is_empty() => None,
                        _ => Some(t),
                    }
                }
                (Shape::Tables, TKind::Array(items)) => {
                    let mut list = Vec::new();
                    for item in items {
                        match &item.kind {
                            TKind::Table(inner) => list.push(self.table(&path, &item.span, inner)),
                            _ => self.push(
                                &item.span,
                                format!("`{path}` must be an array of tables"),
                                format!("write each item as a `[[{path}]]` table"),
                            ),
                        }
                    }
                    Some(self.node(&value.span, Kind::Seq(list)))
                }
                (Shape::Table | Shape::Tables, _) => {
                    let what = if row.shape == Shape::Table {
                        format!("a table (`[{path}]`)")
                    } else {
                        format!("an array of tables (`[[{path}]]`)")
                    };
                    self.push(
                        &value.span,
                        format!("`{path}` must be {what}"),
                        format!("write `{path}` as {what}"),
                    );
                    None
                }
                (Shape::Value, _) => Some(self.value(&path, value)),
            };
            // Accepted by `cdc cli`, no field in the API model: the server never sees it.
            if row.json.is_empty() {
                continue;
            }
            if let Some(v) = converted {
                let (line, column) = self.pos(&self.key_span(key));
                let k = Node {
                    line,
                    column,
                    kind: Kind::Str(row.json.to_string()),
                };
                if let Some(slot) = out.iter_mut().find(|(k, _)| k.key_text() == row.json) {
                    slot.1 = v;
                } else {
                    out.push((k, v));
                }
            }
        }
        if let (Some(d), Some(_)) = (from_dispatcher, partition) {
            self.push(
                &self.key_span(d),
                "a dispatch rule sets both `dispatcher` and `partition`: `cdc cli` refuses it"
                    .into(),
                "keep `partition` (`dispatcher` is its legacy name)".into(),
            );
        }
        self.node(span, Kind::Map(out))
    }

    fn value(&mut self, path: &str, v: &TNode) -> Node {
        let kind = match &v.kind {
            TKind::Bool(b) => Kind::Bool(*b),
            TKind::Int(i) => Kind::Int((*i).into()),
            TKind::Float(f) => Kind::Float(*f),
            TKind::Str(s) => Kind::Str(s.clone()),
            TKind::Array(items) => Kind::Seq(items.iter().map(|i| self.value(path, i)).collect()),
            TKind::Table(_) => {
                self.push(
                    &v.span,
                    format!("`{path}` is a value, not a table"),
                    format!("write `{path} = <value>`"),
                );
                Kind::Null
            }
        };
        self.node(&v.span, kind)
    }
}

/// Read the text of a `cdc cli` changefeed TOML file for the versions of `target` (any supported
/// server when `None`).
pub fn convert(file: &Path, text: &str, target: Option<&ServerProfile>) -> Converted {
    let (versions, target_label) = versions_for(target);
    let mut c = Conv {
        file,
        text,
        versions,
        target_label,
        diags: Vec::new(),
        limited: Vec::new(),
    };
    let root = match TKind::deserialize(toml::Deserializer::new(text)) {
        Ok(TKind::Table(entries)) => c.table("", &(0..0), &entries),
        Ok(_) => Node {
            line: 1,
            column: 1,
            kind: Kind::Map(Vec::new()),
        },
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().to_string();
            c.push(
                &span,
                format!("invalid TOML: {message}"),
                "fix the TOML syntax at this position".into(),
            );
            Node {
                line: 1,
                column: 1,
                kind: Kind::Map(Vec::new()),
            }
        }
    };
    Converted {
        config: root,
        diags: c.diags,
        limited: c.limited,
    }
}

/// The other direction, for `export --replica-config-files`: a `replica_config` in the API's JSON
/// names → the TOML table `cdc cli` of `versions` reads back into it, and what cannot go there
/// (keys that version's TOML does not have, secrets, which `keep_out` names by dotted JSON path,
/// lists with such items), left in the JSON for the manifest's own `replica_config`.
pub fn to_toml(
    config: &serde_json::Value,
    versions: Versions,
    keep_out: &dyn Fn(&str) -> bool,
) -> (toml::Table, serde_json::Map<String, serde_json::Value>) {
    let empty = serde_json::Map::new();
    let obj = config.as_object().unwrap_or(&empty);
    split_table(obj, "", "", versions, keep_out)
}

fn split_table(
    obj: &serde_json::Map<String, serde_json::Value>,
    toml_parent: &str,
    json_parent: &str,
    versions: Versions,
    keep_out: &dyn Fn(&str) -> bool,
) -> (toml::Table, serde_json::Map<String, serde_json::Value>) {
    use serde_json::Value as J;
    let mut table = toml::Table::new();
    let mut rest = serde_json::Map::new();
    for (k, v) in obj {
        if v.is_null() {
            continue;
        }
        let json_path = if json_parent.is_empty() {
            k.clone()
        } else {
            format!("{json_parent}.{k}")
        };
        // The current name, not the legacy alias (`partition`, not `dispatcher`).
        let row = KEYS.iter().find(|r| {
            r.parent == toml_parent
                && r.json == k
                && r.versions & versions != 0
                && r.toml != "dispatcher"
        });
        let Some(row) = row.filter(|_| !keep_out(&json_path)) else {
            rest.insert(k.clone(), v.clone());
            continue;
        };
        let toml_path = if toml_parent.is_empty() {
            row.toml.to_string()
        } else {
            format!("{toml_parent}.{}", row.toml)
        };
        match (row.shape, v) {
            (Shape::Table, J::Object(inner)) => {
                let (t, r) = split_table(inner, &toml_path, &json_path, versions, keep_out);
                if !t.is_empty() {
                    table.insert(row.toml.to_string(), toml::Value::Table(t));
                }
                if !r.is_empty() {
                    rest.insert(k.clone(), J::Object(r));
                }
            }
            (Shape::Tables, J::Array(items)) => {
                // A list is replaced whole by a manifest's list: all of it goes to one side.
                let mut out = Vec::new();
                for item in items {
                    match item {
                        J::Object(inner) => {
                            let (t, r) =
                                split_table(inner, &toml_path, &json_path, versions, keep_out);
                            if !r.is_empty() {
                                break;
                            }
                            out.push(toml::Value::Table(t));
                        }
                        _ => break,
                    }
                }
                if out.len() == items.len() {
                    table.insert(row.toml.to_string(), toml::Value::Array(out));
                } else {
                    rest.insert(k.clone(), v.clone());
                }
            }
            (Shape::Value, v) => match toml_value(v) {
                Some(t) => {
                    table.insert(row.toml.to_string(), t);
                }
                None => {
                    rest.insert(k.clone(), v.clone());
                }
            },
            _ => {
                rest.insert(k.clone(), v.clone());
            }
        }
    }
    (table, rest)
}

fn toml_value(v: &serde_json::Value) -> Option<toml::Value> {
    use serde_json::Value as J;
    Some(match v {
        J::Bool(b) => toml::Value::Boolean(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None if n.is_f64() => toml::Value::Float(n.as_f64()?),
            None => return None,
        },
        // `cdc cli` expands no `${VAR}`: a placeholder stays in the manifest, where cdcform does.
        J::String(s) if s.contains("${") => return None,
        J::String(s) => toml::Value::String(s.clone()),
        J::Array(items) => {
            toml::Value::Array(items.iter().map(toml_value).collect::<Option<Vec<_>>>()?)
        }
        J::Null | J::Object(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conv(text: &str, target: Option<&ServerProfile>) -> Converted {
        convert(Path::new("c.toml"), text, target)
    }

    #[test]
    fn names_are_mapped_with_positions() {
        let c = conv(
            "memory-quota = 1024\n[scheduler]\nregion-per-span = 1\n[mounter]\nworker-num = 8\n[sink]\nfile-index-digit = 10\n[[sink.dispatchers]]\nmatcher = ['a.*']\ndispatcher = \"ts\"\n[sink.pulsar-config]\ntls-certificate-file = \"k.pem\"\n[sink.kafka-config]\n",
            None,
        );
        assert!(c.diags.is_empty(), "{:?}", c.diags);
        assert_eq!(
            c.config.to_json(),
            json!({"memory_quota": 1024, "mounter": {"worker_num": 8},
                   "sink": {"file_index_width": 10,
                            "dispatchers": [{"matcher": ["a.*"], "partition": "ts"}],
                            "pulsar_config": {"tls-private-key-path": "k.pem"}}})
        );
        // `region-per-span`: `cdc cli` takes it, the API model has no field for it.
        let w = c.config.at(&["mounter", "worker_num"]).unwrap();
        assert_eq!((w.line, w.column), (5, 14));
    }

    #[test]
    fn unknown_keys_are_refused_at_their_line() {
        let c = conv("[mounter]\nworker_num = 8\nworkr-num = 2\n", None);
        assert_eq!(c.diags.len(), 2, "{:?}", c.diags);
        assert_eq!((c.diags[0].line, c.diags[0].column), (2, 1));
        assert!(c.diags[0].help.as_deref().unwrap().contains("`worker-num`"));
        assert_eq!((c.diags[1].line, c.diags[1].column), (3, 1));
        assert!(c.diags[1].help.as_deref().unwrap().contains("`worker-num`"));
    }

    #[test]
    fn a_key_another_version_knows() {
        let v75 = ServerProfile::classic(crate::ticdc::Version::new(7, 5, 0));
        let text = "[synced-status]\nsynced-check-interval = 300\n";
        assert!(conv(text, None).diags.is_empty());
        let c = conv(text, Some(&v75));
        assert_eq!(c.diags.len(), 1);
        assert!(c.diags[0].message.contains("not known to `cdc cli`"));
        // v7.5 names the Pulsar certificate file `tls-certificate-path`; later ones do not.
        let c = conv(
            "[sink.pulsar-config]\ntls-certificate-path = \"c.pem\"\n",
            Some(&ServerProfile::classic(crate::ticdc::Version::new(8, 5, 0))),
        );
        assert_eq!(c.diags.len(), 1, "{:?}", c.diags);
        let c = conv(
            "[sink.pulsar-config]\ntls-certificate-path = \"c.pem\"\n",
            Some(&v75),
        );
        assert!(c.diags.is_empty(), "{:?}", c.diags);
    }

    #[test]
    fn json_back_to_toml_round_trips() {
        let cfg = json!({"memory_quota": 1024, "mounter": {"worker_num": 8},
            "sink": {"file_index_width": 10, "protocol": "canal-json",
                     "dispatchers": [{"matcher": ["a.*"], "partition": "ts"}],
                     "kafka_config": {"sasl_password": "${X}", "sasl_user": "u",
                        "large_message_handle": {"claim_check_storage_uri": "s3://b/p?secret-access-key=${K}"}},
                     "advance_timeout_in_sec": 3}});
        let secret = |p: &str| p.ends_with("password");
        let (t, rest) = to_toml(&cfg, V8_5, &secret);
        assert_eq!(
            serde_json::Value::Object(rest),
            json!({"sink": {"kafka_config": {"sasl_password": "${X}",
                "large_message_handle": {"claim_check_storage_uri": "s3://b/p?secret-access-key=${K}"}},
                "advance_timeout_in_sec": 3}})
        );
        let text = toml::to_string(&t).unwrap();
        let back = conv(
            &text,
            Some(&ServerProfile::classic(crate::ticdc::Version::new(8, 5, 0))),
        );
        assert!(back.diags.is_empty(), "{text}\n{:?}", back.diags);
        assert_eq!(
            back.config.to_json(),
            json!({"memory_quota": 1024, "mounter": {"worker_num": 8},
                "sink": {"file_index_width": 10, "protocol": "canal-json",
                         "dispatchers": [{"matcher": ["a.*"], "partition": "ts"}],
                         "kafka_config": {"sasl_user": "u"}}})
        );
    }

    #[test]
    fn syntax_errors_are_located() {
        let c = conv("a = 1\n[sink\n", None);
        assert_eq!(c.diags.len(), 1);
        assert_eq!(c.diags[0].line, 2);
        let both = conv(
            "[[sink.dispatchers]]\nmatcher = ['a.*']\ndispatcher = 'ts'\npartition = 'table'\n",
            None,
        );
        assert_eq!(both.diags.len(), 1);
    }
}
