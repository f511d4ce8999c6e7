-- Enabled user server-level triggers.
SELECT name FROM sys.server_triggers WHERE is_disabled = 0 AND is_ms_shipped = 0;
