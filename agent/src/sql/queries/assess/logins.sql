-- Windows logins (U) and groups (G).
SELECT name, type, CAST(is_disabled AS int) AS is_disabled
FROM sys.server_principals
WHERE type IN ('U', 'G');
