//! `ci comment`: one comment per pull or merge request and set of clusters, found again by
//! its marker and updated in place, never posted twice.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::Path;

use super::provider::{Api, CiError, Provider};
use crate::render::plan::MARKER_PREFIX;

/// GitHub refuses an issue comment longer than this (characters).
pub const GITHUB_MAX_CHARS: usize = 65_536;
/// GitLab's limit for a note (characters).
pub const GITLAB_MAX_CHARS: usize = 1_000_000;

/// The clusters named by the plan markers in `markdown`, sorted and once each.
pub fn clusters(markdown: &str) -> Vec<String> {
    let set: BTreeSet<String> = markdown
        .lines()
        .filter_map(|l| l.trim().strip_prefix(MARKER_PREFIX))
        .filter_map(|rest| rest.strip_suffix("-->"))
        .map(|name| name.trim().to_string())
        .collect();
    set.into_iter().collect()
}

/// The line a comment is found by: the clusters of the document it holds, so a plan of
/// several clusters is one comment, and jobs for different clusters keep their own.
pub fn identity(clusters: &[String]) -> String {
    format!("<!-- cdcform comment: clusters={} -->", clusters.join(","))
}

/// The comment to post: the identity line, then the plan markdown unchanged.
pub fn comment_body(markdown: &str, provider: Provider) -> Result<String, CiError> {
    let names = clusters(markdown);
    if names.is_empty() {
        return Err(CiError::Input {
            from: "the input".into(),
            cause: format!("it has no `{MARKER_PREFIX}NAME -->` marker"),
            help: "pipe the output of `cdcform plan --format markdown` (one or more clusters)"
                .into(),
        });
    }
    let body = format!("{}\n{}", identity(&names), markdown.trim_end());
    let max = match provider {
        Provider::GitHub => GITHUB_MAX_CHARS,
        Provider::GitLab => GITLAB_MAX_CHARS,
    };
    let n = body.chars().count();
    if n > max {
        return Err(CiError::Input {
            from: "the input".into(),
            cause: format!("the comment would be {n} characters; {provider} takes at most {max}"),
            help: format!(
                "lower `cdcform plan --max-chars` (for {} cluster(s) in one comment, about {} each)",
                names.len(),
                max / names.len() - 200
            ),
        });
    }
    Ok(body)
}

/// What `post` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created(u64),
    Updated(u64),
    /// The comment already says exactly this.
    Unchanged(u64),
}

/// Create the comment, or update the one that carries the same identity line.
pub async fn post(api: &Api, body: &str) -> Result<Outcome, CiError> {
    let id_line = body.lines().next().unwrap_or_default();
    let existing = api.list().await?;
    match existing
        .iter()
        .find(|c| c.body.lines().any(|l| l == id_line))
    {
        Some(c) if c.body.trim_end() == body.trim_end() => Ok(Outcome::Unchanged(c.id)),
        Some(c) => Ok(Outcome::Updated(api.update(c.id, body).await?.id)),
        None => Ok(Outcome::Created(api.create(body).await?.id)),
    }
}

/// The plan markdown from a file, or from stdin for `-` or no path.
pub fn read_input(path: Option<&Path>) -> Result<String, CiError> {
    let help = "pass a file written by `cdcform plan --format markdown`, or pipe it in".to_string();
    match path {
        Some(p) if p != Path::new("-") => std::fs::read_to_string(p).map_err(|e| CiError::Input {
            from: p.display().to_string(),
            cause: e.to_string(),
            help,
        }),
        _ => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| CiError::Input {
                    from: "stdin".into(),
                    cause: e.to_string(),
                    help,
                })?;
            Ok(s)
        }
    }
}

/// An error and its causes on one line, each said once (reqwest repeats itself).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = c.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_and_identity_from_one_or_several_plans() {
        let one = "<!-- cdcform plan: cluster=prod -->\n### plan\n";
        assert_eq!(clusters(one), vec!["prod"]);
        let two = format!("{one}\n---\n<!-- cdcform plan: cluster=eu -->\n### plan\n{one}");
        assert_eq!(clusters(&two), vec!["eu", "prod"]);
        assert_eq!(
            identity(&clusters(&two)),
            "<!-- cdcform comment: clusters=eu,prod -->"
        );
        let body = comment_body(&two, Provider::GitHub).unwrap();
        assert!(body.starts_with("<!-- cdcform comment: clusters=eu,prod -->\n<!-- cdcform plan"));
    }

    #[test]
    fn refuses_input_without_marker_or_over_the_limit() {
        let e = comment_body("just text", Provider::GitLab)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no `<!-- cdcform plan: cluster=NAME -->` marker"),
            "{e}"
        );
        let big = format!(
            "<!-- cdcform plan: cluster=a -->\n{}",
            "x".repeat(GITHUB_MAX_CHARS)
        );
        let e = comment_body(&big, Provider::GitHub)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("GitHub takes at most 65536") && e.contains("--max-chars"),
            "{e}"
        );
        assert!(comment_body(&big, Provider::GitLab).is_ok());
    }
}
