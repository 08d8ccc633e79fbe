//! What `cdcform status` reports: server, owner, health, captures, and per changefeed its state,
//! checkpoint, lag, captures, table count and error, with the problems that make the command
//! exit 1 (an unhealthy cluster, a managed changefeed `failed` or `warning`). Rendered by
//! `render::status`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::settings::{manages, Settings};
use crate::ticdc::models::{tso_physical_ms, Capture};
use crate::ticdc::Client;
use crate::Error;

#[derive(Debug, Clone, Serialize)]
pub struct ChangefeedRow {
    pub namespace: String,
    pub id: String,
    pub state: String,
    pub checkpoint_ts: u64,
    pub checkpoint_time: String,
    pub lag_seconds: f64,
    pub captures: Vec<String>,
    /// Physical tables (a partition counts as one) the processors replicate: classic servers
    /// only (`GET /processors/{id}/{capture}` → `table_ids`); None when unknown.
    pub tables: Option<usize>,
    pub error: Option<String>,
    pub managed: bool,
}

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub server: String,
    pub version: String,
    pub healthy: bool,
    pub health_error: Option<String>,
    pub owner: Option<Capture>,
    pub captures: Vec<Capture>,
    pub changefeeds: Vec<ChangefeedRow>,
    pub problems: Vec<String>,
    /// Whether cdcform.toml says what is managed (without it, every changefeed counts).
    #[serde(skip)]
    pub manage_set: bool,
}

/// Which changefeeds a status report covers.
#[derive(Default)]
pub struct StatusFilter {
    pub ids: Option<crate::settings::IdGlobs>,
    pub managed_only: bool,
}

impl StatusFilter {
    fn keeps(&self, settings: &Settings, id: &str) -> bool {
        self.ids.as_ref().is_none_or(|g| g.is_match(id))
            && (!self.managed_only || manages(settings.manage.as_ref(), id))
    }
}

pub async fn collect(
    settings: &Settings,
    client: &Client,
    filter: &StatusFilter,
) -> Result<StatusReport, Error> {
    let err = |what: &str, e: crate::ticdc::ClientError| match e {
        e @ crate::ticdc::ClientError::Transport { .. } => Error::Client(e),
        source => Error::Server {
            what: what.to_string(),
            server: client.base_url().to_string(),
            source: Box::new(source),
        },
    };
    // Only the changefeeds shown are decoded: on a shared cluster the rest cost their bytes.
    let keep = |id: &str| filter.keeps(settings, id);
    let keep = (filter.ids.is_some() || filter.managed_only).then_some(&keep as _);
    // Rows chosen by a filter learn their captures from their processors, asked one by one
    // (see `table_counts`): the list of every processor grows with the cluster, not with them.
    let filtered = keep.is_some();
    let processors = async {
        if filtered {
            Ok(Vec::new())
        } else {
            client.list_processors().await
        }
    };
    let (status, health, captures, processors, tso, list) = tokio::join!(
        client.status(),
        client.health(),
        client.list_captures(),
        processors,
        client.tso(),
        client.list_where(&settings.namespace, Some("all"), keep, false),
    );
    let status = status.map_err(|e| err("reading /api/v2/status", e))?;
    let captures = captures.map_err(|e| err("listing captures", e))?;
    let now = tso
        .map(|t| t.compose())
        .map_err(|e| err("reading the TSO", e))?;
    let list = list.map_err(|e| err("listing changefeeds", e))?;
    let processors = processors.unwrap_or_default();
    let mut by_cf: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for p in &processors {
        by_cf
            .entry(p.changefeed_id.as_str())
            .or_default()
            .push(p.capture_id.clone());
    }
    let mut problems = Vec::new();
    let (healthy, health_error) = match health {
        Ok(()) => (true, None),
        Err(e) => {
            problems.push(format!("the cluster is unhealthy: {}", e.brief()));
            (false, Some(e.brief()))
        }
    };
    let mut rows: Vec<ChangefeedRow> = list
        .kept
        .iter()
        .map(|i| {
            let managed = manages(settings.manage.as_ref(), &i.id);
            let lag_ms = if i.checkpoint_tso == 0 {
                0
            } else {
                tso_physical_ms(now).saturating_sub(tso_physical_ms(i.checkpoint_tso))
            };
            let error = i
                .error
                .as_ref()
                .map(|e| format!("{}: {}", e.code, crate::ticdc::error::scrub(&e.message)));
            if managed && (i.state == "failed" || i.state == "warning") {
                problems.push(format!(
                    "changefeed {}/{} is {}{}",
                    settings.namespace,
                    i.id,
                    i.state,
                    error
                        .as_ref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                ));
            }
            ChangefeedRow {
                namespace: settings.namespace.clone(),
                id: i.id.clone(),
                state: i.state.clone(),
                checkpoint_ts: i.checkpoint_tso,
                checkpoint_time: i.checkpoint_time.clone(),
                lag_seconds: lag_ms as f64 / 1000.0,
                captures: by_cf.get(i.id.as_str()).cloned().unwrap_or_default(),
                tables: None,
                error,
                managed,
            }
        })
        .collect();
    // The new architecture has no processors to ask (see `table_counts`).
    let probe = (filtered && !list.keyspaced).then_some(captures.as_slice());
    table_counts(settings, client, &mut rows, probe).await;
    Ok(StatusReport {
        server: settings.server.clone(),
        version: status.version,
        healthy,
        health_error,
        owner: captures.iter().find(|c| c.is_owner).cloned(),
        captures,
        changefeeds: rows,
        problems,
        manage_set: settings.manage.is_some(),
    })
}

/// Each running managed changefeed's table count, from its processors' `table_ids` (tiflow
/// cdc/api/v2/processor.go `getProcessor`), at most `parallelism` requests at once. The new
/// architecture lists no processors (its only per-table listing, ticdc api/v2 `ListTables`, is an
/// internal API), so its rows stay unknown.
///
/// With `probe` (rows chosen by a filter, captures not listed) every running row is asked of
/// every capture, and the captures that answer with tables are its captures: `getProcessor`
/// answers `"table_ids": null` for a capture that runs processors of other changefeeds only,
/// and `ErrCaptureNotExist` for one that runs none. It costs the listed path's requests for the
/// same rows plus one per capture that holds none of a row's tables: TiCDC balances a
/// changefeed's tables over the captures, and each capture that holds some runs a processor.
async fn table_counts(
    settings: &Settings,
    client: &Client,
    rows: &mut [ChangefeedRow],
    probe: Option<&[Capture]>,
) {
    use futures::StreamExt;
    let jobs: Vec<(usize, String, String)> = rows
        .iter()
        .enumerate()
        .flat_map(|(i, r)| {
            let captures: Vec<String> = match probe {
                Some(all) if matches!(r.state.as_str(), "normal" | "warning") => {
                    all.iter().map(|c| c.id.clone()).collect()
                }
                Some(_) => Vec::new(),
                // A shared cluster: only this repository's changefeeds (one request per processor).
                None if r.managed => r.captures.clone(),
                None => Vec::new(),
            };
            captures.into_iter().map(move |c| (i, r.id.clone(), c))
        })
        .collect();
    let ns = settings.namespace.as_str();
    enum Answer {
        Tables(Vec<i64>),
        /// No processor of the changefeed on this capture.
        NotHere,
        Unknown,
    }
    let answers: Vec<(usize, String, Answer)> = futures::stream::iter(jobs)
        .map(|(i, id, cap)| async move {
            let got = match client.processor_detail(ns, &id, &cap).await {
                Ok(d) => d.table_ids.map_or(Answer::NotHere, Answer::Tables),
                Err(e) if e.code() == Some(crate::ticdc::error::codes::CAPTURE_NOT_EXIST) => {
                    Answer::NotHere
                }
                Err(_) => Answer::Unknown,
            };
            (i, cap, got)
        })
        .buffer_unordered(settings.parallelism.max(1))
        .collect()
        .await;
    let mut ids: BTreeMap<usize, Option<std::collections::BTreeSet<i64>>> = BTreeMap::new();
    for (i, cap, got) in answers {
        match got {
            // Probing: a capture without this changefeed's processor.
            Answer::NotHere if probe.is_some() => {}
            Answer::Tables(tables) => {
                if probe.is_some() {
                    rows[i].captures.push(cap);
                }
                if let Some(set) = ids.entry(i).or_insert_with(|| Some(Default::default())) {
                    set.extend(tables);
                }
            }
            // An error, or a listed processor that says it has no task: the count is unknown.
            Answer::NotHere | Answer::Unknown => {
                ids.insert(i, None);
            }
        }
    }
    for (i, set) in ids {
        rows[i].captures.sort();
        rows[i].tables = set.map(|s| s.len());
    }
}
