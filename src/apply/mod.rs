//! Execute a Plan: changefeeds in parallel (up to `parallelism`), each one's steps in order:
//! pause → wait `stopped` → PUT the complete config → resume → wait `normal` and the checkpoint
//! moving. A failed PUT after a pause resumes the changefeed with its old config: a changefeed
//! that was running is never left paused by cdcform unless the compensating resume fails too,
//! and then the report says so loudly.
//!
//! POSTs are never repeated blindly: when a create's answer is lost, the changefeed is re-read.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use crate::plan::{Action, Entry, Key, Plan};
use crate::ticdc::error::codes;
use crate::ticdc::models::ChangefeedConfig;
use crate::ticdc::{Client, ClientError};

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub parallelism: usize,
    /// Give up waiting for a state after this long.
    pub wait_timeout: Duration,
    /// Skip the health wait after a resume or create.
    pub no_wait: bool,
    /// First poll interval; grows ×1.5 up to `poll_max`.
    pub poll_min: Duration,
    pub poll_max: Duration,
    /// Set on the first Ctrl-C: no new changefeed starts; sequences in flight finish.
    pub stop: Arc<AtomicBool>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            parallelism: 8,
            wait_timeout: Duration::from_secs(120),
            no_wait: false,
            poll_min: Duration::from_millis(20),
            poll_max: Duration::from_millis(500),
            stop: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// One executed step.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub step: &'static str,
    pub elapsed: Duration,
    pub ok: bool,
}

/// Why a changefeed's sequence failed.
#[derive(Debug, Clone)]
pub struct Failure {
    pub step: String,
    /// TiCDC error_code, when the server gave one.
    pub code: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct EntryReport {
    pub key: Key,
    pub action: Action,
    pub steps: Vec<StepReport>,
    pub failure: Option<Failure>,
    /// Not started because of an interruption.
    pub skipped: bool,
    /// It was running, a step failed, and cdcform could not resume it.
    pub left_paused: bool,
    /// What cdcform did to undo a partial sequence (e.g. resumed with the old config).
    pub compensation: Option<String>,
}

impl EntryReport {
    pub fn ok(&self) -> bool {
        self.failure.is_none() && !self.skipped
    }
}

#[derive(Debug, Clone, Default)]
pub struct ApplyReport {
    pub entries: Vec<EntryReport>,
}

impl ApplyReport {
    pub fn all_ok(&self) -> bool {
        self.entries.iter().all(EntryReport::ok)
    }
    pub fn succeeded(&self) -> usize {
        self.entries.iter().filter(|e| e.ok()).count()
    }
    pub fn failed(&self) -> usize {
        self.entries.iter().filter(|e| e.failure.is_some()).count()
    }
    pub fn skipped(&self) -> usize {
        self.entries.iter().filter(|e| e.skipped).count()
    }
}

/// A progress line sink (stderr in the CLI; a Vec in tests).
pub type Progress<'a> = &'a (dyn Fn(&str) + Sync);

struct Run<'a> {
    client: &'a Client,
    opts: &'a ApplyOptions,
    progress: Progress<'a>,
    key: Key,
    steps: Vec<StepReport>,
}

fn failure(step: &str, e: &ClientError) -> Failure {
    Failure {
        step: step.to_string(),
        code: e.code().map(str::to_string),
        message: e.brief(),
    }
}

/// Attempts for pause, resume and PUT after a transient failure (see [`Run::resend`]).
const RESEND_ATTEMPTS: usize = 3;

/// Send an operation whose repetition is harmless, again after a transient failure
/// (connection lost, 5xx): tiflow and released ticdc ignore a pause of a stopped changefeed
/// and a resume of a running one (api-semantics §4.7, §4.8), and a PUT that repeats the
/// config is refused as a no-op, which the caller treats as done. `already` recognises the
/// answer a repeat gets when the first attempt did go through.
async fn resend<F, Fut>(
    opts: &ApplyOptions,
    key: &Key,
    op: F,
    already: impl Fn(&ClientError) -> bool,
) -> Result<(), ClientError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), ClientError>>,
{
    let mut delay = opts.poll_min.max(Duration::from_millis(50));
    let mut transient_before = false;
    for attempt in 1..=RESEND_ATTEMPTS {
        match op().await {
            Ok(()) => return Ok(()),
            Err(e) if transient_before && already(&e) => return Ok(()),
            Err(e) if e.is_transient() && attempt < RESEND_ATTEMPTS => {
                tracing::debug!("{}: {} (attempt {attempt}); sending again", key, e.brief());
                transient_before = true;
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the last attempt returns")
}

impl Run<'_> {
    async fn step<T, F>(&mut self, name: &'static str, f: F) -> Result<T, Failure>
    where
        F: std::future::Future<Output = Result<T, Failure>>,
    {
        let t0 = Instant::now();
        let r = f.await;
        let elapsed = t0.elapsed();
        self.steps.push(StepReport {
            step: name,
            elapsed,
            ok: r.is_ok(),
        });
        let status = match &r {
            Ok(_) => "ok".to_string(),
            Err(f) => format!("FAILED: {}", f.message),
        };
        (self.progress)(&format!(
            "{}: {name} {status} ({})",
            self.key,
            fmt_elapsed(elapsed)
        ));
        r
    }

    /// Poll until the raw state satisfies `done`; a `failed` state ends the wait with an error.
    async fn wait_state(
        &self,
        what: &str,
        done: impl Fn(&str, u64) -> bool,
    ) -> Result<(), Failure> {
        let deadline = Instant::now() + self.opts.wait_timeout;
        let mut delay = self.opts.poll_min;
        let (ns, id) = (&self.key.namespace, &self.key.id);
        let mut last: String;
        loop {
            match self.client.changefeed_status(ns, id).await {
                Ok(s) => {
                    if done(&s.state, s.checkpoint_ts) {
                        return Ok(());
                    }
                    if s.state == "failed" && what != "failed" {
                        let err = s.last_error.map(|e| {
                            format!("{}: {}", e.code, crate::ticdc::error::scrub(&e.message))
                        });
                        return Err(Failure {
                            step: format!("wait {what}"),
                            code: None,
                            message: format!(
                                "the changefeed turned failed{}",
                                err.map(|e| format!(" ({e})")).unwrap_or_default()
                            ),
                        });
                    }
                    last = s.state;
                }
                // Classic servers show a new changefeed only on the next owner tick.
                Err(e) if e.is_not_found() => last = "not visible yet".into(),
                Err(e) if e.is_retryable() => last = e.brief(),
                Err(e) => return Err(failure(&format!("wait {what}"), &e)),
            }
            if Instant::now() + delay > deadline {
                return Err(Failure {
                    step: format!("wait {what}"),
                    code: None,
                    message: format!(
                        "gave up after {} waiting for {what} (last seen: {last}); raise --wait-timeout or check the changefeed",
                        humantime::format_duration(self.opts.wait_timeout)
                    ),
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay.mul_f32(1.5)).min(self.opts.poll_max);
        }
    }

    async fn wait_gone(&self) -> Result<(), Failure> {
        let deadline = Instant::now() + self.opts.wait_timeout;
        let mut delay = self.opts.poll_min;
        loop {
            match self
                .client
                .changefeed_status(&self.key.namespace, &self.key.id)
                .await
            {
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) if !e.is_retryable() => return Err(failure("wait deleted", &e)),
                _ => {}
            }
            if Instant::now() + delay > deadline {
                return Err(Failure {
                    step: "wait deleted".into(),
                    code: None,
                    message: format!(
                        "still present after {}",
                        humantime::format_duration(self.opts.wait_timeout)
                    ),
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay.mul_f32(1.5)).min(self.opts.poll_max);
        }
    }

    /// Poll until GET no longer shows `old` (bounded; an invisible change is not a failure).
    async fn wait_config_visible(&mut self, old: Option<&serde_json::Value>) {
        let Some(old) = old else { return };
        let t0 = Instant::now();
        let deadline = t0 + self.opts.wait_timeout.min(Duration::from_secs(5));
        let mut delay = self.opts.poll_min;
        while Instant::now() + delay < deadline {
            match self
                .client
                .get_changefeed(&self.key.namespace, &self.key.id)
                .await
            {
                Ok(info) if info.config.as_ref() != Some(old) => break,
                Err(e) if !e.is_retryable() => break,
                _ => {}
            }
            tokio::time::sleep(delay).await;
            delay = (delay.mul_f32(1.5)).min(self.opts.poll_max);
        }
        self.steps.push(StepReport {
            step: "wait updated",
            elapsed: t0.elapsed(),
            ok: true,
        });
    }

    async fn pause(&mut self) -> Result<(), Failure> {
        let (c, ns, id) = (self.client, self.key.namespace.clone(), self.key.id.clone());
        let (opts, key) = (self.opts, self.key.clone());
        self.step("pause", async {
            resend(opts, &key, || c.pause_changefeed(&ns, &id), |_| false)
                .await
                .map_err(|e| failure("pause", &e))
        })
        .await?;
        let t0 = Instant::now();
        let r = self.wait_state("stopped", |s, _| s == "stopped").await;
        self.steps.push(StepReport {
            step: "wait stopped",
            elapsed: t0.elapsed(),
            ok: r.is_ok(),
        });
        r
    }

    async fn resume(&mut self, since_checkpoint: u64) -> Result<(), Failure> {
        let (c, ns, id) = (self.client, self.key.namespace.clone(), self.key.id.clone());
        // ticdc master refuses a resume of a running changefeed: after a lost answer, that
        // refusal means the first resume went through.
        let (opts, key) = (self.opts, self.key.clone());
        self.step("resume", async {
            resend(
                opts,
                &key,
                || c.resume_changefeed(&ns, &id, 0),
                |e| {
                    e.code() == Some(codes::UPDATE_REFUSED)
                        && e.brief().contains("current state is normal")
                },
            )
            .await
            .map_err(|e| failure("resume", &e))
        })
        .await?;
        if self.opts.no_wait {
            return Ok(());
        }
        let t0 = Instant::now();
        let r = self
            .wait_state("normal and the checkpoint moving", |s, cp| {
                (s == "normal" || s == "warning") && cp > since_checkpoint
            })
            .await;
        let elapsed = t0.elapsed();
        self.steps.push(StepReport {
            step: "wait normal",
            elapsed,
            ok: r.is_ok(),
        });
        (self.progress)(&format!(
            "{}: healthy {} ({})",
            self.key,
            if r.is_ok() { "ok" } else { "FAILED" },
            fmt_elapsed(elapsed)
        ));
        r
    }

    async fn create(&mut self, e: &Entry, start_ts: u64) -> Result<(), Failure> {
        let exec = e
            .exec
            .as_ref()
            .ok_or_else(|| internal("create without execution data"))?;
        let d = exec
            .desired
            .as_ref()
            .ok_or_else(|| internal("create without a desired changefeed"))?;
        let body = ChangefeedConfig {
            changefeed_id: d.id.clone(),
            start_ts,
            target_ts: d.target_ts.unwrap_or(0),
            sink_uri: d.sink_uri.clone(),
            replica_config: exec.config.clone(),
            ..Default::default()
        };
        let (c, ns, opts) = (self.client, self.key.namespace.clone(), self.opts);
        self.step("create", async {
            match c.create_changefeed(&ns, &body).await {
                Ok(_) => Ok(()),
                // The answer was lost (connection dropped, 5xx): the create may have happened.
                // Never re-send the POST; look for the changefeed instead, for up to a few owner
                // ticks (classic servers show a new changefeed only on the next tick).
                Err(err) if err.is_transient() => {
                    let deadline = Instant::now() + opts.wait_timeout.min(Duration::from_secs(3));
                    let mut delay = opts.poll_min.max(Duration::from_millis(20));
                    loop {
                        match c.get_changefeed(&ns, &body.changefeed_id).await {
                            Ok(_) => break Ok(()),
                            Err(_) if Instant::now() + delay < deadline => {
                                tokio::time::sleep(delay).await;
                                delay = (delay * 2).min(opts.poll_max);
                            }
                            Err(_) => break Err(failure("create", &err)),
                        }
                    }
                }
                Err(err) => Err(failure("create", &err)),
            }
        })
        .await?;
        let t0 = Instant::now();
        let r = self.wait_state("visible", |_, _| true).await;
        self.steps.push(StepReport {
            step: "wait visible",
            elapsed: t0.elapsed(),
            ok: r.is_ok(),
        });
        r
    }

    async fn delete(&mut self) -> Result<(), Failure> {
        let (c, ns, id) = (self.client, self.key.namespace.clone(), self.key.id.clone());
        self.step("delete", async {
            c.delete_changefeed(&ns, &id)
                .await
                .map_err(|e| failure("delete", &e))
        })
        .await?;
        let t0 = Instant::now();
        let r = self.wait_gone().await;
        self.steps.push(StepReport {
            step: "wait deleted",
            elapsed: t0.elapsed(),
            ok: r.is_ok(),
        });
        r
    }
}

/// A running changefeed was paused and the sequence failed: resume it with the config it has.
async fn compensate(run: &mut Run<'_>, report: &mut EntryReport, key: &Key) {
    match run.resume(0).await {
        Ok(()) => report.compensation = Some("resumed it with its old config".into()),
        Err(rf) => {
            report.left_paused = true;
            report.compensation = Some(format!(
                "could NOT resume it ({}); it is LEFT PAUSED: resume it with `cdc cli changefeed resume -c {} -n {}` \
                 or re-run `cdcform apply`",
                rf.message, key.id, key.namespace
            ));
        }
    }
}

fn internal(msg: &str) -> Failure {
    Failure {
        step: "plan".into(),
        code: None,
        message: msg.into(),
    }
}

pub fn fmt_elapsed(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

async fn run_entry(
    client: &Client,
    e: &Entry,
    opts: &ApplyOptions,
    progress: Progress<'_>,
) -> EntryReport {
    let mut report = EntryReport {
        key: e.key.clone(),
        action: e.action,
        steps: vec![],
        failure: None,
        skipped: false,
        left_paused: false,
        compensation: None,
    };
    if e.action == Action::Blocked {
        let b = e.blocked.as_ref();
        report.failure = Some(Failure {
            step: "plan".into(),
            code: None,
            message: format!("blocked: {}", b.map(|b| b.reason.as_str()).unwrap_or("")),
        });
        return report;
    }
    if opts.stop.load(Ordering::SeqCst) {
        report.skipped = true;
        return report;
    }
    let mut run = Run {
        client,
        opts,
        progress,
        key: e.key.clone(),
        steps: vec![],
    };
    let live_checkpoint = e.live.as_ref().map_or(0, |l| l.checkpoint_ts);
    let result: Result<(), Failure> = async {
        match e.action {
            Action::Create { then_pause } => {
                let start = e.exec.as_ref().and_then(|x| x.desired.as_ref()).and_then(|d| d.start_ts).unwrap_or(0);
                run.create(e, start).await?;
                if then_pause {
                    run.pause().await?;
                }
                Ok(())
            }
            Action::Pause => run.pause().await,
            Action::Resume => run.resume(live_checkpoint).await,
            Action::Delete => run.delete().await,
            Action::Replace => {
                let d = e.exec.as_ref().and_then(|x| x.desired.as_ref()).ok_or_else(|| internal("replace without desired"))?;
                let start = d.start_ts.filter(|s| *s != 0).unwrap_or(live_checkpoint);
                let then_pause = d.state == crate::manifest::DesiredState::Paused;
                run.delete().await?;
                run.create(e, start).await?;
                if then_pause {
                    run.pause().await?;
                }
                Ok(())
            }
            Action::Update { pause_first, resume_after } => {
                let exec = e.exec.as_ref().ok_or_else(|| internal("update without execution data"))?;
                if pause_first {
                    if let Err(f) = run.pause().await {
                        // The pause may have gone through even if the wait did not: undo it.
                        if run.steps.iter().any(|s| s.step == "pause" && s.ok) {
                            compensate(&mut run, &mut report, &e.key).await;
                        }
                        return Err(f);
                    }
                }
                let body = ChangefeedConfig {
                    sink_uri: exec.new_sink_uri.clone().unwrap_or_default(),
                    target_ts: exec.new_target_ts,
                    replica_config: exec.config.clone(),
                    ..Default::default()
                };
                let (c, ns, id) = (client, e.key.namespace.clone(), e.key.id.clone());
                // tiflow refuses a PUT that changes nothing: the config is already there.
                let noop = |err: &ClientError| {
                    err.code() == Some(codes::UPDATE_REFUSED)
                        && err.brief().contains(codes::NOOP_UPDATE_MESSAGE)
                };
                let key = e.key.clone();
                let put = run
                    .step("update", async {
                        match resend(opts, &key, || async { c.update_changefeed(&ns, &id, &body).await.map(|_| ()) }, noop).await {
                            Ok(()) => Ok(()),
                            Err(err) if noop(&err) => Ok(()),
                            Err(err) => Err(failure("update", &err)),
                        }
                    })
                    .await;
                if let Err(f) = put {
                    if pause_first {
                        compensate(&mut run, &mut report, &e.key).await;
                    }
                    return Err(f);
                }
                if !resume_after {
                    // Classic servers show a PUT only after the next owner tick; wait for it so
                    // that a plan right after this apply sees the new config.
                    run.wait_config_visible(exec.live_config.as_ref()).await;
                }
                if resume_after {
                    if let Err(f) = run.resume(live_checkpoint).await {
                        if run.steps.iter().any(|s| s.step == "resume" && !s.ok) {
                            report.left_paused = true;
                            report.compensation = Some(format!(
                                "the new config is in place but the changefeed could NOT be resumed; it is LEFT PAUSED: \
                                 resume it with `cdc cli changefeed resume -c {} -n {}` or re-run `cdcform apply`",
                                e.key.id, e.key.namespace
                            ));
                        }
                        return Err(f);
                    }
                }
                Ok(())
            }
            Action::Blocked => unreachable!("handled above"),
        }
    }
    .await;
    report.steps = run.steps;
    report.failure = result.err();
    report
}

/// Execute every entry of the plan. Blocked entries are reported as failures, not executed.
pub async fn apply(
    client: &Client,
    plan: &Plan,
    opts: &ApplyOptions,
    progress: Progress<'_>,
) -> ApplyReport {
    let mut entries: Vec<EntryReport> = stream::iter(plan.entries.iter())
        .map(|e| run_entry(client, e, opts, progress))
        .buffer_unordered(opts.parallelism.max(1))
        .collect()
        .await;
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    ApplyReport { entries }
}

/// The end-of-apply summary: what succeeded, what failed (step, error code, message).
pub fn summary_text(report: &ApplyReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for e in &report.entries {
        let steps: Vec<&str> = e.steps.iter().map(|s| s.step).collect();
        if e.ok() {
            let total: Duration = e.steps.iter().map(|s| s.elapsed).sum();
            let _ = writeln!(
                out,
                "  ok      {} {} ({}; {})",
                e.key,
                e.action.verb(),
                steps.join(" → "),
                fmt_elapsed(total)
            );
        } else if e.skipped {
            let _ = writeln!(
                out,
                "  skipped {} {} (interrupted before it started)",
                e.key,
                e.action.verb()
            );
        } else if let Some(f) = &e.failure {
            let code = f
                .code
                .as_deref()
                .map(|c| format!(" [{c}]"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  FAILED  {} {} at {}{code}: {}",
                e.key,
                e.action.verb(),
                f.step,
                f.message
            );
            if let Some(c) = &e.compensation {
                let _ = writeln!(out, "          {c}");
            }
        }
    }
    let _ = writeln!(
        out,
        "Apply {}: {} succeeded, {} failed, {} skipped.",
        if report.all_ok() {
            "complete"
        } else {
            "incomplete"
        },
        report.succeeded(),
        report.failed(),
        report.skipped()
    );
    out
}
