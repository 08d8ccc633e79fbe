//! The simulator's HTTP server does not hang on misbehaving clients: headers sent one byte at a
//! time, an announced 10 GB body, a body that stops arriving, an idle connection, more
//! connections than the cap. Each is cut off while other clients are still served.

use std::time::Duration;

use cdcform::simulator::limits::ServerLimits;
use cdcform::simulator::{SimConfig, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::sim as start_sim;

async fn sim(max_connections: usize) -> Simulator {
    start_sim(SimConfig {
        limits: ServerLimits {
            header_read_timeout: Duration::from_millis(300),
            request_timeout: Duration::from_millis(500),
            max_body_bytes: 1 << 20,
            max_connections,
        },
        ..SimConfig::default()
    })
    .await
}

/// A well-behaved client: `GET /api/v2/status` answers 200.
async fn served(sim: &Simulator) {
    let r = reqwest::Client::new()
        .get(format!("{}/api/v2/status", sim.url()))
        .send()
        .await
        .expect("answered");
    assert_eq!(r.status().as_u16(), 200);
}

/// Read until the server closes the connection; the text received.
async fn read_to_close(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn headers_one_byte_at_a_time_are_cut_off() {
    let sim = sim(64).await;
    let mut slow = TcpStream::connect(sim.addr()).await.unwrap();
    let request = b"GET /api/v2/status HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
    let mut cut = false;
    // Up to 10,000 bytes, one every 10 ms: without a header timeout this never ends.
    for i in 0..10_000 {
        let byte = request.get(i).copied().unwrap_or(b'a');
        if slow.write_all(&[byte]).await.is_err() {
            cut = true;
            break;
        }
        if i == 20 {
            served(&sim).await; // others are served meanwhile
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(cut, "the slow client was never cut off");
    served(&sim).await;
}

#[tokio::test]
async fn announced_huge_body_is_refused_before_it_is_read() {
    let sim = sim(64).await;
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    s.write_all(
        b"POST /api/v2/changefeeds HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n",
    )
    .await
    .unwrap();
    s.write_all(&[b' '; 1024]).await.unwrap();
    served(&sim).await;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 413");
}

#[tokio::test]
async fn a_body_that_stops_arriving_times_out() {
    let sim = sim(64).await;
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    s.write_all(
        b"POST /api/v2/changefeeds HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"sink",
    )
    .await
    .unwrap();
    served(&sim).await;
    let answer = read_to_close(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
}

#[tokio::test]
async fn idle_connections_are_closed_and_the_cap_frees_up() {
    // Two connections fill the cap; both sit idle. A third client is served once the idle
    // ones are closed by the server.
    let sim = sim(2).await;
    let mut a = TcpStream::connect(sim.addr()).await.unwrap();
    let mut b = TcpStream::connect(sim.addr()).await.unwrap();
    let third = tokio::spawn({
        let url = sim.url();
        async move {
            reqwest::Client::new()
                .get(format!("{url}/api/v2/status"))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    });
    assert_eq!(read_to_close(&mut a).await, "");
    assert_eq!(read_to_close(&mut b).await, "");
    assert_eq!(third.await.unwrap().expect("third client answered"), 200);
}
