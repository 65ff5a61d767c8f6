-- Bearer tokens of the MCP agent gateway (zoho-bridge tokens create|list|revoke). Only
-- the SHA-256 of a token is kept: the token itself is shown once, when it is created.
-- A revoked token keeps its row (the audit names it) and its name stays taken.
CREATE TABLE agent_tokens (
    name        TEXT    NOT NULL PRIMARY KEY,
    token_hash  TEXT    NOT NULL UNIQUE,
    scopes      TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    revoked_ms  INTEGER
);
