//! Fault injection for `--faults SPEC`.
//!
//! SPEC is a comma-separated list of `key=value`:
//! * `seed=N` — fixed RNG seed: the same request sequence gets the same faults;
//! * `http500=P` — with probability P answer 500 `CDC:ErrInternalServerError` (nothing done);
//! * `http503=P` — with probability P answer 503 `CDC:ErrServerIsNotReady` (nothing done);
//! * `drop=P` — with probability P send the headers and then cut the connection; half of the
//!   drops (`drop-after=Q` to choose) happen after the request was carried out, so only the
//!   answer is lost;
//! * `slow=P:DURATION` — with probability P delay the reply by DURATION (e.g. `slow=0.1:2s`);
//! * `owner-change=P` — with probability P answer 503 as during an owner election (nothing done);
//! * `fail-on-resume=ID` — a resume of changefeed ID (repeatable key) turns it `failed` with
//!   `CDC:ErrSinkURIInvalid` instead of `normal`; `fail-on-resume=P` (a number) does so with
//!   probability P for any changefeed.
//!
//! * `outage=AT:DURATION` — the owner capture goes away for DURATION and no owner is elected
//!   meanwhile: routes that TiCDC forwards to the owner answer 500 `CDC:ErrOwnerNotFound`, the
//!   others (`status`, `tso`, `log`, `verify_table`) keep answering. AT is the AT-th `/api/v2`
//!   request counted while faults are on (`outage=40:8s`) or a time after start (`outage=2s:8s`);
//!   the key repeats. After the window a new owner is elected (the next capture);
//! * `outage-refused=AT:DURATION` — the capture cdcform talks to is down: connections are
//!   refused for DURATION (the listener is closed and opened again on the same port);
//! * `rolling-upgrade=N:EVERY:ELECTION` — N captures (`captures`, status and the owner follow);
//!   every EVERY one of them restarts in turn; when it is the owner, no owner is elected for
//!   ELECTION and the next capture becomes the owner.
//!
//! Faults only apply to `/api/v2` routes; each injected fault increments `faults_injected`.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSpec {
    pub seed: Option<u64>,
    pub http500: f64,
    pub http503: f64,
    pub drop: f64,
    /// Share of drops that happen after the request was carried out (default 0.5).
    pub drop_after: Option<f64>,
    pub slow: f64,
    pub slow_for: Duration,
    pub owner_change: f64,
    pub fail_on_resume_ids: Vec<String>,
    pub fail_on_resume: f64,
    pub outages: Vec<Outage>,
    pub rolling: Option<Rolling>,
}

/// How the API behaves while an outage lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutageKind {
    /// No owner is elected: owner-forwarded routes answer 500 `CDC:ErrOwnerNotFound`.
    NoOwner,
    /// The capture behind the address is down: connections are refused.
    Refused,
}

/// When an outage starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutageStart {
    /// At the N-th `/api/v2` request (1-based) counted while faults are on.
    Request(u64),
    /// This long after the simulator started.
    After(Duration),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    pub start: OutageStart,
    pub duration: Duration,
    pub kind: OutageKind,
}

/// `rolling-upgrade=N:EVERY:ELECTION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rolling {
    pub captures: usize,
    pub every: Duration,
    pub election: Duration,
}

fn duration(k: &str, v: &str) -> Result<Duration, String> {
    humantime::parse_duration(v).map_err(|e| format!("{k}: bad duration {v:?}: {e}"))
}

fn outage(k: &str, v: &str, kind: OutageKind) -> Result<Outage, String> {
    let (at, d) = v
        .split_once(':')
        .ok_or_else(|| format!("{k}: expected AT:DURATION, got {v:?}"))?;
    let start = match at.parse::<u64>() {
        Ok(0) => return Err(format!("{k}: requests are counted from 1")),
        Ok(n) => OutageStart::Request(n),
        Err(_) => OutageStart::After(duration(k, at)?),
    };
    Ok(Outage {
        start,
        duration: duration(k, d)?,
        kind,
    })
}

fn rolling(k: &str, v: &str) -> Result<Rolling, String> {
    let parts: Vec<&str> = v.split(':').collect();
    let [n, every, election] = parts.as_slice() else {
        return Err(format!("{k}: expected N:EVERY:ELECTION, got {v:?}"));
    };
    let captures: usize = n
        .parse()
        .ok()
        .filter(|n| *n >= 2)
        .ok_or_else(|| format!("{k}: {n:?} is not a number of captures (2 or more)"))?;
    Ok(Rolling {
        captures,
        every: duration(k, every)?,
        election: duration(k, election)?,
    })
}

fn prob(k: &str, v: &str) -> Result<f64, String> {
    let p: f64 = v
        .parse()
        .map_err(|_| format!("fault {k}: {v:?} is not a probability"))?;
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("fault {k}: {p} is not within 0..1"));
    }
    Ok(p)
}

impl FaultSpec {
    pub fn parse(spec: &str) -> Result<FaultSpec, String> {
        let mut f = FaultSpec::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("fault {part:?}: expected key=value"))?;
            match k {
                "seed" => {
                    f.seed = Some(
                        v.parse()
                            .map_err(|_| format!("seed: {v:?} is not a number"))?,
                    )
                }
                "http500" | "500" => f.http500 = prob(k, v)?,
                "http503" | "503" => f.http503 = prob(k, v)?,
                "drop" => f.drop = prob(k, v)?,
                "drop-after" => f.drop_after = Some(prob(k, v)?),
                "owner-change" => f.owner_change = prob(k, v)?,
                "slow" => {
                    let (p, d) = v
                        .split_once(':')
                        .ok_or_else(|| format!("slow: expected P:DURATION, got {v:?}"))?;
                    f.slow = prob(k, p)?;
                    f.slow_for = humantime::parse_duration(d)
                        .map_err(|e| format!("slow: bad duration {d:?}: {e}"))?;
                }
                "fail-on-resume" => match v.parse::<f64>() {
                    Ok(_) => f.fail_on_resume = prob(k, v)?,
                    Err(_) => f.fail_on_resume_ids.push(v.to_string()),
                },
                "outage" => f.outages.push(outage(k, v, OutageKind::NoOwner)?),
                "outage-refused" => f.outages.push(outage(k, v, OutageKind::Refused)?),
                "rolling-upgrade" => f.rolling = Some(rolling(k, v)?),
                other => return Err(format!("unknown fault {other:?}")),
            }
        }
        Ok(f)
    }
}

/// What the middleware does with one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Roll {
    None,
    Http500,
    Http503,
    /// The connection is cut. `after`: the request was carried out first and only the answer
    /// is lost (the case that makes blind re-sending of a create dangerous).
    Drop {
        after: bool,
    },
    OwnerChange,
    Slow(Duration),
}

impl FaultSpec {
    pub fn roll(&self, rng: &mut fastrand::Rng) -> Roll {
        // One draw per kind, in a fixed order, so a seed replays exactly.
        let draws = [
            rng.f64(),
            rng.f64(),
            rng.f64(),
            rng.f64(),
            rng.f64(),
            rng.f64(),
        ];
        if draws[0] < self.http500 {
            Roll::Http500
        } else if draws[1] < self.http503 {
            Roll::Http503
        } else if draws[2] < self.drop {
            Roll::Drop {
                after: draws[5] < self.drop_after.unwrap_or(0.5),
            }
        } else if draws[3] < self.owner_change {
            Roll::OwnerChange
        } else if draws[4] < self.slow {
            Roll::Slow(self.slow_for)
        } else {
            Roll::None
        }
    }
}

/// The captures behind the simulator's address and which one is the owner: what outages and
/// rolling upgrades move. Time-driven events are computed from the clock when a request comes,
/// so no timer task is needed.
#[derive(Debug)]
pub struct Cluster {
    ids: Vec<String>,
    owner: usize,
    /// No owner until `.0`; the way the API fails meanwhile; who is elected afterwards.
    election: Option<(Instant, OutageKind, usize)>,
    /// Requests counted while faults are on; the clock of `outage=2s:…` starts at the first.
    requests: u64,
    started: Option<Instant>,
    fired: Vec<bool>,
    rolling: Option<(Instant, Rolling, usize)>,
}

impl Cluster {
    /// One capture (`first_id`) that is the owner.
    pub fn new(first_id: &str) -> Cluster {
        Cluster {
            ids: vec![first_id.to_string()],
            owner: 0,
            election: None,
            requests: 0,
            started: None,
            fired: vec![],
            rolling: None,
        }
    }

    fn capture_id(first: &str, i: usize) -> String {
        if i == 0 {
            return first.to_string();
        }
        let cut = first.len().saturating_sub(4);
        format!("{}{:04x}", &first[..cut], i)
    }

    /// Start a rolling upgrade now: `r.captures` captures, the first restart after `r.every`.
    pub fn start_rolling(&mut self, r: Rolling, now: Instant) {
        let first = self.ids[0].clone();
        self.ids = (0..r.captures)
            .map(|i| Self::capture_id(&first, i))
            .collect();
        self.owner = 0;
        self.rolling = Some((now, r, 0));
    }

    /// The owner capture goes away now: no owner for `dur`, then the next capture is elected.
    pub fn start_outage(&mut self, now: Instant, dur: Duration, kind: OutageKind) {
        let next = (self.owner + 1) % self.ids.len();
        self.election = Some((now + dur, kind, next));
    }

    /// Count one `/api/v2` request (when `spec` is given: faults are on) and start what it
    /// triggers; then the outage in force, if any.
    pub fn on_request(&mut self, spec: Option<&FaultSpec>, now: Instant) -> Option<OutageKind> {
        if let Some(spec) = spec {
            self.requests += 1;
            let started = *self.started.get_or_insert(now);
            if self.rolling.is_none() && self.requests == 1 {
                if let Some(r) = spec.rolling {
                    self.start_rolling(r, now);
                }
            }
            self.fired.resize(spec.outages.len(), false);
            for (i, o) in spec.outages.iter().enumerate() {
                let at = match o.start {
                    OutageStart::Request(n) if self.requests >= n => now,
                    OutageStart::After(d) if now >= started + d => started + d,
                    _ => continue,
                };
                if !self.fired[i] {
                    self.fired[i] = true;
                    self.start_outage(at, o.duration, o.kind);
                }
            }
        }
        self.in_force(now)
    }

    /// The outage in force now (and the elections and restarts that are due, carried out).
    pub fn in_force(&mut self, now: Instant) -> Option<OutageKind> {
        self.roll_on(now);
        match self.election {
            Some((until, kind, _)) if now < until => Some(kind),
            Some((_, _, next)) => {
                self.owner = next;
                self.election = None;
                None
            }
            None => None,
        }
    }

    /// Rolling upgrade: capture k restarts at `start + (k+1)·every`; each time it is the owner,
    /// so an election follows.
    fn roll_on(&mut self, now: Instant) {
        let Some((start, r, done)) = self.rolling else {
            return;
        };
        if done >= r.captures {
            return;
        }
        let due = start + r.every * (done as u32 + 1);
        if now < due {
            return;
        }
        // The previous election is over by now (ELECTION < EVERY); elect, then restart the next.
        if let Some((_, _, next)) = self.election.take() {
            self.owner = next;
        }
        self.start_outage(due, r.election, OutageKind::NoOwner);
        self.rolling = Some((start, r, done + 1));
    }

    /// Whether the rolling upgrade (if any) has restarted every capture and elected the last owner.
    pub fn rolling_done(&mut self, now: Instant) -> bool {
        let out = self.in_force(now).is_none();
        out && self.rolling.is_none_or(|(_, r, done)| done >= r.captures)
    }

    /// When the outage in force ends.
    pub fn until(&self) -> Option<Instant> {
        self.election.map(|(until, _, _)| until)
    }

    /// The owner's id, `None` during an election.
    pub fn owner(&mut self, now: Instant) -> Option<String> {
        match self.in_force(now) {
            Some(_) => None,
            None => Some(self.ids[self.owner].clone()),
        }
    }

    /// The captures that are up, with whether each is the owner. During an election the old
    /// owner is restarting and absent.
    pub fn captures(&mut self, now: Instant) -> Vec<(String, bool)> {
        let owner = self.owner(now);
        let down = self.election.map(|_| self.owner);
        (0..self.ids.len())
            .filter(|i| Some(*i) != down || self.ids.len() == 1)
            .map(|i| (self.ids[i].clone(), owner.as_deref() == Some(&self.ids[i])))
            .collect()
    }

    /// The capture answering at the simulator's address: the owner, or during an election the
    /// first capture that is up.
    pub fn answering(&mut self, now: Instant) -> (String, bool) {
        let all = self.captures(now);
        all.iter()
            .find(|(_, owner)| *owner)
            .or(all.first())
            .cloned()
            .unwrap_or_else(|| (self.ids[0].clone(), false))
    }
}

/// Routes TiCDC forwards to the owner (classic) or coordinator (new architecture); while no owner
/// is elected they fail, the others answer locally.
/// tiflow v8.5.0 cdc/api/v2/api.go `RegisterOpenAPIV2Routes` (`ownerMiddleware`; `health`
/// forwards inside its handler, cdc/api/v2/health.go); pingcap/ticdc v8.5.7-release.1
/// api/v2/api.go `RegisterOpenAPIV2Routes` (`coordinatorMiddleware`: processors are served
/// locally there).
pub fn owner_forwarded(path: &str, classic: bool) -> bool {
    let Some(rest) = path.strip_prefix("/api/v2/") else {
        return false;
    };
    let first = rest.split('/').next().unwrap_or("");
    match first {
        "health" | "changefeeds" | "captures" | "owner" | "unsafe" => true,
        "processors" => classic,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses_and_replays() {
        let f = FaultSpec::parse(
            "seed=7,http500=0.1,drop=0.05,slow=0.1:2s,owner-change=0.02,fail-on-resume=cf-1",
        )
        .unwrap();
        assert_eq!(f.seed, Some(7));
        assert_eq!(f.slow_for, Duration::from_secs(2));
        assert_eq!(f.fail_on_resume_ids, vec!["cf-1".to_string()]);
        let mut a = fastrand::Rng::with_seed(7);
        let mut b = fastrand::Rng::with_seed(7);
        let ra: Vec<_> = (0..50).map(|_| f.roll(&mut a)).collect();
        let rb: Vec<_> = (0..50).map(|_| f.roll(&mut b)).collect();
        assert_eq!(ra, rb);
        assert!(FaultSpec::parse("bogus=1").is_err());
        assert!(FaultSpec::parse("http500=2").is_err());
    }

    #[test]
    fn outage_parses_request_and_time_starts() {
        let f = FaultSpec::parse("outage=40:8s,outage-refused=2s:1s,rolling-upgrade=3:2s:500ms")
            .unwrap();
        assert_eq!(
            f.outages,
            vec![
                Outage {
                    start: OutageStart::Request(40),
                    duration: Duration::from_secs(8),
                    kind: OutageKind::NoOwner
                },
                Outage {
                    start: OutageStart::After(Duration::from_secs(2)),
                    duration: Duration::from_secs(1),
                    kind: OutageKind::Refused
                }
            ]
        );
        assert_eq!(f.rolling.unwrap().captures, 3);
        assert!(FaultSpec::parse("outage=0:1s").is_err());
        assert!(FaultSpec::parse("outage=5").is_err());
        assert!(FaultSpec::parse("rolling-upgrade=1:1s:1s").is_err());
    }

    #[test]
    fn outage_window_then_next_owner() {
        let f = FaultSpec::parse("outage=3:10s,rolling-upgrade=3:100s:1s").unwrap();
        let mut c = Cluster::new("aaaaaaaa-0000");
        let t0 = Instant::now();
        assert_eq!(c.on_request(Some(&f), t0), None);
        assert_eq!(c.captures(t0).len(), 3);
        let first = c.owner(t0).unwrap();
        assert_eq!(c.on_request(Some(&f), t0), None);
        assert_eq!(c.on_request(Some(&f), t0), Some(OutageKind::NoOwner));
        assert_eq!(c.owner(t0 + Duration::from_secs(5)), None);
        // The old owner is restarting: two captures listed, none the owner.
        let during = c.captures(t0 + Duration::from_secs(5));
        assert_eq!(during.len(), 2);
        assert!(during.iter().all(|(_, o)| !o));
        let after = c.owner(t0 + Duration::from_secs(11)).unwrap();
        assert_ne!(after, first);
        // Rolling: each restart is of the owner, and the owner moves each time.
        let mut owners = vec![];
        for k in 1..=3u64 {
            let t = t0 + Duration::from_secs(100 * k);
            assert_eq!(c.in_force(t), Some(OutageKind::NoOwner), "restart {k}");
            owners.push(c.owner(t + Duration::from_secs(2)).unwrap());
        }
        assert_eq!(owners.len(), 3);
        assert_ne!(owners[0], owners[1]);
        assert_ne!(owners[1], owners[2]);
        assert!(c.rolling_done(t0 + Duration::from_secs(400)));
    }
}
