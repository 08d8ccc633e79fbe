//! Rendering: plans as text, JSON, markdown; diagnostics as source snippets.

pub mod diagnostics;
pub mod fleet;
pub mod plan;
pub mod policy;
pub mod status;
