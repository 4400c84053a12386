-- Records a projection refused (could not decode, upcast, validate or apply), kept byte for byte with their position
-- and reason. Written in the same transaction as the checkpoint that moves past them, so each refused record is
-- here exactly once per projection version; also published to the dead-letters topic.
CREATE TABLE IF NOT EXISTS mekong.dead_letters (
    id               bigserial   PRIMARY KEY,
    projection       text        NOT NULL,
    version          integer     NOT NULL,
    topic            text        NOT NULL,
    partition        integer     NOT NULL,
    kafka_offset     bigint      NOT NULL,
    stage            text        NOT NULL CHECK (stage IN ('decode', 'upcast', 'validate', 'apply')),
    reason           text        NOT NULL,
    event_id         text,
    event_type       text,
    record_key       bytea,
    record_value     bytea       NOT NULL,
    -- [{"name": ..., "valueBase64": ...}] in record order.
    record_headers   jsonb       NOT NULL,
    dead_lettered_at timestamptz NOT NULL DEFAULT now(),
    -- Set by `mekong dlq redrive`: when, and where the copy was published ("topic[partition]@offset").
    redriven_at      timestamptz,
    redriven_to      text,
    UNIQUE (projection, version, topic, partition, kafka_offset)
);

CREATE INDEX IF NOT EXISTS dead_letters_pending ON mekong.dead_letters (projection, version) WHERE redriven_at IS NULL;
