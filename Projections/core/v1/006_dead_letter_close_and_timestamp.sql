-- Dead letters: the original record's Kafka timestamp (carried by a redriven copy's mekong_original_timestamp header),
-- and closing: an operator gives up on a dead letter that can never be redriven (e.g. a record over the size limit)
-- or need not be, with a reason. A dead letter is pending while it is neither redriven nor closed, never both.
ALTER TABLE mekong.dead_letters
    -- Milliseconds since the epoch; NULL when the record had no timestamp or was dead-lettered before this column.
    ADD COLUMN record_timestamp_ms bigint,
    -- Set by `mekong dlq close`.
    ADD COLUMN closed_at           timestamptz,
    ADD COLUMN close_reason        text,
    ADD CONSTRAINT dead_letters_closed_with_reason
        CHECK ((closed_at IS NULL) = (close_reason IS NULL) AND length(close_reason) BETWEEN 1 AND 4000),
    ADD CONSTRAINT dead_letters_redriven_or_closed CHECK (redriven_at IS NULL OR closed_at IS NULL);

DROP INDEX IF EXISTS mekong.dead_letters_pending;
CREATE INDEX dead_letters_pending ON mekong.dead_letters (projection, version)
    WHERE redriven_at IS NULL AND closed_at IS NULL;
