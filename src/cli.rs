//! What the user typed, as clap types. Nothing here is resolved: `settings` turns these
//! (plus environment and `cdcform.toml`) into the values the commands use.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "cdcform",
    version = crate::VERSION,
    about = "Manage TiCDC changefeeds as code: validate, plan and apply YAML manifests against the TiCDC OpenAPI v2",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The command tree in order, as clap builds it to parse (so each subcommand knows its full
/// name for `Usage:`): the root first, then every visible subcommand depth-first, without
/// clap's `help` subcommand. Each entry is the command's path (`cdcform cluster log-level`) and
/// the command. The one traversal behind the help snapshots, the man pages and
/// docs/reference/commands.md.
pub fn command_tree(root: clap::Command) -> Vec<(String, clap::Command)> {
    fn walk(cmd: &clap::Command, path: &str, out: &mut Vec<(String, clap::Command)>) {
        out.push((path.to_string(), cmd.clone()));
        for sub in cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        {
            walk(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }
    let mut root = root;
    root.build();
    let mut out = Vec::new();
    let name = root.get_name().to_string();
    walk(&root, &name, &mut out);
    out
}

/// Output flags: every command accepts them.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// When to use colour (honours NO_COLOR) [env: CDCFORM_COLOR]
    #[arg(long, global = true, value_enum)]
    pub color: Option<ColorChoice>,
    /// Less output: errors and the final summary line only
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More output; -v shows server-derived values in plans and every unmanaged id, -vv logs HTTP requests
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Which clusters of cdcform.toml a command targets: the commands that can run on several.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Cluster")]
pub struct TargetArgs {
    /// Named cluster from cdcform.toml; repeat for several (their reports are combined)
    /// [env: CDCFORM_CLUSTER]
    #[arg(long = "cluster", value_name = "NAME")]
    pub clusters: Vec<String>,
    /// Every cluster in cdcform.toml
    #[arg(long, conflicts_with = "clusters")]
    pub all_clusters: bool,
    /// Path to cdcform.toml [env: CDCFORM_CONFIG] [default: ./cdcform.toml when present]
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Which cluster of cdcform.toml a command targets: the commands that run on one.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Cluster")]
pub struct OneClusterArgs {
    /// Named cluster from cdcform.toml [env: CDCFORM_CLUSTER]
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// Path to cdcform.toml [env: CDCFORM_CONFIG] [default: ./cdcform.toml when present]
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// How to reach TiCDC: only the commands that talk to a server take these.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Connection")]
pub struct ServerArgs {
    /// TiCDC server URL [env: CDCFORM_SERVER] [default: http://127.0.0.1:8300]
    #[arg(long)]
    pub server: Option<String>,
    /// CA certificate (PEM) used to verify the TiCDC server [env: CDCFORM_CA]
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS [env: CDCFORM_CERT]
    #[arg(long)]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS [env: CDCFORM_KEY]
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Basic-auth user; the password is read from CDCFORM_PASSWORD [env: CDCFORM_USER]
    #[arg(long)]
    pub user: Option<String>,
    /// Timeout of one HTTP request, e.g. 10s [env: CDCFORM_TIMEOUT] [default: 10s]
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Keep retrying reads (and writes whose repetition is harmless) through an outage such as
    /// an owner election for this long, e.g. 2m [env: CDCFORM_RETRY_FOR] [default: 60s]
    #[arg(long, value_parser = parse_duration)]
    pub retry_for: Option<std::time::Duration>,
}

/// Which changefeeds a command reads, and how many at once: the commands that read them.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Connection")]
pub struct ScopeArgs {
    /// Namespace (keyspace on new-architecture servers) to read and write; a manifest's own `namespace:` wins [env: CDCFORM_NAMESPACE]
    #[arg(long)]
    pub namespace: Option<String>,
    /// How many changefeeds are read or changed at once [env: CDCFORM_PARALLELISM] [default: 8]
    #[arg(long)]
    pub parallelism: Option<usize>,
}

/// The connection flags of plan, apply, status and reconcile (one or several clusters).
#[derive(Debug, Args, Clone, Default)]
pub struct ConnectionArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    // Last, so that its own heading does not carry over to the connection flags.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// The connection flags of export (one cluster).
#[derive(Debug, Args, Clone, Default)]
pub struct OneConnectionArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub cluster: OneClusterArgs,
}

/// The connection flags of the cluster-wide operations (one cluster, no changefeeds).
#[derive(Debug, Args, Clone, Default)]
pub struct ClusterOpArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub cluster: OneClusterArgs,
}

/// Every flag a command may have been given, gathered for `settings` and `output`; commands
/// without connection flags leave those fields empty.
#[derive(Debug, Clone, Default)]
pub struct GlobalArgs {
    pub server: Option<String>,
    pub cluster: Option<String>,
    /// Every `--cluster` given (the first is `cluster`), for the commands that run on several.
    pub clusters: Vec<String>,
    pub all_clusters: bool,
    pub config: Option<PathBuf>,
    pub namespace: Option<String>,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub user: Option<String>,
    pub timeout: Option<std::time::Duration>,
    pub retry_for: Option<std::time::Duration>,
    pub parallelism: Option<usize>,
    pub color: Option<ColorChoice>,
    pub quiet: bool,
    pub verbose: u8,
    /// `--policy`: added to the policies of cdcform.toml.
    pub policy_paths: Vec<PathBuf>,
    /// `--policy-namespace`: instead of those of cdcform.toml.
    pub policy_namespaces: Vec<String>,
}

impl GlobalArgs {
    /// The output flags alone (offline commands).
    pub fn output(o: &OutputArgs) -> GlobalArgs {
        GlobalArgs {
            color: o.color,
            quiet: o.quiet,
            verbose: o.verbose,
            ..GlobalArgs::default()
        }
    }

    fn with_targets(mut self, t: &TargetArgs) -> GlobalArgs {
        self.cluster = t.clusters.first().cloned();
        self.clusters = t.clusters.clone();
        self.all_clusters = t.all_clusters;
        self.config = t.config.clone();
        self
    }

    fn with_cluster(mut self, c: &OneClusterArgs) -> GlobalArgs {
        self.cluster = c.cluster.clone();
        self.clusters = c.cluster.iter().cloned().collect();
        self.config = c.config.clone();
        self
    }

    fn with_server(mut self, s: &ServerArgs) -> GlobalArgs {
        let s = s.clone();
        self.server = s.server;
        self.ca = s.ca;
        self.cert = s.cert;
        self.key = s.key;
        self.user = s.user;
        self.timeout = s.timeout;
        self.retry_for = s.retry_for;
        self
    }

    fn with_scope(mut self, s: &ScopeArgs) -> GlobalArgs {
        self.namespace = s.namespace.clone();
        self.parallelism = s.parallelism;
        self
    }

    /// The policy flags of plan, apply and validate.
    pub fn with_policy(mut self, p: &PolicyArgs) -> GlobalArgs {
        self.policy_paths = p.policy_paths.clone();
        self.policy_namespaces = p.policy_namespaces.clone();
        self
    }

    /// An offline command that may name clusters (validate).
    pub fn offline(o: &OutputArgs, t: &TargetArgs) -> GlobalArgs {
        GlobalArgs::output(o).with_targets(t)
    }

    /// plan, apply, status, reconcile.
    pub fn online(o: &OutputArgs, c: &ConnectionArgs) -> GlobalArgs {
        GlobalArgs::output(o)
            .with_server(&c.server)
            .with_scope(&c.scope)
            .with_targets(&c.target)
    }

    /// export.
    pub fn one(o: &OutputArgs, c: &OneConnectionArgs) -> GlobalArgs {
        GlobalArgs::output(o)
            .with_server(&c.server)
            .with_scope(&c.scope)
            .with_cluster(&c.cluster)
    }

    /// The cluster-wide operations.
    pub fn cluster_op(o: &OutputArgs, c: &ClusterOpArgs) -> GlobalArgs {
        GlobalArgs::output(o)
            .with_server(&c.server)
            .with_cluster(&c.cluster)
    }
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
    // A table for people; `table`, its earlier name, is still accepted.
    #[default]
    #[value(alias = "table")]
    Human,
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
    /// Keep clusters as the manifests say: detect drift every interval, report it on /metrics and
    /// /status, and with --self-heal apply the plan
    Reconcile(ReconcileArgs),
    /// Cluster-wide operations
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Run a local TiCDC OpenAPI v2 simulator (a test double, not a TiCDC)
    Simulate(SimulateArgs),
    /// Run the whole cycle against an in-process simulator: plan, apply, drift, re-plan
    Demo(DemoArgs),
    /// Policy checks: run the `test_*` rules of Rego policies
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// CI integration: post the plan on the pull or merge request
    #[command(subcommand)]
    Ci(CiCommand),
    /// Print the JSON Schema of the manifest format
    Schema,
    /// Print shell completions
    Completions {
        /// The shell to write completions for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per subcommand with --dir
    Man(ManArgs),
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run every `test_*` rule of the .rego files under PATH, as `opa test` does: a test passes
    /// when it evaluates to true. Exit 1 on any failure or error
    Test {
        /// Rego files or directories (tests are `*_test.rego` files beside the policies)
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CiCommand {
    /// Post the plan markdown as a comment on this job's pull/merge request, or update the one
    /// posted before (found by its marker; never a second one)
    #[command(
        long_about = None,
        after_long_help = "Examples:\n  cdcform plan --format markdown --out changefeeds.plan | cdcform ci comment\n  cdcform ci comment plan.md --provider gitlab\n\nGitHub: GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_EVENT_PATH (pull_request.number) or\nGITHUB_REF (refs/pull/N/merge), GITHUB_TOKEN (pull-requests: write).\nGitLab: CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID, GITLAB_TOKEN (api scope).\n\nExit status: 0 posted or updated, 1 on any error."
    )]
    Comment(CiCommentArgs),
}

#[derive(Debug, Args, Default)]
pub struct CiCommentArgs {
    /// Markdown from `cdcform plan --format markdown` (one or several clusters); - or nothing
    /// reads stdin
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Which API to post to [default: detected from the CI variables]
    #[arg(long, value_enum)]
    pub provider: Option<CiProvider>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CiProvider {
    Github,
    Gitlab,
}

#[derive(Debug, Args, Default)]
pub struct ManArgs {
    /// Write cdcform.1, cdcform-plan.1, … (one page per subcommand) into DIR instead of printing
    /// the top-level page
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Policy flags of plan, apply and validate.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Policy")]
pub struct PolicyArgs {
    /// Rego policy file or directory of .rego files (repeatable; added to `[policy] paths` of
    /// cdcform.toml). A deny or violation fails the command; a warn is shown
    #[arg(long = "policy", value_name = "PATH")]
    pub policy_paths: Vec<PathBuf>,
    /// Package whose deny/warn/violation rules count (repeatable) [default: cdcform]
    #[arg(long = "policy-namespace", value_name = "PACKAGE")]
    pub policy_namespaces: Vec<String>,
}

#[derive(Debug, Args, Default)]
pub struct ValidateArgs {
    /// Manifest files or directories [default: paths from cdcform.toml, else .]
    pub paths: Vec<PathBuf>,
    /// Check for this server: `newarch` (classic kernel, as self-hosted), `newarch-nextgen`, or
    /// a classic version such as `v8.5.0` [default: every supported server]
    #[arg(long = "target", value_name = "PROFILE")]
    pub server_target: Option<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub target: TargetArgs,
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
    /// Do not ask the server (verify_table) which tables creates and filter changes start or
    /// stop replicating
    #[arg(long)]
    pub no_table_impact: bool,
}

impl PlanOptionArgs {
    /// The library form of these flags.
    pub fn to_options(&self) -> crate::plan::PlanOptions {
        crate::plan::PlanOptions {
            prune: self.prune,
            replace: self.replace.clone(),
            gc_ttl: self.gc_ttl,
            no_table_impact: self.no_table_impact,
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
    /// Exit 0 when there is nothing to do, 2 when there are changes, 1 on an error or a blocked entry
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Longest markdown output, in characters; field details are left out (with a note) beyond
    /// it. GitHub refuses comments over 65536 [default: 60000]
    #[arg(long, value_name = "N", value_parser = parse_max_chars)]
    pub max_chars: Option<usize>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

/// `--max-chars`: at least 2000, room for the marker, the summary and the shortening note.
fn parse_max_chars(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 2000 => Ok(n),
        Ok(n) => Err(format!(
            "{n} is too small: the summary and the note need 2000"
        )),
        Err(e) => Err(format!("{s:?} is not a number of characters: {e}")),
    }
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
    /// With several clusters: change nothing anywhere when any cluster cannot be planned
    /// (by default the others are still applied, and the run exits 1)
    #[arg(long)]
    pub fail_fast: bool,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

#[derive(Debug, Args, Default)]
pub struct ExportArgs {
    /// Only changefeeds whose id matches one of these globs
    #[arg(long = "id", value_name = "GLOB")]
    pub ids: Vec<String>,
    /// Write one file per changefeed into DIR instead of printing one document
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Not for export (it writes one cluster's manifests): taken only to say so, instead of
    /// clap's "unexpected argument" with a usage line that reads as if `--cluster` were required.
    #[arg(long, hide = true)]
    pub all_clusters: bool,
    /// Write each changefeed's settings as a `cdc cli changefeed create --config` TOML file
    /// (DIR/ID.toml, for the server's version) and name it with `replica_config_file:`
    #[arg(long, value_name = "DIR")]
    pub replica_config_files: Option<PathBuf>,
    #[command(flatten)]
    pub conn: OneConnectionArgs,
}

#[derive(Debug, Args, Default)]
pub struct StatusArgs {
    /// Output format: human (a table) for people, JSON for scripts; the names `plan` uses
    #[arg(long, value_enum, default_value_t)]
    pub format: TableFormat,
    /// Only changefeeds whose id matches one of these globs
    #[arg(long = "id", value_name = "GLOB")]
    pub ids: Vec<String>,
    /// Only changefeeds this repository manages (`manage` in cdcform.toml)
    #[arg(long)]
    pub managed: bool,
    /// Every row, also in a large cluster (by default a table of more than 50 changefeeds
    /// shows the managed ones and those with a problem, and counts the rest)
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

impl StatusArgs {
    /// Every row in the table: asked for with `--all`, or rows chosen by a filter.
    pub fn every_row(&self) -> bool {
        self.all || self.managed || !self.ids.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormatArg {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
#[command(
    after_long_help = "Exit status: runs until SIGTERM or SIGINT, then 0 once the changefeeds in hand finished \
their steps (1 when --shutdown-timeout passed first; a second signal aborts at once, exit 1). With --once: 0 no drift, 2 drift, 1 an error or a \
blocked changefeed (the meaning of `plan --detailed-exitcode`)."
)]
pub struct ReconcileArgs {
    /// Manifest files or directories, re-read every cycle [default: paths from cdcform.toml]
    pub paths: Vec<PathBuf>,
    /// Time between the start of one cycle and the next, per cluster
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub interval: std::time::Duration,
    /// Apply the plan when there is drift (without it, drift is only reported)
    #[arg(long)]
    pub self_heal: bool,
    /// With --self-heal: also delete changefeeds inside `manage` that no manifest lists
    #[arg(long)]
    pub prune: bool,
    /// With --self-heal: a cycle with more changes than this changes nothing and reports it
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max_changes_per_cycle: usize,
    /// A running changefeed whose checkpoint lags more than this counts as health drift
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub max_lag: std::time::Duration,
    /// Serve /metrics, /healthz, /readyz and /status here; port 0 picks a free port (the address
    /// is logged) [default: 127.0.0.1:9464; with --once: nothing]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// One cycle per cluster, then exit like `plan --detailed-exitcode` (for cron jobs)
    #[arg(long)]
    pub once: bool,
    /// Format of the log lines on stderr
    #[arg(long, value_enum, default_value_t)]
    pub log_format: LogFormatArg,
    /// After SIGTERM or SIGINT, how long the changefeeds in hand may take to finish their steps
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub shutdown_timeout: std::time::Duration,
    /// Give up waiting for a changefeed state after this long [default: 2m]
    #[arg(long, value_parser = parse_duration)]
    pub wait_timeout: Option<std::time::Duration>,
    /// Do not wait for resumed changefeeds to become healthy
    #[arg(long)]
    pub no_wait: bool,
    /// GC TTL of the upstream: a pause that could outlast it is refused [default: 24h]
    #[arg(long, value_parser = parse_duration)]
    pub gc_ttl: Option<std::time::Duration>,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Ask the current owner to resign so another capture takes over
    ResignOwner {
        #[command(flatten)]
        conn: ClusterOpArgs,
    },
    /// Change the server's log level (debug, info, warn, error, dpanic, panic, fatal)
    LogLevel {
        /// The new level: debug, info, warn, error, dpanic, panic or fatal
        level: String,
        #[command(flatten)]
        conn: ClusterOpArgs,
    },
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
    /// New architecture: the kernel the server is built for. `classic` (every self-hosted
    /// cluster) keeps every changefeed in keyspace `default`; `nextgen` requires `?keyspace=`
    #[arg(long, value_enum, default_value_t = SimKernelArg::Classic)]
    pub kernel: SimKernelArg,
    /// With `--kernel nextgen`: the keyspaces that exist (comma-separated)
    #[arg(long, value_delimiter = ',', default_value = "default")]
    pub keyspaces: Vec<String>,
    /// Owner tick: how long until a create/pause/resume/update becomes visible (classic)
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    pub tick: std::time::Duration,
    /// Latency added to every request
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub latency: std::time::Duration,
    /// Pre-create N blackhole changefeeds
    #[arg(long, default_value_t = 0)]
    pub changefeeds: usize,
    /// Fault injection, e.g. "seed=7,http500=0.1,drop=0.05,slow=0.1:2s,owner-change=0.02";
    /// outages: "outage=40:8s", "outage-refused=2s:8s", "rolling-upgrade=3:20s:2s"
    #[arg(long)]
    pub faults: Option<String>,
    /// Serve HTTPS with this certificate (PEM); needs --tls-key
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert
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
    /// Upstream tables (YAML: `databases: {shop: {orders: {primary_key: [id]}}}`) that
    /// verify_table, eligibility checks and table ids use; `builtin` is the demo's catalog
    /// [default: one table `test.t1` with a primary key]
    #[arg(long, value_name = "FILE|builtin")]
    pub catalog: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SimProfileArg {
    Classic,
    Newarch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SimKernelArg {
    Classic,
    Nextgen,
}

#[derive(Debug, Args, Default)]
pub struct DemoArgs {
    /// Manifests to demonstrate with [default: examples/changefeeds when present, else a built-in set]
    pub paths: Vec<PathBuf>,
}

/// Parse a duration with its unit: "10s", "1h30m", "250ms" (`0` alone needs none). A bare
/// number is refused, naming the unit it would need: read as nanoseconds it turned
/// `--interval 5` into 420 cycles a second and `--retry-for 5` into no retries. The one parser
/// of every duration flag and of cdcform.toml's durations.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    if t == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!(
            "{s:?} has no unit; write it with one, e.g. {t}s (seconds), {t}m (minutes) or {t}ms"
        ));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("invalid duration {s:?}: {e} (use e.g. 10s, 2m, 1h30m)"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn a_duration_needs_its_unit() {
        use std::time::Duration;
        assert_eq!(super::parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(
            super::parse_duration("1h30m"),
            Ok(Duration::from_secs(5400))
        );
        assert_eq!(
            super::parse_duration("250ms"),
            Ok(Duration::from_millis(250))
        );
        assert_eq!(super::parse_duration("0"), Ok(Duration::ZERO));
        for bare in ["5", "30", "1.5"] {
            let e = super::parse_duration(bare).unwrap_err();
            assert!(
                e.contains("has no unit") && e.contains(&format!("{bare}s")),
                "{e}"
            );
        }
        assert!(super::parse_duration("5 parsecs").is_err());
    }

    /// Every command's `--help`, as a user reads it (100 columns), snapshotted: a flag that
    /// appears on the wrong command, loses its help text or changes its wording shows in the diff.
    #[test]
    fn every_help_text_is_as_snapshotted() {
        let helps: Vec<(String, String)> = super::command_tree(super::Cli::command())
            .into_iter()
            .map(|(path, cmd)| (path, cmd.term_width(100).render_help().to_string()))
            .collect();
        assert!(helps.len() > 10, "{} commands", helps.len());
        for (path, text) in helps {
            insta::assert_snapshot!(format!("help {path}").replace(' ', "_"), text);
        }
    }
}
