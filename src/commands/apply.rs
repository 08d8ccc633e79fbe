//! `cdcform apply [PATH…] | apply FILE.plan`: one cluster or several, fresh or saved, through
//! the one pipeline; the gate decides for every cluster before any write.

use std::path::Path;
use std::time::Duration;

use crate::apply::{summary_text, ApplyReport};
use crate::cli::{ApplyArgs, GlobalArgs, PlanFormat};
use crate::output::Output;
use crate::pipeline::saved::{self, SavedPart};
use crate::pipeline::{self, ApplyRun, ClusterPlan, Ready, Verdict};
use crate::settings::{process_env, Resolve, Settings};
use crate::{exit, Error};

fn wait_timeout(a: &ApplyArgs) -> Duration {
    a.wait_timeout.unwrap_or(Duration::from_secs(120))
}

pub async fn run(g: &GlobalArgs, a: ApplyArgs, out: &Output) -> Result<i32, Error> {
    match a.paths.first() {
        Some(first) if saved::is_saved_plan(first) => apply_saved(g, &a, first, out).await,
        _ => apply_fresh(g, &a, out).await,
    }
}

async fn apply_fresh(g: &GlobalArgs, a: &ApplyArgs, out: &Output) -> Result<i32, Error> {
    let plans = super::util::plan_targets(g, &a.paths, &a.opts, wait_timeout(a), out).await?;
    show_fresh(&plans, a, out);
    super::util::report_held(&plans, out);
    let failed = pipeline::verdict(&plans) == Verdict::Failed;
    if failed && a.fail_fast && plans.len() > 1 {
        let names: Vec<&str> = plans
            .iter()
            .filter(|p| p.outcome.as_ref().map_or(true, |p| p.held.is_some()))
            .map(|p| p.name.as_str())
            .collect();
        return Err(Error::msg(format!(
            "--fail-fast: cluster(s) {} could not be planned or are held; nothing was changed on any cluster",
            names.join(", ")
        )));
    }
    let ready = Ready::from_plans(plans);
    if ready.is_empty() {
        return Ok(if failed { exit::ERROR } else { exit::OK });
    }
    let question = match ready.len() {
        1 if !failed => "Do you want to apply these changes?",
        _ => "Do you want to apply these changes to every cluster above that is not held?",
    };
    if !a.auto_approve && !out.confirm(question)? {
        return Ok(exit::ERROR);
    }
    let code = run_apply(&ready, a, out).await;
    Ok(if failed { exit::ERROR } else { code })
}

/// The plans of a fresh apply; with `-q --auto-approve` nobody reads them (the summary says it).
fn show_fresh(plans: &[ClusterPlan], a: &ApplyArgs, out: &Output) {
    if out.verbosity < 0 && a.auto_approve {
        return;
    }
    super::util::report_warnings(plans, out);
    match plans {
        [one] => out.data(&out.render_cluster_plan(one, PlanFormat::Human)),
        _ => out.data(&out.render_plans(plans, PlanFormat::Human, None)),
    }
}

/// Flags that would change what a saved plan planned: refused beside it, one line naming the
/// flag (terraform's `apply PLAN` takes no planning options either).
fn refuse_planning_flags(g: &GlobalArgs, a: &ApplyArgs, file: &Path) -> Result<(), Error> {
    let o = &a.opts;
    let given = [
        (a.paths.len() > 1, "manifest paths"),
        (o.prune, "--prune"),
        (!o.replace.is_empty(), "--replace"),
        (o.gc_ttl.is_some(), "--gc-ttl"),
        (o.no_table_impact, "--no-table-impact"),
        (g.namespace.is_some(), "--namespace"),
    ];
    match given.iter().find(|(set, _)| *set) {
        Some((_, flag)) => Err(Error::msg(format!(
            "{flag} cannot be given with the saved plan {}: it was fixed when the plan was made (and the plan knows its clusters); nothing was changed\n\
             help: apply the plan as it is, or make a new one with `cdcform plan {flag_hint}--out FILE`",
            file.display(),
            flag_hint = if flag.starts_with("--") { format!("{flag} … ") } else { String::new() },
        ))),
        None => Ok(()),
    }
}

/// A saved plan knows its clusters; `--cluster` or `--all-clusters` beside it (a CI script that
/// passes the same flags to plan and apply) must name exactly those, or nothing is sent.
fn same_clusters(g: &GlobalArgs, doc: &saved::SavedDoc, file: &Path) -> Result<(), Error> {
    let planned: std::collections::BTreeSet<&str> = doc
        .clusters
        .iter()
        .map(|p| p.name.as_deref().unwrap_or("(none)"))
        .collect();
    let (flag, asked): (&str, std::collections::BTreeSet<String>) = if g.all_clusters {
        let all = Settings::defined_clusters(g, &process_env)?;
        ("--all-clusters", all.into_iter().collect())
    } else if !g.clusters.is_empty() {
        ("--cluster", g.clusters.iter().cloned().collect())
    } else {
        return Ok(());
    };
    let asked_ref: std::collections::BTreeSet<&str> = asked.iter().map(String::as_str).collect();
    if asked_ref == planned {
        return Ok(());
    }
    let list =
        |s: &std::collections::BTreeSet<&str>| s.iter().copied().collect::<Vec<_>>().join(", ");
    Err(Error::msg(format!(
        "{} was made for cluster(s) {}, but {flag} names {}; nothing was changed\n\
         help: a saved plan knows its clusters: drop {flag}, or plan again for the clusters you mean",
        file.display(),
        list(&planned),
        list(&asked_ref)
    )))
}

/// `apply FILE`: re-check every part against its cluster (fingerprints, policies now, the gate),
/// show what will be done, then apply; the whole file or nothing.
async fn apply_saved(
    g: &GlobalArgs,
    a: &ApplyArgs,
    file: &Path,
    out: &Output,
) -> Result<i32, Error> {
    refuse_planning_flags(g, a, file)?;
    let doc = saved::read(file)?;
    same_clusters(g, &doc, file)?;
    let resolve = |part: &SavedPart| {
        Settings::resolve_saved(g, &process_env, part.name.as_deref(), &part.plan.server)
    };
    let label = file.display().to_string();
    let (parts, refused) = match saved::recheck_all(&doc, &label, &resolve, wait_timeout(a)).await {
        Ok(parts) => (parts, None),
        Err((parts, e)) => (parts, Some(e)),
    };
    for p in &parts {
        for path in &p.changed_policies {
            out.warn(&format!(
                "policy {path} changed since {label} was made; its rules were evaluated again"
            ));
        }
        let heading = format!("══ cluster {} ({}) ══", p.name, p.server);
        if out.verbosity >= 0 {
            out.data(&format!(
                "{heading}\n\n{}",
                out.render_plan(&p.plan, PlanFormat::Human)
            ));
        }
    }
    if let Some(e) = refused {
        return Err(e);
    }
    let ready: Vec<Ready> = parts
        .into_iter()
        .map(|p| p.ready())
        .filter(|r| r.plan.summary.has_changes())
        .collect();
    Ok(run_apply(&ready, a, out).await)
}

/// Apply the clusters ready, each with its own parallelism; report each.
async fn run_apply(ready: &[Ready], a: &ApplyArgs, out: &Output) -> i32 {
    let o = ApplyRun {
        wait_timeout: wait_timeout(a),
        no_wait: a.no_wait,
        shutdown: crate::shutdown::Shutdown::new(),
    };
    crate::output::announce_interrupts(&o.shutdown);
    let reports = {
        let live = out.live_progress();
        pipeline::apply_all(ready, &o, &|l: &str| live.line(l)).await
    };
    let mut ok = true;
    let several = reports.len() > 1;
    for (name, report) in &reports {
        ok &= report.all_ok();
        finish(report, several.then_some(name.as_str()), out);
    }
    if ok {
        exit::OK
    } else {
        exit::ERROR
    }
}

/// One cluster's apply summary; `cluster` names it when a run has several.
fn finish(report: &ApplyReport, cluster: Option<&str>, out: &Output) {
    let text = summary_text(report);
    let prefix = cluster
        .map(|n| format!("cluster {n}: "))
        .unwrap_or_default();
    if out.verbosity < 0 {
        // -q: the failures (errors) and the final summary line only.
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with("  ok ") && !l.starts_with("  skipped "))
            .collect();
        out.data(&format!("{prefix}{}", kept.join("\n")));
    } else if let Some(name) = cluster {
        out.data(&format!("══ cluster {name} ══\n{text}"));
    } else {
        out.data(&text);
    }
    for e in report.entries.iter().filter(|e| e.left_paused) {
        out.warn(&format!("{prefix}{}", crate::apply::left_paused(&e.key)));
    }
    for gone in report
        .entries
        .iter()
        .filter_map(crate::apply::deleted_not_recreated)
    {
        out.warn(&format!("{prefix}{gone}"));
    }
}
