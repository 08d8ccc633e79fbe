//! The `cdcform status` table.

use std::fmt::Write as _;
use std::time::Duration;

use crate::status::{ChangefeedRow, StatusReport};

/// Rows beyond which the table is compact: managed rows and rows with a problem only.
const COMPACT_OVER: usize = 50;

pub fn table(r: &StatusReport, all: bool) -> String {
    let mut out = String::new();
    let owner = r
        .owner
        .as_ref()
        .map(|o| format!("{} ({})", o.id, o.address))
        .unwrap_or_else(|| "none".into());
    let _ = writeln!(out, "Server:   {} ({})", r.server, r.version);
    let _ = writeln!(out, "Owner:    {owner}");
    let _ = writeln!(
        out,
        "Health:   {}",
        if r.healthy {
            "healthy".to_string()
        } else {
            format!("UNHEALTHY ({})", r.health_error.clone().unwrap_or_default())
        }
    );
    let _ = writeln!(out, "Captures: {}", r.captures.len());
    for c in &r.captures {
        let _ = writeln!(
            out,
            "  {} {}{}",
            c.id,
            c.address,
            if c.is_owner { " (owner)" } else { "" }
        );
    }
    let _ = writeln!(out);
    let headers = [
        "CHANGEFEED",
        "STATE",
        "CHECKPOINT",
        "LAG",
        "TABLES",
        "CAPTURES",
        "ERROR",
    ];
    // A large cluster: the rows that concern this repository or need attention, the rest counted.
    let compact = !all && r.changefeeds.len() > COMPACT_OVER;
    let shown = |c: &&ChangefeedRow| {
        !compact
            || (r.manage_set && c.managed)
            || c.error.is_some()
            || !matches!(c.state.as_str(), "normal" | "stopped" | "finished")
    };
    let hidden = r.changefeeds.iter().filter(|c| !shown(c)).count();
    let rows: Vec<[String; 7]> = r
        .changefeeds
        .iter()
        .filter(shown)
        .map(|c| {
            [
                format!("{}/{}", c.namespace, c.id),
                c.state.clone(),
                c.checkpoint_time.clone(),
                humantime::format_duration(Duration::from_secs(c.lag_seconds as u64)).to_string(),
                c.tables.map_or_else(|| "-".into(), |n| n.to_string()),
                if c.captures.is_empty() {
                    "-".into()
                } else {
                    c.captures.join(",")
                },
                c.error.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut w = headers.map(str::len);
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            w[i] = w[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let _ = write!(s, "{:<width$}  ", c, width = w[i]);
            }
        }
        s.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(headers.to_vec()));
    for row in &rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
    if r.changefeeds.iter().any(|c| c.tables.is_some()) {
        let _ = writeln!(
            out,
            "TABLES counts physical tables as TiCDC schedules them: each partition of a partitioned table is one (`plan` counts a partitioned table once)."
        );
    }
    if rows.is_empty() && hidden == 0 {
        let _ = writeln!(out, "(no changefeeds)");
    }
    if hidden > 0 {
        // Without `manage` every changefeed is the repository's: they are hidden for being
        // healthy, not for being someone else's.
        let which = match r.manage_set {
            true => "outside `manage` ",
            false => "",
        };
        let _ = writeln!(
            out,
            "… and {hidden} more changefeed(s) {which}without a problem; `--all` lists them, `--id GLOB` picks some"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticdc::models::Capture;

    fn row(id: &str, state: &str, managed: bool, error: Option<&str>) -> ChangefeedRow {
        let running = state == "normal";
        ChangefeedRow {
            namespace: "default".into(),
            id: id.into(),
            state: state.into(),
            checkpoint_ts: 0,
            checkpoint_time: "2026-11-30 10:00:00.000".into(),
            lag_seconds: if running { 1.5 } else { 3720.0 },
            captures: if running {
                vec!["cap-1".into()]
            } else {
                vec![]
            },
            tables: running.then_some(12),
            error: error.map(String::from),
            managed,
        }
    }

    fn report(rows: Vec<ChangefeedRow>) -> StatusReport {
        let capture = Capture {
            id: "cap-1".into(),
            is_owner: true,
            address: "10.0.0.1:8300".into(),
            cluster_id: "default".into(),
        };
        StatusReport {
            server: "http://ticdc:8300".into(),
            version: "v8.5.0".into(),
            healthy: true,
            health_error: None,
            owner: Some(capture.clone()),
            captures: vec![capture],
            changefeeds: rows,
            problems: vec![],
            manage_set: true,
        }
    }

    /// The table as a user reads it, small and large (compact: managed rows and problems only,
    /// the rest counted).
    #[test]
    fn status_tables_are_as_snapshotted() {
        let few = vec![
            row("orders-to-kafka", "normal", true, None),
            row("billing-archive", "stopped", true, None),
            row(
                "audit",
                "failed",
                false,
                Some("CDC:ErrKafkaSendMessage: broker unreachable"),
            ),
        ];
        insta::assert_snapshot!("status_table_small", table(&report(few.clone()), false));
        let mut many = few;
        many.extend((0..60).map(|i| row(&format!("other-{i:02}"), "normal", false, None)));
        let large = report(many);
        let compact = table(&large, false);
        assert!(!compact.contains("other-00"), "{compact}");
        insta::assert_snapshot!("status_table_compact", compact);
        assert_eq!(table(&large, true).matches("default/other-").count(), 60);
        assert!(
            compact.contains("more changefeed(s) outside `manage` without"),
            "{compact}"
        );
        // Without `manage` every changefeed is the repository's: hidden for being healthy only.
        let unset = StatusReport {
            manage_set: false,
            ..large
        };
        let compact = table(&unset, false);
        assert!(
            compact.contains("more changefeed(s) without a problem"),
            "{compact}"
        );
        assert!(!compact.contains("outside `manage`"), "{compact}");
    }
}
