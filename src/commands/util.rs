//! Helpers shared by the commands.

use crate::Error;

/// A command that is not built yet says so and fails; it never prints fake output.
pub fn not_built(what: &str) -> Result<i32, Error> {
    Err(Error::msg(format!(
        "`cdcform {what}` is not implemented yet"
    )))
}
