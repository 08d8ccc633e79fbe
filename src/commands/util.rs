//! What `plan` and `apply` share: a run of the pipeline over the clusters a command line
//! names, and the report of what the gate holds back.

use std::time::Duration;

use crate::cli::{GlobalArgs, PlanOptionArgs};
use crate::output::Output;
use crate::pipeline::{self, ClusterPlan, RunOptions};
use crate::settings::{process_env, Resolve, Settings};
use crate::Error;

/// Plan every cluster the command line names. A run of one cluster that could not be planned
/// ends with that cluster's error, as a plain command would.
pub async fn plan_targets(
    g: &GlobalArgs,
    paths: &[std::path::PathBuf],
    opts: &PlanOptionArgs,
    pause_budget: Duration,
    out: &Output,
) -> Result<Vec<ClusterPlan>, Error> {
    let targets = Settings::resolve_targets(g, &process_env)?;
    let run = RunOptions {
        paths: paths.to_vec(),
        plan: opts.to_options(),
        pause_budget,
    };
    let mut plans = pipeline::plan_all(targets, &run, Some(out.progress_line())).await;
    if let [ClusterPlan {
        outcome: Err(_), ..
    }] = plans.as_slice()
    {
        if let Some(Err(e)) = plans.pop().map(|p| p.outcome) {
            return Err(e);
        }
    }
    Ok(plans)
}

/// What the target servers ignore or do not know of the manifests, per cluster, on stderr.
pub fn report_warnings(plans: &[ClusterPlan], out: &Output) {
    let several = plans.len() > 1;
    for p in plans {
        for w in p.outcome.iter().flat_map(|planned| &planned.warnings) {
            match several {
                true => out.warn(&format!("cluster {}: {w}", p.name)),
                false => out.warn(w),
            }
        }
    }
}

/// The incomplete reads and what the gate holds back, per cluster, on stderr.
pub fn report_held(plans: &[ClusterPlan], out: &Output) {
    let several = plans.len() > 1;
    for p in plans {
        let Ok(planned) = &p.outcome else { continue };
        let prefix = match several {
            true => format!("cluster {}: ", p.name),
            false => String::new(),
        };
        let unknown = planned.plan.unknown();
        if !unknown.is_empty() {
            let names: Vec<String> = unknown.iter().map(|k| k.to_string()).collect();
            out.warn(&format!(
                "{prefix}the live state of {} changefeed(s) is unknown ({}): the plan is incomplete",
                names.len(),
                names.join(", ")
            ));
        }
        if let Some(h) = &planned.held {
            out.held(&prefix, h);
        }
    }
}
