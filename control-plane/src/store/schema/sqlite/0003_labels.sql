-- Operator-set host labels (fleet::labels), matched by label selectors.

CREATE TABLE host_labels (
    agent_id    TEXT NOT NULL REFERENCES agents (id),
    label_key   TEXT NOT NULL,
    label_value TEXT NOT NULL,
    PRIMARY KEY (agent_id, label_key)
);
CREATE INDEX host_labels_by_pair ON host_labels (label_key, label_value);
