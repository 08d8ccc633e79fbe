//! The binary: exit codes, formats, saved plans, staleness, secrets in every output, kills.

use std::time::Duration;

use predicates::prelude::*;

use crate::harness::*;

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const SECRET_YAML: &str = "changefeeds:\n  - id: orders\n    sink_uri: \"kafka://127.0.0.1:9092/orders?protocol=canal-json&sasl-user=cdc&sasl-password=${KAFKA_PASSWORD}\"\n    replica_config:\n      sink:\n        kafka_config:\n          sasl_password: \"${KAFKA_PASSWORD}\"\n  - id: db\n    sink_uri: \"mysql://root:${MYSQL_PASSWORD}@127.0.0.1:3306/\"\n";

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    cdcform().arg("--no-such-flag").assert().code(1);
    cdcform()
        .arg("plan")
        .arg("--format")
        .arg("yaml")
        .assert()
        .code(1);
    cdcform()
        .arg("--help")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("plan"));
    cdcform()
        .arg("completions")
        .arg("bash")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("cdcform"));
    cdcform()
        .arg("man")
        .assert()
        .code(0)
        .stdout(predicate::str::contains(".TH"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_detailed_exitcode_apply_and_secrets_in_every_output() {
    let s = sim(classic()).await;
    let dir = tempfile::tempdir().unwrap();
    let m = write(dir.path(), "feeds.yaml", SECRET_YAML);
    let url = s.url();
    let run = |args: &[&str]| {
        let mut c = cdcform();
        c.args(args)
            .arg("--server")
            .arg(&url)
            .env("KAFKA_PASSWORD", CANARY)
            .env("MYSQL_PASSWORD", CANARY);
        c
    };
    let no_canary = |o: &std::process::Output| {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!all.contains(CANARY), "secret leaked:\n{all}");
        all
    };
    let plan_file = dir.path().join("out.plan");
    for fmt in ["human", "json", "markdown"] {
        let o = run(&[
            "plan",
            m.to_str().unwrap(),
            "--detailed-exitcode",
            "--format",
            fmt,
            "-vv",
        ])
        .output()
        .unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", no_canary(&o));
        no_canary(&o);
    }
    let o = run(&[
        "plan",
        m.to_str().unwrap(),
        "--out",
        plan_file.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", no_canary(&o));
    let saved = std::fs::read_to_string(&plan_file).unwrap();
    assert!(
        !saved.contains(CANARY) && saved.contains("${KAFKA_PASSWORD}"),
        "plan file holds references only"
    );
    // Without a terminal and without --auto-approve, apply refuses.
    let o = run(&["apply", m.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(no_canary(&o).contains("--auto-approve"));
    // The saved plan applies.
    let o = run(&["apply", plan_file.to_str().unwrap(), "-v"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", no_canary(&o));
    let o = run(&["plan", m.to_str().unwrap(), "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", no_canary(&o));
    for cmd in [
        vec!["export"],
        vec!["status"],
        vec!["status", "--format", "json"],
    ] {
        let o = run(&cmd).output().unwrap();
        no_canary(&o);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_saved_plan_is_refused_without_changing_anything() {
    let s = sim(classic()).await;
    let dir = tempfile::tempdir().unwrap();
    let m = write(dir.path(), "one.yaml", "changefeeds:\n  - id: cf\n    sink_uri: \"blackhole://\"\n    replica_config:\n      mounter:\n        worker_num: 4\n");
    converge(
        &s,
        &manifests("changefeeds:\n  - id: cf\n    sink_uri: \"blackhole://\"\n"),
    )
    .await;
    let plan_file = dir.path().join("p.plan");
    cdcform()
        .args([
            "plan",
            m.to_str().unwrap(),
            "--server",
            &s.url(),
            "--out",
            plan_file.to_str().unwrap(),
        ])
        .assert()
        .code(0);
    // Someone pauses it meanwhile.
    let c = client(&s);
    c.pause_changefeed("default", "cf").await.unwrap();
    for _ in 0..100 {
        if c.changefeed_status("default", "cf").await.unwrap().state == "stopped" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    s.clear_requests();
    cdcform()
        .args(["apply", plan_file.to_str().unwrap(), "--server", &s.url()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("stale plan").and(predicate::str::contains("default/cf")));
    assert!(
        mutations(&s).is_empty(),
        "nothing changed: {:?}",
        mutations(&s)
    );
}

#[test]
fn unreachable_server_fails_fast_naming_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let m = write(
        dir.path(),
        "a.yaml",
        "changefeeds:\n  - id: cf\n    sink_uri: \"blackhole://\"\n",
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    // Refused connections are waited out for --retry-for (a capture may be restarting), saying so.
    cdcform()
        .args([
            "plan",
            m.to_str().unwrap(),
            "--server",
            &url,
            "--retry-for",
            "1s",
        ])
        .timeout(Duration::from_secs(30))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "TiCDC at {url} unreachable, retrying for up to"
        )))
        .stderr(predicate::str::contains(url));
}

/// Before TiCDC has answered once in a run there is no outage to ride through: an address
/// that refuses, a server that is not TiCDC (404 without an `error_code`) and `http://` to a
/// TLS server each fail on the first attempt (no "after N attempts", no "retrying" line),
/// naming the address and `--retry-for` for a server that is starting. A TiCDC that answers
/// 503 with its code at first contact is an election: waited out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_contact_fails_at_once_unless_ticdc_answered() {
    let dir = tempfile::tempdir().unwrap();
    let m = write(
        dir.path(),
        "a.yaml",
        "changefeeds:\n  - id: cf\n    sink_uri: \"blackhole://\"\n",
    );
    let m = m.to_str().unwrap().to_string();
    // A privileged port nothing listens on: a port freed by a dropped listener could be taken
    // by a simulator another test starts meanwhile.
    let refused = "http://127.0.0.1:1".to_string();
    let not_ticdc = {
        let app = axum::Router::new()
            .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "404 page not found") });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        url
    };
    let plan = |url: &str| {
        let m = m.clone();
        let url = url.to_string();
        async move {
            tokio::task::spawn_blocking(move || {
                let o = cdcform()
                    .args(["plan", &m, "--server", &url])
                    .output()
                    .unwrap();
                (
                    o.status.code(),
                    String::from_utf8_lossy(&o.stderr).to_string(),
                )
            })
            .await
            .unwrap()
        }
    };
    for (url, words) in [
        (refused.as_str(), "connection refused"),
        (not_ticdc.as_str(), "HTTP 404"),
    ] {
        let (code, err) = plan(url).await;
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains(url) && err.contains(words), "{err}");
        assert!(
            !err.contains("attempts") && !err.contains("retrying"),
            "retried: {err}"
        );
    }
    let (_, err) = plan(&refused).await;
    assert!(
        err.contains("--retry-for"),
        "the hint names --retry-for: {err}"
    );
    let (_, err) = plan(&not_ticdc).await;
    assert!(err.contains("without a path"), "the hint: {err}");
    // TiCDC in an owner election at first contact (503 with its code): waited out.
    let s = crate::harness::sim(cdcform::simulator::SimConfig {
        faults: Some(cdcform::simulator::faults::FaultSpec::parse("http503=1").unwrap()),
        ..crate::harness::classic()
    })
    .await;
    let url = s.url();
    let t = tokio::spawn(plan(&url));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    s.set_faults_enabled(false);
    let (code, err) = t.await.unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("retrying for up to"), "{err}");
}

/// SIGKILL `cdcform apply` mid-update, at each step of the sequence; a re-run converges and
/// nothing that should run is left paused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_apply_converges_on_rerun() {
    for kill_after in ["/pause", "PUT ", "/resume"] {
        let s = sim(cdcform::simulator::SimConfig {
            tick: Duration::from_millis(150),
            ..classic()
        })
        .await;
        converge(
            &s,
            &manifests("changefeeds:\n  - id: cf\n    sink_uri: \"blackhole://\"\n"),
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        let m = write(dir.path(), "a.yaml", "changefeeds:\n  - id: cf\n    sink_uri: \"blackhole://\"\n    replica_config:\n      mounter:\n        worker_num: 3\n");
        s.clear_requests();
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cdcform"))
            .args([
                "apply",
                m.to_str().unwrap(),
                "--server",
                &s.url(),
                "--auto-approve",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut killed = false;
        for _ in 0..2000 {
            if mutations(&s).iter().any(|r| r.contains(kill_after)) {
                child.kill().unwrap();
                killed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let _ = child.wait();
        assert!(
            killed || mutations(&s).len() == 3,
            "{kill_after}: the apply finished before the kill"
        );
        let o = cdcform()
            .args([
                "apply",
                m.to_str().unwrap(),
                "--server",
                &s.url(),
                "--auto-approve",
            ])
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{kill_after}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let desired = manifests("changefeeds:\n  - id: cf\n    sink_uri: \"blackhole://\"\n    replica_config:\n      mounter:\n        worker_num: 3\n");
        assert_empty(&plan(&s, &desired).await, kill_after);
        assert_eq!(
            client(&s)
                .changefeed_status("default", "cf")
                .await
                .unwrap()
                .state,
            "normal",
            "{kill_after}"
        );
        s.shutdown().await;
    }
}

/// `--color always` wins over `NO_COLOR` (no-color.org: a command-line flag overrides the
/// variable); without the flag `NO_COLOR` keeps the output plain.
#[test]
fn color_always_wins_over_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let m = write(dir.path(), "a.yaml", "changefeeds:\n  - id: \"bad id!\"\n");
    let m = m.to_str().unwrap();
    // `cdcform()` exports NO_COLOR=1.
    let forced = cdcform()
        .args(["validate", m, "--color", "always"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&forced.stderr);
    assert_eq!(forced.status.code(), Some(1), "{err}");
    assert!(err.contains("\u{1b}["), "no colour: {err}");
    let plain = cdcform().args(["validate", m]).output().unwrap();
    assert!(!String::from_utf8_lossy(&plain.stderr).contains("\u{1b}["));
}

/// The default path is a repository: hidden folders (`.github/workflows`) are never read, and
/// YAML files found in a directory without a top-level `changefeeds:` (Kubernetes objects, CI
/// files) are skipped and named once; a directory with no manifest at all is an error, never
/// an empty desired set (which `--prune` would read as "delete everything managed").
#[test]
fn the_default_path_reads_manifests_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join(".github/workflows")).unwrap();
    std::fs::write(d.join(".github/workflows/ci.yml"), "on: push\njobs: {}\n").unwrap();
    std::fs::write(d.join("deploy.yaml"), "apiVersion: v1\nkind: ConfigMap\n").unwrap();
    std::fs::write(
        d.join("feeds.yaml"),
        "# the manifests\nchangefeeds:\n  - id: a\n    sink_uri: \"blackhole://\"\n",
    )
    .unwrap();
    let o = cdcform().current_dir(d).arg("validate").output().unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("1 changefeed in 1 file is valid."), "{out}");
    assert!(
        err.contains("skipped 1 YAML file(s)") && err.contains("deploy.yaml"),
        "{err}"
    );
    assert!(!err.contains("ci.yml"), "a hidden folder was read: {err}");
    // Named on the command line, a file is read whatever it holds.
    let o = cdcform()
        .current_dir(d)
        .args(["validate", "deploy.yaml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    std::fs::remove_file(d.join("feeds.yaml")).unwrap();
    let o = cdcform().current_dir(d).arg("validate").output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("no manifest files found"), "{err}");
}

/// #29 item 15: `export --all-clusters` says export is per cluster (not clap's usage line that
/// reads as if `--cluster` were required), and `status --format` takes plan's name `human`
/// (its earlier `table` still works).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_all_clusters_is_explained_and_status_formats_match_plan() {
    cdcform()
        .args(["export", "--all-clusters"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "export writes one cluster's changefeeds at a time",
        ))
        .stderr(predicate::str::contains("Usage:").not());
    let s = sim(classic()).await;
    for format in ["human", "table"] {
        cdcform()
            .args(["status", "--server", &s.url(), "--format", format])
            .assert()
            .code(0)
            .stdout(predicate::str::contains("CHANGEFEED"));
    }
    s.shutdown().await;
}

/// `validate --target` warns for that server (issue #31 item 3, #29 item 4): a MySQL sink's
/// routing dispatch rules have an effect on a new-architecture v8.5.7 server (pingcap/ticdc
/// v8.5.7 pkg/config/sink.go `validateAndAdjust` checks the routes before its MySQL early
/// return; pkg/config/changefeed.go `rmMQOnlyFields` keeps the rules), and redo settings on a
/// Kafka sink are dropped by classic servers (tiflow v8.5.0 cdc/model/changefeed.go
/// `rmDBOnlyFields`) but kept by the new architecture (pingcap/ticdc v8.5.7 `rmDBOnlyFields`).
#[test]
fn validate_warns_for_its_target() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("feeds.yaml"),
        r#"changefeeds:
  - id: routed
    sink_uri: "mysql://root@127.0.0.1:3306/"
    replica_config:
      sink:
        dispatchers:
          - matcher: ["a.*"]
            target-schema: "{schema}_bak"
  - id: redo-kafka
    sink_uri: "kafka://127.0.0.1:9092/t?protocol=canal-json"
    replica_config:
      consistent:
        level: eventual
        storage: "s3://bucket/redo"
"#,
    )
    .unwrap();
    let run = |target: Option<&str>| {
        let mut c = cdcform();
        c.current_dir(dir.path()).args(["validate", "feeds.yaml"]);
        if let Some(t) = target {
            c.args(["--target", t]);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let newarch = run(Some("newarch"));
    assert!(!newarch.contains("warning"), "{newarch}");
    insta::assert_snapshot!("validate_target_classic", run(Some("v8.5.0")));
    insta::assert_snapshot!("validate_target_unknown", run(None));
}
