-- The audit trail: every event of every event topic, once, in log order, hash-chained per partition.
CREATE SCHEMA IF NOT EXISTS audit_v2;

CREATE TABLE audit_v2.events (
    topic               text        NOT NULL,
    partition           integer     NOT NULL,
    kafka_offset        bigint      NOT NULL,
    -- CloudEvents attributes; NULL only when the record is not a valid event (then `problem` says why).
    event_id            text,
    event_type          text,
    source              text,
    subject             text,
    event_time          timestamptz,
    -- The gateway's `recordedtime` extension when present, else the Kafka record timestamp.
    recorded_time       timestamptz NOT NULL,
    -- RFC 8785 canonical JSON of the event; for an invalid record, its bytes as they were in the log.
    event_bytes         bytea       NOT NULL,
    -- SHA-256 of event_bytes.
    event_hash          bytea       NOT NULL CHECK (length(event_hash) = 32),
    -- chain_hash = SHA-256(previous_chain_hash || int64 big-endian kafka_offset || event_hash);
    -- the first row of a partition links to 32 zero bytes.
    previous_chain_hash bytea       NOT NULL CHECK (length(previous_chain_hash) = 32),
    chain_hash          bytea       NOT NULL CHECK (length(chain_hash) = 32),
    problem             text,
    PRIMARY KEY (topic, partition, kafka_offset),
    CHECK ((problem IS NULL) = (event_id IS NOT NULL))
);

CREATE INDEX events_event_id ON audit_v2.events (event_id);
CREATE INDEX events_source_time ON audit_v2.events (source, event_time);

-- The newest link of each partition's chain, so that deleting the last rows is detected too.
CREATE TABLE audit_v2.chain_heads (
    topic        text    NOT NULL,
    partition    integer NOT NULL,
    last_offset  bigint  NOT NULL,
    chain_hash   bytea   NOT NULL CHECK (length(chain_hash) = 32),
    PRIMARY KEY (topic, partition)
);

-- New in v2: find events by type over time (e.g. every report submission of a quarter) without a full scan.
CREATE INDEX events_type_time ON audit_v2.events (event_type, event_time);
