//! `cdcform apply [PATH…] | apply FILE.plan`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::apply::{apply, summary_text, ApplyOptions, ApplyReport};
use crate::cli::{ApplyArgs, GlobalArgs, PlanFormat, PlanOptions};
use crate::output::Output;
use crate::plan::planner::make_plan;
use crate::plan::saved::{fingerprints, restore_desired, SavedPlan};
use crate::plan::{Key, Plan};
use crate::settings::{process_env, Settings};
use crate::ticdc::Client;
use crate::{exit, Error};

use super::{live, plan as plan_cmd};

/// A saved plan file is JSON with `"kind": "cdcform-plan"`; manifests are YAML.
fn saved_plan_path(paths: &[std::path::PathBuf]) -> Option<&Path> {
    let [p] = paths else { return None };
    if !p.is_file() {
        return None;
    }
    let mut head = [0u8; 256];
    let n = std::fs::File::open(p)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .ok()?;
    let text = String::from_utf8_lossy(&head[..n]);
    (text.trim_start().starts_with('{') && text.contains("cdcform-plan")).then_some(p.as_path())
}

fn confirm(out: &Output) -> Result<bool, Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::msg(
            "refusing to apply without confirmation: stdin is not a terminal. Pass --auto-approve (e.g. in CI) or apply a saved plan",
        ));
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\nDo you want to apply these changes? Only 'yes' is accepted: "
    );
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() != "yes" {
        out.progress("Apply cancelled; nothing was changed.");
        return Ok(false);
    }
    Ok(true)
}

/// Resolves on the next Ctrl-C or SIGTERM.
async fn interrupted(term: &mut Option<tokio::signal::unix::Signal>) {
    match term {
        Some(t) => {
            tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = t.recv() => {} }
        }
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// First Ctrl-C (or SIGTERM): stop starting new changefeeds; a second one aborts.
fn install_interrupts(opts: &ApplyOptions) {
    let stop = opts.stop.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        interrupted(&mut term).await;
        stop.store(true, Ordering::SeqCst);
        eprintln!(
            "\nInterrupted: no new changefeed will start; the ones in progress finish their sequence. \
             Press Ctrl-C again to abort now."
        );
        interrupted(&mut term).await;
        eprintln!("Aborted. Re-run `cdcform apply` to converge.");
        std::process::exit(exit::ERROR);
    });
}

pub async fn execute(
    client: &Client,
    plan: &Plan,
    opts: &ApplyOptions,
    out: &Output,
) -> ApplyReport {
    let progress = |line: &str| out.progress(line);
    apply(client, plan, opts, &progress).await
}

fn finish(report: &ApplyReport, out: &Output) -> i32 {
    out.data(&summary_text(report));
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

    let plan = if let Some(file) = saved_plan_path(&a.paths) {
        load_saved(file, &settings, &client, wait_timeout, out).await?
    } else {
        let set = plan_cmd::load_manifests(&settings, &a.paths)?;
        let (plan, _) =
            plan_cmd::compute(&settings, &client, &set.changefeeds, &a.opts, wait_timeout).await?;
        out.data(&plan_cmd::render(&plan, PlanFormat::Human, out));
        if !plan.summary.has_changes() {
            return Ok(if plan.summary.blocked > 0 {
                exit::ERROR
            } else {
                exit::OK
            });
        }
        if !a.auto_approve && !confirm(out)? {
            return Ok(exit::ERROR);
        }
        plan
    };
    install_interrupts(&opts);
    let report = execute(&client, &plan, &opts, out).await;
    Ok(finish(&report, out))
}

/// Re-read every changefeed the saved plan read; refuse the whole plan if anything moved.
async fn load_saved(
    file: &Path,
    settings: &Settings,
    client: &Client,
    wait_timeout: Duration,
    out: &Output,
) -> Result<Plan, Error> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::msg(format!("cannot read {}: {e}", file.display())))?;
    let saved =
        SavedPlan::from_json(&text).map_err(|e| Error::msg(format!("{}: {e}", file.display())))?;
    if saved.server.trim_end_matches('/') != settings.server.trim_end_matches('/') {
        return Err(Error::msg(format!(
            "{} was planned against {}, but this apply targets {}; nothing was changed",
            file.display(),
            saved.server,
            settings.server
        )));
    }
    let desired = restore_desired(&saved.desired, &crate::manifest::env::from_process)
        .map_err(|e| Error::msg(format!("{}: {e}", file.display())))?;
    let namespaces = saved.namespaces.iter().cloned().collect();
    let snap = live::read(client, &namespaces, settings.parallelism).await?;
    let keys = saved.desired.iter().map(|d| Key {
        namespace: d.namespace.clone(),
        id: d.id.clone(),
    });
    let now = fingerprints(&snap.changefeeds, keys);
    let moved = saved.moved(&now);
    if !moved.is_empty() {
        return Err(Error::msg(format!(
            "stale plan: {} changefeed(s) changed since {} was made ({}); nothing was changed. Run `cdcform plan` again",
            moved.len(),
            file.display(),
            moved.join(", ")
        )));
    }
    let o = PlanOptions {
        prune: saved.options.prune,
        replace: saved.options.replace.clone(),
        gc_ttl: Some(Duration::from_secs(saved.options.gc_ttl_secs)),
    };
    let opts = plan_cmd::planner_options(settings, &o, snap.now_tso, wait_timeout);
    let plan = make_plan(
        &snap.profile,
        &settings.server,
        &desired,
        &snap.changefeeds,
        &opts,
    );
    let shape = |p: &Plan| -> Vec<(Key, &'static str, usize)> {
        p.entries
            .iter()
            .map(|e| (e.key.clone(), e.action.verb(), e.changes.len()))
            .collect()
    };
    if shape(&plan) != shape(&saved.plan) {
        return Err(Error::msg(format!(
            "stale plan: the changes computed now differ from {} (environment variables or cdcform.toml changed?); \
             nothing was changed. Run `cdcform plan` again",
            file.display()
        )));
    }
    out.data(&plan_cmd::render(&plan, PlanFormat::Human, out));
    Ok(plan)
}
