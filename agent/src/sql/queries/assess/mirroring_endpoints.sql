-- The database mirroring endpoint, if any, with its port, listener address (NULL for
-- ALL), authentication and encryption.
-- https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-database-mirroring-endpoints-transact-sql
SELECT e.name, e.state_desc, t.port, t.ip_address, e.connection_auth_desc, e.encryption_algorithm_desc,
       CAST(e.is_encryption_enabled AS int) AS is_encryption_enabled
FROM sys.database_mirroring_endpoints AS e
JOIN sys.tcp_endpoints AS t ON t.endpoint_id = e.endpoint_id;
