-- Links by relation: a named, directed pair (product_item, deal_invoice, ...). A record can
-- take part in many relations; within one relation each side is linked at most once.
CREATE TABLE links_by_relation (
    connection  TEXT    NOT NULL,
    relation    TEXT    NOT NULL CHECK (length(relation) > 0),
    crm_id      TEXT    NOT NULL,
    books_id    TEXT    NOT NULL,
    crm_hash    TEXT,
    books_hash  TEXT,
    updated_ms  BIGINT  NOT NULL,
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
ALTER TABLE links RENAME CONSTRAINT links_by_relation_pkey TO links_pkey;

-- What each flow last saw of a record's trigger fields (for transitions).
CREATE TABLE snapshots (
    connection  TEXT    NOT NULL,
    flow        TEXT    NOT NULL,
    system      TEXT    NOT NULL,
    module      TEXT    NOT NULL,
    record_id   TEXT    NOT NULL,
    fields      JSONB   NOT NULL,
    updated_ms  BIGINT  NOT NULL,
    PRIMARY KEY (connection, flow, system, module, record_id)
);

-- Jobs carry the record they are about as a typed payload ({"system", "module", "id"}).
-- Unfinished and dead jobs (which can be replayed) written before get it from their key
-- (system:module:id) or from the old payload's record_id.
UPDATE jobs SET payload = jsonb_build_object(
        'system', split_part(key, ':', 1),
        'module', split_part(key, ':', 2),
        'id', COALESCE(payload ->> 'record_id',
                       substr(key, length(split_part(key, ':', 1)) + length(split_part(key, ':', 2)) + 3)))
WHERE status IN ('queued', 'running', 'dead')
  AND NOT (jsonb_typeof(payload) = 'object' AND payload ? 'id')
  AND key LIKE '%_:%_:%_';
