-- Databases with state, recovery model, compatibility level, size and file counts.
-- sys.master_files.size is in 8-KB pages; type 0 = rows (data), 1 = log.
-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-databases-transact-sql
-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-master-files-transact-sql
SELECT
    d.name,
    d.database_id,
    d.state_desc,
    d.recovery_model_desc,
    CAST(d.compatibility_level AS int)                           AS compatibility_level,
    CAST(COALESCE(SUM(CAST(mf.size AS bigint)), 0) * 8192 AS bigint) AS size_bytes,
    CAST(COALESCE(SUM(CASE WHEN mf.type = 0 THEN 1 ELSE 0 END), 0) AS int) AS data_file_count,
    CAST(COALESCE(SUM(CASE WHEN mf.type = 1 THEN 1 ELSE 0 END), 0) AS int) AS log_file_count
FROM sys.databases AS d
LEFT JOIN sys.master_files AS mf ON mf.database_id = d.database_id
GROUP BY d.name, d.database_id, d.state_desc, d.recovery_model_desc, d.compatibility_level
ORDER BY d.database_id;
