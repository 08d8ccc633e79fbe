//! `cdcform export`: live changefeeds as minimal manifests — only values that differ from the
//! server's defaults, secrets replaced by `${…}` placeholders with a comment naming each.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use globset::{Glob, GlobSetBuilder};
use serde_json::{Map, Value};

use crate::cli::{ExportArgs, GlobalArgs};
use crate::normalize::{self, equivalent, flatten, set_path};
use crate::output::Output;
use crate::plan::diff::is_secret_path;
use crate::plan::planner::{run_state, LiveChangefeed, RunState};
use crate::settings::{process_env, Settings};
use crate::ticdc::mask::{encode_query, is_sensitive_query_key, GoUrl};
use crate::ticdc::{Client, ServerProfile};
use crate::{exit, Error};

/// Config paths whose values are durations (exported as "10m" rather than nanoseconds).
const DURATION_PATHS: &[&str] = &[
    "sync_point_interval",
    "sync_point_retention",
    "changefeed_error_stuck_duration",
    "active_active_progress_interval",
    "active_active_sync_stats_interval",
];

fn env_name(id: &str, what: &str) -> String {
    let mut s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    s.push('_');
    s.push_str(
        &what
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect::<String>(),
    );
    s
}

/// Replace every secret in a sink URI with a `${VAR}` placeholder; returns the new URI and
/// `(VAR, what it holds)` for the comments.
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
        if is_sensitive_query_key(k) {
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
    if let Some((user, Some(_))) = &u.user {
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
    (out, vars)
}

/// Minimal manifest entry for one live changefeed, with its comment lines.
pub fn export_one(
    profile: &ServerProfile,
    default_ns: &str,
    l: &LiveChangefeed,
) -> (Value, Vec<String>) {
    let info = &l.info;
    let uri = l
        .raw_sink_uri
        .clone()
        .unwrap_or_else(|| info.sink_uri.clone());
    let (sink_uri, mut vars) = placeholder_uri(&info.id, &uri);
    let mut doc = Map::new();
    doc.insert("id".into(), Value::String(info.id.clone()));
    let ns = info.scope();
    if ns != default_ns {
        doc.insert("namespace".into(), Value::String(ns.to_string()));
    }
    doc.insert("sink_uri".into(), Value::String(sink_uri));
    let rs = run_state(info.state_str());
    if rs == RunState::Stopped {
        doc.insert("state".into(), Value::String("paused".into()));
    }
    if info.target_ts != 0 {
        doc.insert("target_ts".into(), Value::from(info.target_ts));
    }
    // Only what differs from what the server would hold for a default config with this URI.
    let eff = normalize::effective_desired(profile, &uri, None);
    let live =
        normalize::normalize_live(profile, &uri, info.config.as_ref().unwrap_or(&Value::Null));
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
            let var = env_name(&info.id, &path);
            vars.push((var.clone(), format!("replica_config.{path}")));
            Value::String(format!("${{{var}}}"))
        } else if let Some(text) = v.as_str().filter(|t| t.contains("://")) {
            // A URI in the config (redo storage, claim-check storage, …) can carry keys too.
            let (text, more) = placeholder_in_uri(&info.id, Some(&path), text);
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
    if cfg.as_object().is_some_and(|m| !m.is_empty()) {
        doc.insert("replica_config".into(), cfg);
    }
    let mut comments = Vec::new();
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

pub fn document(items: &[(Value, Vec<String>)]) -> String {
    let mut out = String::from(
        "# Exported by `cdcform export`: only values that differ from the server's defaults.\n\
         # Check it with `cdcform validate` and `cdcform plan` (expect no changes).\nchangefeeds:\n",
    );
    for (v, comments) in items {
        for c in comments {
            let _ = writeln!(out, "  {c}");
        }
        let mut body = String::new();
        crate::render::yaml::emit(&mut body, v, 4);
        let _ = write!(out, "  - {}", body.trim_start_matches(' '));
    }
    out
}

pub async fn run(g: &GlobalArgs, a: ExportArgs, out: &Output) -> Result<i32, Error> {
    let settings = Settings::resolve(g, &process_env)?;
    let client = Client::new(settings.client.clone())?;
    let filter = if a.ids.is_empty() {
        None
    } else {
        let mut b = GlobSetBuilder::new();
        for p in &a.ids {
            b.add(
                Glob::new(p).map_err(|e| Error::msg(format!("invalid --id pattern {p:?}: {e}")))?,
            );
        }
        Some(b.build().map_err(|e| Error::msg(e.to_string()))?)
    };
    let ns: BTreeSet<String> = [settings.namespace.clone()].into();
    // Filter before any GET: only the matching changefeeds are read in full.
    let wanted = |k: &crate::plan::Key| filter.as_ref().is_none_or(|f| f.is_match(&k.id));
    let snap = crate::plan::live::read(&client, &ns, settings.parallelism, Some(&wanted)).await?;
    let items: Vec<(String, (Value, Vec<String>))> = snap
        .changefeeds
        .values()
        .filter(|l| filter.as_ref().is_none_or(|f| f.is_match(&l.info.id)))
        .map(|l| {
            (
                l.info.id.clone(),
                export_one(&snap.profile, &settings.namespace, l),
            )
        })
        .collect();
    match &a.out {
        None => out.data(&document(
            &items.into_iter().map(|(_, x)| x).collect::<Vec<_>>(),
        )),
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::msg(format!("cannot create {}: {e}", dir.display())))?;
            for (id, item) in &items {
                let path = dir.join(format!("{id}.yaml"));
                std::fs::write(&path, document(std::slice::from_ref(item)))
                    .map_err(|e| Error::msg(format!("cannot write {}: {e}", path.display())))?;
            }
            out.progress(&format!(
                "Exported {} changefeed(s) to {}",
                items.len(),
                dir.display()
            ));
        }
    }
    Ok(exit::OK)
}
