-- SQL Server's cumulative CPU time (every resource pool: the internal and default pools
-- always exist), the host's CPUs and memory, and the memory SQL Server has committed.
-- Needs VIEW SERVER STATE.
SELECT CAST(SUM(p.total_cpu_usage_ms) AS bigint) AS cpu_ms,
       MAX(i.cpu_count) AS cpu_count,
       CAST(MAX(i.physical_memory_kb) AS bigint) AS host_memory_kb,
       CAST(MAX(i.committed_kb) AS bigint) AS committed_kb
FROM sys.dm_resource_governor_resource_pools AS p
CROSS JOIN sys.dm_os_sys_info AS i
