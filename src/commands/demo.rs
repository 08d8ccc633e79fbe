use crate::cli::DemoArgs;
use crate::output::Output;
use crate::Error;

pub async fn run(_a: DemoArgs, _out: &Output) -> Result<i32, Error> {
    super::util::not_built("demo")
}
