-- The instance's build, edition, Always On, clustering, collation, and whether the
-- servicing update the MI link needs is installed (its procedure exists).
-- https://learn.microsoft.com/sql/t-sql/functions/serverproperty-transact-sql
SELECT
    CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128))     AS product_version,
    CAST(SERVERPROPERTY('ProductUpdateLevel') AS nvarchar(128)) AS product_update_level,
    CAST(SERVERPROPERTY('Edition') AS nvarchar(128))            AS edition,
    CAST(SERVERPROPERTY('EngineEdition') AS int)                AS engine_edition,
    CAST(SERVERPROPERTY('IsHadrEnabled') AS int)                AS hadr_enabled,
    CAST(SERVERPROPERTY('IsClustered') AS int)                  AS clustered,
    CAST(SERVERPROPERTY('Collation') AS nvarchar(128))          AS collation,
    CAST(CASE WHEN OBJECT_ID(N'sys.sp_certificate_add_issuer') IS NULL THEN 0 ELSE 1 END AS int) AS issuer_procedure;
