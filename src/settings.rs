//! Flags + environment (`CDCFORM_*`) + `cdcform.toml` → resolved settings.
//! Precedence: command-line flag > environment variable > cdcform.toml > default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use crate::cli::GlobalArgs;
use crate::ticdc::ClientOptions;
use crate::Error;

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8300";
pub const DEFAULT_PARALLELISM: usize = 8;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_GC_TTL: Duration = Duration::from_secs(24 * 3600);

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

/// Everything a command needs, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub server: String,
    pub namespace: String,
    pub paths: Vec<PathBuf>,
    pub client: ClientOptions,
    pub manage: Option<GlobSet>,
    pub manage_patterns: Vec<String>,
    pub protected: Option<GlobSet>,
    pub parallelism: usize,
    pub gc_ttl: Duration,
    pub config_file: Option<PathBuf>,
    pub cluster: Option<String>,
}

/// Source of environment variables (tests pass their own).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn parse_dur(what: &str, s: &str) -> Result<Duration, Error> {
    crate::cli::parse_duration(s).map_err(|e| Error::Settings(format!("{what}: {e}")))
}

fn globs(what: &str, pats: &[String]) -> Result<Option<GlobSet>, Error> {
    if pats.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in pats {
        b.add(
            Glob::new(p)
                .map_err(|e| Error::Settings(format!("invalid `{what}` pattern {p:?}: {e}")))?,
        );
    }
    Ok(Some(b.build().map_err(|e| Error::Settings(e.to_string()))?))
}

/// Read and parse cdcform.toml; errors carry file:line.
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
        Error::Settings(format!("{}:{line}:{col}: {}", path.display(), e.message()))
    })
}

impl Settings {
    /// Resolve from flags, environment and the config file.
    pub fn resolve(g: &GlobalArgs, env: Env) -> Result<Settings, Error> {
        let explicit = g
            .config
            .clone()
            .or_else(|| env("CDCFORM_CONFIG").map(PathBuf::from));
        let (config_file, file) = match explicit {
            Some(p) => {
                if !p.exists() {
                    return Err(Error::Settings(format!(
                        "config file {} does not exist",
                        p.display()
                    )));
                }
                let f = read_config_file(&p)?;
                (Some(p), f)
            }
            None => {
                let p = PathBuf::from("cdcform.toml");
                if p.exists() {
                    let f = read_config_file(&p)?;
                    (Some(p), f)
                } else {
                    (None, ConfigFile::default())
                }
            }
        };
        let cluster_name = g
            .cluster
            .clone()
            .or_else(|| env("CDCFORM_CLUSTER"))
            .or(file.default_cluster.clone());
        let mut c = file.defaults.clone();
        if let Some(name) = &cluster_name {
            let Some(over) = file.clusters.get(name) else {
                let known: Vec<&str> = file.clusters.keys().map(String::as_str).collect();
                return Err(Error::Settings(match &config_file {
                    None => format!("--cluster {name}: no cdcform.toml found"),
                    Some(p) => format!(
                        "cluster {name:?} is not defined in {} (defined: {})",
                        p.display(),
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                }));
            };
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
        }
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

        let server = g
            .server
            .clone()
            .or_else(|| env("CDCFORM_SERVER"))
            .or(c.server.clone())
            .unwrap_or_else(|| DEFAULT_SERVER.into());
        let namespace = g
            .namespace
            .clone()
            .or_else(|| env("CDCFORM_NAMESPACE"))
            .or(c.namespace.clone())
            .unwrap_or_else(|| "default".into());
        let ca =
            g.ca.clone()
                .or_else(|| env("CDCFORM_CA").map(PathBuf::from))
                .or(c.ca.clone().map(rel));
        let cert = g
            .cert
            .clone()
            .or_else(|| env("CDCFORM_CERT").map(PathBuf::from))
            .or(c.cert.clone().map(rel));
        let key = g
            .key
            .clone()
            .or_else(|| env("CDCFORM_KEY").map(PathBuf::from))
            .or(c.key.clone().map(rel));
        let user = g
            .user
            .clone()
            .or_else(|| env("CDCFORM_USER"))
            .or(c.user.clone());
        let password =
            match (&user, env("CDCFORM_PASSWORD")) {
                (_, Some(p)) => Some(p),
                (Some(_), None) => match &c.password_env {
                    Some(var) => Some(env(var).ok_or_else(|| {
                        Error::Settings(format!(
                        "basic auth: environment variable {var} (password_env in {}) is not set",
                        config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
                    ))
                    })?),
                    None => None,
                },
                (None, None) => None,
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
        let parallelism = match g.parallelism {
            Some(p) => p,
            None => match env("CDCFORM_PARALLELISM") {
                Some(s) => s.parse().map_err(|_| {
                    Error::Settings(format!("CDCFORM_PARALLELISM={s:?} is not a number"))
                })?,
                None => c.parallelism.unwrap_or(DEFAULT_PARALLELISM),
            },
        };
        if parallelism == 0 {
            return Err(Error::Settings("parallelism must be at least 1".into()));
        }
        let gc_ttl = match env("CDCFORM_GC_TTL").or(c.gc_ttl.clone()) {
            Some(s) => parse_dur("gc_ttl", &s)?,
            None => DEFAULT_GC_TTL,
        };
        let manage_patterns = c.manage.clone().unwrap_or_default();
        let mut client = ClientOptions::new(server.clone());
        client.ca = ca;
        client.cert = cert;
        client.key = key;
        client.user = user;
        client.password = password;
        client.timeout = timeout;
        client.connect_timeout = Duration::from_secs(2).min(timeout);
        client.retry_for = retry_for;
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
            config_file,
            cluster: cluster_name,
        })
    }

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
        }
    }

    /// Manifest paths: the command line's, else the config file's, else `.`.
    pub fn manifest_paths(&self, args: &[PathBuf]) -> Vec<PathBuf> {
        if !args.is_empty() {
            args.to_vec()
        } else if !self.paths.is_empty() {
            self.paths.clone()
        } else {
            vec![PathBuf::from(".")]
        }
    }
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
        assert_eq!(Settings::resolve(&g, &env).unwrap().server, "http://env:1");
        let g2 = GlobalArgs {
            server: Some("http://flag:2".into()),
            ..g.clone()
        };
        assert_eq!(
            Settings::resolve(&g2, &env).unwrap().server,
            "http://flag:2"
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
    fn top_level_typo_is_refused() {
        let r: Result<ConfigFile, _> = toml::from_str("sevrer = \"x\"\n");
        assert!(r.is_err());
        let r: ConfigFile = toml::from_str("server = \"x\"\ndefault_cluster = \"a\"\n").unwrap();
        assert_eq!(r.defaults.server.as_deref(), Some("x"));
    }
}
