use crate::cli::{GlobalArgs, ValidateArgs};
use crate::output::Output;
use crate::Error;

pub async fn run(_g: &GlobalArgs, _a: ValidateArgs, _out: &Output) -> Result<i32, Error> {
    super::util::not_built("validate")
}
