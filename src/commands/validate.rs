//! `cdcform validate [PATH…]`: offline checks of the manifests; no network.

use crate::cli::{GlobalArgs, ValidateArgs};
use crate::output::Output;
use crate::settings::{process_env, Settings};
use crate::Error;

pub async fn run(g: &GlobalArgs, a: ValidateArgs, out: &Output) -> Result<i32, Error> {
    // Same path resolution as plan/apply: arguments, else the cluster's `paths` in
    // cdcform.toml, else `.`. No network is touched.
    let settings = Settings::resolve(g, &process_env)?;
    let paths = settings.manifest_paths(&a.paths);
    let set = crate::manifest::load(&paths, &crate::manifest::env::from_process)
        .map_err(Error::Manifest)?;
    // The target is unknown offline: warn about what any server architecture refuses or drops.
    for cf in &set.changefeeds {
        for w in crate::manifest::compat::warnings(cf, None) {
            out.warn(&w.to_string());
        }
    }
    out.data(&summary(set.changefeeds.len(), set.files.len()));
    Ok(0)
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
