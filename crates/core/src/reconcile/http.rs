//! The reconcile endpoints: `/metrics` (Prometheus text), `/healthz`, `/readyz`, `/status`
//! (JSON). Served by hyper's HTTP/1 connection builder over an axum router, with limits: a
//! header-read timeout (hyper starts it whenever it waits for a request head, so it is also the
//! idle timeout of a kept-alive connection), a cap on one connection's lifetime, a cap on open
//! connections and on request bodies.
//!
//! At the cap, a new connection is not refused: the open connection that has waited longest
//! without a request in progress is closed to make room. Sockets that trickle a request head
//! a byte at a time (slowloris), or sit idle, are then what gives way, while a probe that sends
//! its request at once is served: `/healthz` stays reachable whatever slow clients do (a
//! refusal on accept let 70 slow sockets starve most probes).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

use super::Shared;
use crate::Error;

/// A request head must arrive within this; also how long an idle kept-alive connection lives.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// No connection is served longer than this (a scrape takes milliseconds).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// Connections served at once; more are closed on accept.
pub const MAX_CONNECTIONS: usize = 64;
/// The endpoints take no body; a request announcing more than this is refused with 413.
pub const MAX_BODY: u64 = 4096;

/// Bind the listen address (`127.0.0.1:9464`; port 0 picks a free one).
pub async fn bind(listen: &str) -> Result<TcpListener, Error> {
    TcpListener::bind(listen).await.map_err(|e| {
        Error::msg(format!(
            "cannot listen on {listen}: {e}\nhelp: pick another address with --listen, e.g. 127.0.0.1:0"
        ))
    })
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/status", get(status))
        .layer(axum::middleware::from_fn(limit_body))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY as usize))
        .with_state(shared)
}

async fn limit_body(req: Request, next: Next) -> Response {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BODY) {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n").into_response();
    }
    next.run(req).await
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

async fn readyz(State(s): State<Arc<Shared>>) -> Response {
    let late = s.not_ready();
    if late.is_empty() {
        (StatusCode::OK, "ready\n".to_string()).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: no successful cycle within 3 intervals on cluster(s) {}\n",
                late.join(", ")
            ),
        )
            .into_response()
    }
}

async fn status(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(s.status_json()).into_response()
}

/// One open connection: since when it has had no request in progress (`None` while one is).
struct Conn {
    quiet_since: Option<Instant>,
    abort: Option<AbortHandle>,
}

/// The open connections, to pick the one that gives way at the cap.
#[derive(Default)]
struct Conns {
    next: u64,
    open: HashMap<u64, Conn>,
}

impl Conns {
    /// Register a connection, closing the quietest one first when the cap is reached. `None`
    /// when every open connection has a request in progress (then the new one is refused).
    fn admit(&mut self) -> Option<u64> {
        if self.open.len() >= MAX_CONNECTIONS {
            let victim = self
                .open
                .iter()
                .filter_map(|(id, c)| c.quiet_since.map(|t| (t, *id)))
                .min()
                .map(|(_, id)| id)?;
            if let Some(abort) = self.open.remove(&victim).and_then(|c| c.abort) {
                abort.abort();
            }
        }
        self.next += 1;
        self.open.insert(
            self.next,
            Conn {
                quiet_since: Some(Instant::now()),
                abort: None,
            },
        );
        Some(self.next)
    }

    fn busy(&mut self, id: u64, busy: bool) {
        if let Some(c) = self.open.get_mut(&id) {
            c.quiet_since = (!busy).then(Instant::now);
        }
    }
}

/// Serve until the first signal; connections in progress are dropped with the task.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: crate::shutdown::Shutdown,
) {
    let app = router(shared);
    let conns = Arc::new(Mutex::new(Conns::default()));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.graceful() => return,
        };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors and the like: wait a little rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Some(id) = conns.lock().unwrap().admit() else {
            drop(stream);
            continue;
        };
        let table = conns.clone();
        let track = axum::middleware::from_fn(move |req: Request, next: Next| {
            let table = table.clone();
            async move {
                table.lock().unwrap().busy(id, true);
                let r = next.run(req).await;
                table.lock().unwrap().busy(id, false);
                r
            }
        });
        let svc = hyper_util::service::TowerToHyperService::new(app.clone().layer(track));
        let table = conns.clone();
        let task = tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, conn).await;
            table.lock().unwrap().open.remove(&id);
        });
        if let Some(c) = conns.lock().unwrap().open.get_mut(&id) {
            c.abort = Some(task.abort_handle());
        }
    }
}

/// The address a listener is bound to, for the start-up line.
pub fn local(listener: &TcpListener) -> Option<SocketAddr> {
    listener.local_addr().ok()
}
