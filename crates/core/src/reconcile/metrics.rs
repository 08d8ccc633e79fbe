//! The Prometheus metrics of `cdcform reconcile` (prometheus-client), rendered in the text format.
//! A changefeed's series are removed as soon as it leaves the managed set of its cluster.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::drift::{DriftKind, LiveFact};
use crate::plan::Key;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClusterKind {
    cluster: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Changefeed {
    cluster: String,
    namespace: String,
    changefeed: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChangefeedState {
    cluster: String,
    namespace: String,
    changefeed: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClusterResult {
    cluster: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Cluster {
    cluster: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApplyAction {
    cluster: String,
    action: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Info {
    version: String,
    self_heal: String,
    prune: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

fn duration_histogram() -> Histogram {
    // 10 ms … ~164 s: a cycle of a few changefeeds up to one that waits for many applies.
    Histogram::new(exponential_buckets(0.01, 2.0, 15))
}

/// Every metric of the reconcile loop, registered once.
pub struct Metrics {
    registry: Registry,
    drift: Family<ClusterKind, Gauge>,
    lag: Family<Changefeed, FloatGauge>,
    state: Family<ChangefeedState, Gauge>,
    cycles: Family<ClusterResult, Counter>,
    last_success: Family<Cluster, FloatGauge>,
    duration: Family<Cluster, Histogram, fn() -> Histogram>,
    actions: Family<ApplyAction, Counter>,
    backoff: Family<Cluster, FloatGauge>,
    /// Per cluster, the changefeeds whose series are out and the state each one shows.
    shown: Mutex<HashMap<String, BTreeMap<Key, String>>>,
}

impl Metrics {
    pub fn new(self_heal: bool, prune: bool) -> Metrics {
        let m = Metrics {
            drift: Family::default(),
            lag: Family::default(),
            state: Family::default(),
            cycles: Family::default(),
            last_success: Family::default(),
            duration: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
            actions: Family::default(),
            backoff: Family::default(),
            shown: Mutex::new(HashMap::new()),
            registry: Registry::default(),
        };
        let registry = m.register(self_heal, prune);
        Metrics { registry, ..m }
    }

    fn register(&self, self_heal: bool, prune: bool) -> Registry {
        let mut r = Registry::default();
        r.register(
            "cdcform_drift_changefeeds",
            "Managed changefeeds drifting from the manifests, by kind of drift",
            self.drift.clone(),
        );
        r.register(
            "cdcform_changefeed_checkpoint_lag_seconds",
            "How far a managed changefeed's checkpoint is behind the cluster's current TSO",
            self.lag.clone(),
        );
        r.register(
            "cdcform_changefeed_state",
            "1 for the current state of a managed changefeed",
            self.state.clone(),
        );
        r.register(
            "cdcform_reconcile_cycles",
            "Reconcile cycles run, by result (ok or error)",
            self.cycles.clone(),
        );
        r.register(
            "cdcform_reconcile_last_success_timestamp_seconds",
            "Unix time of the last cycle that succeeded",
            self.last_success.clone(),
        );
        r.register(
            "cdcform_reconcile_duration_seconds",
            "How long one reconcile cycle took (read, plan and, with --self-heal, apply)",
            self.duration.clone(),
        );
        r.register(
            "cdcform_apply_actions",
            "Changefeed actions applied by --self-heal, by action and result (ok, error, skipped)",
            self.actions.clone(),
        );
        r.register(
            "cdcform_reconcile_backoff_seconds",
            "Delay before the cluster's next cycle: the interval, longer after failed cycles",
            self.backoff.clone(),
        );
        let info: Family<Info, Gauge> = Family::default();
        info.get_or_create(&Info {
            version: env!("CARGO_PKG_VERSION").into(),
            self_heal: self_heal.to_string(),
            prune: prune.to_string(),
        })
        .set(1);
        r.register(
            "cdcform_reconcile_info",
            "Always 1: the cdcform version and the reconcile mode",
            info,
        );
        r
    }

    /// Count a cycle and how long it took; a successful one also sets the success timestamp.
    pub fn cycle(&self, cluster: &str, ok: bool, seconds: f64, unix_now: f64) {
        let c = Cluster {
            cluster: cluster.into(),
        };
        self.duration.get_or_create(&c).observe(seconds);
        let result = if ok { "ok" } else { "error" };
        self.cycles
            .get_or_create(&ClusterResult {
                cluster: cluster.into(),
                result: result.into(),
            })
            .inc();
        // Both results exist from the first cycle on, so rate() and alerts see a 0, not nothing.
        let other = if ok { "error" } else { "ok" };
        let _ = self.cycles.get_or_create(&ClusterResult {
            cluster: cluster.into(),
            result: other.into(),
        });
        if ok {
            self.last_success.get_or_create(&c).set(unix_now);
        }
    }

    pub fn backoff(&self, cluster: &str, seconds: f64) {
        self.backoff
            .get_or_create(&Cluster {
                cluster: cluster.into(),
            })
            .set(seconds);
    }

    /// Drifting changefeeds per kind; every kind is set, 0 included.
    pub fn drift(&self, cluster: &str, counts: &BTreeMap<DriftKind, usize>) {
        for kind in DriftKind::ALL {
            self.drift
                .get_or_create(&ClusterKind {
                    cluster: cluster.into(),
                    kind: kind.as_str().into(),
                })
                .set(counts.get(&kind).copied().unwrap_or(0) as i64);
        }
    }

    pub fn apply_action(&self, cluster: &str, action: &str, result: &str) {
        self.actions
            .get_or_create(&ApplyAction {
                cluster: cluster.into(),
                action: action.into(),
                result: result.into(),
            })
            .inc();
    }

    /// Replace a cluster's per-changefeed series: those of changefeeds no longer managed (or no
    /// longer live) go, a changed state replaces the old one.
    pub fn changefeeds(&self, cluster: &str, facts: &[LiveFact]) {
        let mut shown = self.shown.lock().unwrap_or_else(|p| p.into_inner());
        let before = shown.entry(cluster.to_string()).or_default();
        let now: BTreeMap<Key, String> = facts
            .iter()
            .map(|f| (f.key.clone(), f.state.clone()))
            .collect();
        for (key, state) in before.iter() {
            if now.get(key) != Some(state) {
                self.state.remove(&state_labels(cluster, key, state));
            }
            if !now.contains_key(key) {
                self.lag.remove(&cf_labels(cluster, key));
            }
        }
        for f in facts {
            self.state
                .get_or_create(&state_labels(cluster, &f.key, &f.state))
                .set(1);
            match f.lag_seconds {
                Some(lag) => {
                    self.lag.get_or_create(&cf_labels(cluster, &f.key)).set(lag);
                }
                None => {
                    self.lag.remove(&cf_labels(cluster, &f.key));
                }
            }
        }
        *before = now;
    }

    /// The Prometheus (OpenMetrics) text of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

fn cf_labels(cluster: &str, key: &Key) -> Changefeed {
    Changefeed {
        cluster: cluster.into(),
        namespace: key.namespace.clone(),
        changefeed: key.id.clone(),
    }
}

fn state_labels(cluster: &str, key: &Key, state: &str) -> ChangefeedState {
    ChangefeedState {
        cluster: cluster.into(),
        namespace: key.namespace.clone(),
        changefeed: key.id.clone(),
        state: state.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(id: &str, state: &str, lag: Option<f64>) -> LiveFact {
        LiveFact {
            key: Key {
                namespace: "default".into(),
                id: id.into(),
            },
            state: state.into(),
            lag_seconds: lag,
        }
    }

    #[test]
    fn series_of_a_changefeed_go_when_it_leaves_and_a_state_change_replaces_the_old_one() {
        let m = Metrics::new(false, false);
        m.changefeeds(
            "a",
            &[fact("x", "normal", Some(1.5)), fact("y", "normal", None)],
        );
        let text = m.render();
        assert!(text.contains("changefeed=\"x\",state=\"normal\""), "{text}");
        assert!(text.contains("cdcform_changefeed_checkpoint_lag_seconds{cluster=\"a\",namespace=\"default\",changefeed=\"x\"} 1.5"), "{text}");
        m.changefeeds("a", &[fact("y", "stopped", None)]);
        let text = m.render();
        assert!(!text.contains("changefeed=\"x\""), "{text}");
        assert!(
            !text.contains("changefeed=\"y\",state=\"normal\""),
            "{text}"
        );
        assert!(
            text.contains("changefeed=\"y\",state=\"stopped\"} 1"),
            "{text}"
        );
    }
}
