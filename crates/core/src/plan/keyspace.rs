//! Keyspaces before planning against a new-architecture TiCDC: on the classic kernel (every
//! self-hosted cluster) a changefeed can only live in `default`, so a manifest naming another
//! namespace would be created in `default` and planned as a create forever; on the next-gen
//! kernel every keyspace a plan reads must exist. Detection: `ticdc::kernel`.

use std::collections::BTreeSet;

use crate::manifest::DesiredChangefeed;
use crate::ticdc::kernel::{is_missing_keyspace, Probe};
use crate::ticdc::{Arch, Client};
use crate::Error;

/// Probe the server once and refuse what cannot work: a non-default namespace on a
/// classic-kernel new-architecture server, or a keyspace that does not exist on next-gen.
/// Any other failure is left to the live read, which reports it in context.
pub async fn preflight(
    client: &Client,
    desired: &[DesiredChangefeed],
    default_ns: &str,
    namespaces: &BTreeSet<String>,
) -> Result<(), Error> {
    // Only `default`: nothing a kernel could refuse up front, and no extra round trip (a
    // next-gen server without keyspace `default` is reported by the live read itself).
    if namespaces.iter().all(|n| n == "default") {
        return Ok(());
    }
    let probe = match client.probe_kernel().await {
        Ok(p) => p,
        Err(_) => return Ok(()),
    };
    match probe {
        Probe::NextGen => missing_keyspaces(client, desired, default_ns, namespaces).await,
        Probe::Listed { newarch } => {
            let newarch = match newarch {
                Some(n) => n,
                // An empty list: only classic (tiflow) servers have the meta_info route.
                None => matches!(
                    client.meta_info("default", "cdcform-probe").await,
                    Err(crate::ticdc::ClientError::Api { status: 404, .. })
                ),
            };
            if newarch {
                client.set_arch(Arch::Newarch);
                return classic_kernel(desired, default_ns, namespaces);
            }
            Ok(())
        }
    }
}

fn ns_of<'a>(d: &'a DesiredChangefeed, default_ns: &'a str) -> &'a str {
    d.namespace.as_deref().unwrap_or(default_ns)
}

/// The changefeeds (file:line and id) that use namespace `ns`.
fn users(desired: &[DesiredChangefeed], default_ns: &str, ns: &str) -> Vec<String> {
    desired
        .iter()
        .filter(|d| ns_of(d, default_ns) == ns)
        .map(|d| format!("  {}: changefeed `{}`", d.location, d.id))
        .collect()
}

fn classic_kernel(
    desired: &[DesiredChangefeed],
    default_ns: &str,
    namespaces: &BTreeSet<String>,
) -> Result<(), Error> {
    let other: Vec<&String> = namespaces.iter().filter(|n| *n != "default").collect();
    if other.is_empty() {
        return Ok(());
    }
    let mut lines = vec![format!(
        "cannot plan namespace(s) {} on this server: it is a new-architecture TiCDC with the classic kernel, \
         which ignores the keyspace and keeps every changefeed in `default` (a changefeed created for `{}` \
         would land in `default` and be planned as a create again on every run)",
        other.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
        other[0]
    )];
    for ns in &other {
        lines.extend(users(desired, default_ns, ns));
    }
    lines.push(
        "help: remove `namespace:` from these manifests (or set it to `default`) and do not pass \
         `--namespace`; keyspaces other than `default` exist only on next-generation TiCDC kernels"
            .into(),
    );
    Err(Error::msg(lines.join("\n")))
}

async fn missing_keyspaces(
    client: &Client,
    desired: &[DesiredChangefeed],
    default_ns: &str,
    namespaces: &BTreeSet<String>,
) -> Result<(), Error> {
    let mut missing = Vec::new();
    for ns in namespaces {
        if let Err(e) = client.list_changefeeds(ns, Some("all")).await {
            if is_missing_keyspace(&e) {
                missing.push(ns.clone());
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let mut lines = vec![format!(
        "keyspace(s) {} do not exist on this next-generation TiCDC (it answers `CDC:ErrAPIInvalidParam` \
         \"keyspace … does not exist\")",
        missing.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
    )];
    for ns in &missing {
        let u = users(desired, default_ns, ns);
        if u.is_empty() {
            lines.push(format!(
                "  `{ns}` is the default namespace (`--namespace` / cdcform.toml)"
            ));
        }
        lines.extend(u);
    }
    lines.push(
        "help: set `namespace:` (or `--namespace`) to an existing keyspace, or create the keyspace first"
            .into(),
    );
    Err(Error::msg(lines.join("\n")))
}
