//! Sifting a changefeed list by id: one validating scan splits the items, the id of each is read
//! from its first members without decoding the item, and only the items the caller keeps are
//! decoded in full. A shared cluster's list of 100,000 then costs about one and a half scans of
//! its text and one string per id. (Decoding every item into a borrowed struct was measured at
//! twice the time: matching every key and number costs more than the scan.)

use serde_json::value::RawValue;
use std::borrow::Cow;

use super::models::ChangefeedCommonInfo;

/// A changefeed list sifted by id (see [`super::Client::list_where`]).
#[derive(Debug, Default)]
pub struct Listing {
    /// The items kept, in full, sorted by id.
    pub kept: Vec<ChangefeedCommonInfo>,
    /// The ids of the other items, sorted (empty unless asked for).
    pub others: Vec<String>,
    /// Whether any item names a `keyspace`: only new-architecture servers do.
    pub keyspaced: bool,
}

/// The `items` of a `ListResponse` body, each still undecoded.
pub fn raw_items(body: &[u8]) -> serde_json::Result<Vec<&RawValue>> {
    #[derive(serde::Deserialize)]
    struct Raw<'a> {
        #[serde(borrow)]
        items: Vec<&'a RawValue>,
    }
    serde_json::from_slice::<Raw>(body).map(|r| r.items)
}

/// Which ids a sift keeps; `None` keeps every item.
pub type Keep<'a> = Option<&'a (dyn Fn(&str) -> bool + Sync)>;

/// Sift the body of `GET /changefeeds`: `{"total": n, "items": [...]}`.
///
/// One validating scan splits the items; of an item the caller does not keep, only the
/// top-level keys are then looked at (for `id` and `keyspace`), which costs a fraction of a
/// decode. A kept item is decoded in full. A large list is sifted in two halves on two threads
/// (see [`halves`]).
pub fn sift_listing(body: &[u8], keep: Keep<'_>, other_ids: bool) -> serde_json::Result<Listing> {
    let mut out = if keep.is_some() && body.len() >= SPLIT_FROM {
        match halves(body, keep, other_ids) {
            Some(out) => out,
            None => sift_items(raw_items(body)?, keep, other_ids)?,
        }
    } else {
        sift_items(raw_items(body)?, keep, other_ids)?
    };
    out.kept.sort_by(|a, b| a.id.cmp(&b.id));
    // Stable sort: the two halves are two sorted runs, merged in one pass.
    out.others.sort();
    Ok(out)
}

/// Lists at least this long (bytes; about 5,000 changefeeds) are sifted in two halves.
const SPLIT_FROM: usize = 1 << 20;

/// Sift items already split out of a list.
fn sift_items<'a>(
    items: impl IntoIterator<Item = &'a RawValue>,
    keep: Keep<'_>,
    other_ids: bool,
) -> serde_json::Result<Listing> {
    let mut out = Listing::default();
    for raw in items {
        let text = raw.get();
        if let Some(keep) = keep {
            let (id, keyspaced) = id_of(text)?;
            out.keyspaced |= keyspaced;
            if !keep(&id) {
                if other_ids {
                    out.others.push(id.into_owned());
                }
                continue;
            }
        }
        let item: ChangefeedCommonInfo = serde_json::from_str(text)?;
        out.keyspaced |= item.keyspace.is_some();
        out.kept.push(item);
    }
    Ok(out)
}

/// Sift a list written as TiCDC writes it (`{"total":N,"items":[...]}`, compact) in two halves
/// at once. The split is a `},{` near the middle, which could also sit inside a string; the
/// first half proves it: its items, parsed from the array's true start, must end exactly
/// there. `None` when the body has another shape, the split is not proven, or either half
/// fails to parse: the caller then sifts the whole body in one pass (which words any error).
fn halves(body: &[u8], keep: Keep<'_>, other_ids: bool) -> Option<Listing> {
    let body = body.trim_ascii_end();
    let rest = body.strip_prefix(b"{\"total\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let rest = rest[digits..].strip_prefix(b",\"items\":[")?;
    let items = rest.strip_suffix(b"]}")?;
    let split = items.len() / 2 + memchr::memmem::find(&items[items.len() / 2..], b"},{")?;
    let (first, second) = (&items[..split + 1], &items[split + 2..]);
    let (a, b) = std::thread::scope(|s| {
        let b = s.spawn(|| sift_items(comma_separated(second).ok()?, keep, other_ids).ok());
        let a = comma_separated(first)
            .ok()
            .and_then(|raw| sift_items(raw, keep, other_ids).ok());
        (a, b.join().ok().flatten())
    });
    let (mut a, b) = (a?, b?);
    a.kept.extend(b.kept);
    a.others.extend(b.others);
    a.keyspaced |= b.keyspaced;
    Some(a)
}

/// The values of `text`, a run of JSON values separated by commas that it holds exactly (no
/// value may run past its end).
fn comma_separated(text: &[u8]) -> serde_json::Result<Vec<&RawValue>> {
    use serde::de::Error as _;
    use serde::Deserialize as _;
    let mut out = Vec::with_capacity(text.len() / 160);
    let mut at = 0;
    while at < text.len() {
        let mut de = serde_json::Deserializer::from_slice(&text[at..]);
        let raw = <&RawValue>::deserialize(&mut de)?;
        // The value borrows its bytes from `text`: where it ends is where the next begins.
        let end = raw.get().as_ptr() as usize - text.as_ptr() as usize + raw.get().len();
        out.push(raw);
        at = skip_ws(text, end);
        match text.get(at) {
            None => break,
            Some(b',') if skip_ws(text, at + 1) < text.len() => at += 1,
            Some(_) => return Err(serde_json::Error::custom("expected a list item after `,`")),
        }
    }
    Ok(out)
}

/// The `id` of one list item (already validated as JSON by [`raw_items`] or
/// [`comma_separated`]) and whether a `keyspace` key comes before it, read from its top-level
/// members up to the id. Both tiflow's and ticdc's `ChangefeedCommonInfo`
/// (`cdc/api/v2/model.go`, `api/v2/model.go`) write the scope before the id, so the members
/// after it are never looked at.
fn id_of(item: &str) -> serde_json::Result<(Cow<'_, str>, bool)> {
    use serde::de::Error as _;
    let mut keyspaced = false;
    for (key, value) in members(item) {
        let key = unescape(key)?;
        if key == "keyspace" {
            keyspaced = true;
        } else if key == "id" {
            if !value.starts_with('"') {
                return Err(serde_json::Error::custom(format!(
                    "invalid type: `{value}`, expected the changefeed id as a string"
                )));
            }
            return Ok((unescape(&value[1..value.len() - 1])?, keyspaced));
        }
    }
    Err(serde_json::Error::missing_field("id"))
}

/// The text of a JSON string (between its quotes), its escapes decoded only if it has any.
fn unescape(s: &str) -> serde_json::Result<Cow<'_, str>> {
    if s.contains('\\') {
        serde_json::from_str::<String>(&format!("\"{s}\"")).map(Cow::Owned)
    } else {
        Ok(Cow::Borrowed(s))
    }
}

/// The top-level members of a JSON object known to be valid: each key's text (between its
/// quotes, escapes undecoded) and its value's text.
fn members(obj: &str) -> impl Iterator<Item = (&str, &str)> {
    let b = obj.as_bytes();
    let mut i = b.iter().position(|&c| c == b'{').map_or(b.len(), |p| p + 1);
    std::iter::from_fn(move || {
        i = skip_ws(b, i);
        if i >= b.len() || b[i] != b'"' {
            return None;
        }
        let key_end = string_end(b, i);
        let key = &obj[i + 1..key_end - 1];
        i = skip_ws(b, key_end);
        i = skip_ws(b, i + 1); // the `:`
        let start = i;
        i = value_end(b, i);
        let value = &obj[start..i];
        i = skip_ws(b, i);
        if i < b.len() && b[i] == b',' {
            i += 1;
        }
        Some((key, value))
    })
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The index just past the string that opens at `b[i]` (a quote).
fn string_end(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while let Some(off) = memchr::memchr2(b'"', b'\\', &b[i..]) {
        i += off;
        if b[i] == b'\\' {
            i += 2;
        } else {
            return i + 1;
        }
    }
    b.len()
}

/// The index just past the value that starts at `b[i]`.
fn value_end(b: &[u8], mut i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => string_end(b, i),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        i = string_end(b, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            i
        }
        _ => {
            while i < b.len() && !matches!(b[i], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                i += 1;
            }
            i
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"total": 3, "items": [
        {"upstream_id": 7, "namespace": "default", "id": "b\u0041", "state": "normal", "checkpoint_tso": 5, "checkpoint_time": "t", "error": null},
        {"id": "a", "namespace": "default", "state": "stopped", "checkpoint_tso": 1, "checkpoint_time": "t", "error": {"addr": "x", "code": "CDC:E", "message": "m"}},
        {"keyspace": "ks", "state": "normal", "id": "c", "checkpoint_tso": 2, "checkpoint_time": "t", "error": null}
    ]}"#;

    #[test]
    fn kept_items_decode_as_whole_items_and_the_rest_as_ids() {
        let l = sift_listing(BODY.as_bytes(), Some(&|id| id != "c"), true).unwrap();
        let want: serde_json::Value = serde_json::from_str(BODY).unwrap();
        let mut whole: Vec<ChangefeedCommonInfo> =
            serde_json::from_value(want["items"].clone()).unwrap();
        whole.retain(|i| i.id != "c");
        whole.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(l.kept, whole);
        assert_eq!(l.kept[1].id, "bA", "escapes decoded");
        assert_eq!(l.others, vec!["c".to_string()]);
        assert!(l.keyspaced);
        let none = sift_listing(BODY.as_bytes(), Some(&|_| false), false).unwrap();
        assert!(none.kept.is_empty() && none.others.is_empty() && none.keyspaced);
        // Keeping every item decodes each in full, as a plain decode of the list does.
        let all = sift_listing(BODY.as_bytes(), None, true).unwrap();
        let mut whole: Vec<ChangefeedCommonInfo> =
            serde_json::from_value(want["items"].clone()).unwrap();
        whole.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(all.kept, whole);
        assert!(all.others.is_empty() && all.keyspaced);
    }

    #[test]
    fn the_id_is_found_however_the_item_is_written() {
        // Whitespace anywhere, escaped keys and ids, nested values and strings holding quotes,
        // braces and `"id":` before the id: every form decodes to the id serde_json finds.
        let items = [
            r#"{"id":"a"}"#,
            r#"{ "upstream_id" : 1 , "namespace" : "default" , "id" : "b" }"#,
            "{\n\t\"id\"\r\n:\n\"c\"\n}",
            r#"{"\u0069d": "d"}"#,
            r#"{"id": "e\u0041\"q"}"#,
            r#"{"error": {"addr": "x", "message": "{\"id\":\"no\"} ] } \\"}, "id": "f"}"#,
            r#"{"note": "\"id\": \"no\"", "list": [[1, {"id": "no"}], "]"], "id": "g"}"#,
            r#"{"keyspace": "ks", "id": "h", "state": "normal"}"#,
            r#"{"upstream_id": -1.5e3, "flag": true, "none": null, "id": "i"}"#,
        ];
        for item in items {
            let whole: serde_json::Value = serde_json::from_str(item).unwrap();
            let (id, keyspaced) = id_of(item).unwrap();
            assert_eq!(id, whole["id"].as_str().unwrap(), "{item}");
            assert_eq!(keyspaced, whole.get("keyspace").is_some(), "{item}");
        }
        for bad in [
            r#"{"id": 3}"#,
            r#"{"id": null}"#,
            r#"{"state": "normal"}"#,
            "{}",
        ] {
            assert!(id_of(bad).is_err(), "{bad}");
        }
    }

    /// Any JSON value, its strings drawn from characters that need escaping or look like JSON.
    fn value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let text = "[\"\\\\{}\\[\\]:, a-c\u{e9}\n\u{1}]{0,6}";
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            (-1e6f64..1e6).prop_map(|f| serde_json::json!(f)),
            text.prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                prop::collection::vec((text, inner), 0..4)
                    .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Whatever members come before and after it, compact or pretty, the id read from the
        /// top-level members is the one a full decode finds.
        #[test]
        fn the_id_read_from_members_is_the_decoded_id(
            before in proptest::collection::vec(("[a-z\"\\\\]{1,4}", value()), 0..4),
            after in proptest::collection::vec(("[a-z\"\\\\]{1,4}", value()), 0..4),
            id in "[\"\\\\a-c\u{e9}-]{0,5}",
            pretty in proptest::bool::ANY,
        ) {
            let mut obj = serde_json::Map::new();
            obj.extend(before.into_iter().filter(|(k, _)| k != "id"));
            obj.insert("id".into(), serde_json::Value::String(id.clone()));
            obj.extend(after.into_iter().filter(|(k, _)| !obj.contains_key(k)).collect::<Vec<_>>());
            let v = serde_json::Value::Object(obj);
            let text = if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) }.unwrap();
            let (got, _) = id_of(&text).unwrap();
            proptest::prop_assert_eq!(got, id);
        }
    }

    /// A compact list as TiCDC writes it, `n` items, the item at `odd` written by `odd_item`.
    fn big_list(n: usize, odd: usize, odd_item: &str) -> String {
        let mut items: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    r#"{{"upstream_id":7,"namespace":"default","id":"cf-{i:06}","state":"normal","checkpoint_tso":1,"checkpoint_time":"t","error":null}}"#
                )
            })
            .collect();
        items[odd] = odd_item.to_string();
        format!(r#"{{"total":{n},"items":[{}]}}"#, items.join(","))
    }

    #[test]
    fn a_large_list_sifted_in_halves_equals_one_pass() {
        let keep = |id: &str| id.ends_with('7');
        let one_pass = |body: &str| {
            sift_items(raw_items(body.as_bytes()).unwrap(), Some(&keep), true).unwrap()
        };
        let n = 12_000;
        // Near the middle: a plain item; a string holding `},{` (the split must not land in
        // it); an array of objects inside an item (nor there).
        // A long item at n/2 holds the middle of the list, in its padding, before the trap.
        let pad = "p".repeat(2000);
        for (odd, proven) in [
            (
                format!(r#"{{"id":"cf-x","pad":"{pad}","state":"normal"}}"#),
                true,
            ),
            (
                format!(
                    r#"{{"id":"cf-y","pad":"{pad}","error":{{"message":"x}},{{\"id\":\"cf-z\"}},{{"}}}}"#
                ),
                false,
            ),
            (
                format!(r#"{{"id":"cf-w","pad":"{pad}","nested":[{{"a":1}},{{"id":"no"}}]}}"#),
                false,
            ),
        ] {
            let body = big_list(n, n / 2, &odd);
            let (at, items_mid) = (body.find(&odd).unwrap(), body.len() / 2);
            assert!(
                at < items_mid && items_mid < at + pad.len(),
                "the middle is in the pad"
            );
            let whole = one_pass(&body);
            let got = sift_listing(body.as_bytes(), Some(&keep), true).unwrap();
            let split = halves(body.as_bytes(), Some(&keep), true);
            assert_eq!(
                split.is_some(),
                proven,
                "the split is proven only between items"
            );
            let mut want = whole;
            want.kept.sort_by(|a, b| a.id.cmp(&b.id));
            want.others.sort();
            assert_eq!(got.kept, want.kept);
            assert_eq!(got.others, want.others);
            assert_eq!(got.others.len() + got.kept.len(), n);
        }
        // A fault in the second half is an error, as in one pass.
        let mut body = big_list(n, n - 2, r#"{"state":"normal"}"#);
        assert!(sift_listing(body.as_bytes(), Some(&keep), true).is_err());
        body = big_list(n, n - 2, "{}").replace("{},", "{},,");
        assert!(sift_listing(body.as_bytes(), Some(&keep), true).is_err());
        body = big_list(n, 1, "{}").replace("]}", ",]}");
        assert!(sift_listing(body.as_bytes(), Some(&keep), true).is_err());
    }

    #[test]
    fn malformed_lists_are_errors() {
        for bad in [
            r#"{"items": [{"state": "normal"}]}"#,
            r#"{"items": [{"id": 3}]}"#,
            r#"{"items": {}}"#,
            r#"{"items": [] } x"#,
            r#"[]"#,
        ] {
            assert!(
                sift_listing(bad.as_bytes(), Some(&|_| true), true).is_err(),
                "{bad}"
            );
            assert!(sift_listing(bad.as_bytes(), None, true).is_err(), "{bad}");
        }
    }
}
