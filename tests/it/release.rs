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

fn yaml(rel: &str) -> serde_json::Value {
    serde_saphyr::from_str(&repo_file(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every `run:` script and `uses:` of a job, as one text.
fn job_text(job: &serde_json::Value) -> String {
    let mut text = String::new();
    for step in job["steps"].as_array().expect("steps") {
        for key in ["run", "uses"] {
            if let Some(s) = step[key].as_str() {
                text.push_str(s);
                text.push('\n');
            }
        }
        text.push_str(&step["with"].to_string());
        text.push('\n');
    }
    text
}

#[test]
fn release_workflow_builds_every_platform_with_sums_completions_and_man_pages() {
    let wf = yaml(".github/workflows/release.yml");
    let trigger = wf["on"]["push"]["tags"].to_string();
    assert!(
        trigger.contains("v[0-9]"),
        "release on version tags: {trigger}"
    );
    let build = &wf["jobs"]["build"];
    let targets: Vec<&str> = build["strategy"]["matrix"]["include"]
        .as_array()
        .expect("matrix.include")
        .iter()
        .filter_map(|m| m["target"].as_str())
        .collect();
    for t in [
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
    ] {
        assert!(targets.contains(&t), "no {t} in {targets:?}");
    }
    let steps = job_text(build);
    for piece in [
        "cargo build --release --locked --target",
        "statically linked",
        "completions bash",
        "completions zsh",
        "completions fish",
        "man --dir",
        "sha256sum \"$archive\" > \"$archive.sha256\"",
        "tar -czf \"$name.tar.gz\" \"$name\"",
        ".zip",
        "upload-artifact",
    ] {
        assert!(steps.contains(piece), "build job lacks {piece:?}");
    }
    // The archive name is the one binstall and install.sh look for.
    assert!(steps.contains("name=\"cdcform-v$VERSION-$TARGET\""));
    let cargo = repo_file("Cargo.toml");
    assert!(cargo.contains("{ name }-v{ version }-{ target }{ archive-suffix }"));
    assert!(repo_file("install.sh").contains("name=\"cdcform-v$version-$target\""));
    let publish = job_text(&wf["jobs"]["publish"]);
    for piece in [
        "sha256sum --check",
        "SHA256SUMS",
        "install.sh",
        "gh release create",
    ] {
        assert!(publish.contains(piece), "publish job lacks {piece:?}");
    }
    assert_eq!(wf["jobs"]["publish"]["permissions"]["contents"], "write");
    let image = job_text(&wf["jobs"]["image"]);
    assert!(image.contains("docker/build-push-action") && image.contains("Dockerfile"));
    assert!(image.contains("linux/amd64,linux/arm64"));
    // The tag must match the crate version, and CI (with `cargo package`) runs first.
    let check = job_text(&wf["jobs"]["check"]);
    assert!(check.contains("$GITHUB_REF_NAME") && check.contains(".ci/run"));
    assert!(repo_file(".ci/run").contains("cargo package --locked"));
}

#[test]
fn dockerfile_is_multi_stage_static_scratch_non_root() {
    let text = repo_file("Dockerfile");
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let froms: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("FROM "))
        .collect();
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    assert!(
        lines[froms[0]].contains("alpine"),
        "musl build stage: {}",
        lines[froms[0]]
    );
    let last = *froms.last().unwrap();
    let base = lines[last];
    assert!(
        base == "FROM scratch" || base.contains("gcr.io/distroless/static"),
        "final stage: {base}"
    );
    let final_stage = &lines[last..];
    let user = final_stage
        .iter()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER in the final stage");
    let uid = user.split(':').next().unwrap();
    assert!(uid != "0" && uid != "root", "non-root user: {user}");
    assert!(final_stage.contains(&"ENTRYPOINT [\"cdcform\"]"));
    assert!(final_stage
        .iter()
        .any(|l| l.starts_with("COPY --from=build")));
    assert!(text.contains("cargo build --release --locked"));
}

/// install.sh, run here against a local mirror of the release assets (`file://`): installs
/// the binary from a good archive, refuses a tampered one and installs nothing.
#[test]
fn installer_verifies_the_checksum_and_installs() {
    let have = |tool: &str| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    for tool in ["curl", "tar", "sha256sum"] {
        assert!(have(tool), "this test needs {tool}");
    }
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x86_64",
        "aarch64" => "aarch64",
        other => panic!("no release target for {other}"),
    };
    let target = match std::env::consts::OS {
        "linux" => format!("{arch}-unknown-linux-musl"),
        "macos" => format!("{arch}-apple-darwin"),
        other => panic!("install.sh does not run on {other}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let name = format!("cdcform-v9.9.9-{target}");
    let stage = dir.path().join("stage").join(&name);
    std::fs::create_dir_all(stage.join("man")).unwrap();
    std::fs::write(
        stage.join("cdcform"),
        "#!/bin/sh\necho fake cdcform 9.9.9\n",
    )
    .unwrap();
    std::fs::write(stage.join("man/cdcform-plan.1"), ".TH cdcform-plan 1\n").unwrap();
    let mirror = dir.path().join("mirror/v9.9.9");
    std::fs::create_dir_all(&mirror).unwrap();
    let sh = |script: &str| {
        let o = std::process::Command::new("sh")
            .args(["-c", script])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{script}: {o:?}");
    };
    sh(&format!(
        "tar -czf mirror/v9.9.9/{name}.tar.gz -C stage {name} && cd mirror/v9.9.9 && sha256sum {name}.tar.gz > {name}.tar.gz.sha256"
    ));
    let install = |to: &std::path::Path| {
        std::process::Command::new("sh")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh"))
            .args(["--version", "v9.9.9", "--to"])
            .arg(to)
            .arg("--man-dir")
            .arg(to.join("man1"))
            .env(
                "CDCFORM_DOWNLOAD_URL",
                format!("file://{}", dir.path().join("mirror").display()),
            )
            .output()
            .unwrap()
    };
    let good = dir.path().join("bin");
    let o = install(&good);
    assert!(o.status.success(), "{o:?}");
    let bin = good.join("cdcform");
    let out = std::process::Command::new(&bin).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "fake cdcform 9.9.9\n");
    assert!(good.join("man1/cdcform-plan.1").exists());
    // Tampered archive: the sum no longer matches; nothing is installed.
    std::fs::write(
        mirror.join(format!("{name}.tar.gz.sha256")),
        format!("{}  {name}.tar.gz\n", "0".repeat(64)),
    )
    .unwrap();
    let bad = dir.path().join("bad");
    let o = install(&bad);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(!bad.join("cdcform").exists());
}

/// The `run:` text of the composite action's steps whose `if:` mentions `mode == '<mode>'`.
fn action_steps(action: &serde_json::Value, mode: &str) -> String {
    let want = format!("inputs.mode == '{mode}'");
    let mut text = String::new();
    for step in action["runs"]["steps"].as_array().expect("steps") {
        let cond = step["if"].as_str().unwrap_or("");
        if cond.is_empty() || cond.contains(&want) {
            text.push_str(&step.to_string());
            text.push('\n');
        }
    }
    text
}

#[test]
fn github_action_installs_plans_uploads_comments_and_applies() {
    let action = yaml("action.yml");
    assert_eq!(action["runs"]["using"], "composite");
    for input in [
        "version",
        "mode",
        "paths",
        "cluster",
        "plan-file",
        "max-chars",
        "token",
    ] {
        assert!(action["inputs"][input].is_object(), "no input {input}");
    }
    let plan = action_steps(&action, "plan");
    for piece in [
        "install.sh",
        "--version",
        "cdcform plan --detailed-exitcode --format markdown --max-chars",
        "--out",
        "actions/upload-artifact@v4",
        "cdcform ci comment",
        "GITHUB_STEP_SUMMARY",
    ] {
        assert!(plan.contains(piece), "plan mode lacks {piece:?}");
    }
    let apply = action_steps(&action, "apply");
    for piece in [
        "actions/download-artifact@v4",
        "cdcform apply --auto-approve",
    ] {
        assert!(apply.contains(piece), "apply mode lacks {piece:?}");
    }
    assert!(!apply.contains("cdcform plan") && !plan.contains("cdcform apply"));
    // Secrets come from the job's environment, never through the action's inputs or files.
    assert!(!repo_file("action.yml").contains("secrets."));
}

#[test]
fn gitlab_template_and_examples_use_the_building_blocks() {
    let t = yaml("ci/gitlab/cdcform.gitlab-ci.yml");
    let install = t[".cdcform-install"]["before_script"].to_string();
    assert!(install.contains("install.sh") && install.contains("$CDCFORM_VERSION"));
    let plan = t[".cdcform-plan"]["script"].to_string();
    for piece in [
        "--format markdown",
        "--max-chars",
        "--out",
        "cdcform ci comment",
    ] {
        assert!(plan.contains(piece), "template plan lacks {piece:?}");
    }
    let artifacts = t[".cdcform-plan"]["artifacts"]["paths"].to_string();
    assert!(artifacts.contains("$CDCFORM_PLAN_FILE"), "{artifacts}");
    assert!(t[".cdcform-apply"]["script"]
        .to_string()
        .contains("cdcform apply --auto-approve"));

    let gl = yaml("examples/ci/gitlab-ci.yml");
    assert!(gl["include"]
        .to_string()
        .contains("ci/gitlab/cdcform.gitlab-ci.yml"));
    assert_eq!(gl["plan"]["extends"], ".cdcform-plan");
    assert_eq!(gl["apply"]["extends"], ".cdcform-apply");
    assert!(
        gl["apply"]["resource_group"].is_string(),
        "applies serialised per cluster"
    );
    assert!(gl["apply"]["needs"].to_string().contains("plan"));

    let gh = yaml("examples/ci/github-actions.yml");
    assert!(
        gh["concurrency"]["group"].is_string(),
        "applies serialised per cluster"
    );
    assert_eq!(gh["concurrency"]["cancel-in-progress"], false);
    let plan = gh["jobs"]["plan"].to_string();
    let apply = gh["jobs"]["apply"].to_string();
    assert!(plan.contains("cdcform/cdcform@"), "{plan}");
    assert!(
        apply.contains("cdcform/cdcform@") && apply.contains("\"mode\":\"apply\""),
        "{apply}"
    );
    assert!(gh["jobs"]["apply"]["needs"].to_string().contains("plan"));
}

/// Every shell script in the workflow, the action and the GitLab template parses (`bash -n`,
/// `sh -n`): they cannot run here, but a syntax error would fail the first release.
#[test]
fn ci_scripts_parse() {
    fn scripts(v: &serde_json::Value, acc: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("run", serde_json::Value::String(s)) => acc.push(s.clone()),
                        ("script" | "before_script", serde_json::Value::Array(lines)) => {
                            acc.extend(lines.iter().filter_map(|l| l.as_str().map(str::to_string)))
                        }
                        _ => scripts(x, acc),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| scripts(x, acc)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    for f in [
        ".github/workflows/release.yml",
        "action.yml",
        "ci/gitlab/cdcform.gitlab-ci.yml",
    ] {
        let before = all.len();
        scripts(&yaml(f), &mut all);
        assert!(all.len() > before, "no scripts found in {f}");
    }
    for (shell, script) in all
        .iter()
        .map(|s| ("bash", s))
        .chain([("sh", &repo_file("install.sh"))])
    {
        let o = std::process::Command::new(shell)
            .args(["-n", "-c", script])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{shell} -n fails: {}\n{script}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
