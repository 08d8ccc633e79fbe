//! `cdcform man`: the top-level man page on stdout, or one page per subcommand with `--dir`.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::output::Output;
use crate::{exit, Error};

pub fn run(args: ManArgs, out: &Output) -> Result<i32, Error> {
    match args.dir {
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut buf)
                .map_err(|e| Error::msg(format!("cannot render the man page: {e}")))?;
            out.data(&String::from_utf8_lossy(&buf));
        }
        Some(dir) => {
            let n = write_pages(&dir)?;
            out.progress(&format!("Wrote {n} man pages to {}", dir.display()));
        }
    }
    Ok(exit::OK)
}

/// Write `cdcform.1` and `cdcform-<sub>[-<subsub>].1` for every visible subcommand into `dir`
/// (created when missing). Returns how many pages were written.
pub fn write_pages(dir: &Path) -> Result<usize, Error> {
    let fail = |e: std::io::Error| {
        Error::msg(format!(
            "cannot write man pages to {}: {e}\nhelp: pass a writable directory to `--dir`",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    clap_mangen::generate_to(Cli::command(), dir).map_err(fail)?;
    Ok(pages_expected())
}

/// One page for the top command and one per visible subcommand, at every depth.
fn pages_expected() -> usize {
    fn count(cmd: &clap::Command) -> usize {
        1 + cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(count)
            .sum::<usize>()
    }
    count(&Cli::command())
}
