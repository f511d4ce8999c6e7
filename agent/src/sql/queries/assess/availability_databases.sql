-- Databases in availability groups, and whether the group is distributed.
SELECT ag.name AS group_name, CAST(ag.is_distributed AS int) AS is_distributed, adc.database_name
FROM sys.availability_databases_cluster AS adc
JOIN sys.availability_groups AS ag ON ag.group_id = adc.group_id;
