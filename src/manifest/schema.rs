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
                "TiCDC changefeeds as code: a `changefeeds` list; see README.md, section Manifests."
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

    /// Short human description of what a schema accepts.
    fn expected(&self, schema: &'a Value) -> String {
        let schema = self.resolve(schema);
        if let Some(alts) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
        {
            let mut parts: Vec<String> = alts
                .iter()
                .map(|a| self.expected(a))
                .filter(|s| s != "null")
                .collect();
            parts.dedup();
            return parts.join(" or ");
        }
        if let Some(e) = schema.get("enum").and_then(Value::as_array) {
            let names: Vec<String> = e
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            return format!("one of {}", names.join(", "));
        }
        let tys: Vec<&str> = type_list(schema)
            .into_iter()
            .filter(|t| *t != "null")
            .collect();
        let mut s = match tys.as_slice() {
            [] => "a value".to_string(),
            ["object"] => "a mapping".to_string(),
            ["array"] => "a list".to_string(),
            [t] => t.to_string(),
            many => many.join(" or "),
        };
        if schema.get("pattern").and_then(Value::as_str) == Some(DURATION_PATTERN) {
            s = "a duration string".into();
        }
        s
    }

    fn check(
        &self,
        node: &Node,
        schema: &'a Value,
        path: &mut Vec<String>,
        out: &mut Vec<SchemaError>,
    ) {
        let schema = self.resolve(schema);
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
                let alt_r = self.resolve(alt);
                let types = type_list(alt_r);
                let same_type = types.iter().any(|t| type_matches(&node.kind, t))
                    || (types.is_empty() && alt_r.get("enum").is_some());
                if same_type && best.is_none() {
                    best = Some(errs);
                }
            }
            match best {
                Some(errs) => out.extend(errs),
                None => out.push(self.err(
                    node,
                    path,
                    format!(
                        "wrong type for {}: expected {}, found {}",
                        display_path(path),
                        self.expected(schema),
                        describe(&node.kind)
                    ),
                    format!("write {} here", self.expected(schema)),
                )),
            }
            return;
        }
        if let Some(e) = schema.get("enum").and_then(Value::as_array) {
            let v = node.to_json();
            if !e.contains(&v) {
                let names: Vec<&str> = e.iter().filter_map(Value::as_str).collect();
                let shown = match &node.kind {
                    Kind::Str(s) => s.clone(),
                    k => describe(k),
                };
                let help = match node
                    .as_str()
                    .and_then(|s| did_you_mean(s, names.iter().copied()))
                {
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
        let tys = type_list(schema);
        if !tys.is_empty() && !tys.iter().any(|t| type_matches(&node.kind, t)) {
            out.push(self.err(
                node,
                path,
                format!(
                    "wrong type for {}: expected {}, found {}",
                    display_path(path),
                    self.expected(schema),
                    describe(&node.kind)
                ),
                format!("write {} here", self.expected(schema)),
            ));
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
            let Kind::Str(key) = &k.kind else {
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
                    let help = match did_you_mean(key, names.iter().copied()) {
                        Some(m) => format!("did you mean `{m}`?"),
                        None => format!("remove it; known keys here: {}", names.join(", ")),
                    };
                    out.push(self.err(
                        k,
                        path,
                        format!("unknown key `{key}` in {}", display_path(path)),
                        help,
                    ));
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
