//! Chooses one action per changefeed from desired and live state. Pure: no I/O.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use crate::settings::{manages, prunable, IdGlobs};
use serde_json::Value;

use super::diff::{creation_fields, diff_parsed};
use super::saved::fingerprint;
use super::{
    Action, Blocked, ChangeKind, Entry, Exec, FieldChange, Key, KeyList, LiveSummary, Plan,
};
use crate::manifest::{DesiredChangefeed, DesiredState};
use crate::normalize::{carry_unknown, effective_desired};
use crate::ticdc::mask::SinkUri;
use crate::ticdc::models::{tso_physical_ms, ChangefeedInfo};
use crate::ticdc::ServerProfile;

/// One live changefeed as read for planning.
#[derive(Debug, Clone, Default)]
pub struct LiveChangefeed {
    pub info: ChangefeedInfo,
    /// Unmasked URI from `meta_info` (classic servers), parsed once as the read masked it;
    /// held in memory only. Boxed: a settled changefeed holds `None`, and ten thousand of them
    /// should not each hold the room for one.
    pub raw_uri: Option<Box<SinkUri>>,
    /// Fingerprint of what was read (for saved plans), taken before any shrinking.
    pub fingerprint: Option<String>,
    /// Found unchanged (with these notes) as soon as it was read; its config was then dropped
    /// so that a plan over thousands of changefeeds holds only the ones with work to do.
    pub settled: Option<Vec<String>>,
}

impl LiveChangefeed {
    /// Found unchanged: keep the notes, the fingerprint and what a summary shows (state,
    /// checkpoint, start), and drop the rest, the unmasked URI included, so a plan over thousands
    /// of changefeeds holds only the ones with work to do.
    pub fn settle(&mut self, notes: Vec<String>) {
        self.settled = Some(notes);
        self.raw_uri = None;
        let i = &mut self.info;
        i.config = None;
        i.task_status = None;
        i.error = None;
        i.gid = None;
        i.creator_version = None;
        i.maintainer_addr = None;
        i.create_time = String::new();
        i.checkpoint_time = String::new();
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub default_namespace: String,
    /// Ids this repository owns beyond its manifests (for `--prune`).
    pub manage: Option<IdGlobs>,
    /// Ids never deleted.
    pub protected: Option<IdGlobs>,
    pub prune: bool,
    pub replace: BTreeSet<String>,
    pub gc_ttl: Duration,
    /// How long a pause may last in the worst case (the apply wait timeout).
    pub pause_budget: Duration,
    /// Current TSO, for checkpoint lag.
    pub now_tso: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            default_namespace: "default".into(),
            manage: None,
            protected: None,
            prune: false,
            replace: BTreeSet::new(),
            gc_ttl: Duration::from_secs(24 * 3600),
            pause_budget: Duration::from_secs(120),
            now_tso: 0,
        }
    }
}

/// Run-state families of the raw states (tiflow `cdc/model/changefeed.go` `FeedState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Running,
    Stopped,
    Failed,
    Finished,
    Removed,
}

pub fn run_state(raw: &str) -> RunState {
    match raw {
        "stopped" => RunState::Stopped,
        "failed" => RunState::Failed,
        "finished" => RunState::Finished,
        "removed" => RunState::Removed,
        // normal, warning, pending, error (v7.1), "" (uninitialised)
        _ => RunState::Running,
    }
}

fn lag(now_tso: u64, checkpoint: u64) -> Duration {
    if now_tso == 0 || checkpoint == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(tso_physical_ms(now_tso).saturating_sub(tso_physical_ms(checkpoint)))
}

fn human(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

/// A run state as data: `{"manifest": "paused", "ticdc": "stopped"}`; `manifest` is left out
/// for states no manifest can ask for (`failed`, `warning`, …). JSON readers get both words
/// apart; [`state_text`] joins them for people.
pub fn state_value(server: &str) -> Value {
    let ticdc = if server.is_empty() { "normal" } else { server };
    let manifest = match ticdc {
        "normal" => Some("running"),
        "stopped" => Some("paused"),
        "removed" => Some("absent"),
        _ => None,
    };
    let mut m = serde_json::Map::new();
    if let Some(w) = manifest {
        m.insert("manifest".into(), Value::String(w.into()));
    }
    m.insert("ticdc".into(), Value::String(ticdc.into()));
    Value::Object(m)
}

/// [`state_value`] in words: `paused (stopped)`, or TiCDC's word alone.
pub fn state_text(v: &Value) -> String {
    let ticdc = v.get("ticdc").and_then(Value::as_str).unwrap_or_default();
    match v.get("manifest").and_then(Value::as_str) {
        Some(m) if m != ticdc => format!("{m} ({ticdc})"),
        _ => ticdc.to_string(),
    }
}

/// A state change; `before` is `None` for a changefeed this plan creates.
fn state_change(before: Option<&str>, after: &str) -> FieldChange {
    FieldChange {
        path: "state".into(),
        kind: ChangeKind::Manifest,
        before: before.map(state_value),
        after: Some(state_value(after)),
        sensitive: false,
    }
}

fn matches(set: &Option<IdGlobs>, id: &str) -> bool {
    set.as_ref().is_some_and(|g| g.is_match(id))
}

fn entry(key: Key, action: Action) -> Entry {
    Entry::new(key, action)
}

fn blocked(key: Key, reason: String, hint: String) -> Entry {
    Entry {
        blocked: Some(Blocked {
            reason,
            hint,
            unknown: false,
        }),
        ..entry(key, Action::Blocked)
    }
}

fn summary_of(info: &ChangefeedInfo) -> LiveSummary {
    LiveSummary {
        state: info.state_str().to_string(),
        checkpoint_ts: info.checkpoint_ts,
        start_ts: info.start_ts,
    }
}

/// The least history TiDB keeps whatever holds the GC safepoint: `tikv_gc_life_time`'s
/// default (10m, TiDB `mysql.tidb`). No TiCDC API tells the real setting, so older start
/// points count as gone unless a changefeed holds them.
const GC_LIFE_TIME: Duration = Duration::from_secs(10 * 60);

/// Codes of a changefeed that failed because of GC: its checkpoint is no longer held (tiflow
/// v8.5.0 `pkg/errors/helper.go` `IsChangefeedGCFastFailErrorCode`).
const GC_FAILURE_CODES: &[&str] = &[
    "CDC:ErrGCTTLExceeded",
    "CDC:ErrSnapshotLostByGC",
    "CDC:ErrStartTsBeforeGC",
];

/// Why a `--replace` could delete a changefeed it then cannot create again: the create is
/// refused with `ErrStartTsBeforeGC` when its start point is at or below the GC safepoint
/// (tiflow v8.5.0 `pkg/txnutil/gc/gc_service.go` `EnsureChangefeedStartTsSafety`). A live
/// changefeed holds TiCDC's service safepoint at its checkpoint while it blocks GC (normal,
/// stopped, warning, pending, or failed for another reason; tiflow `cdc/model/changefeed.go`
/// `NeedBlockGC`) and is within the gc-ttl; its delete releases that hold within a minute
/// (tiflow `pkg/txnutil/gc/gc_manager.go` `gcSafepointUpdateInterval`), so the create that
/// follows still finds it. Any older start point is only safe within TiDB's GC life time.
fn replace_gc_risk(
    d: &DesiredChangefeed,
    info: &ChangefeedInfo,
    opts: &Options,
) -> Option<(String, String)> {
    if opts.now_tso == 0 {
        return None;
    }
    let cp = info.checkpoint_ts;
    let from = d.start_ts.filter(|s| *s != 0).unwrap_or(cp);
    let failed_by_gc = info.state_str() == "failed"
        && info
            .error
            .as_ref()
            .is_some_and(|e| GC_FAILURE_CODES.contains(&e.code.as_str()));
    let blocks_gc = match run_state(info.state_str()) {
        RunState::Running | RunState::Stopped => true,
        RunState::Failed => !failed_by_gc,
        RunState::Finished | RunState::Removed => false,
    };
    let holds = blocks_gc && lag(opts.now_tso, cp) < opts.gc_ttl;
    let behind = lag(opts.now_tso, from);
    if (holds && from >= cp) || behind < GC_LIFE_TIME {
        return None;
    }
    let whence = if from == cp {
        format!("its checkpoint {cp}")
    } else {
        format!("start_ts {from}")
    };
    let why = if failed_by_gc {
        format!(
            "it failed because of GC ({}): the history at its checkpoint is gone",
            info.error.as_ref().map_or("", |e| e.code.as_str())
        )
    } else if !blocks_gc {
        format!("a {} changefeed holds no GC safepoint", info.state_str())
    } else if !holds {
        format!(
            "its checkpoint is {} behind, past the GC TTL ({}), so TiCDC no longer holds the GC safepoint for it",
            human(lag(opts.now_tso, cp)),
            human(opts.gc_ttl)
        )
    } else {
        format!(
            "that is before its checkpoint {cp}, the point up to which it holds the GC safepoint"
        )
    };
    let reason = format!(
        "--replace would delete it and then re-create it from {whence}, {} ago: {why}, and TiDB keeps          only {} of history by default (tikv_gc_life_time), so the create would be refused          (ErrStartTsBeforeGC) after the delete",
        human(behind),
        human(GC_LIFE_TIME)
    );
    let mut hint = String::new();
    if holds && from < cp {
        hint.push_str(&format!(
            "remove start_ts from the manifest to re-create it from its checkpoint {cp} (nothing skipped), or "
        ));
    }
    hint.push_str(&format!(
        "set `start_ts: {}` (now) in the manifest to re-create it from now, accepting that the changes          between {whence} and now are not replicated",
        opts.now_tso
    ));
    Some((reason, hint))
}

/// Plan desired against live. `live` holds every live changefeed of the namespaces involved.
pub fn make_plan(
    profile: &ServerProfile,
    server: &str,
    desired: &[DesiredChangefeed],
    live: &BTreeMap<Key, LiveChangefeed>,
    opts: &Options,
) -> Plan {
    make_plan_scoped(profile, server, desired, live, KeyList::new(), opts)
}

/// [`make_plan`] for a scoped read: `listed_only` are live changefeeds known from the list
/// alone (outside every manifest, and outside `manage` or without `--prune`), moved into the
/// plan's lists (a shared cluster has many).
pub fn make_plan_scoped(
    profile: &ServerProfile,
    server: &str,
    desired: &[DesiredChangefeed],
    live: &BTreeMap<Key, LiveChangefeed>,
    listed_only: KeyList,
    opts: &Options,
) -> Plan {
    let mut plan = Plan::empty(server, profile);
    let mut listed = BTreeSet::new();
    // Notes of unchanged changefeeds, each said once with the changefeeds it concerns (on a
    // new-architecture server every changefeed with a password has the same one).
    let mut said: Vec<(String, Vec<String>)> = Vec::new();
    let mut said_at: HashMap<String, usize> = HashMap::new();
    for d in desired {
        let key = Key {
            namespace: d
                .namespace
                .clone()
                .unwrap_or_else(|| opts.default_namespace.clone()),
            id: d.id.clone(),
        };
        listed.insert(key.clone());
        let l = live.get(&key);
        let outcome = match l.and_then(|l| l.settled.clone()) {
            Some(notes) => Outcome::Unchanged(notes),
            None => plan_one(profile, d, key.clone(), l, opts),
        };
        match outcome {
            Outcome::Change(e) => plan.entries.push(*e),
            Outcome::Unchanged(notes) => {
                for n in notes {
                    match said_at.get(&n) {
                        Some(&at) => said[at].1.push(key.to_string()),
                        None => {
                            said_at.insert(n.clone(), said.len());
                            said.push((n, vec![key.to_string()]));
                        }
                    }
                }
                plan.unchanged.push(key);
            }
            Outcome::AlreadyAbsent => plan.absent.push(key),
        }
    }
    plan.notes
        .extend(said.into_iter().map(|(n, keys)| match &keys[..] {
            [one] => format!("{one}: {n}"),
            many => {
                let shown = many[..many.len().min(3)].join(", ");
                let more = many.len().saturating_sub(3);
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                format!("{} changefeeds ({shown}{more}): {n}", many.len())
            }
        }));
    for (key, l) in live {
        if listed.contains(key) {
            continue;
        }
        if !manages(opts.manage.as_ref(), &key.id) {
            plan.unmanaged.push(key.borrowed());
        } else if !opts.prune || !prunable(opts.manage.as_ref(), &key.id) {
            plan.unlisted.push(key.borrowed());
        } else if matches(&opts.protected, &key.id) {
            plan.entries.push(blocked(
                key.clone(),
                "it is in no manifest and --prune would delete it, but it is protected".into(),
                "add it to a manifest, or remove it from `protected` in cdcform.toml".into(),
            ));
        } else {
            let mut e = entry(key.clone(), Action::Delete);
            e.live = Some(summary_of(&l.info));
            e.notes
                .push("in no manifest; matches `manage` and --prune is set".into());
            plan.entries.push(e);
        }
    }
    // Outside every manifest by contract (a manifest's changefeeds are always read in full):
    // not looked up in `listed`, which costs more than the rest of the loop on a large list.
    debug_assert!(listed_only.iter().all(|k| !listed.contains(&k.to_key())));
    let (unlisted, unmanaged) = listed_only.partition(|id| manages(opts.manage.as_ref(), id));
    plan.unlisted.absorb(unlisted);
    plan.unmanaged.absorb(unmanaged);
    plan.unmanaged.sort();
    plan.unlisted.sort();
    for e in &mut plan.entries {
        e.live_fingerprint = live.get(&e.key).map(|l| fingerprint(Some(l)));
    }
    plan.entries.sort_by(|a, b| a.key.cmp(&b.key));
    plan.recount();
    plan
}

/// What one desired changefeed needs.
/// Name the `replica_config_file` beside the changes whose values come from it (review reads
/// the TOML file, not the manifest, for those).
fn note_file_values(e: &mut Entry, d: &DesiredChangefeed) {
    let Some(file) = &d.replica_config_file else {
        return;
    };
    let from_file: Vec<&str> = e
        .changes
        .iter()
        .filter_map(|c| c.path.strip_prefix("replica_config."))
        .filter(|p| {
            d.from_file.iter().any(|f| {
                f == p || f.starts_with(&format!("{p}.")) || p.starts_with(&format!("{f}."))
            })
        })
        .collect();
    if from_file.is_empty() {
        return;
    }
    const SHOWN: usize = 6;
    let mut list: Vec<String> = from_file
        .iter()
        .take(SHOWN)
        .map(|p| format!("replica_config.{p}"))
        .collect();
    if from_file.len() > SHOWN {
        list.push(format!("and {} more", from_file.len() - SHOWN));
    }
    e.notes.push(format!(
        "from {} (replica_config_file): {}",
        file.display(),
        list.join(", ")
    ));
}

/// Plan one changefeed right after it was read: `Some(notes)` when there is nothing to do.
pub fn settle(
    profile: &ServerProfile,
    d: &DesiredChangefeed,
    key: Key,
    live: &LiveChangefeed,
    opts: &Options,
) -> Option<Vec<String>> {
    match plan_one(profile, d, key, Some(live), opts) {
        Outcome::Unchanged(notes) => Some(notes),
        Outcome::Change(_) | Outcome::AlreadyAbsent => None,
    }
}

/// Whether a live changefeed holds the sink URI and config (and target) of `d`, whatever its
/// state: how a create that meets an existing changefeed tells its own from another writer's.
pub fn holds_content(
    profile: &ServerProfile,
    d: &DesiredChangefeed,
    live: &LiveChangefeed,
) -> bool {
    let eff = effective_desired(profile, &d.sink_uri, d.replica_config.as_ref());
    !diff_parsed(profile, d, &eff, &live.info, live.raw_uri.as_deref()).needs_update()
}

enum Outcome {
    Change(Box<Entry>),
    /// Nothing to do; the notes still reach the reader (e.g. a password that cannot be compared).
    Unchanged(Vec<String>),
    /// `state: absent` and no such changefeed: counted apart, never as an existing one.
    AlreadyAbsent,
}

fn plan_one(
    profile: &ServerProfile,
    d: &DesiredChangefeed,
    key: Key,
    live: Option<&LiveChangefeed>,
    opts: &Options,
) -> Outcome {
    let Some(l) = live else {
        if d.state == DesiredState::Absent {
            return Outcome::AlreadyAbsent;
        }
        let mut e = entry(
            key,
            Action::Create {
                then_pause: d.state == DesiredState::Paused,
            },
        );
        e.changes = creation_fields(d);
        if d.state == DesiredState::Paused {
            e.changes.push(state_change(None, "stopped"));
        }
        note_file_values(&mut e, d);
        e.exec = Some(Exec {
            desired: Some(d.clone()),
            config: d.replica_config.clone(),
            new_sink_uri: Some(d.sink_uri.clone()),
            new_target_ts: d.target_ts.unwrap_or(0),
            live_config: None,
        });
        return Outcome::Change(Box::new(e));
    };
    let info = &l.info;
    let raw_state = info.state_str();
    let rs = run_state(raw_state);
    let summary = summary_of(info);

    if d.state == DesiredState::Absent {
        if matches(&opts.protected, &key.id) {
            let mut e = blocked(
                key,
                "the manifest says `state: absent`, but this id is protected".into(),
                "remove it from `protected` in cdcform.toml to allow the delete, or drop `state: absent`".into(),
            );
            e.live = Some(summary);
            return Outcome::Change(Box::new(e));
        }
        let mut e = entry(key, Action::Delete);
        e.live = Some(summary);
        return Outcome::Change(Box::new(e));
    }

    if opts.replace.contains(&key.id) {
        if let Some((reason, hint)) = replace_gc_risk(d, info, opts) {
            let mut e = blocked(key, reason, hint);
            e.live = Some(summary);
            return Outcome::Change(Box::new(e));
        }
        let mut e = entry(key, Action::Replace);
        e.changes = creation_fields(d);
        if d.start_ts.unwrap_or(0) == 0 {
            e.notes.push(format!(
                "re-created from the old checkpoint {} (no start_ts in the manifest)",
                info.checkpoint_ts
            ));
        }
        e.live = Some(summary);
        e.exec = Some(Exec {
            desired: Some(d.clone()),
            config: d.replica_config.clone(),
            new_sink_uri: Some(d.sink_uri.clone()),
            new_target_ts: d.target_ts.unwrap_or(0),
            live_config: info.config.clone(),
        });
        return Outcome::Change(Box::new(e));
    }

    let with_live = |mut e: Entry| {
        e.live = Some(summary.clone());
        Outcome::Change(Box::new(e))
    };

    if let Some(s) = d.start_ts.filter(|s| *s != 0 && *s != info.start_ts) {
        return with_live(blocked(
            key.clone(),
            format!("start_ts is create-only: live {}, manifest {s}", info.start_ts),
            format!(
                "run with `--replace {}` to delete and re-create it from start_ts {s} (data is replayed or skipped), \
                 or set start_ts back to {}",
                key.id, info.start_ts
            ),
        ));
    }
    if d.target_ts.unwrap_or(0) == 0 && info.target_ts != 0 {
        return with_live(blocked(
            key.clone(),
            format!(
                "target_ts {} cannot be cleared on a live changefeed",
                info.target_ts
            ),
            format!(
                "set target_ts: {} in the manifest, or re-create it with `--replace {}`",
                info.target_ts, key.id
            ),
        ));
    }
    if rs == RunState::Removed {
        return with_live(blocked(
            key,
            "the changefeed is being removed".into(),
            "wait until the removal finishes and plan again".into(),
        ));
    }

    let eff = effective_desired(profile, &d.sink_uri, d.replica_config.as_ref());
    let diff = diff_parsed(profile, d, &eff, info, l.raw_uri.as_deref());
    let want_running = d.state == DesiredState::Running;
    let lag = lag(opts.now_tso, info.checkpoint_ts);

    let why_finished = || {
        blocked(
            key.clone(),
            "the changefeed is finished (it reached target_ts) and TiCDC refuses to update a finished changefeed"
                .into(),
            format!("re-create it with `--replace {}`, or delete it with `state: absent`", key.id),
        )
    };
    let action = match choose_action(rs, diff.needs_update(), want_running, lag, opts.gc_ttl, opts.pause_budget) {
        Choice::Keep => None,
        Choice::Do(a) => Some(a),
        Choice::Held(Why::Removed) => {
            return with_live(blocked(
                key,
                "the changefeed is being removed".into(),
                "wait until the removal finishes and plan again".into(),
            ))
        }
        Choice::Held(Why::Finished) => return with_live(why_finished()),
        Choice::Held(Why::FailedPastGc) => {
            return with_live(blocked(
                key.clone(),
                format!(
                    "the changefeed failed and its checkpoint is {} behind, past the GC TTL ({}): it cannot resume",
                    human(lag),
                    human(opts.gc_ttl)
                ),
                format!("re-create it with `--replace {}` and a start_ts the upstream still has", key.id),
            ))
        }
        Choice::Held(Why::PauseUnsafe) => {
            return with_live(blocked(
                key,
                format!(
                    "pausing is unsafe: the checkpoint is already {} behind and a pause of up to {} could pass the GC TTL ({}), \
                     after which the changefeed could never resume",
                    human(lag),
                    human(opts.pause_budget),
                    human(opts.gc_ttl)
                ),
                "let it catch up first, or raise --gc-ttl if the upstream's GC TTL really is longer".into(),
            ))
        }
    };

    let mut notes = diff.notes.clone();
    if rs == RunState::Failed && !want_running && action.is_none() {
        notes.push(
            "the changefeed is failed (not running); `state: paused` leaves it as it is".into(),
        );
    }
    let Some(action) = action else {
        return Outcome::Unchanged(notes);
    };

    let mut e = entry(key, action);
    e.changes = diff.changes;
    e.notes = notes;
    note_file_values(&mut e, d);
    match action {
        Action::Pause => e.changes.push(state_change(Some(raw_state), "stopped")),
        Action::Resume => e.changes.push(state_change(Some(raw_state), "normal")),
        Action::Update {
            pause_first,
            resume_after,
        } => {
            let end = if resume_after { "normal" } else { "stopped" };
            let was_running = pause_first || rs == RunState::Running;
            if was_running != resume_after || rs == RunState::Failed {
                e.changes.push(state_change(Some(raw_state), end));
            }
        }
        _ => {}
    }
    if let Action::Update { .. } = action {
        let mut body =
            crate::normalize::effective_body(profile, &d.sink_uri, d.replica_config.as_ref());
        if let Some(lc) = &info.config {
            carry_unknown(&mut body, lc);
        }
        e.exec = Some(Exec {
            desired: Some(d.clone()),
            config: Some(body),
            new_sink_uri: diff.sink_uri_changed.then(|| d.sink_uri.clone()),
            new_target_ts: d.target_ts.filter(|t| *t != info.target_ts).unwrap_or(0),
            live_config: info.config.clone(),
        });
    } else {
        e.exec = Some(Exec {
            desired: Some(d.clone()),
            config: None,
            new_sink_uri: None,
            new_target_ts: 0,
            live_config: info.config.clone(),
        });
    }
    e.live = Some(summary);
    Outcome::Change(Box::new(e))
}

/// Why a live changefeed cannot be brought to what the manifest says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Being removed: nothing to do until it is gone.
    Removed,
    /// Finished (reached target_ts): TiCDC refuses updates.
    Finished,
    /// Failed with its checkpoint past the GC TTL: it can never resume.
    FailedPastGc,
    /// A pause (alone or before an update) could outlast the GC TTL.
    PauseUnsafe,
}

/// What a live changefeed needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Already as desired.
    Keep,
    Do(Action),
    Held(Why),
}

/// The planner's decision for a live changefeed, from the facts alone: its run state, whether
/// its config differs, whether the manifest wants it running, how far its checkpoint lags,
/// the GC TTL, and how long a pause may last. Pure, so it is tested as a truth table.
pub fn choose_action(
    run: RunState,
    needs_update: bool,
    want_running: bool,
    lag: Duration,
    gc_ttl: Duration,
    pause_budget: Duration,
) -> Choice {
    let action = match run {
        RunState::Removed => return Choice::Held(Why::Removed),
        RunState::Finished if needs_update => return Choice::Held(Why::Finished),
        RunState::Finished => None,
        RunState::Failed if lag >= gc_ttl => return Choice::Held(Why::FailedPastGc),
        RunState::Failed | RunState::Stopped if needs_update => Some(Action::Update {
            pause_first: false,
            resume_after: want_running,
        }),
        RunState::Failed | RunState::Stopped if want_running => Some(Action::Resume),
        RunState::Failed | RunState::Stopped => None,
        RunState::Running if needs_update => Some(Action::Update {
            pause_first: true,
            resume_after: want_running,
        }),
        RunState::Running if !want_running => Some(Action::Pause),
        RunState::Running => None,
    };
    let pauses = |a: &Action| {
        matches!(
            a,
            Action::Pause
                | Action::Update {
                    pause_first: true,
                    ..
                }
        )
    };
    match action {
        None => Choice::Keep,
        Some(a) if pauses(&a) && lag + pause_budget >= gc_ttl => Choice::Held(Why::PauseUnsafe),
        Some(a) => Choice::Do(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize;
    use crate::plan::KeyRef;
    use crate::ticdc::mask::mask_sink_uri;
    use crate::ticdc::Version;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000_000 << 18;

    fn p() -> ServerProfile {
        ServerProfile::classic(Version::new(8, 5, 0))
    }

    fn want(id: &str, state: DesiredState, cfg: Option<Value>) -> DesiredChangefeed {
        DesiredChangefeed {
            id: id.into(),
            sink_uri: "blackhole://".into(),
            sink_uri_template: "blackhole://".into(),
            state,
            replica_config: cfg.clone(),
            replica_config_template: cfg,
            ..Default::default()
        }
    }

    fn have(id: &str, state: &str, cfg: Option<&Value>) -> (Key, LiveChangefeed) {
        let mut c = normalize::defaults(&p());
        if let Some(m) = cfg {
            normalize::merge(&mut c, m);
        }
        let info = ChangefeedInfo {
            namespace: Some("default".into()),
            id: id.into(),
            sink_uri: mask_sink_uri("blackhole://").unwrap(),
            config: Some(c),
            state: Some(state.into()),
            start_ts: NOW - (60_000 << 18),
            checkpoint_ts: NOW - (1_000 << 18),
            ..Default::default()
        };
        (
            Key {
                namespace: "default".into(),
                id: id.into(),
            },
            LiveChangefeed {
                info,
                raw_uri: Some(Box::new(SinkUri::parse("blackhole://"))),
                ..Default::default()
            },
        )
    }

    fn opts() -> Options {
        Options {
            now_tso: NOW,
            ..Options::default()
        }
    }

    fn actions(plan: &Plan) -> Vec<(String, Action)> {
        plan.entries
            .iter()
            .map(|e| (e.key.id.clone(), e.action))
            .collect()
    }

    /// [`choose_action`] as a truth table: every run state × config differs × wants running,
    /// with a small lag, and the lags at which GC makes a pause or a resume unsafe.
    #[test]
    fn choose_action_truth_table() {
        use Action::*;
        use RunState::*;
        let (ttl, budget) = (Duration::from_secs(24 * 3600), Duration::from_secs(120));
        let small = Duration::from_secs(5);
        let near = ttl - Duration::from_secs(60); // a pause of `budget` would pass the TTL
        let past = ttl; // failed past GC
        let upd = |pause_first, resume_after| {
            Choice::Do(Update {
                pause_first,
                resume_after,
            })
        };
        #[rustfmt::skip]
        let table: &[(RunState, bool, bool, Duration, Choice)] = &[
            // run state, config differs, wants running, lag => decision
            (Running,  false, true,  small, Choice::Keep),
            (Running,  false, false, small, Choice::Do(Pause)),
            (Running,  true,  true,  small, upd(true, true)),
            (Running,  true,  false, small, upd(true, false)),
            (Running,  false, true,  near,  Choice::Keep),
            (Running,  false, false, near,  Choice::Held(Why::PauseUnsafe)),
            (Running,  true,  true,  near,  Choice::Held(Why::PauseUnsafe)),
            (Stopped,  false, true,  small, Choice::Do(Resume)),
            (Stopped,  false, false, small, Choice::Keep),
            (Stopped,  true,  true,  small, upd(false, true)),
            (Stopped,  true,  false, small, upd(false, false)),
            // Already stopped: no pause to outlast the TTL.
            (Stopped,  true,  false, near,  upd(false, false)),
            (Failed,   false, true,  small, Choice::Do(Resume)),
            (Failed,   false, false, small, Choice::Keep),
            (Failed,   true,  true,  small, upd(false, true)),
            (Failed,   true,  false, small, upd(false, false)),
            (Failed,   false, true,  past,  Choice::Held(Why::FailedPastGc)),
            (Failed,   true,  false, past,  Choice::Held(Why::FailedPastGc)),
            (Finished, false, true,  small, Choice::Keep),
            (Finished, false, false, small, Choice::Keep),
            (Finished, true,  true,  small, Choice::Held(Why::Finished)),
            (Removed,  false, true,  small, Choice::Held(Why::Removed)),
            (Removed,  true,  false, small, Choice::Held(Why::Removed)),
        ];
        for (run, differs, running, lag, want) in table {
            assert_eq!(
                choose_action(*run, *differs, *running, *lag, ttl, budget),
                *want,
                "{run:?}, differs {differs}, running {running}, lag {lag:?}"
            );
        }
    }

    #[test]
    fn one_action_per_situation() {
        let w = json!({"mounter": {"worker_num": 8}});
        let desired = vec![
            want("new", DesiredState::Running, None),
            want("new-paused", DesiredState::Paused, None),
            want("same", DesiredState::Running, None),
            want("cfg-running", DesiredState::Running, Some(w.clone())),
            want("cfg-stopped", DesiredState::Running, Some(w.clone())),
            want("to-pause", DesiredState::Paused, None),
            want("to-resume", DesiredState::Running, None),
            want("gone", DesiredState::Absent, None),
            want("already-gone", DesiredState::Absent, None),
        ];
        let live: BTreeMap<_, _> = [
            have("same", "normal", None),
            have("cfg-running", "normal", None),
            have("cfg-stopped", "stopped", None),
            have("to-pause", "warning", None),
            have("to-resume", "stopped", None),
            have("gone", "normal", None),
            have("stranger", "normal", None),
        ]
        .into_iter()
        .collect();
        let plan = make_plan(&p(), "http://x", &desired, &live, &opts());
        assert_eq!(
            actions(&plan),
            vec![
                (
                    "cfg-running".into(),
                    Action::Update {
                        pause_first: true,
                        resume_after: true
                    }
                ),
                (
                    "cfg-stopped".into(),
                    Action::Update {
                        pause_first: false,
                        resume_after: true
                    }
                ),
                ("gone".into(), Action::Delete),
                ("new".into(), Action::Create { then_pause: false }),
                ("new-paused".into(), Action::Create { then_pause: true }),
                ("to-pause".into(), Action::Pause),
                ("to-resume".into(), Action::Resume),
            ]
        );
        // No `manage`: the repository claims the cluster, so a changefeed in no manifest is
        // managed and kept (not pruned: `--prune` needs a `manage` that is set).
        assert_eq!((plan.unmanaged.len(), plan.unlisted.len()), (0, 1));
        // `already-gone` is a tombstone of a changefeed that does not exist: never "unchanged".
        assert_eq!(plan.summary.unchanged, 1);
        assert_eq!(plan.absent.len(), 1);
        assert_eq!(plan.absent[0].id, "already-gone");
        assert_eq!(
            plan.summary.line(),
            "Plan: 2 to create, 2 to update, 1 to pause, 1 to resume, 1 to delete. 1 unchanged. 1 already absent."
        );
    }

    #[test]
    fn prune_and_protect() {
        let live: BTreeMap<_, _> = [
            have("team-a", "normal", None),
            have("team-keep", "normal", None),
            have("other", "normal", None),
        ]
        .into_iter()
        .collect();
        let glob = |p: &str| Some(IdGlobs::new(&[p.to_string()]).unwrap());
        let mut o = Options {
            manage: glob("team-*"),
            protected: glob("*-keep"),
            ..opts()
        };
        let plan = make_plan(&p(), "x", &[], &live, &o);
        assert!(plan.entries.is_empty());
        assert_eq!(plan.unlisted.len(), 2);
        o.prune = true;
        let plan = make_plan(&p(), "x", &[], &live, &o);
        assert_eq!(
            actions(&plan),
            vec![
                ("team-a".into(), Action::Delete),
                ("team-keep".into(), Action::Blocked)
            ]
        );
        assert_eq!(
            plan.unmanaged
                .iter()
                .map(KeyRef::to_key)
                .collect::<Vec<_>>(),
            vec![Key {
                namespace: "default".into(),
                id: "other".into()
            }]
        );
    }

    #[test]
    fn blocked_cases_say_why_and_what_to_do() {
        let w = json!({"mounter": {"worker_num": 8}});
        let mut start = want("start", DesiredState::Running, None);
        // Other than the live start_ts, and recent enough for TiDB's GC to still keep it.
        start.start_ts = Some(NOW - (120_000 << 18));
        let desired = vec![
            start,
            want("fin", DesiredState::Running, Some(w)),
            want("old-failed", DesiredState::Running, None),
        ];
        let (k3, mut f) = have("old-failed", "failed", None);
        f.info.checkpoint_ts = NOW - ((48 * 3600 * 1000) << 18);
        let live: BTreeMap<_, _> = [
            have("start", "normal", None),
            have("fin", "finished", None),
            (k3, f),
        ]
        .into_iter()
        .collect();
        let plan = make_plan(&p(), "x", &desired, &live, &opts());
        assert!(plan.entries.iter().all(|e| e.action == Action::Blocked));
        let why: Vec<&str> = plan
            .entries
            .iter()
            .map(|e| e.blocked.as_ref().unwrap().hint.as_str())
            .collect();
        assert!(why.iter().all(|h| h.contains("--replace")), "{why:?}");
        let mut o = opts();
        o.replace.insert("start".into());
        let plan = make_plan(&p(), "x", &desired[..1], &live, &o);
        assert_eq!(plan.entries[0].action, Action::Replace);
        // From a start_ts TiDB's GC has long passed: the replace is blocked before any write.
        let mut ancient = desired[0].clone();
        ancient.start_ts = Some(42);
        let plan = make_plan(&p(), "x", &[ancient], &live, &o);
        let b = plan.entries[0].blocked.as_ref().expect("blocked");
        assert!(b.reason.contains("ErrStartTsBeforeGC"), "{}", b.reason);
        assert!(b.hint.contains(&format!("start_ts: {NOW}")), "{}", b.hint);
    }

    #[test]
    fn pause_refused_near_gc_ttl() {
        let (k, mut l) = have("lagging", "normal", None);
        l.info.checkpoint_ts = NOW - ((24 * 3600 * 1000 - 60_000) << 18);
        let live: BTreeMap<_, _> = [(k, l)].into_iter().collect();
        let plan = make_plan(
            &p(),
            "x",
            &[want("lagging", DesiredState::Paused, None)],
            &live,
            &opts(),
        );
        assert_eq!(plan.entries[0].action, Action::Blocked);
        assert!(plan.entries[0]
            .blocked
            .as_ref()
            .unwrap()
            .reason
            .contains("GC TTL"));
    }
}
