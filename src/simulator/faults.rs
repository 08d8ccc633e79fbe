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
//! Faults only apply to `/api/v2` routes; each injected fault increments `faults_injected`.

use std::time::Duration;

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
}
