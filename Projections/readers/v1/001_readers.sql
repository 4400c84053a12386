-- The read API's registered readers (docs/read-api.md, "Readers"). Not a projection: registrations cannot be
-- rebuilt from the log, so this schema is never dropped by `mekong projection` commands.
CREATE SCHEMA IF NOT EXISTS readers;

-- Deny by default: a reader's key gives it, beyond published data, the values of the listed indicators for the
-- listed areas and every area below them, confidential ones included. '*' means every indicator or every area.
-- The key is stored only as SHA-256.
CREATE TABLE readers.readers (
    id                text        PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    api_key_sha256    text        NOT NULL UNIQUE,
    indicators        text[]      NOT NULL CHECK (cardinality(indicators) > 0),
    areas             text[]      NOT NULL CHECK (cardinality(areas) > 0),
    requests_per_hour integer     NOT NULL CHECK (requests_per_hour > 0),
    requests_per_day  integer     NOT NULL CHECK (requests_per_day > 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    revoked_at        timestamptz
);
