//! Saved plan files (`plan --out FILE`, `apply FILE`).
//!
//! A saved plan holds the desired entries as *templates* (`${VAR}` references, never secret
//! values), the options it was planned with, the rendered plan, and a fingerprint of every
//! live changefeed it read. `apply FILE` re-reads the cluster and refuses the whole plan when
//! any fingerprint moved.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::planner::{run_state, LiveChangefeed, RunState};
use super::{Key, Plan, FORMAT_VERSION};
use crate::manifest::{DesiredChangefeed, DesiredState};
use crate::normalize::{config_hash, Fold64};

pub const KIND: &str = "cdcform-plan";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SavedDesired {
    pub namespace: String,
    pub id: String,
    /// As written in the manifest, `${VAR}` unexpanded.
    pub sink_uri: String,
    pub state: DesiredState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ts: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ts: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_config: Option<Value>,
    /// Where it came from, for messages.
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SavedOptions {
    pub prune: bool,
    pub replace: Vec<String>,
    pub gc_ttl_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    pub kind: String,
    pub format_version: u32,
    pub created_at: String,
    pub server: String,
    pub namespaces: Vec<String>,
    pub options: SavedOptions,
    pub desired: Vec<SavedDesired>,
    /// `namespace/id` → fingerprint of the live changefeed as read ("absent" when missing).
    pub fingerprints: BTreeMap<String, String>,
    pub plan: Plan,
}

/// A secret that is written literally in a manifest cannot go into a plan file.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: changefeed {id}: `{path}` holds a literal secret; a saved plan stores secrets only as ${{VAR}} references. Move the value to an environment variable")]
pub struct LiteralSecret {
    pub file: String,
    pub line: usize,
    pub id: String,
    pub path: String,
}

fn template_at<'a>(d: &'a DesiredChangefeed, path: &str) -> Option<&'a Value> {
    let rest = path.strip_prefix("replica_config.")?;
    crate::normalize::get_path(d.replica_config_template.as_ref()?, rest)
}

/// Build the saved form of the desired entries; refuses literal secrets.
pub fn saved_desired(
    desired: &[DesiredChangefeed],
    default_ns: &str,
) -> Result<Vec<SavedDesired>, LiteralSecret> {
    let mut out = Vec::new();
    for d in desired {
        for path in &d.sensitive {
            let literal = if path == "sink_uri" {
                !d.sink_uri_template.contains("${")
            } else {
                match template_at(d, path) {
                    Some(Value::String(s)) => !s.contains("${"),
                    Some(Value::Null) | None => false,
                    Some(_) => true,
                }
            };
            if literal {
                return Err(LiteralSecret {
                    file: d.location.file.display().to_string(),
                    line: d.location.line,
                    id: d.id.clone(),
                    path: path.clone(),
                });
            }
        }
        out.push(SavedDesired {
            namespace: d
                .namespace
                .clone()
                .unwrap_or_else(|| default_ns.to_string()),
            id: d.id.clone(),
            sink_uri: d.sink_uri_template.clone(),
            state: d.state,
            start_ts: d.start_ts,
            target_ts: d.target_ts,
            replica_config: d.replica_config_template.clone(),
            source: format!("{}:{}", d.location.file.display(), d.location.line),
        });
    }
    Ok(out)
}

fn expand_value(
    v: &Value,
    env: &dyn Fn(&str) -> Option<String>,
    path: &str,
    sensitive: &mut BTreeSet<String>,
) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => {
            if s.contains("${") {
                sensitive.insert(path.to_string());
            }
            Value::String(crate::manifest::expand(s, env)?)
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| expand_value(x, env, path, sensitive))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => {
            let mut m = serde_json::Map::new();
            for (k, x) in o {
                m.insert(
                    k.clone(),
                    expand_value(x, env, &format!("{path}.{k}"), sensitive)?,
                );
            }
            Value::Object(m)
        }
        other => other.clone(),
    })
}

/// Turn saved entries back into desired changefeeds, expanding `${VAR}` from `env`.
pub fn restore_desired(
    saved: &[SavedDesired],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<DesiredChangefeed>, String> {
    saved
        .iter()
        .map(|s| {
            let mut sensitive = BTreeSet::new();
            if s.sink_uri.contains("${") {
                sensitive.insert("sink_uri".to_string());
            }
            let sink_uri = crate::manifest::expand(&s.sink_uri, env)
                .map_err(|e| format!("{} ({}): {e}", s.id, s.source))?;
            let replica_config = match &s.replica_config {
                Some(t) => Some(
                    expand_value(t, env, "replica_config", &mut sensitive)
                        .map_err(|e| format!("{} ({}): {e}", s.id, s.source))?,
                ),
                None => None,
            };
            let (file, line) = s.source.rsplit_once(':').unwrap_or((&s.source, "0"));
            Ok(DesiredChangefeed {
                id: s.id.clone(),
                namespace: Some(s.namespace.clone()),
                sink_uri,
                sink_uri_template: s.sink_uri.clone(),
                state: s.state,
                start_ts: s.start_ts,
                target_ts: s.target_ts,
                replica_config,
                replica_config_template: s.replica_config.clone(),
                sensitive,
                location: crate::manifest::Located {
                    file: file.into(),
                    line: line.parse().unwrap_or(0),
                    column: 0,
                },
                replica_config_file: None,
                from_file: Default::default(),
                file_warnings: Vec::new(),
            })
        })
        .collect()
}

/// Fingerprint of what a plan depends on: run state, masked sink URI, config, target/start ts.
/// Runtime fields (checkpoint, raw state within its family, errors) are left out.
pub fn fingerprint(l: Option<&LiveChangefeed>) -> String {
    let Some(l) = l else { return "absent".into() };
    if let Some(f) = &l.fingerprint {
        return f.clone();
    }
    fingerprint_with(l, l.info.config.as_ref().map(config_hash))
}

/// [`fingerprint`] of `l` whose config hashes to `config` ([`config_hash`], which a read can
/// take once per distinct config).
pub fn fingerprint_with(l: &LiveChangefeed, config: Option<u64>) -> String {
    let family = match run_state(l.info.state_str()) {
        RunState::Running => "running",
        RunState::Stopped => "stopped",
        RunState::Failed => "failed",
        RunState::Finished => "finished",
        RunState::Removed => "removed",
    };
    // A hash walked over the fields themselves: no copy of the config, no JSON text.
    let mut h = Fold64::new();
    h.str(family);
    h.str(&l.info.sink_uri);
    match config {
        Some(c) => h.word(c),
        None => h.tag(0, 0),
    }
    h.word(l.info.target_ts);
    h.word(l.info.start_ts);
    format!("{:016x}", h.0)
}

pub fn fingerprints(
    live: &BTreeMap<Key, LiveChangefeed>,
    keys: impl Iterator<Item = Key>,
) -> BTreeMap<String, String> {
    let mut all: BTreeSet<Key> = live.keys().cloned().collect();
    all.extend(keys);
    all.into_iter()
        .map(|k| (k.to_string(), fingerprint(live.get(&k))))
        .collect()
}

/// A plan of `kind` and `version` is one this cdcform reads.
fn check(kind: &str, version: u64) -> Result<(), String> {
    if kind != KIND {
        return Err("not a cdcform plan file (no \"kind\": \"cdcform-plan\")".into());
    }
    if version != FORMAT_VERSION as u64 {
        return Err(format!(
            "plan file format_version {version} is not supported (this cdcform reads {FORMAT_VERSION})"
        ));
    }
    Ok(())
}

impl SavedPlan {
    pub fn new(
        plan: Plan,
        desired: Vec<SavedDesired>,
        namespaces: Vec<String>,
        options: SavedOptions,
        fingerprints: BTreeMap<String, String>,
    ) -> SavedPlan {
        SavedPlan {
            kind: KIND.into(),
            format_version: FORMAT_VERSION,
            created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            server: plan.server.clone(),
            namespaces,
            options,
            desired,
            fingerprints,
            plan,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<SavedPlan, String> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| format!("not a cdcform plan file: {e}"))?;
        SavedPlan::from_value(v)
    }

    /// [`SavedPlan::from_json`] of a document already parsed.
    pub fn from_value(v: Value) -> Result<SavedPlan, String> {
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or_default();
        let version = v.get("format_version").and_then(Value::as_u64).unwrap_or(0);
        check(kind, version)?;
        serde_json::from_value(v).map_err(|e| format!("malformed plan file: {e}"))
    }

    /// Whether this cdcform reads the plan: its kind and version.
    pub fn check(&self) -> Result<(), String> {
        check(&self.kind, self.format_version.into())
    }

    /// Keys whose live fingerprint differs from the saved one.
    pub fn moved(&self, now: &BTreeMap<String, String>) -> Vec<String> {
        let keys: BTreeSet<&String> = self.fingerprints.keys().chain(now.keys()).collect();
        keys.into_iter()
            .filter(|k| {
                let a = self
                    .fingerprints
                    .get(*k)
                    .map(String::as_str)
                    .unwrap_or("absent");
                let b = now.get(*k).map(String::as_str).unwrap_or("absent");
                a != b
            })
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(uri_t: &str, cfg_t: Option<Value>, sensitive: &[&str]) -> DesiredChangefeed {
        DesiredChangefeed {
            id: "cf".into(),
            sink_uri: "x".into(),
            sink_uri_template: uri_t.into(),
            replica_config_template: cfg_t.clone(),
            replica_config: cfg_t,
            sensitive: sensitive.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn literal_secrets_are_refused_references_kept() {
        let ok = d("kafka://k/t?sasl-password=${PW}", None, &["sink_uri"]);
        let saved = saved_desired(&[ok], "default").unwrap();
        assert_eq!(saved[0].sink_uri, "kafka://k/t?sasl-password=${PW}");
        let bad = d("mysql://root:hunter2@h:3306/", None, &["sink_uri"]);
        let err = saved_desired(&[bad], "default").unwrap_err().to_string();
        assert!(
            err.contains("literal secret") && !err.contains("hunter2"),
            "{err}"
        );
        let bad_cfg = d(
            "kafka://k/t",
            Some(json!({"sink": {"kafka_config": {"sasl_password": "hunter2"}}})),
            &["replica_config.sink.kafka_config.sasl_password"],
        );
        assert!(saved_desired(&[bad_cfg], "default").is_err());
    }

    #[test]
    fn restore_expands_references() {
        let saved = saved_desired(
            &[d(
                "kafka://k/t?sasl-password=${PW}",
                Some(json!({"sink": {"kafka_config": {"sasl_password": "${PW}"}}})),
                &[],
            )],
            "default",
        )
        .unwrap();
        let env = |k: &str| (k == "PW").then(|| "s3cret".to_string());
        let back = restore_desired(&saved, &env).unwrap();
        assert_eq!(back[0].sink_uri, "kafka://k/t?sasl-password=s3cret");
        assert!(back[0].sensitive.contains("sink_uri"));
        assert!(back[0]
            .sensitive
            .contains("replica_config.sink.kafka_config.sasl_password"));
    }

    #[test]
    fn fingerprint_moves_with_every_field_a_plan_depends_on() {
        let base = LiveChangefeed {
            info: crate::ticdc::models::ChangefeedInfo {
                id: "a".into(),
                state: Some("normal".into()),
                sink_uri: "kafka://k/t?protocol=canal-json".into(),
                config: Some(serde_json::json!({"filter": {"rules": ["a.*"]}, "n": 1})),
                target_ts: 5,
                start_ts: 3,
                ..Default::default()
            },
            ..Default::default()
        };
        let a = fingerprint(Some(&base));
        let hash = base.info.config.as_ref().map(config_hash);
        assert_eq!(a, fingerprint_with(&base, hash));
        let changed: [fn(&mut crate::ticdc::models::ChangefeedInfo); 7] = [
            |i| i.config = Some(serde_json::json!({"filter": {"rules": ["b.*"]}, "n": 1})),
            |i| i.config = Some(serde_json::json!({"filter": {"rules": ["a.*"]}, "n": 1.0})),
            |i| i.config = Some(serde_json::json!({"filter": {"rules": ["a.*"]}, "n": "1"})),
            |i| i.config = None,
            |i| i.sink_uri.push('x'),
            |i| i.target_ts = 6,
            |i| i.start_ts = 4,
        ];
        for (n, change) in changed.iter().enumerate() {
            let mut l = base.clone();
            change(&mut l.info);
            assert_ne!(fingerprint(Some(&l)), a, "change {n}");
        }
    }

    #[test]
    fn fingerprint_ignores_runtime_fields() {
        let mut info = crate::ticdc::models::ChangefeedInfo {
            id: "a".into(),
            state: Some("normal".into()),
            checkpoint_ts: 1,
            ..Default::default()
        };
        let a = fingerprint(Some(&LiveChangefeed {
            info: info.clone(),
            ..Default::default()
        }));
        info.checkpoint_ts = 99;
        info.state = Some("warning".into());
        assert_eq!(
            a,
            fingerprint(Some(&LiveChangefeed {
                info: info.clone(),
                ..Default::default()
            }))
        );
        info.state = Some("stopped".into());
        assert_ne!(
            a,
            fingerprint(Some(&LiveChangefeed {
                info,
                ..Default::default()
            }))
        );
    }
}
