//! The policy input document: the JSON plan (as `--format json` prints it) plus `cluster`, and
//! per entry `desired` (the manifest after variable expansion) and `live` (as read), both masked
//! as plans mask them: values the manifest marks sensitive, secret-looking config keys and
//! secret URI parts become `(sensitive)`. `tables` comes with the JSON plan when it has it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::convert::{json_size, same, Converter};
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

/// Masks configs: a path in `sensitive`, a secret-looking key, or anything under one, becomes
/// `(sensitive)`; URIs inside strings lose their passwords. Remembers which key names look
/// secret, since a plan's thousand configs share a few hundred names.
struct Masker<'a> {
    sensitive: &'a BTreeSet<String>,
    secret_names: std::collections::HashMap<String, bool>,
}

impl<'a> Masker<'a> {
    fn new(sensitive: &'a BTreeSet<String>) -> Self {
        Masker {
            sensitive,
            secret_names: std::collections::HashMap::new(),
        }
    }

    /// The last segment decides a secret-looking name, as `is_secret_path` reads it.
    fn secret_name(&mut self, k: &str) -> bool {
        if let Some(&b) = self.secret_names.get(k) {
            return b;
        }
        let b = is_secret_path(k);
        self.secret_names.insert(k.to_string(), b);
        b
    }

    /// A masked copy of `v` (`path`: its dotted path under `replica_config`).
    fn masked(&mut self, v: &Value) -> Value {
        let mut out = v.clone();
        self.mask(&mut out, &mut String::new());
        out
    }

    fn mask(&mut self, v: &mut Value, path: &mut String) {
        match v {
            Value::Object(o) => {
                for (k, x) in o.iter_mut() {
                    self.child(path, k, x);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter_mut().enumerate() {
                    self.child(path, &i.to_string(), x);
                }
            }
            Value::String(s) if s.contains("://") => *v = mask_uris(v),
            _ => {}
        }
    }

    fn child(&mut self, path: &mut String, k: &str, x: &mut Value) {
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(k);
        let secret = self.secret_name(k)
            || (!self.sensitive.is_empty()
                && self.sensitive.contains(&format!("replica_config.{path}")));
        if secret {
            *x = Value::String(SENSITIVE.into());
        } else {
            self.mask(x, path);
        }
        path.truncate(len);
    }
}

/// A config value with every secret replaced (see [`Masker`]).
fn mask_config(v: &Value, sensitive: &BTreeSet<String>) -> Value {
    Masker::new(sensitive).masked(v)
}

/// `${NAME}` in a URI template as a token Go's URL parser takes wherever a letter may stand.
const VAR_TOKEN: &str = "cdcformvar";

/// Which parts of a sink URI hold a secret: those its manifest wrote with a `${VAR}` from the
/// environment (the password, a token in the query, …); everything when the template cannot
/// be read part by part (a variable as the port). Secret query keys are hidden regardless.
#[derive(Default)]
struct Secret {
    all: bool,
    host: bool,
    path: bool,
    user: bool,
    query: BTreeSet<String>,
}

impl Secret {
    fn all() -> Secret {
        Secret {
            all: true,
            ..Secret::default()
        }
    }

    /// The parts of `template` that hold a variable.
    fn of_template(template: &str) -> Secret {
        let mut t = String::new();
        let mut rest = template;
        while let Some(i) = rest.find("${") {
            let Some(j) = rest[i..].find('}') else { break };
            t.push_str(&rest[..i]);
            t.push_str(VAR_TOKEN);
            rest = &rest[i + j + 1..];
        }
        t.push_str(rest);
        let Ok(u) = GoUrl::parse(&t) else {
            return Secret::all();
        };
        let holds = |s: &str| s.contains(VAR_TOKEN);
        Secret {
            all: false,
            host: holds(&u.host),
            path: holds(&u.raw_path),
            user: u.user.as_ref().is_some_and(|(name, _)| holds(name)),
            query: u
                .query_pairs()
                .into_iter()
                .filter(|(_, v)| holds(v))
                .map(|(k, _)| k)
                .collect(),
        }
    }

    /// The secret parts of a changefeed's URI, from its manifest (none without one).
    fn of(d: Option<&DesiredChangefeed>) -> Secret {
        match d {
            Some(d) if d.sensitive.contains("sink_uri") => {
                Secret::of_template(&d.sink_uri_template)
            }
            _ => Secret::default(),
        }
    }
}

/// A sink URI in parts, for rules that look at the scheme, the host or a query parameter:
/// secret query values, the userinfo password and the parts `secret` names become
/// `(sensitive)`; the rest is shown, so a rule can check a host or `ssl-ca`.
fn sink_parts(uri: &str, secret: &Secret) -> Value {
    let Ok(u) = GoUrl::parse(uri) else {
        return Value::Null;
    };
    let shown = |hide: bool, s: String| {
        if hide || secret.all {
            Value::String(SENSITIVE.into())
        } else {
            Value::String(s)
        }
    };
    let mut query = Map::new();
    for (k, v) in u.query_pairs() {
        let hide = is_sensitive_query_key(&k) || secret.query.contains(&k);
        let v = shown(hide, v);
        query.entry(k).or_insert(v);
    }
    json!({
        "scheme": u.scheme,
        "host": shown(secret.host, u.host.clone()),
        "path": shown(secret.path, u.raw_path.clone()),
        "user": u.user.as_ref().map(|(name, _)| shown(secret.user, name.clone())),
        "query": query,
    })
}

/// `desired.sink`: the URI as expanded, with the parts written with an environment variable
/// hidden (see [`Secret`]).
fn desired_sink(d: &DesiredChangefeed) -> Value {
    sink_parts(&d.sink_uri, &Secret::of(Some(d)))
}

/// `desired` with `replica_config` still `null` (see [`desired_json`]).
fn desired_shell(d: &DesiredChangefeed, default_ns: &str) -> Value {
    let uri_secret = d.sensitive.contains("sink_uri");
    json!({
        "id": d.id,
        "namespace": d.namespace.clone().unwrap_or_else(|| default_ns.to_string()),
        "state": state_name(d.state),
        "sink_uri": if uri_secret { SENSITIVE.to_string() } else { mask_sensitive_in_uri(&d.sink_uri) },
        "sink": desired_sink(d),
        "start_ts": d.start_ts,
        "target_ts": d.target_ts,
        "replica_config": null,
        "file": d.location.file.display().to_string(),
        "line": d.location.line,
    })
}

/// `desired`: the changefeed as the manifest states it, masked.
pub fn desired_json(d: &DesiredChangefeed, default_ns: &str) -> Value {
    let mut v = desired_shell(d, default_ns);
    if let Some(c) = &d.replica_config {
        v["replica_config"] = mask_config(c, &d.sensitive);
    }
    v
}

/// `live` with `replica_config` still `null` (see [`live_json`]).
fn live_shell(l: &LiveChangefeed, d: Option<&DesiredChangefeed>) -> Value {
    let uri_secret = d.is_some_and(|d| d.sensitive.contains("sink_uri"));
    let info = &l.info;
    json!({
        "id": info.id,
        "state": info.state,
        "sink_uri": if uri_secret { SENSITIVE.to_string() } else { mask_sensitive_in_uri(&info.sink_uri) },
        "sink": sink_parts(&info.sink_uri, &Secret::of(d)),
        "start_ts": info.start_ts,
        "target_ts": info.target_ts,
        "replica_config": null,
        "creator_version": info.creator_version,
    })
}

/// `live`: the changefeed as read, masked with the manifest's sensitive set (when it has one).
pub fn live_json(l: &LiveChangefeed, d: Option<&DesiredChangefeed>) -> Value {
    let empty = BTreeSet::new();
    let sensitive = d.map_or(&empty, |d| &d.sensitive);
    let mut v = live_shell(l, d);
    if let Some(c) = &l.info.config {
        v["replica_config"] = mask_config(c, sensitive);
    }
    v
}

fn base(mode: &str, cluster: &ClusterInfo, mut doc: Map<String, Value>) -> Value {
    let plan_version = doc.remove("format_version");
    doc.insert("format_version".into(), json!(super::INPUT_FORMAT_VERSION));
    doc.insert(
        "plan_format_version".into(),
        plan_version.unwrap_or(Value::Null),
    );
    doc.insert("mode".into(), json!(mode));
    doc.insert("cluster".into(), cluster.to_json());
    doc.remove("policy");
    Value::Object(doc)
}

/// A policy input ready for the engine: the document as regorus values, and its size as JSON
/// text (checked against the input limit before evaluation).
pub struct Input {
    pub(crate) value: regorus::Value,
    pub(crate) json_bytes: usize,
}

impl Input {
    /// The input for a JSON document.
    pub fn from_json(doc: &Value) -> Input {
        Input {
            value: Converter::default().value(doc),
            json_bytes: json_size(doc),
        }
    }
}

/// Masked configs already converted, by the config they came from: a plan's live configs are
/// mostly alike (TiCDC fills in every default), so most are masked and converted once.
/// Only for configs masked without per-manifest paths.
#[derive(Default)]
struct Configs<'a> {
    /// (source, masked and converted, JSON size of the masked config); most recent first.
    seen: Vec<(&'a Value, regorus::Value, usize)>,
}

/// How many distinct configs [`Configs`] keeps.
const CONFIGS_KEPT: usize = 8;

impl<'a> Configs<'a> {
    /// `src` masked (with `masker`), converted, and its size as JSON text. Only a `share`d
    /// config (masked without per-manifest paths) is looked up and kept.
    fn get(
        &mut self,
        src: &'a Value,
        masker: &mut Masker,
        conv: &mut Converter,
        share: bool,
    ) -> (regorus::Value, usize) {
        let found = || self.seen.iter().position(|(s, ..)| same(s, src));
        if let Some(i) = share.then(found).flatten() {
            let hit = self.seen.remove(i);
            let out = (hit.1.clone(), hit.2);
            self.seen.insert(0, hit);
            return out;
        }
        let masked = masker.masked(src);
        let out = (conv.value(&masked), json_size(&masked));
        if share {
            self.seen.truncate(CONFIGS_KEPT - 1);
            self.seen.insert(0, (src, out.0.clone(), out.1));
        }
        out
    }
}

/// Whether a manifest marks any path under `replica_config` sensitive (its configs are then
/// masked with its own paths, not shared with others).
fn config_paths(sensitive: &BTreeSet<String>) -> bool {
    sensitive.iter().any(|p| p.starts_with("replica_config"))
}

/// An entry's `desired` or `live` object, its `replica_config` (`null` in the JSON shell) set
/// to the masked config.
fn with_config(conv: &mut Converter, shell: &Value, cfg: Option<regorus::Value>) -> regorus::Value {
    match (shell, cfg) {
        (Value::Object(o), Some(c)) => {
            let mut m = conv.map(o);
            m.insert(conv.key("replica_config"), c);
            regorus::Value::from(m)
        }
        _ => conv.value(shell),
    }
}

/// One entry of a plan's input: its JSON plan entry with `desired` and `live`.
struct EntryParts<'a> {
    desired: Option<&'a DesiredChangefeed>,
    live: Option<&'a LiveChangefeed>,
}

/// Builds a plan's input entry by entry, sharing keys and alike configs.
struct PlanInput<'a> {
    conv: Converter,
    configs: Configs<'a>,
    shared: Masker<'a>,
    default_ns: &'a str,
}

impl<'a> PlanInput<'a> {
    /// The `desired`/`live` shells (configs `null`) in `e`, then `e` converted with the configs
    /// set; returns the value and its size as JSON text.
    fn entry(&mut self, mut e: Value, p: EntryParts<'a>) -> (regorus::Value, usize) {
        // Each config set replaces a `null` of the shells.
        let (mut added, mut nulls) = (0, 0);
        let mut cfg = |this: &mut Self, src: Option<&'a Value>, own: Option<&BTreeSet<String>>| {
            let (v, size) = match own {
                Some(paths) => {
                    this.configs
                        .get(src?, &mut Masker::new(paths), &mut this.conv, false)
                }
                None => this
                    .configs
                    .get(src?, &mut this.shared, &mut this.conv, true),
            };
            added += size;
            nulls += 1;
            Some(v)
        };
        // The manifest's sensitive paths apply when it has any under replica_config.
        let own = p.desired.map(|d| &d.sensitive).filter(|s| config_paths(s));
        let d_cfg = p
            .desired
            .and_then(|d| cfg(self, d.replica_config.as_ref(), own));
        let l_cfg = p.live.and_then(|l| cfg(self, l.info.config.as_ref(), own));
        e["desired"] = p
            .desired
            .map_or(Value::Null, |d| desired_shell(d, self.default_ns));
        e["live"] = p.live.map_or(Value::Null, |l| live_shell(l, p.desired));
        let size = json_size(&e) - nulls * "null".len() + added;
        let Value::Object(o) = &e else {
            return (self.conv.value(&e), size);
        };
        let mut m = BTreeMap::new();
        let (mut d_cfg, mut l_cfg) = (d_cfg, l_cfg);
        for (k, v) in o {
            let x = match k.as_str() {
                "desired" => with_config(&mut self.conv, v, d_cfg.take()),
                "live" => with_config(&mut self.conv, v, l_cfg.take()),
                _ => self.conv.value(v),
            };
            m.insert(self.conv.key(k), x);
        }
        (regorus::Value::from(m), size)
    }
}

/// The input for a plan: the JSON plan, with `desired`, `live` (null for a create) and
/// `tables` (as the plan has it) on each entry. Built straight into the engine's values, each
/// distinct config masked and converted once.
pub fn for_plan(
    plan: &Plan,
    desired: &[DesiredChangefeed],
    live: &BTreeMap<Key, LiveChangefeed>,
    cluster: &ClusterInfo,
    default_ns: &str,
) -> Input {
    let by_key: BTreeMap<Key, &DesiredChangefeed> = desired
        .iter()
        .map(|d| {
            let ns = d
                .namespace
                .clone()
                .unwrap_or_else(|| default_ns.to_string());
            (
                Key {
                    namespace: ns,
                    id: d.id.clone(),
                },
                d,
            )
        })
        .collect();
    let Value::Object(mut doc) = plan.document() else {
        return Input::from_json(&Value::Null);
    };
    let no_paths = BTreeSet::new();
    let mut b = PlanInput {
        conv: Converter::default(),
        configs: Configs::default(),
        shared: Masker::new(&no_paths),
        default_ns,
    };
    let mut entries = Vec::new();
    let mut entries_size = 0;
    if let Some(Value::Array(list)) = doc.get_mut("entries") {
        for (e, src) in std::mem::take(list).into_iter().zip(&plan.entries) {
            let parts = EntryParts {
                desired: by_key.get(&src.key).copied(),
                live: live.get(&src.key),
            };
            let (v, size) = b.entry(e, parts);
            entries.push(v);
            entries_size += size;
        }
    }
    let has_entries = doc.contains_key("entries");
    let shell = base("plan", cluster, doc);
    // `[]` in the shell becomes `[e1,e2,…]`: the entries and the commas between them.
    let json_bytes = json_size(&shell) + entries_size + entries.len().saturating_sub(1);
    let Value::Object(o) = &shell else {
        return Input::from_json(&shell);
    };
    let mut m = b.conv.map(o);
    if has_entries {
        m.insert(b.conv.key("entries"), regorus::Value::from(entries));
    }
    Input {
        value: regorus::Value::from(m),
        json_bytes,
    }
}

/// The input for `validate`: every manifest entry with `desired`, `live: null` and no action
/// (nothing was read from a server).
pub fn for_validate(
    desired: &[DesiredChangefeed],
    cluster: &ClusterInfo,
    default_ns: &str,
) -> Value {
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
    doc.insert(
        "format_version".into(),
        json!(crate::document::FORMAT_VERSION),
    );
    doc.insert("server".into(), json!(cluster.server));
    doc.insert("entries".into(), Value::Array(entries));
    base("validate", cluster, doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The input as a JSON document built whole (each config masked on its own), the way
    /// `for_plan` built it before it went straight to regorus values.
    fn reference(
        plan: &Plan,
        desired: &[DesiredChangefeed],
        live: &BTreeMap<Key, LiveChangefeed>,
        cluster: &ClusterInfo,
    ) -> Value {
        let Value::Object(mut doc) = plan.document() else {
            panic!("a plan is an object")
        };
        if let Some(Value::Array(entries)) = doc.get_mut("entries") {
            for (e, src) in entries.iter_mut().zip(&plan.entries) {
                let d = desired.iter().find(|d| d.id == src.key.id);
                e["desired"] = d.map_or(Value::Null, |d| desired_json(d, "default"));
                e["live"] = live.get(&src.key).map_or(Value::Null, |l| live_json(l, d));
            }
        }
        base("plan", cluster, doc)
    }

    #[test]
    fn plan_input_equals_the_json_document_with_shared_configs() {
        use crate::normalize;
        use crate::ticdc::models::ChangefeedInfo;
        use crate::ticdc::{ServerProfile, Version};
        let profile = ServerProfile::classic(Version::new(8, 5, 0));
        let secret = json!({"sink": {"kafka_config": {"sasl_password": "hunter2"}}});
        let own = json!({"filter": {"rules": ["a.*", "from-a-secret-var"]}});
        // ten alike, one with a secret key, one with a manifest-sensitive path, one create;
        // more distinct configs than the cache keeps, so some are evicted and come back.
        let mut ids: Vec<(String, Option<Value>)> = (0..10)
            .map(|i| (format!("same-{i}"), None))
            .chain((0..12).map(|i| {
                (
                    format!("cfg-{i}"),
                    Some(json!({"mounter": {"worker_num": i}})),
                )
            }))
            .chain((0..12).map(|i| {
                (
                    format!("again-{i}"),
                    Some(json!({"mounter": {"worker_num": i}})),
                )
            }))
            .collect();
        ids.push(("secret".into(), Some(secret)));
        ids.push(("own".into(), Some(own.clone())));
        // Planned between them (entries are sorted), own-0-plain has no sensitive path and the
        // same configs as own-again: the paths of own-again still apply to its configs.
        ids.push(("own-0-plain".into(), Some(own.clone())));
        ids.push(("own-again".into(), Some(own)));
        let mut desired = Vec::new();
        let mut live = BTreeMap::new();
        for (id, cfg) in &ids {
            let mut want = json!({"mounter": {"worker_num": 3}});
            if id.starts_with("own") {
                want = cfg.clone().expect("config");
                want["mounter"] = json!({"worker_num": 3});
            }
            let mut d = DesiredChangefeed {
                id: id.clone(),
                sink_uri: "kafka://k:9092/t?protocol=canal-json".into(),
                sink_uri_template: "kafka://k:9092/t?protocol=canal-json".into(),
                replica_config: Some(want.clone()),
                replica_config_template: Some(want),
                ..Default::default()
            };
            if id == "own" || id == "own-again" {
                d.sensitive.insert("replica_config.filter.rules.1".into());
            }
            desired.push(d);
            let mut c = normalize::defaults(&profile);
            if let Some(m) = cfg {
                normalize::merge(&mut c, m);
            }
            let info = ChangefeedInfo {
                namespace: Some("default".into()),
                id: id.clone(),
                sink_uri: "kafka://k:9092/t?protocol=canal-json".into(),
                config: Some(c),
                state: Some("normal".into()),
                ..Default::default()
            };
            let key = Key {
                namespace: "default".into(),
                id: id.clone(),
            };
            live.insert(
                key,
                LiveChangefeed {
                    info,
                    ..Default::default()
                },
            );
        }
        desired.push(DesiredChangefeed {
            id: "new".into(),
            sink_uri: "blackhole://".into(),
            sink_uri_template: "blackhole://".into(),
            ..Default::default()
        });
        let opts = crate::plan::planner::Options {
            now_tso: 1 << 40,
            ..Default::default()
        };
        let plan = crate::plan::planner::make_plan(&profile, "http://x", &desired, &live, &opts);
        assert!(plan.entries.len() > 30, "{:?}", plan.summary);
        let cluster = ClusterInfo {
            server: "http://x".into(),
            ..Default::default()
        };
        let doc = reference(&plan, &desired, &live, &cluster);
        let input = for_plan(&plan, &desired, &live, &cluster, "default");
        assert_eq!(input.json_bytes, doc.to_string().len());
        let want: regorus::Value = serde_json::from_value(doc.clone()).expect("regorus reads it");
        assert_eq!(input.value, want);
        let text = doc.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        let entry = |id: &str| {
            let e = doc["entries"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["id"] == id);
            e.unwrap_or_else(|| panic!("{id} is planned")).clone()
        };
        for (id, shown) in [
            ("own", SENSITIVE),
            ("own-0-plain", "from-a-secret-var"),
            ("own-again", SENSITIVE),
        ] {
            let e = entry(id);
            assert_eq!(
                e["desired"]["replica_config"]["filter"]["rules"][1], shown,
                "{id}"
            );
            assert_eq!(
                e["live"]["replica_config"]["filter"]["rules"][1], shown,
                "{id}"
            );
        }
    }

    #[test]
    fn config_secrets_are_masked_at_every_depth() {
        let cfg = json!({
            "sink": {"kafka_config": {"sasl_password": "hunter2", "sasl_mechanism": "plain"},
                     "url": "mysql://root:pw@h:3306/"},
            "filter": {"rules": ["a.*", "secret-from-var"]},
        });
        let mut s = BTreeSet::new();
        s.insert("replica_config.filter.rules.1".to_string());
        let m = mask_config(&cfg, &s);
        let text = m.to_string();
        assert!(
            !text.contains("hunter2")
                && !text.contains("secret-from-var")
                && !text.contains(":pw@"),
            "{text}"
        );
        assert_eq!(m["sink"]["kafka_config"]["sasl_mechanism"], "plain");
        assert_eq!(m["filter"]["rules"][0], "a.*");
    }

    #[test]
    fn a_sink_with_a_variable_port_still_shows_its_scheme_and_keys() {
        let env = |_: &str| Some("9092".to_string());
        let d = &crate::manifest::load_str(
            "t.yaml",
            "changefeeds:\n  - id: a\n    sink_uri: \"kafka://k:${PORT}/t?protocol=canal-json&enable-tls=true\"\n",
            &env,
        )
        .expect("loads")
        .changefeeds[0];
        let s = desired_sink(d);
        assert_eq!(s["scheme"], "kafka");
        assert_eq!(s["query"]["enable-tls"], SENSITIVE);
        assert_eq!(s["host"], SENSITIVE);
    }

    #[test]
    fn sink_parts_hide_secret_query_values() {
        let p = sink_parts(
            "kafka://u:pw@k:9092/t?sasl-password=x1&sasl-mechanism=plain&enable-tls=true",
            &Secret::default(),
        );
        assert_eq!(p["scheme"], "kafka");
        assert_eq!(p["query"]["enable-tls"], "true");
        assert_eq!(p["query"]["sasl-password"], SENSITIVE);
        assert!(!p.to_string().contains("pw") && !p.to_string().contains("x1"));
        let hidden = sink_parts("kafka://k:9092/t?enable-tls=true", &Secret::all());
        assert_eq!(hidden["host"], SENSITIVE);
        assert_eq!(hidden["query"]["enable-tls"], SENSITIVE);
    }

    /// A MySQL URI whose password is a `${VAR}` keeps its host, path, user and non-secret query
    /// values visible to policies (a rule can check `ssl-ca` or an allowed host); only what
    /// came from the environment is hidden.
    #[test]
    fn only_the_parts_from_variables_are_hidden() {
        let env = |n: &str| (n == "PW" || n == "TOKEN").then(|| "canary-pw".to_string());
        let d = &crate::manifest::load_str(
            "t.yaml",
            "changefeeds:\n  - id: a\n    sink_uri: \"mysql://cdc:${PW}@db.prod:3306/?ssl-ca=/etc/ca.pem&tidb-txn-mode=${TOKEN}\"\n",
            &env,
        )
        .expect("loads")
        .changefeeds[0];
        let s = desired_sink(d);
        assert!(!s.to_string().contains("canary-pw"), "{s}");
        assert_eq!(s["host"], "db.prod:3306");
        assert_eq!(s["user"], "cdc");
        assert_eq!(s["query"]["ssl-ca"], "/etc/ca.pem");
        assert_eq!(s["query"]["tidb-txn-mode"], SENSITIVE);
    }
}
