//! A plan as human text, a versioned JSON document, or a pull-request comment in markdown.
//! Values are already redacted in the plan data; rendering never sees a secret.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde_json::{json, Value};

use crate::plan::{Action, ChangeKind, Entry, FieldChange, Plan};

fn style(action: &Action) -> Style {
    let c = match action {
        Action::Create { .. } => AnsiColor::Green,
        Action::Update { .. } | Action::Pause | Action::Resume => AnsiColor::Yellow,
        Action::Delete => AnsiColor::Red,
        Action::Replace => AnsiColor::Magenta,
        Action::Blocked => AnsiColor::Red,
    };
    Style::new().fg_color(Some(c.into())).bold()
}

fn paint(text: &str, st: Style, color: bool) -> String {
    if color {
        format!("{st}{text}{st:#}")
    } else {
        text.to_string()
    }
}

fn value_text(v: &Option<Value>) -> String {
    match v {
        None => "(absent)".into(),
        Some(Value::String(s)) if s == crate::plan::SENSITIVE => s.clone(),
        Some(x) => x.to_string(),
    }
}

fn action_label(e: &Entry) -> String {
    match e.action {
        Action::Update { .. } | Action::Create { .. } if e.action.steps().len() > 1 => {
            format!("{} ({})", e.action.verb(), e.action.steps().join(" → "))
        }
        _ => e.action.verb().to_string(),
    }
}

fn field_lines(out: &mut String, c: &FieldChange, indent: &str, color: bool) {
    let before = value_text(&c.before);
    let after = value_text(&c.after);
    let long = before.len() + after.len() > 100
        && (c
            .before
            .as_ref()
            .is_some_and(|v| v.is_array() || v.is_object())
            || c.after
                .as_ref()
                .is_some_and(|v| v.is_array() || v.is_object()));
    if !long {
        if c.before.is_none() && c.kind == ChangeKind::Manifest && before == "(absent)" {
            let _ = writeln!(out, "{indent}{}: {after}", c.path);
        } else {
            let _ = writeln!(out, "{indent}{}: {before} → {after}", c.path);
        }
        return;
    }
    // Long structured values: a line diff of their pretty forms.
    let pretty = |v: &Option<Value>| {
        v.as_ref()
            .map(|x| serde_json::to_string_pretty(x).unwrap_or_default())
            .unwrap_or_default()
    };
    let (b, a) = (pretty(&c.before), pretty(&c.after));
    let _ = writeln!(out, "{indent}{}:", c.path);
    let diff = similar::TextDiff::from_lines(&b, &a);
    for change in diff.iter_all_changes() {
        let (sign, st) = match change.tag() {
            similar::ChangeTag::Delete => ("-", Style::new().fg_color(Some(AnsiColor::Red.into()))),
            similar::ChangeTag::Insert => {
                ("+", Style::new().fg_color(Some(AnsiColor::Green.into())))
            }
            similar::ChangeTag::Equal => (" ", Style::new()),
        };
        let line = format!("{indent}  {sign} {}", change.value().trim_end_matches('\n'));
        let _ = writeln!(out, "{}", paint(&line, st, color && sign != " "));
    }
}

/// The human plan. `verbose` adds server-derived values.
pub fn human(plan: &Plan, color: bool, verbose: bool) -> String {
    let mut out = String::new();
    let dim = Style::new().dimmed();
    if plan.entries.is_empty() {
        let _ = writeln!(out, "No changes. The cluster matches the manifests.");
    } else {
        let _ = writeln!(out, "cdcform will perform the following actions:\n");
    }
    for e in &plan.entries {
        let head = format!("{:>3} {}", e.action.symbol(), e.key);
        let _ = writeln!(
            out,
            "{}  {}",
            paint(&head, style(&e.action), color),
            action_label(e)
        );
        let ind = "      ";
        for c in e.changes.iter().filter(|c| c.kind == ChangeKind::Manifest) {
            field_lines(&mut out, c, ind, color);
        }
        let resets: Vec<&FieldChange> = e
            .changes
            .iter()
            .filter(|c| c.kind == ChangeKind::Reset)
            .collect();
        if !resets.is_empty() {
            let _ = writeln!(
                out,
                "{ind}{}",
                paint(
                    "reset to the default (changed outside cdcform, unset in the manifest):",
                    dim,
                    color
                )
            );
            for c in resets {
                field_lines(&mut out, c, &format!("{ind}  "), color);
            }
        }
        let derived: Vec<&FieldChange> = e
            .changes
            .iter()
            .filter(|c| c.kind == ChangeKind::Derived)
            .collect();
        if verbose && !derived.is_empty() {
            let _ = writeln!(out, "{ind}{}", paint("derived by the server:", dim, color));
            for c in derived {
                field_lines(&mut out, c, &format!("{ind}  "), color);
            }
        }
        if let Some(b) = &e.blocked {
            let _ = writeln!(out, "{ind}why: {}", b.reason);
            let _ = writeln!(out, "{ind}fix: {}", b.hint);
        }
        for n in &e.notes {
            let _ = writeln!(out, "{ind}note: {n}");
        }
        let _ = writeln!(out);
    }
    if !plan.unmanaged.is_empty() {
        let ids: Vec<String> = plan.unmanaged.iter().map(|k| k.to_string()).collect();
        let _ = writeln!(
            out,
            "Unmanaged (in no manifest, outside `manage`; left alone): {}\n",
            ids.join(", ")
        );
    }
    if !plan.unlisted.is_empty() {
        let ids: Vec<String> = plan.unlisted.iter().map(|k| k.to_string()).collect();
        let _ = writeln!(
            out,
            "Managed but in no manifest (kept; --prune deletes them): {}\n",
            ids.join(", ")
        );
    }
    for n in &plan.notes {
        let _ = writeln!(out, "note: {n}");
    }
    if !plan.notes.is_empty() {
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "{}",
        paint(&plan.summary.line(), Style::new().bold(), color)
    );
    out
}

/// The versioned JSON document (`format_version`), same content as the human plan.
pub fn json(plan: &Plan) -> String {
    let mut v = serde_json::to_value(plan).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("summary_line".into(), json!(plan.summary.line()));
        o.insert("has_changes".into(), json!(plan.summary.has_changes()));
        if let Some(Value::Array(entries)) = o.get_mut("entries") {
            for (e, src) in entries.iter_mut().zip(&plan.entries) {
                e["steps"] = json!(src.action.steps());
                e["symbol"] = json!(src.action.symbol());
                e["action"] = json!(src.action.verb());
            }
        }
    }
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// A pull-request comment: summary table, details collapsed.
pub fn markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### cdcform plan for `{}` ({})\n",
        plan.server,
        plan.profile.label()
    );
    let _ = writeln!(out, "**{}**\n", plan.summary.line());
    if !plan.entries.is_empty() {
        let _ = writeln!(out, "| | changefeed | action | fields |");
        let _ = writeln!(out, "|---|---|---|---|");
        for e in &plan.entries {
            let n = e
                .changes
                .iter()
                .filter(|c| c.kind != ChangeKind::Derived)
                .count();
            let what = match &e.blocked {
                Some(b) => b.reason.replace('|', "\\|"),
                None => n.to_string(),
            };
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} | {} |",
                e.action.symbol(),
                e.key,
                action_label(e),
                what
            );
        }
        let _ = writeln!(out, "\n<details><summary>Details</summary>\n\n```diff");
        out.push_str(&human(plan, false, false));
        let _ = writeln!(out, "```\n\n</details>");
    }
    if !plan.unmanaged.is_empty() {
        let _ = writeln!(
            out,
            "\n{} unmanaged changefeed(s) left alone.",
            plan.unmanaged.len()
        );
    }
    out
}
