-- Database encryption keys (TDE) of user databases and the certificate in master that
-- protects each. Needs VIEW SERVER STATE.
-- https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-database-encryption-keys-transact-sql
SELECT k.database_id, CAST(k.encryption_state AS int) AS encryption_state, k.encryptor_type, c.name AS certificate
FROM sys.dm_database_encryption_keys AS k
LEFT JOIN master.sys.certificates AS c ON c.thumbprint = k.encryptor_thumbprint
WHERE k.database_id > 4;
