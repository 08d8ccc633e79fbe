//! Drives `cdcform::ticdc::Client` against the simulator over real HTTP on 127.0.0.1.

use std::time::Duration;

use cdcform::simulator::{FaultSpec, SimConfig, SimProfile, SimTls};
use cdcform::ticdc::error::codes;
use cdcform::ticdc::models::ChangefeedConfig;
use cdcform::ticdc::{Arch, Client, ClientError, Version};
use serde_json::json;

use crate::harness::{client_for, options_for, sim as start_sim, wait_state, wait_visible};

fn classic(tick_ms: u64) -> SimConfig {
    SimConfig {
        tick: Duration::from_millis(tick_ms),
        ..SimConfig::default()
    }
}

fn newarch() -> SimConfig {
    SimConfig {
        profile: SimProfile::Newarch,
        ..SimConfig::default()
    }
}

fn cfg(id: &str, sink: &str) -> ChangefeedConfig {
    ChangefeedConfig {
        changefeed_id: id.into(),
        sink_uri: sink.into(),
        ..Default::default()
    }
}

#[track_caller]
fn assert_api(e: &ClientError, status: u16, code: &str) {
    assert_eq!(e.status(), Some(status), "{e}");
    assert_eq!(e.code(), Some(code), "{e}");
}

/// A port on 127.0.0.1 that refuses connections.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn every_client_operation_classic() {
    let sim = start_sim(classic(0)).await;
    let c = client_for(&sim);
    let st = c.status().await.unwrap();
    assert_eq!(st.version, "v8.5.0");
    assert!(st.is_owner);
    c.health().await.unwrap();
    let caps = c.list_captures().await.unwrap();
    assert_eq!(caps.len(), 1);
    c.set_log_level("debug").await.unwrap();
    let e = c.set_log_level("loud").await.unwrap_err();
    assert_api(&e, 400, codes::API_INVALID_PARAM);
    let tso = c.tso().await.unwrap();
    assert!(tso.timestamp > 1_600_000_000_000);
    c.resign_owner().await.unwrap();
    let vt = c.verify_table(&cfg("x", "blackhole://")).await.unwrap();
    assert!(vt.eligible_tables.is_some());

    assert!(c
        .list_changefeeds("default", None)
        .await
        .unwrap()
        .is_empty());
    let created = c
        .create_changefeed("default", &cfg("cf1", "blackhole://"))
        .await
        .unwrap();
    assert_eq!(created.state_str(), "normal");
    assert_eq!(created.sink_uri, "blackhole:");
    assert_eq!(created.checkpoint_ts, created.start_ts);
    assert!(created.start_ts >= tso.compose());

    let got = c.get_changefeed("default", "cf1").await.unwrap();
    assert_eq!(got.namespace.as_deref(), Some("default"));
    assert_eq!(
        got.config.as_ref().unwrap()["mounter"]["worker_num"],
        json!(16)
    );
    let meta = c.meta_info("default", "cf1").await.unwrap();
    assert_eq!(meta.sink_uri, "blackhole://");
    let s = c.changefeed_status("default", "cf1").await.unwrap();
    assert_eq!(s.state, "normal");
    let sy = c.synced("default", "cf1").await.unwrap();
    assert!(!sy.info.is_empty());
    let procs = c.list_processors().await.unwrap();
    assert_eq!(procs.len(), 1);
    c.processor_detail("default", "cf1", &procs[0].capture_id)
        .await
        .unwrap();

    let list = c.list_changefeeds("default", None).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, "cf1");
    assert!(list[0].error.is_none());

    c.pause_changefeed("default", "cf1").await.unwrap();
    wait_state(&c, "default", "cf1", "stopped").await;
    let paused = c.get_changefeed("default", "cf1").await.unwrap();
    assert_eq!(paused.admin_job_type, 1);
    let mut up = ChangefeedConfig::default();
    let mut rc = paused.config.clone().unwrap();
    rc["mounter"]["worker_num"] = json!(8);
    up.replica_config = Some(rc);
    let updated = c.update_changefeed("default", "cf1", &up).await.unwrap();
    assert_eq!(updated.state_str(), "stopped");
    assert_eq!(
        c.get_changefeed("default", "cf1")
            .await
            .unwrap()
            .config
            .unwrap()["mounter"]["worker_num"],
        json!(8)
    );
    c.resume_changefeed("default", "cf1", 0).await.unwrap();
    wait_state(&c, "default", "cf1", "normal").await;
    assert_eq!(
        c.get_changefeed("default", "cf1")
            .await
            .unwrap()
            .admin_job_type,
        0
    );

    c.delete_changefeed("default", "cf1").await.unwrap();
    let e = c.get_changefeed("default", "cf1").await.unwrap_err();
    assert!(e.is_not_found());
    // Deleting again is success.
    c.delete_changefeed("default", "cf1").await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn documented_errors_classic() {
    let sim = start_sim(classic(0)).await;
    let c = client_for(&sim);
    let e = c.get_changefeed("default", "missing").await.unwrap_err();
    assert_api(&e, 400, codes::CHANGEFEED_NOT_EXISTS);
    let e = c.pause_changefeed("default", "missing").await.unwrap_err();
    assert_api(&e, 400, codes::CHANGEFEED_NOT_EXISTS);
    let e = c.get_changefeed("default", "bad_id").await.unwrap_err();
    assert_api(&e, 400, codes::API_INVALID_PARAM);
    let e = c
        .create_changefeed("default", &cfg("bad--id", "blackhole://"))
        .await
        .unwrap_err();
    assert_api(&e, 400, codes::API_INVALID_PARAM);
    let e = c
        .create_changefeed("default", &cfg("a", ""))
        .await
        .unwrap_err();
    assert_api(&e, 400, codes::SINK_URI_INVALID);

    c.create_changefeed("default", &cfg("a", "blackhole://"))
        .await
        .unwrap();
    let e = c
        .create_changefeed("default", &cfg("a", "blackhole://"))
        .await
        .unwrap_err();
    assert_api(&e, 500, codes::CHANGEFEED_ALREADY_EXISTS);

    let now = c.tso().await.unwrap().compose();
    let mut future = cfg("b", "blackhole://");
    future.start_ts = now + (60_000 << 18);
    let e = c.create_changefeed("default", &future).await.unwrap_err();
    assert_api(&e, 400, codes::API_INVALID_PARAM);
    assert!(e.to_string().contains("larger than current tso"), "{e}");

    let mut tgt = cfg("b", "blackhole://");
    tgt.start_ts = now;
    tgt.target_ts = now - 1;
    let e = c.create_changefeed("default", &tgt).await.unwrap_err();
    assert_api(&e, 400, codes::TARGET_TS_BEFORE_START_TS);

    sim.set_gc_safepoint(now);
    let mut old = cfg("b", "blackhole://");
    old.start_ts = now - 1000;
    let e = c.create_changefeed("default", &old).await.unwrap_err();
    assert_api(&e, 400, codes::START_TS_BEFORE_GC);
    sim.set_gc_safepoint(0);

    let e = c
        .update_changefeed("default", "a", &ChangefeedConfig::default())
        .await
        .unwrap_err();
    assert_api(&e, 400, codes::UPDATE_REFUSED);
    assert!(e.to_string().contains("stopped or failed"), "{e}");

    c.pause_changefeed("default", "a").await.unwrap();
    let e = c
        .update_changefeed("default", "a", &ChangefeedConfig::default())
        .await
        .unwrap_err();
    assert_api(&e, 400, codes::UPDATE_REFUSED);
    assert!(e.to_string().contains(codes::NOOP_UPDATE_MESSAGE), "{e}");

    let port = closed_port();
    let e = c
        .create_changefeed(
            "default",
            &cfg("m", &format!("mysql://root:pw@127.0.0.1:{port}/")),
        )
        .await
        .unwrap_err();
    assert_api(&e, 400, codes::MYSQL_CONNECTION_ERROR);
    assert!(!e.to_string().contains(":pw@"), "{e}");

    let e = c
        .create_changefeed(
            "default",
            &cfg(
                "k",
                &format!("kafka://127.0.0.1:{port}/t?protocol=canal-json"),
            ),
        )
        .await
        .unwrap_err();
    assert_api(&e, 500, codes::KAFKA_NEW_PRODUCER);
    let mut bad_ns = cfg("n", "blackhole://");
    bad_ns.namespace = Some("bad_ns".into());
    let e = Client::new(options_for(&sim))
        .unwrap()
        .create_changefeed("bad_ns", &bad_ns)
        .await
        .unwrap_err();
    assert_api(&e, 400, codes::API_INVALID_PARAM);

    let e = c
        .create_changefeed("default", &cfg("k", "kafka://127.0.0.1:9092/topic"))
        .await
        .unwrap_err();
    assert_api(&e, 500, codes::SINK_UNKNOWN_PROTOCOL);

    let e = c
        .create_changefeed(
            "default",
            &cfg("k", "mysql://root@127.0.0.1:3306/?protocol=canal-json"),
        )
        .await
        .unwrap_err();
    assert_api(&e, 400, codes::SINK_URI_INVALID);
    sim.shutdown().await;
}

#[tokio::test]
async fn masks_passwords_in_responses() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sim = start_sim(classic(0)).await;
    let c = client_for(&sim);
    let mysql = format!("mysql://root:s3cret@127.0.0.1:{port}/");
    let r = c
        .create_changefeed("default", &cfg("m1", &mysql))
        .await
        .unwrap();
    assert_eq!(r.sink_uri, format!("mysql://root:xxxxx@127.0.0.1:{port}/"));
    let g = c.get_changefeed("default", "m1").await.unwrap();
    assert_eq!(g.sink_uri, format!("mysql://root:xxxxx@127.0.0.1:{port}/"));
    // Stripped for a MySQL sink on load.
    let conf = g.config.unwrap();
    assert!(conf["sink"].get("terminator").is_none());
    assert_eq!(conf["sink"]["content_compatible"], serde_json::Value::Null);
    assert_eq!(c.meta_info("default", "m1").await.unwrap().sink_uri, mysql);
    assert_eq!(
        sim.stored("default", "m1").unwrap()["sink_uri"],
        json!(mysql)
    );

    let kafka = format!(
        "kafka://127.0.0.1:{port}/t?protocol=canal-json&sasl-user=u&sasl-password=p&time-zone=Asia/Shanghai"
    );
    let r = c
        .create_changefeed("default", &cfg("k1", &kafka))
        .await
        .unwrap();
    assert_eq!(
        r.sink_uri,
        format!("kafka://127.0.0.1:{port}/t?protocol=canal-json&sasl-password=xxxxx&sasl-user=u&time-zone=Asia%2FShanghai")
    );
    let g = c.get_changefeed("default", "k1").await.unwrap();
    assert_eq!(g.config.unwrap()["sink"]["protocol"], json!("canal-json"));
    drop(listener);
    sim.shutdown().await;
}

async fn pause_update_resume(sim_cfg: SimConfig) {
    let sim = start_sim(sim_cfg).await;
    let c = client_for(&sim);
    c.detect_profile().await.unwrap();
    c.create_changefeed("default", &cfg("flow", "blackhole://"))
        .await
        .unwrap();
    wait_visible(&c, "default", "flow").await;
    c.pause_changefeed("default", "flow").await.unwrap();
    wait_state(&c, "default", "flow", "stopped").await;
    let live = c.get_changefeed("default", "flow").await.unwrap();
    let mut rc = live.config.unwrap();
    rc["mounter"]["worker_num"] = json!(4);
    let up = ChangefeedConfig {
        replica_config: Some(rc),
        ..Default::default()
    };
    c.update_changefeed("default", "flow", &up).await.unwrap();
    c.resume_changefeed("default", "flow", 0).await.unwrap();
    wait_state(&c, "default", "flow", "normal").await;
    let after = c.get_changefeed("default", "flow").await.unwrap();
    assert_eq!(after.config.unwrap()["mounter"]["worker_num"], json!(4));
    sim.shutdown().await;
}

#[tokio::test]
async fn pause_update_resume_classic_with_tick() {
    let sim = start_sim(classic(50)).await;
    let c = client_for(&sim);
    // Not visible before the owner tick.
    c.create_changefeed("default", &cfg("x", "blackhole://"))
        .await
        .unwrap();
    assert!(c
        .get_changefeed("default", "x")
        .await
        .unwrap_err()
        .is_not_found());
    wait_visible(&c, "default", "x").await;
    c.pause_changefeed("default", "x").await.unwrap();
    assert_eq!(
        c.get_changefeed("default", "x").await.unwrap().state_str(),
        "normal"
    );
    wait_state(&c, "default", "x", "stopped").await;
    sim.shutdown().await;
    pause_update_resume(classic(50)).await;
}

#[tokio::test]
async fn pause_update_resume_newarch() {
    pause_update_resume(newarch()).await;
}

#[tokio::test]
async fn newarch_specifics() {
    let sim = start_sim(newarch()).await;
    let c = client_for(&sim);
    let p = c.detect_profile().await.unwrap();
    assert_eq!(p.arch, Arch::Newarch);
    c.create_changefeed("default", &cfg("n1", "blackhole://"))
        .await
        .unwrap();
    // Synchronous: visible and pausable at once.
    let g = c.get_changefeed("default", "n1").await.unwrap();
    assert_eq!(g.keyspace.as_deref(), Some("default"));
    assert!(g.gid.is_some());
    let e = c.meta_info("default", "n1").await.unwrap_err();
    assert_eq!(e.status(), Some(404));
    let e = c.get_changefeed("default", "bad_id").await.unwrap_err();
    assert_api(&e, 400, codes::CHANGEFEED_NOT_EXISTS);
    c.pause_changefeed("default", "n1").await.unwrap();
    assert_eq!(
        c.get_changefeed("default", "n1").await.unwrap().state_str(),
        "stopped"
    );
    let e = c
        .update_changefeed(
            "default",
            "n1",
            &ChangefeedConfig {
                start_ts: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_api(&e, 400, codes::API_INVALID_PARAM);
    // No-op PUT is fine on newarch.
    c.update_changefeed("default", "n1", &ChangefeedConfig::default())
        .await
        .unwrap();
    let e = c
        .create_changefeed("default", &cfg("n1", "blackhole://"))
        .await
        .unwrap_err();
    assert_api(&e, 500, codes::CHANGEFEED_ALREADY_EXISTS);
    sim.shutdown().await;
}

#[tokio::test]
async fn detect_profile_on_both_profiles() {
    let sim = start_sim(SimConfig {
        profile: SimProfile::Classic {
            version: Version::new(7, 5, 0),
        },
        changefeeds: 3,
        ..SimConfig::default()
    })
    .await;
    let c = client_for(&sim);
    let p = c.detect_profile().await.unwrap();
    assert_eq!(p.arch, Arch::Classic);
    assert_eq!(p.version, Version::new(7, 5, 0));
    assert_eq!(c.list_changefeeds("default", None).await.unwrap().len(), 3);
    sim.shutdown().await;

    let sim = start_sim(SimConfig {
        changefeeds: 2,
        ..newarch()
    })
    .await;
    let c = client_for(&sim);
    assert_eq!(c.detect_profile().await.unwrap().arch, Arch::Newarch);
    let list = c.list_changefeeds("default", None).await.unwrap();
    assert_eq!(
        list.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["cf-00001", "cf-00002"]
    );
    sim.shutdown().await;

    // Empty clusters: told apart by meta_info.
    for (cfg, arch) in [(classic(0), Arch::Classic), (newarch(), Arch::Newarch)] {
        let sim = start_sim(cfg).await;
        assert_eq!(client_for(&sim).detect_profile().await.unwrap().arch, arch);
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn list_filter_and_display_mapping() {
    let sim = start_sim(SimConfig {
        changefeeds: 4,
        ..classic(0)
    })
    .await;
    let c = client_for(&sim);
    sim.set_state(
        "default",
        "cf-00001",
        "pending",
        Some(("CDC:ErrX", "retrying")),
    );
    sim.set_state("default", "cf-00002", "finished", None);
    sim.set_state(
        "default",
        "cf-00003",
        "failed",
        Some(("CDC:ErrGCTTLExceeded", "gc")),
    );
    let l = c.list_changefeeds("default", None).await.unwrap();
    let ids: Vec<_> = l
        .iter()
        .map(|i| (i.id.as_str(), i.state.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("cf-00001", "warning"),
            ("cf-00003", "failed"),
            ("cf-00004", "normal")
        ]
    );
    assert_eq!(l[1].error.as_ref().unwrap().code, "CDC:ErrGCTTLExceeded");
    assert!(c
        .list_changefeeds("default", Some("warning"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        c.list_changefeeds("default", Some("all"))
            .await
            .unwrap()
            .len(),
        4
    );
    let g = c.get_changefeed("default", "cf-00003").await.unwrap();
    assert_eq!(g.error.unwrap().code, "CDC:ErrGCTTLExceeded");
    let s = c.changefeed_status("default", "cf-00003").await.unwrap();
    assert!(s.last_error.is_some());
    // overwrite_checkpoint_ts: not in the future, not behind GC; rewrites start_ts (tiflow).
    let now = c.tso().await.unwrap().compose();
    let e = c
        .resume_changefeed("default", "cf-00003", now + (60_000 << 18))
        .await
        .unwrap_err();
    assert_api(&e, 400, codes::API_INVALID_PARAM);
    sim.set_gc_safepoint(now - 10);
    let e = c
        .resume_changefeed("default", "cf-00003", now - 20)
        .await
        .unwrap_err();
    assert_api(&e, 400, codes::START_TS_BEFORE_GC);
    sim.set_gc_safepoint(0);
    c.resume_changefeed("default", "cf-00003", now)
        .await
        .unwrap();
    assert_eq!(
        c.get_changefeed("default", "cf-00003")
            .await
            .unwrap()
            .start_ts,
        now
    );
    c.pause_changefeed("default", "cf-00003").await.unwrap();
    // Resume clears the error; a stopped checkpoint stays.
    c.resume_changefeed("default", "cf-00003", 0).await.unwrap();
    assert!(c
        .get_changefeed("default", "cf-00003")
        .await
        .unwrap()
        .error
        .is_none());
    c.pause_changefeed("default", "cf-00004").await.unwrap();
    sim.set_checkpoint("default", "cf-00004", 42 << 18);
    assert_eq!(
        c.get_changefeed("default", "cf-00004")
            .await
            .unwrap()
            .checkpoint_ts,
        42 << 18
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn transport_rules_404_and_redirect() {
    let sim = start_sim(classic(0)).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .get(format!("{}/api/v2/nope", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.text().await.unwrap(), "404 page not found");
    let r = http
        .patch(format!("{}/api/v2/changefeeds", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .get(format!("{}/api/v2/changefeeds/", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 301);
    let r = http
        .post(format!("{}/api/v2/changefeeds/", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    let r = http
        .get(format!("{}/api/v2/changefeeds/x", sim.url()))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(text.contains("\n    \"error_code\""), "indented: {text}");
    // tiflow resume needs a JSON body.
    let r = http
        .post(format!("{}/api/v2/changefeeds/cf/resume", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn basic_auth_on_mutating_routes() {
    let sim = start_sim(SimConfig {
        basic_auth: Some(("admin".into(), "pw".into())),
        ..classic(0)
    })
    .await;
    let c = client_for(&sim);
    // Reads are not checked.
    c.list_changefeeds("default", None).await.unwrap();
    let e = c
        .create_changefeed("default", &cfg("a", "blackhole://"))
        .await
        .unwrap_err();
    assert_api(&e, 401, codes::CREDENTIAL_NOT_FOUND);
    let mut o = options_for(&sim);
    o.user = Some("admin".into());
    o.password = Some("wrong".into());
    let e = Client::new(o.clone())
        .unwrap()
        .create_changefeed("default", &cfg("a", "blackhole://"))
        .await
        .unwrap_err();
    assert_api(&e, 401, codes::UNAUTHORIZED);
    o.password = Some("pw".into());
    Client::new(o)
        .unwrap()
        .create_changefeed("default", &cfg("a", "blackhole://"))
        .await
        .unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn tls_with_client_certificate() {
    use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let w = |name: &str, s: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, s).unwrap();
        p
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_p = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_p.self_signed(&ca_key).unwrap();
    let srv_key = KeyPair::generate().unwrap();
    let mut srv_p = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    srv_p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let srv = srv_p.signed_by(&srv_key, &ca, &ca_key).unwrap();
    let cli_key = KeyPair::generate().unwrap();
    let mut cli_p = CertificateParams::new(vec!["client".into()]).unwrap();
    cli_p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cli = cli_p.signed_by(&cli_key, &ca, &ca_key).unwrap();
    let ca_pem = w("ca.pem", ca.pem());
    let sim = start_sim(SimConfig {
        tls: Some(SimTls {
            cert: w("srv.pem", srv.pem()),
            key: w("srv.key", srv_key.serialize_pem()),
            client_ca: Some(ca_pem.clone()),
        }),
        ..classic(0)
    })
    .await;
    assert!(sim.url().starts_with("https://"));
    let mut o = options_for(&sim);
    o.ca = Some(ca_pem.clone());
    o.retry_for = Duration::ZERO;
    let e = Client::new(o.clone()).unwrap().status().await.unwrap_err();
    assert!(matches!(e, ClientError::Transport { .. }), "{e}");
    o.cert = Some(w("cli.pem", cli.pem()));
    o.key = Some(w("cli.key", cli_key.serialize_pem()));
    let c = Client::new(o).unwrap();
    assert_eq!(c.status().await.unwrap().version, "v8.5.0");
    c.create_changefeed("default", &cfg("tls1", "blackhole://"))
        .await
        .unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_are_injected_and_counted() {
    let sim = start_sim(SimConfig {
        faults: Some(FaultSpec::parse("seed=7,http500=1").unwrap()),
        ..classic(0)
    })
    .await;
    let c = client_for(&sim);
    let e = c.list_changefeeds("default", None).await.unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert!(sim.faults_injected() >= 1);
    sim.shutdown().await;

    let sim = start_sim(SimConfig {
        faults: Some(FaultSpec::parse("fail-on-resume=r1").unwrap()),
        ..classic(0)
    })
    .await;
    let c = client_for(&sim);
    c.create_changefeed("default", &cfg("r1", "blackhole://"))
        .await
        .unwrap();
    c.pause_changefeed("default", "r1").await.unwrap();
    c.resume_changefeed("default", "r1", 0).await.unwrap();
    wait_state(&c, "default", "r1", "failed").await;
    assert_eq!(sim.faults_injected(), 1);
    assert!(sim
        .requests()
        .iter()
        .any(|r| r.path.ends_with("/resume") && r.body == "{}"));
    sim.shutdown().await;

    // drop: the connection is cut, the client sees a transport failure.
    let sim = start_sim(SimConfig {
        faults: Some(FaultSpec::parse("drop=1").unwrap()),
        ..classic(0)
    })
    .await;
    let mut o = options_for(&sim);
    o.retry_for = Duration::ZERO;
    let e = Client::new(o).unwrap().status().await.unwrap_err();
    assert!(matches!(e, ClientError::Transport { .. }), "{e}");
    sim.shutdown().await;
}

#[tokio::test]
async fn ten_thousand_changefeeds_stay_cheap() {
    use futures::StreamExt;
    let sim = start_sim(SimConfig {
        changefeeds: 10_000,
        ..classic(50)
    })
    .await;
    let c = client_for(&sim);
    let t0 = std::time::Instant::now();
    let list = c.list_changefeeds("default", None).await.unwrap();
    assert_eq!(list.len(), 10_000);
    let n = futures::stream::iter(list.iter())
        .map(|i| c.get_changefeed("default", &i.id))
        .buffer_unordered(8)
        .filter(|r| std::future::ready(r.is_ok()))
        .count()
        .await;
    assert_eq!(n, 10_000);
    let took = t0.elapsed();
    eprintln!("list + 10,000 GETs: {took:?}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn cluster_routes_health_and_update_rules() {
    let sim = start_sim(SimConfig {
        changefeeds: 1,
        ..classic(0)
    })
    .await;
    let c = client_for(&sim);
    sim.set_healthy(false);
    let e = c.health().await.unwrap_err();
    assert_api(&e, 500, codes::CLUSTER_UNHEALTHY);
    sim.set_healthy(true);
    c.health().await.unwrap();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v2/captures/nope/drain", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .get(format!("{}/api/v2/unsafe/metadata", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // tiflow PUT: omitted scalars are zeroed, config errors wrapped as UpdateRefused (400).
    c.pause_changefeed("default", "cf-00001").await.unwrap();
    let up = ChangefeedConfig {
        replica_config: Some(json!({"mounter": {"worker_num": 2}})),
        ..Default::default()
    };
    c.update_changefeed("default", "cf-00001", &up)
        .await
        .unwrap();
    let cfg = sim.stored("default", "cf-00001").unwrap()["config"].clone();
    assert_eq!(cfg["check_gc_safe_point"], json!(false));
    assert_eq!(cfg["memory_quota"], json!(1073741824u64));
    let bad = ChangefeedConfig {
        sink_uri: "kafka://127.0.0.1:9/t".into(),
        ..Default::default()
    };
    let e = c
        .update_changefeed("default", "cf-00001", &bad)
        .await
        .unwrap_err();
    assert_api(&e, 400, codes::UPDATE_REFUSED);
    assert!(e.to_string().contains("CDC:ErrSinkUnknownProtocol"), "{e}");
    // A failed changefeed can be updated and stays failed.
    sim.set_state(
        "default",
        "cf-00001",
        "failed",
        Some(("CDC:ErrGCTTLExceeded", "gc")),
    );
    let up = ChangefeedConfig {
        target_ts: u64::MAX >> 2,
        ..Default::default()
    };
    let r = c
        .update_changefeed("default", "cf-00001", &up)
        .await
        .unwrap();
    assert_eq!(r.state_str(), "failed");
    sim.shutdown().await;

    // v7.5: no synced route, older defaults.
    let sim = start_sim(SimConfig {
        profile: SimProfile::Classic {
            version: Version::new(7, 5, 0),
        },
        changefeeds: 1,
        ..SimConfig::default()
    })
    .await;
    let c = client_for(&sim);
    assert_eq!(
        c.synced("default", "cf-00001").await.unwrap_err().status(),
        Some(404)
    );
    let g = c.get_changefeed("default", "cf-00001").await.unwrap();
    assert!(g.config.unwrap().get("synced_status").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn newarch_state_rules() {
    let sim = start_sim(SimConfig {
        changefeeds: 2,
        ..newarch()
    })
    .await;
    let c = client_for(&sim);
    c.set_arch(Arch::Newarch);
    sim.set_state("default", "cf-00001", "failed", Some(("CDC:ErrX", "boom")));
    // ticdc pauses a failed changefeed.
    c.pause_changefeed("default", "cf-00001").await.unwrap();
    let g = c.get_changefeed("default", "cf-00001").await.unwrap();
    assert_eq!(g.state_str(), "stopped");
    // ...and keeps the stale error on the list item.
    let l = c.list_changefeeds("default", None).await.unwrap();
    assert_eq!(l[0].error.as_ref().unwrap().code, "CDC:ErrX");
    // Config errors on PUT: ErrInvalidReplicaConfig (500).
    let bad = ChangefeedConfig {
        sink_uri: "kafka://127.0.0.1:9/t".into(),
        ..Default::default()
    };
    let e = c
        .update_changefeed("default", "cf-00001", &bad)
        .await
        .unwrap_err();
    assert_api(&e, 500, codes::INVALID_REPLICA_CONFIG);
    // Resume of a running changefeed is a no-op (released v8.5.7).
    c.resume_changefeed("default", "cf-00002", 0).await.unwrap();
    c.delete_changefeed("default", "cf-00002").await.unwrap();
    c.delete_changefeed("default", "cf-00002").await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn latency_is_added_to_every_request() {
    let sim = start_sim(SimConfig {
        latency: Duration::from_millis(30),
        ..classic(0)
    })
    .await;
    let c = client_for(&sim);
    let t0 = std::time::Instant::now();
    c.status().await.unwrap();
    c.list_changefeeds("default", None).await.unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(60));
    assert_eq!(sim.requests().len(), 2);
    sim.clear_requests();
    assert!(sim.requests().is_empty());
    sim.shutdown().await;
}

/// A server whose first answers to the changefeed list break off halfway (the connection
/// closes inside the chunked body), then answer whole. Counts the list requests.
async fn breaking_list(breaks: usize) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use axum::body::{Body, Bytes};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let items: Vec<String> = (0..3000)
        .map(|i| format!(r#"{{"upstream_id":1,"namespace":"default","id":"cf-{i:05}","state":"normal","checkpoint_tso":1,"checkpoint_time":"t","error":null}}"#))
        .collect();
    let body = format!(r#"{{"total":3000,"items":[{}]}}"#, items.join(","));
    let asked = std::sync::Arc::new(AtomicUsize::new(0));
    let n = asked.clone();
    let app = axum::Router::new().route(
        "/api/v2/changefeeds",
        axum::routing::get(move || {
            let (body, nth) = (body.clone(), n.fetch_add(1, Ordering::SeqCst));
            async move {
                let half = Bytes::from(body[..body.len() / 2].to_string());
                let rest = Bytes::from(body[body.len() / 2..].to_string());
                let broken = nth < breaks;
                let pieces = futures::stream::iter([
                    Ok::<_, std::io::Error>(half),
                    match broken {
                        true => Err(std::io::Error::other("cut")),
                        false => Ok(rest),
                    },
                ]);
                Body::from_stream(pieces)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, asked)
}

/// A list body that breaks off is asked again, as any read, whether the list was read ahead
/// (`prefetch_first_round`) or not; what was sifted of the broken body is thrown away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_that_breaks_off_is_asked_again() {
    for ahead in [false, true] {
        let (url, asked) = breaking_list(2).await;
        let mut o = cdcform::ticdc::ClientOptions::new(url);
        o.retry_base = Duration::from_millis(5);
        let c = Client::new(o).unwrap();
        if ahead {
            c.prefetch_first_round("default");
        }
        let keep = |id: &str| id.ends_with('7');
        let l = c
            .list_where("default", Some("all"), Some(&keep), true)
            .await
            .unwrap();
        assert_eq!(
            (l.kept.len(), l.others.len()),
            (300, 2700),
            "ahead: {ahead}"
        );
        assert_eq!(
            asked.load(std::sync::atomic::Ordering::SeqCst),
            3,
            "ahead: {ahead}"
        );
    }
}
