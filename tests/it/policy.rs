//! Policy checks end to end through the binary: deny blocks plan and apply (nothing changes on
//! the simulator), warn does not, exceptions waive, broken policies fail closed with file:line,
//! secrets never reach the policy input or output, saved plans are re-checked, validate works
//! offline, a rule over the memory limit fails closed, and the example policies pass their own
//! tests.

use std::path::{Path, PathBuf};

use cdcform::simulator::Simulator;

use crate::harness::*;

const IDS: &str = r#"package cdcform

deny_id contains {"msg": sprintf("%s does not start with team-", [e.id]), "changefeed": e.id} if {
    some e in input.entries
    e.action != "delete"
    not startswith(e.id, "team-")
}
"#;

const WARN: &str = r#"package cdcform

warn_creates contains {"msg": sprintf("%s will be created", [e.id]), "changefeed": e.id} if {
    some e in input.entries
    e.action == "create"
}
"#;

const MANIFEST: &str = "changefeeds:\n  - id: orders\n    sink_uri: \"blackhole://\"\n";

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new(files: &[(&str, &str)]) -> Case {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("policy")).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join("policy").join(name), text).unwrap();
        }
        std::fs::write(dir.path().join("feeds.yaml"), MANIFEST).unwrap();
        Case { dir }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn s(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_string()
    }
    fn write_policy(&self, name: &str, text: &str) {
        std::fs::write(self.path("policy").join(name), text).unwrap();
    }
}

/// Run the binary; (exit code, stdout, stderr).
fn run(args: &[&str], sim: Option<&Simulator>) -> (Option<i32>, String, String) {
    let mut c = cdcform();
    c.args(args).env("SECRET", CANARY);
    if let Some(s) = sim {
        c.args(["--server", &s.url()]);
    }
    let o = c.output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_blocks_plan_and_apply_and_changes_nothing() {
    let s = sim(classic()).await;
    let c = Case::new(&[("ids.rego", IDS), ("warn.rego", WARN)]);
    let (m, p) = (c.s("feeds.yaml"), c.s("policy"));
    let (code, out, err) = run(&["plan", &m, "--policy", &p], Some(&s));
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("Policy: 1 deny, 1 warn"), "{out}");
    assert!(
        out.contains("deny_id: orders does not start with team-"),
        "{out}"
    );
    assert!(out.contains("ids.rego:3"), "{out}");
    assert!(err.contains("1 policy violation"), "{err}");

    let (code, out, _) = run(&["plan", &m, "--policy", &p, "--format", "json"], Some(&s));
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["policy"]["deny"][0]["rule"], "deny_id");
    assert_eq!(v["policy"]["deny"][0]["changefeed"], "orders");
    assert!(v["policy"]["deny"][0]["file"]
        .as_str()
        .unwrap()
        .ends_with("ids.rego:3"));
    assert_eq!(v["policy"]["warn"][0]["rule"], "warn_creates");
    assert_eq!(v["policy"]["files"].as_array().unwrap().len(), 2);

    let (code, md, _) = run(
        &["plan", &m, "--policy", &p, "--format", "markdown"],
        Some(&s),
    );
    assert_eq!(code, Some(1));
    let policy_at = md.find("#### Policy").expect("policy section");
    let entry_at = md.find("default/orders").expect("entry row");
    assert!(policy_at < entry_at, "{md}");
    assert!(
        md.contains("blocked by policy") && md.contains("ids.rego:3"),
        "{md}"
    );

    s.clear_requests();
    let (code, out, err) = run(&["apply", &m, "--policy", &p, "--auto-approve"], Some(&s));
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("nothing is applied to this cluster"), "{err}");
    assert!(mutations(&s).is_empty(), "{:?}", mutations(&s));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warn_is_shown_and_blocks_nothing() {
    let s = sim(classic()).await;
    let c = Case::new(&[("warn.rego", WARN)]);
    let (m, p) = (c.s("feeds.yaml"), c.s("policy"));
    let (code, out, err) = run(
        &["plan", &m, "--policy", &p, "--detailed-exitcode"],
        Some(&s),
    );
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        out.contains("warn_creates: orders will be created"),
        "{out}"
    );
    let (code, out, err) = run(&["apply", &m, "--policy", &p, "--auto-approve"], Some(&s));
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(mutations(&s).len(), 1, "{:?}", mutations(&s));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceptions_waive_the_named_rule_only() {
    let s = sim(classic()).await;
    let exception = "package cdcform\n\nexception contains rules if {\n    some e in input.entries\n    e.id == \"orders\"\n    rules := [\"id\"]\n}\n";
    let other =
        "package cdcform\n\ndeny_other contains \"always\" if { input.cluster.server != \"\" }\n";
    let c = Case::new(&[("ids.rego", IDS), ("exc.rego", exception)]);
    let (m, p) = (c.s("feeds.yaml"), c.s("policy"));
    let (code, out, err) = run(&["plan", &m, "--policy", &p], Some(&s));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("Policy: 0 deny, 0 warn, 1 waived"), "{out}");
    assert!(out.contains("waived  deny_id on orders"), "{out}");
    // The exception names `id`: another rule still blocks.
    c.write_policy("other.rego", other);
    let (code, out, _) = run(&["plan", &m, "--policy", &p], Some(&s));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("deny_other: always"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_policies_fail_closed_with_file_and_line() {
    let s = sim(classic()).await;
    let c = Case::new(&[(
        "bad.rego",
        "package cdcform\n\ndeny contains msg {\n    msg := \"v0 syntax\"\n}\n",
    )]);
    let (m, p) = (c.s("feeds.yaml"), c.s("policy"));
    let (code, out, err) = run(&["plan", &m, "--policy", &p], Some(&s));
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("does not parse") && err.contains("bad.rego:3"),
        "{err}"
    );

    std::fs::remove_file(c.path("policy").join("bad.rego")).unwrap();
    let runtime = "package cdcform\n\ndeny_num contains msg if {\n    some e in input.entries\n    n := to_number(e.id)\n    msg := sprintf(\"%d\", [n])\n}\n";
    c.write_policy("rt.rego", runtime);
    let (code, out, err) = run(&["plan", &m, "--policy", &p], Some(&s));
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("cdcform.deny_num") && err.contains("rt.rego:3"),
        "{err}"
    );
    assert!(
        err.contains("rt.rego:5"),
        "the failing expression's line: {err}"
    );
    s.clear_requests();
    let (code, _, err) = run(&["apply", &m, "--policy", &p, "--auto-approve"], Some(&s));
    assert_eq!(code, Some(1), "{err}");
    assert!(mutations(&s).is_empty());
}

/// A rule that asks for more memory than the policy limit ends the run with exit 1, naming the
/// rule and its file:line; apply changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_over_the_memory_limit_fails_closed() {
    let s = sim(classic()).await;
    let big = "package cdcform\n\ndeny_big contains msg if {\n    xs := numbers.range(1, 100000000)\n    count(xs) > 0\n    msg := \"big\"\n}\n";
    let c = Case::new(&[("big.rego", big), ("warn.rego", WARN)]);
    let (m, p) = (c.s("feeds.yaml"), c.s("policy"));
    for cmd in ["plan", "validate"] {
        let sim = (cmd == "plan").then_some(&s);
        let (code, out, err) = run(&[cmd, &m, "--policy", &p], sim);
        assert_eq!(code, Some(1), "{cmd}: {out}{err}");
        assert!(
            err.contains("cdcform.deny_big") && err.contains("big.rego:3"),
            "{cmd}: {err}"
        );
        assert!(err.contains("memory limit of 256 MiB"), "{cmd}: {err}");
    }
    s.clear_requests();
    let (code, _, err) = run(&["apply", &m, "--policy", &p, "--auto-approve"], Some(&s));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("nothing is applied to this cluster") || err.contains("nothing was changed"),
        "{err}"
    );
    assert!(mutations(&s).is_empty(), "{:?}", mutations(&s));
    // Without the runaway rule the same run passes its policies.
    std::fs::remove_file(c.path("policy").join("big.rego")).unwrap();
    let (code, out, err) = run(&["plan", &m, "--policy", &p], Some(&s));
    assert_eq!(code, Some(0), "{out}{err}");
}

/// Every secret position of tests/it/secrets.rs, dumped whole by a policy into its messages.
const SECRET_FEEDS: &str = r#"changefeeds:
  - id: orders
    sink_uri: "kafka://127.0.0.1:9092/orders?protocol=canal-json&sasl-user=cdc&sasl-password=${SECRET}"
    replica_config:
      sink:
        kafka_config:
          sasl_password: "${SECRET}"
  - id: reporting
    sink_uri: "mysql://root:${SECRET}@127.0.0.1:3306/"
    replica_config:
      consistent:
        level: eventual
        storage: "s3://redo/r?access-key=AKIAEXAMPLE&secret-access-key=${SECRET}"
"#;

const DUMP: &str = "package cdcform\n\nwarn contains msg if {\n    msg := json.marshal(input)\n}\n\ndeny_dump contains json.marshal(e) if {\n    some e in input.entries\n    e.id == \"never\"\n}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_policy_input_or_output() {
    let s = sim(classic()).await;
    // Live first, so that the input carries `live` configs read back from the server.
    converge(
        &s,
        &manifests(&SECRET_FEEDS.replace("${SECRET}", "${CANARY}")),
    )
    .await;
    let c = Case::new(&[("dump.rego", DUMP)]);
    // A change to each, so that each is an entry with desired and live.
    let changed = SECRET_FEEDS.replace("protocol=canal-json", "protocol=open-protocol")
        + "      enable_sync_point: true\n";
    std::fs::write(c.path("feeds.yaml"), changed).unwrap();
    let (m, p, saved) = (c.s("feeds.yaml"), c.s("policy"), c.s("p.plan"));
    let mut seen = String::new();
    for fmt in ["human", "json", "markdown"] {
        let (code, out, err) = run(
            &["plan", &m, "--policy", &p, "--format", fmt, "--out", &saved],
            Some(&s),
        );
        assert_eq!(code, Some(0), "{out}{err}");
        seen.push_str(&out);
        seen.push_str(&err);
        seen.push_str(&std::fs::read_to_string(&saved).unwrap());
    }
    let (_, out, err) = run(&["validate", &m, "--policy", &p], None);
    seen.push_str(&out);
    seen.push_str(&err);
    // The saved plan's re-check evaluates the recorded policy on desired entries restored
    // from `${VAR}` references: masked the same way.
    let (_, out, err) = run(&["apply", &saved], Some(&s));
    assert!(
        out.contains("\"live\":{") && out.contains("(sensitive)"),
        "the dump ran on apply: {out}{err}"
    );
    seen.push_str(&out);
    seen.push_str(&err);
    assert!(!seen.contains(CANARY), "secret leaked:\n{seen}");
    // The dump did happen: the input is there, masked.
    assert!(
        seen.contains("\\\"live\\\"") && seen.contains("(sensitive)"),
        "{seen}"
    );
    assert!(
        seen.contains("sasl_password") && seen.contains("secret-access-key"),
        "{seen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_is_rechecked_against_a_changed_policy() {
    let s = sim(classic()).await;
    let c = Case::new(&[("warn.rego", WARN)]);
    let (m, p, saved) = (c.s("feeds.yaml"), c.s("policy"), c.s("p.plan"));
    let (code, out, err) = run(&["plan", &m, "--policy", &p, "--out", &saved], Some(&s));
    assert_eq!(code, Some(0), "{out}{err}");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    // One part, for the one cluster; its plan records the policy files it evaluated.
    let part = &file["clusters"][0]["plan"];
    let recorded = &part["plan"]["policy"]["files"][0];
    assert!(recorded["path"].as_str().unwrap().ends_with("warn.rego"));
    assert_eq!(recorded["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(part["plan"]["policy"]["warn"][0]["rule"], "warn_creates");
    // The policy file now also denies; apply of the saved plan (no --policy) re-evaluates it.
    c.write_policy(
        "warn.rego",
        &format!("{WARN}\n{}", IDS.trim_start_matches("package cdcform\n")),
    );
    s.clear_requests();
    let (code, out, err) = run(&["apply", &saved], Some(&s));
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("warn.rego changed since"), "{err}");
    assert!(
        out.contains("deny_id: orders does not start with team-"),
        "{out}"
    );
    assert!(mutations(&s).is_empty(), "{:?}", mutations(&s));
    // A policy file that is gone fails closed too.
    std::fs::remove_file(c.path("policy").join("warn.rego")).unwrap();
    let (code, _, err) = run(&["apply", &saved], Some(&s));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot read policy"), "{err}");
    assert!(mutations(&s).is_empty());
}

#[test]
fn validate_time_policies_work_offline() {
    let c = Case::new(&[("ids.rego", IDS)]);
    let (m, p) = (c.s("feeds.yaml"), c.s("policy"));
    // No server anywhere: the default address is never dialled by validate.
    let (code, out, err) = run(&["validate", &m, "--policy", &p], None);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("deny_id: orders does not start with team-"),
        "{out}"
    );
    // `[policy] paths` of cdcform.toml, per cluster, with the examples: the id rule fires.
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/policies");
    std::fs::write(
        c.path("cdcform.toml"),
        format!(
            "[clusters.prod]\nserver = \"http://127.0.0.1:9\"\npaths = [\"feeds.yaml\"]\n[clusters.prod.policy]\npaths = [{:?}]\n",
            examples.to_str().unwrap()
        ),
    )
    .unwrap();
    let (code, out, err) = run(&["validate", "--config", &c.s("cdcform.toml")], None);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("deny_id_prefix"), "{out}");
    std::fs::write(
        c.path("feeds.yaml"),
        MANIFEST.replace("orders", "team-pay-orders"),
    )
    .unwrap();
    let (code, out, err) = run(&["validate", "--config", &c.s("cdcform.toml")], None);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("Policy: 0 deny, 0 warn (6 files)"), "{out}");
}

#[test]
fn example_policies_pass_their_own_tests() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/policies");
    let (code, out, err) = run(&["policy", "test", examples.to_str().unwrap()], None);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains(" passed, 0 failed"), "{out}");
    assert!(
        out.lines().filter(|l| l.starts_with("PASS")).count() >= 12,
        "{out}"
    );
    // A failing test fails the command.
    let c = Case::new(&[
        ("ids.rego", IDS),
        ("ids_test.rego", "package cdcform_test\n\nimport data.cdcform\n\ntest_wrong if {\n    count(cdcform.deny_id) == 0 with input as {\"entries\": [{\"id\": \"x\", \"action\": \"create\"}]}\n}\n"),
    ]);
    let (code, out, _) = run(&["policy", "test", &c.s("policy")], None);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAIL  cdcform_test.test_wrong") && out.contains("ids_test.rego:5"),
        "{out}"
    );
}
