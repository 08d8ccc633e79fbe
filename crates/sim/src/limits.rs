//! Limits that keep the simulator's HTTP server from hanging on a misbehaving client: hyper's
//! header-read timeout (which also closes a keep-alive connection left idle), a whole-request
//! timeout and a body limit from tower-http, and a cap on connections served at once.
//! Real TiCDC (Go net/http + gin) sets no body limit; see docs/guide/simulator.md, "Limits and
//! differences from TiCDC".

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The server's limits (`SimConfig::limits`).
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// A request's headers must arrive within this; also how long a connection may sit idle
    /// between requests (hyper starts the timer when it waits for the next request head).
    pub header_read_timeout: Duration,
    /// A request (body and handler) must complete within this: 408 otherwise.
    pub request_timeout: Duration,
    /// Largest request body: 413 otherwise, decided from `Content-Length` before reading.
    pub max_body_bytes: usize,
    /// Connections served at once; further ones wait in the accept queue.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(120),
            max_body_bytes: 16 << 20,
            max_connections: 1024,
        }
    }
}

/// The router with the body limit and the request timeout.
pub fn layered(router: Router, l: &ServerLimits) -> Router {
    router
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            l.request_timeout,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            l.max_body_bytes,
        ))
}

/// hyper's HTTP/1 settings: vectored writes, a timer and the header-read timeout. The server is
/// HTTP/1 only (`http1_only`), so hyper reads the first request head itself and its timer also
/// covers a connection that never sends a byte (protocol sniffing would wait for one forever).
pub fn configure(
    b: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    l: &ServerLimits,
) {
    b.http1()
        // Bodies are queued and written with writev, never copied into hyper's own buffer:
        // a list of 100,000 changefeeds is 18 MB.
        .writev(true)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(l.header_read_timeout);
}

/// An axum-server acceptor that holds a semaphore permit for as long as the connection's
/// service lives (it is dropped when hyper finishes the connection).
#[derive(Clone)]
pub struct ConnCap<A> {
    inner: A,
    permits: Arc<Semaphore>,
}

impl<A> ConnCap<A> {
    pub fn new(inner: A, max: usize) -> Self {
        ConnCap {
            inner,
            permits: Arc::new(Semaphore::new(max.max(1))),
        }
    }
}

/// A connection's service plus its permit.
#[derive(Clone)]
pub struct Permitted<S> {
    inner: S,
    _permit: Arc<OwnedSemaphorePermit>,
}

impl<S, R> tower::Service<R> for Permitted<S>
where
    S: tower::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        self.inner.call(req)
    }
}

impl<I, S, A> axum_server::accept::Accept<I, S> for ConnCap<A>
where
    A: axum_server::accept::Accept<I, S> + Clone + Send + Sync + 'static,
    A::Future: Send,
    I: Send + 'static,
    S: Send + 'static,
{
    type Stream = A::Stream;
    type Service = Permitted<A::Service>;
    type Future =
        futures::future::BoxFuture<'static, std::io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let permits = self.permits.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            let permit = permits
                .acquire_owned()
                .await
                .map_err(std::io::Error::other)?;
            let (stream, service) = inner.accept(stream, service).await?;
            Ok((
                stream,
                Permitted {
                    inner: service,
                    _permit: Arc::new(permit),
                },
            ))
        })
    }
}
