//! Every guard on every path to a cluster, as one matrix. The paths: a fresh plan and apply of
//! one cluster, of several, a saved plan of one cluster and of several, and reconcile
//! `--self-heal`. The guards: a policy deny (from cdcform.toml and from `--policy`), a blocked
//! entry, credentials the server wants, a saved plan gone stale, and a server that is not the
//! named cluster's (`CDCFORM_SERVER`, `--server`). Every cell must exit 1, say the same words,
//! and change nothing on any simulator; a server guard must send nothing at all.

use cdcform::simulator::{SimConfig, Simulator};

use crate::harness::*;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Guard {
    PolicyToml,
    PolicyFlag,
    Blocked,
    Credentials,
    Stale,
    ServerEnv,
    ServerFlag,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Route {
    Fresh,
    FreshSeveral,
    Saved,
    SavedSeveral,
    Reconcile,
}

const ROUTES: [Route; 5] = [
    Route::Fresh,
    Route::FreshSeveral,
    Route::Saved,
    Route::SavedSeveral,
    Route::Reconcile,
];

impl Guard {
    /// The words every path refuses with.
    fn words(self) -> &'static str {
        match self {
            Guard::PolicyToml | Guard::PolicyFlag => "policy violation(s) (deny)",
            Guard::Blocked => "changefeed(s) blocked (default/cf-00001)",
            Guard::Credentials => "the server wants basic-auth credentials and none were given",
            Guard::Stale => "stale plan: ",
            Guard::ServerEnv => ", but CDCFORM_SERVER says http://127.0.0.1:",
            Guard::ServerFlag => ", but --server says http://127.0.0.1:",
        }
    }

    /// Whether the guard exists on a route: staleness is a saved plan's; reconcile takes no
    /// `--policy` (cdcform.toml's policies hold there).
    fn applies(self, r: Route) -> bool {
        match self {
            Guard::Stale => matches!(r, Route::Saved | Route::SavedSeveral),
            Guard::PolicyFlag => r != Route::Reconcile,
            _ => true,
        }
    }
}

const ALLOW: &str =
    "package cdcform\n\nwarn_never contains msg if {\n    false\n    msg := \"x\"\n}\n";
const DENY: &str = "package cdcform\n\ndeny_creates contains msg if {\n    some e in input.entries\n    e.action == \"create\"\n    msg := sprintf(\"%s would be created\", [e.id])\n}\n";

struct World {
    dir: tempfile::TempDir,
    east: Simulator,
    west: Simulator,
    /// A server that is neither cluster's: the wrong-server guards point here.
    other: Simulator,
}

impl World {
    async fn new(guard: Guard) -> World {
        let cfg = SimConfig {
            changefeeds: 1,
            basic_auth: (guard == Guard::Credentials).then(|| ("admin".into(), CANARY.into())),
            ..classic()
        };
        let (east, west, other) = (sim(cfg.clone()).await, sim(cfg).await, sim(classic()).await);
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("feeds")).unwrap();
        std::fs::create_dir_all(d.join("policy")).unwrap();
        std::fs::write(d.join("policy/p.rego"), ALLOW).unwrap();
        let mut feeds =
            "changefeeds:\n  - id: team-a\n    sink_uri: \"blackhole://\"\n".to_string();
        if guard == Guard::Blocked {
            feeds.push_str("  - id: cf-00001\n    state: absent\n    sink_uri: \"blackhole://\"\n");
        }
        std::fs::write(d.join("feeds/all.yaml"), feeds).unwrap();
        let policy = match guard {
            Guard::PolicyToml => "[policy]\npaths = [\"policy\"]\n\n",
            _ => "",
        };
        std::fs::write(
            d.join("cdcform.toml"),
            format!(
                "paths = [\"feeds\"]\ntimeout = \"2s\"\nprotected = [\"cf-*\"]\n{policy}[clusters.east]\nserver = \"{}\"\n\n[clusters.west]\nserver = \"{}\"\n",
                east.url(),
                west.url()
            ),
        )
        .unwrap();
        World {
            dir,
            east,
            west,
            other,
        }
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
        let mut c = cdcform();
        c.current_dir(self.dir.path())
            .args(args)
            .env("CDCFORM_RETRY_FOR", "1s");
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!text.contains(CANARY), "a secret was printed:\n{text}");
        (o.status.code(), text)
    }

    fn sims(&self) -> [&Simulator; 3] {
        [&self.east, &self.west, &self.other]
    }

    fn clear(&self) {
        for s in self.sims() {
            s.clear_requests();
        }
    }
}

/// The saved plan of a route, made before the guard is armed (a guard must hold at apply time
/// whatever held when the plan was made).
fn save(w: &World, route: Route) -> Option<&'static str> {
    let (args, file): (&[&str], _) = match route {
        Route::Saved => (&["plan", "--cluster", "east", "--out", "s.plan"], "s.plan"),
        Route::SavedSeveral => (&["plan", "--all-clusters", "--out", "f.plan"], "f.plan"),
        _ => return None,
    };
    let (code, text) = w.run(args, &[]);
    assert!(matches!(code, Some(0 | 1)), "{route:?}: {text}");
    assert!(
        w.dir.path().join(file).exists(),
        "{route:?}: no plan saved\n{text}"
    );
    Some(file)
}

/// Arm the guard just before the guarded command.
async fn arm(w: &World, guard: Guard) {
    match guard {
        Guard::PolicyToml | Guard::PolicyFlag => {
            std::fs::write(w.dir.path().join("policy/p.rego"), DENY).unwrap()
        }
        // Someone else creates what the plan would have created.
        Guard::Stale => {
            for s in [&w.east, &w.west] {
                let req = cdcform::ticdc::models::ChangefeedConfig {
                    changefeed_id: "team-a".into(),
                    sink_uri: "blackhole://".into(),
                    ..Default::default()
                };
                client(s)
                    .create_changefeed("default", &req)
                    .await
                    .expect("out-of-band create");
                crate::harness::wait_visible(&client(s), "default", "team-a").await;
            }
        }
        _ => {}
    }
}

/// The guarded commands of a route (a fresh route plans and applies; the others apply).
fn commands(route: Route, saved: Option<&str>) -> Vec<Vec<String>> {
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match route {
        Route::Fresh => vec![
            v(&["plan", "--cluster", "east"]),
            v(&["apply", "--cluster", "east", "--auto-approve"]),
        ],
        Route::FreshSeveral => vec![
            v(&["plan", "--all-clusters"]),
            v(&["apply", "--all-clusters", "--auto-approve"]),
        ],
        Route::Saved | Route::SavedSeveral => vec![v(&["apply", saved.unwrap()])],
        Route::Reconcile => vec![v(&["reconcile", "--once", "--self-heal", "--all-clusters"])],
    }
}

async fn cell(guard: Guard, route: Route) {
    let w = World::new(guard).await;
    let saved = save(&w, route);
    arm(&w, guard).await;
    w.clear();
    let other = w.other.url();
    for mut args in commands(route, saved) {
        let mut env = vec![];
        match guard {
            Guard::ServerEnv => env.push(("CDCFORM_SERVER", other.as_str())),
            Guard::ServerFlag => args.extend(["--server".to_string(), other.clone()]),
            Guard::PolicyFlag => args.extend(["--policy".to_string(), "policy".to_string()]),
            _ => {}
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, text) = w.run(&argv, &env);
        let at = format!("{guard:?} on {route:?} (`cdcform {}`)", argv.join(" "));
        assert_eq!(code, Some(1), "{at}: exit status\n{text}");
        assert!(
            text.contains(guard.words()),
            "{at}: wanted {:?}\n{text}",
            guard.words()
        );
        for s in w.sims() {
            assert_eq!(
                mutations(s),
                Vec::<String>::new(),
                "{at}: a change was made"
            );
        }
        if matches!(guard, Guard::ServerEnv | Guard::ServerFlag) {
            assert!(
                w.other.requests().is_empty(),
                "{at}: the wrong server was asked"
            );
        }
    }
}

async fn every_route(guard: Guard) {
    for route in ROUTES.into_iter().filter(|r| guard.applies(*r)) {
        cell(guard, route).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_deny_from_cdcform_toml_holds_every_route() {
    every_route(Guard::PolicyToml).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_deny_from_the_flag_holds_every_route() {
    every_route(Guard::PolicyFlag).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_entry_holds_every_route() {
    every_route(Guard::Blocked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_credentials_hold_every_route() {
    every_route(Guard::Credentials).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_saved_plan_is_refused_on_every_saved_route() {
    every_route(Guard::Stale).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_server_in_the_environment_is_refused_on_every_route() {
    every_route(Guard::ServerEnv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_server_on_the_command_line_is_refused_on_every_route() {
    every_route(Guard::ServerFlag).await;
}

/// The saved plan knows its clusters: `apply PLAN` needs no `--cluster` although cdcform.toml
/// defines two and chooses none, and a flag that would change what was planned is refused,
/// naming it, before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_applies_where_it_was_made_and_refuses_planning_flags() {
    let w = World::new(Guard::Blocked).await;
    std::fs::write(
        w.dir.path().join("feeds/all.yaml"),
        "changefeeds:\n  - id: team-a\n    sink_uri: \"blackhole://\"\n",
    )
    .unwrap();
    let (code, text) = w.run(&["plan", "--cluster", "east", "--out", "s.plan"], &[]);
    assert_eq!(code, Some(0), "{text}");
    w.clear();
    let fixed = |f: &str| format!("{f} cannot be given with the saved plan s.plan");
    for (flag, words) in [
        (&["--prune"][..], fixed("--prune")),
        (&["--replace", "team-a"], fixed("--replace")),
        (&["--namespace", "team"], fixed("--namespace")),
        (&["--gc-ttl", "1h"], fixed("--gc-ttl")),
        (&["--no-table-impact"], fixed("--no-table-impact")),
        (&["feeds"], fixed("manifest paths")),
        (
            &["--cluster", "west"],
            "s.plan was made for cluster(s) east, but --cluster names west".into(),
        ),
        (
            &["--all-clusters"],
            "s.plan was made for cluster(s) east, but --all-clusters names east, west".into(),
        ),
    ] {
        let mut args = vec!["apply", "s.plan", "--auto-approve"];
        args.extend_from_slice(flag);
        let (code, text) = w.run(&args, &[]);
        assert_eq!(code, Some(1), "{flag:?}: {text}");
        assert!(text.contains(&words), "{flag:?}: {text}");
        for s in w.sims() {
            assert!(s.requests().is_empty(), "{flag:?}: something was sent");
        }
    }
    // The same `--cluster` the plan was made with is no change.
    let (code, text) = w.run(&["apply", "s.plan", "--cluster", "east"], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("══ cluster east ({}) ══", w.east.url())),
        "{text}"
    );
    assert_eq!(mutations(&w.east).len(), 1, "{:?}", mutations(&w.east));
    assert!(mutations(&w.west).is_empty());
}

/// `--policy DIR` beside `[policy] paths = [DIR]` is the same policy, loaded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_policy_from_the_flag_and_cdcform_toml_loads_once() {
    let w = World::new(Guard::PolicyToml).await;
    arm(&w, Guard::PolicyToml).await;
    let (code, text) = w.run(&["plan", "--cluster", "east", "--policy", "policy"], &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("1 policy violation(s) (deny)"), "{text}");
    assert!(!text.contains("cannot read policy"), "{text}");
}

/// Under `--namespace team`, `{id: x}` and `{id: x, namespace: team}` are one changefeed
/// named twice: refused as a duplicate, not planned twice.
#[test]
fn duplicates_are_found_in_the_configured_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.yaml");
    std::fs::write(
        &m,
        "changefeeds:\n  - id: x\n    sink_uri: \"blackhole://\"\n  - id: x\n    namespace: team\n    sink_uri: \"blackhole://\"\n",
    )
    .unwrap();
    let m = m.to_str().unwrap();
    let o = cdcform()
        .args(["validate", m])
        .env("CDCFORM_NAMESPACE", "team")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("duplicate changefeed id `x` in namespace `team`"),
        "{err}"
    );
    let ok = cdcform().args(["validate", m]).output().unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "in `default` they are two changefeeds"
    );
}
