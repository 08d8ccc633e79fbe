//! The body of `GET /api/v2/changefeeds`, written by hand.
//!
//! At 100,000 changefeeds serde cost most of the answer. The fixed part of an item (namespace
//! and id, escaped as Go's `encoding/json` escapes them) is kept on the changefeed
//! (`Cf::list_key`). Per request, a snapshot taken under the state's lock settles each
//! changefeed and keeps its state, checkpoint and rare error; the body is written from it after
//! the lock is let go, in pieces. Field order is `ChangefeedCommonInfo`'s:
//! tiflow v8.5.0 `cdc/api/v2/model.go` writes `upstream_id`, `namespace`, `id`; pingcap/ticdc
//! `api/v2/model.go` (v8.5.7-release.1 and master) writes `upstream_id`, `id`, `keyspace`.

use std::borrow::Cow;
use std::time::Instant;

use axum::body::Bytes;

use super::gojson::go_compact;
use super::state::{Cf, State};
use super::time as t;
use super::SimProfile;
use crate::ticdc::Version;

/// An item without its opening and key: state, checkpoint, time, `"error":null}` and the comma
/// (≤ 106 bytes), plus room for a key of 64; a piece's buffer is sized for the items it will
/// hold, so it never grows (and is never copied) for the usual lists.
const ITEM: usize = 170;

/// How an item opens, as classic (scope first, `namespace`) and new-architecture (id first,
/// then `keyspace`) servers write it; `UPSTREAM_ID` spelled out (a test checks it). Constants,
/// so they are copied inline.
const OPEN_NS: &[u8; 47] = br#"{"upstream_id":7340000000000000001,"namespace":"#;
const OPEN_ID: &[u8; 40] = br#"{"upstream_id":7340000000000000001,"id":"#;

/// The part of a list item that never changes: the scope and the id, each escaped as Go
/// escapes them, and where the id begins.
#[derive(Debug, Clone)]
pub struct ListKey {
    text: Box<[u8]>,
    id_at: usize,
    /// The item's opening up to the state's value, for the form first asked (a simulator
    /// answers in one form).
    opening: std::sync::OnceLock<(bool, Box<[u8]>)>,
}

impl ListKey {
    /// Appends `{"upstream_id":N,"namespace":"<ns>","id":"<id>","state":"` (classic) or
    /// `{"upstream_id":N,"id":"<id>","keyspace":"<ks>","state":"` to `to`.
    fn put_opening(&self, classic: bool, to: &mut Vec<u8>) {
        match self.opening.get_or_init(|| (classic, self.build(classic))) {
            (c, text) if *c == classic => to.extend_from_slice(text),
            _ => to.extend_from_slice(&self.build(classic)),
        }
    }

    fn build(&self, classic: bool) -> Box<[u8]> {
        let (scope, id) = self.text.split_at(self.id_at);
        let mut b = Vec::with_capacity(OPEN_NS.len() + self.text.len() + 24);
        if classic {
            b.extend_from_slice(OPEN_NS);
            b.extend_from_slice(scope);
            b.extend_from_slice(br#","id":"#);
            b.extend_from_slice(id);
        } else {
            b.extend_from_slice(OPEN_ID);
            b.extend_from_slice(id);
            b.extend_from_slice(br#","keyspace":"#);
            b.extend_from_slice(scope);
        }
        b.extend_from_slice(br#","state":""#);
        b.into()
    }
}

pub fn list_key(ns: &str, id: &str) -> ListKey {
    let mut text = go_compact(&ns);
    let id_at = text.len();
    text.extend_from_slice(&go_compact(&id));
    ListKey {
        text: text.into_boxed_slice(),
        id_at,
        opening: std::sync::OnceLock::new(),
    }
}

/// One list request: the scope and the `state` query parameter.
pub struct Query<'a> {
    pub ns: &'a str,
    pub state: &'a str,
    pub profile: &'a SimProfile,
}

/// The items of a list, taken from the state under its lock; written after the lock is let go.
pub struct Rows {
    /// Every item's opening (see [`ListKey`]), one after another: copied here while the
    /// changefeed is in the cache, then read in order, where the cache sees it coming.
    openings: Vec<u8>,
    rows: Vec<Row>,
}

/// What follows an item's opening.
struct Row {
    /// Where the item's opening ends in [`Rows::openings`].
    end: usize,
    /// The state shown, its closing quote and the next field's name.
    state: Cow<'static, [u8]>,
    checkpoint: u64,
    /// The error shown, as JSON; `None` writes `null`.
    error: Option<Vec<u8>>,
}

/// Settles the namespace's changefeeds to `now`/`tso` and takes the items the list shows, in
/// the order it shows them. Cheap, so the state's lock is held briefly however long writing
/// takes.
pub fn snapshot(st: &mut State, q: &Query, now: Instant, tso: u64) -> Rows {
    let classic = q.profile.is_classic();
    let mut taken = Rows {
        openings: Vec::new(),
        rows: Vec::new(),
    };
    let mut take = |cf: &mut Cf| {
        cf.settle(now, tso, q.profile);
        if cf.visible(now) && q.keeps(&cf.state) {
            cf.list_key.put_opening(classic, &mut taken.openings);
            taken.rows.push(Row {
                end: taken.openings.len(),
                state: state_text(&cf.state),
                checkpoint: cf.checkpoint_now(tso),
                error: error_text(cf, classic),
            });
        }
    };
    let cfs = st.namespace_mut(q.ns);
    if classic {
        cfs.for_each(&mut take);
    } else {
        // ticdc answers in map order, the reverse here; the client must sort.
        cfs.rev().for_each(&mut take);
    }
    taken
}

/// Writes the list body (`{"total":N,"items":[…]}`, tiflow v8.5.0 cdc/api/v2/model.go
/// `ListResponse`) of `rows` in pieces of about `piece` bytes, each passed to `emit` as soon
/// as it is written, so a large list is on the wire while the rest is written.
pub fn write(rows: Rows, piece: usize, mut emit: impl FnMut(Bytes)) {
    let Rows { openings, rows } = rows;
    let room =
        |n: usize| Vec::with_capacity(n.saturating_mul(OPEN_NS.len() + ITEM).min(piece) + ITEM);
    let mut buf = room(rows.len() + 1);
    buf.extend_from_slice(format!(r#"{{"total":{},"items":["#, rows.len()).as_bytes());
    // What follows the opening (state, checkpoint, no error): running changefeeds share it,
    // so it is written once and copied.
    let mut tail: (Cow<'static, [u8]>, u64, Vec<u8>) = (Cow::Borrowed(&[]), 0, Vec::new());
    let n = rows.len();
    let mut start = 0;
    for (i, row) in rows.into_iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(&openings[start..row.end]);
        start = row.end;
        if (&tail.0[..], tail.1) != (&row.state[..], row.checkpoint) || tail.2.is_empty() {
            let mut t = row.state.to_vec();
            t.extend_from_slice(&checkpoint_fields(row.checkpoint));
            tail = (row.state.clone(), row.checkpoint, t);
        }
        buf.extend_from_slice(&tail.2);
        buf.extend_from_slice(row.error.as_deref().unwrap_or(b"null"));
        buf.push(b'}');
        if buf.len() >= piece {
            let next = room(n - i);
            emit(Bytes::from(std::mem::replace(&mut buf, next)));
        }
    }
    buf.extend_from_slice(b"]}");
    emit(Bytes::from(buf));
}

/// `<tso>,"checkpoint_time":"<time>","error":`: what follows the state.
fn checkpoint_fields(cp: u64) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(itoa::Buffer::new().format(cp).as_bytes());
    f.extend_from_slice(br#","checkpoint_time":""#);
    f.extend_from_slice(t::custom(t::physical(cp)).as_bytes());
    f.extend_from_slice(br#"","error":"#);
    f
}

impl Query<'_> {
    /// Does the `state` parameter keep a changefeed in `raw` state? tiflow v8.5.0
    /// cdc/api/v2/changefeed.go `listChangeFeeds` with cdc/model `FeedState.IsNeeded`: "all"
    /// keeps all, a state keeps that state, none keeps the default states (warning and pending
    /// joined them in v7.3).
    fn keeps(&self, raw: &str) -> bool {
        match self.state {
            "" => {
                matches!(raw, "normal" | "stopped" | "failed" | "")
                    || (self.profile.version() >= Version::new(7, 3, 0)
                        && matches!(raw, "warning" | "pending"))
            }
            "all" => true,
            f => f == raw,
        }
    }
}

/// The state shown (pending as warning, none as normal), its closing quote and the next
/// field's name.
fn state_text(raw: &str) -> Cow<'static, [u8]> {
    Cow::Borrowed(match raw {
        "normal" | "" => br#"normal","checkpoint_tso":"#,
        "stopped" => br#"stopped","checkpoint_tso":"#,
        "failed" => br#"failed","checkpoint_tso":"#,
        "warning" | "pending" => br#"warning","checkpoint_tso":"#,
        "finished" => br#"finished","checkpoint_tso":"#,
        other => {
            // A state set by the test hook: escaped like any string, without the quotes.
            let s = go_compact(&other);
            let mut b = s[1..s.len() - 1].to_vec();
            b.extend_from_slice(br#"","checkpoint_tso":"#);
            return Cow::Owned(b);
        }
    })
}

/// The error, else the warning; classic hides it while normal, stopped, finished or removed
/// (tiflow v8.5.0 cdc/api/v2/changefeed.go `listChangeFeeds`, `shouldShowRunningError`).
fn error_text(cf: &Cf, classic: bool) -> Option<Vec<u8>> {
    let err = cf.error.as_ref().or(cf.warning.as_ref())?;
    let hidden = classic && matches!(&*cf.state, "normal" | "stopped" | "finished" | "removed");
    (!hidden).then(|| go_compact(&super::routes::run_err(err, true, false)))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{json, Value};

    use super::*;
    use crate::routes::run_err;
    use crate::state::{Op, RunErr, UPSTREAM_ID};
    use crate::ticdc::models::RunningError;

    /// The whole list body in one piece.
    fn body(st: &mut State, q: &Query, now: Instant, tso: u64) -> Bytes {
        let mut whole = Bytes::new();
        let rows = snapshot(st, q, now, tso);
        write(rows, usize::MAX, |piece| whole = piece);
        whole
    }

    /// The serde-based list this module replaced, kept as the oracle.
    fn oracle(st: &mut State, q: &Query, now: Instant, tso: u64) -> Vec<u8> {
        #[derive(serde::Serialize)]
        struct ListItem<'a> {
            upstream_id: u64,
            #[serde(skip_serializing_if = "Option::is_none")]
            namespace: Option<&'a str>,
            id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            keyspace: Option<&'a str>,
            state: &'a str,
            checkpoint_tso: u64,
            checkpoint_time: String,
            error: Option<RunningError>,
        }
        #[derive(serde::Serialize)]
        struct List<T> {
            total: usize,
            items: Vec<T>,
        }
        let (ns, filter, classic) = (q.ns.to_string(), q.state, q.profile.is_classic());
        let default_states: &[&str] = if q.profile.version() >= Version::new(7, 3, 0) {
            &["normal", "stopped", "failed", "warning", "pending"]
        } else {
            &["normal", "stopped", "failed"]
        };
        let from = (ns.clone(), String::new());
        for ((cns, _), cf) in st.cfs.range_mut(from.clone()..) {
            if *cns != ns {
                break;
            }
            cf.settle(now, tso, q.profile);
        }
        let mut items = Vec::new();
        let mut last_time = (0u64, String::new());
        for ((cns, _), cf) in st.cfs.range(from..) {
            if *cns != ns {
                break;
            }
            if !cf.visible(now) {
                continue;
            }
            let raw = &*cf.state;
            let keep = match filter {
                "" => default_states.contains(&raw) || raw.is_empty(),
                "all" => true,
                f => f == raw,
            };
            if !keep {
                continue;
            }
            let shown = match raw {
                "" => "normal",
                "pending" => "warning",
                s => s,
            };
            let err = cf.error.as_ref().or(cf.warning.as_ref());
            let err = if classic && matches!(raw, "normal" | "stopped" | "finished" | "removed") {
                None
            } else {
                err.map(|e| run_err(e, true, false))
            };
            let cp = cf.checkpoint_now(tso);
            if last_time.0 != t::physical(cp) || last_time.1.is_empty() {
                last_time = (t::physical(cp), t::custom(t::physical(cp)));
            }
            items.push(ListItem {
                upstream_id: UPSTREAM_ID,
                namespace: classic.then_some(cf.ns.as_str()),
                keyspace: (!classic).then_some(cf.ns.as_str()),
                id: cf.id.as_str(),
                state: shown,
                checkpoint_tso: cp,
                checkpoint_time: last_time.1.clone(),
                error: err,
            });
        }
        if !classic {
            items.reverse();
        }
        go_compact(&List {
            total: items.len(),
            items,
        })
    }

    const NASTY: &str =
        "[CDC:ErrSinkURIInvalid]<a href=\"x\">&amp;</a> C:\\dir\n\tcafé 日本 \u{2028}\u{1}";

    fn err(time_ms: u64, code: &str, message: &str) -> Option<Box<RunErr>> {
        Some(Box::new(RunErr {
            time_ms,
            code: code.into(),
            message: message.into(),
        }))
    }

    /// Changefeeds in every state the list distinguishes, in three namespaces.
    fn fixture(p: &SimProfile, now: Instant, tso: u64) -> State {
        let mut st = State::new(p);
        let ms = t::physical(tso);
        let at = |back: u64| t::compose(ms - back, 7);
        let mut put = |ns: &str, id: &str, set: &dyn Fn(&mut Cf)| {
            let mut cf = Cf::new(ns, id, "blackhole://", at(60_000), 0, json!({}));
            set(&mut cf);
            st.cfs.insert((ns.into(), id.into()), cf);
        };
        put("default", "normal", &|_| {});
        put("default", "normal-err", &|cf| {
            cf.error = err(ms - 5, "CDC:ErrX", "old");
        });
        put("default", "stopped", &|cf| {
            cf.state = "stopped".into();
            cf.checkpoint = at(30_000);
            cf.error = err(ms - 9, "CDC:ErrY", "kept");
        });
        put("default", "stopped-zero", &|cf| {
            cf.state = "stopped".into();
            cf.checkpoint = 0;
        });
        put("default", "failed", &|cf| {
            cf.state = "failed".into();
            cf.checkpoint = at(20_000);
            cf.error = err(1_700_000_000_120, "CDC:ErrSinkURIInvalid", NASTY);
        });
        put("default", "warning", &|cf| {
            cf.state = "warning".into();
            cf.warning = err(ms - 1, "CDC:ErrW", "warn <&>");
        });
        put("default", "pending", &|cf| {
            cf.state = "pending".into();
            cf.warning = err(ms - 2, "CDC:ErrP", "pend");
        });
        put("default", "empty-state", &|cf| cf.state = "".into());
        put("default", "finished", &|cf| {
            cf.state = "finished".into();
            cf.checkpoint = at(40_000);
            cf.admin_job_type = 4;
        });
        put("default", "removed", &|cf| {
            cf.state = "removed".into();
            cf.error = err(ms - 3, "CDC:ErrR", "gone");
        });
        put("default", "odd-state", &|cf| {
            cf.state = "odd \"<state>\"".into()
        });
        put("default", "hidden", &|cf| {
            cf.visible_at = Some(now + Duration::from_secs(60));
        });
        put("default", "reaches-target", &|cf| cf.target_ts = at(10_000));
        put("default", "target-ahead", &|cf| {
            cf.target_ts = at(0) + (1 << 30)
        });
        put("default", "stalled", &|cf| {
            cf.checkpoint = at(50_000);
            cf.stalled = true;
        });
        put("default", "pause-due", &|cf| {
            cf.pending.push((now, Op::Pause))
        });
        put("default", "pause-later", &|cf| {
            cf.pending.push((now + Duration::from_secs(60), Op::Pause));
        });
        put("default", "esc<a>&\"b\\", &|cf| cf.state = "failed".into());
        put("default-2", "other-ns", &|_| {});
        put("defaul", "before", &|_| {});
        put("a<b", "scoped", &|cf| cf.state = "stopped".into());
        st
    }

    fn profiles() -> [SimProfile; 3] {
        [
            SimProfile::Classic {
                version: Version::new(8, 5, 0),
            },
            SimProfile::Classic {
                version: Version::new(7, 1, 0),
            },
            SimProfile::Newarch,
        ]
    }

    #[test]
    fn hand_written_list_equals_the_serde_oracle() {
        let now = Instant::now();
        let tso = t::compose(t::now_ms(), 3);
        let filters = [
            "", "all", "stopped", "warning", "pending", "failed", "finished",
        ];
        let scopes = ["default", "default-2", "a<b", "missing"];
        for p in &profiles() {
            for state in filters {
                for ns in scopes {
                    let q = Query {
                        ns,
                        state,
                        profile: p,
                    };
                    let mut a = fixture(p, now, tso);
                    let mut b = fixture(p, now, tso);
                    let want = oracle(&mut a, &q, now, tso);
                    // In one piece, and in pieces of every size down to one item each.
                    let mut pieces = Vec::new();
                    let mut c = fixture(p, now, tso);
                    let rows = snapshot(&mut c, &q, now, tso);
                    write(rows, 1 + ns.len() % 3 * 150, |b| pieces.push(b));
                    assert_eq!(pieces.concat(), body(&mut c, &q, now, tso), "in pieces");
                    let got = body(&mut b, &q, now, tso);
                    assert_eq!(
                        String::from_utf8_lossy(&got),
                        String::from_utf8_lossy(&want),
                        "{} state={state:?} ns={ns}",
                        p.label()
                    );
                    let settled = |s: &State| -> Vec<(String, u64)> {
                        s.cfs
                            .values()
                            .map(|c| (c.state.to_string(), c.checkpoint))
                            .collect()
                    };
                    assert_eq!(settled(&a), settled(&b), "settled the same");
                }
            }
        }
    }

    #[test]
    fn openings_spell_the_upstream_id() {
        let open = |first: &str| format!(r#"{{"upstream_id":{UPSTREAM_ID},"{first}":"#);
        assert_eq!(&OPEN_NS[..], open("namespace").as_bytes());
        assert_eq!(&OPEN_ID[..], open("id").as_bytes());
    }

    #[test]
    fn the_list_shows_what_the_fixture_holds() {
        let now = Instant::now();
        let tso = t::compose(t::now_ms(), 3);
        let p = SimProfile::Classic {
            version: Version::new(8, 5, 0),
        };
        let mut st = fixture(&p, now, tso);
        let q = Query {
            ns: "default",
            state: "all",
            profile: &p,
        };
        let raw = body(&mut st, &q, now, tso);
        let text = std::str::from_utf8(&raw).unwrap();
        assert!(
            text.contains(r#"\u003ca href=\"x\"\u003e\u0026amp;\u003c/a\u003e C:\\dir\n\tcafé"#)
        );
        assert!(text.contains(r#""id":"esc\u003ca\u003e\u0026\"b\\""#));
        let v: Value = serde_json::from_slice(&raw).unwrap();
        let items = v["items"].as_array().unwrap();
        assert_eq!(v["total"], items.len());
        let find = |id: &str| items.iter().find(|i| i["id"] == id).cloned();
        assert!(find("hidden").is_none(), "not visible yet");
        assert!(find("other-ns").is_none() && find("before").is_none());
        assert_eq!(find("reaches-target").unwrap()["state"], "finished");
        assert_eq!(find("pause-due").unwrap()["state"], "stopped");
        assert_eq!(find("pause-later").unwrap()["state"], "normal");
        assert_eq!(find("pending").unwrap()["state"], "warning");
        assert_eq!(find("failed").unwrap()["error"]["message"], NASTY);
        assert_eq!(find("stopped").unwrap()["error"], Value::Null);
        assert_eq!(
            find("stopped-zero").unwrap()["checkpoint_time"],
            "0001-01-01 00:00:00.000"
        );
        let mut none = State::new(&p);
        assert_eq!(
            &body(&mut none, &q, now, tso)[..],
            br#"{"total":0,"items":[]}"#
        );
    }
}
