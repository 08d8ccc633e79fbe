use crate::cli::SimulateArgs;
use crate::output::Output;
use crate::Error;

pub async fn run(_a: SimulateArgs, _out: &Output) -> Result<i32, Error> {
    super::util::not_built("simulate")
}
