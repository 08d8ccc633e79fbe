//! `cdcform apply [PATH…] | apply FILE.plan`.

use std::path::Path;
use std::time::Duration;

use crate::apply::{apply, summary_text, ApplyOptions, ApplyReport};
use crate::cli::{ApplyArgs, GlobalArgs, PlanFormat};
use crate::output::Output;
use crate::plan::pipeline::{
    check_policy, compute_checked, load_manifests, recheck_saved_full, saved_plan_path,
};
use crate::plan::Plan;
use crate::policy::{changed_files, PolicyOptions};
use crate::settings::{process_env, Settings};
use crate::ticdc::Client;
use crate::{exit, Error};

fn finish(report: &ApplyReport, out: &Output) -> i32 {
    let text = summary_text(report);
    if out.verbosity < 0 {
        // -q: the failures (errors) and the final summary line only.
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with("  ok ") && !l.starts_with("  skipped "))
            .collect();
        out.data(&kept.join("\n"));
    } else {
        out.data(&text);
    }
    if report.entries.iter().any(|e| e.left_paused) {
        for e in report.entries.iter().filter(|e| e.left_paused) {
            out.warn(&format!(
                "changefeed {} is LEFT PAUSED; see above for how to resume it",
                e.key
            ));
        }
    }
    if report.all_ok() {
        exit::OK
    } else {
        exit::ERROR
    }
}

pub async fn run(g: &GlobalArgs, a: ApplyArgs, out: &Output) -> Result<i32, Error> {
    let settings = Settings::resolve(g, &process_env)?;
    let wait_timeout = a.wait_timeout.unwrap_or(Duration::from_secs(120));
    let opts = ApplyOptions {
        parallelism: settings.parallelism,
        wait_timeout,
        no_wait: a.no_wait,
        ..ApplyOptions::default()
    };
    let client = Client::new(settings.client.clone())?;
    let progress = out.clone();
    client.set_progress(std::sync::Arc::new(move |line: &str| {
        progress.progress(line)
    }));

    let policy = a.policy.to_options(&settings);
    let plan = if let Some(file) = saved_plan_path(&a.paths) {
        load_saved(file, &settings, &client, wait_timeout, &policy, out).await?
    } else {
        // The first round of reads goes out while the manifests load.
        client.prefetch_first_round(&settings.namespace);
        let set = load_manifests(&settings, &a.paths)?;
        let (plan, _) = compute_checked(
            &settings,
            &client,
            &set.changefeeds,
            &a.opts.to_options(),
            wait_timeout,
            &policy,
        )
        .await?;
        // -q with --auto-approve: nobody reads the plan; the apply's summary says it all.
        if out.verbosity >= 0 || !a.auto_approve {
            out.data(&out.render_plan(&plan, PlanFormat::Human));
        }
        refuse_on_deny(&plan)?;
        if plan.credentials_block_writes() {
            return Err(Error::msg(format!(
                "{} (checked before any change); nothing was changed\n\
                 help: pass `--user` and set `CDCFORM_PASSWORD` (or `user` and `password_env` in cdcform.toml)",
                if plan.credentials == Some(crate::ticdc::Credentials::Missing) {
                    "the server wants basic-auth credentials and none were given"
                } else {
                    "the server refused the user or password"
                }
            )));
        }
        if !plan.summary.has_changes() {
            return Ok(if plan.summary.blocked > 0 {
                exit::ERROR
            } else {
                exit::OK
            });
        }
        if !a.auto_approve && !out.confirm("Do you want to apply these changes?")? {
            return Ok(exit::ERROR);
        }
        plan
    };
    crate::output::announce_interrupts(&opts.shutdown);
    let report = {
        let live = out.live_progress();
        apply(&client, &plan, &opts, &|line: &str| live.line(line)).await
    };
    Ok(finish(&report, out))
}

/// A deny or violation stands: nothing is changed.
fn refuse_on_deny(plan: &Plan) -> Result<(), Error> {
    match plan.policy.as_ref().filter(|r| r.blocks()) {
        Some(r) => Err(Error::msg(format!(
            "{} policy violation(s) (deny, see above); nothing was changed\n\
             help: fix the manifests, or waive the rule with an `exception` rule in the policy",
            r.deny.len()
        ))),
        None => Ok(()),
    }
}

/// Re-check a saved plan against the cluster, re-evaluate its policies (the recorded files
/// and any configured now; a file changed since the plan was made is named), and show it.
async fn load_saved(
    file: &Path,
    settings: &Settings,
    client: &Client,
    wait_timeout: Duration,
    policy: &PolicyOptions,
    out: &Output,
) -> Result<Plan, Error> {
    let r = recheck_saved_full(file, settings, client, wait_timeout).await?;
    let mut plan = r.plan;
    let recorded = r.saved_policy.map(|p| p.files).unwrap_or_default();
    let mut policy = policy.clone();
    for f in &recorded {
        let p = std::path::PathBuf::from(&f.path);
        if !policy.paths.contains(&p) {
            policy.paths.push(p);
        }
    }
    check_policy(settings, &policy, &mut plan, &r.snap, &r.desired)?;
    if let Some(now) = &plan.policy {
        for path in changed_files(&recorded, &now.files) {
            out.warn(&format!(
                "policy {path} changed since {} was made; its rules were evaluated again",
                file.display()
            ));
        }
    }
    out.data(&out.render_plan(&plan, PlanFormat::Human));
    refuse_on_deny(&plan)?;
    Ok(plan)
}
