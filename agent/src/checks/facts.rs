//! What the checks look at: one value per query the agent ran, each either what SQL
//! Server answered or why it could not be read (a denied permission, a timeout). A
//! check that needs a fact that is missing reports Unknown with that cause.

/// Why a fact could not be read, in words an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing(pub String);

pub type Fact<T> = Result<T, Missing>;

/// Everything the checks of one instance read, from one connection.
#[derive(Debug, Clone)]
pub struct Facts {
    pub server: Fact<Server>,
    /// User databases (database_id > 4).
    pub databases: Fact<Vec<Database>>,
    /// Filegroups of every online user database.
    pub filegroups: Fact<Vec<Filegroup>>,
    /// Full-backup history per user database (msdb.dbo.backupset).
    pub backups: Fact<Vec<BackupHistory>>,
    /// Global trace flags that are on (DBCC TRACESTATUS(-1)).
    pub trace_flags: Fact<Vec<i32>>,
    /// A database master key exists in master.
    pub master_key: Fact<bool>,
    pub mirroring_endpoints: Fact<Vec<MirroringEndpoint>>,
    /// sp_configure options: (name, value_in_use).
    pub configurations: Fact<Vec<(String, i64)>>,
    pub logins: Fact<Vec<Login>>,
    pub linked_servers: Fact<Vec<LinkedServer>>,
    /// User-defined CLR assemblies of every online user database.
    pub assemblies: Fact<Vec<Assembly>>,
    /// Three- and four-part names in the modules of every online user database
    /// (sys.sql_expression_dependencies).
    pub references: Fact<Vec<Reference>>,
    /// Modules of every online user database whose text mentions DISTRIBUTED, with
    /// their text (sys.sql_modules; modules created WITH ENCRYPTION have none).
    pub distributed_modules: Fact<Vec<Module>>,
    pub job_steps: Fact<Vec<JobStep>>,
    /// Enabled server-level triggers by name.
    pub server_triggers: Fact<Vec<String>>,
    /// Databases with a database encryption key (TDE), with its encryptor.
    pub encryption_keys: Fact<Vec<EncryptionKey>>,
    /// Databases in availability groups.
    pub availability_databases: Fact<Vec<AvailabilityDatabase>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Server {
    pub product_version: String,
    /// Major, minor, build, revision.
    pub build: [u32; 4],
    pub product_update_level: String,
    pub edition: String,
    pub engine_edition: i32,
    pub hadr_enabled: bool,
    pub clustered: bool,
    pub collation: String,
    /// `sys.sp_certificate_add_issuer` exists (the servicing update is installed).
    pub issuer_procedure: bool,
}

impl Server {
    pub fn major(&self) -> u32 {
        self.build[0]
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Database {
    pub name: String,
    pub database_id: i32,
    pub state: String,
    pub recovery_model: String,
    pub compatibility_level: i32,
    pub collation: String,
    pub encrypted: bool,
    pub broker_enabled: bool,
    /// None before SQL Server 2019, which has no accelerated database recovery.
    pub accelerated_recovery: Option<bool>,
    pub size_bytes: i64,
    pub log_files: i32,
}

impl Database {
    pub fn online(&self) -> bool {
        self.state == "ONLINE"
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filegroup {
    pub database: String,
    pub name: String,
    /// `FD` FILESTREAM, `FX` memory-optimised data, `FG` rows.
    pub kind: String,
    /// Files (containers) in the filegroup.
    pub files: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupHistory {
    pub database: String,
    /// Finish time of the newest full backup that is not COPY_ONLY.
    pub last_full: Option<String>,
    pub copy_only_fulls: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MirroringEndpoint {
    pub name: String,
    pub state: String,
    pub port: i32,
    pub connection_auth: String,
    pub encryption_algorithm: String,
    pub encryption_enabled: bool,
    /// LISTENER_IP; None for ALL.
    pub ip_address: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Login {
    pub name: String,
    /// `U` Windows login, `G` Windows group, `S` SQL login ...
    pub kind: String,
    pub disabled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkedServer {
    pub name: String,
    pub provider: String,
    pub product: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assembly {
    pub database: String,
    pub name: String,
    pub permission_set: String,
}

/// A module's name in its database, shown as `view dbo.RecentOrders`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleName {
    pub database: String,
    pub schema: String,
    pub name: String,
    /// sys.objects type_desc: SQL_STORED_PROCEDURE, VIEW ...
    pub kind: String,
}

impl std::fmt::Display for ModuleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind.as_str() {
            "SQL_STORED_PROCEDURE" => "procedure",
            "VIEW" => "view",
            "SQL_TRIGGER" => "trigger",
            k if k.contains("FUNCTION") => "function",
            _ => "module",
        };
        write!(f, "{kind} {}.{}", self.schema, self.name)
    }
}

/// A name a module uses in another database (`database.schema.object`) or on another
/// server (`server.database.schema.object`), as SQL Server recorded it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reference {
    pub module: ModuleName,
    pub server: Option<String>,
    pub database: Option<String>,
    pub schema: Option<String>,
    pub entity: String,
}

impl Reference {
    /// The name as written: `HQ.Central.dbo.Postings`, `Inventory..Stock`.
    pub fn target(&self) -> String {
        [
            self.server.as_deref(),
            self.database.as_deref(),
            Some(self.schema.as_deref().unwrap_or_default()),
            Some(self.entity.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(".")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Module {
    pub module: ModuleName,
    pub definition: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobStep {
    pub job: String,
    pub step: String,
    pub subsystem: String,
    pub command: String,
    pub job_enabled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionKey {
    pub database_id: i32,
    pub state: String,
    /// The certificate in master that protects the key, when one does.
    pub certificate: Option<String>,
    pub encryptor_type: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AvailabilityDatabase {
    pub group: String,
    pub distributed: bool,
    pub database: String,
}

/// Reads a fact or says why it could not be read (for `?` in checks).
pub fn got<T>(fact: &Fact<T>) -> Result<&T, Missing> {
    fact.as_ref().map_err(Clone::clone)
}

impl Facts {
    /// Facts where every query failed for the same reason (the instance was unreachable).
    pub fn all_missing(why: &str) -> Facts {
        fn m<T>(why: &str) -> Fact<T> {
            Err(Missing(why.to_string()))
        }
        Facts {
            server: m(why),
            databases: m(why),
            filegroups: m(why),
            backups: m(why),
            trace_flags: m(why),
            master_key: m(why),
            mirroring_endpoints: m(why),
            configurations: m(why),
            logins: m(why),
            linked_servers: m(why),
            assemblies: m(why),
            references: m(why),
            distributed_modules: m(why),
            job_steps: m(why),
            server_triggers: m(why),
            encryption_keys: m(why),
            availability_databases: m(why),
        }
    }
}
