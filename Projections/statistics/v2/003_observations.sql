-- Observations: every accepted submission and its observations kept as vintages (insert-only), and the current
-- value of every observation materialized per batch (docs/statistics.md, "Materialized tables").

CREATE TABLE statistics_v2.submissions (
    event_id        text        PRIMARY KEY,
    reporting_unit  text        NOT NULL,
    form            text        NOT NULL,
    period          text        NOT NULL,
    action          text        NOT NULL CHECK (action IN ('merge', 'replace', 'delete')),
    revision        integer     NOT NULL CHECK (revision >= 1),
    supersedes      text,
    recorded_time   timestamptz NOT NULL,
    kafka_topic     text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL
);
CREATE INDEX submissions_report ON statistics_v2.submissions (reporting_unit, form, period);

CREATE TABLE statistics_v2.observation_vintages (
    -- The submission's event id (apply_reports writes both; no foreign key, whose per-row check cost a third of
    -- this insert).
    event_id        text        NOT NULL,
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
-- As-of answers read one slice (an indicator, some areas, some periods) of the vintages through this index.
CREATE INDEX observation_vintages_slice ON statistics_v2.observation_vintages (indicator, area, period);

-- The current value of every observation: per report (reporting unit, form, period), submissions count in the
-- order (revision, recorded time, event id); the last submission listing an observation gives its value unless a
-- later `replace` or `delete` withdrew it; when two reports give the same observation, the later recorded one
-- (then the greater event id) counts. `area_level` and `parent` are the area's level and parent in the hierarchy
-- valid at the period's reference date (NULL if the code is not valid then): a roll-up reads its children's
-- values as one range of observations_children.
CREATE TABLE statistics_v2.observations_current (
    indicator       text        NOT NULL,
    period          text        NOT NULL,
    area            text        NOT NULL,
    dimensions      jsonb       NOT NULL,
    value           numeric,
    status          text        NOT NULL,
    confidentiality text        NOT NULL,
    comment         text,
    event_id        text        NOT NULL,
    reporting_unit  text        NOT NULL,
    form            text        NOT NULL,
    revision        integer     NOT NULL,
    recorded_time   timestamptz NOT NULL,
    area_level      integer,
    parent          text,
    -- Area before period: one area's series is one index range; one period's areas are read through it too
    -- (docs/statistics.md, "Reading").
    PRIMARY KEY (indicator, area, period, dimensions)
);
-- The reported children of an area in one period: what a roll-up reads (only the children that have values,
-- where walking the hierarchy probed every child area, reported or not).
CREATE INDEX observations_children ON statistics_v2.observations_current (indicator, period, parent, dimensions);

-- Every vintage of every observation: which submission, revision and recorded time.
CREATE VIEW statistics_v2.observation_history AS
SELECT v.indicator, v.period, v.area, v.dimensions, v.value, v.status, v.confidentiality, v.comment,
       s.reporting_unit, s.form, s.action, s.revision, s.supersedes, s.recorded_time, s.event_id
FROM statistics_v2.observation_vintages v JOIN statistics_v2.submissions s USING (event_id);

CREATE FUNCTION statistics_v2.status_rank(status text) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_position(ARRAY['normal', 'estimated', 'forecast', 'provisional', 'missing'], status)
$$;
CREATE FUNCTION statistics_v2.status_of_rank(r integer) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (ARRAY['normal', 'estimated', 'forecast', 'provisional', 'missing'])[r]
$$;
CREATE FUNCTION statistics_v2.confidentiality_rank(c text) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_position(ARRAY['free', 'confidential', 'not-for-publication'], c)
$$;
CREATE FUNCTION statistics_v2.confidentiality_of_rank(r integer) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (ARRAY['free', 'confidential', 'not-for-publication'])[r]
$$;

-- The work tables, by name, for the statements that treat them all alike.
CREATE FUNCTION statistics_v2.work_tables() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['pg_temp.touched_keys', 'pg_temp.incoming_reports', 'pg_temp.incoming_observations',
        'pg_temp.staged_periods', 'pg_temp.refused_reports', 'pg_temp.folded_reports', 'pg_temp.report_state',
        'pg_temp.released_keys', 'pg_temp.affected_nodes', 'pg_temp.version_spans', 'pg_temp.affected_targets',
        'pg_temp.target_sources', 'pg_temp.target_children', 'pg_temp.in_version_rows']
$$;

-- The work tables of a batch, created once per session: creating and dropping them in every transaction cost more
-- than a small batch's work (catalog rows, and every plan that reads them made again). Every routine that uses
-- them calls this first; each empties what it fills before filling it, so rows a transaction leaves behind are
-- never read again. They keep their rows past COMMIT (prepare_report_staging bounds what piles up): emptying them
-- at every commit (ON COMMIT DELETE ROWS) truncated all of them and rebuilt their TOAST and primary-key indexes,
-- 8-9 ms per commit, a third of a live batch.
CREATE FUNCTION statistics_v2.prepare_work_tables() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.touched_keys') IS NOT NULL THEN
        RETURN;
    END IF;
    -- The keys a batch changed, which roll-ups and re-expressions recompute from (see refresh_derived).
    CREATE TEMP TABLE touched_keys (indicator text, period text, area text, dimensions jsonb);
    -- The staging tables a batch of reports is copied into (COPY, binary) before apply_reports. `dimensions` is
    -- the JSON of the dimensions without area; `dimension_names` all names, area included, joined by U+001F in
    -- any order.
    CREATE TEMP TABLE incoming_reports (
        ordinal integer, event_id text, reporting_unit text, form text, period text, action text, revision integer,
        supersedes text, recorded_time text, kafka_topic text, kafka_partition integer, kafka_offset bigint
    );
    CREATE TEMP TABLE incoming_observations (
        event_id text, position integer, indicator text, area text, dimensions text, dimension_names text,
        value text, unit_multiplier integer, status text, confidentiality text, comment text
    );
    CREATE TEMP TABLE staged_periods (period text PRIMARY KEY, reference_date date, period_type text);
    CREATE TEMP TABLE refused_reports (ordinal integer PRIMARY KEY, reason text);
    CREATE TEMP TABLE folded_reports (reporting_unit text, form text, period text);
    CREATE TEMP TABLE report_state (
        indicator text, period text, area text, dimensions jsonb, value numeric, status text, confidentiality text,
        comment text, event_id text, reporting_unit text, form text, revision integer, recorded_time timestamptz
    );
    CREATE TEMP TABLE released_keys (indicator text, period text, area text, dimensions jsonb);
    CREATE TEMP TABLE affected_nodes (
        indicator text, period text, area text, dimensions jsonb, area_level integer, parent text, depth integer,
        reference_date date);
    CREATE TEMP TABLE version_spans (version text PRIMARY KEY, valid_from date, valid_to date);
    CREATE TEMP TABLE affected_targets (
        indicator text, from_version text, to_version text, period text, area text, dimensions jsonb,
        area_level integer, depth integer, target_start date);
    CREATE TEMP TABLE target_sources (
        indicator text, from_version text, to_version text, period text, area text, dimensions jsonb,
        area_level integer, source_code text, relation text, weight numeric, exact boolean);
    CREATE TEMP TABLE target_children (
        indicator text, from_version text, to_version text, period text, area text, dimensions jsonb,
        area_level integer, child text);
    CREATE TEMP TABLE in_version_rows (
        period text, area text, dimensions jsonb, value numeric, status text, confidentiality text,
        non_comparable boolean, origin text, area_level integer);
    -- Analyzed once while empty: the planner then sizes them by their pages (a never-analyzed table is taken to
    -- have at least ten, about a thousand rows, and a batch of one report is planned as if it were large).
    EXECUTE 'ANALYZE ' || array_to_string(statistics_v2.work_tables(), ', ');
END $$;

-- ANALYZE of a work table, only once it holds more than a few hundred rows. The planner needs statistics for a
-- batch of thousands (without them it once scanned every area of an indicator per node: 480 s for one batch);
-- for a few rows the table's physical size alone gives it good estimates, and an ANALYZE (about a millisecond,
-- and every plan that reads the table made again) is most of a small batch's cost.
CREATE FUNCTION statistics_v2.analyze_if_large(work_table regclass) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %s LIMIT 501) c', work_table) INTO n;
    IF n > 500 THEN
        EXECUTE format('ANALYZE %s', work_table);
    END IF;
END $$;

CREATE FUNCTION statistics_v2.prepare_touched_keys() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM statistics_v2.prepare_work_tables();
    DELETE FROM pg_temp.touched_keys;
END $$;

-- Empties the staging tables for a batch of reports (COPY, binary, then apply_reports). First, while no routine is
-- using a work table, truncates them all once any has grown past 8 pages (64 kB), so the rows and dead rows that
-- earlier transactions left stay few and a small batch is planned as small. A truncation costs about 9 ms; live
-- batches of a few reports reach it every few dozen batches. A truncation also forgets the tables' statistics, and a
-- never-analyzed table is planned as ten pages (400 rows): the roll-ups' DELETE then hashed all of indicator_rollups
-- (15 ms of a 30 ms live batch) instead of probing its key. So the emptied tables are analyzed again, as in
-- prepare_work_tables.
CREATE FUNCTION statistics_v2.prepare_report_staging() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM statistics_v2.prepare_work_tables();
    IF EXISTS (SELECT 1 FROM unnest(statistics_v2.work_tables()) t WHERE pg_relation_size(t::regclass) > 8 * 8192) THEN
        EXECUTE 'TRUNCATE ' || array_to_string(statistics_v2.work_tables(), ', ');
        EXECUTE 'ANALYZE ' || array_to_string(statistics_v2.work_tables(), ', ');
    END IF;
    DELETE FROM pg_temp.incoming_reports;
    DELETE FROM pg_temp.incoming_observations;
END $$;

-- The state of every report listed in pg_temp.folded_reports (reporting_unit, form, period) as known at
-- `known_at`: one row per observation the report gives, with the vintage that gives it.
CREATE FUNCTION statistics_v2.fold_reports(known_at timestamptz)
RETURNS TABLE (indicator text, period text, area text, dimensions jsonb, value numeric, status text,
               confidentiality text, comment text, event_id text, reporting_unit text, form text, revision integer,
               recorded_time timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH ordered AS (
        SELECT s.event_id, s.reporting_unit, s.form, s.period, s.action, s.revision, s.recorded_time,
               row_number() OVER (PARTITION BY s.reporting_unit, s.form, s.period
                                  ORDER BY s.revision, s.recorded_time, s.event_id) AS seq
        FROM pg_temp.folded_reports f
        JOIN statistics_v2.submissions s
          ON s.reporting_unit = f.reporting_unit AND s.form = f.form AND s.period = f.period
        WHERE s.recorded_time <= known_at
    ), last_reset AS (
        SELECT o.reporting_unit, o.form, o.period, max(o.seq) AS seq FROM ordered o
        WHERE o.action IN ('replace', 'delete') GROUP BY 1, 2, 3
    ), listed AS (
        SELECT DISTINCT ON (o.reporting_unit, o.form, o.period, v.indicator, v.area, v.dimensions)
               v.indicator, v.period, v.area, v.dimensions, v.value, v.status, v.confidentiality, v.comment,
               v.event_id, o.reporting_unit, o.form, o.revision, o.recorded_time, o.seq
        FROM ordered o JOIN statistics_v2.observation_vintages v ON v.event_id = o.event_id
        ORDER BY o.reporting_unit, o.form, o.period, v.indicator, v.area, v.dimensions, o.seq DESC
    )
    SELECT l.indicator, l.period, l.area, l.dimensions, l.value, l.status, l.confidentiality, l.comment, l.event_id,
           l.reporting_unit, l.form, l.revision, l.recorded_time
    FROM listed l
    LEFT JOIN last_reset r ON r.reporting_unit = l.reporting_unit AND r.form = l.form AND r.period = l.period
    WHERE r.seq IS NULL OR r.seq <= l.seq;
END $$;

-- Applies the reports staged in pg_temp.incoming_reports/incoming_observations, set-wise. Refuses, without writing
-- anything of them, the reports with an observation whose indicator is not defined, whose period type is not one
-- of the indicator's, whose dimensions are not the indicator's, whose code is not valid in its classification at
-- the period's reference date, or that repeats another observation of the report; returns one row per refused
-- report (its ordinal in the batch) with the reason. Reports already applied (same event id) change nothing.
-- Then updates observations_current for the reports the batch touched and recomputes roll-ups and re-expressions
-- of what changed (refresh_derived).
CREATE FUNCTION statistics_v2.apply_reports() RETURNS TABLE (ordinal integer, reason text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    -- The first copy of an event in the batch counts; copies of events already applied are left out.
    DELETE FROM pg_temp.incoming_reports r
    USING (SELECT e.event_id, min(e.ordinal) AS first FROM pg_temp.incoming_reports e
           GROUP BY e.event_id HAVING count(*) > 1) d
    WHERE r.event_id = d.event_id AND r.ordinal > d.first;
    DELETE FROM pg_temp.incoming_reports r
    WHERE EXISTS (SELECT 1 FROM statistics_v2.submissions s WHERE s.event_id = r.event_id);
    DELETE FROM pg_temp.staged_periods;
    INSERT INTO pg_temp.staged_periods
    SELECT DISTINCT r.period, statistics_v2.period_reference_date(r.period), statistics_v2.period_type(r.period)
    FROM pg_temp.incoming_reports r;
    PERFORM statistics_v2.analyze_if_large('pg_temp.incoming_reports');
    PERFORM statistics_v2.analyze_if_large('pg_temp.incoming_observations');

    DELETE FROM pg_temp.refused_reports;
    INSERT INTO pg_temp.refused_reports
    SELECT DISTINCT ON (p.ordinal) p.ordinal, p.reason
    FROM (
        SELECT r.ordinal, 1 AS check_order, o.position, ''::text AS dimension,
               format('event %s: observations[%s].indicator %s is not defined', r.event_id, o.position, o.indicator)
                   AS reason
        FROM pg_temp.incoming_observations o JOIN pg_temp.incoming_reports r USING (event_id)
        WHERE NOT EXISTS (SELECT 1 FROM statistics_v2.indicator_rules i WHERE i.code = o.indicator)
        UNION ALL
        SELECT r.ordinal, 2, o.position, '',
               format('event %s: period %s is not a periodicity of indicator %s (it has %s)',
                      r.event_id, r.period, o.indicator, array_to_string(i.periodicities, ', '))
        FROM pg_temp.incoming_observations o JOIN pg_temp.incoming_reports r USING (event_id)
        JOIN pg_temp.staged_periods p ON p.period = r.period
        JOIN statistics_v2.indicator_rules i ON i.code = o.indicator
        WHERE NOT p.period_type = ANY (i.periodicities)
        UNION ALL
        -- Names compared as sorted arrays, once per distinct (indicator, names) of the batch.
        SELECT r.ordinal, 3, o.position, '',
               format('event %s: observations[%s].dimensions has %s, but indicator %s has dimensions %s',
                      r.event_id, o.position, c.given, o.indicator, c.expected)
        FROM (
            SELECT x.indicator, x.dimension_names, x.given, x.expected FROM (
                SELECT d.indicator, d.dimension_names,
                       ARRAY(SELECT n FROM unnest(string_to_array(d.dimension_names, E'\x1f')) n ORDER BY 1) AS given,
                       ARRAY(SELECT jsonb_object_keys(i.dimensions) ORDER BY 1) AS expected
                FROM (SELECT DISTINCT indicator, dimension_names FROM pg_temp.incoming_observations) d
                JOIN statistics_v2.indicator_rules i ON i.code = d.indicator
            ) x WHERE x.given <> x.expected
        ) c
        JOIN pg_temp.incoming_observations o ON o.indicator = c.indicator AND o.dimension_names = c.dimension_names
        JOIN pg_temp.incoming_reports r USING (event_id)
        UNION ALL
        SELECT r.ordinal, 4, o.position, d.key,
               format('event %s: observations[%s].dimensions.%s code %s is not valid in %s for period %s (reference date %s)',
                      r.event_id, o.position, d.key, d.value, i.dimensions->>d.key, r.period, p.reference_date)
        FROM pg_temp.incoming_observations o JOIN pg_temp.incoming_reports r USING (event_id)
        JOIN pg_temp.staged_periods p ON p.period = r.period
        JOIN statistics_v2.indicator_rules i ON i.code = o.indicator
        CROSS JOIN LATERAL (
            SELECT 'area'::text AS key, o.area AS value
            UNION ALL
            SELECT e.key, e.value FROM jsonb_each_text(o.dimensions::jsonb) e WHERE o.dimensions <> '{}'
        ) d
        WHERE i.dimensions ? d.key
          AND NOT EXISTS (
            SELECT 1 FROM statistics_v2.items_current k
            WHERE k.classification = i.dimensions->>d.key AND k.code = d.value
              AND k.valid_from <= p.reference_date AND (k.valid_to IS NULL OR k.valid_to > p.reference_date))
        UNION ALL
        SELECT r.ordinal, 5, o.position, '',
               format('event %s: observations[%s] repeats observations[%s] (indicator %s, area %s, dimensions %s)',
                      r.event_id, o.position, first.position, o.indicator, o.area, o.dimensions)
        FROM pg_temp.incoming_observations o JOIN pg_temp.incoming_reports r USING (event_id)
        JOIN pg_temp.incoming_observations first
          ON first.event_id = o.event_id AND first.indicator = o.indicator AND first.area = o.area
         AND first.dimensions::jsonb = o.dimensions::jsonb AND first.position < o.position
    ) p
    ORDER BY p.ordinal, p.check_order, p.position, p.dimension;

    DELETE FROM pg_temp.incoming_reports r WHERE EXISTS (SELECT 1 FROM pg_temp.refused_reports x WHERE x.ordinal = r.ordinal);

    INSERT INTO statistics_v2.submissions
    SELECT r.event_id, r.reporting_unit, r.form, r.period, r.action, r.revision, r.supersedes,
           r.recorded_time::timestamptz, r.kafka_topic, r.kafka_partition, r.kafka_offset
    FROM pg_temp.incoming_reports r;

    INSERT INTO statistics_v2.observation_vintages
    SELECT r.event_id, o.indicator, r.period, o.area, o.dimensions::jsonb,
           CASE o.unit_multiplier WHEN 0 THEN trim_scale(o.value::numeric)
                ELSE trim_scale(o.value::numeric * power(10::numeric, o.unit_multiplier)) END, o.unit_multiplier, o.status,
           o.confidentiality, o.comment
    FROM pg_temp.incoming_observations o JOIN pg_temp.incoming_reports r USING (event_id);

    -- While the derived tables are deferred (a version catching up, 007_catch_up.sql), the vintages are all.
    IF NOT statistics_v2.derivation_pending() THEN
        PERFORM statistics_v2.prepare_folded_reports();
        INSERT INTO pg_temp.folded_reports
        SELECT DISTINCT r.reporting_unit, r.form, r.period FROM pg_temp.incoming_reports r;
        PERFORM statistics_v2.refresh_reports();
    END IF;
    RETURN QUERY SELECT x.ordinal, x.reason FROM pg_temp.refused_reports x ORDER BY x.ordinal;
END $$;

-- The reports (reporting unit, form, period) that refresh_reports folds again.
CREATE FUNCTION statistics_v2.prepare_folded_reports() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM statistics_v2.prepare_work_tables();
    DELETE FROM pg_temp.folded_reports;
END $$;

-- observations_current for the reports listed in pg_temp.folded_reports (those of the batch just written, or all
-- of them when the derived tables are built in one pass): each such report is folded again from its vintages, and each observation it gives or gave takes the latest value over every report that
-- gives it. Only keys whose current row belonged to a touched report need the other reports read again; a key
-- held by another report is decided by comparing with that report's current row.
CREATE FUNCTION statistics_v2.refresh_reports(every_report boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM statistics_v2.prepare_touched_keys();
    PERFORM statistics_v2.analyze_if_large('pg_temp.folded_reports');

    -- Every key the touched reports give now or gave before.
    DELETE FROM pg_temp.report_state;
    INSERT INTO pg_temp.report_state SELECT * FROM statistics_v2.fold_reports('infinity');
    -- With every report folded into empty tables (derive_all) nothing current can be released, and the touched
    -- keys are all current keys (below).
    IF NOT every_report THEN
        INSERT INTO pg_temp.touched_keys
        SELECT DISTINCT v.indicator, v.period, v.area, v.dimensions
        FROM pg_temp.folded_reports f
        JOIN statistics_v2.submissions s
          ON s.reporting_unit = f.reporting_unit AND s.form = f.form AND s.period = f.period
        JOIN statistics_v2.observation_vintages v ON v.event_id = s.event_id;
        PERFORM statistics_v2.analyze_if_large('pg_temp.touched_keys');

        -- Keys whose current row a touched report held: dropped, and their other reports folded again as
        -- candidates.
        DELETE FROM pg_temp.released_keys;
        WITH released AS (
            DELETE FROM statistics_v2.observations_current c
            USING pg_temp.touched_keys t, pg_temp.folded_reports f
            WHERE c.indicator = t.indicator AND c.period = t.period AND c.area = t.area AND c.dimensions = t.dimensions
              AND c.reporting_unit = f.reporting_unit AND c.form = f.form AND c.period = f.period
            RETURNING c.indicator, c.period, c.area, c.dimensions
        )
        INSERT INTO pg_temp.released_keys SELECT * FROM released;
        IF EXISTS (SELECT 1 FROM pg_temp.released_keys) THEN
            DELETE FROM pg_temp.folded_reports;
            INSERT INTO pg_temp.folded_reports
            SELECT DISTINCT s.reporting_unit, s.form, s.period
            FROM pg_temp.released_keys k
            JOIN statistics_v2.observation_vintages v
              ON v.indicator = k.indicator AND v.area = k.area AND v.period = k.period AND v.dimensions = k.dimensions
            JOIN statistics_v2.submissions s ON s.event_id = v.event_id
            WHERE NOT EXISTS (SELECT 1 FROM pg_temp.incoming_reports r WHERE r.reporting_unit = s.reporting_unit
                              AND r.form = s.form AND r.period = s.period);
            INSERT INTO pg_temp.report_state
            SELECT f.* FROM statistics_v2.fold_reports('infinity') f
            JOIN pg_temp.released_keys k
              ON k.indicator = f.indicator AND k.period = f.period AND k.area = f.area AND k.dimensions = f.dimensions;
        END IF;
    END IF;

    -- The latest candidate per key wins, unless the current row (another report's) is later still.
    -- Into empty tables a plain insert: arbitrating conflicts row by row cost half of derive_all.
    EXECUTE format($q$
    INSERT INTO statistics_v2.observations_current AS c
    -- In key order (the primary key's), so that a large batch appends to the index; the area's level is a join
    -- (hashed when the batch is large), the latest item row valid at the reference date.
    SELECT DISTINCT ON (s.indicator, s.area, s.period, s.dimensions)
           s.indicator, s.period, s.area, s.dimensions, s.value, s.status, s.confidentiality, s.comment, s.event_id,
           s.reporting_unit, s.form, s.revision, s.recorded_time, i.level, i.parent
    FROM pg_temp.report_state s
    CROSS JOIN LATERAL (SELECT statistics_v2.period_reference_date(s.period) AS reference_date) p
    LEFT JOIN statistics_v2.items_current i
      ON i.classification = 'vn-admin-units' AND i.code = s.area
     AND i.valid_from <= p.reference_date AND (i.valid_to IS NULL OR i.valid_to > p.reference_date)
    ORDER BY s.indicator, s.area, s.period, s.dimensions, s.recorded_time DESC, s.event_id DESC, i.valid_from DESC
    %s
    $q$, CASE WHEN every_report THEN '' ELSE $c$
    ON CONFLICT (indicator, area, period, dimensions) DO UPDATE
    SET value = excluded.value, status = excluded.status, confidentiality = excluded.confidentiality,
        comment = excluded.comment, event_id = excluded.event_id, reporting_unit = excluded.reporting_unit,
        form = excluded.form, revision = excluded.revision, recorded_time = excluded.recorded_time,
        area_level = excluded.area_level, parent = excluded.parent
    WHERE (excluded.recorded_time, excluded.event_id) > (c.recorded_time, c.event_id)
    $c$ END);
    IF every_report THEN
        INSERT INTO pg_temp.touched_keys
        SELECT o.indicator, o.period, o.area, o.dimensions FROM statistics_v2.observations_current o;
        PERFORM statistics_v2.analyze_if_large('pg_temp.touched_keys');
    END IF;

    PERFORM statistics_v2.refresh_derived('statistics_v2');
END $$;
