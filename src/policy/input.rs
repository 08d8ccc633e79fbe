//! The policy input document: the JSON plan (as `--format json` prints it) plus `cluster`, and
//! per entry `desired` (the manifest after variable expansion) and `live` (as read), both masked
//! as plans mask them: values the manifest marks sensitive, secret-looking config keys and
//! secret URI parts become `(sensitive)`. `tables` comes with the JSON plan when it has it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::manifest::{DesiredChangefeed, DesiredState};
use crate::plan::diff::{is_secret_path, mask_uris};
use crate::plan::planner::LiveChangefeed;
use crate::plan::{Key, Plan, SENSITIVE};
use crate::ticdc::mask::{is_sensitive_query_key, mask_sensitive_in_uri, GoUrl};
use crate::ticdc::ServerProfile;

/// The cluster a plan is for (`input.cluster`).
#[derive(Debug, Clone, Default)]
pub struct ClusterInfo {
    /// The cluster's name in cdcform.toml (`null` without one).
    pub name: Option<String>,
    pub server: String,
    /// What the server reported; `None` offline (`validate`).
    pub profile: Option<ServerProfile>,
}

impl ClusterInfo {
    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "server": self.server,
            "version": self.profile.as_ref().map(|p| p.raw_version.clone()),
            "profile": self.profile.as_ref().map(|p| serde_json::to_value(p.arch).unwrap_or(Value::Null)),
        })
    }
}

fn state_name(s: DesiredState) -> &'static str {
    match s {
        DesiredState::Running => "running",
        DesiredState::Paused => "paused",
        DesiredState::Absent => "absent",
    }
}

/// A config value with every secret replaced: a path in `sensitive`, a secret-looking key, or
/// anything under one, becomes `(sensitive)`; URIs inside strings lose their passwords.
fn mask_config(v: &Value, path: &str, sensitive: &BTreeSet<String>) -> Value {
    let full = format!("replica_config.{path}");
    if !path.is_empty() && (sensitive.contains(&full) || is_secret_path(path)) {
        return Value::String(SENSITIVE.into());
    }
    let child = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), mask_config(x, &child(k), sensitive)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, x)| mask_config(x, &child(&i.to_string()), sensitive))
                .collect(),
        ),
        other => mask_uris(other),
    }
}

/// A sink URI in parts, for rules that look at the scheme or a query parameter: secret query
/// values and the userinfo password become `(sensitive)`; `hide_all` hides everything but the
/// scheme and the query keys (a live URI whose manifest marks it sensitive).
fn sink_parts(uri: &str, hide_all: bool) -> Value {
    let Ok(u) = GoUrl::parse(uri) else {
        return Value::Null;
    };
    let hidden = |s: String| {
        if hide_all {
            Value::String(SENSITIVE.into())
        } else {
            Value::String(s)
        }
    };
    let mut query = Map::new();
    for (k, v) in u.query_pairs() {
        let v = if is_sensitive_query_key(&k) {
            Value::String(SENSITIVE.into())
        } else {
            hidden(v)
        };
        query.entry(k).or_insert(v);
    }
    json!({
        "scheme": u.scheme,
        "host": hidden(u.host.clone()),
        "path": hidden(u.raw_path.clone()),
        "user": u.user.as_ref().map(|(name, _)| hidden(name.clone())),
        "query": query,
    })
}

/// `desired`: the changefeed as the manifest states it, masked.
pub fn desired_json(d: &DesiredChangefeed, default_ns: &str) -> Value {
    let uri_secret = d.sensitive.contains("sink_uri");
    json!({
        "id": d.id,
        "namespace": d.namespace.clone().unwrap_or_else(|| default_ns.to_string()),
        "state": state_name(d.state),
        "sink_uri": if uri_secret { SENSITIVE.to_string() } else { mask_sensitive_in_uri(&d.sink_uri) },
        // From the URI as written (`${VAR}` unexpanded), so no expanded value can show here.
        "sink": sink_parts(&d.sink_uri_template, false),
        "start_ts": d.start_ts,
        "target_ts": d.target_ts,
        "replica_config": d.replica_config.as_ref().map(|c| mask_config(c, "", &d.sensitive)),
        "file": d.location.file.display().to_string(),
        "line": d.location.line,
    })
}

/// `live`: the changefeed as read, masked with the manifest's sensitive set (when it has one).
pub fn live_json(l: &LiveChangefeed, d: Option<&DesiredChangefeed>) -> Value {
    let empty = BTreeSet::new();
    let sensitive = d.map_or(&empty, |d| &d.sensitive);
    let uri_secret = sensitive.contains("sink_uri");
    let info = &l.info;
    json!({
        "id": info.id,
        "state": info.state,
        "sink_uri": if uri_secret { SENSITIVE.to_string() } else { mask_sensitive_in_uri(&info.sink_uri) },
        "sink": sink_parts(&info.sink_uri, uri_secret),
        "start_ts": info.start_ts,
        "target_ts": info.target_ts,
        "replica_config": info.config.as_ref().map(|c| mask_config(c, "", sensitive)),
        "creator_version": info.creator_version,
    })
}

fn base(mode: &str, cluster: &ClusterInfo, mut doc: Map<String, Value>) -> Value {
    let plan_version = doc.remove("format_version");
    doc.insert("format_version".into(), json!(super::INPUT_FORMAT_VERSION));
    doc.insert("plan_format_version".into(), plan_version.unwrap_or(Value::Null));
    doc.insert("mode".into(), json!(mode));
    doc.insert("cluster".into(), cluster.to_json());
    doc.remove("policy");
    Value::Object(doc)
}

/// The input for a plan: the JSON plan, with `desired`, `live` (null for a create) and
/// `tables` (as the plan has it) on each entry.
pub fn for_plan(
    plan: &Plan,
    desired: &[DesiredChangefeed],
    live: &BTreeMap<Key, LiveChangefeed>,
    cluster: &ClusterInfo,
    default_ns: &str,
) -> Value {
    let by_key: BTreeMap<Key, &DesiredChangefeed> = desired
        .iter()
        .map(|d| {
            let ns = d.namespace.clone().unwrap_or_else(|| default_ns.to_string());
            (Key { namespace: ns, id: d.id.clone() }, d)
        })
        .collect();
    let Value::Object(mut doc) = crate::render::plan::json_value(plan) else {
        return Value::Null;
    };
    if let Some(Value::Array(entries)) = doc.get_mut("entries") {
        for (e, src) in entries.iter_mut().zip(&plan.entries) {
            let d = by_key.get(&src.key).copied();
            e["desired"] = d.map_or(Value::Null, |d| desired_json(d, default_ns));
            e["live"] = live
                .get(&src.key)
                .map_or(Value::Null, |l| live_json(l, d));
        }
    }
    base("plan", cluster, doc)
}

/// The input for `validate`: every manifest entry with `desired`, `live: null` and no action
/// (nothing was read from a server).
pub fn for_validate(desired: &[DesiredChangefeed], cluster: &ClusterInfo, default_ns: &str) -> Value {
    let entries: Vec<Value> = desired
        .iter()
        .map(|d| {
            json!({
                "namespace": d.namespace.clone().unwrap_or_else(|| default_ns.to_string()),
                "id": d.id,
                "action": null,
                "steps": [],
                "changes": [],
                "desired": desired_json(d, default_ns),
                "live": null,
            })
        })
        .collect();
    let mut doc = Map::new();
    doc.insert("format_version".into(), json!(crate::plan::FORMAT_VERSION));
    doc.insert("server".into(), json!(cluster.server));
    doc.insert("entries".into(), Value::Array(entries));
    base("validate", cluster, doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_secrets_are_masked_at_every_depth() {
        let cfg = json!({
            "sink": {"kafka_config": {"sasl_password": "hunter2", "sasl_mechanism": "plain"},
                     "url": "mysql://root:pw@h:3306/"},
            "filter": {"rules": ["a.*", "secret-from-var"]},
        });
        let mut s = BTreeSet::new();
        s.insert("replica_config.filter.rules.1".to_string());
        let m = mask_config(&cfg, "", &s);
        let text = m.to_string();
        assert!(!text.contains("hunter2") && !text.contains("secret-from-var") && !text.contains(":pw@"), "{text}");
        assert_eq!(m["sink"]["kafka_config"]["sasl_mechanism"], "plain");
        assert_eq!(m["filter"]["rules"][0], "a.*");
    }

    #[test]
    fn sink_parts_hide_secret_query_values() {
        let p = sink_parts("kafka://u:pw@k:9092/t?sasl-password=x1&sasl-mechanism=plain&enable-tls=true", false);
        assert_eq!(p["scheme"], "kafka");
        assert_eq!(p["query"]["enable-tls"], "true");
        assert_eq!(p["query"]["sasl-password"], SENSITIVE);
        assert!(!p.to_string().contains("pw") && !p.to_string().contains("x1"));
        let hidden = sink_parts("kafka://k:9092/t?enable-tls=true", true);
        assert_eq!(hidden["host"], SENSITIVE);
        assert_eq!(hidden["query"]["enable-tls"], SENSITIVE);
    }
}
