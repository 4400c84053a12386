-- Signed batches (docs/gateway.md, "Signed batches"): one receipt per batch, signed once by the gateway, and for each
-- of its events the placement in Kafka and the proof of that placement into the receipt's placementsRoot.
CREATE TABLE gateway.batch_receipts (
    id          bigserial   PRIMARY KEY,
    source      text        NOT NULL REFERENCES gateway.sources,
    batch_root  text        NOT NULL,
    receipt     jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- An event written in a signed batch has no receipt of its own: its row names the batch and where the event is.
ALTER TABLE gateway.receipts
    ADD COLUMN batch           bigint REFERENCES gateway.batch_receipts,
    ADD COLUMN topic           text,
    ADD COLUMN kafka_partition integer,
    ADD COLUMN kafka_offset    bigint,
    ADD COLUMN placement_proof text,
    DROP CONSTRAINT receipts_check,
    ADD CONSTRAINT receipts_written_has_evidence CHECK (
        (state = 'written') = (receipt IS NOT NULL OR batch IS NOT NULL)
        AND (batch IS NULL OR (topic IS NOT NULL AND kafka_partition IS NOT NULL AND kafka_offset IS NOT NULL
                               AND placement_proof IS NOT NULL)));
CREATE INDEX receipts_batch ON gateway.receipts (batch) WHERE batch IS NOT NULL;
