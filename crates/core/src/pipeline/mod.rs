//! The one pipeline every path to a cluster goes through: targets (resolved once per cluster)
//! → load manifests → read live → plan → gate → apply → report. A single cluster is a run of
//! one; several clusters run concurrently; a saved plan is the same document for one or many
//! ([`saved`]); reconcile runs it in a loop. The guards live in [`gate`], once. Nothing here
//! prints: commands render what it returns.

pub mod gate;
pub mod saved;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::apply::{apply, ApplyOptions, ApplyReport};
use crate::manifest::DesiredChangefeed;
use crate::plan::live::Snapshot;
use crate::plan::pipeline::{compute_checked, load_manifests};
use crate::plan::{Plan, PlanOptions, Summary};
use crate::settings::{Settings, Target};
use crate::shutdown::Shutdown;
use crate::ticdc::Client;
use crate::Error;

pub use gate::{gate, Guard, Held};

/// A line of progress (retry notices, apply steps); the cluster's name is put in front of it
/// when a run has several.
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// What a run plans from, besides its targets: the library form of the plan flags.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Manifest files or directories (empty: each cluster's `paths` from cdcform.toml).
    pub paths: Vec<PathBuf>,
    pub plan: PlanOptions,
    /// How long a pause may last (apply's wait timeout): the planner checks it against GC.
    pub pause_budget: Duration,
}

/// One cluster's plan, or why it could not be made (unreachable, bad manifests, bad settings).
pub struct ClusterPlan {
    pub name: String,
    /// The server, as it may be printed (credentials in the URL masked).
    pub server: String,
    pub outcome: Result<Planned, Error>,
}

/// A cluster planned: what it was planned from, and whether the gate holds it.
pub struct Planned {
    pub settings: Settings,
    pub client: Client,
    pub plan: Plan,
    pub snapshot: Snapshot,
    pub desired: Vec<DesiredChangefeed>,
    /// Settings the target server ignores or does not know (`manifest::compat`).
    pub warnings: Vec<String>,
    /// Set when the plan may not be applied (see [`gate`]).
    pub held: Option<Held>,
}

/// A server URL as it may be printed: a user or password written into it is masked.
pub fn shown_server(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            let s = u.to_string();
            // `Url` adds a `/` to a bare authority; keep what the user wrote.
            let s = if url.ends_with('/') {
                s
            } else {
                s.trim_end_matches('/').to_string()
            };
            s.replacen("://", "://(sensitive)@", 1)
        }
        _ => url.to_string(),
    }
}

/// Give a client the run's progress line, with the cluster's name in front when `prefix`.
fn attach_progress(client: &Client, progress: &Option<Progress>, name: &str, prefix: bool) {
    if let Some(p) = progress.clone() {
        let name = name.to_string();
        client.set_progress(Arc::new(move |line: &str| match prefix {
            true => p(&format!("[{name}] {line}")),
            false => p(line),
        }));
    }
}

/// Plan every target, concurrently; each cluster's policies are evaluated on its plan and the
/// gate is asked once per cluster.
pub async fn plan_all(
    targets: Vec<Target>,
    o: &RunOptions,
    progress: Option<Progress>,
) -> Vec<ClusterPlan> {
    let several = targets.len() > 1;
    futures::future::join_all(
        targets
            .into_iter()
            .map(|t| plan_cluster(t, o, progress.clone(), several)),
    )
    .await
}

async fn plan_cluster(
    t: Target,
    o: &RunOptions,
    progress: Option<Progress>,
    several: bool,
) -> ClusterPlan {
    let server = t
        .settings
        .as_ref()
        .map(|s| shown_server(&s.server))
        .unwrap_or_default();
    let outcome = async {
        let settings = t.settings?;
        let client = Client::new(settings.client.clone())?;
        attach_progress(&client, &progress, &t.name, several);
        plan_with(settings, client, o).await
    }
    .await;
    ClusterPlan {
        name: t.name,
        server,
        outcome,
    }
}

/// Plan one cluster with its client (reconcile keeps one per cluster across cycles): load its
/// manifests while the first reads are under way, read it, plan, evaluate its policies, and
/// ask the gate.
pub async fn plan_with(
    settings: Settings,
    client: Client,
    o: &RunOptions,
) -> Result<Planned, Error> {
    // The first round of reads goes out while the manifests load.
    client.prefetch_first_round(&settings.namespace);
    let set = load_manifests(&settings, &o.paths)?;
    let (plan, snapshot) = compute_checked(
        &settings,
        &client,
        &set.changefeeds,
        &o.plan,
        o.pause_budget,
        &settings.policy_options(),
    )
    .await?;
    let refused =
        crate::manifest::config_file::check_for_target(&set.changefeeds, &snapshot.profile);
    if !refused.0.is_empty() {
        return Err(Error::Manifest(refused));
    }
    crate::plan::pipeline::check_for_server(&settings, &plan, &set, &snapshot.profile)?;
    let warnings = set
        .changefeeds
        .iter()
        .flat_map(|cf| crate::manifest::compat::warnings(cf, Some(&snapshot.profile)))
        .map(|w| w.to_string())
        .collect();
    let held = gate(&plan);
    Ok(Planned {
        settings,
        client,
        plan,
        snapshot,
        desired: set.changefeeds,
        warnings,
        held,
    })
}

/// The summaries of every planned cluster added up.
pub fn total(plans: &[ClusterPlan]) -> Summary {
    let mut t = Summary::default();
    for p in plans.iter().filter_map(|p| p.outcome.as_ref().ok()) {
        let s = &p.plan.summary;
        t.create += s.create;
        t.update += s.update;
        t.pause += s.pause;
        t.resume += s.resume;
        t.delete += s.delete;
        t.replace += s.replace;
        t.blocked += s.blocked;
        t.unchanged += s.unchanged;
        t.unmanaged += s.unmanaged;
        t.absent += s.absent;
    }
    t
}

/// How a run of plans ends, for the command to turn into an exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every cluster planned, none held, nothing to change.
    Clean,
    /// Every cluster planned, none held, changes to make.
    Changes,
    /// A cluster could not be planned or the gate holds one.
    Failed,
}

/// The verdict over every cluster of a run: failed when a cluster could not be planned, the
/// gate holds one, or a plan is incomplete (a changefeed whose live state is unknown).
pub fn verdict(plans: &[ClusterPlan]) -> Verdict {
    let bad = plans.iter().any(|p| match &p.outcome {
        Err(_) => true,
        Ok(p) => p.held.is_some() || !p.plan.unknown().is_empty(),
    });
    if bad {
        Verdict::Failed
    } else if total(plans).has_changes() {
        Verdict::Changes
    } else {
        Verdict::Clean
    }
}

/// One cluster ready to apply: its client, its own parallelism and the plan to run.
pub struct Ready {
    pub name: String,
    pub client: Client,
    pub parallelism: usize,
    pub plan: Plan,
}

impl Ready {
    /// The clusters of a fresh run that may be applied: planned, not held, with changes.
    pub fn from_plans(plans: Vec<ClusterPlan>) -> Vec<Ready> {
        plans
            .into_iter()
            .filter_map(|p| {
                let name = p.name;
                p.outcome.ok().map(|planned| (name, planned))
            })
            .filter(|(_, p)| p.held.is_none() && p.plan.summary.has_changes())
            .map(|(name, p)| Ready {
                name,
                parallelism: p.settings.parallelism,
                client: p.client,
                plan: p.plan,
            })
            .collect()
    }
}

/// How an apply runs, whatever the number of clusters.
#[derive(Debug, Clone)]
pub struct ApplyRun {
    pub wait_timeout: Duration,
    pub no_wait: bool,
    pub shutdown: Shutdown,
}

/// Apply each cluster's plan, the clusters concurrently, each with its own parallelism;
/// progress lines carry the cluster's name when there are several.
pub async fn apply_all(
    ready: &[Ready],
    o: &ApplyRun,
    progress: &(dyn Fn(&str) + Sync),
) -> Vec<(String, ApplyReport)> {
    let several = ready.len() > 1;
    let runs = ready.iter().map(|r| async move {
        let opts = ApplyOptions {
            parallelism: r.parallelism,
            wait_timeout: o.wait_timeout,
            no_wait: o.no_wait,
            shutdown: o.shutdown.clone(),
            ..ApplyOptions::default()
        };
        let name = r.name.as_str();
        let line = |l: &str| match several {
            true => progress(&format!("[{name}] {l}")),
            false => progress(l),
        };
        (
            r.name.clone(),
            apply(&r.client, &r.plan, &opts, &line).await,
        )
    });
    futures::future::join_all(runs).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_password_in_a_server_url_is_never_shown() {
        let s = super::shown_server("http://admin:canary-pw@host:8300");
        assert_eq!(s, "http://(sensitive)@host:8300");
        assert_eq!(
            super::shown_server("https://h:8300/"),
            "https://h:8300/",
            "no credentials: as written"
        );
        assert_eq!(super::shown_server("not a url"), "not a url");
    }
}
