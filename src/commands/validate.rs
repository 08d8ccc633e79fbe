//! `cdcform validate [PATH…]`: offline checks of the manifests; no network.

use std::path::PathBuf;

use crate::cli::{GlobalArgs, ValidateArgs};
use crate::output::Output;
use crate::Error;

pub async fn run(_g: &GlobalArgs, a: ValidateArgs, out: &Output) -> Result<i32, Error> {
    let paths = if a.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        a.paths
    };
    let set =
        crate::manifest::load(&paths, &|name| std::env::var(name).ok()).map_err(Error::Manifest)?;
    out.data(&summary(set.changefeeds.len(), set.files.len()));
    Ok(0)
}

/// `3 changefeeds in 2 files are valid.`
pub fn summary(changefeeds: usize, files: usize) -> String {
    format!(
        "{changefeeds} changefeed{} in {files} file{} {} valid.",
        if changefeeds == 1 { "" } else { "s" },
        if files == 1 { "" } else { "s" },
        if changefeeds == 1 { "is" } else { "are" },
    )
}
