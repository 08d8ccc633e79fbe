//! Semantic checks of one changefeed after the schema check: ids, sink URI, protocol, sync point,
//! timestamps, table-filter rules. Every problem is located at the offending value.

use std::path::Path;

use super::diagnostics::Diagnostic;
use super::load::Node;
use super::schema::did_you_mean;
use super::types::{ChangefeedSpec, ReplicaConfig};
use super::DesiredState;
use crate::ticdc::mask::GoUrl;

/// Sink schemes TiCDC (tiflow v7.5–v8.5 and the new architecture) accepts.
pub const MYSQL_SCHEMES: &[&str] = &["mysql", "mysql+ssl", "tidb", "tidb+ssl"];
pub const MQ_SCHEMES: &[&str] = &[
    "kafka",
    "kafka+ssl",
    "pulsar",
    "pulsar+ssl",
    "pulsar+http",
    "pulsar+https",
];
pub const STORAGE_SCHEMES: &[&str] = &["file", "s3", "gcs", "gs", "azblob", "azure", "noop"];
pub const OTHER_SCHEMES: &[&str] = &["blackhole"];
/// Protocols of MQ sinks.
pub const MQ_PROTOCOLS: &[&str] = &[
    "canal",
    "canal-json",
    "open-protocol",
    "avro",
    "maxwell",
    "craft",
    "debezium",
    "simple",
];
/// Protocols of storage sinks.
pub const STORAGE_PROTOCOLS: &[&str] = &["csv", "canal-json"];

/// The smallest `sync_point_interval` TiCDC accepts when sync point is enabled.
pub const MIN_SYNC_POINT_INTERVAL_NS: u64 = 30_000_000_000;
/// The smallest `sync_point_retention` TiCDC accepts when sync point is enabled.
pub const MIN_SYNC_POINT_RETENTION_NS: u64 = 3_600_000_000_000;
/// The smallest `changefeed_error_stuck_duration` TiCDC accepts.
pub const MIN_ERROR_STUCK_NS: u64 = 1_800_000_000_000;

/// TiCDC's changefeed id (and tiflow namespace) rule: `^[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*$`, at most 128.
pub fn id_error(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("is empty".into());
    }
    if id.len() > 128 {
        return Some(format!("is {} characters long; the limit is 128", id.len()));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Some(format!(
            "contains `{c}`; only ASCII letters, digits and `-` are allowed"
        ));
    }
    if id.starts_with('-') || id.ends_with('-') || id.contains("--") {
        return Some("must not start or end with `-` or contain `--`".into());
    }
    None
}

/// A suggestion for an invalid id: lowercase-ish, invalid characters turned into single hyphens.
fn fix_id(id: &str) -> String {
    let mapped: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let parts: Vec<&str> = mapped.split('-').filter(|p| !p.is_empty()).collect();
    let mut s = parts.join("-");
    s.truncate(128);
    s.trim_end_matches('-').to_string()
}

/// Check one TiDB table-filter rule (`db.table`, wildcards `* ? [...]`, `!` negation, backquotes,
/// backslash escapes). Returns the problem, if any.
pub fn filter_rule_error(rule: &str) -> Option<String> {
    let body = rule.trim();
    if body.is_empty() {
        return Some("empty filter rule".into());
    }
    let body = body.strip_prefix('!').unwrap_or(body);
    if body.starts_with('@') {
        return Some("`@file` imports are not supported in changefeed filters".into());
    }
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    let mut parts = 1;
    let mut part_len = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '.' => {
                if part_len == 0 {
                    return Some("empty schema name before `.`".into());
                }
                parts += 1;
                part_len = 0;
                i += 1;
                continue;
            }
            '`' => {
                let close = chars[i + 1..].iter().position(|c| *c == '`');
                match close {
                    Some(n) => i += n + 2,
                    None => return Some("unterminated backquote".into()),
                }
            }
            '[' => {
                let close = chars[i + 1..].iter().position(|c| *c == ']');
                match close {
                    Some(0) => return Some("empty character class `[]`".into()),
                    Some(n) => i += n + 2,
                    None => return Some("unterminated character class `[`".into()),
                }
            }
            '\\' => {
                if i + 1 >= chars.len() {
                    return Some("a trailing `\\` escapes nothing".into());
                }
                i += 2;
            }
            '*' | '?' | '_' | '$' => i += 1,
            c if c.is_ascii_alphanumeric() || !c.is_ascii() => i += 1,
            c if c.is_whitespace() => {
                return Some("whitespace inside a rule (quote the name with backquotes)".into())
            }
            c => {
                return Some(format!(
                    "unexpected character `{c}` (escape it with `\\` or use backquotes)"
                ))
            }
        }
        part_len += 1;
    }
    if parts == 1 {
        return Some("missing `.`: a rule is `schema.table`".into());
    }
    if parts > 2 {
        return Some("too many `.`: a rule is `schema.table`".into());
    }
    if part_len == 0 {
        return Some("empty table name after `.`".into());
    }
    None
}

struct Ctx<'a> {
    file: &'a Path,
    item: &'a Node,
    out: Vec<Diagnostic>,
    /// Variables the sink URI was expanded from: their values must not appear in messages.
    uri_vars: &'a [String],
}

impl Ctx<'_> {
    fn at(&self, path: &[&str]) -> (usize, usize) {
        // The value's position, or the nearest existing parent's.
        for n in (0..=path.len()).rev() {
            if let Some(node) = self.item.at(&path[..n]) {
                return (node.line, node.column);
            }
        }
        (self.item.line, self.item.column)
    }

    fn push(&mut self, path: &[&str], message: String, help: String) {
        let (line, column) = self.at(path);
        self.out.push(Diagnostic {
            file: self.file.to_path_buf(),
            line,
            column,
            message,
            help: Some(help),
            source: None,
        });
    }
}

/// Semantic checks of one changefeed. `sink_uri` is the expanded URI (None when it could not be
/// expanded; its variables are reported elsewhere).
/// `partial` says that values which failed the schema check were taken out of `spec`; a missing
/// `sink_uri` is then not reported (it is most likely a misspelt key, reported already).
/// `uri_vars` are the variables `sink_uri` references (their values are never shown).
pub fn check_changefeed(
    file: &Path,
    item: &Node,
    spec: &ChangefeedSpec,
    sink_uri: Option<&str>,
    partial: bool,
    uri_vars: &[String],
) -> Vec<Diagnostic> {
    let mut c = Ctx {
        file,
        item,
        out: Vec::new(),
        uri_vars,
    };
    if let Some(e) = id_error(&spec.id) {
        let fixed = fix_id(&spec.id);
        let help = if fixed.is_empty() || fixed == spec.id {
            "use ASCII letters and digits joined by single hyphens, e.g. `orders-to-kafka`"
                .to_string()
        } else {
            format!("use ASCII letters and digits joined by single hyphens, e.g. `{fixed}`")
        };
        c.push(
            &["id"],
            format!("invalid changefeed id `{}`: {e}", spec.id),
            help,
        );
    }
    if let Some(ns) = &spec.namespace {
        if let Some(e) = id_error(ns) {
            c.push(
                &["namespace"],
                format!("invalid namespace `{ns}`: {e}"),
                "use ASCII letters and digits joined by single hyphens, or leave it out for `default`".into(),
            );
        }
    }
    let state = spec.state.unwrap_or_default();
    let cfg = spec.replica_config.clone().unwrap_or_default();
    match (&spec.sink_uri, sink_uri) {
        (None, _) if state != DesiredState::Absent && !partial => c.push(
            &[],
            format!("changefeed `{}` has no `sink_uri`", spec.id),
            "add `sink_uri: \"<scheme>://...\"` (only `state: absent` may omit it)".into(),
        ),
        (Some(_), Some(uri)) => check_sink(&mut c, uri, &cfg),
        _ => {}
    }
    check_config(&mut c, &cfg);
    if let (Some(start), Some(target)) = (spec.start_ts, spec.target_ts) {
        if target != 0 && start != 0 && target <= start {
            c.push(
                &["target_ts"],
                format!("target_ts {target} is not above start_ts {start}"),
                "set target_ts above start_ts, or remove target_ts".into(),
            );
        }
    }
    c.out
}

fn check_sink(c: &mut Ctx, uri: &str, cfg: &ReplicaConfig) {
    if uri.trim().is_empty() {
        c.push(
            &["sink_uri"],
            "`sink_uri` is empty".into(),
            "write the sink URI, e.g. `kafka://broker:9092/topic?protocol=canal-json`".into(),
        );
        return;
    }
    let parsed = match GoUrl::parse(uri) {
        Ok(u) if !u.scheme.is_empty() => u,
        Ok(_) => {
            c.push(
                &["sink_uri"],
                "`sink_uri` has no scheme".into(),
                "start the URI with a scheme such as `mysql://`, `kafka://` or `s3://`".into(),
            );
            return;
        }
        Err(e) if c.uri_vars.is_empty() => {
            c.push(
                &["sink_uri"],
                format!("`sink_uri` cannot be parsed: {e}"),
                "percent-encode special characters (e.g. `@` in a password as `%40`)".into(),
            );
            return;
        }
        Err(_) => {
            // The parser's message could quote a secret that came from a variable.
            let vars: Vec<String> = c.uri_vars.iter().map(|v| format!("${{{v}}}")).collect();
            c.push(
                &["sink_uri"],
                format!(
                    "`sink_uri` cannot be parsed once {} is expanded (details hidden: they could show a secret)",
                    vars.join(", ")
                ),
                "percent-encode special characters in the variable's value (e.g. `@` as `%40`)"
                    .into(),
            );
            return;
        }
    };
    let scheme = parsed.scheme.to_ascii_lowercase();
    let all: Vec<&str> = MYSQL_SCHEMES
        .iter()
        .chain(MQ_SCHEMES)
        .chain(STORAGE_SCHEMES)
        .chain(OTHER_SCHEMES)
        .copied()
        .collect();
    if !all.contains(&scheme.as_str()) {
        let help = match did_you_mean(&scheme, all.iter().copied()) {
            Some(m) => format!("did you mean `{m}://`?"),
            None => format!("use one of: {}", all.join(", ")),
        };
        c.push(
            &["sink_uri"],
            format!("unsupported sink scheme `{scheme}`"),
            help,
        );
        return;
    }
    let query = parsed.query_pairs();
    let uri_protocol = query
        .iter()
        .rev()
        .find(|(k, _)| k == "protocol")
        .map(|(_, v)| v.clone());
    let cfg_protocol = cfg.sink.as_ref().and_then(|s| s.protocol.clone());
    if MYSQL_SCHEMES.contains(&scheme.as_str()) {
        if uri_protocol.is_some() {
            c.push(
                &["sink_uri"],
                format!("`protocol` is set for the MySQL sink scheme `{scheme}`"),
                "remove `protocol=` from the sink URI: MySQL/TiDB sinks have no protocol".into(),
            );
        }
        if cfg_protocol.is_some() {
            c.push(
                &["replica_config", "sink", "protocol"],
                format!(
                    "`replica_config.sink.protocol` is set for the MySQL sink scheme `{scheme}`"
                ),
                "remove `protocol`: MySQL/TiDB sinks have no protocol".into(),
            );
        }
        return;
    }
    if scheme.starts_with("kafka") && parsed.raw_path.trim_matches('/').is_empty() {
        // TiCDC takes the Kafka topic from the URI path and refuses an empty one.
        c.push(
            &["sink_uri"],
            format!("Kafka sink URI `{scheme}://{}` has no topic", parsed.host),
            "put the topic in the path, e.g. `kafka://broker:9092/my-topic?protocol=canal-json`"
                .into(),
        );
    }
    let (kind, allowed) = if MQ_SCHEMES.contains(&scheme.as_str()) {
        ("MQ", MQ_PROTOCOLS)
    } else if STORAGE_SCHEMES.contains(&scheme.as_str()) {
        ("storage", STORAGE_PROTOCOLS)
    } else {
        return;
    };
    // The URI wins over replica_config.sink.protocol (TiCDC copies it into the config).
    let (protocol, path): (Option<String>, &[&str]) = match (&uri_protocol, &cfg_protocol) {
        (Some(p), _) => (Some(p.clone()), &["sink_uri"]),
        (None, Some(p)) => (Some(p.clone()), &["replica_config", "sink", "protocol"]),
        (None, None) => (None, &["sink_uri"]),
    };
    match protocol {
        None => c.push(
            path,
            format!("{kind} sink `{scheme}` has no protocol"),
            format!(
                "add `?protocol={}` to the sink URI (one of: {})",
                allowed[if kind == "MQ" { 1 } else { 0 }],
                allowed.join(", ")
            ),
        ),
        Some(p) if !allowed.contains(&p.as_str()) => {
            let help = match did_you_mean(&p, allowed.iter().copied()) {
                Some(m) => format!("did you mean `{m}`?"),
                None => format!("use one of: {}", allowed.join(", ")),
            };
            c.push(
                path,
                format!("unknown protocol `{p}` for the {kind} sink `{scheme}`"),
                help,
            );
        }
        Some(_) => {}
    }
}

fn check_rules(c: &mut Ctx, base: &[&str], rules: &[String]) {
    for (i, rule) in rules.iter().enumerate() {
        if let Some(e) = filter_rule_error(rule) {
            let idx = i.to_string();
            let mut path: Vec<&str> = base.to_vec();
            path.push(&idx);
            c.push(
                &path,
                format!("invalid filter rule `{rule}`: {e}"),
                "write `schema.table` with optional `*`, `?`, `[...]` wildcards and a leading `!` to exclude, e.g. `shop.order_*`".into(),
            );
        }
    }
}

fn check_config(c: &mut Ctx, cfg: &ReplicaConfig) {
    // TiCDC (ValidateAndAdjust) refuses sync_point_interval < 30s and sync_point_retention < 1h only
    // when enable_sync_point is true; cdcform mirrors that.
    if cfg.enable_sync_point == Some(true) {
        if let Some(d) = cfg.sync_point_interval {
            if d.0 < MIN_SYNC_POINT_INTERVAL_NS {
                c.push(
                    &["replica_config", "sync_point_interval"],
                    format!(
                        "sync_point_interval {} is below the minimum of 30s",
                        humantime::format_duration(std::time::Duration::from_nanos(d.0))
                    ),
                    "set `sync_point_interval: 30s` or more".into(),
                );
            }
        }
        if let Some(d) = cfg.sync_point_retention {
            if d.0 < MIN_SYNC_POINT_RETENTION_NS {
                c.push(
                    &["replica_config", "sync_point_retention"],
                    format!(
                        "sync_point_retention {} is below the minimum of 1h",
                        humantime::format_duration(std::time::Duration::from_nanos(d.0))
                    ),
                    "set `sync_point_retention: 1h` or more".into(),
                );
            }
        }
    }
    if let Some(d) = cfg.changefeed_error_stuck_duration {
        if d.0 < MIN_ERROR_STUCK_NS {
            c.push(
                &["replica_config", "changefeed_error_stuck_duration"],
                format!(
                    "changefeed_error_stuck_duration {} is below the minimum of 30m",
                    humantime::format_duration(std::time::Duration::from_nanos(d.0))
                ),
                "set `changefeed_error_stuck_duration: 30m` or more".into(),
            );
        }
    }
    if let Some(f) = &cfg.filter {
        if let Some(r) = &f.rules {
            check_rules(c, &["replica_config", "filter", "rules"], r);
        }
        for (i, ef) in f.event_filters.iter().flatten().enumerate() {
            if let Some(m) = &ef.matcher {
                let idx = i.to_string();
                check_rules(
                    c,
                    &["replica_config", "filter", "event_filters", &idx, "matcher"],
                    m,
                );
            }
        }
    }
    if let Some(s) = &cfg.sink {
        for (i, d) in s.dispatchers.iter().flatten().enumerate() {
            if let Some(m) = &d.matcher {
                let idx = i.to_string();
                check_rules(
                    c,
                    &["replica_config", "sink", "dispatchers", &idx, "matcher"],
                    m,
                );
            }
        }
        for (i, d) in s.column_selectors.iter().flatten().enumerate() {
            if let Some(m) = &d.matcher {
                let idx = i.to_string();
                check_rules(
                    c,
                    &[
                        "replica_config",
                        "sink",
                        "column_selectors",
                        &idx,
                        "matcher",
                    ],
                    m,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(id_error("orders-to-kafka"), None);
        assert_eq!(id_error("A1"), None);
        assert!(id_error("a_b").is_some());
        assert!(id_error("-a").is_some());
        assert!(id_error("a--b").is_some());
        assert!(id_error("a.b").is_some());
        assert!(id_error(&"a".repeat(129)).is_some());
        assert_eq!(id_error(&"a".repeat(128)), None);
        assert_eq!(fix_id("Orders_To__Kafka."), "Orders-To-Kafka");
    }

    #[test]
    fn filter_rules() {
        for ok in [
            "*.*",
            "shop.orders",
            "!shop.tmp_*",
            "db?.t[0-9]",
            "`my.db`.`t`",
            "sh\\.op.t",
            "商店.订单",
        ] {
            assert_eq!(filter_rule_error(ok), None, "{ok}");
        }
        for bad in [
            "", "shop", "shop.", ".t", "a.b.c", "a.[", "a.`b", "a.b c", "a.b-c", "a.[]",
        ] {
            assert!(filter_rule_error(bad).is_some(), "{bad}");
        }
    }
}
