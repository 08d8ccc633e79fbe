//! Problems found in manifests, each pinned to a file:line:column.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based; 0 when unknown (a problem with the whole file).
    pub line: usize,
    /// 1-based, in characters; 0 when unknown.
    pub column: usize,
    pub message: String,
    /// One-line fix.
    pub help: Option<String>,
    /// The source line the problem is on (without its newline), when known.
    pub source: Option<String>,
}

impl Diagnostic {
    /// A diagnostic without a source line.
    pub fn new(
        file: impl Into<PathBuf>,
        line: usize,
        column: usize,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Diagnostic {
        Diagnostic {
            file: file.into(),
            line,
            column,
            message: message.into(),
            help,
            source: None,
        }
    }

    /// `file:line:column` (or just `file` when the line is unknown).
    pub fn location(&self) -> String {
        if self.line == 0 {
            self.file.display().to_string()
        } else {
            format!("{}:{}:{}", self.file.display(), self.line, self.column)
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Attach source lines from a file's text to the diagnostics of that file.
    pub fn attach_source(&mut self, file: &std::path::Path, text: &str) {
        for d in self.0.iter_mut().filter(|d| d.file == file && d.line > 0) {
            if d.source.is_none() {
                d.source = text
                    .lines()
                    .nth(d.line - 1)
                    .map(|l| l.trim_end_matches('\r').to_string());
            }
        }
    }
}

impl std::fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for d in &self.0 {
            write!(f, "{}: {}", d.location(), d.message)?;
            if let Some(h) = &d.help {
                write!(f, " (help: {h})")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
