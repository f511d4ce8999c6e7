-- User databases with what the checks need; sizes from sys.master_files (8-KB pages).
-- {adr} is the accelerated-recovery column on 2019 and later, NULL before.
-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-databases-transact-sql
SELECT
    d.name,
    d.database_id,
    d.state_desc,
    d.recovery_model_desc,
    CAST(d.compatibility_level AS int)  AS compatibility_level,
    d.collation_name,
    CAST(d.is_encrypted AS int)         AS is_encrypted,
    CAST(d.is_broker_enabled AS int)    AS is_broker_enabled,
    {adr}                               AS accelerated_recovery,
    CAST(COALESCE(SUM(CAST(mf.size AS bigint)), 0) * 8192 AS bigint) AS size_bytes,
    CAST(COALESCE(SUM(CASE WHEN mf.type = 1 THEN 1 ELSE 0 END), 0) AS int) AS log_files
FROM sys.databases AS d
LEFT JOIN sys.master_files AS mf ON mf.database_id = d.database_id
WHERE d.database_id > 4
GROUP BY d.name, d.database_id, d.state_desc, d.recovery_model_desc, d.compatibility_level,
         d.collation_name, d.is_encrypted, d.is_broker_enabled{adr_group}
ORDER BY d.name;
