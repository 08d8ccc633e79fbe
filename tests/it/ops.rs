//! Operations through the binary: export → plan is empty, status and its exit codes, the
//! cluster commands, TLS with a client certificate and basic auth from cdcform.toml, and the
//! settings precedence (flag > CDCFORM_* > cdcform.toml > default).

use std::path::Path;

use cdcform::simulator::{SimConfig, SimTls, Simulator};

use crate::harness::*;

fn out(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const RICH: &str = r#"changefeeds:
  - id: orders
    sink_uri: "kafka://127.0.0.1:9092/orders?protocol=canal-json&sasl-user=cdc&sasl-password=${SECRET}&sasl-mechanism=plain"
    replica_config:
      changefeed_error_stuck_duration: 45m
      filter:
        rules: ["shop.*", "!shop.tmp_*"]
      mounter:
        worker_num: 4
      sink:
        dispatchers:
          - matcher: ["shop.orders"]
            partition: index-value
            topic: "shop_{table}"
        kafka_config:
          sasl_password: "${SECRET}"
  - id: reporting
    sink_uri: "mysql://root:${SECRET}@127.0.0.1:3306/"
    state: paused
    replica_config:
      sink:
        mysql_config:
          worker_count: 4
  - id: plain
    sink_uri: "blackhole://"
"#;

/// Export, fill the placeholders, plan: nothing to do. Both profiles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_plan_is_empty_on_both_profiles() {
    for (name, cfg) in [("classic", classic()), ("newarch", newarch())] {
        let s = sim(cfg).await;
        converge(&s, &manifests(RICH)).await;
        let dir = tempfile::tempdir().unwrap();
        let exported = dir.path().join("exported");
        let o = cdcform()
            .args(["export", "--server", &s.url(), "--out"])
            .arg(&exported)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{name}: {}", out(&o));
        let mut files: Vec<String> = std::fs::read_dir(&exported)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(
            files,
            ["orders.yaml", "plain.yaml", "reporting.yaml"],
            "{name}"
        );
        let text: String = files
            .iter()
            .map(|f| std::fs::read_to_string(exported.join(f)).unwrap())
            .collect();
        // Minimal: non-default values only; secrets as commented placeholders.
        assert!(
            text.contains("worker_num: 4") && text.contains("45m"),
            "{name}:\n{text}"
        );
        assert!(
            !text.contains("memory_quota"),
            "{name}: defaults exported:\n{text}"
        );
        assert!(!text.contains(CANARY), "{name}:\n{text}");
        assert!(
            text.contains("state: \"paused\"") || text.contains("state: paused"),
            "{text}"
        );
        let vars: std::collections::BTreeSet<String> = text
            .match_indices("${")
            .map(|(i, _)| text[i + 2..].split('}').next().unwrap().to_string())
            .collect();
        for v in &vars {
            assert!(
                text.contains(&format!("# ${{{v}}}: ")),
                "{v} has no comment:\n{text}"
            );
        }
        let mut c = cdcform();
        c.args(["plan", "--detailed-exitcode", "--server", &s.url()])
            .arg(&exported);
        for v in &vars {
            c.env(v, CANARY);
        }
        let o = c.output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{name}: plan after export:\n{}\n{text}",
            out(&o)
        );
        // --id narrows the export; without --out it goes to stdout.
        let o = cdcform()
            .args(["export", "--server", &s.url(), "--id", "rep*"])
            .output()
            .unwrap();
        let one = String::from_utf8_lossy(&o.stdout);
        assert!(
            one.contains("id: reporting") && !one.contains("orders"),
            "{one}"
        );
        s.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_table_json_and_exit_codes() {
    let s = sim(classic()).await;
    converge(
        &s,
        &manifests("changefeeds:\n  - id: good\n    sink_uri: \"blackhole://\"\n  - id: bad\n    sink_uri: \"blackhole://\"\n"),
    )
    .await;
    let status = |extra: &[&str]| {
        let o = cdcform()
            .args(["status", "--server", &s.url()])
            .args(extra)
            .output()
            .unwrap();
        (o.status.code(), out(&o))
    };
    let (code, text) = status(&[]);
    assert_eq!(code, Some(0), "{text}");
    for want in ["healthy", "Owner:", "CHANGEFEED", "good", "normal", "LAG"] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    // A failed changefeed: exit 1, its error code shown.
    s.set_state(
        "default",
        "bad",
        "failed",
        Some(("CDC:ErrKafkaNewProducer", "new producer failed")),
    );
    let (code, text) = status(&[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("CDC:ErrKafkaNewProducer"), "{text}");
    let (code, json) = status(&["--format", "json"]);
    assert_eq!(code, Some(1));
    let start = json.find('{').unwrap();
    let end = json.rfind('}').unwrap();
    let v: serde_json::Value = serde_json::from_str(&json[start..=end]).unwrap();
    let bad = v["changefeeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "bad")
        .unwrap()
        .clone();
    assert_eq!(bad["state"], "failed", "{bad}");
    assert!(!v["problems"].as_array().unwrap().is_empty());
    // Outside `manage`, a failed changefeed is not ours to page about.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cdcform.toml"), "manage = [\"good\"]\n").unwrap();
    let o = cdcform()
        .current_dir(dir.path())
        .args(["status", "--server", &s.url()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    // An unhealthy cluster: exit 1 whatever the changefeeds.
    s.set_state("default", "bad", "normal", None);
    s.set_healthy(false);
    let (code, text) = status(&[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("unhealthy"), "{text}");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_commands() {
    let s = sim(classic()).await;
    let run = |args: &[&str]| {
        let o = cdcform()
            .args(["cluster"])
            .args(args)
            .args(["--server", &s.url()])
            .output()
            .unwrap();
        (o.status.code(), out(&o))
    };
    s.clear_requests();
    let (code, text) = run(&["resign-owner"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(s
        .requests()
        .iter()
        .any(|r| r.method == "POST" && r.path == "/api/v2/owner/resign"));
    let (code, text) = run(&["log-level", "debug"]);
    assert_eq!(code, Some(0), "{text}");
    let log = s
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/v2/log")
        .expect("log level sent");
    assert!(log.body.contains("debug"), "{}", log.body);
    s.clear_requests();
    let (code, text) = run(&["log-level", "verbose"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("debug, info, warn, error"), "{text}");
    assert!(s.requests().is_empty(), "a refused level sends nothing");
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// TLS with a client certificate and basic auth, configured only through cdcform.toml.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_client_certificate_and_basic_auth_from_cdcform_toml() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(vec![]).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf = |names: Vec<String>| {
        let k = rcgen::KeyPair::generate().unwrap();
        let c = rcgen::CertificateParams::new(names)
            .unwrap()
            .signed_by(&k, &ca, &ca_key)
            .unwrap();
        (c.pem(), k.serialize_pem())
    };
    let (srv_cert, srv_key) = leaf(vec!["127.0.0.1".into(), "localhost".into()]);
    let (cli_cert, cli_key) = leaf(vec!["cdcform".into()]);
    let ca_pem = write(d, "ca.pem", &ca.pem());
    let srv_cert = write(d, "srv.pem", &srv_cert);
    let srv_key = write(d, "srv.key", &srv_key);
    write(d, "client.pem", &cli_cert);
    write(d, "client.key", &cli_key);
    let s = Simulator::start(
        SimConfig {
            tls: Some(SimTls {
                cert: srv_cert,
                key: srv_key,
                client_ca: Some(ca_pem),
            }),
            basic_auth: Some(("admin".into(), CANARY.into())),
            ..classic()
        },
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let url = s.url();
    assert!(url.starts_with("https://"), "{url}");
    write(
        d,
        "cdcform.toml",
        &format!(
            "default_cluster = \"secure\"\n[clusters.secure]\nserver = \"{url}\"\nca = \"ca.pem\"\ncert = \"client.pem\"\nkey = \"client.key\"\nuser = \"admin\"\npassword_env = \"SECURE_PW\"\npaths = [\"feeds\"]\n"
        ),
    );
    std::fs::create_dir(d.join("feeds")).unwrap();
    write(
        &d.join("feeds"),
        "a.yaml",
        "changefeeds:\n  - id: secure-feed\n    sink_uri: \"blackhole://\"\n",
    );
    let run = |args: &[&str], pw: Option<&str>| {
        let mut c = cdcform();
        c.current_dir(d).args(args);
        if let Some(pw) = pw {
            c.env("SECURE_PW", pw);
        }
        let o = c.output().unwrap();
        (o.status.code(), out(&o))
    };
    let (code, text) = run(&["apply", "--auto-approve"], Some(CANARY));
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains(CANARY));
    let (code, text) = run(&["plan", "--detailed-exitcode"], Some(CANARY));
    assert_eq!(code, Some(0), "{text}");
    // Wrong password: found by the plan's credentials check, before any change; never echoed.
    write(
        &d.join("feeds"),
        "a.yaml",
        "changefeeds:\n  - id: secure-feed\n    sink_uri: \"blackhole://\"\n  - id: second\n    sink_uri: \"blackhole://\"\n",
    );
    let (code, text) = run(&["apply", "--auto-approve"], Some("wrong"));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("credentials: refused"), "{text}");
    assert!(
        text.contains("nothing is applied to this cluster"),
        "{text}"
    );
    // The password variable missing: a clear error before any request.
    let (code, text) = run(&["plan"], None);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("SECURE_PW"), "{text}");
    // Without the client certificate the TLS handshake fails: a clear error naming the server.
    write(
        d,
        "nocert.toml",
        &format!("[clusters.x]\nserver = \"{url}\"\nca = \"ca.pem\"\n"),
    );
    let (code, text) = run(&["plan", "--config", "nocert.toml", "--cluster", "x"], None);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains(&url), "{text}");
    s.shutdown().await;
}

/// flag > CDCFORM_* > cdcform.toml > default, through the binary; config mistakes are located.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_precedence_and_config_errors() {
    let a = sim(classic()).await;
    let b = sim(classic()).await;
    let c = sim(classic()).await;
    // Tell the servers apart by what they hold.
    for (s, id) in [(&a, "on-a"), (&b, "on-b"), (&c, "on-c")] {
        converge(
            s,
            &manifests(&format!(
                "changefeeds:\n  - id: {id}\n    sink_uri: \"blackhole://\"\n"
            )),
        )
        .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "cdcform.toml",
        &format!(
            "default_cluster = \"one\"\n[clusters.one]\nserver = \"{}\"\n[clusters.two]\nserver = \"{}\"\n",
            a.url(),
            b.url()
        ),
    );
    let which = |args: &[&str], env: Option<&str>| {
        let mut cmd = cdcform();
        cmd.current_dir(d).args(["export"]).args(args);
        if let Some(e) = env {
            cmd.env("CDCFORM_SERVER", e);
        }
        let o = cmd.output().unwrap();
        let text = out(&o);
        ["on-a", "on-b", "on-c"]
            .into_iter()
            .find(|id| text.contains(id))
            .unwrap_or_else(|| panic!("no server answered: {text}"))
    };
    assert_eq!(which(&[], None), "on-a", "file default_cluster");
    assert_eq!(which(&["--cluster", "two"], None), "on-b", "--cluster");
    // A named cluster's server comes from cdcform.toml: another one in the environment or on
    // the command line is refused (both named), never preferred.
    let refused = |args: &[&str], env: Option<&str>| {
        let mut cmd = cdcform();
        cmd.current_dir(d).args(["export"]).args(args);
        if let Some(e) = env {
            cmd.env("CDCFORM_SERVER", e);
        }
        let o = cmd.output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", out(&o));
        out(&o)
    };
    let text = refused(&[], Some(&c.url()));
    assert!(
        text.contains(&format!("cluster `one` is at {}", a.url()))
            && text.contains(&format!("but CDCFORM_SERVER says {}", c.url())),
        "{text}"
    );
    let text = refused(&["--server", &b.url()], Some(&a.url()));
    assert!(
        text.contains(&format!("but --server says {}", b.url())),
        "{text}"
    );
    // Without cdcform.toml: the flag beats the environment, which beats the default.
    let bare = d.join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    let bare_which = |args: &[&str], env: &str| {
        let o = cdcform()
            .current_dir(&bare)
            .args(["export"])
            .args(args)
            .env("CDCFORM_SERVER", env)
            .output()
            .unwrap();
        out(&o)
    };
    assert!(
        bare_which(&[], &c.url()).contains("on-c"),
        "env beats default"
    );
    assert!(
        bare_which(&["--server", &b.url()], &c.url()).contains("on-b"),
        "flag beats env"
    );
    // An unknown cluster, an unknown key: clear errors, exit 1.
    let o = cdcform()
        .current_dir(d)
        .args(["plan", "--cluster", "three"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("three"), "{}", out(&o));
    write(
        d,
        "bad.toml",
        "[clusters.one]\nserver = \"http://x\"\nservre = \"y\"\n",
    );
    let o = cdcform()
        .current_dir(d)
        .args(["plan", "--config", "bad.toml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("bad.toml:3"), "{}", out(&o));
    let o = cdcform()
        .current_dir(d)
        .args(["plan", "--config", "missing.toml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("missing.toml"), "{}", out(&o));
    for s in [a, b, c] {
        s.shutdown().await;
    }
}
