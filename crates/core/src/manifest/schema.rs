//! `schema.json`: generated from the Rust types with schemars, and a checker for the subset of JSON Schema
//! that schemars emits (types, properties, required, additionalProperties, items, enum, anyOf/oneOf,
//! `$ref`, minimum/maximum, integer formats, the duration pattern), applied to YAML nodes so every
//! problem carries its line and column.

use std::path::Path;

use serde_json::Value;

use super::diagnostics::Diagnostic;
use super::load::{Kind, Node};
use super::types::{parse_go_duration, ManifestFile, DURATION_PATTERN};

/// The JSON Schema (draft-07, understood by yaml-language-server) of a manifest document.
pub fn json_schema() -> Value {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<ManifestFile>();
    let mut v = serde_json::to_value(schema).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "$schema".into(),
            Value::String("http://json-schema.org/draft-07/schema#".into()),
        );
        o.insert("title".into(), Value::String("cdcform manifest".into()));
        o.insert(
            "description".into(),
            Value::String(
                "TiCDC changefeeds as code: a `changefeeds` list; see docs/guide/manifests.md and docs/reference/manifest.md."
                    .into(),
            ),
        );
    }
    v
}

/// A schema problem: the path of the offending node (keys and indexes) and the diagnostic.
#[derive(Debug, Clone)]
pub struct SchemaError {
    pub path: Vec<String>,
    pub diagnostic: Diagnostic,
}

/// Check a YAML node against a JSON Schema; every problem is reported.
pub fn check(root_schema: &Value, node: &Node, file: &Path) -> Vec<SchemaError> {
    let c = Checker {
        root: root_schema,
        file,
    };
    let mut out = Vec::new();
    c.check(node, root_schema, &mut Vec::new(), &mut out);
    out
}

/// Check a node against the definition `def` of the manifest schema (e.g. `ReplicaConfig`), its
/// paths starting at `base` (for the messages): how a `replica_config_file`'s content, once in the
/// API's names, is type-checked like the manifest's own `replica_config`.
pub fn check_definition(
    root_schema: &Value,
    def: &str,
    node: &Node,
    file: &Path,
    base: &[&str],
) -> Vec<SchemaError> {
    let c = Checker {
        root: root_schema,
        file,
    };
    let defs = root_schema
        .get("definitions")
        .or_else(|| root_schema.get("$defs"));
    let Some(schema) = defs.and_then(|d| d.get(def)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut path: Vec<String> = base.iter().map(|s| s.to_string()).collect();
    c.check(node, schema, &mut path, &mut out);
    out
}

/// How a path is shown in messages: the part below the changefeed list item, e.g.
/// `replica_config.sink.dispatchers[0]`.
pub fn display_path(path: &[String]) -> String {
    let rest = if path.len() >= 2 && path[0] == "changefeeds" {
        &path[2..]
    } else {
        path
    };
    let mut s = String::new();
    for seg in rest {
        if seg.parse::<usize>().is_ok() {
            s.push_str(&format!("[{seg}]"));
        } else {
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(seg);
        }
    }
    if s.is_empty() {
        if path.len() >= 2 && path[0] == "changefeeds" {
            "the changefeed".into()
        } else {
            "the document".into()
        }
    } else {
        s
    }
}

/// The closest candidate to `word`, when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(&str, f64)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(&word.to_ascii_lowercase(), &c.to_ascii_lowercase());
        let dist = strsim::damerau_levenshtein(word, c);
        let close = score >= 0.85 || (dist <= 2 && word.len() > 2);
        if close && best.is_none_or(|(_, s)| score > s) {
            best = Some((c, score));
        }
    }
    best.map(|(c, _)| c)
}

/// Names users bring from TiCDC's own docs and `cdc cli --config` TOML files, and the
/// manifest's name for each (only where that name is a key at this place).
fn legacy_key(key: &str, names: &[&str]) -> Option<String> {
    const RENAMED: &[(&str, &str, &str)] = &[
        ("changefeed-id", "id", "TiCDC's `changefeed-id`"),
        ("changefeed_id", "id", "the API's `changefeed_id`"),
        ("sink-uri", "sink_uri", "`cdc cli`'s `sink-uri`"),
        (
            "dispatcher",
            "partition",
            "the legacy `dispatcher` of a dispatch rule",
        ),
        ("start-ts", "start_ts", "`cdc cli`'s `start-ts`"),
        ("target-ts", "target_ts", "`cdc cli`'s `target-ts`"),
        // TiCDC crosses these two: the TOML `tls-certificate-file` (Go `TLSCertificateFile`)
        // is the API's `tls-private-key-path`, and the TOML `tls-key-file-path` (Go
        // `TLSKeyFilePath`) the API's `tls-certificate-path` (tiflow pkg/config/sink.go and
        // cdc/api/v2/model.go `PulsarConfig` JSON tags). The closest name by spelling would
        // swap the certificate and the key.
        (
            "tls-certificate-file",
            "tls-private-key-path",
            "`cdc cli`'s `tls-certificate-file` (TiCDC crosses the Pulsar TLS names: the API calls this file `tls-private-key-path`, not `tls-certificate-path`)",
        ),
        (
            "tls-key-file-path",
            "tls-certificate-path",
            "`cdc cli`'s `tls-key-file-path` (TiCDC crosses the Pulsar TLS names: the API calls this file `tls-certificate-path`, not `tls-private-key-path`)",
        ),
    ];
    if let Some((_, ours, what)) = RENAMED
        .iter()
        .find(|(old, ours, _)| *old == key && names.contains(ours))
    {
        return Some(format!("{what} is `{ours}` in a manifest"));
    }
    let snake = key.replace('-', "_");
    (key.contains('-') && names.contains(&snake.as_str())).then(|| {
        format!(
            "`{key}` is the TOML name of `cdc cli --config` files; manifests use the API's name `{snake}`"
        )
    })
}

struct Checker<'a> {
    root: &'a Value,
    file: &'a Path,
}

fn type_list(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

fn type_matches(kind: &Kind, ty: &str) -> bool {
    matches!(
        (ty, kind),
        ("null", Kind::Null)
            | ("boolean", Kind::Bool(_))
            | ("integer", Kind::Int(_))
            | ("number", Kind::Int(_) | Kind::Float(_))
            | ("string", Kind::Str(_))
            | ("array", Kind::Seq(_))
            | ("object", Kind::Map(_))
    )
}

fn describe(kind: &Kind) -> String {
    match kind {
        Kind::Str(s) if s.chars().count() <= 40 => format!("string \"{s}\""),
        Kind::Int(i) => format!("integer {i}"),
        Kind::Bool(b) => format!("boolean {b}"),
        other => other.type_name().to_string(),
    }
}

impl<'a> Checker<'a> {
    fn resolve(&self, mut s: &'a Value) -> &'a Value {
        for _ in 0..32 {
            let Some(r) = s.get("$ref").and_then(Value::as_str) else {
                return s;
            };
            let Some(ptr) = r.strip_prefix('#') else {
                return s;
            };
            match self.root.pointer(ptr) {
                Some(t) => s = t,
                None => return s,
            }
        }
        s
    }

    fn err(&self, node: &Node, path: &[String], message: String, help: String) -> SchemaError {
        SchemaError {
            path: path.to_vec(),
            diagnostic: Diagnostic {
                file: self.file.to_path_buf(),
                line: node.line,
                column: node.column,
                message,
                help: Some(help),
                source: None,
            },
        }
    }

    /// The allowed values when the schema is an `enum` or a `oneOf`/`anyOf` of `const`s.
    fn enum_values(&self, schema: &'a Value) -> Option<Vec<Value>> {
        let schema = self.resolve(schema);
        if let Some(e) = schema.get("enum").and_then(Value::as_array) {
            return Some(e.clone());
        }
        let alts = schema
            .get("oneOf")
            .or_else(|| schema.get("anyOf"))
            .and_then(Value::as_array)?;
        alts.iter()
            .map(|a| self.resolve(a).get("const").cloned())
            .collect()
    }

    /// Whether a schema could accept a node of this kind (ignoring the value).
    fn accepts_kind(&self, schema: &'a Value, kind: &Kind) -> bool {
        let schema = self.resolve(schema);
        if let Some(alts) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
        {
            return alts.iter().any(|a| self.accepts_kind(a, kind));
        }
        let tys = type_list(schema);
        tys.is_empty() || tys.iter().any(|t| type_matches(kind, t))
    }

    /// Short human description of what a schema accepts.
    fn expected(&self, schema: &'a Value) -> String {
        let schema = self.resolve(schema);
        if let Some(values) = self.enum_values(schema) {
            let names: Vec<String> = values
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect();
            return format!("one of {}", names.join(", "));
        }
        if let Some(alts) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
        {
            let mut parts: Vec<String> = alts
                .iter()
                .filter(|a| type_list(self.resolve(a)) != ["null"])
                .map(|a| self.expected(a))
                .collect();
            parts.dedup();
            return parts.join(" or ");
        }
        if schema.get("pattern").and_then(Value::as_str) == Some(DURATION_PATTERN) {
            return "a duration string".into();
        }
        let tys: Vec<&str> = type_list(schema)
            .into_iter()
            .filter(|t| *t != "null")
            .collect();
        let words: Vec<&str> = tys
            .iter()
            .map(|t| match *t {
                "object" => "a mapping",
                "array" => "a list",
                "integer" => "an integer",
                "number" => "a number",
                "boolean" => "a boolean (true or false)",
                "string" => "a string",
                _ => "a value",
            })
            .collect();
        if words.is_empty() {
            "a value".into()
        } else {
            words.join(" or ")
        }
    }

    fn type_error(&self, node: &Node, schema: &'a Value, path: &[String]) -> SchemaError {
        if path.is_empty() {
            return self.err(
                node,
                path,
                format!(
                    "a manifest document must be a mapping with a `changefeeds` list, found {}",
                    describe(&node.kind)
                ),
                "start the document with `changefeeds:` and list the changefeeds below it".into(),
            );
        }
        let expected = self.expected(schema);
        let help = match &node.kind {
            Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) | Kind::Null
                if expected == "a string" =>
            {
                format!(
                    "quote the value to make it a string: \"{}\"",
                    node.key_text()
                )
            }
            _ => format!("write {expected} here"),
        };
        self.err(
            node,
            path,
            format!(
                "wrong type for {}: expected {expected}, found {}",
                display_path(path),
                describe(&node.kind)
            ),
            help,
        )
    }

    fn check(
        &self,
        node: &Node,
        schema: &'a Value,
        path: &mut Vec<String>,
        out: &mut Vec<SchemaError>,
    ) {
        let schema = self.resolve(schema);
        if let Some(values) = self.enum_values(schema) {
            let v = node.to_json();
            if !values.contains(&v) {
                let names: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
                let shown = match &node.kind {
                    Kind::Str(s) => s.clone(),
                    k => describe(k),
                };
                let help = match node.as_str().and_then(|s| {
                    // TiCDC's own words for the states cdcform calls paused, running and absent.
                    let alias = match s {
                        "stopped" | "stop" | "pause" => "paused",
                        "normal" | "run" | "started" => "running",
                        "removed" | "deleted" | "delete" => "absent",
                        _ => "",
                    };
                    if names.contains(&alias) {
                        Some(alias)
                    } else {
                        did_you_mean(s, names.iter().copied())
                    }
                }) {
                    Some(m) => format!("did you mean `{m}`?"),
                    None => format!("use one of: {}", names.join(", ")),
                };
                out.push(self.err(
                    node,
                    path,
                    format!(
                        "unknown {} `{shown}`: expected one of {}",
                        display_path(path),
                        names.join(", ")
                    ),
                    help,
                ));
            }
            return;
        }
        if let Some(alts) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
        {
            let mut best: Option<Vec<SchemaError>> = None;
            for alt in alts {
                let mut errs = Vec::new();
                self.check(node, alt, path, &mut errs);
                if errs.is_empty() {
                    return;
                }
                if best.is_none() && self.accepts_kind(alt, &node.kind) {
                    best = Some(errs);
                }
            }
            match best {
                Some(errs) => out.extend(errs),
                None => out.push(self.type_error(node, schema, path)),
            }
            return;
        }
        let tys = type_list(schema);
        if !tys.is_empty() && !tys.iter().any(|t| type_matches(&node.kind, t)) {
            out.push(self.type_error(node, schema, path));
            return;
        }
        match &node.kind {
            Kind::Map(entries) => self.check_object(node, entries, schema, path, out),
            Kind::Seq(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        path.push(i.to_string());
                        self.check(item, item_schema, path, out);
                        path.pop();
                    }
                }
            }
            Kind::Int(i) => self.check_int(node, *i, schema, path, out),
            Kind::Str(s)
                if schema.get("pattern").and_then(Value::as_str) == Some(DURATION_PATTERN) =>
            {
                if let Err(e) = parse_go_duration(s) {
                    out.push(self.err(
                        node,
                        path,
                        format!("{} in {}", e.split(':').next().unwrap_or(&e), display_path(path)),
                        "write a number of nanoseconds or a Go duration such as \"30s\", \"10m\", \"1h30m\"".into(),
                    ));
                }
            }
            _ => {}
        }
    }

    fn check_int(
        &self,
        node: &Node,
        i: i128,
        schema: &Value,
        path: &[String],
        out: &mut Vec<SchemaError>,
    ) {
        let (lo, hi): (i128, i128) = match schema.get("format").and_then(Value::as_str) {
            Some("uint64") => (0, u64::MAX as i128),
            Some("int64") => (i64::MIN as i128, i64::MAX as i128),
            Some("uint32") => (0, u32::MAX as i128),
            Some("int32") => (i32::MIN as i128, i32::MAX as i128),
            Some("uint16") => (0, u16::MAX as i128),
            Some("int16") => (i16::MIN as i128, i16::MAX as i128),
            _ => (i128::MIN, i128::MAX),
        };
        let lo = schema
            .get("minimum")
            .and_then(Value::as_f64)
            .map_or(lo, |m| lo.max(m as i128));
        let hi = schema
            .get("maximum")
            .and_then(Value::as_f64)
            .map_or(hi, |m| hi.min(m as i128));
        if i < lo || i > hi {
            out.push(self.err(
                node,
                path,
                format!(
                    "{} is out of range for {}: allowed {lo}..={hi}",
                    i,
                    display_path(path)
                ),
                format!("use an integer between {lo} and {hi}"),
            ));
        }
    }

    fn check_object(
        &self,
        node: &Node,
        entries: &[(Node, Node)],
        schema: &'a Value,
        path: &mut Vec<String>,
        out: &mut Vec<SchemaError>,
    ) {
        let props = schema.get("properties").and_then(Value::as_object);
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        for (k, v) in entries {
            let key = match &k.kind {
                Kind::Str(s) => Some(s.clone()),
                Kind::Null => Some("null".to_string()),
                _ => None,
            };
            let Some(key) = &key else {
                out.push(self.err(
                    k,
                    path,
                    format!(
                        "mapping key in {} must be a string, found {}",
                        display_path(path),
                        describe(&k.kind)
                    ),
                    "write the key as plain text".into(),
                ));
                continue;
            };
            match props.and_then(|p| p.get(key)) {
                Some(sub) => {
                    path.push(key.clone());
                    self.check(v, sub, path, out);
                    path.pop();
                }
                None if closed => {
                    let names = props
                        .map(|p| p.keys().map(String::as_str).collect::<Vec<_>>())
                        .unwrap_or_default();
                    let help = match legacy_key(key, &names) {
                        Some(h) => h,
                        None => match did_you_mean(key, names.iter().copied()) {
                            Some(m) => format!("did you mean `{m}`?"),
                            None => format!("remove it; known keys here: {}", names.join(", ")),
                        },
                    };
                    let shown = display_path(path);
                    path.push(key.clone());
                    out.push(self.err(k, path, format!("unknown key `{key}` in {shown}"), help));
                    path.pop();
                }
                None => {
                    if let Some(extra) =
                        schema.get("additionalProperties").filter(|a| a.is_object())
                    {
                        path.push(key.clone());
                        self.check(v, extra, path, out);
                        path.pop();
                    }
                }
            }
        }
        if let Some(req) = schema.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                if node.get(r).is_none() {
                    out.push(self.err(
                        node,
                        path,
                        format!("missing required key `{r}` in {}", display_path(path)),
                        format!("add `{r}:` to this mapping"),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::load::parse_documents;

    fn errs(text: &str) -> Vec<String> {
        let f = Path::new("t.yaml");
        let doc = parse_documents(f, text).unwrap().remove(0);
        check(&json_schema(), &doc, f)
            .into_iter()
            .map(|e| e.diagnostic.message)
            .collect()
    }

    /// The Pulsar TLS names TiCDC crosses (tiflow pkg/config/sink.go `PulsarConfig`: Go
    /// `TLSCertificateFile` has the JSON name `tls-private-key-path`, `TLSKeyFilePath` the JSON
    /// name `tls-certificate-path`): the hint follows the crossing, not the spelling.
    #[test]
    fn pulsar_tls_hints_follow_the_api_crossing() {
        let names = ["tls-certificate-path", "tls-private-key-path"];
        let h = legacy_key("tls-certificate-file", &names).unwrap();
        assert!(h.contains("is `tls-private-key-path` in a manifest"), "{h}");
        let h = legacy_key("tls-key-file-path", &names).unwrap();
        assert!(h.contains("is `tls-certificate-path` in a manifest"), "{h}");
    }

    #[test]
    fn did_you_mean_finds_typos_only() {
        let keys = ["worker_num", "sink_uri", "replica_config"];
        assert_eq!(did_you_mean("worker_nmu", keys), Some("worker_num"));
        assert_eq!(did_you_mean("sink-uri", keys), Some("sink_uri"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }

    #[test]
    fn paths_are_shown_below_the_changefeed() {
        let p = |v: &[&str]| display_path(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            p(&[
                "changefeeds",
                "0",
                "replica_config",
                "sink",
                "dispatchers",
                "1"
            ]),
            "replica_config.sink.dispatchers[1]"
        );
        assert_eq!(p(&["changefeeds", "3"]), "the changefeed");
        assert_eq!(p(&[]), "the document");
    }

    #[test]
    fn checks_types_enums_ranges_and_durations() {
        let base = "changefeeds:\n  - id: a\n    replica_config:\n";
        assert!(errs(&format!(
            "{base}      sync_point_interval: 1h30m\n      memory_quota: 5\n"
        ))
        .is_empty());
        assert_eq!(
            errs(&format!("{base}      sink: {{advance_timeout: 4294967296}}\n")),
            ["4294967296 is out of range for replica_config.sink.advance_timeout: allowed 0..=4294967295"]
        );
        assert_eq!(
            errs(&format!("{base}      consistent: {{level: all}}\n")),
            ["unknown replica_config.consistent.level `all`: expected one of none, eventual"]
        );
        assert_eq!(
            errs(&format!("{base}      check_gc_safe_point: yes\n")),
            ["wrong type for replica_config.check_gc_safe_point: expected a boolean (true or false), found string \"yes\""]
        );
        assert_eq!(
            errs(&format!("{base}      sync_point_interval: [1]\n")),
            ["wrong type for replica_config.sync_point_interval: expected an integer or a duration string, found array"]
        );
        let f = Path::new("t.yaml");
        let doc = parse_documents(f, "changefeeds:\n  - id: 123\n")
            .unwrap()
            .remove(0);
        let e = check(&json_schema(), &doc, f).remove(0).diagnostic;
        assert_eq!(
            e.message,
            "wrong type for id: expected a string, found integer 123"
        );
        assert_eq!(
            e.help.as_deref(),
            Some("quote the value to make it a string: \"123\"")
        );
        // `null:` is a key (the csv option), not a YAML null.
        assert!(errs(&format!("{base}      sink: {{csv: {{null: 'x'}}}}\n")).is_empty());
    }
}
