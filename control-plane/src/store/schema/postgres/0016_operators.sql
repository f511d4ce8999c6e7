-- Operators and the certificate each holds: every operator call checks the presented
-- certificate is the current one (or the one before a renewal, until the new one is
-- used) and that the operator is not revoked. Rows are kept after revocation, for the
-- audit trail; re-issuing a name replaces its certificate.
CREATE TABLE operators (
    name                 TEXT PRIMARY KEY,
    role                 TEXT NOT NULL,
    cert_serial          TEXT NOT NULL,
    previous_cert_serial TEXT,
    cert_not_after       BIGINT NOT NULL,
    issued_at            BIGINT NOT NULL,
    revoked_at           BIGINT,
    revoked_reason       TEXT NOT NULL DEFAULT ''
);
