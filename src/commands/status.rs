//! `cdcform status`: the report of `crate::status` for one cluster or several, as a table or
//! JSON. Exit 1 when a cluster is unhealthy or unreachable, or a managed changefeed is `failed`
//! or `warning`.

use crate::cli::{GlobalArgs, StatusArgs, TableFormat};
use crate::output::Output;
use crate::render::status::table;
use crate::settings::{process_env, Resolve, Settings};
use crate::status::{collect, StatusFilter};
use crate::ticdc::Client;
use crate::{exit, Error};

/// A status report in the one JSON envelope.
fn document(kind: &str, body: &impl serde::Serialize) -> String {
    let body = serde_json::to_value(body).unwrap_or_default();
    serde_json::to_string_pretty(&crate::document::envelope(kind, body)).unwrap_or_default()
}

pub async fn run(g: &GlobalArgs, a: StatusArgs, out: &Output) -> Result<i32, Error> {
    let targets = Settings::resolve_targets(g, &process_env)?;
    let filter = StatusFilter {
        ids: crate::settings::globs("--id", &a.ids)?,
        managed_only: a.managed,
    };
    let several = targets.len() > 1;
    let mut reports = futures::future::join_all(targets.into_iter().map(|t| {
        let filter = &filter;
        async move {
            let r = async {
                let s = t.settings?;
                let client = Client::new(s.client.clone())?;
                collect(&s, &client, filter).await
            }
            .await;
            (t.name, r)
        }
    }))
    .await;
    if !several {
        let (_, report) = reports.pop().expect("one target");
        let report = report?;
        match a.format {
            // -q: only the problems (on stderr) and the exit status.
            TableFormat::Human if out.verbosity < 0 => {}
            // A filter is an explicit choice of rows: shown in full.
            TableFormat::Human => out.data(&table(&report, a.every_row())),
            TableFormat::Json => out.data(&document("status", &report)),
        }
        for p in &report.problems {
            out.warn(p);
        }
        return Ok(if report.problems.is_empty() {
            exit::OK
        } else {
            exit::ERROR
        });
    }
    let mut bad = false;
    let mut json = Vec::new();
    for (name, r) in &reports {
        match r {
            Ok(report) => {
                bad |= !report.problems.is_empty();
                match a.format {
                    TableFormat::Json => {
                        json.push(serde_json::json!({"name": name, "status": report}))
                    }
                    _ if out.verbosity < 0 => {}
                    _ => out.data(&format!(
                        "══ cluster {name} ══\n{}",
                        table(report, a.every_row())
                    )),
                }
                for p in &report.problems {
                    out.warn(&format!("cluster {name}: {p}"));
                }
            }
            Err(e) => {
                bad = true;
                json.push(serde_json::json!({"name": name, "error": e.to_string()}));
                out.warn(&format!("cluster {name}: {e}"));
            }
        }
    }
    if a.format == TableFormat::Json {
        out.data(&document(
            "statuses",
            &serde_json::json!({ "clusters": json }),
        ));
    }
    Ok(if bad { exit::ERROR } else { exit::OK })
}
