//! The simulator's own sink-URI masking, written from TiCDC's Go source and kept apart from
//! cdcform's masking rules (`cdcform_ticdc::mask`) so that a mistake in one shows up against
//! the other (see the cross-check in `tests/it/uri_mask.rs`).
//!
//! Upstream: `pkg/util/uri.go`, functions `MaskSinkURI` and `MaskSensitiveDataInURI` (with the
//! list `sensitiveQueryParameterNames`). The file is byte-identical at every version the
//! simulator models: tiflow v7.5.0, v8.1.0 and v8.5.0, and pingcap/ticdc v8.5.7 (new
//! architecture), so the rules here take no profile.
//!
//! Only Go's `net/url` machinery (parse, `Query`, `Values.Encode`, `String`) comes from the
//! shared model in `cdcform_ticdc::mask`; which parts are hidden, how keys are matched and what
//! replaces them is decided here.

use crate::ticdc::mask::{encode_query, GoUrl, UrlError};

/// What TiCDC writes in place of a secret (the literal in both Go functions, and the one
/// `URL.Redacted` uses for a userinfo password).
pub const MASKED: &str = "xxxxx";

/// The one query key `MaskSinkURI` hides, compared exactly (`url.Values.Has`: case-sensitive).
const SASL_PASSWORD: &str = "sasl-password";

/// tiflow/ticdc `pkg/util/uri.go` `sensitiveQueryParameterNames`, in upstream order. A key is
/// sensitive when its lower-cased form contains any of these.
pub const SENSITIVE_QUERY_PARAMETER_NAMES: [&str; 11] = [
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

/// Go `strings.ToLower`: every rune through `unicode.ToLower`, the *simple* case mapping. That
/// differs from Rust's `str::to_lowercase` for U+0130 (`İ` becomes `i`, not `i` + U+0307) and
/// from ASCII lower-casing for e.g. U+212A KELVIN SIGN (becomes `k`).
fn go_to_lower(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{130}' => 'i',
            c => {
                let mut l = c.to_lowercase();
                match (l.next(), l.next()) {
                    (Some(one), None) => one,
                    _ => c,
                }
            }
        })
        .collect()
}

/// The loop in `MaskSensitiveDataInURI`: `strings.Contains(strings.ToLower(key), name)` for
/// any name of [`SENSITIVE_QUERY_PARAMETER_NAMES`].
pub fn query_key_is_sensitive(key: &str) -> bool {
    let lower = go_to_lower(key);
    SENSITIVE_QUERY_PARAMETER_NAMES
        .iter()
        .any(|name| lower.contains(name))
}

/// Go `URL.Redacted()`: a userinfo that has a password (an empty one too: `u:@h`) shows
/// [`MASKED`] in its place; a username alone is kept. Then `URL.String()`.
fn redacted(mut u: GoUrl) -> String {
    if let Some((_, Some(password))) = u.user.as_mut() {
        *password = MASKED.to_string();
    }
    u.to_go_string()
}

/// Go `url.Values.Set(key, MASKED)` on the pairs of `URL.Query()`: every value of `key`
/// goes, one [`MASKED`] value stays. (Where it stays does not matter: `Values.Encode` sorts
/// by key and keeps the order of one key's values.)
fn set_masked(pairs: &mut Vec<(String, String)>, key: &str) {
    pairs.retain(|(k, _)| k != key);
    pairs.push((key.to_string(), MASKED.to_string()));
}

/// TiCDC `MaskSinkURI` (the `sink_uri` of API answers): a parse error is returned; if the query
/// has the key `sasl-password` (exact) its value(s) become one `xxxxx` and the whole query is
/// re-encoded (`Values.Encode`: keys sorted, pairs Go drops gone, `QueryEscape`d); otherwise
/// the query stays as written. Then `Redacted`.
pub fn mask_sink_uri(uri: &str) -> Result<String, UrlError> {
    let mut u = GoUrl::parse(uri)?;
    let mut pairs = u.query_pairs();
    if pairs.iter().any(|(k, _)| k == SASL_PASSWORD) {
        set_masked(&mut pairs, SASL_PASSWORD);
        u.raw_query = encode_query(&pairs);
    }
    Ok(redacted(u))
}

/// TiCDC `MaskSensitiveDataInURI` (URIs in logs and `ChangeFeedInfo.String`; the simulator
/// uses it in the sink-URI error messages it writes): a URI that does not parse becomes the
/// empty string; every query key that [`query_key_is_sensitive`] gets one `xxxxx` value; the
/// query is re-encoded even when nothing was hidden; then `Redacted`.
pub fn mask_sensitive_data_in_uri(uri: &str) -> String {
    let Ok(mut u) = GoUrl::parse(uri) else {
        return String::new();
    };
    let mut pairs = u.query_pairs();
    let mut sensitive: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| query_key_is_sensitive(k))
        .map(|(k, _)| k.clone())
        .collect();
    sensitive.dedup();
    for key in &sensitive {
        set_masked(&mut pairs, key);
    }
    u.raw_query = encode_query(&pairs);
    redacted(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tiflow `pkg/util/uri_test.go` `TestMaskSinkURI` (identical at v7.5.0, v8.1.0, v8.5.0;
    /// pingcap/ticdc v8.5.7 has the same `uri.go` and no `uri_test.go`).
    const UPSTREAM_MASK_SINK_URI: &[(&str, &str)] = &[
        (
            "mysql://root:123456@127.0.0.1:3306/?time-zone=Asia/Shanghai",
            "mysql://root:xxxxx@127.0.0.1:3306/?time-zone=Asia/Shanghai",
        ),
        (
            "kafka://127.0.0.1:9093/cdc?sasl-mechanism=SCRAM-SHA-256&sasl-user=ticdc&sasl-password=verysecure",
            "kafka://127.0.0.1:9093/cdc?sasl-mechanism=SCRAM-SHA-256&sasl-password=xxxxx&sasl-user=ticdc",
        ),
    ];

    /// tiflow `pkg/util/uri_test.go` `TestMaskSensitiveDataInURI`, the fixed rows (same tags as
    /// above). The test then adds one row per `sensitiveQueryParameterNames` entry: see
    /// [`upstream_each_sensitive_name_is_masked`].
    const UPSTREAM_MASK_SENSITIVE: &[(&str, &str)] = &[
        (
            "mysql://root:123456@127.0.0.1:3306/?time-zone=c",
            "mysql://root:xxxxx@127.0.0.1:3306/?time-zone=c",
        ),
        (
            "mysql://root:123456@127.0.0.1:3306/?access_key=c",
            "mysql://root:xxxxx@127.0.0.1:3306/?access_key=xxxxx",
        ),
        (
            "mysql://root:123456@127.0.0.1:3306/?secret_access_key=c",
            "mysql://root:xxxxx@127.0.0.1:3306/?secret_access_key=xxxxx",
        ),
        (
            "mysql://root:123456@127.0.0.1:3306/?client_secret=c",
            "mysql://root:xxxxx@127.0.0.1:3306/?client_secret=xxxxx",
        ),
        ("", ""),
        ("abc", "abc"),
    ];

    #[test]
    fn upstream_test_mask_sink_uri() {
        for (uri, want) in UPSTREAM_MASK_SINK_URI {
            assert_eq!(mask_sink_uri(uri).as_deref(), Ok(*want), "{uri}");
        }
    }

    #[test]
    fn upstream_test_mask_sensitive_data_in_uri() {
        for (uri, want) in UPSTREAM_MASK_SENSITIVE {
            assert_eq!(mask_sensitive_data_in_uri(uri), *want, "{uri}");
        }
    }

    /// The loop at the end of tiflow `TestMaskSensitiveDataInURI`.
    #[test]
    fn upstream_each_sensitive_name_is_masked() {
        for name in SENSITIVE_QUERY_PARAMETER_NAMES {
            assert_eq!(
                mask_sensitive_data_in_uri(&format!(
                    "kafka://127.0.0.1:9093/cdc?{name}=verysecure"
                )),
                format!("kafka://127.0.0.1:9093/cdc?{name}=xxxxx")
            );
        }
    }

    /// Cases the upstream tables do not cover, each worked out from `uri.go` and Go's `net/url`.
    #[test]
    fn beyond_the_upstream_tables() {
        let sink_uri: &[(&str, Result<&str, ()>)] = &[
            // `Redacted` masks an empty password, keeps a bare username.
            ("mysql://root:@h:3306/", Ok("mysql://root:xxxxx@h:3306/")),
            ("mysql://root@h:3306/", Ok("mysql://root@h:3306/")),
            // No `sasl-password`: the query is left as written (not re-encoded, not sorted).
            (
                "kafka://h/t?b=1&a=Asia/Shanghai",
                Ok("kafka://h/t?b=1&a=Asia/Shanghai"),
            ),
            // Other secret-looking keys are not `MaskSinkURI`'s business.
            (
                "s3://b/p?access-key=AK&secret-access-key=SK",
                Ok("s3://b/p?access-key=AK&secret-access-key=SK"),
            ),
            // `Values.Has` is case-sensitive.
            (
                "kafka://h/t?SASL-PASSWORD=p",
                Ok("kafka://h/t?SASL-PASSWORD=p"),
            ),
            // `Values.Set`: two values become one; the re-encoded query is sorted and escaped.
            (
                "kafka://h/t?sasl-password=a&z=Asia/Shanghai&sasl-password=b",
                Ok("kafka://h/t?sasl-password=xxxxx&z=Asia%2FShanghai"),
            ),
            // `URL.String` of an empty authority.
            ("blackhole://", Ok("blackhole:")),
            ("mysql://h:port/", Err(())),
        ];
        for (uri, want) in sink_uri {
            assert_eq!(
                mask_sink_uri(uri).map_err(|_| ()).as_deref(),
                want.as_deref(),
                "{uri}"
            );
        }
        let sensitive: &[(&str, &str)] = &[
            // A parse error gives "".
            ("mysql://h:port/", ""),
            // The query is always re-encoded, even with nothing to hide.
            (
                "kafka://h/t?b=1&a=Asia/Shanghai",
                "kafka://h/t?a=Asia%2FShanghai&b=1",
            ),
            ("blackhole://", "blackhole:"),
            // Matching is on the lower-cased key, by substring.
            (
                "s3://b/p?Secret-Access-KEY=s&region=x",
                "s3://b/p?Secret-Access-KEY=xxxxx&region=x",
            ),
            (
                "kafka://h/t?ssl-client-cert=c&sasl-mechanism=plain",
                "kafka://h/t?sasl-mechanism=plain&ssl-client-cert=xxxxx",
            ),
            // `Values.Set`: one value per masked key.
            ("kafka://h/t?token=a&token=b", "kafka://h/t?token=xxxxx"),
            // `strings.ToLower` maps U+212A KELVIN SIGN to `k` and U+0130 to `i`.
            ("kafka://h/t?%E2%84%AAEY=v", "kafka://h/t?%E2%84%AAEY=xxxxx"),
            (
                "kafka://h/t?PR%C4%B0VATE=v",
                "kafka://h/t?PR%C4%B0VATE=xxxxx",
            ),
            // Both at once.
            ("mysql://u:pw@h/?pwd=1", "mysql://u:xxxxx@h/?pwd=xxxxx"),
        ];
        for (uri, want) in sensitive {
            assert_eq!(mask_sensitive_data_in_uri(uri), *want, "{uri}");
        }
    }
}
