//! `cdcform reconcile`: flags to `reconcile::Options`, then the library's loop.

use std::time::Duration;

use crate::cli::{GlobalArgs, LogFormatArg, ReconcileArgs};
use crate::pipeline::Verdict;
use crate::reconcile::{self, Log, LogFormat};
use crate::settings::{process_env, Resolve, Settings};
use crate::{exit, Error};

/// Where the endpoints listen unless --listen says otherwise (not with --once).
const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

pub async fn run(g: &GlobalArgs, a: ReconcileArgs) -> Result<i32, Error> {
    if a.interval.is_zero() {
        return Err(Error::msg(
            "--interval must be longer than 0\nhelp: e.g. --interval 30s",
        ));
    }
    let targets = Settings::resolve_targets(g, &process_env)?;
    let listen = match (a.listen, a.once) {
        (Some(l), _) => Some(l),
        (None, false) => Some(DEFAULT_LISTEN.to_string()),
        (None, true) => None,
    };
    let o = reconcile::Options {
        paths: a.paths,
        interval: a.interval,
        self_heal: a.self_heal,
        prune: a.prune,
        max_changes: a.max_changes_per_cycle,
        max_lag: a.max_lag,
        gc_ttl: a.gc_ttl,
        wait_timeout: a.wait_timeout.unwrap_or(Duration::from_secs(120)),
        no_wait: a.no_wait,
        once: a.once,
        shutdown_timeout: a.shutdown_timeout,
        listen,
        log: Log {
            format: match a.log_format {
                LogFormatArg::Text => LogFormat::Text,
                LogFormatArg::Json => LogFormat::Json,
            },
        },
    };
    Ok(match reconcile::run(targets, o).await? {
        Verdict::Clean => exit::OK,
        Verdict::Changes => exit::CHANGES,
        Verdict::Failed => exit::ERROR,
    })
}
