//! `cdcform export`: reads the namespace's changefeeds and writes what `crate::export` makes of
//! them, to stdout or one file per changefeed.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

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
    if let Some(files_dir) = &a.replica_config_files {
        return with_files(&snap.profile, &items, files_dir, a.out.as_deref(), out);
    }
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
            create_dir(dir, "--out")?;
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

fn create_dir(dir: &Path, flag: &str) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::msg(format!(
            "cannot create {}: {e}\nhelp: choose another `{flag}` directory",
            dir.display()
        ))
    })
}

fn write(path: &Path, text: &str, flag: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(|e| {
        Error::msg(format!(
            "cannot write {}: {e}\nhelp: check the permissions of `{flag}`",
            path.display()
        ))
    })
}

/// `to` as a path relative to the directory `from` (both exist).
fn relative(to: &Path, from: &Path) -> PathBuf {
    let (Ok(to), Ok(from)) = (to.canonicalize(), from.canonicalize()) else {
        return to.to_path_buf();
    };
    let t: Vec<Component> = to.components().collect();
    let f: Vec<Component> = from.components().collect();
    let common = t.iter().zip(&f).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// `export --replica-config-files DIR`: a `cdc cli` TOML per changefeed in DIR and manifests
/// that name them (on stdout, the paths as DIR was given, for a manifest kept in the current
/// directory; with `--out`, relative to that directory).
fn with_files(
    profile: &crate::ticdc::ServerProfile,
    items: &[(String, export::Entry)],
    files_dir: &Path,
    out_dir: Option<&Path>,
    out: &Output,
) -> Result<i32, Error> {
    // What the plain export would write must validate first, as always.
    for (_, item) in items {
        export::document(std::slice::from_ref(item))?;
    }
    create_dir(files_dir, "--replica-config-files")?;
    if let Some(d) = out_dir {
        create_dir(d, "--out")?;
    }
    let named_dir = match out_dir {
        Some(d) => relative(files_dir, d),
        None => files_dir.to_path_buf(),
    };
    let mut built = Vec::new();
    for (id, item) in items {
        let name = named_dir.join(format!("{id}.toml"));
        let name = name.to_string_lossy().replace('\\', "/");
        let name = name.strip_prefix("./").unwrap_or(&name).to_string();
        built.push((id, export::with_config_file(profile, item, &name)?));
    }
    let mut files = 0;
    for (id, w) in &built {
        if let Some(text) = &w.toml {
            write(
                &files_dir.join(format!("{id}.toml")),
                text,
                "--replica-config-files",
            )?;
            files += 1;
        }
    }
    match out_dir {
        None => {
            let entries: Vec<export::Entry> = built.into_iter().map(|(_, w)| w.entry).collect();
            out.data(&export::render_document(&entries));
        }
        Some(d) => {
            for (id, w) in &built {
                let text = export::render_document(std::slice::from_ref(&w.entry));
                write(&d.join(format!("{id}.yaml")), &text, "--out")?;
            }
            out.progress(&format!(
                "Exported {} changefeed(s) to {}",
                built.len(),
                d.display()
            ));
        }
    }
    out.progress(&format!(
        "Wrote {files} replica config file(s) to {}",
        files_dir.display()
    ));
    Ok(exit::OK)
}
