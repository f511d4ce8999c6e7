-- The system views the lab models, as tables in the instance's in-memory SQLite.
-- Column names and types follow Microsoft's documentation for each view (the URL above
-- each table); types are written as T-SQL declares them, and the TDS layer sends them as
-- such. Each view carries the columns Ferry or Microsoft's documented queries read, not
-- every column of the real view. Columns starting with "$" are the lab's own bookkeeping
-- (the database a per-database view belongs to, a certificate's DER encoding): queries
-- never see them, the engine hides them behind a derived table.
-- Text columns get COLLATE NOCASE when loaded: SQL Server's default collations are
-- case-insensitive.

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-databases-transact-sql
CREATE TABLE "sys.databases" (
    name nvarchar(128),
    database_id int PRIMARY KEY,
    source_database_id int,
    owner_sid varbinary(85),
    create_date datetime,
    compatibility_level tinyint,
    collation_name nvarchar(128),
    user_access tinyint,
    user_access_desc nvarchar(60),
    is_read_only bit,
    is_auto_close_on bit,
    is_auto_shrink_on bit,
    state tinyint,
    state_desc nvarchar(60),
    is_in_standby bit,
    snapshot_isolation_state tinyint,
    is_read_committed_snapshot_on bit,
    recovery_model tinyint,
    recovery_model_desc nvarchar(60),
    page_verify_option tinyint,
    page_verify_option_desc nvarchar(60),
    is_trustworthy_on bit,
    is_db_chaining_on bit,
    is_broker_enabled bit,
    is_encrypted bit,
    is_published bit,
    is_subscribed bit,
    is_merge_published bit,
    is_distributor bit,
    is_cdc_enabled bit,
    is_query_store_on bit,
    log_reuse_wait tinyint,
    log_reuse_wait_desc nvarchar(60),
    containment tinyint,
    containment_desc nvarchar(60),
    target_recovery_time_in_seconds int,
    delayed_durability tinyint,
    delayed_durability_desc nvarchar(60),
    is_memory_optimized_elevate_to_snapshot_on bit,
    is_accelerated_database_recovery_on bit,
    is_ledger_on bit,
    replica_id uniqueidentifier,
    group_database_id uniqueidentifier
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-master-files-transact-sql
CREATE TABLE "sys.master_files" (
    database_id int,
    file_id int,
    file_guid uniqueidentifier,
    type tinyint,
    type_desc nvarchar(60),
    data_space_id int,
    name nvarchar(128),
    physical_name nvarchar(260),
    state tinyint,
    state_desc nvarchar(60),
    size int,
    max_size int,
    growth int,
    is_media_read_only bit,
    is_read_only bit,
    is_sparse bit,
    is_percent_growth bit,
    is_name_reserved bit,
    create_lsn numeric(25, 0),
    drop_lsn numeric(25, 0),
    PRIMARY KEY (database_id, file_id)
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-database-files-transact-sql
CREATE TABLE "sys.database_files" (
    "$database_id" int,
    file_id int,
    file_guid uniqueidentifier,
    type tinyint,
    type_desc nvarchar(60),
    data_space_id int,
    name nvarchar(128),
    physical_name nvarchar(260),
    state tinyint,
    state_desc nvarchar(60),
    size int,
    max_size int,
    growth int,
    is_media_read_only bit,
    is_read_only bit,
    is_sparse bit,
    is_percent_growth bit,
    PRIMARY KEY ("$database_id", file_id)
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-filegroups-transact-sql
-- (sys.data_spaces columns plus the filegroup's own)
CREATE TABLE "sys.filegroups" (
    "$database_id" int,
    name nvarchar(128),
    data_space_id int,
    type char(2),
    type_desc nvarchar(60),
    is_default bit,
    is_system bit,
    filegroup_guid uniqueidentifier,
    log_filegroup_id int,
    is_read_only bit,
    is_autogrow_all_files bit,
    PRIMARY KEY ("$database_id", data_space_id)
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-configurations-transact-sql
CREATE TABLE "sys.configurations" (
    configuration_id int PRIMARY KEY,
    name nvarchar(35),
    value sql_variant,
    minimum sql_variant,
    maximum sql_variant,
    value_in_use sql_variant,
    description nvarchar(255),
    is_dynamic bit,
    is_advanced bit
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-server-principals-transact-sql
CREATE TABLE "sys.server_principals" (
    name nvarchar(128),
    principal_id int PRIMARY KEY,
    sid varbinary(85),
    type char(1),
    type_desc nvarchar(60),
    is_disabled int,
    create_date datetime,
    modify_date datetime,
    default_database_name nvarchar(128),
    default_language_name nvarchar(128),
    credential_id int,
    owning_principal_id int,
    is_fixed_role bit,
    "$password" nvarchar(128)
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-server-role-members-transact-sql
CREATE TABLE "sys.server_role_members" (
    role_principal_id int,
    member_principal_id int,
    PRIMARY KEY (role_principal_id, member_principal_id)
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-server-permissions-transact-sql
CREATE TABLE "sys.server_permissions" (
    class tinyint,
    class_desc nvarchar(60),
    major_id int,
    minor_id int,
    grantee_principal_id int,
    grantor_principal_id int,
    type char(4),
    permission_name nvarchar(128),
    state char(1),
    state_desc nvarchar(60)
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-symmetric-keys-transact-sql
CREATE TABLE "sys.symmetric_keys" (
    "$database_id" int,
    name nvarchar(128),
    principal_id int,
    symmetric_key_id int,
    key_length int,
    key_algorithm char(2),
    algorithm_desc nvarchar(60),
    create_date datetime,
    modify_date datetime,
    key_guid uniqueidentifier,
    key_thumbprint varbinary(32),
    provider_type nvarchar(120),
    cryptographic_provider_guid uniqueidentifier,
    cryptographic_provider_algid sql_variant,
    PRIMARY KEY ("$database_id", symmetric_key_id)
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-certificates-transact-sql
CREATE TABLE "sys.certificates" (
    "$database_id" int,
    name nvarchar(128),
    certificate_id int,
    principal_id int,
    pvt_key_encryption_type char(2),
    pvt_key_encryption_type_desc nvarchar(60),
    is_active_for_begin_dialog bit,
    issuer_name nvarchar(442),
    cert_serial_number nvarchar(64),
    sid varbinary(85),
    string_sid nvarchar(128),
    subject nvarchar(4000),
    expiry_date datetime,
    start_date datetime,
    thumbprint varbinary(32),
    attested_by nvarchar(260),
    pvt_key_last_backup_date datetime,
    key_length int,
    "$der" varbinary(max),
    PRIMARY KEY ("$database_id", certificate_id)
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-endpoints-transact-sql
CREATE TABLE "sys.endpoints" (
    name nvarchar(128),
    endpoint_id int PRIMARY KEY,
    principal_id int,
    protocol tinyint,
    protocol_desc nvarchar(60),
    type tinyint,
    type_desc nvarchar(60),
    state tinyint,
    state_desc nvarchar(60),
    is_admin_endpoint bit
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-tcp-endpoints-transact-sql
CREATE TABLE "sys.tcp_endpoints" (
    name nvarchar(128),
    endpoint_id int PRIMARY KEY,
    principal_id int,
    protocol tinyint,
    protocol_desc nvarchar(60),
    type tinyint,
    type_desc nvarchar(60),
    state tinyint,
    state_desc nvarchar(60),
    is_admin_endpoint bit,
    port int,
    is_dynamic_port bit,
    ip_address nvarchar(45)
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-database-mirroring-endpoints-transact-sql
CREATE TABLE "sys.database_mirroring_endpoints" (
    name nvarchar(128),
    endpoint_id int PRIMARY KEY,
    principal_id int,
    protocol tinyint,
    protocol_desc nvarchar(60),
    type tinyint,
    type_desc nvarchar(60),
    state tinyint,
    state_desc nvarchar(60),
    is_admin_endpoint bit,
    role tinyint,
    role_desc nvarchar(60),
    is_encryption_enabled bit,
    connection_auth tinyint,
    connection_auth_desc nvarchar(60),
    certificate_id int,
    encryption_algorithm tinyint,
    encryption_algorithm_desc nvarchar(60)
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-availability-groups-transact-sql
CREATE TABLE "sys.availability_groups" (
    group_id uniqueidentifier PRIMARY KEY,
    name nvarchar(128),
    resource_id nvarchar(40),
    resource_group_id nvarchar(40),
    failure_condition_level int,
    health_check_timeout int,
    automated_backup_preference tinyint,
    automated_backup_preference_desc nvarchar(60),
    version smallint,
    basic_features bit,
    dtc_support bit,
    db_failover bit,
    is_distributed bit,
    cluster_type tinyint,
    cluster_type_desc nvarchar(60),
    required_synchronized_secondaries_to_commit int,
    sequence_number bigint,
    is_contained bit
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-availability-replicas-transact-sql
CREATE TABLE "sys.availability_replicas" (
    replica_id uniqueidentifier PRIMARY KEY,
    group_id uniqueidentifier,
    replica_metadata_id int,
    replica_server_name nvarchar(256),
    owner_sid varbinary(85),
    endpoint_url nvarchar(128),
    availability_mode tinyint,
    availability_mode_desc nvarchar(60),
    failover_mode tinyint,
    failover_mode_desc nvarchar(60),
    session_timeout int,
    primary_role_allow_connections tinyint,
    primary_role_allow_connections_desc nvarchar(60),
    secondary_role_allow_connections tinyint,
    secondary_role_allow_connections_desc nvarchar(60),
    create_date datetime,
    modify_date datetime,
    backup_priority int,
    read_only_routing_url nvarchar(256),
    seeding_mode tinyint,
    seeding_mode_desc nvarchar(60)
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-availability-databases-cluster-transact-sql
CREATE TABLE "sys.availability_databases_cluster" (
    group_id uniqueidentifier,
    group_database_id uniqueidentifier,
    database_name nvarchar(128),
    truncation_lsn numeric(25, 0)
);

-- https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-hadr-availability-replica-states-transact-sql
CREATE TABLE "sys.dm_hadr_availability_replica_states" (
    replica_id uniqueidentifier PRIMARY KEY,
    group_id uniqueidentifier,
    is_local bit,
    role tinyint,
    role_desc nvarchar(60),
    operational_state tinyint,
    operational_state_desc nvarchar(60),
    connected_state tinyint,
    connected_state_desc nvarchar(60),
    recovery_health tinyint,
    recovery_health_desc nvarchar(60),
    synchronization_health tinyint,
    synchronization_health_desc nvarchar(60),
    last_connect_error_number int,
    last_connect_error_description nvarchar(1024),
    last_connect_error_timestamp datetime,
    write_lease_remaining_ticks bigint,
    current_configuration_commit_start_time_utc datetime
);

-- https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-hadr-database-replica-states-transact-sql
CREATE TABLE "sys.dm_hadr_database_replica_states" (
    database_id int,
    group_id uniqueidentifier,
    replica_id uniqueidentifier,
    group_database_id uniqueidentifier,
    is_local bit,
    is_primary_replica bit,
    synchronization_state tinyint,
    synchronization_state_desc nvarchar(60),
    is_commit_participant bit,
    synchronization_health tinyint,
    synchronization_health_desc nvarchar(60),
    database_state tinyint,
    database_state_desc nvarchar(60),
    is_suspended bit,
    suspend_reason tinyint,
    suspend_reason_desc nvarchar(60),
    truncation_lsn numeric(25, 0),
    recovery_lsn numeric(25, 0),
    last_sent_lsn numeric(25, 0),
    last_sent_time datetime,
    last_received_lsn numeric(25, 0),
    last_received_time datetime,
    last_hardened_lsn numeric(25, 0),
    last_hardened_time datetime,
    last_redone_lsn numeric(25, 0),
    last_redone_time datetime,
    log_send_queue_size bigint,
    log_send_rate bigint,
    redo_queue_size bigint,
    redo_rate bigint,
    filestream_send_rate bigint,
    end_of_log_lsn numeric(25, 0),
    last_commit_lsn numeric(25, 0),
    last_commit_time datetime,
    low_water_mark_for_ghosts bigint,
    secondary_lag_seconds bigint
);

-- https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-hadr-automatic-seeding-transact-sql
CREATE TABLE "sys.dm_hadr_automatic_seeding" (
    start_time datetime,
    completion_time datetime,
    ag_id uniqueidentifier,
    ag_db_id uniqueidentifier,
    ag_remote_replica_id uniqueidentifier,
    operation_id uniqueidentifier,
    is_source bit,
    current_state nvarchar(60),
    performed_seeding bit,
    failure_state int,
    failure_state_desc nvarchar(60),
    error_code int,
    number_of_attempts int
);

-- https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-hadr-physical-seeding-stats-transact-sql
CREATE TABLE "sys.dm_hadr_physical_seeding_stats" (
    local_physical_seeding_id uniqueidentifier,
    remote_physical_seeding_id uniqueidentifier,
    local_database_id int,
    local_database_name nvarchar(128),
    remote_machine_name nvarchar(128),
    role_desc nvarchar(60),
    internal_state_desc nvarchar(60),
    transfer_rate_bytes_per_second bigint,
    transferred_size_bytes bigint,
    database_size_bytes bigint,
    start_time_utc datetime,
    end_time_utc datetime,
    estimate_time_complete_utc datetime,
    total_disk_io_wait_time_ms bigint,
    total_network_wait_time_ms bigint,
    failure_code int,
    failure_message nvarchar(max),
    failure_time_utc datetime,
    is_compression_enabled bit
);

-- https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-database-encryption-keys-transact-sql
CREATE TABLE "sys.dm_database_encryption_keys" (
    database_id int PRIMARY KEY,
    encryption_state int,
    encryption_state_desc nvarchar(32),
    create_date datetime,
    regenerate_date datetime,
    modify_date datetime,
    set_date datetime,
    opened_date datetime,
    key_algorithm nvarchar(32),
    key_length int,
    encryptor_thumbprint varbinary(20),
    encryptor_type nvarchar(32),
    percent_complete real,
    encryption_scan_state int,
    encryption_scan_state_desc nvarchar(32)
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-assemblies-transact-sql
CREATE TABLE "sys.assemblies" (
    "$database_id" int,
    name nvarchar(128),
    principal_id int,
    assembly_id int,
    clr_name nvarchar(4000),
    permission_set tinyint,
    permission_set_desc nvarchar(60),
    is_visible bit,
    create_date datetime,
    modify_date datetime,
    is_user_defined bit,
    PRIMARY KEY ("$database_id", assembly_id)
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-servers-transact-sql
CREATE TABLE "sys.servers" (
    server_id int PRIMARY KEY,
    name nvarchar(128),
    product nvarchar(128),
    provider nvarchar(128),
    data_source nvarchar(4000),
    location nvarchar(4000),
    provider_string nvarchar(4000),
    catalog nvarchar(128),
    connect_timeout int,
    query_timeout int,
    is_linked bit,
    is_remote_login_enabled bit,
    is_rpc_out_enabled bit,
    is_data_access_enabled bit,
    is_distributor bit,
    is_publisher bit,
    is_subscriber bit,
    modify_date datetime
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-server-triggers-transact-sql
CREATE TABLE "sys.server_triggers" (
    name nvarchar(128),
    object_id int PRIMARY KEY,
    parent_class tinyint,
    parent_class_desc nvarchar(60),
    parent_id int,
    type char(2),
    type_desc nvarchar(60),
    create_date datetime,
    modify_date datetime,
    is_ms_shipped bit,
    is_disabled bit
);

-- https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-os-sys-info-transact-sql
CREATE TABLE "sys.dm_os_sys_info" (
    cpu_ticks bigint,
    ms_ticks bigint,
    cpu_count int,
    hyperthread_ratio int,
    physical_memory_kb bigint,
    virtual_memory_kb bigint,
    committed_kb int,
    committed_target_kb int,
    visible_target_kb int,
    max_workers_count int,
    scheduler_count int,
    scheduler_total_count int,
    sqlserver_start_time_ms_ticks bigint,
    sqlserver_start_time datetime,
    affinity_type int,
    affinity_type_desc nvarchar(60),
    virtual_machine_type int,
    virtual_machine_type_desc nvarchar(60),
    socket_count int,
    cores_per_socket int,
    numa_node_count int
);

-- https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-resource-governor-resource-pools-transact-sql
-- The internal and default pools exist whether or not Resource Governor is enabled;
-- total_cpu_usage_ms grows with the workloads (engine/workload.rs).
CREATE TABLE "sys.dm_resource_governor_resource_pools" (
    pool_id int PRIMARY KEY,
    name nvarchar(128),
    statistics_start_time datetime,
    total_cpu_usage_ms bigint,
    cache_memory_kb bigint,
    compile_memory_kb bigint,
    used_memory_kb bigint,
    max_memory_kb bigint,
    target_memory_kb bigint
);

-- https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-os-host-info-transact-sql
CREATE TABLE "sys.dm_os_host_info" (
    host_platform nvarchar(256),
    host_distribution nvarchar(256),
    host_release nvarchar(256),
    host_service_pack_level nvarchar(256),
    host_sku int,
    os_language_version int,
    host_architecture nvarchar(256)
);

-- https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-exec-sessions-transact-sql
CREATE TABLE "sys.dm_exec_sessions" (
    session_id smallint PRIMARY KEY,
    login_time datetime,
    host_name nvarchar(128),
    program_name nvarchar(128),
    client_interface_name nvarchar(32),
    login_name nvarchar(128),
    status nvarchar(30),
    cpu_time int,
    memory_usage int,
    total_elapsed_time int,
    last_request_start_time datetime,
    last_request_end_time datetime,
    reads bigint,
    writes bigint,
    logical_reads bigint,
    is_user_process bit,
    transaction_isolation_level smallint,
    row_count bigint,
    database_id smallint,
    open_transaction_count int
);

-- https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-os-performance-counters-transact-sql
CREATE TABLE "sys.dm_os_performance_counters" (
    object_name nchar(128),
    counter_name nchar(128),
    instance_name nchar(128),
    cntr_value bigint,
    cntr_type int
);
CREATE INDEX "$counters_by_name" ON "sys.dm_os_performance_counters" (counter_name, instance_name);

-- https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-io-virtual-file-stats-transact-sql
-- (a table-valued function in SQL Server; here a table the engine reads for the call)
CREATE TABLE "sys.dm_io_virtual_file_stats" (
    database_name nvarchar(128),
    database_id smallint,
    file_id smallint,
    sample_ms bigint,
    num_of_reads bigint,
    num_of_bytes_read bigint,
    io_stall_read_ms bigint,
    num_of_writes bigint,
    num_of_bytes_written bigint,
    io_stall_write_ms bigint,
    io_stall bigint,
    size_on_disk_bytes bigint,
    PRIMARY KEY (database_id, file_id)
);

-- https://learn.microsoft.com/sql/relational-databases/system-tables/backupset-transact-sql
CREATE TABLE "msdb.dbo.backupset" (
    backup_set_id int PRIMARY KEY,
    backup_set_uuid uniqueidentifier,
    media_set_id int,
    first_family_number tinyint,
    name nvarchar(128),
    description nvarchar(255),
    user_name nvarchar(128),
    software_major_version tinyint,
    backup_start_date datetime,
    backup_finish_date datetime,
    type char(1),
    first_lsn numeric(25, 0),
    last_lsn numeric(25, 0),
    checkpoint_lsn numeric(25, 0),
    database_backup_lsn numeric(25, 0),
    database_creation_date datetime,
    compatibility_level tinyint,
    database_version int,
    backup_size numeric(20, 0),
    database_name nvarchar(128),
    server_name nvarchar(128),
    machine_name nvarchar(128),
    recovery_model nvarchar(60),
    is_copy_only bit,
    is_snapshot bit,
    compressed_backup_size numeric(20, 0),
    database_guid uniqueidentifier
);

-- https://learn.microsoft.com/sql/relational-databases/system-tables/dbo-sysjobs-transact-sql
CREATE TABLE "msdb.dbo.sysjobs" (
    job_id uniqueidentifier PRIMARY KEY,
    originating_server_id int,
    name nvarchar(128),
    enabled tinyint,
    description nvarchar(512),
    start_step_id int,
    category_id int,
    owner_sid varbinary(85),
    date_created datetime,
    date_modified datetime,
    version_number int
);

-- https://learn.microsoft.com/sql/relational-databases/system-tables/dbo-sysjobsteps-transact-sql
CREATE TABLE "msdb.dbo.sysjobsteps" (
    job_id uniqueidentifier,
    step_id int,
    step_name nvarchar(128),
    subsystem nvarchar(40),
    command nvarchar(max),
    flags int,
    database_name nvarchar(128),
    server nvarchar(128),
    on_success_action tinyint,
    on_fail_action tinyint,
    retry_attempts int,
    PRIMARY KEY (job_id, step_id)
);

-- https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-db-log-stats-transact-sql
-- (a table-valued function; NULL or DEFAULT means the current database)
CREATE TABLE "sys.dm_db_log_stats" (
    database_id int PRIMARY KEY,
    recovery_model nvarchar(60),
    log_min_lsn nvarchar(24),
    log_end_lsn nvarchar(24),
    current_vlf_sequence_number bigint,
    current_vlf_size_mb float,
    total_vlf_count bigint,
    total_log_size_mb float,
    active_vlf_count bigint,
    active_log_size_mb float,
    log_truncation_holdup_reason nvarchar(60),
    log_backup_time datetime,
    log_backup_lsn nvarchar(24),
    log_since_last_log_backup_mb float,
    log_checkpoint_lsn nvarchar(24),
    log_since_last_checkpoint_mb float,
    log_recovery_lsn nvarchar(24),
    log_recovery_size_mb float,
    recovery_vlf_count bigint
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-tables-transact-sql
-- (the user tables of the current database; the columns inherited from sys.objects
-- first)
CREATE TABLE "sys.tables" (
    "$database_id" int,
    name nvarchar(128),
    object_id int,
    principal_id int,
    schema_id int,
    parent_object_id int,
    type char(2),
    type_desc nvarchar(60),
    create_date datetime,
    modify_date datetime,
    is_ms_shipped bit,
    is_published bit,
    is_schema_published bit,
    lob_data_space_id int,
    filestream_data_space_id int,
    max_column_id_used int,
    lock_on_bulk_load bit,
    uses_ansi_nulls bit,
    is_replicated bit,
    has_replication_filter bit,
    is_merge_published bit,
    is_sync_tran_subscribed bit,
    has_unchecked_assembly_data bit,
    text_in_row_limit int,
    large_value_types_out_of_row bit,
    is_tracked_by_cdc bit,
    lock_escalation tinyint,
    lock_escalation_desc nvarchar(60),
    is_filetable bit,
    is_memory_optimized bit,
    durability tinyint,
    durability_desc nvarchar(60),
    temporal_type tinyint,
    temporal_type_desc nvarchar(60),
    history_table_id int,
    is_remote_data_archive_enabled bit,
    is_external bit
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-objects-transact-sql
-- (the user tables and modules of the current database)
CREATE TABLE "sys.objects" (
    "$database_id" int,
    name nvarchar(128),
    object_id int,
    principal_id int,
    schema_id int,
    parent_object_id int,
    type char(2),
    type_desc nvarchar(60),
    create_date datetime,
    modify_date datetime,
    is_ms_shipped bit,
    is_published bit,
    is_schema_published bit,
    PRIMARY KEY ("$database_id", object_id)
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-sql-modules-transact-sql
-- (definition is NULL for a module created WITH ENCRYPTION)
CREATE TABLE "sys.sql_modules" (
    "$database_id" int,
    object_id int,
    definition nvarchar(max),
    uses_ansi_nulls bit,
    uses_quoted_identifier bit,
    is_schema_bound bit,
    uses_database_collation bit,
    is_recompiled bit,
    null_on_null_input bit,
    execute_as_principal_id int,
    uses_native_compilation bit,
    inline_type bit,
    is_inlineable bit,
    PRIMARY KEY ("$database_id", object_id)
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-sql-expression-dependencies-transact-sql
-- (the lab records the cross-database and cross-server references: see
-- scenario::modules)
CREATE TABLE "sys.sql_expression_dependencies" (
    "$database_id" int,
    referencing_id int,
    referencing_minor_id int,
    referencing_class tinyint,
    referencing_class_desc nvarchar(60),
    is_schema_bound_reference bit,
    referenced_class tinyint,
    referenced_class_desc nvarchar(60),
    referenced_server_name nvarchar(128),
    referenced_database_name nvarchar(128),
    referenced_schema_name nvarchar(128),
    referenced_entity_name nvarchar(128),
    referenced_id int,
    referenced_minor_id int,
    is_caller_dependent bit,
    is_ambiguous bit
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/schemas-catalog-views-sys-schemas
CREATE TABLE "sys.schemas" (
    "$database_id" int,
    name nvarchar(128),
    schema_id int,
    principal_id int
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-partitions-transact-sql
CREATE TABLE "sys.partitions" (
    "$database_id" int,
    partition_id bigint,
    object_id int,
    index_id int,
    partition_number int,
    hobt_id bigint,
    rows bigint,
    filestream_filegroup_id smallint,
    data_compression tinyint,
    data_compression_desc nvarchar(60)
);

-- https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-db-log-space-usage-transact-sql
-- (about the current database)
CREATE TABLE "sys.dm_db_log_space_usage" (
    "$database_id" int PRIMARY KEY,
    database_id smallint,
    total_log_size_in_bytes bigint,
    used_log_space_in_bytes bigint,
    used_log_space_in_percent real,
    log_space_in_bytes_since_last_backup bigint
);

-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-database-recovery-status-transact-sql
CREATE TABLE "sys.database_recovery_status" (
    database_id int PRIMARY KEY,
    database_guid uniqueidentifier,
    family_guid uniqueidentifier,
    last_log_backup_lsn numeric(25, 0),
    recovery_fork_guid uniqueidentifier,
    first_recovery_fork_guid uniqueidentifier,
    fork_point_lsn numeric(25, 0)
);

-- The lab's model of each database's transaction log (engine/log.rs), in bytes: all
-- the log ever written (the end LSN derives from it), what was written since the
-- instance started (the cumulative counters), the active part the log cannot yet
-- truncate, and what the last log backup and the backup chain left.
CREATE TABLE "$log" (
    database_id int PRIMARY KEY,
    written real NOT NULL,
    flushed real NOT NULL DEFAULT 0,
    transactions real NOT NULL DEFAULT 0,
    flushes real NOT NULL DEFAULT 0,
    reads real NOT NULL DEFAULT 0,
    writes real NOT NULL DEFAULT 0,
    read_stall_ms real NOT NULL DEFAULT 0,
    write_stall_ms real NOT NULL DEFAULT 0,
    log_stall_ms real NOT NULL DEFAULT 0,
    active real NOT NULL DEFAULT 0,
    since_log_backup real NOT NULL DEFAULT 0,
    -- A full backup has started the log chain (FULL and BULK_LOGGED only).
    chain int NOT NULL DEFAULT 0,
    log_backup_written real,
    log_backup_time datetime,
    last_full_lsn numeric(25, 0),
    -- When the workload last committed a transaction.
    last_commit_time datetime
);

-- Each database's workload (scenario/workload.rs), and the sessions it holds open.
CREATE TABLE "$workload" (
    database_id int PRIMARY KEY,
    log_bytes_per_sec real NOT NULL,
    transactions_per_sec real NOT NULL,
    reads_per_sec real NOT NULL,
    writes_per_sec real NOT NULL,
    io_latency_ms real NOT NULL,
    sessions int NOT NULL,
    -- Transactions not yet written as rows (a part of one carries over).
    pending_rows real NOT NULL DEFAULT 0
);

-- When each database's log reached which position (timeline.rs); `at` a Julian day.
CREATE TABLE "$log_timeline" (
    database_id int NOT NULL,
    at real NOT NULL,
    written real NOT NULL
);
CREATE INDEX "$log_timeline_by_time" ON "$log_timeline" (database_id, at);

-- User tables (user_tables.rs): the SQLite table holding each, and the next key its
-- generated rows take.
CREATE TABLE "$user_tables" (
    sqlite_table text PRIMARY KEY,
    database_id int NOT NULL,
    schema_name nvarchar(128) NOT NULL,
    name nvarchar(128) NOT NULL,
    object_id int NOT NULL,
    next_key int NOT NULL,
    row_bytes int NOT NULL,
    -- INSERT ... SELECT of generated rows with keys ?1 to ?2.
    insert_rows text NOT NULL,
    -- The newest log position whose row changes the journal no longer holds (row_log.rs).
    journal_from real NOT NULL DEFAULT 0
);

-- The application sessions each workload holds open (rows of sys.dm_exec_sessions).
CREATE TABLE "$workload_sessions" (
    session_id int PRIMARY KEY,
    database_id int NOT NULL
);

-- The lab's own state: trace flags on (global), and issuers added with
-- sp_certificate_add_issuer. Not views; reached through DBCC and the procedure.
CREATE TABLE "$trace_flags" (flag int PRIMARY KEY);
-- What an availability group holds that no catalog view shows: GRANT CREATE ANY
-- DATABASE, which automatic seeding into this replica needs.
CREATE TABLE "$availability_group" (
    group_id uniqueidentifier PRIMARY KEY,
    create_any_database bit NOT NULL DEFAULT 0
);
CREATE TABLE "$certificate_issuers" (certificate_id int, dns_name nvarchar(256));
