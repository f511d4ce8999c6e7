-- A cutover's validation (cutover::validation): the newest row count of each side
-- ('sql': the agent's CountRows; 'mi': the control plane's own, over TDS) of a
-- migration's database, for the cutover request it was taken for. counted_at is
-- NULL while the count runs; tables is JSON [{"schema","name","rows"}].
CREATE TABLE row_counts (
    migration_id TEXT NOT NULL REFERENCES migrations (id),
    side         TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    command_id   TEXT NOT NULL DEFAULT '',
    asked_at     BIGINT NOT NULL,
    counted_at   BIGINT,
    lsn_before   TEXT NOT NULL DEFAULT '',
    lsn_after    TEXT NOT NULL DEFAULT '',
    tables       TEXT NOT NULL DEFAULT '[]',
    error        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (migration_id, side)
);
