//! Go `encoding/json` wording for request bodies that do not fit the API structs, as gin's
//! `BindJSON` reports them and TiCDC wraps them (`[CDC:ErrAPIInvalidParam]invalid api
//! parameter: json: cannot unmarshal string into Go struct field ChangefeedConfig.start_ts of
//! type uint64`). Struct and field types follow tiflow v8.5.7 `cdc/api/v2/model.go`. Also the
//! compact writer that escapes response bodies as Go does.

use serde_json::Value;

use super::config::ApiErr;

/// Compact JSON written as Go's `encoding/json` writes it: `<`, `>` and `&` escaped as they are
/// written, so a large list is not scanned a second time.
pub struct GoCompact;

impl serde_json::ser::Formatter for GoCompact {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut rest = fragment.as_bytes();
        while let Some(i) = memchr::memchr3(b'<', b'>', b'&', rest) {
            w.write_all(&rest[..i])?;
            w.write_all(format!("\\u{:04x}", rest[i]).as_bytes())?;
            rest = &rest[i + 1..];
        }
        w.write_all(rest)
    }
}

pub fn go_compact(v: &impl serde::Serialize) -> Vec<u8> {
    let mut buf = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, GoCompact);
    v.serialize(&mut ser).expect("json");
    buf
}

/// The Go struct that holds the fields of the object at `path` (JSON field names).
fn struct_name(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "" => "ChangefeedConfig",
        "replica_config" => "ReplicaConfig",
        "filter" => "FilterConfig",
        "mounter" => "MounterConfig",
        "sink" => "SinkConfig",
        "csv" => "CSVConfig",
        "consistent" => "ConsistentConfig",
        "memory_usage" => "ConsistentMemoryUsage",
        "scheduler" => "ChangefeedSchedulerConfig",
        "integrity" => "IntegrityConfig",
        "synced_status" => "SyncedStatusConfig",
        "debezium" => "DebeziumConfig",
        "open" => "OpenProtocolConfig",
        _ => "ReplicaConfig",
    }
}

/// The Go type of a field, from its key and the default value's JSON type.
pub fn type_name(key: &str, default: &Value, signed: bool) -> String {
    match default {
        Value::Bool(_) => "bool".into(),
        Value::String(_) => "string".into(),
        Value::Array(_) => "[]string".into(),
        Value::Object(_) => format!("v2.{}", struct_name(key)),
        Value::Number(n) if n.is_f64() => "float64".into(),
        Value::Number(_) => match key {
            "memory_quota" | "memory_quota_percentage" | "start_ts" | "target_ts" => {
                "uint64".into()
            }
            "advance_timeout" => "uint".into(),
            "max_log_size"
            | "flush_interval"
            | "meta_flush_interval"
            | "synced_check_interval"
            | "checkpoint_interval"
            | "send_bootstrap_interval_in_sec" => "int64".into(),
            "send_bootstrap_in_msg_count" => "int32".into(),
            _ if signed => "int".into(),
            _ => "uint64".into(),
        },
        Value::Null => "interface {}".into(),
    }
}

/// `UnmarshalTypeError.Value`: the JSON kind, with the literal for numbers that do not fit.
fn value_kind(v: &Value, target_is_number: bool) -> String {
    match v {
        Value::String(_) => "string".into(),
        Value::Number(n) if target_is_number => format!("number {n}"),
        Value::Number(_) => "number".into(),
        Value::Bool(_) => "bool".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
        Value::Null => "null".into(),
    }
}

/// `[CDC:ErrAPIInvalidParam]invalid api parameter: json: cannot unmarshal … into Go struct
/// field Struct.path.key of type T`. `parent` is the JSON path of the enclosing object ("" for
/// the request body).
pub fn unmarshal_error(v: &Value, parent: &str, key: &str, go_type: &str) -> ApiErr {
    let numeric =
        go_type.starts_with("int") || go_type.starts_with("uint") || go_type.starts_with("float");
    let field = if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    };
    ApiErr::invalid_param(format!(
        "invalid api parameter: json: cannot unmarshal {} into Go struct field {}.{field} of type {go_type}",
        value_kind(v, numeric),
        struct_name(parent)
    ))
}

/// The top-level fields of `ChangefeedConfig` (create/update bodies).
pub fn check_changefeed_config(raw: &Value) -> Result<(), ApiErr> {
    let Some(o) = raw.as_object() else {
        return Err(ApiErr::invalid_param(format!(
            "invalid api parameter: json: cannot unmarshal {} into Go value of type v2.ChangefeedConfig",
            value_kind(raw, false)
        )));
    };
    for (k, v) in o {
        let ty = match k.as_str() {
            "start_ts" | "target_ts" => "uint64",
            "changefeed_id" | "sink_uri" | "namespace" | "keyspace" | "ca_path" | "cert_path"
            | "key_path" => "string",
            "pd_addrs" | "cert_allowed_cn" => "[]string",
            "replica_config" => "v2.ReplicaConfig",
            _ => continue,
        };
        let ok = match ty {
            "uint64" => v.is_u64(),
            "string" => v.is_string(),
            "[]string" => v
                .as_array()
                .is_some_and(|a| a.iter().all(|x| x.is_string())),
            _ => v.is_object(),
        };
        if !ok && !v.is_null() {
            return Err(unmarshal_error(v, "", k, ty));
        }
    }
    Ok(())
}

/// How a handler decodes its body: gin's `BindJSON` (gin binding/json.go `decodeJSON`: one
/// `json.Decoder.Decode`, which reads the first value and leaves whatever follows unread) or
/// `json.Unmarshal` (the whole body must be one value; pingcap/ticdc v8.5.7 api/v2/changefeed.go
/// `ResumeChangefeed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decode {
    BindJson,
    Unmarshal,
}

/// Go `encoding/json` syntax errors, worded as Go words them (encoding/json scanner.go).
#[derive(Debug, PartialEq, Eq)]
enum Syntax {
    /// The input ended inside a value.
    Truncated,
    /// `invalid character 'x' <context>`.
    Char(u8, &'static str),
}

/// Go's `quoteChar` (encoding/json scanner.go).
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => r"'\''".into(),
        b'"' => "'\"'".into(),
        _ => {
            let ch = char::from(c);
            let q = format!("{:?}", ch.to_string());
            let inner = &q[1..q.len() - 1];
            if ch.is_ascii_control() && !matches!(c, b'\n' | b'\r' | b'\t') {
                format!("'\\x{c:02x}'")
            } else {
                format!("'{inner}'")
            }
        }
    }
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }
    fn next(&mut self) -> Result<u8, Syntax> {
        let c = self.peek().ok_or(Syntax::Truncated)?;
        self.i += 1;
        Ok(c)
    }
    /// One value, after optional white space; `Ok(true)` when it ends with `}`/`]`.
    fn value(&mut self) -> Result<bool, Syntax> {
        self.ws();
        match self.next()? {
            b'{' => {
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(true);
                }
                loop {
                    self.ws();
                    match self.next()? {
                        b'"' => self.string()?,
                        c => {
                            return Err(Syntax::Char(
                                c,
                                "looking for beginning of object key string",
                            ))
                        }
                    }
                    self.ws();
                    match self.next()? {
                        b':' => {}
                        c => return Err(Syntax::Char(c, "after object key")),
                    }
                    self.value()?;
                    self.ws();
                    match self.next()? {
                        b',' => {}
                        b'}' => return Ok(true),
                        c => return Err(Syntax::Char(c, "after object key:value pair")),
                    }
                }
            }
            b'[' => {
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(true);
                }
                loop {
                    self.value()?;
                    self.ws();
                    match self.next()? {
                        b',' => {}
                        b']' => return Ok(true),
                        c => return Err(Syntax::Char(c, "after array element")),
                    }
                }
            }
            b'"' => self.string().map(|_| false),
            b'-' => match self.next()? {
                c @ b'0'..=b'9' => self.number(c).map(|_| false),
                c => Err(Syntax::Char(c, "in numeric literal")),
            },
            c @ b'0'..=b'9' => self.number(c).map(|_| false),
            b't' => self
                .literal(b"rue", "in literal true (expecting ")
                .map(|_| false),
            b'f' => self
                .literal(b"alse", "in literal false (expecting ")
                .map(|_| false),
            b'n' => self
                .literal(b"ull", "in literal null (expecting ")
                .map(|_| false),
            c => Err(Syntax::Char(c, "looking for beginning of value")),
        }
    }
    fn string(&mut self) -> Result<(), Syntax> {
        loop {
            match self.next()? {
                b'"' => return Ok(()),
                b'\\' => match self.next()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        for _ in 0..4 {
                            match self.next()? {
                                c if c.is_ascii_hexdigit() => {}
                                c => {
                                    return Err(Syntax::Char(
                                        c,
                                        "in \\u hexadecimal character escape",
                                    ))
                                }
                            }
                        }
                    }
                    c => return Err(Syntax::Char(c, "in string escape code")),
                },
                c if c < 0x20 => return Err(Syntax::Char(c, "in string literal")),
                _ => {}
            }
        }
    }
    fn number(&mut self, first: u8) -> Result<(), Syntax> {
        let digits = |s: &mut Self| {
            while matches!(s.peek(), Some(b'0'..=b'9')) {
                s.i += 1;
            }
        };
        if first != b'0' {
            digits(self);
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            match self.next()? {
                b'0'..=b'9' => digits(self),
                c => return Err(Syntax::Char(c, "after decimal point in numeric literal")),
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            let mut c = self.next()?;
            if matches!(c, b'+' | b'-') {
                c = self.next()?;
            }
            match c {
                b'0'..=b'9' => digits(self),
                c => return Err(Syntax::Char(c, "in exponent of numeric literal")),
            }
        }
        Ok(())
    }
    fn literal(&mut self, rest: &[u8], context: &'static str) -> Result<(), Syntax> {
        for &want in rest {
            let c = self.next()?;
            if c != want {
                // The expected letter is part of Go's message: "(expecting 'r')".
                return Err(Syntax::Char(c, leak_context(context, want)));
            }
        }
        Ok(())
    }
}

/// `in literal true (expecting 'r')`: a handful of fixed texts, built once each.
fn leak_context(prefix: &'static str, want: u8) -> &'static str {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static TEXTS: OnceLock<Mutex<HashMap<(usize, u8), &'static str>>> = OnceLock::new();
    let mut m = TEXTS.get_or_init(Default::default).lock().unwrap();
    m.entry((prefix.as_ptr() as usize, want))
        .or_insert_with(|| Box::leak(format!("{prefix}'{}')", want as char).into_boxed_str()))
}

/// The request body decoded as the Go handler decodes it; `Err` holds Go's error text (`EOF`,
/// `unexpected EOF`, `unexpected end of JSON input`, `invalid character 'x' …`).
pub fn decode(body: &[u8], how: Decode) -> Result<Value, String> {
    let mut sc = Scan { b: body, i: 0 };
    sc.ws();
    if sc.peek().is_none() {
        // json.Decoder on an empty stream: io.EOF; json.Unmarshal: its own wording.
        return Err(match how {
            Decode::BindJson => "EOF".into(),
            Decode::Unmarshal => "unexpected end of JSON input".into(),
        });
    }
    let closed = match sc.value() {
        Ok(closed) => closed,
        Err(Syntax::Truncated) => {
            return Err(match how {
                Decode::BindJson => "unexpected EOF".into(),
                Decode::Unmarshal => "unexpected end of JSON input".into(),
            })
        }
        Err(Syntax::Char(c, ctx)) => {
            return Err(format!("invalid character {} {ctx}", quote_char(c)))
        }
    };
    let end = sc.i;
    match how {
        // json.Unmarshal checks the whole input.
        Decode::Unmarshal => {
            sc.ws();
            if let Some(c) = sc.peek() {
                return Err(format!(
                    "invalid character {} after top-level value",
                    quote_char(c)
                ));
            }
        }
        // json.Decoder stops at a closing `}`/`]` without reading on; a scalar ends only at
        // the next byte, which must not continue it. What follows is never read.
        Decode::BindJson if !closed => {
            if let Some(&c) = body.get(end).filter(|c| !c.is_ascii_whitespace()) {
                return Err(format!(
                    "invalid character {} after top-level value",
                    quote_char(c)
                ));
            }
        }
        Decode::BindJson => {}
    }
    serde_json::from_slice(&body[..end]).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_wording() {
        let e = check_changefeed_config(&json!({"start_ts": "x"})).unwrap_err();
        assert_eq!(
            e.text(),
            "[CDC:ErrAPIInvalidParam]invalid api parameter: json: cannot unmarshal string into Go struct field ChangefeedConfig.start_ts of type uint64"
        );
        let e = unmarshal_error(&json!(-1), "replica_config", "memory_quota", "uint64");
        assert!(e.msg.ends_with("cannot unmarshal number -1 into Go struct field ReplicaConfig.replica_config.memory_quota of type uint64"), "{}", e.msg);
        let e = unmarshal_error(&json!(true), "replica_config.sink.csv", "quote", "string");
        assert!(e
            .msg
            .contains("Go struct field CSVConfig.replica_config.sink.csv.quote of type string"));
    }

    /// gin binding/json.go `decodeJSON` (one `json.Decoder.Decode`) leaves text after the first
    /// value unread; `json.Unmarshal` (pingcap/ticdc v8.5.7 api/v2/changefeed.go
    /// `ResumeChangefeed`) refuses it. Messages as encoding/json scanner.go words them.
    #[test]
    fn decodes_as_go_does() {
        let bind = |b: &str| decode(b.as_bytes(), Decode::BindJson);
        let whole = |b: &str| decode(b.as_bytes(), Decode::Unmarshal);
        assert_eq!(bind(r#"{"a":1} trailing"#), Ok(json!({"a": 1})));
        assert_eq!(bind("{}{}"), Ok(json!({})));
        assert_eq!(
            whole(r#"{"a":1} trailing"#).unwrap_err(),
            "invalid character 't' after top-level value"
        );
        assert_eq!(whole("{} \n"), Ok(json!({})));
        assert_eq!(bind(""), Err("EOF".into()));
        assert_eq!(bind("  "), Err("EOF".into()));
        assert_eq!(whole(" "), Err("unexpected end of JSON input".into()));
        assert_eq!(bind(r#"{"a":"#), Err("unexpected EOF".into()));
        assert_eq!(
            whole(r#"{"a":"#),
            Err("unexpected end of JSON input".into())
        );
        let cases = [
            ("x", "invalid character 'x' looking for beginning of value"),
            (
                "{x",
                "invalid character 'x' looking for beginning of object key string",
            ),
            (r#"{"a" 1}"#, "invalid character '1' after object key"),
            (
                r#"{"a":1 "b":2}"#,
                "invalid character '\"' after object key:value pair",
            ),
            (
                r#"{"a":1,}"#,
                "invalid character '}' looking for beginning of object key string",
            ),
            ("[1 2]", "invalid character '2' after array element"),
            (
                "{\"a\":tru}",
                "invalid character '}' in literal true (expecting 'e')",
            ),
            (
                "{\"a\":nul}",
                "invalid character '}' in literal null (expecting 'l')",
            ),
            ("{\"a\":-x}", "invalid character 'x' in numeric literal"),
            (
                "{\"a\":1.}",
                "invalid character '}' after decimal point in numeric literal",
            ),
            (
                "{\"a\":\"\\q\"}",
                "invalid character 'q' in string escape code",
            ),
            (
                "{\"a\":\"\t\"}",
                "invalid character '\\t' in string literal",
            ),
            (
                "{'a':1}",
                r"invalid character '\'' looking for beginning of object key string",
            ),
            ("1x", "invalid character 'x' after top-level value"),
        ];
        for (body, want) in cases {
            assert_eq!(bind(body).unwrap_err(), want, "{body}");
        }
        assert_eq!(bind("1 x"), Ok(json!(1)));
    }
}
