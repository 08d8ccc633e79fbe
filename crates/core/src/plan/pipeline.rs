//! The planning pipeline as a library: load manifests, read the live cluster, plan, save a plan
//! file, and re-check a saved plan against the cluster. Commands, the demo, benches and (later)
//! reconcile and fleet runs call these; nothing here prints.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use crate::manifest::{self, DesiredChangefeed};
use crate::plan::live::{self, Snapshot};
use crate::plan::planner::{make_plan_scoped, settle, LiveChangefeed, Options};
use crate::plan::saved::{fingerprints, restore_desired, saved_desired, SavedOptions, SavedPlan};
use crate::plan::{Action, Blocked, Entry, Key, Plan};
use crate::settings::{prunable, Settings};
use crate::ticdc::{Client, ServerProfile};
use crate::Error;

/// What a user can ask of a plan beyond the manifests: the library form of the plan flags.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Delete live changefeeds that no manifest lists but that match `manage`.
    pub prune: bool,
    /// Ids allowed to be deleted and created again when a create-only field changed.
    pub replace: Vec<String>,
    /// GC TTL of the upstream; `None` means the cluster's setting.
    pub gc_ttl: Option<Duration>,
    /// Skip the table impact (`verify_table` calls for creates and filter changes).
    pub no_table_impact: bool,
}

/// Namespaces a plan reads: the default one and every one a manifest names.
pub fn namespaces(settings: &Settings, desired: &[DesiredChangefeed]) -> BTreeSet<String> {
    let mut ns: BTreeSet<String> = desired.iter().filter_map(|d| d.namespace.clone()).collect();
    ns.insert(settings.namespace.clone());
    ns
}

/// The planner's options for one read of the cluster (taken at `now_tso`).
pub fn planner_options(
    settings: &Settings,
    o: &PlanOptions,
    now_tso: u64,
    pause_budget: Duration,
) -> Options {
    Options {
        default_namespace: settings.namespace.clone(),
        manage: settings.manage.clone(),
        protected: settings.protected.clone(),
        prune: o.prune,
        replace: o.replace.iter().cloned().collect(),
        gc_ttl: o.gc_ttl.unwrap_or(settings.gc_ttl),
        pause_budget,
        now_tso,
    }
}

fn key_of(settings: &Settings, d: &DesiredChangefeed) -> Key {
    Key {
        namespace: d
            .namespace
            .clone()
            .unwrap_or_else(|| settings.namespace.clone()),
        id: d.id.clone(),
    }
}

/// The manifests' changefeeds by key. Every id a shared cluster lists is looked up here, so
/// with a fast hash (foldhash) rather than SipHash.
type ByKey<'a> = HashMap<Key, &'a DesiredChangefeed, foldhash::fast::RandomState>;

/// The changefeeds a plan reads in full: those a manifest names, and, only under `--prune`,
/// those matching `manage`. The rest of a shared cluster is known from the list alone.
fn wanted(settings: &Settings, prune: bool, desired: &ByKey<'_>, key: &Key) -> bool {
    desired.contains_key(key) || (prune && prunable(settings.manage.as_ref(), &key.id))
}

/// Read the cluster and plan. Returns the plan and the snapshot it was made from.
pub async fn compute(
    settings: &Settings,
    client: &Client,
    desired: &[DesiredChangefeed],
    o: &PlanOptions,
    pause_budget: Duration,
) -> Result<(Plan, Snapshot), Error> {
    let by_key: ByKey = desired.iter().map(|d| (key_of(settings, d), d)).collect();
    // The options depend on the TSO the read takes; built once, on the first changefeed.
    let settle_opts = OnceLock::new();
    let settle = |profile: &ServerProfile, now_tso: u64, key: &Key, l: &LiveChangefeed| {
        let d = by_key.get(key)?;
        let opts = settle_opts.get_or_init(|| planner_options(settings, o, now_tso, pause_budget));
        settle(profile, d, key.clone(), l, opts)
    };
    // The credentials check runs beside the first round of reads, so it costs no time.
    let scope = namespaces(settings, desired);
    crate::plan::keyspace::preflight(client, desired, &settings.namespace, &scope).await?;
    let wanted = |key: &Key| wanted(settings, o.prune, &by_key, key);
    let (snap, credentials) = tokio::join!(
        live::read_settling(
            client,
            &scope,
            settings.parallelism,
            Some(&settle),
            Some(&wanted),
            by_key.keys(),
        ),
        client.check_credentials(&settings.namespace)
    );
    let mut snap = snap?;
    let opts = planner_options(settings, o, snap.now_tso, pause_budget);
    let mut plan = make_plan_scoped(
        &snap.profile,
        &crate::pipeline::shown_server(&settings.server),
        desired,
        &snap.changefeeds,
        std::mem::take(&mut snap.listed_only),
        &opts,
    );
    mark_unknown(&mut plan, &snap, by_key.keys(), &opts);
    plan.credentials = Some(credentials);
    if !o.no_table_impact {
        crate::plan::impact::attach(&mut plan, client, settings.parallelism).await;
    }
    if o.prune && settings.manage.is_none() {
        plan.notes.push(
            "--prune deletes nothing here: no `manage` globs are set for this cluster (`manage` in cdcform.toml names the ids this repository owns)"
                .into(),
        );
    }
    if settings.client.password.is_some() && settings.server.starts_with("http://") {
        plan.notes.push(
            "the basic-auth password is sent over plain http://; use https:// so it is encrypted"
                .into(),
        );
    }
    Ok((plan, snap))
}

/// [`compute`], then the policies on the plan (kept in it). The policy files are read and
/// parsed on a blocking thread while the cluster is read, so only building the input and
/// evaluating come after the plan. An error of the plan comes first, as without policies.
pub async fn compute_checked(
    settings: &Settings,
    client: &Client,
    desired: &[DesiredChangefeed],
    o: &PlanOptions,
    pause_budget: Duration,
    policy: &crate::policy::PolicyOptions,
) -> Result<(Plan, Snapshot), Error> {
    let loading = crate::policy::load_in_background(policy);
    let (mut plan, snap) = compute(settings, client, desired, o, pause_budget).await?;
    if let Some(loading) = loading {
        let policies = loading.await.map_err(|e| {
            Error::msg(format!(
                "loading the policies {:?} stopped before it finished: {e}
help: run again; this is a bug if it repeats",
                policy.paths
            ))
        })??;
        let report = crate::policy::check_plan_with(
            policies,
            &plan,
            desired,
            &snap.changefeeds,
            &cluster_info(settings, &snap),
            &settings.namespace,
        )?;
        plan.policy = Some(report);
    }
    Ok((plan, snap))
}

/// The cluster a plan is for, as policies see it.
fn cluster_info(settings: &Settings, snap: &Snapshot) -> crate::policy::input::ClusterInfo {
    crate::policy::input::ClusterInfo {
        name: settings.cluster.clone(),
        server: settings.server.clone(),
        profile: Some(snap.profile.clone()),
    }
}

/// Changefeeds the read could not get (after the retry budget) become blocked entries marked
/// unknown, in place of whatever was planned from their absence: desired ones, and managed
/// ones `--prune` would look at. A namespace whose list failed gets a note: nothing in it is
/// deleted.
pub fn mark_unknown<'a>(
    plan: &mut Plan,
    snap: &Snapshot,
    desired: impl Iterator<Item = &'a Key>,
    opts: &Options,
) {
    let mut keys: BTreeSet<Key> = desired
        .filter(|k| snap.unknown(k).is_some())
        .cloned()
        .collect();
    if opts.prune {
        let managed = |k: &&Key| prunable(opts.manage.as_ref(), &k.id);
        keys.extend(snap.unreadable.keys().filter(managed).cloned());
    }
    for (ns, why) in &snap.unlisted {
        plan.notes.push(format!(
            "the changefeeds of namespace {ns} could not be listed ({why}); nothing in it is planned or deleted"
        ));
    }
    if keys.is_empty() {
        return;
    }
    plan.entries.retain(|e| !keys.contains(&e.key));
    plan.unchanged.retain(|k| !keys.contains(k));
    for key in keys {
        let why = snap.unknown(&key).unwrap_or_default();
        plan.entries.push(Entry {
            blocked: Some(Blocked {
                reason: format!("its live state is unknown: reading it from TiCDC failed: {why}"),
                hint: "re-run when TiCDC answers again (an owner election usually ends within a minute), \
                       or give it longer with --retry-for"
                    .into(),
                unknown: true,
            }),
            ..Entry::new(key, Action::Blocked)
        });
    }
    plan.entries.sort_by(|a, b| a.key.cmp(&b.key));
    plan.recount();
}

/// Load the manifests a command names, or the cluster's `paths` from cdcform.toml.
pub fn load_manifests(
    settings: &Settings,
    paths: &[std::path::PathBuf],
) -> Result<manifest::DesiredSet, Error> {
    let paths = settings.manifest_paths(paths)?;
    let env = manifest::env::from_process;
    manifest::load_options(
        &paths,
        &|n| settings.var(n, &env),
        &|n| settings.is_public_var(n, &env),
        None,
        &settings.namespace,
    )
    .map_err(Error::Manifest)
}

/// The checks that depend on the server's version, made once it is known (#31 item 6: a
/// field or value the server does not know is refused, not lost; `validate --target` makes
/// the same checks offline). Manifests load before the server answers, for every version, so
/// the files of the changefeeds this plan would write are loaded again for this server; an
/// unchanged changefeed already holds what the server keeps, so it costs nothing when there
/// is nothing to do. The texts are those read the first time (never read twice).
pub fn check_for_server(
    settings: &Settings,
    plan: &Plan,
    set: &manifest::DesiredSet,
    profile: &ServerProfile,
) -> Result<(), Error> {
    let desired = &set.changefeeds;
    let writes: BTreeSet<&Key> = plan
        .entries
        .iter()
        .filter(|e| e.exec.as_ref().is_some_and(|x| x.desired.is_some()))
        .map(|e| &e.key)
        .collect();
    let files: BTreeSet<std::path::PathBuf> = desired
        .iter()
        .filter(|d| writes.contains(&key_of(settings, d)))
        .map(|d| d.location.file.clone())
        .collect();
    if files.is_empty() {
        return Ok(());
    }
    let env = manifest::env::from_process;
    manifest::recheck_for(
        set,
        &files,
        &|n| settings.var(n, &env),
        &|n| settings.is_public_var(n, &env),
        profile,
        &settings.namespace,
    )
    .map_err(Error::Manifest)
}

/// Write a plan file: the plan, the desired entries (secrets as references) and a fingerprint
/// of each live changefeed the plan read. Written to a temporary file first, then renamed.
pub fn save(
    path: &Path,
    plan: &Plan,
    snap: &Snapshot,
    desired: &[DesiredChangefeed],
    settings: &Settings,
    o: &PlanOptions,
) -> Result<(), Error> {
    let saved = saved_plan(plan, snap, desired, settings, o)?;
    write_file(path, &saved.to_json())
}

/// Write a file whole or not at all: a temporary file first, then a rename.
pub fn write_file(path: &Path, text: &str) -> Result<(), Error> {
    let tmp = path.with_extension("plan.tmp");
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| Error::msg(format!("cannot write plan file {}: {e}", path.display())))
}

/// What a plan file holds for one cluster (see [`save`]).
pub fn saved_plan(
    plan: &Plan,
    snap: &Snapshot,
    desired: &[DesiredChangefeed],
    settings: &Settings,
    o: &PlanOptions,
) -> Result<SavedPlan, Error> {
    let saved_d =
        saved_desired(desired, &settings.namespace).map_err(|e| Error::msg(e.to_string()))?;
    let keys = saved_d.iter().map(|d| Key {
        namespace: d.namespace.clone(),
        id: d.id.clone(),
    });
    let fps = fingerprints(&snap.changefeeds, keys);
    let opts = SavedOptions {
        prune: o.prune,
        replace: o.replace.clone(),
        gc_ttl_secs: o.gc_ttl.unwrap_or(settings.gc_ttl).as_secs(),
    };
    let ns: Vec<String> = namespaces(settings, desired).into_iter().collect();
    Ok(SavedPlan::new(plan.clone(), saved_d, ns, opts, fps))
}

/// Re-read every changefeed a saved plan read and plan again; refuse the whole plan if any
/// fingerprint moved or the plan computed now differs in shape from the saved one.
pub async fn recheck_saved(
    file: &Path,
    settings: &Settings,
    client: &Client,
    pause_budget: Duration,
) -> Result<Plan, Error> {
    recheck_saved_full(file, settings, client, pause_budget)
        .await
        .map(|r| r.plan)
}

/// A saved plan re-checked: the plan computed now, what it was computed from, and the policy
/// report the file recorded (for re-evaluating its policies).
pub struct Rechecked {
    pub plan: Plan,
    pub snap: Snapshot,
    pub desired: Vec<DesiredChangefeed>,
    pub saved_policy: Option<crate::policy::Report>,
}

/// [`recheck_saved`], keeping the snapshot and desired entries.
pub async fn recheck_saved_full(
    file: &Path,
    settings: &Settings,
    client: &Client,
    pause_budget: Duration,
) -> Result<Rechecked, Error> {
    let doc = crate::pipeline::saved::read(file)?;
    let [part] = doc.clusters.as_slice() else {
        return Err(Error::msg(format!(
            "{} holds the plans of {} clusters; apply it with `cdcform apply {}`",
            file.display(),
            doc.clusters.len(),
            file.display()
        )));
    };
    recheck(
        &part.plan,
        &file.display().to_string(),
        settings,
        client,
        pause_budget,
    )
    .await
}

/// [`recheck_saved`] for a saved plan already read (`label` names where it came from).
pub async fn recheck(
    saved: &SavedPlan,
    label: &str,
    settings: &Settings,
    client: &Client,
    pause_budget: Duration,
) -> Result<Rechecked, Error> {
    // Files of earlier versions recorded the server as given; newer ones as it may be shown.
    let server = |s: &str| s.trim_end_matches('/').to_string();
    let now = [
        server(&settings.server),
        server(&crate::pipeline::shown_server(&settings.server)),
    ];
    if !now.contains(&server(&saved.server)) {
        return Err(Error::msg(format!(
            "{} was planned against {}, but this apply targets {}; nothing was changed\n\
             help: apply it where it was planned (its cluster's `server` in cdcform.toml, or the same --server), or plan again",
            label,
            saved.server,
            crate::pipeline::shown_server(&settings.server)
        )));
    }
    let env = crate::manifest::env::from_process;
    let desired = restore_desired(&saved.desired, &|n| settings.var(n, &env))
        .map_err(|e| Error::msg(format!("{}: {e}", label)))?;
    let namespaces = saved.namespaces.iter().cloned().collect();
    let saved_keys: std::collections::HashSet<Key> = desired
        .iter()
        .map(|d| key_of(settings, d))
        .chain(saved.plan.entries.iter().map(|e| e.key.clone()))
        .collect();
    let prune = saved.options.prune;
    let wanted = |key: &Key| {
        saved_keys.contains(key) || (prune && prunable(settings.manage.as_ref(), &key.id))
    };
    // The credentials are checked beside the reads, as for a fresh plan: a saved plan meets
    // the same gate.
    let (snap, credentials) = tokio::join!(
        live::read_settling(
            client,
            &namespaces,
            settings.parallelism,
            None,
            Some(&wanted),
            saved_keys.iter(),
        ),
        client.check_credentials(&settings.namespace)
    );
    let mut snap = snap?;
    let keys = saved.desired.iter().map(|d| Key {
        namespace: d.namespace.clone(),
        id: d.id.clone(),
    });
    let moved = saved.moved(&fingerprints_now(saved, &snap, keys));
    if !moved.is_empty() {
        let what = format!(
            "{} changefeed(s) changed ({})",
            moved.len(),
            moved.join(", ")
        );
        return Err(crate::pipeline::gate::stale(label, &what).into());
    }
    let o = PlanOptions {
        prune: saved.options.prune,
        replace: saved.options.replace.clone(),
        gc_ttl: Some(Duration::from_secs(saved.options.gc_ttl_secs)),
        no_table_impact: false,
    };
    let opts = planner_options(settings, &o, snap.now_tso, pause_budget);
    let mut plan = make_plan_scoped(
        &snap.profile,
        &crate::pipeline::shown_server(&settings.server),
        &desired,
        &snap.changefeeds,
        std::mem::take(&mut snap.listed_only),
        &opts,
    );
    let desired_keys: Vec<Key> = desired.iter().map(|d| key_of(settings, d)).collect();
    mark_unknown(&mut plan, &snap, desired_keys.iter(), &opts);
    plan.credentials = Some(credentials);
    // A create the server would refuse for its tables was planned as blocked: plan it so again,
    // unless the saved plan was made without the table impact (`--no-table-impact`).
    if saved.plan.entries.iter().any(|e| e.tables.is_some()) {
        crate::plan::impact::attach(&mut plan, client, settings.parallelism).await;
    }
    let shape = |p: &Plan| -> Vec<(Key, &'static str, usize)> {
        p.entries
            .iter()
            .filter(|e| snap.unknown(&e.key).is_none())
            .map(|e| (e.key.clone(), e.action.verb(), e.changes.len()))
            .collect()
    };
    if shape(&plan) != shape(&saved.plan) {
        let what =
            "the changes computed now differ (environment variables or cdcform.toml changed?)";
        return Err(crate::pipeline::gate::stale(label, what).into());
    }
    Ok(Rechecked {
        plan,
        snap,
        desired,
        saved_policy: saved.plan.policy.clone(),
    })
}

/// Evaluate the policies on a plan and keep the report in it; `None` when none is configured.
pub fn check_policy(
    settings: &Settings,
    o: &crate::policy::PolicyOptions,
    plan: &mut Plan,
    snap: &Snapshot,
    desired: &[DesiredChangefeed],
) -> Result<(), Error> {
    plan.policy = crate::policy::check_plan(
        o,
        plan,
        desired,
        &snap.changefeeds,
        &cluster_info(settings, snap),
        &settings.namespace,
    )?;
    Ok(())
}

/// The fingerprints of what a saved plan read, as they are now. An unreadable changefeed is
/// not "moved": it keeps its saved fingerprint, is planned as unknown and is left alone.
fn fingerprints_now(
    saved: &SavedPlan,
    snap: &Snapshot,
    keys: impl Iterator<Item = Key>,
) -> std::collections::BTreeMap<String, String> {
    let mut now = fingerprints(&snap.changefeeds, keys);
    for (key, fp) in &saved.fingerprints {
        if snap.unknown_by_name(key) {
            now.insert(key.clone(), fp.clone());
        }
    }
    now
}
