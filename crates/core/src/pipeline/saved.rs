//! A saved plan is one document with a part per cluster, whether one cluster was planned or
//! several: each part names its cluster, so `apply PLAN` needs nothing else. Files written by
//! earlier versions (one cluster's plan alone, or the several-cluster kind) still read.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{gate, ClusterPlan, Held, Ready};
use crate::plan::pipeline::{recheck, saved_plan, write_file};
use crate::plan::saved::{SavedPlan, KIND};
use crate::plan::PlanOptions;
use crate::policy::changed_files;
use crate::settings::Settings;
use crate::ticdc::Client;
use crate::Error;

/// The version of the document (each part keeps the version of its own plan).
pub const DOC_VERSION: u32 = 2;

/// `"kind"` of the several-cluster files earlier versions wrote.
pub const LEGACY_FLEET_KIND: &str = "cdcform-fleet-plan";

/// A saved plan: a part per cluster.
#[derive(Debug, Serialize, Deserialize)]
pub struct SavedDoc {
    pub kind: String,
    pub format_version: u32,
    pub clusters: Vec<SavedPart>,
}

/// One cluster's saved plan.
#[derive(Debug, Serialize, Deserialize)]
pub struct SavedPart {
    /// The cluster of cdcform.toml it was planned for; `None` when none was used (a bare
    /// `--server`, or a file of an earlier version that did not record it).
    pub name: Option<String>,
    pub plan: SavedPlan,
}

/// Save one plan file for every cluster; refused (nothing written) when a cluster could not be
/// planned, since applying the file would then silently skip it.
pub fn save(path: &Path, plans: &[ClusterPlan], o: &PlanOptions) -> Result<(), Error> {
    let mut clusters = Vec::new();
    for p in plans {
        let planned = p.outcome.as_ref().map_err(|e| {
            Error::msg(format!(
                "the plan was not saved: cluster `{}` could not be planned ({e})",
                p.name
            ))
        })?;
        clusters.push(SavedPart {
            name: planned.settings.cluster.clone(),
            plan: saved_plan(
                &planned.plan,
                &planned.snapshot,
                &planned.desired,
                &planned.settings,
                o,
            )?,
        });
    }
    let doc = SavedDoc {
        kind: KIND.into(),
        format_version: DOC_VERSION,
        clusters,
    };
    write_file(
        path,
        &serde_json::to_string_pretty(&doc).unwrap_or_default(),
    )
}

/// Whether a single path names a saved plan: JSON whose `"kind"` is a plan's (manifests are
/// YAML, and a YAML manifest never starts with `{`).
pub fn is_saved_plan(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    let mut head = [0u8; 256];
    let Ok(n) = std::fs::File::open(path).and_then(|mut f| std::io::Read::read(&mut f, &mut head))
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&head[..n]);
    text.trim_start().starts_with('{') && [KIND, LEGACY_FLEET_KIND].iter().any(|k| text.contains(k))
}

/// Read a saved plan of any version.
pub fn read(path: &Path) -> Result<SavedDoc, Error> {
    let label = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::msg(format!("cannot read {label}: {e}")))?;
    parse(&text).map_err(|e| Error::msg(format!("{label}: {e}")))
}

/// Parse a saved plan of any version.
pub fn parse(text: &str) -> Result<SavedDoc, String> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| format!("not a cdcform plan file: {e}"))?;
    let kind = v
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let version = v.get("format_version").and_then(Value::as_u64).unwrap_or(0);
    match (kind.as_str(), v.get("clusters").is_some()) {
        // One cluster's plan alone (format_version 1): the part does not know its cluster.
        (KIND, false) => Ok(SavedDoc {
            kind: KIND.into(),
            format_version: DOC_VERSION,
            clusters: vec![SavedPart {
                name: None,
                plan: SavedPlan::from_value(v)?,
            }],
        }),
        (KIND, true) if version != DOC_VERSION as u64 => Err(format!(
            "plan file format_version {version} is not supported (this cdcform reads 1 and {DOC_VERSION})"
        )),
        (KIND | LEGACY_FLEET_KIND, true) => {
            let doc: SavedDoc =
                serde_json::from_value(v).map_err(|e| format!("malformed plan file: {e}"))?;
            for part in &doc.clusters {
                // Each part is checked as a plan file of its own is.
                part.plan.check()?;
            }
            Ok(doc)
        }
        _ => Err(format!(
            "not a cdcform plan file (no \"kind\": \"{KIND}\")"
        )),
    }
}

/// A part of a saved plan checked again against its cluster.
pub struct Rechecked {
    pub name: String,
    pub server: String,
    pub settings: Settings,
    pub client: Client,
    pub plan: crate::plan::Plan,
    /// Policy files changed since the plan was made (their rules were evaluated again).
    pub changed_policies: Vec<String>,
    pub held: Option<Held>,
}

impl Rechecked {
    pub fn ready(self) -> Ready {
        Ready {
            name: self.name,
            client: self.client,
            parallelism: self.settings.parallelism,
            plan: self.plan,
        }
    }
}

/// Re-check every part against its cluster, concurrently: re-read what it read, plan again,
/// re-evaluate the policies in force now (cdcform.toml and flags) together with those the
/// plan recorded, and ask the gate. `resolve` gives a part its settings (its cluster's, now).
/// The whole file is refused, changing nothing anywhere, when any part cannot be re-checked
/// or is held.
pub async fn recheck_all(
    doc: &SavedDoc,
    label: &str,
    resolve: &(dyn Fn(&SavedPart) -> Result<Settings, Error> + Sync),
    pause_budget: std::time::Duration,
) -> Result<Vec<Rechecked>, (Vec<Rechecked>, Error)> {
    let several = doc.clusters.len() > 1;
    let checks = doc.clusters.iter().map(|part| async move {
        let settings = resolve(part)?;
        let name = settings.cluster.clone().unwrap_or_else(|| "default".into());
        let client = Client::new(settings.client.clone())?;
        let label = match several {
            true => format!("{label} (cluster {name})"),
            false => label.to_string(),
        };
        let r = recheck(&part.plan, &label, &settings, &client, pause_budget).await?;
        let mut plan = r.plan;
        // The policies in force now, and those the plan was made with (a file dropped from
        // cdcform.toml since still holds: what was reviewed stays checked).
        let recorded = r.saved_policy.map(|p| p.files).unwrap_or_default();
        let mut policy = settings.policy_options();
        for f in &recorded {
            let p = std::path::PathBuf::from(&f.path);
            if !policy.paths.contains(&p) {
                policy.paths.push(p);
            }
        }
        crate::plan::pipeline::check_policy(&settings, &policy, &mut plan, &r.snap, &r.desired)?;
        let changed_policies = plan
            .policy
            .as_ref()
            .map(|now| changed_files(&recorded, &now.files))
            .unwrap_or_default();
        let held = gate(&plan);
        Ok::<_, Error>(Rechecked {
            name,
            server: super::shown_server(&settings.server),
            settings,
            client,
            plan,
            changed_policies,
            held,
        })
    });
    let results = futures::future::join_all(checks).await;
    let mut ready = Vec::new();
    let mut refused = Vec::new();
    for (part, r) in doc.clusters.iter().zip(results) {
        let name = part.name.as_deref().unwrap_or("default");
        match r {
            Ok(r) => {
                if let Some(h) = &r.held {
                    refused.push((name.to_string(), Error::Held(h.clone())));
                }
                ready.push(r);
            }
            Err(e) => refused.push((name.to_string(), e)),
        }
    }
    match refused.len() {
        0 => Ok(ready),
        // One part: its own error, as a plan of one cluster would give it.
        1 if !several => Err((ready, refused.remove(0).1)),
        _ => {
            let lines: Vec<String> = refused
                .iter()
                .map(|(name, e)| match e.hint() {
                    Some(h) => format!("cluster {name}: {e}\n    help: {h}"),
                    None => format!("cluster {name}: {e}"),
                })
                .collect();
            Err((
                ready,
                Error::msg(format!(
                    "{label}: refused whole, nothing was changed on any cluster:\n  {}",
                    lines.join("\n  ")
                )),
            ))
        }
    }
}
