//! Helpers shared by the integration tests: start a simulator, build a client, poll a state.
#![allow(dead_code)]

use std::time::Duration;

use cdcform::simulator::{SimConfig, Simulator};
use cdcform::ticdc::{Client, ClientOptions};

/// A simulator on 127.0.0.1 with an OS-chosen port.
pub async fn start_sim(cfg: SimConfig) -> Simulator {
    Simulator::start(cfg, "127.0.0.1:0")
        .await
        .expect("simulator starts")
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
