-- The oracle of the statistics projection's materialized tables (docs/statistics.md, "Materialized tables"):
-- version 1's query-time definitions, which compute current values and roll-ups from all vintages at once, and a
-- query-time re-expression by the rules of version 2 (mapped targets, then the target version's own hierarchy,
-- parts estimated unless exact). Loaded by the tests into schema `reference` beside statistics_v2, whose base
-- tables (submissions, vintages, master data) they read; never part of the product.
CREATE SCHEMA reference;

CREATE FUNCTION reference.observations_as_of(known_at timestamptz)
RETURNS TABLE (indicator text, period text, area text, dimensions jsonb, value numeric, status text,
               confidentiality text, comment text, event_id text, reporting_unit text, revision integer,
               recorded_time timestamptz)
LANGUAGE sql STABLE AS $$
    WITH ordered AS (
        SELECT s.*, row_number() OVER (PARTITION BY s.reporting_unit, s.form, s.period
                                       ORDER BY s.revision, s.recorded_time, s.event_id) AS seq
        FROM statistics_v2.submissions s WHERE s.recorded_time <= known_at
    ), last_reset AS (
        SELECT o.reporting_unit, o.form, o.period, max(o.seq) AS seq FROM ordered o
        WHERE o.action IN ('replace', 'delete') GROUP BY 1, 2, 3
    ), listed AS (
        SELECT v.*, o.reporting_unit, o.form, o.revision, o.recorded_time, o.seq,
               row_number() OVER (PARTITION BY o.reporting_unit, o.form, o.period, v.indicator, v.area, v.dimensions
                                  ORDER BY o.seq DESC) AS latest
        FROM statistics_v2.observation_vintages v JOIN ordered o USING (event_id)
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

CREATE FUNCTION reference.indicator_values(indicator_code text, known_at timestamptz)
RETURNS TABLE (period text, area text, area_level integer, dimensions jsonb, value numeric, status text,
               confidentiality text, origin text, inputs integer)
LANGUAGE plpgsql AS $$
DECLARE
    definition record;
    depth integer;
BEGIN
    SELECT * INTO definition FROM statistics_v2.indicators i
    WHERE i.code = indicator_code AND i.recorded_from <= known_at AND (i.recorded_to IS NULL OR i.recorded_to > known_at);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'indicator % is not defined (as known at %)', indicator_code, known_at;
    END IF;

    -- The fold over all submissions, once, for the indicator and its weight.
    DROP TABLE IF EXISTS pg_temp.rollup_observations;
    CREATE TEMP TABLE rollup_observations ON COMMIT DROP AS
    SELECT * FROM reference.observations_as_of(known_at) o
    WHERE o.indicator = indicator_code OR o.indicator = definition.weight_indicator;
    DROP TABLE IF EXISTS pg_temp.rollup_values;
    DROP TABLE IF EXISTS pg_temp.rollup_hierarchy;
    CREATE TEMP TABLE rollup_values ON COMMIT DROP AS
    SELECT o.period, o.area, o.dimensions, o.value, w.value AS weight,
           statistics_v2.status_rank(o.status) AS status, statistics_v2.confidentiality_rank(o.confidentiality) AS conf,
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
    SELECT i.code, i.parent, i.level, i.valid_from, i.valid_to FROM statistics_v2.items_known_at(known_at) i
    WHERE i.classification = 'vn-admin-units';
    CREATE TEMP TABLE rollup_hierarchy ON COMMIT DROP AS
    SELECT p.period, i.code, i.parent, i.level
    FROM (SELECT DISTINCT r.period, statistics_v2.period_reference_date(r.period) AS reference_date FROM rollup_values r) p
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
                       WHEN bool_or(v.value IS NULL) THEN statistics_v2.status_rank('missing')
                       WHEN definition.aggregation = 'weighted-mean' AND (bool_or(v.weight IS NULL) OR sum(v.weight) = 0)
                           THEN statistics_v2.status_rank('missing')
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
    SELECT v.period, v.area, h.level, v.dimensions, v.value, statistics_v2.status_of_rank(v.status),
           statistics_v2.confidentiality_of_rank(v.conf), v.origin, v.inputs
    FROM rollup_values v LEFT JOIN rollup_hierarchy h ON h.period = v.period AND h.code = v.area
    ORDER BY v.period, h.level NULLS LAST, v.area, v.dimensions::text;
END $$;

-- The values of `indicator_code` for periods of `from_version`, in the codes of `to_version`, by the rules of
-- statistics_v2.reexpressed_values, computed at once from reference.indicator_values.
CREATE FUNCTION reference.indicator_reexpressed(
    indicator_code text, from_version text, to_version text, known_at timestamptz)
RETURNS TABLE (period text, area text, dimensions jsonb, value numeric, status text, confidentiality text,
               non_comparable boolean, sources integer, area_level integer, origin text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    depth integer;
    target_start date;
BEGIN
    DROP TABLE IF EXISTS pg_temp.ref_sources, pg_temp.ref_targets, pg_temp.ref_target_items;
    CREATE TEMP TABLE ref_sources ON COMMIT DROP AS
    SELECT v.* FROM reference.indicator_values(indicator_code, known_at) v,
         (SELECT min(i.valid_from) AS valid_from, max(coalesce(i.valid_to, 'infinity'::date)) AS valid_to
          FROM statistics_v2.items_known_at(known_at) i
          WHERE i.classification = 'vn-admin-units' AND i.version = from_version) s
    WHERE statistics_v2.period_reference_date(v.period) >= s.valid_from
      AND statistics_v2.period_reference_date(v.period) < s.valid_to;
    SELECT min(i.valid_from) INTO target_start FROM statistics_v2.items_known_at(known_at) i
    WHERE i.classification = 'vn-admin-units' AND i.version = to_version;
    CREATE TEMP TABLE ref_target_items ON COMMIT DROP AS
    SELECT i.code, i.parent, i.level FROM statistics_v2.items_known_at(known_at) i
    WHERE i.classification = 'vn-admin-units' AND i.version = to_version
      AND i.valid_from <= target_start AND (i.valid_to IS NULL OR i.valid_to > target_start);
    CREATE TEMP TABLE ref_targets ON COMMIT DROP AS
    SELECT v.period, c.target_code AS area, v.dimensions,
           CASE WHEN bool_or(c.relation = 'part' AND c.weight IS NULL) OR bool_or(v.value IS NULL) THEN NULL
                ELSE sum(v.value * coalesce(c.weight, 1)) END AS value,
           greatest(max(statistics_v2.status_rank(v.status)),
                    CASE WHEN bool_or(c.relation = 'part' AND NOT c.exact) THEN 2 ELSE 1 END) AS status,
           max(statistics_v2.confidentiality_rank(v.confidentiality)) AS conf,
           bool_or(c.relation = 'part' AND c.weight IS NULL) AS non_comparable, count(*)::integer AS sources,
           'mapped'::text AS origin
    FROM ref_sources v
    JOIN statistics_v2.correspondences c
      ON c.source_classification = 'vn-admin-units' AND c.source_version = from_version
     AND c.target_classification = 'vn-admin-units' AND c.target_version = to_version
     AND c.recorded_from <= known_at AND (c.recorded_to IS NULL OR c.recorded_to > known_at)
     AND c.source_code = v.area
    GROUP BY v.period, c.target_code, v.dimensions;
    FOR depth IN SELECT DISTINCT t.level FROM ref_target_items t WHERE t.level > 1 ORDER BY 1 DESC LOOP
        INSERT INTO ref_targets
        SELECT x.period, h.parent, x.dimensions, CASE WHEN bool_or(x.value IS NULL) THEN NULL ELSE sum(x.value) END,
               max(x.status), max(x.conf), bool_or(x.non_comparable), count(*)::integer, 'aggregated'
        FROM ref_targets x JOIN ref_target_items h ON h.code = x.area AND h.level = depth
        WHERE h.parent IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM ref_targets p
                          WHERE p.period = x.period AND p.area = h.parent AND p.dimensions = x.dimensions)
        GROUP BY x.period, h.parent, x.dimensions;
    END LOOP;
    RETURN QUERY
    SELECT t.period, t.area, t.dimensions, t.value, statistics_v2.status_of_rank(t.status),
           statistics_v2.confidentiality_of_rank(t.conf), t.non_comparable, t.sources, h.level, t.origin
    FROM ref_targets t LEFT JOIN ref_target_items h ON h.code = t.area;
END $$;
