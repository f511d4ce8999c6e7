-- Target managed instances (azure), as ARM described them when an operator added or
-- refreshed them. Keyed by the lower-cased resource id: ARM ids compare without case.

CREATE TABLE targets (
    id                 TEXT PRIMARY KEY,
    resource_id        TEXT NOT NULL,
    location           TEXT NOT NULL,
    tier               TEXT NOT NULL,
    family             TEXT NOT NULL,
    vcores             BIGINT NOT NULL,
    storage_gb         BIGINT NOT NULL,
    fqdn               TEXT NOT NULL,
    collation_name     TEXT NOT NULL,
    update_policy      TEXT NOT NULL,
    state              TEXT NOT NULL,
    provisioning_state TEXT NOT NULL,
    added_by           TEXT NOT NULL,
    added_at           BIGINT NOT NULL,
    refreshed_at       BIGINT NOT NULL
);
