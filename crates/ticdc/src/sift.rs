//! Sifting a changefeed list by id as it arrives: a scan that follows strings and nesting splits
//! the items chunk by chunk, the id of each is read from its first members without decoding the
//! item, and only the items the caller keeps are decoded in full. A shared cluster's list of
//! 100,000 then costs about one scan of its text and a copy of each id (see `Ids`), mostly while
//! the body is still arriving, and is never held whole. (Decoding every item into a borrowed
//! struct was measured at twice the time: matching every key and number costs more than the
//! scan.)

use serde_json::value::RawValue;
use std::borrow::Cow;

use super::client::MAX_BODY;
use super::ids::Ids;
use super::models::ChangefeedCommonInfo;

/// A changefeed list sifted by id (see [`super::Client::list_where`]).
#[derive(Debug, Default)]
pub struct Listing {
    /// The items kept, in full, sorted by id.
    pub kept: Vec<ChangefeedCommonInfo>,
    /// The ids of the other items, sorted (empty unless asked for).
    pub others: Ids,
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

/// Sift the whole body of `GET /changefeeds`: `{"total": n, "items": [...]}` (see [`Sifter`]).
pub fn sift_listing(body: &[u8], keep: Keep<'_>, other_ids: bool) -> serde_json::Result<Listing> {
    let mut s = Sifter::new(keep, other_ids);
    s.feed(body)?;
    s.finish()
}

/// Sift items already split out of a list (a body of another shape than TiCDC's, see
/// [`Sifter`]).
fn sift_items<'a>(
    items: impl IntoIterator<Item = &'a RawValue>,
    keep: Keep<'_>,
    other_ids: bool,
) -> serde_json::Result<Listing> {
    let mut out = Listing::default();
    for raw in items {
        out.take(raw.get(), keep, other_ids)?;
    }
    Ok(out)
}

impl Listing {
    /// Sift one item: keep it whole, or only its id.
    fn take(&mut self, text: &str, keep: Keep<'_>, other_ids: bool) -> serde_json::Result<()> {
        match keep {
            Some(_) => {
                let (id, keyspaced) = id_of(text)?;
                self.take_known(&id, keyspaced, text.as_bytes(), keep, other_ids)
            }
            None => self.decode(text.as_bytes()),
        }
    }

    /// Sift one item whose id was read: keep it whole, or only its id.
    fn take_known(
        &mut self,
        id: &str,
        keyspaced: bool,
        item: &[u8],
        keep: Keep<'_>,
        other_ids: bool,
    ) -> serde_json::Result<()> {
        self.keyspaced |= keyspaced;
        match keep {
            Some(keep) if !keep(id) => {
                if other_ids {
                    self.others.push(id);
                }
                Ok(())
            }
            _ => self.decode(item),
        }
    }

    fn decode(&mut self, item: &[u8]) -> serde_json::Result<()> {
        let item: ChangefeedCommonInfo = serde_json::from_slice(item)?;
        self.keyspaced |= item.keyspace.is_some();
        self.kept.push(item);
        Ok(())
    }

    fn sorted(mut self) -> Listing {
        self.kept.sort_by(|a, b| a.id.cmp(&b.id));
        self.others.sort();
        self
    }
}

/// A changefeed list sifted as its body arrives, chunk by chunk, so a large list is never held
/// whole and is sifted while the rest of it is still on the wire.
///
/// A body as TiCDC writes it (`{"total":N,"items":[` then the items; gin's compact JSON) is
/// split into items by a scan that follows strings and nesting; an item the caller keeps is
/// decoded in full, of the others only the id is read (see [`id_of`]). Of an item not kept,
/// the scan checks the shape (UTF-8, strings closed, brackets matched, an object with a
/// string `id`) but not every token. A body of any other shape is collected and decoded by
/// serde_json, which words any error.
pub struct Sifter<'k> {
    keep: Keep<'k>,
    other_ids: bool,
    at: At,
    /// The head read so far, an item begun in an earlier chunk, or (`At::Whole`) the body.
    buf: Vec<u8>,
    scan: Scan,
    fed: usize,
    out: Listing,
}

/// Where a [`Sifter`] is in the body.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum At {
    /// Before the first item, still reading `{"total":N,"items":[`.
    Head,
    /// Before an item; `need`: after a comma, so `]` may not come.
    Item { need: bool },
    /// Inside an item (its start is in `buf`).
    InItem,
    /// After an item: `,` or `]`.
    Comma,
    /// After `]`: the closing `}`.
    Tail,
    /// After the closing `}`: only whitespace.
    End,
    /// Not TiCDC's shape: the body is collected for serde_json.
    Whole,
}

impl<'k> Sifter<'k> {
    pub fn new(keep: Keep<'k>, other_ids: bool) -> Self {
        Sifter {
            keep,
            other_ids,
            at: At::Head,
            buf: Vec::new(),
            scan: Scan::default(),
            fed: 0,
            out: Listing::default(),
        }
    }

    /// The next bytes of the body.
    pub fn feed(&mut self, chunk: &[u8]) -> serde_json::Result<()> {
        use serde::de::Error as _;
        self.fed += chunk.len();
        // The client's limit on any body, checked as the list arrives.
        if self.fed > MAX_BODY {
            return Err(serde_json::Error::custom(format!(
                "response body larger than {} MiB; refusing it",
                MAX_BODY >> 20
            )));
        }
        match self.at {
            At::Head => {
                self.buf.extend_from_slice(chunk);
                match head_len(&self.buf) {
                    Head::Partial => Ok(()),
                    Head::Other => {
                        self.at = At::Whole;
                        Ok(())
                    }
                    Head::Done(n, total) => {
                        if self.other_ids {
                            // Room for the ids at once (about 24 bytes each) rather than by
                            // doubling, which copies them into memory not touched before. A
                            // hostile `total` is bounded by what a body may hold: an item has
                            // more than 32 bytes.
                            let room = total.min((MAX_BODY / 32) as u64) as usize;
                            self.out.others.reserve(room, room * 24);
                        }
                        let read = std::mem::take(&mut self.buf);
                        self.at = At::Item { need: false };
                        self.run(&read[n..])
                    }
                }
            }
            At::Whole => {
                self.buf.extend_from_slice(chunk);
                Ok(())
            }
            At::InItem => match self.scan.run(chunk)? {
                None => {
                    self.buf.extend_from_slice(chunk);
                    Ok(())
                }
                Some(end) => {
                    let mut item = std::mem::take(&mut self.buf);
                    item.extend_from_slice(&chunk[..end]);
                    self.item(&item)?;
                    item.clear();
                    self.buf = item;
                    self.at = At::Comma;
                    self.run(&chunk[end..])
                }
            },
            _ => self.run(chunk),
        }
    }

    /// Sift `b`, which starts between tokens (not inside an item).
    fn run(&mut self, b: &[u8]) -> serde_json::Result<()> {
        let mut i = 0;
        loop {
            i = skip_ws(b, i);
            let Some(&c) = b.get(i) else {
                return Ok(());
            };
            // Most items: TiCDC's own form, read in one pass.
            let fast = match (self.at, c) {
                (At::Item { .. }, b'{') if self.keep.is_some() => plain(&b[i..]),
                _ => None,
            };
            self.at = match (self.at, c) {
                (At::Item { .. }, _) if fast.is_some() => {
                    let (len, id, keyspaced) = fast.expect("just read");
                    let item = &b[i..i + len];
                    // ASCII, as `plain` checked.
                    let id = std::str::from_utf8(id).map_err(serde::de::Error::custom)?;
                    self.out
                        .take_known(id, keyspaced, item, self.keep, self.other_ids)?;
                    i += len;
                    At::Comma
                }
                (At::Item { .. }, b'{') => {
                    self.scan = Scan::default();
                    let Some(len) = self.scan.run(&b[i..])? else {
                        self.buf.extend_from_slice(&b[i..]);
                        self.at = At::InItem;
                        return Ok(());
                    };
                    self.item(&b[i..i + len])?;
                    i += len;
                    At::Comma
                }
                (At::Item { need: false } | At::Comma, b']') => {
                    i += 1;
                    At::Tail
                }
                (At::Comma, b',') => {
                    i += 1;
                    At::Item { need: true }
                }
                (At::Tail, b'}') => {
                    i += 1;
                    At::End
                }
                (at, c) => return Err(unexpected(at, c)),
            };
        }
    }

    fn item(&mut self, item: &[u8]) -> serde_json::Result<()> {
        use serde::de::Error as _;
        let text = std::str::from_utf8(item)
            .map_err(|e| serde_json::Error::custom(format!("a list item is not UTF-8: {e}")))?;
        self.out.take(text, self.keep, self.other_ids)
    }

    /// The list, once the whole body was fed.
    pub fn finish(self) -> serde_json::Result<Listing> {
        use serde::de::Error as _;
        match self.at {
            At::End => Ok(self.out.sorted()),
            At::Whole | At::Head => {
                Ok(sift_items(raw_items(&self.buf)?, self.keep, self.other_ids)?.sorted())
            }
            _ => Err(serde_json::Error::custom(
                "the list ends before its closing `]}`",
            )),
        }
    }
}

/// An item written exactly as TiCDC writes one with no error, every string plain ASCII:
/// `{"upstream_id":N,"namespace":"…","id":"…","state":"…","checkpoint_tso":N,
/// "checkpoint_time":"…","error":null}` (tiflow v8.5.0 `cdc/api/v2/model.go`), or with
/// `"id":"…","keyspace":"…"` in that order (pingcap/ticdc `api/v2/model.go`). Its length, its
/// id, and whether it names a keyspace; `None` for any other form or an item cut off by the
/// end of `b`, which the general scan then reads. Every byte is checked against that form.
fn plain(b: &[u8]) -> Option<(usize, &[u8], bool)> {
    let mut p = Plain { b, i: 0 };
    p.lit(br#"{"upstream_id":"#)?;
    p.number()?;
    let (id, keyspaced) = if p.lit(br#","namespace":""#).is_some() {
        p.string()?;
        p.lit(br#","id":""#)?;
        (p.string()?, false)
    } else {
        p.lit(br#","id":""#)?;
        let id = p.string()?;
        p.lit(br#","keyspace":""#)?;
        p.string()?;
        (id, true)
    };
    p.lit(br#","state":""#)?;
    p.string()?;
    p.lit(br#","checkpoint_tso":"#)?;
    p.number()?;
    p.lit(br#","checkpoint_time":""#)?;
    p.string()?;
    p.lit(br#","error":null}"#)?;
    Some((p.i, id, keyspaced))
}

/// A cursor for [`plain`].
struct Plain<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Plain<'a> {
    fn lit<const N: usize>(&mut self, want: &[u8; N]) -> Option<()> {
        let end = self.i + N;
        let got: &[u8; N] = self.b.get(self.i..end)?.try_into().ok()?;
        (got == want).then(|| self.i = end)
    }

    /// An unsigned integer as JSON writes one (no leading zero).
    fn number(&mut self) -> Option<()> {
        let digits = self.b[self.i..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        let leading_zero = digits > 1 && self.b[self.i] == b'0';
        // A number cut off by the end of the chunk is not known whole.
        if digits == 0 || leading_zero || self.i + digits == self.b.len() {
            return None;
        }
        self.i += digits;
        Some(())
    }

    /// The rest of a string (its opening quote read) of printable ASCII with no escape, and
    /// its closing quote; its text.
    fn string(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        self.i = plain_ascii_end(self.b, start);
        let text = &self.b[start..self.i];
        self.lit(b"\"")?;
        Some(text)
    }
}

fn unexpected(at: At, c: u8) -> serde_json::Error {
    use serde::de::Error as _;
    let want = match at {
        At::Item { need: true } => "a list item",
        At::Item { need: false } => "a list item or `]`",
        At::Comma => "`,` or `]` after a list item",
        At::Tail => "`}` after the list's items",
        _ => "the end of the body",
    };
    serde_json::Error::custom(format!(
        "expected {want}, found `{}`",
        (c as char).escape_default()
    ))
}

enum Head {
    /// `{"total":N,"items":[`, this long, and N.
    Done(usize, u64),
    /// So far a beginning of it.
    Partial,
    /// Something else.
    Other,
}

/// Whether `b` opens as TiCDC writes a list (`{"total":N,"items":[`, compact).
fn head_len(b: &[u8]) -> Head {
    const OPEN: &[u8] = br#"{"total":"#;
    const ITEMS: &[u8] = br#","items":["#;
    let starts = |got: &[u8], want: &[u8]| {
        let n = want.len().min(got.len());
        want[..n] == got[..n]
    };
    if !starts(b, OPEN) {
        return Head::Other;
    }
    if b.len() <= OPEN.len() {
        return Head::Partial;
    }
    let rest = &b[OPEN.len()..];
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits > 20 {
        return Head::Other;
    }
    if digits == rest.len() {
        return Head::Partial;
    }
    if digits == 0 || !starts(&rest[digits..], ITEMS) {
        return Head::Other;
    }
    if rest.len() - digits < ITEMS.len() {
        return Head::Partial;
    }
    let total = std::str::from_utf8(&rest[..digits])
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    Head::Done(OPEN.len() + digits + ITEMS.len(), total)
}

/// Follows one item through strings and nesting to its closing brace, across chunks.
#[derive(Default)]
struct Scan {
    depth: u32,
    /// One bit per open bracket, 1 for `{`: a `]` cannot close a `{`.
    braces: u128,
    in_str: bool,
    /// The last chunk ended just after a backslash inside a string.
    escaped: bool,
}

impl Scan {
    /// Scan `b`, the item's next bytes; the index just past the item's end, if `b` holds it.
    fn run(&mut self, b: &[u8]) -> serde_json::Result<Option<usize>> {
        use serde::de::Error as _;
        let mut i = 0;
        if self.escaped && !b.is_empty() {
            self.escaped = false;
            i = 1;
        }
        while i < b.len() {
            if self.in_str {
                i = quote_or_backslash(b, i);
                if i == b.len() {
                    return Ok(None);
                }
                if b[i] == b'"' {
                    self.in_str = false;
                    i += 1;
                } else if i + 1 < b.len() {
                    i += 2;
                } else {
                    self.escaped = true;
                    return Ok(None);
                }
                continue;
            }
            i = structural(b, i);
            match b.get(i) {
                None => return Ok(None),
                Some(b'"') => self.in_str = true,
                Some(&open @ (b'{' | b'[')) => {
                    if self.depth == 128 {
                        return Err(serde_json::Error::custom(
                            "a list item nests more than 128 deep",
                        ));
                    }
                    self.braces = self.braces << 1 | u128::from(open == b'{');
                    self.depth += 1;
                }
                Some(&close) => {
                    if self.depth == 0 || (self.braces & 1 == 1) != (close == b'}') {
                        return Err(serde_json::Error::custom(format!(
                            "unmatched `{}` in a list item",
                            close as char
                        )));
                    }
                    self.braces >>= 1;
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Ok(Some(i + 1));
                    }
                }
            }
            i += 1;
        }
        Ok(None)
    }
}

/// Eight bytes at a time: a word with every byte `c`.
const fn splat(c: u8) -> u64 {
    0x0101_0101_0101_0101 * c as u64
}

/// The high bit of each byte of `w` that is zero. Of several such masks or-ed, the lowest set
/// bit is always a true zero byte (a false one can only follow a true one).
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(splat(1)) & !w & splat(0x80)
}

fn word(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().expect("eight bytes"))
}

/// The index of the first byte in `b` from `i` that is not printable ASCII or is `"` or `\`,
/// else `b.len()`.
fn plain_ascii_end(b: &[u8], mut i: usize) -> usize {
    while i + 8 <= b.len() {
        let w = word(b, i);
        // Bytes below 0x20: subtracting 0x20 borrows into their high bit (a borrow can only
        // mark bytes above a true one); bytes of 0x80 and above have it already.
        let m = zero_bytes(w ^ splat(b'"'))
            | zero_bytes(w ^ splat(b'\\'))
            | (w.wrapping_sub(splat(0x20)) & !w & splat(0x80))
            | (w & splat(0x80));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c))
        .unwrap_or(b.len() - i)
}

/// The index of the first `"` or `\` in `b` from `i`, else `b.len()`. Inside a string, eight
/// bytes at a time: the strings of a list item are short, so a call to memchr costs more.
fn quote_or_backslash(b: &[u8], mut i: usize) -> usize {
    while i + 8 <= b.len() {
        let w = word(b, i);
        let m = zero_bytes(w ^ splat(b'"')) | zero_bytes(w ^ splat(b'\\'));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\')
        .unwrap_or(b.len() - i)
}

/// The index of the first `"`, `{`, `}`, `[` or `]` in `b` from `i`, else `b.len()`. Setting
/// bit 5 makes `[` a `{` and `]` a `}` (and changes no other byte into them).
fn structural(b: &[u8], mut i: usize) -> usize {
    let is = |c: u8| matches!(c, b'"' | b'{' | b'}' | b'[' | b']');
    while i + 8 <= b.len() {
        let w = word(b, i);
        let folded = w | splat(0x20);
        let m = zero_bytes(w ^ splat(b'"'))
            | zero_bytes(folded ^ splat(b'{'))
            | zero_bytes(folded ^ splat(b'}'));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + b[i..].iter().position(|&c| is(c)).unwrap_or(b.len() - i)
}

/// The `id` of one list item (its shape already checked) and whether it names a `keyspace`,
/// read from its top-level members up to the id and the one after it. tiflow's
/// `ChangefeedCommonInfo` (v8.5.0 `cdc/api/v2/model.go`) writes `namespace` before the id,
/// pingcap/ticdc's (`api/v2/model.go`, v8.5.7-release.1 and master) `keyspace` right after it,
/// so the members further on are never looked at.
fn id_of(item: &str) -> serde_json::Result<(Cow<'_, str>, bool)> {
    use serde::de::Error as _;
    let mut keyspaced = false;
    let mut members = members(item);
    while let Some((key, value)) = members.next() {
        let key = unescape(key)?;
        if key == "keyspace" {
            keyspaced = true;
        } else if key == "id" {
            if !value.starts_with('"') {
                return Err(serde_json::Error::custom(format!(
                    "invalid type: `{value}`, expected the changefeed id as a string"
                )));
            }
            if let Some((next, _)) = members.next() {
                keyspaced |= unescape(next)? == "keyspace";
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
    while i < b.len() {
        i = quote_or_backslash(b, i);
        match b.get(i) {
            Some(b'"') => return i + 1,
            Some(_) => i += 2,
            None => break,
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
        assert_eq!(l.others.iter().collect::<Vec<_>>(), ["c"]);
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
            r#"{"upstream_id":1,"id":"h2","keyspace":"ks","state":"normal"}"#,
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

    /// A compact list as TiCDC writes it, with items that trip a naive split: strings holding
    /// `},{`, `]`, `\\` and `\"`; nested objects and arrays; a multi-byte character; an escape
    /// in the id.
    fn awkward_list(n: usize) -> String {
        let items: Vec<String> = (0..n)
            .map(|i| match i % 9 {
                0 => format!(
                    r#"{{"upstream_id":7,"namespace":"default","id":"cf-{i:05}","state":"normal","checkpoint_tso":1,"checkpoint_time":"t","error":null}}"#
                ),
                1 => format!(
                    r#"{{"upstream_id":7,"namespace":"default","id":"cf-{i:05}","state":"failed","checkpoint_tso":1,"checkpoint_time":"t","error":{{"addr":"a","code":"CDC:E","message":"x}},{{\"id\":\"no\"}},{{] \\"}}}}"#
                ),
                2 => format!(
                    r#"{{"upstream_id":7,"keyspace":"ks","id":"cf-\u0041{i:05}","state":"normal","checkpoint_tso":1,"checkpoint_time":"t","error":null,"x":[[1,{{"id":"no"}}],"]"]}}"#
                ),
                3 => format!(r#"{{"id":"cf-é{i:05}","state":"normal","checkpoint_tso":1,"checkpoint_time":"t\"é","error":null}}"#),
                4 => format!(r#"{{"namespace":"default","id":"cf-{i:05}"}}"#),
                // As ticdc writes an item: the keyspace after the id.
                5 => format!(
                    r#"{{"upstream_id":7,"id":"cf-{i:05}","keyspace":"ks","state":"normal","checkpoint_tso":0,"checkpoint_time":"t","error":null}}"#
                ),
                // Near misses of that form, read by the general scan.
                6 => format!(
                    r#"{{"upstream_id":7,"namespace":"default","id":"cf-{i:05}","state":"normal","checkpoint_tso": 15,"checkpoint_time":"t","error":null}}"#
                ),
                7 => format!(
                    r#"{{"upstream_id":7,"namespace":"déf","id":"cf-{i:05}","state":"normal","checkpoint_tso":1,"checkpoint_time":"t","error":null}}"#
                ),
                _ => format!(
                    r#"{{"upstream_id":7,"namespace":"default","id":"cf-{i:05}","state":"normal","checkpoint_tso":1,"checkpoint_time":"t\t","error":null,"more":1}}"#
                ),
            })
            .collect();
        format!(r#"{{"total":{n},"items":[{}]}}"#, items.join(","))
    }

    /// What serde_json makes of a list, sifted: the oracle of the scan.
    fn by_serde(body: &[u8], keep: Keep<'_>) -> Listing {
        sift_items(raw_items(body).unwrap(), keep, true)
            .unwrap()
            .sorted()
    }

    fn fed(body: &[u8], cuts: &[usize], keep: Keep<'_>) -> serde_json::Result<Listing> {
        let mut s = Sifter::new(keep, true);
        let mut at = 0;
        for &cut in cuts {
            let cut = cut.clamp(at, body.len());
            s.feed(&body[at..cut])?;
            at = cut;
        }
        s.feed(&body[at..])?;
        s.finish()
    }

    fn same(a: &Listing, b: &Listing) -> bool {
        a.kept == b.kept && a.others == b.others && a.keyspaced == b.keyspaced
    }

    #[test]
    fn a_list_fed_in_chunks_of_any_size_sifts_as_serde_reads_it() {
        let keep = |id: &str| id.ends_with('3') || id.ends_with('7');
        let body = awkward_list(40);
        let b = body.as_bytes();
        let want = by_serde(b, Some(&keep));
        assert_eq!(want.kept.len() + want.others.len(), 40);
        assert!(
            want.others.iter().any(|id| id == "cf-A00002"),
            "escape decoded"
        );
        for size in 1..=64 {
            let cuts: Vec<usize> = (size..b.len()).step_by(size).collect();
            let got = fed(b, &cuts, Some(&keep)).unwrap();
            assert!(same(&got, &want), "chunks of {size}");
            let all = fed(b, &cuts, None).unwrap();
            assert!(same(&all, &by_serde(b, None)), "chunks of {size}, all kept");
        }
    }

    proptest::proptest! {
        /// Cut anywhere, any number of times, the sift is the same.
        #[test]
        fn a_list_cut_anywhere_sifts_the_same(
            n in 0usize..12,
            cuts in proptest::collection::vec(0usize..2000, 0..8),
        ) {
            let body = awkward_list(n);
            let mut cuts = cuts;
            cuts.sort();
            let keep = |id: &str| id.ends_with('1');
            let got = fed(body.as_bytes(), &cuts, Some(&keep)).unwrap();
            proptest::prop_assert!(same(&got, &by_serde(body.as_bytes(), Some(&keep))));
        }
    }

    #[test]
    fn a_body_of_another_shape_is_read_by_serde() {
        // Pretty-printed, or the keys in another order: collected whole, same answer.
        let keep = |id: &str| id != "c";
        let compact = awkward_list(6);
        let v: serde_json::Value = serde_json::from_str(&compact).unwrap();
        let reordered = format!(r#"{{"items":{},"total":6}}"#, v["items"]);
        for body in [
            BODY.to_string(),
            serde_json::to_string_pretty(&v).unwrap(),
            reordered,
        ] {
            let got = fed(body.as_bytes(), &[3, 10], Some(&keep)).unwrap();
            assert!(
                same(&got, &by_serde(body.as_bytes(), Some(&keep))),
                "{body}"
            );
        }
    }

    #[test]
    fn a_compact_list_that_breaks_off_or_is_malformed_is_an_error() {
        let keep = |id: &str| id.ends_with('9');
        let good = awkward_list(12);
        let broken = [
            good[..good.len() - 1].to_string(),
            good[..good.len() / 2].to_string(),
            good.replacen("},{", "},,{", 1),
            good.replacen("},{", "}{", 1),
            good.replace("]}", ",]}"),
            good.replace("]}", "]} x"),
            good.replace("]}", "]"),
            good.replacen(r#""id":"cf-00004""#, r#""id":4"#, 1),
            good.replacen(r#""id":"cf-00004""#, r#""di":"cf-00004""#, 1),
            good.replacen(r#""error":null}"#, r#""error":[null}}"#, 1),
            good.replacen(r#""checkpoint_time":"t""#, r#""checkpoint_time":"t"#, 1),
            good.replacen(r#"[{"#, r#"[3,{"#, 1),
            r#"{"total":1,"items":[{"id":"a"}]}}"#.to_string(),
            r#"{"total":1,"items":[{"id":"a"},]}"#.to_string(),
        ];
        for bad in &broken {
            for cuts in [&[][..], &[7, 100, 101][..]] {
                assert!(fed(bad.as_bytes(), cuts, Some(&keep)).is_err(), "{bad}");
            }
        }
        let deep = format!(
            r#"{{"total":1,"items":[{{"id":"a","x":{}}}]}}"#,
            "[".repeat(200)
        );
        assert!(fed(deep.as_bytes(), &[], Some(&keep)).is_err());
        let mut not_utf8 = good.clone().into_bytes();
        let at = good.find('é').unwrap();
        not_utf8[at] = 0xff;
        assert!(fed(&not_utf8, &[], Some(&keep)).is_err());
        // A body larger than the limit is refused as it arrives.
        let mut s = Sifter::new(Some(&keep), true);
        s.feed(br#"{"total":1,"items":[{"id":"#).unwrap();
        let err = s.feed(&vec![b' '; MAX_BODY]).unwrap_err();
        assert!(err.to_string().contains("larger than 64 MiB"), "{err}");
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
