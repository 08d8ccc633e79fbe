//! Sifting a changefeed list by id: each item is first skipped over as raw JSON and only its
//! `id` (and whether it names a `keyspace`) decoded; an item the caller keeps is then decoded in
//! full. A shared cluster's list of 100,000 costs about two scans of its text and one string
//! per id. (A single-pass visitor keeping each field raw until the id is known was tried: no
//! faster, as parsing the keys costs what the second scan does.)

use std::borrow::Cow;

use serde_json::value::RawValue;

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

/// Only the fields an item is sifted by, borrowed from the body where possible.
#[derive(serde::Deserialize)]
struct Keyed<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(default)]
    keyspace: Option<serde::de::IgnoredAny>,
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

/// Which ids a sift keeps; `None` keeps every item (each is then decoded once, in full).
pub type Keep<'a> = Option<&'a (dyn Fn(&str) -> bool + Sync)>;

/// Sift the body of `GET /changefeeds`: `{"total": n, "items": [...]}`.
pub fn sift_listing(body: &[u8], keep: Keep<'_>, other_ids: bool) -> serde_json::Result<Listing> {
    let mut out = Listing::default();
    let Some(keep) = keep else {
        for raw in raw_items(body)? {
            let item: ChangefeedCommonInfo = serde_json::from_str(raw.get())?;
            out.keyspaced |= item.keyspace.is_some();
            out.kept.push(item);
        }
        out.kept.sort_by(|a, b| a.id.cmp(&b.id));
        return Ok(out);
    };
    for raw in raw_items(body)? {
        let key: Keyed = serde_json::from_str(raw.get())?;
        out.keyspaced |= key.keyspace.is_some();
        if keep(&key.id) {
            out.kept.push(serde_json::from_str(raw.get())?);
        } else if other_ids {
            out.others.push(key.id.into_owned());
        }
    }
    out.kept.sort_by(|a, b| a.id.cmp(&b.id));
    out.others.sort_unstable();
    Ok(out)
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
