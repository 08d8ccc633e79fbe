//! `cdcform plan`: one cluster or several, through the one pipeline; print what apply would do.

use std::time::Duration;

use crate::cli::{GlobalArgs, PlanArgs, PlanFormat};
use crate::output::Output;
use crate::pipeline::{self, ClusterPlan, RunOptions, Verdict};
use crate::settings::{process_env, Resolve, Settings};
use crate::{exit, Error};

/// How long a pause may last when the plan is applied later (apply's default wait timeout).
pub const PAUSE_BUDGET: Duration = Duration::from_secs(120);

pub async fn run(g: &GlobalArgs, a: PlanArgs, out: &Output) -> Result<i32, Error> {
    let targets = Settings::resolve_targets(g, &process_env)?;
    let opts = a.opts.to_options();
    let run = RunOptions {
        paths: a.paths.clone(),
        plan: opts.clone(),
        pause_budget: PAUSE_BUDGET,
    };
    let mut plans = pipeline::plan_all(targets, &run, Some(out.progress_line())).await;
    // One cluster that could not be planned: its error is the command's.
    if let [ClusterPlan {
        outcome: Err(_), ..
    }] = plans.as_slice()
    {
        if let Some(Err(e)) = plans.pop().map(|p| p.outcome) {
            return Err(e);
        }
    }
    if let Some(path) = &a.out {
        pipeline::saved::save(path, &plans, &opts)?;
        out.progress(&format!(
            "Saved the plan to {}; run `cdcform apply {}` to execute it.",
            path.display(),
            path.display()
        ));
    }
    show(&plans, &a, out)?;
    Ok(match pipeline::verdict(&plans) {
        Verdict::Failed => exit::ERROR,
        Verdict::Changes if a.detailed_exitcode => exit::CHANGES,
        _ => exit::OK,
    })
}

/// The plan of one cluster as before, or of several as one report; then what holds each back.
fn show(plans: &[ClusterPlan], a: &PlanArgs, out: &Output) -> Result<(), Error> {
    if let [one] = plans {
        let Ok(planned) = &one.outcome else {
            return Ok(());
        };
        for w in &planned.warnings {
            out.warn(w);
        }
        out.data(&match a.format {
            PlanFormat::Markdown => {
                let md = crate::ci::markdown_options(
                    planned.settings.cluster.as_deref(),
                    a.max_chars,
                    a.out.as_deref(),
                    &process_env,
                );
                crate::render::plan::markdown(&planned.plan, &md)
            }
            format => out.render_cluster_plan(one, format),
        });
    } else {
        for p in plans {
            if let Ok(planned) = &p.outcome {
                for w in &planned.warnings {
                    out.warn(&format!("cluster {}: {w}", p.name));
                }
            }
        }
        out.data(&out.render_plans(plans, a.format, a.max_chars));
    }
    report_held(plans, out);
    Ok(())
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
