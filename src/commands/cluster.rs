use crate::cli::GlobalArgs;
use crate::output::Output;
use crate::Error;

pub async fn resign_owner(_g: &GlobalArgs, _out: &Output) -> Result<i32, Error> {
    super::util::not_built("cluster resign-owner")
}

pub async fn log_level(_g: &GlobalArgs, _level: &str, _out: &Output) -> Result<i32, Error> {
    super::util::not_built("cluster log-level")
}
