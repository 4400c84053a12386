-- Indicator tables: every accepted observation kept as a vintage; current values, as-of values, roll-ups along
-- the area hierarchy valid at each period, and re-expression through correspondences are computed from the
-- vintages by the functions below, so they depend only on the set of submissions (see docs/statistics.md).

CREATE TABLE statistics_v1.submissions (
    event_id       text        PRIMARY KEY,
    reporting_unit text        NOT NULL,
    form           text        NOT NULL,
    period         text        NOT NULL,
    action         text        NOT NULL CHECK (action IN ('merge', 'replace', 'delete')),
    revision       integer     NOT NULL CHECK (revision >= 1),
    supersedes     text,
    recorded_time  timestamptz NOT NULL,
    kafka_topic    text        NOT NULL,
    kafka_partition integer    NOT NULL,
    kafka_offset   bigint      NOT NULL
);
CREATE INDEX submissions_report ON statistics_v1.submissions (reporting_unit, form, period);

CREATE TABLE statistics_v1.observation_vintages (
    event_id        text        NOT NULL REFERENCES statistics_v1.submissions,
    indicator       text        NOT NULL,
    period          text        NOT NULL,
    area            text        NOT NULL,
    -- The other dimensions (without area), e.g. {"sex": "F"}; {} when there are none.
    dimensions      jsonb       NOT NULL,
    -- value × 10^unit_multiplier, exactly (numeric).
    value           numeric,
    unit_multiplier integer     NOT NULL,
    status          text        NOT NULL CHECK (status IN ('normal', 'estimated', 'forecast', 'provisional', 'missing')),
    confidentiality text        NOT NULL CHECK (confidentiality IN ('free', 'confidential', 'not-for-publication')),
    comment         text,
    PRIMARY KEY (event_id, indicator, area, dimensions),
    CHECK ((value IS NULL) = (status = 'missing'))
);
CREATE INDEX observation_vintages_indicator ON statistics_v1.observation_vintages (indicator, period);

-- Status and confidentiality from the strongest to the weakest: an aggregate takes the weakest of its inputs.
CREATE FUNCTION statistics_v1.status_rank(status text) RETURNS integer LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT array_position(ARRAY['normal', 'estimated', 'forecast', 'provisional', 'missing'], status)
$$;
CREATE FUNCTION statistics_v1.status_of_rank(r integer) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT (ARRAY['normal', 'estimated', 'forecast', 'provisional', 'missing'])[r]
$$;
CREATE FUNCTION statistics_v1.confidentiality_rank(c text) RETURNS integer LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT array_position(ARRAY['free', 'confidential', 'not-for-publication'], c)
$$;
CREATE FUNCTION statistics_v1.confidentiality_of_rank(r integer) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT (ARRAY['free', 'confidential', 'not-for-publication'])[r]
$$;

-- vn.gso.report.submitted (v2 shape), a batch at a time: [{eventId, recorded, topic, partition, offset, data}].
-- Refuses the batch, naming the event, field and code, when an observation's indicator is not defined, its
-- period type is not one of the indicator's, its dimensions are not the indicator's, or a code is not valid at
-- the period's reference date; the engine then isolates the event and dead-letters it.
CREATE FUNCTION statistics_v1.submit_reports(batch jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS pg_temp.incoming_observations (
        event_id text, indicator text, period text, area text, dimensions jsonb, all_dimensions jsonb,
        value numeric, unit_multiplier integer, status text, confidentiality text, comment text, position integer
    ) ON COMMIT DROP;
    TRUNCATE pg_temp.incoming_observations;

    INSERT INTO pg_temp.incoming_observations
    SELECT e->>'eventId', o->>'indicator', e->'data'->>'period', o->'dimensions'->>'area',
           (o->'dimensions') - 'area', o->'dimensions',
           trim_scale((o->>'value')::numeric * power(10::numeric, coalesce((o->>'unitMultiplier')::integer, 0))),
           coalesce((o->>'unitMultiplier')::integer, 0), o->>'status', o->>'confidentiality', o->>'comment',
           n::integer - 1
    FROM jsonb_array_elements(batch) e
    CROSS JOIN LATERAL jsonb_array_elements(e->'data'->'observations') WITH ORDINALITY AS x(o, n)
    WHERE NOT EXISTS (SELECT 1 FROM statistics_v1.submissions s WHERE s.event_id = e->>'eventId');

    SELECT o.event_id, o.position, o.indicator INTO bad FROM pg_temp.incoming_observations o
    WHERE NOT EXISTS (SELECT 1 FROM statistics_v1.indicators i WHERE i.code = o.indicator AND i.recorded_to IS NULL)
    ORDER BY 1, 2 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'event %: observations[%].indicator % is not defined', bad.event_id, bad.position, bad.indicator;
    END IF;

    SELECT o.event_id, o.position, o.indicator, o.period, i.periodicities INTO bad
    FROM pg_temp.incoming_observations o JOIN statistics_v1.indicators i ON i.code = o.indicator AND i.recorded_to IS NULL
    WHERE NOT statistics_v1.period_type(o.period) = ANY (i.periodicities)
    ORDER BY 1, 2 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'event %: period % is not a periodicity of indicator % (it has %)',
            bad.event_id, bad.period, bad.indicator, array_to_string(bad.periodicities, ', ');
    END IF;

    SELECT o.event_id, o.position, o.indicator, o.all_dimensions, i.dimensions INTO bad
    FROM pg_temp.incoming_observations o JOIN statistics_v1.indicators i ON i.code = o.indicator AND i.recorded_to IS NULL
    WHERE ARRAY(SELECT jsonb_object_keys(o.all_dimensions) ORDER BY 1) <> ARRAY(SELECT jsonb_object_keys(i.dimensions) ORDER BY 1)
    ORDER BY 1, 2 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'event %: observations[%].dimensions has %, but indicator % has dimensions %',
            bad.event_id, bad.position, ARRAY(SELECT jsonb_object_keys(bad.all_dimensions) ORDER BY 1), bad.indicator,
            ARRAY(SELECT jsonb_object_keys(bad.dimensions) ORDER BY 1);
    END IF;

    -- Every dimension code must be an item of its classification on the period's reference date.
    CREATE TEMP TABLE IF NOT EXISTS pg_temp.known_items ON COMMIT DROP AS
    SELECT * FROM statistics_v1.items_known_at('infinity') WITH NO DATA;
    TRUNCATE pg_temp.known_items;
    INSERT INTO pg_temp.known_items SELECT * FROM statistics_v1.items_known_at('infinity');
    CREATE INDEX IF NOT EXISTS known_items_code ON pg_temp.known_items (classification, code);
    ANALYZE pg_temp.known_items;
    ANALYZE pg_temp.incoming_observations;
    SELECT o.event_id, o.position, d.key AS dimension, d.value AS code, o.period, i.dimensions->>d.key AS classification
    INTO bad
    FROM pg_temp.incoming_observations o
    JOIN statistics_v1.indicators i ON i.code = o.indicator AND i.recorded_to IS NULL
    CROSS JOIN LATERAL jsonb_each_text(o.all_dimensions) d
    WHERE NOT EXISTS (
        SELECT 1 FROM pg_temp.known_items k
        WHERE k.classification = i.dimensions->>d.key AND k.code = d.value
          AND k.valid_from <= statistics_v1.period_reference_date(o.period)
          AND (k.valid_to IS NULL OR k.valid_to > statistics_v1.period_reference_date(o.period)))
    ORDER BY 1, 2, 3 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'event %: observations[%].dimensions.% code % is not valid in % for period % (reference date %)',
            bad.event_id, bad.position, bad.dimension, bad.code, bad.classification, bad.period,
            statistics_v1.period_reference_date(bad.period);
    END IF;

    INSERT INTO statistics_v1.submissions
    SELECT e->>'eventId', e->'data'->>'reportingUnit', e->'data'->>'form', e->'data'->>'period', e->'data'->>'action',
           (e->'data'->>'revision')::integer, e->'data'->>'supersedes', (e->>'recorded')::timestamptz,
           e->>'topic', (e->>'partition')::integer, (e->>'offset')::bigint
    FROM jsonb_array_elements(batch) e
    ON CONFLICT (event_id) DO NOTHING;

    INSERT INTO statistics_v1.observation_vintages
    SELECT event_id, indicator, period, area, dimensions, value, unit_multiplier, status, confidentiality, comment
    FROM pg_temp.incoming_observations;
END $$;

-- The value of every observation as known at recorded time `known_at`. Per report (reporting unit, form,
-- period), submissions count in the order (revision, recorded time, event id): an observation's value comes from
-- the last submission that lists it, unless a later `replace` (not listing it) or `delete` withdrew it. When two
-- reports give the same observation, the later recorded one counts.
CREATE FUNCTION statistics_v1.observations_as_of(known_at timestamptz DEFAULT 'infinity')
RETURNS TABLE (indicator text, period text, area text, dimensions jsonb, value numeric, status text,
               confidentiality text, comment text, event_id text, reporting_unit text, revision integer,
               recorded_time timestamptz)
LANGUAGE sql STABLE AS $$
    WITH ordered AS (
        SELECT s.*, row_number() OVER (PARTITION BY s.reporting_unit, s.form, s.period
                                       ORDER BY s.revision, s.recorded_time, s.event_id) AS seq
        FROM statistics_v1.submissions s WHERE s.recorded_time <= known_at
    ), last_reset AS (
        SELECT o.reporting_unit, o.form, o.period, max(o.seq) AS seq FROM ordered o
        WHERE o.action IN ('replace', 'delete') GROUP BY 1, 2, 3
    ), listed AS (
        SELECT v.*, o.reporting_unit, o.form, o.revision, o.recorded_time, o.seq,
               row_number() OVER (PARTITION BY o.reporting_unit, o.form, o.period, v.indicator, v.area, v.dimensions
                                  ORDER BY o.seq DESC) AS latest
        FROM statistics_v1.observation_vintages v JOIN ordered o USING (event_id)
    ), current_per_report AS (
        SELECT l.* FROM listed l
        LEFT JOIN last_reset r ON r.reporting_unit = l.reporting_unit AND r.form = l.form AND r.period = l.period
        WHERE l.latest = 1 AND (r.seq IS NULL OR r.seq <= l.seq)
    )
    SELECT DISTINCT ON (c.indicator, c.period, c.area, c.dimensions)
           c.indicator, c.period, c.area, c.dimensions, c.value, c.status, c.confidentiality, c.comment, c.event_id,
           c.reporting_unit, c.revision, c.recorded_time
    FROM current_per_report c
    ORDER BY c.indicator, c.period, c.area, c.dimensions, c.recorded_time DESC, c.event_id DESC
$$;

-- The current value of every observation.
CREATE VIEW statistics_v1.observations_current AS SELECT * FROM statistics_v1.observations_as_of('infinity');

-- Every vintage of every observation, newest first per observation: which submission, revision and recorded time.
CREATE VIEW statistics_v1.observation_history AS
SELECT v.indicator, v.period, v.area, v.dimensions, v.value, v.status, v.confidentiality, v.comment,
       s.reporting_unit, s.form, s.action, s.revision, s.supersedes, s.recorded_time, s.event_id
FROM statistics_v1.observation_vintages v JOIN statistics_v1.submissions s USING (event_id);

-- An indicator's table as known at `known_at`: the reported values, and for every area above them in the
-- hierarchy of `vn-admin-units` valid on each period's reference date, the aggregate by the indicator's rule
-- (sum, or the mean weighted by the weight indicator's values). A reported value wins over an aggregate for the
-- same area. An aggregate takes the weakest status and the strictest confidentiality of its inputs, and is
-- missing (NULL) when an input is missing or, for a weighted mean, an input has no weight.
CREATE FUNCTION statistics_v1.indicator_values(indicator_code text, known_at timestamptz DEFAULT 'infinity')
RETURNS TABLE (period text, area text, area_level integer, dimensions jsonb, value numeric, status text,
               confidentiality text, origin text, inputs integer)
LANGUAGE plpgsql AS $$
DECLARE
    definition record;
    depth integer;
BEGIN
    SELECT * INTO definition FROM statistics_v1.indicators i
    WHERE i.code = indicator_code AND i.recorded_from <= known_at AND (i.recorded_to IS NULL OR i.recorded_to > known_at);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'indicator % is not defined (as known at %)', indicator_code, known_at;
    END IF;

    -- The fold over all submissions, once, for the indicator and its weight.
    DROP TABLE IF EXISTS pg_temp.rollup_observations;
    CREATE TEMP TABLE rollup_observations ON COMMIT DROP AS
    SELECT * FROM statistics_v1.observations_as_of(known_at) o
    WHERE o.indicator = indicator_code OR o.indicator = definition.weight_indicator;
    DROP TABLE IF EXISTS pg_temp.rollup_values;
    DROP TABLE IF EXISTS pg_temp.rollup_hierarchy;
    CREATE TEMP TABLE rollup_values ON COMMIT DROP AS
    SELECT o.period, o.area, o.dimensions, o.value, w.value AS weight,
           statistics_v1.status_rank(o.status) AS status, statistics_v1.confidentiality_rank(o.confidentiality) AS conf,
           'reported'::text AS origin, 1 AS inputs
    FROM rollup_observations o
    LEFT JOIN rollup_observations w
           ON w.indicator = definition.weight_indicator AND w.period = o.period AND w.area = o.area
          AND w.dimensions = o.dimensions
    WHERE o.indicator = indicator_code;

    -- Materialized in steps: joined directly, the planner re-evaluates items_known_at per period (30 s instead of
    -- 0.5 s for 22 months of the real units).
    DROP TABLE IF EXISTS pg_temp.rollup_items;
    CREATE TEMP TABLE rollup_items ON COMMIT DROP AS
    SELECT i.code, i.parent, i.level, i.valid_from, i.valid_to FROM statistics_v1.items_known_at(known_at) i
    WHERE i.classification = 'vn-admin-units';
    CREATE TEMP TABLE rollup_hierarchy ON COMMIT DROP AS
    SELECT p.period, i.code, i.parent, i.level
    FROM (SELECT DISTINCT r.period, statistics_v1.period_reference_date(r.period) AS reference_date FROM rollup_values r) p
    JOIN rollup_items i ON i.valid_from <= p.reference_date AND (i.valid_to IS NULL OR i.valid_to > p.reference_date);
    CREATE INDEX ON rollup_hierarchy (period, code);
    CREATE INDEX ON rollup_values (period, area);
    -- Temporary tables have no statistics until analyzed; without them the joins below plan as nested loops.
    ANALYZE rollup_values;
    ANALYZE rollup_hierarchy;

    IF definition.aggregation <> 'none' THEN
        FOR depth IN SELECT DISTINCT h.level FROM rollup_hierarchy h WHERE h.level > 1 ORDER BY 1 DESC LOOP
            INSERT INTO rollup_values
            SELECT v.period, h.parent, v.dimensions,
                   CASE
                       WHEN bool_or(v.value IS NULL) THEN NULL
                       WHEN definition.aggregation = 'sum' THEN sum(v.value)
                       WHEN bool_or(v.weight IS NULL) OR sum(v.weight) = 0 THEN NULL
                       ELSE sum(v.value * v.weight) / sum(v.weight)
                   END,
                   CASE WHEN bool_or(v.weight IS NULL) THEN NULL ELSE sum(v.weight) END,
                   CASE
                       WHEN bool_or(v.value IS NULL) THEN statistics_v1.status_rank('missing')
                       WHEN definition.aggregation = 'weighted-mean' AND (bool_or(v.weight IS NULL) OR sum(v.weight) = 0)
                           THEN statistics_v1.status_rank('missing')
                       ELSE max(v.status)
                   END,
                   max(v.conf), 'aggregated', count(*)::integer
            FROM rollup_values v
            JOIN rollup_hierarchy h ON h.period = v.period AND h.code = v.area AND h.level = depth
            WHERE h.parent IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM rollup_values p
                              WHERE p.period = v.period AND p.area = h.parent AND p.dimensions = v.dimensions)
            GROUP BY v.period, h.parent, v.dimensions;
        END LOOP;
    END IF;

    RETURN QUERY
    SELECT v.period, v.area, h.level, v.dimensions, v.value, statistics_v1.status_of_rank(v.status),
           statistics_v1.confidentiality_of_rank(v.conf), v.origin, v.inputs
    FROM rollup_values v LEFT JOIN rollup_hierarchy h ON h.period = v.period AND h.code = v.area
    ORDER BY v.period, h.level NULLS LAST, v.area, v.dimensions::text;
END $$;
