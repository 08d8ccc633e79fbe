//! The error a command ends with. Each module keeps its own error type; this one gathers them.

use crate::manifest::Diagnostics;
use crate::ticdc::ClientError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Problems in manifests, each with file:line:column (rendered by `render::diagnostics`).
    #[error("{0}")]
    Manifest(Diagnostics),
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The server answered a read with an error: what was read, on which server.
    #[error("{what} on {server}: {}", source.brief())]
    Server {
        what: String,
        server: String,
        #[source]
        source: Box<ClientError>,
    },
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    /// An error of a layer above this one (`ci comment`: the CI environment or the provider's
    /// API), kept whole.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// Policies that do not load or evaluate (always a failure: policies fail closed).
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// The gate holds a plan back (policy, blocked entries, credentials, a stale saved plan).
    #[error(transparent)]
    Held(#[from] crate::pipeline::Held),
    /// Settings from flags, environment or cdcform.toml.
    #[error("{0}")]
    Settings(String),
    /// Anything else, already phrased for the user.
    #[error("{0}")]
    Message(String),
}

impl Error {
    pub fn msg(s: impl Into<String>) -> Self {
        Error::Message(s.into())
    }

    /// A `help:` line naming the flag, key or command to try next.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Client(e) => e.hint(),
            Error::Server { source, .. } => source.hint(),
            Error::Held(h) => Some(h.hint.clone()),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Message(e.to_string())
    }
}
