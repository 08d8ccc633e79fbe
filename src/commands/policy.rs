//! `cdcform policy test PATH…`: run the `test_*` rules of Rego policies.

use std::path::PathBuf;

use crate::output::Output;
use crate::policy::test::{run as run_tests, Outcome};
use crate::{exit, Error};

pub fn test(paths: &[PathBuf], out: &Output) -> Result<i32, Error> {
    let results = run_tests(paths)?;
    if results.is_empty() {
        return Err(Error::msg(format!(
            "no test_* rule in {}\nhelp: tests are rules named test_… in *_test.rego files, e.g. `test_denies if {{ count(data.cdcform.deny) == 1 with input as {{...}} }}`",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut lines = Vec::new();
    let mut failed = 0;
    for r in &results {
        match &r.outcome {
            Outcome::Pass => lines.push(format!("PASS  {}  ({})", r.name, r.file)),
            Outcome::Fail(why) | Outcome::Error(why) => {
                failed += 1;
                let word = if matches!(r.outcome, Outcome::Fail(_)) {
                    "FAIL"
                } else {
                    "ERROR"
                };
                lines.push(format!("{word}  {}  ({}): {why}", r.name, r.file));
            }
        }
    }
    lines.push(format!(
        "policy tests: {} passed, {failed} failed",
        results.len() - failed
    ));
    out.data(&lines.join("\n"));
    Ok(if failed > 0 { exit::ERROR } else { exit::OK })
}
