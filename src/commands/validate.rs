//! `cdcform validate [PATH…]`: offline checks of the manifests; no network.

use crate::cli::{GlobalArgs, ValidateArgs};
use crate::manifest::{DesiredChangefeed, Diagnostic, Diagnostics};
use crate::output::Output;
use crate::settings::{process_env, Purpose, Resolve, Settings};
use crate::ticdc::kernel::Kernel;
use crate::ticdc::{ServerProfile, Version};
use crate::Error;

pub async fn run(g: &GlobalArgs, a: ValidateArgs, out: &Output) -> Result<i32, Error> {
    // Same path resolution as plan/apply: arguments, else the cluster's `paths` in
    // cdcform.toml, else `.`. With several clusters and none chosen, each cluster's paths are
    // checked on their own (two clusters may well share an id). No network is touched.
    let each = Settings::resolve_each(g, &process_env, Purpose::Offline)?;
    let target = a.server_target.as_deref().map(parse_target).transpose()?;
    let several = each.len() > 1;
    let mut failed = None;
    for settings in &each {
        let paths = settings.manifest_paths(&a.paths)?;
        let name = settings.cluster.as_deref().unwrap_or("");
        let env = crate::manifest::env::from_process;
        let loaded = crate::manifest::load_options(
            &paths,
            &|n| settings.var(n, &env),
            &|n| settings.is_public_var(n, &env),
            target.as_ref().map(|t| &t.0),
            &settings.namespace,
        )
        .and_then(|set| match &target {
            Some((_, Some(Kernel::Classic))) => {
                classic_kernel_namespaces(&set.changefeeds).map(|_| set)
            }
            _ => Ok(set),
        });
        match loaded {
            Ok(set) => {
                if let Some(report) = check_policies(settings, &set.changefeeds)? {
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
                // With `--target`, warn about what that server refuses or drops; without it,
                // about what any server architecture refuses or drops.
                for cf in &set.changefeeds {
                    for w in crate::manifest::compat::warnings(cf, target.as_ref().map(|t| &t.0)) {
                        out.warn(&w.to_string());
                    }
                }
                let line = summary(set.changefeeds.len(), set.files.len());
                if out.verbosity < 0 {
                    continue;
                }
                if !set.skipped.is_empty() {
                    let names: Vec<String> = set
                        .skipped
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect();
                    out.progress(&format!(
                        "skipped {} YAML file(s) without a top-level `changefeeds:` (not manifests): {}",
                        names.len(),
                        names.join(", ")
                    ));
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

/// `--target`: `newarch` (classic kernel, as every self-hosted cluster), `newarch-nextgen`, or
/// a classic version (`v8.5.0`, `8.1`).
fn parse_target(s: &str) -> Result<(ServerProfile, Option<Kernel>), Error> {
    match s.to_ascii_lowercase().as_str() {
        "newarch" => return Ok((ServerProfile::newarch(), Some(Kernel::Classic))),
        "newarch-nextgen" => return Ok((ServerProfile::newarch(), Some(Kernel::NextGen))),
        _ => {}
    }
    let v = s.strip_prefix("classic-").unwrap_or(s);
    Version::parse(v)
        .map(|v| (ServerProfile::classic(v), None))
        .ok_or_else(|| {
            Error::Settings(format!(
                "invalid --target `{s}`: expected `newarch`, `newarch-nextgen` or a classic version such as `v8.5.0`\nhelp: the target decides which of TiCDC's per-version checks apply"
            ))
        })
}

/// A classic-kernel new-architecture server keeps every changefeed in keyspace `default`
/// (pingcap/ticdc api/v2 `GetKeyspaceValueWithDefault`): another namespace cannot be honoured.
fn classic_kernel_namespaces(changefeeds: &[DesiredChangefeed]) -> Result<(), Diagnostics> {
    let diags: Vec<Diagnostic> = changefeeds
        .iter()
        .filter(|d| d.namespace.as_deref().is_some_and(|n| n != "default"))
        .map(|d| Diagnostic {
            file: d.location.file.clone(),
            line: d.location.line,
            column: d.location.column,
            message: format!(
                "changefeed `{}` names namespace `{}`, but a new-architecture TiCDC with the classic kernel keeps every changefeed in keyspace `default`",
                d.id,
                d.namespace.as_deref().unwrap_or_default()
            ),
            help: Some("remove `namespace:` (or set it to `default`); other keyspaces exist only on next-generation kernels (`--target newarch-nextgen`)".into()),
            source: None,
        })
        .collect();
    if diags.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(diags))
    }
}

/// The policies offline: every manifest entry, `live: null`, no action.
fn check_policies(
    settings: &Settings,
    desired: &[crate::manifest::DesiredChangefeed],
) -> Result<Option<crate::policy::Report>, Error> {
    let cluster = crate::policy::input::ClusterInfo {
        name: settings.cluster.clone(),
        server: crate::pipeline::shown_server(&settings.server),
        profile: None,
    };
    Ok(crate::policy::check_validate(
        &settings.policy_options(),
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
