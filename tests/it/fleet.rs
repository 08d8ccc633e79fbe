//! Many clusters in one run: a combined plan in three formats, one saved plan across clusters
//! (refused whole when one part is stale), a cluster that is down, per-cluster values.

use std::path::Path;

use cdcform::simulator::{SimConfig, SimProfile, Simulator};
use cdcform::ticdc::Version;
use serde_json::Value;

use crate::harness::*;

fn run(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut c = cdcform();
    c.current_dir(dir).args(args).env("SECRET_PW", CANARY);
    for (k, v) in envs {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    );
    assert!(
        !out.contains(CANARY) && !err.contains(CANARY),
        "a secret was printed:\n{out}\n{err}"
    );
    (o.status.code(), out, err)
}

const FEEDS: &str = "changefeeds:
  - id: orders
    sink_uri: \"blackhole://\"
    replica_config:
      filter:
        rules: [\"${DB}.*\"]
  - id: reporting
    sink_uri: \"mysql://cdc:${SECRET_PW}@127.0.0.1:3306/\"
";

/// Three simulators of different profiles; `a` has its own `DB`, the others take the top-level
/// one; `down` (when set) points cluster `c` at a port nothing listens on.
async fn three(dir: &Path, down: bool) -> Vec<Simulator> {
    let base = SimConfig {
        tick: std::time::Duration::from_millis(20),
        sink_check: false,
        ..SimConfig::default()
    };
    let sims = vec![
        sim(base.clone()).await,
        sim(SimConfig {
            profile: SimProfile::Classic {
                version: Version::new(7, 5, 0),
            },
            ..base.clone()
        })
        .await,
        sim(SimConfig {
            profile: SimProfile::Newarch,
            ..base
        })
        .await,
    ];
    let c_url = if down {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        format!("http://127.0.0.1:{port}")
    } else {
        sims[2].url()
    };
    std::fs::create_dir_all(dir.join("feeds")).unwrap();
    std::fs::write(dir.join("feeds/all.yaml"), FEEDS).unwrap();
    std::fs::write(
        dir.join("cdcform.toml"),
        format!(
            "paths = [\"feeds\"]\ntimeout = \"2s\"\n\n[vars]\nDB = \"shop\"\n\n[clusters.a]\nserver = \"{}\"\n[clusters.a.vars]\nDB = \"shop_a\"\n\n[clusters.b]\nserver = \"{}\"\n\n[clusters.c]\nserver = \"{c_url}\"\n",
            sims[0].url(),
            sims[1].url()
        ),
    )
    .unwrap();
    sims
}

fn rules_of(plan: &Value, id: &str) -> Value {
    let e = plan["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {plan}"));
    e["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "replica_config.filter.rules")
        .map(|c| c["after"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_plan_one_review_one_apply_over_three_clusters() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sims = three(d, false).await;
    // JSON: one document, a part per cluster, per-cluster values printed (not secrets).
    let (code, out, err) = run(
        d,
        &[
            "plan",
            "--all-clusters",
            "--format",
            "json",
            "--detailed-exitcode",
        ],
        &[],
    );
    assert_eq!(code, Some(2), "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = v["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(v["summary"]["create"], 6);
    assert_eq!(
        rules_of(&v["clusters"][0]["plan"], "orders"),
        serde_json::json!(["shop_a.*"])
    );
    assert_eq!(
        rules_of(&v["clusters"][1]["plan"], "orders"),
        serde_json::json!(["shop.*"])
    );
    // The environment overrides `vars` (so CI can); such a value is treated as a secret.
    let (_, out, _) = run(
        d,
        &[
            "plan",
            "--cluster",
            "a",
            "--cluster",
            "b",
            "--format",
            "json",
        ],
        &[("DB", "from_env")],
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["clusters"].as_array().unwrap().len(), 2);
    assert_eq!(rules_of(&v["clusters"][0]["plan"], "orders"), "(sensitive)");
    // Human: a section per cluster and a grand summary; markdown: one comment, a marker each.
    let (_, out, _) = run(d, &["plan", "--all-clusters"], &[]);
    for n in ["a", "b", "c"] {
        assert!(out.contains(&format!("══ cluster {n} (http://")), "{out}");
    }
    assert!(
        out.contains("3 cluster(s): 3 planned, 0 failed. Total: 6 to create"),
        "{out}"
    );
    let (_, out, _) = run(d, &["plan", "--all-clusters", "--format", "markdown"], &[]);
    for n in ["a", "b", "c"] {
        assert!(
            out.contains(&format!("<!-- cdcform plan: cluster={n} -->")),
            "{out}"
        );
    }
    // validate resolves each cluster's values.
    let (code, out, err) = run(d, &["validate", "--all-clusters"], &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(out.matches("2 changefeeds").count(), 3, "{out}");
    // One saved plan across clusters, applied whole.
    let (code, _, err) = run(d, &["plan", "--all-clusters", "--out", "all.plan"], &[]);
    assert_eq!(code, Some(0), "{err}");
    let saved = std::fs::read_to_string(d.join("all.plan")).unwrap();
    assert!(!saved.contains(CANARY) && saved.contains("${SECRET_PW}"));
    let (code, out, err) = run(d, &["apply", "all.plan"], &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        out.matches("Apply complete: 2 succeeded").count(),
        3,
        "{out}"
    );
    let (code, out, _) = run(d, &["plan", "--all-clusters", "--detailed-exitcode"], &[]);
    assert_eq!(code, Some(0), "{out}");
    // A saved plan one part of which went stale: refused whole, nothing changed anywhere.
    std::fs::write(
        d.join("feeds/all.yaml"),
        FEEDS.replace("reporting", "reports"),
    )
    .unwrap();
    let (code, _, err) = run(d, &["plan", "--all-clusters", "--out", "next.plan"], &[]);
    assert_eq!(code, Some(0), "{err}");
    let b = client(&sims[1]);
    b.pause_changefeed("default", "orders").await.unwrap();
    crate::harness::wait_state(&b, "default", "orders", "stopped").await;
    for s in &sims {
        s.clear_requests();
    }
    let (code, _, err) = run(d, &["apply", "next.plan"], &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("refused whole") && err.contains("cluster b"),
        "{err}"
    );
    for s in &sims {
        assert_eq!(
            mutations(s),
            Vec::<String>::new(),
            "a stale fleet plan changed something"
        );
    }
    for s in sims {
        s.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_is_down_fails_its_own_section_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sims = three(d, true).await;
    // A cluster that is down is waited for `--retry-for` (it may be restarting): keep it short.
    let quick = [("CDCFORM_RETRY_FOR", "1s")];
    let (code, out, _) = run(d, &["plan", "--all-clusters"], &quick);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("══ cluster c"), "{out}");
    assert!(out.contains("cannot reach TiCDC"), "{out}");
    assert!(out.contains("3 cluster(s): 2 planned, 1 failed"), "{out}");
    // --fail-fast: nothing anywhere.
    let (code, _, err) = run(
        d,
        &["apply", "--all-clusters", "--auto-approve", "--fail-fast"],
        &quick,
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(mutations(&sims[0]).is_empty() && mutations(&sims[1]).is_empty());
    // Without it, the reachable clusters are applied and the run exits 1.
    let (code, out, err) = run(d, &["apply", "--all-clusters", "--auto-approve"], &quick);
    assert_eq!(code, Some(1), "{out}{err}");
    assert_eq!(
        out.matches("Apply complete: 2 succeeded").count(),
        2,
        "{out}"
    );
    // A saved plan is not written when a cluster could not be planned.
    let (code, _, err) = run(d, &["plan", "--all-clusters", "--out", "x.plan"], &quick);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cluster `c` could not be planned"), "{err}");
    assert!(!d.join("x.plan").exists());
    // status over every cluster: each in its section, the one down named.
    let (code, out, err) = run(d, &["status", "--all-clusters"], &quick);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("══ cluster a") && out.contains("══ cluster b"),
        "{out}"
    );
    assert!(err.contains("cluster c:"), "{err}");
    for s in sims {
        s.shutdown().await;
    }
}
