//! Changefeed store and state machine (§8). Classic asynchrony is modelled with per-changefeed
//! pending operations that take effect at their due instant; everything is settled lazily when
//! a changefeed is read, so there is no background task.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::config::{self, SinkKind};
use super::time as t;
use super::SimProfile;

pub const CAPTURE_ID: &str = "5f1c5a4b-8a7e-4d2f-9d71-0c7c2a3b9e11";
pub const UPSTREAM_ID: u64 = 7_340_000_000_000_000_001;
/// How far a running changefeed's checkpoint lags behind the current TSO.
pub const LAG_MS: u64 = 1000;

#[derive(Debug, Clone, PartialEq)]
pub struct RunErr {
    pub time_ms: u64,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Owner loads the changefeed (first tick after create): VerifyAndComplete + strip.
    Load,
    Pause,
    Resume {
        overwrite: u64,
        fail: bool,
    },
    Update {
        sink_uri: String,
        target_ts: u64,
        config: Value,
    },
}

/// A changefeed. The fields the list reads of every changefeed come first (`repr(C)` keeps the
/// order), errors boxed: a list of 100,000 then touches about two cache lines of each rather
/// than five (see `listing`).
#[derive(Debug, Clone)]
#[repr(C)]
pub struct Cf {
    /// A known state is a static string: a list reads every changefeed's state, and a heap string
    /// cost it a cache miss each (see `listing`).
    pub state: Cow<'static, str>,
    /// The scope and id as the list writes them, escaped once: they never change (see
    /// `listing`).
    pub list_key: super::listing::ListKey,
    pub pending: Vec<(Instant, Op)>,
    /// Classic: not visible to the owner until this instant.
    pub visible_at: Option<Instant>,
    pub target_ts: u64,
    /// Stored checkpoint; running changefeeds report max(this, now − LAG).
    pub checkpoint: u64,
    pub error: Option<Box<RunErr>>,
    pub warning: Option<Box<RunErr>>,
    /// Set by the `set_checkpoint` test hook: the checkpoint stays put while running (a sink
    /// that cannot keep up), until the next resume.
    pub stalled: bool,
    pub ns: String,
    pub id: String,
    pub sink_uri: String,
    pub create_time: String,
    pub start_ts: u64,
    pub config: Arc<Value>,
    pub admin_job_type: u64,
    pub gid: (u64, u64),
}

// `config` is shared (`Arc`) so that N pre-created changefeeds cost one config, and copied on
// write (`Arc::make_mut`).

/// A state by name, static when it is one TiCDC knows (the `set_state` hook may force any).
fn state_name(state: &str) -> Cow<'static, str> {
    const KNOWN: [&str; 8] = [
        "normal", "stopped", "failed", "warning", "pending", "finished", "removed", "",
    ];
    match KNOWN.iter().find(|k| **k == state) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(state.to_string()),
    }
}

pub fn running(state: &str) -> bool {
    matches!(state, "normal" | "warning" | "pending" | "")
}

pub fn kind_of(uri: &str) -> SinkKind {
    config::parse_sink_uri(uri)
        .map(|(_, k)| k)
        .unwrap_or(SinkKind::Blackhole)
}

impl Cf {
    pub fn new(
        ns: &str,
        id: &str,
        sink_uri: &str,
        start_ts: u64,
        target_ts: u64,
        config: impl Into<Arc<Value>>,
    ) -> Cf {
        Cf {
            ns: ns.into(),
            id: id.into(),
            sink_uri: sink_uri.into(),
            create_time: t::rfc3339(t::now_ms(), fastrand::u32(0..1_000_000)),
            start_ts,
            target_ts,
            config: config.into(),
            state: "normal".into(),
            error: None,
            warning: None,
            admin_job_type: 0,
            checkpoint: start_ts,
            stalled: false,
            visible_at: None,
            pending: Vec::new(),
            gid: (fastrand::u64(..), fastrand::u64(..)),
            list_key: super::listing::list_key(ns, id),
        }
    }

    pub fn visible(&self, now: Instant) -> bool {
        self.visible_at.is_none_or(|v| v <= now)
    }

    /// Checkpoint as of now (lazy advance for running changefeeds).
    pub fn checkpoint_now(&self, now_tso: u64) -> u64 {
        if (self.state == "normal" || self.state == "warning") && !self.stalled {
            let floor = t::compose(t::physical(now_tso).saturating_sub(LAG_MS), 0);
            let mut c = self.checkpoint.max(floor);
            if self.target_ts > 0 {
                c = c.min(self.target_ts);
            }
            c
        } else {
            self.checkpoint
        }
    }

    fn freeze(&mut self, now_tso: u64) {
        self.checkpoint = self.checkpoint_now(now_tso);
    }

    /// Apply due operations and automatic transitions.
    pub fn settle(&mut self, now: Instant, now_tso: u64, profile: &SimProfile) {
        if !self.pending.is_empty() {
            let mut ops = std::mem::take(&mut self.pending);
            ops.sort_by_key(|(at, _)| *at);
            let mut keep = Vec::new();
            for (at, op) in ops {
                if at <= now {
                    self.apply(op, now_tso, profile);
                } else {
                    keep.push((at, op));
                }
            }
            self.pending = keep;
        }
        if self.target_ts > 0
            && running(&self.state)
            && self.checkpoint_now(now_tso) >= self.target_ts
        {
            self.checkpoint = self.target_ts;
            self.state = "finished".into();
            self.admin_job_type = 4;
        }
    }

    pub fn apply(&mut self, op: Op, now_tso: u64, profile: &SimProfile) {
        match op {
            Op::Load => config::complete_and_strip(
                Arc::make_mut(&mut self.config),
                kind_of(&self.sink_uri),
                profile,
            ),
            Op::Pause => {
                // tiflow ignores a stop job unless the changefeed runs (§4.7).
                if running(&self.state) {
                    self.freeze(now_tso);
                    self.state = "stopped".into();
                    self.admin_job_type = 1;
                }
            }
            Op::Resume { overwrite, fail } => {
                if matches!(&*self.state, "stopped" | "failed" | "finished") {
                    self.stalled = false;
                    if overwrite > 0 {
                        self.checkpoint = overwrite;
                        if profile.is_classic() {
                            self.start_ts = overwrite;
                        }
                    } else {
                        // Catch up from where it stopped.
                        self.checkpoint = self
                            .checkpoint
                            .max(t::compose(t::physical(now_tso).saturating_sub(LAG_MS), 0));
                    }
                    self.warning = None;
                    if fail {
                        self.state = "failed".into();
                        self.admin_job_type = 1;
                        self.error = Some(Box::new(RunErr {
                            time_ms: t::now_ms(),
                            code: "CDC:ErrSinkURIInvalid".into(),
                            message: "[CDC:ErrSinkURIInvalid]sink uri invalid (injected fault)"
                                .into(),
                        }));
                    } else {
                        self.state = "normal".into();
                        self.admin_job_type = 0;
                        self.error = None;
                    }
                    if !profile.is_classic() {
                        // ticdc loads (and strips) the config on resume (§7 #8).
                        config::complete_and_strip(
                            Arc::make_mut(&mut self.config),
                            kind_of(&self.sink_uri),
                            profile,
                        );
                    }
                }
            }
            Op::Update {
                sink_uri,
                target_ts,
                config: c,
            } => {
                self.sink_uri = sink_uri;
                self.target_ts = target_ts;
                self.config = Arc::new(c);
                if profile.is_classic() && profile.version() >= crate::ticdc::Version::new(7, 2, 0)
                {
                    config::complete_and_strip(
                        Arc::make_mut(&mut self.config),
                        kind_of(&self.sink_uri),
                        profile,
                    );
                }
            }
        }
    }

    /// What the stored (etcd) info will be once pending updates land: (sink_uri, target, config).
    pub fn latest(&self) -> (&str, u64, &Value) {
        for (_, op) in self.pending.iter().rev() {
            if let Op::Update {
                sink_uri,
                target_ts,
                config,
            } = op
            {
                return (sink_uri, *target_ts, config);
            }
        }
        (&self.sink_uri, self.target_ts, &*self.config)
    }
}

/// TiDB's `tikv_gc_life_time` default (10m): the GC worker's safepoint trails the clock by it.
pub const GC_LIFE_TIME_MS: u64 = 10 * 60 * 1000;
/// TiCDC's `gc-ttl` default (24h, tiflow `pkg/config/server_config.go`): a changefeed whose
/// checkpoint is older no longer holds the service safepoint back.
pub const GC_TTL_MS: u64 = 24 * 3600 * 1000;

/// Does this changefeed hold TiCDC's service GC safepoint back? tiflow v8.5.0
/// `cdc/model/changefeed.go` and pingcap/ticdc v8.5.7 `pkg/config/changefeed.go`
/// (`NeedBlockGC`): normal, stopped, pending and warning do; failed does unless it failed
/// because of GC (`IsChangefeedGCFastFailErrorCode`); finished and removed do not.
fn blocks_gc(cf: &Cf) -> bool {
    match &*cf.state {
        "normal" | "stopped" | "pending" | "warning" | "" => true,
        "failed" => !cf.error.as_ref().is_some_and(|e| {
            matches!(
                e.code.as_str(),
                "CDC:ErrGCTTLExceeded" | "CDC:ErrSnapshotLostByGC" | "CDC:ErrStartTsBeforeGC"
            )
        }),
        _ => false,
    }
}

/// How long TiCDC's service GC safepoint still holds a removed changefeed's checkpoint: the
/// owner moves it at most once a minute (tiflow v8.5.0 `pkg/txnutil/gc/gc_manager.go`
/// `gcSafepointUpdateInterval`; pingcap/ticdc v8.5.7 `coordinator/coordinator.go`
/// `gcTickInterval`), and a remove does not force an update (only an added changefeed does,
/// tiflow `cdc/owner/owner.go` `calculateGCSafepoint`). So a changefeed re-created at its old
/// checkpoint right after its delete is accepted, as on a real cluster.
pub const GC_UPDATE_INTERVAL_MS: u64 = 60 * 1000;

pub struct State {
    pub cfs: BTreeMap<(String, String), Cf>,
    /// Set by the `set_gc_safepoint` test hook: the safepoint is at least this.
    pub gc_floor: u64,
    /// Checkpoints of removed changefeeds that blocked GC, with when they were removed (ms):
    /// still held until the next service safepoint update ([`GC_UPDATE_INTERVAL_MS`]).
    released: Vec<(u64, u64)>,
    last_tso: u64,
}

impl State {
    pub fn new(_profile: &SimProfile) -> State {
        State {
            cfs: BTreeMap::new(),
            gc_floor: 0,
            released: Vec::new(),
            last_tso: 0,
        }
    }

    /// Remove a changefeed; the service safepoint it held lingers until the next update.
    pub fn remove(&mut self, ns: &str, id: &str) {
        let tso = self.tso();
        let now_ms = t::physical(tso);
        self.released
            .retain(|(_, at)| now_ms.saturating_sub(*at) < GC_UPDATE_INTERVAL_MS);
        if let Some(cf) = self.cfs.remove(&(ns.to_string(), id.to_string())) {
            if blocks_gc(&cf) {
                self.released
                    .push((cf.checkpoint_now(tso), t::physical(tso)));
            }
        }
    }

    /// The test hook: the safepoint is at least `ts` (0 = the model alone).
    pub fn set_gc_safepoint(&mut self, ts: u64) {
        self.gc_floor = ts;
    }

    /// The minimum service GC safepoint PD reports (`UpdateServiceGCSafePoint`), which
    /// `EnsureChangefeedStartTsSafety` (tiflow v8.5.0 `pkg/txnutil/gc/gc_service.go`, pingcap/ticdc
    /// v8.5.7 the same file) compares a start-ts against. It is the smaller of TiDB's
    /// GC worker safepoint (now − `tikv_gc_life_time`) and TiCDC's service safepoint (the minimum
    /// checkpoint − 1 of the changefeeds that block GC, tiflow `cdc/owner/owner.go`
    /// `updateGCSafepoint`; ticdc `coordinator/coordinator.go`), never lower than the hook's
    /// floor. (PD never moves it back; in the simulator only the test hooks could, and
    /// `set_checkpoint` is meant to move a checkpoint back, so it is not enforced.)
    pub fn gc_safepoint(&self, now_tso: u64) -> u64 {
        let now_ms = t::physical(now_tso);
        let worker = t::compose(now_ms.saturating_sub(GC_LIFE_TIME_MS), 0);
        let oldest = t::compose(now_ms.saturating_sub(GC_TTL_MS), 0);
        let cdc = self
            .cfs
            .values()
            .filter(|cf| blocks_gc(cf))
            .map(|cf| cf.checkpoint_now(now_tso))
            .chain(
                self.released
                    .iter()
                    .filter(|(_, at)| now_ms.saturating_sub(*at) < GC_UPDATE_INTERVAL_MS)
                    .map(|(c, _)| *c),
            )
            .filter(|c| *c >= oldest)
            .min()
            .map_or(u64::MAX, |c| c.saturating_sub(1));
        worker.min(cdc).max(self.gc_floor)
    }

    /// A strictly increasing TSO: physical ms << 18 | logical.
    pub fn tso(&mut self) -> u64 {
        let ts = t::compose(t::now_ms(), 0).max(self.last_tso + 1);
        self.last_tso = ts;
        ts
    }

    pub fn precreate(&mut self, n: usize, profile: &SimProfile) {
        let start = self.tso();
        let mut cfg = config::defaults(profile);
        if let Ok((u, k)) = config::parse_sink_uri("blackhole://") {
            let _ = config::validate_and_adjust(&mut cfg, &u, k, profile);
            config::complete_and_strip(&mut cfg, k, profile);
        }
        let cfg = Arc::new(cfg);
        for i in 1..=n {
            let id = format!("cf-{i:05}");
            let cf = Cf::new("default", &id, "blackhole://", start, 0, cfg.clone());
            self.cfs.insert(("default".into(), id), cf);
        }
    }

    /// The changefeed if the owner can see it (settled to now).
    pub fn get_mut(&mut self, ns: &str, id: &str, profile: &SimProfile) -> Option<(&mut Cf, u64)> {
        let now = Instant::now();
        let tso = self.tso();
        let cf = self.cfs.get_mut(&(ns.to_string(), id.to_string()))?;
        cf.settle(now, tso, profile);
        if !cf.visible(now) {
            return None;
        }
        Some((cf, tso))
    }

    /// The changefeeds of one namespace, in (namespace, id) order.
    pub fn namespace_mut(&mut self, ns: &str) -> impl DoubleEndedIterator<Item = &mut Cf> {
        // `ns` followed by a NUL is the least string above `ns`, so the range holds exactly the
        // keys whose namespace is `ns`.
        let from = (ns.to_string(), String::new());
        let to = (format!("{ns}\0"), String::new());
        self.cfs.range_mut(from..to).map(|(_, cf)| cf)
    }

    pub fn exists_in_meta(&self, ns: &str, id: &str) -> bool {
        self.cfs.contains_key(&(ns.to_string(), id.to_string()))
    }

    pub fn force_state(&mut self, ns: &str, id: &str, state: &str, error: Option<(&str, &str)>) {
        let tso = self.tso();
        if let Some(cf) = self.cfs.get_mut(&(ns.to_string(), id.to_string())) {
            cf.pending
                .retain(|(_, op)| matches!(op, Op::Load | Op::Update { .. }));
            cf.freeze(tso);
            cf.state = state_name(state);
            let e = error.map(|(c, m)| {
                Box::new(RunErr {
                    time_ms: t::now_ms(),
                    code: c.into(),
                    message: m.into(),
                })
            });
            match state {
                "warning" | "pending" => cf.warning = e,
                _ => cf.error = e,
            }
            cf.admin_job_type = match state {
                "stopped" | "failed" => 1,
                "finished" => 4,
                _ => 0,
            };
        }
    }

    pub fn set_checkpoint(&mut self, ns: &str, id: &str, ts: u64) {
        if let Some(cf) = self.cfs.get_mut(&(ns.to_string(), id.to_string())) {
            cf.checkpoint = ts;
            cf.stalled = true;
        }
    }

    pub fn stored(&self, ns: &str, id: &str) -> Option<Value> {
        let cf = self.cfs.get(&(ns.to_string(), id.to_string()))?;
        let (sink_uri, target_ts, config) = cf.latest();
        Some(json!({
            "namespace": cf.ns,
            "id": cf.id,
            "sink_uri": sink_uri,
            "start_ts": cf.start_ts,
            "target_ts": target_ts,
            "config": config,
            "state": cf.state,
            "checkpoint_ts": cf.checkpoint,
            "admin_job_type": cf.admin_job_type,
            "pending_ops": cf.pending.len(),
        }))
    }
}

/// Is `s` a valid changefeed id / namespace (`^[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*$`, ≤ 128)?
pub fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

pub fn due(tick: Duration) -> Instant {
    Instant::now() + tick
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticdc::Version;

    fn classic() -> SimProfile {
        SimProfile::Classic {
            version: Version::new(8, 5, 0),
        }
    }

    #[test]
    fn ids() {
        assert!(valid_id("a-b-1"));
        assert!(!valid_id("a--b"));
        assert!(!valid_id("-a"));
        assert!(!valid_id("a_b"));
        assert!(!valid_id(&"a".repeat(129)));
    }

    #[test]
    fn transitions() {
        let p = classic();
        let tso = t::compose(t::now_ms(), 0);
        let mut cf = Cf::new("default", "x", "blackhole://", tso, 0, json!({}));
        cf.apply(Op::Pause, tso, &p);
        assert_eq!(cf.state, "stopped");
        assert_eq!(cf.admin_job_type, 1);
        cf.apply(Op::Pause, tso, &p);
        assert_eq!(cf.state, "stopped");
        cf.apply(
            Op::Resume {
                overwrite: 0,
                fail: false,
            },
            tso,
            &p,
        );
        assert_eq!(cf.state, "normal");
        assert_eq!(cf.admin_job_type, 0);
        cf.state = "failed".into();
        cf.apply(Op::Pause, tso, &p);
        assert_eq!(
            cf.state, "failed",
            "tiflow ignores pause of a failed changefeed"
        );
        cf.apply(
            Op::Resume {
                overwrite: 0,
                fail: true,
            },
            tso,
            &p,
        );
        assert_eq!(cf.state, "failed");
        assert!(cf.error.is_some());
    }

    #[test]
    fn pending_ops_wait_for_their_tick() {
        let p = classic();
        let tso = t::compose(t::now_ms(), 0);
        let mut cf = Cf::new("default", "x", "blackhole://", tso, 0, json!({}));
        let now = Instant::now();
        cf.pending.push((now + Duration::from_secs(60), Op::Pause));
        cf.settle(now, tso, &p);
        assert_eq!(cf.state, "normal");
        cf.settle(now + Duration::from_secs(61), tso, &p);
        assert_eq!(cf.state, "stopped");
    }

    #[test]
    fn gc_safepoint_follows_the_worker_and_is_held_back_by_checkpoints() {
        let p = classic();
        let mut st = State::new(&p);
        let now = st.tso();
        let worker = t::compose(t::physical(now) - GC_LIFE_TIME_MS, 0);
        assert_eq!(st.gc_safepoint(now), worker);
        // A paused changefeed 20 minutes behind holds the service safepoint back.
        let behind = t::compose(t::physical(now) - 20 * 60_000, 0);
        let mut cf = Cf::new("default", "x", "blackhole://", behind, 0, json!({}));
        cf.state = "stopped".into();
        st.cfs.insert(("default".into(), "x".into()), cf);
        assert_eq!(st.gc_safepoint(now), behind - 1);
        // Failed because of GC: it no longer blocks.
        let cf = st.cfs.get_mut(&("default".into(), "x".into())).unwrap();
        cf.state = "failed".into();
        cf.error = Some(Box::new(RunErr {
            time_ms: 0,
            code: "CDC:ErrGCTTLExceeded".into(),
            message: String::new(),
        }));
        assert_eq!(st.gc_safepoint(now), worker);
        // Removed: held until TiCDC's next service safepoint update, a minute later.
        let mut gone = State::new(&p);
        let mut cf = Cf::new("default", "z", "blackhole://", behind, 0, json!({}));
        cf.state = "stopped".into();
        gone.cfs.insert(("default".into(), "z".into()), cf);
        gone.remove("default", "z");
        assert!(gone.cfs.is_empty());
        assert_eq!(gone.gc_safepoint(now), behind - 1);
        gone.released[0].1 -= GC_UPDATE_INTERVAL_MS;
        assert_eq!(gone.gc_safepoint(now), worker);
        // Older than the gc-ttl: not held back either.
        let mut old = State::new(&p);
        let ancient = t::compose(t::physical(now) - GC_TTL_MS - 1000, 0);
        let mut cf = Cf::new("default", "y", "blackhole://", ancient, 0, json!({}));
        cf.state = "stopped".into();
        old.cfs.insert(("default".into(), "y".into()), cf);
        assert_eq!(old.gc_safepoint(now), worker);
        // The hook raises it, and 0 hands it back to the model.
        old.set_gc_safepoint(now - 5);
        assert_eq!(old.gc_safepoint(now), now - 5);
        old.set_gc_safepoint(0);
        assert_eq!(old.gc_safepoint(now), worker);
    }

    #[test]
    fn checkpoint_advances_lazily_and_finishes() {
        let p = classic();
        let start = t::compose(t::now_ms() - 10_000, 0);
        let mut cf = Cf::new("default", "x", "blackhole://", start, 0, json!({}));
        let now = t::compose(t::now_ms(), 0);
        assert!(cf.checkpoint_now(now) > start);
        cf.target_ts = t::compose(t::now_ms() - 5_000, 0);
        cf.settle(Instant::now(), now, &p);
        assert_eq!(cf.state, "finished");
        assert_eq!(cf.checkpoint, cf.target_ts);
    }
}
