//! Settings whose fate depends on the target server's architecture: warnings `validate` prints
//! for every possible target (offline) and `plan` prints for the server it read.
//!
//! Kept apart from the simulator on purpose: the same rules are modelled there from TiCDC's
//! source, and each implementation checks the other.

use serde_json::Value;

use super::DesiredChangefeed;
use crate::ticdc::{Arch, ServerProfile};

/// One warning about one changefeed, located at its `- id:` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompatWarning {
    pub id: String,
    pub at: String,
    pub message: String,
    pub help: String,
}

impl std::fmt::Display for CompatWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: changefeed `{}`: {}\n  help: {}",
            self.at, self.id, self.message, self.help
        )
    }
}

fn is_mysql_scheme(uri: &str) -> bool {
    let scheme = uri.split(':').next().unwrap_or("").to_ascii_lowercase();
    matches!(scheme.as_str(), "mysql" | "mysql+ssl" | "tidb" | "tidb+ssl")
}

/// Warnings for `cf` on `target` (`None`: the target is not known, as in `validate`).
pub fn warnings(cf: &DesiredChangefeed, target: Option<&ServerProfile>) -> Vec<CompatWarning> {
    let mut out = Vec::new();
    // A plan for a known server refuses such keys instead (`config_file::check_for_target`).
    if target.is_none() {
        for (at, message) in &cf.file_warnings {
            out.push(CompatWarning {
                id: cf.id.clone(),
                at: at.clone(),
                message: message.clone(),
                help: "keep it only if every server this file is used with knows it".into(),
            });
        }
    }
    let Some(cfg) = cf.replica_config.as_ref() else {
        return out;
    };
    let warn = |message: String, help: &str| CompatWarning {
        id: cf.id.clone(),
        at: cf.location.to_string(),
        message,
        help: help.to_string(),
    };
    let sync_point = cfg.get("enable_sync_point") == Some(&Value::Bool(true));
    let scheme = cf.sink_uri.split(':').next().unwrap_or("");
    if sync_point && !cf.sink_uri.is_empty() && !is_mysql_scheme(&cf.sink_uri) {
        // pingcap/ticdc v8.5.7 pkg/config/replica_config.go ValidateAndAdjust refuses
        // it (500 CDC:ErrInvalidReplicaConfig); tiflow accepts it and drops it on load.
        let help =
            "remove `enable_sync_point` (sync points are written only to MySQL/TiDB downstreams)";
        match target.map(|p| p.arch) {
            Some(Arch::Newarch) => out.push(warn(
                format!("`enable_sync_point: true` with a `{scheme}` sink: this new-architecture TiCDC refuses it (CDC:ErrInvalidReplicaConfig)"),
                help,
            )),
            None => out.push(warn(
                format!("`enable_sync_point: true` with a `{scheme}` sink: a new-architecture TiCDC refuses it (CDC:ErrInvalidReplicaConfig); a classic one ignores it"),
                help,
            )),
            Some(Arch::Classic) => {}
        }
    }
    unreleased_keys(cfg, target, &warn, &mut out);
    newarch_storage(cfg, &cf.sink_uri, target, &warn, &mut out);
    no_effect(cfg, scheme, target, &warn, &mut out);
    redo_on_non_mysql(cfg, scheme, target, &warn, &mut out);
    if cfg.get("performance_mode").is_some() {
        // Added to pingcap/ticdc master by PR #5862 (2026-08-07); no released tag of either
        // repository (tiflow up to v8.5.7, pingcap/ticdc up to v8.5.7) has the key, and
        // their JSON decoding drops it.
        let target_text = match target {
            Some(p) => format!("this server ({}) drops it", p.label()),
            None => "released servers (tiflow, pingcap/ticdc up to v8.5.7) drop it".to_string(),
        };
        out.push(warn(
            format!(
                "`performance_mode` exists only in unreleased pingcap/ticdc builds; {target_text}"
            ),
            "remove `performance_mode` unless the cluster runs a pingcap/ticdc build that has it",
        ));
    }
    out
}

/// The kind of downstream a sink scheme writes to, for settings that apply to one kind only.
fn downstream(scheme: &str) -> Option<&'static str> {
    match scheme.to_ascii_lowercase().as_str() {
        "mysql" | "mysql+ssl" | "tidb" | "tidb+ssl" => Some("database"),
        "kafka" | "kafka+ssl" | "pulsar" | "pulsar+ssl" | "pulsar+http" | "pulsar+https" => {
            Some("message-queue")
        }
        "s3" | "gcs" | "gs" | "azblob" | "azure" | "file" | "noop" => Some("storage"),
        _ => None,
    }
}

/// Settings that TiCDC applies to one kind of downstream only, from the comments on the fields of
/// `SinkConfig` in tiflow v8.5.0 pkg/config/sink.go ("… is only available when the downstream
/// is MQ / Storage / DB"). Elsewhere they are accepted and have no effect.
const ONLY_FOR: &[(&str, &str)] = &[
    ("/sink/dispatchers", "message-queue"),
    ("/sink/schema_registry", "message-queue"),
    ("/sink/encoder_concurrency", "message-queue"),
    ("/sink/only_output_updated_columns", "message-queue"),
    (
        "/sink/delete_only_output_handle_key_columns",
        "message-queue",
    ),
    ("/sink/content_compatible", "message-queue"),
    ("/sink/kafka_config", "message-queue"),
    ("/sink/pulsar_config", "message-queue"),
    ("/sink/date_separator", "storage"),
    ("/sink/enable_partition_separator", "storage"),
    ("/sink/file_index_width", "storage"),
    ("/sink/csv", "storage"),
    ("/sink/cloud_storage_config", "storage"),
    ("/sink/safe_mode", "database"),
    ("/sink/mysql_config", "database"),
];

/// Keys of a dispatch rule that route a table (pingcap/ticdc v8.5.7 pkg/config/sink.go
/// `DispatchRule.TargetSchema`/`TargetTable`).
fn routes(rule: &Value) -> bool {
    ["target-schema", "target-table"]
        .iter()
        .any(|k| rule.get(*k).is_some_and(|v| v.as_str() != Some("")))
}

/// A warning per setting that has no effect on this sink's kind of downstream (blackhole and
/// unknown schemes are left alone: a blackhole sink is for tests).
///
/// `sink.dispatchers` follows the target: pingcap/ticdc v8.5.7 routes tables on every kind of
/// sink (pkg/config/sink.go `validateAndAdjust` checks the routes before its MySQL early
/// return; pkg/config/changefeed.go `rmMQOnlyFields` keeps the rules and clears only their MQ
/// parts; pkg/routing `NewAdmin` routes by them), so on a non-MQ sink a rule with
/// `target-schema`/`target-table` has an effect there. Unknown target: a routing rule is
/// reported by `unreleased_keys` instead, and only the rules without routing are reported here.
fn no_effect(
    cfg: &Value,
    scheme: &str,
    target: Option<&ServerProfile>,
    warn: &dyn Fn(String, &str) -> CompatWarning,
    out: &mut Vec<CompatWarning>,
) {
    let Some(kind) = downstream(scheme) else {
        return;
    };
    let target_routes = target.is_some_and(crate::normalize::has_table_routing);
    for (path, only) in ONLY_FOR.iter().filter(|(_, only)| *only != kind) {
        let Some(v) = cfg.pointer(path).filter(|v| !v.is_null()) else {
            continue;
        };
        let key = path.trim_start_matches('/').replace('/', ".");
        if *path == "/sink/dispatchers" {
            let rules = v.as_array().map(Vec::as_slice).unwrap_or_default();
            let routing = rules.iter().filter(|r| routes(r)).count();
            let plain = rules.len() - routing;
            if target.is_none() || target_routes {
                if plain > 0 {
                    let server = if target_routes {
                        "this server"
                    } else {
                        "a new-architecture v8.5.7 server"
                    };
                    out.push(warn(
                        format!("{plain} of the `sink.dispatchers` rules have no `target-schema`/`target-table` and no effect on a `{scheme}` sink: {server} uses dispatch rules of {kind} downstreams for table routing only, and TiCDC partitions only message-queue downstreams"),
                        "remove those rules, or use a message-queue sink",
                    ));
                }
                continue;
            }
        }
        out.push(warn(
            format!("`{key}` has no effect on a `{scheme}` sink: TiCDC applies it to {only} downstreams only"),
            &format!("remove `{key}`, or use a {only} sink"),
        ));
    }
}

/// Redo settings (`consistent`) on a sink other than MySQL/TiDB (blackhole excepted, which
/// nothing strips). Classic TiCDC drops them when the owner loads the changefeed: tiflow
/// v7.5.0, v8.1.0 and v8.5.0 cdc/model/changefeed.go `RmUnusedFields` → `rmDBOnlyFields` sets
/// `Config.Consistent = nil`, so a later GET has no `consistent` and redo never runs. The new
/// architecture keeps them: pingcap/ticdc v8.5.7 pkg/config/changefeed.go `rmDBOnlyFields` does
/// not touch `Consistent`, and downstreamadapter/dispatchermanager `isRedoConfigEnabled` starts
/// the redo log for any sink when the level is not `none`, so there the setting is kept and
/// compared, and no warning is due.
fn redo_on_non_mysql(
    cfg: &Value,
    scheme: &str,
    target: Option<&ServerProfile>,
    warn: &dyn Fn(String, &str) -> CompatWarning,
    out: &mut Vec<CompatWarning>,
) {
    if cfg.get("consistent").is_none_or(Value::is_null)
        || !matches!(downstream(scheme), Some("message-queue" | "storage"))
    {
        return;
    }
    let help =
        "remove `consistent` (redo logs serve MySQL/TiDB downstreams), or use a MySQL/TiDB sink";
    match target {
        Some(p) if p.arch == Arch::Classic => out.push(warn(
            format!("`consistent` (redo) has no effect on a `{scheme}` sink: this server ({}) drops it when it loads the changefeed, so it is neither applied nor shown by export", p.label()),
            help,
        )),
        Some(_) => {}
        None => out.push(warn(
            format!("`consistent` (redo) on a `{scheme}` sink: classic TiCDC (tiflow v7.2 and later) drops it when it loads the changefeed; a new-architecture one keeps it and writes redo logs"),
            help,
        )),
    }
}

/// Keys of list items that some servers drop: `ignore_update_only_columns` of event filters
/// (pingcap/ticdc master only, PR #5194), `target-schema`/`target-table` of dispatch rules
/// (pingcap/ticdc v8.5.7 api/v2/model.go; tiflow has neither).
fn unreleased_keys(
    cfg: &Value,
    target: Option<&ServerProfile>,
    warn: &dyn Fn(String, &str) -> CompatWarning,
    out: &mut Vec<CompatWarning>,
) {
    let items = |path: &str| -> Vec<Value> {
        cfg.pointer(path)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    if items("/filter/event_filters")
        .iter()
        .any(|r| r.get("ignore_update_only_columns").is_some())
    {
        out.push(warn(
            "`ignore_update_only_columns` exists only in unreleased pingcap/ticdc builds; released servers drop it".into(),
            "remove it unless the cluster runs a pingcap/ticdc build that has it",
        ));
    }
    let routed = items("/sink/dispatchers")
        .iter()
        .any(|r| r.get("target-schema").is_some() || r.get("target-table").is_some());
    if routed && target.is_none_or(|p| !crate::normalize::has_table_routing(p)) {
        out.push(warn(
            "`target-schema`/`target-table` in a dispatch rule: only new-architecture v8.5.7-style servers route tables; classic TiCDC (tiflow) and next-gen v26.3 builds drop them".into(),
            "remove them, or target a pingcap/ticdc v8.5.7 new-architecture server",
        ));
    }
    let active_active = [
        "enable_active_active",
        "active_active_progress_interval",
        "active_active_sync_stats_interval",
    ];
    if active_active.iter().any(|k| cfg.get(*k).is_some())
        && target.is_none_or(|p| !crate::normalize::has_active_active(p))
    {
        out.push(warn(
            "the active-active settings exist only on next-gen new-architecture builds (pingcap/ticdc v26.3); other servers drop them".into(),
            "remove them unless the cluster runs such a build",
        ));
    }
}

/// pingcap/ticdc v8.5.7 `cloud_storage_config.{spool_disk_quota, spool_base_dir,
/// use_table_id_as_path}` (api/v2/model.go `CloudStorageConfig`; tiflow has none of them, and its
/// JSON decoding drops them). With the target unknown or classic, a value other than what the
/// absence means is worth a warning (`validate --target` of a classic version refuses it:
/// `sink_rules`; a plan against a classic server warns, and `normalize` does not compare them). On storage sinks the
/// `use-table-id-as-path` URI parameter is compared with the setting as
/// `CheckUseTableIDAsPathCompatibility` (pkg/config/sink.go) would: v8.5.7 calls it from nowhere
/// but `(*SinkConfig).CheckCompatibilityWithSinkURI`, which nothing calls, so the server accepts
/// both and pkg/sink/cloudstorage/config.go `mergeConfig` decides: `true` in either place wins.
fn newarch_storage(
    cfg: &Value,
    sink_uri: &str,
    target: Option<&ServerProfile>,
    warn: &dyn Fn(String, &str) -> CompatWarning,
    out: &mut Vec<CompatWarning>,
) {
    let csc = |k: &str| cfg.pointer(&format!("/sink/cloud_storage_config/{k}"));
    let classic = target.is_some_and(|p| p.arch == Arch::Classic);
    if target.is_none() || classic {
        let set: Vec<&str> = [
            (
                "spool_disk_quota",
                csc("spool_disk_quota").is_some_and(|v| !v.is_null()),
            ),
            (
                "spool_base_dir",
                csc("spool_base_dir")
                    .and_then(Value::as_str)
                    .is_some_and(|d| !d.is_empty()),
            ),
            (
                "use_table_id_as_path",
                csc("use_table_id_as_path") == Some(&Value::Bool(true)),
            ),
        ]
        .into_iter()
        .filter_map(|(k, on)| on.then_some(k))
        .collect();
        if !set.is_empty() {
            let server = match target {
                Some(p) => format!(
                    "this server ({}) drops them, so they have no effect",
                    p.label()
                ),
                None => "classic TiCDC (tiflow) drops them".into(),
            };
            out.push(warn(
                format!("`sink.cloud_storage_config.{}` exist only on new-architecture servers (pingcap/ticdc v8.5.7); {server}", set.join("`, `")),
                "remove them unless every target runs the new architecture",
            ));
        }
    }
    if classic || downstream(sink_uri.split(':').next().unwrap_or("")) != Some("storage") {
        return;
    }
    let Ok(u) = crate::ticdc::mask::GoUrl::parse(sink_uri) else {
        return;
    };
    let from_uri = u
        .query_pairs()
        .into_iter()
        .find(|(k, _)| k == "use-table-id-as-path")
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
        .and_then(|v| go_parse_bool(&v));
    let from_config = csc("use_table_id_as_path").and_then(Value::as_bool);
    if let Some(text) = use_table_id_as_path_conflict(from_config, from_uri) {
        out.push(warn(
            format!("{text}: the server accepts both and uses table ids if either says `true` (pkg/sink/cloudstorage/config.go `mergeConfig`)"),
            "set use-table-id-as-path in one place only, the sink URI or `sink.cloud_storage_config.use_table_id_as_path`",
        ));
    }
}

/// Go's `strconv.ParseBool`.
fn go_parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// pingcap/ticdc v8.5.7 pkg/config/sink.go `CheckUseTableIDAsPathCompatibility`: nothing to say
/// unless both are set; different values are `ErrIncompatibleSinkConfig` with this text.
fn use_table_id_as_path_conflict(config: Option<bool>, uri: Option<bool>) -> Option<String> {
    let (c, u) = (config?, uri?);
    (c != u).then(|| {
        format!("incompatible configuration in sink uri(use-table-id-as-path={u}) and config file(use-table-id-as-path={c})")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pingcap/ticdc v8.5.7 pkg/config/sink.go `CheckUseTableIDAsPathCompatibility` (ticdc has
    /// no unit test of its own for it; these are its branches): no config, no URI value, equal
    /// values pass; different values are incompatible.
    #[test]
    fn use_table_id_as_path_compatibility() {
        let table: &[(Option<bool>, Option<bool>, Option<&str>)] = &[
            (None, None, None),
            (None, Some(true), None),
            (Some(true), None, None),
            (Some(true), Some(true), None),
            (Some(false), Some(false), None),
            (Some(false), Some(true), Some("incompatible configuration in sink uri(use-table-id-as-path=true) and config file(use-table-id-as-path=false)")),
            (Some(true), Some(false), Some("incompatible configuration in sink uri(use-table-id-as-path=false) and config file(use-table-id-as-path=true)")),
        ];
        for (c, u, want) in table {
            assert_eq!(
                use_table_id_as_path_conflict(*c, *u).as_deref(),
                *want,
                "{c:?} {u:?}"
            );
        }
    }

    /// tiflow v8.5.0 pkg/config/sink.go: dispatchers are for MQ sinks, csv for storage sinks,
    /// safe_mode for database sinks.
    #[test]
    fn settings_for_another_kind_of_downstream_have_no_effect() {
        let k = cf(
            "kafka://k:9092/t?protocol=canal-json",
            json!({"sink": {"csv": {"delimiter": ","}, "safe_mode": true, "dispatchers": [{"matcher": ["a.*"], "partition": "table"}]}}),
        );
        let w = warnings(&k, None);
        let text: Vec<&str> = w.iter().map(|w| w.message.as_str()).collect();
        assert_eq!(w.len(), 2, "{text:?}");
        assert!(text
            .iter()
            .any(|t| t.contains("`sink.csv` has no effect on a `kafka` sink")));
        assert!(text
            .iter()
            .any(|t| t.contains("`sink.safe_mode`") && t.contains("database")));
        let m = cf(
            "mysql://root@h:3306/",
            json!({"sink": {"dispatchers": [{"matcher": ["a.*"], "partition": "table"}], "safe_mode": true}}),
        );
        let w = warnings(
            &m,
            Some(&ServerProfile::classic(crate::ticdc::Version::new(8, 5, 0))),
        );
        assert_eq!(w.len(), 1);
        assert!(w[0].message.contains("message-queue downstreams only"));
        let b = cf("blackhole://", json!({"sink": {"csv": {"delimiter": ","}}}));
        assert!(warnings(&b, None).is_empty());
    }
    use serde_json::json;

    fn cf(uri: &str, cfg: Value) -> DesiredChangefeed {
        DesiredChangefeed {
            id: "x".into(),
            sink_uri: uri.into(),
            replica_config: Some(cfg),
            ..Default::default()
        }
    }

    #[test]
    fn sync_point_warns_per_target() {
        let k = cf(
            "kafka://k:9092/t?protocol=canal-json",
            json!({"enable_sync_point": true}),
        );
        let na = ServerProfile::newarch();
        let cl = ServerProfile::classic(crate::ticdc::Version::new(8, 5, 0));
        assert!(warnings(&k, Some(&na))[0].message.contains("refuses it"));
        assert!(warnings(&k, None)[0]
            .message
            .contains("a new-architecture TiCDC refuses it"));
        assert!(warnings(&k, Some(&cl)).is_empty());
        let m = cf("mysql://root@h:3306/", json!({"enable_sync_point": true}));
        assert!(warnings(&m, None).is_empty());
        assert!(warnings(&m, Some(&na)).is_empty());
    }

    #[test]
    fn performance_mode_warns_everywhere_it_is_dropped() {
        let c = cf("blackhole://", json!({"performance_mode": "low-latency"}));
        assert_eq!(warnings(&c, None).len(), 1);
        assert!(warnings(&c, Some(&ServerProfile::newarch()))[0]
            .message
            .contains("drops it"));
    }

    /// pingcap/ticdc v8.5.7 pkg/config/sink.go `validateAndAdjust` (routes checked before the
    /// MySQL early return) and pkg/config/changefeed.go `rmMQOnlyFields` (rules kept): a routing
    /// rule on a MySQL sink has an effect on a new-architecture v8.5.7 target, a rule without
    /// routing has none anywhere; a classic target drops the whole list.
    #[test]
    fn dispatchers_on_a_mysql_sink_follow_the_target() {
        let routed = json!({"matcher": ["a.*"], "target-schema": "{schema}_bak"});
        let plain = json!({"matcher": ["b.*"], "partition": "table"});
        let m = |rules: Value| {
            cf(
                "mysql://root@h:3306/",
                json!({"sink": {"dispatchers": rules}}),
            )
        };
        let na = ServerProfile::newarch();
        let cl = ServerProfile::classic(crate::ticdc::Version::new(8, 5, 0));
        let texts = |w: Vec<CompatWarning>| w.into_iter().map(|w| w.message).collect::<Vec<_>>();
        // Only routing rules, new architecture: nothing to say.
        assert!(warnings(&m(json!([routed.clone()])), Some(&na)).is_empty());
        // Unknown target: the routing warning only, no "no effect".
        let w = texts(warnings(&m(json!([routed.clone()])), None));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("only new-architecture"), "{w:?}");
        // A rule without routing has no effect on any server.
        let w = texts(warnings(
            &m(json!([routed.clone(), plain.clone()])),
            Some(&na),
        ));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("1 of the `sink.dispatchers` rules"),
            "{w:?}"
        );
        // Classic: the whole list has no effect, and the routing keys are dropped.
        let w = texts(warnings(&m(json!([routed])), Some(&cl)));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w
            .iter()
            .any(|t| t.contains("`sink.dispatchers` has no effect on a `mysql` sink")));
    }

    /// tiflow v7.5.0/v8.1.0/v8.5.0 cdc/model/changefeed.go `rmDBOnlyFields` clears
    /// `Consistent` on non-MySQL sinks; pingcap/ticdc v8.5.7 pkg/config/changefeed.go
    /// `rmDBOnlyFields` keeps it (and downstreamadapter/dispatchermanager `isRedoConfigEnabled`
    /// runs redo on any sink).
    #[test]
    fn redo_on_a_non_mysql_sink_warns_for_classic_targets() {
        let redo = json!({"consistent": {"level": "eventual", "storage": "s3://b/redo"}});
        let k = cf("kafka://k:9092/t?protocol=canal-json", redo.clone());
        for v in [(7, 5, 0), (8, 1, 0), (8, 5, 0)] {
            let p = ServerProfile::classic(crate::ticdc::Version::new(v.0, v.1, v.2));
            let w = warnings(&k, Some(&p));
            assert_eq!(w.len(), 1, "{v:?}: {w:?}");
            assert!(w[0].message.contains("drops it when it loads"), "{w:?}");
        }
        assert!(warnings(&k, Some(&ServerProfile::newarch())).is_empty());
        assert!(warnings(&k, None)[0]
            .message
            .contains("new-architecture one keeps it"));
        let s3 = cf("s3://b/p?protocol=csv", redo.clone());
        assert_eq!(warnings(&s3, None).len(), 1);
        for uri in [
            "mysql://root@h:3306/",
            "tidb://root@h:4000/",
            "blackhole://",
        ] {
            assert!(warnings(&cf(uri, redo.clone()), None).is_empty(), "{uri}");
        }
    }
}
