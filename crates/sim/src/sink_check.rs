//! Sink checks TiCDC makes at create/update time without contacting the sink: the sink part of
//! `ValidateAndAdjust` (CSV, date separator, large messages, Glue, Pulsar OAuth2, redo, integrity,
//! scheduler) and the validator's pre-checks (IPv6 hosts, sync point, BDR, Kafka URI options,
//! topic expressions, avro registry). `--no-sink-check` skips only the TCP connection, never these.
//!
//! Sources: tiflow v8.5.7 `pkg/config/{sink,replica_config,consistent,large_message,scheduler_config}.go`,
//! `pkg/redo/config.go`, `pkg/integrity/integrity.go`, `cdc/sink/validator/validator.go`,
//! `pkg/sink/kafka/options.go`, `cdc/sink/dmlsink/mq/dispatcher/topic/expression.go`,
//! `pkg/sink/codec/common/config.go`; pingcap/ticdc v8.5.7-release.1 `pkg/config/*.go`,
//! `api/v2/changefeed.go` (`CreateChangefeed`), `downstreamadapter/sink/kafka/helper.go`.

use serde_json::Value;

use super::config::{ApiErr, SinkKind};
use super::{uri_params, SimProfile};
use crate::ticdc::mask::GoUrl;
use crate::ticdc::Version;

const SINK_INVALID: &str = "CDC:ErrSinkInvalidConfig";
const REPLICA_INVALID: &str = "CDC:ErrInvalidReplicaConfig";
const URI_INVALID: &str = "CDC:ErrSinkURIInvalid";
const KAFKA_INVALID: &str = "CDC:ErrKafkaInvalidConfig";
const MYSQL_INVALID: &str = "CDC:ErrMySQLInvalidConfig";

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(v, |cur, k| cur.get(*k))
        .filter(|x| !x.is_null())
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    s(v, path).and_then(Value::as_str).unwrap_or("")
}

fn int_at(v: &Value, path: &[&str]) -> Option<i64> {
    s(v, path).and_then(Value::as_i64)
}

fn bool_at(v: &Value, path: &[&str]) -> bool {
    s(v, path).and_then(Value::as_bool).unwrap_or(false)
}

/// `url.Values.Get`: the first value of a key.
fn query(u: &GoUrl, key: &str) -> Option<String> {
    u.query_pairs()
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

fn is_mysql(scheme: &str) -> bool {
    matches!(scheme, "mysql" | "mysql+ssl" | "tidb" | "tidb+ssl")
}

fn is_storage(scheme: &str) -> bool {
    matches!(
        scheme,
        "s3" | "file" | "gcs" | "gs" | "azblob" | "azure" | "noop"
    )
}

fn is_mq(scheme: &str) -> bool {
    scheme.starts_with("kafka") || scheme.starts_with("pulsar")
}

/// The protocol `ValidateAndAdjust` settles on: the URI's `protocol` wins over the config's.
fn protocol(cfg: &Value, u: &GoUrl) -> String {
    query(u, "protocol")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| str_at(cfg, &["sink", "protocol"]).to_string())
}

/// The sink/redo/integrity/scheduler checks of `(*ReplicaConfig).ValidateAndAdjust` that
/// `config::validate_and_adjust` does not make. Errors are raw (the caller wraps them the way the
/// profile does: classic returns them as they are, newarch wraps `ErrInvalidReplicaConfig`).
pub fn validate_config(cfg: &Value, u: &GoUrl, profile: &SimProfile) -> Result<(), ApiErr> {
    let scheme = u.scheme.to_ascii_lowercase();
    txn_atomicity(cfg, u, &scheme)?;
    if !profile.is_classic() {
        table_routes(cfg)?;
    }
    if !is_mysql(&scheme) {
        sink_level(cfg, u, &scheme, profile)?;
    }
    consistent(cfg)?;
    scheduler(cfg, profile)?;
    integrity(cfg, &scheme)?;
    Ok(())
}

/// Go's `%q` of a string (strconv.Quote) for the texts routes hold.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// pingcap/ticdc v8.5.7 pkg/config/sink.go `(*SinkConfig).validateTableRoute`: every rule with
/// a `target-schema` or `target-table` must hold literal text and `{schema}`/`{table}` only
/// (`validateRoutingExpression`, regexp `^(?:[^{}]|\{schema\}|\{table\})*$`), checked for
/// every scheme before the MySQL early return. `GenWithStack` replaces the code's template.
fn table_routes(cfg: &Value) -> Result<(), ApiErr> {
    // The regexp of `validateRoutingExpression`, as ticdc writes it (cdcform's validator
    // scans the text instead: the two are kept apart so that one can catch the other).
    static ROUTE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^(?:[^{}]|\{schema\}|\{table\})*$").expect("a valid regexp")
    });
    let ok = |expr: &str| ROUTE.is_match(expr);
    let rules = s(cfg, &["sink", "dispatchers"])
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for rule in rules {
        let field = |k: &str| rule.get(k).and_then(Value::as_str).unwrap_or("");
        let (schema, table) = (field("target-schema"), field("target-table"));
        if schema.is_empty() && table.is_empty() {
            continue;
        }
        for (name, expr) in [("target-schema", schema), ("target-table", table)] {
            if !expr.is_empty() && !ok(expr) {
                return Err(ApiErr::new(
                    "CDC:ErrInvalidTableRoutingRule",
                    format!(
                        "{name} {} must contain only literal text, {{schema}}, and {{table}}",
                        go_quote(expr)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// tiflow `AtomicityLevel.validate`: "" and none anywhere, table except on MQ sinks.
fn txn_atomicity(cfg: &Value, u: &GoUrl, scheme: &str) -> Result<(), ApiErr> {
    let level = query(u, "transaction-atomicity")
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| str_at(cfg, &["sink", "transaction_atomicity"]).to_string());
    let ok = match level.as_str() {
        "" | "none" => true,
        "table" => !is_mq(scheme),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    Err(ApiErr::new(
        URI_INVALID,
        format!("sink uri invalid '{level} level atomicity is not supported by {scheme} scheme'"),
    ))
}

/// The part of `(*SinkConfig).validateAndAdjust` after the MySQL early return.
fn sink_level(cfg: &Value, u: &GoUrl, scheme: &str, profile: &SimProfile) -> Result<(), ApiErr> {
    let proto = protocol(cfg, u);
    if s(cfg, &["sink", "kafka_config", "large_message_handle"]).is_some() {
        large_message(cfg, u, &proto, profile)?;
    }
    glue(cfg)?;
    if let Some(o) = s(cfg, &["sink", "pulsar_config", "oauth2"]) {
        let missing = [
            "oauth2-issuer-url",
            "oauth2-client-id",
            "oauth2-private-key",
            "oauth2-audience",
        ]
        .iter()
        .any(|k| str_at(o, &[k]).is_empty());
        if missing {
            // An uncoded Go error (fmt.Errorf): 500 with an empty error_code on classic.
            return Err(ApiErr::new(
                "",
                "issuer-url and audience and private-key and client-id not be empty",
            ));
        }
    }
    if let Some(n) = int_at(cfg, &["sink", "encoder_concurrency"]).filter(|n| *n < 0) {
        return Err(ApiErr::new(
            SINK_INVALID,
            format!("encoder-concurrency should greater than 0, but got {n}"),
        ));
    }
    if bool_at(cfg, &["sink", "delete_only_output_handle_key_columns"]) && proto == "csv" {
        return Err(ApiErr::new(
            SINK_INVALID,
            "CSV protocol always output all columns for the delete event, do not set `delete-only-output-handle-key-columns` to true",
        ));
    }
    if is_storage(scheme) {
        storage(cfg)?;
    }
    Ok(())
}

/// `(*LargeMessageHandleConfig).AdjustAndValidate`.
/// `claim_check_raw_value` exists from tiflow v8.3.0 (PR #11395; of the simulated versions,
/// v8.5.0) and in pingcap/ticdc; older servers' JSON decoding drops the unknown key, so it is
/// never checked there.
fn large_message(cfg: &Value, u: &GoUrl, proto: &str, profile: &SimProfile) -> Result<(), ApiErr> {
    let lm = &["sink", "kafka_config", "large_message_handle"];
    let at = |k: &str| {
        let mut p = lm.to_vec();
        p.push(k);
        str_at(cfg, &p).to_string()
    };
    let bad = |m: String| {
        Err(ApiErr::new(
            REPLICA_INVALID,
            format!("invalid replica config, {m}"),
        ))
    };
    let compression = at("large_message_handle_compression");
    if !matches!(compression.as_str(), "" | "none" | "snappy" | "lz4") {
        return bad(format!(
            "large message handle compression is not supported, got {compression}"
        ));
    }
    let option = at("large_message_handle_option");
    if option.is_empty() || option == "none" {
        return Ok(());
    }
    // An unparsable value is an uncoded `strconv.ParseBool` error (errors.Trace).
    let tidb_ext = match query(u, "enable-tidb-extension").filter(|v| !v.is_empty()) {
        None => false,
        Some(v) => uri_params::go_bool(&v).ok_or_else(|| {
            ApiErr::new(
                "",
                format!("strconv.ParseBool: parsing \"{v}\": invalid syntax"),
            )
        })?,
    };
    match proto {
        "open-protocol" | "default" | "simple" => {}
        "canal-json" if tidb_ext => {}
        "canal-json" => {
            return bad(format!("large message handle is set to {option}, protocol is canal-json, but enable-tidb-extension is false"))
        }
        other => {
            return bad(format!(
                "large message handle is set to {option}, protocol is {other}, it's not supported"
            ))
        }
    }
    if option == "claim-check" {
        if at("claim_check_storage_uri").is_empty() {
            return bad("large message handle is set to claim-check, but the claim-check-storage-uri is empty".into());
        }
        let knows_raw = !profile.is_classic() || profile.version() >= Version::new(8, 3, 0);
        let raw = knows_raw && {
            let mut p = lm.to_vec();
            p.push("claim_check_raw_value");
            bool_at(cfg, &p)
        };
        if raw && matches!(proto, "open-protocol" | "default") {
            return bad("large message handle is set to claim-check, raw value is not supported for the open protocol".into());
        }
    }
    Ok(())
}

/// The schema-registry exclusion and `(*GlueSchemaRegistryConfig).Validate`.
fn glue(cfg: &Value) -> Result<(), ApiErr> {
    let Some(g) = s(
        cfg,
        &["sink", "kafka_config", "glue_schema_registry_config"],
    ) else {
        return Ok(());
    };
    if s(cfg, &["sink", "schema_registry"]).is_some() {
        return Err(ApiErr::new(
            REPLICA_INVALID,
            "invalid replica config, schema-registry and glue-schema-registry-configcannot be set at the same time,schema-registry is used by confluent schema registry, glue-schema-registry-config is used by aws glue schema registry",
        ));
    }
    let code = "CDC:ErrInvalidGlueSchemaRegistryConfig";
    let msg = if str_at(g, &["registry_name"]).is_empty() {
        "registry-name is empty, is must be set"
    } else if str_at(g, &["region"]).is_empty() {
        "region is empty, is must be set"
    } else if !str_at(g, &["access_key"]).is_empty() && str_at(g, &["secret_access_key"]).is_empty()
    {
        "access-key is set, but access-key-secret is empty, they must be set together"
    } else {
        return Ok(());
    };
    Err(ApiErr::new(code, msg))
}

/// Storage sinks: the date separator and `(*CSVConfig).validateAndAdjust`.
fn storage(cfg: &Value) -> Result<(), ApiErr> {
    let sep = str_at(cfg, &["sink", "date_separator"]);
    if !sep.is_empty()
        && !matches!(
            sep.to_ascii_lowercase().as_str(),
            "none" | "year" | "month" | "day"
        )
    {
        return Err(ApiErr::new(
            SINK_INVALID,
            "sink config invalid: [CDC:ErrStorageSinkInvalidDateSeparator]date separator in storage sink is invalid",
        ));
    }
    let Some(csv) = s(cfg, &["sink", "csv"]) else {
        return Ok(());
    };
    let quote = str_at(csv, &["quote"]).as_bytes();
    let delim = str_at(csv, &["delimiter"]);
    let fail = |m: &str| {
        Err(ApiErr::new(
            SINK_INVALID,
            format!("sink config invalid: {m}"),
        ))
    };
    if quote.len() > 1 {
        return fail("csv config quote contains more than one character");
    }
    if quote.first().is_some_and(|q| *q == b'\r' || *q == b'\n') {
        return fail("csv config quote cannot be line break character");
    }
    match delim.len() {
        0 => return fail("csv config delimiter cannot be empty"),
        1..=3 if delim.contains(['\r', '\n']) => {
            return fail("csv config delimiter contains line break characters")
        }
        1..=3 => {}
        _ => return fail("csv config delimiter contains more than three characters, note that escape sequences can only be used in double quotes in toml configuration items."),
    }
    if !quote.is_empty() && delim.bytes().any(|b| quote.contains(&b)) {
        return fail("csv config quote and delimiter has common characters which is not allowed");
    }
    if !matches!(str_at(csv, &["binary_encoding_method"]), "hex" | "base64") {
        return fail("csv config binary-encoding-method can only be hex or base64");
    }
    Ok(())
}

/// `(*ConsistentConfig).ValidateAndAdjust` and `redo.ValidateStorage` (no I/O).
fn consistent(cfg: &Value) -> Result<(), ApiErr> {
    let Some(c) = s(cfg, &["consistent"]) else {
        return Ok(());
    };
    if str_at(c, &["level"]) != "eventual" {
        return Ok(());
    }
    let bad = |m: String| {
        Err(ApiErr::new(
            REPLICA_INVALID,
            format!("invalid replica config, {m}"),
        ))
    };
    for (key, name) in [
        ("flush_interval", "flush-interval"),
        ("meta_flush_interval", "meta-flush-interval"),
    ] {
        if let Some(v) = int_at(c, &[key]).filter(|v| *v != 0 && *v < 50) {
            return bad(format!(
                "The consistent.{name}:{v} must be equal or greater than 50"
            ));
        }
    }
    let compression = str_at(c, &["compression"]);
    if !matches!(compression, "" | "none" | "lz4") {
        return bad(format!(
            "The consistent.compression:{compression} must be 'none' or 'lz4'"
        ));
    }
    let storage = str_at(c, &["storage"]);
    let scheme = GoUrl::parse(storage)
        .map(|u| u.scheme.to_ascii_lowercase())
        .map_err(|_| {
            ApiErr::new(
                REPLICA_INVALID,
                format!("invalid replica config, invalid storage uri: {storage}"),
            )
        })?;
    let valid = scheme.starts_with("blackhole")
        || matches!(
            scheme.as_str(),
            "local" | "nfs" | "s3" | "gcs" | "gs" | "azblob" | "azure" | "file" | "noop"
        );
    if !valid {
        return Err(ApiErr::new(
            "CDC:ErrConsistentStorage",
            format!("consistent storage ({scheme}) not support"),
        ));
    }
    if scheme == "s3" && GoUrl::parse(storage).is_ok_and(|u| u.host.is_empty()) {
        return Err(ApiErr::new(
            "CDC:ErrStorageInitialize",
            format!("fail to open storage for redo log: please specify the bucket for {storage}"),
        ));
    }
    Ok(())
}

/// tiflow `(*ChangefeedSchedulerConfig).Validate`; ticdc `ValidateAndAdjust` checks more fields.
/// Both return uncoded errors (500, empty error_code on classic).
fn scheduler(cfg: &Value, profile: &SimProfile) -> Result<(), ApiErr> {
    let Some(sc) = s(cfg, &["scheduler"]) else {
        return Ok(());
    };
    if !bool_at(sc, &["enable_table_across_nodes"]) {
        return Ok(());
    }
    let fail = |m: &str| Err(ApiErr::new("", m.to_string()));
    let int = |k: &str| int_at(sc, &[k]).unwrap_or(0);
    if int("region_threshold") < 0 {
        return fail("region-threshold must be larger than 0");
    }
    if int("write_key_threshold") < 0 {
        return fail("write-key-threshold must be larger than 0");
    }
    if profile.is_classic() {
        return Ok(());
    }
    let float = |k: &str| s(sc, &[k]).and_then(Value::as_f64).unwrap_or(0.0);
    if int("scheduling_task_count_per_node") < 0 {
        return fail("scheduling-task-count-per-node must be larger than 0");
    }
    if int("region_count_per_span") <= 0 {
        return fail("region-count-per-span must be larger than 0");
    }
    if int("region_count_refresh_interval") <= 0 {
        return fail("region-count-refresh-interval must be larger than 0");
    }
    if int("balance_score_threshold") <= 0 {
        return fail("balance-score-threshold must be larger than 0");
    }
    let min = float("min_traffic_percentage");
    if min <= 0.0 || min >= 1.0 {
        return fail("min-traffic-percentage must be between 0 and 1");
    }
    if float("max_traffic_percentage") <= 1.0 {
        return fail("max-traffic-percentage must be greater than 1");
    }
    Ok(())
}

/// `(*integrity.Config).Validate` (an enabled check on a non-Kafka sink is first reset to none).
fn integrity(cfg: &Value, scheme: &str) -> Result<(), ApiErr> {
    let Some(i) = s(cfg, &["integrity"]) else {
        return Ok(());
    };
    let mut level = str_at(i, &["integrity_check_level"]);
    if level == "correctness" && !matches!(scheme, "kafka" | "kafka+ssl") {
        level = "none";
    }
    let handle = str_at(i, &["corruption_handle_level"]);
    if !matches!(level, "none" | "correctness") || !matches!(handle, "warn" | "error") {
        return Err(ApiErr::new(
            REPLICA_INVALID,
            // tiflow v8.5.0 pkg/integrity/integrity.go `(*Config).Validate`:
            // `GenWithStackByArgs()` with no argument; pingcap/errors normalize.go `GetMsg`
            // formats the template only when there are arguments, so `%s` stays literal.
            "invalid replica config, %s",
        ));
    }
    let selectors = s(cfg, &["sink", "column_selectors"])
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if level == "correctness" && selectors {
        return Err(ApiErr::new(
            REPLICA_INVALID,
            "integrity check enabled and column selector set, not allowed",
        ));
    }
    Ok(())
}

/// Checks made after `ValidateAndAdjust` and before the sink is contacted: table filters
/// (`getVerifiedTables`), the validator's URI pre-checks (classic), the Kafka topic and
/// `(*Options).Apply`. Errors come back with the code the profile answers with.
pub fn before_connect(
    cfg: &Value,
    u: &GoUrl,
    kind: SinkKind,
    profile: &SimProfile,
) -> Result<(), ApiErr> {
    let scheme = u.scheme.to_ascii_lowercase();
    filter_rules(cfg)?;
    if profile.is_classic() {
        if kind == SinkKind::Mq && !scheme.starts_with("pulsar") {
            router(cfg, u)?;
        }
        validator_prechecks(cfg, u, &scheme)?;
    }
    let wrap = |e: ApiErr| {
        if profile.is_classic() {
            e
        } else {
            sink_verify_error(e, u)
        }
    };
    if is_mq(&scheme) && u.raw_path.trim_matches('/').is_empty() {
        return Err(wrap(ApiErr::new(
            KAFKA_INVALID,
            "no topic is specified in sink-uri",
        )));
    }
    if scheme.starts_with("kafka") {
        kafka_options(cfg, u, profile).map_err(wrap)?;
    }
    if kind == SinkKind::Storage && !profile.is_classic() {
        storage_spool(cfg, u, profile).map_err(wrap)?;
    }
    if kind == SinkKind::Mysql {
        uri_params::mysql(u, profile).map_err(|e| {
            wrap(ApiErr::new(
                MYSQL_INVALID,
                format!("MySQL config invalid: {e}"),
            ))
        })?;
    }
    Ok(())
}

/// Checks made once the sink could be built (skipped with the connection when it cannot be
/// reached): newarch's event router and column selectors, then the encoder config of MQ sinks.
pub fn after_connect(
    cfg: &Value,
    u: &GoUrl,
    kind: SinkKind,
    profile: &SimProfile,
) -> Result<(), ApiErr> {
    if kind != SinkKind::Mq {
        return Ok(());
    }
    let scheme = u.scheme.to_ascii_lowercase();
    let r = (|| {
        if !profile.is_classic() && !scheme.starts_with("pulsar") {
            router(cfg, u)?;
        }
        encoder_config(cfg, u, profile)
    })();
    r.map_err(|e| {
        if profile.is_classic() {
            e
        } else {
            sink_verify_error(e, u)
        }
    })
}

/// `GetEncoderConfig` (tiflow v7.5.0–v8.5.0 cdc/sink/util/helper.go, pingcap/ticdc
/// v8.5.7-release.1 downstreamadapter/sink/helper/helper.go): `(*Config).Apply` binds the codec
/// query parameters (`uri_params::CODEC`), `(*Config).Validate` checks the avro schema registry
/// and `max-batch-size` (pkg/sink/codec/common/config.go). Either failure is wrapped in
/// `ErrSinkInvalidConfig`, whose code is the one the API reports (500; 400 when the text holds
/// `ErrMySQLInvalidConfig`, as a binding failure does).
fn encoder_config(cfg: &Value, u: &GoUrl, profile: &SimProfile) -> Result<(), ApiErr> {
    let sink_invalid =
        |inner: String| ApiErr::new(SINK_INVALID, format!("sink config invalid: {inner}"));
    let codec = |m: String| sink_invalid(format!("[CDC:ErrCodecInvalidConfig]{m}"));
    let bound = uri_params::bind_gin(u, uri_params::CODEC, profile)
        .map_err(|e| sink_invalid(format!("[{MYSQL_INVALID}]MySQL config invalid: {e}")))?;
    if protocol(cfg, u) == "avro" {
        // mergeConfig: the URI's `schema-registry` when not empty, else `sink.schema_registry`
        // (empty counts as unset); Glue from `kafka_config.glue_schema_registry_config`.
        let confluent = query(u, "schema-registry")
            .filter(|r| !r.is_empty())
            .is_some()
            || !str_at(cfg, &["sink", "schema_registry"]).is_empty();
        let glue = s(
            cfg,
            &["sink", "kafka_config", "glue_schema_registry_config"],
        )
        .is_some();
        if confluent && glue {
            return Err(codec("Avro protocol requires only one of \"schema-registry\" or \"glue-schema-registry\" to specify the schema registry".into()));
        }
        if !confluent && !glue {
            return Err(codec("Avro protocol requires parameter \"schema-registry\" or \"glue-schema-registry\" to specify the schema registry".into()));
        }
    }
    let batch = uri_params::int_of(&bound, "max-batch-size").or_else(|| {
        s(
            cfg,
            &["sink", "kafka_config", "codec_config", "max_batch_size"],
        )
        .and_then(Value::as_i64)
    });
    if let Some(n) = batch.filter(|n| *n <= 0) {
        return Err(codec(format!(
            "Codec invalid config: invalid max-batch-size {n}"
        )));
    }
    Ok(())
}

const STORAGE_INVALID: &str = "CDC:ErrStorageSinkInvalidConfig";

/// pingcap/ticdc v8.5.7 downstreamadapter/sink/cloudstorage/sink.go `Verify` →
/// pkg/sink/cloudstorage/config.go `(*Config).Apply`, for the settings only it has: gin binds
/// the query (`WrapError(ErrStorageSinkInvalidConfig, err)`), `mergeConfig` lets a URI parameter
/// override the `cloud_storage_config` value (see below), then `getSpoolDiskQuota` (more than 0) and
/// `getSpoolBaseDir` (an absolute path; empty means the default) refuse with
/// `ErrStorageSinkInvalidConfig`. `use-table-id-as-path` in both places is not checked:
/// `CheckUseTableIDAsPathCompatibility` (pkg/config/sink.go) is only called by
/// `CheckCompatibilityWithSinkURI`, which nothing in v8.5.7 calls, so the URI value wins.
fn storage_spool(cfg: &Value, u: &GoUrl, profile: &SimProfile) -> Result<(), ApiErr> {
    let bound = uri_params::bind_gin(u, uri_params::STORAGE_NEWARCH, profile)
        .map_err(|e| ApiErr::new(STORAGE_INVALID, format!("storage sink config invalid: {e}")))?;
    let csc = |k: &str| s(cfg, &["sink", "cloud_storage_config", k]);
    // mergo v0.3.16 `Merge(dest, url, WithOverride)` into the copied config pointers: a URI value
    // fills an unset field whatever it is, but replaces a set one only when it is not the zero
    // value (gin binds `spool-disk-quota=` as 0).
    let quota = match (
        uri_params::int_of(&bound, "spool-disk-quota"),
        csc("spool_disk_quota").and_then(Value::as_i64),
    ) {
        (Some(0), Some(c)) => Some(c),
        (u, c) => u.or(c),
    };
    if let Some(q) = quota.filter(|q| *q <= 0) {
        return Err(ApiErr::new(
            STORAGE_INVALID,
            format!("invalid spool-disk-quota {q}, it must be greater than 0"),
        ));
    }
    // mergo.WithOverride: an empty URI value does not override the config's.
    let dir = query(u, "spool-base-dir")
        .filter(|d| !d.is_empty())
        .or_else(|| {
            csc("spool_base_dir")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
    if !dir.is_empty() && !dir.starts_with('/') {
        return Err(ApiErr::new(
            STORAGE_INVALID,
            format!(
                "invalid spool-base-dir {}, it must be an absolute path",
                go_quote(&dir)
            ),
        ));
    }
    Ok(())
}

/// ticdc `CreateChangefeed`: `WrapError(ErrSinkURIInvalid, err, sinkURI)`.
pub fn sink_verify_error(e: ApiErr, u: &GoUrl) -> ApiErr {
    let masked = crate::uri_mask::mask_sensitive_data_in_uri(&u.to_go_string());
    ApiErr::new(
        URI_INVALID,
        format!("sink uri invalid '{masked}': {}", e.text()),
    )
}

/// tiflow `preCheckSinkURI`, `checkSyncPointSchemeCompatibility`, `checkBDRMode` (scheme part).
fn validator_prechecks(cfg: &Value, u: &GoUrl, scheme: &str) -> Result<(), ApiErr> {
    let hostname = go_hostname(&u.host);
    let bracketed = {
        let h = strip_port(&u.host);
        h.starts_with('[') && h.ends_with(']')
    };
    if hostname.contains(':') && hostname.parse::<std::net::IpAddr>().is_ok() && !bracketed {
        return Err(ApiErr::new(
            URI_INVALID,
            "sink uri invalid 'sink uri host is not valid IPv6 address, when using IPv6 address in URI, please use [ipv6-address]:port'",
        ));
    }
    let masked = crate::uri_mask::mask_sensitive_data_in_uri(&u.to_go_string());
    if bool_at(cfg, &["enable_sync_point"]) && !is_mysql(scheme) {
        return Err(ApiErr::new(
            URI_INVALID,
            format!("sink uri invalid 'sink uri scheme is not supported with syncpoint enabledsink uri: {masked}'"),
        ));
    }
    if bool_at(cfg, &["bdr_mode"]) && !is_mysql(scheme) {
        return Err(ApiErr::new(
            URI_INVALID,
            format!("sink uri invalid 'sink uri scheme is not supported in BDR mode, sink uri: {masked}'"),
        ));
    }
    Ok(())
}

/// The host without a trailing `:port` (Go `splitHostPort` with `validOptionalPort`).
fn strip_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(i) if host[i + 1..].bytes().all(|b| b.is_ascii_digit()) => &host[..i],
        _ => host,
    }
}

/// Go `(*url.URL).Hostname`.
fn go_hostname(host: &str) -> String {
    let h = strip_port(host);
    h.trim_start_matches('[').trim_end_matches(']').to_string()
}

/// `(*Options).Apply`: query parameters (with `kafka_config` as the fallback) checked before
/// any broker is contacted. Errors are `ErrKafkaInvalidConfig` wrapping the cause; a value that
/// does not bind to its Go type (`uri_params::KAFKA`) is first wrapped as `ErrMySQLInvalidConfig`.
fn kafka_options(cfg: &Value, u: &GoUrl, profile: &SimProfile) -> Result<(), ApiErr> {
    let kc = |k: &str| s(cfg, &["sink", "kafka_config", k]).cloned();
    let param = |uri_key: &str, cfg_key: &str| -> Option<String> {
        query(u, uri_key).or_else(|| {
            kc(cfg_key).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        })
    };
    let wrap = |inner: String| ApiErr::new(KAFKA_INVALID, format!("kafka config invalid: {inner}"));
    let bound = uri_params::bind_gin(u, uri_params::KAFKA, profile)
        .map_err(|e| wrap(format!("[{MYSQL_INVALID}]MySQL config invalid: {e}")))?;
    let int = |uri_key: &str, cfg_key: &str| {
        uri_params::int_of(&bound, uri_key).or_else(|| kc(cfg_key).and_then(|v| v.as_i64()))
    };
    if let Some(n) = int("partition-num", "partition_num") {
        if n <= 0 {
            return Err(wrap(format!(
                "[CDC:ErrKafkaInvalidPartitionNum]invalid partition num {n}"
            )));
        }
    }
    kafka_identity(&param, int("required-acks", "required_acks"), &wrap)
}

type Param<'a> = dyn Fn(&str, &str) -> Option<String> + 'a;

/// The client id, timeouts, required acks, SASL mechanism and TLS files of `(*Options).Apply`.
fn kafka_identity(
    param: &Param,
    acks: Option<i64>,
    wrap: &dyn Fn(String) -> ApiErr,
) -> Result<(), ApiErr> {
    if let Some(v) = param("kafka-client-id", "kafka_client_id").filter(|v| !v.is_empty()) {
        let ok = v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !ok {
            return Err(wrap(format!(
                "[CDC:ErrKafkaInvalidClientID]invalid kafka client ID '{v}'"
            )));
        }
    }
    for (uk, ck) in [
        ("dial-timeout", "dial_timeout"),
        ("write-timeout", "write_timeout"),
        ("read-timeout", "read_timeout"),
    ] {
        if let Some(v) = param(uk, ck).filter(|v| !v.is_empty()) {
            if humantime::parse_duration(&v).is_err() && v != "0" {
                return Err(wrap(format!("time: invalid duration \"{v}\"")));
            }
        }
    }
    if let Some(n) = acks.filter(|n| !matches!(n, -1..=1)) {
        return Err(wrap(format!("[CDC:ErrKafkaInvalidRequiredAcks]invalid required acks {n}, only support these values: 0(NoResponse),1(WaitForLocal) and -1(WaitForAll)")));
    }
    if let Some(m) = param("sasl-mechanism", "sasl_mechanism").filter(|m| !m.is_empty()) {
        let known = [
            "plain",
            "scram-sha-256",
            "scram-sha-512",
            "gssapi",
            "oauthbearer",
        ];
        if !known.contains(&m.to_ascii_lowercase().as_str()) {
            return Err(wrap(format!("unknown {m} SASL mechanism")));
        }
    }
    let tls: Vec<bool> = [("ca", "ca"), ("cert", "cert"), ("key", "key")]
        .iter()
        .map(|(uk, ck)| param(uk, ck).is_some_and(|v| !v.is_empty()))
        .collect();
    if tls.iter().any(|b| *b) && !tls.iter().all(|b| *b) {
        return Err(wrap("ca, cert and key files should all be supplied".into()));
    }
    Ok(())
}

/// Topic expressions of the dispatch rules (tiflow `getTopicDispatcher`, ticdc `GetTopicGenerator`)
/// and the column selectors' matchers.
fn router(cfg: &Value, u: &GoUrl) -> Result<(), ApiErr> {
    let avro = protocol(cfg, u) == "avro";
    let rules = s(cfg, &["sink", "dispatchers"]).and_then(Value::as_array);
    for rule in rules.into_iter().flatten() {
        let topic = str_at(rule, &["topic"]);
        if topic.is_empty() || (is_topic_name(topic) && !avro) {
            continue;
        }
        let ok = if avro {
            avro_topic_expr(topic)
        } else {
            topic_expr(topic)
        };
        if !ok {
            return Err(ApiErr::new(
                "CDC:ErrKafkaTopicExprInvalid",
                format!("invalid topic expression: {topic} "),
            ));
        }
    }
    let selectors = s(cfg, &["sink", "column_selectors"]).and_then(Value::as_array);
    for sel in selectors.into_iter().flatten() {
        for m in sel
            .get("matcher")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let m = m.as_str().unwrap_or("");
            if let Err(why) = table_filter(m) {
                return Err(filter_error(m, &why));
            }
        }
    }
    Ok(())
}

fn is_topic_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn is_topic_name(t: &str) -> bool {
    !t.is_empty() && t.chars().all(is_topic_char)
}

/// `^[A-Za-z0-9._-]*(\{schema\})?([A-Za-z0-9._-]*\{table\})?[A-Za-z0-9._-]*$`
fn topic_expr(t: &str) -> bool {
    let mut rest = t.trim_start_matches(is_topic_char);
    if let Some(r) = rest.strip_prefix("{schema}") {
        rest = r;
    }
    let after = rest.trim_start_matches(is_topic_char);
    if let Some(r) = after.strip_prefix("{table}") {
        rest = r;
    }
    rest.trim_start_matches(is_topic_char).is_empty()
}

/// `^[A-Za-z0-9._-]*\{schema\}[A-Za-z0-9._-]*\{table\}[A-Za-z0-9._-]*$`
fn avro_topic_expr(t: &str) -> bool {
    let Some(r) = t.trim_start_matches(is_topic_char).strip_prefix("{schema}") else {
        return false;
    };
    let Some(r) = r.trim_start_matches(is_topic_char).strip_prefix("{table}") else {
        return false;
    };
    r.trim_start_matches(is_topic_char).is_empty()
}

fn filter_error(rule: &str, why: &str) -> ApiErr {
    ApiErr::new(
        "CDC:ErrFilterRuleInvalid",
        format!("filter rule is invalid [{rule}]: {why}"),
    )
}

/// `filter.NewFilter` over `filter.rules` (and event-filter matchers): `ErrFilterRuleInvalid`.
fn filter_rules(cfg: &Value) -> Result<(), ApiErr> {
    let rules = s(cfg, &["filter", "rules"]).and_then(Value::as_array);
    let events = s(cfg, &["filter", "event_filters"]).and_then(Value::as_array);
    let matchers = events
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("matcher").and_then(Value::as_array))
        .flatten();
    for r in rules.into_iter().flatten().chain(matchers) {
        let r = r.as_str().unwrap_or("");
        table_filter(r).map_err(|why| filter_error(r, &why))?;
    }
    Ok(())
}

/// TiDB table-filter syntax (`pkg/table-filter`): `[!]schema.table`, each part a run of
/// identifier characters, wildcards `* ?`, classes `[...]`, backquoted names or `\` escapes.
fn table_filter(rule: &str) -> Result<(), String> {
    let r = rule.trim();
    let r = r.strip_prefix('!').unwrap_or(r);
    if r.starts_with('@') {
        return Err("importing filter files is not supported".into());
    }
    let (schema, rest) = pattern(r)?;
    let rest = rest
        .strip_prefix('.')
        .ok_or_else(|| format!("wrong table pattern: missing '.' after {schema:?}"))?;
    let (_, tail) = pattern(rest)?;
    if !tail.trim().is_empty() {
        return Err(format!("syntax error: stray characters {tail:?}"));
    }
    Ok(())
}

/// One pattern; returns it and the unparsed rest.
fn pattern(s: &str) -> Result<(&str, &str), String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'`' => {
                let end = s[i + 1..]
                    .find('`')
                    .ok_or("syntax error: unclosed backquote")?;
                i += end + 2;
            }
            b'[' => {
                let end = s[i + 1..].find(']').ok_or("syntax error: unclosed '['")?;
                if end == 0 {
                    return Err("syntax error: empty character class".into());
                }
                i += end + 2;
            }
            b'\\' if i + 1 < b.len() => i += 2,
            b'\\' => return Err("syntax error: trailing '\\'".into()),
            b'.' => break,
            c if c.is_ascii_alphanumeric()
                || c >= 0x80
                || matches!(c, b'_' | b'$' | b'*' | b'?') =>
            {
                i += 1
            }
            _ => break,
        }
    }
    if i == 0 {
        return Err(format!("syntax error: missing pattern in {s:?}"));
    }
    Ok((&s[..i], &s[i..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pingcap/ticdc v8.5.7 pkg/config/sink_test.go `TestValidateRoutingExpression` and
    /// `TestValidateRoutingExpressionRejectsInvalidExpressions` (the same lists), and the text
    /// of `validateRoutingExpression` (pkg/config/sink.go).
    #[test]
    fn table_route_expressions() {
        let rule = |schema: &str, table: &str| {
            serde_json::json!({"sink": {"dispatchers": [
                {"matcher": ["db1.*"], "target-schema": schema, "target-table": table}
            ]}})
        };
        for ok in [
            "",
            "archive",
            "orders_bak",
            "archive_v2",
            "db-01.table_02",
            "{schema}",
            "{table}",
            "{schema}_{table}",
            "{table}_bak",
            "bak_{table}_v2",
            "{schema}_backup",
            "archive_{schema}_{table}_v2",
            "prefix_{schema}_middle_{table}_suffix",
            "{schema}_{schema}_{table}",
        ] {
            assert!(table_routes(&rule("x", ok)).is_ok(), "{ok}");
        }
        for bad in [
            "{invalid}",
            "{Schema}",
            "{TABLE}",
            "{schema",
            "schema}",
            "{table",
            "{",
            "}",
            "{{schema}}",
            "{schema}{bad}",
            "prefix_{schema}_{bad}",
        ] {
            let e = table_routes(&rule("x", bad)).unwrap_err();
            assert_eq!(e.code, "CDC:ErrInvalidTableRoutingRule", "{bad}");
        }
        let e = table_routes(&rule("{bad}", "{table}_bak")).unwrap_err();
        assert_eq!(
            e.msg,
            "target-schema \"{bad}\" must contain only literal text, {schema}, and {table}"
        );
        // A rule without routes is not looked at (MQ-only rules).
        let mq = serde_json::json!({"sink": {"dispatchers": [{"matcher": ["a.*"], "partition": "columns"}]}});
        assert!(table_routes(&mq).is_ok());
    }

    #[test]
    fn topic_expressions() {
        assert!(topic_expr("{schema}_{table}"));
        assert!(topic_expr("hello_{schema}"));
        assert!(topic_expr("abc"));
        assert!(!topic_expr("hello{db}"));
        assert!(!topic_expr("{table}{schema}"));
        assert!(avro_topic_expr("a{schema}.{table}b"));
        assert!(!avro_topic_expr("{schema}"));
    }

    #[test]
    fn table_filters() {
        for ok in ["*.*", "!a.b", "db?.t[0-9]", "`a.b`.c", "a\\.b.c"] {
            assert!(table_filter(ok).is_ok(), "{ok}");
        }
        for bad in ["a.b.c", "ab", "a.", ".b", "a.[", "a.`b", "a b.c"] {
            assert!(table_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ipv6_hosts() {
        assert_eq!(go_hostname("::1:3306"), "::1");
        assert_eq!(go_hostname("[::1]:3306"), "::1");
        assert_eq!(strip_port("[::1]:3306"), "[::1]");
    }

    /// pingcap/ticdc v8.5.7 pkg/sink/cloudstorage/config_test.go `TestSpoolDiskQuotaConfig`,
    /// `TestSpoolBaseDirConfig` (the URI wins), `TestInvalidSpoolBaseDirConfig` (a relative
    /// directory in the URI or in the config is refused), and `getSpoolDiskQuota`.
    #[test]
    fn storage_spool_settings() {
        let url = |q: &str| GoUrl::parse(&format!("s3://bucket/prefix{q}")).unwrap();
        let cfg = |c: Value| serde_json::json!({"sink": {"cloud_storage_config": c}});
        let na = SimProfile::Newarch;
        let cases: &[(&str, Value, Option<&str>)] = &[
            ("?spool-disk-quota=2147483648", serde_json::json!({"spool_disk_quota": 3221225472u64}), None),
            ("", serde_json::json!({"spool_disk_quota": 1}), None),
            ("", serde_json::json!({"spool_disk_quota": 0}), Some("invalid spool-disk-quota 0, it must be greater than 0")),
            ("?spool-disk-quota=-5", serde_json::json!({"spool_disk_quota": 7}), Some("invalid spool-disk-quota -5, it must be greater than 0")),
            // mergo keeps a set field when the URI value is the zero value.
            ("?spool-disk-quota=0", serde_json::json!({"spool_disk_quota": 7}), None),
            ("?spool-disk-quota=0", serde_json::json!({}), Some("invalid spool-disk-quota 0, it must be greater than 0")),
            ("?spool-disk-quota=x", serde_json::json!({}), Some("storage sink config invalid: strconv.ParseInt: parsing \"x\": invalid syntax")),
            ("?use-table-id-as-path=maybe", serde_json::json!({}), Some("storage sink config invalid: strconv.ParseBool: parsing \"maybe\": invalid syntax")),
            ("?spool-base-dir=%2Ftmp%2Fa", serde_json::json!({"spool_base_dir": "relative"}), None),
            ("?spool-base-dir=relative%2Fpath", serde_json::json!({}), Some("invalid spool-base-dir \"relative/path\", it must be an absolute path")),
            ("", serde_json::json!({"spool_base_dir": "relative/path"}), Some("invalid spool-base-dir \"relative/path\", it must be an absolute path")),
            ("", serde_json::json!({"spool_base_dir": ""}), None),
            // `CheckUseTableIDAsPathCompatibility` is not run by v8.5.7's API.
            ("?use-table-id-as-path=false", serde_json::json!({"use_table_id_as_path": true}), None),
        ];
        for (q, c, want) in cases {
            let got = storage_spool(&cfg(c.clone()), &url(q), &na)
                .err()
                .map(|e| e.msg);
            assert_eq!(got.as_deref(), *want, "{q} {c}");
        }
    }
}
