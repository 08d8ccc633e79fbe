use crate::cli::{GlobalArgs, PlanArgs};
use crate::output::Output;
use crate::Error;

pub async fn run(_g: &GlobalArgs, _a: PlanArgs, _out: &Output) -> Result<i32, Error> {
    super::util::not_built("plan")
}
