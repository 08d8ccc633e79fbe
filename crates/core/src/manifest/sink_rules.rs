//! cdcform's own pre-merge copy of the sink checks TiCDC makes at create time without contacting
//! the sink (CSV, date separator, large messages, Glue, Pulsar OAuth2, transaction atomicity,
//! Kafka URI options, redo, integrity, scheduler, topic expressions, avro registry; on classic
//! servers also IPv6 hosts, sync point and BDR mode on non-MySQL sinks). Written apart from the
//! simulator's implementation on purpose: the two are tested against the same corpus.
//!
//! Rules follow tiflow v8.5.7 `pkg/config/sink.go` (`(*SinkConfig).validateAndAdjust`,
//! `(*CSVConfig).validateAndAdjust`, `AtomicityLevel.validate`), `pkg/config/large_message.go`,
//! `pkg/config/consistent.go`, `pkg/config/scheduler_config.go`, `pkg/integrity/integrity.go`,
//! `cdc/sink/validator/validator.go`, `pkg/sink/kafka/options.go` (`(*Options).Apply`) and
//! pingcap/ticdc v8.5.7-release.1 `pkg/config/scheduler_config.go` (`ValidateAndAdjust`).

use std::path::Path;

use super::diagnostics::Diagnostic;
use super::load::Node;
use super::types::{ChangefeedSpec, ReplicaConfig, SinkConfig};
use crate::ticdc::mask::GoUrl;
use crate::ticdc::{Arch, ServerProfile};

/// One changefeed to check.
pub struct Input<'a> {
    pub file: &'a Path,
    pub item: &'a Node,
    pub spec: &'a ChangefeedSpec,
    /// The expanded sink URI (None when it could not be expanded).
    pub sink_uri: Option<&'a str>,
}

/// Which architectures the checks are made for.
#[derive(Clone, Copy)]
struct Arches {
    classic: bool,
    newarch: bool,
}

struct Out<'a> {
    input: &'a Input<'a>,
    diags: Vec<Diagnostic>,
}

impl Out<'_> {
    /// A finding at `path` (dotted, from the changefeed), with the server that refuses it.
    fn push(&mut self, path: &str, message: String, help: &str) {
        let parts: Vec<&str> = path.split('.').collect();
        let node = (0..=parts.len())
            .rev()
            .find_map(|n| self.input.item.at(&parts[..n]))
            .unwrap_or(self.input.item);
        self.diags.push(Diagnostic {
            file: self.input.file.to_path_buf(),
            line: node.line,
            column: node.column,
            message,
            help: Some(help.to_string()),
            source: None,
        });
    }
}

/// Sink URI facts the rules need.
struct Uri {
    scheme: String,
    host: String,
    topic: String,
    query: Vec<(String, String)>,
}

impl Uri {
    fn get(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    fn mysql(&self) -> bool {
        ["mysql", "mysql+ssl", "tidb", "tidb+ssl"].contains(&self.scheme.as_str())
    }
    fn kafka(&self) -> bool {
        self.scheme == "kafka" || self.scheme == "kafka+ssl"
    }
    fn mq(&self) -> bool {
        self.kafka() || self.scheme.starts_with("pulsar")
    }
    fn storage(&self) -> bool {
        ["file", "s3", "gcs", "gs", "azblob", "azure", "noop"].contains(&self.scheme.as_str())
    }
}

/// Check one changefeed; `target` None means every supported server.
pub fn check(input: &Input, target: Option<&ServerProfile>) -> Vec<Diagnostic> {
    let arches = match target.map(|t| t.arch) {
        None => Arches {
            classic: true,
            newarch: true,
        },
        Some(Arch::Classic) => Arches {
            classic: true,
            newarch: false,
        },
        Some(Arch::Newarch) => Arches {
            classic: false,
            newarch: true,
        },
    };
    let mut out = Out {
        input,
        diags: Vec::new(),
    };
    let cfg = input.spec.replica_config.clone().unwrap_or_default();
    let uri = input
        .sink_uri
        .and_then(|s| GoUrl::parse(s).ok())
        .filter(|u| !u.scheme.is_empty())
        .map(|u| Uri {
            scheme: u.scheme.to_ascii_lowercase(),
            topic: u.raw_path.trim_matches('/').to_string(),
            query: u.query_pairs(),
            host: u.host,
        });
    if let Some(uri) = &uri {
        sink_checks(&mut out, uri, &cfg);
        if arches.newarch && target.is_none_or(crate::normalize::has_table_routing) {
            table_routes(&mut out, &cfg);
        }
        if arches.classic {
            classic_validator(&mut out, uri, &cfg);
        }
        if arches.newarch && uri.storage() {
            storage_spool(&mut out, uri, &cfg.sink.clone().unwrap_or_default());
        }
        typed_query(&mut out, uri, target);
        unknown_to_target(&mut out, uri, &cfg, target);
        integrity(&mut out, uri, &cfg);
    }
    redo(&mut out, &cfg);
    scheduler(&mut out, &cfg, arches);
    out.diags
}

const SINK: &str = "replica_config.sink";

fn sink_checks(out: &mut Out, uri: &Uri, cfg: &ReplicaConfig) {
    let sink = cfg.sink.clone().unwrap_or_default();
    atomicity(out, uri, &sink);
    if uri.mysql() {
        return;
    }
    let protocol = uri
        .get("protocol")
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .or_else(|| sink.protocol.clone())
        .unwrap_or_default();
    large_message(out, uri, &sink, &protocol);
    glue_and_oauth(out, &sink);
    if sink.encoder_concurrency.is_some_and(|n| n < 0) {
        out.push(
            &format!("{SINK}.encoder_concurrency"),
            "`replica_config.sink.encoder_concurrency` is negative; TiCDC refuses it for this sink"
                .into(),
            "leave it unset (default 32) or use a positive number",
        );
    }
    if sink.delete_only_output_handle_key_columns == Some(true) && protocol == "csv" {
        out.push(
            &format!("{SINK}.delete_only_output_handle_key_columns"),
            "`delete_only_output_handle_key_columns` cannot be true with the csv protocol: CSV always writes every column of a delete".into(),
            "remove `delete_only_output_handle_key_columns` or use another protocol",
        );
    }
    if uri.storage() {
        date_separator(out, &sink);
        csv(out, &sink);
    }
    if uri.kafka() {
        kafka_uri(out, uri, &sink);
    }
    // (A Kafka URI without a topic is reported by validate.rs.)
    if uri.scheme.starts_with("pulsar") && uri.topic.is_empty() {
        out.push(
            "sink_uri",
            format!("the `{}` sink_uri names no topic", uri.scheme),
            "put the topic in the path, e.g. `pulsar://broker:6650/my-topic?protocol=canal-json`",
        );
    }
    if uri.kafka() {
        topics(out, &sink, &protocol);
    }
    if uri.mq() {
        avro_registry(out, uri, &sink, &protocol);
    }
}

/// `AtomicityLevel.validate`: `none` everywhere, `table` except on MQ sinks.
fn atomicity(out: &mut Out, uri: &Uri, sink: &SinkConfig) {
    let (level, path) = match uri.get("transaction-atomicity").filter(|l| !l.is_empty()) {
        Some(l) => (l.to_string(), "sink_uri".to_string()),
        None => (
            sink.transaction_atomicity.clone().unwrap_or_default(),
            format!("{SINK}.transaction_atomicity"),
        ),
    };
    let allowed = level.is_empty() || level == "none" || (level == "table" && !uri.mq());
    if !allowed {
        out.push(
            &path,
            format!(
                "`{path}`: transaction atomicity `{level}` is not supported by the `{}` scheme",
                uri.scheme
            ),
            "use `none` (or `table` for MySQL/TiDB sinks), or leave it out",
        );
    }
}

fn large_message(out: &mut Out, uri: &Uri, sink: &SinkConfig, protocol: &str) {
    let Some(lm) = sink
        .kafka_config
        .as_ref()
        .and_then(|k| k.large_message_handle.as_ref())
    else {
        return;
    };
    let base = format!("{SINK}.kafka_config.large_message_handle");
    let compression = lm.large_message_handle_compression.as_deref().unwrap_or("");
    if !["", "none", "snappy", "lz4"].contains(&compression) {
        out.push(
            &format!("{base}.large_message_handle_compression"),
            format!("`large_message_handle_compression` `{compression}` is not supported"),
            "use `none`, `snappy` or `lz4`",
        );
        return;
    }
    let option = lm.large_message_handle_option.as_deref().unwrap_or("");
    if option.is_empty() || option == "none" {
        return;
    }
    let extension = matches!(
        uri.get("enable-tidb-extension"),
        Some("true" | "1" | "t" | "T" | "TRUE" | "True")
    );
    let path = format!("{base}.large_message_handle_option");
    match protocol {
        "open-protocol" | "default" | "simple" => {}
        "canal-json" if extension => {}
        "canal-json" => {
            return out.push(
                &path,
                format!("`large_message_handle_option: {option}` with canal-json needs `enable-tidb-extension=true` in the sink_uri"),
                "add `&enable-tidb-extension=true` to the sink URI",
            )
        }
        p => {
            return out.push(
                &path,
                format!("`large_message_handle_option: {option}` is not supported with the `{p}` protocol"),
                "use open-protocol, simple or canal-json, or set the option to `none`",
            )
        }
    }
    if option == "claim-check" {
        claim_check(out, lm, protocol);
    }
}

fn claim_check(out: &mut Out, lm: &super::types::LargeMessageHandleConfig, protocol: &str) {
    let base = format!("{SINK}.kafka_config.large_message_handle");
    if lm
        .claim_check_storage_uri
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        out.push(
            &format!("{base}.claim_check_storage_uri"),
            "`claim_check_storage_uri` is required with `large_message_handle_option: claim-check`"
                .into(),
            "set it to an external storage URI, e.g. `s3://bucket/claim-check`",
        );
    } else if lm.claim_check_raw_value == Some(true)
        && protocol != "simple"
        && protocol != "canal-json"
    {
        out.push(
            &format!("{base}.claim_check_raw_value"),
            "`claim_check_raw_value` is not supported with the open protocol".into(),
            "remove `claim_check_raw_value` or use the simple or canal-json protocol",
        );
    }
}

fn glue_and_oauth(out: &mut Out, sink: &SinkConfig) {
    let glue = sink
        .kafka_config
        .as_ref()
        .and_then(|k| k.glue_schema_registry_config.as_ref());
    if let Some(g) = glue {
        let base = format!("{SINK}.kafka_config.glue_schema_registry_config");
        let empty = |v: &Option<String>| v.as_deref().unwrap_or("").is_empty();
        if sink.schema_registry.is_some() {
            out.push(
                &format!("{SINK}.schema_registry"),
                "`schema_registry` and `kafka_config.glue_schema_registry_config` cannot both be set".into(),
                "keep the Confluent `schema_registry` or the AWS Glue registry, not both",
            );
        } else if empty(&g.registry_name) {
            out.push(
                &format!("{base}.registry_name"),
                "the Glue schema registry needs `registry_name`".into(),
                "set `registry_name`",
            );
        } else if empty(&g.region) {
            out.push(
                &format!("{base}.region"),
                "the Glue schema registry needs `region`".into(),
                "set `region`, e.g. `us-east-1`",
            );
        } else if !empty(&g.access_key) && empty(&g.secret_access_key) {
            out.push(
                &format!("{base}.secret_access_key"),
                "`access_key` is set but `secret_access_key` is empty".into(),
                "set both, or neither to use the default AWS credentials",
            );
        }
    }
    let oauth = sink.pulsar_config.as_ref().and_then(|p| p.oauth2.as_ref());
    if let Some(o) = oauth {
        let fields = [
            &o.oauth2_issuer_url,
            &o.oauth2_audience,
            &o.oauth2_private_key,
            &o.oauth2_client_id,
        ];
        if fields.iter().any(|f| f.as_deref().unwrap_or("").is_empty()) {
            out.push(
                &format!("{SINK}.pulsar_config.oauth2"),
                "`pulsar_config.oauth2` needs all of `oauth2-issuer-url`, `oauth2-audience`, `oauth2-private-key` and `oauth2-client-id`".into(),
                "fill in the missing oauth2 keys, or remove `oauth2`",
            );
        }
    }
}

fn date_separator(out: &mut Out, sink: &SinkConfig) {
    let sep = sink.date_separator.as_deref().unwrap_or("");
    let ok = sep.is_empty()
        || ["none", "year", "month", "day"]
            .iter()
            .any(|v| v.eq_ignore_ascii_case(sep));
    if !ok {
        out.push(
            &format!("{SINK}.date_separator"),
            format!("`date_separator` `{sep}` is not one of none, year, month, day"),
            "use `none`, `year`, `month` or `day`",
        );
    }
}

/// `(*CSVConfig).validateAndAdjust` over the server defaults (`,` `"` base64) ⊕ the manifest.
fn csv(out: &mut Out, sink: &SinkConfig) {
    let Some(c) = &sink.csv else { return };
    let quote = c.quote.as_deref().unwrap_or("\"");
    let delimiter = c.delimiter.as_deref().unwrap_or(",");
    let method = c.binary_encoding_method.as_deref().unwrap_or("base64");
    let base = format!("{SINK}.csv");
    let line_break = |s: &str| s.contains('\r') || s.contains('\n');
    let problem = if quote.len() > 1 {
        Some(("quote", "`quote` must be at most one character"))
    } else if line_break(quote) {
        Some(("quote", "`quote` cannot be a line break"))
    } else if delimiter.is_empty() {
        Some(("delimiter", "`delimiter` cannot be empty"))
    } else if delimiter.len() > 3 {
        Some(("delimiter", "`delimiter` is longer than three characters"))
    } else if line_break(delimiter) {
        Some(("delimiter", "`delimiter` cannot contain a line break"))
    } else if !quote.is_empty() && delimiter.chars().any(|ch| quote.contains(ch)) {
        Some(("delimiter", "`delimiter` and `quote` share a character"))
    } else if method != "hex" && method != "base64" {
        Some((
            "binary_encoding_method",
            "`binary_encoding_method` must be hex or base64",
        ))
    } else {
        None
    };
    if let Some((key, msg)) = problem {
        out.push(
            &format!("{base}.{key}"),
            format!("{msg} (replica_config.sink.csv.{key})"),
            "TiCDC refuses this CSV setting on storage sinks; see the TiCDC CSV options",
        );
    }
}

/// `(*Options).Apply` over the URI query (falling back to `kafka_config`).
fn kafka_uri(out: &mut Out, uri: &Uri, sink: &SinkConfig) {
    let kc = sink.kafka_config.clone().unwrap_or_default();
    let mut problems = kafka_numbers(uri, &kc);
    problems.extend(kafka_identity(uri, &kc));
    for (what, help) in problems {
        out.push("sink_uri", format!("sink_uri: {what}"), help);
    }
}

type Problems = Vec<(String, &'static str)>;

/// `partition-num`, `required-acks` and the timeouts.
fn kafka_numbers(uri: &Uri, kc: &super::types::KafkaConfig) -> Problems {
    let mut out = Problems::new();
    let mut bad = |what: String, help: &'static str| out.push((what, help));
    // A value that is not an integer is reported by `typed_query`; gin binds "" as 0.
    let int = |v: &str| {
        if v.is_empty() {
            Some(0)
        } else {
            v.parse::<i64>().ok()
        }
    };
    let partitions = uri
        .get("partition-num")
        .map(str::to_string)
        .or(kc.partition_num.map(|n| n.to_string()));
    if partitions.as_deref().and_then(int).is_some_and(|n| n <= 0) {
        bad(
            "`partition-num` (or kafka_config.partition_num) must be above 0 (CDC:ErrKafkaInvalidPartitionNum)".into(),
            "use a positive number of partitions, or leave it out",
        );
    }
    let acks = uri
        .get("required-acks")
        .map(str::to_string)
        .or(kc.required_acks.map(|n| n.to_string()));
    if acks
        .as_deref()
        .and_then(int)
        .is_some_and(|n| !(-1..=1).contains(&n))
    {
        bad(
            "`required-acks` must be -1, 0 or 1 (CDC:ErrKafkaInvalidRequiredAcks)".into(),
            "use -1 (all), 1 (leader) or 0 (none)",
        );
    }
    for key in ["dial-timeout", "write-timeout", "read-timeout"] {
        if let Some(v) = uri.get(key).filter(|v| !v.is_empty() && *v != "0") {
            if super::types::parse_go_duration(v).is_err() {
                bad(
                    format!("`{key}` is not a duration"),
                    "write a Go duration such as `10s`",
                );
            }
        }
    }
    out
}

/// `kafka-client-id`, `sasl-mechanism` and the TLS files.
fn kafka_identity(uri: &Uri, kc: &super::types::KafkaConfig) -> Problems {
    let mut out = Problems::new();
    let mut bad = |what: String, help: &'static str| out.push((what, help));
    let client = uri
        .get("kafka-client-id")
        .map(str::to_string)
        .or(kc.kafka_client_id.clone())
        .unwrap_or_default();
    if client
        .chars()
        .any(|c| !(c.is_ascii_alphanumeric() || "._-".contains(c)))
    {
        bad(
            "`kafka-client-id` may only hold letters, digits, `.`, `_` and `-`".into(),
            "rename the client id",
        );
    }
    let mechanism = uri
        .get("sasl-mechanism")
        .map(str::to_string)
        .or(kc.sasl_mechanism.clone())
        .unwrap_or_default();
    let known = [
        "",
        "plain",
        "scram-sha-256",
        "scram-sha-512",
        "gssapi",
        "oauthbearer",
    ];
    if !known.contains(&mechanism.to_ascii_lowercase().as_str()) {
        bad(
            "`sasl-mechanism` is unknown".into(),
            "use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, GSSAPI or OAUTHBEARER",
        );
    }
    let tls: Vec<bool> = [("ca", &kc.ca), ("cert", &kc.cert), ("key", &kc.key)]
        .iter()
        .map(|(k, c)| {
            uri.get(k)
                .map(str::to_string)
                .or((*c).clone())
                .is_some_and(|v| !v.is_empty())
        })
        .collect();
    if tls.contains(&true) && tls.contains(&false) {
        bad(
            "`ca`, `cert` and `key` must be given together".into(),
            "add the missing TLS files, or remove them all",
        );
    }
    out
}

/// Whether a table-route expression is literal text with `{schema}` / `{table}` placeholders
/// only (no other braces).
fn route_expression_ok(expr: &str) -> bool {
    let mut rest = expr;
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest
            .strip_prefix("{schema}")
            .or_else(|| rest.strip_prefix("{table}"))
        {
            rest = r;
        } else if c == '{' || c == '}' {
            return false;
        } else {
            rest = &rest[c.len_utf8()..];
        }
    }
    true
}

/// Table routes of the dispatch rules (new architecture): pingcap/ticdc v8.5.7
/// pkg/config/sink.go `(*SinkConfig).validateTableRoute` / `validateRoutingExpression`, run by
/// `validateAndAdjust` for every scheme before its MySQL early return. `{TABLE}`, `{db}`, stray
/// braces are `ErrInvalidTableRoutingRule`, wrapped as `ErrInvalidReplicaConfig` on create and
/// update (api/v2/changefeed.go).
fn table_routes(out: &mut Out, cfg: &ReplicaConfig) {
    let sink = cfg.sink.clone().unwrap_or_default();
    for (i, rule) in sink.dispatchers.iter().flatten().enumerate() {
        for (key, expr) in [
            ("target-schema", rule.target_schema.as_deref()),
            ("target-table", rule.target_table.as_deref()),
        ] {
            let Some(expr) = expr.filter(|e| !route_expression_ok(e)) else {
                continue;
            };
            out.push(
                &format!("{SINK}.dispatchers.{i}.{key}"),
                format!("replica_config.sink.dispatchers[{i}].{key} `{expr}` is not a valid route: a new-architecture TiCDC accepts only literal text, `{{schema}}` and `{{table}}`"),
                "write the placeholders in lower case (`{schema}`, `{table}`) and use no other braces",
            );
        }
    }
}

/// Topic expressions of the dispatchers and the avro schema registry.
fn topics(out: &mut Out, sink: &SinkConfig, protocol: &str) {
    let avro = protocol == "avro";
    let word = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
    for (i, rule) in sink.dispatchers.iter().flatten().enumerate() {
        let Some(topic) = rule.topic.as_deref().filter(|t| !t.is_empty()) else {
            continue;
        };
        let plain = topic.chars().all(word);
        // Split on the placeholders; everything else must be topic characters.
        let rest: String = topic.replacen("{schema}", "", 1).replacen("{table}", "", 1);
        let order_ok = match (topic.find("{schema}"), topic.find("{table}")) {
            (Some(s), Some(t)) => s < t,
            _ => true,
        };
        let valid = rest.chars().all(word) && order_ok;
        let avro_ok = topic.contains("{schema}") && topic.contains("{table}");
        if (!plain && !valid) || (avro && !(valid && avro_ok)) {
            out.push(
                &format!("{SINK}.dispatchers.{i}.topic"),
                format!("replica_config.sink.dispatchers[{i}].topic `{topic}` is not a valid topic expression"),
                if avro {
                    "with avro, write `prefix{schema}middle{table}suffix`"
                } else {
                    "use letters, digits, `.`, `_`, `-` and at most one `{schema}` before one `{table}`"
                },
            );
        }
    }
}

/// The avro schema registry (`(*Config).Apply` and `(*Config).Validate`, tiflow v7.5.0–v8.5.0
/// and pingcap/ticdc v8.5.7-release.1 pkg/sink/codec/common/config.go): the URI's
/// `schema-registry` when not empty, else `sink.schema_registry` (empty is unset), or Glue;
/// exactly one of Confluent and Glue.
fn avro_registry(out: &mut Out, uri: &Uri, sink: &SinkConfig, protocol: &str) {
    if protocol != "avro" {
        return;
    }
    let glue = sink
        .kafka_config
        .as_ref()
        .is_some_and(|k| k.glue_schema_registry_config.is_some());
    let in_uri = uri.get("schema-registry").is_some_and(|r| !r.is_empty());
    let in_config = sink
        .schema_registry
        .as_deref()
        .is_some_and(|r| !r.is_empty());
    if !in_uri && !in_config && !glue {
        out.push(
            &format!("{SINK}.schema_registry"),
            "the avro protocol needs a schema registry: `schema-registry=` in the sink_uri, `replica_config.sink.schema_registry` or a Glue registry (TiCDC refuses it: CDC:ErrSinkInvalidConfig wrapping CDC:ErrCodecInvalidConfig)"
                .into(),
            "add `&schema-registry=http://registry:8081` to the sink URI, or set `schema_registry`",
        );
    } else if in_uri && glue {
        out.push(
            "sink_uri",
            "sink_uri: `schema-registry=` and `kafka_config.glue_schema_registry_config` cannot both be set for avro (CDC:ErrCodecInvalidConfig)".into(),
            "keep the Confluent registry or the AWS Glue registry, not both",
        );
    }
}

/// Which code the sink reports when one of its query parameters does not bind.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Binder {
    /// pkg/sink/kafka/options.go `(*Options).Apply` (gin `binding.Query`), before any broker.
    Kafka,
    /// pkg/sink/codec/common/config.go `(*Config).Apply` (gin), for MQ sinks.
    Codec,
    /// pkg/sink/mysql/config.go `(*Config).Apply`, before the DSN is built: gin on classic,
    /// `url.Values.Get` + `strconv` one key at a time on pingcap/ticdc.
    Mysql,
    /// pingcap/ticdc v8.5.7 pkg/sink/cloudstorage/config.go `(*Config).Apply` (gin).
    Storage,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum GoKind {
    Bool,
    Int16,
    Int32,
    Int,
    Duration,
}

/// A typed query parameter: key, Go type, binder, first classic version that has it (None:
/// none has it), whether pingcap/ticdc v8.5.7 has it, and the smallest value TiCDC takes.
struct Typed {
    key: &'static str,
    kind: GoKind,
    binder: Binder,
    classic_from: Option<(u32, u32)>,
    newarch: bool,
    min: Option<i64>,
}

const fn t(key: &'static str, kind: GoKind, binder: Binder) -> Typed {
    Typed {
        key,
        kind,
        binder,
        classic_from: Some((7, 5)),
        newarch: true,
        min: None,
    }
}

/// cdcform's own table of the typed sink-URI parameters, from the Go structs they bind to:
/// tiflow v7.5.0/v8.1.0/v8.5.0 and pingcap/ticdc v8.5.7-release.1 pkg/sink/kafka/options.go
/// `urlConfig`, pkg/sink/codec/common/config.go `urlConfig` (v8.1.0 adds `content-compatible`
/// and `debezium-disable-schema`; pingcap/ticdc adds `output-row-key`), tiflow
/// pkg/sink/mysql/config.go `urlConfig` (v8.5.0 adds `has-vector-type`) with `getWorkerCount`,
/// `getMaxTxnRow`, `getMaxMultiUpdateRowCount`, `getMaxMultiUpdateRowSize`, `getDuration`, and
/// pingcap/ticdc pkg/sink/mysql/config.go `(*Config).Apply` (adds `enable-ddl-ts`).
const TYPED: &[Typed] = &[
    t("partition-num", GoKind::Int32, Binder::Kafka),
    t("replication-factor", GoKind::Int16, Binder::Kafka),
    t("max-message-bytes", GoKind::Int, Binder::Kafka),
    t("auto-create-topic", GoKind::Bool, Binder::Kafka),
    t("required-acks", GoKind::Int, Binder::Kafka),
    t("sasl-gssapi-disable-pafxfast", GoKind::Bool, Binder::Kafka),
    t("enable-tls", GoKind::Bool, Binder::Kafka),
    t("insecure-skip-verify", GoKind::Bool, Binder::Kafka),
    t("enable-tidb-extension", GoKind::Bool, Binder::Codec),
    Typed {
        min: Some(1),
        ..t("max-batch-size", GoKind::Int, Binder::Codec)
    },
    t("max-message-bytes", GoKind::Int, Binder::Codec),
    t("avro-enable-watermark", GoKind::Bool, Binder::Codec),
    t("only-output-updated-columns", GoKind::Bool, Binder::Codec),
    Typed {
        classic_from: Some((8, 1)),
        ..t("content-compatible", GoKind::Bool, Binder::Codec)
    },
    Typed {
        classic_from: Some((8, 1)),
        ..t("debezium-disable-schema", GoKind::Bool, Binder::Codec)
    },
    Typed {
        classic_from: None,
        ..t("output-row-key", GoKind::Bool, Binder::Codec)
    },
    Typed {
        min: Some(1),
        ..t("worker-count", GoKind::Int, Binder::Mysql)
    },
    Typed {
        min: Some(1),
        ..t("max-txn-row", GoKind::Int, Binder::Mysql)
    },
    Typed {
        min: Some(1),
        ..t("max-multi-update-row", GoKind::Int, Binder::Mysql)
    },
    Typed {
        min: Some(0),
        ..t("max-multi-update-row-size", GoKind::Int, Binder::Mysql)
    },
    t("safe-mode", GoKind::Bool, Binder::Mysql),
    t("batch-dml-enable", GoKind::Bool, Binder::Mysql),
    t("multi-stmt-enable", GoKind::Bool, Binder::Mysql),
    t("cache-prep-stmts", GoKind::Bool, Binder::Mysql),
    Typed {
        classic_from: Some((8, 5)),
        ..t("has-vector-type", GoKind::Bool, Binder::Mysql)
    },
    Typed {
        classic_from: None,
        ..t("enable-ddl-ts", GoKind::Bool, Binder::Mysql)
    },
    t("read-timeout", GoKind::Duration, Binder::Mysql),
    t("write-timeout", GoKind::Duration, Binder::Mysql),
    t("timeout", GoKind::Duration, Binder::Mysql),
    // pingcap/ticdc v8.5.7 pkg/sink/cloudstorage/config.go `urlConfig`: only these two of its
    // typed fields are checked here (tiflow's storage `urlConfig` has neither).
    Typed {
        classic_from: None,
        ..t("use-table-id-as-path", GoKind::Bool, Binder::Storage)
    },
    Typed {
        classic_from: None,
        ..t("spool-disk-quota", GoKind::Int, Binder::Storage)
    },
];

/// Whether `target` (None: any supported server) has the parameter; and whether it binds an
/// empty value as the zero value (gin: everywhere but pingcap/ticdc's MySQL sink).
fn known_on(p: &Typed, target: Option<&ServerProfile>) -> (bool, bool) {
    let classic = |v: crate::ticdc::Version| {
        p.classic_from
            .is_some_and(|(ma, mi)| (v.major, v.minor) >= (ma, mi))
    };
    match target {
        Some(t) if t.arch == Arch::Newarch => (p.newarch, p.binder != Binder::Mysql),
        Some(t) => (classic(t.version), true),
        None => (
            p.newarch || p.classic_from.is_some(),
            p.classic_from.is_some(),
        ),
    }
}

/// The typed sink-URI parameters: a value that is not of the Go type, or below the minimum.
fn typed_query(out: &mut Out, uri: &Uri, target: Option<&ServerProfile>) {
    let binders: &[Binder] = if uri.mysql() {
        &[Binder::Mysql]
    } else if uri.kafka() {
        &[Binder::Kafka, Binder::Codec]
    } else if uri.mq() {
        &[Binder::Codec]
    } else if uri.storage() {
        &[Binder::Storage]
    } else {
        &[]
    };
    // A key two binders read (`max-message-bytes`) is reported once: the first refuses.
    let mut seen: Vec<&str> = Vec::new();
    for binder in binders {
        for p in TYPED.iter().filter(|p| p.binder == *binder) {
            let Some(v) = uri.get(p.key) else { continue };
            if seen.contains(&p.key) {
                continue;
            }
            seen.push(p.key);
            let (known, empty_is_zero) = known_on(p, target);
            if !known || (v.is_empty() && !empty_is_zero) {
                continue;
            }
            if let Some((what, help)) = typed_problem(p, v) {
                let code = match binder {
                    Binder::Kafka => "CDC:ErrKafkaInvalidConfig",
                    Binder::Codec => "CDC:ErrSinkInvalidConfig",
                    Binder::Mysql => "CDC:ErrMySQLInvalidConfig",
                    Binder::Storage => "CDC:ErrStorageSinkInvalidConfig",
                };
                out.push(
                    "sink_uri",
                    format!(
                        "sink_uri: `{}={v}`: {what}; TiCDC refuses the changefeed ({code})",
                        p.key
                    ),
                    help,
                );
            }
        }
    }
}

/// What is wrong with `v` for `p`, if anything (an empty value is the Go zero value, and an
/// empty duration does not parse).
fn typed_problem(p: &Typed, v: &str) -> Option<(String, &'static str)> {
    let bool_ok = [
        "1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False",
    ];
    match p.kind {
        GoKind::Bool if v.is_empty() || bool_ok.contains(&v) => None,
        GoKind::Bool => Some((
            "not a Go boolean".into(),
            "write true or false (Go's strconv.ParseBool also takes 1, t, T, TRUE, True, 0, f, F, FALSE, False)",
        )),
        // gin binds `read-timeout=` as a pointer to "", and tiflow's `getDuration` parses it:
        // `time.ParseDuration("")` fails (tiflow v8.5.0 pkg/sink/mysql/config.go `getDuration`;
        // found by `props::generated_uri_parameters_are_accepted_or_refused_by_both`).
        GoKind::Duration if !v.is_empty() && super::types::parse_go_duration(v).is_ok() => None,
        GoKind::Duration => Some((
            "not a Go duration".into(),
            "write a duration such as `30s` or `2m`",
        )),
        GoKind::Int16 | GoKind::Int32 | GoKind::Int => {
            let n: i64 = if v.is_empty() {
                0
            } else {
                let unsigned = v.strip_prefix(['+', '-']).unwrap_or(v);
                if unsigned.is_empty() || !unsigned.chars().all(|c| c.is_ascii_digit()) {
                    return Some(("not an integer".into(), "write a whole number"));
                }
                match v.parse::<i64>() {
                    Ok(n) => n,
                    Err(_) => return Some(("out of range".into(), "use a smaller number")),
                }
            };
            let fits = match p.kind {
                GoKind::Int16 => i16::try_from(n).is_ok(),
                GoKind::Int32 => i32::try_from(n).is_ok(),
                _ => true,
            };
            if !fits {
                return Some(("out of range for its Go type".into(), "use a smaller number"));
            }
            match p.min {
                Some(0) if n < 0 => Some(("must not be negative".into(), "use 0 or more")),
                Some(m) if n < m => Some((
                    format!("must be at least {m}"),
                    "use a positive number, or leave it out for the default",
                )),
                _ => None,
            }
        }
    }
}

/// Fields and values the target version does not know. tiflow v7.5.0
/// pkg/config/sink_protocol.go `ParseSinkProtocolFromString` has no `debezium` or `simple`
/// (v8.1.0 adds both): v7.5 refuses them (500 CDC:ErrSinkUnknownProtocol).
/// `claim_check_raw_value` arrives in tiflow v8.3.0 (pkg/config/large_message.go, PR #11395);
/// older servers' JSON decoding drops the key, so a `true` would silently be lost.
fn unknown_to_target(
    out: &mut Out,
    uri: &Uri,
    cfg: &ReplicaConfig,
    target: Option<&ServerProfile>,
) {
    let Some(t) = target.filter(|t| t.arch == Arch::Classic) else {
        return;
    };
    let v = t.version;
    let sink = cfg.sink.clone().unwrap_or_default();
    let (protocol, path) = match uri.get("protocol").filter(|p| !p.is_empty()) {
        Some(p) => (p.to_string(), "sink_uri".to_string()),
        None => (
            sink.protocol.clone().unwrap_or_default(),
            format!("{SINK}.protocol"),
        ),
    };
    let before_81 = (v.major, v.minor) < (8, 1);
    if uri.mq()
        && before_81
        && matches!(
            protocol.to_ascii_lowercase().as_str(),
            "debezium" | "simple"
        )
    {
        out.push(
            &path,
            format!("protocol `{protocol}` is unknown to TiCDC {v} (added in v8.1.0): it refuses the changefeed (CDC:ErrSinkUnknownProtocol)"),
            "use another protocol (canal-json, open-protocol, avro, ...) or target v8.1.0 or later",
        );
    }
    let raw = sink
        .kafka_config
        .as_ref()
        .and_then(|k| k.large_message_handle.as_ref())
        .and_then(|l| l.claim_check_raw_value);
    if raw == Some(true) && (v.major, v.minor) < (8, 3) {
        out.push(
            &format!("{SINK}.kafka_config.large_message_handle.claim_check_raw_value"),
            format!("`claim_check_raw_value` is unknown to TiCDC {v} (added in v8.3.0): its API drops the key, so the setting would be lost"),
            "remove `claim_check_raw_value`, or target v8.3.0 or later",
        );
    }
    for key in newarch_storage_keys_set(sink.cloud_storage_config.as_ref()) {
        out.push(
            &format!("{SINK}.cloud_storage_config.{key}"),
            format!("`{key}` is unknown to classic TiCDC {v} (only the new architecture, pingcap/ticdc v8.5.7, has it): its API drops the key, so the setting would be lost"),
            &format!("remove `{key}`, or target a new-architecture server"),
        );
    }
}

/// The `cloud_storage_config` settings that only pingcap/ticdc v8.5.7 api/v2/model.go
/// `CloudStorageConfig` has (tiflow v7.5.0–v8.5.7 cdc/api/v2/model.go has none of them), set to
/// something other than what their absence means (`false`, `""`).
pub(crate) fn newarch_storage_keys_set(
    c: Option<&super::types::CloudStorageConfig>,
) -> Vec<&'static str> {
    let Some(c) = c else { return Vec::new() };
    let mut keys = Vec::new();
    if c.spool_disk_quota.is_some() {
        keys.push("spool_disk_quota");
    }
    if c.spool_base_dir.as_deref().is_some_and(|d| !d.is_empty()) {
        keys.push("spool_base_dir");
    }
    if c.use_table_id_as_path == Some(true) {
        keys.push("use_table_id_as_path");
    }
    keys
}

/// New-architecture storage sinks: pingcap/ticdc v8.5.7 downstreamadapter/sink/cloudstorage
/// `Verify` → pkg/sink/cloudstorage/config.go `(*Config).Apply`. Its `mergeConfig` (mergo
/// v0.3.16 `WithOverride` into copies of the config's pointers) lets a URI parameter fill an
/// unset setting whatever its value, and replace a set one unless it is Go's zero value; then
/// `getSpoolDiskQuota` refuses 0 and less, `getSpoolBaseDir` a directory that is not absolute
/// (`filepath.IsAbs`), both with CDC:ErrStorageSinkInvalidConfig.
fn storage_spool(out: &mut Out, uri: &Uri, sink: &SinkConfig) {
    let csc = sink.cloud_storage_config.clone().unwrap_or_default();
    let from_uri = uri.get("spool-disk-quota").map(|v| {
        if v.is_empty() {
            Some(0)
        } else {
            v.parse::<i64>().ok()
        }
    });
    // An unparsable URI value is `typed_query`'s to report.
    let (quota, path) = match (from_uri, csc.spool_disk_quota) {
        (Some(None), _) => (None, ""),
        (Some(Some(0)), Some(c)) => (Some(c), "config"),
        (Some(Some(u)), _) => (Some(u), "sink_uri"),
        (None, c) => (c, "config"),
    };
    if let Some(q) = quota.filter(|q| *q <= 0) {
        let at = if path == "sink_uri" {
            "sink_uri".to_string()
        } else {
            format!("{SINK}.cloud_storage_config.spool_disk_quota")
        };
        out.push(
            &at,
            format!("spool-disk-quota {q}: it must be greater than 0; a new-architecture TiCDC refuses the changefeed (CDC:ErrStorageSinkInvalidConfig)"),
            "leave it unset (10 GiB) or give a positive number of bytes",
        );
    }
    let (dir, at) = match uri.get("spool-base-dir").filter(|d| !d.is_empty()) {
        Some(d) => (d.to_string(), "sink_uri".to_string()),
        None => (
            csc.spool_base_dir.clone().unwrap_or_default(),
            format!("{SINK}.cloud_storage_config.spool_base_dir"),
        ),
    };
    if !dir.is_empty() && !dir.starts_with('/') {
        out.push(
            &at,
            format!("spool-base-dir `{dir}` is not an absolute path; a new-architecture TiCDC refuses the changefeed (CDC:ErrStorageSinkInvalidConfig)"),
            "use an absolute directory, e.g. /var/lib/ticdc/spool, or leave it unset",
        );
    }
}

/// tiflow `cdc/sink/validator/validator.go`: `preCheckSinkURI`,
/// `checkSyncPointSchemeCompatibility`, `checkBDRMode` (scheme part). Classic servers only.
fn classic_validator(out: &mut Out, uri: &Uri, cfg: &ReplicaConfig) {
    let host_only = match uri.host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => uri.host.as_str(),
    };
    let bare = host_only.trim_start_matches('[').trim_end_matches(']');
    let is_v6 = bare.contains(':') && bare.parse::<std::net::Ipv6Addr>().is_ok();
    if is_v6 && !host_only.starts_with('[') {
        out.push(
            "sink_uri",
            "sink_uri: an IPv6 host must be written in brackets (classic TiCDC refuses it)".into(),
            "write the host as `[ipv6-address]:port`",
        );
    }
    if !uri.mysql() {
        if cfg.enable_sync_point == Some(true) {
            out.push(
                "replica_config.enable_sync_point",
                format!(
                    "`enable_sync_point` is only supported by MySQL/TiDB sinks, not `{}`",
                    uri.scheme
                ),
                "remove `enable_sync_point`",
            );
        }
        if cfg.bdr_mode == Some(true) {
            out.push(
                "replica_config.bdr_mode",
                format!(
                    "`bdr_mode` is only supported by MySQL/TiDB sinks, not `{}`",
                    uri.scheme
                ),
                "remove `bdr_mode`",
            );
        }
    }
}

/// `(*integrity.Config).Validate`; an enabled check on a non-Kafka sink is reset to none first.
fn integrity(out: &mut Out, uri: &Uri, cfg: &ReplicaConfig) {
    let Some(i) = &cfg.integrity else { return };
    let enabled = i.integrity_check_level.as_deref() == Some("correctness") && uri.kafka();
    let selectors = cfg
        .sink
        .as_ref()
        .and_then(|s| s.column_selectors.as_ref())
        .is_some_and(|c| !c.is_empty());
    if enabled && selectors {
        out.push(
            "replica_config.integrity.integrity_check_level",
            "`integrity_check_level: correctness` cannot be combined with `sink.column_selectors`"
                .into(),
            "remove the column selectors or the integrity check",
        );
    }
}

/// `(*ConsistentConfig).ValidateAndAdjust` when redo is on (`level: eventual`).
fn redo(out: &mut Out, cfg: &ReplicaConfig) {
    let Some(c) = &cfg.consistent else { return };
    if c.level.as_deref() != Some("eventual") {
        return;
    }
    let base = "replica_config.consistent";
    for (key, v) in [
        ("flush_interval", c.flush_interval),
        ("meta_flush_interval", c.meta_flush_interval),
    ] {
        if let Some(v) = v.filter(|v| *v != 0 && *v < 50) {
            out.push(
                &format!("{base}.{key}"),
                format!("`consistent.{key}` {v} is below the minimum of 50 (ms)"),
                "use 50 or more, or leave it unset",
            );
        }
    }
    let compression = c.compression.as_deref().unwrap_or("");
    if !["", "none", "lz4"].contains(&compression) {
        out.push(
            &format!("{base}.compression"),
            format!("`consistent.compression` `{compression}` must be none or lz4"),
            "use `none` or `lz4`",
        );
    }
    let storage = c.storage.as_deref().unwrap_or("");
    let parsed = GoUrl::parse(storage).ok();
    let scheme = parsed
        .as_ref()
        .map(|u| u.scheme.to_ascii_lowercase())
        .unwrap_or_default();
    let known = [
        "local", "nfs", "s3", "gcs", "gs", "azblob", "azure", "file", "noop",
    ];
    if !(scheme.starts_with("blackhole") || known.contains(&scheme.as_str())) {
        out.push(
            &format!("{base}.storage"),
            "`consistent.storage` must be a redo storage URI (s3, gcs, azblob, file, local, nfs, noop, blackhole)".into(),
            "set `storage: s3://bucket/redo` (redo is on with `level: eventual`)",
        );
    } else if scheme == "s3" && parsed.is_some_and(|u| u.host.is_empty()) {
        out.push(
            &format!("{base}.storage"),
            "`consistent.storage`: an s3 URI needs a bucket".into(),
            "write `s3://bucket/prefix`",
        );
    }
}

/// tiflow `(*ChangefeedSchedulerConfig).Validate`; pingcap/ticdc `ValidateAndAdjust` adds the
/// new-architecture fields (unset ones take the server defaults).
fn scheduler(out: &mut Out, cfg: &ReplicaConfig, arches: Arches) {
    let Some(s) = &cfg.scheduler else { return };
    if s.enable_table_across_nodes != Some(true) {
        return;
    }
    let base = "replica_config.scheduler";
    let mut bad = |key: &str, rule: &str| {
        out.push(
            &format!("{base}.{key}"),
            format!("`scheduler.{key}` {rule} when `enable_table_across_nodes` is true"),
            "fix the value or leave it unset for the server default",
        );
    };
    if s.region_threshold.is_some_and(|v| v < 0) {
        bad("region_threshold", "must not be negative");
    }
    if s.write_key_threshold.is_some_and(|v| v < 0) {
        bad("write_key_threshold", "must not be negative");
    }
    if arches.newarch {
        newarch_scheduler(&mut bad, s);
    }
}

/// pingcap/ticdc v8.5.7 `(*ChangefeedSchedulerConfig).ValidateAndAdjust`: the fields tiflow lacks.
fn newarch_scheduler(bad: &mut impl FnMut(&str, &str), s: &super::types::SchedulerConfig) {
    if s.scheduling_task_count_per_node.is_some_and(|v| v < 0) {
        bad(
            "scheduling_task_count_per_node",
            "must not be negative (new architecture)",
        );
    }
    if s.region_count_per_span.is_some_and(|v| v <= 0) {
        bad(
            "region_count_per_span",
            "must be above 0 (new architecture)",
        );
    }
    if s.region_count_refresh_interval.is_some_and(|v| v <= 0) {
        bad(
            "region_count_refresh_interval",
            "must be above 0 (new architecture)",
        );
    }
    if s.balance_score_threshold.is_some_and(|v| v <= 0) {
        bad(
            "balance_score_threshold",
            "must be above 0 (new architecture)",
        );
    }
    if s.min_traffic_percentage
        .is_some_and(|v| v <= 0.0 || v >= 1.0)
    {
        bad(
            "min_traffic_percentage",
            "must be between 0 and 1 (new architecture)",
        );
    }
    if s.max_traffic_percentage.is_some_and(|v| v <= 1.0) {
        bad(
            "max_traffic_percentage",
            "must be above 1 (new architecture)",
        );
    }
}
