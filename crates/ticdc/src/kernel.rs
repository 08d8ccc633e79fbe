//! Which kernel a new-architecture TiCDC runs, told from its answers (pingcap/ticdc
//! `pkg/config/kerneltype`; nothing in `/api/v2/status` says it): a `GET /api/v2/changefeeds`
//! without a `keyspace` parameter is refused by the next-gen kernel (400 `ErrAPIInvalidParam`
//! "missing required query parameter keyspace…", api/middleware `KeyspaceCheckerMiddleware`)
//! and answered by the classic kernel, which lists keyspace `default` whatever is asked.

use super::error::codes;
use super::{Arch, Client, ClientError};

/// The kernel of a new-architecture server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Every self-hosted cluster: one keyspace, `default`; the parameter is ignored.
    Classic,
    /// Next generation: the keyspace parameter is required and must exist.
    NextGen,
}

/// What one unscoped list call tells about the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// The next-gen kernel (new architecture).
    NextGen,
    /// A list came back; `newarch` when an item carries `keyspace` (None: no item to tell by).
    Listed { newarch: Option<bool> },
}

/// Whether an API error is the next-gen kernel's "this keyspace does not exist".
pub fn is_missing_keyspace(e: &ClientError) -> bool {
    matches!(e, ClientError::Api { status: 400, code, message, .. }
        if code == codes::API_INVALID_PARAM && message.contains("does not exist") && message.contains("keyspace"))
}

/// Whether an API error is the next-gen kernel's "missing required query parameter keyspace".
pub fn is_keyspace_required(e: &ClientError) -> bool {
    matches!(e, ClientError::Api { status: 400, message, .. }
        if message.contains("missing required query parameter keyspace"))
}

impl Client {
    /// `GET /api/v2/changefeeds` without a scope parameter. On a next-gen answer the client
    /// switches to `keyspace=` parameters, so that every later request names the keyspace.
    pub async fn probe_kernel(&self) -> Result<Probe, ClientError> {
        match self.list_unscoped().await {
            Err(e) if is_keyspace_required(&e) => {
                self.set_arch(Arch::Newarch);
                Ok(Probe::NextGen)
            }
            Err(e) => Err(e),
            Ok(v) => {
                let first = v
                    .get("items")
                    .and_then(|i| i.as_array())
                    .and_then(|a| a.first())
                    .map(|item| item.get("keyspace").is_some());
                Ok(Probe::Listed { newarch: first })
            }
        }
    }
}
