//! `cdcform ci comment`: read the plan markdown, find the request, post or update the comment.

use crate::ci::comment::{comment_body, post, read_input, Outcome};
use crate::ci::provider::{detect, Api, Provider};
use crate::cli::{CiCommentArgs, CiProvider};
use crate::output::Output;
use crate::settings::process_env;
use crate::{exit, Error};

pub async fn comment(args: CiCommentArgs, out: &Output) -> Result<i32, Error> {
    let forced = args.provider.map(|p| match p {
        CiProvider::Github => Provider::GitHub,
        CiProvider::Gitlab => Provider::GitLab,
    });
    // The file first: a path that does not exist is the thing to fix, wherever this runs.
    let markdown = read_input(args.file.as_deref())?;
    let target = detect(&process_env, forced)?;
    let body = comment_body(&markdown, target.provider)?;
    let what = target.describe();
    let api = Api::new(target)?;
    let line = match post(&api, &body).await? {
        Outcome::Created(id) => format!("Created comment {id} on {what}"),
        Outcome::Updated(id) => format!("Updated comment {id} on {what}"),
        Outcome::Unchanged(id) => format!("Comment {id} on {what} is up to date"),
    };
    out.progress(&line);
    Ok(exit::OK)
}
