//! One thin file per subcommand: resolve inputs, call the domain modules, hand results to output.

use crate::cli::{CiCommand, Cli, ClusterCommand, Command, GlobalArgs, PolicyCommand};
use crate::output::Output;
use crate::Error;

pub mod apply;
pub mod ci;
pub mod cluster;
pub mod demo;
pub mod export;
pub mod man;
pub mod plan;
pub mod policy;
pub mod reconcile;
pub mod simulate;
pub mod status;
pub mod util;
pub mod validate;

/// Run one command; Ok carries the exit status.
pub async fn dispatch(cli: Cli, out: &Output) -> Result<i32, Error> {
    let o = &cli.output;
    let online = |c| GlobalArgs::online(o, c);
    match cli.command {
        Command::Validate(a) => {
            let g = GlobalArgs::offline(o, &a.target).with_policy(&a.policy);
            validate::run(&g, a, out).await
        }
        Command::Plan(a) => plan::run(&online(&a.conn).with_policy(&a.policy), a, out).await,
        Command::Apply(a) => apply::run(&online(&a.conn).with_policy(&a.policy), a, out).await,
        Command::Export(a) => export::run(&GlobalArgs::one(o, &a.conn), a, out).await,
        Command::Status(a) => status::run(&online(&a.conn), a, out).await,
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
