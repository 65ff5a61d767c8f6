-- The store's tables on PostgreSQL: time is epoch ms (BIGINT), JSON is JSONB.

-- The inbox: every change a trigger saw, once (dedup_key absorbs repeated deliveries).
CREATE TABLE events (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source       TEXT   NOT NULL,
    connection   TEXT   NOT NULL,
    system       TEXT   NOT NULL,
    module       TEXT   NOT NULL,
    record_id    TEXT   NOT NULL,
    modified_ms  BIGINT,
    payload      JSONB  NOT NULL,
    dedup_key    TEXT   NOT NULL UNIQUE CHECK (length(dedup_key) > 0),
    received_ms  BIGINT NOT NULL
);

-- The queue. Identity ids only increase, which per-key ordering relies on.
CREATE TABLE jobs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        BIGINT  NOT NULL REFERENCES events (id),
    flow            TEXT    NOT NULL CHECK (length(flow) > 0),
    key             TEXT    NOT NULL,
    payload         JSONB   NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'done', 'skipped', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    run_after_ms    BIGINT  NOT NULL,
    lease_owner     TEXT,
    lease_until_ms  BIGINT,
    last_error      TEXT,
    outcome         TEXT,
    created_ms      BIGINT  NOT NULL,
    updated_ms      BIGINT  NOT NULL
);
CREATE INDEX jobs_unfinished ON jobs (id) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_unfinished_key ON jobs (key, id) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_status ON jobs (status, id);
CREATE INDEX jobs_event ON jobs (event_id);

-- ID links: one CRM record <-> one Books entity, per connection.
CREATE TABLE links (
    connection    TEXT   NOT NULL,
    crm_module    TEXT   NOT NULL,
    crm_id        TEXT   NOT NULL,
    books_entity  TEXT   NOT NULL,
    books_id      TEXT   NOT NULL,
    books_hash    TEXT,
    crm_hash      TEXT,
    updated_ms    BIGINT NOT NULL,
    PRIMARY KEY (connection, crm_module, crm_id),
    UNIQUE (connection, books_entity, books_id)
);

-- Poller bookmarks.
CREATE TABLE cursors (
    connection   TEXT   NOT NULL,
    stream       TEXT   NOT NULL,
    position_ms  BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL,
    PRIMARY KEY (connection, stream)
);

-- Every write to Zoho, kept forever (no foreign keys: it outlives purged jobs).
CREATE TABLE audit (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms       BIGINT  NOT NULL,
    actor       TEXT    NOT NULL,
    job_id      BIGINT,
    event_id    BIGINT,
    connection  TEXT    NOT NULL,
    system      TEXT    NOT NULL,
    module      TEXT    NOT NULL,
    record_id   TEXT,
    action      TEXT    NOT NULL,
    request     JSONB   NOT NULL,
    response    JSONB   NOT NULL,
    ok          BOOLEAN NOT NULL
);
CREATE INDEX audit_record ON audit (system, module, record_id, id);

-- Actions waiting for a person's yes or no.
CREATE TABLE approvals (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    requested_by  TEXT   NOT NULL,
    action        TEXT   NOT NULL,
    payload       JSONB  NOT NULL,
    status        TEXT   NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by    TEXT,
    created_ms    BIGINT NOT NULL,
    decided_ms    BIGINT
);
CREATE INDEX approvals_status ON approvals (status, id);
