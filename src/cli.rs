//! What the user typed, as clap types. Nothing here is resolved: `settings` turns these
//! (plus environment and `cdcform.toml`) into the values the commands use.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "cdcform",
    version,
    about = "Manage TiCDC changefeeds as code: validate, plan and apply YAML manifests against the TiCDC OpenAPI v2",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// TiCDC server URL [env: CDCFORM_SERVER] [default: http://127.0.0.1:8300]
    #[arg(long, global = true)]
    pub server: Option<String>,
    /// Named cluster from cdcform.toml [env: CDCFORM_CLUSTER]
    #[arg(long, global = true)]
    pub cluster: Option<String>,
    /// Path to cdcform.toml [env: CDCFORM_CONFIG] [default: ./cdcform.toml when present]
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Namespace (keyspace on new-architecture servers) used when a manifest does not name one
    #[arg(long, global = true)]
    pub namespace: Option<String>,
    /// CA certificate (PEM) used to verify the TiCDC server
    #[arg(long, global = true)]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS
    #[arg(long, global = true)]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS
    #[arg(long, global = true)]
    pub key: Option<PathBuf>,
    /// Basic-auth user; the password is read from CDCFORM_PASSWORD
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// Timeout of one HTTP request, e.g. 10s [default: 10s]
    #[arg(long, global = true, value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Keep retrying reads (and writes whose repetition is harmless) through an outage such as
    /// an owner election for this long, e.g. 2m [env: CDCFORM_RETRY_FOR] [default: 60s]
    #[arg(long, global = true, value_parser = parse_duration)]
    pub retry_for: Option<std::time::Duration>,
    /// How many changefeeds are read or changed at once [default: 8]
    #[arg(long, global = true)]
    pub parallelism: Option<usize>,
    /// When to use colour (honours NO_COLOR)
    #[arg(long, global = true, value_enum)]
    pub color: Option<ColorChoice>,
    /// Less output (errors only)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More output; -v shows server-derived values in plans, -vv logs HTTP requests
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum PlanFormat {
    #[default]
    Human,
    Json,
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum TableFormat {
    #[default]
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests offline: syntax, types, ids, sink URIs, environment variables
    Validate(ValidateArgs),
    /// Compare manifests with the live cluster and print what apply would do
    Plan(PlanArgs),
    /// Make the cluster match the manifests (or execute a saved plan file)
    Apply(ApplyArgs),
    /// Write live changefeeds as minimal manifests
    Export(ExportArgs),
    /// Show cluster health, captures and each changefeed's state and lag
    Status(StatusArgs),
    /// Cluster-wide operations
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Run a local TiCDC OpenAPI v2 simulator (a test double, not a TiCDC)
    Simulate(SimulateArgs),
    /// Run the whole cycle against an in-process simulator: plan, apply, drift, re-plan
    Demo(DemoArgs),
    /// Print the JSON Schema of the manifest format
    Schema,
    /// Print shell completions
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff)
    Man,
}

#[derive(Debug, Args, Default)]
pub struct ValidateArgs {
    /// Manifest files or directories [default: paths from cdcform.toml, else .]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct PlanOptionArgs {
    /// Delete live changefeeds that no manifest lists but that match `manage`
    #[arg(long)]
    pub prune: bool,
    /// Allow delete + create of this changefeed when a create-only field changed
    #[arg(long = "replace", value_name = "ID")]
    pub replace: Vec<String>,
    /// GC TTL of the upstream: a pause that could outlast it is refused [default: 24h]
    #[arg(long, value_parser = parse_duration)]
    pub gc_ttl: Option<std::time::Duration>,
}

impl PlanOptionArgs {
    /// The library form of these flags.
    pub fn to_options(&self) -> crate::plan::PlanOptions {
        crate::plan::PlanOptions {
            prune: self.prune,
            replace: self.replace.clone(),
            gc_ttl: self.gc_ttl,
        }
    }
}

#[derive(Debug, Args, Default)]
pub struct PlanArgs {
    /// Manifest files or directories
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub opts: PlanOptionArgs,
    /// Save the plan to FILE for `cdcform apply FILE`
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: PlanFormat,
    /// Exit 0 when there is nothing to do, 2 when there are changes, 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Args, Default)]
pub struct ApplyArgs {
    /// Manifest files or directories, or one saved plan file
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub opts: PlanOptionArgs,
    /// Do not ask for confirmation
    #[arg(long)]
    pub auto_approve: bool,
    /// Give up waiting for a changefeed state after this long [default: 2m]
    #[arg(long, value_parser = parse_duration)]
    pub wait_timeout: Option<std::time::Duration>,
    /// Do not wait for resumed changefeeds to become healthy
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Args, Default)]
pub struct ExportArgs {
    /// Only changefeeds whose id matches one of these globs
    #[arg(long = "id", value_name = "GLOB")]
    pub ids: Vec<String>,
    /// Write one file per changefeed into DIR instead of printing one document
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args, Default)]
pub struct StatusArgs {
    #[arg(long, value_enum, default_value_t)]
    pub format: TableFormat,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Ask the current owner to resign so another capture takes over
    ResignOwner,
    /// Change the server's log level (debug, info, warn, error, dpanic, panic, fatal)
    LogLevel { level: String },
}

#[derive(Debug, Args, Clone)]
pub struct SimulateArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8300")]
    pub listen: String,
    /// Server behaviour to imitate
    #[arg(long, value_enum, default_value_t = SimProfileArg::Classic)]
    pub profile: SimProfileArg,
    /// Version string the classic profile reports (e.g. v7.5.0, v8.1.0, v8.5.0)
    #[arg(long)]
    pub server_version: Option<String>,
    /// Owner tick: how long until a create/pause/resume/update becomes visible (classic)
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    pub tick: std::time::Duration,
    /// Latency added to every request
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub latency: std::time::Duration,
    /// Pre-create N blackhole changefeeds
    #[arg(long, default_value_t = 0)]
    pub changefeeds: usize,
    /// Fault injection, e.g. "seed=7,500=0.1,drop=0.05,slow=0.1:2s,owner-change=0.02";
    /// outages: "outage=40:8s", "outage-refused=2s:8s", "rolling-upgrade=3:20s:2s"
    #[arg(long)]
    pub faults: Option<String>,
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA
    #[arg(long, requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,
    /// Require basic auth USER:PASS on mutating routes
    #[arg(long, value_name = "USER:PASS")]
    pub basic_auth: Option<String>,
    /// Accept MySQL/Kafka sinks whose host:port does not accept a TCP connection
    #[arg(long)]
    pub no_sink_check: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SimProfileArg {
    Classic,
    Newarch,
}

#[derive(Debug, Args, Default)]
pub struct DemoArgs {
    /// Manifests to demonstrate with [default: examples/ when present, else a built-in set]
    pub paths: Vec<PathBuf>,
}

/// Parse "10s", "1h30m", "250ms" or a plain number of nanoseconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<u64>()
            .map(std::time::Duration::from_nanos)
            .map_err(|e| e.to_string());
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("invalid duration {s:?}: {e} (use e.g. 10s, 2m, 1h30m)"))
}
