//! Table impact: for each create, and each update that changes what is replicated, ask the
//! server (`POST /api/v2/verify_table`) which tables the live and the desired config select, and
//! attach the difference to the plan entry. cdcform never evaluates filter rules itself.

use std::collections::BTreeSet;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::plan::{Action, Blocked, Entry, Plan};
use crate::ticdc::models::{ChangefeedConfig, TableName, TablesResponse};
use crate::ticdc::Client;

/// What a change does to the set of replicated tables (`entries[].tables` in JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TableImpact {
    /// Tables replicated before (0 for a create); absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<usize>,
    /// `db.table` names the change starts replicating.
    #[serde(default)]
    pub added: Vec<String>,
    /// `db.table` names the change stops replicating.
    #[serde(default)]
    pub removed: Vec<String>,
    /// Tables the desired filter selects that have neither a primary key nor a not-null unique
    /// key.
    #[serde(default)]
    pub ineligible: Vec<String>,
    /// How many of the `after` tables are partitioned. The counts are of tables as
    /// `verify_table` names them (tiflow v8.5.0 cdc/api/v2/changefeed.go `verifyTable`: one entry
    /// per table, `is_partition` set on a partitioned one), so a partitioned table counts once,
    /// where `status` counts the physical tables TiCDC schedules (each partition).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub partitioned: usize,
    /// Why the impact is unknown (verify_table failed); the plan itself is still valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
}

/// Replica-config keys that decide which tables a changefeed replicates (or refuses).
const TABLE_KEYS: &[(&str, &str)] = &[
    ("filter", "rules"),
    ("filter", "do_dbs"),
    ("filter", "ignore_dbs"),
    ("filter", "do_tables"),
    ("filter", "ignore_tables"),
    ("", "case_sensitive"),
    ("", "force_replicate"),
    ("", "ignore_ineligible_table"),
];

fn key_value<'a>(cfg: Option<&'a Value>, (parent, key): (&str, &str)) -> Option<&'a Value> {
    let cfg = cfg?;
    let v = if parent.is_empty() {
        cfg.get(key)
    } else {
        cfg.get(parent)?.get(key)
    };
    v.filter(|v| !v.is_null())
}

/// Whether two configs differ in what they replicate (absent = the server default).
fn table_keys_differ(live: Option<&Value>, desired: Option<&Value>) -> bool {
    TABLE_KEYS.iter().any(|k| {
        let norm = |v: Option<&Value>| -> Value {
            match (k.1, v) {
                ("rules", None) => json!(["*.*"]),
                ("rules", Some(Value::Array(a))) if a.is_empty() => json!(["*.*"]),
                (_, None) if k.0.is_empty() => json!(false),
                (_, None) => json!([]),
                (_, Some(v)) => v.clone(),
            }
        };
        norm(key_value(live, *k)) != norm(key_value(desired, *k))
    })
}

fn flag(cfg: Option<&Value>, key: &str) -> bool {
    key_value(cfg, ("", key))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// One verify_table call to make: which entry, which side.
struct Job {
    entry: usize,
    live_side: bool,
    body: ChangefeedConfig,
}

/// The verify_table body: only what decides the tables (the `filter` object and the three
/// flags), so no sink secret travels in it, and configs that differ elsewhere share one call.
/// No `sink_uri`: without a scheme the server skips its dispatcher checks (tiflow
/// cdc/api/v2/api_helpers.go `getVerifiedTables` checks those for MQ sinks only).
fn body(cfg: Option<&Value>, start_ts: u64) -> ChangefeedConfig {
    let mut rc = serde_json::Map::new();
    for key in [
        "filter",
        "case_sensitive",
        "force_replicate",
        "ignore_ineligible_table",
    ] {
        if let Some(v) = cfg.and_then(|c| c.get(key)).filter(|v| !v.is_null()) {
            rc.insert(key.into(), v.clone());
        }
    }
    ChangefeedConfig {
        start_ts,
        replica_config: Some(Value::Object(rc)),
        ..ChangefeedConfig::default()
    }
}

/// The verify_table calls a plan needs: desired side for creates; both sides for replaces and
/// for updates whose table-deciding keys changed.
fn jobs(plan: &Plan) -> Vec<Job> {
    let mut out = Vec::new();
    for (i, e) in plan.entries.iter().enumerate() {
        let Some(x) = &e.exec else { continue };
        match e.action {
            Action::Create { .. } => {
                let start = x.desired.as_ref().and_then(|d| d.start_ts).unwrap_or(0);
                out.push(Job {
                    entry: i,
                    live_side: false,
                    body: body(x.config.as_ref(), start),
                });
            }
            // A replace creates anew: always asked, with the old tables as `before`.
            Action::Replace => both_sides(&mut out, i, x),
            Action::Update { .. }
                if table_keys_differ(x.live_config.as_ref(), x.config.as_ref()) =>
            {
                both_sides(&mut out, i, x)
            }
            _ => {}
        }
    }
    out
}

fn both_sides(out: &mut Vec<Job>, entry: usize, x: &crate::plan::Exec) {
    for live_side in [true, false] {
        let cfg = if live_side { &x.live_config } else { &x.config };
        out.push(Job {
            entry,
            live_side,
            body: body(cfg.as_ref(), 0),
        });
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn names(ts: &Option<Vec<TableName>>) -> BTreeSet<String> {
    ts.iter()
        .flatten()
        .map(|t| format!("{}.{}", t.database_name, t.table_name))
        .collect()
}

/// The tables a config replicates: the eligible ones, and the ineligible ones too under
/// `force_replicate` (with `ignore_ineligible_table` they are skipped).
fn replicated(r: &TablesResponse, cfg: Option<&Value>) -> BTreeSet<String> {
    let mut s = names(&r.eligible_tables);
    if flag(cfg, "force_replicate") {
        s.extend(names(&r.ineligible_tables));
    }
    s
}

type Answer = Result<TablesResponse, String>;

/// Ask the server for every job, at most `parallelism` calls at once. Jobs with the same body
/// (many changefeeds share a filter) share one call: the answer depends on the body only.
async fn ask(client: &Client, jobs: Vec<Job>, parallelism: usize) -> Vec<(Job, Answer)> {
    let mut index: std::collections::HashMap<String, usize> = Default::default();
    let mut unique: Vec<&ChangefeedConfig> = Vec::new();
    let mut slot_of: Vec<usize> = Vec::with_capacity(jobs.len());
    for j in &jobs {
        let key = serde_json::to_string(&j.body).unwrap_or_default();
        let slot = *index.entry(key).or_insert_with(|| {
            unique.push(&j.body);
            unique.len() - 1
        });
        slot_of.push(slot);
    }
    let mut answers: Vec<(usize, Answer)> = futures::stream::iter(unique.into_iter().enumerate())
        .map(|(i, body)| async move { (i, client.verify_table(body).await.map_err(|e| e.brief())) })
        .buffer_unordered(parallelism.max(1))
        .collect()
        .await;
    answers.sort_by_key(|(i, _)| *i);
    jobs.into_iter()
        .zip(slot_of)
        .map(|(j, s)| (j, answers[s].1.clone()))
        .collect()
}

/// Attach each entry's table impact, and block a create (or, on the new architecture, an
/// update) the server would refuse with `CDC:ErrTableIneligible`.
pub async fn attach(plan: &mut Plan, client: &Client, parallelism: usize) {
    let jobs = jobs(plan);
    if jobs.is_empty() {
        return;
    }
    let mut answers: std::collections::BTreeMap<usize, (Option<Answer>, Option<Answer>)> =
        Default::default();
    for (j, r) in ask(client, jobs, parallelism).await {
        let slot = answers.entry(j.entry).or_default();
        if j.live_side {
            slot.0 = Some(r);
        } else {
            slot.1 = Some(r);
        }
    }
    let newarch = plan.profile.arch == crate::ticdc::profile::Arch::Newarch;
    for (i, (live, desired)) in answers {
        let e = &mut plan.entries[i];
        let impact = impact_of(e, live, desired);
        if impact.unknown.is_none() {
            block_if_refused(e, &impact, newarch);
            if matches!(e.action, Action::Update { .. }) && !impact.added.is_empty() {
                e.notes.push(format!(
                    "{} newly replicated table(s) get no historical data: only changes made after the update are replicated",
                    impact.added.len()
                ));
            }
        } else {
            e.notes.push(format!(
                "table impact unknown: {}",
                impact.unknown.as_deref().unwrap_or_default()
            ));
        }
        e.tables = Some(impact);
    }
    plan.recount();
}

fn impact_of(e: &Entry, live: Option<Answer>, desired: Option<Answer>) -> TableImpact {
    let x = e.exec.as_ref();
    let unknown = |err: String| TableImpact {
        unknown: Some(format!("verify_table failed: {err}")),
        ..TableImpact::default()
    };
    let after_r = match desired {
        Some(Ok(r)) => r,
        Some(Err(err)) => return unknown(err),
        None => return unknown("no answer".into()),
    };
    let before = match live {
        None => BTreeSet::new(),
        Some(Ok(r)) => replicated(&r, x.and_then(|x| x.live_config.as_ref())),
        Some(Err(err)) => return unknown(err),
    };
    let after = replicated(&after_r, x.and_then(|x| x.config.as_ref()));
    let partitioned = after_r
        .eligible_tables
        .iter()
        .chain(after_r.ineligible_tables.iter())
        .flatten()
        .filter(|t| {
            t.is_partition && after.contains(&format!("{}.{}", t.database_name, t.table_name))
        })
        .count();
    TableImpact {
        partitioned,
        before: Some(before.len()),
        after: Some(after.len()),
        added: after.difference(&before).cloned().collect(),
        removed: before.difference(&after).cloned().collect(),
        ineligible: names(&after_r.ineligible_tables).into_iter().collect(),
        unknown: None,
    }
}

/// tiflow cdc/api/v2/api_helpers.go `verifyCreateChangefeedConfig` refuses a create, and ticdc
/// api/v2/changefeed.go `UpdateChangefeed` also an update, when tables are ineligible and
/// neither `force_replicate` nor `ignore_ineligible_table` is set.
fn block_if_refused(e: &mut Entry, impact: &TableImpact, newarch: bool) {
    let refuses = match e.action {
        Action::Create { .. } | Action::Replace => true,
        Action::Update { .. } => newarch,
        _ => false,
    };
    let cfg = e.exec.as_ref().and_then(|x| x.config.as_ref());
    if !refuses
        || impact.ineligible.is_empty()
        || flag(cfg, "force_replicate")
        || flag(cfg, "ignore_ineligible_table")
    {
        return;
    }
    let verb = e.action.verb();
    let first = &impact.ineligible[0];
    let mut listed = impact.ineligible[..impact.ineligible.len().min(10)].join(", ");
    if impact.ineligible.len() > 10 {
        listed.push_str(&format!(" and {} more", impact.ineligible.len() - 10));
    }
    e.action = Action::Blocked;
    e.blocked = Some(Blocked {
        reason: format!(
            "TiCDC would refuse the {verb} (CDC:ErrTableIneligible): {} table(s) have neither a primary key nor a not-null unique key: {}",
            impact.ineligible.len(),
            listed
        ),
        hint: format!(
            "exclude them with a filter rule such as `!{first}`, or set `replica_config.ignore_ineligible_table: true` to skip them, or `replica_config.force_replicate: true` to replicate them without a key"
        ),
        unknown: false,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_table_deciding_keys_count() {
        let a = json!({"filter": {"rules": ["*.*"]}, "mounter": {"worker_num": 16}});
        let b = json!({"filter": {"rules": ["*.*"]}, "mounter": {"worker_num": 8}});
        assert!(!table_keys_differ(Some(&a), Some(&b)));
        assert!(
            !table_keys_differ(Some(&json!({})), Some(&a)),
            "absent rules = *.*"
        );
        let c = json!({"filter": {"rules": ["shop.*"]}});
        assert!(table_keys_differ(Some(&a), Some(&c)));
        let d = json!({"filter": {"rules": ["*.*"]}, "case_sensitive": true});
        assert!(table_keys_differ(Some(&a), Some(&d)));
        let e = json!({"filter": {"rules": ["*.*"]}, "force_replicate": false});
        assert!(!table_keys_differ(Some(&a), Some(&e)), "false = default");
    }

    #[test]
    fn force_replicate_counts_ineligible_tables_as_replicated() {
        let t = |d: &str, n: &str| TableName {
            database_name: d.into(),
            table_name: n.into(),
            ..TableName::default()
        };
        let r = TablesResponse {
            eligible_tables: Some(vec![t("shop", "orders")]),
            ineligible_tables: Some(vec![t("shop", "audit_log")]),
            all_tables: None,
        };
        assert_eq!(replicated(&r, None).len(), 1);
        assert_eq!(
            replicated(&r, Some(&json!({"force_replicate": true}))).len(),
            2
        );
    }
}
