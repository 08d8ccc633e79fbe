use crate::cli::{GlobalArgs, StatusArgs};
use crate::output::Output;
use crate::Error;

pub async fn run(_g: &GlobalArgs, _a: StatusArgs, _out: &Output) -> Result<i32, Error> {
    super::util::not_built("status")
}
