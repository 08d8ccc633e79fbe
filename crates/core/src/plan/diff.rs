//! Field-by-field comparison of one changefeed: effective desired vs normalised live.
//! Pure: no I/O.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{ChangeKind, FieldChange, SENSITIVE};
use crate::manifest::DesiredChangefeed;
use crate::normalize::{self, flatten, is_empty, Effective};
use crate::ticdc::mask::SinkUri;
use crate::ticdc::models::ChangefeedInfo;
use crate::ticdc::ServerProfile;

/// Canonical form of a sink URI for comparison: Go re-serialisation with the query sorted.
pub fn canonical_uri(uri: &str) -> String {
    SinkUri::parse(uri).canonical()
}

/// Whether a config path names a secret whatever the manifest says (the secret fields of tiflow `pkg/config/sink.go`).
pub fn is_secret_path(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path).to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "private-key",
        "private_key",
        "credential",
        "access-key",
        "access_key",
    ]
    .iter()
    .any(|w| last.contains(w))
        || last == "schema_registry"
}

/// Result of comparing one changefeed.
#[derive(Debug, Default)]
pub struct ConfigDiff {
    pub changes: Vec<FieldChange>,
    pub notes: Vec<String>,
    pub sink_uri_changed: bool,
}

impl ConfigDiff {
    /// Whether an update (PUT) is needed: derived-only differences never trigger one.
    pub fn needs_update(&self) -> bool {
        self.changes.iter().any(|c| c.kind != ChangeKind::Derived)
    }
}

fn display(v: Option<&Value>, sensitive: bool) -> Option<Value> {
    match v {
        None => None,
        Some(x) if is_empty(Some(x)) && !x.is_boolean() => None,
        Some(_) if sensitive => Some(Value::String(SENSITIVE.into())),
        Some(x) => Some(mask_uris(x)),
    }
}

/// Mask passwords and secret query keys in every URI-looking string of a value (redo storage,
/// claim-check storage, … can carry keys): TiCDC returns them verbatim.
pub fn mask_uris(v: &Value) -> Value {
    match v {
        Value::String(s) if s.contains("://") => {
            Value::String(crate::ticdc::mask::mask_sensitive_in_uri(s))
        }
        Value::Array(a) => Value::Array(a.iter().map(mask_uris).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, x)| (k.clone(), mask_uris(x))).collect())
        }
        other => other.clone(),
    }
}

/// Compare the sink URI: through the unmasked `meta_info` URI when we have it (classic),
/// otherwise through TiCDC's own masking, which hides passwords: then a password change
/// cannot be seen, and the diff says so instead of guessing.
///
/// Each URI is parsed once: the desired one with its effective config, the live one when it
/// was read; the same text needs no parse at all.
fn compare_sink_uri(
    desired: &DesiredChangefeed,
    eff: &Effective,
    live_masked: &str,
    live_raw: Option<&SinkUri>,
    out: &mut ConfigDiff,
) {
    let sensitive = desired.sensitive.contains("sink_uri");
    let own;
    let wanted = if eff.uri.as_str() == desired.sink_uri {
        &eff.uri
    } else {
        own = SinkUri::parse(&desired.sink_uri);
        &own
    };
    let changed = match live_raw {
        Some(raw) => raw.as_str() != desired.sink_uri && wanted.canonical() != raw.canonical(),
        None => {
            let masked = wanted.masked().unwrap_or_else(|_| desired.sink_uri.clone());
            if masked != desired.sink_uri && canonical_uri(&masked) == canonical_uri(live_masked) {
                out.notes.push(
                    "the sink_uri password cannot be compared: this server masks it and has no meta_info; \
                     a password change is not detected (use --replace, or change it with `cdc cli` and re-plan)"
                        .into(),
                );
            }
            canonical_uri(&masked) != canonical_uri(live_masked)
        }
    };
    if changed {
        out.sink_uri_changed = true;
        let before = crate::ticdc::mask::mask_sensitive_in_uri(live_masked);
        out.changes.push(FieldChange {
            path: "sink_uri".into(),
            kind: ChangeKind::Manifest,
            before: Some(Value::String(if sensitive {
                SENSITIVE.into()
            } else {
                before
            })),
            after: Some(Value::String(if sensitive {
                SENSITIVE.into()
            } else {
                crate::ticdc::mask::mask_sensitive_in_uri(&desired.sink_uri)
            })),
            sensitive,
        });
    }
}

/// Paths the manifest wrote (every leaf and every ancestor).
fn manifest_paths(cfg: Option<&Value>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(c) = cfg {
        for p in flatten(c).into_keys() {
            let mut cur = p.as_str();
            out.insert(cur.to_string());
            while let Some((parent, _)) = cur.rsplit_once('.') {
                out.insert(parent.to_string());
                cur = parent;
            }
        }
    }
    out
}

fn set_by_manifest(paths: &BTreeSet<String>, path: &str) -> bool {
    if paths.contains(path) {
        return true;
    }
    // A manifest leaf above this path (e.g. an object written as a whole).
    let mut cur = path;
    while let Some((parent, _)) = cur.rsplit_once('.') {
        if paths.contains(parent) && !paths.iter().any(|p| p.starts_with(&format!("{parent}."))) {
            return true;
        }
        cur = parent;
    }
    false
}

/// Compare desired with live. `live_raw_uri` is the unmasked URI from `meta_info`, if any.
pub fn diff_changefeed(
    profile: &ServerProfile,
    desired: &DesiredChangefeed,
    eff: &Effective,
    live: &ChangefeedInfo,
    live_raw_uri: Option<&str>,
) -> ConfigDiff {
    let raw = live_raw_uri.map(SinkUri::parse);
    diff_parsed(profile, desired, eff, live, raw.as_ref())
}

/// [`diff_changefeed`] with the unmasked live URI parsed already (as a read parses it).
pub fn diff_parsed(
    profile: &ServerProfile,
    desired: &DesiredChangefeed,
    eff: &Effective,
    live: &ChangefeedInfo,
    live_raw: Option<&SinkUri>,
) -> ConfigDiff {
    let mut out = ConfigDiff::default();
    compare_sink_uri(desired, eff, &live.sink_uri, live_raw, &mut out);

    if let Some(t) = desired.target_ts.filter(|t| *t != 0) {
        if t != live.target_ts {
            out.changes.push(FieldChange {
                path: "target_ts".into(),
                kind: ChangeKind::Manifest,
                before: (live.target_ts != 0).then(|| Value::from(live.target_ts)),
                after: Some(Value::from(t)),
                sensitive: false,
            });
        }
    }

    let empty = Value::Object(Default::default());
    // The live URI's scheme decides how the server stripped it; the desired one how it will.
    let live_uri = live_raw.map_or(live.sink_uri.as_str(), SinkUri::as_str);
    let live_norm =
        normalize::normalize_live(profile, live_uri, live.config.as_ref().unwrap_or(&empty));
    let differing = normalize::differing_leaves(&eff.compare, &live_norm);
    if differing.is_empty() {
        return out;
    }
    let written = manifest_paths(desired.replica_config.as_ref());
    let known = normalize::known_paths();
    // A new kind of sink brings its own settings: what differs unasked is what it implies.
    let scheme = |u: &str| u.split(':').next().unwrap_or_default().to_ascii_lowercase();
    let new_sink = scheme(&desired.sink_uri) != scheme(live_uri);
    for (path, d, l) in differing {
        let (d, l) = (d.as_ref(), l.as_ref());
        if !known.knows(&path) {
            continue;
        }
        let by_manifest = set_by_manifest(&written, &path);
        if is_empty(l) && !by_manifest {
            // The server does not report it (older version or omitempty): nothing to compare.
            continue;
        }
        let kind = if by_manifest {
            ChangeKind::Manifest
        } else if eff.derived.contains(path.as_str()) {
            ChangeKind::Derived
        } else if new_sink {
            ChangeKind::Sink
        } else {
            ChangeKind::Reset
        };
        let full = format!("replica_config.{path}");
        let sensitive = holds_secret(&desired.sensitive, &full) || is_secret_path(&path);
        out.changes.push(FieldChange {
            path: full,
            kind,
            before: display(l, sensitive),
            after: display(d, sensitive),
            sensitive,
        });
    }
    out
}

/// Whether a field shown whole holds a secret: the field itself, or anything inside it (a
/// `${VAR}` in one element of a list makes the list secret).
fn holds_secret(sensitive: &std::collections::BTreeSet<String>, full: &str) -> bool {
    sensitive.contains(full)
        || sensitive
            .range(format!("{full}.")..)
            .next()
            .is_some_and(|s| s.starts_with(&format!("{full}.")))
}

/// The fields shown for a create: what the manifest sets.
pub fn creation_fields(desired: &DesiredChangefeed) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let s = desired.sensitive.contains("sink_uri");
    out.push(FieldChange {
        path: "sink_uri".into(),
        kind: ChangeKind::Manifest,
        before: None,
        after: Some(Value::String(if s {
            SENSITIVE.into()
        } else {
            crate::ticdc::mask::mask_sensitive_in_uri(&desired.sink_uri)
        })),
        sensitive: s,
    });
    for (name, v) in [
        ("start_ts", desired.start_ts),
        ("target_ts", desired.target_ts),
    ] {
        if let Some(v) = v.filter(|v| *v != 0) {
            out.push(FieldChange {
                path: name.into(),
                kind: ChangeKind::Manifest,
                before: None,
                after: Some(Value::from(v)),
                sensitive: false,
            });
        }
    }
    if let Some(cfg) = &desired.replica_config {
        for (path, v) in flatten(cfg) {
            let full = format!("replica_config.{path}");
            let sensitive = holds_secret(&desired.sensitive, &full) || is_secret_path(&path);
            out.push(FieldChange {
                path: full,
                kind: ChangeKind::Manifest,
                before: None,
                after: display(Some(&v), sensitive).or(Some(v.clone())).map(|x| {
                    if sensitive {
                        Value::String(SENSITIVE.into())
                    } else {
                        x
                    }
                }),
                sensitive,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::effective_desired;
    use crate::ticdc::mask::mask_sink_uri;
    use crate::ticdc::Version;
    use serde_json::json;

    fn desired(uri: &str, cfg: Option<Value>) -> DesiredChangefeed {
        DesiredChangefeed {
            id: "cf".into(),
            sink_uri: uri.into(),
            sink_uri_template: uri.into(),
            replica_config: cfg.clone(),
            replica_config_template: cfg,
            ..Default::default()
        }
    }

    /// What a v8.5 server reports after creating `uri` with `cfg` (merge, adjust, strip, mask).
    fn live_after_create(p: &ServerProfile, uri: &str, cfg: Option<&Value>) -> ChangefeedInfo {
        let mut c = normalize::defaults(p);
        if let Some(m) = cfg {
            normalize::merge(&mut c, m);
        }
        normalize::adjust(p, uri, &mut c);
        normalize::strip(p, uri, &mut c);
        ChangefeedInfo {
            id: "cf".into(),
            sink_uri: mask_sink_uri(uri).unwrap(),
            config: Some(c),
            state: Some("normal".into()),
            ..Default::default()
        }
    }

    #[test]
    fn no_diff_right_after_create() {
        let p = ServerProfile::classic(Version::new(8, 5, 0));
        for (uri, cfg) in [
            ("blackhole://", None),
            ("kafka://k:9092/t?protocol=canal-json&sasl-user=u&sasl-password=p&time-zone=Asia/Shanghai", Some(json!({"sink": {"dispatchers": [{"matcher": ["a.*"], "partition": "table"}]}}))),
            ("mysql://root:pw@h:3306/", Some(json!({"mounter": {"worker_num": 8}, "sync_point_interval": 60000000000u64, "enable_sync_point": true}))),
            ("s3://b/p?protocol=csv", Some(json!({"sink": {"csv": {"delimiter": "|"}}}))),
        ] {
            let d = desired(uri, cfg.clone());
            let eff = effective_desired(&p, uri, cfg.as_ref());
            let live = live_after_create(&p, uri, cfg.as_ref());
            let diff = diff_changefeed(&p, &d, &eff, &live, Some(uri));
            assert!(diff.changes.is_empty(), "{uri}: {:?}", diff.changes);
            let masked_only = diff_changefeed(&p, &d, &eff, &live, None);
            assert!(masked_only.changes.is_empty(), "{uri}: {:?}", masked_only.changes);
        }
    }

    #[test]
    fn manifest_change_reset_and_derived_are_kept_apart() {
        let p = ServerProfile::classic(Version::new(8, 5, 0));
        let uri = "kafka://k:9092/t?protocol=canal-json";
        let mut live = live_after_create(&p, uri, None);
        let cfg = live.config.as_mut().unwrap();
        normalize::set_path(cfg, "sink.encoder_concurrency", json!(64)); // hand edit
        normalize::set_path(cfg, "sink.protocol", json!("open-protocol")); // derived mismatch
        let want = json!({"mounter": {"worker_num": 8}});
        let d = desired(uri, Some(want.clone()));
        let eff = effective_desired(&p, uri, Some(&want));
        let diff = diff_changefeed(&p, &d, &eff, &live, Some(uri));
        let kinds: Vec<(&str, ChangeKind)> = diff
            .changes
            .iter()
            .map(|c| (c.path.as_str(), c.kind))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("replica_config.mounter.worker_num", ChangeKind::Manifest),
                ("replica_config.sink.encoder_concurrency", ChangeKind::Reset),
                ("replica_config.sink.protocol", ChangeKind::Derived),
            ]
        );
        assert_eq!(diff.changes[0].before, Some(json!(16)));
        assert_eq!(diff.changes[0].after, Some(json!(8)));
        assert!(diff.needs_update());
    }

    /// The sink URI comparison through URIs parsed once says what comparing the canonical
    /// forms of both texts says, with and without `meta_info`, and when the effective config
    /// was made for another URI.
    #[test]
    fn sink_uri_compared_as_canonical_forms() {
        let p = ServerProfile::classic(Version::new(8, 5, 0));
        let uris = [
            "blackhole://",
            "blackhole:",
            "kafka://k:9092/t?protocol=canal-json&sasl-password=a",
            "kafka://k:9092/t?sasl-password=a&protocol=canal-json",
            "kafka://k:9092/t?protocol=canal-json&sasl-password=b",
            "mysql://root:a@h:3306/",
            "mysql://root:b@h:3306/",
            "mysql://h:port/",
        ];
        for want in uris {
            for live_raw in uris {
                let d = desired(want, None);
                let masked = mask_sink_uri(live_raw).unwrap_or_else(|_| "<invalid uri>".into());
                let live = ChangefeedInfo {
                    sink_uri: masked.clone(),
                    config: Some(json!({})),
                    ..Default::default()
                };
                let expect = canonical_uri(want) != canonical_uri(live_raw);
                for eff_uri in [want, "blackhole://"] {
                    let eff = effective_desired(&p, eff_uri, None);
                    let got = diff_changefeed(&p, &d, &eff, &live, Some(live_raw));
                    assert_eq!(got.sink_uri_changed, expect, "{want} vs {live_raw}");
                    let d_masked = mask_sink_uri(want).unwrap_or_else(|_| want.to_string());
                    let expect = canonical_uri(&d_masked) != canonical_uri(&masked);
                    let got = diff_changefeed(&p, &d, &eff, &live, None);
                    assert_eq!(got.sink_uri_changed, expect, "{want} vs masked {masked}");
                }
            }
        }
    }

    #[test]
    fn password_change_seen_only_through_meta_info() {
        let p = ServerProfile::classic(Version::new(8, 5, 0));
        let old = "mysql://root:old@h:3306/";
        let live = live_after_create(&p, old, None);
        let mut d = desired("mysql://root:new@h:3306/", None);
        d.sensitive.insert("sink_uri".into());
        let eff = effective_desired(&p, &d.sink_uri, None);
        let with_meta = diff_changefeed(&p, &d, &eff, &live, Some(old));
        assert_eq!(with_meta.changes.len(), 1);
        assert_eq!(with_meta.changes[0].after, Some(json!(SENSITIVE)));
        let masked = diff_changefeed(&p, &d, &eff, &live, None);
        assert!(masked.changes.is_empty());
        assert!(
            masked.notes[0].contains("cannot be compared"),
            "{:?}",
            masked.notes
        );
    }

    #[test]
    fn secrets_in_config_never_show() {
        let p = ServerProfile::classic(Version::new(8, 5, 0));
        let uri = "kafka://k:9092/t?protocol=avro";
        let live = live_after_create(
            &p,
            uri,
            Some(&json!({"sink": {"kafka_config": {"sasl_password": "old-canary"}}})),
        );
        let want = json!({"sink": {"kafka_config": {"sasl_password": "new-canary"}}});
        let d = desired(uri, Some(want.clone()));
        let eff = effective_desired(&p, uri, Some(&want));
        let diff = diff_changefeed(&p, &d, &eff, &live, Some(uri));
        let text = serde_json::to_string(&diff.changes).unwrap();
        assert!(!text.contains("canary"), "{text}");
        assert!(text.contains(SENSITIVE));
    }
}
