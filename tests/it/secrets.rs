//! A canary secret in every secret position — URI password, `sasl-password`, S3 keys in a sink
//! URI and in `consistent.storage`, `kafka_config.sasl_password`, the basic-auth password —
//! must never appear in stdout, stderr, `-vv` logs, JSON or markdown plans, saved plan files or
//! error messages, for any command.

use std::net::TcpListener;

use cdcform::simulator::SimConfig;

use crate::harness::*;

/// A sink the simulator's connection check accepts (it only needs a TCP accept).
fn open_port() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    (l, p)
}

fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn manifest(up: u16, down: u16) -> String {
    format!(
        r#"changefeeds:
  - id: orders
    sink_uri: "kafka://127.0.0.1:{up}/orders?protocol=canal-json&sasl-user=cdc&sasl-password=${{SECRET}}"
    replica_config:
      sink:
        kafka_config:
          sasl_password: "${{SECRET}}"
  - id: reporting
    sink_uri: "mysql://root:${{SECRET}}@127.0.0.1:{up}/"
    replica_config:
      enable_sync_point: true
      sync_point_retention: 48h
      consistent:
        level: eventual
        storage: "s3://redo/r?access-key=AKIAEXAMPLE&secret-access-key=${{SECRET}}"
  - id: lake
    sink_uri: "s3://lake/p?access-key=AKIAEXAMPLE&secret-access-key=${{SECRET}}&protocol=csv"
  - id: broken
    sink_uri: "mysql://root:${{SECRET}}@127.0.0.1:{down}/"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_canary_never_leaves_the_process() {
    let (_sink, up) = open_port();
    let down = closed_port();
    let s = sim(SimConfig {
        sink_check: true,
        basic_auth: Some(("admin".into(), CANARY.into())),
        ..classic()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("feeds.yaml");
    std::fs::write(&m, manifest(up, down)).unwrap();
    let plan_file = dir.path().join("p.plan");
    let export_dir = dir.path().join("exported");
    let toml = dir.path().join("cdcform.toml");
    std::fs::write(
        &toml,
        format!(
            "[clusters.sim]\nserver = \"{}\"\nuser = \"admin\"\npassword_env = \"SIM_PW\"\n",
            s.url()
        ),
    )
    .unwrap();
    let m = m.to_str().unwrap();
    let base = ["--config", toml.to_str().unwrap(), "--cluster", "sim"];
    let mut outputs: Vec<(String, Option<i32>, String)> = Vec::new();
    let mut run = |args: &[&str], pw: &str| {
        let o = cdcform()
            .args(args)
            .args(base)
            .env("SECRET", CANARY)
            .env("SIM_PW", pw)
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        outputs.push((args.join(" "), o.status.code(), all.clone()));
        (o.status.code(), all)
    };
    let (code, out) = run(&["validate", m], CANARY);
    assert_eq!(code, Some(0), "{out}");
    for fmt in ["human", "json", "markdown"] {
        let (code, out) = run(&["plan", m, "--format", fmt, "-vv"], CANARY);
        assert_eq!(code, Some(0), "{out}");
    }
    let (code, out) = run(
        &["plan", m, "--out", plan_file.to_str().unwrap(), "-vv"],
        CANARY,
    );
    assert_eq!(code, Some(0), "{out}");
    // `broken` cannot be created (its MySQL does not answer): an error from the server, shown.
    let (code, out) = run(&["apply", plan_file.to_str().unwrap(), "-vv"], CANARY);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("broken") && out.contains("CDC:"), "{out}");
    let (code, out) = run(&["apply", m, "--auto-approve", "-vv"], CANARY);
    assert_eq!(code, Some(1), "{out}");
    run(&["status", "-vv"], CANARY);
    run(&["status", "--format", "json"], CANARY);
    let (code, out) = run(
        &["export", "--out", export_dir.to_str().unwrap(), "-vv"],
        CANARY,
    );
    assert_eq!(code, Some(0), "{out}");
    run(&["export"], CANARY);
    // The export plans clean once its placeholders are filled in.
    let exported = std::fs::read_to_string(export_dir.join("reporting.yaml")).unwrap()
        + &std::fs::read_to_string(export_dir.join("orders.yaml")).unwrap();
    let mut vars: Vec<String> = exported
        .match_indices("${")
        .map(|(i, _)| exported[i + 2..].split('}').next().unwrap().to_string())
        .collect();
    vars.sort();
    vars.dedup();
    assert!(vars.len() >= 4, "{vars:?}\n{exported}");
    // Durations come out in Go's syntax, which the manifest reads back.
    assert!(exported.contains("48h"), "{exported}");
    let mut c = cdcform();
    c.args(["plan", "--detailed-exitcode"])
        .arg(export_dir.join("reporting.yaml"))
        .arg(export_dir.join("orders.yaml"))
        .args(base)
        .env("SIM_PW", CANARY);
    for v in &vars {
        // The access key id is masked too; it held AKIAEXAMPLE, every other secret the canary.
        let value = if v.ends_with("_ACCESS_KEY") && !v.contains("SECRET") {
            "AKIAEXAMPLE"
        } else {
            CANARY
        };
        c.env(v, value);
    }
    let o = c.output().unwrap();
    let all = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert!(
        !all.contains(CANARY),
        "canary in the plan of the export:\n{all}"
    );
    // A wrong basic-auth password is found by the plan's credentials check (TiCDC checks it on
    // mutating routes only); the right one is never echoed either.
    let (code, out) = run(&["apply", m, "--auto-approve"], "wrong-password");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("credentials: refused"), "{out}");

    let saved = std::fs::read_to_string(&plan_file).unwrap();
    assert!(
        saved.contains("${SECRET}"),
        "the plan file keeps references"
    );
    let mut files = vec![("plan file".to_string(), saved)];
    for e in std::fs::read_dir(&export_dir).unwrap() {
        let p = e.unwrap().path();
        files.push((
            p.display().to_string(),
            std::fs::read_to_string(&p).unwrap(),
        ));
    }
    for (what, text) in &files {
        assert!(!text.contains(CANARY), "canary in {what}:\n{text}");
    }
    for (cmd, code, text) in &outputs {
        assert!(
            !text.contains(CANARY),
            "canary in the output of `{cmd}` (exit {code:?}):\n{text}"
        );
    }
    // The secrets did reach the server (so the test is not vacuous).
    let stored = s.stored("default", "orders").expect("orders exists");
    assert!(stored.to_string().contains(CANARY));
    s.shutdown().await;
}

/// A diagnostic's source snippet never echoes a literal secret into a CI log: the URI's
/// password and secret query values are masked, a secret key's value replaced whole.
#[test]
fn diagnostic_snippets_mask_literal_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("sec.yaml");
    std::fs::write(
        &m,
        format!(
            "changefeeds:\n  - id: a\n    sink_uri: \"kafka://127.0.0.1:9092/t?protocol=nope&sasl-user=u&sasl-password={CANARY}\"\n  - id: b\n    sink_uri: \"mysql://root:{CANARY}@127.0.0.1:3306/?worker-count=0\"\n"
        ),
    )
    .unwrap();
    let o = crate::harness::cdcform()
        .args(["validate", m.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("sasl-password=xxxxx"),
        "the snippet is shown, masked: {err}"
    );
    assert!(!err.contains(CANARY), "a secret was printed:\n{err}");
}
