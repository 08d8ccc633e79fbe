//! Resolved settings: everything one cluster's run needs (server, namespace, manifest paths,
//! client options, ownership globs, parallelism, GC TTL, policies, vars), whatever they came
//! from. The command line's crate resolves them from flags, environment and cdcform.toml; the
//! pipeline takes them as they are.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::ticdc::ClientOptions;
use crate::Error;

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8300";
pub const DEFAULT_PARALLELISM: usize = 8;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_GC_TTL: Duration = Duration::from_secs(24 * 3600);

/// Everything a command needs, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub server: String,
    pub namespace: String,
    pub paths: Vec<PathBuf>,
    pub client: ClientOptions,
    pub manage: Option<IdGlobs>,
    pub manage_patterns: Vec<String>,
    pub protected: Option<IdGlobs>,
    pub parallelism: usize,
    pub gc_ttl: Duration,
    pub config_file: Option<PathBuf>,
    pub cluster: Option<String>,
    /// Policy files or directories from `[policy] paths` (top level, then the cluster's).
    pub policy_paths: Vec<PathBuf>,
    /// Policy packages from `[policy] namespaces` (empty: `cdcform`).
    pub policy_namespaces: Vec<String>,
    /// Clusters the config file defines (to refuse guessing manifest paths among them).
    pub clusters_defined: Vec<String>,
    /// `[vars]` with the cluster's own `[clusters.NAME.vars]` laid over them.
    pub vars: BTreeMap<String, String>,
}

/// Source of environment variables (tests pass their own).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Id globs (`manage`, `protected`, `--id`) as one matcher; `None` when there are none.
pub fn globs(what: &str, pats: &[String]) -> Result<Option<IdGlobs>, Error> {
    if pats.is_empty() {
        return Ok(None);
    }
    IdGlobs::new(pats)
        .map(Some)
        .map_err(|(p, e)| Error::Settings(format!("invalid `{what}` pattern {p:?}: {e}")))
}

/// Id globs as one matcher: globset's, with a shortcut when every glob is a plain id or a
/// plain prefix and one trailing `*` (what `manage` globs mostly are). Every id a shared
/// cluster lists is matched against `manage`, and globset first takes an id apart as a path,
/// which costs more than the test itself.
/// The one definition of a managed changefeed, for plan, status and reconcile alike: its id
/// matches `manage`, or `manage` is unset (the repository then claims the whole cluster).
pub fn manages(manage: Option<&IdGlobs>, id: &str) -> bool {
    manage.is_none_or(|g| g.is_match(id))
}

/// What `--prune` may delete when no manifest lists it: ids matching a `manage` that is set.
/// Without `manage`, nothing (pruning a whole shared cluster is never what was meant).
pub fn prunable(manage: Option<&IdGlobs>, id: &str) -> bool {
    manage.is_some_and(|g| g.is_match(id))
}

#[derive(Debug, Clone)]
pub struct IdGlobs {
    set: GlobSet,
    /// When every glob is plain: its text, and whether it is a prefix (ended in `*`).
    plain: Option<Vec<(String, bool)>>,
}

impl IdGlobs {
    /// The globs as one matcher, or the pattern that is not a glob and why (all of them, when
    /// only their union fails).
    pub fn new(pats: &[String]) -> Result<IdGlobs, (String, globset::Error)> {
        let mut b = GlobSetBuilder::new();
        for p in pats {
            b.add(Glob::new(p).map_err(|e| (p.clone(), e))?);
        }
        let meta = |s: &str| s.contains(['*', '?', '[', ']', '{', '}', '\\']);
        let plain = pats
            .iter()
            .map(|p| match p.strip_suffix('*') {
                Some(prefix) if !meta(prefix) => Some((prefix.to_string(), true)),
                _ if !meta(p) => Some((p.clone(), false)),
                _ => None,
            })
            .collect();
        Ok(IdGlobs {
            set: b.build().map_err(|e| (pats.join(", "), e))?,
            plain,
        })
    }

    pub fn is_match(&self, id: &str) -> bool {
        match &self.plain {
            Some(globs) => globs.iter().any(|(text, prefix)| match prefix {
                true => id.starts_with(text.as_str()),
                false => id == text,
            }),
            None => self.set.is_match(id),
        }
    }
}

impl Settings {
    /// Defaults for one server, ignoring the environment and any cdcform.toml (demo, tests).
    pub fn for_server(url: &str) -> Settings {
        let client = ClientOptions::new(url);
        Settings {
            server: url.to_string(),
            namespace: "default".into(),
            paths: vec![],
            client,
            manage: None,
            manage_patterns: vec![],
            protected: None,
            parallelism: DEFAULT_PARALLELISM,
            gc_ttl: DEFAULT_GC_TTL,
            config_file: None,
            cluster: None,
            policy_paths: vec![],
            policy_namespaces: vec![],
            clusters_defined: vec![],
            vars: BTreeMap::new(),
        }
    }

    /// The value of `${NAME}` in this cluster's manifests: the environment, else `vars`.
    pub fn var(&self, name: &str, env: Env) -> Option<String> {
        env(name).or_else(|| self.vars.get(name).cloned())
    }

    /// Whether `${NAME}` comes from `vars` (not the environment), so its value may be printed.
    pub fn is_public_var(&self, name: &str, env: Env) -> bool {
        self.vars.contains_key(name) && env(name).is_none()
    }

    /// The policies in force: cdcform.toml's (`[policy]`, the cluster's added to the top-level
    /// ones) and `--policy`.
    pub fn policy_options(&self) -> crate::policy::PolicyOptions {
        crate::policy::PolicyOptions {
            paths: self.policy_paths.clone(),
            namespaces: self.policy_namespaces.clone(),
        }
    }

    /// Manifest paths: the command line's, else the cluster's in the config file, else `.`.
    /// With clusters defined but none in use (an explicit `--server`), `.` would merge every
    /// cluster's manifests, so paths must be given.
    pub fn manifest_paths(&self, args: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
        if !args.is_empty() {
            Ok(args.to_vec())
        } else if !self.paths.is_empty() {
            Ok(self.paths.clone())
        } else if self.cluster.is_none() && !self.clusters_defined.is_empty() {
            Err(Error::Settings(format!(
                "no manifest paths: --server {} uses none of the clusters in {} ({})\n\
                 help: name the manifest files or directories, or choose a cluster with `--cluster NAME`",
                self.server,
                self.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                self.clusters_defined.join(", ")
            )))
        } else {
            Ok(vec![PathBuf::from(".")])
        }
    }
}

/// One cluster of a run over several, with its settings or why they do not resolve.
#[derive(Debug)]
pub struct Target {
    pub name: String,
    pub settings: Result<Settings, Error>,
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        /// The shortcut for plain globs answers as globset does, for any glob and any id.
        #[test]
        fn id_globs_match_as_globset_does(
            pats in proptest::collection::vec("[ab/*?.-]{0,4}|[a-c]{1,3}\\*", 1..4),
            ids in proptest::collection::vec("[ab/.*-]{0,5}", 1..8),
        ) {
            let mut b = globset::GlobSetBuilder::new();
            for p in &pats {
                b.add(globset::Glob::new(p).unwrap());
            }
            let set = b.build().unwrap();
            let ours = super::IdGlobs::new(&pats).unwrap();
            for id in &ids {
                proptest::prop_assert_eq!(ours.is_match(id), set.is_match(id), "{:?} {}", pats, id);
            }
        }
    }

    #[test]
    fn plain_globs_take_the_shortcut() {
        let plain = |p: &[&str]| {
            let p: Vec<String> = p.iter().map(|s| s.to_string()).collect();
            super::IdGlobs::new(&p).unwrap().plain.is_some()
        };
        assert!(plain(&["team-a-*", "cf-00010", "*"]));
        assert!(!plain(&["team-*-x"]));
        assert!(!plain(&["cf-0000?"]));
        assert!(!plain(&["a**"]));
    }
}
