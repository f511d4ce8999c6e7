//! Managed instances: the Azure SQL Managed Instances a lab offers as link targets
//! (`[[managed_instance]]`). Each has an FQDN in its DNS zone, a service tier, vCores,
//! storage, an update policy and a collation, as Azure describes them
//! (Managed Instances - Get, mi-link.md §1.4).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Build, Edition, HostSpec, InstanceSpec, LoginSpec};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedInstanceSpec {
    /// The resource name: 1 to 63 lower-case letters, digits and hyphens.
    pub name: String,
    /// The DNS zone of the FQDN `<name>.<dns_zone>.database.windows.net`; absent: a
    /// 12-character zone derived from the name, as Azure makes one per subnet.
    #[serde(default)]
    pub dns_zone: Option<String>,
    #[serde(default = "default_resource_group")]
    pub resource_group: String,
    #[serde(default = "default_location")]
    pub location: String,
    #[serde(default = "default_tier")]
    pub tier: Tier,
    #[serde(default = "default_vcores")]
    pub vcores: u32,
    #[serde(default = "default_storage")]
    pub storage_gb: u32,
    #[serde(default = "default_policy")]
    pub update_policy: UpdatePolicy,
    #[serde(default = "super::default_collation")]
    pub collation: String,
    #[serde(default = "default_admin")]
    pub admin_login: String,
    #[serde(default = "default_admin_password")]
    pub admin_password: String,
    /// The network between SQL Server and this MI, which every link to it shares:
    /// megabits per second (seeding and log both travel at it)...
    #[serde(default = "default_bandwidth")]
    pub link_bandwidth_mbps: f64,
    /// ... and one-way delay, milliseconds (the MI's hardened LSN trails by it).
    #[serde(default = "default_latency")]
    pub link_latency_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Tier {
    GeneralPurpose,
    BusinessCritical,
}

impl Tier {
    /// The SKU name ARM reports (`GP_Gen5`, `BC_Gen5`).
    pub fn sku(self) -> &'static str {
        match self {
            Tier::GeneralPurpose => "GP_Gen5",
            Tier::BusinessCritical => "BC_Gen5",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Tier::GeneralPurpose => "GeneralPurpose",
            Tier::BusinessCritical => "BusinessCritical",
        }
    }
}

/// The update policy, ARM's `databaseFormat`: which SQL Server the databases' format
/// stays compatible with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum UpdatePolicy {
    SQLServer2022,
    SQLServer2025,
    AlwaysUpToDate,
}

impl UpdatePolicy {
    pub fn name(self) -> &'static str {
        match self {
            UpdatePolicy::SQLServer2022 => "SQLServer2022",
            UpdatePolicy::SQLServer2025 => "SQLServer2025",
            UpdatePolicy::AlwaysUpToDate => "AlwaysUpToDate",
        }
    }

    /// The SQL Server engine whose features and database format the policy keeps.
    fn engine(self) -> Build {
        let short = match self {
            UpdatePolicy::SQLServer2022 => "2022 CU13",
            UpdatePolicy::SQLServer2025 | UpdatePolicy::AlwaysUpToDate => "2025 RTM",
        };
        Build::parse(short).expect("known build")
    }
}

/// vCores a Gen5 managed instance can have.
/// The vCore counts a managed instance is offered with.
pub const VCORES: [u32; 8] = [4, 8, 16, 24, 32, 40, 64, 80];

impl ManagedInstanceSpec {
    pub fn dns_zone(&self) -> String {
        self.dns_zone.clone().unwrap_or_else(|| {
            let digest = ring::digest::digest(&ring::digest::SHA256, self.name.as_bytes());
            digest.as_ref()[..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
    }

    pub fn fqdn(&self) -> String {
        format!("{}.{}.database.windows.net", self.name, self.dns_zone())
    }

    /// The engine behind the MI's TDS endpoint: the SQL Server its update policy
    /// follows, with Always On on and its administrator as the one login.
    pub fn engine_spec(&self) -> InstanceSpec {
        InstanceSpec {
            name: self.name.clone(),
            version: self.update_policy.engine(),
            edition: Edition::Enterprise,
            collation: self.collation.clone(),
            hadr: true,
            wsfc: Some(false),
            clustered: false,
            host: HostSpec {
                cpu_count: self.vcores,
                memory_mb: u64::from(self.vcores) * 5222,
                ..HostSpec::default()
            },
            trace_flags: Vec::new(),
            force_encryption: true,
            port: 0,
            configurations: BTreeMap::new(),
            logins: vec![LoginSpec {
                name: self.admin_login.clone(),
                password: Some(self.admin_password.clone()),
                windows: false,
                sysadmin: true,
                permissions: Vec::new(),
            }],
            databases: Vec::new(),
            linked_servers: Vec::new(),
            jobs: Vec::new(),
            server_triggers: Vec::new(),
            setup: Vec::new(),
        }
    }

    /// The rules ARM applies to a managed instance's name and size.
    pub fn validate(&self, at: &str) -> Result<(), String> {
        let name = &self.name;
        let valid_name = (1..=63).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        if !valid_name {
            return Err(format!(
                "{at}.name: '{name}' is not a managed instance name (1 to 63 lower-case letters, digits and hyphens, not starting or ending with a hyphen)"
            ));
        }
        if let Some(zone) = &self.dns_zone {
            if zone.is_empty() || !zone.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!(
                    "{at}.dns_zone: '{zone}' must be letters and digits only"
                ));
            }
        }
        if !VCORES.contains(&self.vcores) {
            return Err(format!(
                "{at}.vcores: {} is not offered (one of {VCORES:?})",
                self.vcores
            ));
        }
        if !(32..=16384).contains(&self.storage_gb) || !self.storage_gb.is_multiple_of(32) {
            return Err(format!(
                "{at}.storage_gb: {} is not offered (32 to 16384, in steps of 32)",
                self.storage_gb
            ));
        }
        if !(self.link_bandwidth_mbps > 0.0 && self.link_bandwidth_mbps <= 100_000.0) {
            return Err(format!(
                "{at}.link_bandwidth_mbps: {} must be above 0 and at most 100000",
                self.link_bandwidth_mbps
            ));
        }
        if !(0.0..=10_000.0).contains(&self.link_latency_ms) {
            return Err(format!(
                "{at}.link_latency_ms: {} must be 0 to 10000",
                self.link_latency_ms
            ));
        }
        if self.admin_login.trim().is_empty() || self.admin_password.is_empty() {
            return Err(format!(
                "{at}.admin_login: an administrator login and password are needed"
            ));
        }
        Ok(())
    }
}

fn default_resource_group() -> String {
    "ferry-lab".into()
}
fn default_location() -> String {
    "westeurope".into()
}
fn default_tier() -> Tier {
    Tier::GeneralPurpose
}
fn default_vcores() -> u32 {
    8
}
fn default_storage() -> u32 {
    256
}
fn default_policy() -> UpdatePolicy {
    UpdatePolicy::SQLServer2022
}
fn default_admin() -> String {
    "miadmin".into()
}
fn default_admin_password() -> String {
    super::DEFAULT_PASSWORD.into()
}
fn default_bandwidth() -> f64 {
    200.0
}
fn default_latency() -> f64 {
    10.0
}
