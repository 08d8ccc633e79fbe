//! A faithful in-memory TiCDC OpenAPI v2 simulator (a test double, not a TiCDC).
//!
//! Behaviour follows the handlers of tiflow `cdc/api/v2` and pingcap/ticdc `api/v2`: routes, status codes, `error_code`s, create-merge
//! vs update-replace decoding, sink-URI masking, the state machine, and the classic profile's
//! asynchrony (changes become visible on the next owner tick). All state lives in one mutex over
//! a `BTreeMap`; checkpoints of running changefeeds are computed lazily on read, so 10,000
//! changefeeds cost nothing while idle.

/// The TiCDC client crate, under the name the simulator's modules use for it.
pub(crate) use cdcform_ticdc as ticdc;

pub mod catalog;
pub mod config;
pub mod faults;
pub mod filter;
pub mod gojson;
pub mod keyspace;
pub mod latency;
pub mod limits;
mod listing;
mod routes;
pub mod sink_check;
pub mod state;
pub mod time;
mod tls;
pub mod uri_mask;
pub mod uri_params;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use faults::FaultSpec;

use crate::ticdc::Version;

/// Which server the simulator imitates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimProfile {
    /// tiflow (v7.1 – v8.5 behaviour, chosen by `version`).
    Classic { version: Version },
    /// pingcap/ticdc with the new architecture (released v8.5.7 behaviour).
    Newarch,
}

impl SimProfile {
    pub fn is_classic(&self) -> bool {
        matches!(self, SimProfile::Classic { .. })
    }
    /// Version reported by `/api/v2/status`.
    pub fn version(&self) -> Version {
        match self {
            SimProfile::Classic { version } => *version,
            SimProfile::Newarch => Version::new(8, 5, 7),
        }
    }
    pub fn label(&self) -> String {
        match self {
            SimProfile::Classic { version } => format!("classic {version}"),
            SimProfile::Newarch => "newarch v8.5.7".into(),
        }
    }
}

/// The kernel a new-architecture server is built for (pingcap/ticdc `pkg/config/kerneltype`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SimKernel {
    /// Every self-hosted cluster: the keyspace is ignored, everything lives in `default`.
    #[default]
    Classic,
    /// Next generation: the `keyspace` parameter is required and must name one of these.
    NextGen { keyspaces: Vec<String> },
}

#[derive(Debug, Clone)]
pub struct SimTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// When set, clients must present a certificate signed by this CA.
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub profile: SimProfile,
    /// Owner tick; `Duration::ZERO` = changes visible immediately.
    pub tick: Duration,
    /// Added to every request.
    pub latency: Duration,
    /// Pre-create N blackhole changefeeds ("cf-00001", …).
    pub changefeeds: usize,
    pub faults: Option<FaultSpec>,
    pub tls: Option<SimTls>,
    pub basic_auth: Option<(String, String)>,
    /// MySQL/Kafka sink host:port must accept a TCP connection.
    pub sink_check: bool,
    /// New architecture only: the kernel deciding how keyspaces behave.
    pub kernel: SimKernel,
    /// Timeouts, body limit and connection cap of the HTTP server.
    pub limits: limits::ServerLimits,
    /// The upstream's tables (`verify_table`, eligibility, table ids); `None` = one table
    /// `test.t1` with a primary key.
    pub catalog: Option<Arc<catalog::Catalog>>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            profile: SimProfile::Classic {
                version: Version::new(8, 5, 0),
            },
            tick: Duration::ZERO,
            latency: Duration::ZERO,
            changefeeds: 0,
            faults: None,
            tls: None,
            basic_auth: None,
            sink_check: true,
            kernel: SimKernel::Classic,
            limits: limits::ServerLimits::default(),
            catalog: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("TLS setup: {0}")]
    Tls(String),
}

/// One request as received (for tests that count round trips).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: String,
}

const MAX_RECORDED: usize = 100_000;

/// Which request starts an armed outage: `(method, path)`.
pub type Matcher = Box<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// An outage waiting for its first request.
pub struct Armed {
    pub matcher: Matcher,
    pub duration: Duration,
    pub kind: faults::OutageKind,
}

/// What [`Simulator::interleave_when`] does to a changefeed.
pub struct Interleave {
    pub ns: String,
    pub id: String,
    pub config: serde_json::Value,
    pub state: &'static str,
}

/// Shared between the handlers and the `Simulator` handle.
pub(crate) struct Shared {
    pub cfg: SimConfig,
    /// `cfg.catalog` or the minimal one.
    pub catalog: Arc<catalog::Catalog>,
    pub state: Mutex<state::State>,
    pub requests: Mutex<std::collections::VecDeque<RecordedRequest>>,
    pub faults_injected: AtomicU64,
    /// `--faults` applies while this is set (tests switch it off to set the scene).
    pub faults_enabled: AtomicBool,
    pub fault_rng: Mutex<fastrand::Rng>,
    pub healthy: AtomicBool,
    /// Cleared by `set_upstream_reachable(false)`: the upstream PD/TiKV cannot be reached.
    pub upstream_up: AtomicBool,
    pub addr: SocketAddr,
    /// Captures and owner, moved by outages and rolling upgrades.
    pub cluster: Mutex<faults::Cluster>,
    /// Outages armed by tests: each starts at the first request its matcher accepts.
    pub armed: Mutex<Vec<Armed>>,
    /// Targeted `http500` faults set by tests: matcher and how many requests are left to fail.
    pub failing: Mutex<Vec<(Matcher, u64)>>,
    /// Another writer's change, set by a test: carried out once, just before the first request
    /// its matcher accepts is handled.
    pub interleaved: Mutex<Vec<(Matcher, Interleave)>>,
    /// `Some(until)`: refuse connections until then (the listener closes and reopens).
    pub refuse: tokio::sync::watch::Sender<Option<std::time::Instant>>,
    /// The log redaction mode `POST /api/v2/log/redact` sets (new architecture; starts `OFF`).
    pub redact: Mutex<&'static str>,
}

pub struct Simulator {
    shared: Arc<Shared>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    https: bool,
}

impl Simulator {
    /// Binds `listen` (e.g. "127.0.0.1:0") and serves in the background.
    pub async fn start(cfg: SimConfig, listen: &str) -> Result<Simulator, SimError> {
        let listener =
            std::net::TcpListener::bind(listen).map_err(|e| SimError::Bind(listen.into(), e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| SimError::Bind(listen.into(), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| SimError::Bind(listen.into(), e))?;
        let seed = cfg.faults.as_ref().and_then(|f| f.seed);
        let mut st = state::State::new(&cfg.profile);
        st.precreate(cfg.changefeeds, &cfg.profile);
        let shared = Arc::new(Shared {
            state: Mutex::new(st),
            requests: Mutex::new(Default::default()),
            faults_injected: AtomicU64::new(0),
            faults_enabled: AtomicBool::new(true),
            fault_rng: Mutex::new(match seed {
                Some(s) => fastrand::Rng::with_seed(s),
                None => fastrand::Rng::new(),
            }),
            healthy: AtomicBool::new(true),
            upstream_up: AtomicBool::new(true),
            addr,
            cluster: Mutex::new(faults::Cluster::new(state::CAPTURE_ID)),
            refuse: tokio::sync::watch::channel(None).0,
            redact: Mutex::new("OFF"),
            armed: Mutex::new(vec![]),
            failing: Mutex::new(vec![]),
            interleaved: Mutex::new(vec![]),
            catalog: cfg
                .catalog
                .clone()
                .unwrap_or_else(|| Arc::new(catalog::Catalog::minimal())),
            cfg: cfg.clone(),
        });
        let lim = cfg.limits.clone();
        let app = limits::layered(routes::router(shared.clone()), &lim);
        let https = cfg.tls.is_some();
        let tls = match &cfg.tls {
            None => None,
            Some(t) => Some(axum_server::tls_rustls::RustlsConfig::from_config(
                Arc::new(tls::server_config(t)?),
            )),
        };
        // Fail now, not in the background, when the listener cannot be served.
        let first = serve_once(listener, tls.clone(), app.clone(), &lim)
            .map_err(|e| SimError::Bind(listen.into(), e))?;
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let refuse = shared.refuse.subscribe();
        let task = tokio::spawn(serve_loop(first, addr, tls, app, lim, refuse, stop_rx));
        Ok(Simulator {
            shared,
            stop,
            task,
            https,
        })
    }

    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.https { "https" } else { "http" },
            self.shared.addr
        )
    }
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .requests
            .lock()
            .unwrap()
            .iter()
            .cloned()
            .collect()
    }
    pub fn clear_requests(&self) {
        self.shared.requests.lock().unwrap().clear();
    }
    /// Switch the configured faults off and on (they start on).
    pub fn set_faults_enabled(&self, on: bool) {
        self.shared.faults_enabled.store(on, Ordering::Relaxed);
    }
    pub fn faults_injected(&self) -> u64 {
        self.shared.faults_injected.load(Ordering::Relaxed)
    }
    /// Force a state (e.g. "failed" with `(code, message)`), as the cluster would.
    pub fn set_state(&self, ns: &str, id: &str, state: &str, error: Option<(&str, &str)>) {
        self.shared
            .state
            .lock()
            .unwrap()
            .force_state(ns, id, state, error);
    }
    /// Pin the checkpoint at `ts`. On a running changefeed it then stays there (a sink that
    /// cannot keep up) until the next resume.
    pub fn set_checkpoint(&self, ns: &str, id: &str, ts: u64) {
        self.shared.state.lock().unwrap().set_checkpoint(ns, id, ts);
    }
    /// Pin the GC safepoint at (at least) `ts`, as if TiDB's GC had run that far; 0 hands it
    /// back to the model (now − 10m, held back by the changefeeds' checkpoints).
    pub fn set_gc_safepoint(&self, ts: u64) {
        self.shared.state.lock().unwrap().set_gc_safepoint(ts);
    }
    /// Make the upstream (PD/TiKV) unreachable: `verify_table` then fails as tiflow's does when
    /// it cannot open the kv store (cdc/api/v2/api_helpers.go `createTiStore`).
    pub fn set_upstream_reachable(&self, up: bool) {
        self.shared.upstream_up.store(up, Ordering::Relaxed);
    }
    pub fn set_healthy(&self, healthy: bool) {
        self.shared.healthy.store(healthy, Ordering::Relaxed);
    }
    /// The stored (etcd) info: unmasked `sink_uri`, `target_ts`, `config` as written (including an
    /// update the owner has not loaded yet), plus `state`, `checkpoint_ts`, `admin_job_type`.
    pub fn stored(&self, ns: &str, id: &str) -> Option<serde_json::Value> {
        self.shared.state.lock().unwrap().stored(ns, id)
    }
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// The owner capture goes away now for `dur` (see `outage=` in [`faults`]): no owner is
    /// elected meanwhile (`NoOwner`), or the address refuses connections (`Refused`).
    pub fn start_outage(&self, dur: Duration, kind: faults::OutageKind) {
        let now = std::time::Instant::now();
        self.shared
            .cluster
            .lock()
            .unwrap()
            .start_outage(now, dur, kind);
        if kind == faults::OutageKind::Refused {
            let _ = self.shared.refuse.send(Some(now + dur));
        }
    }

    /// Arm an outage of `dur` that starts at the first `/api/v2` request `matcher(method, path)`
    /// accepts (that request already meets it): a test hook to hit one phase of an apply.
    pub fn outage_when(
        &self,
        matcher: impl Fn(&str, &str) -> bool + Send + Sync + 'static,
        dur: Duration,
        kind: faults::OutageKind,
    ) {
        self.shared.armed.lock().unwrap().push(Armed {
            matcher: Box::new(matcher),
            duration: dur,
            kind,
        });
    }

    /// Answer the next `count` requests `matcher(method, path)` accepts with 500
    /// `CDC:ErrInternalServerError` (the `http500` fault, aimed at one route): a test hook for a
    /// read that keeps failing while the rest of the cluster answers.
    pub fn fail_when(
        &self,
        matcher: impl Fn(&str, &str) -> bool + Send + Sync + 'static,
        count: u64,
    ) {
        self.shared
            .failing
            .lock()
            .unwrap()
            .push((Box::new(matcher), count));
    }

    /// Another writer changes changefeed `ns/id` just before the first request `matcher(method,
    /// path)` accepts is handled: it sets `config` (merged into the stored one, as its PUT
    /// would) and leaves the changefeed `state` (as its resume or pause would). A test hook to
    /// put a concurrent writer between two steps of an apply, deterministically.
    pub fn interleave_when(
        &self,
        matcher: impl Fn(&str, &str) -> bool + Send + Sync + 'static,
        ns: &str,
        id: &str,
        config: serde_json::Value,
        state: &'static str,
    ) {
        self.shared.interleaved.lock().unwrap().push((
            Box::new(matcher),
            Interleave {
                ns: ns.into(),
                id: id.into(),
                config,
                state,
            },
        ));
    }

    /// Start a rolling upgrade now (see `rolling-upgrade=` in [`faults`]).
    pub fn start_rolling_upgrade(&self, r: faults::Rolling) {
        let now = std::time::Instant::now();
        self.shared.cluster.lock().unwrap().start_rolling(r, now);
    }

    /// Whether a rolling upgrade started by [`Self::start_rolling_upgrade`] or `--faults` has
    /// restarted every capture and the last election is over.
    pub fn rolling_upgrade_done(&self) -> bool {
        let now = std::time::Instant::now();
        self.shared.cluster.lock().unwrap().rolling_done(now)
    }

    /// The owner capture's id; `None` while no owner is elected.
    pub fn owner(&self) -> Option<String> {
        let now = std::time::Instant::now();
        self.shared.cluster.lock().unwrap().owner(now)
    }
}

type Served = (axum_server::Handle<SocketAddr>, tokio::task::JoinHandle<()>);

/// Serve `listener` in the background until its handle is shut down.
fn serve_once(
    listener: std::net::TcpListener,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    app: axum::Router,
    lim: &limits::ServerLimits,
) -> std::io::Result<Served> {
    listener.set_nonblocking(true)?;
    let handle = axum_server::Handle::<SocketAddr>::new();
    let task = match tls {
        None => {
            let mut server = axum_server::from_tcp(listener)?
                .handle(handle.clone())
                .map(|a| limits::ConnCap::new(a, lim.max_connections))
                // After `map`, which resets the HTTP version choice (axum-server 0.8).
                .http1_only();
            limits::configure(server.http_builder(), lim);
            tokio::spawn(async move {
                let _ = server.serve(app.into_make_service()).await;
            })
        }
        Some(rc) => {
            let mut server = axum_server::tls_rustls::from_tcp_rustls(listener, rc)?
                .handle(handle.clone())
                .map(|a| limits::ConnCap::new(a, lim.max_connections))
                .http1_only();
            limits::configure(server.http_builder(), lim);
            tokio::spawn(async move {
                let _ = server.serve(app.into_make_service()).await;
            })
        }
    };
    Ok((handle, task))
}

/// Serve until stopped. When an outage refuses connections, close the listener (connections
/// in flight are cut) and bind the same address again when it ends.
async fn serve_loop(
    first: Served,
    addr: SocketAddr,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    app: axum::Router,
    lim: limits::ServerLimits,
    mut refuse: tokio::sync::watch::Receiver<Option<std::time::Instant>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut served = Some(first);
    loop {
        let (handle, task) = match served.take() {
            Some(s) => s,
            None => match std::net::TcpListener::bind(addr)
                .and_then(|l| serve_once(l, tls.clone(), app.clone(), &lim))
            {
                Ok(s) => s,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let stopped = tokio::select! {
            _ = stop.wait_for(|s| *s) => true,
            _ = refuse.changed() => false,
        };
        if stopped {
            handle.graceful_shutdown(Some(Duration::from_millis(500)));
            let _ = task.await;
            return;
        }
        let until = *refuse.borrow_and_update();
        handle.shutdown();
        let _ = task.await;
        if let Some(until) = until {
            tokio::select! {
                _ = tokio::time::sleep_until(until.into()) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }
}

pub(crate) fn record(shared: &Shared, r: RecordedRequest) {
    let mut q = shared.requests.lock().unwrap();
    if q.len() >= MAX_RECORDED {
        q.pop_front();
    }
    q.push_back(r);
}
