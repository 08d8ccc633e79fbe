//! `cdcform status`: the report of `crate::status`, as a table or JSON. Exit 1 when the cluster
//! is unhealthy or a managed changefeed is `failed` or `warning`.

use crate::cli::{GlobalArgs, StatusArgs, TableFormat};
use crate::output::Output;
use crate::render::status::table;
use crate::settings::{process_env, Settings};
use crate::status::{collect, StatusFilter};
use crate::ticdc::Client;
use crate::{exit, Error};

pub async fn run(g: &GlobalArgs, a: StatusArgs, out: &Output) -> Result<i32, Error> {
    let settings = Settings::resolve(g, &process_env)?;
    let client = Client::new(settings.client.clone())?;
    let filter = StatusFilter {
        ids: crate::settings::globs("--id", &a.ids)?,
        managed_only: a.managed,
    };
    let report = collect(&settings, &client, &filter).await?;
    match a.format {
        // -q: only the problems (on stderr) and the exit status.
        TableFormat::Table if out.verbosity < 0 => {}
        // A filter is an explicit choice of rows: shown in full.
        TableFormat::Table => out.data(&table(&report, a.every_row())),
        TableFormat::Json => out.data(&serde_json::to_string_pretty(&report).unwrap_or_default()),
    }
    for p in &report.problems {
        out.warn(p);
    }
    Ok(if report.problems.is_empty() {
        exit::OK
    } else {
        exit::ERROR
    })
}
