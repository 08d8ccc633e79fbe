//! The hostile-input corpus under `tests/corpus/`: bad manifests (each must give exit 1 and a
//! located message from `cdcform validate`, never a panic) and bad server replies (each must
//! end in a clear client error, never a panic or a hang).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::cdcform;
use crate::hostile::{client, hostile};

fn corpus(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "EXPECT")
        .collect();
    v.sort();
    v
}

#[test]
fn every_bad_manifest_is_refused_with_a_located_message() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/manifests");
    let expect = std::fs::read_to_string(root.join("EXPECT")).unwrap();
    let files = corpus("manifests");
    assert!(files.len() >= 25, "{files:?}");
    let mut wrong = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap();
        let want = expect
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}\t")))
            .unwrap_or_else(|| panic!("{name} has no line in EXPECT"));
        let o = cdcform()
            .arg("validate")
            .arg(f)
            .env_remove("CDCFORM_CORPUS_UNSET_VARIABLE")
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        if want == "ok" {
            assert_eq!(o.status.code(), Some(0), "{name}: {err}");
            continue;
        }
        if o.status.code() != Some(1) {
            wrong.push(format!("{name}: exit {:?}\n{err}", o.status));
            continue;
        }
        assert!(err.contains("error"), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(err.len() < 8_000, "{name}: an error of {} bytes", err.len());
        if !want.is_empty() {
            let at = format!("{name}:{want}");
            if !err.contains(&at) {
                wrong.push(format!("{name}: expected {at} in\n{err}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_reply_ends_in_a_clear_error() {
    let files = corpus("replies");
    assert!(files.len() >= 15);
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap().to_string();
        let url = hostile(Some(std::fs::read(f).unwrap())).await;
        let c = client(&url);
        let calls = tokio::time::timeout(Duration::from_secs(20), async {
            vec![
                c.get_changefeed("default", "a").await.map(|_| ()),
                c.list_changefeeds("default", Some("all")).await.map(|_| ()),
                c.status().await.map(|_| ()),
                c.changefeed_status("default", "a").await.map(|_| ()),
            ]
        })
        .await
        .unwrap_or_else(|_| panic!("{name}: the client hung"));
        // A reply may happen to fit a lenient model (e.g. every status field is optional);
        // what matters is no panic, no hang, and clear errors for the rest.
        assert!(
            calls.iter().any(|r| r.is_err()),
            "{name}: every call accepted it"
        );
        for e in calls.into_iter().filter_map(|r| r.err()) {
            let msg = e.to_string();
            assert!(!msg.is_empty() && msg.len() < 2_000, "{name}: {msg}");
            assert!(
                msg.contains(&url) || msg.contains("/api/v2/"),
                "{name}: the error names neither server nor request: {msg}"
            );
        }
    }
}
