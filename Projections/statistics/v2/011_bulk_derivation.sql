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
    -- The statements prepared here were planned for the whole dataset (and re-expression's without sorting):
    -- the batches that follow prepare their own.
    DEALLOCATE ALL;
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

-- Runs `statement` (with `argument` as $1, an integer, when given) as a prepared statement of the session, prepared at
-- its first use under a name made from its text. The routines below are dynamic SQL (they read and write the schema
-- they are given: the version's own for live tables, pg_temp for as-of answers), and PostgreSQL plans a dynamic
-- statement again at every call: in a live batch that was most of deriving (13 of 19 ms in psql, BENCHMARKS.md
-- session 15). A prepared statement is planned once and again only when a table it reads changes or is analyzed, as
-- the routines' static statements are; its name names its text, so a changed text is a new statement.
CREATE FUNCTION statistics_v2.run_prepared(statement text, argument integer DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    prepared text := 'statistics_v2_' || md5(statement);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_prepared_statements p WHERE p.name = prepared) THEN
        EXECUTE format('PREPARE %I %s AS %s', prepared, CASE WHEN argument IS NULL THEN '' ELSE '(integer)' END, statement);
    END IF;
    IF argument IS NULL THEN
        EXECUTE format('EXECUTE %I', prepared);
    ELSE
        EXECUTE format('EXECUTE %I (%s)', prepared, argument);
    END IF;
END $$;

-- refresh_rollups (004), refresh_withheld (010) and refresh_reexpression (005) as they were, each statement run
-- through run_prepared instead of EXECUTE.
CREATE OR REPLACE FUNCTION statistics_v2.refresh_rollups(s text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    d integer;
BEGIN
    PERFORM statistics_v2.prepare_work_tables();
    DELETE FROM pg_temp.affected_nodes;
    PERFORM statistics_v2.run_prepared(format($q$
        INSERT INTO pg_temp.touched_keys
        SELECT DISTINCT r.code, t.period, t.area, t.dimensions
        FROM pg_temp.touched_keys t JOIN %1$I.indicator_rules r ON r.weight_indicator = t.indicator
    $q$, s));
    PERFORM statistics_v2.run_prepared(format($q$
        INSERT INTO pg_temp.affected_nodes
        WITH RECURSIVE start AS (
            SELECT DISTINCT t.indicator, t.period, t.area, t.dimensions,
                   statistics_v2.period_reference_date(t.period) AS reference_date
            FROM pg_temp.touched_keys t
            JOIN %1$I.indicator_rules r ON r.code = t.indicator AND r.aggregation <> 'none'
        ), up AS (
            SELECT st.indicator, st.period, st.area, st.dimensions, st.reference_date FROM start st
            UNION
            SELECT u.indicator, u.period, i.parent, u.dimensions, u.reference_date
            FROM up u JOIN %1$I.items_current i
              ON i.classification = 'vn-admin-units' AND i.code = u.area
             AND i.valid_from <= u.reference_date AND (i.valid_to IS NULL OR i.valid_to > u.reference_date)
            WHERE i.parent IS NOT NULL
        )
        SELECT u.indicator, u.period, u.area, u.dimensions, l.level, l.parent, coalesce(l.level, 0), u.reference_date
        FROM up u
        LEFT JOIN LATERAL (
            SELECT i.level, i.parent FROM %1$I.items_current i
            WHERE i.classification = 'vn-admin-units' AND i.code = u.area
              AND i.valid_from <= u.reference_date AND (i.valid_to IS NULL OR i.valid_to > u.reference_date)
            ORDER BY i.valid_from DESC LIMIT 1
        ) l ON true
    $q$, s));
    PERFORM statistics_v2.analyze_if_large('pg_temp.affected_nodes');
    PERFORM statistics_v2.run_prepared(format($q$
        DELETE FROM %1$I.indicator_rollups x USING pg_temp.affected_nodes a
        WHERE x.indicator = a.indicator AND x.period = a.period AND x.area = a.area AND x.dimensions = a.dimensions
    $q$, s));
    FOR d IN SELECT DISTINCT a.depth FROM pg_temp.affected_nodes a ORDER BY 1 DESC LOOP
        -- The nodes of this depth without a reported value, each with the values of its children: reported
        -- children through observations_children, aggregated ones through rollups_children (a child's parent is
        -- stored with its value, from the hierarchy at the period's reference date). Children without a value
        -- are not inputs.
        PERFORM statistics_v2.run_prepared(format($q$
            INSERT INTO %1$I.indicator_rollups
            WITH nodes AS (
                SELECT a.indicator, a.period, a.area, a.dimensions, a.area_level, a.parent, r.aggregation,
                       r.weight_indicator
                FROM pg_temp.affected_nodes a
                JOIN %1$I.indicator_rules r ON r.code = a.indicator
                WHERE a.depth = $1
                  AND NOT EXISTS (SELECT 1 FROM %1$I.observations_current o
                                  WHERE o.indicator = a.indicator AND o.area = a.area AND o.period = a.period
                                    AND o.dimensions = a.dimensions)
            ), child_values AS (
                SELECT n.indicator, n.period, n.area, n.dimensions, n.area_level, n.parent, n.aggregation, o.value,
                       w.value AS weight, statistics_v2.status_rank(o.status) AS status,
                       statistics_v2.confidentiality_rank(o.confidentiality) AS conf
                FROM nodes n
                JOIN %1$I.observations_current o
                  ON o.indicator = n.indicator AND o.period = n.period AND o.parent = n.area
                 AND o.dimensions = n.dimensions
                LEFT JOIN %1$I.observations_current w
                  ON w.indicator = n.weight_indicator AND w.area = o.area AND w.period = n.period
                 AND w.dimensions = n.dimensions
                UNION ALL
                SELECT n.indicator, n.period, n.area, n.dimensions, n.area_level, n.parent, n.aggregation, x.value,
                       x.weight, statistics_v2.status_rank(x.status), statistics_v2.confidentiality_rank(x.confidentiality)
                FROM nodes n
                JOIN %1$I.indicator_rollups x
                  ON x.indicator = n.indicator AND x.period = n.period AND x.parent = n.area
                 AND x.dimensions = n.dimensions
            )
            SELECT v.indicator, v.period, v.area, v.dimensions, v.area_level,
                   CASE
                       WHEN bool_or(v.value IS NULL) THEN NULL
                       WHEN v.aggregation = 'sum' THEN sum(v.value)
                       WHEN bool_or(v.weight IS NULL) OR sum(v.weight) = 0 THEN NULL
                       ELSE sum(v.value * v.weight) / sum(v.weight)
                   END,
                   CASE WHEN bool_or(v.weight IS NULL) THEN NULL ELSE sum(v.weight) END,
                   statistics_v2.status_of_rank(CASE
                       WHEN bool_or(v.value IS NULL) THEN statistics_v2.status_rank('missing')
                       WHEN v.aggregation = 'weighted-mean' AND (bool_or(v.weight IS NULL) OR sum(v.weight) = 0)
                           THEN statistics_v2.status_rank('missing')
                       ELSE max(v.status)
                   END),
                   statistics_v2.confidentiality_of_rank(max(v.conf)), count(*)::integer, v.parent
            FROM child_values v
            GROUP BY v.indicator, v.period, v.area, v.dimensions, v.area_level, v.parent, v.aggregation
        $q$, s), d);
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION statistics_v2.refresh_withheld(s text, every boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    groups text := CASE WHEN every THEN format($g$
        SELECT indicator, period, dimensions FROM %1$I.observations_current WHERE confidentiality <> 'free'
        UNION SELECT indicator, period, dimensions FROM %1$I.indicator_rollups WHERE confidentiality <> 'free'
    $g$, s) ELSE 'SELECT DISTINCT indicator, period, dimensions FROM pg_temp.touched_keys' END;
BEGIN
    IF to_regclass(format('%I.withheld_above', s)) IS NULL THEN
        RETURN;
    END IF;
    IF every THEN
        EXECUTE format('TRUNCATE %1$I.withheld_above', s);
    ELSE
        PERFORM statistics_v2.run_prepared(format($q$
            DELETE FROM %1$I.withheld_above x USING (%2$s) g
            WHERE x.indicator = g.indicator AND x.period = g.period AND x.dimensions = g.dimensions
        $q$, s, groups));
    END IF;
    PERFORM statistics_v2.run_prepared(format($q$
        INSERT INTO %1$I.withheld_above (indicator, area, period, dimensions)
        WITH RECURSIVE groups AS (%2$s), up (indicator, period, area, dimensions) AS (
            SELECT o.indicator, o.period, o.parent, o.dimensions FROM groups g
            JOIN %1$I.observations_current o
              ON o.indicator = g.indicator AND o.period = g.period AND o.dimensions = g.dimensions
            WHERE o.confidentiality <> 'free' AND o.parent IS NOT NULL
            UNION
            SELECT r.indicator, r.period, r.parent, r.dimensions FROM groups g
            JOIN %1$I.indicator_rollups r
              ON r.indicator = g.indicator AND r.period = g.period AND r.dimensions = g.dimensions
            WHERE r.confidentiality <> 'free' AND r.parent IS NOT NULL
          UNION
            SELECT u.indicator, u.period, p.parent, u.dimensions FROM up u
            CROSS JOIN LATERAL (
                (SELECT o.parent FROM %1$I.observations_current o
                 WHERE o.indicator = u.indicator AND o.area = u.area AND o.period = u.period AND o.dimensions = u.dimensions)
                UNION ALL
                (SELECT r.parent FROM %1$I.indicator_rollups r
                 WHERE r.indicator = u.indicator AND r.area = u.area AND r.period = u.period AND r.dimensions = u.dimensions)
                LIMIT 1) p
            WHERE p.parent IS NOT NULL
        )
        SELECT DISTINCT u.indicator, u.area, u.period, u.dimensions FROM up u
        JOIN %1$I.indicator_rules r ON r.code = u.indicator AND r.aggregation <> 'none'
    $q$, s, groups));
END $$;

CREATE OR REPLACE FUNCTION statistics_v2.refresh_reexpression(s text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    d integer;
BEGIN
    PERFORM statistics_v2.prepare_work_tables();
    DELETE FROM pg_temp.affected_targets;
    PERFORM statistics_v2.run_prepared(format($q$
        INSERT INTO pg_temp.affected_targets
        WITH RECURSIVE mapped AS (
            SELECT DISTINCT a.indicator, m.source_version, m.target_version, a.period, m.target_code, a.dimensions,
                   t.valid_from AS target_start
            FROM pg_temp.affected_nodes a
            JOIN %1$I.indicator_rules r ON r.code = a.indicator AND r.aggregation = 'sum'
            JOIN %1$I.admin_mappings m ON m.source_code = a.area
            JOIN %1$I.version_spans f
              ON f.version = m.source_version AND a.reference_date >= f.valid_from AND a.reference_date < f.valid_to
            JOIN %1$I.version_spans t ON t.version = m.target_version
        ), up AS (
            SELECT * FROM mapped
            UNION
            SELECT u.indicator, u.source_version, u.target_version, u.period, i.parent, u.dimensions, u.target_start
            FROM up u JOIN %1$I.items_current i
              ON i.classification = 'vn-admin-units' AND i.version = u.target_version AND i.code = u.target_code
             AND i.valid_from <= u.target_start AND (i.valid_to IS NULL OR i.valid_to > u.target_start)
            WHERE i.parent IS NOT NULL
        )
        SELECT u.indicator, u.source_version, u.target_version, u.period, u.target_code, u.dimensions, l.level,
               coalesce(l.level, 0), u.target_start
        FROM up u
        LEFT JOIN LATERAL (
            SELECT i.level FROM %1$I.items_current i
            WHERE i.classification = 'vn-admin-units' AND i.version = u.target_version AND i.code = u.target_code
              AND i.valid_from <= u.target_start AND (i.valid_to IS NULL OR i.valid_to > u.target_start)
            ORDER BY i.valid_from DESC LIMIT 1
        ) l ON true
    $q$, s));
    PERFORM statistics_v2.analyze_if_large('pg_temp.affected_targets');
    PERFORM statistics_v2.run_prepared(format($q$
        DELETE FROM %1$I.reexpressed_values x USING pg_temp.affected_targets t
        WHERE x.indicator = t.indicator AND x.to_version = t.to_version AND x.period = t.period
          AND x.area = t.area AND x.dimensions = t.dimensions AND x.from_version = t.from_version
    $q$, s));
    -- Targets that sources are mapped into: their mapping rows first (with statistics), so that every source
    -- value is then one index lookup by its whole key.
    DELETE FROM pg_temp.target_sources;
    PERFORM statistics_v2.run_prepared(format($q$
        INSERT INTO pg_temp.target_sources
        SELECT t.indicator, t.from_version, t.to_version, t.period, t.area, t.dimensions, t.area_level,
               m.source_code, m.relation, m.weight, m.exact
        FROM pg_temp.affected_targets t
        JOIN %1$I.admin_mappings m
          ON m.source_version = t.from_version AND m.target_version = t.to_version AND m.target_code = t.area
    $q$, s));
    PERFORM statistics_v2.analyze_if_large('pg_temp.target_sources');
    PERFORM statistics_v2.run_prepared(format($q$
        INSERT INTO %1$I.reexpressed_values
        WITH source_values AS (
            SELECT m.indicator, m.from_version, m.to_version, m.period, m.area, m.dimensions, m.area_level,
                   m.relation, m.weight, m.exact, o.value, o.status, o.confidentiality
            FROM pg_temp.target_sources m
            JOIN %1$I.observations_current o
              ON o.indicator = m.indicator AND o.area = m.source_code AND o.period = m.period
             AND o.dimensions = m.dimensions
            UNION ALL
            SELECT m.indicator, m.from_version, m.to_version, m.period, m.area, m.dimensions, m.area_level,
                   m.relation, m.weight, m.exact, x.value, x.status, x.confidentiality
            FROM pg_temp.target_sources m
            JOIN %1$I.indicator_rollups x
              ON x.indicator = m.indicator AND x.area = m.source_code AND x.period = m.period
             AND x.dimensions = m.dimensions
        )
        SELECT v.indicator, v.from_version, v.to_version, v.period, v.area, v.dimensions, v.area_level,
               CASE WHEN bool_or(v.relation = 'part' AND v.weight IS NULL) OR bool_or(v.value IS NULL) THEN NULL
                    ELSE sum(v.value * coalesce(v.weight, 1)) END,
               statistics_v2.status_of_rank(greatest(max(statistics_v2.status_rank(v.status)),
                   CASE WHEN bool_or(v.relation = 'part' AND NOT v.exact) THEN statistics_v2.status_rank('estimated')
                        ELSE statistics_v2.status_rank('normal') END)),
               statistics_v2.confidentiality_of_rank(max(statistics_v2.confidentiality_rank(v.confidentiality))),
               bool_or(v.relation = 'part' AND v.weight IS NULL), count(*)::integer, 'mapped'
        FROM source_values v
        GROUP BY v.indicator, v.from_version, v.to_version, v.period, v.area, v.dimensions, v.area_level
    $q$, s));
    -- Every other target: the sum of its children in the target version, deepest first (children listed first,
    -- with statistics, so that each child's value is one index lookup by its whole key).
    FOR d IN SELECT DISTINCT t.depth FROM pg_temp.affected_targets t ORDER BY 1 DESC LOOP
        DELETE FROM pg_temp.target_children;
        PERFORM statistics_v2.run_prepared(format($q$
            INSERT INTO pg_temp.target_children
            SELECT t.indicator, t.from_version, t.to_version, t.period, t.area, t.dimensions, t.area_level, h.code
            FROM pg_temp.affected_targets t
            JOIN %1$I.items_current h
              ON h.classification = 'vn-admin-units' AND h.version = t.to_version AND h.parent = t.area
             AND h.valid_from <= t.target_start AND (h.valid_to IS NULL OR h.valid_to > t.target_start)
            WHERE t.depth = $1
              AND NOT EXISTS (SELECT 1 FROM %1$I.reexpressed_values x
                              WHERE x.indicator = t.indicator AND x.to_version = t.to_version
                                AND x.area = t.area AND x.period = t.period AND x.dimensions = t.dimensions
                                AND x.from_version = t.from_version)
        $q$, s), d);
        PERFORM statistics_v2.analyze_if_large('pg_temp.target_children');
        PERFORM statistics_v2.run_prepared(format($q$
            INSERT INTO %1$I.reexpressed_values
            SELECT t.indicator, t.from_version, t.to_version, t.period, t.area, t.dimensions, t.area_level,
                   CASE WHEN bool_or(c.value IS NULL) THEN NULL ELSE sum(c.value) END,
                   statistics_v2.status_of_rank(max(statistics_v2.status_rank(c.status))),
                   statistics_v2.confidentiality_of_rank(max(statistics_v2.confidentiality_rank(c.confidentiality))),
                   bool_or(c.non_comparable), count(*)::integer, 'aggregated'
            FROM pg_temp.target_children t
            JOIN %1$I.reexpressed_values c
              ON c.indicator = t.indicator AND c.to_version = t.to_version AND c.area = t.child
             AND c.period = t.period AND c.dimensions = t.dimensions AND c.from_version = t.from_version
            GROUP BY t.indicator, t.from_version, t.to_version, t.period, t.area, t.dimensions, t.area_level
        $q$, s));
    END LOOP;
END $$;
