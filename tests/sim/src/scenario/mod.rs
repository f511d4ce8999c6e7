//! Scenarios: what a lab runs, read from TOML (`[[instance]]` tables with their logins,
//! databases, linked servers and jobs; `[[managed_instance]]` targets; `[azure]`) or
//! made by [`generate`]. Unknown fields and bad values are refused with the file, line
//! and field.
//!
//! - `azure`: the tenant, subscription and principals of the lab's Azure.
//! - `builds`: version strings and what they imply.
//! - `generate`: seeded, varied fleets for scale tests.
//! - `managed`: managed instances, the link's targets.
//! - `modules`: procedures, views, functions and triggers, and the names they reference.
//! - `tables`: user tables and their rows.
//! - `workload`: the load a database carries while the lab runs.

pub mod azure;
pub mod builds;
pub mod generate;
pub mod managed;
pub mod modules;
pub mod tables;
pub mod workload;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

pub use azure::AzureSpec;
pub use builds::Build;
pub use generate::generate;
pub use managed::ManagedInstanceSpec;
pub use tables::{ColumnSpec, TableSpec};
pub use workload::WorkloadSpec;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default, rename = "instance")]
    pub instances: Vec<InstanceSpec>,
    #[serde(default, rename = "managed_instance")]
    pub managed_instances: Vec<ManagedInstanceSpec>,
    #[serde(default)]
    pub azure: AzureSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceSpec {
    pub name: String,
    /// A build (`16.0.4125.3`) or a short name (`2022 CU13`).
    #[serde(default = "default_version", deserialize_with = "de_build")]
    pub version: Build,
    #[serde(default = "default_edition")]
    pub edition: Edition,
    #[serde(default = "default_collation")]
    pub collation: String,
    /// Always On availability groups enabled (SERVERPROPERTY('IsHadrEnabled')).
    #[serde(default)]
    pub hadr: bool,
    /// The host is a node of a running Windows Server Failover Cluster, which
    /// CLUSTER_TYPE = WSFC availability groups need. Absent: true exactly for SQL
    /// Server 2016 with Always On, which cannot enable it on any other host.
    #[serde(default)]
    pub wsfc: Option<bool>,
    /// A failover cluster instance (SERVERPROPERTY('IsClustered')).
    #[serde(default)]
    pub clustered: bool,
    #[serde(default)]
    pub host: HostSpec,
    /// Global trace flags on at start-up.
    #[serde(default)]
    pub trace_flags: Vec<u16>,
    /// Force Encryption: clients that cannot encrypt are refused.
    #[serde(default)]
    pub force_encryption: bool,
    /// TCP port on loopback; 0 or absent picks a free one.
    #[serde(default)]
    pub port: u16,
    /// sp_configure options by name (for example `"xp_cmdshell" = 1`).
    #[serde(default)]
    pub configurations: BTreeMap<String, i64>,
    #[serde(default = "default_logins", rename = "login")]
    pub logins: Vec<LoginSpec>,
    #[serde(default, rename = "database")]
    pub databases: Vec<DatabaseSpec>,
    #[serde(default, rename = "linked_server")]
    pub linked_servers: Vec<LinkedServerSpec>,
    #[serde(default, rename = "job")]
    pub jobs: Vec<JobSpec>,
    #[serde(default)]
    pub server_triggers: Vec<String>,
    /// T-SQL batches run as a sysadmin when the instance starts, after everything
    /// above: state described by the statements that made it (a certificate, a
    /// mirroring endpoint), with the same rules and errors as a client gets.
    #[serde(default)]
    pub setup: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Edition {
    Enterprise,
    Standard,
    Developer,
    Express,
    Evaluation,
}

impl Edition {
    /// SERVERPROPERTY('Edition').
    pub fn display(self) -> &'static str {
        match self {
            Edition::Enterprise => "Enterprise Edition (64-bit)",
            Edition::Standard => "Standard Edition (64-bit)",
            Edition::Developer => "Developer Edition (64-bit)",
            Edition::Express => "Express Edition (64-bit)",
            Edition::Evaluation => "Enterprise Evaluation Edition (64-bit)",
        }
    }

    /// SERVERPROPERTY('EngineEdition'): 2 Standard, 3 Enterprise (and Developer,
    /// Evaluation), 4 Express.
    pub fn engine_edition(self) -> i64 {
        match self {
            Edition::Standard => 2,
            Edition::Express => 4,
            Edition::Enterprise | Edition::Developer | Edition::Evaluation => 3,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    #[serde(default = "default_platform")]
    pub platform: String,
    #[serde(default = "default_distribution")]
    pub distribution: String,
    #[serde(default = "default_cpus")]
    pub cpu_count: u32,
    #[serde(default = "default_memory")]
    pub memory_mb: u64,
}

impl Default for HostSpec {
    fn default() -> Self {
        HostSpec {
            platform: default_platform(),
            distribution: default_distribution(),
            cpu_count: default_cpus(),
            memory_mb: default_memory(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginSpec {
    pub name: String,
    /// SQL authentication password; absent for Windows logins (`windows = true`).
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub windows: bool,
    #[serde(default)]
    pub sysadmin: bool,
    /// Server permissions granted, such as "VIEW SERVER STATE".
    #[serde(default)]
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Recovery {
    Full,
    BulkLogged,
    Simple,
}

impl Recovery {
    /// sys.databases.recovery_model and its description.
    pub fn code(self) -> (i64, &'static str) {
        match self {
            Recovery::Full => (1, "FULL"),
            Recovery::BulkLogged => (2, "BULK_LOGGED"),
            Recovery::Simple => (3, "SIMPLE"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSpec {
    pub name: String,
    #[serde(default = "default_data_mb")]
    pub data_mb: u64,
    #[serde(default = "default_log_mb")]
    pub log_mb: u64,
    #[serde(default = "default_recovery")]
    pub recovery: Recovery,
    /// Defaults to the instance's major version (160 on 2022).
    #[serde(default)]
    pub compatibility_level: Option<u8>,
    #[serde(default)]
    pub collation: Option<String>,
    #[serde(default = "one")]
    pub data_files: u32,
    #[serde(default = "one")]
    pub log_files: u32,
    #[serde(default)]
    pub filestream: bool,
    /// Memory-optimised filegroup containers (In-Memory OLTP); 0 for none.
    #[serde(default)]
    pub memory_optimized_files: u32,
    #[serde(default)]
    pub tde: bool,
    #[serde(default)]
    pub broker: bool,
    #[serde(default)]
    pub accelerated_recovery: bool,
    #[serde(default)]
    pub backups: Vec<BackupSpec>,
    #[serde(default)]
    pub assemblies: Vec<String>,
    /// Procedures, views, functions and triggers, each its `CREATE` text.
    #[serde(default)]
    pub modules: Vec<String>,
    /// The workload's transactions each insert a row into the first table.
    #[serde(default)]
    pub workload: WorkloadSpec,
    #[serde(default, rename = "table")]
    pub tables: Vec<TableSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum BackupKind {
    /// Full database backup.
    D,
    /// Differential.
    I,
    /// Log.
    L,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSpec {
    #[serde(rename = "type")]
    pub kind: BackupKind,
    /// How long before the lab started the backup finished.
    #[serde(default = "default_hours_ago")]
    pub hours_ago: f64,
    #[serde(default)]
    pub copy_only: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkedServerSpec {
    pub name: String,
    #[serde(default = "default_provider")]
    pub provider: String,
    #[serde(default)]
    pub product: String,
    #[serde(default)]
    pub data_source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, rename = "step")]
    pub steps: Vec<JobStepSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobStepSpec {
    pub name: String,
    /// TSQL, PowerShell, CmdExec, ANALYSISCOMMAND, Merge, QueueReader ...
    pub subsystem: String,
    #[serde(default)]
    pub command: String,
}

fn de_build<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Build, D::Error> {
    let text = String::deserialize(d)?;
    Build::parse(&text).map_err(serde::de::Error::custom)
}

fn default_version() -> Build {
    Build::parse("2022 CU13").expect("known build")
}
fn default_edition() -> Edition {
    Edition::Developer
}
fn default_collation() -> String {
    "SQL_Latin1_General_CP1_CI_AS".into()
}
fn default_platform() -> String {
    "Windows".into()
}
fn default_distribution() -> String {
    "Windows Server 2022 Datacenter".into()
}
fn default_cpus() -> u32 {
    4
}
fn default_memory() -> u64 {
    16384
}
fn default_data_mb() -> u64 {
    64
}
fn default_log_mb() -> u64 {
    16
}
fn default_recovery() -> Recovery {
    Recovery::Full
}
fn default_hours_ago() -> f64 {
    24.0
}
fn default_provider() -> String {
    "SQLNCLI11".into()
}
fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}

/// The login an instance gets when the scenario names none.
pub const DEFAULT_LOGIN: &str = "sa";
pub const DEFAULT_PASSWORD: &str = "Lab-Passw0rd!";

fn default_logins() -> Vec<LoginSpec> {
    vec![LoginSpec {
        name: DEFAULT_LOGIN.into(),
        password: Some(DEFAULT_PASSWORD.into()),
        windows: false,
        sysadmin: true,
        permissions: Vec::new(),
    }]
}

impl Scenario {
    pub fn load(path: &Path) -> anyhow::Result<Scenario> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: cannot read the scenario: {e}", path.display()))?;
        Scenario::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Scenario, String> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| e.to_string())?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Rules serde cannot express: names present and unique, sizes sensible.
    fn validate(&self) -> Result<(), String> {
        let mut names = std::collections::HashSet::new();
        for (n, instance) in self.instances.iter().enumerate() {
            let at = format!("instance[{n}] ('{}')", instance.name);
            if instance.name.trim().is_empty() {
                return Err(format!("instance[{n}].name: must not be empty"));
            }
            if !names.insert(instance.name.to_ascii_lowercase()) {
                return Err(format!("{at}.name: another instance has the same name"));
            }
            if instance.wsfc() && instance.host.platform == "Linux" {
                return Err(format!(
                    "{at}.wsfc: a Linux host cannot be a Windows Server Failover Cluster node (remove wsfc, or use a Windows host)"
                ));
            }
            if instance.hadr && instance.version.major() == 13 && !instance.wsfc() {
                return Err(format!(
                    "{at}.wsfc: SQL Server 2016 enables Always On only on a WSFC node (set wsfc = true, or hadr = false)"
                ));
            }
            if instance.logins.is_empty() {
                return Err(format!(
                    "{at}.login: at least one login is needed to connect"
                ));
            }
            for login in &instance.logins {
                if !login.windows && login.password.is_none() {
                    return Err(format!(
                        "{at}.login '{}'.password: a SQL login needs a password (or set windows = true)",
                        login.name
                    ));
                }
            }
            let mut databases = std::collections::HashSet::new();
            for database in &instance.databases {
                let dat = format!("{at}.database '{}'", database.name);
                if database.name.trim().is_empty() || is_system_database(&database.name) {
                    return Err(format!("{dat}.name: must be a user database name"));
                }
                if !databases.insert(database.name.to_ascii_lowercase()) {
                    return Err(format!("{dat}.name: declared twice"));
                }
                if database.data_files == 0 || database.log_files == 0 {
                    return Err(format!(
                        "{dat}: a database has at least one data file and one log file"
                    ));
                }
                database
                    .workload
                    .validate()
                    .map_err(|e| format!("{dat}.{e}"))?;
                let mut tables = std::collections::HashSet::new();
                for table in &database.tables {
                    table.validate().map_err(|e| format!("{dat}.{e}"))?;
                    let (schema, name) = table.schema_and_name();
                    if !tables.insert(format!("{schema}.{name}").to_ascii_lowercase()) {
                        return Err(format!("{dat}.table '{}': declared twice", table.name));
                    }
                }
                for (m, definition) in database.modules.iter().enumerate() {
                    let at = format!("{dat}.modules[{m}]");
                    let header = modules::header(definition).map_err(|e| format!("{at}: {e}"))?;
                    modules::references(definition).map_err(|e| format!("{at}: {e}"))?;
                    if !tables
                        .insert(format!("{}.{}", header.schema, header.name).to_ascii_lowercase())
                    {
                        return Err(format!(
                            "{at}: another table or module is named {}.{}",
                            header.schema, header.name
                        ));
                    }
                    if let Some((schema, table)) = &header.parent {
                        let declared = database.tables.iter().any(|t| {
                            let (s, n) = t.schema_and_name();
                            s.eq_ignore_ascii_case(schema) && n.eq_ignore_ascii_case(table)
                        });
                        if !declared {
                            return Err(format!(
                                "{at}: the trigger's table {schema}.{table} is not declared in this database"
                            ));
                        }
                    }
                }
                if let Some(level) = database.compatibility_level {
                    let max = instance.version.default_compatibility_level();
                    if !(80..=max).contains(&level) || level % 10 != 0 {
                        return Err(format!(
                            "{dat}.compatibility_level: {level} is not a level SQL Server {} accepts (80 to {max}, in tens)",
                            instance.version.year()
                        ));
                    }
                }
            }
        }
        self.validate_managed()
    }

    fn validate_managed(&self) -> Result<(), String> {
        self.azure.validate()?;
        let mut names = std::collections::HashSet::new();
        for (n, mi) in self.managed_instances.iter().enumerate() {
            let at = format!("managed_instance[{n}] ('{}')", mi.name);
            mi.validate(&at)?;
            if !names.insert(mi.name.clone()) {
                return Err(format!(
                    "{at}.name: another managed instance has the same name"
                ));
            }
        }
        Ok(())
    }
}

impl InstanceSpec {
    /// Whether the host is a WSFC node (see `wsfc`).
    pub fn wsfc(&self) -> bool {
        self.wsfc
            .unwrap_or(self.hadr && self.version.major() == 13 && self.host.platform != "Linux")
    }
}

pub fn is_system_database(name: &str) -> bool {
    ["master", "tempdb", "model", "msdb"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_scenario_parses_with_defaults() {
        let s = Scenario::parse(
            r#"
            [[instance]]
            name = "SQL01"
            version = "2019 CU20"
            edition = "Standard"
            [[instance.database]]
            name = "Sales"
            backups = [{ type = "D" }]
            "#,
        )
        .unwrap();
        let i = &s.instances[0];
        assert_eq!(i.version.product_version(), "15.0.4312.2");
        assert_eq!(i.logins[0].name, DEFAULT_LOGIN);
        assert_eq!(i.databases[0].recovery, Recovery::Full);
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let err =
            Scenario::parse("[[instance]]\nname = \"A\"\nversoin = \"2022 RTM\"\n").unwrap_err();
        assert!(err.contains("line 3") && err.contains("versoin"), "{err}");
        let err = Scenario::parse("[[instance]]\nname = \"A\"\nversion = \"11.0\"\n").unwrap_err();
        assert!(
            err.contains("line 3") && err.contains("version '11.0'"),
            "{err}"
        );
        let err = Scenario::parse(
            "[[instance]]\nname = \"A\"\n[[instance.database]]\nname = \"D\"\nrecovery = \"PARTIAL\"\n",
        )
        .unwrap_err();
        assert!(err.contains("line 5") && err.contains("PARTIAL"), "{err}");
    }

    #[test]
    fn semantic_errors_name_the_field() {
        let err = Scenario::parse(
            "[[instance]]\nname = \"A\"\nversion = \"2016 SP3\"\n[[instance.database]]\nname = \"D\"\ncompatibility_level = 160\n",
        )
        .unwrap_err();
        assert!(
            err.contains("compatibility_level") && err.contains("2016"),
            "{err}"
        );
        let err = Scenario::parse("[[instance]]\nname = \"A\"\n[[instance]]\nname = \"a\"\n")
            .unwrap_err();
        assert!(err.contains("same name"), "{err}");
        let err = Scenario::parse(
            "[[instance]]\nname = \"A\"\n[[instance.login]]\nname = \"sa\"\npassword = \"x\"\n[[instance.database]]\nname = \"D\"\nworkload = { log_bytes_per_sec = -1 }\n",
        )
        .unwrap_err();
        assert!(err.contains("workload.log_bytes_per_sec"), "{err}");
    }

    #[test]
    fn modules_are_checked_when_the_scenario_loads() {
        let base = "[[instance]]\nname = \"A\"\n[[instance.database]]\nname = \"D\"\n";
        let parse = |modules: &str| Scenario::parse(&format!("{base}modules = [{modules}]\n"));
        let err = parse("'SELECT 1'").unwrap_err();
        assert!(
            err.contains("database 'D'.modules[0]") && err.contains("CREATE"),
            "{err}"
        );
        let err = parse("'CREATE TRIGGER t ON dbo.Missing AFTER INSERT AS SELECT 1'").unwrap_err();
        assert!(
            err.contains("modules[0]") && err.contains("dbo.Missing"),
            "{err}"
        );
        let err =
            parse("'CREATE VIEW v AS SELECT 1 AS x', 'CREATE PROC dbo.V AS SELECT 1'").unwrap_err();
        assert!(err.contains("modules[1]") && err.contains("dbo.V"), "{err}");
        assert!(parse("'CREATE VIEW v AS SELECT x FROM Other.dbo.T'").is_ok());
    }

    #[test]
    fn tables_need_a_primary_key_and_known_types() {
        let base = "[[instance]]\nname = \"A\"\n[[instance.database]]\nname = \"D\"\n[[instance.database.table]]\nname = \"T\"\n";
        let err = Scenario::parse(&format!(
            "{base}columns = [{{ name = \"id\", type = \"int\" }}]\n"
        ))
        .unwrap_err();
        assert!(
            err.contains("table 'T'.columns") && err.contains("primary_key"),
            "{err}"
        );
        let err = Scenario::parse(&format!("{base}columns = [{{ name = \"id\", type = \"int\", primary_key = true }}, {{ name = \"x\", type = \"geography\" }}]\n")).unwrap_err();
        assert!(err.contains("columns[1].type"), "{err}");
        let ok = Scenario::parse(&format!(
            "{base}rows = 3\ncolumns = [{{ name = \"id\", type = \"int\", primary_key = true }}]\n"
        ))
        .unwrap();
        assert_eq!(ok.instances[0].databases[0].tables[0].rows, 3);
    }

    #[test]
    fn a_wsfc_node_is_what_the_version_and_host_allow() {
        let s = Scenario::parse("[[instance]]\nname = \"A\"\nversion = \"2016 SP3\"\nhadr = true\n[[instance]]\nname = \"B\"\nhadr = true\n").unwrap();
        assert!(s.instances[0].wsfc());
        assert!(!s.instances[1].wsfc());
        let err = Scenario::parse(
            "[[instance]]\nname = \"A\"\nversion = \"2016 SP3\"\nhadr = true\nwsfc = false\n",
        )
        .unwrap_err();
        assert!(err.contains("wsfc") && err.contains("2016"), "{err}");
        let err = Scenario::parse(
            "[[instance]]\nname = \"A\"\nwsfc = true\n[instance.host]\nplatform = \"Linux\"\n",
        )
        .unwrap_err();
        assert!(err.contains("wsfc") && err.contains("Linux"), "{err}");
    }
}

#[cfg(test)]
mod managed_tests {
    use super::*;

    #[test]
    fn managed_instances_take_azure_defaults_and_rules() {
        let s = Scenario::parse("[[managed_instance]]\nname = \"mi-one\"\n").unwrap();
        let mi = &s.managed_instances[0];
        assert_eq!(mi.vcores, 8);
        assert_eq!(mi.dns_zone().len(), 12);
        assert!(mi.fqdn().starts_with("mi-one.") && mi.fqdn().ends_with(".database.windows.net"));
        assert_eq!(s.azure.principals.len(), 1);
        for (field, bad) in [
            ("name", "name = \"MI_One\""),
            ("vcores", "name = \"mi\"\nvcores = 6"),
            ("storage_gb", "name = \"mi\"\nstorage_gb = 100"),
            ("dns_zone", "name = \"mi\"\ndns_zone = \"a.b\""),
        ] {
            let err = Scenario::parse(&format!("[[managed_instance]]\n{bad}\n")).unwrap_err();
            assert!(err.contains(&format!(".{field}")), "{field}: {err}");
        }
        let err = Scenario::parse(
            "[[managed_instance]]\nname = \"mi\"\n[[managed_instance]]\nname = \"mi\"\n",
        )
        .unwrap_err();
        assert!(err.contains("same name"), "{err}");
        let err = Scenario::parse("[azure]\nspeed = 0\n").unwrap_err();
        assert!(err.contains("azure.speed"), "{err}");
        let err = Scenario::parse("[azure]\ntenant = \"contoso\"\n").unwrap_err();
        assert!(err.contains("azure.tenant"), "{err}");
    }
}

#[cfg(test)]
mod example {
    #[test]
    fn the_shipped_example_parses() {
        let s = super::Scenario::parse(include_str!("../../scenarios/example.toml")).unwrap();
        assert_eq!(s.instances.len(), 2);
        assert!(!s.instances[1].version.has_certificate_issuer_procedure());
        let sales = &s.instances[0].databases[0].workload;
        assert_eq!(sales.sessions, 12);
        assert!(s.instances[1].databases[0].workload.is_idle());
        assert_eq!(s.managed_instances[0].name, "mi-sales");
        assert_eq!(s.azure.speed, 10.0);
    }
}
