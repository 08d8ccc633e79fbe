//! Drift of the managed changefeeds, from one plan and the snapshot it was made from (pure).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde::Serialize;

use crate::plan::live::Snapshot;
use crate::plan::{Action, Key, KeyRef, Plan};

/// How a managed changefeed differs from what the manifests ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// In a manifest, not on the cluster (create).
    Missing,
    /// Its config differs (update).
    Config,
    /// Paused where it should run or the reverse (pause, resume; a tombstone still there).
    State,
    /// Inside `manage` but in no manifest.
    Extra,
    /// Failed, warning or error, or its checkpoint lags more than `--max-lag`.
    Health,
    /// The plan refuses to touch it (see its reason).
    Blocked,
}

impl DriftKind {
    pub const ALL: [DriftKind; 6] = [
        DriftKind::Missing,
        DriftKind::Config,
        DriftKind::State,
        DriftKind::Extra,
        DriftKind::Health,
        DriftKind::Blocked,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::Missing => "missing",
            DriftKind::Config => "config",
            DriftKind::State => "state",
            DriftKind::Extra => "extra",
            DriftKind::Health => "health",
            DriftKind::Blocked => "blocked",
        }
    }
}

/// One drifting changefeed.
#[derive(Debug, Clone, Serialize)]
pub struct DriftItem {
    pub namespace: String,
    pub id: String,
    pub kinds: Vec<DriftKind>,
    /// What the plan would do about it (`create`, `update`, …), when anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag_seconds: Option<f64>,
    /// Why it is blocked, or the server's error code of a failed changefeed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// What a managed live changefeed shows now (for the per-changefeed metrics).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveFact {
    pub key: Key,
    pub state: String,
    /// `None` when the server reported no checkpoint.
    pub lag_seconds: Option<f64>,
}

/// States that need someone's attention whatever the manifest says.
fn unhealthy(state: &str) -> bool {
    matches!(state, "failed" | "warning" | "error")
}

/// The physical milliseconds of a TSO (the low 18 bits are the logical counter).
fn physical_ms(tso: u64) -> u64 {
    tso >> 18
}

/// The live facts of every managed changefeed the snapshot read.
pub fn facts(snap: &Snapshot, managed: &dyn Fn(&Key) -> bool) -> Vec<LiveFact> {
    let now_ms = physical_ms(snap.now_tso);
    snap.changefeeds
        .iter()
        .filter(|(k, _)| managed(k))
        .map(|(k, l)| LiveFact {
            key: k.clone(),
            state: l.info.state_str().to_string(),
            lag_seconds: (l.info.checkpoint_ts > 0)
                .then(|| now_ms.saturating_sub(physical_ms(l.info.checkpoint_ts)) as f64 / 1000.0),
        })
        .collect()
}

fn plan_kinds(action: Action, touches_state: bool) -> Vec<DriftKind> {
    match action {
        Action::Create { .. } => vec![DriftKind::Missing],
        Action::Update { .. } | Action::Replace if touches_state => {
            vec![DriftKind::Config, DriftKind::State]
        }
        Action::Update { .. } | Action::Replace => vec![DriftKind::Config],
        Action::Pause | Action::Resume | Action::Delete => vec![DriftKind::State],
        Action::Blocked => vec![DriftKind::Blocked],
    }
}

/// Classify every managed changefeed's drift. `listed` are the keys some manifest names.
pub fn classify(
    plan: &Plan,
    snap: &Snapshot,
    facts: &[LiveFact],
    max_lag: Duration,
) -> Vec<DriftItem> {
    let mut items: BTreeMap<Key, DriftItem> = BTreeMap::new();
    let item = |items: &mut BTreeMap<Key, DriftItem>, k: &Key| -> usize {
        let it = items.entry(k.clone()).or_insert_with(|| DriftItem {
            namespace: k.namespace.clone(),
            id: k.id.clone(),
            kinds: vec![],
            action: None,
            state: None,
            lag_seconds: None,
            reasons: vec![],
        });
        it.kinds.len()
    };
    let unlisted: HashSet<KeyRef> = plan.unlisted.iter().collect();
    for e in &plan.entries {
        item(&mut items, &e.key);
        let it = items.get_mut(&e.key).expect("just inserted");
        let kinds = if unlisted.contains(&e.key.borrowed()) {
            vec![DriftKind::Extra]
        } else {
            plan_kinds(e.action, e.changes.iter().any(|c| c.path == "state"))
        };
        it.kinds.extend(kinds);
        it.action = Some(e.action.verb().to_string());
        if let Some(b) = &e.blocked {
            it.reasons.push(b.reason.clone());
        }
    }
    for k in plan.unlisted.iter() {
        let k = k.to_key();
        item(&mut items, &k);
        let it = items.get_mut(&k).expect("just inserted");
        if !it.kinds.contains(&DriftKind::Extra) {
            it.kinds.push(DriftKind::Extra);
        }
    }
    for f in facts {
        let lagging =
            f.state == "normal" && f.lag_seconds.is_some_and(|l| l > max_lag.as_secs_f64());
        if unhealthy(&f.state) || lagging {
            item(&mut items, &f.key);
            let it = items.get_mut(&f.key).expect("just inserted");
            it.kinds.push(DriftKind::Health);
            if let Some(code) = snap
                .changefeeds
                .get(&f.key)
                .and_then(|l| l.info.error.as_ref())
                .map(|e| e.code.clone())
                .filter(|c| !c.is_empty())
            {
                // The code only: a server's message can quote a sink URI.
                it.reasons.push(format!("error code {code}"));
            }
            if lagging {
                it.reasons.push(format!(
                    "checkpoint lag over --max-lag {}",
                    humantime::format_duration(max_lag)
                ));
            }
        }
    }
    let by_key: BTreeMap<&Key, &LiveFact> = facts.iter().map(|f| (&f.key, f)).collect();
    items
        .into_iter()
        .map(|(k, mut it)| {
            it.kinds.sort();
            it.kinds.dedup();
            if let Some(f) = by_key.get(&k) {
                it.state = Some(f.state.clone());
                it.lag_seconds = f.lag_seconds;
            }
            it
        })
        .collect()
}

/// How many drifting changefeeds show each kind (one changefeed can count in several).
pub fn counts(items: &[DriftItem]) -> BTreeMap<DriftKind, usize> {
    let mut c = BTreeMap::new();
    for it in items {
        for k in &it.kinds {
            *c.entry(*k).or_insert(0) += 1;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Entry, FieldChange};

    fn key(id: &str) -> Key {
        Key {
            namespace: "default".into(),
            id: id.into(),
        }
    }

    fn entry(id: &str, action: Action, state_change: bool) -> Entry {
        Entry {
            changes: if state_change {
                vec![FieldChange {
                    path: "state".into(),
                    kind: crate::plan::ChangeKind::Manifest,
                    before: None,
                    after: None,
                    sensitive: false,
                }]
            } else {
                vec![]
            },
            ..Entry::new(key(id), action)
        }
    }

    fn snapshot(now_ms: u64) -> Snapshot {
        Snapshot {
            profile: crate::ticdc::ServerProfile::default(),
            now_tso: now_ms << 18,
            changefeeds: Default::default(),
            listed_only: Default::default(),
            unreadable: Default::default(),
            unlisted: Default::default(),
        }
    }

    #[test]
    fn each_action_maps_to_its_kind_and_health_comes_from_state_and_lag() {
        let mut plan: Plan = serde_json::from_value(serde_json::json!({
            "format_version": 1, "server": "x", "profile": crate::ticdc::ServerProfile::default(),
            "summary": {"create":0,"update":0,"pause":0,"resume":0,"delete":0,"replace":0,"blocked":0,"unchanged":0,"unmanaged":0},
            "entries": []
        }))
        .unwrap();
        plan.entries = vec![
            entry("new", Action::Create { then_pause: false }, false),
            entry(
                "cfg",
                Action::Update {
                    pause_first: true,
                    resume_after: true,
                },
                false,
            ),
            entry(
                "both",
                Action::Update {
                    pause_first: false,
                    resume_after: true,
                },
                true,
            ),
            entry("paused", Action::Resume, false),
            entry("stray", Action::Delete, false),
        ];
        plan.unlisted = [key("stray"), key("other")]
            .iter()
            .map(Key::borrowed)
            .collect();
        let snap = snapshot(100_000);
        let facts = vec![
            LiveFact {
                key: key("sick"),
                state: "failed".into(),
                lag_seconds: Some(1.0),
            },
            LiveFact {
                key: key("slow"),
                state: "normal".into(),
                lag_seconds: Some(400.0),
            },
            LiveFact {
                key: key("fine"),
                state: "normal".into(),
                lag_seconds: Some(2.0),
            },
        ];
        let items = classify(&plan, &snap, &facts, Duration::from_secs(300));
        let got: Vec<(String, Vec<&str>)> = items
            .iter()
            .map(|i| (i.id.clone(), i.kinds.iter().map(|k| k.as_str()).collect()))
            .collect();
        let want: Vec<(String, Vec<&str>)> = vec![
            ("both".into(), vec!["config", "state"]),
            ("cfg".into(), vec!["config"]),
            ("new".into(), vec!["missing"]),
            ("other".into(), vec!["extra"]),
            ("paused".into(), vec!["state"]),
            ("sick".into(), vec!["health"]),
            ("slow".into(), vec!["health"]),
            ("stray".into(), vec!["extra"]),
        ];
        assert_eq!(got, want);
        let c = counts(&items);
        assert_eq!(c[&DriftKind::Extra], 2);
        assert_eq!(c[&DriftKind::Config], 2);
    }

    #[test]
    fn lag_is_the_physical_difference_of_the_tsos() {
        let mut snap = snapshot(10_000);
        let mut l = crate::plan::planner::LiveChangefeed::default();
        l.info.state = Some("normal".into());
        l.info.checkpoint_ts = (7_500u64 << 18) | 5;
        snap.changefeeds.insert(key("a"), l);
        let f = facts(&snap, &|_| true);
        assert_eq!(f[0].lag_seconds, Some(2.5));
        assert!(facts(&snap, &|_| false).is_empty());
    }
}
