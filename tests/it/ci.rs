//! `cdcform ci comment` against local stand-ins of the GitHub and GitLab REST APIs (axum on
//! 127.0.0.1:0): create once then update, pagination, several clusters in one comment, 403/404
//! with what to check, and the token never printed.
//!
//! The stand-ins follow the documented endpoints: GitHub REST "Issue comments" (list
//! `GET /repos/{owner}/{repo}/issues/{n}/comments` with a `Link: <…>; rel="next"` header,
//! create `POST` → 201, update `PATCH /repos/{owner}/{repo}/issues/comments/{id}` → 200,
//! `Authorization: Bearer`); GitLab "Notes" API (list/create
//! `/projects/{id}/merge_requests/{iid}/notes` with `X-Next-Page`, update `PUT …/notes/{id}`,
//! `PRIVATE-TOKEN`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, put};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::harness::{cdcform, classic, sim};

const TOKEN: &str = "canary-token-3b9d41";
/// A secret a manifest references: never in a comment or the saved plan.
const SECRET: &str = "canary-secret-77c0e2";
/// The stand-ins answer in small pages, so that pagination is exercised.
const PAGE: usize = 2;

#[derive(Default)]
struct Forge {
    comments: Vec<(u64, String)>,
    next_id: u64,
    /// Answer every request with this status (a refusal) when set.
    refuse: Option<u16>,
    /// One line per request ("GET list …", "POST …", "PATCH id"), in order.
    log: Vec<String>,
}

type Shared = Arc<Mutex<Forge>>;

fn refused(status: u16, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({ "message": message })),
    )
        .into_response()
}

fn check(
    forge: &Shared,
    headers: &HeaderMap,
    header: &str,
    want: &str,
    what: String,
) -> Option<Response> {
    let mut f = forge.lock().unwrap();
    f.log.push(what);
    if headers.get(header).and_then(|v| v.to_str().ok()) != Some(want) {
        return Some(refused(401, "Bad credentials"));
    }
    f.refuse.map(|s| {
        refused(
            s,
            if s == 403 {
                "Resource not accessible by integration"
            } else {
                "Not Found"
            },
        )
    })
}

fn page_of(f: &Forge, q: &HashMap<String, String>) -> (usize, Vec<Value>, bool) {
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let items: Vec<Value> = f
        .comments
        .iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .map(|(id, body)| json!({ "id": id, "body": body, "user": {"login": "x"} }))
        .collect();
    (page, items, page * PAGE < f.comments.len())
}

fn add(f: &mut Forge, body: String) -> Value {
    f.next_id += 1;
    let id = 1000 + f.next_id;
    f.comments.push((id, body.clone()));
    json!({ "id": id, "body": body })
}

fn edit(f: &mut Forge, id: u64, body: String) -> Option<Value> {
    let c = f.comments.iter_mut().find(|(i, _)| *i == id)?;
    c.1 = body.clone();
    Some(json!({ "id": id, "body": body }))
}

fn github(forge: Shared, base: String) -> Router {
    let list = {
        let base = base.clone();
        move |State(f): State<Shared>,
              Path((o, r, n)): Path<(String, String, u64)>,
              Query(q): Query<HashMap<String, String>>,
              h: HeaderMap| async move {
            let auth = format!("Bearer {TOKEN}");
            if let Some(r) = check(&f, &h, "authorization", &auth, format!("GET list {n}")) {
                return r;
            }
            let (page, items, more) = page_of(&f.lock().unwrap(), &q);
            let mut resp = Json(items).into_response();
            if more {
                let next = format!(
                    "<{base}/repos/{o}/{r}/issues/{n}/comments?per_page=100&page={}>; rel=\"next\"",
                    page + 1
                );
                resp.headers_mut().insert("link", next.parse().unwrap());
            }
            resp
        }
    };
    // A query on the create (`?per_page=100` carried over from the list) shows in the log line.
    let create = |State(f): State<Shared>,
                  Path((_, _, n)): Path<(String, String, u64)>,
                  axum::extract::RawQuery(q): axum::extract::RawQuery,
                  h: HeaderMap,
                  Json(b): Json<Value>| async move {
        let auth = format!("Bearer {TOKEN}");
        let line = match q {
            Some(q) => format!("POST {n}?{q}"),
            None => format!("POST {n}"),
        };
        if let Some(r) = check(&f, &h, "authorization", &auth, line) {
            return r;
        }
        let c = add(
            &mut f.lock().unwrap(),
            b["body"].as_str().unwrap().to_string(),
        );
        (StatusCode::CREATED, Json(c)).into_response()
    };
    let update = |State(f): State<Shared>,
                  Path((_, _, id)): Path<(String, String, u64)>,
                  h: HeaderMap,
                  Json(b): Json<Value>| async move {
        let auth = format!("Bearer {TOKEN}");
        if let Some(r) = check(&f, &h, "authorization", &auth, format!("PATCH {id}")) {
            return r;
        }
        match edit(
            &mut f.lock().unwrap(),
            id,
            b["body"].as_str().unwrap().to_string(),
        ) {
            Some(c) => Json(c).into_response(),
            None => refused(404, "Not Found"),
        }
    };
    Router::new()
        .route("/repos/{o}/{r}/issues/{n}/comments", get(list).post(create))
        .route("/repos/{o}/{r}/issues/comments/{id}", patch(update))
        .with_state(forge)
}

fn gitlab(forge: Shared) -> Router {
    let list = |State(f): State<Shared>,
                Path((p, iid)): Path<(String, u64)>,
                Query(q): Query<HashMap<String, String>>,
                h: HeaderMap| async move {
        if let Some(r) = check(
            &f,
            &h,
            "private-token",
            TOKEN,
            format!("GET list {p} {iid}"),
        ) {
            return r;
        }
        let (page, items, more) = page_of(&f.lock().unwrap(), &q);
        let mut resp = Json(items).into_response();
        let next = if more {
            (page + 1).to_string()
        } else {
            String::new()
        };
        resp.headers_mut()
            .insert("x-next-page", next.parse().unwrap());
        resp
    };
    let create = |State(f): State<Shared>,
                  Path((p, iid)): Path<(String, u64)>,
                  axum::extract::RawQuery(q): axum::extract::RawQuery,
                  h: HeaderMap,
                  Json(b): Json<Value>| async move {
        let line = match q {
            Some(q) => format!("POST {p} {iid}?{q}"),
            None => format!("POST {p} {iid}"),
        };
        if let Some(r) = check(&f, &h, "private-token", TOKEN, line) {
            return r;
        }
        let c = add(
            &mut f.lock().unwrap(),
            b["body"].as_str().unwrap().to_string(),
        );
        (StatusCode::CREATED, Json(c)).into_response()
    };
    let update = |State(f): State<Shared>,
                  Path((_, _, id)): Path<(String, u64, u64)>,
                  h: HeaderMap,
                  Json(b): Json<Value>| async move {
        if let Some(r) = check(&f, &h, "private-token", TOKEN, format!("PUT {id}")) {
            return r;
        }
        match edit(
            &mut f.lock().unwrap(),
            id,
            b["body"].as_str().unwrap().to_string(),
        ) {
            Some(c) => Json(c).into_response(),
            None => refused(404, "404 Not found"),
        }
    };
    Router::new()
        .route(
            "/api/v4/projects/{p}/merge_requests/{iid}/notes",
            get(list).post(create),
        )
        .route(
            "/api/v4/projects/{p}/merge_requests/{iid}/notes/{id}",
            put(update),
        )
        .with_state(forge)
}

/// Serve a stand-in on 127.0.0.1:0; returns its base URL and shared state.
async fn serve(kind: &str) -> (String, Shared) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let forge: Shared = Arc::default();
    {
        // Other people's comments first, so that ours is found on a later page.
        let mut f = forge.lock().unwrap();
        for i in 0..5 {
            add(&mut f, format!("LGTM {i}"));
        }
    }
    let app = if kind == "github" {
        github(forge.clone(), base.clone())
    } else {
        gitlab(forge.clone())
    };
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, forge)
}

/// `cdcform ci comment` with only the given provider's variables.
fn ci_comment(kind: &str, base: &str, dir: &std::path::Path) -> assert_cmd::Command {
    let mut c = cdcform();
    for k in [
        "GITHUB_ACTIONS",
        "GITHUB_REPOSITORY",
        "GITHUB_TOKEN",
        "GITHUB_EVENT_PATH",
        "GITHUB_REF",
        "GITHUB_API_URL",
        "GITLAB_CI",
        "CI_API_V4_URL",
        "CI_PROJECT_ID",
        "CI_MERGE_REQUEST_IID",
        "GITLAB_TOKEN",
        "CI_JOB_URL",
    ] {
        c.env_remove(k);
    }
    c.env("NO_PROXY", "127.0.0.1")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy");
    if kind == "github" {
        let event = dir.join("event.json");
        std::fs::write(
            &event,
            r#"{"action":"opened","number":12,"pull_request":{"number":12}}"#,
        )
        .unwrap();
        c.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_API_URL", base)
            .env("GITHUB_REPOSITORY", "acme/feeds")
            .env("GITHUB_EVENT_PATH", &event)
            .env("GITHUB_REF", "refs/pull/12/merge")
            .env("GITHUB_TOKEN", TOKEN);
    } else {
        c.env("GITLAB_CI", "true")
            .env("CI_API_V4_URL", format!("{base}/api/v4"))
            .env("CI_PROJECT_ID", "42")
            .env("CI_MERGE_REQUEST_IID", "7")
            .env("GITLAB_TOKEN", TOKEN);
    }
    // The most verbose logging of every crate: the token must not show there either.
    c.env("CDCFORM_LOG", "trace")
        .args(["ci", "comment", "-vvv"]);
    c
}

fn outputs(o: &std::process::Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!text.contains(TOKEN), "the token leaked: {text}");
    text
}

fn ours(forge: &Shared) -> Vec<(u64, String)> {
    let f = forge.lock().unwrap();
    f.comments
        .iter()
        .filter(|(_, b)| b.contains("<!-- cdcform comment:"))
        .cloned()
        .collect()
}

async fn creates_once_then_updates(kind: &str) {
    let (base, forge) = serve(kind).await;
    let dir = tempfile::tempdir().unwrap();
    // A real plan's markdown, from a simulator.
    let s = sim(classic()).await;
    let m = dir.path().join("feeds.yaml");
    std::fs::write(
        &m,
        "changefeeds:\n  - id: orders\n    sink_uri: \"kafka://127.0.0.1:9092/t?protocol=canal-json&sasl-user=cdc&sasl-password=${KAFKA_PASSWORD}\"\n",
    )
    .unwrap();
    let saved = dir.path().join("changefeeds.plan");
    let plan = cdcform()
        .args([
            "plan",
            "--format",
            "markdown",
            "--server",
            &s.url(),
            "--out",
        ])
        .arg(&saved)
        .arg(&m)
        .env("KAFKA_PASSWORD", SECRET)
        .output()
        .unwrap();
    assert!(plan.status.success(), "{}", outputs(&plan));
    let md = String::from_utf8(plan.stdout).unwrap();
    // What CI posts and uploads: the comment and the saved plan hold no secret.
    assert!(!md.contains(SECRET), "{md}");
    let artifact = std::fs::read_to_string(&saved).unwrap();
    assert!(!artifact.contains(SECRET) && artifact.contains("${KAFKA_PASSWORD}"));
    assert!(
        md.starts_with("<!-- cdcform plan: cluster=default -->"),
        "{md}"
    );

    let o = ci_comment(kind, &base, dir.path())
        .write_stdin(md.clone())
        .output()
        .unwrap();
    let text = outputs(&o);
    assert!(o.status.success(), "{text}");
    assert!(text.contains("Created comment"), "{text}");
    let first = ours(&forge);
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0].1.contains("1 to create"));
    assert!(!first[0].1.contains(SECRET) && first[0].1.contains("(sensitive)"));

    // The same plan again: found (on page 3), left as it is.
    let o = ci_comment(kind, &base, dir.path())
        .write_stdin(md.clone())
        .output()
        .unwrap();
    assert!(outputs(&o).contains("is up to date"));
    // A new plan: the same comment is updated, no second one.
    let file = dir.path().join("plan.md");
    std::fs::write(&file, md.replace("1 to create", "2 to create")).unwrap();
    let o = ci_comment(kind, &base, dir.path())
        .arg(&file)
        .output()
        .unwrap();
    let text = outputs(&o);
    assert!(
        o.status.success() && text.contains("Updated comment"),
        "{text}"
    );
    let now = ours(&forge);
    assert_eq!(now.len(), 1, "{now:?}");
    assert_eq!(now[0].0, first[0].0);
    assert!(now[0].1.contains("2 to create"));
    assert_eq!(forge.lock().unwrap().comments.len(), 6);
    let log = forge.lock().unwrap().log.clone();
    assert_eq!(
        log.iter().filter(|l| l.starts_with("POST")).count(),
        1,
        "{log:?}"
    );
    // The create goes to the comments URL itself, not the list's page query.
    assert!(
        log.iter()
            .filter(|l| l.starts_with("POST"))
            .all(|l| !l.contains('?')),
        "{log:?}"
    );
    assert!(
        log.iter().filter(|l| l.starts_with("GET list")).count() >= 9,
        "pagination: {log:?}"
    );

    // Two clusters in one document: one more comment, then updated in place.
    let two = format!("{md}\n---\n{}", md.replace("cluster=default", "cluster=eu"));
    for round in ["Created", "Updated"] {
        let body = if round == "Created" {
            two.clone()
        } else {
            two.replace("1 to create", "3 to create")
        };
        let o = ci_comment(kind, &base, dir.path())
            .arg("-")
            .write_stdin(body)
            .output()
            .unwrap();
        assert!(outputs(&o).contains(&format!("{round} comment")));
    }
    let now = ours(&forge);
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(now[1]
        .1
        .starts_with("<!-- cdcform comment: clusters=default,eu -->"));
    assert!(now[1].1.contains("3 to create"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_comment_is_created_once_then_updated() {
    creates_once_then_updates("github").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_note_is_created_once_then_updated() {
    creates_once_then_updates("gitlab").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_say_what_to_check_and_never_print_the_token() {
    let md = "<!-- cdcform plan: cluster=prod -->\n**Plan: 0 to create**\n";
    for kind in ["github", "gitlab"] {
        let (base, forge) = serve(kind).await;
        let dir = tempfile::tempdir().unwrap();
        for (status, want) in [
            (
                403,
                if kind == "github" {
                    "pull-requests: write"
                } else {
                    "`api` scope"
                },
            ),
            (
                404,
                if kind == "github" {
                    "pull request number"
                } else {
                    "CI_MERGE_REQUEST_IID"
                },
            ),
        ] {
            forge.lock().unwrap().refuse = Some(status);
            let o = ci_comment(kind, &base, dir.path())
                .write_stdin(md)
                .output()
                .unwrap();
            let text = outputs(&o);
            assert_eq!(o.status.code(), Some(1), "{text}");
            let provider = if kind == "github" { "GitHub" } else { "GitLab" };
            assert!(
                text.contains(&format!("{provider} answered {status}")),
                "{text}"
            );
            assert!(text.contains(want) && text.contains("help: "), "{text}");
        }
        // A wrong token: 401, still not printed.
        forge.lock().unwrap().refuse = None;
        let var = if kind == "github" {
            "GITHUB_TOKEN"
        } else {
            "GITLAB_TOKEN"
        };
        let o = ci_comment(kind, &base, dir.path())
            .env(var, format!("{TOKEN}-wrong"))
            .write_stdin(md)
            .output()
            .unwrap();
        let text = outputs(&o);
        assert!(
            text.contains("answered 401") && text.contains(var),
            "{text}"
        );
        assert!(ours(&forge).is_empty());
    }
}

#[test]
fn outside_a_request_pipeline_it_says_which_variable_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let o = ci_comment("github", "http://127.0.0.1:9", dir.path())
        .env_remove("GITHUB_EVENT_PATH")
        .env("GITHUB_REF", "refs/heads/main")
        .write_stdin("<!-- cdcform plan: cluster=a -->\n")
        .output()
        .unwrap();
    let text = outputs(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text.contains("no pull request number") && text.contains("pull_request"),
        "{text}"
    );
    let o = ci_comment("gitlab", "http://127.0.0.1:9", dir.path())
        .env_remove("CI_MERGE_REQUEST_IID")
        .write_stdin("x")
        .output()
        .unwrap();
    assert!(outputs(&o).contains("CI_MERGE_REQUEST_IID is not set"));
}

/// Through the binary: the marker names the cluster chosen in cdcform.toml, and `--max-chars`
/// bounds the output with a note pointing at the saved plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_markdown_names_the_cluster_and_honours_max_chars() {
    let s = sim(classic()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::from("changefeeds:\n");
    for i in 0..60 {
        yaml.push_str(&format!(
            "  - id: feed-{i:03}\n    sink_uri: \"blackhole://\"\n    replica_config:\n      filter:\n        rules: [\"shop.orders_{i}\", \"shop.items_{i}\", \"shop.payments_{i}\"]\n"
        ));
    }
    let m = dir.path().join("feeds.yaml");
    std::fs::write(&m, yaml).unwrap();
    let toml = dir.path().join("cdcform.toml");
    std::fs::write(
        &toml,
        format!("[clusters.prod]\nserver = \"{}\"\n", s.url()),
    )
    .unwrap();
    let o = cdcform()
        .args(["plan", "--format", "markdown", "--max-chars", "4000"])
        .args([
            "--config",
            toml.to_str().unwrap(),
            "--cluster",
            "prod",
            "--out",
        ])
        .arg(dir.path().join("prod.plan"))
        .arg(&m)
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "acme/feeds")
        .env("GITHUB_RUN_ID", "99")
        .output()
        .unwrap();
    let md = String::from_utf8(o.stdout.clone()).unwrap();
    assert!(o.status.success(), "{}", outputs(&o));
    assert!(
        md.starts_with("<!-- cdcform plan: cluster=prod -->\n"),
        "{md}"
    );
    assert!(md.chars().count() <= 4000, "{}", md.chars().count());
    assert!(md.contains("Plan: 60 to create"), "{md}");
    assert!(
        md.contains("the saved plan `prod.plan`")
            && md.contains("https://github.com/acme/feeds/actions/runs/99"),
        "{md}"
    );
}

/// A plan file that does not exist is the error to report, even where no CI provider is set.
#[test]
fn a_missing_plan_file_is_named_before_the_provider() {
    let o = crate::harness::cdcform()
        .env_remove("GITHUB_REPOSITORY")
        .env_remove("CI_API_V4_URL")
        .args(["ci", "comment", "/nonexistent/plan.md"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("/nonexistent/plan.md"), "{err}");
    assert!(!err.contains("no CI provider"), "{err}");
}
