//! CI integration: where a job runs (GitHub Actions, GitLab CI), how a markdown plan is framed
//! for it, and `ci comment`'s provider clients. Depends on render's markdown only.

pub mod comment;
pub mod provider;

use std::path::Path;

use crate::render::plan::{MarkdownOptions, DEFAULT_MAX_CHARS};
use crate::settings::Env;

/// The page of the running CI job, from the variables GitHub Actions and GitLab CI set.
pub fn job_url(env: Env) -> Option<String> {
    if let (Some(server), Some(repo), Some(run)) = (
        env("GITHUB_SERVER_URL"),
        env("GITHUB_REPOSITORY"),
        env("GITHUB_RUN_ID"),
    ) {
        return Some(format!(
            "{}/{repo}/actions/runs/{run}",
            server.trim_end_matches('/')
        ));
    }
    env("CI_JOB_URL").filter(|u| !u.is_empty())
}

/// How `plan --format markdown` frames its output: the cluster in the marker, the size limit,
/// and where the whole plan is (the saved plan file, the CI job that holds it).
pub fn markdown_options(
    cluster: Option<&str>,
    max_chars: Option<usize>,
    saved_plan: Option<&Path>,
    env: Env,
) -> MarkdownOptions {
    let mut places = Vec::new();
    if let Some(p) = saved_plan {
        let name = p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        places.push(format!("the saved plan `{name}` (JSON, every field)"));
    }
    if let Some(url) = job_url(env) {
        places.push(format!("the CI job {url}"));
    }
    MarkdownOptions {
        cluster: cluster.unwrap_or("default").to_string(),
        max_chars: max_chars.unwrap_or(DEFAULT_MAX_CHARS),
        full_plan: (!places.is_empty()).then(|| places.join(", in ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn job_url_from_github_and_gitlab_variables() {
        let gh = env_of(&[
            ("GITHUB_SERVER_URL", "https://github.com/"),
            ("GITHUB_REPOSITORY", "acme/feeds"),
            ("GITHUB_RUN_ID", "42"),
        ]);
        assert_eq!(
            job_url(&gh).as_deref(),
            Some("https://github.com/acme/feeds/actions/runs/42")
        );
        let gl = env_of(&[("CI_JOB_URL", "https://gitlab.example/acme/feeds/-/jobs/7")]);
        assert_eq!(
            job_url(&gl).as_deref(),
            Some("https://gitlab.example/acme/feeds/-/jobs/7")
        );
        assert_eq!(job_url(&env_of(&[])), None);
    }

    #[test]
    fn markdown_options_name_the_cluster_and_where_the_plan_is() {
        let gl = env_of(&[("CI_JOB_URL", "https://gitlab.example/j/7")]);
        let o = markdown_options(None, None, Some(Path::new("out/changefeeds.plan")), &gl);
        assert_eq!(o.cluster, "default");
        assert_eq!(o.max_chars, DEFAULT_MAX_CHARS);
        assert_eq!(
            o.full_plan.as_deref(),
            Some("the saved plan `changefeeds.plan` (JSON, every field), in the CI job https://gitlab.example/j/7")
        );
        let o = markdown_options(Some("prod"), Some(5000), None, &env_of(&[]));
        assert_eq!(
            (o.cluster.as_str(), o.max_chars, o.full_plan),
            ("prod", 5000, None)
        );
    }
}
