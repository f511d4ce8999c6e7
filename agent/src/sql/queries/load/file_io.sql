-- Cumulative I/O per file type (0 data, 1 log) since the instance started, and the
-- files' allocated size. Needs VIEW SERVER STATE.
SELECT CAST(f.type AS int) AS file_type,
       CAST(SUM(s.num_of_reads + s.num_of_writes) AS bigint) AS ios,
       CAST(SUM(s.num_of_bytes_read + s.num_of_bytes_written) AS bigint) AS bytes,
       CAST(SUM(s.io_stall_read_ms + s.io_stall_write_ms) AS bigint) AS stall_ms,
       CAST(SUM(s.size_on_disk_bytes) AS bigint) AS size_bytes
FROM sys.dm_io_virtual_file_stats(NULL, NULL) AS s
JOIN sys.master_files AS f ON f.database_id = s.database_id AND f.file_id = s.file_id
WHERE f.type IN (0, 1)
GROUP BY CAST(f.type AS int)
