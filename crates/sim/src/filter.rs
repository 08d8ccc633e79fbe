//! TiCDC's table selection for the simulator: the table-filter rules (tidb
//! `pkg/util/table-filter`), the v7.5 legacy `do_dbs`/`ignore_tables` rules, the system schemas
//! that are never replicated, and `verify_table`'s split into eligible and ineligible tables.
//! Independent of cdcform's own code: the simulator is the oracle the planner asks.

use regex::Regex;
use serde_json::{json, Value};

use super::catalog::{Catalog, Table};
use super::config::ApiErr;
use super::SimProfile;
use crate::ticdc::Version;

/// One side of a rule (schema or table pattern).
#[derive(Debug, Clone)]
enum Matcher {
    /// A literal name (plain or quoted).
    Literal(String),
    /// `*`: tidb matchers.go `trueMatcher`.
    All,
    Regex(Regex),
}

impl Matcher {
    fn matches(&self, name: &str) -> bool {
        match self {
            Matcher::Literal(s) => s == name,
            Matcher::All => true,
            Matcher::Regex(r) => r.is_match(name),
        }
    }
    /// tidb matchers.go `toLower`: literals lower-cased, regexps get `(?i)`.
    fn lowered(&self) -> Matcher {
        match self {
            Matcher::Literal(s) => Matcher::Literal(s.to_lowercase()),
            Matcher::All => Matcher::All,
            Matcher::Regex(r) => Matcher::Regex(
                Regex::new(&format!("(?i){}", r.as_str())).expect("a valid regexp stays valid"),
            ),
        }
    }
}

fn regex_matcher(pat: &str) -> Result<Matcher, String> {
    // tidb matchers.go `newRegexpMatcher`: the `*` pattern is special-cased.
    if pat == "(?s)^.*$" {
        return Ok(Matcher::All);
    }
    Regex::new(pat)
        .map(Matcher::Regex)
        .map_err(|e| format!("invalid pattern: {e}"))
}

#[derive(Debug, Clone)]
struct Rule {
    schema: Matcher,
    table: Matcher,
    positive: bool,
}

/// A parsed table filter. `rules` are kept in evaluation order.
#[derive(Debug, Clone)]
pub struct TableFilter {
    rules: Vec<Rule>,
    /// Legacy filters need both lists to pass (tidb compat.go `bothFilter`).
    legacy_tables: Option<Vec<Rule>>,
    lower: bool,
}

/// tidb `pkg/util/table-filter/parser.go` `(*tableRulesParser).parse`: `#` comments, `!`
/// negation, `schema.table` with each side a wildcard, a `/regexp/`, a "double" or `back`
/// quoted name.
fn parse_rule(line: &str) -> Result<Option<Rule>, String> {
    let line = line.trim_matches([' ', '\t']);
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (positive, line) = match line.strip_prefix('!') {
        Some(rest) => (false, rest),
        None => (true, line),
    };
    if line.starts_with('@') {
        return Err("importing filter files is not supported by the simulator".into());
    }
    let (schema, rest) = parse_pattern(line)?;
    if rest.is_empty() {
        return Err("wrong table pattern".into());
    }
    let Some(rest) = rest.strip_prefix('.') else {
        return Err("syntax error: missing '.' between schema and table patterns".into());
    };
    let (table, rest) = parse_pattern(rest)?;
    if !rest.is_empty() {
        return Err("syntax error: stray characters after table pattern".into());
    }
    Ok(Some(Rule {
        schema,
        table,
        positive,
    }))
}

/// tidb parser.go `(*matcherParser).parsePattern`.
fn parse_pattern(line: &str) -> Result<(Matcher, &str), String> {
    let Some(first) = line.chars().next() else {
        return Err("syntax error: missing pattern".into());
    };
    match first {
        '/' => {
            // `^/(?:\\.|[^/])+/`
            let b = line.as_bytes();
            let mut i = 1;
            while i < b.len() && b[i] != b'/' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            if i >= b.len() || i == 1 {
                return Err("syntax error: incomplete regexp".into());
            }
            Ok((regex_matcher(&line[1..i])?, &line[i + 1..]))
        }
        '"' | '`' => {
            // A doubled quote inside is one quote character.
            let q = first;
            let mut name = String::new();
            let mut it = line[1..].char_indices().peekable();
            while let Some((i, c)) = it.next() {
                if c == q {
                    if it.peek().map(|(_, n)| *n) == Some(q) {
                        name.push(q);
                        it.next();
                        continue;
                    }
                    if name.is_empty() {
                        break;
                    }
                    return Ok((Matcher::Literal(name), &line[1 + i + 1..]));
                }
                name.push(c);
            }
            Err("syntax error: incomplete quoted identifier".into())
        }
        _ => parse_wildcard(line),
    }
}

/// tidb parser.go `parseWildcardPattern`: `*`, `?`, `[a-z]` / `[!a-z]` classes, `\` escapes of
/// non-alphanumerics; a pattern without wildcards is a literal name. Like tidb, other characters
/// go into the regexp unescaped (so a `$` inside a wildcard pattern anchors).
fn parse_wildcard(line: &str) -> Result<(Matcher, &str), String> {
    let mut literal = String::new();
    let mut re = String::from("(?s)^");
    let mut is_literal = true;
    let mut end = line.len();
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let Some((_, esc)) = chars.next() else {
                    return Err(r"syntax error: cannot place \ at end of line".into());
                };
                if esc.is_ascii_alphanumeric() {
                    return Err(format!(
                        r"cannot escape a letter or number (\{esc}), it is reserved for future extension"
                    ));
                }
                literal.push(esc);
                re.push_str(&regex::escape(&esc.to_string()));
            }
            '.' => {
                end = i;
                break;
            }
            '*' => {
                is_literal = false;
                re.push_str(".*");
            }
            '?' => {
                is_literal = false;
                re.push('.');
            }
            '[' => {
                is_literal = false;
                let stop = push_class(line, i, &mut re)?;
                while chars.peek().is_some_and(|(j, _)| *j < stop) {
                    chars.next();
                }
            }
            c if c == '$' || c == '_' || c.is_ascii_alphanumeric() || !c.is_ascii() => {
                literal.push(c);
                re.push(c);
            }
            c => return Err(format!("unexpected special character '{c}'")),
        }
    }
    let rest = &line[end..];
    if is_literal {
        return Ok((Matcher::Literal(literal), rest));
    }
    re.push('$');
    Ok((regex_matcher(&re)?, rest))
}

/// Copy the `[...]` class starting at `i` into the regexp (`[!` negates; a literal `[^` is
/// escaped, as in tidb); returns where the class ends.
fn push_class(line: &str, i: usize, re: &mut String) -> Result<usize, String> {
    let stop = class_end(&line.as_bytes()[i..])
        .ok_or("syntax error: failed to parse character class")?
        + i;
    match line.as_bytes().get(i + 1) {
        Some(b'!') => {
            re.push_str("[^");
            re.push_str(&line[i + 2..stop]);
        }
        Some(b'^') => {
            re.push_str(r"[\^");
            re.push_str(&line[i + 2..stop]);
        }
        _ => re.push_str(&line[i..stop]),
    }
    Ok(stop)
}

/// Length of a `[...]` class at the start of `b` (`^\[!?(?:\\[^0-9a-zA-Z]|[^\\\]])+\]`).
fn class_end(b: &[u8]) -> Option<usize> {
    let mut i = 1;
    if b.get(i) == Some(&b'!') {
        i += 1;
    }
    let start = i;
    loop {
        match *b.get(i)? {
            b']' if i > start => return Some(i + 1),
            b']' => return None,
            b'\\' => {
                let n = *b.get(i + 1)?;
                if n.is_ascii_alphanumeric() {
                    return None;
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
}

/// tidb compat.go `matcherFromLegacyPattern`: `~regexp`, a literal, or a wildcard.
fn legacy_matcher(p: &str) -> Result<Matcher, String> {
    if p.is_empty() {
        return Err("pattern cannot be empty".into());
    }
    if let Some(r) = p.strip_prefix('~') {
        return regex_matcher(r);
    }
    if !p.contains(['?', '*', '[']) {
        return Ok(Matcher::Literal(p.into()));
    }
    let quoted = regex::escape(p)
        .replace(r"\*", ".*")
        .replace(r"\?", ".")
        .replace(r"\[!", "[^")
        .replace(r"\[", "[")
        .replace(r"\]", "]");
    regex_matcher(&format!("(?s)^{quoted}$"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn lowered_rules(rs: &[Rule]) -> Vec<Rule> {
    rs.iter()
        .map(|r| Rule {
            schema: r.schema.lowered(),
            table: r.table.lowered(),
            positive: r.positive,
        })
        .collect()
}

impl TableFilter {
    /// tidb table_filter.go `Parse`: rules are reversed, so the LAST matching rule wins.
    pub fn parse(rules: &[String]) -> Result<TableFilter, String> {
        let mut parsed = Vec::new();
        for r in rules {
            if let Some(rule) = parse_rule(r)? {
                parsed.push(rule);
            }
        }
        parsed.reverse();
        Ok(TableFilter {
            rules: parsed,
            legacy_tables: None,
            lower: false,
        })
    }

    /// tidb compat.go `ParseMySQLReplicationRules` over the API's `filter` object: `do_dbs`
    /// (else `ignore_dbs` then everything) and `do_tables` (else `ignore_tables` then
    /// everything); the FIRST matching rule of each list decides and both must pass.
    fn parse_legacy(f: &Value) -> Result<TableFilter, String> {
        let list = |pos: Vec<Rule>, neg: Vec<Rule>| -> Vec<Rule> {
            if !pos.is_empty() {
                return pos;
            }
            let mut r = neg;
            r.push(Rule {
                schema: Matcher::All,
                table: Matcher::All,
                positive: true,
            });
            r
        };
        let db_rules = |key: &str, positive: bool| -> Result<Vec<Rule>, String> {
            strings(&f[key])
                .iter()
                .map(|s| {
                    Ok(Rule {
                        schema: legacy_matcher(s)?,
                        table: Matcher::All,
                        positive,
                    })
                })
                .collect()
        };
        let tbl_rules = |key: &str, positive: bool| -> Result<Vec<Rule>, String> {
            let empty = vec![];
            f[key]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .map(|t| {
                    Ok(Rule {
                        schema: legacy_matcher(t["database_name"].as_str().unwrap_or(""))?,
                        table: legacy_matcher(t["table_name"].as_str().unwrap_or(""))?,
                        positive,
                    })
                })
                .collect()
        };
        Ok(TableFilter {
            rules: list(db_rules("do_dbs", true)?, db_rules("ignore_dbs", false)?),
            legacy_tables: Some(list(
                tbl_rules("do_tables", true)?,
                tbl_rules("ignore_tables", false)?,
            )),
            lower: false,
        })
    }

    /// tidb table_filter.go `CaseInsensitive`.
    pub fn case_insensitive(mut self) -> TableFilter {
        self.rules = lowered_rules(&self.rules);
        self.legacy_tables = self.legacy_tables.as_deref().map(lowered_rules);
        self.lower = true;
        self
    }

    fn first_match(rules: &[Rule], schema: &str, table: &str) -> bool {
        rules
            .iter()
            .find(|r| r.schema.matches(schema) && r.table.matches(table))
            .is_some_and(|r| r.positive)
    }

    fn first_schema_match(rules: &[Rule], schema: &str) -> bool {
        rules
            .iter()
            .find(|r| r.schema.matches(schema) && (r.positive || matches!(r.table, Matcher::All)))
            .is_some_and(|r| r.positive)
    }

    /// tidb table_filter.go `(tableFilter).MatchTable`.
    pub fn match_table(&self, schema: &str, table: &str) -> bool {
        let (s, t) = self.fold(schema, table);
        Self::first_match(&self.rules, &s, &t)
            && self
                .legacy_tables
                .as_ref()
                .is_none_or(|l| Self::first_match(l, &s, &t))
    }

    /// tidb table_filter.go `(tableFilter).MatchSchema`.
    pub fn match_schema(&self, schema: &str) -> bool {
        let (s, _) = self.fold(schema, "");
        Self::first_schema_match(&self.rules, &s)
            && self
                .legacy_tables
                .as_ref()
                .is_none_or(|l| Self::first_schema_match(l, &s))
    }

    fn fold(&self, schema: &str, table: &str) -> (String, String) {
        if self.lower {
            (schema.to_lowercase(), table.to_lowercase())
        } else {
            (schema.to_string(), table.to_string())
        }
    }
}

/// The system schemas a version never replicates, whatever the rules say. tidb
/// pkg/util/filter/schema.go `IsSystemSchema` (upper-cases first: case-insensitive) for all;
/// tiflow pkg/filter/utils.go `isSysSchema` adds `tidb_cdc` from v8.1.0 and
/// `lightning_task_info` in v8.5.0, both compared as written (a `switch` on the name before
/// TiDB's check), so `TIDB_CDC` is replicated by classic; ticdc v8.5.7-release.1
/// pkg/filter/utils.go `IsSysSchema` lower-cases first and adds both and `workload_schema`.
pub fn is_sys_schema(db: &str, profile: &SimProfile) -> bool {
    let raw = db;
    let db = db.to_ascii_lowercase();
    let tidb = [
        "dm_heartbeat",
        "sys",
        "mysql",
        "information_schema",
        "inspection_schema",
        "performance_schema",
        "metrics_schema",
    ];
    if tidb.contains(&db.as_str()) {
        return true;
    }
    match profile {
        SimProfile::Classic { version } => {
            (raw == "tidb_cdc" && *version >= Version::new(8, 1, 0))
                || (raw == "lightning_task_info" && *version >= Version::new(8, 5, 0))
        }
        SimProfile::Newarch => {
            matches!(
                db.as_str(),
                "tidb_cdc" | "lightning_task_info" | "workload_schema"
            )
        }
    }
}

/// The changefeed's table filter from an API replica config. tiflow v7.5.0 pkg/filter/utils.go
/// `VerifyTableRules`: legacy rules apply only when `rules` is empty and one of them is given;
/// v8.1.0 removed them (the keys are then ignored). Empty rules mean `*.*`. Then
/// `NewFilter` (tiflow pkg/filter/filter.go; ticdc pkg/filter/filter.go) wraps it
/// case-insensitively unless `case_sensitive`.
pub fn from_config(cfg: &Value, profile: &SimProfile) -> Result<TableFilter, String> {
    let f = &cfg["filter"];
    let rules = strings(&f["rules"]);
    let legacy_keys = ["do_dbs", "ignore_dbs", "do_tables", "ignore_tables"];
    let has_legacy = legacy_keys.iter().any(|k| !f[*k].is_null());
    let legacy_version =
        matches!(profile, SimProfile::Classic { version } if *version < Version::new(8, 1, 0));
    let filter = if rules.is_empty() && has_legacy && legacy_version {
        TableFilter::parse_legacy(f)?
    } else if rules.is_empty() {
        TableFilter::parse(&["*.*".to_string()])?
    } else {
        TableFilter::parse(&rules)?
    };
    let case_sensitive = cfg["case_sensitive"].as_bool().unwrap_or(false);
    Ok(if case_sensitive {
        filter
    } else {
        filter.case_insensitive()
    })
}

/// `verify_table`'s three lists for a config.
#[derive(Debug, Default)]
pub struct Verified<'a> {
    pub eligible: Vec<&'a Table>,
    pub ineligible: Vec<&'a Table>,
    /// ticdc only: every table of a schema the filter does not ignore.
    pub all: Vec<&'a Table>,
}

/// tiflow v8.5.0 cdc/entry/validator.go `VerifyTables` (ticdc v8.5.7-release.1
/// logservice/schemastore/validator.go `VerifyTables`): tables of system schemas and tables the
/// filter rejects are left out, sequences too; the rest split by `IsEligible(false)` (so
/// `force_replicate` does not move a table to `eligible_tables`).
pub fn verify<'a>(catalog: &'a Catalog, f: &TableFilter, profile: &SimProfile) -> Verified<'a> {
    let mut v = Verified::default();
    for t in &catalog.tables {
        if is_sys_schema(&t.db, profile) {
            continue;
        }
        if f.match_schema(&t.db) {
            v.all.push(t);
        }
        if !f.match_table(&t.db, &t.name) || t.spec.sequence {
            continue;
        }
        if t.is_eligible(false) {
            v.eligible.push(t);
        } else {
            v.ineligible.push(t);
        }
    }
    v
}

/// The API form of a table (`TableName` in tiflow cdc/api/v2/model.go).
pub fn table_json(t: &Table) -> Value {
    json!({
        "database_name": t.db,
        "table_name": t.name,
        "table_id": t.id,
        "is_partition": !t.partition_ids.is_empty(),
    })
}

/// The physical table ids a running changefeed replicates: eligible tables, plus the ineligible
/// ones under `force_replicate` (ignored ones are skipped, as with `ignore_ineligible_table`).
pub fn replicated_ids(catalog: &Catalog, cfg: &Value, profile: &SimProfile) -> Vec<i64> {
    let Ok(f) = from_config(cfg, profile) else {
        return vec![];
    };
    let force = cfg["force_replicate"].as_bool().unwrap_or(false);
    let v = verify(catalog, &f, profile);
    let mut ids: Vec<i64> = v
        .eligible
        .iter()
        .chain(v.ineligible.iter().filter(|_| force))
        .flat_map(|t| t.physical_ids())
        .collect();
    ids.sort_unstable();
    ids
}

/// The filter of a config, or tiflow's `ErrFilterRuleInvalid` (400) (pkg/filter/utils.go
/// `VerifyTableRules`: `filter rule is invalid %v` over the FilterConfig, then the cause).
pub fn filter_or_err(cfg: &Value, profile: &SimProfile) -> Result<TableFilter, ApiErr> {
    from_config(cfg, profile).map_err(|e| {
        let rules = strings(&cfg["filter"]["rules"]).join(" ");
        ApiErr::new(
            "CDC:ErrFilterRuleInvalid",
            format!("filter rule is invalid &{{[{rules}] [] []}}: at <cmdline>:1: {e}"),
        )
    })
}

/// The create refusal for tables without a usable key (tiflow v8.5.0 cdc/api/v2/api_helpers.go
/// `verifyCreateChangefeedConfig`; ticdc v8.5.7-release.1 api/v2/changefeed.go
/// `CreateChangefeed` and, on update, `UpdateChangefeed`): unless `force_replicate` or
/// `ignore_ineligible_table`, any ineligible table → `CDC:ErrTableIneligible` listing them as Go
/// prints a `[]TableName` (`[db.t db.u]`).
pub fn check_eligible(catalog: &Catalog, cfg: &Value, profile: &SimProfile) -> Result<(), ApiErr> {
    let f = filter_or_err(cfg, profile)?;
    let on = |k: &str| cfg[k].as_bool().unwrap_or(false);
    if on("force_replicate") || on("ignore_ineligible_table") {
        return Ok(());
    }
    let v = verify(catalog, &f, profile);
    if v.ineligible.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = v
        .ineligible
        .iter()
        .map(|t| format!("{}.{}", t.db, t.name))
        .collect();
    Err(ApiErr::new(
        "CDC:ErrTableIneligible",
        format!(
            "some tables are not eligible to replicate([{}]), if you want to ignore these tables, please set ignore_ineligible_table to true",
            names.join(" ")
        ),
    ))
}

/// The `verify_table` answer: `ineligible_tables`, `eligible_tables` (left out when empty:
/// `omitempty` in tiflow cdc/api/v2/model.go `Tables`), and ticdc's `all_tables`.
pub fn verify_response(catalog: &Catalog, f: &TableFilter, profile: &SimProfile) -> Value {
    let v = verify(catalog, f, profile);
    let list = |ts: &[&Table]| Value::Array(ts.iter().map(|t| table_json(t)).collect());
    let mut out = serde_json::Map::new();
    if !v.ineligible.is_empty() {
        out.insert("ineligible_tables".into(), list(&v.ineligible));
    }
    if !v.eligible.is_empty() {
        out.insert("eligible_tables".into(), list(&v.eligible));
    }
    if !profile.is_classic() && !v.all.is_empty() {
        out.insert("all_tables".into(), list(&v.all));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classic(v: (u32, u32, u32)) -> SimProfile {
        SimProfile::Classic {
            version: Version::new(v.0, v.1, v.2),
        }
    }

    fn f(rules: &[&str]) -> TableFilter {
        TableFilter::parse(&rules.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    // tidb pkg/util/table-filter/table_filter_test.go: wildcards, classes, last rule wins.
    #[test]
    fn wildcards_classes_and_last_match_wins() {
        let x = f(&["shop.*", "!shop.tmp_*", "shop.tmp_keep"]);
        assert!(x.match_table("shop", "orders"));
        assert!(!x.match_table("shop", "tmp_orders"));
        assert!(x.match_table("shop", "tmp_keep"), "a later rule overrides");
        assert!(!x.match_table("billing", "x"), "no rule matches: excluded");
        let y = f(&["db?.t[0-2]", "db1.t[!1]x"]);
        assert!(y.match_table("db1", "t0") && y.match_table("db2", "t2"));
        assert!(!y.match_table("db10", "t0") && !y.match_table("db1", "t3"));
        assert!(y.match_table("db1", "t2x") && !y.match_table("db1", "t1x"));
        assert!(f(&["*.*", "!*.*"]).rules.len() == 2 && !f(&["*.*", "!*.*"]).match_table("a", "b"));
    }

    #[test]
    fn quoted_names_regexps_and_errors() {
        let x = f(&["`my.db`.\"a\"\"b\"", "/^log_\\d+$/.*"]);
        assert!(x.match_table("my.db", "a\"b"));
        assert!(x.match_table("log_12", "t") && !x.match_table("log_x", "t"));
        for bad in ["shop", "shop.", "shop.a b", "sh\\op.t", "[.t", "\"x.t"] {
            assert!(TableFilter::parse(&[bad.to_string()]).is_err(), "{bad}");
        }
        assert!(f(&["# a comment", "", "a.b"]).match_table("a", "b"));
    }

    #[test]
    fn case_sensitivity() {
        let x = f(&["Shop.Orders", "app.Ev*"]);
        assert!(!x.match_table("shop", "orders"));
        let x = x.case_insensitive();
        assert!(x.match_table("shop", "orders") && x.match_table("SHOP", "ORDERS"));
        assert!(x.match_table("APP", "events"));
    }

    // tiflow v7.5.0 pkg/filter/utils.go VerifyTableRules + tidb compat.go.
    #[test]
    fn legacy_rules_only_on_v7_5_and_only_without_rules() {
        let cfg = json!({"case_sensitive": false, "filter": {"rules": [], "do_dbs": ["shop"],
            "ignore_tables": [{"database_name": "shop", "table_name": "tmp_*"}]}});
        let v75 = from_config(&cfg, &classic((7, 5, 0))).unwrap();
        assert!(v75.match_table("shop", "orders") && !v75.match_table("shop", "tmp_orders"));
        assert!(!v75.match_table("billing", "invoices"));
        let v81 = from_config(&cfg, &classic((8, 1, 0))).unwrap();
        assert!(
            v81.match_table("billing", "invoices"),
            "v8.1 ignores the legacy keys"
        );
        let mut with_rules = cfg.clone();
        with_rules["filter"]["rules"] = json!(["billing.*"]);
        let r = from_config(&with_rules, &classic((7, 5, 0))).unwrap();
        assert!(r.match_table("billing", "invoices") && !r.match_table("shop", "orders"));
    }

    // tiflow v8.5.0 pkg/filter/utils.go isSysSchema; ticdc pkg/filter/utils.go IsSysSchema.
    #[test]
    fn system_schemas_per_version() {
        let p85 = classic((8, 5, 0));
        for s in [
            "mysql",
            "INFORMATION_SCHEMA",
            "sys",
            "metrics_schema",
            "tidb_cdc",
            "lightning_task_info",
        ] {
            assert!(is_sys_schema(s, &p85), "{s}");
        }
        assert!(!is_sys_schema("lightning_task_info", &classic((8, 1, 0))));
        assert!(!is_sys_schema("tidb_cdc", &classic((7, 5, 0))));
        assert!(is_sys_schema("workload_schema", &SimProfile::Newarch));
        assert!(!is_sys_schema("workload_schema", &p85));
        assert!(!is_sys_schema("shop", &p85));
    }

    /// tiflow v8.5.0 pkg/filter/utils.go `isSysSchema` matches `tidb_cdc` and
    /// `lightning_task_info` case-sensitively (TiDB's own schemas case-insensitively);
    /// pingcap/ticdc v8.5.7-release.1 pkg/filter/utils.go `IsSysSchema` lower-cases first.
    #[test]
    fn classic_matches_ticdc_schemas_case_sensitively() {
        let p85 = classic((8, 5, 0));
        for s in ["TIDB_CDC", "Tidb_Cdc", "LIGHTNING_TASK_INFO"] {
            assert!(!is_sys_schema(s, &p85), "classic {s}");
            assert!(is_sys_schema(s, &SimProfile::Newarch), "newarch {s}");
        }
        assert!(!is_sys_schema("TIDB_CDC", &classic((8, 1, 0))));
        assert!(is_sys_schema("MySQL", &p85));
        assert!(is_sys_schema("WORKLOAD_SCHEMA", &SimProfile::Newarch));
    }

    #[test]
    fn verify_splits_and_force_replicate_adds_ids() {
        let c = Catalog::builtin();
        let p = classic((8, 5, 0));
        let fl = from_config(
            &json!({"filter": {"rules": ["staging.*", "shop.sales"]}}),
            &p,
        )
        .unwrap();
        let v = verify(&c, &fl, &p);
        let names = |ts: &[&Table]| ts.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&v.eligible), ["sales"]);
        assert_eq!(names(&v.ineligible), ["import_raw", "import_dedup"]);
        let cfg = json!({"filter": {"rules": ["staging.*", "shop.sales"]}});
        assert_eq!(replicated_ids(&c, &cfg, &p).len(), 4, "four partitions");
        let mut forced = cfg.clone();
        forced["force_replicate"] = json!(true);
        assert_eq!(replicated_ids(&c, &forced, &p).len(), 6);
    }
}
