//! Diagnostics rendered with the offending source line, rustc-style:
//!
//! ```text
//! error: unknown key `worker_nmu` in replica_config.mounter
//!   --> changefeeds/orders.yaml:7:9
//!    |
//!  7 |         worker_nmu: 8
//!    |         ^
//!    = help: did you mean `worker_num`?
//! ```

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use crate::manifest::{Diagnostic, Diagnostics};

struct Styles {
    error: Style,
    bold: Style,
    gutter: Style,
    help: Style,
}

impl Styles {
    fn new(color: bool) -> Styles {
        if color {
            Styles {
                error: Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
                bold: Style::new().bold(),
                gutter: Style::new().fg_color(Some(AnsiColor::Blue.into())).bold(),
                help: Style::new().fg_color(Some(AnsiColor::Cyan.into())).bold(),
            }
        } else {
            Styles {
                error: Style::new(),
                bold: Style::new(),
                gutter: Style::new(),
                help: Style::new(),
            }
        }
    }
}

/// Longest message or help line shown; a hostile file (a 5,000-character id) must not flood
/// the terminal.
const MAX_TEXT: usize = 300;
/// Longest source line shown; longer ones are cut to a window around the column.
const MAX_SOURCE: usize = 120;

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max).collect();
    s.push('…');
    s
}

/// The part of `src` to show and the caret's offset (in chars) inside it.
fn window(src: &str, column: usize) -> (String, usize) {
    let chars: Vec<char> = src.chars().collect();
    let col = column.saturating_sub(1).min(chars.len());
    if chars.len() <= MAX_SOURCE {
        return (src.to_string(), col);
    }
    let start = col.saturating_sub(MAX_SOURCE / 3);
    let end = (start + MAX_SOURCE).min(chars.len());
    let mut shown = String::new();
    let mut caret = col - start;
    if start > 0 {
        shown.push('…');
        caret += 1;
    }
    shown.extend(&chars[start..end]);
    if end < chars.len() {
        shown.push('…');
    }
    (shown, caret)
}

/// A source line as it may be shown in a CI log: a URI's password or secret query values
/// masked (TiCDC's masking), and the value of a key that holds a secret (`sasl_password:`,
/// `secret_access_key:`, …) replaced whole.
fn mask_snippet(line: &str) -> String {
    // `${NAME}` references are no secret and keep the URI readable: each stands as a token
    // the URI parser takes while the line is masked, then comes back.
    let mut refs = Vec::new();
    let mut tokened = String::new();
    let mut rest = line;
    while let Some(i) = rest.find("${") {
        let Some(j) = rest[i..].find('}') else { break };
        tokened.push_str(&rest[..i]);
        tokened.push_str(&format!("cdcformref{}x", refs.len()));
        refs.push(&rest[i..i + j + 1]);
        rest = &rest[i + j + 1..];
    }
    tokened.push_str(rest);
    let mut line = crate::ticdc::error::scrub(&tokened);
    for (n, r) in refs.iter().enumerate().rev() {
        let token = format!("cdcformref{n}x");
        // A password that is a reference alone was masked with the rest: give it back.
        if tokened.contains(&format!(":{token}@")) && !line.contains(&token) {
            line = line.replacen(":xxxxx@", &format!(":{r}@"), 1);
        }
        line = line.replace(&token, r);
    }
    // A `cdc cli` TOML line (`sasl-password = "..."`, from a `replica_config_file`): a bare key
    // before the first `=`, with no `:` of a YAML key before it.
    let toml_key = line
        .split_once('=')
        .filter(|(k, _)| !k.contains(':') && !k.trim().is_empty() && !k.contains('['))
        .map(|(k, _)| k);
    let (key, sep) = match (toml_key, line.split_once(':')) {
        (Some(k), _) => (k, "="),
        (None, Some((k, _))) => (k, ":"),
        (None, None) => return line,
    };
    let name = key
        .trim()
        .trim_start_matches("- ")
        .trim_matches(['"', '\''])
        .replace('-', "_");
    let name = name.as_str();
    let secret = crate::manifest::SECRET_CONFIG_PATHS
        .iter()
        .any(|p| p.rsplit('.').next().map(|l| l.replace('-', "_")).as_deref() == Some(name))
        || name.ends_with("password")
        || name.ends_with("secret")
        || name.ends_with("secret_access_key")
        || (sep == "=" && (name.ends_with("token") || name.ends_with("private_key")));
    match (secret, sep) {
        (true, ":") => format!("{key}: {}", crate::plan::SENSITIVE),
        (true, _) => format!("{}= {}", key, crate::plan::SENSITIVE),
        (false, _) => line,
    }
}

fn render_one(out: &mut String, d: &Diagnostic, s: &Styles) {
    let width = if d.line > 0 {
        d.line.to_string().len()
    } else {
        1
    };
    let pad = " ".repeat(width);
    let (e, b, g, h) = (s.error, s.bold, s.gutter, s.help);
    let _ = writeln!(out, "{e}error{e:#}{b}: {}{b:#}", clip(&d.message, MAX_TEXT));
    let _ = writeln!(out, "{pad}{g}-->{g:#} {}", d.location());
    if let (Some(src), true) = (&d.source, d.line > 0) {
        let src = mask_snippet(src);
        let (shown, caret) = window(&src, d.column);
        let caret_prefix: String = shown
            .chars()
            .take(caret)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let _ = writeln!(out, "{pad} {g}|{g:#}");
        let _ = writeln!(out, "{g}{}{g:#} {g}|{g:#} {shown}", d.line);
        let _ = writeln!(out, "{pad} {g}|{g:#} {caret_prefix}{e}^{e:#}");
    }
    if let Some(help) = &d.help {
        let _ = writeln!(
            out,
            "{pad} {g}={g:#} {h}help{h:#}: {}",
            clip(help, MAX_TEXT)
        );
    }
}

/// Render every diagnostic, then a count. `color` adds ANSI styles.
pub fn render(d: &Diagnostics, color: bool) -> String {
    let s = Styles::new(color);
    let mut out = String::new();
    for (i, diag) in d.0.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        render_one(&mut out, diag, &s);
    }
    let n = d.0.len();
    let (e, b) = (s.error, s.bold);
    let _ = writeln!(
        out,
        "\n{e}error{e:#}{b}: {n} problem{} found in the manifests{b:#}",
        if n == 1 { "" } else { "s" }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_never_show_a_secret() {
        for (line, kept) in [
            (
                "    sink_uri: \"kafka://h:9092/t?protocol=x&sasl-password=canary-1\"",
                "sasl-password=xxxxx",
            ),
            (
                "    sink_uri: mysql://root:canary-1@db:3306/",
                "root:xxxxx@db",
            ),
            (
                "          sasl_password: canary-1",
                "sasl_password: (sensitive)",
            ),
            (
                "        secret_access_key: \"canary-1\"",
                "secret_access_key: (sensitive)",
            ),
        ] {
            let shown = super::mask_snippet(line);
            assert!(
                !shown.contains("canary-1") && shown.contains(kept),
                "{shown}"
            );
        }
        assert_eq!(super::mask_snippet("  - id: x_y"), "  - id: x_y");
        // `cdc cli` TOML lines (replica_config_file).
        for line in [
            "sasl-password = \"canary-1\"",
            "authentication-token = 'canary-1'",
            "  oauth2-private-key = \"canary-1\"",
            "secret-access-key=\"canary-1\"",
        ] {
            let shown = super::mask_snippet(line);
            assert!(
                !shown.contains("canary-1") && shown.contains("(sensitive)"),
                "{shown}"
            );
        }
        assert_eq!(super::mask_snippet("worker-num = 8"), "worker-num = 8");
        // A `${VAR}` is a reference, not a secret: kept, and the URI stays readable.
        let line = "    sink_uri: \"mysql://root:${PW}@tidb:4000/?protocol=canal-json\"";
        assert_eq!(super::mask_snippet(line), line);
    }

    #[test]
    fn renders_rustc_style() {
        let mut d = Diagnostic::new("a.yaml", 3, 5, "bad thing", Some("fix it".into()));
        d.source = Some("  - id: x_y".into());
        let r = render(&Diagnostics(vec![d]), false);
        assert_eq!(
            r,
            "error: bad thing\n --> a.yaml:3:5\n  |\n3 |   - id: x_y\n  |     ^\n  = help: fix it\n\nerror: 1 problem found in the manifests\n"
        );
        assert!(render(&Diagnostics(vec![]), true).contains("\u{1b}["));
    }

    #[test]
    fn long_lines_and_messages_are_cut() {
        let id = "a".repeat(5000);
        let mut d = Diagnostic::new(
            "a.yaml",
            2,
            9,
            format!("invalid id `{id}`"),
            Some(id.clone()),
        );
        d.source = Some(format!("  - id: {id}"));
        let r = render(&Diagnostics(vec![d]), false);
        assert!(r.len() < 1200, "{}", r.len());
        assert!(r.contains("--> a.yaml:2:9") && r.contains('…'));
        let mut d = Diagnostic::new("a.yaml", 1, 200, "x", None);
        d.source = Some(format!("{}X{}", "b".repeat(199), "c".repeat(300)));
        let r = render(&Diagnostics(vec![d]), false);
        let lines: Vec<&str> = r.lines().collect();
        let (src, caret) = (lines[3], lines[4]);
        let at = caret.find('^').unwrap();
        assert_eq!(src.chars().nth(at), Some('X'), "{src}\n{caret}");
    }
}
