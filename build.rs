//! Build script: records the git commit the binary is built from, for `cdcform --version`.
//!
//! In a git checkout of this crate it runs `git rev-parse --short HEAD`; in a `cargo package`
//! build (crates.io, `cargo install`) there is no repository of its own, so it reads the commit
//! cargo recorded in `.cargo_vcs_info.json`, and says `unknown` when there is none.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// Rebuild when HEAD moves: HEAD itself, the branch it points at, and packed refs. Also in a
/// `cargo package` verification build, which shares target/ (and this script's output) with
/// the checkout around it: the checkout's next build must not reuse that build's answer.
fn watch_head(dir: &Path) {
    let mut paths = vec!["HEAD".to_string(), "packed-refs".to_string()];
    paths.extend(git(dir, &["symbolic-ref", "-q", "HEAD"]));
    for path in paths {
        if let Some(p) = git(dir, &["rev-parse", "--git-path", &path]) {
            let p = dir.join(p);
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
}

/// The commit of the repository whose top level is this crate (not of an enclosing one,
/// which is what `cargo package` verification builds sit inside).
fn from_git(manifest_dir: &Path) -> Option<String> {
    let top = PathBuf::from(git(manifest_dir, &["rev-parse", "--show-toplevel"])?);
    if top.canonicalize().ok()? != manifest_dir.canonicalize().ok()? {
        return None;
    }
    git(manifest_dir, &["rev-parse", "--short", "HEAD"])
}

/// `"sha1": "<40 hex>"` from the `.cargo_vcs_info.json` that `cargo package` writes.
fn from_vcs_info(manifest_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(manifest_dir.join(".cargo_vcs_info.json")).ok()?;
    let rest = &text[text.find("\"sha1\"")? + 6..];
    let start = rest.find('"')? + 1;
    let sha: String = rest[start..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    (sha.len() >= 7).then(|| sha[..7].to_string())
}

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=build.rs");
    watch_head(&dir);
    let commit = from_git(&dir)
        .or_else(|| from_vcs_info(&dir))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=CDCFORM_GIT_COMMIT={commit}");
}
