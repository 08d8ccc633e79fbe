//! Desired state: manifest types, loading, `${VAR}` expansion, validation with file:line.

pub mod diagnostics;

pub use diagnostics::{Diagnostic, Diagnostics};

/// The JSON Schema of the manifest format.
pub fn json_schema() -> serde_json::Value {
    serde_json::json!({})
}
