-- Processes sharing an organisation's Zoho rate budget (see bridge::budget_share): one
-- row per process (holder) and API, saying what it may count of each window (JSON),
-- until when it is alive, and until when its row still counts after that.
CREATE TABLE budget_holders (
    organization  TEXT    NOT NULL,
    api           TEXT    NOT NULL,
    holder        TEXT    NOT NULL,
    connection    TEXT    NOT NULL,
    weight        BIGINT  NOT NULL CHECK (weight > 0),
    windows       TEXT    NOT NULL,
    admitted      BIGINT  NOT NULL,
    throttled     BIGINT  NOT NULL,
    expires_ms    BIGINT  NOT NULL,
    keep_until_ms BIGINT  NOT NULL,
    updated_ms    BIGINT  NOT NULL,
    PRIMARY KEY (organization, api, holder)
);
