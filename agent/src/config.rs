//! The agent's configuration: defaults, then a TOML file, then `FERRY_*` environment and
//! flags (applied by `main`). SQL credentials live here and stay on this host: they are
//! never sent to the control plane and never logged (`Debug` redacts them). The
//! commented example is `deploy/ferry-agent.example.toml`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Where the agent keeps its identity (key, certificates) and its outbox.
    pub state_dir: PathBuf,
    /// How often to collect and report inventory.
    pub inventory_interval_secs: u64,
    /// Heartbeat interval until the control plane says otherwise.
    pub heartbeat_interval_secs: u64,
    /// Ceiling for the reconnect backoff.
    pub max_backoff_secs: u64,
    /// How often to read each instance's load counters for sizing; 0 turns sampling off.
    pub load_sample_interval_secs: u64,
    /// How much load one reported window summarises (mean and peak per metric).
    pub load_window_secs: u64,
    /// How often to read the MI links' state from each instance's DMVs and report it;
    /// 0 turns link monitoring off.
    pub link_status_interval_secs: u64,
    /// How the connection test reaches a target managed instance.
    pub network: NetworkConfig,
    #[serde(rename = "instance")]
    pub instances: Vec<InstanceConfig>,
}

/// The connection test's settings (`crate::network`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// Names resolved without asking DNS, as a hosts file entry would, e.g. a managed
    /// instance's FQDN before its private DNS zone is linked. The test says when a name
    /// was resolved this way: SQL Server itself asks the host's resolver.
    pub hosts: BTreeMap<String, IpAddr>,
    /// How long one DNS lookup or TCP connection attempt may take.
    pub timeout_secs: u64,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            hosts: BTreeMap::new(),
            timeout_secs: 3,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceConfig {
    /// A name for the instance, unique on this host (e.g. "MSSQLSERVER" or "sales").
    pub name: String,
    #[serde(default = "default_host")]
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    pub auth: Auth,
    #[serde(default)]
    pub encryption: Encryption,
    /// Accept the server's certificate without validation (self-signed lab servers).
    #[serde(default)]
    pub trust_server_certificate: bool,
    /// A CA certificate (PEM or DER) to validate the server's certificate with.
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    #[serde(default = "default_query_timeout")]
    pub query_timeout_secs: u64,
    /// The address the managed instance reaches this instance's mirroring endpoint at
    /// (the link's listener URL). When unset, the address this host routes to the
    /// managed instance from.
    pub link_address: Option<IpAddr>,
    /// The mirroring endpoint's port when Ferry creates the endpoint (default 5022).
    /// Each instance on a host needs its own; only one should use 5022.
    pub endpoint_port: Option<u16>,
}

#[derive(Clone, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    /// A SQL Server login. Give the password inline, or name an environment variable or
    /// a file (owner-readable only) that holds it.
    SqlLogin {
        username: String,
        password: Option<String>,
        password_env: Option<String>,
        password_file: Option<PathBuf>,
    },
    /// Windows / Kerberos integrated authentication.
    Integrated,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::SqlLogin { username, .. } => write!(
                f,
                "SqlLogin {{ username: {username:?}, password: <redacted> }}"
            ),
            Auth::Integrated => f.write_str("Integrated"),
        }
    }
}

/// TDS encryption, as SQL Server clients name it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encryption {
    /// Encrypt everything; fail if the server cannot.
    #[default]
    Required,
    /// Encrypt the login packet only (the server may ask for full encryption).
    LoginOnly,
    /// No encryption at all.
    Off,
}

fn default_host() -> String {
    "localhost".into()
}
fn default_port() -> u16 {
    1433
}
fn default_connect_timeout() -> u64 {
    15
}
fn default_query_timeout() -> u64 {
    30
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            state_dir: PathBuf::from("ferry-agent-state"),
            inventory_interval_secs: 300,
            heartbeat_interval_secs: 10,
            max_backoff_secs: 60,
            load_sample_interval_secs: 30,
            load_window_secs: 600,
            link_status_interval_secs: 15,
            network: NetworkConfig::default(),
            instances: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config field `{field}`: {problem}")]
    Invalid { field: String, problem: String },
}

impl AgentConfig {
    /// The instance a command names (by its name in this configuration).
    pub fn instance(&self, name: &str) -> Result<&InstanceConfig, String> {
        self.instances
            .iter()
            .find(|i| i.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("no instance named {name:?} is configured on this host"))
    }

    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let config: Self = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field: String, problem: &str| {
            Err(ConfigError::Invalid {
                field,
                problem: problem.to_string(),
            })
        };
        for (field, value) in [
            ("inventory_interval_secs", self.inventory_interval_secs),
            ("heartbeat_interval_secs", self.heartbeat_interval_secs),
            ("max_backoff_secs", self.max_backoff_secs),
            ("network.timeout_secs", self.network.timeout_secs),
        ] {
            if value == 0 {
                return invalid(field.into(), "must be greater than zero");
            }
        }
        if self.load_sample_interval_secs > 0
            && self.load_window_secs < self.load_sample_interval_secs
        {
            return invalid(
                "load_window_secs".into(),
                "must be at least load_sample_interval_secs (600 with 30-second samples is usual)",
            );
        }
        if let Some(name) = self.network.hosts.keys().find(|n| !is_host_name(n)) {
            return invalid(
                format!("network.hosts.{name:?}"),
                "is not a host name (letters, digits, hyphens and dots, at most 253 characters)",
            );
        }
        let mut names = std::collections::HashSet::new();
        for (n, instance) in self.instances.iter().enumerate() {
            let field = |f: &str| format!("instance[{n}].{f}");
            if instance.name.is_empty()
                || instance.name.len() > 128
                || !names.insert(instance.name.as_str())
            {
                return invalid(
                    field("name"),
                    "must be 1 to 128 characters and unique among instances",
                );
            }
            if instance.host.is_empty() {
                return invalid(field("host"), "must not be empty");
            }
            if instance.endpoint_port == Some(0) {
                return invalid(
                    field("endpoint_port"),
                    "must be a TCP port (1-65535); leave it out for 5022",
                );
            }
            if instance.connect_timeout_secs == 0 || instance.query_timeout_secs == 0 {
                return invalid(
                    field("connect_timeout_secs / query_timeout_secs"),
                    "must be greater than zero",
                );
            }
            if let Auth::SqlLogin {
                username,
                password,
                password_env,
                password_file,
            } = &instance.auth
            {
                if username.is_empty() {
                    return invalid(field("auth.username"), "must not be empty");
                }
                let sources = [
                    password.is_some(),
                    password_env.is_some(),
                    password_file.is_some(),
                ];
                if sources.iter().filter(|s| **s).count() != 1 {
                    return invalid(
                        field("auth"),
                        "give exactly one of password, password_env or password_file",
                    );
                }
            }
        }
        Ok(())
    }
}

/// A DNS host name: dot-separated labels of letters, digits and hyphens.
pub(crate) fn is_host_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

impl Auth {
    /// Resolves the password from wherever the config says it is.
    pub fn password(&self) -> Result<Option<String>, String> {
        match self {
            Auth::Integrated => Ok(None),
            Auth::SqlLogin {
                password: Some(p), ..
            } => Ok(Some(p.clone())),
            Auth::SqlLogin {
                password_env: Some(var),
                ..
            } => std::env::var(var)
                .map(Some)
                .map_err(|_| format!("environment variable {var} (auth.password_env) is not set")),
            Auth::SqlLogin {
                password_file: Some(path),
                ..
            } => ferry_proto::private_files::read_secret(path)
                .map(Some)
                .map_err(|e| format!("auth.password_file: {e}")),
            Auth::SqlLogin { .. } => Err("no password configured".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
state_dir = "/var/lib/ferry-agent"
[[instance]]
name = "default"
port = 1433
auth = { method = "sql_login", username = "ferry", password = "hunter2" }
"#;

    #[test]
    fn parses_instances_and_never_prints_passwords() {
        let config: AgentConfig = toml::from_str(EXAMPLE).unwrap();
        config.validate().unwrap();
        assert_eq!(config.instances[0].encryption, Encryption::Required);
        let shown = format!("{config:?}");
        assert!(
            shown.contains("ferry") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn bad_instances_name_the_field() {
        let mut config: AgentConfig = toml::from_str(EXAMPLE).unwrap();
        config.instances.push(config.instances[0].clone());
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("instance[1].name"), "{err}");
        assert!(
            toml::from_str::<AgentConfig>("[[instance]]\nname='x'\nauth={method='kerberos'}")
                .is_err()
        );
    }

    #[test]
    fn the_deploy_example_is_valid() {
        let example: AgentConfig =
            toml::from_str(include_str!("../../deploy/ferry-agent.example.toml")).unwrap();
        example.validate().unwrap();
        assert_eq!(
            example.inventory_interval_secs,
            AgentConfig::default().inventory_interval_secs
        );
        assert_eq!(example.instances.len(), 1);
        assert_eq!(example.network.timeout_secs, 3);
        assert_eq!(
            example.link_status_interval_secs,
            AgentConfig::default().link_status_interval_secs
        );
    }

    #[test]
    fn network_overrides_must_be_host_names() {
        let mut config: AgentConfig =
            toml::from_str("[network.hosts]\n\"mi1.zone.database.windows.net\" = \"10.1.0.4\"")
                .unwrap();
        config.validate().unwrap();
        config
            .network
            .hosts
            .insert("x; rm -rf".into(), "10.1.0.5".parse().unwrap());
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("network.hosts"), "{err}");
        assert!(toml::from_str::<AgentConfig>("[network.hosts]\nmi = \"not-an-ip\"").is_err());
    }
}
