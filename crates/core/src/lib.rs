//! cdcform's core: manifests, normalisation, plans, apply, policies, export, status, the
//! pipeline every path to a cluster goes through, and reconcile. It knows no terminal: no clap,
//! no printing, no process exit; the command line's crate (`cdcform`) renders what it returns.

pub mod apply;
pub mod document;
pub mod error;
pub mod export;
pub mod manifest;
pub mod normalize;
pub mod pipeline;
pub mod plan;
pub mod policy;
pub mod reconcile;
pub mod settings;
pub mod shutdown;
pub mod status;
pub mod yaml;

pub use cdcform_ticdc as ticdc;
pub use cdcform_ticdc::retry;
pub use error::Error;
