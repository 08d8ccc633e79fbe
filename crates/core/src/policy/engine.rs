//! Load `.rego` files into a `regorus` engine and evaluate the conftest rules on one input.
//!
//! Limits: regorus is built without its `opa-runtime`, `http`, `time`, `uuid`, … features, so no
//! builtin reads the environment, files, the clock or the network (`http.send` is not even
//! defined); the input is capped at [`MAX_INPUT_BYTES`]; and every evaluation of one input
//! stops after [`TIME_LIMIT`] in all (regorus' cooperative execution timer, checked inside its
//! loops). A rule may hold at most `memory::MEMORY_LIMIT` while it runs (see `policy::memory`).
//! Builtin errors are strict: a rule whose builtin fails is an error, never "undefined".

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::Value;
use sha2::{Digest, Sha256};

use super::input::Input;
use super::{Finding, PolicyError, PolicyFile, Report};

/// Longest an evaluation of one input (every rule of every namespace) may run.
pub const TIME_LIMIT: Duration = Duration::from_secs(10);

/// Largest policy input accepted, in bytes of JSON.
pub const MAX_INPUT_BYTES: usize = 64 << 20;

/// What a rule is for, by conftest's naming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Deny,
    Warn,
    Exception,
    Test,
}

impl Kind {
    fn of(name: &str) -> Option<Kind> {
        let is = |base: &str| name == base || name.starts_with(&format!("{base}_"));
        if is("deny") || is("violation") {
            Some(Kind::Deny)
        } else if is("warn") {
            Some(Kind::Warn)
        } else if name == "exception" {
            Some(Kind::Exception)
        } else if name.starts_with("test_") {
            Some(Kind::Test)
        } else {
            None
        }
    }
}

/// A rule found in the loaded files.
#[derive(Debug, Clone)]
pub struct RuleInfo {
    pub namespace: String,
    pub name: String,
    pub kind: Kind,
    /// `path:line` of each definition.
    pub files: Vec<String>,
}

impl RuleInfo {
    fn file(&self) -> String {
        self.files.join(", ")
    }
    fn path(&self) -> String {
        format!("data.{}.{}", self.namespace, self.name)
    }
}

/// Parsed policies, ready to evaluate inputs.
pub struct Policies {
    engine: regorus::Engine,
    files: Vec<PolicyFile>,
    rules: Vec<RuleInfo>,
    namespaces: Vec<String>,
}

/// The `.rego` files under `paths`, sorted, each once. `*_test.rego` files under a directory are
/// left out unless `tests` (conftest and `opa test` keep tests beside policies).
pub fn collect(paths: &[PathBuf], tests: bool) -> Result<Vec<PathBuf>, PolicyError> {
    let mut out = BTreeSet::new();
    // The same file reached twice (`--policy pol` beside `[policy] paths = ["pol"]`, spelled
    // relative to the working directory and to cdcform.toml) is loaded once.
    let mut seen = std::collections::HashSet::new();
    let mut add = |out: &mut BTreeSet<PathBuf>, path: PathBuf| {
        if seen.insert(std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone())) {
            out.insert(path);
        }
    };
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| PolicyError::Read {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        if meta.is_file() {
            add(&mut out, p.clone());
            continue;
        }
        let mut found = 0;
        for entry in walkdir::WalkDir::new(p).sort_by_file_name() {
            let entry = entry.map_err(|e| PolicyError::Read {
                path: p.clone(),
                reason: e.to_string(),
            })?;
            let name = entry.file_name().to_string_lossy();
            if entry.file_type().is_file()
                && name.ends_with(".rego")
                && (tests || !name.ends_with("_test.rego"))
            {
                found += 1;
                add(&mut out, entry.into_path());
            }
        }
        // A policy directory that holds no policy would pass everything: refused.
        if found == 0 {
            return Err(PolicyError::Read {
                path: p.clone(),
                reason: format!(
                    "no {}.rego file in this directory",
                    if tests { "" } else { "policy (non-test) " }
                ),
            });
        }
    }
    Ok(out.into_iter().collect())
}

fn read(path: &Path) -> Result<(String, PolicyFile), PolicyError> {
    let text = std::fs::read_to_string(path).map_err(|e| PolicyError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let sha256 = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let file = PolicyFile {
        path: path.display().to_string(),
        sha256,
    };
    Ok((text, file))
}

/// The identifier a rule's source text starts with (`deny_x contains msg if …` → `deny_x`).
fn rule_name(text: &str) -> String {
    let t = text.trim_start();
    let t = t.strip_prefix("default ").unwrap_or(t).trim_start();
    t.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// Every deny/warn/exception/test rule the engine holds, grouped by namespace and name.
fn find_rules(engine: &mut regorus::Engine) -> Vec<RuleInfo> {
    let mut by: BTreeMap<(String, String), RuleInfo> = BTreeMap::new();
    for m in engine.get_modules() {
        let ns = m.package.refr.span().text().trim().to_string();
        let ns = ns.strip_prefix("data.").unwrap_or(&ns).to_string();
        for r in &m.policy {
            let span = r.span();
            let name = rule_name(span.text());
            let Some(kind) = Kind::of(&name) else {
                continue;
            };
            let at = format!("{}:{}", span.source.get_path(), span.line);
            by.entry((ns.clone(), name.clone()))
                .or_insert_with(|| RuleInfo {
                    namespace: ns.clone(),
                    name,
                    kind,
                    files: vec![],
                })
                .files
                .push(at);
        }
    }
    by.into_values().collect()
}

/// Load and parse the policies under `paths`; `namespaces` are the packages whose rules count
/// (empty: `cdcform`). A file that does not parse fails the load, naming file:line.
pub fn load(
    paths: &[PathBuf],
    namespaces: &[String],
    tests: bool,
) -> Result<Policies, PolicyError> {
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(false);
    engine.set_strict_builtin_errors(true);
    let mut files = Vec::new();
    for path in collect(paths, tests)? {
        let (text, file) = read(&path)?;
        engine
            .add_policy(file.path.clone(), text)
            .map_err(|e| PolicyError::Parse {
                path: file.path.clone(),
                reason: format!("{e:#}"),
            })?;
        files.push(file);
    }
    let rules = find_rules(&mut engine);
    let namespaces = if namespaces.is_empty() {
        vec![super::DEFAULT_NAMESPACE.to_string()]
    } else {
        namespaces.to_vec()
    };
    if !tests && !files.is_empty() {
        if let Some(ns) = namespaces
            .iter()
            .find(|ns| !rules.iter().any(|r| &r.namespace == *ns))
        {
            return Err(PolicyError::NoSuchNamespace(ns.clone()));
        }
    }
    Ok(Policies {
        engine,
        files,
        rules,
        namespaces,
    })
}

/// A result value as a finding, or why it has the wrong shape.
fn finding(rule: &RuleInfo, v: &Value) -> Result<Finding, String> {
    let json = serde_json::to_value(v).map_err(|e| e.to_string())?;
    let (msg, metadata, changefeed) = match &json {
        serde_json::Value::String(s) => (s.clone(), None, None),
        serde_json::Value::Object(o) => {
            let Some(serde_json::Value::String(msg)) = o.get("msg") else {
                return Err(format!("an object without a string `msg`: {json}"));
            };
            let metadata = o.get("metadata").cloned();
            let changefeed = o
                .get("changefeed")
                .or_else(|| metadata.as_ref().and_then(|m| m.get("changefeed")))
                .and_then(|c| c.as_str())
                .map(str::to_string);
            (msg.clone(), metadata, changefeed)
        }
        other => {
            return Err(format!(
                "a value that is neither a string nor an object: {other}"
            ))
        }
    };
    Ok(Finding {
        rule: rule.name.clone(),
        namespace: rule.namespace.clone(),
        file: rule.file(),
        changefeed,
        msg,
        metadata,
    })
}

impl Policies {
    /// The files loaded, with their digests.
    pub fn files(&self) -> &[PolicyFile] {
        &self.files
    }

    /// Whether any policy file was loaded.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The rules found, for `policy test` and for listing.
    pub fn rules(&self) -> &[RuleInfo] {
        &self.rules
    }

    /// Evaluate one rule with what is left of the time budget.
    pub(crate) fn eval(
        &mut self,
        rule: &RuleInfo,
        deadline: Instant,
    ) -> Result<Value, PolicyError> {
        let left = deadline.saturating_duration_since(Instant::now());
        let runtime = |reason: String| PolicyError::Runtime {
            rule: format!("{}.{}", rule.namespace, rule.name),
            file: rule.file(),
            reason,
        };
        if left.is_zero() {
            return Err(runtime(format!(
                "the policy time limit of {}s was used up before this rule ran",
                TIME_LIMIT.as_secs()
            )));
        }
        self.engine
            .set_execution_timer_config(ExecutionTimerConfig {
                limit: left,
                check_interval: NonZeroU32::new(32).expect("non-zero"),
            });
        let label = format!("{}.{} ({})", rule.namespace, rule.name, rule.file());
        let guard = super::memory::Guard::arm(label, super::memory::MEMORY_LIMIT);
        let result = self.engine.eval_rule(rule.path());
        drop(guard);
        result.map_err(|e| {
            if e.downcast_ref::<regorus::LimitError>().is_some() {
                runtime(format!(
                    "stopped at the policy time limit of {}s ({e})",
                    TIME_LIMIT.as_secs()
                ))
            } else {
                runtime(format!("{e:#}"))
            }
        })
    }

    /// Set the input document (checked against [`MAX_INPUT_BYTES`] of JSON text).
    #[cfg(test)]
    pub(crate) fn set_input(&mut self, input: &serde_json::Value) -> Result<(), PolicyError> {
        self.set_input_value(Input::from_json(input))
    }

    fn set_input_value(&mut self, input: Input) -> Result<(), PolicyError> {
        if input.json_bytes > MAX_INPUT_BYTES {
            return Err(PolicyError::InputTooLarge {
                size: input.json_bytes,
                limit: MAX_INPUT_BYTES,
            });
        }
        self.engine.set_input(input.value);
        Ok(())
    }

    /// Rule names waived in one namespace: the union of its `exception` rules.
    fn exceptions(&mut self, ns: &str, deadline: Instant) -> Result<BTreeSet<String>, PolicyError> {
        let rules: Vec<RuleInfo> = self
            .rules
            .iter()
            .filter(|r| r.namespace == ns && r.kind == Kind::Exception)
            .cloned()
            .collect();
        let mut out = BTreeSet::new();
        for rule in rules {
            let v = self.eval(&rule, deadline)?;
            let json = serde_json::to_value(&v).unwrap_or(serde_json::Value::Null);
            let bad = || PolicyError::Shape {
                rule: format!("{ns}.exception"),
                file: rule.file(),
                kind: "exception",
                got: json.to_string(),
            };
            match &json {
                serde_json::Value::Null => {}
                serde_json::Value::Array(lists) => {
                    for l in lists {
                        let names = l.as_array().ok_or_else(bad)?;
                        for n in names {
                            out.insert(n.as_str().ok_or_else(bad)?.to_string());
                        }
                    }
                }
                _ => return Err(bad()),
            }
        }
        Ok(out)
    }

    /// Evaluate every deny/violation/warn rule of the chosen namespaces on `input`.
    pub fn evaluate(&mut self, input: &serde_json::Value) -> Result<Report, PolicyError> {
        self.evaluate_input(Input::from_json(input))
    }

    /// [`Policies::evaluate`] on an input already built for the engine.
    pub fn evaluate_input(&mut self, input: Input) -> Result<Report, PolicyError> {
        self.set_input_value(input)?;
        let deadline = Instant::now() + TIME_LIMIT;
        let mut report = Report {
            files: self.files.clone(),
            ..Report::default()
        };
        for ns in self.namespaces.clone() {
            let waived = self.exceptions(&ns, deadline)?;
            let rules: Vec<RuleInfo> = self
                .rules
                .iter()
                .filter(|r| r.namespace == ns && matches!(r.kind, Kind::Deny | Kind::Warn))
                .cloned()
                .collect();
            for rule in rules {
                let v = self.eval(&rule, deadline)?;
                self.collect_findings(&rule, &v, &waived, &mut report)?;
            }
        }
        for list in [&mut report.deny, &mut report.warn, &mut report.waived] {
            list.sort_by(|a, b| {
                (&a.changefeed, &a.rule, &a.msg).cmp(&(&b.changefeed, &b.rule, &b.msg))
            });
        }
        Ok(report)
    }

    fn collect_findings(
        &self,
        rule: &RuleInfo,
        v: &Value,
        waived: &BTreeSet<String>,
        report: &mut Report,
    ) -> Result<(), PolicyError> {
        let kind = if rule.kind == Kind::Deny {
            "deny"
        } else {
            "warn"
        };
        let shape = |got: String| PolicyError::Shape {
            rule: format!("{}.{}", rule.namespace, rule.name),
            file: rule.file(),
            kind,
            got,
        };
        let items: Vec<&Value> = match v {
            Value::Undefined => vec![],
            Value::Set(s) => s.iter().collect(),
            other => return Err(shape(format!("{other}, not a set"))),
        };
        // conftest: `exception` lists `NAME` to waive `deny_NAME` and `violation_NAME`; "" waives
        // the plain `deny` and `violation`.
        let suffix = rule
            .name
            .split_once('_')
            .map(|(_, s)| s)
            .unwrap_or_default();
        let is_waived = rule.kind == Kind::Deny && waived.contains(suffix);
        for item in items {
            let f = finding(rule, item).map_err(shape)?;
            match (rule.kind, is_waived) {
                (Kind::Deny, true) => report.waived.push(f),
                (Kind::Deny, false) => report.deny.push(f),
                _ => report.warn.push(f),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policies(
        files: &[(&str, &str)],
        ns: &[&str],
    ) -> (tempfile::TempDir, Result<Policies, PolicyError>) {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        let ns: Vec<String> = ns.iter().map(|s| s.to_string()).collect();
        let p = load(&[dir.path().to_path_buf()], &ns, false);
        (dir, p)
    }

    const DENY: &str = r#"package cdcform

deny_bad_id contains {"msg": sprintf("%s is bad", [e.id]), "changefeed": e.id} if {
    some e in input.entries
    not startswith(e.id, "team-")
}

warn contains "always" if { true }
"#;

    #[test]
    fn deny_and_warn_are_found_with_file_and_line() {
        let (_d, p) = policies(&[("a.rego", DENY)], &[]);
        let mut p = p.expect("loads");
        let r = p
            .evaluate(&json!({"entries": [{"id": "x"}, {"id": "team-a"}]}))
            .expect("evaluates");
        assert_eq!(r.deny.len(), 1);
        assert_eq!(r.deny[0].rule, "deny_bad_id");
        assert_eq!(r.deny[0].changefeed.as_deref(), Some("x"));
        assert_eq!(r.deny[0].msg, "x is bad");
        assert!(r.deny[0].file.ends_with("a.rego:3"), "{}", r.deny[0].file);
        assert_eq!(r.warn.len(), 1);
        assert_eq!(r.files.len(), 1);
        assert_eq!(r.files[0].sha256.len(), 64);
    }

    #[test]
    fn exception_waives_by_suffix() {
        let exc = "package cdcform\n\nexception contains rules if {\n    input.waive\n    rules := [\"bad_id\"]\n}\n";
        let (_d, p) = policies(&[("a.rego", DENY), ("b.rego", exc)], &[]);
        let mut p = p.expect("loads");
        let r = p
            .evaluate(&json!({"waive": true, "entries": [{"id": "x"}]}))
            .expect("evaluates");
        assert!(r.deny.is_empty());
        assert_eq!(r.waived.len(), 1);
        let r = p
            .evaluate(&json!({"waive": false, "entries": [{"id": "x"}]}))
            .expect("evaluates");
        assert_eq!(r.deny.len(), 1);
    }

    #[test]
    fn parse_error_names_the_file_and_line() {
        let (_d, p) = policies(
            &[(
                "bad.rego",
                "package cdcform\n\ndeny contains msg {\n  msg := 1\n}\n",
            )],
            &[],
        );
        let e = p.err().expect("fails").to_string();
        assert!(e.contains("bad.rego:3"), "{e}");
    }

    #[test]
    fn runtime_error_fails_closed() {
        let text = "package cdcform\n\ndeny contains msg if {\n    msg := sprintf(\"%d\", [to_number(input.x)])\n}\n";
        let (_d, p) = policies(&[("rt.rego", text)], &[]);
        let mut p = p.expect("loads");
        let e = p
            .evaluate(&json!({"x": "not a number"}))
            .expect_err("fails")
            .to_string();
        assert!(e.contains("cdcform.deny"), "{e}");
        assert!(e.contains("rt.rego:3"), "{e}");
    }

    #[test]
    fn wrong_result_shape_is_an_error() {
        let text = "package cdcform\n\ndeny contains 42 if { true }\n";
        let (_d, p) = policies(&[("s.rego", text)], &[]);
        let e = p
            .expect("loads")
            .evaluate(&json!({}))
            .expect_err("fails")
            .to_string();
        assert!(e.contains("neither a string nor an object"), "{e}");
    }

    #[test]
    fn a_namespace_without_rules_is_an_error() {
        let (_d, p) = policies(&[("a.rego", DENY)], &["other"]);
        assert!(matches!(p, Err(PolicyError::NoSuchNamespace(_))));
        let (_d, p) = policies(
            &[(
                "m.rego",
                "package main\n\ndeny contains \"x\" if { true }\n",
            )],
            &[],
        );
        assert!(matches!(p, Err(PolicyError::NoSuchNamespace(_))));
    }

    #[test]
    fn other_namespaces_and_violation_rules() {
        let text = "package org.rules\n\nviolation_x contains {\"msg\": \"v\", \"metadata\": {\"changefeed\": \"a\", \"severity\": \"high\"}} if { true }\n\nwarn_y contains \"w\" if { true }\n";
        let (_d, p) = policies(&[("org.rego", text), ("a.rego", DENY)], &["org.rules"]);
        let r = p
            .expect("loads")
            .evaluate(&json!({"entries": [{"id": "x"}]}))
            .expect("evaluates");
        // Only org.rules counts: deny_bad_id of package cdcform is not evaluated.
        assert_eq!(r.deny.len(), 1, "{r:?}");
        assert_eq!(r.deny[0].rule, "violation_x");
        assert_eq!(r.deny[0].namespace, "org.rules");
        assert_eq!(r.deny[0].changefeed.as_deref(), Some("a"));
        assert_eq!(r.deny[0].metadata.as_ref().unwrap()["severity"], "high");
        assert_eq!(r.warn.len(), 1);
        let (_d, p) = policies(
            &[("org.rego", text), ("a.rego", DENY)],
            &["org.rules", "cdcform"],
        );
        let r = p
            .expect("loads")
            .evaluate(&json!({"entries": [{"id": "x"}]}))
            .expect("evaluates");
        assert_eq!(r.deny.len(), 2, "{r:?}");
    }

    #[test]
    fn a_directory_without_policies_is_an_error() {
        let (_d, p) = policies(
            &[("notes.md", "# not a policy"), ("x_test.rego", DENY)],
            &[],
        );
        let e = p.err().expect("fails").to_string();
        assert!(e.contains("no policy (non-test) .rego file"), "{e}");
    }

    #[test]
    fn runaway_rules_stop_at_the_time_limit() {
        let text = "package cdcform\n\ndeny contains msg if {\n    some i in numbers.range(1, 5000)\n    some j in numbers.range(1, 5000)\n    i * j < 0\n    msg := \"x\"\n}\n";
        let (_d, p) = policies(&[("slow.rego", text)], &[]);
        let mut p = p.expect("loads");
        // The full limit is 10s; this test shortens it through the deadline of one rule.
        let rule = p.rules()[0].clone();
        p.set_input(&json!({})).expect("input");
        let e = p
            .eval(&rule, Instant::now() + Duration::from_millis(50))
            .expect_err("stops")
            .to_string();
        assert!(e.contains("time limit"), "{e}");
    }

    #[test]
    fn no_builtin_reads_env_or_network() {
        let text = "package cdcform\n\ndeny contains msg if {\n    r := http.send({\"method\": \"get\", \"url\": \"http://127.0.0.1:1\"})\n    msg := \"x\"\n}\n";
        let (_d, p) = policies(&[("net.rego", text)], &[]);
        // Either the builtin is unknown (refused at load or evaluation), never a network call.
        if let Ok(mut p) = p {
            assert!(p.evaluate(&json!({})).is_err());
        }
        let text =
            "package cdcform\n\ndeny contains msg if {\n    msg := opa.runtime().env.HOME\n}\n";
        let (_d, p) = policies(&[("env.rego", text)], &[]);
        if let Ok(mut p) = p {
            assert!(p.evaluate(&json!({})).is_err());
        }
    }
}
