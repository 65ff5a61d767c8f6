-- The agent gateway's calls per token in the last minute, so that `[mcp] calls_per_minute`
-- holds for a token across every process on the store (serve and each `zoho-bridge mcp`),
-- not per process. Rows older than the window are deleted as calls are admitted.
CREATE TABLE agent_calls (
    token_name  TEXT    NOT NULL,
    at_ms       BIGINT  NOT NULL
);
CREATE INDEX agent_calls_token ON agent_calls (token_name, at_ms);
