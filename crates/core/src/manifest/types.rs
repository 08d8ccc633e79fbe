//! The manifest format as Rust types: serde for reading, schemars for `schema.json`.
//!
//! `replica_config` mirrors the TiCDC OpenAPI v2 `ReplicaConfig` JSON (tiflow v7.5–v8.5 plus the
//! new-architecture extras). Every field is optional: what the user leaves out is the server's default.
//! Serialising a value back gives exactly the keys the user wrote, in the API's JSON form.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use super::DesiredState;

/// One manifest document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// The changefeeds this document describes.
    #[serde(default)]
    pub changefeeds: Vec<ChangefeedSpec>,
}

/// One changefeed, as written in a manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangefeedSpec {
    /// Changefeed id: ASCII letters and digits in runs joined by single hyphens, at most 128 characters.
    #[schemars(regex(pattern = r"^[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*$"), length(max = 128))]
    pub id: String,
    /// Namespace (keyspace on new-architecture servers); default "default".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Sink URI, e.g. `kafka://broker:9092/topic?protocol=canal-json`. `${VAR}` is expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sink_uri: Option<String>,
    /// running (default) | paused | absent (delete the changefeed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<DesiredState>,
    /// TSO to start from; used only when creating. 0 or unset = now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ts: Option<u64>,
    /// TSO at which the changefeed stops (finished). 0 or unset = never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ts: Option<u64>,
    /// A `cdc cli changefeed create --config` TOML file (path relative to this manifest), read as
    /// `cdc cli` reads it for the target server: kebab-case keys, unknown keys refused.
    /// `replica_config` beside it overrides single fields (a deep merge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_config_file: Option<String>,
    /// TiCDC replica_config: any subset of the keys the API accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_config: Option<ReplicaConfig>,
}

/// A Go duration: integer nanoseconds, or a string such as `"10m"`, `"1h30m"`, `"500ms"`.
/// Serialised as integer nanoseconds (the API's form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoDuration(pub u64);

/// The pattern `schema.json` uses for duration strings.
pub const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]*)?(ns|us|µs|μs|ms|s|m|h))+$";

impl Serialize for GoDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = GoDuration;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a duration: nanoseconds or a string like \"10m\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<GoDuration, E> {
                Ok(GoDuration(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<GoDuration, E> {
                u64::try_from(v)
                    .map(GoDuration)
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<GoDuration, E> {
                parse_go_duration(v).map(GoDuration).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for GoDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: integer nanoseconds, or a Go duration string such as \"10m\" or \"1h30m\".",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": DURATION_PATTERN }
            ]
        })
    }
}

/// Parse a Go duration string (`"1h30m"`, `"1.5s"`, `"300ms"`, `"0"`) into nanoseconds.
/// Negative durations are refused: no TiCDC duration may be negative.
pub fn parse_go_duration(s: &str) -> Result<u64, String> {
    let bad = || {
        format!("invalid duration `{s}`: use a number of nanoseconds or a string like \"10m\", \"1h30m\", \"500ms\"")
    };
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut rest = s;
    let mut total: f64 = 0.0;
    let mut exact: u128 = 0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad());
        }
        let num = &rest[..num_len];
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let mult: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(bad()),
        };
        if num.matches('.').count() > 1 || num == "." {
            return Err(bad());
        }
        if num.contains('.') {
            let f: f64 = num.parse().map_err(|_| bad())?;
            total += f * mult as f64;
        } else {
            let n: u128 = num.parse().map_err(|_| bad())?;
            exact = n
                .checked_mul(mult)
                .and_then(|v| v.checked_add(exact))
                .ok_or_else(bad)?;
        }
    }
    let all = exact + total.round() as u128;
    u64::try_from(all)
        .ok()
        .filter(|v| *v <= i64::MAX as u64)
        .ok_or_else(|| format!("duration `{s}` is too long"))
}

/// Defines a struct of optional API fields: every field is `Option`, omitted when unset,
/// and unknown keys are refused.
macro_rules! api_struct {
    ($(#[$m:meta])* $name:ident { $( $(#[$fm:meta])* $field:ident : $ty:ty ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $(
                $(#[$fm])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }
    };
}

api_struct!(
    /// TiCDC `replica_config` (OpenAPI v2, snake_case keys). Unset keys keep the server's default.
    ReplicaConfig {
        /// Memory quota of the changefeed in bytes (default 1073741824).
        memory_quota: u64,
        /// New architecture (pingcap/ticdc master): events batched by the event collector
        /// (0 disables batching; at most 8192).
        event_collector_batch_count: i64,
        /// Table names are case sensitive (default false since v7.5).
        case_sensitive: bool,
        /// Replicate tables without a valid index too.
        force_replicate: bool,
        /// Skip tables without a valid index instead of failing create/update.
        ignore_ineligible_table: bool,
        /// Check the GC safe point on create/resume (default true).
        check_gc_safe_point: bool,
        /// Write sync points to the downstream (MySQL/TiDB sinks only).
        enable_sync_point: bool,
        /// Enable the table monitor (v8.1+).
        enable_table_monitor: bool,
        /// Bidirectional replication mode (MySQL/TiDB sinks only).
        bdr_mode: bool,
        /// Interval between sync points (default 10m; at least 30s when sync point is enabled).
        sync_point_interval: GoDuration,
        /// How long sync points are kept downstream (default 24h; at least 1h).
        sync_point_retention: GoDuration,
        /// How long a changefeed may retry before it fails (default 30m; minimum 30m).
        changefeed_error_stuck_duration: GoDuration,
        /// Deprecated since v8.0.
        sql_mode: String,
        /// v7.1 only: replicate old values (removed in v7.5).
        enable_old_value: bool,
        /// Table filter and event filters.
        filter: FilterConfig,
        /// Mounter (row decoding) settings.
        mounter: MounterConfig,
        /// Sink settings.
        sink: SinkConfig,
        /// Redo log (eventually consistent replication).
        consistent: ConsistentConfig,
        /// Table scheduling.
        scheduler: SchedulerConfig,
        /// Data integrity checks (Kafka sinks).
        integrity: IntegrityConfig,
        /// Thresholds of the `synced` API (v8.1+).
        synced_status: SyncedStatusConfig,
        #[schemars(extend("enum" = ["throughput", "low-latency", null]))]
        /// Unreleased pingcap/ticdc builds only (master since PR #5862): "throughput" (default)
        /// or "low-latency". Released servers (tiflow, pingcap/ticdc up to v8.5.7) drop it.
        performance_mode: String,
        /// New architecture: active-active replication.
        enable_active_active: bool,
        /// New architecture: active-active progress interval (default 30m).
        active_active_progress_interval: GoDuration,
        /// New architecture: active-active sync-stats interval (default 1m).
        active_active_sync_stats_interval: GoDuration,
    }
);

api_struct!(
    /// Which tables and events are replicated.
    FilterConfig {
        /// Table filter rules (TiDB table-filter syntax), e.g. `shop.*`, `!shop.tmp_*` (default `*.*`).
        rules: Vec<String>,
        /// Transactions to skip, by start ts.
        ignore_txn_start_ts: Vec<u64>,
        /// Event filter rules.
        event_filters: Vec<EventFilterRule>,
        /// v7.5 only (removed in v8.1).
        do_dbs: Vec<String>,
        /// v7.5 only (removed in v8.1).
        do_tables: Vec<FilterTable>,
        /// v7.5 only (removed in v8.1).
        ignore_dbs: Vec<String>,
        /// v7.5 only (removed in v8.1).
        ignore_tables: Vec<FilterTable>,
    }
);

api_struct!(
    /// A database/table pair (v7.5 filter).
    FilterTable {
        database_name: String,
        table_name: String,
    }
);

api_struct!(
    /// Drop some events of the matched tables.
    EventFilterRule {
        /// Table filter rules this event filter applies to.
        matcher: Vec<String>,
        /// Event types to drop, e.g. `delete`, `truncate table`, `all dml`.
        ignore_event: Vec<String>,
        /// SQL regular expressions of DDLs to drop.
        ignore_sql: Vec<String>,
        ignore_insert_value_expr: String,
        ignore_update_new_value_expr: String,
        ignore_update_old_value_expr: String,
        ignore_delete_value_expr: String,
        /// New architecture: drop updates that only change these columns.
        ignore_update_only_columns: Vec<String>,
    }
);

api_struct!(
    /// Row decoding.
    MounterConfig {
        /// Number of mounter workers (default 16).
        worker_num: i64,
    }
);

api_struct!(
    /// Sink settings (TiCDC `SinkConfig`).
    SinkConfig {
        /// Message protocol of MQ/storage sinks: canal-json, open-protocol, avro, maxwell, canal, craft, debezium, simple, csv.
        protocol: String,
        /// Schema registry URL (avro).
        schema_registry: String,
        /// Kafka/Pulsar topic and partition dispatching.
        dispatchers: Vec<DispatchRule>,
        /// Which columns are sent, per table.
        column_selectors: Vec<ColumnSelector>,
        /// CSV options (storage sinks with protocol csv).
        csv: CsvConfig,
        /// Number of encoder workers (MQ sinks, default 32).
        encoder_concurrency: i64,
        /// Line terminator (default "\r\n").
        terminator: String,
        /// Storage sinks: none, year, month or day, in any case (default day).
        date_separator: String,
        /// Storage sinks: separate partitions into directories (default true).
        enable_partition_separator: bool,
        /// Storage sinks: width of the file index (6..20, default 20).
        file_index_width: i64,
        /// Kafka: use the kafka-go based sink.
        enable_kafka_sink_v2: bool,
        /// MQ: only output updated columns.
        only_output_updated_columns: bool,
        /// MQ: delete events carry only the handle key columns.
        delete_only_output_handle_key_columns: bool,
        /// MQ: canal-json compatible content.
        content_compatible: bool,
        #[schemars(extend("enum" = ["none", "table", null]))]
        /// none or table (MySQL sinks).
        transaction_atomicity: String,
        /// MySQL sinks: safe mode.
        safe_mode: bool,
        /// Seconds before a flush is forced (default 150).
        advance_timeout: u32,
        /// New architecture (master): renamed advance_timeout.
        advance_timeout_in_sec: u32,
        /// simple protocol: bootstrap interval in seconds (default 120).
        send_bootstrap_interval_in_sec: i64,
        /// simple protocol: bootstrap every N messages (default 10000).
        send_bootstrap_in_msg_count: i32,
        /// simple protocol: send bootstrap to every partition (default true).
        send_bootstrap_to_all_partition: bool,
        /// simple protocol: send all bootstrap messages at start (v8.5; hyphenated key).
        #[serde(rename = "send-all-bootstrap-at-start")]
        send_all_bootstrap_at_start_hyphen: bool,
        /// New architecture (master) spelling of send-all-bootstrap-at-start.
        send_all_bootstrap_at_start: bool,
        /// debezium protocol: omit the schema.
        debezium_disable_schema: bool,
        /// debezium protocol options.
        debezium: DebeziumConfig,
        /// open-protocol options.
        open: OpenProtocolConfig,
        /// Kafka settings.
        kafka_config: KafkaConfig,
        /// Pulsar settings (hyphenated keys, as TiCDC writes them).
        pulsar_config: PulsarConfig,
        /// MySQL/TiDB sink settings.
        mysql_config: MySQLConfig,
        /// Cloud storage sink settings.
        cloud_storage_config: CloudStorageConfig,
    }
);

api_struct!(
    /// Route rows of matched tables to a topic/partition.
    DispatchRule {
        /// Table filter rules, e.g. `shop.*`.
        matcher: Vec<String>,
        /// default, index-value, ts, table, columns (or a legacy alias).
        partition: String,
        /// Topic expression, e.g. `{schema}_{table}`.
        topic: String,
        /// Index name used by the index-value partitioner.
        index: String,
        /// Columns used by the columns partitioner.
        columns: Vec<String>,
        /// New architecture: routing target schema.
        #[serde(rename = "target-schema")]
        target_schema: String,
        /// New architecture: routing target table.
        #[serde(rename = "target-table")]
        target_table: String,
    }
);

api_struct!(
    /// Columns sent for matched tables.
    ColumnSelector {
        matcher: Vec<String>,
        columns: Vec<String>,
    }
);

api_struct!(
    /// CSV encoding (storage sinks).
    CsvConfig {
        delimiter: String,
        quote: String,
        null: String,
        include_commit_ts: bool,
        #[schemars(extend("enum" = ["base64", "hex", null]))]
        /// base64 or hex.
        binary_encoding_method: String,
        output_old_value: bool,
        output_handle_key: bool,
        output_field_header: bool,
    }
);

api_struct!(
    /// debezium protocol options.
    DebeziumConfig { output_old_value: bool }
);

api_struct!(
    /// open-protocol options.
    OpenProtocolConfig { output_old_value: bool }
);

api_struct!(
    /// Kafka sink settings (most are also URI query parameters).
    KafkaConfig {
        partition_num: i32,
        replication_factor: i16,
        kafka_version: String,
        max_message_bytes: i32,
        compression: String,
        kafka_client_id: String,
        auto_create_topic: bool,
        dial_timeout: String,
        write_timeout: String,
        read_timeout: String,
        required_acks: i32,
        sasl_user: String,
        /// Secret.
        sasl_password: String,
        sasl_mechanism: String,
        sasl_gssapi_auth_type: String,
        sasl_gssapi_keytab_path: String,
        sasl_gssapi_kerberos_config_path: String,
        sasl_gssapi_service_name: String,
        sasl_gssapi_user: String,
        /// Secret.
        sasl_gssapi_password: String,
        sasl_gssapi_realm: String,
        sasl_gssapi_disable_pafxfast: bool,
        sasl_oauth_client_id: String,
        /// Secret.
        sasl_oauth_client_secret: String,
        sasl_oauth_token_url: String,
        sasl_oauth_scopes: Vec<String>,
        sasl_oauth_grant_type: String,
        sasl_oauth_audience: String,
        enable_tls: bool,
        ca: String,
        cert: String,
        /// Path of the TLS client key file.
        key: String,
        insecure_skip_verify: bool,
        codec_config: CodecConfig,
        large_message_handle: LargeMessageHandleConfig,
        glue_schema_registry_config: GlueSchemaRegistryConfig,
        output_raw_change_event: bool,
    }
);

api_struct!(
    /// Encoder options.
    CodecConfig {
        enable_tidb_extension: bool,
        max_batch_size: i32,
        avro_enable_watermark: bool,
        avro_decimal_handling_mode: String,
        avro_bigint_unsigned_handling_mode: String,
        encoding_format: String,
    }
);

api_struct!(
    /// Large message handling (Kafka).
    LargeMessageHandleConfig {
        #[schemars(extend("enum" = ["none", "handle-key-only", "claim-check", null]))]
        /// none, handle-key-only or claim-check.
        large_message_handle_option: String,
        large_message_handle_compression: String,
        claim_check_storage_uri: String,
        claim_check_raw_value: bool,
    }
);

api_struct!(
    /// AWS Glue schema registry.
    GlueSchemaRegistryConfig {
        region: String,
        registry_name: String,
        access_key: String,
        /// Secret.
        secret_access_key: String,
        /// Secret.
        token: String,
    }
);

api_struct!(
    /// Pulsar sink settings (TiCDC uses hyphenated JSON keys here).
    PulsarConfig {
        #[serde(rename = "tls-certificate-path")]
        tls_certificate_path: String,
        #[serde(rename = "tls-private-key-path")]
        tls_private_key_path: String,
        #[serde(rename = "tls-trust-certs-file-path")]
        tls_trust_certs_file_path: String,
        #[serde(rename = "pulsar-version")]
        pulsar_version: String,
        #[serde(rename = "compression-type")]
        compression_type: String,
        /// Secret.
        #[serde(rename = "authentication-token")]
        authentication_token: String,
        #[serde(rename = "connection-timeout")]
        connection_timeout: i64,
        #[serde(rename = "operation-timeout")]
        operation_timeout: i64,
        #[serde(rename = "batching-max-messages")]
        batching_max_messages: u32,
        #[serde(rename = "batching-max-publish-delay")]
        batching_max_publish_delay: i64,
        #[serde(rename = "send-timeout")]
        send_timeout: i64,
        #[serde(rename = "token-from-file")]
        token_from_file: String,
        #[serde(rename = "basic-user-name")]
        basic_user_name: String,
        /// Secret.
        #[serde(rename = "basic-password")]
        basic_password: String,
        #[serde(rename = "auth-tls-certificate-path")]
        auth_tls_certificate_path: String,
        #[serde(rename = "auth-tls-private-key-path")]
        auth_tls_private_key_path: String,
        oauth2: PulsarOAuth2,
        #[serde(rename = "pulsar-producer-cache-size")]
        pulsar_producer_cache_size: i32,
        #[serde(rename = "output-raw-change-event")]
        output_raw_change_event: bool,
    }
);

api_struct!(
    /// Pulsar OAuth2.
    PulsarOAuth2 {
        #[serde(rename = "oauth2-issuer-url")]
        oauth2_issuer_url: String,
        #[serde(rename = "oauth2-audience")]
        oauth2_audience: String,
        /// Secret.
        #[serde(rename = "oauth2-private-key")]
        oauth2_private_key: String,
        #[serde(rename = "oauth2-client-id")]
        oauth2_client_id: String,
        #[serde(rename = "oauth2-scope")]
        oauth2_scope: String,
    }
);

api_struct!(
    /// MySQL/TiDB sink settings (most are also URI query parameters).
    MySQLConfig {
        worker_count: i32,
        max_txn_row: i32,
        max_multi_update_row_size: i32,
        max_multi_update_row_count: i32,
        tidb_txn_mode: String,
        ssl_ca: String,
        ssl_cert: String,
        /// Path of the TLS client key file.
        ssl_key: String,
        time_zone: String,
        write_timeout: String,
        read_timeout: String,
        timeout: String,
        enable_batch_dml: bool,
        enable_multi_statement: bool,
        enable_cache_prepared_statement: bool,
    }
);

api_struct!(
    /// Cloud storage sink settings.
    CloudStorageConfig {
        worker_count: i32,
        flush_interval: String,
        file_size: i32,
        /// New architecture only (pingcap/ticdc v8.5.7 api/v2/model.go `CloudStorageConfig`):
        /// bytes of local spool disk the storage sink may use; more than 0 (default 10 GiB,
        /// pkg/sink/cloudstorage/config.go `defaultSpoolDiskQuota`).
        spool_disk_quota: i64,
        /// New architecture only: an absolute directory for the spool files.
        spool_base_dir: String,
        output_column_id: bool,
        file_expiration_days: i32,
        file_cleanup_cron_spec: String,
        flush_concurrency: i32,
        output_raw_change_event: bool,
        /// New architecture only: table ids instead of names in the storage paths; the
        /// `use-table-id-as-path` sink-URI parameter overrides it.
        use_table_id_as_path: bool,
    }
);

api_struct!(
    /// Redo log.
    ConsistentConfig {
        #[schemars(extend("enum" = ["none", "eventual", null]))]
        /// none or eventual.
        level: String,
        max_log_size: i64,
        flush_interval: i64,
        meta_flush_interval: i64,
        encoding_worker_num: i64,
        flush_worker_num: i64,
        /// Redo storage URI, e.g. `s3://bucket/redo`.
        storage: String,
        use_file_backend: bool,
        compression: String,
        flush_concurrency: i32,
        memory_usage: ConsistentMemoryUsage,
        /// New architecture (pingcap/ticdc master).
        event_collector_batch_count: i64,
    }
);

api_struct!(
    /// Redo memory usage.
    ConsistentMemoryUsage { memory_quota_percentage: u64 }
);

api_struct!(
    /// Table scheduling.
    SchedulerConfig {
        enable_table_across_nodes: bool,
        region_threshold: i64,
        write_key_threshold: i64,
        /// New architecture.
        region_count_per_span: i32,
        /// New architecture: integer nanoseconds only.
        region_count_refresh_interval: i64,
        /// New architecture.
        scheduling_task_count_per_node: i32,
        /// New architecture.
        enable_splittable_check: bool,
        /// New architecture.
        force_split: bool,
        /// New architecture.
        balance_score_threshold: i32,
        /// New architecture.
        min_traffic_percentage: f64,
        /// New architecture.
        max_traffic_percentage: f64,
    }
);

api_struct!(
    /// Integrity checks.
    IntegrityConfig {
        #[schemars(extend("enum" = ["none", "correctness", null]))]
        /// none or correctness.
        integrity_check_level: String,
        #[schemars(extend("enum" = ["warn", "error", null]))]
        /// warn or error.
        corruption_handle_level: String,
    }
);

api_struct!(
    /// Thresholds (seconds) of the synced API.
    SyncedStatusConfig {
        synced_check_interval: i64,
        checkpoint_interval: i64,
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("10m"), Ok(600_000_000_000));
        assert_eq!(parse_go_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_go_duration("300ms"), Ok(300_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert!(parse_go_duration("10").is_err());
        assert!(parse_go_duration("-1s").is_err());
        assert!(parse_go_duration("1d").is_err());
        assert!(parse_go_duration("").is_err());
    }
}
