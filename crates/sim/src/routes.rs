//! HTTP layer: gin-compatible routing, error bodies and the handlers of §3–§4.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use super::config::{self, status_for, ApiErr, SinkKind};
use super::faults::{owner_forwarded, OutageKind, Roll};
use super::filter;
use super::gojson::{self, go_compact};
use super::listing;
use super::sink_check;
use super::state::{self, Cf, Op, CAPTURE_ID, UPSTREAM_ID};
use super::time as t;
use super::SimProfile;
use super::{record, RecordedRequest, Shared};
use crate::ticdc::models::{ChangefeedConfig, ChangefeedInfo, RunningError};
use crate::uri_mask::mask_sink_uri;

type S = State<Arc<Shared>>;
type Res = Result<Response, ApiErr>;

/// Error wrapper so handlers can use `?`; rendered with the profile's status rule.
pub struct Fail(ApiErr, bool);

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        error_response(&self.0, self.1)
    }
}

fn error_response(e: &ApiErr, newarch: bool) -> Response {
    let body = json!({"error_msg": e.text(), "error_code": e.code});
    let buf = indented(&body);
    let status = StatusCode::from_u16(status_for(e, newarch)).unwrap();
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        go_escape(buf),
    )
        .into_response()
}

/// Go's encoder escapes <, > and & inside strings.
/// Outside strings serde_json never writes them, so every byte replaced is inside one.
fn go_escape(buf: Vec<u8>) -> Vec<u8> {
    let special = |b: &u8| matches!(b, b'<' | b'>' | b'&');
    if !buf.iter().any(special) {
        return buf;
    }
    let mut out = Vec::with_capacity(buf.len() + 64);
    for b in buf {
        match b {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            b => out.push(b),
        }
    }
    out
}

fn ok_json(v: &impl serde::Serialize) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        go_compact(v),
    )
        .into_response()
}

/// gin `IndentedJSON`: four-space indentation.
fn indented(v: &impl serde::Serialize) -> Vec<u8> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    v.serialize(&mut ser).expect("json");
    buf
}

fn ok_indented(v: &impl serde::Serialize) -> Response {
    let buf = indented(v);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        go_escape(buf),
    )
        .into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain")],
        "404 page not found",
    )
        .into_response()
}

fn run(sh: &Shared, r: Res) -> Response {
    match r {
        Ok(r) => r,
        Err(e) => Fail(e, !sh.cfg.profile.is_classic()).into_response(),
    }
}

fn query(q: &Option<String>) -> HashMap<String, String> {
    q.as_deref()
        .map(crate::ticdc::mask::parse_query)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// The namespace (classic) or keyspace (newarch) query parameter, default "default".
fn scope(sh: &Shared, q: &HashMap<String, String>) -> String {
    super::keyspace::scope(&sh.cfg, q)
}

/// `ErrChangeFeedNotExists.GenWithStackByArgs(id)`: tiflow v8.5.0 cdc/owner/status_provider.go
/// and cdc/owner/owner.go pass a `model.ChangeFeedID`, whose `String()` (cdc/model/changefeed.go)
/// is `namespace/id`; pingcap/ticdc v8.5.7 coordinator/controller.go `GetChangefeed` passes the
/// display name's `Name` alone.
fn not_exists(profile: &SimProfile, ns: &str, id: &str) -> ApiErr {
    if profile.is_classic() {
        not_exists_named(&format!("{ns}/{id}"))
    } else {
        not_exists_named(id)
    }
}

fn not_exists_named(name: &str) -> ApiErr {
    ApiErr::new(
        "CDC:ErrChangeFeedNotExists",
        format!("changefeed not exists, {name}"),
    )
}

fn check_id(id: &str) -> Result<(), ApiErr> {
    if state::valid_id(id) {
        Ok(())
    } else {
        Err(ApiErr::invalid_param(format!(
            "invalid changefeed_id: {id}"
        )))
    }
}

/// A body decoded as gin's `BindJSON` decodes it (gin binding/json.go `decodeJSON`: the first
/// value only; text after it is never read), errors worded as Go's encoding/json words them and
/// wrapped as tiflow/ticdc wrap them (`WrapError(ErrAPIInvalidParam, err)`).
fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiErr> {
    decode_body(body, gojson::Decode::BindJson)
}

fn decode_body<T: serde::de::DeserializeOwned>(
    body: &Bytes,
    how: gojson::Decode,
) -> Result<T, ApiErr> {
    let v = gojson::decode(body, how)
        .map_err(|e| ApiErr::invalid_param(format!("invalid api parameter: {e}")))?;
    serde_json::from_value(v)
        .map_err(|e| ApiErr::invalid_param(format!("invalid api parameter: {e}")))
}

pub fn router(sh: Arc<Shared>) -> Router {
    let v2 = Router::new()
        .route("/health", get(health))
        .route("/status", get(status))
        .route("/log", post(log))
        .route("/log/redact", post(log_redact))
        .route("/get_all_tables", post(get_all_tables))
        .route("/changefeeds/{id}/move_table", post(move_table))
        .route("/changefeeds/{id}/move_split_table", post(move_table))
        .route(
            "/changefeeds/{id}/split_table_by_region_count",
            post(split_table_by_region_count),
        )
        .route("/changefeeds/{id}/merge_table", post(merge_table))
        .route("/changefeeds/{id}/tables", get(list_tables))
        .route(
            "/changefeeds/{id}/get_dispatcher_count",
            get(get_dispatcher_count),
        )
        .route("/changefeeds", get(list).post(create))
        .route("/changefeeds/{id}", get(get_one).put(update).delete(delete))
        .route("/changefeeds/{id}/pause", post(pause))
        .route("/changefeeds/{id}/resume", post(resume))
        .route("/changefeeds/{id}/meta_info", get(meta_info))
        .route("/changefeeds/{id}/status", get(cf_status))
        .route("/changefeeds/{id}/synced", get(synced))
        .route("/captures", get(captures))
        .route("/captures/{cid}/drain", post(drain))
        .route("/processors", get(processors))
        .route("/processors/{id}/{cid}", get(processor_detail))
        .route("/verify_table", post(verify_table))
        .route("/owner/resign", post(resign))
        .route("/tso", post(tso))
        .route("/unsafe/metadata", get(unsafe_metadata))
        .route("/unsafe/resolve_lock", post(unsafe_resolve_lock))
        .route(
            "/unsafe/service_gc_safepoint",
            axum::routing::delete(unsafe_gc),
        );
    Router::new()
        .route("/status", get(root_status))
        .nest("/api/v2", v2)
        .fallback(fallback)
        .method_not_allowed_fallback(|| async { not_found() })
        .layer(middleware::from_fn_with_state(sh.clone(), front))
        .with_state(sh)
}

/// gin's RedirectTrailingSlash: a known route with an extra '/' is redirected.
async fn fallback(req: Request) -> Response {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') && known_route(path.trim_end_matches('/')) {
        let mut to = path.trim_end_matches('/').to_string();
        if let Some(q) = req.uri().query() {
            to.push('?');
            to.push_str(q);
        }
        let code = if req.method() == Method::GET {
            StatusCode::MOVED_PERMANENTLY
        } else {
            StatusCode::TEMPORARY_REDIRECT
        };
        return (code, [(header::LOCATION, to)]).into_response();
    }
    not_found()
}

fn known_route(p: &str) -> bool {
    let Some(rest) = p.strip_prefix("/api/v2/") else {
        return false;
    };
    let seg: Vec<&str> = rest.split('/').collect();
    matches!(
        seg.as_slice(),
        ["health"]
            | ["status"]
            | ["log"]
            | ["changefeeds"]
            | ["changefeeds", _]
            | [
                "changefeeds",
                _,
                "pause" | "resume" | "meta_info" | "status" | "synced"
            ]
            | [
                "changefeeds",
                _,
                "move_table"
                    | "move_split_table"
                    | "split_table_by_region_count"
                    | "merge_table"
                    | "tables"
                    | "get_dispatcher_count"
            ]
            | ["log", "redact"]
            | ["get_all_tables"]
            | ["captures"]
            | ["captures", _, "drain"]
            | ["processors"]
            | ["processors", _, _]
            | ["verify_table"]
            | ["owner", "resign"]
            | ["tso"]
            | [
                "unsafe",
                "metadata" | "resolve_lock" | "service_gc_safepoint"
            ]
    )
}

/// Routes that check credentials when basic auth is on (§3 last column).
fn auth_checked(method: &Method, path: &str, classic: bool) -> bool {
    let Some(rest) = path.strip_prefix("/api/v2/") else {
        return false;
    };
    let seg: Vec<&str> = rest.split('/').collect();
    match seg.as_slice() {
        ["changefeeds"] => method == Method::POST,
        ["changefeeds", _] => method == Method::PUT || method == Method::DELETE,
        ["changefeeds", _, "pause" | "resume"] => true,
        ["changefeeds", _, "status" | "synced"] => !classic,
        // pingcap/ticdc v8.5.7 api/v2/api.go: the internal table routes that change something.
        ["changefeeds", _, "move_table" | "move_split_table" | "split_table_by_region_count" | "merge_table"] => {
            !classic
        }
        ["unsafe", ..] => true,
        _ => false,
    }
}

fn check_auth(sh: &Shared, headers: &HeaderMap) -> Result<(), ApiErr> {
    let Some((user, pass)) = &sh.cfg.basic_auth else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64_decode(b.trim()))
        .and_then(|s| String::from_utf8(s).ok());
    let Some(given) = given else {
        return Err(ApiErr::new(
            "CDC:ErrCredentialNotFound",
            "credential not found: user name is empty",
        )
        .with_status(401));
    };
    let (u, p) = given.split_once(':').unwrap_or((&given, ""));
    if u != user || p != pass {
        return Err(ApiErr::new(
            "CDC:ErrUnauthorized",
            format!("user {u} unauthorized, error: authentication failed"),
        )
        .with_status(401));
    }
    Ok(())
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = A.iter().position(|a| *a == c)? as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A changefeed id that percent-decodes to invalid UTF-8: Go's router passes the bytes on and
/// the handler refuses the id (400 `ErrAPIInvalidParam` "invalid changefeed_id: …", the bytes
/// shown as U+FFFD by encoding/json); ticdc's GET/status/synced do not validate the id and
/// answer "not exists". axum's `Path<String>` would answer a plain-text 400 instead.
fn non_utf8_id(path: &str, method: &Method, newarch: bool) -> Option<ApiErr> {
    let rest = path.strip_prefix("/api/v2/changefeeds/")?;
    let (raw_id, suffix) = rest.split_once('/').unwrap_or((rest, ""));
    let b = raw_id.as_bytes();
    let mut bytes = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).and_then(|c| hex(*c)),
            b.get(i + 2).and_then(|c| hex(*c)),
        ) {
            (b'%', Some(h), Some(l)) => {
                bytes.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                bytes.push(c);
                i += 1;
            }
        }
    }
    if std::str::from_utf8(&bytes).is_ok() {
        return None;
    }
    let id = String::from_utf8_lossy(&bytes).into_owned();
    let unvalidated = matches!(suffix, "" | "status" | "synced") && *method == Method::GET;
    Some(if newarch && unvalidated {
        not_exists_named(&id)
    } else {
        ApiErr::invalid_param(format!("invalid changefeed_id: {id}"))
    })
}

/// Records, delays, injects faults and checks credentials before routing.
async fn front(State(sh): S, req: Request, next: Next) -> Response {
    // The deadline is taken when the request arrives, so reading the body counts towards it.
    let deadline = std::time::Instant::now() + sh.cfg.latency;
    let (parts, body) = req.into_parts();
    // The body limit is enforced by `limits::layered` (413 before reading); a body that fails
    // to arrive ends the request here instead of being taken as empty.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let path = parts.uri.path().to_string();
    record(
        &sh,
        RecordedRequest {
            method: parts.method.to_string(),
            path: path.clone(),
            query: parts.uri.query().unwrap_or("").to_string(),
            body: String::from_utf8_lossy(&bytes).into_owned(),
        },
    );
    if !sh.cfg.latency.is_zero() {
        super::latency::sleep_until(deadline).await;
    }
    let newarch = !sh.cfg.profile.is_classic();
    if let Some(e) = non_utf8_id(&path, &parts.method, newarch) {
        return error_response(&e, newarch);
    }
    if path.starts_with("/api/v2/") {
        // KeyspaceCheckerMiddleware runs before the authentication middleware (ticdc api/v2/api.go).
        if let Err(e) = super::keyspace::check(&sh.cfg, &parts.method, &path, parts.uri.query()) {
            return error_response(&e, newarch);
        }
        if auth_checked(&parts.method, &path, !newarch) {
            if let Err(e) = check_auth(&sh, &parts.headers) {
                return error_response(&e, newarch);
            }
        }
        start_armed(&sh, &parts.method, &path);
        interleave(&sh, &parts.method, &path);
        if targeted_failure(&sh, &parts.method, &path) {
            return error_response(
                &ApiErr::new(
                    "CDC:ErrInternalServerError",
                    "internal server error (injected fault)",
                )
                .with_status(500),
                newarch,
            );
        }
        if let Some(r) = outage(&sh, &path, newarch) {
            return r;
        }
        if let Some(f) = sh
            .cfg
            .faults
            .as_ref()
            .filter(|_| sh.faults_enabled.load(Ordering::Relaxed))
        {
            let roll = f.roll(&mut sh.fault_rng.lock().unwrap());
            if roll != Roll::None {
                sh.faults_injected.fetch_add(1, Ordering::Relaxed);
            }
            match roll {
                Roll::None => {}
                Roll::Slow(d) => tokio::time::sleep(d).await,
                Roll::Http500 => {
                    return error_response(
                        &ApiErr::new(
                            "CDC:ErrInternalServerError",
                            "internal server error (injected fault)",
                        )
                        .with_status(500),
                        newarch,
                    )
                }
                Roll::Http503 => {
                    return error_response(
                        &ApiErr::new(
                            "CDC:ErrServerIsNotReady",
                            "cdc server is not ready (injected fault)",
                        )
                        .with_status(503),
                        newarch,
                    )
                }
                Roll::OwnerChange => {
                    return error_response(
                        &ApiErr::new(
                            "CDC:ErrServerIsNotReady",
                            "cdc server is not ready: owner is being elected (injected fault)",
                        )
                        .with_status(503),
                        newarch,
                    )
                }
                Roll::Drop { after } => {
                    if after {
                        // Carry the request out, then lose the answer.
                        let _ = next
                            .run(Request::from_parts(parts, Body::from(bytes)))
                            .await;
                    }
                    return cut_connection();
                }
            }
        }
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// How a request fares during an outage or a rolling upgrade (see [`super::faults::Cluster`]).
///
/// While no owner is elected, a capture that is not the owner forwards owner routes after
/// looking the owner up in etcd and finds none: tiflow v8.5.0 cdc/api/util.go `ForwardToOwner`
/// → cdc/capture/capture.go `(*captureImpl).GetOwnerCaptureInfo` returns
/// `cerror.ErrOwnerNotFound`, which cdc/api/middleware/middleware.go `ErrorHandleMiddleware`
/// answers with 500 (it is not in `IsHTTPBadRequestError`'s list); pingcap/ticdc
/// v8.5.7-release.1 api/middleware/middleware.go `ForwardToCoordinator` → server/server.go
/// `GetCoordinatorInfo` does the same with its own `ErrOwnerNotFound`.
fn outage(sh: &Shared, path: &str, newarch: bool) -> Option<Response> {
    let spec = sh
        .cfg
        .faults
        .as_ref()
        .filter(|_| sh.faults_enabled.load(Ordering::Relaxed));
    let now = Instant::now();
    let mut cluster = sh.cluster.lock().unwrap();
    let kind = cluster.on_request(spec, now)?;
    sh.faults_injected.fetch_add(1, Ordering::Relaxed);
    match kind {
        OutageKind::NoOwner if owner_forwarded(path, !newarch) => Some(error_response(
            &ApiErr::new("CDC:ErrOwnerNotFound", "owner not found").with_status(500),
            newarch,
        )),
        OutageKind::NoOwner => None,
        OutageKind::Refused => {
            // Close the listener until the outage ends; this request's connection is cut.
            let until = cluster.until();
            if *sh.refuse.borrow() != until {
                let _ = sh.refuse.send(until);
            }
            Some(cut_connection())
        }
    }
}

/// Whether a targeted failure (a test hook) takes this request; counts it down.
fn targeted_failure(sh: &Shared, method: &Method, path: &str) -> bool {
    let mut failing = sh.failing.lock().unwrap();
    let hit = failing
        .iter_mut()
        .find(|(m, left)| *left > 0 && m(method.as_str(), path));
    match hit {
        Some((_, left)) => {
            *left -= 1;
            sh.faults_injected.fetch_add(1, Ordering::Relaxed);
            true
        }
        None => false,
    }
}

/// Carry out the first interleaved change (a test hook) whose matcher accepts this request.
fn interleave(sh: &Shared, method: &Method, path: &str) {
    let taken = {
        let mut all = sh.interleaved.lock().unwrap();
        all.iter()
            .position(|(m, _)| m(method.as_str(), path))
            .map(|i| all.remove(i).1)
    };
    let Some(w) = taken else { return };
    let mut st = sh.state.lock().unwrap();
    if let Some(cf) = st.cfs.get_mut(&(w.ns.clone(), w.id.clone())) {
        config::merge(std::sync::Arc::make_mut(&mut cf.config), &w.config);
        cf.state = std::borrow::Cow::Borrowed(w.state);
        cf.pending.clear();
    }
}

/// Start the first armed outage (a test hook) whose matcher accepts this request.
fn start_armed(sh: &Shared, method: &Method, path: &str) {
    let mut armed = sh.armed.lock().unwrap();
    let Some(i) = armed
        .iter()
        .position(|a| (a.matcher)(method.as_str(), path))
    else {
        return;
    };
    let a = armed.remove(i);
    let now = Instant::now();
    sh.cluster
        .lock()
        .unwrap()
        .start_outage(now, a.duration, a.kind);
    if a.kind == OutageKind::Refused {
        let _ = sh.refuse.send(Some(now + a.duration));
    }
}

/// Headers go out, then the body fails: hyper aborts the connection.
fn cut_connection() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, _>(std::io::Error::other("injected connection drop"))
    });
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap()
}

// ---- cluster-level routes ----

async fn health(State(sh): S) -> Response {
    if sh.healthy.load(Ordering::Relaxed) {
        ok_json(&json!({}))
    } else {
        run(
            &sh,
            Err(ApiErr::new(
                "CDC:ErrClusterIsUnhealthy",
                "TiCDC cluster is unhealthy",
            )),
        )
    }
}

async fn status(State(sh): S) -> Response {
    let (id, is_owner) = sh.cluster.lock().unwrap().answering(Instant::now());
    ok_indented(&json!({
        "version": sh.cfg.profile.version().to_string(),
        "git_hash": "0000000000000000000000000000000000000000",
        "id": id,
        "cluster_id": "default",
        "pid": std::process::id(),
        "is_owner": is_owner,
        "liveness": 0,
    }))
}

async fn log(State(sh): S, body: Bytes) -> Response {
    let r = (|| {
        let v: Value = parse_body(&body)?;
        let lvl = v.get("log_level").and_then(Value::as_str).unwrap_or("");
        if !matches!(
            lvl.to_ascii_lowercase().as_str(),
            "debug" | "info" | "warn" | "error" | "dpanic" | "panic" | "fatal"
        ) {
            return Err(ApiErr::invalid_param(format!(
                "invalid api parameter: fail to change log level: {lvl}"
            )));
        }
        Ok(ok_json(&json!({})))
    })();
    run(&sh, r)
}

async fn captures(State(sh): S) -> Response {
    let items: Vec<Value> = sh
        .cluster
        .lock()
        .unwrap()
        .captures(Instant::now())
        .into_iter()
        .map(|(id, is_owner)| {
            json!({"id": id, "is_owner": is_owner, "address": sh.addr.to_string(), "cluster_id": "default"})
        })
        .collect();
    ok_json(&json!({"total": items.len(), "items": items}))
}

async fn drain(State(sh): S, Path(cid): Path<String>) -> Response {
    if !sh.cfg.profile.is_classic() {
        return not_found();
    }
    if cid != CAPTURE_ID {
        return run(
            &sh,
            Err(ApiErr::new(
                "CDC:ErrCaptureNotExist",
                format!("capture not exists, {cid}"),
            )),
        );
    }
    // The only capture is the owner: tiflow refuses to drain it when no other capture exists.
    run(
        &sh,
        Err(ApiErr::new(
            "CDC:ErrSchedulerRequestFailed",
            "scheduler request failed, drain the owner capture is not allowed when it is the only capture",
        )),
    )
}

async fn processors(State(sh): S) -> Response {
    if !sh.cfg.profile.is_classic() {
        return ok_json(&json!({"total": 0, "items": []}));
    }
    let mut st = sh.state.lock().unwrap();
    let now = Instant::now();
    let tso = st.tso();
    for cf in st.cfs.values_mut() {
        cf.settle(now, tso, &sh.cfg.profile);
    }
    // tiflow v8.5.0 cdc/api/v2/model.go `ProcessorCommonInfo`.
    #[derive(serde::Serialize)]
    struct Item<'a> {
        namespace: &'a str,
        changefeed_id: &'a str,
        capture_id: &'a str,
    }
    let items: Vec<Item> = st
        .cfs
        .values()
        .filter(|cf| cf.visible(now) && cf.state == "normal")
        .map(|cf| Item {
            namespace: &cf.ns,
            changefeed_id: &cf.id,
            capture_id: CAPTURE_ID,
        })
        .collect();
    list_json(items)
}

/// tiflow v8.5.0 cdc/api/v2/model.go `ListResponse`: `{total, items}`.
fn list_json<T: serde::Serialize>(items: Vec<T>) -> Response {
    #[derive(serde::Serialize)]
    struct List<T> {
        total: usize,
        items: Vec<T>,
    }
    ok_json(&List {
        total: items.len(),
        items,
    })
}

async fn processor_detail(
    State(sh): S,
    Path((id, cid)): Path<(String, String)>,
    q: axum::extract::RawQuery,
) -> Response {
    if !sh.cfg.profile.is_classic() {
        return ok_json(&json!({"table_ids": []}));
    }
    let q = query(&q.0);
    let ns = scope(&sh, &q);
    let r = (|| {
        // tiflow v7.5.0-v8.5.0 cdc/api/v2/processor.go `getProcessor` checks both ids with
        // `model.ValidateChangefeedID` before any look-up (`GenWithStack`: the text replaces
        // ErrAPIInvalidParam's template).
        check_id(&id)?;
        if !state::valid_id(&cid) {
            return Err(ApiErr::invalid_param(format!("invalid capture_id: {cid}")));
        }
        let mut st = sh.state.lock().unwrap();
        let (cf, _) = st
            .get_mut(&ns, &id, &sh.cfg.profile)
            .ok_or_else(|| not_exists(&sh.cfg.profile, &ns, &id))?;
        // tiflow v8.5.7 cdc/api/v2/processor.go getProcessor: the state check comes before the
        // capture lookup; only normal and warning count as running (FeedState.IsRunning).
        if !matches!(&*cf.state, "normal" | "warning") {
            return Err(ApiErr::invalid_param(format!(
                "invalid api parameter: changefeed in abnormal state: {}, can'duration get processor of an abnormal changefeed",
                cf.state
            )));
        }
        if cid != CAPTURE_ID {
            return Err(ApiErr::new(
                "CDC:ErrCaptureNotExist",
                format!("capture not exists, {cid}"),
            ));
        }
        // tiflow cdc/api/v2/processor.go `getProcessor`: the tables of this capture.
        let ids = filter::replicated_ids(&sh.catalog, &cf.config, &sh.cfg.profile);
        Ok(ok_json(&json!({"table_ids": ids})))
    })();
    run(&sh, r)
}

/// tiflow v8.5.0 cdc/api/v2/changefeed.go `verifyTable` (ticdc api/v2/changefeed.go
/// `VerifyTable`): the body is decoded over the default config, like a create; the answer lists
/// the tables the filter selects from the catalog.
async fn verify_table(State(sh): S, body: Bytes) -> Response {
    let r = (|| {
        let req: ChangefeedConfig = parse_body(&body)?;
        if !sh.upstream_up.load(Ordering::Relaxed) {
            // tiflow v8.5.0 cdc/kv/utils.go `CreateTiStore` wraps the PD error as ErrNewStore (500).
            return Err(ApiErr::new(
                "CDC:ErrNewStore",
                "new store failed: [PD:client:ErrClientGetLeader]get leader failed, no leader",
            ));
        }
        let cfg = config::for_create(&sh.cfg.profile, req.replica_config.as_ref())?;
        let f = filter::filter_or_err(&cfg, &sh.cfg.profile)?;
        Ok(ok_json(&filter::verify_response(
            &sh.catalog,
            &f,
            &sh.cfg.profile,
        )))
    })();
    run(&sh, r)
}

async fn resign() -> Response {
    ok_json(&json!({}))
}

async fn tso(State(sh): S, body: Bytes) -> Response {
    let r = (|| {
        let _: Value = parse_body(&body)?;
        let ts = sh.state.lock().unwrap().tso();
        Ok(ok_indented(&json!({
            "timestamp": t::physical(ts),
            "logic_time": ts & 0x3ffff,
        })))
    })();
    run(&sh, r)
}

/// `GET /unsafe/metadata`: tiflow v8.5.0 and pingcap/ticdc v8.5.7 api/v2/unsafe.go
/// `CDCMetaData` answer every etcd key under `/tidb/cdc/` (etcd `GetAllCDCInfo`, a prefix range:
/// sorted by key) as `[{"key", "value"}]`, indented. Keys follow pkg/etcd/etcdkey.go
/// (`/tidb/cdc/<cluster>/__cdc_meta__/…`, `/tidb/cdc/<cluster>/<namespace>/changefeed/info/<id>`
/// and `…/changefeed/status/<id>`); the values here carry the main fields of the stored
/// `ChangeFeedInfo` / `ChangeFeedStatus` (etcd's hyphenated names), not every field.
async fn unsafe_metadata(State(sh): S) -> Response {
    fn hyphenate(v: &Value) -> Value {
        match v {
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.replace('_', "-"), hyphenate(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(hyphenate).collect()),
            other => other.clone(),
        }
    }
    let version = sh.cfg.profile.version().to_string();
    let meta = "/tidb/cdc/default/__cdc_meta__";
    let mut kvs: Vec<(String, String)> = vec![
        (
            format!("{meta}/capture/{CAPTURE_ID}"),
            json!({"id": CAPTURE_ID, "address": "127.0.0.1:8300", "version": version}).to_string(),
        ),
        (format!("{meta}/meta/meta-version"), "1".into()),
        (format!("{meta}/owner/22318498f4dd6639"), CAPTURE_ID.into()),
    ];
    if sh.cfg.profile.is_classic() {
        kvs.push((
            format!("/tidb/cdc/default/default/upstream/{UPSTREAM_ID}"),
            json!({"id": UPSTREAM_ID, "pd-endpoints": "http://127.0.0.1:2379"}).to_string(),
        ));
    }
    {
        let mut st = sh.state.lock().unwrap();
        let tso = st.tso();
        for cf in st.cfs.values() {
            let prefix = format!("/tidb/cdc/default/{}/changefeed", cf.ns);
            let (sink_uri, target_ts, config) = cf.latest();
            let info = json!({
                "upstream-id": UPSTREAM_ID,
                "namespace": cf.ns,
                "changefeed-id": cf.id,
                "sink-uri": sink_uri,
                "create-time": cf.create_time,
                "start-ts": cf.start_ts,
                "target-ts": target_ts,
                "admin-job-type": cf.admin_job_type,
                "config": hyphenate(config),
                "state": cf.state,
                "creator-version": version,
            });
            let cp = cf.checkpoint_now(tso);
            let status = json!({
                "checkpoint-ts": cp,
                "min-table-barrier-ts": cp,
                "admin-job-type": cf.admin_job_type,
            });
            kvs.push((format!("{prefix}/info/{}", cf.id), info.to_string()));
            kvs.push((format!("{prefix}/status/{}", cf.id), status.to_string()));
        }
    }
    kvs.sort();
    let items: Vec<Value> = kvs
        .into_iter()
        .map(|(key, value)| json!({"key": key, "value": value}))
        .collect();
    ok_indented(&items)
}

/// tiflow v8.5.0 / pingcap/ticdc v8.5.7 api/v2/unsafe.go `ResolveLock`: the body is bound
/// first (`BindJSON` into `ResolveLockReq`; a bad body is 400 `ErrAPIInvalidParam`). tiflow then
/// answers 503 with an empty body when it has no kv storage (the simulator has none); pingcap/ticdc
/// has no such path and resolves the locks (nothing to resolve here: 200 `{}`).
async fn unsafe_resolve_lock(State(sh): S, body: Bytes) -> Response {
    let r = (|| {
        let v: Value = parse_body(&body)?;
        for key in ["region_id", "ts"] {
            if let Some(x) = v.get(key).filter(|x| !x.is_null() && !x.is_u64()) {
                return Err(gojson_field_error(x, "ResolveLockReq", key, "uint64"));
            }
        }
        if sh.cfg.profile.is_classic() {
            return Ok(StatusCode::SERVICE_UNAVAILABLE.into_response());
        }
        Ok(ok_json(&json!({})))
    })();
    run(&sh, r)
}

/// `json: cannot unmarshal <kind> into Go struct field <Struct>.<key> of type <T>`, wrapped.
fn gojson_field_error(v: &Value, go_struct: &str, key: &str, go_type: &str) -> ApiErr {
    let kind = match v {
        Value::String(_) => "string".to_string(),
        Value::Number(n) => format!("number {n}"),
        Value::Bool(_) => "bool".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
        Value::Null => "null".into(),
    };
    ApiErr::invalid_param(format!(
        "invalid api parameter: json: cannot unmarshal {kind} into Go struct field {go_struct}.{key} of type {go_type}"
    ))
}

/// tiflow v8.5.0 / pingcap/ticdc v8.5.7 api/v2/unsafe.go `DeleteServiceGcSafePoint`: the body
/// is bound into `UpstreamConfig` with `BindJSON` first, so an empty or malformed body is 400
/// `ErrAPIInvalidParam` (`EOF`, `invalid character …`); then the service safepoint is removed.
async fn unsafe_gc(State(sh): S, body: Bytes) -> Response {
    let r = (|| {
        let v: Value = parse_body(&body)?;
        if let Some(x) = v.get("id").filter(|x| !x.is_null() && !x.is_u64()) {
            return Err(gojson_field_error(x, "UpstreamConfig", "id", "uint64"));
        }
        Ok(ok_json(&json!({})))
    })();
    run(&sh, r)
}

// ---- new-architecture internal routes (pingcap/ticdc v8.5.7 api/v2/api.go) ----

/// Root `GET /status`: pingcap/ticdc v8.5.7 api/v2/api.go registers `api.ServerStatus` there
/// too (the `/api/v2/status` answer); tiflow v8.5.0 cdc/api/status/status.go `handleStatus`
/// answers `{version, git_hash, id, pid, is_owner}` through cdc/api/util.go `WriteData`
/// (`json.MarshalIndent` with a one-space indent).
async fn root_status(State(sh): S) -> Response {
    if !sh.cfg.profile.is_classic() {
        return status(State(sh)).await;
    }
    let (id, is_owner) = sh.cluster.lock().unwrap().answering(Instant::now());
    let v = json!({
        "version": sh.cfg.profile.version().to_string(),
        "git_hash": "0000000000000000000000000000000000000000",
        "id": id,
        "pid": std::process::id(),
        "is_owner": is_owner,
    });
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(&v, &mut ser).expect("json");
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        go_escape(buf),
    )
        .into_response()
}

/// `POST /api/v2/log/redact`: pingcap/ticdc v8.5.7 api/v2/log.go `SetRedactMode` (pkg/util/redact.go
/// `ParseRedactMode`): only a move to a stricter mode (OFF → MARKER → ON) or the same mode;
/// answers `{previous_mode, current_mode}`. tiflow has no such route (404).
async fn log_redact(State(sh): S, body: Bytes) -> Response {
    if sh.cfg.profile.is_classic() {
        return not_found();
    }
    let r = (|| {
        let v: Value = gojson::decode(&body, gojson::Decode::BindJson)
            .map_err(|e| ApiErr::invalid_param(format!("invalid redact mode: {e}")))?;
        let mode = match v.get("redact_info_log") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(x) => {
                return Err(ApiErr::invalid_param(format!(
                    "invalid redact mode: json: cannot unmarshal {} into Go struct field RedactModeReq.redact_info_log of type string",
                    if x.is_number() { "number" } else if x.is_boolean() { "bool" } else if x.is_array() { "array" } else { "object" }
                )))
            }
        };
        if mode.is_empty() {
            return Err(ApiErr::invalid_param(
                "missing required field 'redact_info_log': must be 'off', 'on', or 'marker'",
            ));
        }
        let requested: &'static str = match mode.to_ascii_uppercase().as_str() {
            "ON" | "TRUE" | "1" | "ENABLE" | "ENABLED" => "ON",
            "MARKER" | "MARK" => "MARKER",
            "OFF" | "FALSE" | "0" | "DISABLE" | "DISABLED" => "OFF",
            _ => {
                return Err(ApiErr::invalid_param(format!(
                    "invalid redact mode '{mode}': must be 'off', 'on', or 'marker'"
                )))
            }
        };
        let level = |m: &str| match m {
            "OFF" => 0,
            "MARKER" => 1,
            _ => 2,
        };
        let mut current = sh.redact.lock().unwrap();
        if level(requested) < level(&current) {
            return Err(ApiErr::invalid_param(format!(
                "cannot transition from '{}' to '{mode}': only transitions to more restrictive modes are allowed (OFF→MARKER→ON)",
                *current
            )));
        }
        let previous = *current;
        *current = requested;
        Ok(ok_json(
            &json!({"previous_mode": previous, "current_mode": requested}),
        ))
    })();
    run(&sh, r)
}

/// `POST /api/v2/get_all_tables`: pingcap/ticdc v8.5.7 api/v2/changefeed.go `GetAllTables`
/// decodes the body over the default config like `verify_table` and answers the same `Tables`
/// (ineligible, eligible and all tables). tiflow has no such route (404).
async fn get_all_tables(State(sh): S, body: Bytes) -> Response {
    if sh.cfg.profile.is_classic() {
        return not_found();
    }
    verify_table(State(sh), body).await
}

/// The changefeed an internal table route names, as those handlers find it: the id is validated
/// (400), then pingcap/ticdc v8.5.7 api/v2/helper.go `getChangeFeed` GETs it from the
/// coordinator; an unknown one has no `maintainer_addr` and the handlers answer the uncoded
/// "Can't not find maintainer for changefeed: <id>" (500). The answer: (enable_table_across_nodes,
/// the replicated table ids).
fn maintained(sh: &Shared, ns: &str, id: &str) -> Result<(bool, Vec<i64>), ApiErr> {
    check_id(id)?;
    let mut st = sh.state.lock().unwrap();
    let Some((cf, _)) = st.get_mut(ns, id, &sh.cfg.profile) else {
        return Err(ApiErr::new(
            "",
            format!("Can't not find maintainer for changefeed: {id}"),
        ));
    };
    let across = cf.config["scheduler"]["enable_table_across_nodes"] == json!(true);
    let ids = filter::replicated_ids(&sh.catalog, &cf.config, &sh.cfg.profile);
    Ok((across, ids))
}

/// `tableID` as Go's `strconv.ParseInt(s, 10, 64)` reads it; its error is uncoded (500).
fn table_id_param(q: &HashMap<String, String>) -> Result<i64, ApiErr> {
    let s = q.get("tableID").map(String::as_str).unwrap_or("");
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiErr::new(
            "",
            format!(
                "strconv.ParseInt: parsing {}: invalid syntax",
                go_quote_str(s)
            ),
        ));
    }
    s.parse::<i64>().map_err(|_| {
        ApiErr::new(
            "",
            format!(
                "strconv.ParseInt: parsing {}: value out of range",
                go_quote_str(s)
            ),
        )
    })
}

fn go_quote_str(s: &str) -> String {
    format!("{s:?}")
}

/// pingcap/ticdc v8.5.7 maintainer/maintainer_controller_helper.go `checkParams` and its
/// siblings: an unknown table is `ErrTableIsNotFounded`, table 0 (the DDL span, which exists)
/// `ErrTableNotSupportMove`, an unknown node `ErrNodeIsNotFound` (all 500). Their
/// `GenWithStackByArgs("tableID", id)` meets a template without verbs, so Go's fmt appends
/// `%!(EXTRA …)`.
fn check_table(ids: &[i64], table: i64) -> Result<(), ApiErr> {
    if table != 0 && !ids.contains(&table) {
        return Err(ApiErr::new(
            "CDC:ErrTableIsNotFounded",
            format!("table is not found%!(EXTRA string=tableID, int64={table})"),
        ));
    }
    if table == 0 {
        return Err(ApiErr::new(
            "CDC:ErrTableNotSupportMove",
            "table is not supported to move%!(EXTRA string=tableID, int64=0)",
        ));
    }
    Ok(())
}

fn check_node(q: &HashMap<String, String>) -> Result<(), ApiErr> {
    let node = q.get("targetNodeID").map(String::as_str).unwrap_or("");
    if node == CAPTURE_ID {
        return Ok(());
    }
    Err(ApiErr::new(
        "CDC:ErrNodeIsNotFound",
        format!("node is not found%!(EXTRA string=targetNode, node.ID={node})"),
    ))
}

/// `POST …/move_table` and `…/move_split_table` (pingcap/ticdc v8.5.7 api/v2/changefeed.go
/// `MoveTable`, `MoveSplitTable`): `tableID` first, then the id, the changefeed, the table and
/// the node. The simulator has one node, so a valid move is already done: 200 `{}`.
async fn move_table(State(sh): S, Path(id): Path<String>, q: axum::extract::RawQuery) -> Response {
    table_op(&sh, &id, &q.0, TableOp::Move).await
}

/// `POST …/split_table_by_region_count` (`SplitTableByRegionCount`): a changefeed it cannot
/// find has a nil config there, which the handler dereferences (gin's recovery: 500, empty
/// body); `enable_table_across_nodes` must be on (400 `ErrAPIInvalidParam`).
async fn split_table_by_region_count(
    State(sh): S,
    Path(id): Path<String>,
    q: axum::extract::RawQuery,
) -> Response {
    table_op(&sh, &id, &q.0, TableOp::Split).await
}

/// `POST …/merge_table` (`MergeTable`): a table with one span is already merged: 200 `{}`.
async fn merge_table(State(sh): S, Path(id): Path<String>, q: axum::extract::RawQuery) -> Response {
    table_op(&sh, &id, &q.0, TableOp::Merge).await
}

#[derive(Clone, Copy, PartialEq)]
enum TableOp {
    Move,
    Split,
    Merge,
}

async fn table_op(sh: &Arc<Shared>, id: &str, q: &Option<String>, op: TableOp) -> Response {
    if sh.cfg.profile.is_classic() {
        return not_found();
    }
    let q = query(q);
    let ns = scope(sh, &q);
    let r = (|| {
        let table = table_id_param(&q)?;
        check_id(id)?;
        if op == TableOp::Split && !state_has(sh, &ns, id) {
            return Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
        let (across, ids) = maintained(sh, &ns, id)?;
        if op == TableOp::Split && !across {
            return Err(ApiErr::invalid_param(
                "enable_table_across_nodes should be true when spliting one table to multiple spans",
            ));
        }
        check_table(&ids, table)?;
        if op == TableOp::Move {
            check_node(&q)?;
        }
        Ok(ok_json(&json!({})))
    })();
    run(sh, r)
}

fn state_has(sh: &Shared, ns: &str, id: &str) -> bool {
    sh.state
        .lock()
        .unwrap()
        .get_mut(ns, id, &sh.cfg.profile)
        .is_some()
}

/// `GET …/tables` (`ListTables`): the spans per node as `{total, items: [{node_id,
/// table_ids}]}`; the DDL span (table 0) is one of them (maintainer/span/span_controller.go
/// `GetAllTasks` includes it).
async fn list_tables(State(sh): S, Path(id): Path<String>, q: axum::extract::RawQuery) -> Response {
    if sh.cfg.profile.is_classic() {
        return not_found();
    }
    let q = query(&q.0);
    let ns = scope(&sh, &q);
    let r = (|| {
        let (_, ids) = maintained(&sh, &ns, &id)?;
        let mut all = vec![0];
        all.extend(ids);
        Ok(ok_json(&json!({
            "total": 1,
            "items": [{"node_id": CAPTURE_ID, "table_ids": all}],
        })))
    })();
    run(&sh, r)
}

/// `GET …/get_dispatcher_count` (`getDispatcherCount`): one dispatcher per span, the DDL span
/// included: `{"count": n}`.
async fn get_dispatcher_count(
    State(sh): S,
    Path(id): Path<String>,
    q: axum::extract::RawQuery,
) -> Response {
    if sh.cfg.profile.is_classic() {
        return not_found();
    }
    let q = query(&q.0);
    let ns = scope(&sh, &q);
    let r = (|| {
        let (_, ids) = maintained(&sh, &ns, &id)?;
        Ok(ok_json(&json!({"count": ids.len() + 1})))
    })();
    run(&sh, r)
}

// ---- changefeeds ----

pub(super) fn run_err(e: &state::RunErr, with_time: bool, zero_time: bool) -> RunningError {
    RunningError {
        time: with_time.then(|| {
            if zero_time {
                "0001-01-01T00:00:00Z".to_string()
            } else {
                t::rfc3339(e.time_ms, 0)
            }
        }),
        addr: "127.0.0.1:8300".into(),
        code: e.code.clone(),
        message: e.message.clone(),
    }
}

/// `ChangeFeedInfo` (§5.1).
fn info(
    sh: &Shared,
    cf: &Cf,
    tso: u64,
    masked: bool,
    sink_uri: &str,
    target: u64,
    config: &Value,
) -> ChangefeedInfo {
    let classic = sh.cfg.profile.is_classic();
    let cp = cf.checkpoint_now(tso);
    let show_err = !matches!(&*cf.state, "normal" | "stopped" | "finished" | "removed");
    ChangefeedInfo {
        upstream_id: Some(UPSTREAM_ID),
        namespace: classic.then(|| cf.ns.clone()),
        keyspace: (!classic).then(|| cf.ns.clone()),
        id: cf.id.clone(),
        sink_uri: if masked {
            // tiflow/ticdc `api/v2/changefeed.go`: a URI `MaskSinkURI` cannot parse is logged
            // and answered as "" (the masker's zero value).
            mask_sink_uri(sink_uri).unwrap_or_default()
        } else {
            sink_uri.to_string()
        },
        create_time: cf.create_time.clone(),
        start_ts: cf.start_ts,
        target_ts: target,
        admin_job_type: cf.admin_job_type,
        config: Some(config.clone()),
        state: (!cf.state.is_empty()).then(|| cf.state.to_string()),
        error: if show_err {
            cf.error.as_ref().map(|e| run_err(e, !classic, true))
        } else {
            None
        },
        creator_version: Some(sh.cfg.profile.version().to_string()),
        resolved_ts: cp,
        checkpoint_ts: cp,
        checkpoint_time: t::custom(t::physical(cp)),
        // tiflow: only while normal, `table_ids` omitted when empty; ticdc's is always empty and
        // so omitted (`omitempty`).
        task_status: (classic && cf.state == "normal").then(|| task_status(sh, config)),
        gid: (!classic).then_some(crate::ticdc::models::Gid {
            low: cf.gid.0,
            high: cf.gid.1,
        }),
        maintainer_addr: (!classic).then(|| sh.addr.to_string()),
    }
}

/// tiflow cdc/api/v2/model.go `CaptureTaskStatus`: the physical table ids the capture
/// replicates (`table_ids` omitted when empty).
fn task_status(sh: &Shared, config: &Value) -> Value {
    let ids = filter::replicated_ids(&sh.catalog, config, &sh.cfg.profile);
    if ids.is_empty() {
        json!([{"capture_id": CAPTURE_ID}])
    } else {
        json!([{"capture_id": CAPTURE_ID, "table_ids": ids}])
    }
}

/// A simulator holding more changefeeds than this writes its lists in pieces of [`PIECE`] bytes,
/// each sent as soon as written.
const STREAM_FROM: usize = 2_000;
/// 2 MiB: fewer wake-ups than smaller pieces when the client shares the machine's cores.
const PIECE: usize = 2 << 20;

async fn list(State(sh): S, q: axum::extract::RawQuery) -> Response {
    let q = query(&q.0);
    let ns = scope(&sh, &q);
    let state = q.get("state").cloned().unwrap_or_default();
    let rows = move |sh: &Shared| {
        let query = listing::Query {
            ns: &ns,
            state: &state,
            profile: &sh.cfg.profile,
        };
        let mut st = sh.state.lock().unwrap();
        let (now, tso) = (Instant::now(), st.tso());
        listing::snapshot(&mut st, &query, now, tso)
    };
    let large = sh.state.lock().unwrap().cfs.len() > STREAM_FROM;
    let body = if large {
        // Go's net/http sends a body it did not size beforehand in chunks, as here.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::task::spawn_blocking(move || {
            listing::write(rows(&sh), PIECE, |piece| {
                let _ = tx.send(Ok::<_, std::convert::Infallible>(piece));
            })
        });
        Body::from_stream(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    } else {
        let mut whole = Bytes::new();
        listing::write(rows(&sh), usize::MAX, |piece| whole = piece);
        Body::from(whole)
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn get_one(State(sh): S, Path(id): Path<String>, q: axum::extract::RawQuery) -> Response {
    let q = query(&q.0);
    let ns = scope(&sh, &q);
    let r = (|| {
        if sh.cfg.profile.is_classic() {
            check_id(&id)?;
        }
        let mut st = sh.state.lock().unwrap();
        let (cf, tso) = st
            .get_mut(&ns, &id, &sh.cfg.profile)
            .ok_or_else(|| not_exists(&sh.cfg.profile, &ns, &id))?;
        let i = info(&sh, cf, tso, true, &cf.sink_uri, cf.target_ts, &cf.config);
        Ok(ok_json(&i))
    })();
    run(&sh, r)
}

async fn meta_info(State(sh): S, Path(id): Path<String>, q: axum::extract::RawQuery) -> Response {
    if !sh.cfg.profile.is_classic() {
        return not_found();
    }
    let q = query(&q.0);
    let ns = scope(&sh, &q);
    let r = (|| {
        check_id(&id)?;
        let mut st = sh.state.lock().unwrap();
        let (cf, tso) = st
            .get_mut(&ns, &id, &sh.cfg.profile)
            .ok_or_else(|| not_exists(&sh.cfg.profile, &ns, &id))?;
        Ok(ok_json(&info(
            &sh,
            cf,
            tso,
            false,
            &cf.sink_uri,
            cf.target_ts,
            &cf.config,
        )))
    })();
    run(&sh, r)
}

async fn cf_status(State(sh): S, Path(id): Path<String>, q: axum::extract::RawQuery) -> Response {
    let q = query(&q.0);
    let ns = scope(&sh, &q);
    let classic = sh.cfg.profile.is_classic();
    let r = (|| {
        if classic {
            check_id(&id)?;
        }
        let mut st = sh.state.lock().unwrap();
        let (cf, tso) = st
            .get_mut(&ns, &id, &sh.cfg.profile)
            .ok_or_else(|| not_exists(&sh.cfg.profile, &ns, &id))?;
        let cp = cf.checkpoint_now(tso);
        let mut v = json!({"state": cf.state, "resolved_ts": cp, "checkpoint_ts": cp});
        let (le, lw) = if classic {
            (cf.error.as_ref(), cf.warning.as_ref())
        } else {
            (
                cf.error.as_ref().filter(|_| cf.state == "failed"),
                cf.warning
                    .as_ref()
                    .or(cf.error.as_ref())
                    .filter(|_| cf.state == "warning"),
            )
        };
        if let Some(e) = le {
            v["last_error"] = serde_json::to_value(run_err(e, true, false)).unwrap();
        }
        if let Some(w) = lw {
            v["last_warning"] = serde_json::to_value(run_err(w, true, false)).unwrap();
        }
        Ok(ok_json(&v))
    })();
    run(&sh, r)
}

async fn synced(State(sh): S, Path(id): Path<String>, q: axum::extract::RawQuery) -> Response {
    let classic = sh.cfg.profile.is_classic();
    if classic && sh.cfg.profile.version() < crate::ticdc::Version::new(8, 1, 0) {
        return not_found();
    }
    let q = query(&q.0);
    let ns = scope(&sh, &q);
    let r = (|| {
        if classic {
            check_id(&id)?;
        }
        let mut st = sh.state.lock().unwrap();
        let (cf, tso) = st
            .get_mut(&ns, &id, &sh.cfg.profile)
            .ok_or_else(|| not_exists(&sh.cfg.profile, &ns, &id))?;
        let cp = cf.checkpoint_now(tso);
        let sc = &cf.config["synced_status"];
        let check_s = sc["synced_check_interval"].as_u64().unwrap_or(300);
        let cp_s = sc["checkpoint_interval"].as_u64().unwrap_or(15);
        let now_ms = t::physical(tso);
        // No writes are simulated: the last synced ts is the start ts.
        let last_synced = cf.start_ts;
        let idle = now_ms.saturating_sub(t::physical(last_synced)) > check_s * 1000;
        let fresh = now_ms.saturating_sub(t::physical(cp)) < cp_s * 1000;
        // tiflow v8.5.0 cdc/api/v2/changefeed.go `synced` and pingcap/ticdc v8.5.7
        // api/v2/changefeed.go `synced`: the same three cases, worded differently (the new
        // architecture says "The data syncing is finished" and leaves out the Grafana hint).
        const PD_HINT_START: &str = "Please check whether PD is online and TiKV Regions are all available. If PD is offline or some TiKV regions are not available, it means that the data syncing process is complete. ";
        const GRAFANA: &str = "To check whether TiKV regions are all available, you can view 'TiKV-Details' > 'Resolved-Ts' > 'Max Leader Resolved TS gap' on Grafana. ";
        const PD_HINT_END: &str = "If the gap is large, such as a few minutes, it means that some regions in TiKV are unavailable. Otherwise, if the gap is small and PD is online, it means the data syncing is incomplete, so please wait";
        let (synced, info) = match (idle, fresh) {
            (true, true) if classic => (true, "Data syncing is finished".to_string()),
            (true, true) => (true, "The data syncing is finished".to_string()),
            (false, _) => (
                false,
                "The data syncing is not finished, please wait".to_string(),
            ),
            (true, false) if classic => (false, format!("{PD_HINT_START}{GRAFANA}{PD_HINT_END}")),
            (true, false) => (false, format!("{PD_HINT_START}{PD_HINT_END}")),
        };
        // Both: `NowTs: JSONTime(time.Unix(physicalNow/1e3, 0))`, whole seconds.
        let now_s = now_ms / 1000 * 1000;
        Ok(ok_json(&json!({
            "synced": synced,
            // tiflow `cdc/api/v2/model.go`: these are `model.JSONTime` (formatted times).
            "sink_checkpoint_ts": t::custom(t::physical(cp)),
            "puller_resolved_ts": t::custom(t::physical(cp)),
            "last_synced_ts": t::custom(t::physical(last_synced)),
            "now_ts": t::custom(now_s),
            "info": info,
        })))
    })();
    run(&sh, r)
}

/// TCP reachability of MySQL/Kafka sinks (the validator's connection attempt).
async fn sink_check(
    sh: &Shared,
    uri: &str,
    u: &crate::ticdc::mask::GoUrl,
    kind: SinkKind,
) -> Result<(), ApiErr> {
    if !sh.cfg.sink_check || !(kind == SinkKind::Mysql || u.scheme.starts_with("kafka")) {
        return Ok(());
    }
    let default_port = match u.scheme.as_str() {
        s if s.starts_with("kafka") => 9092,
        s if s.starts_with("tidb") => 4000,
        _ => 3306,
    };
    let mut reachable = false;
    let mut last = String::new();
    for host in u.host.split(',') {
        let addr = if host
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
            && !host.ends_with(']')
        {
            host.to_string()
        } else {
            format!("{host}:{default_port}")
        };
        match tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(addr.as_str()),
        )
        .await
        {
            Ok(Ok(_)) => {
                reachable = true;
                break;
            }
            Ok(Err(e)) => last = format!("dial tcp {addr}: {e}"),
            Err(_) => last = format!("dial tcp {addr}: i/o timeout"),
        }
    }
    if reachable {
        return Ok(());
    }
    let _ = uri;
    if kind == SinkKind::Mysql {
        Err(ApiErr::new(
            "CDC:ErrMySQLConnectionError",
            format!("fail to open MySQL connection: {last}"),
        ))
    } else {
        // tiflow NewKafkaDMLSink and ticdc v8.5.7 newKafkaSinkComponentWithFactory both wrap
        // ErrKafkaNewProducer (pingcap/ticdc master wraps ErrNewKafkaSink instead).
        Err(ApiErr::new(
            "CDC:ErrKafkaNewProducer",
            format!("new kafka producer: kafka: client has run out of available brokers to talk to: {last}"),
        ))
    }
}

fn gen_id(classic: bool) -> String {
    if classic {
        let b: [u8; 16] = std::array::from_fn(|_| fastrand::u8(..));
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-4{}-{:x}{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            8 + (b[8] & 3),
            &h[17..20],
            &h[20..32]
        )
    } else {
        format!("{}{}", fastrand::u64(..), fastrand::u64(..))
    }
}

async fn create(State(sh): S, q: axum::extract::RawQuery, body: Bytes) -> Response {
    let r = create_inner(&sh, query(&q.0), body).await;
    run(&sh, r)
}

async fn create_inner(sh: &Shared, q: HashMap<String, String>, body: Bytes) -> Res {
    let profile = &sh.cfg.profile;
    let classic = profile.is_classic();
    let raw: Value = parse_body(&body)?;
    if raw.is_null() {
        // A literal `null` body makes BindJSON set the config pointer to nil; the handler then
        // dereferences it and gin's recovery answers 500 with an empty body (both archs).
        return Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    let null_config = raw.get("replica_config").is_some_and(Value::is_null);
    super::gojson::check_changefeed_config(&raw)?;
    let req: ChangefeedConfig = serde_json::from_value(raw.clone())
        .map_err(|e| ApiErr::invalid_param(format!("invalid api parameter: {e}")))?;
    let ns = if classic {
        req.namespace
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "default".into())
    } else {
        // ticdc CreateChangefeed: `GetKeyspaceValueWithDefault`; the body's keyspace is ignored.
        scope(sh, &q)
    };
    let id = if req.changefeed_id.is_empty() {
        gen_id(classic)
    } else {
        req.changefeed_id.clone()
    };
    let empty_sink = || {
        ApiErr::new(
            "CDC:ErrSinkURIInvalid",
            "sink uri invalid 'sink_uri is empty, cannot create a changefeed without sink_uri'",
        )
    };
    let exists = |sh: &Shared| -> Result<(), ApiErr> {
        if sh.state.lock().unwrap().exists_in_meta(&ns, &id) {
            Err(ApiErr::new(
                "CDC:ErrChangeFeedAlreadyExists",
                format!("changefeed already exists, {id}"),
            ))
        } else {
            Ok(())
        }
    };
    if classic {
        if req.sink_uri.is_empty() {
            return Err(empty_sink());
        }
        check_id(&id)?;
        if !state::valid_id(&ns) {
            return Err(ApiErr::invalid_param(format!("invalid namespace: {ns}")));
        }
        exists(sh)?;
    } else {
        check_id(&id)?;
        exists(sh)?;
        if req.sink_uri.is_empty() {
            return Err(empty_sink());
        }
    }
    let (now_tso, gc) = {
        let mut st = sh.state.lock().unwrap();
        let tso = st.tso();
        (tso, st.gc_safepoint(tso))
    };
    let parsed = if classic {
        None
    } else {
        Some(config::parse_sink_uri(&req.sink_uri)?)
    };
    let start_ts = if req.start_ts == 0 {
        now_tso
    } else {
        req.start_ts
    };
    if start_ts > now_tso {
        return Err(ApiErr::invalid_param(format!(
            "invalid start-ts {start_ts}, larger than current tso {now_tso}"
        )));
    }
    // tiflow v8.5.0 cdc/api/v2/api_helpers.go `verifyCreateChangefeedConfig` checks the GC
    // safepoint before target-ts; pingcap/ticdc v8.5.7 api/v2/changefeed.go
    // `createChangefeed` after target-ts and `ValidateAndAdjust`.
    if classic {
        before_gc(start_ts, gc)?;
    }
    if req.target_ts != 0 && req.target_ts <= start_ts {
        return Err(ApiErr::new(
            "CDC:ErrTargetTsBeforeStartTs",
            format!(
                "fail to create changefeed because target-ts {} is earlier than start-ts {start_ts}",
                req.target_ts
            ),
        ));
    }
    if null_config {
        // `"replica_config": null`: the earlier checks pass, then ToInternalReplicaConfig
        // dereferences nil (tiflow verifyCreateChangefeedConfig, ticdc CreateChangefeed):
        // gin's recovery answers 500 with an empty body.
        return Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    let (u, kind) = match parsed {
        Some(p) => p,
        None => config::parse_sink_uri(&req.sink_uri)?,
    };
    let mut cfg = config::for_create(profile, req.replica_config.as_ref())?;
    sink_check::validate_config(&cfg, &u, profile)
        .and_then(|()| config::validate_and_adjust(&mut cfg, &u, kind, profile))
        .map_err(|e| {
            if classic {
                e
            } else {
                e.wrap_invalid_replica_config()
            }
        })?;
    if !classic {
        before_gc(start_ts, gc)?;
    }
    sink_check::before_connect(&cfg, &u, kind, profile)?;
    filter::check_eligible(&sh.catalog, &cfg, profile)?;
    sink_check(sh, &req.sink_uri, &u, kind).await.map_err(|e| {
        if classic {
            e
        } else {
            sink_check::sink_verify_error(e, &u)
        }
    })?;
    sink_check::after_connect(&cfg, &u, kind, profile)?;
    let mut cf = Cf::new(&ns, &id, &req.sink_uri, start_ts, req.target_ts, cfg);
    if classic && !sh.cfg.tick.is_zero() {
        cf.visible_at = Some(state::due(sh.cfg.tick));
    }
    let resp = info(
        sh,
        &cf,
        start_ts,
        true,
        &cf.sink_uri,
        cf.target_ts,
        &cf.config,
    );
    // The response is built from what was written: checkpoint = start_ts, config unstripped.
    let mut resp = resp;
    resp.resolved_ts = start_ts;
    resp.checkpoint_ts = start_ts;
    resp.checkpoint_time = t::custom(t::physical(start_ts));
    if classic && profile.version() >= crate::ticdc::Version::new(7, 2, 0) {
        let at = cf.visible_at.unwrap_or_else(Instant::now);
        if sh.cfg.tick.is_zero() {
            cf.apply(Op::Load, now_tso, profile);
        } else {
            cf.pending.push((at, Op::Load));
        }
    }
    let mut st = sh.state.lock().unwrap();
    let key = (ns.clone(), id.clone());
    if st.cfs.contains_key(&key) {
        return Err(ApiErr::new(
            "CDC:ErrMetaOpFailed",
            format!("unexpected meta operation failure: create changefeed {id}"),
        ));
    }
    st.cfs.insert(key, cf);
    Ok(ok_json(&resp))
}

/// `EnsureChangefeedStartTsSafety` (tiflow v8.5.0 and pingcap/ticdc v8.5.7
/// pkg/txnutil/gc/gc_service.go): a start-ts at or below the minimum service GC safepoint is
/// refused with `ErrStartTsBeforeGC` (400: it is on the bad-request list).
fn before_gc(start_ts: u64, safepoint: u64) -> Result<(), ApiErr> {
    if start_ts > 0 && start_ts <= safepoint {
        return Err(ApiErr::new(
            "CDC:ErrStartTsBeforeGC",
            format!("fail to create or maintain changefeed because start-ts {start_ts} is earlier than or equal to GC safepoint at {safepoint}"),
        ));
    }
    Ok(())
}

async fn update(
    State(sh): S,
    Path(id): Path<String>,
    q: axum::extract::RawQuery,
    body: Bytes,
) -> Response {
    let r = update_inner(&sh, id, query(&q.0), body).await;
    run(&sh, r)
}

async fn update_inner(sh: &Shared, id: String, q: HashMap<String, String>, body: Bytes) -> Res {
    let profile = &sh.cfg.profile;
    let classic = profile.is_classic();
    let ns = scope(sh, &q);
    check_id(&id)?;
    // State precondition first: even a garbage body gets this error (§4.5).
    let (cur_sink, cur_target, cur_cfg, start_ts) = {
        let mut st = sh.state.lock().unwrap();
        let (cf, _) = st
            .get_mut(&ns, &id, profile)
            .ok_or_else(|| not_exists(&sh.cfg.profile, &ns, &id))?;
        if !matches!(&*cf.state, "stopped" | "failed") {
            return Err(ApiErr::new(
                "CDC:ErrChangefeedUpdateRefused",
                "changefeed update error: can only update changefeed config when it is stopped or failed",
            ));
        }
        let (s, tg, c) = cf.latest();
        (s.to_string(), tg, c.clone(), cf.start_ts)
    };
    let raw: Value = parse_body(&body)?;
    if !raw.is_null() {
        super::gojson::check_changefeed_config(&raw)?;
    }
    let req: ChangefeedConfig = serde_json::from_value(raw.clone())
        .map_err(|e| ApiErr::invalid_param(format!("invalid api parameter: {e}")))?;
    let target_ts = if req.target_ts == 0 {
        cur_target
    } else {
        req.target_ts
    };
    // tiflow v8.5.0 cdc/api/v2/api_helpers.go `verifyUpdateChangefeedConfig` and pingcap/ticdc
    // v8.5.7 api/v2/changefeed.go `UpdateChangefeed`: the target_ts check comes first, and
    // `GenWithStack` replaces ErrChangefeedUpdateRefused's "changefeed update error: %s"
    // template with its own text.
    if req.target_ts != 0 && req.target_ts <= start_ts {
        return Err(ApiErr::new(
            "CDC:ErrChangefeedUpdateRefused",
            format!(
                "can not update target_ts:{} less than start_ts:{start_ts}",
                req.target_ts
            ),
        ));
    }
    // pingcap/ticdc v8.5.7 `UpdateChangefeed` then refuses a start_ts (after the target_ts
    // check); tiflow ignores it.
    if !classic && req.start_ts != 0 {
        return Err(ApiErr::invalid_param("start_ts can not be updated"));
    }
    let sink_uri = if req.sink_uri.is_empty() {
        cur_sink.clone()
    } else {
        req.sink_uri.clone()
    };
    let wrap = |e: ApiErr| -> ApiErr {
        if classic {
            e.wrap("CDC:ErrChangefeedUpdateRefused")
        } else if e.code == "CDC:ErrAPIInvalidParam" {
            e
        } else {
            e.wrap_invalid_replica_config()
        }
    };
    let (u, kind) = config::parse_sink_uri(&sink_uri).map_err(wrap)?;
    let mut cfg = match raw.get("replica_config").filter(|v| !v.is_null()) {
        Some(rc) => config::for_update(profile, rc)?,
        None => cur_cfg.clone(),
    };
    sink_check::validate_config(&cfg, &u, profile)
        .and_then(|()| config::validate_and_adjust(&mut cfg, &u, kind, profile))
        .map_err(wrap)?;
    update_tables_check(sh, &cfg)?;
    if classic {
        // No-op detection: compare what the owner would load (both sides completed/stripped).
        let mut a = cfg.clone();
        let mut b = cur_cfg.clone();
        config::complete_and_strip(&mut a, kind, profile);
        config::complete_and_strip(&mut b, state::kind_of(&cur_sink), profile);
        if a == b && sink_uri == cur_sink && target_ts == cur_target {
            return Err(ApiErr::new(
                "CDC:ErrChangefeedUpdateRefused",
                "changefeed update error: changefeed config is the same with the old one, do nothing",
            ));
        }
    }
    let refused = |e: ApiErr| {
        if classic {
            e.wrap("CDC:ErrChangefeedUpdateRefused")
        } else {
            e
        }
    };
    sink_check::before_connect(&cfg, &u, kind, profile).map_err(refused)?;
    sink_check::after_connect(&cfg, &u, kind, profile).map_err(refused)?;
    if !req.sink_uri.is_empty() {
        sink_check(sh, &sink_uri, &u, kind).await.map_err(|e| {
            if classic {
                e.wrap("CDC:ErrChangefeedUpdateRefused")
            } else {
                sink_check::sink_verify_error(e, &u)
            }
        })?;
    }
    let mut st = sh.state.lock().unwrap();
    let (cf, tso) = st
        .get_mut(&ns, &id, profile)
        .ok_or_else(|| not_exists(&sh.cfg.profile, &ns, &id))?;
    let resp = info(sh, cf, tso, true, &sink_uri, target_ts, &cfg);
    let op = Op::Update {
        sink_uri,
        target_ts,
        config: cfg,
    };
    if classic && !sh.cfg.tick.is_zero() {
        cf.pending.push((state::due(sh.cfg.tick), op));
    } else if classic {
        cf.apply(op, tso, profile);
    } else {
        // ticdc replaces the in-memory copy synchronously and does not strip (§7 #8).
        if let Op::Update {
            sink_uri,
            target_ts,
            config,
        } = op
        {
            cf.sink_uri = sink_uri;
            cf.target_ts = target_ts;
            cf.config = std::sync::Arc::new(config);
        }
    }
    Ok(ok_json(&resp))
}

/// Tables on update. tiflow v8.5.0 cdc/api/v2/api_helpers.go `verifyUpdateChangefeedConfig`
/// checks the filter (`ErrChangefeedUpdateRefused` wrapping the cause) but does not refuse
/// ineligible tables; ticdc v8.5.7-release.1 api/v2/changefeed.go `UpdateChangefeed` refuses
/// them with a raw `ErrTableIneligible` unless the new config forces or ignores them.
fn update_tables_check(sh: &Shared, cfg: &Value) -> Result<(), ApiErr> {
    let profile = &sh.cfg.profile;
    if profile.is_classic() {
        filter::filter_or_err(cfg, profile)
            .map_err(|e| e.wrap("CDC:ErrChangefeedUpdateRefused"))?;
        Ok(())
    } else {
        filter::check_eligible(&sh.catalog, cfg, profile).map_err(|e| {
            if e.code == "CDC:ErrTableIneligible" {
                e
            } else {
                e.wrap("CDC:ErrChangefeedUpdateRefused")
            }
        })
    }
}

async fn delete(State(sh): S, Path(id): Path<String>, q: axum::extract::RawQuery) -> Response {
    let q = query(&q.0);
    let ns = scope(&sh, &q);
    let classic = sh.cfg.profile.is_classic();
    if let Err(e) = check_id(&id) {
        return run(&sh, Err(e));
    }
    let existed = {
        let mut st = sh.state.lock().unwrap();
        st.get_mut(&ns, &id, &sh.cfg.profile).is_some()
    };
    if !existed {
        return if classic {
            ok_json(&json!({}))
        } else {
            ok_json(&Value::Null)
        };
    }
    if classic && !sh.cfg.tick.is_zero() {
        // The remove job runs on the next owner tick; the handler polls until it is gone.
        tokio::time::sleep(sh.cfg.tick).await;
    }
    sh.state.lock().unwrap().remove(&ns, &id);
    ok_json(&json!({}))
}

async fn pause(State(sh): S, Path(id): Path<String>, q: axum::extract::RawQuery) -> Response {
    let q = query(&q.0);
    let ns = scope(&sh, &q);
    let profile = &sh.cfg.profile;
    let r = (|| {
        check_id(&id)?;
        let mut st = sh.state.lock().unwrap();
        let (cf, tso) = st
            .get_mut(&ns, &id, profile)
            .ok_or_else(|| not_exists(&sh.cfg.profile, &ns, &id))?;
        if profile.is_classic() {
            if sh.cfg.tick.is_zero() {
                cf.apply(Op::Pause, tso, profile);
            } else {
                cf.pending.push((state::due(sh.cfg.tick), Op::Pause));
            }
        } else {
            // ticdc: any state → stopped, synchronously (§4.7).
            cf.checkpoint = cf.checkpoint_now(tso);
            cf.state = "stopped".into();
            cf.admin_job_type = 1;
        }
        Ok(ok_json(&json!({})))
    })();
    run(&sh, r)
}

async fn resume(
    State(sh): S,
    Path(id): Path<String>,
    q: axum::extract::RawQuery,
    body: Bytes,
) -> Response {
    let q = query(&q.0);
    let ns = scope(&sh, &q);
    let profile = &sh.cfg.profile;
    let classic = profile.is_classic();
    let r = (|| {
        check_id(&id)?;
        // pingcap/ticdc v8.5.7 api/v2/changefeed.go `ResumeChangefeed` reads the body and,
        // unless it is empty, `json.Unmarshal`s it (the whole body must be one value) before
        // looking the changefeed up; tiflow v8.5.0 `resumeChangefeed` binds it with gin's
        // `BindJSON` (first value only; an empty body is EOF) after the look-up.
        let newarch_body: Option<Value> = if classic || body.is_empty() {
            None
        } else {
            Some(decode_body(&body, gojson::Decode::Unmarshal)?)
        };
        let mut st = sh.state.lock().unwrap();
        let now = st.tso();
        let gc = st.gc_safepoint(now);
        let (cf, tso) = st
            .get_mut(&ns, &id, profile)
            .ok_or_else(|| not_exists(&sh.cfg.profile, &ns, &id))?;
        let overwrite = if !classic && newarch_body.is_none() {
            0
        } else {
            let v: Value = match newarch_body {
                Some(v) => v,
                None => parse_body(&body)?,
            };
            match v.get("overwrite_checkpoint_ts") {
                None | Some(Value::Null) => 0,
                Some(x) => x.as_u64().ok_or_else(|| {
                    ApiErr::invalid_param(format!(
                        "invalid api parameter: json: cannot unmarshal {x} into Go struct field ResumeChangefeedConfig.overwrite_checkpoint_ts of type uint64"
                    ))
                })?,
            }
        };
        if overwrite > tso {
            return Err(ApiErr::invalid_param(format!(
                "invalid checkpoint-ts {overwrite}, larger than current tso {tso}"
            )));
        }
        // tiflow v8.5.0 cdc/api/v2/changefeed.go `resumeChangefeed` and pingcap/ticdc v8.5.7
        // api/v2/changefeed.go (same name): without `overwrite_checkpoint_ts` the current
        // checkpoint is checked, then `verifyResumeChangefeedConfig` runs the GC check. A
        // changefeed's own checkpoint holds the safepoint back while it blocks GC, so this only
        // bites one that failed because of GC or sat paused beyond the gc-ttl.
        let resume_from = if overwrite > 0 {
            overwrite
        } else {
            cf.checkpoint_now(tso)
        };
        before_gc(resume_from, gc)?;
        let fail = sh.cfg.faults.as_ref().is_some_and(|f| {
            f.fail_on_resume_ids.contains(&id)
                || (f.fail_on_resume > 0.0 && sh.fault_rng.lock().unwrap().f64() < f.fail_on_resume)
        });
        if fail && matches!(&*cf.state, "stopped" | "failed" | "finished") {
            sh.faults_injected.fetch_add(1, Ordering::Relaxed);
        }
        let op = Op::Resume { overwrite, fail };
        if classic && !sh.cfg.tick.is_zero() {
            cf.pending.push((state::due(sh.cfg.tick), op));
        } else {
            cf.apply(op, tso, profile);
        }
        Ok(ok_json(&json!({})))
    })();
    run(&sh, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_tables() {
        assert!(known_route("/api/v2/changefeeds"));
        assert!(known_route("/api/v2/changefeeds/x/pause"));
        assert!(known_route("/api/v2/processors/a/b"));
        assert!(!known_route("/api/v2/changefeeds/x/nope"));
        assert!(!known_route("/api/v1/changefeeds"));
        assert!(auth_checked(&Method::POST, "/api/v2/changefeeds", true));
        assert!(!auth_checked(&Method::GET, "/api/v2/changefeeds", true));
        assert!(auth_checked(&Method::DELETE, "/api/v2/changefeeds/x", true));
        assert!(!auth_checked(
            &Method::GET,
            "/api/v2/changefeeds/x/status",
            true
        ));
        assert!(auth_checked(
            &Method::GET,
            "/api/v2/changefeeds/x/status",
            false
        ));
        assert!(!auth_checked(&Method::POST, "/api/v2/tso", true));
    }

    #[test]
    fn basic_auth_decoding_and_ids() {
        assert_eq!(base64_decode("YWRtaW46cHc=").unwrap(), b"admin:pw");
        assert!(base64_decode("!!").is_none());
        let u = gen_id(true);
        assert!(state::valid_id(&u) && u.len() == 36, "{u}");
        assert!(state::valid_id(&gen_id(false)));
    }

    #[test]
    fn error_bodies_are_go_shaped() {
        let e = ApiErr::new("CDC:ErrChangeFeedNotExists", "changefeed not exists, a<b");
        let body = String::from_utf8(indented(&json!({"error_msg": e.text()}))).unwrap();
        assert!(body.contains("\n    \"error_msg\""));
        let escaped = String::from_utf8(go_escape(body.into_bytes())).unwrap();
        assert!(escaped.contains("a\\u003cb"));
        // The compact writer escapes the same bytes, and only inside strings.
        let v = json!({"k<&>": "x<y>&z\"", "n": 1});
        let compact = String::from_utf8(go_compact(&v)).unwrap();
        assert_eq!(
            compact,
            r#"{"k\u003c\u0026\u003e":"x\u003cy\u003e\u0026z\"","n":1}"#
        );
        assert_eq!(serde_json::from_str::<Value>(&compact).unwrap(), v);
    }
}
