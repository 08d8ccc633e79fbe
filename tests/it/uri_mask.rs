//! Cross-check of the two implementations of TiCDC's sink-URI masking (tiflow / pingcap/ticdc
//! `pkg/util/uri.go` `MaskSinkURI` and `MaskSensitiveDataInURI`): the simulator's own
//! (`cdcform_sim::uri_mask`) against cdcform's (`cdcform_ticdc::mask`), over every sink URI
//! written in `tests/it` and `tests/corpus`, plus generated ones.
//!
//! `MaskSinkURI` must agree exactly. cdcform's `mask_sensitive_in_uri` keeps two display
//! choices of its own (documented there): a URI that does not parse prints `<invalid uri>`
//! (Go: ""), and a URI with nothing to hide is shown as written (Go re-serialises it and
//! re-encodes its query). So that side is compared after re-serialising cdcform's answer with
//! Go's `net/url` model only (no masking), which hides neither a missed secret nor an extra one.

use std::path::Path;

use cdcform::simulator::uri_mask as sim;
use cdcform::ticdc::mask::{self as cdc, encode_query, parse_query, GoUrl};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// `URL.String()` of `uri` with its query through `Query()` / `Values.Encode()`: what
/// `MaskSensitiveDataInURI` prints for a URI it hides nothing in.
fn go_reserialised(uri: &str) -> Option<String> {
    let mut u = GoUrl::parse(uri).ok()?;
    u.raw_query = encode_query(&parse_query(&u.raw_query));
    Some(u.to_go_string())
}

fn agree(uri: &str) -> Result<(), String> {
    let s = sim::mask_sink_uri(uri).map_err(|_| ());
    let c = cdc::mask_sink_uri(uri).map_err(|_| ());
    if s != c {
        return Err(format!(
            "MaskSinkURI of {uri:?}: simulator {s:?}, cdcform {c:?}"
        ));
    }
    let s = sim::mask_sensitive_data_in_uri(uri);
    let c = cdc::mask_sensitive_in_uri(uri);
    let ok = if GoUrl::parse(uri).is_err() {
        s.is_empty() && c == "<invalid uri>"
    } else {
        go_reserialised(&c).as_deref() == Some(s.as_str())
    };
    if !ok {
        return Err(format!(
            "MaskSensitiveDataInURI of {uri:?}: simulator {s:?}, cdcform {c:?}"
        ));
    }
    Ok(())
}

/// Every `scheme://…` written in the files under `dir` (Rust sources, JSON, YAML, TOML, text).
fn uris_in(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            uris_in(&path, out);
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let b = text.as_bytes();
        let mut from = 0;
        while let Some(i) = text[from..].find("://").map(|i| i + from) {
            let start = text[..i]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || "+.-".contains(c)))
                .map_or(0, |j| j + 1);
            let end = (i..b.len())
                .find(|&j| b[j].is_ascii_whitespace() || b"\"'`\\<>".contains(&b[j]))
                .unwrap_or(b.len());
            if start < i {
                out.push(text[start..end].to_string());
            }
            from = end.max(i + 3);
        }
    }
}

#[test]
fn sim_and_cdcform_mask_the_corpus_alike() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut uris = vec![
        String::new(),
        "abc".into(),
        "blackhole:".into(),
        "mysql://h:port/".into(),
    ];
    uris_in(&root.join("tests/it"), &mut uris);
    uris_in(&root.join("tests/corpus"), &mut uris);
    uris.sort();
    uris.dedup();
    assert!(uris.len() > 200, "only {} URIs found", uris.len());
    let bad: Vec<String> = uris.iter().filter_map(|u| agree(u).err()).collect();
    assert!(
        bad.is_empty(),
        "{} of {}:\n{}",
        bad.len(),
        uris.len(),
        bad.join("\n")
    );
}

const SCHEMES: &[&str] = &[
    "mysql",
    "tidb",
    "mysql+ssl",
    "kafka",
    "kafka+ssl",
    "pulsar",
    "pulsar+ssl",
    "s3",
    "gcs",
    "azure",
    "file",
    "blackhole",
];

/// Query keys: TiCDC's own, secret-looking ones in several cases, near misses, and keys whose
/// Go `strings.ToLower` differs from ASCII lower-casing (KELVIN SIGN, U+0130).
const KEYS: &[&str] = &[
    "protocol",
    "sasl-user",
    "sasl-password",
    "SASL-PASSWORD",
    "sasl-mechanism",
    "access-key",
    "secret-access-key",
    "Secret-Access-KEY",
    "token",
    "authentication-token",
    "ssl-ca",
    "ssl-client-cert",
    "ssl-client-key",
    "client_secret",
    "time-zone",
    "passwd",
    "PWD",
    "signature",
    "credential",
    "private",
    "kay",
    "pass",
    "%E2%84%AAEY",
    "PR%C4%B0VATE",
    "to%6Ben",
    "a+b",
    "x%zz",
    "k;y",
];

const VALUES: &[&str] = &[
    "",
    "p",
    "Asia/Shanghai",
    "a%2Fb",
    "a+b",
    "%zz",
    "x;y",
    "s3cret",
    "%E2%84%AA",
    "=",
];

fn generated_uri() -> impl Strategy<Value = String> {
    let user = prop_oneof![
        Just(String::new()),
        Just("root@".to_string()),
        Just("root:@".to_string()),
        Just("root:p%40ss@".to_string()),
        Just("u%3Ax:hunter2@".to_string()),
    ];
    let host = prop_oneof![
        Just(String::new()),
        Just("127.0.0.1:3306".to_string()),
        Just("[::1]:4000".to_string()),
        Just("h".to_string()),
        Just("h:port".to_string()),
    ];
    let path = prop_oneof![
        Just(String::new()),
        Just("/".to_string()),
        Just("/topic".to_string()),
        Just("/a%20b/c".to_string()),
    ];
    let pair = (prop::sample::select(KEYS), prop::sample::select(VALUES))
        .prop_map(|(k, v)| format!("{k}={v}"));
    let query = prop::collection::vec(pair, 0..5).prop_map(|p| {
        if p.is_empty() {
            String::new()
        } else {
            format!("?{}", p.join("&"))
        }
    });
    let fragment = prop_oneof![Just(""), Just("#f"), Just("#a%20b")];
    (
        prop::sample::select(SCHEMES),
        any::<bool>(),
        user,
        host,
        path,
        query,
        fragment,
    )
        .prop_map(|(scheme, slashes, user, host, path, query, fragment)| {
            let sep = if slashes { "://" } else { ":" };
            format!("{scheme}{sep}{user}{host}{path}{query}{fragment}")
        })
}

#[test]
fn sim_and_cdcform_mask_generated_uris_alike() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    runner
        .run(&generated_uri(), |uri| {
            agree(&uri).map_err(proptest::test_runner::TestCaseError::fail)
        })
        .unwrap();
}
