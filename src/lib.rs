//! cdcform: manage TiCDC changefeeds as code. This crate is the command line: clap types
//! (`cli`), settings resolved from flags, environment and cdcform.toml (`settings`), one thin
//! file per command (`commands`), and what reaches a terminal (`output`, `render`, `ci`).
//!
//! Data flows one way: `cli` → `commands` → `cdcform_core` (the pipeline: manifests, plan,
//! gate, apply, policies, reconcile) → `cdcform_ticdc` (the client) → `render`/`output`. The
//! layers are crates, so a wrong-way import does not compile; their modules are re-exported
//! here under the names they had when they were modules of this crate.

pub mod ci;
pub mod cli;
pub mod commands;
pub mod docs;
pub mod output;
pub mod render;
pub mod settings;

pub use cdcform_core::{
    apply, document, export, manifest, normalize, pipeline, plan, policy, reconcile, retry,
    shutdown, status, yaml, Error,
};
pub use cdcform_sim as simulator;
pub use cdcform_ticdc as ticdc;

/// `cdcform --version`: the crate version and the git commit it was built from (build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("CDCFORM_GIT_COMMIT"),
    ")"
);

/// Exit statuses (docs/reference/exit-codes.md).
pub mod exit {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
    /// Only from `plan --detailed-exitcode` when there are changes.
    pub const CHANGES: i32 = 2;
}

/// Parse the command line, run, and map the outcome to an exit status. Usage errors are 1.
pub fn main_entry() -> i32 {
    use clap::Parser;
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => exit::OK,
                _ => exit::ERROR,
            };
            let _ = e.print();
            return if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                exit::ERROR
            } else {
                code
            };
        }
    };
    run(cli)
}

/// Run a parsed command line; returns the exit status.
pub fn run(cli: cli::Cli) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::ERROR;
        }
    };
    let out = output::Output::from_args(&cli.output);
    out.init_logging();
    match rt.block_on(commands::dispatch(cli, &out)) {
        Ok(code) => code,
        Err(e) => {
            out.error(&e);
            exit::ERROR
        }
    }
}
