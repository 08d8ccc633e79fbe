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

/// The commit of the repository whose top level is this crate (not of an enclosing one,
/// which is what `cargo package` verification builds sit inside).
fn from_git(manifest_dir: &Path) -> Option<String> {
    let top = PathBuf::from(git(manifest_dir, &["rev-parse", "--show-toplevel"])?);
    let same = top.canonicalize().ok()? == manifest_dir.canonicalize().ok()?;
    if !same {
        return None;
    }
    // Rebuild when HEAD moves: HEAD itself, the branch it points at, and packed refs.
    for path in ["HEAD", "packed-refs"] {
        if let Some(p) = git(manifest_dir, &["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={}", manifest_dir.join(p).display());
        }
    }
    if let Some(branch) = git(manifest_dir, &["symbolic-ref", "-q", "HEAD"]) {
        if let Some(p) = git(manifest_dir, &["rev-parse", "--git-path", &branch]) {
            println!("cargo:rerun-if-changed={}", manifest_dir.join(p).display());
        }
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
    let commit = from_git(&dir)
        .or_else(|| from_vcs_info(&dir))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=CDCFORM_GIT_COMMIT={commit}");
}
