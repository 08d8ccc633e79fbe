//! Reading manifest files: paths and directories, size and encoding checks, YAML (several documents
//! per file) into a tree of nodes that remember their line and column.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::diagnostics::Diagnostic;

/// Files above this size are refused before they are parsed.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// Deepest nesting accepted (a manifest needs about 8 levels).
pub const MAX_DEPTH: usize = 32;

/// A YAML node with its position (1-based line and column; 0 when unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: usize,
    pub column: usize,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Kind {
    /// The JSON Schema type name of this node.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool(_) => "boolean",
            Kind::Int(_) => "integer",
            Kind::Float(_) => "number",
            Kind::Str(_) => "string",
            Kind::Seq(_) => "array",
            Kind::Map(_) => "object",
        }
    }
}

impl Node {
    /// The mapping value under `key`, when this is a mapping with a string key `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(&k.kind, Kind::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Follow a dotted path of mapping keys and sequence indexes.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        let mut n = self;
        for p in path {
            n = match &n.kind {
                Kind::Seq(items) => items.get(p.parse::<usize>().ok()?)?,
                _ => n.get(p)?,
            };
        }
        Some(n)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The node as JSON (keys rendered as strings).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => {
                if let Ok(u) = u64::try_from(*i) {
                    Value::from(u)
                } else if let Ok(s) = i64::try_from(*i) {
                    Value::from(s)
                } else {
                    Value::from(*i as f64)
                }
            }
            Kind::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.key_text(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// A mapping key as text.
    pub fn key_text(&self) -> String {
        match &self.kind {
            Kind::Str(s) => s.clone(),
            // `null:` as a key (TiCDC's csv `null` option) reads as a YAML null.
            Kind::Null => "null".into(),
            Kind::Bool(b) => b.to_string(),
            Kind::Int(i) => i.to_string(),
            Kind::Float(f) => f.to_string(),
            Kind::Seq(_) | Kind::Map(_) => "<complex key>".into(),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Spanned::<Kind>::deserialize(d)?;
        Ok(Node {
            line: s.referenced.line() as usize,
            column: s.referenced.column() as usize,
            kind: s.value,
        })
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Int(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::Int(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Kind, E> {
        Ok(Kind::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Kind, E> {
        i128::try_from(v)
            .map(Kind::Int)
            .map_err(|_| E::custom("integer too large"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Kind, E> {
        Err(E::custom("binary values are not supported in manifests"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(n) = seq.next_element::<Node>()? {
            items.push(n);
        }
        Ok(Kind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<Node>()? {
            let v = map.next_value::<Node>()?;
            entries.push((k, v));
        }
        Ok(Kind::Map(entries))
    }
}

fn diag(file: &Path, line: usize, column: usize, message: String, help: &str) -> Diagnostic {
    Diagnostic {
        file: file.to_path_buf(),
        line,
        column,
        message,
        help: if help.is_empty() {
            None
        } else {
            Some(help.to_string())
        },
        source: None,
    }
}

/// Line and column (1-based) of a byte offset.
pub fn line_col(text: &[u8], offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    (line, column)
}

/// Check raw bytes before parsing: UTF-8, no NUL bytes (binary files).
pub fn check_bytes(file: &Path, bytes: &[u8]) -> Result<String, Diagnostic> {
    if let Some(pos) = bytes.iter().position(|b| *b == 0) {
        let (l, c) = line_col(bytes, pos);
        return Err(diag(
            file,
            l,
            c,
            format!("binary data (a NUL byte at byte offset {pos}), not a YAML manifest"),
            "point cdcform at YAML manifests only",
        ));
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.strip_prefix('\u{feff}').unwrap_or(s).to_string()),
        Err(e) => {
            let pos = e.valid_up_to();
            let (l, c) = line_col(bytes, pos);
            Err(diag(
                file,
                l,
                c,
                format!(
                    "file is not valid UTF-8 (invalid byte 0x{:02x} at byte offset {pos})",
                    bytes[pos]
                ),
                "save the file as UTF-8",
            ))
        }
    }
}

fn parse_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_documents = 1_000;
    budget.max_nodes = 2_000_000;
    budget.max_events = 4_000_000;
    budget.max_reader_input_bytes = Some(MAX_FILE_BYTES as usize);
    let mut alias_limits = serde_saphyr::options::AliasLimits::default();
    alias_limits.max_total_replayed_events = 100_000;
    alias_limits.max_replay_stack_depth = 16;
    alias_limits.max_alias_expansions_per_anchor = 100;
    let mut o = serde_saphyr::Options::default();
    o.budget = Some(budget);
    o.alias_limits = alias_limits;
    o.duplicate_keys = serde_saphyr::options::DuplicateKeyPolicy::Error;
    o.with_snippet = false;
    o.strict_booleans = true;
    o
}

/// Parse YAML text (one or more documents) into nodes. Empty documents are skipped.
pub fn parse_documents(file: &Path, text: &str) -> Result<Vec<Node>, Diagnostic> {
    if let Some(pos) = tab_indent(text) {
        let (l, c) = line_col(text.as_bytes(), pos);
        return Err(diag(
            file,
            l,
            c,
            "tab character used for indentation".into(),
            "YAML indentation must use spaces; replace the tab with spaces",
        ));
    }
    let docs: Vec<Option<Node>> =
        serde_saphyr::from_str_multiple_with_options(text, parse_options()).map_err(|e| {
            let (line, column) = e
                .location()
                .map_or((0, 0), |l| (l.line() as usize, l.column() as usize));
            let message = yaml_message(&e.to_string());
            diag(file, line, column, message, yaml_help(&e.to_string()))
        })?;
    Ok(docs
        .into_iter()
        .flatten()
        .filter(|n| n.kind != Kind::Null)
        .collect())
}

/// Byte offset of a tab in the indentation of a line (outside block scalars we cannot know cheaply,
/// so any tab before the first non-blank character counts).
fn tab_indent(text: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        for (i, ch) in line.char_indices() {
            match ch {
                ' ' => continue,
                '\t' => return Some(offset + i),
                _ => break,
            }
        }
        offset += line.len();
    }
    None
}

fn yaml_message(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or(raw).trim();
    // serde-saphyr appends " at line L column C"; the location is reported separately.
    let cut = first.find(" at line ").map_or(first, |p| &first[..p]);
    if cut.contains("Depth {") || cut.contains("recursion limit") {
        return format!("invalid YAML: nesting is deeper than {MAX_DEPTH} levels");
    }
    if cut.contains("alias replay limit") || cut.contains("Aliases {") {
        return format!("invalid YAML: too many alias expansions ({cut})");
    }
    if let Some(rest) = cut.strip_prefix("duplicate mapping key: ") {
        let key = rest
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(rest);
        return format!("invalid YAML: duplicate key `{key}` in one mapping");
    }
    format!("invalid YAML: {cut}")
}

fn yaml_help(raw: &str) -> &'static str {
    let l = raw.to_ascii_lowercase();
    if l.contains("duplicate") {
        "remove or rename one of the duplicate keys"
    } else if l.contains("alias") || l.contains("anchor") {
        "expand the anchors by hand; cdcform limits YAML alias expansion"
    } else if l.contains("depth") || l.contains("nesting") {
        "manifests need only a few levels of nesting; flatten the document"
    } else if l.contains("budget") {
        "the document is too large or complex for a manifest; split it"
    } else {
        "fix the YAML syntax at this position"
    }
}

/// Read one file: size limit (checked before reading), encoding.
pub fn read_text(path: &Path) -> Result<String, Diagnostic> {
    let meta = std::fs::metadata(path).map_err(|e| {
        diag(
            path,
            0,
            0,
            format!("cannot read file: {e}"),
            "check the path and its permissions",
        )
    })?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(diag(
            path,
            0,
            0,
            format!(
                "file is too large ({} bytes; the limit is {MAX_FILE_BYTES} bytes)",
                meta.len()
            ),
            "split the manifests into several smaller files",
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        diag(
            path,
            0,
            0,
            format!("cannot read file: {e}"),
            "check the path and its permissions",
        )
    })?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(diag(
            path,
            0,
            0,
            format!("file is too large (more than {MAX_FILE_BYTES} bytes)"),
            "split the manifests into several smaller files",
        ));
    }
    check_bytes(path, &bytes)
}

/// Expand path arguments: files as given, directories to every `*.yaml`/`*.yml` below them, sorted.
/// Returns the files found and a problem for each path that could not be read.
/// A file or folder below a manifest directory that is hidden (`.github/`, `.gitlab-ci.yml`):
/// never read, as terraform reads only its own files.
fn hidden(e: &walkdir::DirEntry) -> bool {
    e.depth() > 0 && e.file_name().to_string_lossy().starts_with('.')
}

/// Whether a YAML file found in a directory is a manifest: one of its documents has the
/// top-level key `changefeeds` (CI workflows, Kubernetes objects and the like do not). Files
/// named on the command line are always read, so their mistakes are reported.
pub fn looks_like_manifest(text: &str) -> bool {
    text.lines().any(|l| {
        l.strip_prefix("changefeeds")
            .is_some_and(|r| r.trim_start().starts_with(':'))
    })
}

/// The manifest files under `paths`: each file named, and the `*.yaml`/`*.yml` files below each
/// directory (hidden ones left out), sorted; with each, whether it was named (`true`) or found.
pub fn expand_paths(paths: &[PathBuf]) -> (Vec<(PathBuf, bool)>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            let walk = walkdir::WalkDir::new(p).follow_links(true).max_depth(64);
            for entry in walk.into_iter().filter_entry(|e| !hidden(e)) {
                match entry {
                    Ok(e) => {
                        let is_yaml = e
                            .path()
                            .extension()
                            .and_then(|x| x.to_str())
                            .is_some_and(|x| x == "yaml" || x == "yml");
                        if e.file_type().is_file() && is_yaml {
                            found.push(e.into_path());
                        }
                    }
                    Err(e) => errs.push(diag(
                        e.path().unwrap_or(p),
                        0,
                        0,
                        format!("cannot read directory: {e}"),
                        "check the path and its permissions",
                    )),
                }
            }
            found.sort();
            out.extend(found.into_iter().map(|f| (f, false)));
        } else if p.exists() {
            out.push((p.clone(), true));
        } else {
            errs.push(diag(
                p,
                0,
                0,
                "no such file or directory".into(),
                "pass an existing manifest file or directory",
            ));
        }
    }
    (out, errs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Vec<Node>, Diagnostic> {
        parse_documents(Path::new("t.yaml"), text)
    }

    #[test]
    fn nodes_have_positions() {
        let docs = p("a:\n  b: [1, \"x\"]\n---\nc: true\n").unwrap();
        assert_eq!(docs.len(), 2);
        let b = docs[0].at(&["a", "b"]).unwrap();
        assert_eq!((b.line, b.column), (2, 6));
        let x = docs[0].at(&["a", "b", "1"]).unwrap();
        assert_eq!(x.kind, Kind::Str("x".into()));
        assert_eq!((x.line, x.column), (2, 10));
        assert_eq!(docs[1].get("c").unwrap().kind, Kind::Bool(true));
    }

    #[test]
    fn hostile_yaml_is_refused() {
        let dup = p("a: 1\na: 2\n").unwrap_err();
        assert!(dup.message.contains("duplicate"), "{dup:?}");
        let tab = p("a:\n\tb: 1\n").unwrap_err();
        assert_eq!((tab.line, tab.column), (2, 1));
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(p(&deep).is_err());
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..12 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("b{}", i - 1)
            };
            bomb.push_str(&format!(
                "b{i}: &b{i} [{}]\n",
                vec![format!("*{prev}"); 10].join(", ")
            ));
        }
        let e = p(&bomb).unwrap_err();
        eprintln!("{e:?} {dup:?}");
        assert!(check_bytes(Path::new("x"), b"a: \xff\n").is_err());
        assert!(check_bytes(Path::new("x"), b"a\0b").is_err());
    }
}
