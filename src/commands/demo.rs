//! `cdcform demo`: the whole cycle against an in-process simulator — plan, apply, drift,
//! re-plan, apply, empty plan. It ends with exit 1 if the last plan is not empty, so the demo
//! doubles as a smoke test.

use std::path::PathBuf;
use std::time::Duration;

use crate::apply::ApplyOptions;
use crate::cli::{DemoArgs, PlanFormat};
use crate::manifest::{self, DesiredChangefeed, DesiredState};
use crate::output::Output;
use crate::plan::pipeline::compute;
use crate::plan::PlanOptions;
use crate::settings::Settings;
use crate::simulator::catalog::Catalog;
use crate::simulator::{SimConfig, Simulator};
use crate::ticdc::models::ChangefeedConfig;
use crate::ticdc::Client;
use crate::{exit, Error};

/// The example manifests, built in so that the demo runs from any directory.
const BUILTIN: &[(&str, &str)] = &[
    (
        "examples/changefeeds/event-filters.yaml",
        include_str!("../../examples/changefeeds/event-filters.yaml"),
    ),
    (
        "examples/changefeeds/kafka-canal-json.yaml",
        include_str!("../../examples/changefeeds/kafka-canal-json.yaml"),
    ),
    (
        "examples/changefeeds/lifecycle.yaml",
        include_str!("../../examples/changefeeds/lifecycle.yaml"),
    ),
    (
        "examples/changefeeds/mysql-tidb.yaml",
        include_str!("../../examples/changefeeds/mysql-tidb.yaml"),
    ),
    (
        "examples/changefeeds/s3-csv.yaml",
        include_str!("../../examples/changefeeds/s3-csv.yaml"),
    ),
];

/// Variables the examples reference get harmless demo values unless the environment sets them.
fn demo_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .or_else(|| Some(format!("demo-{}", name.to_ascii_lowercase())))
}

fn heading(out: &Output, n: usize, text: &str) {
    out.data(&format!("\n=== {n}. {text} ===\n"));
}

fn load(a: &DemoArgs) -> Result<manifest::DesiredSet, Error> {
    let default_dir = PathBuf::from("examples/changefeeds");
    if !a.paths.is_empty() {
        return manifest::load(&a.paths, &demo_env).map_err(Error::Manifest);
    }
    if default_dir.is_dir() {
        return manifest::load(&[default_dir], &demo_env).map_err(Error::Manifest);
    }
    let mut set = manifest::DesiredSet::default();
    for (name, text) in BUILTIN {
        let s = manifest::load_str(name, text, &demo_env).map_err(Error::Manifest)?;
        set.changefeeds.extend(s.changefeeds);
        set.files.extend(s.files);
    }
    Ok(set)
}

pub async fn run(a: DemoArgs, out: &Output) -> Result<i32, Error> {
    let set = load(&a)?;
    let cfg = SimConfig {
        tick: Duration::from_millis(50),
        sink_check: false,
        catalog: Some(std::sync::Arc::new(Catalog::builtin())),
        ..SimConfig::default()
    };
    let sim = Simulator::start(cfg, "127.0.0.1:0")
        .await
        .map_err(|e| Error::msg(format!("cannot start the simulator: {e}")))?;
    let result = cycle(&sim, &set.changefeeds, out).await;
    sim.shutdown().await;
    result
}

async fn cycle(sim: &Simulator, desired: &[DesiredChangefeed], out: &Output) -> Result<i32, Error> {
    let settings = Settings::for_server(&sim.url());
    let client = Client::new(settings.client.clone())?;
    let opts = PlanOptions::default();
    let apply_opts = ApplyOptions {
        parallelism: settings.parallelism,
        ..ApplyOptions::default()
    };
    out.data(&format!(
        "cdcform demo: {} changefeed(s) from the examples against a simulated TiCDC at {} (classic v8.5 behaviour, 50ms owner tick).",
        desired.len(),
        sim.url()
    ));

    heading(
        out,
        1,
        "cdcform plan: the cluster is empty, so everything is created",
    );
    let (plan, _) = compute(&settings, &client, desired, &opts, apply_opts.wait_timeout).await?;
    out.data(&out.render_plan(&plan, PlanFormat::Human));

    heading(out, 2, "cdcform apply");
    let report = apply_live(&client, &plan, &apply_opts, out).await;
    out.data(&crate::apply::summary_text(&report));
    if !report.all_ok() {
        return Ok(exit::ERROR);
    }

    heading(out, 3, "someone changes a changefeed behind cdcform's back");
    let target = desired
        .iter()
        .find(|d| d.state == DesiredState::Running)
        .ok_or_else(|| Error::msg("the demo needs one running changefeed in the manifests"))?;
    let ns = target
        .namespace
        .clone()
        .unwrap_or_else(|| settings.namespace.clone());
    drift(&client, &ns, &target.id, out).await?;

    heading(out, 4, "cdcform plan: the drift shows up");
    let (plan, _) = compute(&settings, &client, desired, &opts, apply_opts.wait_timeout).await?;
    out.data(&out.render_plan(&plan, PlanFormat::Human));

    heading(out, 5, "cdcform apply: back to what the manifests say");
    let report = apply_live(&client, &plan, &apply_opts, out).await;
    out.data(&crate::apply::summary_text(&report));

    heading(out, 6, "cdcform plan: nothing left to do");
    let (plan, _) = compute(&settings, &client, desired, &opts, apply_opts.wait_timeout).await?;
    out.data(&out.render_plan(&plan, PlanFormat::Human));
    if plan.summary.has_changes() || !report.all_ok() {
        return Err(Error::msg(
            "the demo did not converge: the last plan is not empty",
        ));
    }
    out.data("\nThe cluster matches the manifests. Try `cdcform simulate` and point `cdcform plan --server` at it.");
    Ok(exit::OK)
}

/// What an operator might do by hand: pause, lower `mounter.worker_num`, widen the table filter
/// with `billing.*`, resume — through the API, as `cdc cli changefeed update` would. The next
/// plan then shows the tables its update stops replicating.
async fn drift(client: &Client, ns: &str, id: &str, out: &Output) -> Result<(), Error> {
    let live = client.get_changefeed(ns, id).await?;
    let mut config = live.config.clone().unwrap_or_default();
    crate::normalize::set_path(&mut config, "mounter.worker_num", serde_json::json!(4));
    let mut rules = config["filter"]["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    rules.push(serde_json::json!("billing.*"));
    crate::normalize::set_path(&mut config, "filter.rules", serde_json::Value::Array(rules));
    out.data(&format!(
        "$ cdc cli changefeed pause/update/resume -c {id}   # sets mounter.worker_num = 4, adds the filter rule billing.*"
    ));
    client.pause_changefeed(ns, id).await?;
    wait(client, ns, id, "stopped").await?;
    client
        .update_changefeed(
            ns,
            id,
            &ChangefeedConfig {
                replica_config: Some(config),
                ..Default::default()
            },
        )
        .await?;
    client.resume_changefeed(ns, id, 0).await?;
    wait(client, ns, id, "normal").await
}

async fn wait(client: &Client, ns: &str, id: &str, state: &str) -> Result<(), Error> {
    for _ in 0..200 {
        if client.changefeed_status(ns, id).await?.state == state {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(Error::msg(format!("{id} did not become {state}")))
}

/// Apply with one live progress line on a terminal; the summary is printed once, after.
async fn apply_live(
    client: &Client,
    plan: &crate::plan::Plan,
    opts: &ApplyOptions,
    out: &Output,
) -> crate::apply::ApplyReport {
    let live = out.live_progress();
    crate::apply::apply(client, plan, opts, &|line: &str| live.line(line)).await
}
