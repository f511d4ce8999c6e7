-- Per user database: the newest full backup that is not COPY_ONLY, and how many
-- COPY_ONLY full backups there are.
-- https://learn.microsoft.com/sql/relational-databases/system-tables/backupset-transact-sql
SELECT
    d.name AS database_name,
    CONVERT(nvarchar(30), MAX(CASE WHEN b.type = 'D' AND b.is_copy_only = 0 THEN b.backup_finish_date END), 120) AS last_full,
    CAST(COALESCE(SUM(CASE WHEN b.type = 'D' AND b.is_copy_only = 1 THEN 1 ELSE 0 END), 0) AS int) AS copy_only_fulls
FROM sys.databases AS d
LEFT JOIN msdb.dbo.backupset AS b ON b.database_name = d.name
WHERE d.database_id > 4
GROUP BY d.name;
