//! What a new user meets in the first hour: two clusters in one cdcform.toml, exit codes a CI
//! job can act on, the JSON contract, credentials checked by the plan, errors with a next step.

use std::path::Path;

use cdcform::simulator::SimConfig;
use serde_json::Value;

use crate::harness::*;

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

use crate::harness::run_cli as run;

const SHARED: &str = "changefeeds:\n  - id: shared\n    sink_uri: \"blackhole://\"\n";

/// Two simulators, a cdcform.toml naming both and no `default_cluster`, each cluster with its
/// own manifests (the same id in both).
async fn two_clusters() -> (
    tempfile::TempDir,
    cdcform::simulator::Simulator,
    cdcform::simulator::Simulator,
) {
    let staging = sim(classic()).await;
    let prod = sim(SimConfig {
        basic_auth: Some(("admin".into(), "s3cret".into())),
        ..newarch()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "cdcform.toml",
        &format!(
            "[clusters.staging]\nserver = \"{}\"\npaths = [\"staging\"]\n\n[clusters.prod]\nserver = \"{}\"\npaths = [\"prod\"]\nuser = \"admin\"\npassword_env = \"PROD_PW\"\n",
            staging.url(),
            prod.url()
        ),
    );
    write(dir.path(), "staging/feeds.yaml", SHARED);
    write(
        dir.path(),
        "prod/feeds.yaml",
        "changefeeds:\n  - id: shared\n    sink_uri: \"blackhole://\"\n  - id: gone\n    sink_uri: \"blackhole://\"\n    state: absent\n",
    );
    (dir, staging, prod)
}

/// Item 1: several clusters and none chosen is refused by every command that needs one; no
/// request reaches any server; `validate` checks each cluster on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_clusters_and_none_chosen_is_refused() {
    let (dir, staging, prod) = two_clusters().await;
    for args in [
        &["plan"][..],
        &["apply", "--auto-approve"],
        &["status"],
        &["export"],
    ] {
        let (code, out, err) = run(dir.path(), args, &[("PROD_PW", "s3cret")]);
        assert_eq!(code, Some(1), "{args:?}: {out}{err}");
        assert!(
            err.contains("prod, staging")
                && err.contains("--cluster")
                && err.contains("CDCFORM_CLUSTER")
                && err.contains("default_cluster"),
            "{args:?}: {err}"
        );
    }
    assert!(staging.requests().is_empty() && prod.requests().is_empty());
    // validate: each cluster's paths separately, so the shared id is no duplicate.
    let (code, out, err) = run(dir.path(), &["validate"], &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("cluster prod: 2 changefeeds"), "{out}");
    assert!(out.contains("cluster staging: 1 changefeed"), "{out}");
    // An explicit --server with no --cluster uses no cluster's paths: they must be given.
    let (code, _, err) = run(dir.path(), &["plan", "--server", &staging.url()], &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no manifest paths"), "{err}");
    let (code, out, err) = run(
        dir.path(),
        &["plan", "--server", &staging.url(), "staging"],
        &[],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    // Chosen by the environment: works.
    let (code, out, err) = run(dir.path(), &["plan"], &[("CDCFORM_CLUSTER", "staging")]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("default/shared"), "{out}");
    // A misspelt cluster gets a suggestion.
    let (code, _, err) = run(dir.path(), &["plan", "--cluster", "prd"], &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("did you mean `prod`?"), "{err}");
    staging.shutdown().await;
    prod.shutdown().await;
}

/// Items 2, 3 and 9 through the binary, on the two-cluster set-up: a tombstone of a missing
/// changefeed is "already absent"; credentials are checked by the plan; a blocked entry fails
/// the plan as it fails the apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_checks_credentials_and_counts_tombstones() {
    let (dir, staging, prod) = two_clusters().await;
    let prod_plan = |pw: Option<&str>, extra: &[&str]| {
        let mut args = vec!["plan", "--cluster", "prod", "--format", "json"];
        args.extend_from_slice(extra);
        let envs: Vec<(&str, &str)> = pw.map(|p| vec![("PROD_PW", p)]).unwrap_or_default();
        run(dir.path(), &args, &envs)
    };
    // Right password: ok; the tombstone is already absent, never "unchanged".
    let (code, out, err) = prod_plan(Some("s3cret"), &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["credentials"], "ok");
    assert_eq!(v["summary"]["absent"], 1);
    assert_eq!(v["summary"]["unchanged"], 0);
    assert_eq!(v["absent"][0]["id"], "gone");
    assert!(v["summary_line"]
        .as_str()
        .unwrap()
        .contains("1 already absent"));
    // Wrong password: the plan says so and fails, because it has writes; nothing was written.
    let (code, out, err) = prod_plan(Some("wrong"), &[]);
    assert_eq!(code, Some(1), "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["credentials"], "refused");
    assert!(
        err.contains("the server refused the user or password"),
        "{err}"
    );
    // No user at all: missing.
    write(
        dir.path(),
        "cdcform.toml",
        &std::fs::read_to_string(dir.path().join("cdcform.toml"))
            .unwrap()
            .replace("user = \"admin\"\npassword_env = \"PROD_PW\"\n", ""),
    );
    let (code, out, _) = prod_plan(None, &[]);
    assert_eq!(code, Some(1));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["credentials"], "missing");
    assert_eq!(mutations(&prod), Vec::<String>::new(), "the plan wrote");
    // The human plan's header names the cluster and its server, then the credentials result.
    let (_, out, _) = run(dir.path(), &["plan", "--cluster", "prod"], &[]);
    assert!(
        out.starts_with(&format!(
            "══ cluster prod ({}) ══\n\ncredentials: missing",
            prod.url()
        )),
        "{out}"
    );
    // A blocked entry: exit 1 with and without --detailed-exitcode, after the whole plan.
    let c = client(&staging);
    c.create_changefeed(
        "default",
        &serde_json::from_str(r#"{"changefeed_id": "shared", "sink_uri": "blackhole://"}"#)
            .unwrap(),
    )
    .await
    .unwrap();
    crate::harness::wait_visible(&c, "default", "shared").await;
    write(
        dir.path(),
        "cdcform.toml",
        &std::fs::read_to_string(dir.path().join("cdcform.toml"))
            .unwrap()
            .replace(
                "[clusters.staging]\n",
                "[clusters.staging]\nprotected = [\"shared\"]\n",
            ),
    );
    write(
        dir.path(),
        "staging/feeds.yaml",
        "changefeeds:\n  - id: shared\n    sink_uri: \"blackhole://\"\n    state: absent\n  - id: other\n    sink_uri: \"blackhole://\"\n",
    );
    for extra in [&[][..], &["--detailed-exitcode"]] {
        let mut args = vec!["plan", "--cluster", "staging"];
        args.extend_from_slice(extra);
        let (code, out, err) = run(dir.path(), &args, &[]);
        assert_eq!(code, Some(1), "{extra:?}: {out}{err}");
        assert!(out.contains("! default/shared  blocked"), "{out}");
        assert!(out.contains("+ default/other  create"), "{out}");
        assert!(out.contains("1 blocked."), "{out}");
    }
    staging.shutdown().await;
    prod.shutdown().await;
}

/// Item 6: `before`/`after` are absent when the field is absent, on every action; item 7: a
/// create shows the sink URI as the manifest writes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_plan_contract_on_every_action() {
    let s = sim(classic()).await;
    converge(
        &s,
        &manifests("changefeeds:\n  - id: upd\n    sink_uri: \"blackhole://\"\n  - id: pause-me\n    sink_uri: \"blackhole://\"\n  - id: resume-me\n    sink_uri: \"blackhole://\"\n    state: paused\n  - id: del\n    sink_uri: \"blackhole://\"\n"),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "f.yaml",
        "changefeeds:\n  - id: new\n    sink_uri: \"blackhole://\"\n    replica_config:\n      mounter:\n        worker_num: 4\n  - id: upd\n    sink_uri: \"blackhole://\"\n    replica_config:\n      mounter:\n        worker_num: 4\n  - id: pause-me\n    sink_uri: \"blackhole://\"\n    state: paused\n  - id: resume-me\n    sink_uri: \"blackhole://\"\n  - id: del\n    sink_uri: \"blackhole://\"\n    state: absent\n",
    );
    let (code, out, err) = run(
        dir.path(),
        &["plan", "f.yaml", "--server", &s.url(), "--format", "json"],
        &[],
    );
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let actions: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in ["create", "update", "pause", "resume", "delete"] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    for e in v["entries"].as_array().unwrap() {
        for c in e["changes"].as_array().unwrap() {
            for side in ["before", "after"] {
                assert!(
                    c.get(side) != Some(&Value::Null),
                    "{}: `{side}: null` in {c}",
                    e["action"]
                );
            }
        }
    }
    let create = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "create")
        .unwrap();
    let uri = create["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "sink_uri")
        .unwrap();
    assert!(uri.get("before").is_none(), "{uri}");
    assert_eq!(
        uri["after"], "blackhole://",
        "the manifest's form, not the server's"
    );
    // -q: the summary line only.
    let (code, out, _) = run(
        dir.path(),
        &["plan", "f.yaml", "--server", &s.url(), "-q"],
        &[],
    );
    assert_eq!(code, Some(0));
    assert_eq!(out.trim().lines().count(), 1, "{out}");
    assert!(out.starts_with("Plan: 1 to create"), "{out}");
    s.shutdown().await;
}

/// Items 13 and 14: errors that say what to do.
#[test]
fn errors_name_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "f.yaml", SHARED);
    let (code, _, err) = run(
        dir.path(),
        &["plan", "f.yaml", "--server", "127.0.0.1:8300"],
        &[],
    );
    assert_eq!(code, Some(1));
    assert!(err.contains("needs `http://` or `https://`"), "{err}");
    assert!(err.contains("use `http://127.0.0.1:8300`"), "{err}");
    write(dir.path(), "cdcform.toml", "defualt_cluster = \"a\"\n");
    let (code, _, err) = run(dir.path(), &["plan", "f.yaml"], &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("cdcform.toml:1:1"), "{err}");
    assert!(err.contains("did you mean `default_cluster`?"), "{err}");
    write(dir.path(), "cdcform.toml", "pd = \"http://x:2379\"\n");
    let (_, _, err) = run(dir.path(), &["plan", "f.yaml"], &[]);
    assert!(err.contains("`pd` is called `server`"), "{err}");
    std::fs::remove_file(dir.path().join("cdcform.toml")).unwrap();
    // Names from TiCDC's docs and `cdc cli --config` files map to the manifest's.
    write(
        dir.path(),
        "legacy.yaml",
        "changefeeds:\n  - changefeed-id: a\n    sink-uri: \"blackhole://\"\n    replica_config:\n      force-replicate: true\n      sink:\n        dispatchers:\n          - matcher: [\"a.*\"]\n            dispatcher: table\n",
    );
    let (code, _, err) = run(dir.path(), &["validate", "legacy.yaml"], &[]);
    assert_eq!(code, Some(1));
    for hint in [
        "`changefeed-id` is `id` in a manifest",
        "`sink-uri` is `sink_uri` in a manifest",
        "manifests use the API's name `force_replicate`",
        "`dispatcher` of a dispatch rule is `partition`",
    ] {
        assert!(err.contains(hint), "{hint}:\n{err}");
    }
}

/// Item 11: a command's own flags first, connection flags under their own heading, none on
/// offline commands; `simulate` lists only its own flags.
#[test]
fn help_groups_flags_by_what_they_are_for() {
    let help = |args: &[&str]| {
        let o = cdcform().args(args).output().unwrap();
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let plan = help(&["plan", "--help"]);
    let own = plan.find("--detailed-exitcode").unwrap();
    let conn = plan.find("Connection:").expect("a Connection heading");
    assert!(own < conn, "{plan}");
    assert!(plan[conn..].contains("--server"), "{plan}");
    for offline in ["validate", "schema", "completions", "man"] {
        let text = help(&[offline, "--help"]);
        for flag in ["--server", "--ca", "--user", "--timeout", "--parallelism"] {
            assert!(
                !text.contains(flag),
                "{offline} --help lists {flag}:\n{text}"
            );
        }
    }
    // Commands that run on one cluster take one `--cluster`; those that read no changefeeds
    // take no namespace or parallelism.
    for one in [
        &["export", "--help"][..],
        &["cluster", "log-level", "--help"],
        &["cluster", "resign-owner", "--help"],
    ] {
        let text = help(one);
        assert!(text.contains("--cluster <NAME>"), "{one:?}:\n{text}");
        assert!(!text.contains("--all-clusters"), "{one:?}:\n{text}");
        assert!(!text.contains("repeat for several"), "{one:?}:\n{text}");
    }
    for op in ["log-level", "resign-owner"] {
        let text = help(&["cluster", op, "--help"]);
        for flag in ["--namespace", "--parallelism"] {
            assert!(
                !text.contains(flag),
                "cluster {op} --help lists {flag}:\n{text}"
            );
        }
    }
    let sim = help(&["simulate", "--help"]);
    for flag in [
        "--server <",
        "--ca <",
        "--user",
        "--parallelism",
        "--cluster",
    ] {
        assert!(!sim.contains(flag), "simulate --help lists {flag}:\n{sim}");
    }
    // Each flag has help text: on its own line, or on the next one when clap wraps.
    let lines: Vec<&str> = sim.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("--tls-") {
            let same = line.split_whitespace().count() > 2;
            let next = lines
                .get(i + 1)
                .is_some_and(|n| !n.trim().is_empty() && !n.trim_start().starts_with('-'));
            assert!(same || next, "no help text: {line}\n{sim}");
        }
    }
}

/// Item 17: TLS failures in words, and a self-signed `CA:TRUE` server certificate (what
/// `openssl req -x509` makes) accepted when it is the very certificate given as `--ca`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_errors_in_words_and_a_pinned_self_signed_certificate() {
    use cdcform::simulator::{SimTls, Simulator};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Self-signed, CA:TRUE, for 127.0.0.1 only.
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".into()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    write(d, "self.pem", &cert.pem());
    write(d, "self.key", &key.serialize_pem());
    // Another CA that signed nothing here.
    let other_key = rcgen::KeyPair::generate().unwrap();
    let mut other = rcgen::CertificateParams::new(vec![]).unwrap();
    other.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    other
        .distinguished_name
        .push(rcgen::DnType::CommonName, "unrelated CA");
    write(
        d,
        "other.pem",
        &other.self_signed(&other_key).unwrap().pem(),
    );
    write(d, "f.yaml", SHARED);
    let tls = Simulator::start(
        SimConfig {
            tls: Some(SimTls {
                cert: d.join("self.pem"),
                key: d.join("self.key"),
                client_ca: None,
            }),
            ..classic()
        },
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let plain = sim(classic()).await;
    let https = tls.url();
    let plan = |server: &str, ca: Option<&str>| {
        let mut args = vec!["plan", "f.yaml", "--server", server, "--timeout", "2s"];
        if let Some(ca) = ca {
            args.extend(["--ca", ca]);
        }
        run(d, &args, &[])
    };
    // The pin: accepted, as Go's crypto/tls and curl accept it.
    let (code, out, err) = plan(&https, Some("self.pem"));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("+ default/shared"), "{out}");
    // #29 item 3: the pin holds for the names the certificate carries, as Go's crypto/tls
    // (`x509.Certificate.VerifyHostname`) and curl check them; this one names only 127.0.0.1.
    let (code, out, err) = plan(&https.replace("127.0.0.1", "localhost"), Some("self.pem"));
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("certificate is for 127.0.0.1, not localhost"),
        "{err}"
    );
    // Without --ca, the words do not speak of "the one in --ca".
    let (code, _, err) = plan(&https, None);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("self-signed") || err.contains("not signed by a CA this system trusts"),
        "{err}"
    );
    assert!(!err.contains("in --ca"), "{err}");
    // Any other --ca: refused, in words.
    let (code, _, err) = plan(&https, Some("other.pem"));
    assert_eq!(code, Some(1));
    assert!(
        err.contains("self-signed") && err.contains("not the one in --ca"),
        "{err}"
    );
    assert!(err.contains("help: check `--ca`"), "{err}");
    // A leaf signed by a CA that is not the one in --ca.
    let ca3_key = rcgen::KeyPair::generate().unwrap();
    let mut ca3 = rcgen::CertificateParams::new(vec![]).unwrap();
    ca3.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca3.distinguished_name
        .push(rcgen::DnType::CommonName, "the cluster's CA");
    let ca3 = ca3.self_signed(&ca3_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".into()])
        .unwrap()
        .signed_by(&leaf_key, &ca3, &ca3_key)
        .unwrap();
    write(d, "leaf.pem", &leaf.pem());
    write(d, "leaf.key", &leaf_key.serialize_pem());
    write(d, "ca3.pem", &ca3.pem());
    let signed = Simulator::start(
        SimConfig {
            tls: Some(SimTls {
                cert: d.join("leaf.pem"),
                key: d.join("leaf.key"),
                client_ca: None,
            }),
            ..classic()
        },
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let (code, _, err) = plan(&signed.url(), Some("other.pem"));
    assert_eq!(code, Some(1));
    assert!(err.contains("not signed by the CA in --ca"), "{err}");
    let (code, out, err) = plan(&signed.url(), Some("ca3.pem"));
    assert_eq!(code, Some(0), "{out}{err}");
    // Signed for 127.0.0.1, asked as localhost: the name, in words.
    let (code, _, err) = plan(
        &signed.url().replace("127.0.0.1", "localhost"),
        Some("ca3.pem"),
    );
    assert_eq!(code, Some(1));
    assert!(
        err.contains("certificate is for 127.0.0.1, not localhost"),
        "{err}"
    );
    signed.shutdown().await;
    // http:// to a TLS server, https:// to a plain one.
    let (code, _, err) = plan(&https.replace("https://", "http://"), None);
    assert_eq!(code, Some(1));
    assert!(err.contains("the server speaks TLS"), "{err}");
    assert!(err.contains("try `--server https://"), "{err}");
    let (code, _, err) = plan(&plain.url().replace("http://", "https://"), None);
    assert_eq!(code, Some(1));
    assert!(err.contains("does not speak TLS"), "{err}");
    assert!(err.contains("try `--server http://"), "{err}");
    tls.shutdown().await;
    plain.shutdown().await;
}

/// Item 16: on a terminal, `apply` shows one live progress line (cleared when done) and the
/// summary once; off a terminal (CI logs) a line per step. The terminal is a pty from
/// util-linux's `script`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_progress_is_one_live_line_on_a_terminal() {
    let s = sim(classic()).await;
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "f.yaml",
        "changefeeds:\n  - id: a\n    sink_uri: \"blackhole://\"\n  - id: b\n    sink_uri: \"blackhole://\"\n",
    );
    let bin = assert_cmd::cargo::cargo_bin("cdcform");
    let cmd = format!(
        "{} apply f.yaml --server {} --auto-approve",
        bin.display(),
        s.url()
    );
    let o = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(dir.path())
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .output()
        .expect("script(1) from util-linux");
    let screen = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{screen}");
    assert_eq!(screen.matches("Apply complete").count(), 1, "{screen}");
    // What stays on screen: for each line, the text after its last carriage return.
    let lasting: Vec<&str> = screen
        .split('\n')
        .map(|l| l.rsplit('\r').next().unwrap_or(l))
        .collect();
    assert!(
        !lasting.iter().any(|l| l.contains(": create ok (")),
        "a step line stayed on screen:\n{screen}"
    );
    // Off a terminal: a line per step on stderr.
    write(
        dir.path(),
        "f.yaml",
        "changefeeds:\n  - id: a\n    sink_uri: \"blackhole://\"\n  - id: b\n    sink_uri: \"blackhole://\"\n  - id: c\n    sink_uri: \"blackhole://\"\n",
    );
    let (code, _, err) = run(
        dir.path(),
        &["apply", "f.yaml", "--server", &s.url(), "--auto-approve"],
        &[],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("default/c: create ok ("), "{err}");
    // #29 item 15: every step the summary times has its own line (the wait for the create to
    // show is most of it), so the lines add up to the summary's figure.
    assert!(err.contains("default/c: wait visible ok ("), "{err}");
    s.shutdown().await;
}

/// Item 10: `-q` means errors and the final summary only, in every command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_means_errors_and_the_summary_only() {
    let s = sim(classic()).await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "f.yaml", SHARED);
    let url = s.url();
    let (code, out, err) = run(
        dir.path(),
        &["apply", "f.yaml", "--server", &url, "--auto-approve", "-q"],
        &[],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out.trim(),
        "Apply complete: 1 succeeded, 0 failed, 0 skipped."
    );
    assert_eq!(err, "", "progress with -q");
    let (code, out, _) = run(dir.path(), &["validate", "f.yaml", "-q"], &[]);
    assert_eq!((code, out.as_str()), (Some(0), ""));
    let (code, out, _) = run(dir.path(), &["status", "--server", &url, "-q"], &[]);
    assert_eq!((code, out.as_str()), (Some(0), ""));
    let (code, out, _) = run(dir.path(), &["plan", "f.yaml", "--server", &url, "-q"], &[]);
    assert_eq!(code, Some(0));
    assert_eq!(out.trim().lines().count(), 1, "{out}");
    s.shutdown().await;
}
