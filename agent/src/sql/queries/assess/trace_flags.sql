-- Global trace flags that are on.
-- https://learn.microsoft.com/sql/t-sql/database-console-commands/dbcc-tracestatus-transact-sql
DBCC TRACESTATUS(-1) WITH NO_INFOMSGS;
