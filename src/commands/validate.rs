//! `cdcform validate [PATH…]`: offline checks of the manifests; no network.

use crate::cli::{GlobalArgs, ValidateArgs};
use crate::output::Output;
use crate::settings::{process_env, Purpose, Settings};
use crate::Error;

pub async fn run(g: &GlobalArgs, a: ValidateArgs, out: &Output) -> Result<i32, Error> {
    // Same path resolution as plan/apply: arguments, else the cluster's `paths` in
    // cdcform.toml, else `.`. With several clusters and none chosen, each cluster's paths are
    // checked on their own (two clusters may well share an id). No network is touched.
    let each = Settings::resolve_each(g, &process_env, Purpose::Offline)?;
    let several = each.len() > 1;
    let mut failed = None;
    for settings in &each {
        let paths = settings.manifest_paths(&a.paths)?;
        let name = settings.cluster.as_deref().unwrap_or("");
        let env = crate::manifest::env::from_process;
        let loaded = crate::manifest::load_with(&paths, &|n| settings.var(n, &env), &|n| {
            settings.is_public_var(n, &env)
        });
        match loaded {
            Ok(set) => {
                // The target is unknown offline: warn about what any server architecture
                // refuses or drops.
                for cf in &set.changefeeds {
                    for w in crate::manifest::compat::warnings(cf, None) {
                        out.warn(&w.to_string());
                    }
                }
                let line = summary(set.changefeeds.len(), set.files.len());
                if out.verbosity < 0 {
                    continue;
                }
                out.data(&if several {
                    format!("cluster {name}: {line}")
                } else {
                    line
                });
            }
            Err(d) if several => {
                out.error(&Error::Manifest(d));
                out.data(&format!("cluster {name}: invalid (see above)"));
                failed = Some(crate::exit::ERROR);
            }
            Err(d) => return Err(Error::Manifest(d)),
        }
    }
    Ok(failed.unwrap_or(crate::exit::OK))
}

/// `3 changefeeds in 2 files are valid.`
pub fn summary(changefeeds: usize, files: usize) -> String {
    format!(
        "{changefeeds} changefeed{} in {files} file{} {} valid.",
        if changefeeds == 1 { "" } else { "s" },
        if files == 1 { "" } else { "s" },
        if changefeeds == 1 { "is" } else { "are" },
    )
}
