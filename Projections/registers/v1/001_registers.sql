-- Registers: every change of every administrative-register record (business, tax, household, cooperative), kept
-- as received; a record's state on a date and active counts through time are computed from the changes (see
-- docs/statistics.md, "Registers").
CREATE SCHEMA IF NOT EXISTS registers_v1;

CREATE TABLE registers_v1.changes (
    event_id        text        PRIMARY KEY,
    register        text        NOT NULL,
    record_key      text        NOT NULL,
    change          text        NOT NULL CHECK (change IN ('create', 'update', 'close')),
    -- Valid time: from when the change is true in the world.
    effective_date  date        NOT NULL,
    -- The attributes the change sets (for create, all of them).
    attributes      jsonb       NOT NULL,
    recorded_time   timestamptz NOT NULL,
    kafka_topic     text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL
);
CREATE INDEX changes_record ON registers_v1.changes (register, record_key, effective_date);

-- Later attributes overwrite earlier ones, key by key.
CREATE AGGREGATE registers_v1.merged_attributes(jsonb) (SFUNC = jsonb_concat, STYPE = jsonb, INITCOND = '{}');

-- vn.gso.register.record-changed, a batch at a time: [{eventId, recorded, topic, partition, offset, data}].
-- A record is created once; updates and the close need it to exist (created on or before their effective date)
-- and not to be closed; a closed record key is never used again. The first violation refuses the batch, naming
-- the event, record and dates; the engine then isolates that event and dead-letters it.
CREATE FUNCTION registers_v1.record_changes(batch jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    e jsonb;
    d jsonb;
    created date;
    closed date;
BEGIN
    -- One by one within the batch: each change is checked against the ones before it (same record key, same
    -- partition, so log order).
    FOR e IN SELECT * FROM jsonb_array_elements(batch) LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM registers_v1.changes c WHERE c.event_id = e->>'eventId');
        d := e->'data';
        SELECT min(c.effective_date) FILTER (WHERE c.change = 'create'), max(c.effective_date) FILTER (WHERE c.change = 'close')
        INTO created, closed
        FROM registers_v1.changes c WHERE c.register = d->>'register' AND c.record_key = d->>'recordKey';
        IF closed IS NOT NULL THEN
            RAISE EXCEPTION 'event %: % record % was closed on %; a closed record key is not used again',
                e->>'eventId', d->>'register', d->>'recordKey', closed;
        END IF;
        IF d->>'change' = 'create' AND created IS NOT NULL THEN
            RAISE EXCEPTION 'event %: % record % already exists (created on %)', e->>'eventId', d->>'register',
                d->>'recordKey', created;
        END IF;
        IF d->>'change' <> 'create' AND (created IS NULL OR created > (d->>'effectiveDate')::date) THEN
            RAISE EXCEPTION 'event %: % record % does not exist on % (%)', e->>'eventId', d->>'register',
                d->>'recordKey', d->>'effectiveDate', coalesce('created on ' || created, 'never created');
        END IF;
        INSERT INTO registers_v1.changes VALUES (e->>'eventId', d->>'register', d->>'recordKey', d->>'change',
            (d->>'effectiveDate')::date, d->'attributes', (e->>'recorded')::timestamptz, e->>'topic',
            (e->>'partition')::integer, (e->>'offset')::bigint);
    END LOOP;
END $$;

-- Every record's state on a valid date, as known at a recorded time: the attributes of its changes effective on
-- or before the date, merged in (effective date, recorded time) order; active from its creation to its close.
CREATE FUNCTION registers_v1.records_on(valid_on date DEFAULT 'infinity', known_at timestamptz DEFAULT 'infinity')
RETURNS TABLE (register text, record_key text, active boolean, created_on date, closed_on date, attributes jsonb)
LANGUAGE sql STABLE AS $$
    SELECT c.register, c.record_key,
           max(c.effective_date) FILTER (WHERE c.change = 'close') IS NULL,
           min(c.effective_date) FILTER (WHERE c.change = 'create'),
           max(c.effective_date) FILTER (WHERE c.change = 'close'),
           registers_v1.merged_attributes(c.attributes ORDER BY c.effective_date, c.recorded_time, c.event_id)
    FROM registers_v1.changes c
    WHERE c.effective_date <= valid_on AND c.recorded_time <= known_at
    GROUP BY c.register, c.record_key
    HAVING count(*) FILTER (WHERE c.change = 'create') > 0
$$;

-- The current state of every record (all changes known, whatever their effective date).
CREATE VIEW registers_v1.current_records AS SELECT * FROM registers_v1.records_on('infinity', 'infinity');

-- The section (A–U) of a VSIC 2018 code, from its two-digit division (VSIC 2018 follows ISIC Rev. 4's sections).
CREATE FUNCTION registers_v1.vsic_section(code text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN code !~ '^[0-9]{2}' THEN NULL
        WHEN left(code, 2)::int BETWEEN 1 AND 3 THEN 'A'   WHEN left(code, 2)::int BETWEEN 5 AND 9 THEN 'B'
        WHEN left(code, 2)::int BETWEEN 10 AND 33 THEN 'C' WHEN left(code, 2)::int = 35 THEN 'D'
        WHEN left(code, 2)::int BETWEEN 36 AND 39 THEN 'E' WHEN left(code, 2)::int BETWEEN 41 AND 43 THEN 'F'
        WHEN left(code, 2)::int BETWEEN 45 AND 47 THEN 'G' WHEN left(code, 2)::int BETWEEN 49 AND 53 THEN 'H'
        WHEN left(code, 2)::int BETWEEN 55 AND 56 THEN 'I' WHEN left(code, 2)::int BETWEEN 58 AND 63 THEN 'J'
        WHEN left(code, 2)::int BETWEEN 64 AND 66 THEN 'K' WHEN left(code, 2)::int = 68 THEN 'L'
        WHEN left(code, 2)::int BETWEEN 69 AND 75 THEN 'M' WHEN left(code, 2)::int BETWEEN 77 AND 82 THEN 'N'
        WHEN left(code, 2)::int = 84 THEN 'O'              WHEN left(code, 2)::int = 85 THEN 'P'
        WHEN left(code, 2)::int BETWEEN 86 AND 88 THEN 'Q' WHEN left(code, 2)::int BETWEEN 90 AND 93 THEN 'R'
        WHEN left(code, 2)::int BETWEEN 94 AND 96 THEN 'S' WHEN left(code, 2)::int BETWEEN 97 AND 98 THEN 'T'
        WHEN left(code, 2)::int = 99 THEN 'U'
    END
$$;

-- Active records of a register at the end of each month from `first_month` to `last_month` (YYYY-MM), by VSIC
-- section (attribute vsicCode) and province (the level-2 ancestor of attribute areaCode in the vn-admin-units
-- hierarchy valid that day, read from the statistics projection in the same database). Records whose codes
-- cannot be placed are counted under NULL, never dropped.
CREATE FUNCTION registers_v1.active_counts(register_name text, first_month text, last_month text)
RETURNS TABLE (month text, section text, province text, active bigint)
LANGUAGE plpgsql AS $$
DECLARE
    month_start date;
    month_end date;
BEGIN
    IF to_regnamespace('statistics') IS NULL THEN
        RAISE EXCEPTION 'active_counts places areas with the statistics projection''s master data: run mekong project statistics on this database';
    END IF;
    IF first_month !~ '^[0-9]{4}-(0[1-9]|1[0-2])$' OR last_month !~ '^[0-9]{4}-(0[1-9]|1[0-2])$' THEN
        RAISE EXCEPTION 'months are YYYY-MM, not % and %', first_month, last_month;
    END IF;
    DROP TABLE IF EXISTS pg_temp.register_counts;
    CREATE TEMP TABLE register_counts (month text, section text, province text, active bigint) ON COMMIT DROP;
    DROP TABLE IF EXISTS pg_temp.register_items;
    CREATE TEMP TABLE register_items ON COMMIT DROP AS
    SELECT i.code, i.parent, i.level, i.valid_from, i.valid_to FROM statistics.items_known_at('infinity') i
    WHERE i.classification = 'vn-admin-units';
    month_start := (first_month || '-01')::date;
    WHILE month_start <= (last_month || '-01')::date LOOP
        month_end := (month_start + interval '1 month')::date - 1;
        INSERT INTO register_counts
        WITH RECURSIVE at_date AS (
            SELECT * FROM register_items i WHERE i.valid_from <= month_end AND (i.valid_to IS NULL OR i.valid_to > month_end)
        ), up AS (
            SELECT a.code AS area, a.code, a.parent, a.level FROM at_date a
            UNION ALL
            SELECT up.area, a.code, a.parent, a.level FROM up JOIN at_date a ON a.code = up.parent WHERE up.level > 2
        ), province_of AS (
            SELECT area, code AS province FROM up WHERE level = 2
        )
        SELECT to_char(month_start, 'YYYY-MM'), registers_v1.vsic_section(r.attributes->>'vsicCode'), p.province, count(*)
        FROM registers_v1.records_on(month_end) r
        LEFT JOIN province_of p ON p.area = r.attributes->>'areaCode'
        WHERE r.register = register_name AND r.active
        GROUP BY 1, 2, 3;
        month_start := (month_start + interval '1 month')::date;
    END LOOP;
    RETURN QUERY SELECT * FROM register_counts c ORDER BY c.month, c.section NULLS LAST, c.province NULLS LAST;
END $$;
