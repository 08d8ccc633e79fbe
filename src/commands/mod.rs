//! One thin file per subcommand: resolve inputs, call the domain modules, hand results to output.

use crate::cli::{CiCommand, Cli, ClusterCommand, Command, GlobalArgs, PolicyCommand};
use crate::output::Output;
use crate::Error;

pub mod apply;
pub mod ci;
pub mod cluster;
pub mod demo;
pub mod export;
pub mod fleet;
pub mod man;
pub mod plan;
pub mod policy;
pub mod reconcile;
pub mod simulate;
pub mod status;
pub mod util;
pub mod validate;

/// A single path naming a saved plan of several clusters.
fn saved_fleet(
    paths: &[std::path::PathBuf],
) -> Result<Option<(crate::fleet::SavedFleet, String)>, Error> {
    let Some(p) = crate::plan::pipeline::saved_plan_path(paths) else {
        return Ok(None);
    };
    let label = p.display().to_string();
    let text =
        std::fs::read_to_string(p).map_err(|e| Error::msg(format!("cannot read {label}: {e}")))?;
    Ok(crate::fleet::parse(&text, &label)?.map(|f| (f, label)))
}

/// Run one command; Ok carries the exit status.
pub async fn dispatch(cli: Cli, out: &Output) -> Result<i32, Error> {
    let o = &cli.output;
    let online = |c| GlobalArgs::online(o, c);
    match cli.command {
        Command::Validate(a) => validate::run(&GlobalArgs::offline(o, &a.target), a, out).await,
        Command::Plan(a) => {
            let g = online(&a.conn);
            if fleet::wanted(&g) {
                fleet::plan(&g, a, out).await
            } else {
                plan::run(&g, a, out).await
            }
        }
        Command::Apply(a) => {
            let g = online(&a.conn);
            if let Some((saved, label)) = saved_fleet(&a.paths)? {
                fleet::apply_saved(&g, &a, &saved, &label, out).await
            } else if fleet::wanted(&g) {
                fleet::apply(&g, a, out).await
            } else {
                apply::run(&g, a, out).await
            }
        }
        Command::Export(a) => export::run(&GlobalArgs::one(o, &a.conn), a, out).await,
        Command::Status(a) => {
            let g = online(&a.conn);
            if fleet::wanted(&g) {
                fleet::status(&g, a, out).await
            } else {
                status::run(&g, a, out).await
            }
        }
        Command::Reconcile(a) => reconcile::run(&online(&a.conn), a).await,
        Command::Cluster(ClusterCommand::ResignOwner { conn }) => {
            cluster::resign_owner(&GlobalArgs::cluster_op(o, &conn), out).await
        }
        Command::Cluster(ClusterCommand::LogLevel { level, conn }) => {
            cluster::log_level(&GlobalArgs::cluster_op(o, &conn), &level, out).await
        }
        Command::Simulate(a) => simulate::run(a, out).await,
        Command::Demo(a) => demo::run(a, out).await,
        Command::Ci(CiCommand::Comment(a)) => ci::comment(a, out).await,
        Command::Policy(PolicyCommand::Test { paths }) => policy::test(&paths, out),
        Command::Schema => {
            let schema = crate::manifest::json_schema();
            out.data(
                &serde_json::to_string_pretty(&schema).map_err(|e| Error::msg(e.to_string()))?,
            );
            Ok(crate::exit::OK)
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "cdcform", &mut buf);
            out.data(&String::from_utf8_lossy(&buf));
            Ok(crate::exit::OK)
        }
        Command::Man(a) => man::run(a, out),
    }
}
