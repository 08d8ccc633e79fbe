//! Release artefacts: `--version`, per-subcommand man pages, and the release workflow,
//! Dockerfile and installer that cannot run here but are checked for their required pieces.

use std::path::Path;

use crate::harness::cdcform;

fn repo_file(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn version_names_the_git_commit() {
    let o = cdcform().arg("--version").output().unwrap();
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    let want_prefix = format!("cdcform {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&want_prefix), "{text}");
    let commit = text[want_prefix.len()..].trim_end().trim_end_matches(')');
    // In a git checkout it is the checkout's HEAD (build.rs reruns when HEAD moves).
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match head {
        Some(h) => assert_eq!(commit, h, "{text}"),
        None => assert_eq!(commit, "unknown", "{text}"),
    }
}

#[test]
fn man_dir_writes_a_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    cdcform()
        .args(["man", "--dir"])
        .arg(dir.path())
        .assert()
        .code(0);
    use clap::CommandFactory;
    fn names(cmd: &clap::Command, prefix: &str, acc: &mut Vec<String>) {
        let name = if prefix.is_empty() {
            cmd.get_name().to_string()
        } else {
            format!("{prefix}-{}", cmd.get_name())
        };
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            names(sub, &name, acc);
        }
        acc.push(name);
    }
    let mut want = Vec::new();
    names(&cdcform::cli::Cli::command(), "", &mut want);
    assert!(want.len() > 10, "{want:?}");
    for name in &want {
        let page = dir.path().join(format!("{name}.1"));
        let text = std::fs::read_to_string(&page)
            .unwrap_or_else(|e| panic!("no page {}: {e}", page.display()));
        assert!(text.contains(".TH"), "{name}: not roff");
    }
    let plan = std::fs::read_to_string(dir.path().join("cdcform-plan.1")).unwrap();
    for flag in ["detailed\\-exitcode", "\\-\\-out", "\\-\\-format"] {
        assert!(plan.contains(flag), "cdcform-plan.1 lacks {flag}");
    }
    let apply = std::fs::read_to_string(dir.path().join("cdcform-apply.1")).unwrap();
    assert!(apply.contains("auto\\-approve"));
    // Without --dir: the top page on stdout, as before.
    cdcform()
        .arg("man")
        .assert()
        .code(0)
        .stdout(predicates::str::contains(".TH cdcform 1"));
}
