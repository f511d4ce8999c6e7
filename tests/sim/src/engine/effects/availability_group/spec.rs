//! What CREATE and ALTER AVAILABILITY GROUP say, and the codes and descriptions the
//! catalog views show for each option (sys.availability_groups and
//! sys.availability_replicas document both columns).

/// CREATE AVAILABILITY GROUP: a plain group of replicas, or a distributed group whose
/// members are availability groups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupSpec {
    pub name: String,
    pub options: GroupOptions,
    pub databases: Vec<String>,
    /// REPLICA ON for a plain group; AVAILABILITY GROUP ON for a distributed one.
    pub replicas: Vec<ReplicaSpec>,
}

/// The WITH (...) options of a group. None leaves the default (CREATE) or the current
/// value (ALTER ... SET).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupOptions {
    pub cluster_type: Option<ClusterType>,
    pub distributed: bool,
    pub basic: bool,
    pub contained: bool,
    pub db_failover: Option<bool>,
    pub dtc_support: Option<bool>,
    pub automated_backup_preference: Option<BackupPreference>,
    pub failure_condition_level: Option<i64>,
    pub health_check_timeout: Option<i64>,
    pub required_synchronized_secondaries_to_commit: Option<i64>,
    /// SET (ROLE = SECONDARY), on a distributed group only.
    pub role_secondary: bool,
}

/// One replica (or one member group of a distributed group) and its WITH (...) options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplicaSpec {
    pub name: String,
    /// ENDPOINT_URL, or LISTENER_URL for a member of a distributed group.
    pub endpoint_url: Option<String>,
    pub availability_mode: Option<AvailabilityMode>,
    pub failover_mode: Option<FailoverMode>,
    pub seeding_mode: Option<SeedingMode>,
    pub session_timeout: Option<i64>,
    pub backup_priority: Option<i64>,
    pub secondary_connections: Option<SecondaryConnections>,
    pub primary_connections: Option<PrimaryConnections>,
    pub read_only_routing_url: Option<String>,
}

/// ALTER AVAILABILITY GROUP name ...
#[derive(Debug, Clone, PartialEq)]
pub enum GroupChange {
    Set(GroupOptions),
    AddDatabases(Vec<String>),
    RemoveDatabase(String),
    AddReplicas(Vec<ReplicaSpec>),
    ModifyReplica(ReplicaSpec),
    RemoveReplica(String),
    /// MODIFY AVAILABILITY GROUP ON 'member' WITH (...) [, ...], distributed only.
    ModifyMembers(Vec<ReplicaSpec>),
    /// GRANT (true) or DENY (false) CREATE ANY DATABASE.
    CreateAnyDatabase(bool),
    Failover,
    ForceFailover,
    Offline,
}

/// Values that the views show as a code and a description.
pub trait Coded {
    fn code(self) -> (i64, &'static str);
}

macro_rules! coded {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $code:literal, $desc:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }

        impl Coded for $name {
            fn code(self) -> (i64, &'static str) {
                match self { $($name::$variant => ($code, $desc)),+ }
            }
        }

        impl $name {
            /// The variant a statement names with `word`.
            pub fn named(word: &str) -> Option<$name> {
                [$($name::$variant),+].into_iter().find(|v| v.keyword() == word)
            }

            fn keyword(self) -> &'static str {
                match self { $($name::$variant => $desc),+ }
            }
        }
    };
}

coded!(
    /// sys.availability_groups.cluster_type; the description is lower case.
    ClusterType {
        Wsfc = 0, "wsfc";
        External = 1, "external";
        None = 2, "none";
    }
);

coded!(AvailabilityMode {
    Asynchronous = 0, "ASYNCHRONOUS_COMMIT";
    Synchronous = 1, "SYNCHRONOUS_COMMIT";
    ConfigurationOnly = 4, "CONFIGURATION_ONLY";
});

coded!(FailoverMode {
    Automatic = 0, "AUTOMATIC";
    Manual = 1, "MANUAL";
    External = 2, "EXTERNAL";
});

coded!(SeedingMode {
    Automatic = 0, "AUTOMATIC";
    Manual = 1, "MANUAL";
});

coded!(SecondaryConnections {
    No = 0, "NO";
    ReadOnly = 1, "READ_ONLY";
    All = 2, "ALL";
});

coded!(PrimaryConnections {
    All = 2, "ALL";
    ReadWrite = 3, "READ_WRITE";
});

coded!(BackupPreference {
    Primary = 0, "PRIMARY";
    SecondaryOnly = 1, "SECONDARY_ONLY";
    Secondary = 2, "SECONDARY";
    None = 3, "NONE";
});

impl ClusterType {
    pub fn keyword_named(word: &str) -> Option<ClusterType> {
        ClusterType::named(&word.to_ascii_lowercase())
    }
}

impl BackupPreference {
    /// automated_backup_preference_desc is lower case in sys.availability_groups.
    pub fn description(self) -> String {
        self.code().1.to_ascii_lowercase()
    }
}
