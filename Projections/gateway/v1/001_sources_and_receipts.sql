-- The ingestion gateway's own state (docs/gateway.md). Not a projection: registrations and evidence cannot be
-- rebuilt from the log, so this schema is never dropped by `mekong projection` commands.
CREATE SCHEMA IF NOT EXISTS gateway;

-- Registered source systems. Deny by default: a source publishes only the event types, reporting units and areas
-- listed here, under its own CloudEvents `source` URI, with its API key (stored only as SHA-256).
CREATE TABLE gateway.sources (
    id                text        PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    uri               text        NOT NULL UNIQUE,
    api_key_sha256    text        NOT NULL UNIQUE,
    event_types       text[]      NOT NULL CHECK (cardinality(event_types) > 0),
    units             text[]      NOT NULL,
    areas             text[]      NOT NULL,
    events_per_second integer     NOT NULL CHECK (events_per_second > 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    revoked_at        timestamptz
);

-- Ed25519 public keys per source. A rotated key is retired (no longer accepted) but kept, so that old signatures
-- stay verifiable.
CREATE TABLE gateway.source_keys (
    source     text        NOT NULL REFERENCES gateway.sources,
    key_id     text        NOT NULL,
    public_key text        NOT NULL,
    added_at   timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz,
    PRIMARY KEY (source, key_id)
);

-- One row per accepted request unit (an event, a plain report, a survey batch), keyed by what makes a retry the
-- same request: the event id, or the source's submission id or batch id. 'pending' while Kafka has not confirmed
-- the write; 'written' with the signed receipt once it has.
CREATE TABLE gateway.receipts (
    idempotency_key text        PRIMARY KEY,
    event_id        text        NOT NULL UNIQUE,
    source          text        NOT NULL REFERENCES gateway.sources,
    -- What a retry must match: the event hash, or the request hash for plain bodies.
    content_hash    text        NOT NULL,
    state           text        NOT NULL CHECK (state IN ('pending', 'written')),
    event_hash      text,
    recorded_time   timestamptz,
    receipt         jsonb,
    -- For plain bodies: the body and the source's detached signature over its SHA-256.
    evidence        jsonb,
    reserved_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'written') = (receipt IS NOT NULL))
);
CREATE INDEX receipts_reconciliation ON gateway.receipts (source, recorded_time, event_id) WHERE state = 'written';
