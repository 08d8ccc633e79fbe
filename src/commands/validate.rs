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
        match crate::manifest::load(&paths, &process_env) {
            Ok(set) => {
                if let Some(report) = check_policies(settings, &a, &set.changefeeds)? {
                    out.data(&crate::render::policy::human(&report));
                    if report.blocks() {
                        out.warn(&format!(
                            "{} policy violation(s) (deny){}",
                            report.deny.len(),
                            if several {
                                format!(" in cluster {name}")
                            } else {
                                String::new()
                            }
                        ));
                        failed = Some(crate::exit::ERROR);
                        continue;
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

/// The policies offline: every manifest entry, `live: null`, no action.
fn check_policies(
    settings: &Settings,
    a: &ValidateArgs,
    desired: &[crate::manifest::DesiredChangefeed],
) -> Result<Option<crate::policy::Report>, Error> {
    let cluster = crate::policy::input::ClusterInfo {
        name: settings.cluster.clone(),
        server: settings.server.clone(),
        profile: None,
    };
    Ok(crate::policy::check_validate(
        &a.policy.to_options(settings),
        desired,
        &cluster,
        &settings.namespace,
    )?)
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
