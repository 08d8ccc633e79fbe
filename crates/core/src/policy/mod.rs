//! Policy checks in Rego (OPA's language), evaluated in process with `regorus`, on the
//! conventions of conftest: `deny`, `violation` and `warn` set rules (optionally `deny_NAME`, …)
//! in package `cdcform` by default, `exception` rules that waive `deny_NAME`/`violation_NAME`,
//! and `test_*` rules for `cdcform policy test`. A library module: no printing, no clap types.

pub mod convert;
pub mod engine;
pub mod input;
pub mod memory;
pub mod test;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use engine::{load, Policies};

/// Version of the policy input document (`input.format_version`).
pub const INPUT_FORMAT_VERSION: u32 = 1;

/// Package whose rules are evaluated when no `--policy-namespace` is given.
pub const DEFAULT_NAMESPACE: &str = "cdcform";

/// One policy file that was evaluated, with the sha256 of its contents (recorded in saved plans).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyFile {
    pub path: String,
    pub sha256: String,
}

/// One result of a `deny`, `violation` or `warn` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule's name as written: `deny`, `deny_kafka_tls`, `violation_x`, `warn`, …
    pub rule: String,
    /// The package the rule is in (`cdcform` unless `--policy-namespace`).
    pub namespace: String,
    /// `path:line` of the rule's first definition (several files may add to one rule name:
    /// then they are all listed, comma-separated).
    pub file: String,
    /// `namespace/id`, or the id, when the result names one (`changefeed` in the result object
    /// or in its `metadata`); absent for a finding about the plan as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changefeed: Option<String>,
    pub msg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

/// What the policies said of one plan (or one `validate` run).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The files evaluated, with their digests.
    pub files: Vec<PolicyFile>,
    /// `deny` and `violation` results: they block.
    pub deny: Vec<Finding>,
    /// `warn` results: shown, never blocking.
    pub warn: Vec<Finding>,
    /// `deny`/`violation` results an `exception` rule waived.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waived: Vec<Finding>,
}

impl Report {
    /// Whether a `deny` or `violation` stands: the plan fails and apply changes nothing.
    pub fn blocks(&self) -> bool {
        !self.deny.is_empty()
    }
}

/// Why policies could not be loaded or evaluated. Every one fails the command (fail closed).
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy {path}: {reason}\nhelp: --policy takes .rego files or directories holding them")]
    Read { path: PathBuf, reason: String },
    #[error("policy {path} does not parse (Rego v1):\n{reason}\nhelp: Rego v1 needs `if` before rule bodies and `contains` for set rules; `opa fmt --rego-v1` rewrites v0 policies")]
    Parse { path: String, reason: String },
    #[error("policy rule {rule} ({file}) failed at run time, so the policy check did not pass:\n{reason}\nhelp: fix the rule; a rule that errors never counts as a pass")]
    Runtime {
        rule: String,
        file: String,
        reason: String,
    },
    #[error("policy rule {rule} ({file}) returned {got}; a {kind} rule must be a set of strings or of objects with a string `msg`\nhelp: write `{kind} contains msg if {{ ... }}` or `{kind} contains {{\"msg\": m, \"metadata\": {{...}}}} if {{ ... }}`")]
    Shape {
        rule: String,
        file: String,
        kind: &'static str,
        got: String,
    },
    #[error("the policy input is {size} bytes, over the limit of {limit}\nhelp: plan fewer changefeeds at once (pass fewer manifest paths)")]
    InputTooLarge { size: usize, limit: usize },
    #[error("policy namespace `{0}` has no rules in the loaded files\nhelp: check the `package` line of your policies, or drop --policy-namespace {0}")]
    NoSuchNamespace(String),
}

/// Which policies a run evaluates: `--policy` paths and `[policy] paths`, and the packages.
#[derive(Debug, Clone, Default)]
pub struct PolicyOptions {
    pub paths: Vec<PathBuf>,
    /// Empty: `cdcform`.
    pub namespaces: Vec<String>,
}

impl PolicyOptions {
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

/// Evaluate the policies on a plan; `None` when no policy is configured.
pub fn check_plan(
    o: &PolicyOptions,
    plan: &crate::plan::Plan,
    desired: &[crate::manifest::DesiredChangefeed],
    live: &std::collections::BTreeMap<crate::plan::Key, crate::plan::planner::LiveChangefeed>,
    cluster: &input::ClusterInfo,
    default_ns: &str,
) -> Result<Option<Report>, PolicyError> {
    if o.is_empty() {
        return Ok(None);
    }
    let p = load(&o.paths, &o.namespaces, false)?;
    check_plan_with(p, plan, desired, live, cluster, default_ns).map(Some)
}

/// Evaluate policies already loaded on a plan.
pub fn check_plan_with(
    mut p: Policies,
    plan: &crate::plan::Plan,
    desired: &[crate::manifest::DesiredChangefeed],
    live: &std::collections::BTreeMap<crate::plan::Key, crate::plan::planner::LiveChangefeed>,
    cluster: &input::ClusterInfo,
    default_ns: &str,
) -> Result<Report, PolicyError> {
    p.evaluate_input(input::for_plan(plan, desired, live, cluster, default_ns))
}

/// Policies loading on a blocking thread (see [`load_in_background`]).
pub type Loading = tokio::task::JoinHandle<Result<Policies, PolicyError>>;

/// Start reading and parsing the policies on a blocking thread: they do not depend on the
/// plan, so they load while the cluster is read. `None` when no policy is configured. Must be
/// called inside a tokio runtime.
pub fn load_in_background(o: &PolicyOptions) -> Option<Loading> {
    if o.is_empty() {
        return None;
    }
    let (paths, namespaces) = (o.paths.clone(), o.namespaces.clone());
    Some(tokio::task::spawn_blocking(move || {
        load(&paths, &namespaces, false)
    }))
}

/// Evaluate the policies offline on the manifests (`validate`); `None` when none is configured.
pub fn check_validate(
    o: &PolicyOptions,
    desired: &[crate::manifest::DesiredChangefeed],
    cluster: &input::ClusterInfo,
    default_ns: &str,
) -> Result<Option<Report>, PolicyError> {
    if o.is_empty() {
        return Ok(None);
    }
    let mut p = load(&o.paths, &o.namespaces, false)?;
    p.evaluate(&input::for_validate(desired, cluster, default_ns))
        .map(Some)
}

/// Files whose digest differs from the one a saved plan recorded (or that are gone).
pub fn changed_files(recorded: &[PolicyFile], now: &[PolicyFile]) -> Vec<String> {
    recorded
        .iter()
        .filter(|r| !now.iter().any(|n| n == *r))
        .map(|r| r.path.clone())
        .collect()
}
