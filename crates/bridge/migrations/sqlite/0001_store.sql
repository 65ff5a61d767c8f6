-- The store's tables on SQLite: time is epoch ms (INTEGER), JSON is TEXT.

-- The inbox: every change a trigger saw, once (dedup_key absorbs repeated deliveries).
CREATE TABLE events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    source       TEXT    NOT NULL,
    connection   TEXT    NOT NULL,
    system       TEXT    NOT NULL,
    module       TEXT    NOT NULL,
    record_id    TEXT    NOT NULL,
    modified_ms  INTEGER,
    payload      TEXT    NOT NULL,
    dedup_key    TEXT    NOT NULL UNIQUE CHECK (length(dedup_key) > 0),
    received_ms  INTEGER NOT NULL
);

-- The queue. AUTOINCREMENT keeps ids increasing forever, which per-key ordering relies on.
CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        INTEGER NOT NULL REFERENCES events (id),
    flow            TEXT    NOT NULL CHECK (length(flow) > 0),
    key             TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'done', 'skipped', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    run_after_ms    INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until_ms  INTEGER,
    last_error      TEXT,
    outcome         TEXT,
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL
);
CREATE INDEX jobs_unfinished ON jobs (id) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_unfinished_key ON jobs (key, id) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_status ON jobs (status, id);
CREATE INDEX jobs_event ON jobs (event_id);

-- ID links: one CRM record <-> one Books entity, per connection.
CREATE TABLE links (
    connection    TEXT    NOT NULL,
    crm_module    TEXT    NOT NULL,
    crm_id        TEXT    NOT NULL,
    books_entity  TEXT    NOT NULL,
    books_id      TEXT    NOT NULL,
    books_hash    TEXT,
    crm_hash      TEXT,
    updated_ms    INTEGER NOT NULL,
    PRIMARY KEY (connection, crm_module, crm_id),
    UNIQUE (connection, books_entity, books_id)
);

-- Poller bookmarks.
CREATE TABLE cursors (
    connection   TEXT    NOT NULL,
    stream       TEXT    NOT NULL,
    position_ms  INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    PRIMARY KEY (connection, stream)
);

-- Every write to Zoho, kept forever (no foreign keys: it outlives purged jobs).
CREATE TABLE audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms       INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    job_id      INTEGER,
    event_id    INTEGER,
    connection  TEXT    NOT NULL,
    system      TEXT    NOT NULL,
    module      TEXT    NOT NULL,
    record_id   TEXT,
    action      TEXT    NOT NULL,
    request     TEXT    NOT NULL,
    response    TEXT    NOT NULL,
    ok          BOOLEAN NOT NULL
);
CREATE INDEX audit_record ON audit (system, module, record_id, id);

-- Actions waiting for a person's yes or no.
CREATE TABLE approvals (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    requested_by  TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    payload       TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by    TEXT,
    created_ms    INTEGER NOT NULL,
    decided_ms    INTEGER
);
CREATE INDEX approvals_status ON approvals (status, id);
