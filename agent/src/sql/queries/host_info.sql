-- Host operating system (SQL Server 2017 and later).
-- https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-os-host-info-transact-sql
SELECT host_platform, host_distribution FROM sys.dm_os_host_info;
