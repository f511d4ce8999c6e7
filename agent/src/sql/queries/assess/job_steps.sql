-- SQL Server Agent job steps: subsystem and command text.
-- https://learn.microsoft.com/sql/relational-databases/system-tables/dbo-sysjobsteps-transact-sql
SELECT j.name AS job_name, s.step_name, s.subsystem, s.command, CAST(j.enabled AS int) AS enabled
FROM msdb.dbo.sysjobs AS j
JOIN msdb.dbo.sysjobsteps AS s ON s.job_id = j.job_id;
