//! The one place that decides colour, verbosity and where text goes:
//! data to stdout, progress and diagnostics to stderr.

use std::io::{IsTerminal, Write};

use crate::cli::{ColorChoice, OutputArgs, PlanFormat};
use crate::plan::Plan;

#[derive(Debug, Clone)]
pub struct Output {
    pub color_stdout: bool,
    pub color_stderr: bool,
    /// -1 quiet, 0 normal, 1 -v, 2 -vv
    pub verbosity: i8,
}

/// Whether to colour a stream. `--color always` wins over `NO_COLOR` (no-color.org: a
/// command-line flag overrides the variable); `auto` honours it, and colours terminals only.
fn colour_for(choice: ColorChoice, is_tty: bool) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    match choice {
        ColorChoice::Never => false,
        ColorChoice::Always => true,
        ColorChoice::Auto => {
            !no_color && is_tty && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    }
}

impl Output {
    pub fn from_args(g: &OutputArgs) -> Output {
        let choice = g
            .color
            .unwrap_or_else(|| match std::env::var("CDCFORM_COLOR").as_deref() {
                Ok("always") => ColorChoice::Always,
                Ok("never") => ColorChoice::Never,
                _ => ColorChoice::Auto,
            });
        Output {
            color_stdout: colour_for(choice, std::io::stdout().is_terminal()),
            color_stderr: colour_for(choice, std::io::stderr().is_terminal()),
            verbosity: if g.quiet { -1 } else { g.verbose.min(3) as i8 },
        }
    }

    /// Plain output, for tests and the in-process demo.
    pub fn plain() -> Output {
        Output {
            color_stdout: false,
            color_stderr: false,
            verbosity: 0,
        }
    }

    /// One cluster's plan, its header naming the cluster and the server it was read from.
    pub fn render_cluster_plan(
        &self,
        p: &crate::pipeline::ClusterPlan,
        format: PlanFormat,
    ) -> String {
        let Ok(planned) = &p.outcome else {
            return String::new();
        };
        match format {
            PlanFormat::Human if self.verbosity >= 0 => format!(
                "{}\n\n{}",
                crate::render::fleet::heading(p),
                self.render_plan(&planned.plan, format)
            ),
            _ => self.render_plan(&planned.plan, format),
        }
    }

    /// The plans of several clusters as one report.
    pub fn render_plans(
        &self,
        plans: &[crate::pipeline::ClusterPlan],
        format: PlanFormat,
        max_chars: Option<usize>,
    ) -> String {
        match format {
            PlanFormat::Human if self.verbosity < 0 => crate::render::fleet::summary_line(plans),
            PlanFormat::Human => {
                crate::render::fleet::human(plans, self.color_stdout, self.verbosity >= 1)
            }
            PlanFormat::Json => crate::render::fleet::json(plans),
            PlanFormat::Markdown => {
                let md = crate::ci::markdown_options(
                    None,
                    max_chars,
                    None,
                    &crate::settings::process_env,
                );
                crate::render::fleet::markdown(plans, &md)
            }
        }
    }

    /// Progress lines of the pipeline (retry notices), to stderr.
    pub fn progress_line(&self) -> crate::pipeline::Progress {
        let out = self.clone();
        std::sync::Arc::new(move |line: &str| out.progress(line))
    }

    /// What holds a plan back (the gate), in the words every path uses; `prefix` names the
    /// cluster when a run has several.
    pub fn held(&self, prefix: &str, h: &crate::pipeline::Held) {
        let st = anstyle::Style::new()
            .fg_color(Some(anstyle::AnsiColor::Red.into()))
            .bold();
        let label = match self.color_stderr {
            true => format!("{st}error{st:#}"),
            false => "error".to_string(),
        };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{label}: {prefix}{}\nhelp: {}", h.message, h.hint);
    }

    /// Log to stderr; `-vv` shows HTTP requests (paths only, never bodies).
    /// A plan in the format the user chose, coloured and detailed as this output allows.
    pub fn render_plan(&self, plan: &Plan, format: PlanFormat) -> String {
        match format {
            // -q: a successful plan is its summary line.
            PlanFormat::Human if self.verbosity < 0 => plan.summary.line(),
            PlanFormat::Human => {
                crate::render::plan::human(plan, self.color_stdout, self.verbosity >= 1)
            }
            PlanFormat::Json => crate::render::plan::json(plan),
            PlanFormat::Markdown => crate::render::plan::markdown(
                plan,
                &crate::render::plan::MarkdownOptions::default(),
            ),
        }
    }

    pub fn init_logging(&self) {
        let level = match self.verbosity {
            i8::MIN..=0 => "warn",
            1 => "info",
            2 => "cdcform=debug",
            _ => "debug",
        };
        let filter = tracing_subscriber::EnvFilter::try_from_env("CDCFORM_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(self.color_stderr)
            .with_target(false)
            .try_init();
    }

    /// Data for stdout (plans, exports, tables).
    pub fn data(&self, text: &str) {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(text.as_bytes());
        if !text.ends_with('\n') && !text.is_empty() {
            let _ = o.write_all(b"\n");
        }
        let _ = o.flush();
    }

    /// Progress of a long run (apply, the demo): one live line on a terminal, cleared when
    /// done, so the summary is the only lasting record; a line per step elsewhere (CI logs).
    pub fn live_progress(&self) -> LiveProgress<'_> {
        let bar = (self.verbosity >= 0 && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
            {
                bar.set_style(style);
            }
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        LiveProgress { out: self, bar }
    }

    /// Ask on the terminal before changing a cluster; only `yes` is accepted. Off a terminal
    /// (CI) it refuses and names `--auto-approve`.
    pub fn confirm(&self, question: &str) -> Result<bool, crate::Error> {
        use std::io::BufRead;
        if !std::io::stdin().is_terminal() {
            return Err(crate::Error::msg(
                "refusing to apply without confirmation: stdin is not a terminal. Pass --auto-approve (e.g. in CI) or apply a saved plan",
            ));
        }
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\n{question} Only 'yes' is accepted: ");
        let _ = err.flush();
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        if line.trim() != "yes" {
            self.progress("Apply cancelled; nothing was changed.");
            return Ok(false);
        }
        Ok(true)
    }

    /// A progress or status line for stderr (hidden by -q).
    pub fn progress(&self, line: &str) {
        if self.verbosity >= 0 {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }

    pub fn warn(&self, line: &str) {
        let s = if self.color_stderr {
            let st = anstyle::Style::new()
                .fg_color(Some(anstyle::AnsiColor::Yellow.into()))
                .bold();
            format!("{st}warning{st:#}: {line}")
        } else {
            format!("warning: {line}")
        };
        let _ = writeln!(std::io::stderr().lock(), "{s}");
    }

    pub fn error(&self, e: &crate::Error) {
        let text = match e {
            crate::Error::Manifest(d) => crate::render::diagnostics::render(d, self.color_stderr),
            other => {
                let st = anstyle::Style::new()
                    .fg_color(Some(anstyle::AnsiColor::Red.into()))
                    .bold();
                if self.color_stderr {
                    format!("{st}error{st:#}: {other}")
                } else {
                    format!("error: {other}")
                }
            }
        };
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = err.write_all(b"\n");
        }
        if let Some(h) = e.hint() {
            let _ = writeln!(err, "help: {h}");
        }
    }
}

/// See [`Output::live_progress`].
pub struct LiveProgress<'a> {
    out: &'a Output,
    bar: Option<indicatif::ProgressBar>,
}

impl LiveProgress<'_> {
    pub fn line(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(line.to_string()),
            None => self.out.progress(line),
        }
    }
}

impl Drop for LiveProgress<'_> {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Count SIGINT/SIGTERM for an apply and say on stderr what each one does: the first stops new
/// changefeeds from starting, the second aborts the sequences in flight (what they paused is
/// still resumed), the third stops even those resumes.
pub fn announce_interrupts(shutdown: &crate::shutdown::Shutdown) {
    shutdown.listen(|level| match level {
        1 => eprintln!(
            "\nInterrupted: no new changefeed will start; the ones in progress finish their sequence. \
             Press Ctrl-C again to abort them (what they paused is still resumed)."
        ),
        2 => eprintln!(
            "\nAborting: resuming what this run paused; press Ctrl-C once more to stop even that."
        ),
        _ => eprintln!("\nStopping the resumes; the changefeeds left paused are listed below."),
    });
}
