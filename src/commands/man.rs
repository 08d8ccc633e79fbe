//! `cdcform man`: the top-level man page on stdout, or one page per subcommand with `--dir`.
//! Each page is clap_mangen's sections plus EXIT STATUS, ENVIRONMENT and FILES; the variables
//! come from the flags' own `[env: …]` help, so the page cannot drift from the parser.

use std::collections::BTreeSet;
use std::path::Path;

use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::output::Output;
use crate::{exit, Error};

pub fn run(args: ManArgs, out: &Output) -> Result<i32, Error> {
    match args.dir {
        None => {
            let buf = page(&command(), &env_vars(&command()))
                .map_err(|e| Error::msg(format!("cannot render the man page: {e}")))?;
            out.data(&String::from_utf8_lossy(&buf));
        }
        Some(dir) => {
            let n = write_pages(&dir)?;
            out.progress(&format!("Wrote {n} man pages to {}", dir.display()));
        }
    }
    Ok(exit::OK)
}

/// The command tree as the pages show it: without clap's `help` subcommand, which has no page
/// (`cdcform COMMAND --help` is the same text).
fn command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// Write `cdcform.1` and `cdcform-<sub>[-<subsub>].1` for every visible subcommand into `dir`
/// (created when missing). Returns how many pages were written.
pub fn write_pages(dir: &Path) -> Result<usize, Error> {
    let fail = |e: std::io::Error| {
        Error::msg(format!(
            "cannot write man pages to {}: {e}\nhelp: pass a writable directory to `--dir`",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let root = command();
    let vars = env_vars(&root);
    let mut n = 0;
    let mut err = None;
    for (_, cmd) in crate::cli::command_tree(root) {
        let name = clap_mangen::Man::new(cmd.clone()).get_filename();
        let r = page(&cmd, &vars).and_then(|buf| std::fs::write(dir.join(&name), buf));
        match r {
            Ok(()) => n += 1,
            Err(e) => {
                err.get_or_insert(e);
            }
        }
    }
    match err {
        Some(e) => Err(fail(e)),
        None => Ok(n),
    }
}

/// One page: clap_mangen's sections, then ours.
fn page(cmd: &clap::Command, vars: &BTreeSet<(String, String)>) -> std::io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut buf = Vec::new();
    man.render_title(&mut buf)?;
    man.render_name_section(&mut buf)?;
    man.render_synopsis_section(&mut buf)?;
    man.render_description_section(&mut buf)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut buf)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut buf)?;
    }
    if cmd.get_after_help().is_some() || cmd.get_after_long_help().is_some() {
        man.render_extra_section(&mut buf)?;
    }
    buf.extend(sections(vars).as_bytes());
    man.render_version_section(&mut buf)?;
    Ok(buf)
}

/// The environment variables cdcform reads, as the man pages list them (the docs test checks
/// that docs/reference/environment.md names each).
pub fn environment() -> Vec<String> {
    env_vars(&command()).into_iter().map(|(n, _)| n).collect()
}

/// The variables the flags read (`[env: NAME]` in their help) with the flag's first line, and
/// the ones no flag names.
fn env_vars(root: &clap::Command) -> BTreeSet<(String, String)> {
    fn walk(cmd: &clap::Command, out: &mut BTreeSet<(String, String)>) {
        for a in cmd.get_arguments() {
            let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            if let Some(name) = help
                .split("[env: ")
                .nth(1)
                .and_then(|r| r.split(']').next())
            {
                let what = help.split(" [env: ").next().unwrap_or_default();
                let flag = a.get_long().map(|l| format!("--{l}")).unwrap_or_default();
                out.insert((name.to_string(), format!("as {flag}: {what}")));
            }
        }
        for s in cmd.get_subcommands() {
            walk(s, out);
        }
    }
    let mut out = BTreeSet::new();
    walk(root, &mut out);
    // One description per variable (the first flag's).
    let mut seen = BTreeSet::new();
    out.retain(|(n, _)| seen.insert(n.clone()));
    for (n, d) in [
        ("CDCFORM_PASSWORD", "the password for --user (or a cluster's `password_env` names another variable); never a flag"),
        ("CDCFORM_GC_TTL", "the upstream's GC TTL when cdcform.toml does not set `gc_ttl` (default 24h)"),
        ("CDCFORM_LOG", "log filter for `reconcile` and -v output (tracing syntax, e.g. debug)"),
        ("NO_COLOR", "any non-empty value turns colour off unless --color always is given"),
    ] {
        if !out.iter().any(|(x, _)| x == n) {
            out.insert((n.to_string(), d.to_string()));
        }
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('-', "\\-")
}

fn sections(vars: &BTreeSet<(String, String)>) -> String {
    let mut s = String::from(".SH \"EXIT STATUS\"\n");
    for (code, what) in [
        (exit::OK, "success; for `plan`, also when there are changes unless --detailed-exitcode is given"),
        (exit::ERROR, "an error: bad input, an unreachable or refusing server, a blocked or failed change, a guard that held; nothing was changed unless the output says what was"),
        (exit::CHANGES, "only `plan --detailed-exitcode`: the plan has changes"),
    ] {
        s.push_str(&format!(".TP\n\\fB{code}\\fR\n{}\n", escape(what)));
    }
    s.push_str(".SH ENVIRONMENT\n");
    for (name, what) in vars {
        s.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{}\n",
            escape(name),
            escape(what)
        ));
    }
    s.push_str(".SH FILES\n");
    for (file, what) in [
        ("cdcform.toml", "clusters, manifest paths, `manage`, `protected`, policies; read from the working directory or --config (CDCFORM_CONFIG)"),
        ("*.yaml, *.yml", "manifests: files whose top level has `changefeeds:`; hidden folders are skipped"),
        ("PLAN.json", "a saved plan written by `plan --out`, executed by `apply PLAN.json`"),
    ] {
        s.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", escape(file), escape(what)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// #29 item 15: no page for `help`, and every page has EXIT STATUS, ENVIRONMENT and FILES.
    #[test]
    fn pages_have_exit_status_environment_and_files_and_no_help_page() {
        let dir = tempfile::tempdir().unwrap();
        let n = write_pages(dir.path()).unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(names.len(), n);
        assert!(!names.iter().any(|n| n.contains("help")), "{names:?}");
        let top = std::fs::read_to_string(dir.path().join("cdcform.1")).unwrap();
        assert!(!top.contains("cdcform\\-help(1)"), "{top}");
        for name in &names {
            let p = std::fs::read_to_string(dir.path().join(name)).unwrap();
            for section in [".SH \"EXIT STATUS\"", ".SH ENVIRONMENT", ".SH FILES"] {
                assert!(p.contains(section), "{name} lacks {section}");
            }
        }
        for var in [
            "CDCFORM_SERVER",
            "CDCFORM_PASSWORD",
            "NO_COLOR",
            "CDCFORM_RETRY_FOR",
        ] {
            assert!(
                top.contains(&escape(var)),
                "{var} missing from the ENVIRONMENT section"
            );
        }
    }
}
