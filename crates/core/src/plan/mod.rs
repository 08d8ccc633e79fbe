//! Plan as pure data. `diff` compares one changefeed's desired and live forms; `planner`
//! chooses an action per changefeed; `saved` reads and writes plan files. `live` reads the
//! cluster and `pipeline` strings the steps together; the pure parts do no I/O.

pub mod diff;
pub mod impact;
pub mod keys;
pub mod keyspace;
pub mod live;
pub mod pipeline;
pub mod planner;
pub mod saved;

pub use keys::{KeyList, KeyRef};
pub use pipeline::PlanOptions;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::manifest::DesiredChangefeed;
use crate::ticdc::ServerProfile;

/// Version of the JSON plan document (`--format json` and saved plans).
pub const FORMAT_VERSION: u32 = 1;

/// What a field value prints as when it is secret.
pub const SENSITIVE: &str = "(sensitive)";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key {
    pub namespace: String,
    pub id: String,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Create; then pause when the manifest says `state: paused`.
    Create {
        then_pause: bool,
    },
    /// PUT a new config. `pause_first` when it is running; `resume_after` when it should run.
    Update {
        pause_first: bool,
        resume_after: bool,
    },
    Pause,
    Resume,
    Delete,
    /// Delete, then create (only with `--replace ID`).
    Replace,
    /// Cannot proceed safely; `Entry::blocked` says why.
    Blocked,
}

impl Action {
    pub fn symbol(&self) -> &'static str {
        match self {
            Action::Create { .. } => "+",
            Action::Update { .. } | Action::Pause | Action::Resume => "~",
            Action::Delete => "-",
            Action::Replace => "-/+",
            Action::Blocked => "!",
        }
    }
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Create { .. } => "create",
            Action::Update { .. } => "update",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Delete => "delete",
            Action::Replace => "replace",
            Action::Blocked => "blocked",
        }
    }
    /// The API steps, in order.
    pub fn steps(&self) -> Vec<&'static str> {
        match *self {
            Action::Create { then_pause } => {
                if then_pause {
                    vec!["create", "pause"]
                } else {
                    vec!["create"]
                }
            }
            Action::Update {
                pause_first,
                resume_after,
            } => {
                let mut s = Vec::new();
                if pause_first {
                    s.push("pause");
                }
                s.push("update");
                if resume_after {
                    s.push("resume");
                }
                s
            }
            Action::Pause => vec!["pause"],
            Action::Resume => vec!["resume"],
            Action::Delete => vec!["delete"],
            Action::Replace => vec!["delete", "create"],
            Action::Blocked => vec![],
        }
    }
}

/// Why a field change is in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The manifest asks for it.
    Manifest,
    /// The manifest leaves it unset and the live value is not the default: someone changed it
    /// outside cdcform, and the update resets it.
    Reset,
    /// The server derives it (e.g. `sink.protocol` from the URI); shown with -v only.
    Derived,
    /// The sink's scheme changes (mysql:// → kafka://) and the new sink implies it: settings
    /// of the old sink that the new one drops or gives another default. Nobody changed them.
    Sink,
}

/// One changed field, with display values only (secrets already replaced by `(sensitive)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// `sink_uri`, `target_ts`, `state` or `replica_config.<dotted path>`.
    pub path: String,
    pub kind: ChangeKind,
    /// None = absent (and then left out of the JSON document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocked {
    pub reason: String,
    pub hint: String,
    /// The live changefeed could not be read (after `--retry-for`): its state is unknown.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unknown: bool,
}

/// The live facts an entry was planned from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveSummary {
    pub state: String,
    pub checkpoint_ts: u64,
    pub start_ts: u64,
}

/// Execution data: never serialised into JSON output (it can hold secrets).
#[derive(Debug, Clone)]
pub struct Exec {
    pub desired: Option<DesiredChangefeed>,
    /// Full `replica_config` for create/PUT (effective desired + unknown live keys).
    pub config: Option<Value>,
    /// The sink URI to send on update; None when unchanged.
    pub new_sink_uri: Option<String>,
    /// New target_ts to send on update (0 = keep).
    pub new_target_ts: u64,
    /// Live config before the update, for compensation when a PUT fails.
    pub live_config: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    #[serde(flatten)]
    pub key: Key,
    pub action: Action,
    pub changes: Vec<FieldChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<Blocked>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveSummary>,
    /// Which tables the change starts or stops replicating (asked of the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<impact::TableImpact>,
    #[serde(skip)]
    pub exec: Option<Exec>,
    /// Fingerprint of the live changefeed this entry was planned from (`saved::fingerprint`):
    /// apply compares it with a fresh read before its first write, to notice another writer.
    #[serde(skip)]
    pub live_fingerprint: Option<String>,
}

impl Entry {
    /// An entry with nothing but its key and action.
    pub fn new(key: Key, action: Action) -> Entry {
        Entry {
            key,
            action,
            changes: vec![],
            blocked: None,
            notes: vec![],
            live: None,
            tables: None,
            exec: None,
            live_fingerprint: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub pause: usize,
    pub resume: usize,
    pub delete: usize,
    pub replace: usize,
    pub blocked: usize,
    pub unchanged: usize,
    pub unmanaged: usize,
    /// `state: absent` tombstones whose changefeed does not exist: nothing to delete.
    #[serde(default)]
    pub absent: usize,
}

impl Summary {
    /// The summary line docs/guide/plans.md documents (a replace counts as one create and one delete).
    pub fn line(&self) -> String {
        let mut s = format!(
            "Plan: {} to create, {} to update, {} to pause, {} to resume, {} to delete. {} unchanged.",
            self.create + self.replace,
            self.update,
            self.pause,
            self.resume,
            self.delete + self.replace,
            self.unchanged
        );
        if self.absent > 0 {
            s.push_str(&format!(" {} already absent.", self.absent));
        }
        if self.blocked > 0 {
            s.push_str(&format!(" {} blocked.", self.blocked));
        }
        s
    }
    pub fn has_changes(&self) -> bool {
        self.create + self.update + self.pause + self.resume + self.delete + self.replace > 0
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub server: String,
    pub profile: ServerProfile,
    pub summary: Summary,
    pub entries: Vec<Entry>,
    #[serde(default)]
    pub unchanged: Vec<Key>,
    /// `state: absent` in a manifest and no such changefeed: already as desired.
    #[serde(default)]
    pub absent: Vec<Key>,
    /// Live changefeeds outside the manifests and outside `manage`: never touched.
    #[serde(default)]
    pub unmanaged: KeyList,
    /// Live changefeeds inside `manage` but in no manifest (deleted only with `--prune`).
    #[serde(default)]
    pub unlisted: KeyList,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What the server said of the credentials (checked during the plan; TiCDC checks them
    /// only on writes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<crate::ticdc::Credentials>,
    /// What the policies (`--policy`, `[policy] paths`) said of this plan; absent when none ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<crate::policy::Report>,
}

impl Plan {
    /// A plan for `server` with nothing in it yet.
    pub fn empty(server: &str, profile: &ServerProfile) -> Plan {
        Plan {
            format_version: FORMAT_VERSION,
            server: server.to_string(),
            profile: profile.clone(),
            summary: Default::default(),
            entries: vec![],
            unchanged: vec![],
            absent: vec![],
            unmanaged: KeyList::new(),
            unlisted: KeyList::new(),
            notes: vec![],
            credentials: None,
            policy: None,
        }
    }

    /// The plan as one JSON document (`format_version` first): what `plan --format json`
    /// prints and what policies read, with each entry's verb, symbol and steps spelled out.
    pub fn document(&self) -> serde_json::Value {
        use serde_json::{json, Value};
        let mut v =
            crate::document::envelope("plan", serde_json::to_value(self).unwrap_or(Value::Null));
        if let Some(o) = v.as_object_mut() {
            o.insert("summary_line".into(), json!(self.summary.line()));
            o.insert("has_changes".into(), json!(self.summary.has_changes()));
            if let Some(Value::Array(entries)) = o.get_mut("entries") {
                for (e, src) in entries.iter_mut().zip(&self.entries) {
                    e["steps"] = json!(src.action.steps());
                    e["symbol"] = json!(src.action.symbol());
                    e["action"] = json!(src.action.verb());
                }
            }
        }
        v
    }

    /// Entries whose live state could not be read.
    pub fn unknown(&self) -> Vec<&Key> {
        self.entries
            .iter()
            .filter(|e| e.blocked.as_ref().is_some_and(|b| b.unknown))
            .map(|e| &e.key)
            .collect()
    }

    /// The apply would be refused: writes to do, and credentials missing or refused.
    pub fn credentials_block_writes(&self) -> bool {
        self.summary.has_changes() && self.credentials.is_some_and(|c| c.is_bad())
    }

    pub fn recount(&mut self) {
        let mut s = Summary {
            unchanged: self.unchanged.len(),
            unmanaged: self.unmanaged.len(),
            absent: self.absent.len(),
            ..Summary::default()
        };
        for e in &self.entries {
            match e.action {
                Action::Create { .. } => s.create += 1,
                Action::Update { .. } => s.update += 1,
                Action::Pause => s.pause += 1,
                Action::Resume => s.resume += 1,
                Action::Delete => s.delete += 1,
                Action::Replace => s.replace += 1,
                Action::Blocked => s.blocked += 1,
            }
        }
        self.summary = s;
    }
}
