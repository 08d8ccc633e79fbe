//! `cdcform cluster resign-owner | log-level LEVEL`.

use crate::cli::GlobalArgs;
use crate::output::Output;
use crate::settings::{process_env, Resolve, Settings};
use crate::ticdc::Client;
use crate::{exit, Error};

/// The levels TiCDC's zap logger accepts (`POST /api/v2/log`).
pub const LOG_LEVELS: &[&str] = &["debug", "info", "warn", "error", "dpanic", "panic", "fatal"];

fn client(g: &GlobalArgs) -> Result<Client, Error> {
    let s = Settings::resolve(g, &process_env)?;
    Ok(Client::new(s.client)?)
}

pub async fn resign_owner(g: &GlobalArgs, out: &Output) -> Result<i32, Error> {
    let c = client(g)?;
    c.resign_owner()
        .await
        .map_err(|e| Error::msg(format!("resign owner on {}: {}", c.base_url(), e.brief())))?;
    out.data("The owner resigned; the captures elect a new one.");
    Ok(exit::OK)
}

pub async fn log_level(g: &GlobalArgs, level: &str, out: &Output) -> Result<i32, Error> {
    let lower = level.to_ascii_lowercase();
    if !LOG_LEVELS.contains(&lower.as_str()) {
        return Err(Error::msg(format!(
            "unknown log level {level:?}; use one of: {}",
            LOG_LEVELS.join(", ")
        )));
    }
    let c = client(g)?;
    c.set_log_level(&lower)
        .await
        .map_err(|e| Error::msg(format!("set log level on {}: {}", c.base_url(), e.brief())))?;
    out.data(&format!("Log level set to {lower}."));
    Ok(exit::OK)
}
