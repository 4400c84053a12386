-- Re-expression of an indicator's history in a newer classification version, through a published
-- correspondence (see docs/statistics.md).

-- The values of `indicator_code` for periods of `source_version` of vn-admin-units, expressed in the codes of
-- `target_version`: each target is the sum of what is mapped into it (a whole source counts fully, a part by its
-- weight). A target that receives a part without a weight cannot be computed: its value is NULL and it is marked
-- non-comparable. Only additive (sum) indicators can be re-expressed; the status and confidentiality of a target
-- are the weakest and strictest of its sources.
CREATE FUNCTION statistics_v1.indicator_reexpressed(
    indicator_code text, from_version text, to_version text, known_at timestamptz DEFAULT 'infinity')
RETURNS TABLE (period text, area text, dimensions jsonb, value numeric, status text, confidentiality text,
               non_comparable boolean, sources integer)
LANGUAGE plpgsql AS $$
DECLARE
    rule text;
BEGIN
    SELECT i.aggregation INTO rule FROM statistics_v1.indicators i
    WHERE i.code = indicator_code AND i.recorded_from <= known_at AND (i.recorded_to IS NULL OR i.recorded_to > known_at);
    IF rule IS DISTINCT FROM 'sum' THEN
        RAISE EXCEPTION 'indicator % has aggregation %; only sum indicators can be re-expressed', indicator_code,
            coalesce(rule, 'undefined');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM statistics_v1.correspondences c
                   WHERE c.source_classification = 'vn-admin-units' AND c.source_version = from_version
                     AND c.target_classification = 'vn-admin-units' AND c.target_version = to_version
                     AND c.recorded_from <= known_at AND (c.recorded_to IS NULL OR c.recorded_to > known_at)) THEN
        RAISE EXCEPTION 'no correspondence from vn-admin-units % to % is published (as known at %)',
            from_version, to_version, known_at;
    END IF;
    DROP TABLE IF EXISTS pg_temp.reexpression_sources;
    CREATE TEMP TABLE reexpression_sources ON COMMIT DROP AS
    SELECT * FROM statistics_v1.indicator_values(indicator_code, known_at);
    RETURN QUERY
    WITH source_interval AS (
        SELECT min(i.valid_from) AS valid_from, max(coalesce(i.valid_to, 'infinity'::date)) AS valid_to
        FROM statistics_v1.items_known_at(known_at) i
        WHERE i.classification = 'vn-admin-units' AND i.version = from_version
    ), source_periods AS (
        -- Periods whose reference date falls in the source version's interval.
        SELECT DISTINCT v.period FROM reexpression_sources v, source_interval s
        WHERE statistics_v1.period_reference_date(v.period) >= s.valid_from
          AND statistics_v1.period_reference_date(v.period) < s.valid_to
    ), mapping AS (
        SELECT c.source_code, c.target_code, c.relation, c.weight FROM statistics_v1.correspondences c
        WHERE c.source_classification = 'vn-admin-units' AND c.source_version = from_version
          AND c.target_classification = 'vn-admin-units' AND c.target_version = to_version
          AND c.recorded_from <= known_at AND (c.recorded_to IS NULL OR c.recorded_to > known_at)
    )
    SELECT v.period, m.target_code, v.dimensions,
           CASE WHEN bool_or(m.relation = 'part' AND m.weight IS NULL) OR bool_or(v.value IS NULL) THEN NULL
                ELSE sum(v.value * coalesce(m.weight, 1)) END,
           statistics_v1.status_of_rank(max(statistics_v1.status_rank(v.status))),
           statistics_v1.confidentiality_of_rank(max(statistics_v1.confidentiality_rank(v.confidentiality))),
           bool_or(m.relation = 'part' AND m.weight IS NULL),
           count(*)::integer
    FROM reexpression_sources v
    JOIN source_periods p ON p.period = v.period
    JOIN mapping m ON m.source_code = v.area
    GROUP BY v.period, m.target_code, v.dimensions
    ORDER BY 1, 2, 3::text;
END $$;

-- An indicator's whole history in the codes of one classification version: periods of that version as they
-- are, earlier periods re-expressed through the correspondence from the version in force then.
CREATE FUNCTION statistics_v1.indicator_in_version(
    indicator_code text, in_version text, known_at timestamptz DEFAULT 'infinity')
RETURNS TABLE (period text, area text, dimensions jsonb, value numeric, status text, confidentiality text,
               non_comparable boolean, origin text)
LANGUAGE plpgsql AS $$
DECLARE
    target_start date;
    earlier record;
BEGIN
    SELECT min(i.valid_from) INTO target_start FROM statistics_v1.items_known_at(known_at) i
    WHERE i.classification = 'vn-admin-units' AND i.version = in_version;
    IF target_start IS NULL THEN
        RAISE EXCEPTION 'version % of vn-admin-units is not published (as known at %)', in_version, known_at;
    END IF;
    CREATE TEMP TABLE IF NOT EXISTS pg_temp.in_version (
        period text, area text, dimensions jsonb, value numeric, status text, confidentiality text,
        non_comparable boolean, origin text) ON COMMIT DROP;
    TRUNCATE pg_temp.in_version;
    INSERT INTO pg_temp.in_version
    SELECT v.period, v.area, v.dimensions, v.value, v.status, v.confidentiality, false, v.origin
    FROM statistics_v1.indicator_values(indicator_code, known_at) v
    WHERE statistics_v1.period_reference_date(v.period) >= target_start;
    FOR earlier IN
        SELECT DISTINCT c.source_version FROM statistics_v1.correspondences c
        WHERE c.source_classification = 'vn-admin-units' AND c.target_classification = 'vn-admin-units'
          AND c.target_version = in_version
          AND c.recorded_from <= known_at AND (c.recorded_to IS NULL OR c.recorded_to > known_at)
        ORDER BY 1
    LOOP
        INSERT INTO pg_temp.in_version
        SELECT r.period, r.area, r.dimensions, r.value, r.status, r.confidentiality, r.non_comparable, 're-expressed'
        FROM statistics_v1.indicator_reexpressed(indicator_code, earlier.source_version, in_version, known_at) r
        WHERE statistics_v1.period_reference_date(r.period) < target_start;
    END LOOP;
    RETURN QUERY SELECT * FROM pg_temp.in_version x ORDER BY x.period, x.area, x.dimensions::text;
END $$;
