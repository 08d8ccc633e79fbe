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
    no_effect(cfg, scheme, &warn, &mut out);
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

/// A warning per setting that has no effect on this sink's kind of downstream (blackhole and
/// unknown schemes are left alone: a blackhole sink is for tests).
fn no_effect(
    cfg: &Value,
    scheme: &str,
    warn: &dyn Fn(String, &str) -> CompatWarning,
    out: &mut Vec<CompatWarning>,
) {
    let Some(kind) = downstream(scheme) else {
        return;
    };
    for (path, only) in ONLY_FOR.iter().filter(|(_, only)| *only != kind) {
        if cfg.pointer(path).is_some_and(|v| !v.is_null()) {
            let key = path.trim_start_matches('/').replace('/', ".");
            out.push(warn(
                format!("`{key}` has no effect on a `{scheme}` sink: TiCDC applies it to {only} downstreams only"),
                &format!("remove `{key}`, or use a {only} sink"),
            ));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
