-- The SQL Server side of each link, as the agents last read it from the DMVs
-- (migration::sql_side). One row per database: a newer reading replaces it; an older
-- one arriving late (outbox redelivery) changes nothing.

CREATE TABLE link_status (
    agent_id      TEXT NOT NULL REFERENCES agents (id),
    instance_name TEXT NOT NULL,
    database_name TEXT NOT NULL,
    link_name     TEXT NOT NULL,
    observed_at   BIGINT NOT NULL,
    -- JSON: migration::sql_side::SqlLinkStatus.
    status        TEXT NOT NULL,
    PRIMARY KEY (agent_id, instance_name, database_name)
);
