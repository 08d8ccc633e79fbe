//! Policy results as human text and as markdown lines, grouped by changefeed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::policy::{Finding, Report};

/// What a finding without a changefeed is filed under.
const WHOLE_PLAN: &str = "(whole plan)";

fn by_changefeed(report: &Report) -> BTreeMap<&str, Vec<(&'static str, &Finding)>> {
    let mut out: BTreeMap<&str, Vec<(&'static str, &Finding)>> = BTreeMap::new();
    for (level, list) in [("deny", &report.deny), ("warn", &report.warn)] {
        for f in list {
            let at = f.changefeed.as_deref().unwrap_or(WHOLE_PLAN);
            out.entry(at).or_default().push((level, f));
        }
    }
    out
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// `Policy: 2 deny, 1 warn, 1 waived (6 files)`.
pub fn summary_line(report: &Report) -> String {
    let mut s = format!(
        "Policy: {} deny, {} warn",
        report.deny.len(),
        report.warn.len()
    );
    if !report.waived.is_empty() {
        let _ = write!(s, ", {} waived by exceptions", report.waived.len());
    }
    let n = report.files.len();
    let _ = write!(s, " ({n} file{})", if n == 1 { "" } else { "s" });
    s
}

/// The human section: the summary line, then per changefeed each rule and its message.
pub fn human(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", summary_line(report));
    for (cf, list) in by_changefeed(report) {
        let _ = writeln!(out, "  {cf}");
        for (level, f) in list {
            let _ = writeln!(
                out,
                "    {level:<4}  {}: {}  ({})",
                f.rule,
                one_line(&f.msg),
                f.file
            );
        }
    }
    for f in &report.waived {
        let _ = writeln!(
            out,
            "  waived  {} on {}: {}  ({})",
            f.rule,
            f.changefeed.as_deref().unwrap_or(WHOLE_PLAN),
            one_line(&f.msg),
            f.file
        );
    }
    out
}

/// The markdown section's heading and its rows (one per finding), for a budgeted comment.
pub fn markdown_lines(report: &Report) -> (String, Vec<String>) {
    let verdict = if report.blocks() {
        "**blocked by policy**: apply will change nothing until every deny is fixed or waived"
    } else {
        "passed"
    };
    let head = format!(
        "#### Policy\n\n{}: {verdict}\n\n| | changefeed | rule | message |\n|---|---|---|---|\n",
        summary_line(report)
    );
    let cell = |s: &str| one_line(s).replace('|', "\\|");
    let rows = by_changefeed(report)
        .into_iter()
        .flat_map(|(cf, list)| {
            list.into_iter().map(move |(level, f)| {
                format!(
                    "| {} | `{}` | `{}` ({}) | {} |\n",
                    if level == "deny" {
                        "⛔ deny"
                    } else {
                        "⚠️ warn"
                    },
                    cell(cf),
                    cell(&f.rule),
                    cell(&f.file),
                    cell(&f.msg)
                )
            })
        })
        .collect();
    (head, rows)
}
