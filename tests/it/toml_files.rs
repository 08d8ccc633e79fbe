//! Issue 32: `replica_config_file:` reads the TOML files of `cdc cli changefeed create --config`
//! as they are. The corpus is every such file of TiCDC's integration tests (tiflow v8.5.0,
//! pingcap/ticdc v8.5.7; `tests/corpus/cdc-cli-toml/INDEX.tsv` names each source), used verbatim.

use std::path::{Path, PathBuf};

use cdcform::manifest::{self, DesiredChangefeed};
use cdcform::ticdc::{ServerProfile, Version};
use serde_json::Value;

use crate::harness::{
    assert_empty, cdcform, classic, converge, env, mutations, newarch, plan, profiles, sim, CANARY,
};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/cdc-cli-toml")
}

/// One corpus file: its id in the manifests, where it is, and the sink URI its test uses.
struct CorpusFile {
    id: String,
    path: PathBuf,
    sink_uri: String,
}

/// The corpus files of one repository (`tiflow` or `ticdc`), from INDEX.tsv.
fn corpus(repo: &str) -> Vec<CorpusFile> {
    let index = std::fs::read_to_string(corpus_dir().join("INDEX.tsv")).unwrap();
    let out: Vec<CorpusFile> = index
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f[0].starts_with(&format!("{repo}/")))
        .map(|f| {
            let stem = f[0].trim_end_matches(".toml").replace('/', "-");
            CorpusFile {
                id: stem.replace("__", "-").replace('_', "-").to_lowercase(),
                path: corpus_dir().join(f[0]),
                sink_uri: f[5].to_string(),
            }
        })
        .collect();
    assert!(out.len() > 40, "{repo}: only {} files", out.len());
    out
}

/// A manifest naming every corpus file of `repo` through `replica_config_file:`.
fn toml_manifest(dir: &Path, repo: &str) -> PathBuf {
    let mut text = String::from("changefeeds:\n");
    for f in corpus(repo) {
        text.push_str(&format!(
            "  - id: {}\n    sink_uri: \"{}\"\n    replica_config_file: \"{}\"\n",
            f.id,
            f.sink_uri,
            f.path.display()
        ));
    }
    let p = dir.join(format!("{repo}.yaml"));
    std::fs::write(&p, text).unwrap();
    p
}

fn load_for(paths: &[PathBuf], profile: &ServerProfile) -> Vec<DesiredChangefeed> {
    manifest::load_for(paths, &env, Some(profile))
        .unwrap_or_else(|d| panic!("manifests do not load for {}:\n{d}", profile.label()))
        .changefeeds
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// `v` without empty strings and nulls inside objects.
fn strip_empty(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, x)| !x.is_null() && x.as_str() != Some(""))
                .map(|(k, x)| (k.clone(), strip_empty(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_empty).collect()),
        other => other.clone(),
    }
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every changefeed TOML of TiCDC's integration tests, used verbatim through
/// `replica_config_file:`, validates, applies and plans empty; and plans empty against
/// changefeeds created from the same settings written in JSON names (`<repo>.json-names.yaml`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_integration_test_toml_applies_and_plans_empty_also_against_json_names() {
    let dir = tempfile::tempdir().unwrap();
    for (repo, cfg, profile) in [
        (
            "tiflow",
            classic(),
            ServerProfile::classic(Version::new(8, 5, 0)),
        ),
        ("ticdc", newarch(), ServerProfile::newarch()),
    ] {
        let from_toml = load_for(&[toml_manifest(dir.path(), repo)], &profile);
        let json_names = load_for(
            &[corpus_dir().join(format!("{repo}.json-names.yaml"))],
            &profile,
        );
        assert_eq!(from_toml.len(), json_names.len());
        // The same settings, read two ways.
        for (t, j) in from_toml.iter().zip(&json_names) {
            assert_eq!(t.id, j.id);
            assert_eq!(
                t.replica_config, j.replica_config,
                "{repo}: {} reads differently from its JSON names",
                t.id
            );
        }
        // Validate offline (every server), as `cdcform validate` does.
        manifest::load(&[toml_manifest(dir.path(), repo)], &env)
            .unwrap_or_else(|d| panic!("{repo}: validate refuses:\n{d}"));

        // Applied from the TOML files: plans empty.
        let s = sim(cfg.clone()).await;
        converge(&s, &from_toml).await;
        assert_empty(
            &plan(&s, &from_toml).await,
            &format!("{repo} toml after apply"),
        );
        assert_empty(
            &plan(&s, &json_names).await,
            &format!("{repo} json vs toml"),
        );
        s.shutdown().await;

        // Created from the JSON names: the TOML manifests plan empty against them.
        let s = sim(cfg).await;
        converge(&s, &json_names).await;
        assert_empty(&plan(&s, &from_toml).await, &format!("{repo} toml vs json"));
        s.shutdown().await;
    }
}

/// Round trip on every profile: TOML files → apply → `export --replica-config-files` → the
/// export plans empty, and the values it names are the values applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toml_apply_export_to_toml_files_plans_empty_with_the_same_values() {
    for (name, cfg) in profiles() {
        let dir = tempfile::tempdir().unwrap();
        let newarch = name == "newarch";
        let repo = if newarch { "ticdc" } else { "tiflow" };
        let profile = match &cfg.profile {
            cdcform::simulator::SimProfile::Classic { version } => ServerProfile::classic(*version),
            _ => ServerProfile::newarch(),
        };
        // What that version's `cdc cli` reads (older servers refuse some keys of newer files).
        let mut text = String::from("changefeeds:\n");
        for f in corpus(repo) {
            let one = format!(
                "changefeeds:\n  - id: {}\n    sink_uri: \"{}\"\n    replica_config_file: \"{}\"\n",
                f.id,
                f.sink_uri,
                f.path.display()
            );
            if manifest::load_str_for("one.yaml", &one, &env, Some(&profile)).is_ok() {
                text.push_str(one.trim_start_matches("changefeeds:\n"));
            }
        }
        let m = write(dir.path(), "feeds.yaml", &text);
        let desired = load_for(&[m], &profile);
        assert!(desired.len() > 20, "{name}: {} files read", desired.len());
        let s = sim(cfg).await;
        converge(&s, &desired).await;

        let out = dir.path().join("exported");
        let files = out.join("conf");
        let o = cdcform()
            .args(["export", "--server", &s.url()])
            .arg("--replica-config-files")
            .arg(&files)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        assert!(
            std::fs::read_dir(&files).unwrap().count() > 10,
            "{name}: too few TOML files"
        );
        // The exported manifests name their files relative to themselves.
        let one = std::fs::read_to_string(out.join(format!("{}.yaml", desired[0].id))).unwrap();
        assert!(
            one.contains("replica_config_file: conf/") || !one.contains("replica_config_file"),
            "{one}"
        );
        let o = cdcform()
            .args(["plan", "--detailed-exitcode", "--server", &s.url()])
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{name}: the export does not plan empty:\n{}{}",
            stdout(&o),
            stderr(&o)
        );
        // The same values: every value applied comes back from the export (its TOML file
        // merged with its manifest), unless it is the server's default, which export leaves out.
        let exported = load_for(std::slice::from_ref(&out), &profile);
        for d in &desired {
            let e = exported.iter().find(|e| e.id == d.id).expect("exported");
            let got =
                cdcform::normalize::flatten(e.replica_config.as_ref().unwrap_or(&Value::Null));
            let default = cdcform::normalize::effective_desired(&profile, &d.sink_uri, None);
            let default = cdcform::normalize::flatten(&default.compare);
            // What the server holds of it (defaults filled, what this sink ignores stripped).
            let applied = cdcform::normalize::effective_desired(
                &profile,
                &d.sink_uri,
                d.replica_config.as_ref(),
            );
            for (path, want) in cdcform::normalize::flatten(&applied.compare) {
                let same = got
                    .get(&path)
                    .is_some_and(|g| strip_empty(g) == strip_empty(&want))
                    || cdcform::normalize::equivalent(default.get(&path), Some(&want))
                    || got.is_empty() && cdcform::normalize::is_empty(Some(&want));
                assert!(
                    same,
                    "{name}: {} applied {path} = {want}, exported {:?}",
                    d.id,
                    got.get(&path)
                );
            }
        }
        s.shutdown().await;
    }
}

/// `replica_config:` beside the file overrides single fields (the staging/prod example of
/// docs/guide/migrating-from-cdc-cli.md); the plan names the file beside values that come from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_overrides_single_fields_and_the_plan_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("conf")).unwrap();
    write(
        dir.path(),
        "conf/orders.toml",
        "case-sensitive = true\n[filter]\nrules = ['shop.*']\n[sink.mysql-config]\nworker-count = 4\nmax-txn-row = 128\n",
    );
    let prod = write(
        dir.path(),
        "prod.yaml",
        "changefeeds:\n  - id: orders\n    sink_uri: \"mysql://root@127.0.0.1:3306/\"\n    replica_config_file: conf/orders.toml\n    replica_config:\n      sink:\n        mysql_config:\n          worker_count: 32\n",
    );
    let d = &manifest::load(std::slice::from_ref(&prod), &env)
        .unwrap()
        .changefeeds[0];
    assert_eq!(
        d.replica_config,
        Some(
            serde_json::json!({"case_sensitive": true, "filter": {"rules": ["shop.*"]},
            "sink": {"mysql_config": {"worker_count": 32, "max_txn_row": 128}}})
        )
    );
    let s = sim(classic()).await;
    let o = cdcform()
        .args(["plan", "--server", &s.url()])
        .arg(&prod)
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(
        out.contains("orders.toml (replica_config_file): replica_config.case_sensitive, replica_config.filter.rules, replica_config.sink.mysql_config.max_txn_row"),
        "{out}"
    );
    assert!(
        !out.contains("(replica_config_file): replica_config.sink.mysql_config.worker_count")
            && !out.contains(
                "mysql_config.max_txn_row, replica_config.sink.mysql_config.worker_count"
            ),
        "the overridden value is the manifest's: {out}"
    );
    s.shutdown().await;
}

/// A key TiCDC does not know is refused at its line, with a did-you-mean; nothing is changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_toml_key_is_refused_at_its_line_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "cf.toml",
        "memory-quota = 1073741824\n\n[mounter]\nworker-nums = 8\n\n[sink]\nprotocol = \"canal-json\"\n[[sink.dispatchers]]\nmatcher = ['a.*']\ndispatcher = \"ts\"\n",
    );
    let m = write(
        dir.path(),
        "m.yaml",
        "changefeeds:\n  - id: a\n    sink_uri: \"kafka://127.0.0.1:9092/t?protocol=canal-json\"\n    replica_config_file: cf.toml\n",
    );
    let o = cdcform().arg("validate").arg(&m).output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("cf.toml:4:1"), "{err}");
    assert!(
        err.contains("unknown key `worker-nums` in `[mounter]`"),
        "{err}"
    );
    assert!(err.contains("did you mean `worker-num`?"), "{err}");
    assert!(err.contains("4 | worker-nums = 8"), "the snippet: {err}");

    let s = sim(classic()).await;
    for cmd in [&["plan"][..], &["apply", "--auto-approve"]] {
        let o = cdcform()
            .args(cmd)
            .args(["--server", &s.url()])
            .arg(&m)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{cmd:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("cf.toml:4:1"),
            "{cmd:?}: {}",
            stderr(&o)
        );
    }
    assert!(mutations(&s).is_empty(), "{:?}", mutations(&s));
    // A manifest's snake_case name is pointed at its TOML spelling; a missing file at the key.
    write(dir.path(), "cf.toml", "[mounter]\nworker_num = 8\n");
    let err = stderr(&cdcform().arg("validate").arg(&m).output().unwrap());
    assert!(err.contains("did you mean `worker-num`?"), "{err}");
    let gone = write(
        dir.path(),
        "gone.yaml",
        "changefeeds:\n  - id: a\n    sink_uri: \"blackhole://\"\n    replica_config_file: nope.toml\n",
    );
    let err = stderr(&cdcform().arg("validate").arg(&gone).output().unwrap());
    assert!(err.contains("gone.yaml:4:26"), "{err}");
    assert!(err.contains("replica_config_file `nope.toml`"), "{err}");
    s.shutdown().await;
}

/// A key the target's `cdc cli` does not know (it came in a later version) is refused when the
/// server is known (plan, apply), as that `cdc cli` refuses it; `validate` (any server) takes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_the_target_version_does_not_know_is_refused_at_plan() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "cf.toml",
        "[filter]\nrules = ['shop.*']\n\n[synced-status]\nsynced-check-interval = 600\n",
    );
    let m = write(
        dir.path(),
        "m.yaml",
        "changefeeds:\n  - id: a\n    sink_uri: \"blackhole://\"\n    replica_config_file: cf.toml\n",
    );
    // Offline, for any server: valid, with a warning naming the versions that know it.
    let o = cdcform().arg("validate").arg(&m).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cf.toml:4:2: changefeed `a`: `synced-status` is known to `cdc cli` of tiflow v8.1, tiflow v8.5, pingcap/ticdc v8.5 (new architecture) only"),
        "{}",
        stderr(&o)
    );
    // Offline for a v7.5 server: refused, as that `cdc cli` refuses it.
    let o = cdcform()
        .args(["validate", "--target", "v7.5.0"])
        .arg(&m)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("cf.toml:4:2"), "{}", stderr(&o));
    let v75 = profiles().remove(2).1;
    let s = sim(v75).await;
    let o = cdcform()
        .args(["plan", "--server", &s.url()])
        .arg(&m)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("cf.toml:4:2"), "{err}");
    assert!(
        err.contains(
            "`synced-status` in the top level is not known to `cdc cli` of TiCDC classic v7.5.0"
        ),
        "{err}"
    );
    assert!(mutations(&s).is_empty());
    s.shutdown().await;
    // The v8.5 server knows it.
    let s = sim(classic()).await;
    let o = cdcform()
        .args(["plan", "--server", &s.url()])
        .arg(&m)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    s.shutdown().await;
}

/// TiCDC's crossings and aliases: Pulsar's `tls-certificate-file` is the API's
/// `tls-private-key-path` (and `tls-key-file-path` its `tls-certificate-path`), the legacy
/// `dispatcher` is `partition`, an empty table is no setting; the changefeed plans empty
/// against one created from the same settings in JSON names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulsar_crossing_dispatcher_alias_and_empty_tables_match_json_names() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.toml",
        "[sink]\n[sink.pulsar-config]\ntls-certificate-file = \"/certs/client.key\"\ntls-key-file-path = \"/certs/client.crt\"\n[[sink.dispatchers]]\nmatcher = ['a.*']\ndispatcher = \"ts\"\n[sink.kafka-config]\n[mounter]\n",
    );
    let uri = "pulsar://127.0.0.1:6650/t?protocol=canal-json";
    let toml = write(
        dir.path(),
        "toml.yaml",
        &format!(
            "changefeeds:\n  - id: p\n    sink_uri: \"{uri}\"\n    replica_config_file: p.toml\n"
        ),
    );
    let by_hand = format!(
        "changefeeds:\n  - id: p\n    sink_uri: \"{uri}\"\n    replica_config:\n      sink:\n        pulsar_config:\n          tls-private-key-path: /certs/client.key\n          tls-certificate-path: /certs/client.crt\n        dispatchers:\n          - matcher: ['a.*']\n            partition: ts\n"
    );
    let from_toml = manifest::load(&[toml], &env).unwrap().changefeeds;
    let json = crate::harness::manifests(&by_hand);
    assert_eq!(from_toml[0].replica_config, json[0].replica_config);
    let s = sim(classic()).await;
    converge(&s, &json).await;
    assert_empty(&plan(&s, &from_toml).await, "pulsar toml vs json");
    s.shutdown().await;
}

/// Secrets in a TOML file follow the manifest's rules: `${VAR}` is expanded and never shown;
/// a literal secret cannot go into a saved plan; an error snippet on a secret's line masks it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_toml_files_follow_the_manifest_rules() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "k.toml",
        "[sink.kafka-config]\nsasl-user = \"cdc\"\nsasl-password = \"${KAFKA_PASSWORD}\"\n",
    );
    let m = write(
        dir.path(),
        "m.yaml",
        "changefeeds:\n  - id: k\n    sink_uri: \"kafka://127.0.0.1:9092/t?protocol=canal-json\"\n    replica_config_file: k.toml\n",
    );
    // A missing variable is located at its `${NAME}` in the TOML file.
    let o = cdcform()
        .arg("validate")
        .arg(&m)
        .env_remove("KAFKA_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("environment variable `KAFKA_PASSWORD` is not set")
            && stderr(&o).contains("k.toml:3:18"),
        "{}",
        stderr(&o)
    );
    let s = sim(classic()).await;
    let plan_file = dir.path().join("p.plan");
    let run = |args: &[&str], manifest: bool| {
        let mut c = cdcform();
        c.args(args)
            .arg("--server")
            .arg(s.url())
            .env("KAFKA_PASSWORD", CANARY);
        if manifest {
            c.arg(&m);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        format!("{}{}", stdout(&o), stderr(&o))
    };
    let plan_arg = plan_file.display().to_string();
    let outputs = [
        run(&["plan", "--out", &plan_arg], true),
        run(&["apply", &plan_arg], false),
        run(&["plan", "-v", "--format", "json"], true),
    ];
    for o in &outputs {
        assert!(!o.contains(CANARY), "a secret was printed:\n{o}");
    }
    let saved = std::fs::read_to_string(&plan_file).unwrap();
    assert!(!saved.contains(CANARY) && saved.contains("${KAFKA_PASSWORD}"));
    let stored = s.stored("default", "k").expect("created");
    assert!(
        stored.to_string().contains(CANARY),
        "the secret reached the server"
    );

    // A literal secret: a saved plan refuses it, naming the path, never the value.
    write(
        dir.path(),
        "k.toml",
        &format!("[sink.kafka-config]\nsasl-password = \"{CANARY}\"\n"),
    );
    let o = cdcform()
        .args(["plan", "--server", &s.url(), "--out"])
        .arg(dir.path().join("q.plan"))
        .arg(&m)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("literal secret") && !err.contains(CANARY),
        "{err}"
    );

    // An error on a secret's line: the snippet masks the value.
    write(
        dir.path(),
        "k.toml",
        &format!("[sink.kafka-config]\nauthentication-token = \"{CANARY}\"\n"),
    );
    let o = cdcform().arg("validate").arg(&m).output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("k.toml:2:1") && !err.contains(CANARY), "{err}");
    s.shutdown().await;
}
