//! A faithful in-memory TiCDC OpenAPI v2 simulator (a test double, not a TiCDC).
//!
//! Behaviour follows `ticdc/api-semantics.md`: routes, status codes, `error_code`s, create-merge
//! vs update-replace decoding, sink-URI masking, the state machine, and the classic profile's
//! asynchrony (changes become visible on the next owner tick). All state lives in one mutex over
//! a `BTreeMap`; checkpoints of running changefeeds are computed lazily on read, so 10,000
//! changefeeds cost nothing while idle.

pub mod catalog;
pub mod config;
pub mod faults;
pub mod filter;
mod routes;
pub mod state;
pub mod time;
mod tls;

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
}

pub struct Simulator {
    shared: Arc<Shared>,
    handle: axum_server::Handle<SocketAddr>,
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
            catalog: cfg
                .catalog
                .clone()
                .unwrap_or_else(|| Arc::new(catalog::Catalog::minimal())),
            cfg: cfg.clone(),
        });
        let app = routes::router(shared.clone());
        let handle = axum_server::Handle::<SocketAddr>::new();
        let https = cfg.tls.is_some();
        let task = match &cfg.tls {
            None => {
                let server = axum_server::from_tcp(listener)
                    .map_err(|e| SimError::Bind(listen.into(), e))?
                    .handle(handle.clone());
                tokio::spawn(async move {
                    let _ = server.serve(app.into_make_service()).await;
                })
            }
            Some(t) => {
                let rc = tls::server_config(t)?;
                let server = axum_server::tls_rustls::from_tcp_rustls(
                    listener,
                    axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(rc)),
                )
                .map_err(|e| SimError::Bind(listen.into(), e))?
                .handle(handle.clone());
                tokio::spawn(async move {
                    let _ = server.serve(app.into_make_service()).await;
                })
            }
        };
        Ok(Simulator {
            shared,
            handle,
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
    pub fn set_gc_safepoint(&self, ts: u64) {
        self.shared.state.lock().unwrap().gc_safepoint = ts;
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
        self.handle
            .graceful_shutdown(Some(Duration::from_millis(500)));
        let _ = self.task.await;
    }
}

pub(crate) fn record(shared: &Shared, r: RecordedRequest) {
    let mut q = shared.requests.lock().unwrap();
    if q.len() >= MAX_RECORDED {
        q.pop_front();
    }
    q.push_back(r);
}
