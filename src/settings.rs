//! Flags + environment (`CDCFORM_*`) + `cdcform.toml` → resolved settings.
//! Precedence: command-line flag > environment variable > cdcform.toml > default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use cdcform_core::settings::*;

use crate::cli::GlobalArgs;
use crate::ticdc::ClientOptions;
use crate::Error;

/// One cluster's settings in `cdcform.toml` (also the top-level defaults for all clusters).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterFile {
    pub server: Option<String>,
    pub namespace: Option<String>,
    /// Manifest files or directories, relative to cdcform.toml.
    pub paths: Option<Vec<PathBuf>>,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub user: Option<String>,
    /// Name of the environment variable holding the basic-auth password.
    pub password_env: Option<String>,
    /// Id globs this repository owns (for `--prune`).
    pub manage: Option<Vec<String>>,
    /// Id globs never deleted.
    pub protected: Option<Vec<String>>,
    pub parallelism: Option<usize>,
    pub timeout: Option<String>,
    pub gc_ttl: Option<String>,
    /// Values for `${NAME}` in manifests (`[vars]`, `[clusters.NAME.vars]`). Not secrets: they
    /// may be printed. The environment overrides them; secrets stay in the environment.
    pub vars: Option<BTreeMap<String, String>>,
    /// `[policy]`: Rego policies every plan, apply and validate of this cluster evaluates.
    pub policy: Option<PolicySection>,
}

/// `[policy]` (top level) and `[clusters.NAME.policy]`: a cluster's own are added to the
/// top-level ones, never instead of them (a guardrail set for all clusters stays in force).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    /// `.rego` files or directories, relative to cdcform.toml.
    pub paths: Option<Vec<PathBuf>>,
    /// Packages whose rules count [default: `cdcform`].
    pub namespaces: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Cluster used when `--cluster` is not given.
    pub default_cluster: Option<String>,
    #[serde(flatten)]
    pub defaults: ClusterFile,
    #[serde(default)]
    pub clusters: BTreeMap<String, ClusterFile>,
}

fn parse_dur(what: &str, s: &str) -> Result<Duration, Error> {
    crate::cli::parse_duration(s).map_err(|e| Error::Settings(format!("{what}: {e}")))
}

/// Keys of `cdcform.toml` (top level and `[clusters.NAME]`), for "did you mean" (and the docs
/// test, which checks that docs/reference/cdcform-toml.md names each).
pub const CONFIG_KEYS: &[&str] = &[
    "default_cluster",
    "clusters",
    "server",
    "namespace",
    "paths",
    "ca",
    "cert",
    "key",
    "user",
    "password_env",
    "manage",
    "protected",
    "parallelism",
    "timeout",
    "gc_ttl",
    "vars",
    "policy",
    "namespaces",
];

/// Names users bring from TiCDC's own docs and `cdc cli` flags, and what cdcform calls them.
const LEGACY_CONFIG_KEYS: &[(&str, &str)] = &[
    ("pd", "server"),
    ("server-addr", "server"),
    ("ca-path", "ca"),
    ("cert-path", "cert"),
    ("key-path", "key"),
    ("default-cluster", "default_cluster"),
    ("password-env", "password_env"),
    ("gc-ttl", "gc_ttl"),
];

/// A hint for an unknown key in cdcform.toml: a legacy name's equivalent, or the closest key.
fn config_key_hint(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1)?;
    let key = rest.split('`').next()?;
    if let Some((_, ours)) = LEGACY_CONFIG_KEYS.iter().find(|(old, _)| *old == key) {
        return Some(format!("`{key}` is called `{ours}` in cdcform.toml"));
    }
    crate::manifest::schema::did_you_mean(key, CONFIG_KEYS.iter().copied())
        .map(|m| format!("did you mean `{m}`?"))
}

/// Read and parse cdcform.toml; errors carry file:line and a "did you mean" for unknown keys.
pub fn read_config_file(path: &Path) -> Result<ConfigFile, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Settings(format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| {
        let (line, col) = e
            .span()
            .map(|s| {
                let before = &text[..s.start.min(text.len())];
                (
                    before.matches('\n').count() + 1,
                    before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1,
                )
            })
            .unwrap_or((0, 0));
        let message = e.message().trim_end().to_string();
        let hint = config_key_hint(&message)
            .map(|h| format!("\nhelp: {h}"))
            .unwrap_or_default();
        Error::Settings(format!("{}:{line}:{col}: {message}{hint}", path.display()))
    })
}

/// The config file in force: `--config`, `CDCFORM_CONFIG`, else `./cdcform.toml` when present.
fn load_config(g: &GlobalArgs, env: Env) -> Result<(Option<PathBuf>, ConfigFile), Error> {
    let explicit = g
        .config
        .clone()
        .or_else(|| env("CDCFORM_CONFIG").map(PathBuf::from));
    match explicit {
        Some(p) if !p.exists() => Err(Error::Settings(format!(
            "config file {} does not exist",
            p.display()
        ))),
        Some(p) => Ok((Some(p.clone()), read_config_file(&p)?)),
        None => {
            let p = PathBuf::from("cdcform.toml");
            if p.exists() {
                Ok((Some(p.clone()), read_config_file(&p)?))
            } else {
                Ok((None, ConfigFile::default()))
            }
        }
    }
}

/// Which of the file's clusters a command targets.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// One named cluster (flag, `CDCFORM_CLUSTER`, `default_cluster`, or the file's only one).
    Cluster(String),
    /// No cluster: the top-level settings (no config file, or an explicit `--server`).
    TopLevel,
    /// Several clusters and none chosen.
    Ambiguous(Vec<String>),
}

/// Decide which cluster a command targets. No command may fall back to a default server when
/// the file names several clusters: that is how one environment's changefeeds reach another.
pub fn select(g: &GlobalArgs, env: Env, file: &ConfigFile) -> Selection {
    let chosen = g
        .cluster
        .clone()
        .or_else(|| env("CDCFORM_CLUSTER"))
        .or(file.default_cluster.clone());
    if let Some(name) = chosen {
        return Selection::Cluster(name);
    }
    let explicit_server = g.server.is_some() || env("CDCFORM_SERVER").is_some();
    match file.clusters.len() {
        _ if explicit_server => Selection::TopLevel,
        0 => Selection::TopLevel,
        1 => Selection::Cluster(file.clusters.keys().next().cloned().unwrap_or_default()),
        _ => Selection::Ambiguous(file.clusters.keys().cloned().collect()),
    }
}

fn ambiguous_error(config_file: Option<&Path>, names: &[String]) -> Error {
    Error::Settings(format!(
        "{} defines {} clusters ({}) and none is chosen; nothing was done\n\
         help: pass `--cluster NAME`, set `CDCFORM_CLUSTER`, or set `default_cluster` in {}",
        config_file
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        names.len(),
        names.join(", "),
        config_file
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    ))
}

fn unknown_cluster(config_file: Option<&Path>, file: &ConfigFile, name: &str) -> Error {
    let known: Vec<&str> = file.clusters.keys().map(String::as_str).collect();
    Error::Settings(match config_file {
        None => format!(
            "--cluster {name}: no cdcform.toml found\nhelp: create cdcform.toml with a [clusters.{name}] section, or pass --config"
        ),
        Some(p) => {
            let hint = match crate::manifest::schema::did_you_mean(name, known.iter().copied()) {
                Some(m) => format!("did you mean `{m}`?"),
                None => "choose one of the clusters defined there".to_string(),
            };
            format!(
                "cluster {name:?} is not defined in {} (defined: {})\nhelp: {hint}",
                p.display(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )
        }
    })
}

/// The file's top-level settings with one cluster's own settings laid over them.
fn merged(file: &ConfigFile, cluster: Option<&ClusterFile>) -> ClusterFile {
    let mut c = file.defaults.clone();
    if let Some(over) = cluster {
        macro_rules! over {
            ($($f:ident),*) => { $( if over.$f.is_some() { c.$f = over.$f.clone(); } )* };
        }
        over!(
            server,
            namespace,
            paths,
            ca,
            cert,
            key,
            user,
            password_env,
            manage,
            protected,
            parallelism,
            timeout,
            gc_ttl
        );
        if let Some(v) = &over.vars {
            c.vars.get_or_insert_with(BTreeMap::new).extend(v.clone());
        }
        if let Some(own) = &over.policy {
            let top = c.policy.take().unwrap_or_default();
            let paths: Vec<PathBuf> = top
                .paths
                .unwrap_or_default()
                .into_iter()
                .chain(own.paths.clone().unwrap_or_default())
                .collect();
            let mut namespaces = top.namespaces.unwrap_or_default();
            for n in own.namespaces.clone().unwrap_or_default() {
                if !namespaces.contains(&n) {
                    namespaces.push(n);
                }
            }
            c.policy = Some(PolicySection {
                paths: Some(paths),
                namespaces: (!namespaces.is_empty()).then_some(namespaces),
            });
        }
    }
    c
}

/// Whether to look up credentials: offline commands (validate) never need a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Online,
    Offline,
}

/// Resolution of [`Settings`] from flags, environment and cdcform.toml.
pub trait Resolve: Sized {
    /// Resolve the one cluster a command targets from flags, environment and the config file.
    /// Several clusters with none chosen is an error that names them and how to choose.
    fn resolve(g: &GlobalArgs, env: Env) -> Result<Settings, Error>;
    /// Every cluster a command targets: the chosen one, or, when the file names several and
    /// none is chosen, each of them (for offline commands such as `validate`).
    fn resolve_each(g: &GlobalArgs, env: Env, purpose: Purpose) -> Result<Vec<Settings>, Error>;
    /// The clusters a command that runs on several targets (see the implementation).
    fn resolve_targets(g: &GlobalArgs, env: Env) -> Result<Vec<Target>, Error>;
    /// The clusters cdcform.toml defines (none without a config file).
    fn defined_clusters(g: &GlobalArgs, env: Env) -> Result<Vec<String>, Error>;
    /// The settings of one part of a saved plan (see the implementation).
    fn resolve_saved(
        g: &GlobalArgs,
        env: Env,
        cluster: Option<&str>,
        planned_at: &str,
    ) -> Result<Settings, Error>;
}

impl Resolve for Settings {
    /// Resolve the one cluster a command targets from flags, environment and the config file.
    /// Several clusters with none chosen is an error that names them and how to choose.
    fn resolve(g: &GlobalArgs, env: Env) -> Result<Settings, Error> {
        let (config_file, file) = load_config(g, env)?;
        match select(g, env, &file) {
            Selection::Ambiguous(names) => Err(ambiguous_error(config_file.as_deref(), &names)),
            Selection::Cluster(name) => {
                for_cluster(g, env, &config_file, &file, Some(&name), Purpose::Online)
            }
            Selection::TopLevel => for_cluster(g, env, &config_file, &file, None, Purpose::Online),
        }
    }

    /// Every cluster a command targets: the chosen one, or, when the file names several and
    /// none is chosen, each of them (for offline commands such as `validate`).
    fn resolve_each(g: &GlobalArgs, env: Env, purpose: Purpose) -> Result<Vec<Settings>, Error> {
        let (config_file, file) = load_config(g, env)?;
        let names: Vec<Option<String>> = match select(g, env, &file) {
            Selection::Ambiguous(names) => names.into_iter().map(Some).collect(),
            Selection::Cluster(name) => vec![Some(name)],
            Selection::TopLevel => vec![None],
        };
        names
            .iter()
            .map(|n| for_cluster(g, env, &config_file, &file, n.as_deref(), purpose))
            .collect()
    }

    /// The clusters a command that runs on several targets: `--all-clusters`, every `--cluster`
    /// given, or the one [`Settings::resolve`] picks. Each cluster's settings resolve on their
    /// own, so a missing password fails that cluster, not the run.
    fn resolve_targets(g: &GlobalArgs, env: Env) -> Result<Vec<Target>, Error> {
        let (config_file, file) = load_config(g, env)?;
        let Some(names) = several(g, env, &config_file, &file)? else {
            let s = Settings::resolve(g, env)?;
            return Ok(vec![Target {
                name: s.cluster.clone().unwrap_or_else(|| "default".into()),
                settings: Ok(s),
            }]);
        };
        Ok(names
            .into_iter()
            .map(|n| {
                let settings = for_cluster(g, env, &config_file, &file, Some(&n), Purpose::Online);
                Target { name: n, settings }
            })
            .collect())
    }

    /// The clusters cdcform.toml defines (none without a config file).
    fn defined_clusters(g: &GlobalArgs, env: Env) -> Result<Vec<String>, Error> {
        let (_, file) = load_config(g, env)?;
        Ok(file.clusters.keys().cloned().collect())
    }

    /// The settings of one part of a saved plan: the cluster it was planned for, whatever the
    /// command line or `default_cluster` choose now (the plan knows its clusters). A part made
    /// without a named cluster gets the top-level settings with the server it was planned
    /// against, unless `--server` or `CDCFORM_SERVER` names another (refused, nothing sent).
    /// A file of an earlier version that did not record its cluster is matched to the one
    /// cluster of cdcform.toml at the server it was planned against, when there is one.
    fn resolve_saved(
        g: &GlobalArgs,
        env: Env,
        cluster: Option<&str>,
        planned_at: &str,
    ) -> Result<Settings, Error> {
        let (config_file, file) = load_config(g, env)?;
        let g = GlobalArgs {
            cluster: None,
            clusters: vec![],
            all_clusters: false,
            ..g.clone()
        };
        let at = |c: &ClusterFile| {
            merged(&file, Some(c))
                .server
                .is_some_and(|s| same_server(&s, planned_at))
        };
        let name = match cluster {
            Some(n) => Some(n.to_string()),
            None => {
                let matching: Vec<&String> = file
                    .clusters
                    .iter()
                    .filter(|(_, c)| at(c))
                    .map(|(n, _)| n)
                    .collect();
                match matching.as_slice() {
                    [one] if g.server.is_none() && env("CDCFORM_SERVER").is_none() => {
                        Some(one.to_string())
                    }
                    _ => None,
                }
            }
        };
        if let (None, Some((v, what))) = (&name, other_server(&g, env, planned_at)) {
            return Err(Error::Settings(format!(
                "the plan was made against {}, but {what} says {}; nothing was sent\n\
                 help: apply it where it was planned: drop {what}, or plan again",
                crate::pipeline::shown_server(planned_at),
                crate::pipeline::shown_server(&v)
            )));
        }
        let g = GlobalArgs {
            server: match name {
                Some(_) => g.server.clone(),
                None => Some(planned_at.to_string()),
            },
            ..g
        };
        for_cluster(
            &g,
            env,
            &config_file,
            &file,
            name.as_deref(),
            Purpose::Online,
        )
    }
}

fn for_cluster(
    g: &GlobalArgs,
    env: Env,
    config_file: &Option<PathBuf>,
    file: &ConfigFile,
    name: Option<&str>,
    purpose: Purpose,
) -> Result<Settings, Error> {
    let cluster = match name {
        Some(n) => Some(
            file.clusters
                .get(n)
                .ok_or_else(|| unknown_cluster(config_file.as_deref(), file, n))?,
        ),
        None => None,
    };
    let c = merged(file, cluster);
    if let (Some(name), Some(theirs)) = (name, &c.server) {
        server_agrees(g, env, config_file.as_deref(), name, theirs)?;
    }
    let mut s = from_layers(g, env, config_file, &c, purpose)?;
    s.cluster = name.map(str::to_string);
    s.clusters_defined = file.clusters.keys().cloned().collect();
    Ok(s)
}

/// Flag > environment > the merged file settings `c` > default, for every setting.
fn from_layers(
    g: &GlobalArgs,
    env: Env,
    config_file: &Option<PathBuf>,
    c: &ClusterFile,
    purpose: Purpose,
) -> Result<Settings, Error> {
    let base = config_file
        .as_ref()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let rel = |p: PathBuf| {
        if p.is_absolute() || base.as_os_str().is_empty() {
            p
        } else {
            base.join(p)
        }
    };
    let pick = |flag: &Option<String>, var: &str, file: &Option<String>| {
        flag.clone().or_else(|| env(var)).or(file.clone())
    };
    let pick_path = |flag: &Option<PathBuf>, var: &str, file: &Option<PathBuf>| {
        flag.clone()
            .or_else(|| env(var).map(PathBuf::from))
            .or(file.clone().map(rel))
    };
    let server =
        pick(&g.server, "CDCFORM_SERVER", &c.server).unwrap_or_else(|| DEFAULT_SERVER.into());
    refuse_credentials_in(&server)?;
    let namespace =
        pick(&g.namespace, "CDCFORM_NAMESPACE", &c.namespace).unwrap_or_else(|| "default".into());
    let user = pick(&g.user, "CDCFORM_USER", &c.user);
    let password = match purpose {
        Purpose::Online => password(&user, env, c, config_file)?,
        Purpose::Offline => None,
    };
    let timeout = match g.timeout {
        Some(t) => t,
        None => match env("CDCFORM_TIMEOUT").or(c.timeout.clone()) {
            Some(s) => parse_dur("timeout", &s)?,
            None => DEFAULT_TIMEOUT,
        },
    };
    let retry_for = match g.retry_for {
        Some(t) => t,
        None => match env("CDCFORM_RETRY_FOR") {
            Some(s) => parse_dur("retry_for", &s)?,
            None => crate::retry::DEFAULT_RETRY_FOR,
        },
    };
    let parallelism = parallelism(g, env, c)?;
    let gc_ttl = match env("CDCFORM_GC_TTL").or(c.gc_ttl.clone()) {
        Some(s) => parse_dur("gc_ttl", &s)?,
        None => DEFAULT_GC_TTL,
    };
    let manage_patterns = c.manage.clone().unwrap_or_default();
    let mut client = ClientOptions::new(server.clone());
    client.ca = pick_path(&g.ca, "CDCFORM_CA", &c.ca);
    client.cert = pick_path(&g.cert, "CDCFORM_CERT", &c.cert);
    client.key = pick_path(&g.key, "CDCFORM_KEY", &c.key);
    client.user = user;
    client.password = password;
    client.timeout = timeout;
    client.connect_timeout = Duration::from_secs(2).min(timeout);
    client.retry_for = retry_for;
    // An explicit budget also waits for a server not reached yet (one that is starting).
    client.retry_first_contact = g.retry_for.is_some() || env("CDCFORM_RETRY_FOR").is_some();
    Ok(Settings {
        server,
        namespace,
        paths: c
            .paths
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(rel)
            .collect(),
        client,
        manage: globs("manage", &manage_patterns)?,
        manage_patterns,
        protected: globs("protected", &c.protected.clone().unwrap_or_default())?,
        parallelism,
        gc_ttl,
        config_file: config_file.clone(),
        cluster: None,
        policy_paths: c
            .policy
            .as_ref()
            .and_then(|p| p.paths.clone())
            .unwrap_or_default()
            .into_iter()
            .map(rel)
            .chain(g.policy_paths.iter().cloned())
            .collect(),
        // `--policy` adds to cdcform.toml's policies; `--policy-namespace` replaces its
        // packages. Resolved here once, so every path evaluates the same policies.
        policy_namespaces: match g.policy_namespaces.is_empty() {
            false => g.policy_namespaces.clone(),
            true => c
                .policy
                .as_ref()
                .and_then(|p| p.namespaces.clone())
                .unwrap_or_default(),
        },
        clusters_defined: vec![],
        vars: c.vars.clone().unwrap_or_default(),
    })
}

/// Credentials never ride in the server URL: it is printed (plan headers, JSON, saved plans,
/// status, errors), and one place to keep a password is easier to keep secret than two.
fn refuse_credentials_in(server: &str) -> Result<(), Error> {
    match url::Url::parse(server) {
        Ok(u) if !u.username().is_empty() || u.password().is_some() => {
            Err(Error::Settings(format!(
                "the TiCDC server URL {} holds a user or password; nothing was sent\n\
                 help: write the URL without them and pass `--user NAME` with the password in `CDCFORM_PASSWORD` (or `user` and `password_env` in cdcform.toml)",
                crate::pipeline::shown_server(server)
            )))
        }
        _ => Ok(()),
    }
}

/// A server URL as compared: without a trailing `/`.
fn same_server(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// A named cluster's server comes from cdcform.toml. A `--server` or `CDCFORM_SERVER` that
/// names another one is refused, never preferred: that is how one environment's changefeeds
/// reach another's cluster.
fn server_agrees(
    g: &GlobalArgs,
    env: Env,
    config_file: Option<&Path>,
    name: &str,
    theirs: &str,
) -> Result<(), Error> {
    match other_server(g, env, theirs) {
        Some((value, what)) => Err(Error::Settings(format!(
            "cluster `{name}` is at {} in {}, but {what} says {}; nothing was sent\n\
             help: drop {what} (a named cluster's server comes from cdcform.toml), or change `server` under [clusters.{name}]",
            crate::pipeline::shown_server(theirs),
            config_file.map(|p| p.display().to_string()).unwrap_or_default(),
            crate::pipeline::shown_server(&value),
        ))),
        None => Ok(()),
    }
}

/// The first server the command line or the environment names (`--server`, then
/// `CDCFORM_SERVER`) that is not `theirs`, with where it came from.
fn other_server(g: &GlobalArgs, env: Env, theirs: &str) -> Option<(String, &'static str)> {
    [
        (g.server.clone(), "--server"),
        (env("CDCFORM_SERVER"), "CDCFORM_SERVER"),
    ]
    .into_iter()
    .find_map(|(value, what)| value.filter(|v| !same_server(v, theirs)).map(|v| (v, what)))
}

/// [`server_agrees`] for every cluster of a run, before any of them is planned: a run over
/// several clusters is refused whole when one would be sent elsewhere (so `--server` with
/// several clusters is refused unless they all are at that one server).
fn agree_all(
    g: &GlobalArgs,
    env: Env,
    config_file: &Option<PathBuf>,
    file: &ConfigFile,
    names: &[String],
) -> Result<(), Error> {
    for n in names {
        if let Some(theirs) = merged(file, file.clusters.get(n)).server {
            server_agrees(g, env, config_file.as_deref(), n, &theirs)?;
        }
    }
    Ok(())
}

/// The cluster names of `--all-clusters` or several `--cluster`; `None` for a run on one.
fn several(
    g: &GlobalArgs,
    env: Env,
    config_file: &Option<PathBuf>,
    file: &ConfigFile,
) -> Result<Option<Vec<String>>, Error> {
    if g.all_clusters {
        if file.clusters.is_empty() {
            return Err(Error::Settings(format!(
                "--all-clusters: {} defines no clusters\nhelp: add [clusters.NAME] sections, or drop --all-clusters",
                config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "no cdcform.toml was found, so nothing".into())
            )));
        }
        let names: Vec<String> = file.clusters.keys().cloned().collect();
        agree_all(g, env, config_file, file, &names)?;
        return Ok(Some(names));
    }
    if g.clusters.len() > 1 {
        for n in &g.clusters {
            if !file.clusters.contains_key(n) {
                return Err(unknown_cluster(config_file.as_deref(), file, n));
            }
        }
        let mut names = g.clusters.clone();
        names.dedup();
        agree_all(g, env, config_file, file, &names)?;
        return Ok(Some(names));
    }
    Ok(None)
}

/// The basic-auth password: `CDCFORM_PASSWORD`, else the variable `password_env` names.
fn password(
    user: &Option<String>,
    env: Env,
    c: &ClusterFile,
    config_file: &Option<PathBuf>,
) -> Result<Option<String>, Error> {
    if let Some(p) = env("CDCFORM_PASSWORD") {
        return Ok(Some(p));
    }
    match (user, &c.password_env) {
        // A user with no password would be sent as is and refused by the server, which reads
        // as a wrong password; the missing variable is the thing to fix.
        (Some(user), None) => Err(Error::Settings(format!(
            "basic auth: user `{user}` is given, but CDCFORM_PASSWORD is not set; nothing was sent\n\
             help: export CDCFORM_PASSWORD, or name the variable that holds the password with `password_env` in cdcform.toml"
        ))),
        (Some(_), Some(var)) => env(var).map(Some).ok_or_else(|| {
            Error::Settings(format!(
                "basic auth: environment variable {var} (password_env in {}) is not set\nhelp: export {var}, or set CDCFORM_PASSWORD",
                config_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ))
        }),
        _ => Ok(None),
    }
}

fn parallelism(g: &GlobalArgs, env: Env, c: &ClusterFile) -> Result<usize, Error> {
    let p = match g.parallelism {
        Some(p) => p,
        None => match env("CDCFORM_PARALLELISM") {
            Some(s) => s.parse().map_err(|_| {
                Error::Settings(format!("CDCFORM_PARALLELISM={s:?} is not a number"))
            })?,
            None => c.parallelism.unwrap_or(DEFAULT_PARALLELISM),
        },
    };
    if p == 0 {
        return Err(Error::Settings("parallelism must be at least 1".into()));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("cdcform.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    const TOML: &str = r#"
default_cluster = "staging"
manage = ["team-*"]
timeout = "5s"

[clusters.staging]
server = "http://staging:8300"
paths = ["changefeeds/staging"]

[clusters.prod]
server = "https://prod:8300"
ca = "certs/ca.pem"
user = "cdc"
password_env = "PROD_CDC_PASSWORD"
protected = ["*"]
"#;

    #[test]
    fn flag_beats_env_beats_file_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = write(dir.path(), TOML);
        let g = GlobalArgs {
            config: Some(cfg.clone()),
            ..Default::default()
        };
        let none = |_: &str| None;
        let s = Settings::resolve(&g, &none).unwrap();
        assert_eq!(s.server, "http://staging:8300");
        assert_eq!(s.client.timeout, Duration::from_secs(5));
        assert_eq!(s.paths, vec![dir.path().join("changefeeds/staging")]);
        assert!(s.manage.as_ref().unwrap().is_match("team-a"));
        let env = |k: &str| (k == "CDCFORM_SERVER").then(|| "http://env:1".to_string());
        let g2 = GlobalArgs {
            server: Some("http://flag:2".into()),
            ..g.clone()
        };
        // Without a config file the flag beats the environment, which beats the default.
        let bare = GlobalArgs::default();
        assert_eq!(
            Settings::resolve(&bare, &env).unwrap().server,
            "http://env:1"
        );
        let bare_flag = GlobalArgs {
            server: Some("http://flag:2".into()),
            ..GlobalArgs::default()
        };
        assert_eq!(
            Settings::resolve(&bare_flag, &env).unwrap().server,
            "http://flag:2"
        );
        // A named cluster's server comes from cdcform.toml: another one is refused, both named.
        let e = Settings::resolve(&g, &env).unwrap_err().to_string();
        assert!(
            e.contains("http://staging:8300") && e.contains("CDCFORM_SERVER says http://env:1"),
            "{e}"
        );
        let e = Settings::resolve(&g2, &none).unwrap_err().to_string();
        assert!(e.contains("--server says http://flag:2"), "{e}");
        let same = GlobalArgs {
            server: Some("http://staging:8300/".into()),
            ..g.clone()
        };
        assert_eq!(
            Settings::resolve(&same, &none).unwrap().server,
            "http://staging:8300/"
        );
        let g3 = GlobalArgs {
            config: None,
            ..Default::default()
        };
        let s3 = Settings::resolve(&g3, &none).unwrap();
        assert_eq!(s3.server, DEFAULT_SERVER);
        assert_eq!(s3.parallelism, DEFAULT_PARALLELISM);
    }

    #[test]
    fn cluster_selection_and_password_env() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = write(dir.path(), TOML);
        let g = GlobalArgs {
            config: Some(cfg),
            cluster: Some("prod".into()),
            ..Default::default()
        };
        let missing = Settings::resolve(&g, &|_: &str| None)
            .unwrap_err()
            .to_string();
        assert!(missing.contains("PROD_CDC_PASSWORD"), "{missing}");
        let env = |k: &str| (k == "PROD_CDC_PASSWORD").then(|| "pw".to_string());
        let s = Settings::resolve(&g, &env).unwrap();
        assert_eq!(s.client.user.as_deref(), Some("cdc"));
        assert_eq!(s.client.password.as_deref(), Some("pw"));
        assert_eq!(s.client.ca, Some(dir.path().join("certs/ca.pem")));
        assert!(s.protected.as_ref().unwrap().is_match("anything"));
        let g = GlobalArgs {
            cluster: Some("nope".into()),
            ..g
        };
        let e = Settings::resolve(&g, &env).unwrap_err().to_string();
        assert!(
            e.contains("\"nope\" is not defined") && e.contains("prod, staging"),
            "{e}"
        );
    }

    #[test]
    fn a_user_without_a_password_names_the_variable_to_set() {
        let g = GlobalArgs {
            user: Some("admin".into()),
            ..Default::default()
        };
        let e = Settings::resolve(&g, &|_: &str| None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("user `admin` is given, but CDCFORM_PASSWORD is not set"),
            "{e}"
        );
        let env = |k: &str| (k == "CDCFORM_PASSWORD").then(|| "pw".to_string());
        let s = Settings::resolve(&g, &env).unwrap();
        assert_eq!(s.client.password.as_deref(), Some("pw"));
    }

    #[test]
    fn unknown_keys_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = write(
            dir.path(),
            "server = \"http://x\"\n\n[clusters.a]\nsevrer = \"y\"\n",
        );
        let g = GlobalArgs {
            config: Some(cfg.clone()),
            ..Default::default()
        };
        let e = Settings::resolve(&g, &|_: &str| None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&format!("{}:4:", cfg.display())), "{e}");
        assert!(e.contains("sevrer"), "{e}");
        let g = GlobalArgs {
            config: Some(dir.path().join("missing.toml")),
            ..Default::default()
        };
        assert!(Settings::resolve(&g, &|_: &str| None)
            .unwrap_err()
            .to_string()
            .contains("does not exist"));
    }

    #[test]
    fn policy_paths_add_up_and_resolve_against_the_config_dir() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = write(
            dir.path(),
            "[policy]\npaths = [\"org\"]\n\n[clusters.prod]\nserver = \"http://p\"\n\n[clusters.prod.policy]\npaths = [\"prod\"]\nnamespaces = [\"cdcform\", \"prod\"]\n\n[clusters.dev]\nserver = \"http://d\"\n",
        );
        let at = |name: &str| GlobalArgs {
            config: Some(cfg.clone()),
            cluster: Some(name.into()),
            ..Default::default()
        };
        let prod = Settings::resolve(&at("prod"), &|_: &str| None).unwrap();
        assert_eq!(
            prod.policy_paths,
            vec![dir.path().join("org"), dir.path().join("prod")]
        );
        assert_eq!(prod.policy_namespaces, vec!["cdcform", "prod"]);
        let dev = Settings::resolve(&at("dev"), &|_: &str| None).unwrap();
        assert_eq!(dev.policy_paths, vec![dir.path().join("org")]);
        assert!(dev.policy_namespaces.is_empty());
        // A typo inside [policy] is refused with a hint.
        let bad = write(dir.path(), "[policy]\npath = [\"x\"]\n");
        let g = GlobalArgs {
            config: Some(bad),
            ..Default::default()
        };
        let e = Settings::resolve(&g, &|_: &str| None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("path") && e.contains("did you mean `paths`"),
            "{e}"
        );
    }

    #[test]
    fn top_level_typo_is_refused() {
        let r: Result<ConfigFile, _> = toml::from_str("sevrer = \"x\"\n");
        assert!(r.is_err());
        let r: ConfigFile = toml::from_str("server = \"x\"\ndefault_cluster = \"a\"\n").unwrap();
        assert_eq!(r.defaults.server.as_deref(), Some("x"));
    }
}
