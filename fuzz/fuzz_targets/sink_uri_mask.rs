//! Sink-URI masking: idempotent, never keeps a password, and Go's parse → String → parse is
//! stable.
#![no_main]
use cdcform::ticdc::mask::{is_sensitive_query_key, mask_sensitive_in_uri, mask_sink_uri, GoUrl};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = mask_sink_uri(s) {
        assert_eq!(mask_sink_uri(&m).as_deref().ok(), Some(m.as_str()), "not idempotent: {s:?}");
        let u = GoUrl::parse(&m).expect("a masked URI parses");
        if let Some((_, Some(p))) = &u.user {
            assert_eq!(p, "xxxxx", "{s:?} -> {m:?}");
        }
        for (k, v) in u.query_pairs() {
            if k == "sasl-password" {
                assert_eq!(v, "xxxxx", "{s:?} -> {m:?}");
            }
        }
    }
    let e = mask_sensitive_in_uri(s);
    if e != "<invalid uri>" {
        let u = GoUrl::parse(&e).expect("a masked URI parses");
        for (k, v) in u.query_pairs() {
            if is_sensitive_query_key(&k) {
                assert_eq!(v, "xxxxx", "{s:?} -> {e:?}");
            }
        }
        if let Some((_, Some(p))) = &u.user {
            assert_eq!(p, "xxxxx", "{s:?} -> {e:?}");
        }
    }
    if let Ok(u) = GoUrl::parse(s) {
        let t = u.to_go_string();
        let again = GoUrl::parse(&t).unwrap_or_else(|e| panic!("{s:?} -> {t:?}: {e:?}"));
        assert_eq!(again.to_go_string(), t, "unstable: {s:?}");
    }
});
