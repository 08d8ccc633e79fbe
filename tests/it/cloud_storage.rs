//! The storage-sink settings only the new architecture has: pingcap/ticdc v8.5.7
//! api/v2/model.go `CloudStorageConfig.{SpoolDiskQuota, SpoolBaseDir, UseTableIDAsPath}`
//! (`spool_disk_quota`, `spool_base_dir`, `use_table_id_as_path`, pointers with omitempty, copied
//! as they are by `toInternalReplicaConfig`/`ToAPIReplicaConfig`: a GET shows what was sent and
//! nothing when unset). tiflow v7.5.0, v8.1.0 and v8.5.0 cdc/api/v2/model.go have none of them,
//! so a classic server's JSON decoding drops them.

use serde_json::{json, Value};

use crate::export::export_text;
use crate::harness::{
    assert_empty, cdcform, classic, client, converge, manifests, mutations, newarch, plan, sim,
};

const MANIFEST: &str = r#"
changefeeds:
  - id: quota
    sink_uri: "s3://bucket/a?protocol=csv"
    replica_config: {sink: {cloud_storage_config: {spool_disk_quota: 2147483648}}}
  - id: dir
    sink_uri: "s3://bucket/b?protocol=csv"
    replica_config: {sink: {cloud_storage_config: {spool_base_dir: /var/lib/ticdc/spool}}}
  - id: ids
    sink_uri: "s3://bucket/c?protocol=csv"
    replica_config: {sink: {cloud_storage_config: {use_table_id_as_path: true, worker_count: 8}}}
  - id: plain
    sink_uri: "s3://bucket/d?protocol=csv"
    replica_config: {sink: {cloud_storage_config: {worker_count: 8}}}
"#;

/// The live `sink.cloud_storage_config` of changefeed `id`.
async fn csc(s: &cdcform::simulator::Simulator, id: &str) -> Value {
    let v = client(s).get_changefeed("default", id).await.unwrap();
    serde_json::to_value(v).unwrap()["config"]["sink"]["cloud_storage_config"].clone()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Each setting applies on the new architecture, the server holds it, the next plan is empty,
/// and export writes it back only where it was set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newarch_applies_each_setting_plans_empty_and_exports_it() {
    let s = sim(newarch()).await;
    let desired = manifests(MANIFEST);
    converge(&s, &desired).await;
    assert_empty(&plan(&s, &desired).await, "after apply");
    assert_eq!(
        csc(&s, "quota").await["spool_disk_quota"],
        json!(2147483648u64)
    );
    assert_eq!(
        csc(&s, "dir").await["spool_base_dir"],
        json!("/var/lib/ticdc/spool")
    );
    assert_eq!(csc(&s, "ids").await["use_table_id_as_path"], json!(true));
    assert_eq!(csc(&s, "plain").await, json!({"worker_count": 8}));

    let text = export_text(&s, "default", &[]).await.unwrap();
    assert!(text.contains("spool_disk_quota: 2147483648"), "{text}");
    assert!(
        text.contains("spool_base_dir: /var/lib/ticdc/spool"),
        "{text}"
    );
    assert!(text.contains("use_table_id_as_path: true"), "{text}");
    let exported = crate::export::validate(&text);
    let plain = exported.iter().find(|d| d.id == "plain").unwrap();
    let plain_csc = &plain.replica_config.as_ref().unwrap()["sink"]["cloud_storage_config"];
    assert_eq!(plain_csc, &json!({"worker_count": 8}), "{text}");
    assert_empty(&plan(&s, &exported).await, "exported manifests");
    s.shutdown().await;
}

/// Offline: with no target a warning (a classic server would drop them), `--target v8.5.0`
/// (classic) refuses each key the server would lose, `--target newarch` accepts them. Against a
/// classic server `plan` and `apply` refuse them too, before any write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_targets_refuse_and_unknown_targets_warn() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.yaml");
    std::fs::write(&m, MANIFEST).unwrap();
    let any = cdcform().arg("validate").arg(&m).output().unwrap();
    assert_eq!(any.status.code(), Some(0), "{}", stderr(&any));
    assert!(
        stderr(&any).contains("exist only on new-architecture servers"),
        "{}",
        stderr(&any)
    );
    let na = cdcform()
        .args(["validate", "--target", "newarch"])
        .arg(&m)
        .output()
        .unwrap();
    assert_eq!(na.status.code(), Some(0), "{}", stderr(&na));
    for target in ["v8.5.0", "v8.1.0", "v7.5.0"] {
        let o = cdcform()
            .args(["validate", "--target", target])
            .arg(&m)
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{target}: {err}");
        for key in ["spool_disk_quota", "spool_base_dir", "use_table_id_as_path"] {
            assert!(
                err.contains(&format!("`{key}` is unknown to classic TiCDC")),
                "{target} {key}: {err}"
            );
        }
        assert!(err.contains("m.yaml:5"), "{target}: {err}");
    }
    let s = sim(classic()).await;
    let o = cdcform()
        .args(["plan", "--server", &s.url()])
        .arg(&m)
        .output()
        .unwrap();
    // Against the classic server, `plan` and `apply` refuse them as `validate --target` does
    // (the server would lose them), before any write (#31 item 6).
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("is unknown to classic TiCDC"), "{err}");
    let o = cdcform()
        .args(["apply", "--auto-approve", "--server", &s.url()])
        .arg(&m)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(mutations(&s).is_empty(), "{:?}", mutations(&s));
    // What the classic server does with them: it drops them (encoding/json, unknown fields).
    crate::export::raw_create(
        &s,
        json!({"changefeed_id": "raw", "sink_uri": "s3://bucket/r?protocol=csv",
            "replica_config": {"sink": {"cloud_storage_config": {"worker_count": 2,
            "spool_disk_quota": 1, "spool_base_dir": "/s", "use_table_id_as_path": true}}}}),
    )
    .await;
    assert_eq!(csc(&s, "raw").await, json!({"worker_count": 2}));
    s.shutdown().await;
}

/// Values the new architecture refuses (pingcap/ticdc v8.5.7 pkg/sink/cloudstorage/config.go
/// `getSpoolDiskQuota`, `getSpoolBaseDir`) are refused by `validate` at the line, and the
/// `use-table-id-as-path` URI parameter against the setting is compared as pkg/config/sink.go
/// `CheckUseTableIDAsPathCompatibility` does: a warning, since v8.5.7's API never calls it.
#[test]
fn newarch_values_and_the_uri_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let run = |text: &str| {
        let m = dir.path().join("v.yaml");
        std::fs::write(&m, text).unwrap();
        cdcform()
            .args(["validate", "--target", "newarch"])
            .arg(&m)
            .output()
            .unwrap()
    };
    let table: &[(&str, &str, Option<&str>)] = &[
        (
            "s3://b/p?protocol=csv",
            "{spool_disk_quota: 0}",
            Some("spool-disk-quota 0"),
        ),
        (
            "s3://b/p?protocol=csv",
            "{spool_disk_quota: -1}",
            Some("spool-disk-quota -1"),
        ),
        (
            "s3://b/p?protocol=csv&spool-disk-quota=-2",
            "{spool_disk_quota: 5}",
            Some("spool-disk-quota -2"),
        ),
        (
            "s3://b/p?protocol=csv&spool-disk-quota=0",
            "{spool_disk_quota: 5}",
            None,
        ),
        (
            "s3://b/p?protocol=csv&spool-disk-quota=x",
            "{}",
            Some("`spool-disk-quota=x`"),
        ),
        (
            "s3://b/p?protocol=csv",
            "{spool_base_dir: spool}",
            Some("spool-base-dir `spool` is not an absolute path"),
        ),
        (
            "s3://b/p?protocol=csv&spool-base-dir=%2Fs",
            "{spool_base_dir: spool}",
            None,
        ),
        (
            "s3://b/p?protocol=csv&use-table-id-as-path=maybe",
            "{}",
            Some("`use-table-id-as-path=maybe`"),
        ),
    ];
    for (uri, csc, want) in table {
        let text = format!(
            "changefeeds:\n  - id: a\n    sink_uri: \"{uri}\"\n    replica_config: {{sink: {{cloud_storage_config: {csc}}}}}\n"
        );
        let o = run(&text);
        let err = stderr(&o);
        match want {
            Some(w) => {
                assert_eq!(o.status.code(), Some(1), "{uri} {csc}: {err}");
                assert!(
                    err.contains(w) && err.contains("CDC:ErrStorageSinkInvalidConfig"),
                    "{uri} {csc}: {err}"
                );
            }
            None => assert_eq!(o.status.code(), Some(0), "{uri} {csc}: {err}"),
        }
    }
    let text = "changefeeds:\n  - id: a\n    sink_uri: \"s3://b/p?protocol=csv&use-table-id-as-path=false\"\n    replica_config: {sink: {cloud_storage_config: {use_table_id_as_path: true}}}\n";
    let o = run(text);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("incompatible configuration in sink uri(use-table-id-as-path=false) and config file(use-table-id-as-path=true)"),
        "{}",
        stderr(&o)
    );
}

/// A `cdc cli` TOML with the three keys (pingcap/ticdc v8.5.7 pkg/config/sink.go
/// `CloudStorageConfig` TOML tags) through `replica_config_file:` applies on the new
/// architecture and plans empty; a classic target's `cdc cli` does not know the keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toml_with_the_three_keys_applies_on_newarch() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cf.toml"),
        "[sink]\nprotocol = \"csv\"\n\n[sink.cloud-storage-config]\nspool-disk-quota = 1073741824\nspool-base-dir = \"/var/lib/ticdc/spool\"\nuse-table-id-as-path = true\n",
    )
    .unwrap();
    let m = dir.path().join("m.yaml");
    std::fs::write(
        &m,
        "changefeeds:\n  - id: t\n    sink_uri: \"s3://bucket/t?protocol=csv\"\n    replica_config_file: cf.toml\n",
    )
    .unwrap();
    let s = sim(newarch()).await;
    let o = cdcform()
        .args(["apply", "--auto-approve", "--server", &s.url()])
        .arg(&m)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        csc(&s, "t").await,
        json!({"spool_disk_quota": 1073741824u64, "spool_base_dir": "/var/lib/ticdc/spool",
            "use_table_id_as_path": true})
    );
    let o = cdcform()
        .args(["plan", "--detailed-exitcode", "--server", &s.url()])
        .arg(&m)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    s.shutdown().await;
    let o = cdcform()
        .args(["validate", "--target", "v8.5.0"])
        .arg(&m)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("cf.toml:5"), "{err}");
}
