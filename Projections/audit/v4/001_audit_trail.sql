-- The audit trail, version 4: v3's rows and chain, with two changes (docs/audit-trail.md):
-- - a record that decodes as an event but is not valid for its topic (a type the topic does not carry, data that
--   breaks its schema) keeps its attributes AND says why in `problem` (v3 left `problem` empty for it);
-- - signed tree heads: every 1 000 rows of a partition, and whenever 60 s of recorded time have passed since its
--   last head, a head signed with the audit key names the Merkle root of the partition's event hashes so far.
CREATE SCHEMA IF NOT EXISTS audit_v4;

CREATE TABLE audit_v4.events (
    topic               text        NOT NULL,
    partition           integer     NOT NULL,
    kafka_offset        bigint      NOT NULL,
    -- CloudEvents attributes, as event_bytes say; NULL exactly when the record does not decode as an event.
    event_id            text,
    event_type          text,
    source              text,
    subject             text,
    event_time          timestamptz,
    -- As in v3: the gateway's `recordedtime`, else the Kafka timestamp (1970-01-01 if none), truncated to the µs.
    recorded_time       timestamptz NOT NULL,
    event_bytes         bytea       NOT NULL,
    event_hash          bytea       NOT NULL CHECK (length(event_hash) = 32),
    -- The v3 link (docs/audit-trail.md, "The chain"), unchanged.
    previous_chain_hash bytea       NOT NULL CHECK (length(previous_chain_hash) = 32),
    chain_hash          bytea       NOT NULL CHECK (length(chain_hash) = 32),
    -- Why the record is not a valid event of its topic; NULL for a valid one.
    problem             text,
    PRIMARY KEY (topic, partition, kafka_offset),
    CHECK (event_id IS NOT NULL OR problem IS NOT NULL),
    CHECK ((event_id IS NULL) = (event_type IS NULL) AND (event_id IS NULL) = (source IS NULL)
           AND (event_id IS NULL) = (subject IS NULL) AND (event_id IS NULL) = (event_time IS NULL))
);

CREATE INDEX events_event_id ON audit_v4.events (event_id);
CREATE INDEX events_source_time ON audit_v4.events (source, event_time);
CREATE INDEX events_type_time ON audit_v4.events (event_type, event_time);
CREATE INDEX events_problem ON audit_v4.events (topic, partition, kafka_offset) WHERE problem IS NOT NULL;

-- The newest link of each partition's chain, and the Merkle tree of its event hashes as its frontier (the roots of
-- its perfect subtrees, 32 bytes each, largest first), so that a head is signed without reading old rows.
CREATE TABLE audit_v4.chain_heads (
    topic              text    NOT NULL,
    partition          integer NOT NULL,
    last_offset        bigint  NOT NULL,
    chain_hash         bytea   NOT NULL CHECK (length(chain_hash) = 32),
    tree_size          bigint  NOT NULL CHECK (tree_size > 0),
    frontier           bytea   NOT NULL CHECK (length(frontier) % 32 = 0),
    -- recorded_time (µs since 1970) of the row the newest signed head covers.
    last_head_micros   bigint  NOT NULL,
    PRIMARY KEY (topic, partition)
);

-- The signed tree heads (SignedTreeHead's JSON in `head`; the other columns repeat it for queries).
CREATE TABLE audit_v4.tree_heads (
    topic        text    NOT NULL,
    partition    integer NOT NULL,
    tree_size    bigint  NOT NULL CHECK (tree_size > 0),
    last_offset  bigint  NOT NULL,
    head         text    NOT NULL,
    PRIMARY KEY (topic, partition, tree_size)
);
