//! `cdcform plan`: one cluster or several, through the one pipeline; print what apply would do.

use std::time::Duration;

use crate::cli::{GlobalArgs, PlanArgs, PlanFormat};
use crate::output::Output;
use crate::pipeline::{self, ClusterPlan, Verdict};
use crate::settings::process_env;
use crate::{exit, Error};

/// How long a pause may last when the plan is applied later (apply's default wait timeout).
pub const PAUSE_BUDGET: Duration = Duration::from_secs(120);

pub async fn run(g: &GlobalArgs, a: PlanArgs, out: &Output) -> Result<i32, Error> {
    let opts = a.opts.to_options();
    let plans = super::util::plan_targets(g, &a.paths, &a.opts, PAUSE_BUDGET, out).await?;
    if let Some(path) = &a.out {
        pipeline::saved::save(path, &plans, &opts)?;
        out.progress(&format!(
            "Saved the plan to {}; run `cdcform apply {}` to execute it.",
            path.display(),
            path.display()
        ));
    }
    show(&plans, &a, out);
    Ok(match pipeline::verdict(&plans) {
        Verdict::Failed => exit::ERROR,
        Verdict::Changes if a.detailed_exitcode => exit::CHANGES,
        _ => exit::OK,
    })
}

/// The plan of one cluster as before, or of several as one report; then what holds each back.
fn show(plans: &[ClusterPlan], a: &PlanArgs, out: &Output) {
    super::util::report_warnings(plans, out);
    out.data(&match (plans, a.format) {
        ([one], PlanFormat::Markdown) => match &one.outcome {
            Ok(planned) => {
                let md = crate::ci::markdown_options(
                    planned.settings.cluster.as_deref(),
                    a.max_chars,
                    a.out.as_deref(),
                    &process_env,
                );
                crate::render::plan::markdown(&planned.plan, &md)
            }
            Err(_) => String::new(),
        },
        ([one], format) => out.render_cluster_plan(one, format),
        (_, format) => out.render_plans(plans, format, a.max_chars),
    });
    super::util::report_held(plans, out);
}
