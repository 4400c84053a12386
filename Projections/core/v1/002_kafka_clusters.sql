-- Which Kafka cluster a projection version's checkpoints refer to. Offsets mean nothing on another cluster (a new
-- `mekong dev` cluster starts again at offset 0), so a projector refuses to run against a different cluster.
CREATE TABLE IF NOT EXISTS mekong.kafka_clusters (
    projection  text        NOT NULL,
    version     integer     NOT NULL,
    cluster_id  text        NOT NULL,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, version)
);
