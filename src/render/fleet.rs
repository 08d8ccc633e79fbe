//! Plans of several clusters as one report: a section per cluster and a grand summary (human),
//! one pull-request comment with a part per cluster (markdown), one versioned document (JSON).

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::pipeline::{total, ClusterPlan};
use crate::render::plan::MarkdownOptions;

/// `══ cluster NAME (SERVER) ══`: every plan names the cluster and the server it was read from.
pub fn heading(p: &ClusterPlan) -> String {
    if p.server.is_empty() {
        format!("══ cluster {} ══", p.name)
    } else {
        format!("══ cluster {} ({}) ══", p.name, p.server)
    }
}

/// The grand summary: clusters planned and failed, then the totals in the plan's own words.
pub fn summary_line(plans: &[ClusterPlan]) -> String {
    let failed = plans.iter().filter(|p| p.outcome.is_err()).count();
    format!(
        "{} cluster(s): {} planned, {failed} failed. Total: {}",
        plans.len(),
        plans.len() - failed,
        total(plans).line().trim_start_matches("Plan: ")
    )
}

pub fn human(plans: &[ClusterPlan], color: bool, verbose: bool) -> String {
    let mut out = String::new();
    for p in plans {
        let _ = writeln!(out, "{}\n", heading(p));
        match &p.outcome {
            Ok(planned) => out.push_str(&super::plan::human(&planned.plan, color, verbose)),
            Err(e) => {
                let _ = writeln!(out, "error: {e}");
                if let Some(h) = e.hint() {
                    let _ = writeln!(out, "help: {h}");
                }
            }
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "{}", summary_line(plans));
    out
}

/// `{"format_version": …, "clusters": [{"name": …, "server": …, "plan": {…}} | {…, "error": …}]}`.
pub fn json(plans: &[ClusterPlan]) -> String {
    let clusters: Vec<Value> = plans
        .iter()
        .map(|p| match &p.outcome {
            Ok(planned) => json!({
                "name": p.name,
                "server": p.server,
                "plan": serde_json::from_str::<Value>(&super::plan::json(&planned.plan))
                    .unwrap_or(Value::Null),
            }),
            Err(e) => json!({"name": p.name, "server": p.server, "error": e.to_string()}),
        })
        .collect();
    let doc = crate::document::envelope(
        "plans",
        json!({
            "summary": total(plans),
            "summary_line": summary_line(plans),
            "has_changes": total(plans).has_changes(),
            "clusters": clusters,
        }),
    );
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// One comment: the grand summary, then each cluster's part with its own marker, each within an
/// equal share of `o.max_chars`.
pub fn markdown(plans: &[ClusterPlan], o: &MarkdownOptions) -> String {
    let mut out = format!(
        "## cdcform plan: {} clusters\n\n**{}**\n\n",
        plans.len(),
        summary_line(plans)
    );
    let share = o.max_chars.saturating_sub(out.chars().count()) / plans.len().max(1);
    for p in plans {
        let part = match &p.outcome {
            Ok(planned) => super::plan::markdown(
                &planned.plan,
                &MarkdownOptions {
                    cluster: p.name.clone(),
                    max_chars: share.max(2000),
                    full_plan: o.full_plan.clone(),
                },
            ),
            Err(e) => format!(
                "{}\n### {}\n\n**error:** {}\n",
                super::plan::marker(&p.name),
                heading(p).trim_matches(['═', ' ']),
                e.to_string().replace('\n', " ")
            ),
        };
        out.push_str(&part);
        out.push('\n');
    }
    out
}
