//! The TiCDC OpenAPI v2: HTTP client, wire models, errors, sink-URI masking, server profiles.

pub mod client;
pub mod error;
pub mod hash;
pub mod ids;
pub mod kernel;
pub mod mask;
pub mod models;
pub mod profile;
pub mod retry;
pub mod sift;
pub mod tls;

pub use client::{Client, ClientOptions, Credentials};
pub use error::ClientError;
pub use profile::{Arch, ServerProfile, Version};
