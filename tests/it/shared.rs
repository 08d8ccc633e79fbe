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

/// 8,000 changefeeds: a list over 1 MiB, which is sifted in two halves (`ticdc::sift::halves`).
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
    let (code, out, err) = run(&["status", "--managed"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.matches("default/cf-").count(), 9, "{out}");
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

/// The changefeeds a manifest names are read beside the list, not after it: on a shared
/// cluster the list is the long read. A proxy in front of the simulator holds the list's
/// answer until the named changefeed's read has reached the server; a plan that waited for the
/// list before reading would never send it, and the held list gives up after 20 s with a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_changefeeds_are_read_while_the_list_is_read() {
    use axum::body::Bytes;
    use axum::extract::{Request, State};
    use axum::response::IntoResponse;
    use std::sync::Arc;

    let s = sim(SimConfig {
        changefeeds: 50,
        ..classic()
    })
    .await;
    #[derive(Clone)]
    struct Gate {
        upstream: String,
        read: Arc<tokio::sync::Notify>,
        list_held: Arc<std::sync::atomic::AtomicBool>,
        http: reqwest::Client,
    }
    async fn forward(State(g): State<Gate>, req: Request) -> axum::response::Response {
        let path = req.uri().path().to_string();
        let pq = req.uri().path_and_query().map(|p| p.to_string()).unwrap();
        let method = req.method().clone();
        let body: Bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
            .await
            .unwrap();
        if path == "/api/v2/changefeeds/cf-00007/meta_info" {
            g.read.notify_one();
        }
        if path == "/api/v2/changefeeds" {
            let waited =
                tokio::time::timeout(std::time::Duration::from_secs(20), g.read.notified());
            if waited.await.is_err() {
                return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "list held")
                    .into_response();
            }
            g.list_held.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        let r = g
            .http
            .request(method, format!("{}{pq}", g.upstream))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.bytes().await.unwrap()).into_response()
    }
    let gate = Gate {
        upstream: s.url(),
        read: Arc::new(tokio::sync::Notify::new()),
        list_held: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        http: reqwest::Client::new(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(gate.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut st = cdcform::settings::Settings::for_server(&url);
    st.client.retry_for = std::time::Duration::ZERO;
    let c = cdcform::ticdc::Client::new(st.client.clone()).unwrap();
    let want = manifests("changefeeds:\n  - id: cf-00007\n    sink_uri: \"blackhole://\"\n");
    let (plan, _) = cdcform::plan::pipeline::compute(
        &st,
        &c,
        &want,
        &cdcform::plan::PlanOptions::default(),
        std::time::Duration::from_secs(60),
    )
    .await
    .expect("plan through the gate");
    assert!(gate.list_held.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(plan.summary.unchanged, 1, "{plan:?}");
    assert_eq!(plan.summary.unmanaged, 49);
    // Read once: the early answer was used.
    assert_eq!(reads(&s), 1);
    server.abort();
}
