//! `plan`, `apply` and `status` over several clusters (`--cluster A --cluster B`,
//! `--all-clusters`): resolve the targets, run the library's fleet layer, print one report.

use std::time::Duration;

use crate::apply::{summary_text, ApplyOptions};
use crate::cli::{ApplyArgs, GlobalArgs, PlanArgs, PlanFormat, StatusArgs};
use crate::fleet::{self, ClusterPlan, Ready};
use crate::output::Output;
use crate::settings::{process_env, Settings};
use crate::{exit, Error};

/// Whether a command line asks for several clusters.
pub fn wanted(g: &GlobalArgs) -> bool {
    g.all_clusters || g.clusters.len() > 1
}

fn render(plans: &[ClusterPlan], format: PlanFormat, a_max: Option<usize>, out: &Output) -> String {
    match format {
        PlanFormat::Human if out.verbosity < 0 => crate::render::fleet::summary_line(plans),
        PlanFormat::Human => {
            crate::render::fleet::human(plans, out.color_stdout, out.verbosity >= 1)
        }
        PlanFormat::Json => crate::render::fleet::json(plans),
        PlanFormat::Markdown => {
            let md = crate::ci::markdown_options(None, a_max, None, &process_env);
            crate::render::fleet::markdown(plans, &md)
        }
    }
}

pub async fn plan(g: &GlobalArgs, a: PlanArgs, out: &Output) -> Result<i32, Error> {
    let targets = Settings::resolve_targets(g, &process_env)?;
    let opts = a.opts.to_options();
    let policy = |s: &Settings| a.policy.to_options(s);
    let plans = fleet::plan_all(
        targets,
        &a.paths,
        &opts,
        Duration::from_secs(120),
        Some(&policy),
    )
    .await;
    if let Some(path) = &a.out {
        fleet::save(path, &plans, &opts)?;
        out.progress(&format!(
            "Saved the plan of {} clusters to {}; run `cdcform apply {}` to execute it.",
            plans.len(),
            path.display(),
            path.display()
        ));
    }
    out.data(&render(&plans, a.format, a.max_chars, out));
    Ok(fleet::plan_exit(&plans, a.detailed_exitcode))
}

pub async fn apply(g: &GlobalArgs, a: ApplyArgs, out: &Output) -> Result<i32, Error> {
    let wait_timeout = a.wait_timeout.unwrap_or(Duration::from_secs(120));
    let policy = |s: &Settings| a.policy.to_options(s);
    let plans = fleet::plan_all(
        Settings::resolve_targets(g, &process_env)?,
        &a.paths,
        &a.opts.to_options(),
        wait_timeout,
        Some(&policy),
    )
    .await;
    out.data(&render(&plans, PlanFormat::Human, None, out));
    // A cluster that failed, has a blocked entry, a policy deny or refused credentials makes
    // the run exit 1, after the others were applied.
    let bad = fleet::plan_exit(&plans, false) == exit::ERROR;
    let failed: Vec<String> = plans
        .iter()
        .filter(|p| p.outcome.is_err())
        .map(|p| p.name.clone())
        .collect();
    if !failed.is_empty() && a.fail_fast {
        return Err(Error::msg(format!(
            "--fail-fast: cluster(s) {} could not be planned; nothing was changed on any cluster",
            failed.join(", ")
        )));
    }
    let ready: Vec<Ready> = plans
        .into_iter()
        .filter_map(|p| {
            let name = p.name;
            p.outcome.ok().map(|planned| Ready {
                name,
                client: planned.client,
                plan: planned.plan,
            })
        })
        .filter(|r| {
            r.plan.summary.has_changes()
                && !r.plan.credentials_block_writes()
                && !r.plan.policy.as_ref().is_some_and(|p| p.blocks())
        })
        .collect();
    if !ready.is_empty()
        && !a.auto_approve
        && !out.confirm("Do you want to apply these changes to every cluster above?")?
    {
        return Ok(exit::ERROR);
    }
    let code = run_apply(&ready, g, &a, out).await;
    Ok(if bad { exit::ERROR } else { code })
}

/// `apply FILE` of a plan file of several clusters: re-check every part first, then apply.
pub async fn apply_saved(
    g: &GlobalArgs,
    a: &ApplyArgs,
    fleet_plan: &fleet::SavedFleet,
    label: &str,
    out: &Output,
) -> Result<i32, Error> {
    let wait_timeout = a.wait_timeout.unwrap_or(Duration::from_secs(120));
    let resolve = fleet::resolver(g, &process_env);
    let ready = fleet::recheck_all(fleet_plan, label, &resolve, wait_timeout).await?;
    for r in &ready {
        out.data(&format!("══ cluster {} ══\n", r.name));
        out.data(&out.render_plan(&r.plan, PlanFormat::Human));
    }
    Ok(run_apply(&ready, g, a, out).await)
}

async fn run_apply(ready: &[Ready], g: &GlobalArgs, a: &ApplyArgs, out: &Output) -> i32 {
    let opts = ApplyOptions {
        parallelism: g
            .parallelism
            .unwrap_or(crate::settings::DEFAULT_PARALLELISM),
        wait_timeout: a.wait_timeout.unwrap_or(Duration::from_secs(120)),
        no_wait: a.no_wait,
        ..ApplyOptions::default()
    };
    crate::output::announce_interrupts(&opts.shutdown);
    let reports = {
        let live = out.live_progress();
        fleet::apply_all(ready, &opts, &|l: &str| live.line(l)).await
    };
    let mut ok = true;
    for (name, report) in &reports {
        ok &= report.all_ok();
        let text = summary_text(report);
        let last = text.lines().last().unwrap_or_default().to_string();
        if out.verbosity < 0 {
            out.data(&format!("cluster {name}: {last}"));
        } else {
            out.data(&format!("══ cluster {name} ══\n{text}"));
        }
        for e in report.entries.iter().filter(|e| e.left_paused) {
            out.warn(&format!(
                "cluster {name}: changefeed {} is LEFT PAUSED; see above for how to resume it",
                e.key
            ));
        }
    }
    if ok {
        exit::OK
    } else {
        exit::ERROR
    }
}

pub async fn status(g: &GlobalArgs, a: StatusArgs, out: &Output) -> Result<i32, Error> {
    let targets = Settings::resolve_targets(g, &process_env)?;
    let filter = crate::status::StatusFilter {
        ids: crate::settings::globs("--id", &a.ids)?,
        managed_only: a.managed,
    };
    let reports = futures::future::join_all(targets.into_iter().map(|t| {
        let filter = &filter;
        async move {
            let r = async {
                let s = t.settings?;
                let client = crate::ticdc::Client::new(s.client.clone())?;
                crate::status::collect(&s, &client, filter).await
            }
            .await;
            (t.name, r)
        }
    }))
    .await;
    let mut bad = false;
    let mut json = Vec::new();
    for (name, r) in &reports {
        match r {
            Ok(report) => {
                bad |= !report.problems.is_empty();
                match a.format {
                    crate::cli::TableFormat::Json => {
                        json.push(serde_json::json!({"name": name, "status": report}))
                    }
                    _ if out.verbosity < 0 => {}
                    _ => out.data(&format!(
                        "══ cluster {name} ══\n{}",
                        crate::render::status::table(report, a.every_row())
                    )),
                }
                for p in &report.problems {
                    out.warn(&format!("cluster {name}: {p}"));
                }
            }
            Err(e) => {
                bad = true;
                json.push(serde_json::json!({"name": name, "error": e.to_string()}));
                out.warn(&format!("cluster {name}: {e}"));
            }
        }
    }
    if a.format == crate::cli::TableFormat::Json {
        out.data(
            &serde_json::to_string_pretty(&serde_json::json!({"clusters": json}))
                .unwrap_or_default(),
        );
    }
    Ok(if bad { exit::ERROR } else { exit::OK })
}
