-- Checks the ingestion gateway runs before it writes anything (docs/gateway.md): the same rules submit_reports
-- enforces when it applies a report, answered as rows instead of an exception, one row per problem.

-- Report data objects (the `data` of vn.gso.report.submitted v2), as a JSON array. `report` is the index in that
-- array, `pointer` a JSON pointer into the report's data.
CREATE FUNCTION statistics_v1.report_problems(reports jsonb)
RETURNS TABLE (report integer, pointer text, problem text, message text)
LANGUAGE sql STABLE
-- JIT compilation took ~2.7 s per call on these plans (their row estimates are high); they run on tiny inputs.
SET jit = off
AS $$
    WITH observations AS (
        SELECT (r.n - 1)::integer AS report, (o.n - 1)::integer AS position, r.data->>'period' AS period,
               o.value->>'indicator' AS indicator, coalesce(o.value->'dimensions', '{}'::jsonb) AS dimensions
        FROM jsonb_array_elements(reports) WITH ORDINALITY AS r(data, n)
        CROSS JOIN LATERAL jsonb_array_elements(coalesce(r.data->'observations', '[]'::jsonb)) WITH ORDINALITY AS o(value, n)
    ), defined AS (
        SELECT o.*, i.periodicities, i.dimensions AS classifications
        FROM observations o
        LEFT JOIN statistics_v1.indicators i ON i.code = o.indicator AND i.recorded_to IS NULL
    ), items AS (
        SELECT * FROM statistics_v1.items_known_at('infinity')
    )
    SELECT report, format('/observations/%s/indicator', position), 'master-data',
           format('indicator %s is not defined', indicator)
    FROM defined WHERE periodicities IS NULL
    UNION ALL
    SELECT report, '/period', 'invalid-period',
           format('period %s is not a periodicity of indicator %s (it has %s)', period, indicator,
                  array_to_string(periodicities, ', '))
    FROM defined
    WHERE periodicities IS NOT NULL AND NOT coalesce(statistics_v1.period_type(period) = ANY (periodicities), false)
    UNION ALL
    SELECT report, format('/observations/%s/dimensions', position), 'master-data',
           format('dimensions are %s, but indicator %s has %s', ARRAY(SELECT jsonb_object_keys(dimensions) ORDER BY 1),
                  indicator, ARRAY(SELECT jsonb_object_keys(classifications) ORDER BY 1))
    FROM defined
    WHERE periodicities IS NOT NULL
      AND ARRAY(SELECT jsonb_object_keys(dimensions) ORDER BY 1) <> ARRAY(SELECT jsonb_object_keys(classifications) ORDER BY 1)
    UNION ALL
    SELECT d.report, format('/observations/%s/dimensions/%s', d.position, c.key), 'master-data',
           CASE
               WHEN NOT EXISTS (SELECT 1 FROM items k WHERE k.classification = c.value AND k.code = code.value)
                   THEN format('code %s is not in classification %s', code.value, c.value)
               ELSE format('code %s of %s is not valid at %s (reference date %s); it is valid %s', code.value, c.value,
                           d.period, statistics_v1.period_reference_date(d.period),
                           (SELECT string_agg(format('from %s%s', k.valid_from,
                                                     coalesce(' to ' || k.valid_to, '')), ', ' ORDER BY k.valid_from)
                            FROM items k WHERE k.classification = c.value AND k.code = code.value))
           END
    FROM defined d
    CROSS JOIN LATERAL jsonb_each_text(d.classifications) c
    CROSS JOIN LATERAL (SELECT d.dimensions->>c.key AS value) code
    WHERE d.periodicities IS NOT NULL AND statistics_v1.period_type(d.period) IS NOT NULL AND code.value IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM items k
          WHERE k.classification = c.value AND k.code = code.value
            AND k.valid_from <= statistics_v1.period_reference_date(d.period)
            AND (k.valid_to IS NULL OR k.valid_to > statistics_v1.period_reference_date(d.period)))
    ORDER BY 1, 2
$$;

-- Whether each code is an item of the classification on a date, and if not, why: never known, not yet valid, or
-- no longer valid (with the dates).
CREATE FUNCTION statistics_v1.code_validity(classification_code text, codes text[], valid_on date)
RETURNS TABLE (code text, valid boolean, reason text)
LANGUAGE sql STABLE
-- JIT compilation took ~2.7 s per call on these plans (their row estimates are high); they run on tiny inputs.
SET jit = off
AS $$
    WITH items AS (
        SELECT * FROM statistics_v1.items_known_at('infinity') WHERE classification = classification_code
    )
    SELECT c.code,
           EXISTS (SELECT 1 FROM items i WHERE i.code = c.code AND i.valid_from <= valid_on
                   AND (i.valid_to IS NULL OR i.valid_to > valid_on)),
           CASE
               WHEN EXISTS (SELECT 1 FROM items i WHERE i.code = c.code AND i.valid_from <= valid_on
                            AND (i.valid_to IS NULL OR i.valid_to > valid_on)) THEN NULL
               WHEN NOT EXISTS (SELECT 1 FROM items i WHERE i.code = c.code)
                   THEN format('%s is not a code of %s', c.code, classification_code)
               WHEN (SELECT min(i.valid_from) FROM items i WHERE i.code = c.code) > valid_on
                   THEN format('%s is not yet valid on %s: valid from %s', c.code, valid_on,
                               (SELECT min(i.valid_from) FROM items i WHERE i.code = c.code))
               ELSE format('%s is no longer valid on %s: valid %s', c.code, valid_on,
                           (SELECT string_agg(format('from %s%s', i.valid_from, coalesce(' to ' || i.valid_to, '')),
                                              ', ' ORDER BY i.valid_from) FROM items i WHERE i.code = c.code))
           END
    FROM unnest(codes) WITH ORDINALITY AS c(code, n)
    ORDER BY c.n
$$;
