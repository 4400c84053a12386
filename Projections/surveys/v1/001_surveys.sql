-- Survey uploads: batches, their chunks and microdata rows, the completion each source announces, and weighted
-- totals (see docs/statistics.md, "Survey uploads").
CREATE SCHEMA IF NOT EXISTS surveys_v1;

CREATE TABLE surveys_v1.chunks (
    survey        text        NOT NULL,
    wave          integer     NOT NULL,
    period        text        NOT NULL,
    batch_id      text        NOT NULL,
    chunk         integer     NOT NULL,
    row_count     integer     NOT NULL,
    -- SHA-256 of the uncompressed rows, as sent and as verified when read (NULL for an inline batch).
    rows_sha256   text,
    event_id      text        NOT NULL,
    recorded_time timestamptz NOT NULL,
    PRIMARY KEY (survey, wave, batch_id, chunk)
);

CREATE TABLE surveys_v1.rows (
    survey     text    NOT NULL,
    wave       integer NOT NULL,
    period     text    NOT NULL,
    batch_id   text    NOT NULL,
    chunk      integer NOT NULL,
    row_id     text    NOT NULL,
    weight     numeric NOT NULL CHECK (weight > 0),
    area       text,
    "values"   jsonb   NOT NULL,
    PRIMARY KEY (survey, wave, batch_id, row_id)
);

CREATE TABLE surveys_v1.completions (
    survey        text        NOT NULL,
    wave          integer     NOT NULL,
    period        text        NOT NULL,
    batch_id      text        NOT NULL,
    chunks        integer     NOT NULL,
    expected_rows integer     NOT NULL,
    event_id      text        NOT NULL,
    recorded_time timestamptz NOT NULL,
    PRIMARY KEY (survey, wave, batch_id)
);

-- Uploads a batch at a time, in log order: [{eventId, recorded, topic, partition, offset, data, rows?}]. A chunk
-- replaces the same chunk of its batch; an inline batch (vn.gso.survey.batch-uploaded) replaces the whole batch
-- and completes it; upload-completed states the chunks and rows expected. A row id used twice in one batch is
-- refused (SQLSTATE 23505, naming the row).
CREATE FUNCTION surveys_v1.receive_uploads(batch jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    e jsonb;
    d jsonb;
    kind text;
    chunk_number integer;
BEGIN
    FOR e IN SELECT * FROM jsonb_array_elements(batch) LOOP
        d := e->'data';
        kind := CASE WHEN d ? 'rowsSha256' THEN 'chunk' WHEN d ? 'expectedRows' THEN 'completed' ELSE 'inline' END;
        IF kind = 'completed' THEN
            INSERT INTO surveys_v1.completions VALUES (d->>'survey', (d->>'wave')::integer, d->>'period', d->>'batchId',
                (d->>'chunks')::integer, (d->>'expectedRows')::integer, e->>'eventId', (e->>'recorded')::timestamptz)
            ON CONFLICT (survey, wave, batch_id) DO UPDATE
            SET period = EXCLUDED.period, chunks = EXCLUDED.chunks, expected_rows = EXCLUDED.expected_rows,
                event_id = EXCLUDED.event_id, recorded_time = EXCLUDED.recorded_time;
            CONTINUE;
        END IF;
        chunk_number := CASE kind WHEN 'chunk' THEN (d->>'chunk')::integer ELSE 0 END;
        IF kind = 'inline' THEN
            DELETE FROM surveys_v1.rows r WHERE r.survey = d->>'survey' AND r.wave = (d->>'wave')::integer AND r.batch_id = d->>'batchId';
            DELETE FROM surveys_v1.chunks c WHERE c.survey = d->>'survey' AND c.wave = (d->>'wave')::integer AND c.batch_id = d->>'batchId';
            INSERT INTO surveys_v1.completions VALUES (d->>'survey', (d->>'wave')::integer, d->>'period', d->>'batchId',
                1, jsonb_array_length(e->'rows'), e->>'eventId', (e->>'recorded')::timestamptz)
            ON CONFLICT (survey, wave, batch_id) DO UPDATE
            SET period = EXCLUDED.period, chunks = 1, expected_rows = EXCLUDED.expected_rows,
                event_id = EXCLUDED.event_id, recorded_time = EXCLUDED.recorded_time;
        ELSE
            DELETE FROM surveys_v1.rows r WHERE r.survey = d->>'survey' AND r.wave = (d->>'wave')::integer
                AND r.batch_id = d->>'batchId' AND r.chunk = chunk_number;
            DELETE FROM surveys_v1.chunks c WHERE c.survey = d->>'survey' AND c.wave = (d->>'wave')::integer
                AND c.batch_id = d->>'batchId' AND c.chunk = chunk_number;
        END IF;
        INSERT INTO surveys_v1.chunks VALUES (d->>'survey', (d->>'wave')::integer, d->>'period', d->>'batchId',
            chunk_number, jsonb_array_length(e->'rows'), d->>'rowsSha256', e->>'eventId', (e->>'recorded')::timestamptz);
        INSERT INTO surveys_v1.rows
        SELECT d->>'survey', (d->>'wave')::integer, d->>'period', d->>'batchId', chunk_number, r->>'rowId',
               (r->>'weight')::numeric, r->>'area', r->'values'
        FROM jsonb_array_elements(e->'rows') r;
    END LOOP;
END $$;

-- Every batch with what arrived against what its source said it sent.
CREATE VIEW surveys_v1.batches AS
SELECT k.survey, k.wave, coalesce(c.period, k.period) AS period, k.batch_id,
       count(ch.chunk)::integer AS chunks_received, c.chunks AS chunks_expected,
       coalesce(sum(ch.row_count), 0)::integer AS rows_received, c.expected_rows,
       (c.chunks IS NOT NULL AND count(ch.chunk) = c.chunks AND coalesce(sum(ch.row_count), 0) = c.expected_rows) AS complete,
       round(coalesce(sum(ch.row_count), 0)::numeric / nullif(c.expected_rows, 0), 4) AS completeness
FROM (SELECT survey, wave, batch_id, min(period) AS period FROM surveys_v1.chunks GROUP BY 1, 2, 3
      UNION SELECT survey, wave, batch_id, period FROM surveys_v1.completions) k
LEFT JOIN surveys_v1.completions c USING (survey, wave, batch_id)
LEFT JOIN surveys_v1.chunks ch USING (survey, wave, batch_id)
GROUP BY k.survey, k.wave, coalesce(c.period, k.period), k.batch_id, c.chunks, c.expected_rows;

-- Weighted totals of a numeric variable per survey, period and area: Σ weight × value, and Σ weight (the
-- population the rows stand for). Only complete batches count unless `only_complete` is false; rows whose value is
-- missing or not a number are left out of the total and counted in `rows_without_value`.
CREATE FUNCTION surveys_v1.weighted_totals(variable text, only_complete boolean DEFAULT true)
RETURNS TABLE (survey text, period text, area text, rows bigint, population numeric, total numeric, rows_without_value bigint)
LANGUAGE sql STABLE AS $$
    SELECT r.survey, r.period, r.area, count(*), sum(r.weight),
           sum(r.weight * (r."values"->>variable)::numeric) FILTER (WHERE jsonb_typeof(r."values"->variable) = 'number'),
           count(*) FILTER (WHERE jsonb_typeof(r."values"->variable) IS DISTINCT FROM 'number')
    FROM surveys_v1.rows r
    JOIN surveys_v1.batches b ON b.survey = r.survey AND b.wave = r.wave AND b.batch_id = r.batch_id
    WHERE b.complete OR NOT only_complete
    GROUP BY r.survey, r.period, r.area
    ORDER BY 1, 2, 3
$$;
