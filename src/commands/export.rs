use crate::cli::{ExportArgs, GlobalArgs};
use crate::output::Output;
use crate::Error;

pub async fn run(_g: &GlobalArgs, _a: ExportArgs, _out: &Output) -> Result<i32, Error> {
    super::util::not_built("export")
}
