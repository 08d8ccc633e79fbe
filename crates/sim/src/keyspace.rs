//! Keyspaces on the new architecture, decided by the kernel the server is built for
//! (pingcap/ticdc `pkg/config/kerneltype`): the classic kernel (every self-hosted cluster)
//! ignores the `keyspace` query parameter and body field and keeps everything in `default`
//! (`GetKeyspaceValueWithDefault` in api/v2/changefeed.go, `KeyspaceCheckerMiddleware` in
//! api/middleware/middleware.go, both short-circuit on `kerneltype.IsClassic()`); the next-gen
//! kernel requires the parameter and it must name an existing keyspace.

use std::collections::HashMap;

use axum::http::Method;

use super::config::ApiErr;
use super::{SimConfig, SimKernel};

/// The scope a request acts on: tiflow's `namespace` parameter (default "default"); on the
/// new architecture `default` for the classic kernel, the `keyspace` parameter for next-gen.
pub fn scope(cfg: &SimConfig, q: &HashMap<String, String>) -> String {
    let key = if cfg.profile.is_classic() {
        "namespace"
    } else if cfg.kernel == SimKernel::Classic {
        return "default".into();
    } else {
        "keyspace"
    };
    q.get(key)
        .filter(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| "default".into())
}

/// Routes behind `KeyspaceCheckerMiddleware` (pingcap/ticdc api/v2/api.go `RegisterOpenAPIV2Routes`):
/// the changefeed routes and the unsafe group.
fn checked(method: &Method, path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/api/v2/") else {
        return false;
    };
    if rest.starts_with("unsafe/") {
        return true;
    }
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    match parts.as_slice() {
        ["changefeeds"] => *method == Method::GET || *method == Method::POST,
        ["changefeeds", _] => true,
        ["changefeeds", _, op] => matches!(*op, "pause" | "resume" | "status" | "synced"),
        _ => false,
    }
}

/// The next-gen kernel's keyspace check: 400 `ErrAPIInvalidParam` when the parameter is
/// missing or names no existing keyspace. The classic kernel and tiflow check nothing.
pub fn check(
    cfg: &SimConfig,
    method: &Method,
    path: &str,
    query: Option<&str>,
) -> Result<(), ApiErr> {
    let SimKernel::NextGen { keyspaces } = &cfg.kernel else {
        return Ok(());
    };
    if cfg.profile.is_classic() || !checked(method, path) {
        return Ok(());
    }
    let ks = query
        .map(crate::ticdc::mask::parse_query)
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k == "keyspace")
        .map(|(_, v)| v)
        .unwrap_or_default();
    if ks.is_empty() {
        return Err(ApiErr::invalid_param(
            "missing required query parameter keyspace, please specify --keyspace or -k",
        ));
    }
    if !keyspaces.contains(&ks) {
        return Err(ApiErr::invalid_param(format!(
            "keyspace {ks:?} does not exist, please check --keyspace or -k"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_routes() {
        assert!(checked(&Method::GET, "/api/v2/changefeeds"));
        assert!(checked(&Method::POST, "/api/v2/changefeeds"));
        assert!(checked(&Method::DELETE, "/api/v2/changefeeds/a"));
        assert!(checked(&Method::POST, "/api/v2/changefeeds/a/resume"));
        assert!(checked(&Method::GET, "/api/v2/unsafe/metadata"));
        assert!(!checked(&Method::GET, "/api/v2/captures"));
        assert!(!checked(&Method::GET, "/api/v2/status"));
        assert!(!checked(&Method::GET, "/api/v2/changefeeds/a/meta_info"));
    }
}
