//! Sink-URI query parameters TiCDC binds to Go types before it uses them: a value that does not
//! parse as the field's Go type refuses the changefeed. One table per parameter set, in the order
//! of the Go struct (the binder stops at the first bad field), with the versions that have each
//! parameter (a parameter a version lacks is an unknown query key there, and ignored).
//!
//! Two binders exist upstream:
//! - gin `binding.Query` (gin v1.9.1 / v1.10.0 binding/form_mapping.go `setByForm`,
//!   `setIntField`, `setBoolField`): every parameter of the struct at once, an empty value is
//!   the zero value, ints via `strconv.ParseInt(v, 10, bits)`, bools via `strconv.ParseBool`.
//!   Used by tiflow and pingcap/ticdc `pkg/sink/kafka/options.go` `(*Options).Apply`,
//!   `pkg/sink/codec/common/config.go` `(*Config).Apply`, and tiflow `pkg/sink/mysql/config.go`
//!   `(*Config).Apply`.
//! - pingcap/ticdc v8.5.7-release.1 `pkg/sink/mysql/config.go` `(*Config).Apply`: one parameter
//!   at a time with `url.Values.Get` (an empty value is skipped), `strconv.Atoi` and
//!   `strconv.ParseBool`, each checked as soon as it is read.
//!
//! Kept apart from cdcform's validator (crates/core/src/manifest/sink_rules.rs), which has its
//! own table: each catches the other's mistakes.

use crate::ticdc::mask::GoUrl;
use crate::ticdc::Version;

use super::SimProfile;

/// The Go type a parameter is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoType {
    Bool,
    /// A signed int of this many bits (`int` is 64 on the servers TiCDC ships for).
    Int(u32),
    /// A string that must parse with `time.ParseDuration` (pingcap/ticdc MySQL sink only; the
    /// gin binders see these as plain strings and check them later).
    Duration,
}

/// One query parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub ty: GoType,
    /// The first classic (tiflow) version with the parameter; None: no classic version has it.
    pub classic_since: Option<Version>,
    /// Whether pingcap/ticdc v8.5.7 has it.
    pub newarch: bool,
}

const V0: Option<Version> = Some(Version::new(0, 0, 0));
const V81: Option<Version> = Some(Version::new(8, 1, 0));
const V85: Option<Version> = Some(Version::new(8, 5, 0));

const fn p(name: &'static str, ty: GoType, classic_since: Option<Version>, newarch: bool) -> Param {
    Param {
        name,
        ty,
        classic_since,
        newarch,
    }
}

/// tiflow v7.5.0/v8.1.0/v8.5.0 and pingcap/ticdc v8.5.7-release.1 pkg/sink/kafka/options.go
/// `urlConfig` (the same typed fields in every version; the string fields are left out).
pub const KAFKA: &[Param] = &[
    p("partition-num", GoType::Int(32), V0, true),
    p("replication-factor", GoType::Int(16), V0, true),
    p("max-message-bytes", GoType::Int(64), V0, true),
    p("auto-create-topic", GoType::Bool, V0, true),
    p("required-acks", GoType::Int(64), V0, true),
    p("sasl-gssapi-disable-pafxfast", GoType::Bool, V0, true),
    p("enable-tls", GoType::Bool, V0, true),
    p("insecure-skip-verify", GoType::Bool, V0, true),
];

/// pkg/sink/codec/common/config.go `urlConfig`: tiflow v8.1.0 adds `content-compatible` and
/// `debezium-disable-schema` (absent in v7.5.0); pingcap/ticdc v8.5.7-release.1 adds
/// `output-row-key`.
pub const CODEC: &[Param] = &[
    p("enable-tidb-extension", GoType::Bool, V0, true),
    p("max-batch-size", GoType::Int(64), V0, true),
    p("max-message-bytes", GoType::Int(64), V0, true),
    p("avro-enable-watermark", GoType::Bool, V0, true),
    p("only-output-updated-columns", GoType::Bool, V0, true),
    p("content-compatible", GoType::Bool, V81, true),
    p("debezium-disable-schema", GoType::Bool, V81, true),
    p("output-row-key", GoType::Bool, None, true),
];

/// tiflow pkg/sink/mysql/config.go `urlConfig` (`has-vector-type` from v8.5.0; absent in
/// v7.5.0 and v8.1.0).
pub const MYSQL_CLASSIC: &[Param] = &[
    p("worker-count", GoType::Int(64), V0, false),
    p("max-txn-row", GoType::Int(64), V0, false),
    p("max-multi-update-row-size", GoType::Int(64), V0, false),
    p("max-multi-update-row", GoType::Int(64), V0, false),
    p("safe-mode", GoType::Bool, V0, false),
    p("batch-dml-enable", GoType::Bool, V0, false),
    p("multi-stmt-enable", GoType::Bool, V0, false),
    p("cache-prep-stmts", GoType::Bool, V0, false),
    p("has-vector-type", GoType::Bool, V85, false),
];

/// pingcap/ticdc v8.5.7-release.1 pkg/sink/mysql/config.go `(*Config).Apply`, in the order it
/// reads them (`getWorkerCount` … `getEnableDDLTs`).
pub const MYSQL_NEWARCH: &[Param] = &[
    p("worker-count", GoType::Int(64), None, true),
    p("max-txn-row", GoType::Int(64), None, true),
    p("max-multi-update-row", GoType::Int(64), None, true),
    p("max-multi-update-row-size", GoType::Int(64), None, true),
    p("safe-mode", GoType::Bool, None, true),
    p("read-timeout", GoType::Duration, None, true),
    p("write-timeout", GoType::Duration, None, true),
    p("timeout", GoType::Duration, None, true),
    p("batch-dml-enable", GoType::Bool, None, true),
    p("multi-stmt-enable", GoType::Bool, None, true),
    p("has-vector-type", GoType::Bool, None, true),
    p("cache-prep-stmts", GoType::Bool, None, true),
    p("enable-ddl-ts", GoType::Bool, None, true),
];

/// pingcap/ticdc v8.5.7 pkg/sink/cloudstorage/config.go `urlConfig`: the parameters no tiflow
/// release has (tiflow's storage `urlConfig` stops at `file-size`). gin binds the whole struct
/// first; `worker-count`, `flush-interval` and `file-size` (before them) are not modelled here.
pub const STORAGE_NEWARCH: &[Param] = &[
    p("use-table-id-as-path", GoType::Bool, None, true),
    p("spool-disk-quota", GoType::Int(64), None, true),
];

/// The lower bounds of the MySQL sink's int parameters (`getWorkerCount`, `getMaxTxnRow`,
/// `getMaxMultiUpdateRowCount`, `getMaxMultiUpdateRowSize`, same in both repositories), in the
/// order tiflow checks them: (name, minimum, what the message says).
pub const MYSQL_MINIMUMS: &[(&str, i64, &str)] = &[
    ("worker-count", 1, "which must be greater than 0"),
    ("max-txn-row", 1, "which must be greater than 0"),
    ("max-multi-update-row", 1, "which must be greater than 0"),
    (
        "max-multi-update-row-size",
        0,
        "which must be greater than or equal to 0",
    ),
];

impl Param {
    pub fn known_by(&self, profile: &SimProfile) -> bool {
        match profile {
            SimProfile::Classic { version } => self.classic_since.is_some_and(|v| *version >= v),
            SimProfile::Newarch => self.newarch,
        }
    }
}

/// A bound value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Bool(bool),
    Int(i64),
}

/// Go's `strconv.ParseBool`.
pub fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseInt(v, 10, bits)`; the error is Go's text with `func` as the function.
pub fn go_int(v: &str, bits: u32, func: &str) -> Result<i64, String> {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.{func}: parsing \"{v}\": invalid syntax"));
    }
    let range = || format!("strconv.{func}: parsing \"{v}\": value out of range");
    let n: i64 = v.parse().map_err(|_| range())?;
    let (min, max) = if bits >= 64 {
        (i64::MIN, i64::MAX)
    } else {
        (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
    };
    if n < min || n > max {
        return Err(range());
    }
    Ok(n)
}

fn first(u: &GoUrl, key: &str) -> Option<String> {
    u.query_pairs()
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// gin `binding.Query` over `table`: the parameters `profile` knows, in order; an empty value
/// binds the zero value. The error is the `strconv` error text.
pub fn bind_gin(
    u: &GoUrl,
    table: &[Param],
    profile: &SimProfile,
) -> Result<Vec<(&'static str, Bound)>, String> {
    let mut out = Vec::new();
    for prm in table.iter().filter(|p| p.known_by(profile)) {
        let Some(v) = first(u, prm.name) else {
            continue;
        };
        let b = match prm.ty {
            GoType::Bool if v.is_empty() => Bound::Bool(false),
            GoType::Bool => Bound::Bool(
                go_bool(&v)
                    .ok_or_else(|| format!("strconv.ParseBool: parsing \"{v}\": invalid syntax"))?,
            ),
            GoType::Int(_) if v.is_empty() => Bound::Int(0),
            GoType::Int(bits) => Bound::Int(go_int(&v, bits, "ParseInt")?),
            GoType::Duration => continue,
        };
        out.push((prm.name, b));
    }
    Ok(out)
}

/// The bound int of `name`, if the URI gave one.
pub fn int_of(bound: &[(&str, Bound)], name: &str) -> Option<i64> {
    bound.iter().find_map(|(k, b)| match b {
        Bound::Int(n) if *k == name => Some(*n),
        _ => None,
    })
}

/// The MySQL sink's URI parameters (`(*Config).Apply`, before the DSN is built and the
/// downstream contacted): the text of the `ErrMySQLInvalidConfig` cause on failure.
pub fn mysql(u: &GoUrl, profile: &SimProfile) -> Result<(), String> {
    if profile.is_classic() {
        let bound = bind_gin(u, MYSQL_CLASSIC, profile)?;
        for (name, min, rule) in MYSQL_MINIMUMS {
            if let Some(n) = int_of(&bound, name).filter(|n| n < min) {
                return Err(format!("invalid {name} {n}, {rule}"));
            }
        }
        // `getDuration` on the strings gin bound as they are (empty included).
        for name in ["read-timeout", "write-timeout", "timeout"] {
            if let Some(v) = first(u, name) {
                go_duration(&v)?;
            }
        }
        return Ok(());
    }
    for prm in MYSQL_NEWARCH {
        let Some(v) = first(u, prm.name).filter(|v| !v.is_empty()) else {
            continue;
        };
        match prm.ty {
            GoType::Bool => {
                go_bool(&v)
                    .ok_or_else(|| format!("strconv.ParseBool: parsing \"{v}\": invalid syntax"))?;
            }
            GoType::Int(bits) => {
                let n = go_int(&v, bits, "Atoi")?;
                if let Some((_, min, rule)) =
                    MYSQL_MINIMUMS.iter().find(|(name, ..)| *name == prm.name)
                {
                    if n < *min {
                        return Err(format!("invalid {} {n}, {rule}", prm.name));
                    }
                }
            }
            GoType::Duration => go_duration(&v)?,
        }
    }
    Ok(())
}

/// `time.ParseDuration`, for the refusal only ("0" and unit-suffixed numbers parse).
fn go_duration(v: &str) -> Result<(), String> {
    let ok = v == "0"
        || v.strip_prefix(['+', '-'])
            .map_or_else(|| humantime::parse_duration(v), humantime::parse_duration)
            .is_ok();
    if ok {
        Ok(())
    } else {
        Err(format!("time: invalid duration \"{v}\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classic(v: (u32, u32, u32)) -> SimProfile {
        SimProfile::Classic {
            version: Version::new(v.0, v.1, v.2),
        }
    }

    fn url(q: &str) -> GoUrl {
        GoUrl::parse(&format!("kafka://127.0.0.1:9092/t?{q}")).unwrap()
    }

    /// Go `strconv.ParseBool` and `strconv.ParseInt` (bit sizes from the `urlConfig` fields).
    #[test]
    fn go_parsers() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(go_bool(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(go_bool(f), Some(false), "{f}");
        }
        for bad in ["yes", "maybe", "tRUE", "x", ""] {
            assert_eq!(go_bool(bad), None, "{bad}");
        }
        assert_eq!(go_int("+7", 32, "ParseInt"), Ok(7));
        assert_eq!(go_int("-1", 16, "ParseInt"), Ok(-1));
        assert!(go_int("1_000", 64, "ParseInt")
            .unwrap_err()
            .ends_with("invalid syntax"));
        assert!(go_int("40000", 16, "ParseInt")
            .unwrap_err()
            .ends_with("value out of range"));
        assert_eq!(
            go_int("a", 64, "Atoi").unwrap_err(),
            "strconv.Atoi: parsing \"a\": invalid syntax"
        );
    }

    /// tiflow v8.5.0 pkg/sink/kafka/options_test.go `TestCompleteOptions` and gin's
    /// `setBoolField`: a bad bool is refused, an empty value binds false.
    #[test]
    fn gin_binds_the_kafka_table() {
        let p = classic((8, 5, 0));
        for q in [
            "auto-create-topic=x",
            "enable-tls=maybe",
            "insecure-skip-verify=x",
            "sasl-gssapi-disable-pafxfast=x",
            "max-message-bytes=a",
            "replication-factor=70000",
        ] {
            assert!(bind_gin(&url(q), KAFKA, &p).is_err(), "{q}");
        }
        let b = bind_gin(&url("enable-tls=&partition-num="), KAFKA, &p).unwrap();
        assert_eq!(int_of(&b, "partition-num"), Some(0));
        assert!(b.contains(&("enable-tls", Bound::Bool(false))));
    }

    /// tiflow v7.5.0 pkg/sink/codec/common/config.go `urlConfig` has no `content-compatible`
    /// (an unknown query key is ignored); v8.1.0 binds it as a bool.
    #[test]
    fn codec_parameters_by_version() {
        let u = url("content-compatible=x");
        assert!(bind_gin(&u, CODEC, &classic((7, 5, 0))).is_ok());
        assert!(bind_gin(&u, CODEC, &classic((8, 1, 0))).is_err());
        let u = url("output-row-key=x");
        assert!(bind_gin(&u, CODEC, &classic((8, 5, 0))).is_ok());
        assert!(bind_gin(&u, CODEC, &SimProfile::Newarch).is_err());
    }

    /// tiflow v8.5.0 pkg/sink/mysql/config_test.go `TestApplySinkURIParamsToConfig` /
    /// `TestParseSinkURIBadQueryString`, pingcap/ticdc v8.5.7-release.1 pkg/sink/mysql/
    /// config_test.go `TestParseSinkURIBadQueryString`.
    #[test]
    fn mysql_parameters() {
        let m = |q: &str| GoUrl::parse(&format!("mysql://root@127.0.0.1:3306/?{q}")).unwrap();
        for p in [classic((7, 5, 0)), classic((8, 5, 0)), SimProfile::Newarch] {
            for q in [
                "worker-count=0",
                "worker-count=-1",
                "worker-count=x",
                "max-txn-row=x",
                "max-txn-row=0",
                "max-multi-update-row=0",
                "max-multi-update-row-size=-1",
                "safe-mode=x",
                "multi-stmt-enable=x",
                "cache-prep-stmts=x",
                "batch-dml-enable=x",
                "read-timeout=abc",
            ] {
                assert!(mysql(&m(q), &p).is_err(), "{q} {}", p.label());
            }
            for q in [
                "worker-count=16",
                "safe-mode=true",
                "max-multi-update-row-size=0",
                "read-timeout=2m",
            ] {
                assert!(mysql(&m(q), &p).is_ok(), "{q} {}", p.label());
            }
        }
        // gin binds an empty int as 0; pingcap/ticdc skips an empty value.
        assert!(mysql(&m("worker-count="), &classic((8, 5, 0))).is_err());
        assert!(mysql(&m("worker-count="), &SimProfile::Newarch).is_ok());
        // has-vector-type: tiflow v8.5.0 and pingcap/ticdc only.
        assert!(mysql(&m("has-vector-type=x"), &classic((8, 1, 0))).is_ok());
        assert!(mysql(&m("has-vector-type=x"), &classic((8, 5, 0))).is_err());
        // enable-ddl-ts: pingcap/ticdc only.
        assert!(mysql(&m("enable-ddl-ts=x"), &classic((8, 5, 0))).is_ok());
        assert!(mysql(&m("enable-ddl-ts=x"), &SimProfile::Newarch).is_err());
    }
}
