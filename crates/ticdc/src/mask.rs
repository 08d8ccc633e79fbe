//! Sink-URI masking exactly as TiCDC does it (tiflow `pkg/util/uri.go`
//! `MaskSinkURI` / `MaskSensitiveDataInURI`, which use Go's `net/url`).
//!
//! The `url` crate follows the WHATWG URL standard, which re-serialises differently from Go
//! (`blackhole://` stays `blackhole://` there, Go prints `blackhole:`), so this module carries a
//! small model of Go's `url.Parse` / `URL.String` / `URL.Redacted` / `Values.Encode`: enough for
//! every sink URI TiCDC accepts. The planner compares through it. The simulator uses only the
//! URL model here; its masking rules are its own (`cdcform_sim::uri_mask`), and
//! `tests/it/uri_mask.rs` checks the two against each other.

use std::fmt::Write as _;

/// A parsed URL with Go `net/url` semantics (only the parts TiCDC's maskers touch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoUrl {
    pub scheme: String,
    pub opaque: String,
    /// `(username, password)`, both unescaped. `Some((u, None))` is `u@`.
    pub user: Option<(String, Option<String>)>,
    /// Host (and port) as written.
    pub host: String,
    /// Path as written (already escaped form).
    pub raw_path: String,
    pub raw_query: String,
    pub force_query: bool,
    pub fragment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UrlError(pub String);

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

/// Go `url.PathUnescape`/`QueryUnescape` (`plus_as_space` for the query form).
pub fn unescape(s: &str, plus_as_space: bool) -> Result<String, UrlError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if i + 2 >= b.len() || !is_hex(b[i + 1]) || !is_hex(b[i + 2]) {
                    // Bytes, not a str slice: the escape may stop inside a multi-byte character
                    // (found by the `sink_uri_mask` fuzz target).
                    return Err(UrlError(format!(
                        "invalid URL escape {:?}",
                        String::from_utf8_lossy(&b[i..(i + 3).min(b.len())])
                    )));
                }
                out.push(hex_val(b[i + 1]) << 4 | hex_val(b[i + 2]));
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~')
}

/// Go `URL.EscapedFragment()` for a fragment held unescaped: everything but unreserved
/// characters and `$&+,/:;=?@!()*` becomes %XX (a decoded control character must not come
/// back raw; found by the `sink_uri_mask` fuzz target).
fn fragment_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if unreserved(c) || b"$&+,/:;=?@!()*".contains(&c) {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// Go `url.QueryEscape`: everything but unreserved is %XX, space becomes `+`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if unreserved(c) {
            out.push(c as char);
        } else if c == b' ' {
            out.push('+');
        } else {
            let _ = write!(out, "%{c:02X}");
        }
    }
    out
}

/// Go's escape in `encodeUserPassword` mode.
fn userinfo_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        let keep = unreserved(c)
            || matches!(
                c,
                b'$' | b'&' | b'+' | b',' | b';' | b'=' | b'!' | b'\'' | b'(' | b')' | b'*'
            );
        if keep {
            out.push(c as char);
        } else {
            let _ = write!(out, "%{c:02X}");
        }
    }
    out
}

fn get_scheme(raw: &str) -> Result<(String, &str), UrlError> {
    for (i, c) in raw.bytes().enumerate() {
        if c.is_ascii_alphabetic() {
            continue;
        }
        if c.is_ascii_digit() || c == b'+' || c == b'-' || c == b'.' {
            if i == 0 {
                return Ok((String::new(), raw));
            }
            continue;
        }
        if c == b':' {
            if i == 0 {
                return Err(UrlError("missing protocol scheme".into()));
            }
            return Ok((raw[..i].to_string(), &raw[i + 1..]));
        }
        return Ok((String::new(), raw));
    }
    Ok((String::new(), raw))
}

impl GoUrl {
    /// Go `url.Parse`.
    pub fn parse(raw: &str) -> Result<GoUrl, UrlError> {
        if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err(UrlError("net/url: invalid control character in URL".into()));
        }
        let (rest, fragment) = match raw.find('#') {
            Some(i) => (&raw[..i], unescape(&raw[i + 1..], false)?),
            None => (raw, String::new()),
        };
        let (scheme, mut rest) = get_scheme(rest)?;
        let scheme = scheme.to_ascii_lowercase();
        let mut u = GoUrl {
            scheme,
            opaque: String::new(),
            user: None,
            host: String::new(),
            raw_path: String::new(),
            raw_query: String::new(),
            force_query: false,
            fragment,
        };
        if rest.ends_with('?') && rest.matches('?').count() == 1 {
            u.force_query = true;
            rest = &rest[..rest.len() - 1];
        } else if let Some(i) = rest.find('?') {
            u.raw_query = rest[i + 1..].to_string();
            rest = &rest[..i];
        }
        if !rest.starts_with('/') {
            if !u.scheme.is_empty() {
                u.opaque = rest.to_string();
                return Ok(u);
            }
            // (Go's `url.Parse("")` succeeds; only request URIs refuse an empty string.)
            // Go refuses what looks like a malformed scheme (`cache_object:foo/bar`).
            if rest.split('/').next().is_some_and(|seg| seg.contains(':')) {
                return Err(UrlError(
                    "first path segment in URL cannot contain colon".into(),
                ));
            }
        }
        if (!u.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
            let after = &rest[2..];
            let (authority, tail) = match after.find('/') {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, ""),
            };
            rest = tail;
            let host = match authority.rfind('@') {
                Some(i) => {
                    let userinfo = &authority[..i];
                    if userinfo
                        .bytes()
                        .any(|c| !(unreserved(c) || b"%$&'()*+,;=:!".contains(&c)))
                    {
                        return Err(UrlError("net/url: invalid userinfo".into()));
                    }
                    u.user = Some(match userinfo.find(':') {
                        Some(j) => (
                            unescape(&userinfo[..j], false)?,
                            Some(unescape(&userinfo[j + 1..], false)?),
                        ),
                        None => (unescape(userinfo, false)?, None),
                    });
                    &authority[i + 1..]
                }
                None => authority,
            };
            validate_host(host)?;
            u.host = host.to_string();
        }
        unescape(rest, false)?;
        u.raw_path = rest.to_string();
        Ok(u)
    }

    /// Go `URL.String()`.
    pub fn to_go_string(&self) -> String {
        let mut buf = String::new();
        if !self.scheme.is_empty() {
            buf.push_str(&self.scheme);
            buf.push(':');
        }
        if !self.opaque.is_empty() {
            buf.push_str(&self.opaque);
        } else {
            if (!self.scheme.is_empty() || !self.host.is_empty() || self.user.is_some())
                && (!self.host.is_empty() || !self.raw_path.is_empty() || self.user.is_some())
            {
                buf.push_str("//");
            }
            if let Some((name, pass)) = &self.user {
                buf.push_str(&userinfo_escape(name));
                if let Some(p) = pass {
                    buf.push(':');
                    buf.push_str(&userinfo_escape(p));
                }
                buf.push('@');
            }
            buf.push_str(&self.host);
            if !self.raw_path.is_empty() && !self.raw_path.starts_with('/') && !self.host.is_empty()
            {
                buf.push('/');
            }
            buf.push_str(&self.raw_path);
        }
        if self.force_query || !self.raw_query.is_empty() {
            buf.push('?');
            buf.push_str(&self.raw_query);
        }
        if !self.fragment.is_empty() {
            buf.push('#');
            buf.push_str(&fragment_escape(&self.fragment));
        }
        buf
    }

    /// Go `URL.Redacted()`: a userinfo password (even an empty one) becomes `xxxxx`.
    pub fn redacted(&self) -> String {
        let mut c = self.clone();
        if let Some((_, Some(p))) = &mut c.user {
            *p = "xxxxx".into();
        }
        c.to_go_string()
    }

    /// Go `URL.Query()`: pairs in order; malformed pairs are dropped as Go does.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        parse_query(&self.raw_query)
    }

    pub fn password(&self) -> Option<&str> {
        self.user.as_ref().and_then(|(_, p)| p.as_deref())
    }
}

fn validate_host(host: &str) -> Result<(), UrlError> {
    // Go checks the port after the last ':' outside an IPv6 literal is numeric.
    let port_part = if let Some(end) = host.rfind(']') {
        &host[end + 1..]
    } else {
        match host.rfind(':') {
            Some(i) => &host[i..],
            None => "",
        }
    };
    if let Some(p) = port_part.strip_prefix(':') {
        if !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(UrlError(format!("invalid port {port_part:?} after host")));
        }
    } else if !port_part.is_empty() {
        return Err(UrlError(format!("invalid host {host:?}")));
    }
    Ok(())
}

/// Go `url.ParseQuery` (lenient: bad pairs are skipped, like `URL.Query()`).
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in raw.split('&') {
        if part.is_empty() || part.contains(';') {
            continue;
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        if let (Ok(k), Ok(v)) = (unescape(k, true), unescape(v, true)) {
            out.push((k, v));
        }
    }
    out
}

/// Go `url.Values.Encode()`: keys sorted, values in their order, query-escaped.
pub fn encode_query(pairs: &[(String, String)]) -> String {
    let mut keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut out = String::new();
    for k in keys {
        for (_, v) in pairs.iter().filter(|(pk, _)| pk == k) {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(&query_escape(k));
            out.push('=');
            out.push_str(&query_escape(v));
        }
    }
    out
}

/// TiCDC `MaskSinkURI`: what GET/create/update return in `sink_uri`.
pub fn mask_sink_uri(uri: &str) -> Result<String, UrlError> {
    SinkUri::parse(uri).masked()
}

/// A sink URI parsed once (Go `url.Parse`, then `URL.Query()`), with the forms cdcform derives
/// from it: TiCDC's mask, the canonical form plans compare, the query pairs. Holds the URI as
/// given, secrets included: memory only, never printed (its `Debug` shows the mask).
#[derive(Clone)]
pub struct SinkUri {
    raw: String,
    parsed: Result<GoUrl, UrlError>,
    pairs: Vec<(String, String)>,
}

impl std::fmt::Debug for SinkUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&mask_sensitive_in_uri(&self.raw))
    }
}

impl SinkUri {
    pub fn parse(uri: &str) -> SinkUri {
        let parsed = GoUrl::parse(uri);
        let pairs = parsed.as_ref().map(GoUrl::query_pairs).unwrap_or_default();
        SinkUri {
            raw: uri.to_string(),
            parsed,
            pairs,
        }
    }

    /// The URI as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Go `URL.Query()` of it; empty when it does not parse.
    pub fn query(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// [`mask_sink_uri`] of it.
    pub fn masked(&self) -> Result<String, UrlError> {
        let u = self.parsed.as_ref().map_err(Clone::clone)?;
        if !self.pairs.iter().any(|(k, _)| k == "sasl-password") {
            return Ok(u.redacted());
        }
        // Go `Values.Set` replaces all values of the key with one.
        let mut pairs = self.pairs.clone();
        let first = pairs
            .iter()
            .position(|(k, _)| k == "sasl-password")
            .unwrap_or(0);
        pairs.retain(|(k, _)| k != "sasl-password");
        pairs.insert(
            first.min(pairs.len()),
            ("sasl-password".into(), "xxxxx".into()),
        );
        let mut u = u.clone();
        u.raw_query = encode_query(&pairs);
        Ok(u.redacted())
    }

    /// The form two sink URIs are compared in: Go re-serialisation with the query sorted (the
    /// URI as given when it does not parse).
    pub fn canonical(&self) -> String {
        match &self.parsed {
            Ok(u) => {
                let mut pairs = self.pairs.clone();
                pairs.sort();
                let mut u = u.clone();
                u.raw_query = encode_query(&pairs);
                u.to_go_string()
            }
            Err(_) => self.raw.clone(),
        }
    }
}

const SENSITIVE_QUERY_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "access",
    "token",
    "secret",
    "key",
    "signature",
    "credential",
    "private",
    "client",
];

/// True when a sink-URI query key carries a secret by TiCDC's broad rule
/// (`strings.Contains(strings.ToLower(key), word)`).
pub fn is_sensitive_query_key(key: &str) -> bool {
    // Go's `strings.ToLower` folds more than ASCII into these words: KELVIN SIGN (U+212A)
    // becomes `k` and U+0130 becomes `i` (found by the simulator cross-check, tests/it/uri_mask.rs).
    let lower: String = key
        .chars()
        .map(|c| match c {
            '\u{212a}' => 'k',
            '\u{130}' => 'i',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    SENSITIVE_QUERY_WORDS.iter().any(|w| lower.contains(w))
}

/// TiCDC `MaskSensitiveDataInURI` (used in error messages): every query key that looks like
/// a secret becomes `xxxxx`, userinfo password too; an unparsable URI becomes `<invalid uri>`.
/// cdcform uses the same rule whenever it prints a URI.
pub fn mask_sensitive_in_uri(uri: &str) -> String {
    let Ok(mut u) = GoUrl::parse(uri) else {
        return "<invalid uri>".into();
    };
    // Nothing to hide: show the URI as written (re-serialising would turn `blackhole://`
    // into `blackhole:`, the server's form, on the side that shows the manifest).
    if u.password().is_none()
        && !u
            .query_pairs()
            .iter()
            .any(|(k, _)| is_sensitive_query_key(k))
    {
        return uri.to_string();
    }
    let pairs = u.query_pairs();
    if pairs.iter().any(|(k, _)| is_sensitive_query_key(k)) {
        // Go `Values.Set(key, "xxxxx")`: a key given twice keeps one masked value.
        let mut masked: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            if !is_sensitive_query_key(&k) {
                masked.push((k, v));
            } else if !masked.iter().any(|(mk, _)| *mk == k) {
                masked.push((k, "xxxxx".into()));
            }
        }
        u.raw_query = encode_query(&masked);
    }
    u.redacted()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Examples checked against Go's net/url and tiflow `pkg/util/uri.go` `MaskSinkURI`.
    #[test]
    fn masks_like_ticdc() {
        let cases = [
            ("mysql://root:123456@127.0.0.1:3306/", "mysql://root:xxxxx@127.0.0.1:3306/"),
            ("mysql://root:@127.0.0.1:3306/", "mysql://root:xxxxx@127.0.0.1:3306/"),
            ("mysql://root@127.0.0.1:3306/", "mysql://root@127.0.0.1:3306/"),
            (
                "mysql://root:p%40ss@h:3306/?time-zone=Asia/Shanghai",
                "mysql://root:xxxxx@h:3306/?time-zone=Asia/Shanghai",
            ),
            (
                "kafka://h:9092/t?protocol=canal-json&sasl-user=u&sasl-password=p&max-message-bytes=67108864",
                "kafka://h:9092/t?max-message-bytes=67108864&protocol=canal-json&sasl-password=xxxxx&sasl-user=u",
            ),
            (
                "kafka://h/t?protocol=canal-json&sasl-user=u&sasl-password=p&time-zone=Asia/Shanghai",
                "kafka://h/t?protocol=canal-json&sasl-password=xxxxx&sasl-user=u&time-zone=Asia%2FShanghai",
            ),
            (
                "s3://bucket/prefix?access-key=AK&secret-access-key=SK",
                "s3://bucket/prefix?access-key=AK&secret-access-key=SK",
            ),
            ("blackhole://", "blackhole:"),
            ("blackhole:///", "blackhole:///"),
            ("tidb://root:pw@[::1]:4000/", "tidb://root:xxxxx@[::1]:4000/"),
        ];
        for (input, want) in cases {
            assert_eq!(mask_sink_uri(input).unwrap(), want, "input {input}");
        }
    }

    #[test]
    fn fragments_are_re_escaped_and_colon_paths_refused_like_go() {
        let u = GoUrl::parse("kafka://h/t#a%14b%20c").unwrap();
        assert_eq!(u.to_go_string(), "kafka://h/t#a%14b%20c");
        assert!(GoUrl::parse(&u.to_go_string()).is_ok());
        assert!(GoUrl::parse("kafkz.$:x/y").is_err());
        assert!(GoUrl::parse("/a:b").is_ok());
    }

    #[test]
    fn a_bad_escape_before_a_multibyte_character_is_an_error_not_a_panic() {
        assert!(unescape("%4\u{4ca}", false).is_err());
        assert!(GoUrl::parse("/%4\u{4ca}%zz@hz").is_err());
        assert_eq!(
            mask_sensitive_in_uri("mysql://u:p@h/%4\u{4ca}"),
            "<invalid uri>"
        );
    }

    #[test]
    fn masking_is_idempotent() {
        for u in [
            "blackhole:",
            "mysql://root:xxxxx@h:3306/",
            "kafka://h/t?protocol=canal-json&sasl-password=xxxxx",
        ] {
            assert_eq!(mask_sink_uri(u).unwrap(), u);
        }
    }

    #[test]
    fn error_masker_hides_every_secret_looking_key() {
        assert_eq!(
            mask_sensitive_in_uri("s3://b/p?access-key=AK&secret-access-key=SK&region=x"),
            "s3://b/p?access-key=xxxxx&region=x&secret-access-key=xxxxx"
        );
        assert_eq!(
            mask_sensitive_in_uri("mysql://u:pw@h:1/"),
            "mysql://u:xxxxx@h:1/"
        );
        assert_eq!(mask_sensitive_in_uri("mysql://h:abc/"), "<invalid uri>");
    }

    /// Go `strings.ToLower` folds KELVIN SIGN and U+0130 into `k` and `i`; `Values.Set` leaves
    /// one masked value for a key given twice (tiflow `pkg/util/uri.go` `MaskSensitiveDataInURI`).
    #[test]
    fn error_masker_lowercases_and_sets_like_go() {
        assert!(is_sensitive_query_key("\u{212a}EY"));
        assert!(is_sensitive_query_key("PR\u{130}VATE"));
        assert!(!is_sensitive_query_key("region"));
        assert_eq!(
            mask_sensitive_in_uri("kafka://h/t?%E2%84%AAEY=v&token=a&token=b&a=1"),
            "kafka://h/t?a=1&token=xxxxx&%E2%84%AAEY=xxxxx"
        );
    }

    /// The mask and the canonical form as they were computed before [`SinkUri`] (each from a
    /// parse of its own): the forms derived from one parse must be the same.
    fn mask_by_own_parse(uri: &str) -> Result<String, UrlError> {
        let mut u = GoUrl::parse(uri)?;
        let mut pairs = u.query_pairs();
        if pairs.iter().any(|(k, _)| k == "sasl-password") {
            let first = pairs
                .iter()
                .position(|(k, _)| k == "sasl-password")
                .unwrap_or(0);
            pairs.retain(|(k, _)| k != "sasl-password");
            pairs.insert(
                first.min(pairs.len()),
                ("sasl-password".into(), "xxxxx".into()),
            );
            u.raw_query = encode_query(&pairs);
        }
        Ok(u.redacted())
    }

    fn canonical_by_own_parse(uri: &str) -> String {
        match GoUrl::parse(uri) {
            Ok(mut u) => {
                let mut pairs = u.query_pairs();
                pairs.sort();
                u.raw_query = encode_query(&pairs);
                u.to_go_string()
            }
            Err(_) => uri.to_string(),
        }
    }

    fn forms_agree(uri: &str) {
        let s = SinkUri::parse(uri);
        assert_eq!(s.masked(), mask_by_own_parse(uri), "mask of {uri:?}");
        assert_eq!(
            s.canonical(),
            canonical_by_own_parse(uri),
            "canonical of {uri:?}"
        );
        let q = GoUrl::parse(uri)
            .map(|u| u.query_pairs())
            .unwrap_or_default();
        assert_eq!(s.query(), q.as_slice(), "query of {uri:?}");
        assert_eq!(s.as_str(), uri);
        assert!(!format!("{s:?}").contains("hunter2"), "{s:?}");
    }

    #[test]
    fn one_parse_gives_the_forms_of_separate_parses() {
        for uri in [
            "blackhole://",
            "blackhole:",
            "mysql://root:hunter2@127.0.0.1:3306/?time-zone=Asia/Shanghai&safe-mode=true",
            "mysql://root:@h:3306/",
            "kafka://h:9092/t?protocol=canal-json&sasl-user=u&sasl-password=hunter2&sasl-password=x&a=1",
            "kafka://h:9092/t?sasl-password=hunter2",
            "s3://b/p?access-key=AK&secret-access-key=hunter2&protocol=csv#frag%20x",
            "pulsar+ssl://h:6651/t?protocol=canal-json&token=hunter2",
            "mysql://h:port/",
            "mysql://u:p@h/%zz",
            "file:///tmp/x?b=2&a=1&b=1",
            "",
            "no scheme at all",
        ] {
            forms_agree(uri);
        }
    }

    proptest::proptest! {
        #[test]
        fn one_parse_agrees_on_any_text(uri in "[a-z+]{0,6}(://)?[a-z@:%0-9]{0,8}(/[a-z%]{0,4})?(\\?([a-z-]{1,14}=[a-z%+0-9]{0,4}&?){0,4})?(#[a-z ]{0,3})?") {
            forms_agree(&uri);
        }
    }

    #[test]
    fn parse_rejects_what_go_rejects() {
        assert!(GoUrl::parse("://x").is_err());
        assert!(GoUrl::parse("mysql://h:port/").is_err());
        assert!(GoUrl::parse("mysql://u:p@h/%zz").is_err());
        assert!(GoUrl::parse("kafka://h\n/").is_err());
    }
}
