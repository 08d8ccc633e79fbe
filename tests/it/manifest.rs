//! Manifest loading and `cdcform validate`: every rule with its exact message and location, hostile
//! input, the loaded model, rendered diagnostics (insta), `schema.json` freshness and the examples.

use std::path::{Path, PathBuf};

use cdcform::manifest::{self, load, load_str, DesiredState, Diagnostics};

fn env(name: &str) -> Option<String> {
    match name {
        "KAFKA_PASSWORD" => Some("kafka-s3cret".into()),
        "DR_TIDB_PASSWORD" => Some("tidb-s3cret".into()),
        "REPORTING_PASSWORD" => Some("mysql-s3cret".into()),
        "TOPIC" => Some("orders".into()),
        _ => None,
    }
}

/// (line, column, message, help) of every problem.
fn problems(text: &str) -> Vec<(usize, usize, String, String)> {
    match load_str("cf.yaml", text, &env) {
        Ok(_) => vec![],
        Err(Diagnostics(d)) => d
            .into_iter()
            .map(|d| (d.line, d.column, d.message, d.help.unwrap_or_default()))
            .collect(),
    }
}

/// The only problem of a manifest.
fn one(text: &str) -> (usize, usize, String, String) {
    let mut p = problems(text);
    assert_eq!(p.len(), 1, "expected one problem, got {p:#?}");
    p.remove(0)
}

fn p(line: usize, column: usize, message: &str, help: &str) -> (usize, usize, String, String) {
    (line, column, message.to_string(), help.to_string())
}

fn cf(body: &str) -> String {
    format!("changefeeds:\n  - id: cf1\n{body}")
}

// ---------------------------------------------------------------- rules

#[test]
fn yaml_syntax_error_is_located() {
    assert_eq!(
        one("changefeeds:\n  - id: a\n    sink_uri: [unclosed\n"),
        p(
            3,
            15,
            "invalid YAML: unclosed bracket '['",
            "fix the YAML syntax at this position"
        )
    );
}

#[test]
fn wrong_type_is_located() {
    assert_eq!(
        one(&cf("    sink_uri: blackhole://\n    replica_config:\n      mounter:\n        worker_num: many\n")),
        p(
            6,
            21,
            "wrong type for replica_config.mounter.worker_num: expected an integer, found string \"many\"",
            "write an integer here"
        )
    );
    assert_eq!(
        one(&cf("    sink_uri: blackhole://\n    start_ts: -5\n")),
        p(
            4,
            15,
            "-5 is out of range for start_ts: allowed 0..=18446744073709551615",
            "use an integer between 0 and 18446744073709551615"
        )
    );
}

#[test]
fn unknown_key_has_did_you_mean() {
    assert_eq!(
        one(&cf("    sink_uri: blackhole://\n    replica_config:\n      mounter:\n        worker_nmu: 8\n")),
        p(6, 9, "unknown key `worker_nmu` in replica_config.mounter", "did you mean `worker_num`?")
    );
    assert_eq!(
        one(&cf("    sink_url: blackhole://\n")),
        p(
            3,
            5,
            "unknown key `sink_url` in the changefeed",
            "did you mean `sink_uri`?"
        )
    );
    assert_eq!(
        one("changefeed:\n  - id: a\n"),
        p(
            1,
            1,
            "unknown key `changefeed` in the document",
            "did you mean `changefeeds`?"
        )
    );
}

#[test]
fn invalid_changefeed_ids() {
    assert_eq!(
        one("changefeeds:\n  - id: orders_to_kafka\n    sink_uri: blackhole://\n"),
        p(
            2,
            9,
            "invalid changefeed id `orders_to_kafka`: contains `_`; only ASCII letters, digits and `-` are allowed",
            "use ASCII letters and digits joined by single hyphens, e.g. `orders-to-kafka`"
        )
    );
    assert_eq!(
        one("changefeeds:\n  - id: -a\n    sink_uri: blackhole://\n").2,
        "invalid changefeed id `-a`: must not start or end with `-` or contain `--`"
    );
    let long = "a".repeat(129);
    assert_eq!(
        one(&format!(
            "changefeeds:\n  - id: {long}\n    sink_uri: blackhole://\n"
        ))
        .2,
        format!("invalid changefeed id `{long}`: is 129 characters long; the limit is 128")
    );
    assert_eq!(
        one("changefeeds:\n  - sink_uri: blackhole://\n"),
        p(
            2,
            5,
            "missing required key `id` in the changefeed",
            "add `id:` to this mapping"
        )
    );
}

#[test]
fn duplicate_ids_across_files_name_both_locations() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        "changefeeds:\n  - id: x\n    sink_uri: blackhole://\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.yml"),
        "# second\nchangefeeds:\n  - id: y\n    sink_uri: blackhole://\n  - id: x\n    sink_uri: blackhole://\n",
    )
    .unwrap();
    let d = load(&[dir.path().to_path_buf()], &env).unwrap_err().0;
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0].file, dir.path().join("b.yml"));
    assert_eq!((d[0].line, d[0].column), (5, 9));
    assert_eq!(
        d[0].message,
        format!(
            "duplicate changefeed id `x` in namespace `default`: also defined at {}:2:5",
            dir.path().join("a.yaml").display()
        )
    );
    assert_eq!(
        d[0].help.as_deref(),
        Some("each changefeed id may appear once per namespace: rename or remove one of them")
    );
    // The same id in two namespaces is fine.
    let ok = "changefeeds:\n  - id: x\n    sink_uri: blackhole://\n  - id: x\n    namespace: other\n    sink_uri: blackhole://\n";
    assert!(load_str("ns.yaml", ok, &env).is_ok());
}

#[test]
fn sink_uri_rules() {
    assert_eq!(
        one(&cf("    sink_uri: \"\"\n")),
        p(
            3,
            15,
            "`sink_uri` is empty",
            "write the sink URI, e.g. `kafka://broker:9092/topic?protocol=canal-json`"
        )
    );
    assert_eq!(
        one(&cf("")),
        p(
            2,
            5,
            "changefeed `cf1` has no `sink_uri`",
            "add `sink_uri: \"<scheme>://...\"` (only `state: absent` may omit it)"
        )
    );
    assert_eq!(
        one(&cf("    sink_uri: \"mysql://root@h:port/\"\n")),
        p(
            3,
            15,
            "`sink_uri` cannot be parsed: invalid port \":port\" after host",
            "percent-encode special characters (e.g. `@` in a password as `%40`)"
        )
    );
    // A secret from a variable that breaks the URI is not quoted back.
    let leaky = load_str(
        "l.yaml",
        &cf("    sink_uri: \"mysql://root@h:${PORT_SECRET}/\"\n"),
        &|n| (n == "PORT_SECRET").then(|| "p@ss".to_string()),
    )
    .unwrap_err()
    .0;
    assert_eq!(
        leaky[0].message,
        "`sink_uri` cannot be parsed once ${PORT_SECRET} is expanded (details hidden: they could show a secret)"
    );
    assert!(!leaky.iter().any(|d| d.message.contains("p@ss")));
    assert_eq!(
        one(&cf("    sink_uri: \"just-a-host:9092\"\n")).2,
        "unsupported sink scheme `just-a-host`"
    );
    assert_eq!(
        one(&cf(
            "    sink_uri: \"kafak://h:9092/t?protocol=canal-json\"\n"
        )),
        p(
            3,
            15,
            "unsupported sink scheme `kafak`",
            "did you mean `kafka://`?"
        )
    );
    assert_eq!(
        one(&cf("    sink_uri: \"kafka://h:9092/t\"\n")),
        p(
            3,
            15,
            "MQ sink `kafka` has no protocol",
            "add `?protocol=canal-json` to the sink URI (one of: canal, canal-json, open-protocol, avro, maxwell, craft, debezium, simple)"
        )
    );
    assert_eq!(
        one(&cf(
            "    sink_uri: \"kafka://h:9092/?protocol=canal-json\"\n"
        )),
        p(
            3,
            15,
            "Kafka sink URI `kafka://h:9092` has no topic",
            "put the topic in the path, e.g. `kafka://broker:9092/my-topic?protocol=canal-json`"
        )
    );
    // A protocol in replica_config satisfies an MQ sink.
    assert!(problems(&cf("    sink_uri: \"pulsar://h:6650/t\"\n    replica_config:\n      sink:\n        protocol: canal-json\n")).is_empty());
    assert_eq!(
        one(&cf(
            "    sink_uri: \"kafka://h:9092/t?protocol=canal_json\"\n"
        )),
        p(
            3,
            15,
            "unknown protocol `canal_json` for the MQ sink `kafka`",
            "did you mean `canal-json`?"
        )
    );
    assert_eq!(
        one(&cf("    sink_uri: \"s3://bucket/prefix\"\n")).2,
        "storage sink `s3` has no protocol"
    );
    assert_eq!(
        one(&cf(
            "    sink_uri: \"mysql://root@h:3306/?protocol=canal-json\"\n"
        )),
        p(
            3,
            15,
            "`protocol` is set for the MySQL sink scheme `mysql`",
            "remove `protocol=` from the sink URI: MySQL/TiDB sinks have no protocol"
        )
    );
    assert_eq!(
        one(&cf("    sink_uri: \"tidb://root@h:4000/\"\n    replica_config:\n      sink:\n        protocol: avro\n")),
        p(
            6,
            19,
            "`replica_config.sink.protocol` is set for the MySQL sink scheme `tidb`",
            "remove `protocol`: MySQL/TiDB sinks have no protocol"
        )
    );
}

#[test]
fn sync_point_interval_below_30s() {
    let base = "    sink_uri: \"tidb://root@h:4000/\"\n    replica_config:\n      enable_sync_point: true\n";
    assert_eq!(
        one(&cf(&format!("{base}      sync_point_interval: 10s\n"))),
        p(
            6,
            28,
            "sync_point_interval 10s is below the minimum of 30s",
            "set `sync_point_interval: 30s` or more"
        )
    );
    // Nanoseconds work too, and 30s is fine.
    assert_eq!(
        one(&cf(&format!(
            "{base}      sync_point_interval: 1000000000\n"
        )))
        .2,
        "sync_point_interval 1s is below the minimum of 30s"
    );
    assert!(problems(&cf(&format!("{base}      sync_point_interval: 30s\n"))).is_empty());
    // Like TiCDC, the interval only matters when sync point is enabled.
    assert!(problems(&cf("    sink_uri: \"tidb://root@h:4000/\"\n    replica_config:\n      sync_point_interval: 10s\n")).is_empty());
}

#[test]
fn target_ts_must_be_above_start_ts() {
    assert_eq!(
        one(&cf("    sink_uri: blackhole://\n    start_ts: 449000000000000000\n    target_ts: 448000000000000000\n")),
        p(
            5,
            16,
            "target_ts 448000000000000000 is not above start_ts 449000000000000000",
            "set target_ts above start_ts, or remove target_ts"
        )
    );
    assert!(problems(&cf(
        "    sink_uri: blackhole://\n    start_ts: 1\n    target_ts: 2\n"
    ))
    .is_empty());
}

#[test]
fn unknown_state() {
    assert_eq!(
        one(&cf("    sink_uri: blackhole://\n    state: stopped\n")),
        p(
            4,
            12,
            "unknown state `stopped`: expected one of running, paused, absent",
            "did you mean `paused`?"
        )
    );
}

#[test]
fn missing_environment_variable() {
    assert_eq!(
        one(&cf(
            "    sink_uri: \"mysql://root:${DB_PASSWORD}@h:3306/\"\n"
        )),
        p(
            3,
            29,
            "environment variable `DB_PASSWORD` is not set",
            "export DB_PASSWORD=... before running cdcform"
        )
    );
    assert_eq!(
        one(&cf("    sink_uri: blackhole://\n    replica_config:\n      sink:\n        kafka_config:\n          sasl_password: ${SASL}\n")),
        p(7, 26, "environment variable `SASL` is not set", "export SASL=... before running cdcform")
    );
    // Every missing variable of one value is reported, each at its own column.
    let both = problems(&cf(
        "    sink_uri: \"kafka://${HOST}:9092/t?protocol=canal-json&sasl-password=${PW}\"\n",
    ));
    assert_eq!(
        both.iter().map(|p| (p.1, p.2.as_str())).collect::<Vec<_>>(),
        [
            (24, "environment variable `HOST` is not set"),
            (73, "environment variable `PW` is not set")
        ]
    );
    // `${...}` in a key is not expanded: it stays an (unknown) key.
    assert_eq!(
        one(&cf(
            "    sink_uri: blackhole://\n    replica_config:\n      ${KEY}: 1\n"
        ))
        .2,
        "unknown key `${KEY}` in replica_config"
    );
    // Other checks of the URI still run with the variable missing.
    let all = problems(&cf(
        "    sink_uri: \"mysql://root:${DB_PASSWORD}@h:3306/?protocol=avro\"\n",
    ));
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(
        all[0].2,
        "`protocol` is set for the MySQL sink scheme `mysql`"
    );
}

#[test]
fn invalid_filter_rules() {
    let text = cf(concat!(
        "    sink_uri: blackhole://\n",
        "    replica_config:\n",
        "      filter:\n",
        "        rules: [\"shop.*\", \"shop\", \"a.b.c\", \"x.[\"]\n",
        "        event_filters:\n",
        "          - matcher: [\"shop.\"]\n",
        "            ignore_event: [delete]\n",
    ));
    let help = "write `schema.table` with optional `*`, `?`, `[...]` wildcards and a leading `!` to exclude, e.g. `shop.order_*`";
    assert_eq!(
        problems(&text),
        vec![
            p(
                6,
                27,
                "invalid filter rule `shop`: missing `.`: a rule is `schema.table`",
                help
            ),
            p(
                6,
                35,
                "invalid filter rule `a.b.c`: too many `.`: a rule is `schema.table`",
                help
            ),
            p(
                6,
                44,
                "invalid filter rule `x.[`: unterminated character class `[`",
                help
            ),
            p(
                8,
                23,
                "invalid filter rule `shop.`: empty table name after `.`",
                help
            ),
        ]
    );
}

#[test]
fn durations_reject_garbage() {
    assert_eq!(
        one(&cf("    sink_uri: blackhole://\n    replica_config:\n      changefeed_error_stuck_duration: 2 hours\n")),
        p(
            5,
            40,
            "invalid duration `2 hours` in replica_config.changefeed_error_stuck_duration",
            "write a number of nanoseconds or a Go duration such as \"30s\", \"10m\", \"1h30m\""
        )
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = concat!(
        "changefeeds:\n",
        "  - id: bad_id\n",
        "    sink_uri: \"kafka://h:9092/t\"\n",
        "    state: gone\n",
        "    replica_config:\n",
        "      mounter:\n",
        "        worker_nmu: 8\n",
        "  - id: ok-one\n",
        "    sink_uri: \"mysql://u:${NOPE}@h:3306/\"\n",
    );
    let got: Vec<(usize, usize)> = problems(text).iter().map(|p| (p.0, p.1)).collect();
    assert_eq!(got, vec![(2, 9), (3, 15), (4, 12), (7, 9), (9, 26)]);
}

// ---------------------------------------------------------------- hostile input

fn load_file(name: &str, bytes: &[u8]) -> Result<manifest::DesiredSet, Diagnostics> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    load(&[path], &env)
}

fn only_message(r: Result<manifest::DesiredSet, Diagnostics>) -> (usize, usize, String) {
    let d = r.unwrap_err().0;
    assert_eq!(d.len(), 1, "{d:#?}");
    (d[0].line, d[0].column, d[0].message.clone())
}

#[test]
fn empty_file_is_refused() {
    assert_eq!(
        only_message(load_file("e.yaml", b"")),
        (0, 0, "file is empty: no manifest document".into())
    );
    assert_eq!(
        only_message(load_file("c.yaml", b"# only a comment\n---\n")),
        (0, 0, "file is empty: no manifest document".into())
    );
    // An explicit empty list is a valid (empty) manifest.
    assert_eq!(
        load_file("l.yaml", b"changefeeds: []\n")
            .unwrap()
            .changefeeds
            .len(),
        0
    );
}

#[test]
fn binary_and_non_utf8_files_are_refused() {
    assert_eq!(
        only_message(load_file("b.yaml", b"changefeeds:\n\x00\x01\x02")),
        (
            2,
            1,
            "binary data (a NUL byte at byte offset 13), not a YAML manifest".into()
        )
    );
    assert_eq!(
        only_message(load_file("l.yaml", b"changefeeds:\n  - id: caf\xe9\n")),
        (
            2,
            12,
            "file is not valid UTF-8 (invalid byte 0xe9 at byte offset 24)".into()
        )
    );
}

#[test]
fn huge_file_is_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let line = "# padding padding padding padding padding padding padding padding padding\n";
        let mut written = 0;
        while written < 50 * 1024 * 1024 {
            f.write_all(line.as_bytes()).unwrap();
            written += line.len();
        }
    }
    let started = std::time::Instant::now();
    let (_, _, message) = only_message(load(&[path], &env));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(
        message.starts_with("file is too large (5242")
            && message.ends_with("bytes; the limit is 10485760 bytes)"),
        "{message}"
    );
}

#[test]
fn deep_nesting_is_refused() {
    let deep = format!(
        "changefeeds: {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let (line, _, message) = only_message(load_file("deep.yaml", deep.as_bytes()));
    assert_eq!(line, 1);
    assert_eq!(message, "invalid YAML: nesting is deeper than 32 levels");
    let mut nested = String::from("changefeeds:\n");
    for i in 0..200 {
        nested.push_str(&format!("{}k{i}:\n", "  ".repeat(i + 1)));
    }
    let (line, _, message) = only_message(load_file("nested.yaml", nested.as_bytes()));
    assert_eq!(line, 33);
    assert_eq!(message, "invalid YAML: nesting is deeper than 32 levels");
}

#[test]
fn alias_bomb_is_refused_quickly() {
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
    let mut prev = "a";
    for n in names {
        bomb.push_str(&format!(
            "{n}: &{n} [{}]\n",
            vec![format!("*{prev}"); 9].join(",")
        ));
        prev = n;
    }
    let started = std::time::Instant::now();
    let (_, _, message) = only_message(load_file("bomb.yaml", bomb.as_bytes()));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(
        message.starts_with("invalid YAML: too many alias expansions"),
        "{message}"
    );
}

#[test]
fn tabs_are_refused() {
    let d = load_str("t.yaml", "changefeeds:\n\t- id: a\n", &env)
        .unwrap_err()
        .0;
    assert_eq!((d[0].line, d[0].column), (2, 1));
    assert_eq!(d[0].message, "tab character used for indentation");
    assert_eq!(
        d[0].help.as_deref(),
        Some("YAML indentation must use spaces; replace the tab with spaces")
    );
}

#[test]
fn duplicate_keys_in_one_mapping_are_refused() {
    let (line, column, message, help) =
        one("changefeeds:\n  - id: a\n    sink_uri: blackhole://\n    sink_uri: mysql://h/\n");
    assert_eq!((line, column), (4, 5));
    assert_eq!(
        message,
        "invalid YAML: duplicate key `sink_uri` in one mapping"
    );
    assert_eq!(help, "remove or rename one of the duplicate keys");
}

#[test]
fn non_mapping_documents_are_refused() {
    assert_eq!(
        one("- id: a\n  sink_uri: blackhole://\n"),
        p(
            1,
            1,
            "a manifest document must be a mapping with a `changefeeds` list, found array",
            "start the document with `changefeeds:` and list the changefeeds below it"
        )
    );
    assert_eq!(
        one("changefeeds:\n  - id: a\n    sink_uri: blackhole://\n    1: x\n").2,
        "mapping key in the changefeed must be a string, found integer 1"
    );
}

#[test]
fn missing_path_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("a.yaml");
    std::fs::write(
        &good,
        "changefeeds:\n  - id: a_b\n    sink_uri: blackhole://\n",
    )
    .unwrap();
    let d = load(
        &[PathBuf::from("/nonexistent/cdcform-manifests"), good],
        &env,
    )
    .unwrap_err()
    .0;
    // The missing path and the problems of the files that exist, together.
    assert_eq!(d.len(), 2, "{d:#?}");
    assert_eq!(d[0].message, "no such file or directory");
    assert_eq!(
        d[0].help.as_deref(),
        Some("pass an existing manifest file or directory")
    );
    assert!(d[1].message.starts_with("invalid changefeed id `a_b`"));
    let empty = tempfile::tempdir().unwrap();
    let d = load(&[empty.path().to_path_buf()], &env).unwrap_err().0;
    assert_eq!(
        d[0].message,
        format!(
            "no manifest files (*.yaml, *.yml) found in {}",
            empty.path().display()
        )
    );
}

// ---------------------------------------------------------------- the loaded model

#[test]
fn directories_are_read_sorted_and_multi_document() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(
        dir.path().join("sub/c.yml"),
        "changefeeds:\n  - id: c\n    sink_uri: blackhole://\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        "changefeeds:\n  - id: b1\n    sink_uri: blackhole://\n---\nchangefeeds:\n  - id: b2\n    sink_uri: blackhole://\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        "changefeeds:\n  - id: a\n    sink_uri: blackhole://\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not yaml: [").unwrap();
    let set = load(&[dir.path().to_path_buf()], &env).unwrap();
    let ids: Vec<&str> = set.changefeeds.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["a", "b1", "b2", "c"]);
    assert_eq!(set.files.len(), 3);
    assert_eq!(set.changefeeds[2].location.line, 6);
    assert_eq!(set.changefeeds[2].location.column, 5);
    assert_eq!(set.changefeeds[2].location.file, dir.path().join("b.yaml"));
}

#[test]
fn model_has_api_json_durations_and_templates() {
    let text = concat!(
        "changefeeds:\n",
        "  - id: orders\n",
        "    namespace: prod\n",
        "    state: paused\n",
        "    start_ts: 7\n",
        "    sink_uri: \"kafka://h:9092/${TOPIC}?protocol=canal-json&sasl-password=${KAFKA_PASSWORD}\"\n",
        "    replica_config:\n",
        "      sync_point_interval: 1h30m\n",
        "      changefeed_error_stuck_duration: 1800000000000\n",
        "      filter:\n",
        "        rules: [\"shop.*\"]\n",
        "      sink:\n",
        "        send-all-bootstrap-at-start: true\n",
        "        topic_note: null\n",
    );
    // `topic_note` is unknown: fix it and load again.
    assert_eq!(
        problems(text)[0].2,
        "unknown key `topic_note` in replica_config.sink"
    );
    let text = text.replace(
        "        topic_note: null\n",
        "        pulsar_config:\n          authentication-token: \"tok$${x}\"\n",
    );
    let set = load_str("m.yaml", &text, &env).unwrap();
    let c = &set.changefeeds[0];
    assert_eq!(c.id, "orders");
    assert_eq!(c.namespace.as_deref(), Some("prod"));
    assert_eq!(c.state, DesiredState::Paused);
    assert_eq!(c.start_ts, Some(7));
    assert_eq!(c.target_ts, None);
    assert_eq!(
        c.sink_uri,
        "kafka://h:9092/orders?protocol=canal-json&sasl-password=kafka-s3cret"
    );
    assert_eq!(
        c.sink_uri_template,
        "kafka://h:9092/${TOPIC}?protocol=canal-json&sasl-password=${KAFKA_PASSWORD}"
    );
    assert_eq!(
        c.replica_config,
        Some(serde_json::json!({
            "sync_point_interval": 5_400_000_000_000u64,
            "changefeed_error_stuck_duration": 1_800_000_000_000u64,
            "filter": {"rules": ["shop.*"]},
            "sink": {"send-all-bootstrap-at-start": true, "pulsar_config": {"authentication-token": "tok${x}"}}
        }))
    );
    assert_eq!(
        c.replica_config_template.as_ref().unwrap()["sink"]["pulsar_config"]
            ["authentication-token"],
        "tok$${x}"
    );
    let sensitive: Vec<&str> = c.sensitive.iter().map(String::as_str).collect();
    assert_eq!(
        sensitive,
        [
            "replica_config.sink.pulsar_config.authentication-token",
            "sink_uri"
        ]
    );
}

#[test]
fn sensitive_paths() {
    let text = concat!(
        "changefeeds:\n",
        "  - id: a\n",
        "    sink_uri: \"mysql://root:pw@h:3306/\"\n",
        "  - id: b\n",
        "    sink_uri: \"s3://bucket/p?protocol=csv&secret-access-key=abc\"\n",
        "  - id: c\n",
        "    sink_uri: \"kafka://h:9092/t?protocol=avro\"\n",
        "    replica_config:\n",
        "      filter:\n",
        "        rules: [\"${TOPIC}.*\"]\n",
        "      sink:\n",
        "        schema_registry: \"http://registry:8081\"\n",
        "        kafka_config:\n",
        "          sasl_password: plain-in-file\n",
        "  - id: d\n",
        "    sink_uri: \"mysql://root@h:3306/\"\n",
        "  - id: gone\n",
        "    state: absent\n",
    );
    let set = load_str("s.yaml", text, &env).unwrap();
    let s = |i: usize| {
        set.changefeeds[i]
            .sensitive
            .iter()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(s(0), ["sink_uri"]);
    assert_eq!(s(1), ["sink_uri"]);
    assert_eq!(
        s(2),
        [
            "replica_config.filter.rules.0",
            "replica_config.sink.kafka_config.sasl_password",
            "replica_config.sink.schema_registry"
        ]
    );
    assert!(s(3).is_empty());
    assert_eq!(set.changefeeds[4].state, DesiredState::Absent);
    assert_eq!(set.changefeeds[4].sink_uri, "");
    assert_eq!(set.changefeeds[4].replica_config, None);
    assert!(manifest::SECRET_CONFIG_PATHS.contains(&"sink.kafka_config.sasl_password"));
}

#[test]
fn expand_api() {
    assert_eq!(
        manifest::expand("a-${TOPIC}-$${TOPIC}", &env),
        Ok("a-orders-${TOPIC}".into())
    );
    assert_eq!(
        manifest::expand("${MISSING}", &env),
        Err("environment variable `MISSING` is not set".into())
    );
}

// ---------------------------------------------------------------- rendering (insta)

#[test]
fn rendered_diagnostics_snapshot() {
    let text = concat!(
        "changefeeds:\n",
        "  - id: orders_to_kafka\n",
        "    sink_uri: \"kafka://kafka-1:9092/orders\"\n",
        "    state: stoped\n",
        "    replica_config:\n",
        "      mounter:\n",
        "        worker_nmu: 8\n",
        "      enable_sync_point: true\n",
        "      sync_point_interval: 10s\n",
        "  - id: to-mysql\n",
        "    sink_uri: \"mysql://root:${MYSQL_PASSWORD}@tidb:4000/?protocol=canal-json\"\n",
    );
    let d = load_str("changefeeds/orders.yaml", text, &env).unwrap_err();
    insta::assert_snapshot!(
        "rendered_diagnostics",
        cdcform::render::diagnostics::render(&d, false)
    );
}

#[test]
fn rendered_hostile_snapshot() {
    let d = load_str(
        "tabs.yaml",
        "changefeeds:\n  - id: a\n\t  sink_uri: x\n",
        &env,
    )
    .unwrap_err();
    insta::assert_snapshot!(
        "rendered_tabs",
        cdcform::render::diagnostics::render(&d, false)
    );
    let d = load_str("dup.yaml", "changefeeds:\n  - id: a\n    id: b\n", &env).unwrap_err();
    insta::assert_snapshot!(
        "rendered_duplicate_key",
        cdcform::render::diagnostics::render(&d, false)
    );
}

// ---------------------------------------------------------------- schema.json and examples

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn schema_json_is_fresh() {
    // Also `cargo run -- schema > schema.json`.
    let fresh = serde_json::to_string_pretty(&manifest::json_schema()).unwrap() + "\n";
    crate::harness::assert_fresh("schema.json", &fresh);
}

fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join("examples/changefeeds"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .filter(|p| std::fs::read_to_string(p).unwrap().contains("changefeeds:"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_validates_against_schema_json() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_root().join("schema.json")).unwrap())
            .unwrap();
    let files = example_files();
    assert!(files.len() >= 5, "{files:?}");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../../schema.json\n"),
            "{} lacks the modeline",
            f.display()
        );
        let docs = manifest::load::parse_documents(f, &text).unwrap();
        for doc in &docs {
            let errors = manifest::schema::check(&schema, doc, f);
            assert!(errors.is_empty(), "{}: {errors:#?}", f.display());
        }
    }
    // The checker does catch what the schema forbids.
    let bad = manifest::load::parse_documents(
        Path::new("x.yaml"),
        "changefeeds:\n  - id: a\n    bogus: 1\n",
    )
    .unwrap();
    assert_eq!(
        manifest::schema::check(&schema, &bad[0], Path::new("x.yaml")).len(),
        1
    );
}

#[test]
fn every_example_loads_and_covers_the_features() {
    let set = load(&example_files(), &env).unwrap();
    let ids: Vec<&str> = set.changefeeds.iter().map(|c| c.id.as_str()).collect();
    for id in [
        "orders-to-kafka",
        "shop-to-dr-tidb",
        "shop-to-s3-csv",
        "audit-to-kafka",
        "legacy-to-kafka",
        "old-orders-to-mysql",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let states: Vec<DesiredState> = set.changefeeds.iter().map(|c| c.state).collect();
    assert!(states.contains(&DesiredState::Paused) && states.contains(&DesiredState::Absent));
}

// ---------------------------------------------------------------- the command

#[test]
fn validate_command_exit_codes_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), "changefeeds:\n  - id: a\n    sink_uri: blackhole://\n  - id: b\n    sink_uri: blackhole://\n").unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        "changefeeds:\n  - id: c\n    sink_uri: \"mysql://root:${CDCFORM_TEST_PW}@h:3306/\"\n",
    )
    .unwrap();
    let ok = assert_cmd::Command::cargo_bin("cdcform")
        .unwrap()
        .args(["validate", "--color", "never"])
        .arg(dir.path())
        .env("CDCFORM_TEST_PW", "pw")
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout),
        "3 changefeeds in 2 files are valid.\n"
    );

    // No path: the current directory.
    let here = assert_cmd::Command::cargo_bin("cdcform")
        .unwrap()
        .arg("validate")
        .current_dir(dir.path())
        .env("CDCFORM_TEST_PW", "pw")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&here.stdout),
        "3 changefeeds in 2 files are valid.\n"
    );

    let bad = assert_cmd::Command::cargo_bin("cdcform")
        .unwrap()
        .args(["validate", "--color", "never"])
        .arg(dir.path())
        .env_remove("CDCFORM_TEST_PW")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(bad.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("error: environment variable `CDCFORM_TEST_PW` is not set\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            " --> {}:3:29\n",
            dir.path().join("b.yaml").display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("pw@"), "{stderr}");
}

#[test]
fn identifiers_are_never_expanded_so_never_leak() {
    let env = |_: &str| Some("s3cret-value".to_string());
    let d = manifest::load_str(
        "x.yaml",
        "changefeeds:\n  - id: orders-${PW}\n    namespace: ${NS}\n    sink_uri: \"blackhole://\"\n",
        &env,
    )
    .unwrap_err();
    let shown = cdcform::render::diagnostics::render(&d, false);
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(
        shown.contains("x.yaml:2:9") && shown.contains("orders-${PW}"),
        "{shown}"
    );
}
