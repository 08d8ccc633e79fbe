//! `cdcform policy test`: run every `test_*` rule of the files given, as `opa test` does: a test
//! passes when its rule evaluates to `true` (fixtures come with `with input as …`); undefined,
//! false or an error fails it.

use std::path::PathBuf;
use std::time::Instant;

use super::engine::{Kind, TIME_LIMIT};
use super::PolicyError;

/// How one test ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// False or undefined: a condition of the test did not hold.
    Fail(String),
    /// The rule errored at run time.
    Error(String),
}

/// One `test_*` rule and its outcome.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// `package.test_name`.
    pub name: String,
    /// `path:line` of the rule.
    pub file: String,
    pub outcome: Outcome,
}

/// Load every `.rego` file under `paths` (tests included) and run each `test_*` rule with its
/// own time limit. A file that does not parse is an error, not a failed test.
pub fn run(paths: &[PathBuf]) -> Result<Vec<TestResult>, PolicyError> {
    let mut p = super::engine::load(paths, &[], true)?;
    let tests: Vec<_> = p
        .rules()
        .iter()
        .filter(|r| r.kind == Kind::Test)
        .cloned()
        .collect();
    let mut out = Vec::new();
    for t in tests {
        let outcome = match p.eval(&t, Instant::now() + TIME_LIMIT) {
            Ok(regorus::Value::Bool(true)) => Outcome::Pass,
            Ok(regorus::Value::Undefined) => {
                Outcome::Fail("undefined: a condition did not hold".into())
            }
            Ok(other) => Outcome::Fail(format!("evaluated to {other}, not true")),
            Err(e) => Outcome::Error(e.to_string()),
        };
        out.push(TestResult {
            name: format!("{}.{}", t.namespace, t.name),
            file: t.files.join(", "),
            outcome,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn true_passes_false_and_undefined_fail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let policy = "package cdcform\n\ndeny contains \"no\" if { input.bad }\n";
        let tests = "package cdcform_test\n\nimport data.cdcform\n\n\
            test_denies if { count(cdcform.deny) == 1 with input as {\"bad\": true} }\n\n\
            test_wrong if { count(cdcform.deny) == 1 with input as {\"bad\": false} }\n";
        std::fs::write(dir.path().join("p.rego"), policy).expect("write");
        std::fs::write(dir.path().join("p_test.rego"), tests).expect("write");
        let r = run(&[dir.path().to_path_buf()]).expect("runs");
        assert_eq!(r.len(), 2, "{r:?}");
        let by = |n: &str| r.iter().find(|t| t.name.ends_with(n)).expect("found");
        assert_eq!(by("test_denies").outcome, Outcome::Pass);
        assert!(matches!(by("test_wrong").outcome, Outcome::Fail(_)));
        assert!(
            by("test_wrong").file.ends_with("p_test.rego:7"),
            "{}",
            by("test_wrong").file
        );
    }
}
