-- Connection tests (`ferry target test`): one command per host, carrying its
-- parameters; what each instance's NET-* checks found.

-- A command's parameters, JSON, by kind ('' for kinds without any).
ALTER TABLE commands ADD COLUMN payload TEXT NOT NULL DEFAULT '';

CREATE TABLE connection_tests (
    command_id  TEXT PRIMARY KEY REFERENCES commands (id),
    agent_id    TEXT NOT NULL REFERENCES agents (id),
    -- The target's key (lower-cased resource id) and FQDN when the test was asked for.
    target_id   TEXT NOT NULL,
    fqdn        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    reported_at BIGINT
);
CREATE INDEX connection_tests_newest ON connection_tests (target_id, agent_id, created_at);

CREATE TABLE connection_instances (
    command_id    TEXT NOT NULL REFERENCES connection_tests (command_id),
    instance_name TEXT NOT NULL,
    -- Set when the agent has no instance of that name.
    error         TEXT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    verdict       TEXT NOT NULL,
    PRIMARY KEY (command_id, instance_name)
);

CREATE TABLE connection_results (
    command_id    TEXT NOT NULL,
    instance_name TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    check_id      TEXT NOT NULL,
    severity      TEXT NOT NULL,
    title         TEXT NOT NULL,
    remedy        TEXT NOT NULL,
    status        TEXT NOT NULL,
    unknown_cause TEXT NOT NULL,
    -- JSON: [{database, message, evidence: [[key, value], ...], objects: [...]}, ...]
    findings      TEXT NOT NULL,
    PRIMARY KEY (command_id, instance_name, seq),
    FOREIGN KEY (command_id, instance_name) REFERENCES connection_instances (command_id, instance_name)
);
