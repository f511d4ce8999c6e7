-- The database master key in master (mi-link.md §1.2 item 3).
SELECT CAST(COUNT(*) AS int) AS keys FROM master.sys.symmetric_keys WHERE symmetric_key_id = 101;
