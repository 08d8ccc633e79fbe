//! `${NAME}` expansion from the environment; `$${` writes a literal `${`.
//!
//! Only `${` starts a reference; any other `$` is kept as is. NAME is `[A-Za-z_][A-Za-z0-9_]*`.

/// A problem found while expanding one string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpandError {
    /// `${NAME}` where NAME is not set.
    Missing(String),
    /// `${` without a closing `}`.
    Unterminated,
    /// `${...}` whose content is not a valid variable name.
    BadName(String),
}

impl std::fmt::Display for ExpandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpandError::Missing(n) => write!(f, "environment variable `{n}` is not set"),
            ExpandError::Unterminated => f.write_str("unterminated `${`: missing `}`"),
            ExpandError::BadName(n) => write!(f, "invalid variable name `{n}` in `${{{n}}}`"),
        }
    }
}

impl ExpandError {
    /// One-line fix.
    pub fn help(&self) -> String {
        match self {
            ExpandError::Missing(n) => format!("export {n}=... before running cdcform"),
            ExpandError::Unterminated | ExpandError::BadName(_) => {
                "write `${NAME}` with NAME made of letters, digits and `_`, or `$${` for a literal `${`".into()
            }
        }
    }
}

/// The process environment for `${NAME}` in manifests. A variable that is set but empty is a
/// value (an empty password is a valid password), not "unset"; only an unset one is missing.
pub fn from_process(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Expand every reference; collect every problem (all missing variables, not just the first).
pub fn expand_all(
    template: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> (String, Vec<ExpandError>) {
    let mut out = String::with_capacity(template.len());
    let mut errs = Vec::new();
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(r) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = r;
        } else if let Some(r) = after.strip_prefix("${") {
            match r.find('}') {
                None => {
                    errs.push(ExpandError::Unterminated);
                    out.push_str(after);
                    rest = "";
                }
                Some(end) => {
                    let name = &r[..end];
                    if !valid_name(name) {
                        errs.push(ExpandError::BadName(name.to_string()));
                    } else {
                        match env(name) {
                            Some(v) => out.push_str(&v),
                            None => errs.push(ExpandError::Missing(name.to_string())),
                        }
                    }
                    rest = &r[end + 1..];
                }
            }
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    (out, errs)
}

/// Names referenced with `${NAME}` (not `$${`).
pub fn references(template: &str) -> Vec<String> {
    let (_, errs) = expand_all(template, &|_| None);
    errs.into_iter()
        .filter_map(|e| match e {
            ExpandError::Missing(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// `${VAR}` expansion with `$${` for a literal `${`. The error names the first problem.
pub fn expand(template: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let (s, errs) = expand_all(template, env);
    match errs.first() {
        None => Ok(s),
        Some(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(n: &str) -> Option<String> {
        match n {
            "PW" => Some("s3cr$t".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_and_escapes() {
        assert_eq!(expand("a=${PW}&b", &env), Ok("a=s3cr$t&b".into()));
        assert_eq!(expand("$${PW}", &env), Ok("${PW}".into()));
        // Left to right: `$` then `$${` (a literal `${`).
        assert_eq!(expand("$$${PW}", &env), Ok("$${PW}".into()));
        assert_eq!(expand("cost $5 ${EMPTY}", &env), Ok("cost $5 ".into()));
        assert_eq!(expand("$", &env), Ok("$".into()));
        assert_eq!(
            expand("${NOPE}", &env),
            Err("environment variable `NOPE` is not set".into())
        );
        assert_eq!(
            expand("${PW", &env),
            Err("unterminated `${`: missing `}`".into())
        );
        assert!(expand("${1X}", &env).is_err());
        let (_, errs) = expand_all("${A}${B}", &env);
        assert_eq!(errs.len(), 2);
        assert_eq!(
            references("x${A}$${B}${C}"),
            vec!["A".to_string(), "C".to_string()]
        );
    }
}
