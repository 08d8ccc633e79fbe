//! `cdcform plan`: read manifests and the live cluster, print what apply would do.

use std::time::Duration;

use crate::cli::{GlobalArgs, PlanArgs, PlanFormat};
use crate::output::Output;
use crate::plan::pipeline::{compute_checked, load_manifests, save};
use crate::settings::{process_env, Settings};
use crate::ticdc::Client;
use crate::{exit, Error};

pub async fn run(g: &GlobalArgs, a: PlanArgs, out: &Output) -> Result<i32, Error> {
    let settings = Settings::resolve(g, &process_env)?;
    let client = Client::new(settings.client.clone())?;
    // The first round of reads goes out while the manifests load.
    client.prefetch_first_round(&settings.namespace);
    let set = load_manifests(&settings, &a.paths)?;
    let progress = out.clone();
    client.set_progress(std::sync::Arc::new(move |line: &str| {
        progress.progress(line)
    }));
    let opts = a.opts.to_options();
    let (plan, snap) = compute_checked(
        &settings,
        &client,
        &set.changefeeds,
        &opts,
        Duration::from_secs(120),
        &a.policy.to_options(&settings),
    )
    .await?;
    if let Some(path) = &a.out {
        save(path, &plan, &snap, &set.changefeeds, &settings, &opts)?;
        out.progress(&format!(
            "Saved the plan to {}; run `cdcform apply {}` to execute it.",
            path.display(),
            path.display()
        ));
    }
    for cf in &set.changefeeds {
        for w in crate::manifest::compat::warnings(cf, Some(&snap.profile)) {
            out.warn(&w.to_string());
        }
    }
    out.data(&match a.format {
        PlanFormat::Markdown => {
            let md = crate::ci::markdown_options(
                settings.cluster.as_deref(),
                a.max_chars,
                a.out.as_deref(),
                &process_env,
            );
            crate::render::plan::markdown(&plan, &md)
        }
        format => out.render_plan(&plan, format),
    });
    let unknown = plan.unknown();
    if !unknown.is_empty() {
        let names: Vec<String> = unknown.iter().map(|k| k.to_string()).collect();
        out.warn(&format!(
            "the live state of {} changefeed(s) is unknown ({}): the plan is incomplete",
            names.len(),
            names.join(", ")
        ));
    }
    if let Some(report) = plan.policy.as_ref().filter(|r| r.blocks()) {
        out.warn(&format!(
            "{} policy violation(s) (deny); apply will change nothing until they are fixed or waived by an `exception` rule",
            report.deny.len()
        ));
        return Ok(exit::ERROR);
    }
    // A blocked entry fails the plan as it will fail the apply: a pull request must not go
    // green when its merge cannot be applied.
    if plan.summary.blocked > 0 {
        out.warn(&format!(
            "{} changefeed(s) are blocked; apply will not change them (see `why` and `fix` above)",
            plan.summary.blocked
        ));
        return Ok(exit::ERROR);
    }
    if plan.credentials_block_writes() {
        out.warn("the credentials are missing or refused, so the apply of this plan would fail: fix them before merging");
        return Ok(exit::ERROR);
    }
    Ok(if a.detailed_exitcode && plan.summary.has_changes() {
        exit::CHANGES
    } else {
        exit::OK
    })
}
