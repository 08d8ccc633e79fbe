//! The one set of helpers of the integration tests: simulators per profile, clients, manifests
//! from YAML text, plan/apply through the library exactly as the commands do it, the binary
//! with a clean environment, and polls for a changefeed's state.

use std::time::Duration;

use cdcform::apply::{apply, ApplyOptions, ApplyReport};
use cdcform::manifest::{self, DesiredChangefeed};
use cdcform::plan::pipeline::compute;
use cdcform::plan::Plan;
use cdcform::plan::PlanOptions;
use cdcform::settings::Settings;
use cdcform::simulator::{SimConfig, SimProfile, Simulator};
use cdcform::ticdc::{Client, ClientOptions, Version};

pub const CANARY: &str = "canary-5e1f0d";

/// The id of the plan's credentials check (`Client::check_credentials`).
pub const CREDENTIAL_PROBE: &str = "cdcform_credential_check";

/// The profiles every "no perpetual diff" test runs on.
pub fn profiles() -> Vec<(&'static str, SimConfig)> {
    let base = SimConfig {
        tick: Duration::from_millis(20),
        sink_check: false,
        ..SimConfig::default()
    };
    vec![
        (
            "classic v8.5",
            SimConfig {
                profile: SimProfile::Classic {
                    version: Version::new(8, 5, 0),
                },
                ..base.clone()
            },
        ),
        (
            "classic v8.1",
            SimConfig {
                profile: SimProfile::Classic {
                    version: Version::new(8, 1, 0),
                },
                ..base.clone()
            },
        ),
        (
            "classic v7.5",
            SimConfig {
                profile: SimProfile::Classic {
                    version: Version::new(7, 5, 0),
                },
                ..base.clone()
            },
        ),
        (
            "newarch",
            SimConfig {
                profile: SimProfile::Newarch,
                ..base
            },
        ),
    ]
}

pub fn classic() -> SimConfig {
    profiles().remove(0).1
}

pub fn newarch() -> SimConfig {
    profiles().pop().unwrap().1
}

pub async fn sim(cfg: SimConfig) -> Simulator {
    Simulator::start(cfg, "127.0.0.1:0")
        .await
        .expect("simulator starts")
}

pub fn settings(sim: &Simulator) -> Settings {
    let mut s = Settings::for_server(&sim.url());
    s.client.retry_base = Duration::from_millis(10);
    s.client.retry_for = Duration::from_secs(5);
    s
}

pub fn client(sim: &Simulator) -> Client {
    Client::new(settings(sim).client).unwrap()
}

/// Environment for manifests: `${CANARY}` and `${KAFKA_PASSWORD}` etc. resolve to the canary.
pub fn env(name: &str) -> Option<String> {
    match name {
        "MISSING" => None,
        _ => Some(CANARY.to_string()),
    }
}

pub fn manifests(yaml: &str) -> Vec<DesiredChangefeed> {
    manifest::load_str("test.yaml", yaml, &env)
        .unwrap_or_else(|d| panic!("manifest does not load: {d}"))
        .changefeeds
}

pub fn examples() -> Vec<DesiredChangefeed> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/changefeeds");
    manifest::load(&[dir], &env)
        .unwrap_or_else(|d| panic!("examples do not load: {d}"))
        .changefeeds
}

pub fn apply_options() -> ApplyOptions {
    ApplyOptions {
        wait_timeout: Duration::from_secs(20),
        poll_min: Duration::from_millis(5),
        ..ApplyOptions::default()
    }
}

pub async fn plan_with(sim: &Simulator, desired: &[DesiredChangefeed], o: &PlanOptions) -> Plan {
    let s = settings(sim);
    let c = Client::new(s.client.clone()).unwrap();
    compute(&s, &c, desired, o, Duration::from_secs(120))
        .await
        .expect("plan")
        .0
}

pub async fn plan(sim: &Simulator, desired: &[DesiredChangefeed]) -> Plan {
    plan_with(sim, desired, &PlanOptions::default()).await
}

pub async fn run_apply(sim: &Simulator, plan: &Plan) -> ApplyReport {
    let lines = std::sync::Mutex::new(Vec::<String>::new());
    let progress = |l: &str| lines.lock().unwrap().push(l.to_string());
    let report = apply(&client(sim), plan, &apply_options(), &progress).await;
    for l in lines.lock().unwrap().iter() {
        assert!(!l.contains(CANARY), "secret in progress line: {l}");
    }
    report
}

/// Plan and apply; panics with the summary if anything failed.
pub async fn converge(sim: &Simulator, desired: &[DesiredChangefeed]) -> Plan {
    let p = plan(sim, desired).await;
    let r = run_apply(sim, &p).await;
    assert!(
        r.all_ok(),
        "apply failed:\n{}",
        cdcform::apply::summary_text(&r)
    );
    crate::export::assert_export_validates(sim, desired).await;
    p
}

/// Assert a plan has nothing to do, showing it when it does.
pub fn assert_empty(p: &Plan, context: &str) {
    assert!(
        !p.summary.has_changes() && p.summary.blocked == 0,
        "{context}: plan is not empty:\n{}",
        cdcform::render::plan::human(p, false, true)
    );
}

/// The requests that change something (POST/PUT/DELETE on changefeeds), as "METHOD path".
pub fn mutations(sim: &Simulator) -> Vec<String> {
    sim.requests()
        .into_iter()
        .filter(|r| r.method != "GET" && r.path.starts_with("/api/v2/changefeeds"))
        // The plan's credentials check: a pause of an id TiCDC refuses, which changes nothing.
        .filter(|r| !r.path.contains(CREDENTIAL_PROBE))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

pub fn cdcform() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("cdcform").unwrap();
    for (k, _) in std::env::vars() {
        if k.starts_with("CDCFORM_") {
            c.env_remove(k);
        }
    }
    c.env("NO_COLOR", "1");
    c
}

/// The server profile `validate --target` and the loader use for a simulator profile.
pub fn target_of(p: &cdcform::simulator::SimProfile) -> cdcform::ticdc::ServerProfile {
    match p {
        cdcform::simulator::SimProfile::Newarch => cdcform::ticdc::ServerProfile::newarch(),
        cdcform::simulator::SimProfile::Classic { version } => {
            cdcform::ticdc::ServerProfile::classic(*version)
        }
    }
}

/// Run the binary in `dir`: exit code, stdout, stderr.
pub fn run_cli(
    dir: &std::path::Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (Option<i32>, String, String) {
    let mut c = cdcform();
    c.current_dir(dir).args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

/// Options for a client of `sim` (small retry budget, short timeouts).
pub fn options_for(sim: &Simulator) -> ClientOptions {
    let mut o = ClientOptions::new(sim.url());
    o.retry_for = Duration::from_millis(300);
    o.retry_base = Duration::from_millis(10);
    o.timeout = Duration::from_secs(10);
    o
}

pub fn client_for(sim: &Simulator) -> Client {
    Client::new(options_for(sim)).expect("client builds")
}

/// Poll GET until the changefeed shows `state` (panics after 5 s).
pub async fn wait_state(client: &Client, ns: &str, id: &str, state: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match client.get_changefeed(ns, id).await {
            Ok(cf) if cf.state_str() == state => return,
            Ok(cf) if tokio::time::Instant::now() > deadline => {
                panic!("{id}: state {:?}, wanted {state}", cf.state)
            }
            Err(e) if tokio::time::Instant::now() > deadline => {
                panic!("{id}: {e}, wanted state {state}")
            }
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Poll GET until the changefeed is visible (classic asynchrony).
pub async fn wait_visible(client: &Client, ns: &str, id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while client.get_changefeed(ns, id).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} never appeared"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A generated file (schema.json, docs/reference/*.md) must equal what the code generates now;
/// `UPDATE_SCHEMA=1` writes it instead (`cdcform::docs::REGENERATE`).
pub fn assert_fresh(relative: &str, fresh: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    if std::env::var("UPDATE_SCHEMA").as_deref() == Ok("1") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(&path, fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{relative} is stale: regenerate it with `{}`",
        cdcform::docs::REGENERATE
    );
}
