//! Shared clusters: a repository's cost and output grow with what it manages, not with the
//! cluster. Counted in requests (what the server is asked), which a busy machine cannot skew.

use cdcform::simulator::SimConfig;

use crate::harness::*;

/// GETs of single changefeeds (GET or classic `meta_info`), the per-changefeed reads.
fn reads(s: &cdcform::simulator::Simulator) -> usize {
    s.requests()
        .iter()
        .filter(|r| {
            r.method == "GET"
                && r.path.starts_with("/api/v2/changefeeds/")
                && r.path
                    .trim_start_matches("/api/v2/changefeeds/")
                    .contains('/')
                    == r.path.ends_with("/meta_info")
        })
        .count()
}

/// 8,000 changefeeds: a list of 1.5 MB, sifted as it arrives in many chunks (`ticdc::sift::Sifter`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_export_and_status_read_only_what_the_repository_manages() {
    let s = sim(SimConfig {
        changefeeds: 8000,
        ..classic()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut yaml = String::from("changefeeds:\n");
    for i in 1..=9 {
        yaml.push_str(&format!(
            "  - id: cf-{i:05}\n    sink_uri: \"blackhole://\"\n"
        ));
    }
    std::fs::write(d.join("team.yaml"), &yaml).unwrap();
    std::fs::write(
        d.join("cdcform.toml"),
        format!(
            "manage = [\"cf-0000*\"]\n[clusters.shared]\nserver = \"{}\"\npaths = [\"team.yaml\"]\n",
            s.url()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let o = cdcform().current_dir(d).args(args).output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).to_string(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    // plan: the 9 named changefeeds are read, the other 7991 are known from the list alone.
    s.clear_requests();
    let (code, out, err) = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(reads(&s), 9, "per-changefeed reads of a plan");
    assert!(out.contains("7991 unmanaged"), "{out}");
    assert!(out.len() < 2_000, "output grows with the cluster:\n{out}");
    assert!(!out.contains("cf-00400"), "{out}");
    // -v lists them; JSON keeps the ids.
    let (_, out, _) = run(&["plan", "-v"]);
    assert!(
        out.contains("default/cf-00400"),
        "-v lists the unmanaged ids"
    );
    let (_, out, _) = run(&["plan", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["unmanaged"].as_array().unwrap().len(), 7991);
    // --prune reads the `manage` matches too (cf-00001…cf-00009 are all named: no deletes).
    s.clear_requests();
    let (code, _, err) = run(&["plan", "--prune", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(reads(&s), 9);
    // A saved plan re-reads exactly what it read, and still detects a change to one of them.
    let (code, _, err) = run(&["plan", "--out", "p.plan"]);
    assert_eq!(code, Some(0), "{err}");
    s.clear_requests();
    let (code, out, err) = run(&["apply", "p.plan"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(reads(&s), 9, "saved-plan re-check");
    // export --id filters before any GET.
    s.clear_requests();
    let (code, out, err) = run(&["export", "--id", "cf-0000*"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(reads(&s), 9, "export --id");
    assert_eq!(out.matches("- id:").count(), 9, "{out}");
    // status: --managed and --id filter; a large cluster's table is compact by default.
    s.clear_requests();
    let (code, out, err) = run(&["status", "--managed"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.matches("default/cf-").count(), 9, "{out}");
    // The filtered rows ask their processors one by one, never the list of every processor.
    let asked = s.requests();
    assert!(
        !asked.iter().any(|r| r.path == "/api/v2/processors"),
        "status --managed listed every processor"
    );
    let probes = asked
        .iter()
        .filter(|r| r.path.starts_with("/api/v2/processors/"))
        .count();
    assert_eq!(probes, 9, "one per managed changefeed and capture");
    // What the rows say of captures and tables is what the list of processors says.
    let row = |args: &[&str]| {
        let (_, out, _) = run(args);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let r = v["changefeeds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == "cf-00003")
            .cloned()
            .unwrap();
        (r["captures"].clone(), r["tables"].clone())
    };
    let probed = row(&["status", "--managed", "--format", "json"]);
    assert_eq!(probed, row(&["status", "--format", "json"]));
    assert_eq!(
        probed.0,
        serde_json::json!([cdcform::simulator::state::CAPTURE_ID])
    );
    assert!(probed.1.is_u64(), "{probed:?}");
    let (_, out, _) = run(&["status", "--id", "cf-004*"]);
    assert_eq!(out.matches("default/cf-").count(), 100, "{out}");
    let (_, out, _) = run(&["status"]);
    assert_eq!(out.matches("default/cf-").count(), 9, "{out}");
    assert!(
        out.contains("7991 more changefeed(s) outside `manage`"),
        "{out}"
    );
    let (_, out, _) = run(&["status", "--all"]);
    assert_eq!(out.matches("default/cf-").count(), 8000);
    s.shutdown().await;
}

/// On a new-architecture server none of whose changefeeds a repository names, the plan still
/// knows the architecture from the list: ticdc writes `keyspace` after the id
/// (pingcap/ticdc `api/v2/model.go` `ChangefeedCommonInfo`), and the sift reads it there. Taken
/// for classic, apply would create with `namespace=` and read back through `meta_info`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_architecture_cluster_is_known_from_a_list_of_others() {
    let s = sim(SimConfig {
        changefeeds: 50,
        ..newarch()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("team.yaml"),
        "changefeeds:\n  - id: team-a\n    sink_uri: \"blackhole://\"\n",
    )
    .unwrap();
    s.clear_requests();
    let o = cdcform()
        .current_dir(d)
        .args([
            "plan",
            "team.yaml",
            "--server",
            &s.url(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["summary"]["create"], 1, "{out}");
    // No `manage`: the repository claims the cluster, so the others are managed but in no
    // manifest (the one definition of #29 item 11), and kept.
    assert_eq!(plan["unlisted"].as_array().unwrap().len(), 50);
    assert_eq!(plan["profile"]["arch"], "newarch", "{out}");
    s.shutdown().await;
}

/// A proxy in front of a simulator that holds the answer of the changefeed list until `reads`
/// single-changefeed reads have reached it (then `linger` more), and records how many had
/// arrived when it let the list go. Gives up after 20 s with a 500.
struct Gate {
    url: String,
    seen_at_release: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

async fn gate(upstream: String, reads: usize, linger: std::time::Duration) -> Gate {
    use axum::extract::{Request, State};
    use axum::response::IntoResponse;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    #[derive(Clone)]
    struct G {
        upstream: String,
        reads: usize,
        linger: std::time::Duration,
        seen: Arc<AtomicUsize>,
        arrived: Arc<tokio::sync::Notify>,
        at_release: Arc<AtomicUsize>,
        http: reqwest::Client,
    }
    async fn forward(State(g): State<G>, req: Request) -> axum::response::Response {
        let path = req.uri().path().to_string();
        let pq = req.uri().path_and_query().map(|p| p.to_string()).unwrap();
        let method = req.method().clone();
        let body = axum::body::to_bytes(req.into_body(), 1 << 20)
            .await
            .unwrap();
        if path.ends_with("/meta_info") {
            g.seen.fetch_add(1, SeqCst);
            g.arrived.notify_waiters();
        }
        if path == "/api/v2/changefeeds" {
            let enough = async {
                while g.seen.load(SeqCst) < g.reads {
                    let wait = g.arrived.notified();
                    if g.seen.load(SeqCst) >= g.reads {
                        break;
                    }
                    wait.await;
                }
            };
            if tokio::time::timeout(std::time::Duration::from_secs(20), enough)
                .await
                .is_err()
            {
                return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "list held")
                    .into_response();
            }
            tokio::time::sleep(g.linger).await;
            g.at_release.store(g.seen.load(SeqCst), SeqCst);
        }
        let r = g
            .http
            .request(method, format!("{}{pq}", g.upstream))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status(), r.bytes().await.unwrap()).into_response()
    }
    let at_release = Arc::new(AtomicUsize::new(usize::MAX));
    let g = G {
        upstream,
        reads,
        linger,
        seen: Arc::default(),
        arrived: Arc::default(),
        at_release: at_release.clone(),
        http: reqwest::Client::new(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(forward).with_state(g);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Gate {
        url,
        seen_at_release: at_release,
        server,
    }
}

/// Plan `n` changefeeds of the simulator `s` through `g` at `parallelism`.
async fn plan_through(g: &Gate, n: usize, parallelism: usize) -> cdcform::plan::Plan {
    let mut st = cdcform::settings::Settings::for_server(&g.url);
    st.client.retry_for = std::time::Duration::ZERO;
    st.parallelism = parallelism;
    let c = cdcform::ticdc::Client::new(st.client.clone()).unwrap();
    let mut yaml = String::from("changefeeds:\n");
    for i in 1..=n {
        yaml.push_str(&format!(
            "  - id: cf-{i:05}\n    sink_uri: \"blackhole://\"\n"
        ));
    }
    let (plan, _) = cdcform::plan::pipeline::compute(
        &st,
        &c,
        &manifests(&yaml),
        &cdcform::plan::PlanOptions::default(),
        std::time::Duration::from_secs(60),
    )
    .await
    .expect("plan through the gate");
    plan
}

/// The changefeeds a manifest names are read beside the list, not after it: on a shared
/// cluster the list is the long read. The gate holds the list until all 10 reads arrived; a
/// plan that waited for the list before reading would never send them, and fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_changefeeds_are_read_while_the_list_is_read() {
    use std::sync::atomic::Ordering::SeqCst;
    let s = sim(SimConfig {
        changefeeds: 50,
        ..classic()
    })
    .await;
    let g = gate(s.url(), 10, std::time::Duration::ZERO).await;
    let plan = plan_through(&g, 10, 8).await;
    assert_eq!(g.seen_at_release.load(SeqCst), 10);
    assert_eq!(plan.summary.unchanged, 10, "{plan:?}");
    assert_eq!(plan.unlisted.len(), 40);
    // Each read once: the early answers were used.
    assert_eq!(reads(&s), 10);
    g.server.abort();
}

/// Early reads are bounded: their answers wait until the list is read, so only 4 rounds
/// (4 × `--parallelism`) start before it, however many changefeeds the manifests name. The
/// gate holds the list 300 ms past the 32nd read, long enough for more to show if unbounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_reads_are_a_few_rounds_only() {
    use std::sync::atomic::Ordering::SeqCst;
    let s = sim(SimConfig {
        changefeeds: 200,
        ..classic()
    })
    .await;
    let g = gate(s.url(), 32, std::time::Duration::from_millis(300)).await;
    let plan = plan_through(&g, 200, 8).await;
    assert_eq!(g.seen_at_release.load(SeqCst), 32);
    assert_eq!(plan.summary.unchanged, 200);
    assert_eq!(reads(&s), 200);
    g.server.abort();
}

/// tiflow v8.5.0 cdc/api/v2/processor.go `getProcessor`, asked of a capture that runs no
/// processor of the changefeed: `{"table_ids": null}` when the capture runs others, and
/// `ErrCaptureNotExist` when it runs none. A filtered `status` asks every capture, so both
/// mean "not here", and only the captures that answer with tables are the row's.
#[tokio::test]
async fn a_filtered_status_finds_each_changefeeds_captures_by_asking_them() {
    use axum::extract::Path;
    use axum::routing::{get, post};
    use axum::Json;
    use serde_json::{json, Value};
    let item = |id: &str, state: &str| {
        json!({"upstream_id": 1, "namespace": "default", "id": id, "state": state,
            "checkpoint_tso": 0, "checkpoint_time": "", "error": null})
    };
    let list = json!({"total": 3, "items": [
        item("team-a", "normal"), item("team-b", "normal"), item("team-c", "stopped")
    ]});
    // ErrCaptureNotExist is an answer, not an outage: each probe of the idle capture is sent
    // once, never retried for the whole --retry-for.
    let idle = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let idle_probes = idle.clone();
    let app = axum::Router::new()
        .route(
            "/api/v2/status",
            get(|| async { Json(json!({"version": "v8.5.0"})) }),
        )
        .route("/api/v2/health", get(|| async { Json(json!({})) }))
        .route(
            "/api/v2/captures",
            get(|| async {
                Json(json!({"total": 3, "items": [
                    {"id": "cap-1", "is_owner": true, "address": "a:8300"},
                    {"id": "cap-2", "address": "b:8300"},
                    {"id": "cap-idle", "address": "c:8300"}
                ]}))
            }),
        )
        .route(
            "/api/v2/tso",
            post(|| async { Json(json!({"timestamp": 1, "logic_time": 0})) }),
        )
        .route(
            "/api/v2/changefeeds",
            get(move || async move { Json(list) }),
        )
        .route(
            "/api/v2/processors",
            get(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "not asked") }),
        )
        .route(
            "/api/v2/processors/{cf}/{cap}",
            get(move |Path((cf, cap)): Path<(String, String)>| async move {
                if cap == "cap-idle" {
                    idle_probes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                let tables: Value = match (cf.as_str(), cap.as_str()) {
                    ("team-a", "cap-1") => json!([1, 2]),
                    ("team-a", "cap-2") => json!([3]),
                    ("team-b", "cap-2") => json!([4]),
                    (_, "cap-idle") => {
                        return (
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            Json(json!({"error_msg": "capture not exists, cap-idle",
                                "error_code": "CDC:ErrCaptureNotExist"})),
                        )
                    }
                    _ => Value::Null,
                };
                (
                    axum::http::StatusCode::OK,
                    Json(json!({"table_ids": tables})),
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let settings = cdcform::settings::Settings::for_server(&url);
    let client = cdcform::ticdc::Client::new(settings.client.clone()).unwrap();
    let filter = cdcform::status::StatusFilter {
        ids: cdcform::settings::globs("--id", &["team-*".to_string()]).unwrap(),
        managed_only: false,
    };
    let r = cdcform::status::collect(&settings, &client, &filter)
        .await
        .unwrap();
    let rows: Vec<(&str, Vec<String>, Option<usize>)> = r
        .changefeeds
        .iter()
        .map(|c| (c.id.as_str(), c.captures.clone(), c.tables))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("team-a", vec!["cap-1".into(), "cap-2".into()], Some(3)),
            ("team-b", vec!["cap-2".into()], Some(1)),
            // Not running: no processor to ask.
            ("team-c", vec![], None),
        ]
    );
    assert_eq!(
        idle.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "one probe of the idle capture per running changefeed, none repeated"
    );
    server.abort();
}
