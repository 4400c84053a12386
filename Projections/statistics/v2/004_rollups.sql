-- Roll-ups along the vn-admin-units hierarchy valid at each period's reference date, materialized per batch.
--
-- The routines below read their inputs from, and write their outputs to, the schema `s` they are given:
-- statistics_v2 for the live tables, pg_temp for an answer as known at an earlier time (006_as_of.sql), so that
-- both are computed by one implementation. Inputs: s.observations_current, s.items_current, s.indicator_rules,
-- s.admin_mappings; outputs: s.indicator_rollups, s.reexpressed_values. What changed is in pg_temp.touched_keys.

-- The value of every area above a reported value (or above another roll-up) that has no reported value itself,
-- by the indicator's rule: `sum`, or `weighted-mean` (Σ value × weight / Σ weight; a reported child's weight is
-- the weight indicator's reported value for the same period, area and dimensions, an aggregate's weight the sum
-- of its children's). An aggregate takes the weakest status and the strictest confidentiality of its children and
-- is missing (NULL) when a child is missing or, for a weighted mean, a child has no weight or the weights add
-- up to 0. Indicators with rule `none` have no roll-ups.
CREATE TABLE statistics_v2.indicator_rollups (
    indicator       text    NOT NULL,
    period          text    NOT NULL,
    area            text    NOT NULL,
    dimensions      jsonb   NOT NULL,
    area_level      integer,
    value           numeric,
    weight          numeric,
    status          text    NOT NULL,
    confidentiality text    NOT NULL,
    inputs          integer NOT NULL,
    -- The area's parent at the period's reference date (NULL at the top): the roll-up above reads this row
    -- through rollups_children.
    parent          text,
    PRIMARY KEY (indicator, area, period, dimensions)
);
CREATE INDEX rollups_children ON statistics_v2.indicator_rollups (indicator, period, parent, dimensions);

-- Every value of every indicator, reported or rolled up: what readers query (one index range per indicator and
-- period, or per indicator and area).
CREATE VIEW statistics_v2.indicator_table AS
SELECT o.indicator, o.period, o.area, o.area_level, o.dimensions, o.value, o.status, o.confidentiality,
       'reported'::text AS origin, 1 AS inputs
FROM statistics_v2.observations_current o
UNION ALL
SELECT r.indicator, r.period, r.area, r.area_level, r.dimensions, r.value, r.status, r.confidentiality,
       'aggregated'::text, r.inputs
FROM statistics_v2.indicator_rollups r;

-- After a change of current values (pg_temp.touched_keys): roll-ups, then re-expressions.
CREATE FUNCTION statistics_v2.refresh_derived(s text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM statistics_v2.refresh_rollups(s);
    PERFORM statistics_v2.refresh_reexpression(s);
END $$;

-- Recomputes the roll-ups that pg_temp.touched_keys can reach: for every touched key of an aggregated indicator
-- (and of every weighted mean whose weight it is), the key's own area and all its ancestors at the period's
-- reference date are dropped and aggregated again from their children, deepest level first, so each node reads
-- children that are already final. Leaves those nodes in pg_temp.affected_nodes for refresh_reexpression.
CREATE FUNCTION statistics_v2.refresh_rollups(s text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    d integer;
BEGIN
    PERFORM statistics_v2.prepare_work_tables();
    DELETE FROM pg_temp.affected_nodes;
    EXECUTE format($q$
        INSERT INTO pg_temp.touched_keys
        SELECT DISTINCT r.code, t.period, t.area, t.dimensions
        FROM pg_temp.touched_keys t JOIN %1$I.indicator_rules r ON r.weight_indicator = t.indicator
    $q$, s);
    EXECUTE format($q$
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
    $q$, s);
    PERFORM statistics_v2.analyze_if_large('pg_temp.affected_nodes');
    EXECUTE format($q$
        DELETE FROM %1$I.indicator_rollups x USING pg_temp.affected_nodes a
        WHERE x.indicator = a.indicator AND x.period = a.period AND x.area = a.area AND x.dimensions = a.dimensions
    $q$, s);
    FOR d IN SELECT DISTINCT a.depth FROM pg_temp.affected_nodes a ORDER BY 1 DESC LOOP
        -- The nodes of this depth without a reported value, each with the values of its children: reported
        -- children through observations_children, aggregated ones through rollups_children (a child's parent is
        -- stored with its value, from the hierarchy at the period's reference date). Children without a value
        -- are not inputs.
        EXECUTE format($q$
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
        $q$, s) USING d;
    END LOOP;
END $$;

-- An indicator's table as known at `known_at`: the reported values, and for every area above them in the
-- hierarchy valid on each period's reference date, the aggregate by the indicator's rule (origin 'aggregated',
-- `inputs` children). Now (the default): read from the materialized tables; earlier: computed from the vintages
-- as known then (006_as_of.sql).
CREATE FUNCTION statistics_v2.indicator_values(indicator_code text, known_at timestamptz DEFAULT 'infinity')
RETURNS TABLE (period text, area text, area_level integer, dimensions jsonb, value numeric, status text,
               confidentiality text, origin text, inputs integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    s text := 'statistics_v2';
BEGIN
    IF NOT EXISTS (SELECT 1 FROM statistics_v2.indicators i
                   WHERE i.code = indicator_code AND i.recorded_from <= known_at
                     AND (i.recorded_to IS NULL OR i.recorded_to > known_at)) THEN
        RAISE EXCEPTION 'indicator % is not defined (as known at %)', indicator_code, known_at;
    END IF;
    IF known_at < 'infinity' THEN
        PERFORM statistics_v2.prepare_as_of(known_at, ARRAY[indicator_code]);
        PERFORM statistics_v2.refresh_rollups('pg_temp');
        s := 'pg_temp';
    END IF;
    RETURN QUERY EXECUTE format($q$
        SELECT v.period, v.area, v.area_level, v.dimensions, v.value, v.status, v.confidentiality, v.origin, v.inputs
        FROM (
            SELECT o.period, o.area, o.area_level, o.dimensions, o.value, o.status, o.confidentiality,
                   'reported'::text AS origin, 1 AS inputs
            FROM %1$I.observations_current o WHERE o.indicator = $1
            UNION ALL
            SELECT r.period, r.area, r.area_level, r.dimensions, r.value, r.status, r.confidentiality,
                   'aggregated'::text, r.inputs
            FROM %1$I.indicator_rollups r WHERE r.indicator = $1
        ) v
        ORDER BY v.period, v.area_level NULLS LAST, v.area, v.dimensions::text
    $q$, s) USING indicator_code;
END $$;
