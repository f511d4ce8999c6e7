-- Instance identity and version. SERVERPROPERTY returns sql_variant; cast each value.
-- https://learn.microsoft.com/sql/t-sql/functions/serverproperty-transact-sql
SELECT
    CAST(SERVERPROPERTY('ServerName') AS nvarchar(256))         AS server_name,
    CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128))     AS product_version,
    CAST(SERVERPROPERTY('ProductMajorVersion') AS int)          AS major_version,
    CAST(SERVERPROPERTY('ProductLevel') AS nvarchar(128))       AS product_level,
    CAST(SERVERPROPERTY('ProductUpdateLevel') AS nvarchar(128)) AS product_update_level,
    CAST(SERVERPROPERTY('Edition') AS nvarchar(128))            AS edition,
    CAST(SERVERPROPERTY('EngineEdition') AS int)                AS engine_edition,
    CAST(SERVERPROPERTY('Collation') AS nvarchar(128))          AS collation,
    CAST(SERVERPROPERTY('IsHadrEnabled') AS int)                AS hadr_enabled;
