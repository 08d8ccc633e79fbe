//! Server profiles: which TiCDC behaviour a server shows (tiflow `cdc/api/v2` vs pingcap/ticdc `api/v2`).

use serde::{Deserialize, Serialize};

/// Classic = tiflow (v7.x–v8.x); NewArch = pingcap/ticdc with the new architecture enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    #[default]
    Classic,
    Newarch,
}

impl Arch {
    /// Query parameter (and JSON key) that scopes a changefeed.
    pub fn scope_param(self) -> &'static str {
        match self {
            Arch::Classic => "namespace",
            Arch::Newarch => "keyspace",
        }
    }
}

/// A `vMAJOR.MINOR.PATCH[-suffix]` version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Version {
            major,
            minor,
            patch,
        }
    }
    /// Parses "v8.5.0", "8.5.0-nextgen", "v7.5.1-20240101"; None when there is no x.y.
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim().trim_start_matches(['v', 'V']);
        let core = s.split(['-', '+', ' ']).next()?;
        let mut it = core.split('.').map(|p| p.parse::<u32>());
        let major = it.next()?.ok()?;
        let minor = it.next()?.ok()?;
        let patch = it.next().and_then(|p| p.ok()).unwrap_or(0);
        Some(Version {
            major,
            minor,
            patch,
        })
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// What cdcform knows about the server it talks to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct ServerProfile {
    pub arch: Arch,
    /// Parsed version; a server that reports none is treated as the newest known.
    pub version: Version,
    /// The version string as reported.
    pub raw_version: String,
}

impl ServerProfile {
    pub fn classic(version: Version) -> Self {
        ServerProfile {
            arch: Arch::Classic,
            version,
            raw_version: version.to_string(),
        }
    }
    pub fn newarch() -> Self {
        ServerProfile {
            arch: Arch::Newarch,
            version: Version::new(8, 5, 7),
            raw_version: "v8.5.7".into(),
        }
    }
    /// Servers that expose the unmasked `meta_info` route (classic only).
    pub fn has_meta_info(&self) -> bool {
        self.arch == Arch::Classic
    }
    pub fn label(&self) -> String {
        match self.arch {
            Arch::Classic => format!("classic {}", self.raw_version),
            Arch::Newarch => format!("new architecture {}", self.raw_version),
        }
    }
}

impl Default for ServerProfile {
    fn default() -> Self {
        ServerProfile::classic(Version::new(8, 5, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses_versions() {
        assert_eq!(Version::parse("v8.5.0"), Some(Version::new(8, 5, 0)));
        assert_eq!(
            Version::parse("v7.5.1-20240101-abc"),
            Some(Version::new(7, 5, 1))
        );
        assert_eq!(Version::parse("8.1"), Some(Version::new(8, 1, 0)));
        assert_eq!(Version::parse("None"), None);
        assert!(Version::new(7, 5, 0) < Version::new(8, 1, 0));
    }
}
