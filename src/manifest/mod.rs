//! Desired state: manifest types, loading, `${VAR}` expansion, validation with file:line.

pub mod diagnostics;

pub use diagnostics::{Diagnostic, Diagnostics};

/// The JSON Schema of the manifest format.
pub fn json_schema() -> serde_json::Value {
    serde_json::json!({})
}

// --- Contract stub: replaced by the full manifest module (types, load, env, validate). ---
use std::collections::BTreeSet;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Located {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DesiredState {
    #[default]
    Running,
    Paused,
    Absent,
}

#[derive(Debug, Clone, Default)]
pub struct DesiredChangefeed {
    pub id: String,
    pub namespace: Option<String>,
    pub sink_uri: String,
    pub sink_uri_template: String,
    pub state: DesiredState,
    pub start_ts: Option<u64>,
    pub target_ts: Option<u64>,
    pub replica_config: Option<serde_json::Value>,
    pub replica_config_template: Option<serde_json::Value>,
    pub sensitive: BTreeSet<String>,
    pub location: Located,
}

#[derive(Debug, Clone, Default)]
pub struct DesiredSet {
    pub changefeeds: Vec<DesiredChangefeed>,
    pub files: Vec<PathBuf>,
}

pub fn load(
    _paths: &[PathBuf],
    _env: &dyn Fn(&str) -> Option<String>,
) -> Result<DesiredSet, Diagnostics> {
    Err(Diagnostics(vec![]))
}

pub fn expand(template: &str, _env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    Ok(template.to_string())
}
