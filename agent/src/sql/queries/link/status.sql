-- The SQL Server side of each MI link on this instance (mi-link.md §3.1-§3.3): every
-- database of a distributed availability group whose local copy is primary, with the
-- MI's copy as the primary sees it, the running seeding's progress and the newest
-- seeding attempt's outcome, whether every member commits synchronously (1), and the
-- user sessions connected to the database (the application, Ferry's own left out).
SELECT ag.name AS link_name, d.name AS database_name,
       rs.connected_state_desc, rs.last_connect_error_number, rs.last_connect_error_description,
       r.synchronization_state_desc, r.synchronization_health_desc,
       CAST(l.end_of_log_lsn AS varchar(30)) AS end_of_log_lsn,
       CAST(l.last_commit_lsn AS varchar(30)) AS last_commit_lsn,
       CAST(l.last_hardened_lsn AS varchar(30)) AS local_hardened_lsn,
       CAST(r.last_hardened_lsn AS varchar(30)) AS last_hardened_lsn,
       r.log_send_queue_size, r.log_send_rate, r.redo_queue_size, r.secondary_lag_seconds,
       ps.transferred_size_bytes, ps.database_size_bytes, ps.transfer_rate_bytes_per_second,
       sa.current_state AS seeding_state, sa.error_code AS seeding_error, sa.number_of_attempts,
       (SELECT CAST(MIN(CAST(ar.availability_mode AS int)) AS int) FROM sys.availability_replicas AS ar
        WHERE ar.group_id = ag.group_id) AS commit_mode,
       (SELECT CAST(COUNT(*) AS int) FROM sys.dm_exec_sessions AS es
        WHERE es.is_user_process = 1 AND es.database_id = l.database_id
          AND es.session_id <> @@SPID AND es.program_name <> N'ferry-agent') AS user_sessions
FROM sys.availability_groups AS ag
JOIN sys.dm_hadr_database_replica_states AS l
    ON l.group_id = ag.group_id AND l.is_local = 1 AND l.is_primary_replica = 1
JOIN sys.databases AS d ON d.database_id = l.database_id
LEFT JOIN sys.dm_hadr_database_replica_states AS r
    ON r.group_id = ag.group_id AND r.is_local = 0 AND r.database_id = l.database_id
LEFT JOIN sys.dm_hadr_availability_replica_states AS rs
    ON rs.group_id = ag.group_id AND rs.is_local = 0
LEFT JOIN sys.dm_hadr_physical_seeding_stats AS ps
    ON ps.local_database_id = l.database_id AND ps.role_desc = 'Source'
LEFT JOIN sys.dm_hadr_automatic_seeding AS sa
    ON sa.ag_id = ag.group_id AND sa.is_source = 1
    AND sa.start_time = (SELECT MAX(s2.start_time) FROM sys.dm_hadr_automatic_seeding AS s2
                         WHERE s2.ag_id = ag.group_id AND s2.is_source = 1)
WHERE ag.is_distributed = 1
ORDER BY ag.name, d.name;
