//! Many clusters in one run: each cluster is planned by the same pipeline as a single-cluster
//! plan, all of them concurrently; each cluster's plan is applied as `apply` applies one. Saved
//! plans of several clusters hold one part per cluster. Nothing here prints (`render::fleet`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::apply::{apply, ApplyOptions, ApplyReport};
use crate::manifest::DesiredChangefeed;
use crate::plan::live::Snapshot;
use crate::plan::pipeline::{load_manifests, recheck, saved_plan, write_file};
use crate::plan::saved::SavedPlan;
use crate::plan::{Plan, PlanOptions, Summary};
use crate::settings::{Env, Settings, Target};
use crate::ticdc::Client;
use crate::Error;

/// `"kind"` of a plan file of several clusters.
pub const KIND: &str = "cdcform-fleet-plan";

/// One cluster's plan, or why it could not be made (unreachable, bad manifests, bad settings).
pub struct ClusterPlan {
    pub name: String,
    pub server: String,
    pub outcome: Result<Planned, Error>,
}

pub struct Planned {
    pub settings: Settings,
    pub client: Client,
    pub plan: Plan,
    pub snapshot: Snapshot,
    pub desired: Vec<DesiredChangefeed>,
}

/// A cluster's policy options, from its settings (`[policy]` and the command's `--policy`).
pub type PolicyFor<'a> = Option<&'a (dyn Fn(&Settings) -> crate::policy::PolicyOptions + Sync)>;

/// Plan every target, concurrently; each cluster's policies are evaluated on its plan.
pub async fn plan_all(
    targets: Vec<Target>,
    paths: &[PathBuf],
    o: &PlanOptions,
    pause_budget: Duration,
    policy: PolicyFor<'_>,
) -> Vec<ClusterPlan> {
    futures::future::join_all(
        targets
            .into_iter()
            .map(|t| plan_cluster(t, paths, o, pause_budget, policy)),
    )
    .await
}

async fn plan_cluster(
    t: Target,
    paths: &[PathBuf],
    o: &PlanOptions,
    pause_budget: Duration,
    policy: PolicyFor<'_>,
) -> ClusterPlan {
    let server = t
        .settings
        .as_ref()
        .map(|s| s.server.clone())
        .unwrap_or_default();
    let outcome = async {
        let settings = t.settings?;
        let set = load_manifests(&settings, paths)?;
        let client = Client::new(settings.client.clone())?;
        let policy = policy.map(|p| p(&settings)).unwrap_or_default();
        let (plan, snapshot) = crate::plan::pipeline::compute_checked(
            &settings,
            &client,
            &set.changefeeds,
            o,
            pause_budget,
            &policy,
        )
        .await?;
        Ok(Planned {
            settings,
            client,
            plan,
            snapshot,
            desired: set.changefeeds,
        })
    }
    .await;
    ClusterPlan {
        name: t.name,
        server,
        outcome,
    }
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

/// The exit status of a plan over every cluster: 1 when any cluster failed, has a blocked entry
/// or credentials its writes would be refused with; else 2 for changes with
/// `--detailed-exitcode`; else 0.
pub fn plan_exit(plans: &[ClusterPlan], detailed: bool) -> i32 {
    let bad = plans.iter().any(|p| match &p.outcome {
        Err(_) => true,
        Ok(p) => {
            p.plan.summary.blocked > 0
                || p.plan.credentials_block_writes()
                || p.plan.policy.as_ref().is_some_and(|r| r.blocks())
        }
    });
    if bad {
        crate::exit::ERROR
    } else if detailed && total(plans).has_changes() {
        crate::exit::CHANGES
    } else {
        crate::exit::OK
    }
}

/// A plan file of several clusters.
#[derive(Debug, Serialize, Deserialize)]
pub struct SavedFleet {
    pub kind: String,
    pub format_version: u32,
    pub clusters: Vec<SavedPart>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SavedPart {
    pub name: String,
    pub plan: SavedPlan,
}

/// Save one plan file for every cluster; refused (nothing written) when a cluster could not be
/// planned, since applying the file would then silently skip it.
pub fn save(path: &Path, plans: &[ClusterPlan], o: &PlanOptions) -> Result<(), Error> {
    let mut parts = Vec::new();
    for p in plans {
        let planned = p.outcome.as_ref().map_err(|e| {
            Error::msg(format!(
                "the plan was not saved: cluster `{}` could not be planned ({e})",
                p.name
            ))
        })?;
        parts.push(SavedPart {
            name: p.name.clone(),
            plan: saved_plan(
                &planned.plan,
                &planned.snapshot,
                &planned.desired,
                &planned.settings,
                o,
            )?,
        });
    }
    let fleet = SavedFleet {
        kind: KIND.into(),
        format_version: crate::plan::FORMAT_VERSION,
        clusters: parts,
    };
    write_file(
        path,
        &serde_json::to_string_pretty(&fleet).unwrap_or_default(),
    )
}

/// A plan file of several clusters, or `None` when `text` is another kind of file.
pub fn parse(text: &str, label: &str) -> Result<Option<SavedFleet>, Error> {
    let v: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => return Ok(None),
    };
    if v.get("kind").and_then(serde_json::Value::as_str) != Some(KIND) {
        return Ok(None);
    }
    serde_json::from_value(v)
        .map(Some)
        .map_err(|e| Error::msg(format!("{label}: malformed plan file: {e}")))
}

/// One cluster ready to apply: its client and the plan computed again from the saved one.
pub struct Ready {
    pub name: String,
    pub client: Client,
    pub plan: Plan,
}

/// Re-check every part of a saved plan of several clusters against its cluster, concurrently;
/// refuse the whole file, changing nothing anywhere, when any part is stale or unreadable.
pub async fn recheck_all(
    fleet: &SavedFleet,
    label: &str,
    resolve: &dyn Fn(&str) -> Result<Settings, Error>,
    pause_budget: Duration,
) -> Result<Vec<Ready>, Error> {
    let checks = fleet.clusters.iter().map(|part| async move {
        let settings = resolve(&part.name)?;
        let client = Client::new(settings.client.clone())?;
        let label = format!("{label} (cluster {})", part.name);
        let plan = recheck(&part.plan, &label, &settings, &client, pause_budget)
            .await?
            .plan;
        Ok::<_, Error>(Ready {
            name: part.name.clone(),
            client,
            plan,
        })
    });
    let results = futures::future::join_all(checks).await;
    let mut ready = Vec::new();
    let mut refused = Vec::new();
    for (part, r) in fleet.clusters.iter().zip(results) {
        match r {
            Ok(r) => ready.push(r),
            Err(e) => refused.push(format!("cluster {}: {e}", part.name)),
        }
    }
    if refused.is_empty() {
        Ok(ready)
    } else {
        Err(Error::msg(format!(
            "{label}: refused whole, nothing was changed on any cluster:\n  {}",
            refused.join("\n  ")
        )))
    }
}

/// Apply each cluster's plan, the clusters concurrently; progress lines carry the cluster name.
pub async fn apply_all(
    ready: &[Ready],
    opts: &ApplyOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Vec<(String, ApplyReport)> {
    let runs = ready.iter().map(|r| async move {
        let name = r.name.clone();
        let line = |l: &str| progress(&format!("[{name}] {l}"));
        (r.name.clone(), apply(&r.client, &r.plan, opts, &line).await)
    });
    futures::future::join_all(runs).await
}

/// Resolve one named cluster's settings (for the parts of a saved plan of several clusters).
pub fn resolver<'a>(
    g: &'a crate::cli::GlobalArgs,
    env: Env<'a>,
) -> impl Fn(&str) -> Result<Settings, Error> + 'a {
    move |name: &str| {
        let g = crate::cli::GlobalArgs {
            cluster: Some(name.to_string()),
            clusters: vec![],
            all_clusters: false,
            ..g.clone()
        };
        Settings::resolve(&g, env)
    }
}
