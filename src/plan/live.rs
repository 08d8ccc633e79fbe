//! Reading the live cluster for plan and apply: server profile, current TSO, and every
//! changefeed of the namespaces involved (list, then one GET each, `parallelism` at a time).
//! On classic servers the GET is `meta_info`, which is GET plus the unmasked sink URI: one
//! round trip per changefeed either way. The unmasked URI stays in memory.

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt, TryStreamExt};

use crate::plan::planner::LiveChangefeed;
use crate::plan::saved::fingerprint;
use crate::plan::Key;
use crate::ticdc::mask::mask_sink_uri;
use crate::ticdc::models::ChangefeedCommonInfo;
use crate::ticdc::{Arch, Client, ClientError, ServerProfile, Version};
use crate::Error;

pub struct Snapshot {
    pub profile: ServerProfile,
    pub now_tso: u64,
    /// The changefeeds read in full (GET or meta_info).
    pub changefeeds: BTreeMap<Key, LiveChangefeed>,
    /// The changefeeds known from the list alone: outside the read's scope, their configs were
    /// never fetched (a shared cluster holds many that are not this repository's).
    pub listed_only: Vec<Key>,
}

/// Which listed changefeeds to read in full; `None` reads every one.
pub type Wanted<'a> = Option<&'a (dyn Fn(&Key) -> bool + Sync)>;

fn server_error(client: &Client, what: &str, e: ClientError) -> Error {
    match e {
        e @ ClientError::Transport { .. } => Error::Client(e),
        other => Error::msg(format!(
            "{what} on {}: {}",
            client.base_url(),
            other.brief()
        )),
    }
}

async fn list_all(
    client: &Client,
    namespaces: &BTreeSet<String>,
) -> Result<Vec<(String, ChangefeedCommonInfo)>, Error> {
    let mut out = Vec::new();
    for ns in namespaces {
        let items = client
            .list_changefeeds(ns, Some("all"))
            .await
            .map_err(|e| {
                server_error(client, &format!("listing changefeeds of namespace {ns}"), e)
            })?;
        out.extend(items.into_iter().map(|i| (ns.clone(), i)));
    }
    Ok(out)
}

/// Detect the server profile and read the live changefeeds.
/// Decides, right after a changefeed was read, that it needs no work (see [`read_settling`]).
pub type Settle<'a> =
    &'a (dyn Fn(&ServerProfile, u64, &Key, &LiveChangefeed) -> Option<Vec<String>> + Sync);

pub async fn read(
    client: &Client,
    namespaces: &BTreeSet<String>,
    parallelism: usize,
    wanted: Wanted<'_>,
) -> Result<Snapshot, Error> {
    read_settling(client, namespaces, parallelism, None, wanted).await
}

/// [`read`], planning each changefeed as soon as it arrives: one with nothing to do keeps its
/// fingerprint and notes but drops its config, so memory grows with the changes, not the cluster.
pub async fn read_settling(
    client: &Client,
    namespaces: &BTreeSet<String>,
    parallelism: usize,
    settle: Option<Settle<'_>>,
    wanted: Wanted<'_>,
) -> Result<Snapshot, Error> {
    // Status, TSO and the list in one round trip.
    let (status, tso, mut listed) =
        tokio::join!(client.status(), client.tso(), list_all(client, namespaces));
    let status = status.map_err(|e| server_error(client, "reading /api/v2/status", e))?;
    let version = Version::parse(&status.version).unwrap_or(Version::new(8, 5, 0));
    let now_tso = tso
        .map(|t| t.compose())
        .map_err(|e| server_error(client, "reading the current TSO", e))?;
    let mut items = listed?;
    let arch = if items.iter().any(|(_, i)| i.keyspace.is_some()) {
        Arch::Newarch
    } else if items.is_empty() {
        // No changefeed to look at: only classic servers have the meta_info route.
        let probe = client.meta_info("default", "cdcform-probe").await;
        match probe {
            Err(ClientError::Api { status: 404, .. }) => Arch::Newarch,
            _ => Arch::Classic,
        }
    } else {
        Arch::Classic
    };
    if arch != client.arch() {
        client.set_arch(arch);
        listed = list_all(client, namespaces).await;
        items = listed?;
    }
    let profile = ServerProfile {
        arch,
        version,
        raw_version: status.version.clone(),
    };
    // Outside the scope: the key from the list is all that is kept.
    let mut listed_only = Vec::new();
    let items: Vec<(String, ChangefeedCommonInfo)> = items
        .into_iter()
        .filter(|(ns, item)| {
            let key = Key {
                namespace: ns.clone(),
                id: item.id.clone(),
            };
            let keep = wanted.is_none_or(|w| w(&key));
            if !keep {
                listed_only.push(key);
            }
            keep
        })
        .collect();
    let fetched: Vec<Option<(Key, LiveChangefeed)>> =
        stream::iter(items.into_iter().map(|(ns, item)| {
            let profile = &profile;
            async move {
                let key = Key {
                    namespace: ns.clone(),
                    id: item.id.clone(),
                };
                let res = if profile.has_meta_info() {
                    client.meta_info(&ns, &item.id).await
                } else {
                    client.get_changefeed(&ns, &item.id).await
                };
                match res {
                    Ok(mut info) => {
                        let raw = if profile.has_meta_info() {
                            let raw = std::mem::take(&mut info.sink_uri);
                            info.sink_uri =
                                mask_sink_uri(&raw).unwrap_or_else(|_| "<invalid uri>".into());
                            Some(raw)
                        } else {
                            None
                        };
                        let mut l = LiveChangefeed {
                            info,
                            raw_sink_uri: raw,
                            ..Default::default()
                        };
                        l.fingerprint = Some(fingerprint(Some(&l)));
                        if let Some(notes) = settle.and_then(|f| f(profile, now_tso, &key, &l)) {
                            l.settled = Some(notes);
                            l.info.config = None;
                        }
                        Ok(Some((key, l)))
                    }
                    // Removed between the list and the GET: it is gone.
                    Err(e) if e.is_not_found() => Ok(None),
                    Err(e) => Err(server_error(
                        client,
                        &format!("reading changefeed {key}"),
                        e,
                    )),
                }
            }
        }))
        .buffer_unordered(parallelism.max(1))
        .try_collect()
        .await?;
    Ok(Snapshot {
        profile,
        now_tso,
        changefeeds: fetched.into_iter().flatten().collect(),
        listed_only,
    })
}
