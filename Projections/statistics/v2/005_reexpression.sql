-- Re-expression of every sum indicator in every version of vn-admin-units that a correspondence reaches,
-- materialized per batch (docs/statistics.md, "Re-expression").
--
-- For a correspondence from version F to version T, and every period whose reference date lies in F's interval:
-- a target that sources are mapped into is the sum of its sources' values (reported or rolled up), a `whole`
-- source fully and a `part` by its weight ('mapped'); every other target of T's own hierarchy (as it is on T's
-- first day) that has re-expressed children is their sum ('aggregated'), so a commune-level correspondence alone
-- gives T's provinces and the nation. A target receiving a part without a weight is non-comparable (no value), and
-- so is every aggregate above it. Status and confidentiality are the weakest and strictest of the inputs; a value
-- built from a part whose weight was not declared exact is at least 'estimated'.
CREATE TABLE statistics_v2.reexpressed_values (
    indicator       text    NOT NULL,
    from_version    text    NOT NULL,
    to_version      text    NOT NULL,
    period          text    NOT NULL,
    area            text    NOT NULL,
    dimensions      jsonb   NOT NULL,
    area_level      integer,
    value           numeric,
    status          text    NOT NULL,
    confidentiality text    NOT NULL,
    non_comparable  boolean NOT NULL,
    sources         integer NOT NULL,
    origin          text    NOT NULL CHECK (origin IN ('mapped', 'aggregated')),
    PRIMARY KEY (indicator, to_version, area, period, dimensions, from_version)
);

-- Every version of vn-admin-units with its span (first day, and the day after its last; 'infinity' while open):
-- which periods each correspondence re-expresses. Kept by classification_changed (and, as known at an earlier
-- time, by prepare_as_of in pg_temp) so that a batch does not aggregate the items for it.
CREATE TABLE statistics_v2.version_spans (
    version    text PRIMARY KEY,
    valid_from date NOT NULL,
    valid_to   date NOT NULL
);

CREATE FUNCTION statistics_v2.refresh_version_spans(s text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DELETE FROM %1$I.version_spans', s);
    EXECUTE format($q$
        INSERT INTO %1$I.version_spans
        SELECT i.version, min(i.valid_from), max(coalesce(i.valid_to, 'infinity'::date))
        FROM %1$I.items_current i WHERE i.classification = 'vn-admin-units' GROUP BY i.version
    $q$, s);
END $$;

-- Recomputes the re-expressions that the nodes in pg_temp.affected_nodes (values that changed, from
-- refresh_rollups) reach: the targets their areas map into and those targets' ancestors in the target version.
CREATE FUNCTION statistics_v2.refresh_reexpression(s text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    d integer;
BEGIN
    PERFORM statistics_v2.prepare_work_tables();
    DELETE FROM pg_temp.affected_targets;
    EXECUTE format($q$
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
    $q$, s);
    PERFORM statistics_v2.analyze_if_large('pg_temp.affected_targets');
    EXECUTE format($q$
        DELETE FROM %1$I.reexpressed_values x USING pg_temp.affected_targets t
        WHERE x.indicator = t.indicator AND x.to_version = t.to_version AND x.period = t.period
          AND x.area = t.area AND x.dimensions = t.dimensions AND x.from_version = t.from_version
    $q$, s);
    -- Targets that sources are mapped into: their mapping rows first (with statistics), so that every source
    -- value is then one index lookup by its whole key.
    DELETE FROM pg_temp.target_sources;
    EXECUTE format($q$
        INSERT INTO pg_temp.target_sources
        SELECT t.indicator, t.from_version, t.to_version, t.period, t.area, t.dimensions, t.area_level,
               m.source_code, m.relation, m.weight, m.exact
        FROM pg_temp.affected_targets t
        JOIN %1$I.admin_mappings m
          ON m.source_version = t.from_version AND m.target_version = t.to_version AND m.target_code = t.area
    $q$, s);
    PERFORM statistics_v2.analyze_if_large('pg_temp.target_sources');
    EXECUTE format($q$
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
    $q$, s);
    -- Every other target: the sum of its children in the target version, deepest first (children listed first,
    -- with statistics, so that each child's value is one index lookup by its whole key).
    FOR d IN SELECT DISTINCT t.depth FROM pg_temp.affected_targets t ORDER BY 1 DESC LOOP
        DELETE FROM pg_temp.target_children;
        EXECUTE format($q$
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
        $q$, s) USING d;
        PERFORM statistics_v2.analyze_if_large('pg_temp.target_children');
        EXECUTE format($q$
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
        $q$, s);
    END LOOP;
END $$;

-- Rebuilds the re-expression from `from_version` to `to_version` (after a correspondence or hierarchy change):
-- every value of a sum indicator in a period of the source version is taken as changed.
CREATE FUNCTION statistics_v2.recompute_reexpression(from_version text, to_version text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM statistics_v2.reexpressed_values x
    WHERE x.from_version = recompute_reexpression.from_version AND x.to_version = recompute_reexpression.to_version;
    PERFORM statistics_v2.prepare_work_tables();
    DELETE FROM pg_temp.affected_nodes;
    INSERT INTO pg_temp.affected_nodes (indicator, period, area, dimensions, area_level, depth, reference_date)
    SELECT v.indicator, v.period, v.area, v.dimensions, v.area_level, coalesce(v.area_level, 0),
           statistics_v2.period_reference_date(v.period)
    FROM statistics_v2.indicator_table v
    JOIN statistics_v2.indicator_rules r ON r.code = v.indicator AND r.aggregation = 'sum'
    WHERE EXISTS (SELECT 1 FROM statistics_v2.admin_mappings m
                  WHERE m.source_version = recompute_reexpression.from_version
                    AND m.target_version = recompute_reexpression.to_version AND m.source_code = v.area);
    PERFORM statistics_v2.analyze_if_large('pg_temp.affected_nodes');
    PERFORM statistics_v2.refresh_reexpression('statistics_v2');
END $$;

-- The values of `indicator_code` for periods of `from_version` of vn-admin-units, expressed in the codes of
-- `to_version` (see the table above), as known at `known_at`.
CREATE FUNCTION statistics_v2.indicator_reexpressed(
    indicator_code text, from_version text, to_version text, known_at timestamptz DEFAULT 'infinity')
RETURNS TABLE (period text, area text, dimensions jsonb, value numeric, status text, confidentiality text,
               non_comparable boolean, sources integer, area_level integer, origin text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    rule text;
    s text := 'statistics_v2';
BEGIN
    SELECT i.aggregation INTO rule FROM statistics_v2.indicators i
    WHERE i.code = indicator_code AND i.recorded_from <= known_at AND (i.recorded_to IS NULL OR i.recorded_to > known_at);
    IF rule IS DISTINCT FROM 'sum' THEN
        RAISE EXCEPTION 'indicator % has aggregation %; only sum indicators can be re-expressed', indicator_code,
            coalesce(rule, 'undefined');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM statistics_v2.correspondences c
                   WHERE c.source_classification = 'vn-admin-units' AND c.source_version = from_version
                     AND c.target_classification = 'vn-admin-units' AND c.target_version = to_version
                     AND c.recorded_from <= known_at AND (c.recorded_to IS NULL OR c.recorded_to > known_at)) THEN
        RAISE EXCEPTION 'no correspondence from vn-admin-units % to % is published (as known at %)',
            from_version, to_version, known_at;
    END IF;
    IF known_at < 'infinity' THEN
        PERFORM statistics_v2.prepare_as_of(known_at, ARRAY[indicator_code]);
        PERFORM statistics_v2.refresh_derived('pg_temp');
        s := 'pg_temp';
    END IF;
    RETURN QUERY EXECUTE format($q$
        SELECT x.period, x.area, x.dimensions, x.value, x.status, x.confidentiality, x.non_comparable, x.sources,
               x.area_level, x.origin
        FROM %1$I.reexpressed_values x
        WHERE x.indicator = $1 AND x.from_version = $2 AND x.to_version = $3
        ORDER BY 1, x.area_level NULLS LAST, 2, 3::text
    $q$, s) USING indicator_code, from_version, to_version;
END $$;

-- An indicator's whole history in the codes of one version: periods of that version as they are (reported and
-- rolled up), earlier periods re-expressed through the correspondences into it.
CREATE FUNCTION statistics_v2.indicator_in_version(
    indicator_code text, in_version text, known_at timestamptz DEFAULT 'infinity')
RETURNS TABLE (period text, area text, dimensions jsonb, value numeric, status text, confidentiality text,
               non_comparable boolean, origin text, area_level integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    target_start date;
BEGIN
    SELECT min(i.valid_from) INTO target_start FROM statistics_v2.items_known_at(known_at) i
    WHERE i.classification = 'vn-admin-units' AND i.version = in_version;
    IF target_start IS NULL THEN
        RAISE EXCEPTION 'version % of vn-admin-units is not published (as known at %)', in_version, known_at;
    END IF;
    PERFORM statistics_v2.prepare_work_tables();
    DELETE FROM pg_temp.in_version_rows;
    INSERT INTO pg_temp.in_version_rows
    SELECT v.period, v.area, v.dimensions, v.value, v.status, v.confidentiality, false, v.origin, v.area_level
    FROM statistics_v2.indicator_values(indicator_code, known_at) v
    WHERE statistics_v2.period_reference_date(v.period) >= target_start;
    IF EXISTS (SELECT 1 FROM statistics_v2.indicators i
               WHERE i.code = indicator_code AND i.aggregation = 'sum' AND i.recorded_from <= known_at
                 AND (i.recorded_to IS NULL OR i.recorded_to > known_at)) THEN
        INSERT INTO pg_temp.in_version_rows
        SELECT r.period, r.area, r.dimensions, r.value, r.status, r.confidentiality, r.non_comparable,
               're-expressed', r.area_level
        FROM (SELECT DISTINCT c.source_version FROM statistics_v2.correspondences c
              WHERE c.source_classification = 'vn-admin-units' AND c.target_classification = 'vn-admin-units'
                AND c.target_version = in_version
                AND c.recorded_from <= known_at AND (c.recorded_to IS NULL OR c.recorded_to > known_at)) earlier
        CROSS JOIN LATERAL statistics_v2.indicator_reexpressed(indicator_code, earlier.source_version, in_version,
                                                                known_at) r
        WHERE statistics_v2.period_reference_date(r.period) < target_start;
    END IF;
    RETURN QUERY SELECT * FROM pg_temp.in_version_rows x ORDER BY x.period, x.area, x.dimensions::text;
END $$;
