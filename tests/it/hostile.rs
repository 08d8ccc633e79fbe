//! Bad server replies: every one ends in a clear error, never a panic or a hang.
//! A raw TCP server on 127.0.0.1 plays the hostile TiCDC.

use std::time::{Duration, Instant};

use cdcform::ticdc::{Client, ClientError, ClientOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serve `reply` (raw HTTP bytes) to every connection; None = accept and never answer.
pub async fn hostile(reply: Option<Vec<u8>>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                match reply {
                    Some(r) => {
                        let _ = s.write_all(&r).await;
                        let _ = s.shutdown().await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    format!("http://{addr}")
}

fn http(status: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

pub fn client(url: &str) -> Client {
    let mut o = ClientOptions::new(url);
    o.timeout = Duration::from_millis(500);
    o.retry_for = Duration::from_millis(600);
    o.retry_base = Duration::from_millis(10);
    Client::new(o).unwrap()
}

#[tokio::test]
async fn truncated_json_is_a_decode_error() {
    let url = hostile(Some(http(
        "200 OK",
        "application/json",
        br#"{"total": 1, "items": [{"id": "a""#,
    )))
    .await;
    let e = client(&url)
        .list_changefeeds("default", None)
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Decode { .. }), "{e}");
    assert!(e.to_string().contains("unexpected response"), "{e}");
}

#[tokio::test]
async fn wrong_types_are_a_decode_error() {
    let url = hostile(Some(http(
        "200 OK",
        "application/json",
        br#"{"version": 5, "is_owner": "yes"}"#,
    )))
    .await;
    let e = client(&url).status().await.unwrap_err();
    assert!(matches!(e, ClientError::Decode { .. }), "{e}");
}

#[tokio::test]
async fn u64_overflow_is_refused() {
    let body = br#"{"id":"a","checkpoint_ts":18446744073709551616,"resolved_ts":0,"checkpoint_time":"","create_time":""}"#;
    let url = hostile(Some(http("200 OK", "application/json", body))).await;
    let e = client(&url)
        .get_changefeed("default", "a")
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("number out of range") || e.to_string().contains("invalid"),
        "{e}"
    );
}

#[tokio::test]
async fn html_error_page_is_reported_without_dumping_it() {
    let page = b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>";
    let url = hostile(Some(http("502 Bad Gateway", "text/html", page))).await;
    let e = client(&url)
        .get_changefeed("default", "a")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(502));
    assert!(e.to_string().contains("non-JSON error page"), "{e}");
    assert!(!e.to_string().contains("<html>"), "{e}");
}

#[tokio::test]
async fn huge_body_is_refused() {
    let mut body = b"{\"total\":0,\"items\":[".to_vec();
    body.extend(std::iter::repeat_n(
        b' ',
        cdcform::ticdc::client::MAX_BODY + 10,
    ));
    body.extend(b"]}");
    let url = hostile(Some(http("200 OK", "application/json", &body))).await;
    // 64 MiB through loopback on a busy 2-core machine: a timeout of its own, so the size check
    // is what this test meets.
    let mut o = ClientOptions::new(url.as_str());
    o.timeout = Duration::from_secs(30);
    o.retry_for = Duration::ZERO;
    let e = Client::new(o)
        .unwrap()
        .list_changefeeds("default", None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("larger than 64 MiB"), "{e}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let url = hostile(None).await;
    let t0 = Instant::now();
    // A long retry budget: a silent server still gets three attempts, not the whole budget
    // (it is no owner election; TiCDC answers 5xx during one).
    let mut o = ClientOptions::new(url.as_str());
    o.timeout = Duration::from_millis(500);
    o.retry_for = Duration::from_secs(60);
    o.retry_base = Duration::from_millis(10);
    let e = Client::new(o).unwrap().status().await.unwrap_err();
    assert!(e.to_string().contains("after 3 attempts"), "{e}");
    assert!(matches!(e, ClientError::Transport { .. }), "{e}");
    assert!(
        e.to_string().contains(&url) && e.to_string().contains("no answer within 500ms"),
        "{e}"
    );
    // 500 ms timeout, one retry: bounded, far below the test harness timeout.
    assert!(t0.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn unreachable_server_names_the_url() {
    // Bind then drop: nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let e = client(&url).status().await.unwrap_err();
    assert!(e.to_string().contains(&url), "{e}");
    assert!(e.is_retryable());
}

#[tokio::test]
async fn api_errors_keep_status_code_and_message() {
    let body = b"{\n    \"error_msg\": \"[CDC:ErrChangeFeedNotExists]changefeed not exists, x\",\n    \"error_code\": \"CDC:ErrChangeFeedNotExists\"\n}";
    let url = hostile(Some(http("400 Bad Request", "application/json", body))).await;
    let e = client(&url)
        .get_changefeed("default", "x")
        .await
        .unwrap_err();
    assert!(e.is_not_found());
    assert_eq!(e.status(), Some(400));
    assert!(
        e.brief().starts_with("CDC:ErrChangeFeedNotExists: "),
        "{}",
        e.brief()
    );
}
