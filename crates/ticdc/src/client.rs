//! Async client for every TiCDC OpenAPI v2 operation a changefeed manager needs.
//!
//! Retries (the shared backoff and `--retry-for` budget of `crate::retry`) only where repeating
//! is harmless: GETs, DELETE (a missing changefeed is success), and the read-only POSTs (`/tso`,
//! `/verify_table`); and only for transport failures and 5xx. A create, update, pause or resume
//! is never re-sent here: apply decides, knowing what a repeat means.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use futures::future::OptionFuture;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::ClientError;
use super::models::*;
use super::profile::{Arch, ServerProfile, Version};
pub use super::sift::Listing;
use super::sift::Sifter;

/// Largest response body accepted (a list of 10,000 changefeeds is about 3 MiB).
pub const MAX_BODY: usize = 64 << 20;
/// Chunks of a list read ahead held for its reader: when the reader lags (or has not come yet)
/// the read pauses, and the rest waits in the socket rather than in fresh memory.
const AHEAD_CHUNKS: usize = 8;

/// How to reach and authenticate to a TiCDC server.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub base_url: String,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// How long retryable calls are repeated (`--retry-for`); zero = one attempt.
    pub retry_for: Duration,
    /// First pause between attempts.
    pub retry_base: Duration,
    /// Whether failures before the server's first answer in this run are retried too (for
    /// `retry_for`). Off by default: a server never reached (refused, DNS, TLS, not a TiCDC)
    /// fails at once, since the budget is for riding through an outage of a server that was
    /// reached; on when the user asked for a budget explicitly (`--retry-for`), to wait for a
    /// server that is starting.
    pub retry_first_contact: bool,
}

impl ClientOptions {
    pub fn new(base_url: impl Into<String>) -> Self {
        ClientOptions {
            base_url: base_url.into(),
            ca: None,
            cert: None,
            key: None,
            user: None,
            password: None,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            retry_for: crate::retry::DEFAULT_RETRY_FOR,
            retry_base: Duration::from_millis(100),
            retry_first_contact: false,
        }
    }
}

/// What the server said of the credentials cdcform sends (see [`Client::check_credentials`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Credentials {
    /// Accepted, or none needed.
    Ok,
    /// The server wants basic auth and got none (`CDC:ErrCredentialNotFound`).
    Missing,
    /// The server refused the user or password (`CDC:ErrUnauthorized`).
    Refused,
    /// The check got no clear answer (an old server, an outage).
    Unknown,
}

impl Credentials {
    pub fn as_str(&self) -> &'static str {
        match self {
            Credentials::Ok => "ok",
            Credentials::Missing => "missing",
            Credentials::Refused => "refused",
            Credentials::Unknown => "unknown",
        }
    }
    /// Writes would be refused.
    /// What it means, in the words every output uses (plan header, gate, status).
    pub fn words(&self) -> &'static str {
        match self {
            Credentials::Ok => "accepted",
            Credentials::Missing => "the server wants basic-auth credentials and none were given",
            Credentials::Refused => "the server refused the user or password",
            Credentials::Unknown => "the check got no clear answer",
        }
    }

    pub fn is_bad(&self) -> bool {
        matches!(self, Credentials::Missing | Credentials::Refused)
    }
}

/// Whether a call may be repeated after a transport failure or a 503.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Idempotent {
    Yes,
    No,
}

/// Cheap to clone: clones share the connection pool, the retry budget and what was learnt of
/// the server, so a read can hand each request to its own task.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: String,
    auth: Option<(String, Option<String>)>,
    arch: AtomicU8,
    budget: crate::retry::Budget,
    /// Where "waiting for …" lines go (stderr in the CLI); unset = nowhere.
    notify: OnceLock<Notify>,
    /// When the last "waiting for …" line went out (one per few seconds, not one per request).
    last_notice: Mutex<Option<Instant>>,
    /// Since when every call has failed (cleared by any answer): the retry budget counts from
    /// here, so a long outage fails the calls that follow at once instead of each waiting
    /// `--retry-for` anew (10,000 reads would otherwise wait for hours).
    failing_since: Mutex<Option<Instant>>,
    /// Whether TiCDC answered once in this run (a 2xx, or an error carrying TiCDC's
    /// `error_code`): only then are failures an outage worth riding through.
    reached: AtomicBool,
    /// [`ClientOptions::retry_first_contact`].
    retry_first_contact: bool,
    /// Timeout of one request, named in "no answer within …".
    timeout: Duration,
    /// Whether `--ca` was given: TLS failures then speak of it, and only then.
    has_ca: bool,
    /// GETs sent ahead of need ([`Client::prefetch_first_round`]), by path; each is used once.
    ahead: Mutex<HashMap<String, tokio::task::JoinHandle<Answer>>>,
    /// Lists sent ahead of need, by path: their bodies as they arrive (see [`Early`]).
    ahead_lists: Mutex<HashMap<String, tokio::sync::mpsc::Receiver<Early>>>,
}

/// What a list read ahead of need passes on: the status once, then the body's chunks as they
/// arrive, then `Done`. A channel that closes before `Done` broke off: the list is asked again.
enum Early {
    Opened(StatusCode),
    Chunk(bytes::Bytes),
    Done,
    /// No 2xx answer, after the retries a read gets.
    Failed(ClientError),
}

/// The status and body of a 2xx answer, or why there is none.
type Answer = Result<(StatusCode, Vec<u8>), ClientError>;

/// A sink for progress lines about waits.
pub type Notify = Arc<dyn Fn(&str) + Send + Sync>;

/// Minimum gap between two "retrying" progress lines.
const NOTICE_EVERY: Duration = Duration::from_secs(5);

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.inner.base)
            .finish_non_exhaustive()
    }
}

fn read_file(path: &PathBuf, what: &str) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path)
        .map_err(|e| ClientError::Config(format!("cannot read {what} {}: {e}", path.display())))
}

/// The server URL must be absolute http(s); `127.0.0.1:8300` gets the fixed value suggested.
fn check_server_url(base: &str) -> Result<(), ClientError> {
    let fix = |why: &str| {
        ClientError::Config(format!(
            "invalid server URL `{base}`: {why}\nhelp: use `http://{base}` (or `https://{base}` for a TLS server)"
        ))
    };
    match url::Url::parse(base) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        Ok(u) if !base.contains("://") => Err(fix(&format!(
            "it needs `http://` or `https://` (`{}:` was read as the scheme)",
            u.scheme()
        ))),
        Ok(u) => Err(ClientError::Config(format!(
            "invalid server URL `{base}`: the scheme must be http or https, not `{}`",
            u.scheme()
        ))),
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            Err(fix("it needs `http://` or `https://`"))
        }
        Err(e) => Err(ClientError::Config(format!(
            "invalid server URL `{base}`: {e}"
        ))),
    }
}

impl Client {
    pub fn new(opts: ClientOptions) -> Result<Client, ClientError> {
        let base = opts.base_url.trim_end_matches('/').to_string();
        check_server_url(&base)?;
        let mut b = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.connect_timeout.min(opts.timeout))
            .pool_max_idle_per_host(64)
            .no_proxy();
        match (&opts.ca, &opts.cert, &opts.key) {
            (_, Some(_), None) | (_, None, Some(_)) => {
                return Err(ClientError::Config(
                    "a client certificate needs both --cert and --key".into(),
                ))
            }
            (Some(ca), cert, key) => {
                let identity = cert.as_deref().zip(key.as_deref());
                b = b.use_preconfigured_tls(super::tls::client_config(ca, identity)?);
            }
            (None, Some(cert), Some(key)) => {
                let mut pem = read_file(cert, "client certificate")?;
                pem.push(b'\n');
                pem.extend(read_file(key, "client key")?);
                let id = reqwest::Identity::from_pem(&pem).map_err(|e| {
                    ClientError::Config(format!(
                        "invalid client certificate/key {} / {}: {e}",
                        cert.display(),
                        key.display()
                    ))
                })?;
                b = b.use_rustls_tls().identity(id);
            }
            (None, None, None) => b = b.use_rustls_tls(),
        }
        let has_ca = opts.ca.is_some();
        let http = b
            .build()
            .map_err(|e| ClientError::Config(format!("cannot build HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                auth: opts.user.map(|u| (u, opts.password)),
                arch: AtomicU8::new(0),
                budget: crate::retry::Budget::new(opts.retry_for, opts.retry_base),
                notify: OnceLock::new(),
                last_notice: Mutex::new(None),
                failing_since: Mutex::new(None),
                reached: AtomicBool::new(false),
                retry_first_contact: opts.retry_first_contact,
                ahead: Mutex::new(HashMap::new()),
                ahead_lists: Mutex::new(HashMap::new()),
                timeout: opts.timeout,
                has_ca,
            }),
        })
    }

    /// Send "waiting for …" progress lines to `notify` (once; later calls are ignored).
    pub fn set_progress(&self, notify: Notify) {
        let _ = self.inner.notify.set(notify);
    }

    /// Note whether the server answered: any answer ends a failing streak, and an answer
    /// from TiCDC (2xx, or its `error_code`) tells that it was reached.
    fn track<T>(&self, r: &Result<T, ClientError>) {
        if r.is_ok() || r.as_ref().err().and_then(ClientError::code).is_some() {
            self.inner.reached.store(true, Ordering::Relaxed);
        }
        let mut since = self.inner.failing_since.lock().unwrap();
        match r {
            Err(e) if e.is_retryable() => {
                since.get_or_insert_with(Instant::now);
            }
            _ => *since = None,
        }
    }

    /// The budget of a call starting now: `--retry-for`, counted from the start of the current
    /// failing streak if there is one.
    fn outage_budget(&self) -> crate::retry::Budget {
        let now = Instant::now();
        let since = self
            .inner
            .failing_since
            .lock()
            .unwrap()
            .unwrap_or(now)
            .min(now);
        let left = (since + self.inner.budget.retry_for).saturating_duration_since(now);
        crate::retry::Budget::new(left, self.inner.budget.min_delay)
    }

    /// The retry budget of this client (`--retry-for`).
    pub fn budget(&self) -> crate::retry::Budget {
        self.inner.budget
    }

    /// Say what a retry waits for, at most once every few seconds.
    pub fn notice(&self, what: &str, e: &ClientError, left: Duration) {
        let Some(notify) = self.inner.notify.get() else {
            return;
        };
        {
            let mut last = self.inner.last_notice.lock().unwrap();
            if last.is_some_and(|t| t.elapsed() < NOTICE_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        let left = if left < Duration::from_secs(10) {
            format!("{:.1}s", left.as_secs_f64())
        } else {
            format!("{}s", left.as_secs_f64().round() as u64)
        };
        notify(&format!(
            "{}, retrying for up to {left} ({what})",
            e.waiting_for()
        ));
    }

    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    pub fn arch(&self) -> Arch {
        if self.inner.arch.load(Ordering::Relaxed) == 1 {
            Arch::Newarch
        } else {
            Arch::Classic
        }
    }

    /// Which scope parameter (`namespace` or `keyspace`) the requests carry.
    pub fn set_arch(&self, arch: Arch) {
        self.inner
            .arch
            .store(if arch == Arch::Newarch { 1 } else { 0 }, Ordering::Relaxed);
    }

    fn scope_query(&self, ns: &str) -> String {
        format!(
            "{}={}",
            self.arch().scope_param(),
            super::mask::query_escape(ns)
        )
    }

    fn cf_path(&self, ns: &str, id: &str, suffix: &str) -> String {
        format!(
            "/api/v2/changefeeds/{}{suffix}?{}",
            super::mask::query_escape(id),
            self.scope_query(ns)
        )
    }

    /// Send one request; the answer's head, its body not read yet.
    async fn head_of<B: Serialize + ?Sized>(
        &self,
        method: &Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<reqwest::Response, ClientError> {
        let url = format!("{}{}", self.inner.base, path);
        let mut req = self
            .inner
            .http
            .request(method.clone(), &url)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some((u, p)) = &self.inner.auth {
            req = req.basic_auth(u, p.as_deref());
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        tracing::debug!(target: "cdcform::http", "{method} {path}");
        let resp = req.send().await.map_err(|e| transport(&self.inner, e))?;
        // A 2xx head is TiCDC answering, even if the body breaks off later.
        if resp.status().is_success() {
            self.inner.reached.store(true, Ordering::Relaxed);
        }
        Ok(resp)
    }

    async fn send_once<B: Serialize + ?Sized>(
        &self,
        method: &Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(StatusCode, bytes_body::Body, Option<Duration>), ClientError> {
        let resp = self.head_of(method, path, body).await?;
        let status = resp.status();
        let retry_after = retry_after(&resp);
        let bytes = self.read_body(resp, method, path).await?;
        tracing::debug!(target: "cdcform::http", "{method} {path} -> {}", status.as_u16());
        Ok((status, bytes_body::Body(bytes), retry_after))
    }

    /// The whole body of an answer, refused past [`MAX_BODY`].
    async fn read_body(
        &self,
        mut resp: reqwest::Response,
        method: &Method,
        path: &str,
    ) -> Result<Vec<u8>, ClientError> {
        let status = resp.status();
        // Sized once from Content-Length: a large body is not copied while it grows.
        let hint = resp.content_length().unwrap_or(0).min(MAX_BODY as u64) as usize;
        let mut bytes = Vec::with_capacity(hint);
        while let Some(chunk) = resp.chunk().await.map_err(|e| transport(&self.inner, e))? {
            if bytes.len() + chunk.len() > MAX_BODY {
                return Err(ClientError::Decode {
                    method: method.to_string(),
                    path: path.split('?').next().unwrap_or(path).to_string(),
                    status: status.as_u16(),
                    reason: format!(
                        "response body larger than {} MiB; refusing it",
                        MAX_BODY >> 20
                    ),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// GET `path` for a body read as it arrives: the answer of a 2xx, else the error (a 5xx
    /// one worth retrying).
    async fn get_streamed(&self, path: &str) -> Result<reqwest::Response, ClientError> {
        let resp = self.head_of(&Method::GET, path, None::<&()>).await?;
        if resp.status().is_success() {
            tracing::debug!(target: "cdcform::http", "GET {path} -> {} (body streamed)", resp.status().as_u16());
            return Ok(resp);
        }
        let (status, after) = (resp.status(), retry_after(&resp));
        let body = self.read_body(resp, &Method::GET, path).await?;
        tracing::debug!(target: "cdcform::http", "GET {path} -> {}", status.as_u16());
        let e = api_error(&Method::GET, path, status, &body);
        Err(match status.is_server_error() {
            true => e.with_retry_after(after),
            false => e,
        })
    }

    async fn call<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        idem: Idempotent,
    ) -> Result<T, ClientError> {
        let (status, got) = self.call_body(&method, path, body, idem).await?;
        decode(&method, path, status, &got)
    }

    /// Send the reads every plan starts with (the server's status and the list of `ns`) now,
    /// while the caller does other work such as loading manifests; the plan's own calls then
    /// take these answers instead of asking again. Reads only: nothing changes on the server.
    pub fn prefetch_first_round(&self, ns: &str) {
        let path = "/api/v2/status";
        let client = self.clone();
        let task = tokio::spawn(async move {
            client
                .send_body(&Method::GET, path, None::<&()>, Idempotent::Yes)
                .await
        });
        self.inner.ahead.lock().unwrap().insert(path.into(), task);
        // The list's body is passed on as it arrives, to be sifted once the caller knows what
        // it keeps.
        let path = self.list_path(ns, Some("all"));
        let (tx, rx) = tokio::sync::mpsc::channel(AHEAD_CHUNKS);
        let client = self.clone();
        let p = path.clone();
        tokio::spawn(async move {
            let opened = client
                .retrying(&Method::GET, &p, Idempotent::Yes, || {
                    client.get_streamed(&p)
                })
                .await;
            let mut resp = match opened {
                Ok(resp) => resp,
                Err(e) => {
                    let _ = tx.send(Early::Failed(e)).await;
                    return;
                }
            };
            let _ = tx.send(Early::Opened(resp.status())).await;
            // A broken body ends the channel without `Done`: the reader asks again.
            while let Ok(Some(chunk)) = resp.chunk().await {
                if tx.send(Early::Chunk(chunk)).await.is_err() {
                    return;
                }
            }
            let _ = tx.send(Early::Done).await;
        });
        self.inner.ahead_lists.lock().unwrap().insert(path, rx);
    }

    /// [`Self::call`] up to the body of a 2xx answer, left undecoded.
    async fn call_body<B: Serialize + ?Sized>(
        &self,
        method: &Method,
        path: &str,
        body: Option<&B>,
        idem: Idempotent,
    ) -> Answer {
        let early = (method == Method::GET)
            .then(|| self.inner.ahead.lock().unwrap().remove(path))
            .flatten();
        // An early read that did not finish (its task was stopped) is simply asked again.
        if let Some(Ok(answer)) = OptionFuture::from(early).await {
            return answer;
        }
        self.send_body(method, path, body, idem).await
    }

    /// Send one call (retried as `idem` allows) and keep the body of a 2xx answer.
    async fn send_body<B: Serialize + ?Sized>(
        &self,
        method: &Method,
        path: &str,
        body: Option<&B>,
        idem: Idempotent,
    ) -> Answer {
        let (status, body) = self
            .retrying(method, path, idem, || async {
                match self.send_once(method, path, body).await {
                    // Server not ready, owner changing, internal error: an answer, but for an
                    // idempotent call one worth waiting out.
                    Ok((s, b, after)) if s.is_server_error() => {
                        Err(api_error(method, path, s, &b.0).with_retry_after(after))
                    }
                    other => other.map(|(s, b, _)| (s, b)),
                }
            })
            .await?;
        if !status.is_success() {
            return Err(api_error(method, path, status, &body.0));
        }
        Ok((status, body.0))
    }

    /// Run `attempt`, and for an idempotent call again through outages, for the client's
    /// budget (`--retry-for`).
    async fn retrying<T, Fut>(
        &self,
        method: &Method,
        path: &str,
        idem: Idempotent,
        attempt: impl Fn() -> Fut,
    ) -> Result<T, ClientError>
    where
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        let attempt = || async {
            let r = attempt().await;
            self.track(&r);
            r
        };
        if idem == Idempotent::No {
            return attempt().await;
        }
        // Named only when a wait is reported, not formatted for every call.
        let what = || format!("{method} {}", path.split('?').next().unwrap_or(path));
        // A server that takes the connection and never answers is not an owner election
        // (TiCDC answers 5xx then): three such attempts, not the whole --retry-for.
        let silent = std::sync::atomic::AtomicU32::new(0);
        crate::retry::retry(
            self.outage_budget(),
            attempt,
            |e: &ClientError| {
                if e.is_timeout() {
                    silent.fetch_add(1, Ordering::Relaxed);
                }
                // Before TiCDC's first answer there is no outage to ride through: an address
                // that refuses, a name DNS does not know or a server that is not a TiCDC fails
                // now. A dropped connection or a TiCDC 5xx is an outage: ridden through.
                let first_contact = !self.inner.reached.load(Ordering::Relaxed);
                if first_contact && !self.inner.retry_first_contact && e.is_not_ticdc_yet() {
                    return crate::retry::Verdict::Stop;
                }
                if e.is_retryable() && silent.load(Ordering::Relaxed) < 3 {
                    crate::retry::Verdict::Again {
                        after: e.retry_after(),
                    }
                } else {
                    crate::retry::Verdict::Stop
                }
            },
            |e, left| self.notice(&what(), e, left),
        )
        .await
        .map_err(|x| match x.attempts_note() {
            Some(note) => x.error.with_note(&note),
            None => x.error,
        })
    }

    // ---- status, health, cluster ----

    pub async fn status(&self) -> Result<ServerStatus, ClientError> {
        self.call(Method::GET, "/api/v2/status", None::<&()>, Idempotent::Yes)
            .await
    }

    /// 200 `{}` when healthy; 500 `CDC:ErrClusterIsUnhealthy` otherwise.
    pub async fn health(&self) -> Result<(), ClientError> {
        self.call::<serde_json::Value, ()>(Method::GET, "/api/v2/health", None, Idempotent::Yes)
            .await
            .map(|_| ())
    }

    /// The `items` of a `ListResponse`, its body read whole.
    async fn items<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, ClientError> {
        let r: ListResponse<T> = self
            .call(Method::GET, path, None::<&()>, Idempotent::Yes)
            .await?;
        Ok(r.items)
    }

    pub async fn list_captures(&self) -> Result<Vec<Capture>, ClientError> {
        self.items("/api/v2/captures").await
    }

    /// Every processor of the cluster (one per running changefeed and capture). A filtered
    /// `status` asks its rows' processors one by one instead (`processor_detail`).
    pub async fn list_processors(&self) -> Result<Vec<ProcessorCommonInfo>, ClientError> {
        self.items("/api/v2/processors").await
    }

    pub async fn processor_detail(
        &self,
        ns: &str,
        changefeed_id: &str,
        capture_id: &str,
    ) -> Result<ProcessorDetail, ClientError> {
        let path = format!(
            "/api/v2/processors/{}/{}?{}",
            super::mask::query_escape(changefeed_id),
            super::mask::query_escape(capture_id),
            self.scope_query(ns)
        );
        self.call(Method::GET, &path, None::<&()>, Idempotent::Yes)
            .await
    }

    pub async fn resign_owner(&self) -> Result<(), ClientError> {
        self.call::<serde_json::Value, ()>(
            Method::POST,
            "/api/v2/owner/resign",
            None,
            Idempotent::No,
        )
        .await
        .map(|_| ())
    }

    pub async fn set_log_level(&self, level: &str) -> Result<(), ClientError> {
        let body = LogLevelReq {
            log_level: level.to_string(),
        };
        self.call::<serde_json::Value, _>(Method::POST, "/api/v2/log", Some(&body), Idempotent::Yes)
            .await
            .map(|_| ())
    }

    /// Current PD TSO (`POST /api/v2/tso` with an empty upstream config).
    pub async fn tso(&self) -> Result<Tso, ClientError> {
        self.call(
            Method::POST,
            "/api/v2/tso",
            Some(&serde_json::json!({})),
            Idempotent::Yes,
        )
        .await
    }

    pub async fn verify_table(
        &self,
        cfg: &ChangefeedConfig,
    ) -> Result<TablesResponse, ClientError> {
        self.call(
            Method::POST,
            "/api/v2/verify_table",
            Some(cfg),
            Idempotent::Yes,
        )
        .await
    }

    // ---- changefeeds ----

    /// `GET /changefeeds`; `state` None = the server's default filter, `Some("all")` = all.
    /// The result is sorted by id (ticdc does not sort).
    pub async fn list_changefeeds(
        &self,
        ns: &str,
        state: Option<&str>,
    ) -> Result<Vec<ChangefeedCommonInfo>, ClientError> {
        Ok(self.list_where(ns, state, None, false).await?.kept)
    }

    /// The path of `GET /changefeeds` for `ns`, with the server's default state filter unless
    /// `state` names one (`Some("all")` = all).
    fn list_path(&self, ns: &str, state: Option<&str>) -> String {
        let mut path = format!("/api/v2/changefeeds?{}", self.scope_query(ns));
        if let Some(s) = state {
            path.push_str("&state=");
            path.push_str(&super::mask::query_escape(s));
        }
        path
    }

    /// [`Self::list_changefeeds`] for a shared cluster: only the items whose id `keep` accepts
    /// are decoded in full; of the others the id is kept when `other_ids` asks for it. What a
    /// large list costs is then the body alone.
    pub async fn list_where(
        &self,
        ns: &str,
        state: Option<&str>,
        keep: super::sift::Keep<'_>,
        other_ids: bool,
    ) -> Result<Listing, ClientError> {
        match self
            .sift_list(&self.list_path(ns, state), keep, other_ids)
            .await
        {
            // A next-gen kernel wants `keyspace=`: from now on every request names it.
            Err(e) if self.arch() == Arch::Classic && super::kernel::is_keyspace_required(&e) => {
                self.set_arch(Arch::Newarch);
                self.sift_list(&self.list_path(ns, state), keep, other_ids)
                    .await
            }
            other => other,
        }
    }

    /// GET the list at `path` and sift its body as it arrives (taking the answer of a list
    /// read ahead, if there is one); a body that breaks off is asked again, as any read.
    async fn sift_list(
        &self,
        path: &str,
        keep: super::sift::Keep<'_>,
        other_ids: bool,
    ) -> Result<Listing, ClientError> {
        let early = self.inner.ahead_lists.lock().unwrap().remove(path);
        if let Some(mut early) = early {
            match early.recv().await {
                Some(Early::Failed(e)) => return Err(e),
                Some(Early::Opened(status)) => {
                    let mut s = Sifter::new(keep, other_ids);
                    loop {
                        match early.recv().await {
                            Some(Early::Chunk(c)) => {
                                s.feed(&c).map_err(|e| list_decode(status, e))?
                            }
                            Some(Early::Done) => {
                                tracing::debug!(target: "cdcform::http", "GET {path}: body read ahead, sifted");
                                return s.finish().map_err(|e| list_decode(status, e));
                            }
                            // The body broke off: it is asked again below.
                            _ => break,
                        }
                    }
                }
                _ => {}
            }
        }
        self.retrying(&Method::GET, path, Idempotent::Yes, || async {
            let mut resp = self.get_streamed(path).await?;
            let status = resp.status();
            let mut s = Sifter::new(keep, other_ids);
            while let Some(chunk) = resp.chunk().await.map_err(|e| transport(&self.inner, e))? {
                s.feed(&chunk).map_err(|e| list_decode(status, e))?;
            }
            tracing::debug!(target: "cdcform::http", "GET {path}: body sifted");
            s.finish().map_err(|e| list_decode(status, e))
        })
        .await
    }

    /// `GET /changefeeds` with no scope parameter at all (see `kernel::Client::probe_kernel`).
    pub async fn list_unscoped(&self) -> Result<serde_json::Value, ClientError> {
        self.call(
            Method::GET,
            "/api/v2/changefeeds",
            None::<&()>,
            Idempotent::Yes,
        )
        .await
    }

    pub async fn get_changefeed(&self, ns: &str, id: &str) -> Result<ChangefeedInfo, ClientError> {
        self.call(
            Method::GET,
            &self.cf_path(ns, id, ""),
            None::<&()>,
            Idempotent::Yes,
        )
        .await
    }

    /// Like GET, but with the sink URI unmasked (classic servers only). Treat as secret.
    pub async fn meta_info(&self, ns: &str, id: &str) -> Result<ChangefeedInfo, ClientError> {
        self.call(
            Method::GET,
            &self.cf_path(ns, id, "/meta_info"),
            None::<&()>,
            Idempotent::Yes,
        )
        .await
    }

    pub async fn changefeed_status(
        &self,
        ns: &str,
        id: &str,
    ) -> Result<ChangefeedStatus, ClientError> {
        self.call(
            Method::GET,
            &self.cf_path(ns, id, "/status"),
            None::<&()>,
            Idempotent::Yes,
        )
        .await
    }

    pub async fn synced(&self, ns: &str, id: &str) -> Result<SyncedStatus, ClientError> {
        self.call(
            Method::GET,
            &self.cf_path(ns, id, "/synced"),
            None::<&()>,
            Idempotent::Yes,
        )
        .await
    }

    /// Create. The namespace travels in the body (classic) or the query (new architecture).
    /// Never retried: a lost answer is resolved by the caller re-reading the changefeed.
    pub async fn create_changefeed(
        &self,
        ns: &str,
        cfg: &ChangefeedConfig,
    ) -> Result<ChangefeedInfo, ClientError> {
        let mut body = cfg.clone();
        let path = match self.arch() {
            Arch::Classic => {
                body.namespace = Some(ns.to_string());
                body.keyspace = None;
                "/api/v2/changefeeds".to_string()
            }
            Arch::Newarch => {
                body.namespace = None;
                body.keyspace = Some(ns.to_string());
                format!("/api/v2/changefeeds?{}", self.scope_query(ns))
            }
        };
        match self
            .call(Method::POST, &path, Some(&body), Idempotent::No)
            .await
        {
            // The next-gen kernel refused before doing anything: resend naming the keyspace.
            Err(e) if self.arch() == Arch::Classic && super::kernel::is_keyspace_required(&e) => {
                self.set_arch(Arch::Newarch);
                Box::pin(self.create_changefeed(ns, cfg)).await
            }
            other => other,
        }
    }

    pub async fn update_changefeed(
        &self,
        ns: &str,
        id: &str,
        cfg: &ChangefeedConfig,
    ) -> Result<ChangefeedInfo, ClientError> {
        self.call(
            Method::PUT,
            &self.cf_path(ns, id, ""),
            Some(cfg),
            Idempotent::No,
        )
        .await
    }

    /// Delete; a changefeed that does not exist is success (200 from the server).
    pub async fn delete_changefeed(&self, ns: &str, id: &str) -> Result<(), ClientError> {
        self.call::<serde_json::Value, ()>(
            Method::DELETE,
            &self.cf_path(ns, id, ""),
            None,
            Idempotent::Yes,
        )
        .await
        .map(|_| ())
    }

    pub async fn pause_changefeed(&self, ns: &str, id: &str) -> Result<(), ClientError> {
        self.call::<serde_json::Value, ()>(
            Method::POST,
            &self.cf_path(ns, id, "/pause"),
            None,
            Idempotent::No,
        )
        .await
        .map(|_| ())
    }

    /// Check the credentials with a write that cannot change anything: a pause of an id that
    /// TiCDC refuses as invalid, which it does only after authentication has run (tiflow
    /// v8.5.0 cdc/api/v2/api.go `RegisterOpenAPIV2Routes`: authenticateMiddleware before
    /// `pauseChangefeed`, which answers 400 `ErrAPIInvalidParam` for an invalid id;
    /// pingcap/ticdc api/v2/api.go likewise before `PauseChangefeed`/`validateChangefeedIDParam`).
    pub async fn check_credentials(&self, ns: &str) -> Credentials {
        // An underscore is outside TiCDC's id alphabet, so no changefeed can have this id.
        let res = self
            .call::<serde_json::Value, serde_json::Value>(
                Method::POST,
                &self.cf_path(ns, "cdcform_credential_check", "/pause"),
                None,
                Idempotent::Yes,
            )
            .await;
        match res {
            Err(e) if e.code() == Some(super::error::codes::API_INVALID_PARAM) => Credentials::Ok,
            Err(e) if e.code() == Some(super::error::codes::CREDENTIAL_NOT_FOUND) => {
                Credentials::Missing
            }
            Err(ClientError::Api { status: 401, .. }) => Credentials::Refused,
            _ => Credentials::Unknown,
        }
    }

    /// Resume; always sends a JSON body (tiflow rejects an empty one).
    pub async fn resume_changefeed(
        &self,
        ns: &str,
        id: &str,
        overwrite_checkpoint_ts: u64,
    ) -> Result<(), ClientError> {
        let body = ResumeChangefeedConfig {
            overwrite_checkpoint_ts,
        };
        self.call::<serde_json::Value, _>(
            Method::POST,
            &self.cf_path(ns, id, "/resume"),
            Some(&body),
            Idempotent::No,
        )
        .await
        .map(|_| ())
    }

    /// Reads `/api/v2/status` and tells classic from new architecture by response shape:
    /// a list item carrying `keyspace`, or, on an empty cluster, whether `meta_info` exists
    /// (a route only classic servers have; new-arch answers a plain 404).
    pub async fn detect_profile(&self) -> Result<ServerProfile, ClientError> {
        let status = self.status().await?;
        let version = Version::parse(&status.version).unwrap_or(Version::new(8, 5, 0));
        let raw: serde_json::Value = self
            .call(
                Method::GET,
                "/api/v2/changefeeds?state=all",
                None::<&()>,
                Idempotent::Yes,
            )
            .await?;
        let first = raw
            .get("items")
            .and_then(|i| i.as_array())
            .and_then(|a| a.first())
            .cloned();
        let arch = match first {
            Some(item) if item.get("keyspace").is_some() => Arch::Newarch,
            Some(_) => Arch::Classic,
            None => {
                match self
                    .send_once(
                        &Method::GET,
                        "/api/v2/changefeeds/cdcform-probe/meta_info",
                        None::<&()>,
                    )
                    .await?
                {
                    (s, _, _) if s == StatusCode::NOT_FOUND => Arch::Newarch,
                    _ => Arch::Classic,
                }
            }
        };
        self.set_arch(arch);
        Ok(ServerProfile {
            arch,
            version,
            raw_version: status.version,
        })
    }
}

/// A list body that does not read as one.
fn list_decode(status: StatusCode, e: serde_json::Error) -> ClientError {
    ClientError::Decode {
        method: "GET".into(),
        path: "/api/v2/changefeeds".into(),
        status: status.as_u16(),
        reason: e.to_string(),
    }
}

/// The `Retry-After` of an answer, in seconds as TiCDC's proxies write it.
fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

mod bytes_body {
    pub struct Body(pub Vec<u8>);
}

/// A transport failure in words a person can act on: what happened, on which server; the
/// rustls and hyper internals only where nothing better is known.
fn transport(inner: &Inner, e: reqwest::Error) -> ClientError {
    let (base, timeout) = (&inner.base, inner.timeout);
    let mut chain = String::new();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(s) = src {
        let t = s.to_string();
        if !chain.contains(&t) {
            chain.push_str(": ");
            chain.push_str(&t);
        }
        src = s.source();
    }
    let reason = if e.is_timeout() {
        format!(
            "no answer within {} (--timeout)",
            humantime::format_duration(timeout)
        )
    } else if let Some(words) = name_mismatch(&chain) {
        words
    } else if let Some(words) = tls_words(&chain, inner.has_ca) {
        words
    } else if chain.contains("Connection refused") {
        "connection refused: nothing listens on that address".to_string()
    } else if e.is_connect() {
        format!("connection failed{chain}")
    } else {
        format!("request failed{chain}")
    };
    ClientError::Transport {
        url: base.to_string(),
        reason,
    }
}

/// `certificate not valid for name "localhost"; certificate is only valid for
/// IpAddress(127.0.0.1)` (rustls) → "the server's certificate is for 127.0.0.1, not localhost".
fn name_mismatch(chain: &str) -> Option<String> {
    let asked = chain
        .split("not valid for name \"")
        .nth(1)?
        .split('"')
        .next()?;
    let valid = chain
        .split("only valid for ")
        .nth(1)
        .map(|rest| {
            rest.split(['(', ')', ',', '[', ']', '"', ' '])
                .filter(|w| w.contains('.') || w.contains(':'))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|v| !v.is_empty());
    Some(match valid {
        Some(v) => format!(
            "the server's certificate is for {v}, not {asked} (the host name in the server URL)"
        ),
        None => format!("the server's certificate is not valid for the host name {asked}"),
    })
}

/// TLS and protocol mismatches, from the error chain's text (rustls and hyper give no types
/// through reqwest). `has_ca`: whether `--ca` was given, so that only then the words speak of it.
fn tls_words(chain: &str, has_ca: bool) -> Option<String> {
    let untrusted = if has_ca {
        "the server's certificate is not signed by the CA in --ca"
    } else {
        "the server's certificate is not signed by a CA this system trusts (give the server's CA with --ca)"
    };
    let self_signed = if has_ca {
        "the server's certificate is self-signed (a CA certificate) and not the one in --ca; to trust it, give that very certificate as --ca"
    } else {
        "the server's certificate is self-signed (a CA certificate); to trust it, give that very certificate as --ca"
    };
    let bad_signature = if has_ca {
        "the server's certificate does not verify against the CA in --ca (a CA of the same name?)"
    } else {
        "the server's certificate does not verify against its issuer"
    };
    let words: &[(&str, &str)] = &[
        ("InvalidContentType", "the server answered plain HTTP to a TLS handshake: it does not speak TLS (use http://)"),
        ("invalid HTTP version parsed", "the server speaks TLS (use https://)"),
        ("UnknownIssuer", untrusted),
        ("CaUsedAsEndEntity", self_signed),
        ("NotValidForName", "the server's certificate is not valid for the host name in the server URL"),
        ("BadSignature", bad_signature),
        ("Expired", "the server's certificate has expired"),
        ("NotValidYet", "the server's certificate is not valid yet (check the clock)"),
        ("CertificateRequired", "the server requires a client certificate (--cert and --key)"),
        ("UnknownCA", "the server does not accept the client certificate (--cert): it is not signed by a CA the server trusts"),
        ("BadCertificate", "the server refused the client certificate (--cert)"),
    ];
    words
        .iter()
        .find(|(needle, _)| chain.contains(needle))
        .map(|(_, words)| words.to_string())
}

fn api_error(method: &Method, path: &str, status: StatusCode, body: &[u8]) -> ClientError {
    let (code, message) = match serde_json::from_slice::<ApiErrorBody>(body) {
        Ok(b) if !b.error_msg.is_empty() || !b.error_code.is_empty() => (b.error_code, b.error_msg),
        _ => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let snippet: String = text.chars().take(200).collect();
            let msg = if snippet.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else if snippet.starts_with('<') {
                format!("non-JSON error page ({} bytes)", body.len())
            } else {
                snippet
            };
            (String::new(), msg)
        }
    };
    ClientError::Api {
        method: method.to_string(),
        path: path.split('?').next().unwrap_or(path).to_string(),
        status: status.as_u16(),
        code,
        message,
        retry_after: None,
    }
}

impl ClientError {
    fn with_retry_after(mut self, after: Option<Duration>) -> ClientError {
        if let ClientError::Api { retry_after, .. } = &mut self {
            *retry_after = after;
        }
        self
    }
}

fn decode<T: DeserializeOwned>(
    method: &Method,
    path: &str,
    status: StatusCode,
    body: &[u8],
) -> Result<T, ClientError> {
    // An empty 2xx body decodes as `null` (only unit-like answers, read as `Value`, accept it).
    let body = if body.iter().all(|b| b.is_ascii_whitespace()) {
        &b"null"[..]
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| ClientError::Decode {
        method: method.to_string(),
        path: path.split('?').next().unwrap_or(path).to_string(),
        status: status.as_u16(),
        reason: e.to_string(),
    })
}

/// What the client makes of one HTTP answer: the decoded model on 2xx, otherwise the API error
/// with TiCDC's `error_code` and message. The same path as every call (public for the fuzz
/// target `server_reply`).
pub fn parse_reply<T: DeserializeOwned>(
    method: &str,
    path: &str,
    status: u16,
    body: &[u8],
) -> Result<T, ClientError> {
    let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if !status.is_success() {
        return Err(api_error(&method, path, status, body));
    }
    decode(&method, path, status, body)
}
