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

/// Durations in `replica_config` travel as integer nanoseconds; a reviewer reads `1h`.
const DURATION_FIELDS: &[&str] = &[
    "sync_point_interval",
    "sync_point_retention",
    "changefeed_error_stuck_duration",
    "active_active_progress_interval",
    "active_active_sync_stats_interval",
];

fn field_value_text(path: &str, v: &Option<Value>) -> String {
    let last = path.rsplit('.').next().unwrap_or(path);
    match v.as_ref().and_then(Value::as_u64) {
        Some(ns) if DURATION_FIELDS.contains(&last) => crate::normalize::go_duration(ns),
        _ => value_text(v),
    }
}

fn field_lines(out: &mut String, c: &FieldChange, indent: &str, color: bool) {
    let before = field_value_text(&c.path, &c.before);
    let after = field_value_text(&c.path, &c.after);
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

/// Changefeeds outside the plan's work: a count with a hint, every id with `-v` (a shared
/// cluster can hold thousands; JSON always keeps the ids).
fn listed_apart(out: &mut String, keys: &[crate::plan::Key], what: &str, verbose: bool) {
    if keys.is_empty() {
        return;
    }
    if verbose {
        let ids: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let _ = writeln!(out, "{} {what}: {}\n", keys.len(), ids.join(", "));
    } else {
        let _ = writeln!(out, "{} {what}; `-v` lists them\n", keys.len());
    }
}

/// The human plan. `verbose` adds server-derived values and lists every id outside the plan.
pub fn human(plan: &Plan, color: bool, verbose: bool) -> String {
    let mut out = String::new();
    let dim = Style::new().dimmed();
    match plan.credentials {
        Some(crate::ticdc::Credentials::Ok) => {
            let _ = writeln!(out, "credentials: ok\n");
        }
        Some(c) => {
            let _ = writeln!(
                out,
                "credentials: {} ({})\n",
                c.as_str(),
                credentials_words(c)
            );
        }
        None => {}
    }
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
    listed_apart(
        &mut out,
        &plan.unmanaged,
        "unmanaged (in no manifest, outside `manage`; left alone)",
        verbose,
    );
    listed_apart(
        &mut out,
        &plan.unlisted,
        "managed but in no manifest (kept; --prune deletes them)",
        verbose,
    );
    if !plan.absent.is_empty() {
        let ids: Vec<String> = plan.absent.iter().map(|k| k.to_string()).collect();
        let _ = writeln!(
            out,
            "Already absent (`state: absent`, no such changefeed; nothing to delete): {}\n",
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

fn credentials_words(c: crate::ticdc::Credentials) -> &'static str {
    use crate::ticdc::Credentials::*;
    match c {
        Missing => "the server wants basic auth; pass --user and set CDCFORM_PASSWORD",
        Refused => "the server refused the user or password",
        Unknown => "the check got no clear answer",
        Ok => "accepted",
    }
    .trim_end()
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
        // Entry heads flush left, so that a diff highlighter colours `+` and `-`.
        for line in human(plan, false, false).lines() {
            let t = line.trim_start();
            let head = line.len() - t.len() <= 3
                && ["+ ", "- ", "~ ", "! ", "-/+ "]
                    .iter()
                    .any(|p| t.starts_with(p));
            let _ = writeln!(out, "{}", if head { t } else { line });
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{DesiredChangefeed, DesiredState};
    use crate::normalize;
    use crate::plan::planner::{make_plan, LiveChangefeed, Options};
    use crate::plan::Key;
    use crate::ticdc::mask::mask_sink_uri;
    use crate::ticdc::models::ChangefeedInfo;
    use crate::ticdc::{ServerProfile, Version};
    use std::collections::BTreeMap;

    const CANARY: &str = "canary-7f3a9c";
    const NOW: u64 = 1_700_000_000_000 << 18;

    /// A plan with every action kind, secrets in the URI and in the config.
    fn sample() -> Plan {
        let p = ServerProfile::classic(Version::new(8, 5, 0));
        let kafka = format!(
            "kafka://k:9092/orders?protocol=canal-json&sasl-user=cdc&sasl-password={CANARY}"
        );
        let mk =
            |id: &str, uri: &str, state: DesiredState, cfg: Option<Value>, sensitive: &[&str]| {
                DesiredChangefeed {
                    id: id.into(),
                    sink_uri: uri.into(),
                    sink_uri_template: uri.replace(CANARY, "${KAFKA_PASSWORD}"),
                    state,
                    replica_config: cfg.clone(),
                    replica_config_template: cfg,
                    sensitive: sensitive.iter().map(|s| s.to_string()).collect(),
                    ..Default::default()
                }
            };
        let desired = vec![
            mk(
                "orders-to-kafka",
                &kafka,
                DesiredState::Running,
                Some(
                    json!({"filter": {"rules": ["shop.orders", "shop.order_items"]}, "sink": {"kafka_config": {"sasl_password": CANARY}}}),
                ),
                &["sink_uri", "replica_config.sink.kafka_config.sasl_password"],
            ),
            mk(
                "inventory",
                "blackhole://",
                DesiredState::Running,
                Some(json!({"mounter": {"worker_num": 8}})),
                &[],
            ),
            mk("audit", "blackhole://", DesiredState::Paused, None, &[]),
            mk("legacy", "blackhole://", DesiredState::Absent, None, &[]),
        ];
        let live_cf = |id: &str, state: &str, edit: Option<(&str, Value)>| {
            let mut c = normalize::defaults(&p);
            if let Some((path, v)) = edit {
                normalize::set_path(&mut c, path, v);
            }
            (
                Key {
                    namespace: "default".into(),
                    id: id.into(),
                },
                LiveChangefeed {
                    info: ChangefeedInfo {
                        namespace: Some("default".into()),
                        id: id.into(),
                        sink_uri: mask_sink_uri("blackhole://").unwrap(),
                        config: Some(c),
                        state: Some(state.into()),
                        start_ts: NOW - (7_200_000 << 18),
                        checkpoint_ts: NOW - (2_000 << 18),
                        ..Default::default()
                    },
                    raw_sink_uri: Some("blackhole://".into()),
                    ..Default::default()
                },
            )
        };
        let live: BTreeMap<_, _> = [
            live_cf(
                "inventory",
                "normal",
                Some(("sink.encoder_concurrency", json!(64))),
            ),
            live_cf("audit", "normal", None),
            live_cf("legacy", "stopped", None),
            live_cf("someone-elses", "normal", None),
        ]
        .into_iter()
        .collect();
        make_plan(
            &p,
            "http://127.0.0.1:8300",
            &desired,
            &live,
            &Options {
                now_tso: NOW,
                ..Options::default()
            },
        )
    }

    #[test]
    fn human_plan() {
        insta::assert_snapshot!(human(&sample(), false, false));
    }

    #[test]
    fn human_plan_verbose_shows_derived_values() {
        let text = human(&sample(), false, true);
        assert!(text.contains("reset to the default"));
        // Colour only when asked.
        assert!(!text.contains('\u{1b}'));
        assert!(human(&sample(), true, false).contains('\u{1b}'));
    }

    #[test]
    fn json_plan() {
        insta::assert_snapshot!(json(&sample()));
    }

    #[test]
    fn markdown_plan() {
        insta::assert_snapshot!(markdown(&sample()));
    }

    #[test]
    fn no_secret_in_any_format() {
        let plan = sample();
        for text in [
            human(&plan, false, true),
            human(&plan, true, true),
            json(&plan),
            markdown(&plan),
        ] {
            assert!(!text.contains(CANARY), "canary leaked in:\n{text}");
        }
        assert!(json(&plan).contains("(sensitive)"));
    }
}
