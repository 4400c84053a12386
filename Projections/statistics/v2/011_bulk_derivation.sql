-- Catching up in bulk (docs/statistics.md, "Catching up"). A version that is catching up has no readers, so:
--
-- 1. its vintages are written without their indexes, which derive_all builds once at the end (an index kept up
--    to date row by row cost more than the heap: 263 of 624 ms for a batch of 15 000 observations went into the
--    vintages' insert, most of it their two indexes);
-- 2. derive_all derives the tables set-wise over the whole dataset instead of through the per-batch routines'
--    per-key paths: each area's level and parent looked up once per (period, area) instead of per key; the
--    roll-up walk started from the distinct parents of the current values (every node a roll-up can have)
--    instead of from every key, whose own area holds a reported value and is never a roll-up; the current values
--    inserted without their indexes. The roll-up and re-expression statements themselves are the per-batch
--    ones, so both paths compute every value with one implementation; MaterializedTablesTests compares them with
--    the oracle and with each other.
--
-- Measured on the 600 000-observation national dataset (BENCHMARKS.md, session 15): derive_all 43 s before.

-- Indexes that a table does without while it is filled in bulk: their definitions, to build them again.
CREATE TABLE statistics_v2.deferred_indexes (
    name       text PRIMARY KEY,
    table_name regclass NOT NULL,
    -- The statement that builds it again: ALTER TABLE … ADD CONSTRAINT for a constraint's index, else CREATE INDEX.
    definition text NOT NULL
);

-- Drops every index of `t`, keeping each definition in deferred_indexes.
CREATE FUNCTION statistics_v2.defer_indexes(t regclass) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    x record;
BEGIN
    FOR x IN
        SELECT i.indexrelid::regclass AS index_name, c.conname,
               CASE WHEN c.oid IS NULL THEN pg_get_indexdef(i.indexrelid)
                    ELSE format('ALTER TABLE %s ADD CONSTRAINT %I %s', t, c.conname, pg_get_constraintdef(c.oid))
               END AS definition
        FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = t
        WHERE i.indrelid = t
        ORDER BY i.indexrelid::regclass::text
    LOOP
        INSERT INTO statistics_v2.deferred_indexes VALUES (x.index_name::text, t, x.definition);
        IF x.conname IS NULL THEN
            EXECUTE format('DROP INDEX %s', x.index_name);
        ELSE
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', t, x.conname);
        END IF;
    END LOOP;
END $$;

-- Builds the deferred indexes of `t` again.
CREATE FUNCTION statistics_v2.restore_indexes(t regclass) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    x record;
BEGIN
    FOR x IN SELECT d.name, d.definition FROM statistics_v2.deferred_indexes d WHERE d.table_name = t ORDER BY 1 LOOP
        EXECUTE x.definition;
        DELETE FROM statistics_v2.deferred_indexes d WHERE d.name = x.name;
    END LOOP;
END $$;

-- A version that has not derived its tables yet (a new database or a rebuild: this migration runs before its first
-- batch) writes its vintages without indexes. Nothing reads them before derive_all: apply_reports finds events
-- already applied through submissions, and no reader queries a version before it is activated.
DO $$
BEGIN
    IF statistics_v2.derivation_pending() THEN
        PERFORM statistics_v2.defer_indexes('statistics_v2.observation_vintages');
    END IF;
END $$;

-- observations_current from every report at once (the tables are empty): the same fold as refresh_reports, each
-- key's latest report winning, with each area's level and parent taken from pg_temp.derive_areas.
CREATE FUNCTION statistics_v2.derive_current_values() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    nestloop text := current_setting('enable_nestloop');
BEGIN
    PERFORM statistics_v2.prepare_folded_reports();
    INSERT INTO pg_temp.folded_reports SELECT DISTINCT s.reporting_unit, s.form, s.period FROM statistics_v2.submissions s;
    ANALYZE pg_temp.folded_reports;
    -- Inserted into the bare table, then indexed: maintaining two indexes row by row cost 4.7 s of 11.6.
    PERFORM statistics_v2.defer_indexes('statistics_v2.observations_current');
    -- Every report's submissions are hashed, not probed one report at a time (1.3 s for 200 000 reports).
    PERFORM set_config('enable_nestloop', 'off', true);
    INSERT INTO statistics_v2.observations_current
    SELECT DISTINCT ON (f.indicator, f.area, f.period, f.dimensions)
           f.indicator, f.period, f.area, f.dimensions, f.value, f.status, f.confidentiality, f.comment, f.event_id,
           f.reporting_unit, f.form, f.revision, f.recorded_time, a.level, a.parent
    FROM statistics_v2.fold_reports('infinity') f
    LEFT JOIN pg_temp.derive_areas a ON a.period = f.period AND a.area = f.area
    ORDER BY f.indicator, f.area, f.period, f.dimensions, f.recorded_time DESC, f.event_id DESC;
    PERFORM set_config('enable_nestloop', nestloop, true);
    PERFORM statistics_v2.restore_indexes('statistics_v2.observations_current');
    ANALYZE statistics_v2.observations_current;
END $$;

-- Derives every table from the vintages if that is still pending; returns whether it did.
CREATE OR REPLACE FUNCTION statistics_v2.derive_all() RETURNS boolean
-- Sorts and hashes of a whole dataset in memory rather than in temporary files.
LANGUAGE plpgsql SET work_mem = '256MB' AS $$
DECLARE
    sort text := current_setting('enable_sort');
BEGIN
    IF NOT (SELECT d.pending FROM statistics_v2.derivation d FOR UPDATE) THEN
        RETURN false;
    END IF;
    TRUNCATE statistics_v2.observations_current, statistics_v2.indicator_rollups, statistics_v2.reexpressed_values,
        statistics_v2.withheld_above;
    PERFORM statistics_v2.prepare_report_staging();
    PERFORM statistics_v2.restore_indexes('statistics_v2.observation_vintages');

    -- Every period's reference date, and every area's level and parent at it (the latest item row valid then).
    CREATE TEMP TABLE derive_periods ON COMMIT DROP AS
    SELECT p.period, statistics_v2.period_reference_date(p.period) AS reference_date
    FROM (SELECT DISTINCT s.period FROM statistics_v2.submissions s) p;
    CREATE TEMP TABLE derive_areas ON COMMIT DROP AS
    SELECT DISTINCT ON (p.period, i.code) p.period, i.code AS area, i.level, i.parent
    FROM pg_temp.derive_periods p
    JOIN statistics_v2.items_current i
      ON i.classification = 'vn-admin-units' AND i.valid_from <= p.reference_date
     AND (i.valid_to IS NULL OR i.valid_to > p.reference_date)
    ORDER BY p.period, i.code, i.valid_from DESC;
    ANALYZE pg_temp.derive_periods, pg_temp.derive_areas;

    PERFORM statistics_v2.derive_current_values();

    -- Roll-ups: every node a roll-up can have is the parent of a current value or above one, and the walk starts
    -- from those (a key's own area holds a reported value and is never a roll-up).
    PERFORM statistics_v2.prepare_touched_keys();
    INSERT INTO pg_temp.touched_keys
    SELECT DISTINCT o.indicator, o.period, o.parent, o.dimensions
    FROM statistics_v2.observations_current o WHERE o.parent IS NOT NULL;
    PERFORM statistics_v2.analyze_if_large('pg_temp.touched_keys');
    PERFORM statistics_v2.refresh_rollups('statistics_v2');
    PERFORM statistics_v2.refresh_withheld('statistics_v2', every => true);
    ANALYZE statistics_v2.indicator_rollups;

    -- Re-expression: refresh_rollups left the roll-up nodes in pg_temp.affected_nodes; every reported value is
    -- a source too.
    INSERT INTO pg_temp.affected_nodes (indicator, period, area, dimensions, area_level, parent, depth, reference_date)
    SELECT o.indicator, o.period, o.area, o.dimensions, o.area_level, o.parent, coalesce(o.area_level, 0),
           p.reference_date
    FROM statistics_v2.observations_current o JOIN pg_temp.derive_periods p ON p.period = o.period;
    ANALYZE pg_temp.affected_nodes;
    -- The planner underestimates the joins of every value with the correspondences by three orders of magnitude
    -- and sorts half a million rows to make them distinct (2.4 s) where hashing takes a fifth of that.
    PERFORM set_config('enable_sort', 'off', true);
    PERFORM statistics_v2.refresh_reexpression('statistics_v2');
    PERFORM set_config('enable_sort', sort, true);

    -- The tables went from empty to everything: the batches that follow are planned with their real sizes.
    ANALYZE statistics_v2.observations_current, statistics_v2.indicator_rollups, statistics_v2.reexpressed_values,
        statistics_v2.observation_vintages, statistics_v2.submissions, statistics_v2.withheld_above;
    UPDATE statistics_v2.derivation SET pending = false;
    RETURN true;
END $$;

-- The checks of apply_reports (003), each run once per distinct value where a value decides it, into
-- pg_temp.refused_reports: one row per refused report (its ordinal in the batch) with the first reason, in the
-- order of the checks. 003's version compared the dimension names of every observation with two arrays built per
-- row (the planner pushed the comparison into the join: 62 ms of a batch of 15 000 observations) and probed the
-- validity of every code of every observation (70 ms); each distinct (indicator, names) and (classification, code,
-- reference date) is now decided once.
CREATE FUNCTION statistics_v2.refuse_reports() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM pg_temp.refused_reports;
    INSERT INTO pg_temp.refused_reports
    WITH wrong_names AS MATERIALIZED (
        SELECT x.indicator, x.dimension_names, x.given, x.expected FROM (
            SELECT d.indicator, d.dimension_names,
                   ARRAY(SELECT n FROM unnest(string_to_array(d.dimension_names, E'\x1f')) n ORDER BY 1) AS given,
                   ARRAY(SELECT jsonb_object_keys(i.dimensions) ORDER BY 1) AS expected
            FROM (SELECT DISTINCT indicator, dimension_names FROM pg_temp.incoming_observations) d
            JOIN statistics_v2.indicator_rules i ON i.code = d.indicator
        ) x WHERE x.given <> x.expected
    ), codes AS MATERIALIZED (
        -- Every coded dimension of every observation (area included), with its classification and the reference
        -- date of the report's period.
        SELECT r.ordinal, r.event_id, r.period, o.position, d.key, d.value, i.dimensions->>d.key AS classification,
               p.reference_date
        FROM pg_temp.incoming_observations o JOIN pg_temp.incoming_reports r USING (event_id)
        JOIN pg_temp.staged_periods p ON p.period = r.period
        JOIN statistics_v2.indicator_rules i ON i.code = o.indicator
        CROSS JOIN LATERAL (
            SELECT 'area'::text AS key, o.area AS value
            UNION ALL
            SELECT e.key, e.value FROM jsonb_each_text(o.dimensions::jsonb) e WHERE o.dimensions <> '{}'
        ) d
        WHERE i.dimensions ? d.key
    ), invalid_codes AS MATERIALIZED (
        SELECT c.classification, c.value, c.reference_date
        FROM (SELECT DISTINCT classification, value, reference_date FROM codes) c
        WHERE NOT EXISTS (
            SELECT 1 FROM statistics_v2.items_current k
            WHERE k.classification = c.classification AND k.code = c.value
              AND k.valid_from <= c.reference_date AND (k.valid_to IS NULL OR k.valid_to > c.reference_date))
    )
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
        SELECT r.ordinal, 3, o.position, '',
               format('event %s: observations[%s].dimensions has %s, but indicator %s has dimensions %s',
                      r.event_id, o.position, c.given, o.indicator, c.expected)
        FROM wrong_names c
        JOIN pg_temp.incoming_observations o ON o.indicator = c.indicator AND o.dimension_names = c.dimension_names
        JOIN pg_temp.incoming_reports r USING (event_id)
        UNION ALL
        SELECT c.ordinal, 4, c.position, c.key,
               format('event %s: observations[%s].dimensions.%s code %s is not valid in %s for period %s (reference date %s)',
                      c.event_id, c.position, c.key, c.value, c.classification, c.period, c.reference_date)
        FROM codes c JOIN invalid_codes x
          ON x.classification = c.classification AND x.value = c.value AND x.reference_date = c.reference_date
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
END $$;

-- apply_reports as in 003, with its checks in refuse_reports.
CREATE OR REPLACE FUNCTION statistics_v2.apply_reports() RETURNS TABLE (ordinal integer, reason text)
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

    PERFORM statistics_v2.refuse_reports();

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

-- prepare_report_staging as in 003, but truncating (and analyzing again) only the work tables that have grown past
-- 8 pages, not all fourteen once one has: a batch that catches up fills four of them, and emptying and analyzing
-- all fourteen took 60 ms of every 450 ms batch of 15 000 observations.
CREATE OR REPLACE FUNCTION statistics_v2.prepare_report_staging() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    grown text;
BEGIN
    PERFORM statistics_v2.prepare_work_tables();
    SELECT string_agg(t, ', ') INTO grown FROM unnest(statistics_v2.work_tables()) t
    WHERE pg_relation_size(t::regclass) > 8 * 8192;
    IF grown IS NOT NULL THEN
        EXECUTE 'TRUNCATE ' || grown;
        EXECUTE 'ANALYZE ' || grown;
    END IF;
    DELETE FROM pg_temp.incoming_reports;
    DELETE FROM pg_temp.incoming_observations;
END $$;
