-- The directory: what customer matching compares, per record seen on either side (the
-- normalised email, company name and billing country), so a match is an index look-up
-- and not a scan of Zoho. Filled by the flows for every record they read and by backfill.
CREATE TABLE directory (
    connection  TEXT    NOT NULL,
    system      TEXT    NOT NULL CHECK (system IN ('crm', 'books')),
    module      TEXT    NOT NULL,
    record_id   TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    email_key   TEXT,
    name_key    TEXT,
    country_key TEXT,
    native_id   TEXT,
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (connection, system, module, record_id)
);
CREATE INDEX directory_email ON directory (connection, system, module, email_key) WHERE email_key IS NOT NULL;
CREATE INDEX directory_name ON directory (connection, system, module, name_key) WHERE name_key IS NOT NULL;
CREATE INDEX directory_native ON directory (connection, system, module, native_id) WHERE native_id IS NOT NULL;

-- The review list: records a flow would not guess about (two candidates at one matching
-- step, a record deleted or merged on the other side). Nothing is written for the record
-- while its review is open; a person links, creates or ignores.
CREATE TABLE reviews (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    connection  TEXT    NOT NULL,
    flow        TEXT    NOT NULL,
    system      TEXT    NOT NULL,
    module      TEXT    NOT NULL,
    record_id   TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    candidates  TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('open', 'linked', 'created', 'ignored')),
    chosen_id   TEXT,
    decided_by  TEXT,
    note        TEXT,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    decided_ms  INTEGER
);
-- At most one open review per record and flow.
CREATE UNIQUE INDEX reviews_open ON reviews (connection, flow, system, module, record_id) WHERE status = 'open';
CREATE INDEX reviews_record ON reviews (connection, flow, system, module, record_id, id);
CREATE INDEX reviews_status ON reviews (status, id);
