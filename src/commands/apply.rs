use crate::cli::{ApplyArgs, GlobalArgs};
use crate::output::Output;
use crate::Error;

pub async fn run(_g: &GlobalArgs, _a: ApplyArgs, _out: &Output) -> Result<i32, Error> {
    super::util::not_built("apply")
}
