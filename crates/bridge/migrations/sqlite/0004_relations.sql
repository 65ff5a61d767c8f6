-- Links by relation: a named, directed pair (product_item, deal_invoice, ...). A record can
-- take part in many relations; within one relation each side is linked at most once.
CREATE TABLE links_by_relation (
    connection  TEXT    NOT NULL,
    relation    TEXT    NOT NULL CHECK (length(relation) > 0),
    crm_id      TEXT    NOT NULL,
    books_id    TEXT    NOT NULL,
    crm_hash    TEXT,
    books_hash  TEXT,
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (connection, relation, crm_id),
    UNIQUE (connection, relation, books_id)
);
-- The links made before relations existed: catalog_sync's CRM Products <-> Books items.
-- Any other pair (none was ever written) keeps a name built from its two sides.
INSERT INTO links_by_relation (connection, relation, crm_id, books_id, crm_hash, books_hash, updated_ms)
SELECT connection,
       CASE WHEN crm_module = 'Products' AND books_entity = 'items' THEN 'product_item'
            ELSE lower(crm_module) || '_' || books_entity END,
       crm_id, books_id, crm_hash, books_hash, updated_ms
FROM links;
DROP TABLE links;
ALTER TABLE links_by_relation RENAME TO links;

-- What each flow last saw of a record's trigger fields (for transitions).
CREATE TABLE snapshots (
    connection  TEXT    NOT NULL,
    flow        TEXT    NOT NULL,
    system      TEXT    NOT NULL,
    module      TEXT    NOT NULL,
    record_id   TEXT    NOT NULL,
    fields      TEXT    NOT NULL,
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (connection, flow, system, module, record_id)
);

-- Jobs carry the record they are about as a typed payload ({"system", "module", "id"}).
-- Unfinished and dead jobs (which can be replayed) written before get it from their key
-- (system:module:id) or from the old payload's record_id.
UPDATE jobs SET payload = json_object(
        'system', substr(key, 1, instr(key, ':') - 1),
        'module', substr(substr(key, instr(key, ':') + 1), 1, instr(substr(key, instr(key, ':') + 1), ':') - 1),
        'id', COALESCE(json_extract(payload, '$.record_id'),
                       substr(substr(key, instr(key, ':') + 1), instr(substr(key, instr(key, ':') + 1), ':') + 1)))
WHERE status IN ('queued', 'running', 'dead')
  AND json_type(payload, '$.id') IS NULL
  AND key LIKE '%_:%_:%_';
