//! Where a CI job's pull or merge request lives: detection from the standard variables of
//! GitHub Actions and GitLab CI, and the two REST APIs' comment endpoints.
//!
//! GitHub: issue comments (`GET/POST /repos/{owner}/{repo}/issues/{n}/comments`,
//! `PATCH /repos/{owner}/{repo}/issues/comments/{id}`), pages followed through the `Link`
//! header. GitLab: merge request notes (`GET/POST /projects/{id}/merge_requests/{iid}/notes`,
//! `PUT …/notes/{note_id}`), pages followed through `X-Next-Page`.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::settings::Env;

/// Which REST API a comment goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    GitHub,
    GitLab,
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::GitHub => "GitHub",
            Provider::GitLab => "GitLab",
        })
    }
}

/// An API token: never printed, not even by `{:?}`.
#[derive(Clone)]
pub struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::plan::SENSITIVE)
    }
}

/// The pull or merge request this job comments on.
#[derive(Debug, Clone)]
pub struct Target {
    pub provider: Provider,
    /// API root without a trailing slash (`https://api.github.com`, `https://gitlab.com/api/v4`).
    pub api_url: String,
    /// `owner/repo` on GitHub, the project id on GitLab.
    pub project: String,
    /// Pull request number (GitHub) or merge request IID (GitLab).
    pub number: u64,
    token: Token,
}

impl Target {
    /// `acme/feeds#12` or `project 42 !7`, for messages.
    pub fn describe(&self) -> String {
        match self.provider {
            Provider::GitHub => format!("pull request {}#{}", self.project, self.number),
            Provider::GitLab => {
                format!("merge request !{} of project {}", self.number, self.project)
            }
        }
    }
}

/// A problem finding the request, or an API refusal, phrased with what to check.
#[derive(Debug, thiserror::Error)]
pub enum CiError {
    #[error("{what}\nhelp: {help}")]
    Environment { what: String, help: String },
    #[error("{provider} answered {status} to {action} on {target}: {message}\nhelp: {help}")]
    Api {
        provider: Provider,
        action: &'static str,
        target: String,
        status: u16,
        message: String,
        help: String,
    },
    #[error("cannot reach the {provider} API at {url} to {action}: {cause}\nhelp: {help}")]
    Transport {
        provider: Provider,
        url: String,
        action: &'static str,
        cause: String,
        help: String,
    },
    #[error("cannot read the plan markdown from {from}: {cause}\nhelp: {help}")]
    Input {
        from: String,
        cause: String,
        help: String,
    },
}

impl From<CiError> for crate::Error {
    fn from(e: CiError) -> Self {
        crate::Error::Other(Box::new(e))
    }
}

fn need(env: Env, name: &str, help: &str) -> Result<String, CiError> {
    env(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| CiError::Environment {
            what: format!("{name} is not set"),
            help: help.to_string(),
        })
}

/// The provider this job runs on: `forced` when given, else GitHub Actions (`GITHUB_ACTIONS`,
/// `GITHUB_REPOSITORY`) or GitLab CI (`GITLAB_CI`, `CI_API_V4_URL`).
pub fn detect(env: Env, forced: Option<Provider>) -> Result<Target, CiError> {
    let provider = forced
        .or_else(|| {
            (env("GITHUB_ACTIONS").is_some() || env("GITHUB_REPOSITORY").is_some())
                .then_some(Provider::GitHub)
        })
        .or_else(|| {
            (env("GITLAB_CI").is_some() || env("CI_API_V4_URL").is_some())
                .then_some(Provider::GitLab)
        })
        .ok_or_else(|| CiError::Environment {
            what: "no CI provider detected: neither GitHub Actions (GITHUB_REPOSITORY) nor GitLab CI (CI_API_V4_URL) variables are set".into(),
            help: "run inside a pull or merge request pipeline, or pass `--provider github|gitlab` with that provider's variables set".into(),
        })?;
    match provider {
        Provider::GitHub => github(env),
        Provider::GitLab => gitlab(env),
    }
}

fn github(env: Env) -> Result<Target, CiError> {
    let api_url = env("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into());
    let project = need(
        env,
        "GITHUB_REPOSITORY",
        "GitHub Actions sets it (owner/repo); outside Actions, set it yourself",
    )?;
    let number = github_pr_number(env)?;
    let token = need(
        env,
        "GITHUB_TOKEN",
        "give the step `env: GITHUB_TOKEN: ${{ github.token }}` and the job `permissions: pull-requests: write`",
    )?;
    Ok(Target {
        provider: Provider::GitHub,
        api_url: api_url.trim_end_matches('/').to_string(),
        project,
        number,
        token: Token(token),
    })
}

/// `pull_request.number` of the event payload, else `refs/pull/N/merge` (or `/head`) in GITHUB_REF.
fn github_pr_number(env: Env) -> Result<u64, CiError> {
    if let Some(path) = env("GITHUB_EVENT_PATH").filter(|p| !p.is_empty()) {
        let text = std::fs::read_to_string(&path).map_err(|e| CiError::Environment {
            what: format!("cannot read the GitHub event payload {path} (GITHUB_EVENT_PATH): {e}"),
            help: "GitHub Actions writes this file for every job; unset GITHUB_EVENT_PATH outside Actions".into(),
        })?;
        let event: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| CiError::Environment {
                what: format!("the GitHub event payload {path} (GITHUB_EVENT_PATH) is not JSON: {e}"),
                help: "GitHub Actions writes this file for every job; unset GITHUB_EVENT_PATH outside Actions".into(),
            })?;
        if let Some(n) = event
            .pointer("/pull_request/number")
            .and_then(|n| n.as_u64())
        {
            return Ok(n);
        }
    }
    let git_ref = env("GITHUB_REF").unwrap_or_default();
    let parts: Vec<&str> = git_ref.split('/').collect();
    if let ["refs", "pull", n, "merge" | "head"] = parts.as_slice() {
        if let Ok(n) = n.parse() {
            return Ok(n);
        }
    }
    Err(CiError::Environment {
        what: format!(
            "no pull request number: the event payload (GITHUB_EVENT_PATH) has no pull_request.number and GITHUB_REF is {git_ref:?}, not refs/pull/N/merge"
        ),
        help: "run `cdcform ci comment` in a job triggered by `pull_request`".into(),
    })
}

fn gitlab(env: Env) -> Result<Target, CiError> {
    let api_url = need(
        env,
        "CI_API_V4_URL",
        "GitLab CI sets it (e.g. https://gitlab.com/api/v4); outside GitLab CI, set it yourself",
    )?;
    let project = need(env, "CI_PROJECT_ID", "GitLab CI sets it for every job")?;
    let iid = need(
        env,
        "CI_MERGE_REQUEST_IID",
        "run the job in a merge request pipeline (`rules: - if: $CI_PIPELINE_SOURCE == \"merge_request_event\"`)",
    )?;
    let number = iid.trim().parse().map_err(|e| CiError::Environment {
        what: format!("CI_MERGE_REQUEST_IID {iid:?} is not a number: {e}"),
        help: "GitLab CI sets it in merge request pipelines; do not override it".into(),
    })?;
    let token = need(
        env,
        "GITLAB_TOKEN",
        "store a project access token with the `api` scope (Reporter role or above) as the masked CI/CD variable GITLAB_TOKEN",
    )?;
    Ok(Target {
        provider: Provider::GitLab,
        api_url: api_url.trim_end_matches('/').to_string(),
        project,
        number,
        token: Token(token),
    })
}

/// One existing comment: its id and text.
#[derive(Debug, Clone, Deserialize)]
pub struct Comment {
    pub id: u64,
    #[serde(default)]
    pub body: String,
}

/// The comment endpoints of one request, with the token.
pub struct Api {
    http: reqwest::Client,
    target: Target,
}

impl Api {
    pub fn new(target: Target) -> Result<Api, CiError> {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("cdcform/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CiError::Transport {
                provider: target.provider,
                url: target.api_url.clone(),
                action: "start an HTTP client",
                cause: e.to_string(),
                help: "this is a bug in cdcform's TLS set-up; please report it".into(),
            })?;
        Ok(Api { http, target })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The request's comments, where a new one is created.
    fn comments_url(&self) -> String {
        let t = &self.target;
        match t.provider {
            Provider::GitHub => format!(
                "{}/repos/{}/issues/{}/comments",
                t.api_url, t.project, t.number
            ),
            Provider::GitLab => format!(
                "{}/projects/{}/merge_requests/{}/notes",
                t.api_url,
                encode_project(&t.project),
                t.number
            ),
        }
    }

    /// The first page of the request's comments, as large as the API allows, oldest first.
    fn list_url(&self) -> String {
        match self.target.provider {
            Provider::GitHub => format!("{}?per_page=100", self.comments_url()),
            Provider::GitLab => format!(
                "{}?per_page=100&sort=asc&order_by=created_at",
                self.comments_url()
            ),
        }
    }

    fn comment_url(&self, id: u64) -> String {
        let t = &self.target;
        match t.provider {
            Provider::GitHub => format!("{}/repos/{}/issues/comments/{id}", t.api_url, t.project),
            Provider::GitLab => format!(
                "{}/projects/{}/merge_requests/{}/notes/{id}",
                t.api_url,
                encode_project(&t.project),
                t.number
            ),
        }
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let b = self.http.request(method, url);
        match self.target.provider {
            Provider::GitHub => b
                .bearer_auth(&self.target.token.0)
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28"),
            Provider::GitLab => {
                match reqwest::header::HeaderValue::from_str(&self.target.token.0) {
                    Ok(mut v) => {
                        // Kept out of debug output, as reqwest does for `bearer_auth`.
                        v.set_sensitive(true);
                        b.header("PRIVATE-TOKEN", v)
                    }
                    // Not a valid header value: sent as is, the server refuses it (401).
                    Err(_) => b.header("PRIVATE-TOKEN", "invalid-token"),
                }
            }
        }
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        action: &'static str,
    ) -> Result<reqwest::Response, CiError> {
        let resp = req.send().await.map_err(|e| CiError::Transport {
            provider: self.target.provider,
            url: self.target.api_url.clone(),
            action,
            cause: crate::ci::comment::error_chain(&e),
            help: match self.target.provider {
                Provider::GitHub => "check GITHUB_API_URL and the runner's network".into(),
                Provider::GitLab => "check CI_API_V4_URL and the runner's network".into(),
            },
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        Err(self.refusal(action, status, &text))
    }

    /// Every comment of the request, following pagination to the last page.
    pub async fn list(&self) -> Result<Vec<Comment>, CiError> {
        let mut all = Vec::new();
        let mut url = Some(self.list_url());
        let mut page = 1u32;
        while let Some(u) = url.take() {
            let resp = self
                .send(self.request(reqwest::Method::GET, &u), "list the comments")
                .await?;
            url = self.next_page(&resp, &u);
            let batch: Vec<Comment> = resp.json().await.map_err(|e| CiError::Api {
                provider: self.target.provider,
                action: "list the comments",
                target: self.target.describe(),
                status: 200,
                message: format!("unexpected answer: {e}"),
                help: "check that the API URL points at the provider's REST API".into(),
            })?;
            all.extend(batch);
            page += 1;
            if page > 1000 {
                break; // 100,000 comments: stop rather than loop on a broken server.
            }
        }
        Ok(all)
    }

    fn next_page(&self, resp: &reqwest::Response, current: &str) -> Option<String> {
        let h = resp.headers();
        match self.target.provider {
            Provider::GitHub => h
                .get_all("link")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(link_next),
            Provider::GitLab => {
                let next = h.get("x-next-page")?.to_str().ok()?.trim();
                let n: u32 = next.parse().ok()?;
                let mut u = url::Url::parse(current).ok()?;
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .filter(|(k, _)| k != "page")
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                u.query_pairs_mut()
                    .clear()
                    .extend_pairs(pairs)
                    .append_pair("page", &n.to_string());
                Some(u.to_string())
            }
        }
    }

    pub async fn create(&self, body: &str) -> Result<Comment, CiError> {
        let req = self
            .request(reqwest::Method::POST, &self.comments_url())
            .json(&json!({ "body": body }));
        self.parse(
            self.send(req, "create the comment").await?,
            "create the comment",
        )
        .await
    }

    pub async fn update(&self, id: u64, body: &str) -> Result<Comment, CiError> {
        let method = match self.target.provider {
            Provider::GitHub => reqwest::Method::PATCH,
            Provider::GitLab => reqwest::Method::PUT,
        };
        let req = self
            .request(method, &self.comment_url(id))
            .json(&json!({ "body": body }));
        self.parse(
            self.send(req, "update the comment").await?,
            "update the comment",
        )
        .await
    }

    async fn parse(
        &self,
        resp: reqwest::Response,
        action: &'static str,
    ) -> Result<Comment, CiError> {
        let status = resp.status().as_u16();
        resp.json().await.map_err(|e| CiError::Api {
            provider: self.target.provider,
            action,
            target: self.target.describe(),
            status,
            message: format!("unexpected answer: {e}"),
            help: "check that the API URL points at the provider's REST API".into(),
        })
    }

    /// A non-2xx answer, with what to check for the usual causes.
    fn refusal(&self, action: &'static str, status: u16, text: &str) -> CiError {
        let message = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .or_else(|| v.get("error"))
                    .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_string))
            })
            .unwrap_or_else(|| text.chars().take(200).collect());
        CiError::Api {
            provider: self.target.provider,
            action,
            target: self.target.describe(),
            status,
            message,
            help: refusal_help(self.target.provider, status),
        }
    }
}

fn refusal_help(provider: Provider, status: u16) -> String {
    match (provider, status) {
        (Provider::GitHub, 401) => "GITHUB_TOKEN was refused: pass `${{ github.token }}` or a token that has not expired".into(),
        (Provider::GitHub, 403) => "the token may not write comments: give the job `permissions: pull-requests: write` (a fine-grained token needs \"Pull requests: write\"); pull requests from forks get a read-only GITHUB_TOKEN".into(),
        (Provider::GitHub, 404) => "check the pull request number (from GITHUB_EVENT_PATH or GITHUB_REF), GITHUB_REPOSITORY, and that the token can see the repository (GitHub answers 404 for a repository the token cannot read)".into(),
        (Provider::GitLab, 401) => "GITLAB_TOKEN was refused: create a new project access token with the `api` scope".into(),
        (Provider::GitLab, 403) => "the token may not write notes: use a project access token with the `api` scope and at least the Reporter role (CI_JOB_TOKEN cannot write notes)".into(),
        (Provider::GitLab, 404) => "check CI_PROJECT_ID and CI_MERGE_REQUEST_IID (set in merge request pipelines) and that the token's user can see the project".into(),
        (_, 422) | (_, 400) => "the comment may be too long for the provider: lower `cdcform plan --max-chars`".into(),
        _ => "retry the job; if it persists, check the provider's status page".into(),
    }
}

/// The `rel="next"` target of a `Link` header (RFC 8288), as GitHub sends it.
fn link_next(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let is_next = pieces.any(|p| {
            let p = p.trim();
            p == "rel=\"next\"" || p == "rel=next"
        });
        (is_next && target.starts_with('<') && target.ends_with('>'))
            .then(|| target[1..target.len() - 1].to_string())
    })
}

/// GitLab takes a numeric project id or a URL-encoded `group/project` path.
fn encode_project(project: &str) -> String {
    url::form_urlencoded::byte_serialize(project.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next() {
        let h = r#"<https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=5>; rel="last""#;
        assert_eq!(
            link_next(h).as_deref(),
            Some("https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=2")
        );
        assert_eq!(link_next(r#"<https://x/?page=1>; rel="prev""#), None);
        assert_eq!(encode_project("group/sub project"), "group%2Fsub+project");
    }

    fn env_of(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn github_pr_number_from_event_payload_then_ref() {
        let dir = tempfile::tempdir().unwrap();
        let event = dir.path().join("event.json");
        std::fs::write(
            &event,
            r#"{"action":"synchronize","pull_request":{"number":17}}"#,
        )
        .unwrap();
        let base = vec![
            ("GITHUB_REPOSITORY", "acme/feeds".to_string()),
            ("GITHUB_TOKEN", "t".to_string()),
        ];
        let mut with_event = base.clone();
        with_event.push(("GITHUB_EVENT_PATH", event.display().to_string()));
        with_event.push(("GITHUB_REF", "refs/pull/99/merge".to_string()));
        let t = detect(&env_of(with_event), None).unwrap();
        assert_eq!((t.provider, t.number), (Provider::GitHub, 17));
        assert_eq!(t.api_url, "https://api.github.com");
        let mut with_ref = base.clone();
        with_ref.push(("GITHUB_REF", "refs/pull/99/merge".to_string()));
        assert_eq!(detect(&env_of(with_ref), None).unwrap().number, 99);
        let mut push = base;
        push.push(("GITHUB_REF", "refs/heads/main".to_string()));
        let e = detect(&env_of(push), None).unwrap_err().to_string();
        assert!(
            e.contains("no pull request number") && e.contains("refs/heads/main"),
            "{e}"
        );
        assert!(e.contains("help: "), "{e}");
    }

    #[test]
    fn gitlab_needs_an_mr_pipeline_and_a_token() {
        let base = vec![
            (
                "CI_API_V4_URL",
                "https://gitlab.example/api/v4/".to_string(),
            ),
            ("CI_PROJECT_ID", "42".to_string()),
        ];
        let e = detect(&env_of(base.clone()), None).unwrap_err().to_string();
        assert!(
            e.contains("CI_MERGE_REQUEST_IID is not set") && e.contains("merge_request_event"),
            "{e}"
        );
        let mut mr = base.clone();
        mr.push(("CI_MERGE_REQUEST_IID", "7".to_string()));
        let e = detect(&env_of(mr.clone()), None).unwrap_err().to_string();
        assert!(
            e.contains("GITLAB_TOKEN is not set") && e.contains("`api` scope"),
            "{e}"
        );
        mr.push(("GITLAB_TOKEN", "secret-value".to_string()));
        let t = detect(&env_of(mr), None).unwrap();
        assert_eq!(
            (t.provider, t.number, t.api_url.as_str()),
            (Provider::GitLab, 7, "https://gitlab.example/api/v4")
        );
        assert!(!format!("{t:?}").contains("secret-value"));
        let e = detect(&env_of(vec![]), None).unwrap_err().to_string();
        assert!(e.contains("no CI provider detected"), "{e}");
        let e = detect(&env_of(vec![]), Some(Provider::GitHub))
            .unwrap_err()
            .to_string();
        assert!(e.contains("GITHUB_REPOSITORY is not set"), "{e}");
    }
}
