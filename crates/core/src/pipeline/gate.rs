//! The one answer to "may this plan be applied?": a policy deny, blocked entries, credentials
//! the server would refuse, or a saved plan gone stale hold it. Every path to a cluster (plan,
//! apply, a saved plan, several clusters, reconcile) asks here, so each refuses in the same
//! words; what a path does with the answer (exit 1, stop before any write, skip a cycle) is
//! its own.

use serde::Serialize;

use crate::plan::Plan;
use crate::ticdc::Credentials;

/// Which guard holds a plan back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Guard {
    Policy,
    Blocked,
    Credentials,
    Stale,
}

/// A plan held back: what holds it, in one sentence, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct Held {
    pub guard: Guard,
    pub message: String,
    pub hint: String,
}

/// The sentence every held plan ends with: nothing of it reaches the cluster.
const NOTHING: &str = "nothing is applied to this cluster";

/// Whether `plan` may be applied; `Some` names the first guard that holds it, in the order a
/// reviewer fixes them: the policy, then blocked entries, then the credentials.
pub fn gate(plan: &Plan) -> Option<Held> {
    if let Some(r) = plan.policy.as_ref().filter(|r| r.blocks()) {
        let first = &r.deny[0];
        let on = first
            .changefeed
            .as_deref()
            .map(|c| format!(" on {c}"))
            .unwrap_or_default();
        return Some(Held {
            guard: Guard::Policy,
            message: format!(
                "{} policy violation(s) (deny), first {}{on}: {} ({}); {NOTHING}",
                r.deny.len(),
                first.rule,
                first.msg,
                first.file
            ),
            hint: "fix the manifests or the policy, or waive the rule with an `exception` rule"
                .into(),
        });
    }
    // A changefeed whose read failed (unknown) is no decision to fix: it is left alone and
    // the rest is applied; the run still exits 1 (see `pipeline::verdict`).
    let ids: Vec<String> = plan
        .entries
        .iter()
        .filter(|e| e.blocked.as_ref().is_some_and(|b| !b.unknown))
        .map(|e| e.key.to_string())
        .collect();
    if !ids.is_empty() {
        return Some(Held {
            guard: Guard::Blocked,
            message: format!(
                "{} changefeed(s) blocked ({}); {NOTHING}",
                ids.len(),
                ids.join(", ")
            ),
            hint: "see `why` and `fix` under each blocked entry of the plan".into(),
        });
    }
    if plan.credentials_block_writes() {
        let why = plan.credentials.unwrap_or(Credentials::Refused).words();
        return Some(Held {
            guard: Guard::Credentials,
            message: format!("{why} (checked before any change); {NOTHING}"),
            hint: "pass `--user` and set `CDCFORM_PASSWORD` (or `user` and `password_env` in cdcform.toml)"
                .into(),
        });
    }
    None
}

/// A saved plan whose cluster moved since it was made: `what` says how.
pub fn stale(label: &str, what: &str) -> Held {
    Held {
        guard: Guard::Stale,
        message: format!("stale plan: {what} since {label} was made; {NOTHING}"),
        hint: "run `cdcform plan` again and apply the new plan".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, Blocked, Entry, Key};
    use crate::ticdc::ServerProfile;

    fn plan(entries: Vec<Entry>) -> Plan {
        let mut p = Plan::empty("http://x", &ServerProfile::default());
        p.entries = entries;
        p.recount();
        p
    }

    fn key(id: &str) -> Key {
        Key {
            namespace: "default".into(),
            id: id.into(),
        }
    }

    fn create(id: &str) -> Entry {
        Entry::new(key(id), Action::Create { then_pause: false })
    }

    fn blocked(id: &str) -> Entry {
        Entry {
            blocked: Some(Blocked {
                reason: "r".into(),
                hint: "h".into(),
                unknown: false,
            }),
            ..Entry::new(key(id), Action::Blocked)
        }
    }

    fn deny() -> crate::policy::Report {
        crate::policy::Report {
            files: vec![],
            deny: vec![crate::policy::Finding {
                rule: "deny_creates".into(),
                namespace: "cdcform".into(),
                file: "p.rego:3".into(),
                changefeed: Some("default/a".into()),
                msg: "no creates".into(),
                metadata: None,
            }],
            warn: vec![],
            waived: vec![],
        }
    }

    fn unknown(id: &str) -> Entry {
        Entry {
            blocked: Some(Blocked {
                reason: "its live state is unknown".into(),
                hint: "h".into(),
                unknown: true,
            }),
            ..Entry::new(key(id), Action::Blocked)
        }
    }

    /// The gate as a truth table: each guard alone, and which one speaks when several hold.
    #[test]
    fn each_guard_holds_alone_and_the_first_one_speaks() {
        let cases: Vec<(&str, Plan, Option<Guard>)> = vec![
            ("nothing to do", plan(vec![]), None),
            ("a create", plan(vec![create("a")]), None),
            (
                "blocked",
                plan(vec![create("a"), blocked("b")]),
                Some(Guard::Blocked),
            ),
            // A read that failed leaves that changefeed alone, not the others.
            ("unknown", plan(vec![create("a"), unknown("b")]), None),
            (
                "unknown and blocked",
                plan(vec![unknown("a"), blocked("b")]),
                Some(Guard::Blocked),
            ),
            (
                "policy",
                {
                    let mut p = plan(vec![create("a")]);
                    p.policy = Some(deny());
                    p
                },
                Some(Guard::Policy),
            ),
            (
                "policy over blocked",
                {
                    let mut p = plan(vec![blocked("b")]);
                    p.policy = Some(deny());
                    p
                },
                Some(Guard::Policy),
            ),
            (
                "credentials missing",
                {
                    let mut p = plan(vec![create("a")]);
                    p.credentials = Some(Credentials::Missing);
                    p
                },
                Some(Guard::Credentials),
            ),
            (
                "credentials refused",
                {
                    let mut p = plan(vec![create("a")]);
                    p.credentials = Some(Credentials::Refused);
                    p
                },
                Some(Guard::Credentials),
            ),
            // Reads need no credentials: a plan with nothing to write is not held for them.
            (
                "credentials, nothing to write",
                {
                    let mut p = plan(vec![]);
                    p.credentials = Some(Credentials::Missing);
                    p
                },
                None,
            ),
            (
                "blocked over credentials",
                {
                    let mut p = plan(vec![create("a"), blocked("b")]);
                    p.credentials = Some(Credentials::Refused);
                    p
                },
                Some(Guard::Blocked),
            ),
        ];
        for (what, p, want) in cases {
            let got = gate(&p);
            assert_eq!(got.as_ref().map(|h| h.guard), want, "{what}");
            if let Some(h) = got {
                assert!(h.message.ends_with(NOTHING), "{what}: {}", h.message);
                assert!(!h.hint.is_empty(), "{what}");
            }
        }
    }

    #[test]
    fn a_held_plan_names_what_holds_it() {
        let h = gate(&plan(vec![blocked("b"), blocked("c")])).unwrap();
        assert_eq!(
            h.message,
            format!("2 changefeed(s) blocked (default/b, default/c); {NOTHING}")
        );
        let mut p = plan(vec![create("a")]);
        p.policy = Some(deny());
        let h = gate(&p).unwrap();
        assert!(h.message.starts_with("1 policy violation(s) (deny), first deny_creates on default/a: no creates (p.rego:3)"), "{}", h.message);
        let s = stale("x.plan", "1 changefeed(s) changed (default/a)");
        assert_eq!(s.guard, Guard::Stale);
        assert!(s.message.contains("since x.plan was made"), "{}", s.message);
    }
}
