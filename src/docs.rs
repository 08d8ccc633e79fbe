//! The generated reference pages: docs/reference/commands.md (every command's `--help`, from
//! clap) and docs/reference/manifest.md (every manifest field, from the JSON Schema that
//! `schema.json` holds). `tests/it/docs.rs` compares the committed pages with this output, so
//! the reference cannot drift from the parser or the manifest types.

use std::fmt::Write;

use clap::CommandFactory;
use serde_json::Value;

/// How to regenerate every generated file (schema.json and these pages): the tests write them.
pub const REGENERATE: &str = "UPDATE_SCHEMA=1 cargo test --test it fresh";

fn header(what: &str) -> String {
    format!("<!-- Generated from {what}; do not edit. Regenerate with `{REGENERATE}`. -->\n\n")
}

/// GitHub's anchor for a heading: lower case, spaces to hyphens, punctuation other than `-`
/// and `_` dropped.
pub fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// docs/reference/commands.md: a section per visible command (`cli::command_tree`) with its
/// long help, as `cdcform COMMAND --help` prints it on 100 columns.
pub fn commands_md() -> String {
    let tree = crate::cli::command_tree(crate::cli::Cli::command());
    let mut out = header("the clap definitions in src/cli.rs");
    out.push_str("# Command reference\n\n");
    out.push_str(
        "Every command and flag, as `cdcform COMMAND --help` prints it. Exit codes are in \
         [exit-codes.md](exit-codes.md), the environment variables in \
         [environment.md](environment.md), the configuration file in \
         [cdcform-toml.md](cdcform-toml.md); the [guides](../README.md#guides-by-task) explain each command by \
         task.\n\n",
    );
    for (path, _) in &tree {
        let _ = writeln!(out, "- [`{path}`](#{})", anchor(path));
    }
    for (path, cmd) in tree {
        // The page must not depend on who generates it: no `[env: CDCFORM_SERVER=…]` values.
        let mut cmd = cmd.term_width(100).mut_args(|a| a.hide_env_values(true));
        let help = cmd.render_long_help().to_string();
        let _ = write!(out, "\n## {path}\n\n");
        let top = path.split(' ').nth(1).unwrap_or("");
        if let Some((_, title, page)) = GUIDES.iter().find(|(c, _, _)| *c == top) {
            let _ = write!(out, "Guide: [{title}](../guide/{page}).\n\n");
        }
        let _ = write!(out, "```text\n{}\n```\n", help.trim_end());
    }
    out
}

/// The guide that explains each top-level command (docs/guide/); the docs test checks that
/// every link resolves.
const GUIDES: &[(&str, &str, &str)] = &[
    ("validate", "Writing manifests", "manifests.md"),
    ("plan", "Reading a plan", "plans.md"),
    ("apply", "Applying changes", "applying.md"),
    ("export", "Adopting an existing cluster", "adopting.md"),
    ("status", "Checking a cluster with status", "status.md"),
    ("reconcile", "Reconcile with metrics", "reconcile.md"),
    ("simulate", "The simulator", "simulator.md"),
    ("demo", "The simulator", "simulator.md"),
    ("policy", "Policies", "policies.md"),
    ("ci", "CI on pull requests", "ci.md"),
    (
        "schema",
        "Writing manifests",
        "manifests.md#editor-set-up-schemajson",
    ),
];

/// docs/reference/manifest.md: the manifest's fields, one table per type of the schema.
pub fn manifest_md(schema: &Value) -> String {
    let mut out = header("the manifest types (schema.json)");
    out.push_str("# Manifest reference\n\n");
    out.push_str(
        "Every field a manifest may hold, from the JSON Schema the manifest types generate \
         ([`schema.json`](../../schema.json)). Keys are TiCDC's own JSON names; a key left out \
         keeps the server's default. How manifests are read, variables, secrets and the checks \
         `validate` makes: [Writing manifests](../guide/manifests.md).\n",
    );
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let _ = write!(
        out,
        "\n## Document\n\n{}\n",
        one_line(&text(schema, "description"))
    );
    table(&mut out, schema);
    if let Some(defs) = schema.get("definitions").and_then(Value::as_object) {
        for (name, def) in defs {
            let _ = write!(
                out,
                "\n## {name}\n\n{}\n",
                one_line(&text(def, "description"))
            );
            if def.get("properties").is_some() {
                table(&mut out, def);
            } else if let Some(variants) = def.get("oneOf").and_then(Value::as_array) {
                out.push('\n');
                for v in variants {
                    let _ = writeln!(
                        out,
                        "- {}: {}",
                        type_of(v),
                        one_line(&text(v, "description"))
                    );
                }
            } else {
                let _ = writeln!(out, "\nType: {}.", type_of(def));
            }
        }
    }
    out
}

fn table(out: &mut String, def: &Value) {
    let Some(props) = def.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> = def
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    out.push_str("\n| key | type | description |\n| --- | --- | --- |\n");
    for (key, p) in props {
        let mut desc = one_line(p.get("description").and_then(Value::as_str).unwrap_or(""));
        if required.contains(&key.as_str()) {
            desc = format!("**Required.** {desc}");
        }
        if let Some(d) = p.get("default") {
            if !d.is_null() {
                desc = format!("{desc} Default: `{d}`.");
            }
        }
        let _ = writeln!(
            out,
            "| `{key}` | {} | {} |",
            type_of(p),
            desc.trim().replace('|', "\\|")
        );
    }
}

/// A schema's type in words: `string`, `integer ≥ 0`, `list of [X](#x)`, `"running"`, …;
/// `null` alternatives are left out (every optional field may be null).
fn type_of(v: &Value) -> String {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("[{name}](#{})", anchor(name));
    }
    if let Some(c) = v.get("const") {
        return format!("`{c}`");
    }
    if let Some(e) = v.get("enum").and_then(Value::as_array) {
        let vals: Vec<String> = e
            .iter()
            .filter(|x| !x.is_null())
            .map(|x| format!("`{x}`"))
            .collect();
        return vals.join(" \\| ");
    }
    for k in ["anyOf", "oneOf"] {
        if let Some(alts) = v.get(k).and_then(Value::as_array) {
            let parts: Vec<String> = alts
                .iter()
                .filter(|a| a.get("type").and_then(Value::as_str) != Some("null"))
                .map(type_of)
                .collect();
            return parts.join(" or ");
        }
    }
    let types: Vec<&str> = match v.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let parts: Vec<String> = types
        .into_iter()
        .filter(|t| *t != "null")
        .map(|t| match t {
            "array" => match v.get("items") {
                Some(items) => format!("list of {}", type_of(items)),
                None => "list".to_string(),
            },
            "object" => match v.get("additionalProperties") {
                Some(ap) if ap.is_object() => format!("map of {}", type_of(ap)),
                _ => "object".to_string(),
            },
            "integer" if v.get("minimum").and_then(Value::as_i64) == Some(0) => {
                "integer ≥ 0".to_string()
            }
            t => t.to_string(),
        })
        .collect();
    if parts.is_empty() {
        "any".to_string()
    } else {
        parts.join(" or ")
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
