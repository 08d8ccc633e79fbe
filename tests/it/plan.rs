//! `plan` against the simulator: every action, every perpetual-diff trap (one test each), on
//! every profile, and apply → plan is empty for every example.

use serde_json::json;

use crate::harness::*;
use cdcform::plan::PlanOptions;
use cdcform::plan::{Action, ChangeKind};
use cdcform::simulator::SimConfig;

fn entry<'a>(p: &'a cdcform::plan::Plan, id: &str) -> &'a cdcform::plan::Entry {
    p.entries
        .iter()
        .find(|e| e.key.id == id)
        .unwrap_or_else(|| panic!("no entry for {id}"))
}

/// Apply `yaml`, then the next plan must be empty — on every profile.
async fn no_perpetual_diff(yaml: &str) {
    let desired = manifests(yaml);
    for (name, cfg) in profiles() {
        let s = sim(cfg).await;
        converge(&s, &desired).await;
        assert_empty(&plan(&s, &desired).await, name);
        s.shutdown().await;
    }
}

#[tokio::test]
async fn trap_server_fills_defaults() {
    no_perpetual_diff("changefeeds:\n  - id: defaults\n    sink_uri: \"blackhole://\"\n    replica_config:\n      mounter:\n        worker_num: 8\n").await;
}

#[tokio::test]
async fn trap_scheme_stripping_mysql() {
    no_perpetual_diff(
        "changefeeds:\n  - id: to-mysql\n    sink_uri: \"mysql://root:${MYSQL_PASSWORD}@127.0.0.1:3306/\"\n    replica_config:\n      enable_sync_point: true\n      sink:\n        safe_mode: true\n",
    )
    .await;
}

#[tokio::test]
async fn trap_protocol_copied_from_uri() {
    no_perpetual_diff("changefeeds:\n  - id: to-kafka\n    sink_uri: \"kafka://127.0.0.1:9092/orders?protocol=canal-json\"\n").await;
}

#[tokio::test]
async fn trap_durations_as_nanoseconds() {
    no_perpetual_diff(
        "changefeeds:\n  - id: durations\n    sink_uri: \"mysql://root@127.0.0.1:3306/\"\n    replica_config:\n      enable_sync_point: true\n      sync_point_interval: \"5m\"\n      sync_point_retention: 2h\n",
    )
    .await;
}

#[tokio::test]
async fn trap_masked_passwords_and_sorted_query() {
    let yaml = "changefeeds:\n  - id: sasl\n    sink_uri: \"kafka://127.0.0.1:9092/t?protocol=canal-json&sasl-user=u&sasl-password=${KAFKA_PASSWORD}&time-zone=Asia/Shanghai\"\n";
    no_perpetual_diff(yaml).await;
    // The simulator masks with the client's masking code, so an empty plan alone cannot catch
    // a masker that is wrong on both sides: what the server returns is checked against the
    // literal TiCDC answers with (tiflow pkg/util/uri.go `MaskSinkURI`: the password
    // `xxxxx`, the query re-encoded by Go's `url.Values.Encode`, keys sorted, `/` escaped).
    let desired = manifests(yaml);
    for (name, cfg) in profiles() {
        let s = sim(cfg).await;
        converge(&s, &desired).await;
        let got = client(&s)
            .get_changefeed("default", "sasl")
            .await
            .unwrap()
            .sink_uri;
        assert_eq!(
            got,
            "kafka://127.0.0.1:9092/t?protocol=canal-json&sasl-password=xxxxx&sasl-user=u&time-zone=Asia%2FShanghai",
            "{name}"
        );
        s.shutdown().await;
    }
}

#[tokio::test]
async fn trap_blackhole_reserialised() {
    no_perpetual_diff("changefeeds:\n  - id: bh\n    sink_uri: \"blackhole://\"\n").await;
}

#[tokio::test]
async fn trap_storage_sink_with_csv() {
    no_perpetual_diff(
        "changefeeds:\n  - id: to-s3\n    sink_uri: \"s3://bucket/prefix?protocol=csv\"\n    replica_config:\n      sink:\n        csv:\n          delimiter: \"|\"\n",
    )
    .await;
}

#[tokio::test]
async fn trap_runtime_fields_move_but_plan_stays_empty() {
    let desired = manifests("changefeeds:\n  - id: moving\n    sink_uri: \"blackhole://\"\n");
    let s = sim(classic()).await;
    converge(&s, &desired).await;
    let c = client(&s);
    let before = c
        .get_changefeed("default", "moving")
        .await
        .unwrap()
        .checkpoint_ts;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let after = c
        .get_changefeed("default", "moving")
        .await
        .unwrap()
        .checkpoint_ts;
    assert!(after > before, "the simulator's checkpoint advances");
    assert_empty(&plan(&s, &desired).await, "after the checkpoint moved");
}

#[tokio::test]
async fn trap_paused_changefeed_state_is_stable() {
    no_perpetual_diff(
        "changefeeds:\n  - id: held\n    sink_uri: \"blackhole://\"\n    state: paused\n",
    )
    .await;
}

#[tokio::test]
async fn every_action_on_every_profile() {
    for (name, cfg) in profiles() {
        let s = sim(cfg).await;
        let initial = manifests(
            "changefeeds:\n  - id: keep\n    sink_uri: \"blackhole://\"\n  - id: edit\n    sink_uri: \"blackhole://\"\n  - id: stop\n    sink_uri: \"blackhole://\"\n  - id: start\n    sink_uri: \"blackhole://\"\n    state: paused\n  - id: drop\n    sink_uri: \"blackhole://\"\n",
        );
        let first = converge(&s, &initial).await;
        assert_eq!(first.summary.create, 5, "{name}");
        let next = manifests(
            "changefeeds:\n  - id: keep\n    sink_uri: \"blackhole://\"\n  - id: edit\n    sink_uri: \"blackhole://\"\n    replica_config:\n      mounter:\n        worker_num: 4\n  - id: stop\n    sink_uri: \"blackhole://\"\n    state: paused\n  - id: start\n    sink_uri: \"blackhole://\"\n  - id: drop\n    state: absent\n  - id: fresh\n    sink_uri: \"blackhole://\"\n",
        );
        let p = plan(&s, &next).await;
        assert_eq!(
            entry(&p, "edit").action,
            Action::Update {
                pause_first: true,
                resume_after: true
            },
            "{name}"
        );
        let change = &entry(&p, "edit").changes[0];
        assert_eq!(
            (change.path.as_str(), change.kind),
            ("replica_config.mounter.worker_num", ChangeKind::Manifest)
        );
        assert_eq!(entry(&p, "stop").action, Action::Pause, "{name}");
        assert_eq!(entry(&p, "start").action, Action::Resume, "{name}");
        assert_eq!(entry(&p, "drop").action, Action::Delete, "{name}");
        assert_eq!(
            entry(&p, "fresh").action,
            Action::Create { then_pause: false },
            "{name}"
        );
        assert_eq!(
            p.summary.line(),
            "Plan: 1 to create, 1 to update, 1 to pause, 1 to resume, 1 to delete. 1 unchanged.",
            "{name}"
        );
        let r = run_apply(&s, &p).await;
        assert!(r.all_ok(), "{name}: {}", cdcform::apply::summary_text(&r));
        assert_empty(&plan(&s, &next).await, name);
        // Replace only when asked.
        let o = PlanOptions {
            replace: vec!["keep".into()],
            ..PlanOptions::default()
        };
        let p = plan_with(&s, &next, &o).await;
        assert_eq!(entry(&p, "keep").action, Action::Replace, "{name}");
        s.shutdown().await;
    }
}

#[tokio::test]
async fn out_of_band_edit_is_shown_as_a_reset() {
    let desired = manifests("changefeeds:\n  - id: drift\n    sink_uri: \"kafka://127.0.0.1:9092/t?protocol=canal-json\"\n");
    let s = sim(classic()).await;
    converge(&s, &desired).await;
    let c = client(&s);
    let mut cfg = c
        .get_changefeed("default", "drift")
        .await
        .unwrap()
        .config
        .unwrap();
    cfg["sink"]["encoder_concurrency"] = json!(64);
    c.pause_changefeed("default", "drift").await.unwrap();
    wait_stopped(&c, "drift").await;
    c.update_changefeed(
        "default",
        "drift",
        &cdcform::ticdc::models::ChangefeedConfig {
            replica_config: Some(cfg),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    c.resume_changefeed("default", "drift", 0).await.unwrap();
    wait_state(&c, "drift", "normal").await;
    let p = eventually_changes(&s, &desired).await;
    let e = entry(&p, "drift");
    let reset = e
        .changes
        .iter()
        .find(|c| c.path == "replica_config.sink.encoder_concurrency")
        .unwrap_or_else(|| {
            panic!(
                "reset not shown:\n{}",
                cdcform::render::plan::human(&p, false, true)
            )
        });
    assert_eq!(reset.kind, ChangeKind::Reset);
    assert_eq!(
        (reset.before.clone(), reset.after.clone()),
        (Some(json!(64)), Some(json!(32)))
    );
}

async fn wait_stopped(c: &cdcform::ticdc::Client, id: &str) {
    wait_state(c, id, "stopped").await
}

async fn wait_state(c: &cdcform::ticdc::Client, id: &str, state: &str) {
    for _ in 0..200 {
        if c.changefeed_status("default", id).await.unwrap().state == state {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{id} never became {state}");
}

/// Classic servers show an update after the next owner tick.
async fn eventually_changes(
    s: &cdcform::simulator::Simulator,
    desired: &[cdcform::manifest::DesiredChangefeed],
) -> cdcform::plan::Plan {
    for _ in 0..100 {
        let p = plan(s, desired).await;
        if p.summary.has_changes() {
            return p;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the change never showed up");
}

#[tokio::test]
async fn password_change_seen_on_classic_and_declared_unknowable_on_newarch() {
    let with = |pw: &str| {
        manifests(&format!(
            "changefeeds:\n  - id: pw\n    sink_uri: \"mysql://root:{pw}@127.0.0.1:3306/\"\n"
        ))
    };
    for (name, cfg, detectable) in [("classic", classic(), true), ("newarch", newarch(), false)] {
        let s = sim(cfg).await;
        converge(&s, &with("old-secret")).await;
        let p = plan(&s, &with("new-secret")).await;
        if detectable {
            let e = entry(&p, "pw");
            assert_eq!(e.changes[0].path, "sink_uri", "{name}");
            assert_eq!(e.changes[0].after, Some(json!("(sensitive)")), "{name}");
        } else {
            assert!(!p.summary.has_changes(), "{name}");
            assert!(
                p.notes.iter().any(|n| n.contains("cannot be compared")),
                "{name}: {:?}",
                p.notes
            );
        }
        s.shutdown().await;
    }
}

/// #29 item 15: on a new-architecture server, the note that a password cannot be compared is
/// said once for all the changefeeds it concerns, not once per changefeed.
#[tokio::test]
async fn a_note_shared_by_many_changefeeds_is_said_once() {
    let s = sim(newarch()).await;
    let yaml: String = (0..5)
        .map(|i| format!("  - id: pw-{i}\n    sink_uri: \"mysql://root:pw@127.0.0.1:3306/\"\n"))
        .collect();
    let desired = manifests(&format!("changefeeds:\n{yaml}"));
    converge(&s, &desired).await;
    let p = plan(&s, &desired).await;
    let notes: Vec<&String> = p
        .notes
        .iter()
        .filter(|n| n.contains("cannot be compared"))
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0]
            .starts_with("5 changefeeds (default/pw-0, default/pw-1, default/pw-2 and 2 more): "),
        "{}",
        notes[0]
    );
    s.shutdown().await;
}

#[tokio::test]
async fn blocked_entries_explain_themselves() {
    let s = sim(classic()).await;
    let desired = manifests("changefeeds:\n  - id: fixed-start\n    sink_uri: \"blackhole://\"\n  - id: broken\n    sink_uri: \"blackhole://\"\n");
    converge(&s, &desired).await;
    let c = client(&s);
    let start = c
        .get_changefeed("default", "fixed-start")
        .await
        .unwrap()
        .start_ts;
    // Failed long ago: its checkpoint is two days behind, past the 24h GC TTL.
    let old = start - ((48 * 3600 * 1000) << 18);
    // State first: a running changefeed's checkpoint follows the clock, a failed one's stays.
    s.set_state(
        "default",
        "broken",
        "failed",
        Some(("CDC:ErrGCTTLExceeded", "gc ttl exceeded")),
    );
    s.set_checkpoint("default", "broken", old);
    let changed = manifests(&format!(
        "changefeeds:\n  - id: fixed-start\n    sink_uri: \"blackhole://\"\n    start_ts: {}\n  - id: broken\n    sink_uri: \"blackhole://\"\n",
        start - 1000
    ));
    let p = plan(&s, &changed).await;
    let b = entry(&p, "fixed-start")
        .blocked
        .clone()
        .expect("start_ts change is blocked");
    assert!(
        b.reason.contains("create-only") && b.hint.contains("--replace fixed-start"),
        "{b:?}"
    );
    let b = entry(&p, "broken").blocked.clone().unwrap_or_else(|| {
        panic!(
            "failed behind GC is not blocked:\n{}",
            cdcform::render::plan::human(&p, false, true)
        )
    });
    assert!(b.reason.contains("GC TTL"), "{b:?}");
    assert_eq!(p.summary.blocked, 2);
}

/// #29 item 11: one definition of "managed" for plan, status and reconcile: an id matching
/// `manage`, or any id when `manage` is unset. Changefeeds in no manifest are then "managed but
/// in no manifest" (kept; `--prune` deletes only inside a `manage` that is set), and status
/// marks them managed; with `manage` set, the others are unmanaged in both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_means_the_same_in_plan_and_status() {
    let s = sim(classic()).await;
    converge(
        &s,
        &manifests("changefeeds:\n  - id: theirs\n    sink_uri: \"blackhole://\"\n"),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("f.yaml"),
        "changefeeds:\n  - id: ours\n    sink_uri: \"blackhole://\"\n",
    )
    .unwrap();
    let url = s.url();
    let run = |args: &[&str]| {
        let (code, out, err) = run_cli(d, &[args, &["--server", &url]].concat(), &[]);
        assert_eq!(code, Some(0), "{out}{err}");
        out
    };
    let status_managed = |out: &str| -> Vec<(String, bool)> {
        let v: serde_json::Value = serde_json::from_str(out).unwrap();
        v["changefeeds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap().to_string(),
                    c["managed"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    // No `manage`: every changefeed is managed.
    let plan = run(&["plan", "f.yaml", "--prune"]);
    assert!(
        plan.contains("1 managed but in no manifest (kept"),
        "{plan}"
    );
    assert!(plan.contains("--prune deletes nothing here"), "{plan}");
    assert!(!plan.contains("unmanaged"), "{plan}");
    assert_eq!(
        plan.matches("in no manifest").count(),
        1,
        "said once: {plan}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&run(&["plan", "f.yaml", "--format", "json"])).unwrap();
    assert_eq!(json["unlisted"].as_array().unwrap().len(), 1);
    assert_eq!(json["unmanaged"].as_array().unwrap().len(), 0);
    let status = run(&["status", "--format", "json"]);
    assert_eq!(status_managed(&status), vec![("theirs".to_string(), true)]);
    // `manage` set: `theirs` is outside it, in both.
    std::fs::write(d.join("cdcform.toml"), "manage = [\"ours*\"]\n").unwrap();
    let plan = run(&["plan", "f.yaml"]);
    assert!(
        plan.contains("1 unmanaged (in no manifest, outside `manage`"),
        "{plan}"
    );
    let status = run(&["status", "--format", "json"]);
    assert_eq!(status_managed(&status), vec![("theirs".to_string(), false)]);
    s.shutdown().await;
}

#[tokio::test]
async fn every_example_applies_and_then_plans_empty() {
    let desired = examples();
    assert!(
        desired.len() >= 5,
        "examples/changefeeds holds the documented set"
    );
    for (name, cfg) in profiles() {
        let s = sim(cfg).await;
        converge(&s, &desired).await;
        assert_empty(&plan(&s, &desired).await, name);
        s.shutdown().await;
    }
}

/// `--prune` deletes live changefeeds in no manifest but inside `manage`; `protected` ids are
/// never deleted (blocked instead); ids outside `manage` are unmanaged and left alone. Through
/// the binary and a cdcform.toml, end to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_deletes_managed_unlisted_and_never_protected() {
    let s = sim(classic()).await;
    let all = "changefeeds:\n  - id: orders-a\n    sink_uri: \"blackhole://\"\n  - id: orders-old\n    sink_uri: \"blackhole://\"\n  - id: orders-keep\n    sink_uri: \"blackhole://\"\n  - id: theirs\n    sink_uri: \"blackhole://\"\n";
    converge(&s, &manifests(all)).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cdcform.toml"),
        format!(
            "manage = [\"orders-*\"]\nprotected = [\"orders-keep\"]\n[clusters.sim]\nserver = \"{}\"\n",
            s.url()
        ),
    )
    .unwrap();
    let m = dir.path().join("feeds.yaml");
    std::fs::write(
        &m,
        "changefeeds:\n  - id: orders-a\n    sink_uri: \"blackhole://\"\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let o = cdcform()
            .current_dir(dir.path())
            .args([
                "plan",
                "feeds.yaml",
                "--cluster",
                "sim",
                "--detailed-exitcode",
            ])
            .args(extra)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).to_string(),
        )
    };
    // Without --prune: nothing to do; the unlisted ones are named (-v), `theirs` is unmanaged.
    let (code, out) = run(&["-v"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("orders-old") && out.contains("--prune"),
        "{out}"
    );
    assert!(out.contains("default/theirs"), "{out}");
    // With --prune: orders-old is deleted, orders-keep is blocked, theirs untouched.
    // A blocked entry fails the plan (exit 1, also with --detailed-exitcode), as it will fail
    // the apply, after the whole plan was printed.
    let (code, out) = run(&["--prune"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("Plan: 0 to create"), "{out}");
    assert!(out.contains("- default/orders-old  delete"), "{out}");
    assert!(out.contains("! default/orders-keep  blocked"), "{out}");
    assert!(out.contains("protected"), "{out}");
    assert!(!out.contains("default/theirs  delete"), "{out}");
    s.clear_requests();
    let o = cdcform()
        .current_dir(dir.path())
        .args([
            "apply",
            "feeds.yaml",
            "--cluster",
            "sim",
            "--prune",
            "--auto-approve",
        ])
        .output()
        .unwrap();
    // The blocked entry holds the whole apply, as it fails the plan: nothing is deleted, not
    // even the safe part (a reviewer fixes the plan first, as with terraform's errors).
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "1 changefeed(s) blocked (default/orders-keep); nothing is applied to this cluster"
        ),
        "{err}"
    );
    let c = client(&s);
    let left: Vec<String> = c
        .list_changefeeds("default", Some("all"))
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    for id in ["orders-a", "orders-keep", "orders-old", "theirs"] {
        assert!(left.contains(&id.to_string()), "{id} is gone: {left:?}");
    }
    assert_eq!(mutations(&s), Vec::<String>::new());
}

/// The first round of reads (the server's status and the list) goes out while the manifests are
/// still loading: the manifest is a FIFO that the test fills only once the simulator has seen
/// both reads, so without the early round the plan would wait for ever (and the test fail).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_round_of_reads_starts_while_manifests_load() {
    let s = sim(classic()).await;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("feeds.yaml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.unwrap().success(), "mkfifo");
    /// Killed if the test fails while the plan waits on the FIFO.
    struct Kill(Option<std::process::Child>);
    impl Drop for Kill {
        fn drop(&mut self) {
            if let Some(c) = self.0.as_mut() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("cdcform"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("CDCFORM_")) {
        cmd.env_remove(k);
    }
    let child = cmd
        .args(["plan", fifo.to_str().unwrap(), "--server", &s.url()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Kill(Some(child));
    let seen = || {
        let r = s.requests();
        let got = |p: &str| r.iter().any(|q| q.method == "GET" && q.path == p);
        got("/api/v2/status") && got("/api/v2/changefeeds")
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !seen() {
        assert!(
            std::time::Instant::now() < deadline,
            "no read reached the server while the manifests were loading: {:?}",
            s.requests()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    std::fs::write(
        &fifo,
        "changefeeds:\n  - id: orders\n    sink_uri: \"blackhole://\"\n",
    )
    .unwrap();
    let out = child.0.take().unwrap().wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("1 to create"), "{text}");
    // The early answers were used, not asked for again.
    let r = s.requests();
    let n = |p: &str| {
        r.iter()
            .filter(|q| q.method == "GET" && q.path == p)
            .count()
    };
    assert_eq!(n("/api/v2/status"), 1, "{r:?}");
    assert_eq!(n("/api/v2/changefeeds"), 1, "{r:?}");
}

/// `--prune` without `manage` can delete nothing (nothing is this repository's): the plan says
/// so instead of staying silent.
#[tokio::test]
async fn prune_without_manage_says_it_deletes_nothing() {
    let s = sim(SimConfig {
        changefeeds: 2,
        ..classic()
    })
    .await;
    let desired = manifests("changefeeds:\n  - id: a\n    sink_uri: \"blackhole://\"\n");
    let o = PlanOptions {
        prune: true,
        ..PlanOptions::default()
    };
    let p = plan_with(&s, &desired, &o).await;
    assert_eq!(p.summary.delete, 0);
    assert!(
        p.notes
            .iter()
            .any(|n| n.starts_with("--prune deletes nothing here")),
        "{:?}",
        p.notes
    );
    assert!(!plan(&s, &desired)
        .await
        .notes
        .iter()
        .any(|n| n.contains("--prune")));
}

/// A sink-scheme change (mysql:// → kafka://) shows what the new sink implies as such, not as
/// values "changed outside cdcform" that the update resets: nobody changed them.
#[tokio::test]
async fn a_new_sink_scheme_is_not_called_an_out_of_band_edit() {
    for (name, cfg) in profiles() {
        let s = sim(cfg).await;
        converge(
            &s,
            &manifests(
                "changefeeds:\n  - id: moving\n    sink_uri: \"mysql://root@127.0.0.1:3306/\"\n",
            ),
        )
        .await;
        let p = plan(
            &s,
            &manifests("changefeeds:\n  - id: moving\n    sink_uri: \"kafka://127.0.0.1:9092/t?protocol=canal-json\"\n"),
        )
        .await;
        let e = &p.entries[0];
        assert!(
            matches!(e.action, Action::Update { .. }),
            "{name}: {:?}",
            e.action
        );
        let resets: Vec<&str> = e
            .changes
            .iter()
            .filter(|c| c.kind == ChangeKind::Reset)
            .map(|c| c.path.as_str())
            .collect();
        assert!(
            resets.is_empty(),
            "{name}: called out-of-band edits: {resets:?}"
        );
        assert!(
            e.changes.iter().any(|c| c.kind == ChangeKind::Sink),
            "{name}: {:?}",
            e.changes
        );
        let text = cdcform::render::plan::human(&p, false, false);
        assert!(text.contains("as the new sink implies"), "{text}");
        assert!(!text.contains("changed outside cdcform"), "{text}");
        s.shutdown().await;
    }
}
