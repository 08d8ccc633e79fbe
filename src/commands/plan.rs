//! `cdcform plan`: read manifests and the live cluster, print what apply would do.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::cli::{GlobalArgs, PlanArgs, PlanFormat, PlanOptions};
use crate::manifest::{self, DesiredChangefeed};
use crate::output::Output;
use crate::plan::planner::{make_plan, settle, LiveChangefeed, Options};
use crate::plan::saved::{fingerprints, saved_desired, SavedOptions, SavedPlan};
use crate::plan::{Key, Plan};
use crate::settings::{process_env, Settings};
use crate::ticdc::{Client, ServerProfile};
use crate::{exit, Error};

use super::live::{self, Snapshot};

/// Namespaces a plan reads: the default one and every one a manifest names.
pub fn namespaces(settings: &Settings, desired: &[DesiredChangefeed]) -> BTreeSet<String> {
    let mut ns: BTreeSet<String> = desired.iter().filter_map(|d| d.namespace.clone()).collect();
    ns.insert(settings.namespace.clone());
    ns
}

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

/// Read the cluster and plan. Returns the plan and the snapshot it was made from.
pub async fn compute(
    settings: &Settings,
    client: &Client,
    desired: &[DesiredChangefeed],
    o: &PlanOptions,
    pause_budget: Duration,
) -> Result<(Plan, Snapshot), Error> {
    let by_key: std::collections::HashMap<Key, &DesiredChangefeed> = desired
        .iter()
        .map(|d| {
            let key = Key {
                namespace: d
                    .namespace
                    .clone()
                    .unwrap_or_else(|| settings.namespace.clone()),
                id: d.id.clone(),
            };
            (key, d)
        })
        .collect();
    // The options depend on the TSO the read takes; built once, on the first changefeed.
    let settle_opts = std::sync::OnceLock::new();
    let settle = |profile: &ServerProfile, now_tso: u64, key: &Key, l: &LiveChangefeed| {
        let d = by_key.get(key)?;
        let opts = settle_opts.get_or_init(|| planner_options(settings, o, now_tso, pause_budget));
        settle(profile, d, key.clone(), l, opts)
    };
    let namespaces = namespaces(settings, desired);
    crate::plan::keyspace::preflight(client, desired, &settings.namespace, &namespaces).await?;
    let snap =
        live::read_settling(client, &namespaces, settings.parallelism, Some(&settle)).await?;
    let opts = planner_options(settings, o, snap.now_tso, pause_budget);
    let plan = make_plan(
        &snap.profile,
        &settings.server,
        desired,
        &snap.changefeeds,
        &opts,
    );
    Ok((plan, snap))
}

pub fn load_manifests(
    settings: &Settings,
    paths: &[std::path::PathBuf],
) -> Result<manifest::DesiredSet, Error> {
    let paths = settings.manifest_paths(paths);
    manifest::load(&paths, &process_env).map_err(Error::Manifest)
}

pub fn save(
    path: &std::path::Path,
    plan: &Plan,
    snap: &Snapshot,
    desired: &[DesiredChangefeed],
    settings: &Settings,
    o: &PlanOptions,
) -> Result<(), Error> {
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
    let saved = SavedPlan::new(plan.clone(), saved_d, ns, opts, fps);
    let tmp = path.with_extension("plan.tmp");
    std::fs::write(&tmp, saved.to_json())
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| Error::msg(format!("cannot write plan file {}: {e}", path.display())))
}

pub fn render(plan: &Plan, format: PlanFormat, out: &Output) -> String {
    match format {
        PlanFormat::Human => crate::render::plan::human(plan, out.color_stdout, out.verbosity >= 1),
        PlanFormat::Json => crate::render::plan::json(plan),
        PlanFormat::Markdown => crate::render::plan::markdown(plan),
    }
}

pub async fn run(g: &GlobalArgs, a: PlanArgs, out: &Output) -> Result<i32, Error> {
    let settings = Settings::resolve(g, &process_env)?;
    let set = load_manifests(&settings, &a.paths)?;
    let client = Client::new(settings.client.clone())?;
    let (plan, snap) = compute(
        &settings,
        &client,
        &set.changefeeds,
        &a.opts,
        Duration::from_secs(120),
    )
    .await?;
    if let Some(path) = &a.out {
        save(path, &plan, &snap, &set.changefeeds, &settings, &a.opts)?;
        out.progress(&format!(
            "Saved the plan to {}; run `cdcform apply {}` to execute it.",
            path.display(),
            path.display()
        ));
    }
    out.data(&render(&plan, a.format, out));
    if plan.summary.blocked > 0 {
        out.warn(&format!(
            "{} changefeed(s) are blocked; apply will not change them (see `why` and `fix` above)",
            plan.summary.blocked
        ));
    }
    Ok(
        if a.detailed_exitcode && (plan.summary.has_changes() || plan.summary.blocked > 0) {
            exit::CHANGES
        } else {
            exit::OK
        },
    )
}
