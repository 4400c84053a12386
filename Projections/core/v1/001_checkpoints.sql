-- Where each projection version has got to in each partition. A projection's rows and its checkpoint change in one
-- transaction (DESIGN.md invariant 2); on assignment, consumers start from next_offset here, never from Kafka's
-- committed offsets.
CREATE TABLE IF NOT EXISTS mekong.checkpoints (
    projection  text        NOT NULL,
    version     integer     NOT NULL CHECK (version >= 1),
    topic       text        NOT NULL,
    partition   integer     NOT NULL CHECK (partition >= 0),
    next_offset bigint      NOT NULL CHECK (next_offset >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, version, topic, partition)
);
