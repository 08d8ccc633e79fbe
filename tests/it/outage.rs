//! Owner elections, refused connections, rolling upgrades and concurrent applies: the simulator's
//! outage faults answer as TiCDC does, and plan/apply ride through them without leaving a
//! changefeed paused.

use std::time::{Duration, Instant};

use cdcform::simulator::faults::{OutageKind, Rolling};
use cdcform::simulator::{FaultSpec, SimConfig};
use cdcform::ticdc::{Client, ClientOptions};

use crate::harness::*;

/// A client that gives up at once, to see the raw answers.
fn raw_client(url: &str) -> Client {
    let mut o = ClientOptions::new(url);
    o.retry_for = Duration::ZERO;
    o.timeout = Duration::from_secs(2);
    Client::new(o).unwrap()
}

// tiflow v8.5.0 cdc/capture/capture.go `GetOwnerCaptureInfo` → `ErrOwnerNotFound`, answered 500
// by cdc/api/middleware/middleware.go `ErrorHandleMiddleware`; `status` and `tso` are not
// forwarded to the owner (cdc/api/v2/api.go `RegisterOpenAPIV2Routes`).
#[tokio::test]
async fn simulator_no_owner_answers_500_owner_not_found_on_owner_routes() {
    for cfg in [classic(), newarch()] {
        let s = sim(cfg).await;
        let c = raw_client(&s.url());
        c.list_changefeeds("default", None).await.unwrap();
        s.start_outage(Duration::from_millis(600), OutageKind::NoOwner);
        let e = c.list_changefeeds("default", None).await.unwrap_err();
        assert_eq!(e.status(), Some(500), "{e}");
        assert_eq!(e.code(), Some("CDC:ErrOwnerNotFound"), "{e}");
        assert!(c.health().await.is_err());
        let st = c.status().await.expect("status is served locally");
        assert!(!st.is_owner);
        c.tso().await.expect("tso is served locally");
        assert_eq!(s.owner(), None);
        tokio::time::sleep(Duration::from_millis(700)).await;
        c.list_changefeeds("default", None).await.unwrap();
        assert!(c.status().await.unwrap().is_owner);
        assert!(s.owner().is_some());
        s.shutdown().await;
    }
}

#[tokio::test]
async fn simulator_refused_outage_closes_and_reopens_the_port() {
    let s = sim(classic()).await;
    let c = raw_client(&s.url());
    c.status().await.unwrap();
    s.start_outage(Duration::from_millis(500), OutageKind::Refused);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let e = c.status().await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(std::net::TcpStream::connect(s.addr()).is_err(), "port still open");
    tokio::time::sleep(Duration::from_millis(600)).await;
    c.status().await.expect("the port reopened");
    s.shutdown().await;
}

#[tokio::test]
async fn simulator_outage_at_the_nth_request() {
    let cfg = SimConfig {
        faults: Some(FaultSpec::parse("outage=3:400ms").unwrap()),
        ..classic()
    };
    let s = sim(cfg).await;
    let c = raw_client(&s.url());
    c.list_changefeeds("default", None).await.unwrap();
    c.list_changefeeds("default", None).await.unwrap();
    let e = c.list_changefeeds("default", None).await.unwrap_err();
    assert_eq!(e.code(), Some("CDC:ErrOwnerNotFound"));
    tokio::time::sleep(Duration::from_millis(450)).await;
    c.list_changefeeds("default", None).await.unwrap();
    s.shutdown().await;
}

#[tokio::test]
async fn simulator_rolling_upgrade_moves_the_owner_each_restart() {
    let s = sim(classic()).await;
    let c = raw_client(&s.url());
    s.start_rolling_upgrade(Rolling {
        captures: 3,
        every: Duration::from_millis(300),
        election: Duration::from_millis(150),
    });
    let mut owners = vec![];
    let t0 = Instant::now();
    while !s.rolling_upgrade_done() {
        assert!(t0.elapsed() < Duration::from_secs(5));
        if let Ok(caps) = c.list_captures().await {
            assert_eq!(caps.iter().filter(|c| c.is_owner).count(), 1);
            let o = caps.into_iter().find(|c| c.is_owner).unwrap().id;
            if owners.last() != Some(&o) {
                owners.push(o);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let caps = c.list_captures().await.unwrap();
    assert_eq!(caps.len(), 3);
    let last = caps.into_iter().find(|c| c.is_owner).unwrap().id;
    if owners.last() != Some(&last) {
        owners.push(last);
    }
    // Three restarts of the owner: four owners in turn, the first one back at the end.
    assert_eq!(owners.len(), 4, "{owners:?}");
    assert_eq!(owners[0], owners[3]);
    s.shutdown().await;
}
