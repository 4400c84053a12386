-- The audit trail, version 3: every record of every event topic, once, in log order, hash-chained per partition.
-- The same tables as v2; what changes is the chain, which now covers every stored column that does not follow
-- from event_bytes (see docs/audit-trail.md, "The chain").
CREATE SCHEMA IF NOT EXISTS audit_v3;

CREATE TABLE audit_v3.events (
    topic               text        NOT NULL,
    partition           integer     NOT NULL,
    kafka_offset        bigint      NOT NULL,
    -- CloudEvents attributes, as event_bytes say; all NULL exactly when the record is not a valid event (then
    -- `problem` says why).
    event_id            text,
    event_type          text,
    source              text,
    subject             text,
    -- The event's `time`, truncated to the microsecond.
    event_time          timestamptz,
    -- The gateway's `recordedtime` extension when present, else the Kafka record timestamp (for a record that is
    -- not a valid event: the Kafka timestamp, or 1970-01-01 if it has none). Truncated to the microsecond: the
    -- value stored is exactly the value hashed into chain_hash.
    recorded_time       timestamptz NOT NULL,
    -- RFC 8785 canonical JSON of the event; for an invalid record, its bytes as they were in the log.
    event_bytes         bytea       NOT NULL,
    -- SHA-256 of event_bytes.
    event_hash          bytea       NOT NULL CHECK (length(event_hash) = 32),
    -- chain_hash = SHA-256(
    --     previous_chain_hash                                          32 bytes
    --  || kafka_offset as int64 big-endian                              8 bytes
    --  || event_hash                                                   32 bytes
    --  || recorded_time as int64 big-endian microseconds since
    --     1970-01-01T00:00:00Z (exactly the stored value)               8 bytes
    --  || SHA-256(problem as UTF-8), or 32 zero bytes when NULL        32 bytes
    --  || partition as int32 big-endian                                 4 bytes
    --  || topic as UTF-8)                                        the rest
    -- Every part but the last has a fixed length, so the input is unambiguous. The first row of a partition links
    -- to 32 zero bytes. (v1 and v2: SHA-256(previous_chain_hash || kafka_offset || event_hash) only.)
    previous_chain_hash bytea       NOT NULL CHECK (length(previous_chain_hash) = 32),
    chain_hash          bytea       NOT NULL CHECK (length(chain_hash) = 32),
    problem             text,
    PRIMARY KEY (topic, partition, kafka_offset),
    CHECK ((problem IS NULL) = (event_id IS NOT NULL))
);

CREATE INDEX events_event_id ON audit_v3.events (event_id);
CREATE INDEX events_source_time ON audit_v3.events (source, event_time);
CREATE INDEX events_type_time ON audit_v3.events (event_type, event_time);

-- The newest link of each partition's chain, so that deleting the last rows is detected too. `mekong audit verify`
-- also checks last_offset against the partition's checkpoint in mekong.checkpoints.
CREATE TABLE audit_v3.chain_heads (
    topic        text    NOT NULL,
    partition    integer NOT NULL,
    last_offset  bigint  NOT NULL,
    chain_hash   bytea   NOT NULL CHECK (length(chain_hash) = 32),
    PRIMARY KEY (topic, partition)
);
