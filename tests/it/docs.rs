//! Docs that cannot rot: every relative link (and `#anchor`) in README.md, ARCHITECTURE.md and
//! docs/ resolves; every YAML manifest snippet there passes `cdcform validate`; the generated
//! reference pages are fresh; every command has its reference section and every crate its
//! place in ARCHITECTURE.md.
//!
//! A ```yaml block whose text has a top-level `changefeeds:` line is a manifest. `${VAR}` in it
//! is replaced by a placeholder, a `replica_config_file` it names is created empty beside it,
//! and `cdcform validate` must exit 0. A block that is meant to be invalid says so on the line
//! before its fence: `<!-- not-a-manifest -->`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::harness::{assert_fresh, cdcform};

const NOT_A_MANIFEST: &str = "<!-- not-a-manifest -->";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md, ARCHITECTURE.md and every `*.md` under docs/, as paths relative to the root.
fn markdown_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    let mut files = vec![root().join("README.md"), root().join("ARCHITECTURE.md")];
    walk(&root().join("docs"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| p.strip_prefix(root()).unwrap().to_path_buf())
        .collect()
}

fn read(relative: &Path) -> String {
    std::fs::read_to_string(root().join(relative))
        .unwrap_or_else(|e| panic!("{}: {e}", relative.display()))
}

/// A fenced code block: its info string, the line of its fence (1-based), the line before
/// the fence, and its text with the fence's indentation taken off.
struct Block {
    info: String,
    line: usize,
    before: String,
    text: String,
}

/// Split markdown into its fenced blocks and the prose outside them (fenced lines blanked,
/// so line numbers stay).
fn blocks(md: &str) -> (Vec<Block>, String) {
    let mut out = vec![];
    let mut prose = String::new();
    let mut open: Option<(usize, String, Block)> = None;
    let mut prev = String::new();
    for (i, line) in md.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut open {
            None if trimmed.starts_with("```") => {
                let fence: String = trimmed.chars().take_while(|c| *c == '`').collect();
                open = Some((
                    indent,
                    fence.clone(),
                    Block {
                        info: trimmed[fence.len()..].trim().to_string(),
                        line: i + 1,
                        before: prev.clone(),
                        text: String::new(),
                    },
                ));
                prose.push('\n');
            }
            None => {
                prose.push_str(line);
                prose.push('\n');
            }
            Some((_, fence, _))
                if trimmed.starts_with(fence.as_str()) && trimmed.trim() == fence =>
            {
                out.push(open.take().unwrap().2);
                prose.push('\n');
            }
            Some((ind, _, b)) => {
                let cut = line.len().min(*ind).min(indent);
                b.text.push_str(&line[cut..]);
                b.text.push('\n');
                prose.push('\n');
            }
        }
        if !line.trim().is_empty() {
            prev = line.trim().to_string();
        }
    }
    assert!(open.is_none(), "a code fence is never closed");
    (out, prose)
}

/// The anchors GitHub gives a file's headings (a repeated heading gets `-1`, `-2`, …).
fn anchors(md: &str) -> BTreeSet<String> {
    let (_, prose) = blocks(md);
    let mut seen = BTreeSet::new();
    for line in prose.lines() {
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        let title = title.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let base = cdcform::docs::anchor(&title.replace('`', ""));
        let mut a = base.clone();
        let mut n = 0;
        while seen.contains(&a) {
            n += 1;
            a = format!("{base}-{n}");
        }
        seen.insert(a);
    }
    seen
}

/// The targets of the inline links `[text](target)` in prose (code spans left out).
fn links(prose: &str) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (n, line) in prose.lines().enumerate() {
        let outside: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        for (i, _) in outside.match_indices("](") {
            let target: String = outside[i + 2..].chars().take_while(|c| *c != ')').collect();
            let target = target.split_whitespace().next().unwrap_or("").to_string();
            out.push((n + 1, target));
        }
    }
    out
}

/// Item 18 of the first-hour issue, grown: every relative link of every page resolves, to a
/// file that exists and, for `file.md#anchor` or `#anchor`, to a heading it has.
#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut bad = vec![];
    let mut checked = 0;
    for file in markdown_files() {
        let md = read(&file);
        let dir = file.parent().unwrap_or(Path::new(""));
        let (_, prose) = blocks(&md);
        for (line, target) in links(&prose) {
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let resolved = if path.is_empty() {
                file.clone()
            } else {
                dir.join(path)
            };
            let at = format!("{}:{line}: {target}", file.display());
            if !root().join(&resolved).exists() {
                bad.push(format!("{at} (no such file)"));
                continue;
            }
            if let Some(a) = anchor {
                if resolved.extension().is_some_and(|x| x == "md")
                    && !anchors(&read(&resolved)).contains(a)
                {
                    bad.push(format!("{at} (no such heading)"));
                }
            }
        }
        // A document named in backticks (`tests/REFUSALS.md`) must be there too, from the root
        // or from the page's folder.
        for part in prose.split('`').skip(1).step_by(2) {
            if part.ends_with(".md")
                && !part.contains(' ')
                && !root().join(part).exists()
                && !root().join(dir).join(part).exists()
            {
                bad.push(format!("{}: `{part}` (no such file)", file.display()));
            }
        }
    }
    assert!(checked > 50, "only {checked} links found");
    assert!(bad.is_empty(), "links to nothing:\n{}", bad.join("\n"));
}

/// The manifests among a page's blocks, with `${VAR}` replaced by a placeholder.
fn manifest_snippets(file: &Path) -> Vec<(usize, String)> {
    let (blocks, _) = blocks(&read(file));
    blocks
        .into_iter()
        .filter(|b| b.info == "yaml" || b.info == "yml")
        .filter(|b| b.text.lines().any(|l| l.starts_with("changefeeds:")))
        .filter(|b| b.before != NOT_A_MANIFEST)
        .map(|b| (b.line, placeholders(&b.text)))
        .collect()
}

fn placeholders(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        let escaped = i > 0 && rest.as_bytes()[i - 1] == b'$';
        let end = rest[i..].find('}').map(|e| i + e + 1).unwrap_or(rest.len());
        out.push_str(&rest[..i]);
        out.push_str(if escaped {
            &rest[i..end]
        } else {
            "placeholder"
        });
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Every manifest in the docs passes `cdcform validate`; together they show every sink kind,
/// and every guide that writes manifests shows a whole one.
#[test]
fn every_manifest_snippet_validates() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = vec![];
    let mut schemes = BTreeSet::new();
    let mut guides_with_one = BTreeSet::new();
    let mut n = 0;
    for file in markdown_files() {
        for (line, text) in manifest_snippets(&file) {
            n += 1;
            let case = dir.path().join(format!("case-{n}"));
            std::fs::create_dir_all(&case).unwrap();
            for l in text.lines() {
                if let Some(v) = l.trim().strip_prefix("replica_config_file:") {
                    let rel = v.split('#').next().unwrap().trim().trim_matches('"');
                    let p = case.join(rel);
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(p, "").unwrap();
                }
                if let Some(v) = l.trim().strip_prefix("sink_uri:") {
                    let v = v.trim().trim_matches('"');
                    schemes.insert(v.split(':').next().unwrap_or("").to_string());
                }
            }
            let manifest = case.join("snippet.yaml");
            std::fs::write(&manifest, &text).unwrap();
            let out = cdcform()
                .current_dir(&case)
                .args(["validate", "snippet.yaml"])
                .output()
                .unwrap();
            if out.status.code() != Some(0) {
                failures.push(format!(
                    "{}:{line}: exit {:?}\n{}{}",
                    file.display(),
                    out.status.code(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            guides_with_one.insert(file.clone());
        }
    }
    assert!(n >= 15, "only {n} manifest snippets found");
    assert!(
        failures.is_empty(),
        "manifest snippets that do not validate (mark one that is meant to fail with \
         `{NOT_A_MANIFEST}` on the line before its fence):\n{}",
        failures.join("\n")
    );
    for kinds in [
        &["mysql", "tidb"][..],
        &["kafka"],
        &["pulsar", "pulsar+ssl"],
        &["s3", "gcs", "gs", "azure", "file"],
        &["blackhole"],
    ] {
        assert!(
            kinds.iter().any(|k| schemes.contains(*k)),
            "no manifest example with a {kinds:?} sink (schemes shown: {schemes:?})"
        );
    }
    // Every guide shows a whole manifest, except the ones about no manifest in particular.
    let without = ["outages-and-guarantees.md", "status.md"];
    for file in markdown_files() {
        let name = file.file_name().unwrap().to_str().unwrap();
        if file.starts_with("docs/guide") && !without.contains(&name) {
            assert!(
                guides_with_one.contains(&file),
                "{} has no manifest example",
                file.display()
            );
        }
    }
}

/// docs/reference/commands.md is what the clap definitions print now.
#[test]
fn commands_reference_is_fresh() {
    assert_fresh("docs/reference/commands.md", &cdcform::docs::commands_md());
}

/// docs/reference/manifest.md is what the manifest types' schema says now.
#[test]
fn manifest_reference_is_fresh() {
    let schema = serde_json::to_value(cdcform::manifest::json_schema()).unwrap();
    assert_fresh(
        "docs/reference/manifest.md",
        &cdcform::docs::manifest_md(&schema),
    );
}

/// Every visible command has its section in the command reference and is named in a guide or
/// the README; every crate of the workspace is named in ARCHITECTURE.md.
#[test]
fn every_command_and_every_crate_has_its_page() {
    let reference = read(Path::new("docs/reference/commands.md"));
    let mut prose = read(Path::new("README.md"));
    for f in markdown_files() {
        if f.starts_with("docs/guide") {
            prose.push_str(&read(&f));
        }
    }
    for (path, _) in cdcform::cli::command_tree(cdcform::cli::Cli::command()) {
        assert!(
            reference.contains(&format!("\n## {path}\n")),
            "docs/reference/commands.md has no section for `{path}`"
        );
        assert!(
            prose.contains(&format!("`{path}")),
            "neither README.md nor docs/guide/ names `{path}`"
        );
    }
    let architecture = read(Path::new("ARCHITECTURE.md"));
    let mut crates = vec![("Cargo.toml".to_string(), ".".to_string())];
    for e in std::fs::read_dir(root().join("crates")).unwrap() {
        let dir = e.unwrap().path();
        let rel = dir.strip_prefix(root()).unwrap().display().to_string();
        crates.push((format!("{rel}/Cargo.toml"), rel));
    }
    for (manifest, dir) in crates {
        let toml: toml::Value = toml::from_str(&read(Path::new(&manifest))).unwrap();
        let name = toml["package"]["name"].as_str().unwrap();
        assert!(
            architecture.contains(&format!("`{name}`")),
            "ARCHITECTURE.md does not name the crate `{name}`"
        );
        if dir != "." {
            assert!(
                architecture.contains(&format!("`{dir}")),
                "ARCHITECTURE.md does not name `{dir}`"
            );
        }
    }
}

/// The hand-written reference pages cannot fall behind the code: every cdcform.toml key the
/// loader knows is in docs/reference/cdcform-toml.md, every variable the man pages list (from
/// the flags' own `[env: …]`) is in docs/reference/environment.md.
#[test]
fn hand_written_reference_pages_name_every_key_and_variable() {
    let toml_page = read(Path::new("docs/reference/cdcform-toml.md"));
    for key in cdcform::settings::CONFIG_KEYS {
        assert!(
            toml_page.contains(&format!("`{key}"))
                || toml_page.contains(&format!("[{key}"))
                || toml_page.contains(&format!(" {key}`")),
            "docs/reference/cdcform-toml.md does not name `{key}`"
        );
    }
    let env_page = read(Path::new("docs/reference/environment.md"));
    for var in cdcform::commands::man::environment() {
        assert!(
            env_page.contains(&format!("`{var}`")),
            "docs/reference/environment.md does not name `{var}`"
        );
    }
}

/// The layering ARCHITECTURE.md states, read from the Cargo.toml files: the client crate
/// depends on no crate of the workspace, the simulator on the client only (never on core, so
/// it models TiCDC on its own), core on the client only and on no clap, the binary on all three.
#[test]
fn the_crates_depend_as_architecture_md_says() {
    let deps = |manifest: &str| -> Vec<String> {
        let toml: toml::Value = toml::from_str(&read(Path::new(manifest))).unwrap();
        let mut names: Vec<String> = toml
            .get("dependencies")
            .and_then(|d| d.as_table())
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        names
    };
    let ours = |manifest: &str| -> Vec<String> {
        deps(manifest)
            .into_iter()
            .filter(|d| d.starts_with("cdcform-"))
            .collect()
    };
    assert_eq!(ours("crates/ticdc/Cargo.toml"), Vec::<String>::new());
    assert_eq!(ours("crates/sim/Cargo.toml"), ["cdcform-ticdc"]);
    assert_eq!(ours("crates/core/Cargo.toml"), ["cdcform-ticdc"]);
    assert_eq!(
        ours("Cargo.toml"),
        ["cdcform-core", "cdcform-sim", "cdcform-ticdc"]
    );
    for krate in ["crates/ticdc", "crates/sim", "crates/core"] {
        let d = deps(&format!("{krate}/Cargo.toml"));
        assert!(
            !d.iter().any(|n| n.starts_with("clap")),
            "{krate} depends on clap: {d:?}"
        );
    }
    let architecture = read(Path::new("ARCHITECTURE.md"));
    for claim in [
        "The simulator never depends on core",
        "Core knows no terminal",
    ] {
        assert!(
            architecture.contains(claim),
            "ARCHITECTURE.md lost: {claim}"
        );
    }
}
