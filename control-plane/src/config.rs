//! Configuration in layers: built-in defaults, then a TOML file, then `FERRY_*`
//! environment variables and command-line flags (clap merges those two; flags win).
//! Validated once at start; every error names the field and the fix. The fully
//! commented example is `deploy/ferry-control.example.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlConfig {
    /// Address for agents, operators and health checks (gRPC over TLS).
    pub listen: SocketAddr,
    /// Where the CA, the embedded database and operator credentials live.
    pub data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL; empty for SQLite at `<data_dir>/ferry.db`.
    pub database_url: Option<String>,
    /// A file holding PostgreSQL's password (owner-only), so that it is in neither the
    /// URL, the configuration nor the command line.
    pub database_password_file: Option<PathBuf>,
    pub tls: TlsSettings,
    pub enrollment: EnrollmentSettings,
    pub certificates: CertificateSettings,
    pub liveness: LivenessSettings,
    pub commands: CommandSettings,
    pub assessment: AssessmentSettings,
    pub sizing: SizingSettings,
    pub azure: AzureSettings,
    pub migrations: MigrationSettings,
    pub cutover: crate::cutover::settings::CutoverSettings,
    pub observability: ObservabilitySettings,
    pub retention: crate::retention::RetentionSettings,
    /// The application hooks a plan's cutover group may name (`[[hook]]`): defined
    /// here, by whoever runs the control plane, never by a plan.
    #[serde(rename = "hook")]
    pub hooks: Vec<crate::cutover::group::HookFile>,
}

impl ControlConfig {
    /// The configured hook named `name`, checked.
    pub fn hook(&self, name: &str) -> Option<crate::cutover::group::Hook> {
        let file = self
            .hooks
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))?;
        crate::cutover::group::hook(file, name, self.cutover.webhook_loopback_http).ok()
    }
}

/// What watches the control plane reads (`observability`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObservabilitySettings {
    /// Plain-HTTP address for `/metrics`, `/healthz` and `/readyz` (e.g.
    /// `127.0.0.1:9464`); none by default. Nothing served there is secret, but keep it
    /// on a network only the monitoring reaches.
    pub listen: Option<SocketAddr>,
    /// Host label keys (at most [`MAX_METRIC_LABEL_KEYS`]) by which the newest
    /// assessment's readiness is also counted (`ferry.assessment.databases.by_label`,
    /// e.g. `["env", "region"]`); none by default. Each key shows its
    /// `fleet_counts::LABEL_VALUES_SHOWN` commonest values, the rest as `(other)`.
    pub label_keys: Vec<String>,
}

/// Label keys the readiness gauge may be split by: each multiplies its series.
pub const MAX_METRIC_LABEL_KEYS: usize = 5;

/// How migrations are driven and watched.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MigrationSettings {
    /// How often the driver advances set-up steps and polls ARM operations.
    pub tick_ms: u64,
    /// How often each linked migration's link is read from ARM.
    pub observe_interval_secs: u64,
    /// A linked migration that shows no progress for this long is stalled.
    pub stall_after_secs: u64,
    /// How long a step's agent command waits for an offline host.
    pub command_ttl_secs: u64,
    /// How long an agent that took a step's command may take to report it; past that
    /// the step fails with the cause, and `ferry migrate retry` runs it again.
    pub report_timeout_secs: u64,
    /// The migration driver's lease (several replicas on PostgreSQL): a replica that
    /// stops is replaced this long after its last renewal; no ARM call of the driver
    /// outlives it. At least three ticks.
    pub lease_ttl_secs: u64,
    /// A linked migration warns when SQL Server's endpoint certificate expires within
    /// this many days.
    pub certificate_warning_days: u64,
    /// How many links may seed at once, altogether, from one host and into one MI
    /// (`migration::admission`); 0 is no limit.
    pub max_seeding: u32,
    pub max_seeding_per_host: u32,
    pub max_seeding_per_target: u32,
    /// Mbit/s the seedings of one host to one MI may use together; 0 is no limit.
    pub seeding_mbps_per_path: f64,
}

impl MigrationSettings {
    pub fn seeding_limits(&self) -> crate::migration::admission::SeedingLimits {
        crate::migration::admission::SeedingLimits {
            max_seeding: self.max_seeding,
            max_seeding_per_host: self.max_seeding_per_host,
            max_seeding_per_target: self.max_seeding_per_target,
            seeding_mbps_per_path: self.seeding_mbps_per_path,
        }
    }
}

impl Default for MigrationSettings {
    fn default() -> Self {
        Self {
            tick_ms: 1000,
            observe_interval_secs: 15,
            stall_after_secs: 600,
            command_ttl_secs: 3600,
            report_timeout_secs: 900,
            lease_ttl_secs: 15,
            certificate_warning_days: 30,
            max_seeding: 0,
            max_seeding_per_host: 0,
            max_seeding_per_target: 0,
            seeding_mbps_per_path: 0.0,
        }
    }
}

/// How the control plane reaches Azure (managed instances, the link's ARM side).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AzureSettings {
    /// How it signs in to Entra ID; `none` leaves Azure unused.
    pub credential: AzureCredential,
    /// The tenant (directory) id: needed for `client_secret`; optional otherwise.
    pub tenant_id: Option<String>,
    /// The application (client) id: needed for `client_secret`; for
    /// `managed_identity`, a user-assigned identity's client id.
    pub client_id: Option<String>,
    /// A file holding the client secret (`client_secret`), readable by the control
    /// plane only; the secret itself never goes in this file or any log.
    pub client_secret_file: Option<PathBuf>,
    /// ARM's endpoint: the public cloud's, a sovereign cloud's, or the lab's.
    pub arm_endpoint: String,
    /// The audience ARM's tokens are for (`<audience>.default` is the scope).
    pub arm_audience: String,
    /// Entra ID's authority host.
    pub authority_host: String,
    /// More CA certificates (PEM) to trust for ARM and Entra ID, besides the
    /// platform's (a TLS-inspecting proxy's CA).
    pub ca_file: Option<PathBuf>,
    /// Every Azure request's timeout.
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AzureCredential {
    #[default]
    None,
    ManagedIdentity,
    WorkloadIdentity,
    ClientSecret,
    /// The Azure CLI's or Azure Developer CLI's signed-in account.
    Developer,
}

impl Default for AzureSettings {
    fn default() -> Self {
        Self {
            credential: AzureCredential::None,
            tenant_id: None,
            client_id: None,
            client_secret_file: None,
            arm_endpoint: "https://management.azure.com/".into(),
            arm_audience: "https://management.azure.com/".into(),
            authority_host: "https://login.microsoftonline.com/".into(),
            ca_file: None,
            timeout_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SizingSettings {
    /// The percentile of the load windows the SKU recommendation sizes for.
    pub percentile: f64,
    /// Added on top of the load at the percentile, percent.
    pub headroom_percent: f64,
    /// How long load windows are kept, and the span confidence is measured against.
    pub history_days: u32,
    /// A price table file (see `deploy/mi-prices.toml`); the shipped example when absent.
    pub price_table: Option<PathBuf>,
}

impl Default for SizingSettings {
    fn default() -> Self {
        Self {
            percentile: 95.0,
            headroom_percent: 20.0,
            history_days: 30,
            price_table: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// An operator-provided CA (both or neither). When absent, a CA is created on first
    /// start in `<data_dir>/ca/`.
    pub ca_cert: Option<PathBuf>,
    pub ca_key: Option<PathBuf>,
    /// Names and IP addresses agents use to reach this control plane; they go into the
    /// server certificate.
    pub server_names: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnrollmentSettings {
    pub default_token_ttl_secs: u64,
    pub max_token_ttl_secs: u64,
    /// Enrollment attempts one source address may make a minute (all at once at
    /// most): guessing tokens or loading the CA costs a source its turn.
    pub attempts_per_minute: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CertificateSettings {
    /// Lifetime of agent client certificates; agents renew at two thirds of it.
    pub agent_ttl_secs: u64,
    /// Lifetime of operator certificates; the `ferry` CLI renews one at two thirds of
    /// it, so an operator who uses it at least every few days never sees it expire.
    pub operator_ttl_secs: u64,
    /// Lifetime of the control plane's own server certificate; it is re-issued at start
    /// and, while running, at two thirds of it.
    pub server_ttl_secs: u64,
    /// How long after its certificate expired an agent may still renew it by proving
    /// its key (a control-plane outage longer than `agent_ttl_secs`), keeping its id.
    /// Zero: an expired agent must enroll again.
    pub expired_renewal_grace_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LivenessSettings {
    /// The heartbeat interval the control plane asks agents for.
    pub heartbeat_interval_secs: u64,
    /// An agent silent for longer than this is shown as disconnected.
    pub disconnected_after_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommandSettings {
    /// How long a command waits for an offline agent before it expires.
    pub default_ttl_secs: u64,
    /// The longest time to live an operator may give a command (`ferry command send
    /// --ttl`): a week by default, so no command waits for ever.
    pub max_ttl_secs: u64,
    /// How often each replica looks for commands queued elsewhere and for expiries.
    pub poll_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssessmentSettings {
    /// How long a run waits for offline hosts unless the operator says otherwise.
    pub default_deadline_secs: u64,
    /// The longest deadline an operator may ask for.
    pub max_deadline_secs: u64,
    /// Scheduled fleet-wide runs every this many seconds (default weekly); 0 turns the
    /// schedule off.
    pub schedule_interval_secs: u64,
    /// Where slots start, in seconds after the Unix epoch (a Thursday, 00:00 UTC) modulo
    /// the interval. The default, 3 days and 23 hours, starts weekly runs on Sunday at
    /// 23:00 UTC (Arc's weekly assessment runs Sunday 23:00 server time).
    pub schedule_offset_secs: u64,
}

impl Default for AssessmentSettings {
    fn default() -> Self {
        Self {
            default_deadline_secs: 86400,
            max_deadline_secs: 7 * 86400,
            schedule_interval_secs: 7 * 86400,
            schedule_offset_secs: 3 * 86400 + 23 * 3600,
        }
    }
}

impl Default for ControlConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 7443)),
            data_dir: PathBuf::from("ferry-data"),
            database_url: None,
            database_password_file: None,
            tls: TlsSettings::default(),
            enrollment: EnrollmentSettings::default(),
            certificates: CertificateSettings::default(),
            liveness: LivenessSettings::default(),
            commands: CommandSettings::default(),
            assessment: AssessmentSettings::default(),
            sizing: SizingSettings::default(),
            azure: AzureSettings::default(),
            migrations: MigrationSettings::default(),
            cutover: Default::default(),
            observability: ObservabilitySettings::default(),
            retention: Default::default(),
            hooks: Vec::new(),
        }
    }
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            ca_cert: None,
            ca_key: None,
            server_names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
        }
    }
}

impl Default for EnrollmentSettings {
    fn default() -> Self {
        Self {
            default_token_ttl_secs: 3600,
            max_token_ttl_secs: 7 * 86400,
            attempts_per_minute: 30,
        }
    }
}

impl Default for CertificateSettings {
    fn default() -> Self {
        Self {
            agent_ttl_secs: 86400,
            operator_ttl_secs: 7 * 86400,
            server_ttl_secs: 90 * 86400,
            expired_renewal_grace_secs: 30 * 86400,
        }
    }
}

impl Default for LivenessSettings {
    fn default() -> Self {
        Self {
            heartbeat_interval_secs: 10,
            disconnected_after_secs: 35,
        }
    }
}

impl Default for CommandSettings {
    fn default() -> Self {
        Self {
            default_ttl_secs: 3600,
            max_ttl_secs: 7 * 86_400,
            poll_interval_ms: 1000,
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
    Invalid {
        field: &'static str,
        problem: String,
    },
}

impl ControlConfig {
    /// Reads a TOML file over the defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// The database URL in effect.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.is_empty() => url.clone(),
            _ => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("ferry.db").display()
            ),
        }
    }

    /// The database URL to connect with: the URL in effect, with the password from
    /// `database_password_file` when one is given (never logged).
    pub fn database_url_with_password(&self) -> Result<String, ConfigError> {
        let url = self.effective_database_url();
        let Some(file) = &self.database_password_file else {
            return Ok(url);
        };
        let invalid = |problem: String| ConfigError::Invalid {
            field: "database_password_file",
            problem,
        };
        let password = ferry_proto::private_files::read_secret(file).map_err(invalid)?;
        let mut parsed = reqwest::Url::parse(&url)
            .map_err(|e| invalid(format!("database_url is not a URL: {e}")))?;
        if !parsed.scheme().starts_with("postgres") {
            return Err(invalid(
                "is for PostgreSQL: set database_url = \"postgres://...\"".into(),
            ));
        }
        parsed
            .set_password(Some(&password))
            .map_err(|()| invalid("database_url has no user to give the password to".into()))?;
        Ok(parsed.into())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, problem: &str| {
            Err(ConfigError::Invalid {
                field,
                problem: problem.to_string(),
            })
        };
        if self.tls.ca_cert.is_some() != self.tls.ca_key.is_some() {
            return invalid(
                "tls.ca_cert / tls.ca_key",
                "give both the CA certificate and its key, or neither (to use the generated CA)",
            );
        }
        let mbps = self.migrations.seeding_mbps_per_path;
        if !(mbps.is_finite() && (0.0..=1_000_000.0).contains(&mbps)) {
            return invalid(
                "migrations.seeding_mbps_per_path",
                "0 (no limit) to 1000000 Mbit/s",
            );
        }
        if self.tls.server_names.is_empty() {
            return invalid(
                "tls.server_names",
                "list at least one name or address agents use to reach this control plane",
            );
        }
        if let Some(url) = &self.database_url {
            let known = ["postgres://", "postgresql://", "sqlite:"];
            if !url.is_empty() && !known.iter().any(|prefix| url.starts_with(prefix)) {
                return invalid(
                    "database_url",
                    "use postgres://USER@HOST/DB, or sqlite://PATH, or leave it empty",
                );
            }
        }
        let positive = [
            (
                "enrollment.default_token_ttl_secs",
                self.enrollment.default_token_ttl_secs,
            ),
            (
                "enrollment.max_token_ttl_secs",
                self.enrollment.max_token_ttl_secs,
            ),
            (
                "certificates.agent_ttl_secs",
                self.certificates.agent_ttl_secs,
            ),
            (
                "certificates.operator_ttl_secs",
                self.certificates.operator_ttl_secs,
            ),
            (
                "certificates.server_ttl_secs",
                self.certificates.server_ttl_secs,
            ),
            (
                "liveness.heartbeat_interval_secs",
                self.liveness.heartbeat_interval_secs,
            ),
            ("commands.default_ttl_secs", self.commands.default_ttl_secs),
            ("commands.max_ttl_secs", self.commands.max_ttl_secs),
            ("commands.poll_interval_ms", self.commands.poll_interval_ms),
            ("migrations.tick_ms", self.migrations.tick_ms),
            (
                "migrations.observe_interval_secs",
                self.migrations.observe_interval_secs,
            ),
            (
                "migrations.stall_after_secs",
                self.migrations.stall_after_secs,
            ),
            (
                "migrations.command_ttl_secs",
                self.migrations.command_ttl_secs,
            ),
            (
                "migrations.report_timeout_secs",
                self.migrations.report_timeout_secs,
            ),
            (
                "migrations.certificate_warning_days",
                self.migrations.certificate_warning_days,
            ),
            (
                "assessment.default_deadline_secs",
                self.assessment.default_deadline_secs,
            ),
        ];
        for (field, value) in positive {
            if value == 0 {
                return invalid(field, "must be greater than zero");
            }
        }
        if self.migrations.lease_ttl_secs * 1000 < self.migrations.tick_ms * 3 {
            return invalid(
                "migrations.lease_ttl_secs",
                "must be at least three ticks (migrations.tick_ms): a lease renewed every tick must not lapse between two",
            );
        }
        if self.observability.listen == Some(self.listen) && self.listen.port() != 0 {
            return invalid(
                "observability.listen",
                "must differ from listen: metrics and health are served in plain HTTP on a port of their own",
            );
        }
        if self.observability.label_keys.len() > MAX_METRIC_LABEL_KEYS {
            return invalid(
                "observability.label_keys",
                "names more than 5 keys: each multiplies the readiness gauge's series; keep the few a dashboard groups by",
            );
        }
        if let Some(problem) = self
            .observability
            .label_keys
            .iter()
            .find_map(|key| crate::fleet::labels::check_key(key).err())
        {
            return invalid("observability.label_keys", &problem);
        }
        if let Some((field, problem)) = self.cutover.invalid() {
            return invalid(field, problem);
        }
        if let Some((field, problem)) = self.retention.invalid() {
            return invalid(field, problem);
        }
        if let Err(problem) =
            crate::cutover::group::configured(&self.hooks, self.cutover.webhook_loopback_http)
        {
            return invalid("hook", &problem);
        }
        if self.assessment.default_deadline_secs > self.assessment.max_deadline_secs {
            return invalid(
                "assessment.default_deadline_secs",
                "must not exceed assessment.max_deadline_secs",
            );
        }
        let sizing = &self.sizing;
        if !(sizing.percentile > 0.0 && sizing.percentile <= 100.0) {
            return invalid(
                "sizing.percentile",
                "must be above 0 and at most 100 (95 is usual)",
            );
        }
        if !(sizing.headroom_percent >= 0.0 && sizing.headroom_percent <= 1000.0) {
            return invalid("sizing.headroom_percent", "must be 0 to 1000 (20 is usual)");
        }
        if sizing.history_days == 0 || sizing.history_days > 366 {
            return invalid("sizing.history_days", "must be 1 to 366 (30 is usual)");
        }
        let schedule = (
            self.assessment.schedule_interval_secs,
            self.assessment.schedule_offset_secs,
        );
        if schedule.0 != 0 && schedule.0 < 60 {
            return invalid(
                "assessment.schedule_interval_secs",
                "must be 0 (no schedule) or at least 60 seconds (604800 is weekly)",
            );
        }
        if schedule.0 != 0 && schedule.1 >= schedule.0 {
            return invalid(
                "assessment.schedule_offset_secs",
                "must be shorter than assessment.schedule_interval_secs",
            );
        }
        let azure = &self.azure;
        for (field, url) in [
            ("azure.arm_endpoint", &azure.arm_endpoint),
            ("azure.authority_host", &azure.authority_host),
        ] {
            if !url.starts_with("https://") {
                return invalid(field, "must be an https:// URL");
            }
        }
        if azure.timeout_secs == 0 || azure.timeout_secs > 600 {
            return invalid("azure.timeout_secs", "must be 1 to 600 (30 is usual)");
        }
        if azure.credential == AzureCredential::ClientSecret
            && (azure.tenant_id.is_none()
                || azure.client_id.is_none()
                || azure.client_secret_file.is_none())
        {
            return invalid(
                "azure.credential",
                "client_secret needs azure.tenant_id, azure.client_id and azure.client_secret_file",
            );
        }
        if self.enrollment.attempts_per_minute == 0 {
            return invalid(
                "enrollment.attempts_per_minute",
                "must be greater than zero (30 is usual)",
            );
        }
        if self.enrollment.default_token_ttl_secs > self.enrollment.max_token_ttl_secs {
            return invalid(
                "enrollment.default_token_ttl_secs",
                "must not exceed enrollment.max_token_ttl_secs",
            );
        }
        if self.certificates.agent_ttl_secs < 6 {
            return invalid(
                "certificates.agent_ttl_secs",
                "must be at least 6 seconds (hours or days in production)",
            );
        }
        if self.liveness.disconnected_after_secs <= self.liveness.heartbeat_interval_secs {
            return invalid(
                "liveness.disconnected_after_secs",
                "must be longer than liveness.heartbeat_interval_secs (three intervals is usual)",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_file_values_override_them() {
        ControlConfig::default().validate().unwrap();
        let config: ControlConfig = toml::from_str(
            "listen = \"127.0.0.1:9000\"\n[liveness]\nheartbeat_interval_secs = 5\n",
        )
        .unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.liveness.heartbeat_interval_secs, 5);
        assert_eq!(config.liveness.disconnected_after_secs, 35);
    }

    #[cfg(unix)]
    #[test]
    fn the_database_password_comes_from_an_owner_only_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pg-password");
        ferry_proto::private_files::write_secret(&file, "s3cr@t/:\n").unwrap();
        let config = ControlConfig {
            database_url: Some(
                "postgres://ferry@db.example.com:5432/ferry?sslmode=verify-full".into(),
            ),
            database_password_file: Some(file.clone()),
            ..Default::default()
        };
        let url = config.database_url_with_password().unwrap();
        assert_eq!(
            url,
            "postgres://ferry:s3cr%40t%2F%3A@db.example.com:5432/ferry?sslmode=verify-full"
        );
        assert!(
            !config.effective_database_url().contains("s3cr"),
            "shown without it"
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = config.database_url_with_password().unwrap_err().to_string();
        assert!(
            refused.contains("database_password_file") && refused.contains("chmod 600"),
            "{refused}"
        );
    }

    #[test]
    fn invalid_values_name_their_field() {
        let mut config = ControlConfig::default();
        config.liveness.disconnected_after_secs = 1;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("liveness.disconnected_after_secs"), "{err}");
        assert!(toml::from_str::<ControlConfig>("lisen = 1").is_err());
        let unqualified: ControlConfig =
            toml::from_str("[cutover]\nvalidate_tables = [\"Orders\"]\n").unwrap();
        let err = unqualified.validate().unwrap_err().to_string();
        assert!(
            err.contains("cutover.validate_tables") && err.contains("schema.name"),
            "{err}"
        );
        assert!(toml::from_str::<ControlConfig>("[cutover]\nvalidate = \"checksums\"\n").is_err());
    }

    #[test]
    fn the_deploy_example_is_valid_and_states_the_defaults() {
        let example: ControlConfig =
            toml::from_str(include_str!("../../deploy/ferry-control.example.toml")).unwrap();
        example.validate().unwrap();
        let defaults = ControlConfig::default();
        assert_eq!(example.listen, defaults.listen);
        assert_eq!(
            example.certificates.agent_ttl_secs,
            defaults.certificates.agent_ttl_secs
        );
        assert_eq!(
            example.liveness.disconnected_after_secs,
            defaults.liveness.disconnected_after_secs
        );
        assert_eq!(
            example.commands.poll_interval_ms,
            defaults.commands.poll_interval_ms
        );
    }
}
