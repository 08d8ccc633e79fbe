//! Export: live changefeeds as minimal manifests (only what differs from the server's defaults,
//! secrets as `${…}` placeholders), checked by the manifest loader before anything is written.
//! `commands/export.rs` only reads the cluster and writes the result.

use std::collections::BTreeMap;

use crate::settings::IdGlobs;
use serde_json::{Map, Value};

use crate::manifest::Diagnostics;
use crate::normalize::{self, equivalent, flatten, set_path};
use crate::plan::diff::is_secret_path;
use crate::plan::planner::{run_state, LiveChangefeed, RunState};
use crate::plan::{Key, KeyList};
use crate::ticdc::mask::{encode_query, is_sensitive_query_key, GoUrl};
use crate::ticdc::ServerProfile;

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Id globs; empty = every changefeed.
    pub ids: Vec<String>,
    /// The namespace (keyspace) that was read, for messages.
    pub namespace: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("invalid --id pattern `{pattern}`: {source}\nhelp: use a glob such as `orders-*`")]
    BadGlob {
        pattern: String,
        #[source]
        source: globset::Error,
    },
    #[error("no changefeed matches {what} in namespace `{namespace}` ({total} changefeed{} there); nothing was written\nhelp: {help}", if *total == 1 { "" } else { "s" })]
    NothingMatched {
        what: String,
        namespace: String,
        total: usize,
        help: String,
    },
    /// A bug guard: export refuses to write what `cdcform validate` would refuse.
    #[error("export produced a manifest that does not validate (please report this):\n{0}")]
    Invalid(Diagnostics),
    /// A bug guard: a TOML file that does not read back into the config it was made from.
    #[error("export produced a replica config file for `{id}` that does not read back as written (please report this): {detail}")]
    TomlRoundTrip { id: String, detail: String },
}

/// One exported changefeed: its manifest entry and the comment lines above it.
pub type Entry = (Value, Vec<String>);

/// Config paths whose values are durations (exported as "10m" rather than nanoseconds).
const DURATION_PATHS: &[&str] = &[
    "sync_point_interval",
    "sync_point_retention",
    "changefeed_error_stuck_duration",
    "active_active_progress_interval",
    "active_active_sync_stats_interval",
];

fn upper_snake(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn env_name(id: &str, what: &str) -> String {
    format!("{}_{}", upper_snake(id), upper_snake(what))
}

/// Replace every secret in a sink URI with a `${VAR}` placeholder; returns the new URI and
/// `(VAR, what it holds)` for the comments. An empty password is not a secret: it stays.
pub fn placeholder_uri(id: &str, uri: &str) -> (String, Vec<(String, String)>) {
    placeholder_in_uri(id, None, uri)
}

/// Same for a URI inside the config (`field` = its path, e.g. `consistent.storage`): variable
/// names carry the field so that they do not collide with the sink URI's.
fn placeholder_in_uri(id: &str, field: Option<&str>, uri: &str) -> (String, Vec<(String, String)>) {
    let Ok(mut u) = GoUrl::parse(uri) else {
        return (uri.to_string(), vec![]);
    };
    let last = field.map(|f| f.rsplit('.').next().unwrap_or(f));
    let name = |what: &str| match last {
        Some(l) => env_name(id, &format!("{l}_{what}")),
        None => env_name(id, what),
    };
    let place = match field {
        Some(f) => format!("replica_config.{f}"),
        None => "the sink URI".to_string(),
    };
    let mut vars = Vec::new();
    let mut pairs = u.query_pairs();
    let mut touched = false;
    for (k, v) in pairs.iter_mut() {
        if is_sensitive_query_key(k) && !v.is_empty() {
            let var = name(k);
            vars.push((var.clone(), format!("`{k}` of {place}")));
            *v = format!("${{{var}}}");
            touched = true;
        }
    }
    let mut out = if touched {
        // Keep `${` and `}` readable: escape the rest the Go way, then restore the braces.
        u.raw_query = encode_query(&pairs)
            .replace("%24%7B", "${")
            .replace("%7D", "}");
        u.to_go_string()
    } else {
        uri.to_string()
    };
    if let Some((user, Some(pw))) = &u.user {
        if !pw.is_empty() {
            let var = if field.is_some() {
                name("password")
            } else {
                env_name(id, "sink_password")
            };
            vars.push((var.clone(), format!("password of user `{user}` in {place}")));
            let mut uu = GoUrl::parse(&out).expect("re-parse");
            uu.user = Some((user.clone(), Some("PLACEHOLDER".into())));
            out = uu
                .to_go_string()
                .replace("PLACEHOLDER", &format!("${{{var}}}"));
        }
    }
    (out, vars)
}

/// The manifest's top-level fields of one changefeed (id, namespace, sink_uri, state, target_ts).
fn head(info_ns: &str, l: &LiveChangefeed, sink_uri: String) -> Map<String, Value> {
    let info = &l.info;
    let mut doc = Map::new();
    doc.insert("id".into(), Value::String(info.id.clone()));
    // The manifest's own default is `default`: anything else is written, so a later plan
    // without `--namespace` finds the changefeed where it is.
    if info_ns != "default" {
        doc.insert("namespace".into(), Value::String(info_ns.to_string()));
    }
    doc.insert("sink_uri".into(), Value::String(sink_uri));
    if run_state(info.state_str()) == RunState::Stopped {
        doc.insert("state".into(), Value::String("paused".into()));
    }
    if info.target_ts != 0 {
        doc.insert("target_ts".into(), Value::from(info.target_ts));
    }
    doc
}

/// Minimal manifest entry for one live changefeed, with its comment lines.
pub fn export_one(profile: &ServerProfile, l: &LiveChangefeed) -> Entry {
    let info = &l.info;
    let uri = l
        .raw_uri
        .as_ref()
        .map_or_else(|| info.sink_uri.clone(), |u| u.as_str().to_string());
    let (sink_uri, mut vars) = placeholder_uri(&info.id, &uri);
    let mut doc = head(info.scope(), l, sink_uri);
    let cfg = minimal_config(profile, &uri, l, &mut vars);
    if cfg.as_object().is_some_and(|m| !m.is_empty()) {
        doc.insert("replica_config".into(), cfg);
    }
    let mut comments = Vec::new();
    let rs = run_state(info.state_str());
    if rs == RunState::Failed || rs == RunState::Finished {
        comments.push(format!(
            "# exported while {}; `state` describes the wanted run state",
            info.state_str()
        ));
    }
    for (var, what) in vars {
        comments.push(format!(
            "# ${{{var}}}: {what}; set it in the environment before plan/apply"
        ));
    }
    (Value::Object(doc), comments)
}

/// Only what differs from what the server would hold for a default config with this URI, and
/// only what the manifest format knows (see [`prune_to_schema`]).
fn minimal_config(
    profile: &ServerProfile,
    uri: &str,
    l: &LiveChangefeed,
    vars: &mut Vec<(String, String)>,
) -> Value {
    let id = &l.info.id;
    let eff = normalize::effective_desired(profile, uri, None);
    let live =
        normalize::normalize_live(profile, uri, l.info.config.as_ref().unwrap_or(&Value::Null));
    let known = normalize::known_paths();
    let mut cfg = Value::Object(Map::new());
    let base = flatten(&eff.compare);
    for (path, v) in flatten(&live) {
        if !known.knows(&path)
            || normalize::is_empty(Some(&v))
            || equivalent(base.get(&path), Some(&v))
        {
            continue;
        }
        let value = if is_secret_path(&path) {
            // The full path: `sink.kafka_config.sasl_password` must not share a variable with
            // the sink URI's `sasl-password`, which may differ.
            let var = env_name(id, &path);
            vars.push((var.clone(), format!("replica_config.{path}")));
            Value::String(format!("${{{var}}}"))
        } else if let Some(text) = v.as_str().filter(|t| t.contains("://")) {
            // A URI in the config (redo storage, claim-check storage, …) can carry keys too.
            let (text, more) = placeholder_in_uri(id, Some(&path), text);
            vars.extend(more);
            Value::String(text)
        } else if DURATION_PATHS.contains(&path.as_str()) {
            match v.as_u64() {
                // Go's syntax, which the manifest reads back ("48h", never "2days").
                Some(ns) => Value::String(normalize::go_duration(ns)),
                None => v,
            }
        } else {
            v
        };
        set_path(&mut cfg, &path, value);
    }
    prune_to_schema(&mut cfg, "ReplicaConfig");
    cfg
}

/// Drop what the manifest schema does not know inside `v` (an instance of definition `def`):
/// keys of list items (a server may echo a legacy `dispatcher`), and the nulls and empty
/// strings a server shows for unset fields of list items.
pub fn prune_to_schema(v: &mut Value, def: &str) {
    let schema = crate::manifest::json_schema();
    let defs = schema
        .get("definitions")
        .or_else(|| schema.get("$defs"))
        .cloned()
        .unwrap_or(Value::Null);
    if let Some(d) = defs.get(def) {
        prune(v, d, &defs, 0);
    }
}

fn resolve<'a>(s: &'a Value, defs: &'a Value) -> &'a Value {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        return defs.get(r.rsplit('/').next().unwrap_or("")).unwrap_or(s);
    }
    if let Some(Value::Array(alts)) = s.get("anyOf") {
        if let Some(a) = alts.iter().find(|a| a.get("$ref").is_some()) {
            return resolve(a, defs);
        }
    }
    s
}

fn prune(v: &mut Value, s: &Value, defs: &Value, depth: usize) {
    let s = resolve(s, defs);
    if depth > 16 {
        return;
    }
    match v {
        Value::Object(o) => {
            let Some(props) = s.get("properties").and_then(Value::as_object) else {
                return; // a free-form map
            };
            o.retain(|k, child| {
                props.contains_key(k) && !(depth > 0 && normalize::is_empty(Some(child)))
            });
            for (k, child) in o.iter_mut() {
                prune(child, &props[k], defs, depth + 1);
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.get("items") {
                for item in items.iter_mut() {
                    prune(item, item_schema, defs, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// The `--id` globs as one matcher (`None`: every changefeed).
pub fn id_filter(ids: &[String]) -> Result<Option<IdGlobs>, ExportError> {
    if ids.is_empty() {
        return Ok(None);
    }
    IdGlobs::new(ids)
        .map(Some)
        .map_err(|(pattern, source)| ExportError::BadGlob { pattern, source })
}

/// The changefeeds to export, or why there are none. `read` holds those read in full,
/// `listed_only` the others of the namespace (known from the list).
pub fn select<'a>(
    read: &'a BTreeMap<Key, LiveChangefeed>,
    listed_only: &KeyList,
    o: &ExportOptions,
) -> Result<Vec<&'a LiveChangefeed>, ExportError> {
    let filter = id_filter(&o.ids)?;
    let chosen: Vec<&LiveChangefeed> = read
        .values()
        .filter(|l| filter.as_ref().is_none_or(|f| f.is_match(&l.info.id)))
        .collect();
    if !chosen.is_empty() {
        return Ok(chosen);
    }
    let ids: Vec<&str> = read
        .keys()
        .map(|k| k.id.as_str())
        .chain(listed_only.iter().map(|k| k.id))
        .collect();
    let (what, help) = if o.ids.is_empty() {
        (
            "(the namespace is empty)".to_string(),
            "check `--namespace` (or the cluster's `namespace` in cdcform.toml)".to_string(),
        )
    } else {
        let globs: Vec<String> = o.ids.iter().map(|g| format!("`{g}`")).collect();
        let hint = o
            .ids
            .iter()
            .find_map(|g| crate::manifest::schema::did_you_mean(g, ids.iter().copied()))
            .map(|m| format!("did you mean `--id {m}`?"))
            .unwrap_or_else(|| "list the ids with `cdcform status`".to_string());
        (format!("--id {}", globs.join(", ")), hint)
    };
    Err(ExportError::NothingMatched {
        what,
        namespace: o.namespace.clone(),
        total: ids.len(),
        help,
    })
}

/// The manifest document for `items`, checked by the same loader `cdcform validate` uses
/// (placeholders stand for set variables), so export never writes what validate refuses.
pub fn document(items: &[Entry]) -> Result<String, ExportError> {
    let out = render_document(items);
    crate::manifest::load_str("export.yaml", &out, &|_| Some("x".into()))
        .map_err(ExportError::Invalid)?;
    Ok(out)
}

/// The manifest document for `items`, unchecked: for entries that name a `replica_config_file`
/// (checked through [`with_config_file`] and, before that, [`document`] of the plain entries).
pub fn render_document(items: &[Entry]) -> String {
    let mut out = String::from(
        "# Exported by `cdcform export`: only values that differ from the server's defaults.\n\
         # Check it with `cdcform validate` and `cdcform plan` (expect no changes).\n",
    );
    if items.is_empty() {
        out.push_str("changefeeds: []\n");
    } else {
        out.push_str("changefeeds:\n");
    }
    for (v, comments) in items {
        for c in comments {
            out.push_str(&format!("  {c}\n"));
        }
        let body = crate::yaml::to_string(v);
        for (i, line) in body.lines().enumerate() {
            let lead = if i == 0 { "  - " } else { "    " };
            out.push_str(lead);
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// One exported changefeed whose settings go to a `cdc cli` TOML file.
#[derive(Debug, Clone)]
pub struct WithFile {
    /// The manifest entry: `replica_config_file` names the file; `replica_config` keeps what the
    /// file cannot hold (secrets, as `${VAR}` placeholders, and keys that version's `cdc cli`
    /// has no TOML name for).
    pub entry: Entry,
    /// The TOML text; `None` when the changefeed has nothing but defaults (no file, no key).
    pub toml: Option<String>,
}

/// Move an exported entry's `replica_config` into the TOML `cdc cli changefeed create --config`
/// of `profile`'s version reads (names per `manifest::cdc_toml_keys`); `file` is how the manifest
/// names the file. The TOML is read back as `replica_config_file` reads it and must give the same
/// config, merged with what stays in the manifest.
pub fn with_config_file(
    profile: &ServerProfile,
    entry: &Entry,
    file: &str,
) -> Result<WithFile, ExportError> {
    use crate::manifest::cdc_toml;
    let (doc, comments) = entry;
    let id = doc
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(cfg) = doc.get("replica_config") else {
        return Ok(WithFile {
            entry: entry.clone(),
            toml: None,
        });
    };
    let (versions, label) = cdc_toml::versions_for(Some(profile));
    let (table, rest) = cdc_toml::to_toml(cfg, versions, &|p| {
        is_secret_path(p) || crate::manifest::SECRET_CONFIG_PATHS.contains(&p)
    });
    if table.is_empty() {
        return Ok(WithFile {
            entry: entry.clone(),
            toml: None,
        });
    }
    let body = toml::to_string(&table).map_err(|e| ExportError::TomlRoundTrip {
        id: id.clone(),
        detail: e.to_string(),
    })?;
    let text = format!(
        "# Exported by `cdcform export --replica-config-files` for `cdc cli changefeed create --config`\n\
         # ({label}): only values that differ from the server's defaults.\n{body}"
    );
    // Read back exactly as `replica_config_file:` will read it.
    let back = cdc_toml::convert(std::path::Path::new(file), &text, Some(profile));
    if let Some(d) = back.diags.first() {
        return Err(ExportError::TomlRoundTrip {
            id,
            detail: format!("{}: {}", d.location(), d.message),
        });
    }
    let mut merged = back.config.to_json();
    crate::manifest::config_file::deep_merge_json(&mut merged, &Value::Object(rest.clone()));
    if &merged != cfg {
        return Err(ExportError::TomlRoundTrip {
            id,
            detail: "the file and the manifest together differ from the live config".into(),
        });
    }
    let mut out = Map::new();
    for (k, v) in doc.as_object().into_iter().flatten() {
        if k == "replica_config" {
            out.insert(
                "replica_config_file".into(),
                Value::String(file.to_string()),
            );
            if !rest.is_empty() {
                out.insert(k.clone(), Value::Object(rest.clone()));
            }
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(WithFile {
        entry: (Value::Object(out), comments.clone()),
        toml: Some(text),
    })
}
