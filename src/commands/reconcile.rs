//! `cdcform reconcile`: flags to `reconcile::Options`, then the library's loop.

use std::time::Duration;

use crate::cli::{GlobalArgs, LogFormatArg, ReconcileArgs};
use crate::pipeline::Verdict;
use crate::reconcile::{self, Log, LogFormat};
use crate::settings::{process_env, Resolve, Settings};
use crate::{exit, Error};

/// The shortest `--interval`.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Where the endpoints listen unless --listen says otherwise (not with --once).
const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

pub async fn run(g: &GlobalArgs, a: ReconcileArgs) -> Result<i32, Error> {
    // A cycle reads every managed changefeed: more than one a second would only load TiCDC.
    if a.interval < MIN_INTERVAL {
        return Err(Error::msg(format!(
            "--interval {} is shorter than {}; nothing was started\nhelp: e.g. --interval 30s",
            humantime::format_duration(a.interval),
            humantime::format_duration(MIN_INTERVAL)
        )));
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
    // The one signal source: SIGTERM/SIGINT raise its level; the loop drains on the first.
    let shutdown = crate::shutdown::Shutdown::new();
    shutdown.listen(|_| {});
    Ok(match reconcile::run(targets, o, shutdown).await? {
        Verdict::Clean => exit::OK,
        Verdict::Changes => exit::CHANGES,
        Verdict::Failed => exit::ERROR,
    })
}
