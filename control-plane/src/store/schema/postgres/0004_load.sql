-- Load windows agents report per instance (sizing::LoadWindow), kept for
-- sizing.history_days, for the SKU recommendation.

CREATE TABLE load_windows (
    agent_id       TEXT NOT NULL REFERENCES agents (id),
    instance_name  TEXT NOT NULL,
    start_at       BIGINT NOT NULL,
    end_at         BIGINT NOT NULL,
    samples        BIGINT NOT NULL,
    cpu_count      BIGINT NOT NULL,
    host_memory_kb BIGINT NOT NULL,
    storage_bytes  BIGINT NOT NULL,
    -- JSON: sizing::WindowStats (mean and peak per metric).
    stats          TEXT NOT NULL,
    PRIMARY KEY (agent_id, instance_name, start_at)
);
CREATE INDEX load_windows_by_end ON load_windows (end_at);
