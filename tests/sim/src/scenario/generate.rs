//! A seeded generator of varied fleets: a realistic mix of versions and editions, and of
//! the features and blockers a migration assessment must find (simple recovery, no full
//! backup, several log files, FILESTREAM, In-Memory OLTP, TDE, CLR, linked servers over
//! non-SQL providers, cross-database views, distributed transactions, PowerShell job steps, xp_cmdshell, Always On off). The same seed
//! gives the same fleet.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

const VERSIONS: &[(&str, u32)] = &[
    ("2016 SP3", 6),
    ("2016 SP3 Azure Connect", 6),
    ("2017 CU31", 4),
    ("2017 CU31 Azure Connect", 6),
    ("2019 CU15", 8),
    ("2019 CU20", 20),
    ("2022 RTM", 6),
    ("2022 CU10", 10),
    ("2022 CU13", 24),
    ("2025 RTM", 10),
];

const DATABASE_NAMES: &[&str] = &[
    "Sales",
    "Billing",
    "Inventory",
    "HR",
    "Payroll",
    "CRM",
    "Orders",
    "Warehouse",
    "Reporting",
    "Audit",
    "Portal",
    "Catalog",
    "Shipping",
    "Finance",
    "Ledger",
];

pub fn generate(count: usize, seed: u64) -> Scenario {
    let mut rng = StdRng::seed_from_u64(seed);
    let instances = (0..count).map(|n| instance(&mut rng, n)).collect();
    Scenario {
        instances,
        managed_instances: Vec::new(),
        azure: Default::default(),
    }
}

fn pick_weighted<'a>(rng: &mut StdRng, items: &'a [(&'a str, u32)]) -> &'a str {
    let total: u32 = items.iter().map(|i| i.1).sum();
    let mut roll = rng.random_range(0..total);
    for (item, weight) in items {
        if roll < *weight {
            return item;
        }
        roll -= weight;
    }
    items[0].0
}

fn chance(rng: &mut StdRng, percent: u32) -> bool {
    rng.random_range(0..100) < percent
}

fn instance(rng: &mut StdRng, n: usize) -> InstanceSpec {
    let version = Build::parse(pick_weighted(rng, VERSIONS)).expect("known build");
    let edition = match rng.random_range(0..10) {
        0..=4 => Edition::Enterprise,
        5..=8 => Edition::Standard,
        _ => Edition::Developer,
    };
    let linux = version.major() >= 14 && chance(rng, 15);
    let host = HostSpec {
        platform: if linux { "Linux" } else { "Windows" }.into(),
        distribution: if linux {
            "Ubuntu 22.04"
        } else {
            "Windows Server 2019 Datacenter"
        }
        .into(),
        cpu_count: [2, 4, 8, 16, 32][rng.random_range(0..5)],
        memory_mb: [8192, 16384, 32768, 65536, 131072][rng.random_range(0..5)],
    };
    let mut trace_flags = Vec::new();
    if chance(rng, 30) {
        trace_flags.extend([1800, 9567]);
    }
    if chance(rng, 10) {
        trace_flags.push(1117); // not accepted on MI
    }
    let mut configurations = BTreeMap::new();
    if chance(rng, 10) {
        configurations.insert("xp_cmdshell".to_string(), 1);
    }
    let database_count = if chance(rng, 1) {
        105
    } else {
        rng.random_range(1..=6)
    };
    let mut databases: Vec<DatabaseSpec> = (0..database_count)
        .map(|d| database(rng, &version, d))
        .collect();
    let mut linked_servers = Vec::new();
    if chance(rng, 15) {
        linked_servers.push(LinkedServerSpec {
            name: "REPORTS_XLS".into(),
            provider: "Microsoft.ACE.OLEDB.12.0".into(),
            product: "Excel".into(),
            data_source: "C:\\data\\reports.xlsx".into(),
        });
    }
    // Some databases read another one on the instance; a few run distributed
    // transactions with a SQL Server partner.
    if databases.len() >= 2 && chance(rng, 15) {
        let other = databases[1].name.clone();
        databases[0].modules.push(format!(
            "CREATE VIEW dbo.RecentOrders AS SELECT o.Id FROM [{other}].dbo.Orders AS o"
        ));
    }
    if chance(rng, 4) {
        linked_servers.push(LinkedServerSpec {
            name: "HQ".into(),
            provider: "MSOLEDBSQL".into(),
            product: String::new(),
            data_source: "hq-sql.contoso.com".into(),
        });
        databases[0].modules.push(
            "CREATE PROCEDURE dbo.PostToHeadquarters AS
BEGIN DISTRIBUTED TRANSACTION;
INSERT INTO HQ.Central.dbo.Postings (Id) SELECT Id FROM dbo.Outbox;
COMMIT TRANSACTION;"
                .into(),
        );
    }
    let mut jobs = vec![JobSpec {
        name: "Nightly index maintenance".into(),
        enabled: true,
        steps: vec![JobStepSpec {
            name: "Rebuild".into(),
            subsystem: "TSQL".into(),
            command: "ALTER INDEX ALL ON dbo.Orders REBUILD".into(),
        }],
    }];
    if chance(rng, 20) {
        jobs.push(JobSpec {
            name: "Export files".into(),
            enabled: true,
            steps: vec![JobStepSpec {
                name: "Copy".into(),
                subsystem: "PowerShell".into(),
                command: "Copy-Item C:\\exports\\* \\\\share\\exports".into(),
            }],
        });
    }
    let hadr = chance(rng, 60);
    // Some hosts already run availability groups: an endpoint with Windows
    // authentication and RC4, which the link cannot use as it is. Generated endpoints
    // are DISABLED, so a fleet of thousands binds no ports.
    let setup = if hadr && chance(rng, 25) {
        vec!["CREATE ENDPOINT [Hadr_endpoint] STATE = DISABLED AS TCP (LISTENER_PORT = 5022)
              FOR DATABASE_MIRRORING (ROLE = ALL, AUTHENTICATION = WINDOWS NEGOTIATE, ENCRYPTION = REQUIRED ALGORITHM RC4)"
            .to_string()]
    } else {
        Vec::new()
    };
    InstanceSpec {
        name: format!("SQL{:04}", n + 1),
        version,
        edition,
        collation: if chance(rng, 10) {
            "Latin1_General_CI_AS"
        } else {
            "SQL_Latin1_General_CP1_CI_AS"
        }
        .into(),
        hadr,
        wsfc: None,
        clustered: false,
        host,
        trace_flags,
        force_encryption: false,
        port: 0,
        configurations,
        logins: default_logins(),
        databases,
        linked_servers,
        jobs,
        server_triggers: if chance(rng, 5) {
            vec!["audit_logons".into()]
        } else {
            Vec::new()
        },
        setup,
    }
}

fn database(rng: &mut StdRng, version: &Build, d: usize) -> DatabaseSpec {
    let base = DATABASE_NAMES[d % DATABASE_NAMES.len()];
    let name = if d < DATABASE_NAMES.len() {
        base.to_string()
    } else {
        format!("{base}{d}")
    };
    let recovery = if chance(rng, 20) {
        Recovery::Simple
    } else {
        Recovery::Full
    };
    let mut backups = Vec::new();
    if chance(rng, 85) {
        backups.push(BackupSpec {
            kind: BackupKind::D,
            hours_ago: rng.random_range(1.0..200.0),
            copy_only: chance(rng, 10),
        });
    }
    if recovery == Recovery::Full && !backups.is_empty() {
        backups.push(BackupSpec {
            kind: BackupKind::L,
            hours_ago: rng.random_range(0.1..1.0),
            copy_only: false,
        });
    }
    let max_level = version.default_compatibility_level();
    let workload = if chance(rng, 60) {
        WorkloadSpec {
            log_bytes_per_sec: rng.random_range(10_240.0..4_194_304.0),
            transactions_per_sec: rng.random_range(1.0..500.0),
            reads_per_sec: rng.random_range(10.0..2_000.0),
            writes_per_sec: rng.random_range(5.0..500.0),
            io_latency_ms: rng.random_range(0.5..15.0),
            sessions: rng.random_range(1..40),
        }
    } else {
        WorkloadSpec::default()
    };
    DatabaseSpec {
        name,
        data_mb: [256, 1024, 10240, 102400, 512000][rng.random_range(0..5)],
        log_mb: [64, 256, 1024, 8192][rng.random_range(0..4)],
        recovery,
        compatibility_level: Some(if chance(rng, 5) {
            100
        } else {
            max_level - 10 * rng.random_range(0..2) as u8
        }),
        collation: None,
        data_files: rng.random_range(1..=3),
        log_files: if chance(rng, 8) { 2 } else { 1 },
        filestream: chance(rng, 5),
        memory_optimized_files: if chance(rng, 5) { 1 } else { 0 },
        tde: chance(rng, 10),
        broker: chance(rng, 20),
        accelerated_recovery: version.major() >= 15 && chance(rng, 20),
        backups,
        assemblies: if chance(rng, 5) {
            vec!["RegexFunctions".into()]
        } else {
            Vec::new()
        },
        modules: Vec::new(),
        workload,
        tables: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_fleet_and_the_fleet_is_varied() {
        let a = generate(200, 7);
        let b = generate(200, 7);
        let names = |s: &Scenario| {
            s.instances
                .iter()
                .map(|i| (i.name.clone(), i.version.product_version()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&a), names(&b));
        let majors: std::collections::HashSet<u32> =
            a.instances.iter().map(|i| i.version.major()).collect();
        assert!(majors.len() >= 4, "{majors:?}");
        assert!(a
            .instances
            .iter()
            .flat_map(|i| &i.databases)
            .any(|d| d.recovery == Recovery::Simple));
        assert!(a
            .instances
            .iter()
            .flat_map(|i| &i.databases)
            .any(|d| d.log_files > 1));
        assert!(a.instances.iter().any(|i| !i.hadr));
    }
}
