//! `cdcform validate [PATH…]`: offline checks of the manifests; no network.

use crate::cli::{GlobalArgs, ValidateArgs};
use crate::output::Output;
use crate::settings::{process_env, Settings};
use crate::ticdc::{ServerProfile, Version};
use crate::Error;

pub async fn run(g: &GlobalArgs, a: ValidateArgs, out: &Output) -> Result<i32, Error> {
    // Same path resolution as plan/apply: arguments, else the cluster's `paths` in
    // cdcform.toml, else `.`. No network is touched.
    let settings = Settings::resolve(g, &process_env)?;
    let paths = settings.manifest_paths(&a.paths);
    let target = a.target.as_deref().map(parse_target).transpose()?;
    let set = crate::manifest::load_for(&paths, &process_env, target.as_ref())
        .map_err(Error::Manifest)?;
    out.data(&summary(set.changefeeds.len(), set.files.len()));
    Ok(0)
}

/// `--target`: `newarch` or a classic version (`v8.5.0`, `8.1`).
fn parse_target(s: &str) -> Result<ServerProfile, Error> {
    if s.eq_ignore_ascii_case("newarch") {
        return Ok(ServerProfile::newarch());
    }
    let v = s.strip_prefix("classic-").unwrap_or(s);
    Version::parse(v).map(ServerProfile::classic).ok_or_else(|| {
        Error::Settings(format!(
            "invalid --target `{s}`: expected `newarch` or a classic version such as `v8.5.0`\nhelp: the target decides which of TiCDC's per-version sink checks apply"
        ))
    })
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
