//! `cdcform export`: reads the namespace's changefeeds and writes what `crate::export` makes of
//! them, to stdout or one file per changefeed.

use std::collections::BTreeSet;

use crate::cli::{ExportArgs, GlobalArgs};
use crate::export::{self, ExportOptions};
use crate::output::Output;
use crate::settings::{process_env, Resolve, Settings};
use crate::ticdc::Client;
use crate::{exit, Error};

pub async fn run(g: &GlobalArgs, a: ExportArgs, out: &Output) -> Result<i32, Error> {
    if a.all_clusters {
        return Err(Error::msg(
            "export writes one cluster's changefeeds at a time; --all-clusters is for plan, apply and status\n\
             help: run it once per cluster: `cdcform export --cluster NAME --out DIR/NAME`",
        ));
    }
    let settings = Settings::resolve(g, &process_env)?;
    let client = Client::new(settings.client.clone())?;
    let ns: BTreeSet<String> = [settings.namespace.clone()].into();
    // Filter before any GET: only the matching changefeeds are read in full.
    let filter = export::id_filter(&a.ids)?;
    let wanted = |k: &crate::plan::Key| filter.as_ref().is_none_or(|f| f.is_match(&k.id));
    let wanted: crate::plan::live::Wanted = filter.is_some().then_some(&wanted);
    let snap = crate::plan::live::read(&client, &ns, settings.parallelism, wanted).await?;
    let opts = ExportOptions {
        ids: a.ids.clone(),
        namespace: settings.namespace.clone(),
    };
    let chosen = export::select(&snap.changefeeds, &snap.listed_only, &opts)?;
    let items: Vec<(String, export::Entry)> = chosen
        .into_iter()
        .map(|l| (l.info.id.clone(), export::export_one(&snap.profile, l)))
        .collect();
    match &a.out {
        None => {
            let entries: Vec<export::Entry> = items.into_iter().map(|(_, x)| x).collect();
            out.data(&export::document(&entries)?);
        }
        Some(dir) => {
            // Build every document first: nothing is written unless all of them validate.
            let docs = items
                .iter()
                .map(|(id, item)| Ok((id, export::document(std::slice::from_ref(item))?)))
                .collect::<Result<Vec<_>, Error>>()?;
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::msg(format!(
                    "cannot create {}: {e}\nhelp: choose another `--out` directory",
                    dir.display()
                ))
            })?;
            for (id, text) in &docs {
                let path = dir.join(format!("{id}.yaml"));
                std::fs::write(&path, text).map_err(|e| {
                    Error::msg(format!(
                        "cannot write {}: {e}\nhelp: check the permissions of `--out`",
                        path.display()
                    ))
                })?;
            }
            out.progress(&format!(
                "Exported {} changefeed(s) to {}",
                docs.len(),
                dir.display()
            ));
        }
    }
    Ok(exit::OK)
}
