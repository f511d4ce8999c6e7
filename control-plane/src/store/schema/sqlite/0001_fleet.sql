-- Fleet registry: enrollment tokens, agents, their inventory, reports, commands, audit.
-- Timestamps are Unix milliseconds (BIGINT); booleans are 0/1.

CREATE TABLE enrollment_tokens (
    id            TEXT PRIMARY KEY,
    secret_hash   TEXT NOT NULL,
    description   TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT,
    used_by_agent TEXT
);

CREATE TABLE agents (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    enrolled_at     BIGINT NOT NULL,
    enrolled_with   TEXT NOT NULL,
    agent_version   TEXT NOT NULL,
    hostname        TEXT NOT NULL DEFAULT '',
    os              TEXT NOT NULL DEFAULT '',
    last_seen_at    BIGINT,
    cert_serial     TEXT NOT NULL,
    cert_not_after  BIGINT NOT NULL,
    revoked_at      BIGINT,
    revoked_reason  TEXT NOT NULL DEFAULT ''
);
-- A name belongs to one live agent; a revoked host may enroll again under its name.
CREATE UNIQUE INDEX agents_live_name ON agents (name) WHERE revoked_at IS NULL;

CREATE TABLE instances (
    agent_id             TEXT NOT NULL REFERENCES agents (id),
    name                 TEXT NOT NULL,
    address              TEXT NOT NULL,
    reachable            BIGINT NOT NULL,
    error                TEXT NOT NULL,
    server_name          TEXT NOT NULL,
    product_version      TEXT NOT NULL,
    major_version        BIGINT NOT NULL,
    product_level        TEXT NOT NULL,
    product_update_level TEXT NOT NULL,
    edition              TEXT NOT NULL,
    engine_edition       BIGINT NOT NULL,
    collation_name       TEXT NOT NULL,
    hadr_enabled         BIGINT NOT NULL,
    host_platform        TEXT NOT NULL,
    updated_at           BIGINT NOT NULL,
    PRIMARY KEY (agent_id, name)
);

CREATE TABLE databases (
    agent_id            TEXT NOT NULL,
    instance_name       TEXT NOT NULL,
    name                TEXT NOT NULL,
    database_id         BIGINT NOT NULL,
    state               TEXT NOT NULL,
    recovery_model      TEXT NOT NULL,
    compatibility_level BIGINT NOT NULL,
    size_bytes          BIGINT NOT NULL,
    data_file_count     BIGINT NOT NULL,
    log_file_count      BIGINT NOT NULL,
    PRIMARY KEY (agent_id, instance_name, name),
    FOREIGN KEY (agent_id, instance_name) REFERENCES instances (agent_id, name) ON DELETE CASCADE
);

-- Every report an agent delivered, once: the primary key is what makes outbox
-- redelivery idempotent.
CREATE TABLE reports (
    agent_id    TEXT NOT NULL REFERENCES agents (id),
    report_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    produced_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (agent_id, report_id)
);

CREATE TABLE commands (
    id            TEXT PRIMARY KEY,
    agent_id      TEXT NOT NULL REFERENCES agents (id),
    kind          TEXT NOT NULL,
    state         TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    error_code    TEXT NOT NULL DEFAULT '',
    error_message TEXT NOT NULL DEFAULT '',
    -- W3C trace context of the request that created it (JSON object), handed to the
    -- agent so the command's work joins the operator's trace.
    trace_context TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX commands_open ON commands (agent_id, state);

CREATE TABLE audit_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    detail  TEXT NOT NULL
);
