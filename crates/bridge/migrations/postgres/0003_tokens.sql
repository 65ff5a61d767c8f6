-- Access tokens shared by the processes of one connection, sealed by the zoho client
-- (AES-256-GCM under a key only the connection's secrets give); keyed by a hash.
CREATE TABLE tokens (
    key         TEXT   PRIMARY KEY,
    sealed      TEXT   NOT NULL,
    expires_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL
);
