//! Server replies: any status and body ends in a model or a clear error, never a panic; errors
//! stay short (no dumped pages).
#![no_main]
use cdcform::ticdc::client::parse_reply;
use cdcform::ticdc::models::{ChangefeedInfo, ChangefeedStatus, ListResponse, ChangefeedCommonInfo, ServerStatus};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = 100 + (u16::from_le_bytes([data[0], data[1]]) % 500);
    let body = &data[2..];
    let path = "/api/v2/changefeeds/x";
    let check = |r: Result<(), cdcform::ticdc::ClientError>| {
        if let Err(e) = r {
            let shown = e.to_string();
            assert!(shown.len() < 4_000, "{} bytes", shown.len());
            let _ = e.brief();
        }
    };
    check(parse_reply::<ChangefeedInfo>("GET", path, status, body).map(|_| ()));
    check(parse_reply::<ChangefeedStatus>("GET", path, status, body).map(|_| ()));
    check(parse_reply::<ListResponse<ChangefeedCommonInfo>>("GET", path, status, body).map(|_| ()));
    check(parse_reply::<ServerStatus>("GET", "/api/v2/status", status, body).map(|_| ()));
    check(parse_reply::<serde_json::Value>("POST", path, status, body).map(|_| ()));
});
