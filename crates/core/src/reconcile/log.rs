//! The reconcile loop's log lines on stderr: `text` for people, `json` (one object a line) for
//! log collectors.

use std::io::Write;

use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Writes one line per event to stderr.
#[derive(Debug, Clone, Copy, Default)]
pub struct Log {
    pub format: LogFormat,
}

impl Log {
    /// One event: `level` (info, warn, error), the cluster it concerns, a message, and fields.
    pub fn event(&self, level: &str, cluster: Option<&str>, msg: &str, fields: &[(&str, Value)]) {
        let line = self.line(level, cluster, msg, fields);
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }

    fn line(
        &self,
        level: &str,
        cluster: Option<&str>,
        msg: &str,
        fields: &[(&str, Value)],
    ) -> String {
        let ts = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        match self.format {
            LogFormat::Json => {
                let mut m = Map::new();
                m.insert("ts".into(), ts.into());
                m.insert("level".into(), level.into());
                if let Some(c) = cluster {
                    m.insert("cluster".into(), c.into());
                }
                m.insert("msg".into(), msg.into());
                for (k, v) in fields {
                    m.insert((*k).into(), v.clone());
                }
                Value::Object(m).to_string()
            }
            LogFormat::Text => {
                let mut s = format!("{ts} {:<5}", level.to_uppercase());
                if let Some(c) = cluster {
                    s.push_str(&format!(" [{c}]"));
                }
                s.push(' ');
                // One record per line, whatever the message holds (a validation error spans
                // several): line breaks are written as the two characters `\n`, as a JSON
                // string would, so `journalctl` and log shippers see one record.
                for c in msg.chars() {
                    match c {
                        '\n' => s.push_str("\\n"),
                        '\r' => s.push_str("\\r"),
                        c => s.push(c),
                    }
                }
                for (k, v) in fields {
                    match v {
                        Value::String(t) => s.push_str(&format!(" {k}={t:?}")),
                        other => s.push_str(&format!(" {k}={other}")),
                    }
                }
                s
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_one_object_with_the_fields() {
        let log = Log {
            format: LogFormat::Json,
        };
        let line = log.line("info", Some("a"), "cycle ok", &[("drift", 2.into())]);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["cluster"], "a");
        assert_eq!(v["msg"], "cycle ok");
        assert_eq!(v["drift"], 2);
        assert!(!line.contains('\n'));
        let text = Log::default().line("warn", None, "stopping", &[("why", "SIGTERM".into())]);
        assert!(text.ends_with("WARN  stopping why=\"SIGTERM\""), "{text}");
    }

    #[test]
    fn a_text_record_with_line_breaks_stays_on_one_line() {
        let text = Log::default().line(
            "error",
            Some("prod"),
            "the manifests do not validate:\nfeeds/a.yaml:3:5: unknown key\r\nhelp: did you mean",
            &[],
        );
        assert!(!text.contains('\n') && !text.contains('\r'), "{text}");
        assert!(
            text.ends_with("[prod] the manifests do not validate:\\nfeeds/a.yaml:3:5: unknown key\\r\\nhelp: did you mean"),
            "{text}"
        );
    }
}
