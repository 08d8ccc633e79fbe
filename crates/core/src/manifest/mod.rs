//! Desired state: manifest types, loading, `${VAR}` expansion, validation with file:line.
//!
//! [`load`] reads files and directories, [`load_str`] one text; both report every problem at once as
//! [`Diagnostics`]. The flow per document: YAML → [`load::Node`] tree (positions) → schema check
//! ([`schema::check`] against the schema generated from [`types`]) → `${VAR}` expansion ([`env`]) →
//! typed [`types::ChangefeedSpec`] → semantic checks ([`validate`]) → [`DesiredChangefeed`].

pub mod cdc_toml;
pub mod cdc_toml_keys;
pub mod compat;
pub mod config_file;
pub mod diagnostics;
pub mod env;
pub mod load;
pub mod schema;
pub mod sink_rules;
pub mod types;
pub mod validate;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

pub use diagnostics::{Diagnostic, Diagnostics};
pub use env::expand;
pub use load::{Kind, Node};
pub use schema::json_schema;

/// Where something was written: 1-based line and column.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Located {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Located {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Desired run state of a changefeed.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DesiredState {
    /// The changefeed exists and replicates (default).
    #[default]
    Running,
    /// The changefeed exists and is paused (`stopped`).
    Paused,
    /// The changefeed must not exist: cdcform deletes it.
    Absent,
}

/// One changefeed as the manifests want it. Its `Debug` output shows the templates, never the
/// expanded secret values.
#[derive(Clone, Default, PartialEq)]
pub struct DesiredChangefeed {
    pub id: String,
    pub namespace: Option<String>,
    /// `${}` expanded; "" only when state is absent and the manifest omits it.
    pub sink_uri: String,
    /// As written, `${VAR}` unexpanded (`$${` kept as written).
    pub sink_uri_template: String,
    pub state: DesiredState,
    pub start_ts: Option<u64>,
    pub target_ts: Option<u64>,
    /// Only the keys the user wrote, in the API's JSON form: TiCDC's JSON key names, durations as
    /// integer nanoseconds, `${}` expanded.
    pub replica_config: Option<serde_json::Value>,
    /// Same shape, `${VAR}` left unexpanded (for saved plans that must not contain secret values).
    pub replica_config_template: Option<serde_json::Value>,
    /// Dotted paths whose values are secret, e.g. `sink_uri`,
    /// `replica_config.sink.kafka_config.sasl_password`, `replica_config.filter.rules.0` (sequence
    /// items by index): every value containing a `${VAR}`, every known secret field
    /// ([`SECRET_CONFIG_PATHS`]), and `sink_uri` when it has a `${VAR}`, a userinfo password or a
    /// sensitive query key.
    pub sensitive: BTreeSet<String>,
    /// The `- id:` list item.
    pub location: Located,
    /// The `cdc cli` TOML file `replica_config_file:` named (resolved), when there is one.
    pub replica_config_file: Option<PathBuf>,
    /// Dotted `replica_config` paths (JSON names, e.g. `mounter.worker_num`) whose values came from
    /// that file (the manifest's `replica_config` did not override them): the plan names the file
    /// beside changes to them.
    pub from_file: BTreeSet<String>,
    /// Keys of that file only some versions' `cdc cli` know: (`file:line:col`, message), for
    /// `validate`'s warnings (see [`config_file::Merged::limited`]).
    pub file_warnings: Vec<(String, String)>,
}

impl std::fmt::Debug for DesiredChangefeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sink_uri = if self.sensitive.contains("sink_uri") {
            "(sensitive)"
        } else {
            self.sink_uri.as_str()
        };
        f.debug_struct("DesiredChangefeed")
            .field("id", &self.id)
            .field("namespace", &self.namespace)
            .field("sink_uri", &sink_uri)
            .field("sink_uri_template", &self.sink_uri_template)
            .field("state", &self.state)
            .field("start_ts", &self.start_ts)
            .field("target_ts", &self.target_ts)
            .field("replica_config", &"(see replica_config_template)")
            .field("replica_config_template", &self.replica_config_template)
            .field("sensitive", &self.sensitive)
            .field("location", &self.location)
            .field("replica_config_file", &self.replica_config_file)
            .finish()
    }
}

/// Every changefeed of the manifests, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DesiredSet {
    pub changefeeds: Vec<DesiredChangefeed>,
    pub files: Vec<PathBuf>,
    /// YAML files found in a manifest directory that are not manifests (no top-level
    /// `changefeeds:`), left unread.
    pub skipped: Vec<PathBuf>,
    /// Each manifest's text as it was read, for [`recheck_for`]: a file is read once (it may be
    /// a pipe, or change meanwhile).
    pub sources: Vec<(PathBuf, std::sync::Arc<str>)>,
}

/// The checks that depend on the server, made again on texts [`load_options`] read (only
/// those of `files`), now that the server is known.
pub fn recheck_for(
    set: &DesiredSet,
    files: &std::collections::BTreeSet<PathBuf>,
    env: &dyn Fn(&str) -> Option<String>,
    public: &dyn Fn(&str) -> bool,
    target: &crate::ticdc::ServerProfile,
    default_namespace: &str,
) -> Result<(), Diagnostics> {
    let mut b = Builder::new(env);
    b.public = public;
    b.target = Some(target.clone());
    b.default_namespace = default_namespace.to_string();
    for (f, text) in set.sources.iter().filter(|(f, _)| files.contains(f)) {
        b.add_text(f, text.to_string());
    }
    b.finish().map(|_| ())
}

/// Dotted paths under `replica_config` (without the `replica_config.` prefix) whose values are
/// secret; TiCDC returns them in clear (tiflow `pkg/config/sink.go` `KafkaConfig`/`PulsarConfig`: GET returns them as stored).
pub const SECRET_CONFIG_PATHS: &[&str] = &[
    "sink.kafka_config.sasl_password",
    "sink.kafka_config.sasl_gssapi_password",
    "sink.kafka_config.sasl_oauth_client_secret",
    "sink.kafka_config.glue_schema_registry_config.secret_access_key",
    "sink.kafka_config.glue_schema_registry_config.token",
    "sink.pulsar_config.authentication-token",
    "sink.pulsar_config.basic-password",
    "sink.pulsar_config.oauth2.oauth2-private-key",
    "sink.schema_registry",
];

/// URI-valued fields under `replica_config` that are secret when they carry a password or a
/// sensitive query key.
const URI_CONFIG_PATHS: &[&str] = &[
    "consistent.storage",
    "sink.kafka_config.large_message_handle.claim_check_storage_uri",
];

/// Load manifests from files and directories (every `*.yaml`/`*.yml` below a directory, sorted).
pub fn load(
    paths: &[PathBuf],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<DesiredSet, Diagnostics> {
    load_options(paths, env, &|_| false, None, DEFAULT_NAMESPACE)
}

/// [`load`], where `${NAME}` for which `public(NAME)` holds is not a secret (a value from
/// cdcform.toml's `vars`): the field it lands in is not marked sensitive for it.
pub fn load_with(
    paths: &[PathBuf],
    env: &dyn Fn(&str) -> Option<String>,
    public: &dyn Fn(&str) -> bool,
) -> Result<DesiredSet, Diagnostics> {
    load_options(paths, env, public, None, DEFAULT_NAMESPACE)
}

/// The namespace of a changefeed whose manifest names none, when no other is configured.
pub const DEFAULT_NAMESPACE: &str = "default";

/// [`load`] with the target server known: the sink checks TiCDC makes per architecture and
/// version (see `sink_rules`) apply to that server only. `None` = any supported server.
pub fn load_for(
    paths: &[PathBuf],
    env: &dyn Fn(&str) -> Option<String>,
    target: Option<&crate::ticdc::ServerProfile>,
) -> Result<DesiredSet, Diagnostics> {
    load_options(paths, env, &|_| false, target, DEFAULT_NAMESPACE)
}

/// [`load_with`] and [`load_for`] together; `default_namespace` is the namespace of a
/// changefeed whose manifest names none (`--namespace`, cdcform.toml), so that `{id: x}` and
/// `{id: x, namespace: team}` under `--namespace team` are the duplicates they are.
pub fn load_options(
    paths: &[PathBuf],
    env: &dyn Fn(&str) -> Option<String>,
    public: &dyn Fn(&str) -> bool,
    target: Option<&crate::ticdc::ServerProfile>,
    default_namespace: &str,
) -> Result<DesiredSet, Diagnostics> {
    let mut b = Builder::new(env);
    b.public = public;
    b.target = target.cloned();
    b.default_namespace = default_namespace.to_string();
    let (files, path_errors) = load::expand_paths(paths);
    b.diags.extend(path_errors);
    if files.is_empty() && b.diags.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(Diagnostics(vec![Diagnostic {
            file: paths.first().cloned().unwrap_or_else(|| PathBuf::from(".")),
            line: 0,
            column: 0,
            message: format!(
                "no manifest files (*.yaml, *.yml) found in {}",
                shown.join(", ")
            ),
            help: Some("pass the directory or files that hold your changefeed manifests".into()),
            source: None,
        }]));
    }
    for (f, named) in files {
        match load::read_text(&f) {
            Ok(text) if !named && !load::looks_like_manifest(&text) => b.set.skipped.push(f),
            Ok(text) => b.add_text(&f, text),
            Err(d) => {
                b.set.files.push(f);
                b.diags.push(d);
            }
        }
    }
    // Only files that are not manifests: an empty desired set would read as "delete every
    // managed changefeed" to `--prune`, so it is an error, as no file at all is.
    if b.set.files.is_empty() && b.diags.is_empty() {
        let shown: Vec<String> = b
            .set
            .skipped
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        return Err(Diagnostics(vec![Diagnostic {
            file: paths.first().cloned().unwrap_or_else(|| PathBuf::from(".")),
            line: 0,
            column: 0,
            message: format!(
                "no manifest files found: the YAML files there have no top-level `changefeeds:` ({})",
                shown.join(", ")
            ),
            help: Some("pass the directory or files that hold your changefeed manifests".into()),
            source: None,
        }]));
    }
    b.finish()
}

/// Load manifests from one text (several YAML documents allowed); `name` is used in locations.
pub fn load_str(
    name: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<DesiredSet, Diagnostics> {
    load_str_for(name, text, env, None)
}

/// [`load_str`] with the target server known (see [`load_for`]).
pub fn load_str_for(
    name: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    target: Option<&crate::ticdc::ServerProfile>,
) -> Result<DesiredSet, Diagnostics> {
    let mut b = Builder::new(env);
    b.target = target.cloned();
    let file = PathBuf::from(name);
    if text.len() as u64 > load::MAX_FILE_BYTES {
        b.diags.push(Diagnostic {
            file: file.clone(),
            line: 0,
            column: 0,
            message: format!(
                "file is too large ({} bytes; the limit is {} bytes)",
                text.len(),
                load::MAX_FILE_BYTES
            ),
            help: Some("split the manifests into several smaller files".into()),
            source: None,
        });
        b.set.files.push(file);
        return b.finish();
    }
    match load::check_bytes(&file, text.as_bytes()) {
        Ok(t) => b.add_text(&file, t),
        Err(d) => {
            b.set.files.push(file);
            b.diags.push(d);
        }
    }
    b.finish()
}

struct Builder<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    /// Variables whose values are not secrets (see [`load_with`]).
    public: &'a dyn Fn(&str) -> bool,
    schema: serde_json::Value,
    set: DesiredSet,
    diags: Vec<Diagnostic>,
    seen: HashMap<(String, String), Located>,
    texts: Vec<(PathBuf, String)>,
    /// The text of the file being loaded (to point at a `${VAR}` inside a string).
    current_text: String,
    /// The server the manifests are checked for, when known.
    target: Option<crate::ticdc::ServerProfile>,
    /// The namespace of a changefeed whose manifest names none.
    default_namespace: String,
}

impl<'a> Builder<'a> {
    fn new(env: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Builder {
            env,
            public: &|_| false,
            schema: json_schema(),
            set: DesiredSet::default(),
            diags: Vec::new(),
            seen: HashMap::new(),
            texts: Vec::new(),
            current_text: String::new(),
            target: None,
            default_namespace: DEFAULT_NAMESPACE.to_string(),
        }
    }

    fn finish(self) -> Result<DesiredSet, Diagnostics> {
        if self.diags.is_empty() {
            return Ok(self.set);
        }
        let mut d = Diagnostics(self.diags);
        // Paths that could not be read first, then in reading order: by file, line and column.
        let files = &self.set.files;
        let file_index = |f: &Path| files.iter().position(|x| x == f).map_or(0, |i| i + 1);
        d.0.sort_by_key(|x| (file_index(&x.file), x.line, x.column));
        for (file, text) in &self.texts {
            d.attach_source(file, text);
        }
        Err(d)
    }

    fn add_text(&mut self, file: &Path, text: String) {
        self.set
            .sources
            .push((file.to_path_buf(), std::sync::Arc::from(text.as_str())));
        match load::parse_documents(file, &text) {
            Ok(docs) => {
                self.current_text = text.clone();
                self.add_file(file, docs);
                self.current_text.clear();
            }
            Err(d) => {
                self.set.files.push(file.to_path_buf());
                self.diags.push(d);
            }
        }
        self.texts.push((file.to_path_buf(), text));
    }

    fn add_file(&mut self, file: &Path, docs: Vec<Node>) {
        self.set.files.push(file.to_path_buf());
        if docs.is_empty() {
            self.diags.push(Diagnostic::new(
                file,
                0,
                0,
                "file is empty: no manifest document",
                Some("add a `changefeeds:` list, or delete the file".into()),
            ));
            return;
        }
        for doc in docs {
            self.add_doc(file, &doc);
        }
    }

    fn add_doc(&mut self, file: &Path, doc: &Node) {
        let errors = schema::check(&self.schema, doc, file);
        // Schema problems inside a list item, by item, as paths relative to the item.
        let mut item_errors: HashMap<usize, Vec<Vec<String>>> = HashMap::new();
        for e in &errors {
            if e.path.first().map(String::as_str) == Some("changefeeds") {
                if let Some(i) = e.path.get(1).and_then(|i| i.parse().ok()) {
                    item_errors.entry(i).or_default().push(e.path[2..].to_vec());
                }
            }
        }
        self.diags.extend(errors.into_iter().map(|e| e.diagnostic));
        if let Some(Node {
            kind: Kind::Seq(items),
            ..
        }) = doc.get("changefeeds")
        {
            for (i, item) in items.iter().enumerate() {
                match item_errors.get(&i) {
                    None => self.add_item(file, item, item, false),
                    // Keep checking what is left once the bad values are taken out, so one run
                    // reports every problem.
                    Some(paths) => {
                        if let Some(pruned) = prune(item, paths) {
                            self.add_item(file, item, &pruned, true);
                        }
                    }
                }
            }
        }
    }

    /// `located` is the item as written (for positions), `item` the item to load (the same, or with
    /// the values that failed the schema check taken out, `broken`). A `replica_config_file` is read
    /// and merged under the item's `replica_config` first; problems with the values that came from
    /// it are reported in that file.
    fn add_item(&mut self, file: &Path, located: &Node, item: &Node, broken: bool) {
        let Some(toml) = self.config_file(file, located, item) else {
            return self.add_item_inner(file, located, item, broken, None);
        };
        let start = self.diags.len();
        self.add_item_inner(
            file,
            &toml.located,
            &toml.item,
            broken || toml.broken,
            Some((toml.path.clone(), toml.limited.clone())),
        );
        let text = self
            .texts
            .iter()
            .rev()
            .find(|(p, _)| *p == toml.path)
            .map(|(_, t)| t.clone())
            .unwrap_or_default();
        for d in &mut self.diags[start..] {
            if d.line >= config_file::LINE_BASE {
                d.line -= config_file::LINE_BASE;
                d.file = toml.path.clone();
                // A missing variable: point at its `${NAME}` in the TOML line.
                if let Some(name) = d
                    .message
                    .strip_prefix("environment variable `")
                    .and_then(|r| r.split('`').next())
                {
                    d.column = column_of(&text, d.line, d.column, &format!("${{{name}}}"));
                }
            }
        }
    }

    /// Read the item's `replica_config_file`, when it has one (see [`config_file`]).
    fn config_file(
        &mut self,
        file: &Path,
        located: &Node,
        item: &Node,
    ) -> Option<config_file::Merged> {
        let at = located.get("replica_config_file")?;
        let (merged, diags, text) =
            config_file::merge(file, located, item, at, &self.schema, self.target.as_ref());
        self.diags.extend(diags);
        if let Some((path, text)) = text {
            self.texts.push((path, text));
        }
        merged
    }

    fn add_item_inner(
        &mut self,
        file: &Path,
        located: &Node,
        item: &Node,
        broken: bool,
        replica_config_file: Option<(PathBuf, Vec<(String, String)>)>,
    ) {
        let (replica_config_file, file_warnings) = match replica_config_file {
            Some((p, w)) => (Some(p), w),
            None => (None, Vec::new()),
        };
        let mut sensitive = BTreeSet::new();
        let mut path = Vec::new();
        let mut expand_errs = Vec::new();
        let expanded = expand_node(
            item,
            &Expansion {
                env: self.env,
                public: self.public,
            },
            &mut path,
            &mut sensitive,
            &mut expand_errs,
        );
        for (_, node_pos, e) in &expand_errs {
            let column = match e {
                env::ExpandError::Missing(name) => column_of(
                    &self.current_text,
                    node_pos.0,
                    node_pos.1,
                    &format!("${{{name}}}"),
                ),
                _ => node_pos.1,
            };
            self.diags.push(Diagnostic::new(
                file,
                node_pos.0,
                column,
                e.to_string(),
                Some(e.help()),
            ));
        }
        let location = Located {
            file: file.to_path_buf(),
            line: item.line,
            column: item.column,
        };
        let parse = |n: &Node| serde_json::from_value::<types::ChangefeedSpec>(n.to_json());
        let (template, spec) = match (parse(item), parse(&expanded)) {
            (Ok(t), Ok(s)) => (t, s),
            (Err(_), _) | (_, Err(_)) if broken => return,
            (Err(e), _) | (_, Err(e)) => {
                self.diags.push(Diagnostic::new(
                    file,
                    item.line,
                    item.column,
                    format!("invalid changefeed: {e}"),
                    Some("fix the changefeed so it matches schema.json".into()),
                ));
                return;
            }
        };
        // A URI with a missing variable is still checked (scheme, protocol) with the variable
        // replaced by a placeholder, unless the variable is the whole start of the URI.
        let uri_for_checks = match &template.sink_uri {
            Some(t) if expand_errs.iter().any(|(p, _, _)| p == "sink_uri") => {
                if t.trim_start().starts_with("${") {
                    None
                } else {
                    let (s, _) = env::expand_all(t, &|n| (self.env)(n).or(Some("x".into())));
                    Some(s)
                }
            }
            _ => spec.sink_uri.clone(),
        };
        self.diags.extend(validate::check_changefeed(
            file,
            located,
            &spec,
            uri_for_checks.as_deref(),
            broken,
            &template
                .sink_uri
                .as_deref()
                .map(env::references)
                .unwrap_or_default(),
        ));

        let rules = sink_rules::Input {
            file,
            item: located,
            spec: &spec,
            sink_uri: uri_for_checks.as_deref(),
        };
        self.diags
            .extend(sink_rules::check(&rules, self.target.as_ref()));

        // Duplicates: one id per namespace across all files.
        let key = (
            spec.namespace
                .clone()
                .unwrap_or_else(|| self.default_namespace.clone()),
            spec.id.clone(),
        );
        if let Some(first) = self.seen.get(&key) {
            let id_pos = item
                .get("id")
                .map_or((item.line, item.column), |n| (n.line, n.column));
            self.diags.push(Diagnostic::new(
                file,
                id_pos.0,
                id_pos.1,
                format!(
                    "duplicate changefeed id `{}` in namespace `{}`: also defined at {first}",
                    key.1, key.0
                ),
                Some("each changefeed id may appear once per namespace: rename or remove one of them".into()),
            ));
        } else {
            self.seen.insert(key, location.clone());
        }

        let to_json = |c: &Option<types::ReplicaConfig>| {
            c.as_ref()
                .map(|c| serde_json::to_value(c).unwrap_or_default())
        };
        let replica_config = to_json(&spec.replica_config);
        let replica_config_template = to_json(&template.replica_config);
        if let Some(cfg) = &replica_config {
            for p in SECRET_CONFIG_PATHS {
                if json_at(cfg, p).is_some() {
                    sensitive.insert(format!("replica_config.{p}"));
                }
            }
            for p in URI_CONFIG_PATHS {
                if json_at(cfg, p)
                    .and_then(|v| v.as_str())
                    .is_some_and(uri_has_secret)
                {
                    sensitive.insert(format!("replica_config.{p}"));
                }
            }
        }
        let mut from_file = BTreeSet::new();
        if replica_config_file.is_some() {
            if let Some(cfg) = item.get("replica_config") {
                config_file::file_paths(cfg, "", &mut from_file);
            }
        }
        let sink_uri = spec.sink_uri.clone().unwrap_or_default();
        if uri_has_secret(&sink_uri) {
            sensitive.insert("sink_uri".into());
        }
        self.set.changefeeds.push(DesiredChangefeed {
            id: spec.id,
            namespace: spec.namespace,
            sink_uri,
            sink_uri_template: template.sink_uri.unwrap_or_default(),
            state: spec.state.unwrap_or_default(),
            start_ts: spec.start_ts,
            target_ts: spec.target_ts,
            replica_config,
            replica_config_template,
            sensitive,
            location,
            replica_config_file,
            from_file,
            file_warnings,
        });
    }
}

/// The item without the values at `paths` (map entries removed, list items removed); `None` when a
/// path is the item itself.
fn prune(item: &Node, paths: &[Vec<String>]) -> Option<Node> {
    fn cmp_seg(a: &[String], b: &[String]) -> std::cmp::Ordering {
        for (x, y) in a.iter().zip(b) {
            let o = match (x.parse::<usize>(), y.parse::<usize>()) {
                (Ok(i), Ok(j)) => i.cmp(&j),
                _ => x.cmp(y),
            };
            if o.is_ne() {
                return o;
            }
        }
        a.len().cmp(&b.len())
    }
    let mut sorted: Vec<&Vec<String>> = paths.iter().collect();
    // Later list indexes first, so removing one does not shift the others.
    sorted.sort_by(|a, b| cmp_seg(b, a));
    fn remove_at(node: &mut Node, path: &[String]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        match &mut node.kind {
            Kind::Map(entries) => {
                if rest.is_empty() {
                    entries.retain(|(k, _)| &k.key_text() != first);
                } else if let Some((_, v)) =
                    entries.iter_mut().find(|(k, _)| &k.key_text() == first)
                {
                    remove_at(v, rest);
                }
            }
            Kind::Seq(items) => {
                let Ok(i) = first.parse::<usize>() else {
                    return;
                };
                if i >= items.len() {
                    return;
                }
                if rest.is_empty() {
                    items.remove(i);
                } else {
                    remove_at(&mut items[i], rest);
                }
            }
            _ => {}
        }
    }
    let mut out = item.clone();
    for p in sorted {
        if p.is_empty() {
            return None;
        }
        remove_at(&mut out, p);
    }
    Some(out)
}

/// The column of `needle` on `line` at or after `column` (all 1-based, in characters); `column` when
/// it is not there (e.g. a multi-line or escaped scalar).
fn column_of(text: &str, line: usize, column: usize, needle: &str) -> usize {
    let Some(src) = text.lines().nth(line.saturating_sub(1)) else {
        return column;
    };
    let start = src
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(src.len(), |(i, _)| i);
    match src[start..].find(needle) {
        Some(off) => column + src[start..start + off].chars().count(),
        None => column,
    }
}

/// Follow a dotted path through JSON objects.
fn json_at<'v>(v: &'v serde_json::Value, dotted: &str) -> Option<&'v serde_json::Value> {
    dotted.split('.').try_fold(v, |v, k| v.get(k))
}

/// A URI carries a secret: a userinfo password, or a query key that looks like one.
fn uri_has_secret(uri: &str) -> bool {
    match crate::ticdc::mask::GoUrl::parse(uri) {
        Ok(u) => {
            // An empty password is not a secret (`mysql://cdc:@h:3306/`).
            u.password().is_some_and(|p| !p.is_empty())
                || u.query_pairs()
                    .iter()
                    .any(|(k, v)| crate::ticdc::mask::is_sensitive_query_key(k) && !v.is_empty())
        }
        Err(_) => false,
    }
}

type ExpandProblem = (String, (usize, usize), env::ExpandError);

/// Where `${NAME}` values come from, and which of them are not secrets.
struct Expansion<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    public: &'a dyn Fn(&str) -> bool,
}

/// Expand `${VAR}` in every string value (never in keys); record the dotted paths of expanded values
/// and every problem with its position.
fn expand_node(
    node: &Node,
    envf: &Expansion,
    path: &mut Vec<String>,
    sensitive: &mut BTreeSet<String>,
    errs: &mut Vec<ExpandProblem>,
) -> Node {
    let kind = match &node.kind {
        Kind::Str(s) => {
            let (out, problems) = env::expand_all(s, envf.env);
            if env::references(s).iter().any(|n| !(envf.public)(n)) {
                sensitive.insert(path.join("."));
            }
            for p in problems {
                errs.push((path.join("."), (node.line, node.column), p));
            }
            Kind::Str(out)
        }
        Kind::Seq(items) => Kind::Seq(
            items
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    path.push(i.to_string());
                    let r = expand_node(n, envf, path, sensitive, errs);
                    path.pop();
                    r
                })
                .collect(),
        ),
        Kind::Map(entries) => Kind::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = k.key_text();
                    // Identifiers are never expanded: they name the changefeed in plans, keys
                    // and messages, so a `${VAR}` there would print its value (found by the
                    // `manifest_load` fuzz target). It stays literal and fails the id check.
                    if path.is_empty() && matches!(key.as_str(), "id" | "namespace" | "state") {
                        return (k.clone(), v.clone());
                    }
                    path.push(key);
                    let r = expand_node(v, envf, path, sensitive, errs);
                    path.pop();
                    (k.clone(), r)
                })
                .collect(),
        ),
        other => other.clone(),
    };
    Node {
        line: node.line,
        column: node.column,
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_removes_map_entries_and_list_items() {
        let doc = load::parse_documents(Path::new("t"), "a: {b: 1, c: 2}\nl: [x, y, z]\n")
            .unwrap()
            .remove(0);
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let out = prune(&doc, &[p(&["a", "b"]), p(&["l", "0"]), p(&["l", "2"])]).unwrap();
        assert_eq!(
            out.to_json(),
            serde_json::json!({"a": {"c": 2}, "l": ["y"]})
        );
        assert!(prune(&doc, &[vec![]]).is_none());
    }

    #[test]
    fn column_of_finds_the_needle() {
        let text = "x\n  uri: \"a://${B}\"\n";
        assert_eq!(column_of(text, 2, 8, "${B}"), 13);
        assert_eq!(column_of(text, 2, 8, "${C}"), 8);
        assert_eq!(column_of(text, 9, 1, "x"), 1);
    }

    #[test]
    fn debug_output_has_no_secret_values() {
        let text = "changefeeds:\n  - id: a\n    sink_uri: \"mysql://u:${PW}@h:3306/\"\n    replica_config:\n      sink:\n        kafka_config:\n          sasl_password: \"${PW}\"\n";
        let set = load_str("t.yaml", text, &|_| Some("hunter2".into())).unwrap();
        assert_eq!(set.changefeeds[0].sink_uri, "mysql://u:hunter2@h:3306/");
        let shown = format!("{set:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("${PW}"));
    }

    #[test]
    fn secrets_in_uris() {
        assert!(uri_has_secret("mysql://u:p@h:3306/"));
        assert!(uri_has_secret("s3://b/p?access-key=a"));
        assert!(!uri_has_secret("kafka://h:9092/t?protocol=avro"));
        assert!(!uri_has_secret("::"));
    }
}
