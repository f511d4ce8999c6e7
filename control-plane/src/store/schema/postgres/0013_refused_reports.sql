-- Reports the control plane refused (a field over its bound, say): the agent stops
-- sending them, and operators see why with the host. The newest 100 per agent are kept.
CREATE TABLE refused_reports (
    agent_id   TEXT NOT NULL,
    report_id  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    refused_at BIGINT NOT NULL,
    PRIMARY KEY (agent_id, report_id)
);
CREATE INDEX refused_reports_by_time ON refused_reports (agent_id, refused_at);
