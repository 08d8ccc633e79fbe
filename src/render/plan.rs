//! A plan as human text, a versioned JSON document, or a pull-request comment in markdown.
//! Values are already redacted in the plan data; rendering never sees a secret.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde_json::Value;

use crate::plan::impact::TableImpact;
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
        _ if path == "state" && v.as_ref().is_some_and(Value::is_object) => {
            crate::plan::planner::state_text(v.as_ref().expect("just checked"))
        }
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

/// One entry of the human plan: the head line, its field changes, why/fix, notes, a blank line.
fn entry_text(e: &Entry, color: bool, verbose: bool) -> String {
    let mut out = String::new();
    let dim = Style::new().dimmed();
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
    let group = |out: &mut String, kind: ChangeKind, title: &str| {
        let changes: Vec<&FieldChange> = e.changes.iter().filter(|c| c.kind == kind).collect();
        if !changes.is_empty() {
            let _ = writeln!(out, "{ind}{}", paint(title, dim, color));
            for c in changes {
                field_lines(out, c, &format!("{ind}  "), color);
            }
        }
    };
    group(
        &mut out,
        ChangeKind::Reset,
        "reset to the default (changed outside cdcform, unset in the manifest):",
    );
    group(
        &mut out,
        ChangeKind::Sink,
        "as the new sink implies (its defaults, or settings it does not use):",
    );
    if verbose {
        group(&mut out, ChangeKind::Derived, "derived by the server:");
    }
    if let Some(t) = &e.tables {
        tables_lines(&mut out, t, ind, color, verbose);
    }
    if let Some(b) = &e.blocked {
        let _ = writeln!(out, "{ind}why: {}", b.reason);
        let _ = writeln!(out, "{ind}fix: {}", b.hint);
    }
    for n in &e.notes {
        let _ = writeln!(out, "{ind}note: {n}");
    }
    let _ = writeln!(out);
    out
}

/// How many table names an entry lists without `-v`.
const TABLES_SHOWN: usize = 10;

/// `before → after` with the added and removed counts, or `?` when unknown.
fn tables_summary(t: &TableImpact) -> String {
    match (t.before, t.after) {
        (Some(b), Some(a)) if t.partitioned > 0 => format!(
            "{b} → {a} (+{} -{}; {} partitioned, counted once)",
            t.added.len(),
            t.removed.len(),
            t.partitioned
        ),
        (Some(b), Some(a)) => format!("{b} → {a} (+{} -{})", t.added.len(), t.removed.len()),
        _ => "?".into(),
    }
}

/// The table impact under an entry: counts, then the added (+), removed (-) and ineligible
/// tables, the first ten of each unless verbose.
fn tables_lines(out: &mut String, t: &TableImpact, ind: &str, color: bool, verbose: bool) {
    if t.unknown.is_some() {
        return;
    }
    let _ = writeln!(out, "{ind}tables: {}", tables_summary(t));
    let lists = [
        ("+ ", &t.added, style(&Action::Create { then_pause: false })),
        ("- ", &t.removed, style(&Action::Delete)),
        ("  ", &t.ineligible, Style::new()),
    ];
    for (sign, names, st) in lists {
        if sign == "  " && !names.is_empty() {
            let _ = writeln!(
                out,
                "{ind}  ineligible (neither a primary key nor a not-null unique key):"
            );
        }
        let shown = if verbose {
            names.len()
        } else {
            names.len().min(TABLES_SHOWN)
        };
        for n in &names[..shown] {
            let _ = writeln!(out, "{}", paint(&format!("{ind}  {sign}{n}"), st, color));
        }
        if shown < names.len() {
            let _ = writeln!(
                out,
                "{ind}  … and {} more (-v lists all)",
                names.len() - shown
            );
        }
    }
}

/// Changefeeds outside the plan's work: a count with a hint, every id with `-v` (a shared
/// cluster can hold thousands; JSON always keeps the ids).
fn listed_apart(out: &mut String, keys: &crate::plan::KeyList, what: &str, verbose: bool) {
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
    match plan.credentials {
        Some(crate::ticdc::Credentials::Ok) => {
            let _ = writeln!(out, "credentials: ok\n");
        }
        Some(c) => {
            let _ = writeln!(
                out,
                "credentials: {} ({})\n",
                c.as_str(),
                crate::ticdc::Credentials::words(&c)
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
        out.push_str(&entry_text(e, color, verbose));
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
        "managed but in no manifest (kept; `--prune` deletes those matching `manage`)",
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
    if let Some(report) = &plan.policy {
        let _ = writeln!(out, "{}", super::policy::human(report));
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
    serde_json::to_string_pretty(&json_value(plan)).unwrap_or_default()
}

/// The JSON plan as a value (what [`json`] prints): the plan's document.
pub fn json_value(plan: &Plan) -> Value {
    plan.document()
}

/// GitHub refuses an issue comment over 65,536 characters; the default leaves room for a
/// second cluster's header or a few lines a CI job adds.
pub const DEFAULT_MAX_CHARS: usize = 60_000;

/// How a markdown plan is framed: whose plan it is, how long it may be, where the rest is.
#[derive(Debug, Clone)]
pub struct MarkdownOptions {
    /// The cluster name written into the marker (`default` when the settings name none).
    pub cluster: String,
    /// Upper bound on the output's length in characters (Unicode scalar values).
    pub max_chars: usize,
    /// Where a reader finds the whole plan when details are left out (a saved plan, a job log).
    pub full_plan: Option<String>,
}

impl Default for MarkdownOptions {
    fn default() -> Self {
        MarkdownOptions {
            cluster: "default".into(),
            max_chars: DEFAULT_MAX_CHARS,
            full_plan: None,
        }
    }
}

/// The hidden line that lets a CI job find its own comment again: `<!-- cdcform plan: cluster=NAME -->`.
pub fn marker(cluster: &str) -> String {
    format!("<!-- cdcform plan: cluster={} -->", marker_name(cluster))
}

/// The prefix every marker starts with (`ci comment` looks for it).
pub const MARKER_PREFIX: &str = "<!-- cdcform plan: cluster=";

/// A cluster name that cannot end the HTML comment or break the line.
fn marker_name(cluster: &str) -> String {
    let clean: String = cluster
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "default".into()
    } else {
        clean
    }
}

/// Characters, as GitHub counts a comment's length.
fn chars(s: &str) -> usize {
    s.chars().count()
}

/// What is left of the size budget.
struct Budget(usize);

impl Budget {
    /// Append `s` to `out` when it fits; false (and nothing appended) when it does not.
    fn push(&mut self, out: &mut String, s: &str) -> bool {
        let n = chars(s);
        if n > self.0 {
            return false;
        }
        self.0 -= n;
        out.push_str(s);
        true
    }
}

/// Which entries a reviewer must see first when not everything fits.
fn review_rank(a: &Action) -> u8 {
    match a {
        Action::Blocked => 0,
        Action::Delete => 1,
        Action::Replace => 2,
        Action::Update { .. } => 3,
        Action::Pause | Action::Resume => 4,
        Action::Create { .. } => 5,
    }
}

/// Entry indexes, most important first (stable within a rank, so in key order).
fn review_order(plan: &Plan) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..plan.entries.len()).collect();
    idx.sort_by_key(|&i| review_rank(&plan.entries[i].action));
    idx
}

/// What a shortened comment left out, for the note that says so.
#[derive(Default)]
struct LeftOut {
    policy: usize,
    blocked: usize,
    rows: BTreeMap<&'static str, usize>,
    details_cut: usize,
    details_omitted: usize,
}

impl LeftOut {
    fn is_empty(&self) -> bool {
        self.policy
            + self.blocked
            + self.rows.values().sum::<usize>()
            + self.details_cut
            + self.details_omitted
            == 0
    }
}

/// The longest note `shortened_note` writes, so that its room is kept free from the start.
const NOTE_ROOM: usize = 600;

fn shortened_note(left: &LeftOut, o: &MarkdownOptions) -> String {
    let mut parts = Vec::new();
    if left.policy > 0 {
        parts.push(format!("{} policy results", left.policy));
    }
    if left.blocked > 0 {
        parts.push(format!("{} blocked entries' reasons", left.blocked));
    }
    let rows: usize = left.rows.values().sum();
    if rows > 0 {
        let by: Vec<String> = left.rows.iter().map(|(k, n)| format!("{n} {k}")).collect();
        parts.push(format!("{rows} table rows ({})", by.join(", ")));
    }
    if left.details_omitted > 0 {
        parts.push(format!(
            "the field details of {} changefeeds",
            left.details_omitted
        ));
    }
    if left.details_cut > 0 {
        parts.push(format!(
            "part of the field details of {} changefeeds",
            left.details_cut
        ));
    }
    let full = o
        .full_plan
        .clone()
        .unwrap_or_else(|| "`cdcform plan` prints every field".into());
    format!(
        "> [!NOTE]\n> Shortened to fit {} characters: left out {}. The whole plan: {full}.\n\n",
        o.max_chars,
        parts.join("; ")
    )
}

/// A pull-request comment: marker, summary, blocked entries, a table of entries, details
/// collapsed. Never longer than `o.max_chars` (for any sane limit; `--max-chars` enforces one):
/// when it does not fit, table rows and field details are left out, least important first
/// (creates before updates before deletes and blocked entries), with a note saying what was
/// left out and where the whole plan is.
pub fn markdown(plan: &Plan, o: &MarkdownOptions) -> String {
    let mut head = String::new();
    let _ = writeln!(head, "{}", marker(&o.cluster));
    let _ = writeln!(
        head,
        "### cdcform plan for `{}` ({}), cluster `{}`\n",
        plan.server,
        plan.profile.label(),
        marker_name(&o.cluster)
    );
    let _ = writeln!(head, "**{}**\n", plan.summary.line());
    for n in &plan.notes {
        let _ = writeln!(head, "- note: {}", one_line(n));
    }
    if !plan.notes.is_empty() {
        head.push('\n');
    }
    let mut tail = String::new();
    if !plan.unmanaged.is_empty() {
        let _ = writeln!(
            tail,
            "\n{} unmanaged changefeed(s) left alone.",
            plan.unmanaged.len()
        );
    }
    if !plan.unlisted.is_empty() {
        let _ = writeln!(
            tail,
            "\n{} managed changefeed(s) in no manifest kept (`--prune` deletes those matching `manage`).",
            plan.unlisted.len()
        );
    }
    let fixed = chars(&head) + chars(&tail) + NOTE_ROOM + o.full_plan.as_deref().map_or(0, chars);
    let mut budget = Budget(o.max_chars.saturating_sub(fixed));
    let mut left = LeftOut::default();
    let order = review_order(plan);
    let mut body = String::new();
    md_policy(plan, &mut body, &mut budget, &mut left);
    // Blocked reasons also show in the table: their own section may take a third of the room.
    let mut blocked_room = Budget(budget.0 / 3);
    md_blocked(plan, &mut body, &mut blocked_room, &mut left);
    budget.0 -= budget.0 / 3 - blocked_room.0;
    md_table(plan, &order, &mut body, &mut budget, &mut left);
    md_details(plan, &order, &mut body, &mut budget, &mut left);
    let note = if left.is_empty() {
        String::new()
    } else {
        shortened_note(&left, o)
    };
    format!("{head}{note}{body}{tail}")
}

/// The policy results, first: a deny stops the merge as a blocked entry does. Takes at most a
/// third of the room; the rest is counted in the shortening note.
fn md_policy(plan: &Plan, out: &mut String, budget: &mut Budget, left: &mut LeftOut) {
    let Some(report) = &plan.policy else { return };
    let (head, rows) = super::policy::markdown_lines(report);
    let mut room = Budget(budget.0 / 3);
    let start = room.0;
    if room.push(out, &head) {
        for (i, row) in rows.iter().enumerate() {
            if !room.push(out, row) {
                left.policy += rows.len() - i;
                break;
            }
        }
        room.push(out, "\n");
    } else {
        left.policy += rows.len().max(1);
    }
    budget.0 -= start - room.0;
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// Blocked entries with why and fix: what stops the merge, kept ahead of the table.
fn md_blocked(plan: &Plan, out: &mut String, budget: &mut Budget, left: &mut LeftOut) {
    let blocked: Vec<&Entry> = plan
        .entries
        .iter()
        .filter(|e| e.blocked.is_some())
        .collect();
    if blocked.is_empty() || !budget.push(out, "#### Blocked\n\n") {
        left.blocked += blocked.len();
        return;
    }
    for (i, e) in blocked.iter().enumerate() {
        let b = e.blocked.as_ref().expect("filtered");
        let line = format!(
            "- `{}`: {}<br>fix: {}\n",
            e.key,
            one_line(&b.reason),
            one_line(&b.hint)
        );
        if !budget.push(out, &line) {
            left.blocked += blocked.len() - i;
            break;
        }
    }
    budget.push(out, "\n");
}

fn table_row(e: &Entry) -> String {
    let n = e
        .changes
        .iter()
        .filter(|c| c.kind != ChangeKind::Derived)
        .count();
    let what = match &e.blocked {
        Some(b) => one_line(&b.reason).replace('|', "\\|"),
        None => n.to_string(),
    };
    let tables = e.tables.as_ref().map(tables_summary).unwrap_or_default();
    format!(
        "| `{}` | `{}` | {} | {} | {} |\n",
        e.action.symbol(),
        e.key,
        action_label(e),
        what,
        tables
    )
}

/// One row per entry, in key order; when they do not all fit, the most important rows.
fn md_table(
    plan: &Plan,
    order: &[usize],
    out: &mut String,
    budget: &mut Budget,
    left: &mut LeftOut,
) {
    if plan.entries.is_empty() {
        return;
    }
    let header = "| | changefeed | action | fields | tables |\n|---|---|---|---|---|\n";
    let rows: Vec<String> = plan.entries.iter().map(table_row).collect();
    let mut keep = vec![false; rows.len()];
    let mut room = Budget(budget.0.saturating_sub(chars(header) + 1));
    for &i in order {
        let n = chars(&rows[i]);
        if n <= room.0 {
            room.0 -= n;
            keep[i] = true;
        } else {
            *left.rows.entry(plan.entries[i].action.verb()).or_default() += 1;
        }
    }
    if !keep.iter().any(|k| *k) {
        return;
    }
    budget.push(out, header);
    for (row, _) in rows.iter().zip(&keep).filter(|(_, k)| **k) {
        budget.push(out, row);
    }
    budget.push(out, "\n");
}

/// The human plan's entries in a collapsed diff block; an entry that does not fit whole is cut
/// at a line, with a line saying how many were left out.
fn md_details(
    plan: &Plan,
    order: &[usize],
    out: &mut String,
    budget: &mut Budget,
    left: &mut LeftOut,
) {
    if plan.entries.is_empty() {
        return;
    }
    let open = "<details><summary>Details</summary>\n\n```diff\n";
    let close = "```\n\n</details>\n";
    let mut blocks: Vec<Option<String>> = vec![None; plan.entries.len()];
    let mut room = Budget(budget.0.saturating_sub(chars(open) + chars(close)));
    for &i in order {
        let text = details_block(&plan.entries[i]);
        if chars(&text) <= room.0 {
            room.0 -= chars(&text);
            blocks[i] = Some(text);
        } else if let Some((cut, omitted)) = cut_block(&text, &mut room) {
            left.details_cut += usize::from(omitted > 0);
            blocks[i] = Some(cut);
        } else {
            left.details_omitted += 1;
        }
    }
    if blocks.iter().all(Option::is_none) {
        return;
    }
    budget.push(out, open);
    for b in blocks.iter().flatten() {
        budget.push(out, b);
    }
    budget.push(out, close);
}

/// One entry as in the human plan, its head flush left so a diff highlighter colours `+`/`-`.
fn details_block(e: &Entry) -> String {
    let text = entry_text(e, false, false);
    let mut lines = text.lines();
    let head = lines.next().unwrap_or_default().trim_start().to_string();
    let mut out = head + "\n";
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// The head line and as many detail lines as fit, then a line saying how many were left out
/// (and that count); None when not even the head and that line fit.
fn cut_block(text: &str, room: &mut Budget) -> Option<(String, usize)> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let omitted_line = |n: usize| format!("      … {n} more lines left out (size limit)\n\n");
    let mut out = format!("{}\n", lines.first()?);
    let mut used = chars(&out) + chars(&omitted_line(lines.len()));
    if used > room.0 {
        return None;
    }
    let mut kept = 1;
    for l in &lines[1..] {
        let n = chars(l) + 1;
        if used + n > room.0 {
            break;
        }
        used += n;
        out.push_str(l);
        out.push('\n');
        kept += 1;
    }
    let omitted = lines.len() - kept;
    if omitted > 0 {
        out.push_str(&omitted_line(omitted));
    } else {
        out.push('\n');
    }
    room.0 -= chars(&out);
    Some((out, omitted))
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
    use serde_json::json;
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
                    raw_uri: Some(Box::new(crate::ticdc::mask::SinkUri::parse("blackhole://"))),
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
                // The repository owns its own ids; `someone-elses` is outside `manage`.
                manage: Some(
                    crate::settings::IdGlobs::new(&["[!s]*".to_string()]).expect("a glob"),
                ),
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
        insta::assert_snapshot!(markdown(&sample(), &MarkdownOptions::default()));
    }

    /// A plan of `n` entries built directly (no server): every action kind, several fields each,
    /// every 50th blocked.
    fn big_plan(n: usize) -> Plan {
        let actions = [
            Action::Create { then_pause: false },
            Action::Update {
                pause_first: true,
                resume_after: true,
            },
            Action::Delete,
            Action::Pause,
        ];
        let entries = (0..n)
            .map(|i| {
                let blocked = i % 50 == 7;
                let changes = (0..6)
                    .map(|f| FieldChange {
                        path: format!("replica_config.sink.field_{f}"),
                        kind: ChangeKind::Manifest,
                        before: Some(json!(format!("old value {i}-{f}"))),
                        after: Some(json!(format!("new value {i}-{f}"))),
                        sensitive: false,
                    })
                    .collect();
                Entry {
                    key: Key {
                        namespace: "default".into(),
                        id: format!("feed-{i:05}"),
                    },
                    action: if blocked {
                        Action::Blocked
                    } else {
                        actions[i % actions.len()]
                    },
                    changes,
                    blocked: blocked.then(|| crate::plan::Blocked {
                        reason: format!("start_ts is create-only (feed-{i:05})"),
                        hint: format!("run with `--replace feed-{i:05}`"),
                        unknown: false,
                    }),
                    notes: vec![],
                    live: None,
                    tables: None,
                    exec: None,
                    live_fingerprint: None,
                }
            })
            .collect();
        let mut plan = Plan::empty(
            "http://127.0.0.1:8300",
            &ServerProfile::classic(Version::new(8, 5, 0)),
        );
        plan.entries = entries;
        plan.recount();
        plan
    }

    #[test]
    fn policy_section_comes_first_and_keeps_to_its_share_of_the_budget() {
        let mut plan = big_plan(50);
        let finding = |i: usize| crate::policy::Finding {
            rule: "deny_x".into(),
            namespace: "cdcform".into(),
            file: "p.rego:3".into(),
            changefeed: Some(format!("cf-{i:05}")),
            msg: format!("changefeed cf-{i:05} breaks rule x, and here is a long explanation why"),
            metadata: None,
        };
        plan.policy = Some(crate::policy::Report {
            files: vec![],
            deny: (0..2000).map(finding).collect(),
            warn: vec![],
            waived: vec![],
        });
        let md = markdown(&plan, &MarkdownOptions::default());
        assert!(md.chars().count() <= DEFAULT_MAX_CHARS);
        let policy_at = md.find("#### Policy").expect("policy section");
        let table_at = md
            .find("| | changefeed | action | fields |")
            .expect("the entries table");
        assert!(policy_at < table_at, "{md}");
        assert!(md.contains("blocked by policy"));
        assert!(
            md.contains("policy results"),
            "the note counts what was left out"
        );
    }

    #[test]
    fn markdown_of_10000_changefeeds_fits_and_keeps_the_summary() {
        let plan = big_plan(10_000);
        let unlimited = markdown(
            &plan,
            &MarkdownOptions {
                max_chars: usize::MAX,
                ..MarkdownOptions::default()
            },
        );
        assert!(chars(&unlimited) > 2_000_000, "{}", chars(&unlimited));
        for max in [DEFAULT_MAX_CHARS, 65_536, 20_000, 5_000] {
            let o = MarkdownOptions {
                cluster: "prod".into(),
                max_chars: max,
                full_plan: Some("artifact `changefeeds.plan` of job https://ci.example/1".into()),
            };
            let md = markdown(&plan, &o);
            assert!(chars(&md) <= max, "{} > {max}", chars(&md));
            assert!(md.starts_with("<!-- cdcform plan: cluster=prod -->\n"));
            assert!(md.contains(&plan.summary.line()), "summary lost at {max}");
            assert!(md.contains("Shortened to fit"), "no note at {max}");
            assert!(md.contains("artifact `changefeeds.plan` of job https://ci.example/1"));
            // Blocked entries come first in the table and the blocked section.
            assert!(
                md.contains("| `!` | `default/feed-00007` | blocked |"),
                "{max}"
            );
            assert!(md.contains("#### Blocked"), "{max}");
            // The note's counts add up with what is shown.
            let rows = md.lines().filter(|l| l.starts_with("| `")).count();
            let left: usize = md
                .split("left out ")
                .nth(1)
                .and_then(|t| t.split(" table rows").next())
                .and_then(|t| t.rsplit(' ').next())
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            assert_eq!(
                rows + left,
                10_000,
                "at {max}: {rows} shown, {left} left out"
            );
        }
        // At the default, deletes are preferred over creates when rows are left out.
        let md = markdown(&plan, &MarkdownOptions::default());
        let shown = |verb: &str| {
            md.lines()
                .filter(|l| l.contains(&format!(" | {verb} ")))
                .count()
        };
        assert!(shown("delete") > shown("create"));
    }

    #[test]
    fn small_plans_are_not_shortened_and_details_are_cut_per_changefeed() {
        let plan = big_plan(20);
        let md = markdown(&plan, &MarkdownOptions::default());
        assert!(!md.contains("Shortened"));
        assert_eq!(md.lines().filter(|l| l.starts_with("| `")).count(), 20);
        assert!(md.contains("new value 19-5"));
        // Just too small for all details: every row stays, some details are cut at a line.
        let full = chars(&md);
        let o = MarkdownOptions {
            max_chars: full - 100,
            ..MarkdownOptions::default()
        };
        let md = markdown(&plan, &o);
        assert!(chars(&md) <= o.max_chars);
        assert_eq!(md.lines().filter(|l| l.starts_with("| `")).count(), 20);
        assert!(md.contains("more lines left out (size limit)"), "{md}");
        assert!(md.contains("part of the field details of"), "{md}");
        assert!(md.contains("The whole plan: `cdcform plan` prints every field."));
    }

    #[test]
    fn every_markdown_output_carries_the_marker() {
        let empty = Plan {
            entries: vec![],
            ..big_plan(0)
        };
        for (plan, cluster, want) in [
            (sample(), "default", "default"),
            (empty, "staging", "staging"),
            (big_plan(3), "eu/prod -->", "eu_prod_--_"),
        ] {
            let md = markdown(
                &plan,
                &MarkdownOptions {
                    cluster: cluster.into(),
                    ..MarkdownOptions::default()
                },
            );
            let first = md.lines().next().unwrap();
            assert_eq!(first, format!("<!-- cdcform plan: cluster={want} -->"));
            assert_eq!(md.matches("-->").count(), 1, "{md}");
        }
    }

    #[test]
    fn no_secret_in_any_format() {
        let plan = sample();
        for text in [
            human(&plan, false, true),
            human(&plan, true, true),
            json(&plan),
            markdown(&plan, &MarkdownOptions::default()),
        ] {
            assert!(!text.contains(CANARY), "canary leaked in:\n{text}");
        }
        assert!(json(&plan).contains("(sensitive)"));
    }
}
