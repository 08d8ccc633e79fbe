//! `cdcform reconcile`: a long-running loop per cluster that re-reads the manifests, plans with
//! the same pipeline as `plan`, classifies each managed changefeed's drift, and with `--self-heal`
//! applies the plan with the same applier as `apply`. State for `/metrics` and `/status` is kept
//! here; nothing is cached between cycles but what those endpoints show.

pub mod drift;
pub mod http;
pub mod log;
pub mod metrics;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use serde_json::{json, Value};

use crate::apply::ApplyReport;
use crate::pipeline::RunOptions;
use crate::pipeline::Verdict;
use crate::pipeline::{ApplyRun, Ready};
use crate::plan::{Action, Key, Plan, PlanOptions, Summary};
use crate::settings::{Settings, Target};
use crate::shutdown::Shutdown;
use crate::ticdc::Client;
use crate::Error;

pub use drift::{DriftItem, DriftKind, LiveFact};
pub use log::{Log, LogFormat};
pub use metrics::Metrics;

/// The library form of the reconcile flags.
#[derive(Debug, Clone)]
pub struct Options {
    /// Manifest files or directories (empty: each cluster's `paths` from cdcform.toml).
    pub paths: Vec<PathBuf>,
    pub interval: Duration,
    pub self_heal: bool,
    /// Let `--self-heal` delete (changefeeds inside `manage` in no manifest, `state: absent`).
    pub prune: bool,
    /// A cycle with more changes than this changes nothing (a brake against a bad merge).
    pub max_changes: usize,
    /// A running changefeed whose checkpoint lags more than this has `health` drift.
    pub max_lag: Duration,
    pub gc_ttl: Option<Duration>,
    /// How long apply waits for a state (also the pause budget the planner checks).
    pub wait_timeout: Duration,
    pub no_wait: bool,
    /// One cycle per cluster, then return.
    pub once: bool,
    /// After SIGTERM/SIGINT, how long the changefeeds in hand may take to finish.
    pub shutdown_timeout: Duration,
    /// Where to serve the endpoints; `None` serves nothing.
    pub listen: Option<String>,
    pub log: Log,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            paths: vec![],
            interval: Duration::from_secs(30),
            self_heal: false,
            prune: false,
            max_changes: 10,
            max_lag: Duration::from_secs(300),
            gc_ttl: None,
            wait_timeout: Duration::from_secs(120),
            no_wait: false,
            once: false,
            shutdown_timeout: Duration::from_secs(30),
            listen: None,
            log: Log::default(),
        }
    }
}

/// One cluster the loop reconciles: its settings and client, or why it has none.
pub struct Cluster {
    pub name: String,
    pub server: String,
    conn: Result<(Settings, Client), String>,
}

impl Cluster {
    pub fn new(t: Target) -> Cluster {
        let server = t
            .settings
            .as_ref()
            .map(|s| s.server.clone())
            .unwrap_or_default();
        let conn = t.settings.and_then(|s| {
            let c = Client::new(s.client.clone())?;
            Ok((s, c))
        });
        Cluster {
            name: t.name,
            server,
            conn: conn.map_err(|e| e.to_string()),
        }
    }
}

/// One changefeed's apply result, for `/status`.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyResult {
    pub namespace: String,
    pub id: String,
    pub action: String,
    /// ok, error or skipped (not started: shutting down).
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compensation: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub left_paused: bool,
}

/// What one cycle found and did.
#[derive(Debug, Clone, Serialize)]
pub struct CycleRecord {
    /// RFC 3339 time the cycle started.
    pub started: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_seconds: f64,
    /// The plan's summary (none when the cycle failed before planning).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    pub drift: Vec<DriftItem>,
    /// Why --self-heal changed nothing although there was drift.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_back: Option<String>,
    /// The apply of this cycle (--self-heal), when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<Vec<ApplyResult>>,
    #[serde(skip)]
    pub facts: Option<Vec<LiveFact>>,
}

/// Per cluster, what `/status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    pub name: String,
    pub server: String,
    pub cycles: u64,
    pub consecutive_failures: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success: Option<String>,
    pub next_cycle_in_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_cycle: Option<CycleRecord>,
    /// The last cycle that planned (the last cycle may have failed since).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_plan: Option<Summary>,
    /// The last apply any cycle ran, with when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_apply: Option<Value>,
    #[serde(skip)]
    last_success_at: Option<Instant>,
}

/// What the loops and the endpoints share.
pub struct Shared {
    pub metrics: Metrics,
    interval: Duration,
    started: Instant,
    clusters: Mutex<BTreeMap<String, ClusterStatus>>,
}

impl Shared {
    pub fn new(o: &Options, clusters: &[Cluster]) -> Shared {
        let status = clusters
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    ClusterStatus {
                        name: c.name.clone(),
                        server: c.server.clone(),
                        cycles: 0,
                        consecutive_failures: 0,
                        last_success: None,
                        next_cycle_in_seconds: 0.0,
                        last_cycle: None,
                        last_plan: None,
                        last_apply: None,
                        last_success_at: None,
                    },
                )
            })
            .collect();
        Shared {
            metrics: Metrics::new(o.self_heal, o.prune),
            interval: o.interval,
            started: Instant::now(),
            clusters: Mutex::new(status),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ClusterStatus>> {
        self.clusters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Clusters whose last success is older than 3 intervals (or that never had one after
    /// 3 intervals of running).
    pub fn not_ready(&self) -> Vec<String> {
        let window = self.interval * 3;
        self.lock()
            .values()
            .filter(|c| match c.last_success_at {
                Some(t) => t.elapsed() > window,
                None => true,
            })
            .map(|c| c.name.clone())
            .collect()
    }

    pub fn status_json(&self) -> Value {
        let clusters: Vec<ClusterStatus> = self.lock().values().cloned().collect();
        crate::document::envelope(
            "reconcile-status",
            json!({
                "uptime_seconds": self.started.elapsed().as_secs_f64(),
                "interval_seconds": self.interval.as_secs_f64(),
                "clusters": clusters,
            }),
        )
    }

    /// Record a finished cycle: status, metrics. `delay` is when the next one starts.
    pub fn record(&self, cluster: &str, mut rec: CycleRecord, delay: Duration) {
        let unix_now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        self.metrics
            .cycle(cluster, rec.ok, rec.duration_seconds, unix_now);
        self.metrics.backoff(cluster, delay.as_secs_f64());
        if let Some(facts) = rec.facts.take() {
            // A cycle that planned: its drift and live facts replace the last ones. A failed read
            // keeps the last known values (the success timestamp shows how old they are).
            self.metrics.drift(cluster, &drift::counts(&rec.drift));
            self.metrics.changefeeds(cluster, &facts);
        }
        for r in rec.applied.iter().flatten() {
            self.metrics.apply_action(cluster, &r.action, &r.result);
        }
        let mut all = self.lock();
        let Some(st) = all.get_mut(cluster) else {
            return;
        };
        st.cycles += 1;
        st.next_cycle_in_seconds = delay.as_secs_f64();
        if rec.ok {
            st.consecutive_failures = 0;
            st.last_success = Some(rec.started.clone());
            st.last_success_at = Some(Instant::now());
        } else {
            st.consecutive_failures += 1;
        }
        if rec.summary.is_some() {
            st.last_plan = rec.summary.clone();
        }
        if let Some(a) = &rec.applied {
            st.last_apply = Some(json!({"at": rec.started, "results": a}));
        }
        st.last_cycle = Some(rec);
    }
}

/// Delay before the next cycle: the interval, doubled per failure in a row up to 16 intervals
/// (at most 5 minutes, never less than one interval), with ±10 % jitter after failures.
pub fn next_delay(interval: Duration, failures: u32) -> Duration {
    if failures == 0 {
        return interval;
    }
    let cap = (interval * 16).min(Duration::from_secs(300)).max(interval);
    let grown = interval.saturating_mul(1u32 << failures.min(16)).min(cap);
    grown.mul_f64(0.9 + fastrand::f64() * 0.2)
}

fn rfc3339_now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

fn failed(started: String, t0: Instant, error: String) -> CycleRecord {
    CycleRecord {
        started,
        ok: false,
        error: Some(error),
        duration_seconds: t0.elapsed().as_secs_f64(),
        summary: None,
        drift: vec![],
        held_back: None,
        applied: None,
        facts: None,
    }
}

/// Keys some manifest names, in the cluster's default namespace when the manifest names none.
fn listed(settings: &Settings, desired: &[crate::manifest::DesiredChangefeed]) -> HashSet<Key> {
    desired
        .iter()
        .map(|d| Key {
            namespace: d
                .namespace
                .clone()
                .unwrap_or_else(|| settings.namespace.clone()),
            id: d.id.clone(),
        })
        .collect()
}

/// One cycle on one cluster: read the manifests, plan, classify, and with `--self-heal` apply.
pub async fn cycle(cluster: &Cluster, o: &Options, shutdown: &Shutdown) -> CycleRecord {
    let started = rfc3339_now();
    let t0 = Instant::now();
    let (settings, client) = match &cluster.conn {
        Ok((s, c)) => (s, c),
        Err(e) => return failed(started, t0, e.clone()),
    };
    let run = RunOptions {
        paths: o.paths.clone(),
        plan: PlanOptions {
            prune: o.prune,
            replace: vec![],
            gc_ttl: o.gc_ttl,
            ..PlanOptions::default()
        },
        pause_budget: o.wait_timeout,
    };
    // The pipeline of `plan` and `apply`: the policies of cdcform.toml hold here too, and
    // the gate's answer comes with the plan.
    let planned = match crate::pipeline::plan_with(settings.clone(), client.clone(), &run).await {
        Ok(p) => p,
        Err(e @ Error::Manifest(_)) => {
            return failed(
                started,
                t0,
                format!("the manifests do not validate; nothing was changed this cycle:\n{e}"),
            )
        }
        Err(e) => return failed(started, t0, e.to_string()),
    };
    let (plan, snap, desired, held) = (
        planned.plan,
        planned.snapshot,
        planned.desired,
        planned.held,
    );
    let names = listed(settings, &desired);
    let managed =
        |k: &Key| names.contains(k) || crate::settings::manages(settings.manage.as_ref(), &k.id);
    let facts = drift::facts(&snap, &managed);
    let items = drift::classify(&plan, &snap, &facts, o.max_lag);
    drop(snap);
    let mut rec = CycleRecord {
        started,
        ok: true,
        error: None,
        duration_seconds: 0.0,
        summary: Some(plan.summary.clone()),
        drift: items,
        held_back: None,
        applied: None,
        facts: Some(facts),
    };
    if o.self_heal && !shutdown.is_graceful() {
        let ready = Ready {
            name: cluster.name.clone(),
            client: client.clone(),
            parallelism: settings.parallelism,
            plan,
        };
        heal(ready, held, o, shutdown, &mut rec).await;
    }
    rec.duration_seconds = t0.elapsed().as_secs_f64();
    rec
}

/// The part of a plan the gate let through that --self-heal may run: not the changefeeds
/// whose live state is unknown, no deletes without --prune.
fn healable(mut plan: Plan, prune: bool) -> Plan {
    plan.entries.retain(|e| {
        !matches!(e.action, Action::Blocked)
            && (prune || !matches!(e.action, Action::Delete | Action::Replace))
    });
    plan.recount();
    plan
}

async fn heal(
    ready: Ready,
    held: Option<crate::pipeline::Held>,
    o: &Options,
    shutdown: &Shutdown,
    rec: &mut CycleRecord,
) {
    // The gate of every path: a policy deny, a blocked entry or refused credentials hold the
    // whole cycle back, as they hold `apply`.
    if let Some(h) = held {
        rec.ok = false;
        rec.held_back = Some(format!("{}\nhelp: {}", h.message, h.hint));
        rec.error = rec.held_back.clone();
        return;
    }
    let ready = Ready {
        plan: healable(ready.plan, o.prune),
        ..ready
    };
    let changes = ready.plan.entries.len();
    if changes == 0 {
        return;
    }
    if changes > o.max_changes {
        rec.ok = false;
        rec.held_back = Some(format!(
            "{changes} changes exceed --max-changes-per-cycle {}; nothing was changed\n\
             help: check the last manifest change; raise the limit or run `cdcform apply` by hand if it is intended",
            o.max_changes
        ));
        rec.error = rec.held_back.clone();
        return;
    }
    // The apply of `apply`, on the loop's own signal: a first SIGTERM lets the changefeed in
    // hand finish its steps and starts no new one; a second aborts but still resumes.
    let run = ApplyRun {
        wait_timeout: o.wait_timeout,
        no_wait: o.no_wait,
        shutdown: shutdown.clone(),
    };
    let name = ready.name.clone();
    let progress = |line: &str| o.log.event("info", Some(&name), line.trim(), &[]);
    let report = match crate::pipeline::apply_all(std::slice::from_ref(&ready), &run, &progress)
        .await
        .pop()
    {
        Some((_, report)) => report,
        None => return,
    };
    if !report.all_ok() && report.failed() > 0 {
        rec.ok = false;
        rec.error = Some(format!(
            "{} of {} changefeed(s) failed to apply",
            report.failed(),
            report.entries.len()
        ));
    }
    rec.applied = Some(results(&report));
}

fn results(report: &ApplyReport) -> Vec<ApplyResult> {
    report
        .entries
        .iter()
        .map(|e| ApplyResult {
            namespace: e.key.namespace.clone(),
            id: e.key.id.clone(),
            action: e.action.verb().to_string(),
            result: if e.skipped {
                "skipped"
            } else if e.failure.is_some() {
                "error"
            } else {
                "ok"
            }
            .to_string(),
            failure: e.failure.as_ref().map(|f| match &f.code {
                Some(c) => format!("{}: {} ({c})", f.step, f.message),
                None => format!("{}: {}", f.step, f.message),
            }),
            compensation: e.compensation.clone(),
            left_paused: e.left_paused,
        })
        .collect()
}

fn log_cycle(log: &Log, cluster: &str, rec: &CycleRecord, delay: Duration) {
    let kinds: BTreeMap<&str, usize> = drift::counts(&rec.drift)
        .into_iter()
        .map(|(k, n)| (k.as_str(), n))
        .collect();
    let mut fields = vec![
        ("duration_seconds", json!(rec.duration_seconds)),
        ("drifting", json!(rec.drift.len())),
        ("drift", json!(kinds)),
    ];
    if let Some(s) = &rec.summary {
        fields.push(("plan", json!(s.line())));
    }
    if let Some(a) = &rec.applied {
        fields.push(("applied", json!(a.len())));
    }
    if rec.ok {
        log.event("info", Some(cluster), "cycle ok", &fields);
    } else {
        fields.push(("next_in_seconds", json!(delay.as_secs_f64())));
        let msg = rec.error.clone().unwrap_or_default();
        log.event(
            "error",
            Some(cluster),
            &format!("cycle failed: {msg}"),
            &fields,
        );
    }
}

/// One cluster's loop: cycle, record, wait (backing off after failures) until shutdown.
async fn run_cluster(
    cluster: Cluster,
    o: Arc<Options>,
    shared: Arc<Shared>,
    shutdown: Shutdown,
) -> Option<CycleRecord> {
    let mut failures = 0u32;
    let mut last = None;
    loop {
        if shutdown.is_graceful() {
            return last;
        }
        let rec = cycle(&cluster, &o, &shutdown).await;
        failures = if rec.ok {
            0
        } else {
            failures.saturating_add(1)
        };
        let delay = next_delay(o.interval, failures);
        log_cycle(&o.log, &cluster.name, &rec, delay);
        shared.record(&cluster.name, rec.clone(), delay);
        last = Some(rec);
        if o.once {
            return last;
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.graceful() => return last,
        }
    }
}

/// How long, after `--shutdown-timeout`, an aborted apply may take to resume what it paused
/// before the loop gives up on it.
const RESUME_GRACE: Duration = Duration::from_secs(10);

/// After the first signal: wait for the loops up to `timeout`. A second signal, or the timeout,
/// aborts the sequences in hand (what they paused is still resumed, for [`RESUME_GRACE`]);
/// the changefeeds left paused are named with the command that resumes them.
async fn drain<F: std::future::Future<Output = Vec<Option<CycleRecord>>>>(
    mut loops: std::pin::Pin<&mut F>,
    timeout: Duration,
    shutdown: &Shutdown,
    log: Log,
) -> Verdict {
    let cause = tokio::select! {
        biased;
        r = tokio::time::timeout(timeout, loops.as_mut()) => match r {
            Ok(_) => {
                log.event("info", None, "stopped", &[]);
                return Verdict::Clean;
            }
            Err(_) => format!(
                "--shutdown-timeout {} passed with work in progress: aborting it",
                humantime::format_duration(timeout)
            ),
        },
        _ = shutdown.forceful() => "a second signal: aborting the work in progress".to_string(),
    };
    if shutdown.level() < 2 {
        shutdown.signal();
    }
    log.event(
        "error",
        None,
        &format!("{cause}; what it paused is resumed"),
        &[],
    );
    match tokio::time::timeout(RESUME_GRACE, loops).await {
        Ok(records) => {
            for r in records.iter().flatten() {
                for a in r.applied.iter().flatten().filter(|a| a.left_paused) {
                    let key = crate::plan::Key {
                        namespace: a.namespace.clone(),
                        id: a.id.clone(),
                    };
                    log.event("error", None, &crate::apply::left_paused(&key), &[]);
                }
            }
        }
        Err(_) => log.event(
            "error",
            None,
            "the resumes did not finish either; exiting. Run `cdcform plan` to see what is paused",
            &[],
        ),
    }
    Verdict::Failed
}

/// `--once`: clean when no cluster drifts, changes when any does, failed when a cycle failed
/// or is blocked (as `plan --detailed-exitcode` reads them).
pub fn once_verdict(records: &[Option<CycleRecord>]) -> Verdict {
    let mut verdict = Verdict::Clean;
    for r in records {
        match r {
            None => return Verdict::Failed,
            Some(r) if !r.ok => return Verdict::Failed,
            Some(r)
                if r.drift
                    .iter()
                    .any(|d| d.kinds.contains(&DriftKind::Blocked)) =>
            {
                return Verdict::Failed
            }
            Some(r) if !r.drift.is_empty() => verdict = Verdict::Changes,
            Some(_) => {}
        }
    }
    verdict
}

/// Run the loops of every target until `shutdown` (the one signal source, which the caller
/// connects to SIGTERM/SIGINT), or one cycle each with `--once`. Returns how the run ended; the
/// command turns it into an exit status. A signal ends it cleanly once the steps in hand are
/// done, however the cycles went.
pub async fn run(targets: Vec<Target>, o: Options, shutdown: Shutdown) -> Result<Verdict, Error> {
    let clusters: Vec<Cluster> = targets.into_iter().map(Cluster::new).collect();
    let shared = Arc::new(Shared::new(&o, &clusters));
    let log = o.log;
    if let Some(listen) = &o.listen {
        let listener = http::bind(listen).await?;
        let addr = http::local(&listener)
            .map(|a| a.to_string())
            .unwrap_or_default();
        log.event("info", None, &format!("listening on http://{addr}"), &[]);
        tokio::spawn(http::serve(listener, shared.clone(), shutdown.clone()));
    }
    let o = Arc::new(o);
    // The loops run on this task, concurrently (apply's futures are not `Send`).
    let loops = futures::future::join_all(
        clusters
            .into_iter()
            .map(|c| run_cluster(c, o.clone(), shared.clone(), shutdown.clone())),
    );
    let mut loops = std::pin::pin!(loops);
    let records = tokio::select! {
        // The signal first: loops that end because of it are a stop, not a verdict.
        biased;
        _ = shutdown.graceful() => {
            let name = shutdown.cause().unwrap_or("signal");
            log.event("warn", None, &format!("{name}: stopping; the changefeeds in hand finish their steps (signal again to abort)"), &[]);
            return Ok(drain(loops, o.shutdown_timeout, &shutdown, log).await);
        }
        done = &mut loops => done,
    };
    Ok(once_verdict(&records))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_per_failure_and_stops_at_its_cap() {
        let i = Duration::from_secs(1);
        assert_eq!(next_delay(i, 0), i);
        let d1 = next_delay(i, 1);
        assert!(
            d1 >= Duration::from_millis(1800) && d1 <= Duration::from_millis(2200),
            "{d1:?}"
        );
        let d10 = next_delay(i, 10);
        assert!(
            d10 <= Duration::from_millis(17600) && d10 >= Duration::from_millis(14400),
            "{d10:?}"
        );
        let long = next_delay(Duration::from_secs(60), 30);
        assert!(long <= Duration::from_secs(330), "{long:?}");
    }
}
