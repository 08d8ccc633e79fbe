//! Execute a Plan: changefeeds in parallel (up to `parallelism`), each one's steps in order:
//! pause → wait `stopped` → PUT the complete config → resume → wait `normal` and the checkpoint
//! moving. A failed PUT after a pause resumes the changefeed with its old config: a changefeed
//! that was running is never left paused by cdcform unless the compensating resume fails too,
//! and then the report says so loudly.
//!
//! Every repeatable call rides through outages on the shared budget of `crate::retry`: reads
//! and re-sent writes for `--retry-for`, and a resume of a changefeed this run paused for
//! `--wait-timeout` (compensation is the strongest guarantee). A create is never re-sent
//! blindly: after a lost or 5xx answer it is read first and sent again only when absent, within
//! `--retry-for`; "already exists" is settled by comparing it with what was sent.
//!
//! Another writer (a second apply, a person with `cdc cli`) is noticed, not overwritten: before
//! its first write and before the PUT that follows its own pause, apply re-reads the changefeed
//! and compares its fingerprint with what the plan saw (plus its own pause); after its last step
//! it checks that the changefeed holds the desired config and state.
//!
//! Interrupts (`crate::shutdown`): the first starts nothing new and lets sequences in flight
//! finish; the second aborts them, still resuming what this run paused; the third stops those
//! resumes too, and the report names each changefeed left paused.

use std::time::Duration;

use tokio::time::Instant;

use futures::stream::{self, StreamExt};

use crate::plan::live::read_one;
use crate::plan::planner::{self, LiveChangefeed};
use crate::plan::saved::fingerprint;
use crate::plan::{Action, Entry, Key, Plan};
use crate::retry::{self, Backoff, Budget, Verdict};
use crate::shutdown::Shutdown;
use crate::ticdc::error::codes;
use crate::ticdc::models::ChangefeedConfig;
use crate::ticdc::{Client, ClientError, ServerProfile};

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub parallelism: usize,
    /// Give up waiting for a state after this long; also how long a resume of a changefeed this
    /// run paused is retried.
    pub wait_timeout: Duration,
    /// Skip the health wait after a resume or create (and the final check, which needs it).
    pub no_wait: bool,
    /// Poll interval of the first [`FAST_POLLS`] probes of a wait (a state shows on the owner's
    /// next tick, tens of milliseconds away); then it grows ×1.5 up to `poll_max`.
    pub poll_min: Duration,
    pub poll_max: Duration,
    /// Interrupt levels: graceful (no new changefeed starts), forceful (abort, but resume what
    /// was paused), immediate (stop resuming too).
    pub shutdown: Shutdown,
}

/// Probes of a wait made `poll_min` apart before the interval grows: about 100 ms of close
/// watching, which covers a few owner ticks, at a cost of `--parallelism` × 100 small reads
/// a second at most.
pub const FAST_POLLS: u32 = 10;

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            parallelism: 8,
            wait_timeout: Duration::from_secs(120),
            no_wait: false,
            poll_min: Duration::from_millis(10),
            poll_max: Duration::from_millis(500),
            shutdown: Shutdown::new(),
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
    profile: &'a ServerProfile,
    entry: &'a Entry,
    key: Key,
    steps: Vec<StepReport>,
    /// This run paused it and has not resumed it yet.
    paused_by_us: bool,
    /// The changefeed as read before the first write, when it matched the plan.
    seen: Option<LiveChangefeed>,
}

fn failure(step: &str, e: &ClientError) -> Failure {
    Failure {
        step: step.to_string(),
        code: e.code().map(str::to_string),
        message: e.detail(),
    }
}

/// Whether two reads hold the same config, sink, target and start, whatever their state.
fn same_content(a: &LiveChangefeed, b: &LiveChangefeed) -> bool {
    let stopped = |l: &LiveChangefeed| {
        let mut l = l.clone();
        l.info.state = Some("stopped".into());
        l.fingerprint = None;
        fingerprint(Some(&l))
    };
    stopped(a) == stopped(b)
}

fn conflict(now: &LiveChangefeed) -> Failure {
    Failure {
        step: "check".into(),
        code: None,
        message: format!(
            "{CONFLICT} (now {}, not as the plan saw it)",
            now.info.state_str()
        ),
    }
}

/// How long a create whose answer was lost is looked up before it counts as absent: many
/// owner ticks (tens of milliseconds each), not the whole budget (a create that is absent is
/// sent again, and one that was carried out after all is answered "already exists").
const LOOK_UP_WINDOW: Duration = Duration::from_secs(1);

/// How one attempt of a create ended, when it did not succeed.
enum CreateErr {
    /// Worth another attempt within the budget (the last one's error once it is spent).
    Again(ClientError),
    /// Refused for real: fail at once.
    Refused(ClientError),
    /// Another writer's changefeed holds the id.
    Conflict(Failure),
}

/// TiCDC said the changefeed exists but a read does not show it yet (a classic owner loads it
/// on its next tick): the error the next read waits on.
fn not_visible_yet(key: &Key) -> ClientError {
    ClientError::Api {
        method: "GET".into(),
        path: format!("changefeed {key}"),
        status: 500,
        code: codes::CHANGEFEED_ALREADY_EXISTS.into(),
        message: "TiCDC says it exists, but a read does not show it yet".into(),
        retry_after: None,
    }
}

/// What one probe of a poll found.
enum Seen<T> {
    Done(T),
    /// Not yet; what was seen instead.
    Pending(String),
}

/// The message of a concurrent-writer conflict (tests and scripts look for it).
pub const CONFLICT: &str = "changed since the plan by another writer: re-run plan";

impl Run<'_> {
    /// Record a step that started at `t0` and print its progress line.
    fn stepped<T>(
        &mut self,
        name: &'static str,
        t0: Instant,
        r: Result<T, Failure>,
    ) -> Result<T, Failure> {
        self.record(name, t0, r.is_ok());
        let status = match &r {
            Ok(_) => "ok".to_string(),
            Err(f) => format!("FAILED: {}", f.message),
        };
        (self.progress)(&format!(
            "{}: {name} {status} ({})",
            self.key,
            fmt_elapsed(t0.elapsed())
        ));
        r
    }

    fn record(&mut self, step: &'static str, t0: Instant, ok: bool) {
        self.steps.push(StepReport {
            step,
            elapsed: t0.elapsed(),
            ok,
        });
    }

    /// Send a write whose repetition is harmless again after a transient failure (connection
    /// lost, 5xx), within `budget`: tiflow and released ticdc ignore a pause of a stopped
    /// changefeed and a resume of a running one (tiflow v8.5.0 cdc/api/v2/changefeed.go
    /// `pauseChangefeed`/`resumeChangefeed` only queue an admin job), and a PUT that repeats
    /// the config is refused as a no-op, which the caller treats as done. `already` recognises
    /// the answer a repeat gets when an earlier attempt did go through.
    async fn resend<F, Fut>(
        &self,
        budget: Budget,
        what: &str,
        op: F,
        already: impl Fn(&ClientError) -> bool,
    ) -> Result<(), ClientError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), ClientError>>,
    {
        let retried = std::sync::atomic::AtomicBool::new(false);
        let what = format!("{what} {}", self.key);
        let r = retry::retry(
            budget,
            op,
            |e: &ClientError| {
                if e.is_retryable() {
                    Verdict::Again {
                        after: e.retry_after(),
                    }
                } else {
                    Verdict::Stop
                }
            },
            |e, left| {
                retried.store(true, std::sync::atomic::Ordering::Relaxed);
                self.client.notice(&what, e, left);
            },
        )
        .await;
        match r {
            Ok(()) => Ok(()),
            Err(x) if retried.load(std::sync::atomic::Ordering::Relaxed) && already(&x.error) => {
                Ok(())
            }
            Err(x) => Err(match x.attempts_note() {
                Some(note) => x.error.with_note(&note),
                None => x.error,
            }),
        }
    }

    /// Probe until it says done, for up to `window`; a client call inside a probe retries no
    /// longer than the window.
    async fn poll<T>(
        &self,
        step: &str,
        what: &str,
        window: Duration,
        mut probe: impl AsyncFnMut() -> Result<Seen<T>, Failure>,
    ) -> Result<T, Failure> {
        let deadline = Instant::now() + window;
        let mut backoff = Backoff::polling(self.opts.poll_min, self.opts.poll_max, 1.5);
        let mut probes = 0u32;
        loop {
            let last = match retry::within(deadline, probe()).await? {
                Seen::Done(t) => return Ok(t),
                Seen::Pending(last) => last,
            };
            probes += 1;
            let delay = if probes <= FAST_POLLS {
                self.opts.poll_min
            } else {
                backoff.next_delay()
            };
            if Instant::now() + delay > deadline {
                // Only a wait as long as --wait-timeout is the flag's to lengthen; a shorter
                // window (the verify's look) has its own next step, which its caller says.
                let hint = match window == self.opts.wait_timeout {
                    true => "; raise --wait-timeout or check the changefeed",
                    false => "",
                };
                return Err(Failure {
                    step: step.to_string(),
                    code: None,
                    message: format!(
                        "gave up after {} waiting for {what} (last seen: {last}){hint}",
                        humantime::format_duration(
                            Duration::from_millis(window.as_millis() as u64)
                        )
                    ),
                });
            }
            tokio::time::sleep(delay).await;
        }
    }

    /// Poll the state until `done`; a `failed` state ends the wait with an error.
    async fn wait_state(
        &self,
        what: &str,
        done: impl Fn(&str, u64) -> bool,
    ) -> Result<(), Failure> {
        let (c, ns, id) = (self.client, &self.key.namespace, &self.key.id);
        let step = format!("wait {what}");
        self.poll(&step, what, self.opts.wait_timeout, async || {
            match c.changefeed_status(ns, id).await {
                Ok(s) if done(&s.state, s.checkpoint_ts) => Ok(Seen::Done(())),
                Ok(s) if s.state == "failed" && what != "failed" => {
                    let err = s
                        .last_error
                        .map(|e| format!("{}: {}", e.code, crate::ticdc::error::scrub(&e.message)));
                    Err(Failure {
                        step: step.clone(),
                        code: None,
                        message: format!(
                            "the changefeed turned failed{}",
                            err.map(|e| format!(" ({e})")).unwrap_or_default()
                        ),
                    })
                }
                Ok(s) => Ok(Seen::Pending(s.state)),
                // Classic servers show a new changefeed only on the next owner tick.
                Err(e) if e.is_not_found() => Ok(Seen::Pending("not visible yet".into())),
                Err(e) if e.is_retryable() => Ok(Seen::Pending(e.brief())),
                Err(e) => Err(failure(&step, &e)),
            }
        })
        .await
    }

    async fn wait_gone(&self) -> Result<(), Failure> {
        let (c, ns, id) = (self.client, &self.key.namespace, &self.key.id);
        self.poll(
            "wait deleted",
            "it to be gone",
            self.opts.wait_timeout,
            async || match c.changefeed_status(ns, id).await {
                Err(e) if e.is_not_found() => Ok(Seen::Done(())),
                Err(e) if !e.is_retryable() => Err(failure("wait deleted", &e)),
                Err(e) => Ok(Seen::Pending(e.brief())),
                Ok(s) => Ok(Seen::Pending(s.state)),
            },
        )
        .await
    }

    /// Poll until GET no longer shows `old` (bounded; an invisible change is not a failure
    /// here: the final check reports it).
    async fn wait_config_visible(&mut self, old: Option<&serde_json::Value>) {
        let Some(old) = old else { return };
        let t0 = Instant::now();
        let (c, ns, id) = (self.client, &self.key.namespace, &self.key.id);
        let window = self.opts.wait_timeout.min(Duration::from_secs(5));
        let _ = self
            .poll("wait updated", "the new config", window, async || {
                match c.get_changefeed(ns, id).await {
                    Ok(info) if info.config.as_ref() != Some(old) => Ok(Seen::Done(())),
                    Err(e) if !e.is_retryable() => Ok(Seen::Done(())),
                    _ => Ok(Seen::Pending("the old config".into())),
                }
            })
            .await;
        self.record("wait updated", t0, true);
    }

    /// Re-read the changefeed before the first write and compare it with what the plan saw;
    /// another writer's change stops the sequence. The read is kept for later comparisons.
    async fn check(&mut self) -> Result<(), Failure> {
        let Some(expected) = self.entry.live_fingerprint.as_deref() else {
            return Ok(());
        };
        let t0 = Instant::now();
        let fresh = read_one(self.client, self.profile, &self.key).await;
        self.record("check", t0, fresh.is_ok());
        let fresh = fresh.map_err(|e| failure("check", &e))?;
        let now = fingerprint(fresh.as_ref());
        if now == expected {
            self.seen = fresh;
            return Ok(());
        }
        (self.progress)(&format!("{}: check FAILED: {CONFLICT}", self.key));
        Err(match &fresh {
            Some(l) => conflict(l),
            None => Failure {
                step: "check".into(),
                code: None,
                message: format!("{CONFLICT} (it was deleted)"),
            },
        })
    }

    /// After the last step (see [`verify_all`]): the changefeed holds the desired config and
    /// state, or another writer overwrote it meanwhile.
    /// Reads for up to `window` (the owner may still be catching up) before it reports.
    async fn verify(&mut self, window: Duration) -> Result<(), Failure> {
        let Some(d) = self.entry.exec.as_ref().and_then(|x| x.desired.as_ref()) else {
            return Ok(());
        };
        let t0 = Instant::now();
        let (c, profile, key) = (self.client, self.profile, &self.key);
        let opts = planner::Options {
            default_namespace: key.namespace.clone(),
            pause_budget: Duration::ZERO,
            ..planner::Options::default()
        };
        let r = self
            .poll("verify", "the desired config and state", window, async || {
                match read_one(c, profile, key).await {
                    Ok(Some(l)) if planner::settle(profile, d, key.clone(), &l, &opts).is_some() => {
                        Ok(Seen::Done(()))
                    }
                    Ok(Some(l)) => Ok(Seen::Pending(format!(
                        "state {}, another config",
                        l.info.state_str()
                    ))),
                    Ok(None) => Ok(Seen::Pending("deleted".into())),
                    Err(e) if e.is_retryable() => Ok(Seen::Pending(e.brief())),
                    Err(e) => Err(failure("verify", &e)),
                }
            })
            .await
            .map_err(|f| Failure {
                message: format!(
                    "another writer changed it after this apply's last step: it does not hold the manifest's config and state but theirs ({}); run `cdcform plan` to see the difference",
                    f.message
                ),
                ..f
            });
        self.record("verify", t0, r.is_ok());
        if let Err(f) = &r {
            (self.progress)(&format!("{}: verify FAILED: {}", self.key, f.message));
        }
        r
    }

    async fn pause(&mut self) -> Result<(), Failure> {
        let (c, ns, id) = (self.client, &self.key.namespace, &self.key.id);
        let budget = self.client.budget();
        // From here on it may be paused (even if the answer is lost or the run is aborted
        // mid-way): compensation resumes it.
        self.paused_by_us = true;
        let sent = async {
            self.resend(budget, "pause", || c.pause_changefeed(ns, id), |_| false)
                .await
                .map_err(|e| failure("pause", &e))
        };
        let t0 = Instant::now();
        let r = sent.await;
        self.stepped("pause", t0, r)?;
        let t0 = Instant::now();
        let r = self.wait_stopped().await;
        self.stepped("wait stopped", t0, r)
    }

    /// Poll until it is stopped, reading it as the plan did: when its config or sink change
    /// meanwhile, or it is deleted, another writer is at work (its resume may also have undone
    /// this pause), and the wait ends with a conflict instead of a timeout.
    async fn wait_stopped(&self) -> Result<(), Failure> {
        let (c, profile, key) = (self.client, self.profile, &self.key);
        let seen = self.seen.as_ref();
        self.poll(
            "wait stopped",
            "stopped",
            self.opts.wait_timeout,
            async || match read_one(c, profile, key).await {
                Ok(Some(l)) if seen.is_some_and(|s| !same_content(s, &l)) => Err(conflict(&l)),
                Ok(Some(l)) if l.info.state_str() == "stopped" => Ok(Seen::Done(())),
                Ok(Some(l)) if l.info.state_str() == "failed" => Err(Failure {
                    step: "wait stopped".into(),
                    code: None,
                    message: "the changefeed turned failed".into(),
                }),
                Ok(Some(l)) => Ok(Seen::Pending(l.info.state_str().to_string())),
                Ok(None) if seen.is_some() => Err(Failure {
                    step: "check".into(),
                    code: None,
                    message: format!("{CONFLICT} (it was deleted)"),
                }),
                Ok(None) => Ok(Seen::Pending("not visible yet".into())),
                Err(e) if e.is_retryable() => Ok(Seen::Pending(e.brief())),
                Err(e) => Err(failure("wait stopped", &e)),
            },
        )
        .await
    }

    /// Resume; when this run paused it, retried for `--wait-timeout` rather than `--retry-for`.
    async fn resume(&mut self, since_checkpoint: u64) -> Result<(), Failure> {
        let (c, ns, id) = (self.client, &self.key.namespace, &self.key.id);
        let budget = if self.paused_by_us {
            Budget::new(self.opts.wait_timeout, self.client.budget().min_delay)
        } else {
            self.client.budget()
        };
        // ticdc master refuses a resume of a running changefeed: it is running, which is what a
        // resume is for (after a lost answer, the first resume went through; in compensation,
        // the pause never landed).
        let running = |e: &ClientError| {
            e.code() == Some(codes::UPDATE_REFUSED) && e.brief().contains("current state is normal")
        };
        let sent = async {
            match self
                .resend(budget, "resume", || c.resume_changefeed(ns, id, 0), running)
                .await
            {
                Err(e) if !running(&e) => Err(failure("resume", &e)),
                _ => Ok(()),
            }
        };
        let t0 = Instant::now();
        let r = sent.await;
        self.stepped("resume", t0, r)?;
        self.paused_by_us = false;
        if self.opts.no_wait {
            return Ok(());
        }
        let t0 = Instant::now();
        let r = self
            .wait_state("normal and the checkpoint moving", |s, cp| {
                (s == "normal" || s == "warning") && cp > since_checkpoint
            })
            .await;
        self.record("wait normal", t0, r.is_ok());
        (self.progress)(&format!(
            "{}: healthy {} ({})",
            self.key,
            if r.is_ok() { "ok" } else { "FAILED" },
            fmt_elapsed(t0.elapsed())
        ));
        r
    }

    async fn create(&mut self, start_ts: u64) -> Result<(), Failure> {
        let exec = self
            .entry
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
        let t0 = Instant::now();
        let r = self.send_create(d, &body).await;
        self.stepped("create", t0, r)?;
        let t0 = Instant::now();
        let r = self.wait_state("visible", |_, _| true).await;
        self.stepped("wait visible", t0, r)
    }

    /// POST the create, riding through an owner election within the one `--retry-for` budget
    /// and the shared backoff. The POST is never re-sent blindly: after a failed attempt that
    /// may be repeated (a lost answer, a 5xx), the next one reads the changefeed first and
    /// sends the POST again only when it is absent.
    ///
    /// A 503 `ErrServerIsNotReady` or a 500 `ErrOwnerNotFound` comes from tiflow's middleware
    /// before `createChangefeed` runs (cdc/api/v2/api.go `RegisterOpenAPIV2Routes`: the owner
    /// routes go through `ForwardToOwnerMiddleware`, which fails when no owner is found):
    /// nothing was done, one read suffices. A dropped connection or another 5xx may hide a
    /// create that happened, and a classic owner shows a new changefeed only on its next tick:
    /// the changefeed is looked up for a few ticks before it counts as absent.
    ///
    /// `ErrChangeFeedAlreadyExists` (tiflow cdc/api/v2/changefeed.go `createChangefeed` checks
    /// the id against etcd before it writes the changefeed info) is settled by comparing what
    /// exists with what was sent: the same sink URI and config is this run's create; anything
    /// else is another writer's, a clear failure.
    async fn send_create(
        &self,
        d: &crate::manifest::DesiredChangefeed,
        body: &ChangefeedConfig,
    ) -> Result<(), Failure> {
        use std::sync::atomic::{AtomicU8, Ordering};
        // What the next attempt does first.
        const POST: u8 = 0;
        // The last answer said nothing was done: one read, then POST when it is absent.
        const READ_THEN_POST: u8 = 1;
        // The last POST may have been carried out: look it up for a few owner ticks first.
        const LOOK_UP_THEN_POST: u8 = 2;
        // It exists (the server said so): read until it is visible, never POST again.
        const READ_ONLY: u8 = 3;
        let next = AtomicU8::new(POST);
        let (c, profile, key) = (self.client, self.profile, &self.key);
        let budget = c.budget();
        let what = format!("create {key}");
        let attempt = || async {
            let step = next.load(Ordering::Relaxed);
            let read = match step {
                POST => None,
                LOOK_UP_THEN_POST => Some(self.look_up().await),
                _ => Some(read_one(c, profile, key).await),
            };
            match read {
                None => {}
                Some(Ok(Some(live))) => return self.created_or_conflict(d, &live),
                Some(Ok(None)) if step == READ_ONLY => {
                    return Err(CreateErr::Again(not_visible_yet(key)))
                }
                // Absent: sending the create again cannot make a second one (and should it
                // have been carried out after all, TiCDC answers that it exists).
                Some(Ok(None)) => {}
                Some(Err(e)) if e.is_retryable() => return Err(CreateErr::Again(e)),
                Some(Err(e)) => return Err(CreateErr::Refused(e)),
            }
            match c.create_changefeed(&key.namespace, body).await {
                Ok(_) => Ok(()),
                Err(e) if e.code() == Some(codes::CHANGEFEED_ALREADY_EXISTS) => {
                    next.store(READ_ONLY, Ordering::Relaxed);
                    match read_one(c, profile, key).await {
                        Ok(Some(live)) => self.created_or_conflict(d, &live),
                        Ok(None) => Err(CreateErr::Again(not_visible_yet(key))),
                        Err(e) if e.is_retryable() => Err(CreateErr::Again(e)),
                        Err(e) => Err(CreateErr::Refused(e)),
                    }
                }
                Err(e) if e.is_retryable() => {
                    let nothing_done = matches!(
                        e.code(),
                        Some(codes::OWNER_NOT_FOUND | codes::SERVER_NOT_READY)
                    );
                    next.store(
                        if nothing_done {
                            READ_THEN_POST
                        } else {
                            LOOK_UP_THEN_POST
                        },
                        Ordering::Relaxed,
                    );
                    Err(CreateErr::Again(e))
                }
                // Refused for real (400 ErrSinkURIInvalid, ErrAPIInvalidParam, ...): at once.
                Err(e) => Err(CreateErr::Refused(e)),
            }
        };
        let r = retry::within(
            budget.deadline(),
            retry::retry(
                budget,
                attempt,
                |e: &CreateErr| match e {
                    CreateErr::Again(e) => Verdict::Again {
                        after: e.retry_after(),
                    },
                    _ => Verdict::Stop,
                },
                |e, left| {
                    if let CreateErr::Again(e) = e {
                        c.notice(&what, e, left);
                    }
                },
            ),
        )
        .await;
        match r {
            Ok(()) => Ok(()),
            Err(x) => {
                let note = x.attempts_note();
                Err(match x.error {
                    CreateErr::Conflict(f) => f,
                    CreateErr::Again(e) | CreateErr::Refused(e) => {
                        let e = match note {
                            Some(n) => e.with_note(&n),
                            None => e,
                        };
                        failure("create", &e)
                    }
                })
            }
        }
    }

    /// After a POST whose answer was lost: read the changefeed for up to a few owner ticks
    /// (a classic owner shows a new changefeed on its next tick). `Ok(None)` when every read in
    /// that time answered that it does not exist; the last read's error otherwise.
    async fn look_up(&self) -> Result<Option<LiveChangefeed>, ClientError> {
        let (c, profile, key) = (self.client, self.profile, &self.key);
        let window = self.opts.wait_timeout.min(LOOK_UP_WINDOW);
        let last: std::sync::Mutex<Option<ClientError>> = Default::default();
        let found = self
            .poll(
                "create",
                "the created changefeed",
                window,
                async || match read_one(c, profile, key).await {
                    Ok(Some(live)) => Ok(Seen::Done(live)),
                    Ok(None) => {
                        *last.lock().unwrap() = None;
                        Ok(Seen::Pending("not there".into()))
                    }
                    Err(e) => {
                        let retryable = e.is_retryable();
                        let brief = e.brief();
                        *last.lock().unwrap() = Some(e);
                        if retryable {
                            Ok(Seen::Pending(brief))
                        } else {
                            Err(failure("create", &not_visible_yet(key)))
                        }
                    }
                },
            )
            .await;
        match (found, last.into_inner().unwrap()) {
            (Ok(live), _) => Ok(Some(live)),
            (Err(_), Some(e)) => Err(e),
            (Err(_), None) => Ok(None),
        }
    }

    /// A changefeed with this id exists: this run's create when it holds what was sent.
    fn created_or_conflict(
        &self,
        d: &crate::manifest::DesiredChangefeed,
        live: &LiveChangefeed,
    ) -> Result<(), CreateErr> {
        if planner::holds_content(self.profile, d, live) {
            return Ok(());
        }
        (self.progress)(&format!("{}: create FAILED: {CONFLICT}", self.key));
        Err(CreateErr::Conflict(Failure {
            step: "create".into(),
            code: Some(codes::CHANGEFEED_ALREADY_EXISTS.into()),
            message: format!(
                "it already exists with another sink URI or config than this run sent: {CONFLICT}"
            ),
        }))
    }

    async fn delete(&mut self) -> Result<(), Failure> {
        let (c, ns, id) = (self.client, &self.key.namespace, &self.key.id);
        let t0 = Instant::now();
        let r = c
            .delete_changefeed(ns, id)
            .await
            .map_err(|e| failure("delete", &e));
        self.stepped("delete", t0, r)?;
        let t0 = Instant::now();
        let r = self.wait_gone().await;
        self.stepped("wait deleted", t0, r)
    }

    /// PUT the new config; a PUT refused as a no-op means it is already there.
    async fn update(&mut self) -> Result<(), Failure> {
        let exec = self
            .entry
            .exec
            .as_ref()
            .ok_or_else(|| internal("update without execution data"))?;
        let body = ChangefeedConfig {
            sink_uri: exec.new_sink_uri.clone().unwrap_or_default(),
            target_ts: exec.new_target_ts,
            replica_config: exec.config.clone(),
            ..Default::default()
        };
        let (c, ns, id) = (self.client, &self.key.namespace, &self.key.id);
        // tiflow refuses a PUT that changes nothing: the config is already there.
        let noop = |err: &ClientError| {
            err.code() == Some(codes::UPDATE_REFUSED)
                && err.brief().contains(codes::NOOP_UPDATE_MESSAGE)
        };
        let budget = self.client.budget();
        let put = || async { c.update_changefeed(ns, id, &body).await.map(|_| ()) };
        let sent = async {
            match self.resend(budget, "update", put, noop).await {
                Ok(()) => Ok(()),
                Err(err) if noop(&err) => Ok(()),
                Err(err) => Err(failure("update", &err)),
            }
        };
        let t0 = Instant::now();
        let r = sent.await;
        self.stepped("update", t0, r)
    }
}

/// A changefeed this run paused: resume it with the config it has, retried for
/// `--wait-timeout`; until a third interrupt.
async fn compensate(run: &mut Run<'_>, report: &mut EntryReport, failed: &Failure) {
    if !run.paused_by_us {
        return;
    }
    let key = run.key.clone();
    let shutdown = run.opts.shutdown.clone();
    let r = tokio::select! {
        r = run.resume(0) => r,
        _ = shutdown.immediate() => Err(Failure {
            step: "resume".into(),
            code: None,
            message: "interrupted a third time".into(),
        }),
    };
    match r {
        Ok(()) if failed.step == "check" => {
            report.compensation = Some("resumed it with the config the other writer left".into())
        }
        Ok(()) => report.compensation = Some(after_resume(run).await),
        Err(rf) => {
            report.left_paused = true;
            report.compensation = Some(format!(
                "could NOT resume it ({}); it is {}",
                rf.message,
                left_paused(&key)
            ));
        }
    }
}

/// A replace whose delete went through and whose create did not: the changefeed is gone.
/// Said plainly, once in the summary and once more at the end (as LEFT PAUSED is).
pub fn deleted_not_recreated(e: &EntryReport) -> Option<String> {
    let deleted = e.steps.iter().any(|s| s.step == "delete" && s.ok);
    let recreated = e.steps.iter().any(|s| s.step == "create" && s.ok);
    (e.action == Action::Replace && deleted && !recreated && !e.ok()).then(|| {
        format!(
            "DELETED, NOT RE-CREATED: changefeed {} no longer exists; fix the cause above and run              `cdcform apply` to create it (from a start_ts the upstream still has)",
            e.key
        )
    })
}

/// What a compensating resume left running. A resume can also be answered "already running"
/// because another writer resumed it with a config of its own (#30 item 7): then it runs their
/// config, not the one this run paused, and saying "its old config" would be false. One read
/// tells which.
async fn after_resume(run: &Run<'_>) -> String {
    const OLD: &str = "resumed it with its old config";
    let Some(seen) = run.seen.as_ref() else {
        return OLD.into();
    };
    match read_one(run.client, run.profile, &run.key).await {
        Ok(Some(now)) if !same_content(seen, &now) => {
            let ours = run
                .entry
                .exec
                .as_ref()
                .and_then(|x| x.desired.as_ref())
                .is_some_and(|d| planner::holds_content(run.profile, d, &now));
            if ours {
                "resumed it; it holds this run's config after all (the update's answer was lost, not the update)".into()
            } else {
                format!(
                    "another writer changed it meanwhile: it runs their config, not the one it had \
                     nor this run's ({CONFLICT})"
                )
            }
        }
        _ => OLD.into(),
    }
}

/// The one wording for a changefeed cdcform paused and could not resume: the state and the
/// commands that end it.
pub fn left_paused(key: &Key) -> String {
    format!(
        "LEFT PAUSED: changefeed {key}: resume it with `cdc cli changefeed resume -c {} -n {}` or re-run `cdcform apply`",
        key.id, key.namespace
    )
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

/// The steps of one entry, in order, each write preceded by a check for another writer.
async fn sequence(run: &mut Run<'_>) -> Result<(), Failure> {
    let e = run.entry;
    let live_checkpoint = e.live.as_ref().map_or(0, |l| l.checkpoint_ts);
    let desired = e.exec.as_ref().and_then(|x| x.desired.as_ref());
    match e.action {
        Action::Create { then_pause } => {
            let start = desired.and_then(|d| d.start_ts).unwrap_or(0);
            run.create(start).await?;
            if then_pause {
                run.pause().await?;
                run.paused_by_us = false;
            }
        }
        Action::Pause => {
            run.check().await?;
            run.pause().await?;
            run.paused_by_us = false;
        }
        Action::Resume => {
            run.check().await?;
            run.resume(live_checkpoint).await?;
        }
        Action::Delete => {
            run.check().await?;
            return run.delete().await;
        }
        Action::Replace => {
            let d = desired.ok_or_else(|| internal("replace without desired"))?;
            let start = d.start_ts.filter(|s| *s != 0).unwrap_or(live_checkpoint);
            run.check().await?;
            run.delete().await?;
            // What `check` saw is gone: the pause below waits on the new changefeed alone.
            run.seen = None;
            run.create(start).await?;
            if d.state == crate::manifest::DesiredState::Paused {
                run.pause().await?;
                run.paused_by_us = false;
            }
        }
        Action::Update {
            pause_first,
            resume_after,
        } => {
            run.check().await?;
            if pause_first {
                // The wait for `stopped` compares each read with the one before the pause.
                run.pause().await?;
            }
            run.update().await?;
            if resume_after {
                run.resume(live_checkpoint).await?;
            } else {
                // Classic servers show a PUT only after the next owner tick; wait for it so
                // that a plan right after this apply sees the new config.
                let old = e.exec.as_ref().and_then(|x| x.live_config.as_ref());
                run.wait_config_visible(old).await;
            }
        }
        Action::Blocked => return Err(internal("blocked entries are not executed")),
    }
    Ok(())
}

async fn run_entry(
    client: &Client,
    e: &Entry,
    profile: &ServerProfile,
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
    if opts.shutdown.is_graceful() {
        report.skipped = true;
        return report;
    }
    let mut run = Run {
        client,
        opts,
        progress,
        profile,
        entry: e,
        key: e.key.clone(),
        steps: vec![],
        paused_by_us: false,
        seen: None,
    };
    let shutdown = opts.shutdown.clone();
    let result = tokio::select! {
        r = sequence(&mut run) => r,
        _ = shutdown.forceful() => Err(Failure {
            step: run_step_name(&e.action),
            code: None,
            message: "aborted by a second interrupt".into(),
        }),
    };
    if let Err(f) = &result {
        compensate(&mut run, &mut report, f).await;
    }
    report.steps = run.steps;
    report.failure = result.err();
    report
}

fn run_step_name(a: &Action) -> String {
    format!("{} (interrupted)", a.verb())
}

/// Execute every entry of the plan. Blocked entries are reported as failures, not executed.
pub async fn apply(
    client: &Client,
    plan: &Plan,
    opts: &ApplyOptions,
    progress: Progress<'_>,
) -> ApplyReport {
    let mut entries: Vec<EntryReport> = stream::iter(plan.entries.iter())
        .map(|e| run_entry(client, e, &plan.profile, opts, progress))
        .buffer_unordered(opts.parallelism.max(1))
        .collect()
        .await;
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    verify_all(client, plan, &mut entries, opts, progress).await;
    ApplyReport { entries }
}

/// The last step of every changefeed that succeeded: it holds the desired config and state.
/// Classic servers show a write on the next owner tick, so a write another apply sent just
/// before this one's resume can still be invisible when the resume is: the checks start once
/// the sequences are all done and about one more owner tick has passed (the longest wait for
/// a state this run saw), so the cost is paid once per apply, not per changefeed. Skipped with
/// `--no-wait` and after an interrupt.
async fn verify_all(
    client: &Client,
    plan: &Plan,
    entries: &mut [EntryReport],
    opts: &ApplyOptions,
    progress: Progress<'_>,
) {
    if opts.no_wait || opts.shutdown.is_graceful() {
        return;
    }
    let by_key: std::collections::HashMap<&Key, &Entry> =
        plan.entries.iter().map(|e| (&e.key, e)).collect();
    let todo: Vec<(usize, &Entry)> = entries
        .iter()
        .enumerate()
        .filter(|(_, r)| r.ok() && r.action != Action::Delete)
        .filter_map(|(i, r)| by_key.get(&r.key).map(|e| (i, *e)))
        .filter(|(_, e)| e.exec.as_ref().is_some_and(|x| x.desired.is_some()))
        .collect();
    if todo.is_empty() {
        return;
    }
    let settle = entries
        .iter()
        .flat_map(|r| r.steps.iter())
        .filter(|s| s.step.starts_with("wait "))
        .map(|s| s.elapsed)
        .max()
        .unwrap_or_default()
        .clamp(opts.poll_min, Duration::from_secs(1));
    tokio::time::sleep(settle).await;
    let window = (settle * 3).clamp(opts.poll_max, opts.wait_timeout);
    let results: Vec<(usize, Vec<StepReport>, Result<(), Failure>)> =
        stream::iter(todo.into_iter().map(|(i, e)| async move {
            let mut run = Run {
                client,
                opts,
                progress,
                profile: &plan.profile,
                entry: e,
                key: e.key.clone(),
                steps: vec![],
                paused_by_us: false,
                seen: None,
            };
            let r = run.verify(window).await;
            (i, run.steps, r)
        }))
        .buffer_unordered(opts.parallelism.max(1))
        .collect()
        .await;
    for (i, steps, r) in results {
        entries[i].steps.extend(steps);
        entries[i].failure = r.err();
    }
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
            if let Some(gone) = deleted_not_recreated(e) {
                let _ = writeln!(out, "          {gone}");
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
