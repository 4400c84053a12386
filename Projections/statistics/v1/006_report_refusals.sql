-- submit_reports, refusing instead of raising: the same checks (indicator defined, period type one of the
-- indicator's, dimensions the indicator's, every code valid at the period's reference date), set-wise over the
-- whole batch, one pass. Reports that fail are not written; the function returns one row per refused report
-- (its index in the batch, 0-based) with the reason submit_reports would raise for it alone. The projection
-- dead-letters those and keeps the rest, so a batch with bad reports costs about what a clean one does
-- (Projection.applyRefusing; BENCHMARKS.md). submit_reports keeps its all-or-nothing contract on these same checks:
-- it is redefined at the end to raise the first refusal, so the checks exist once.
CREATE FUNCTION statistics_v1.submit_reports_refusing(batch jsonb)
RETURNS TABLE (ordinal integer, reason text)
LANGUAGE plpgsql AS $$
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS pg_temp.batch_observations (
        ordinal integer, event_id text, indicator text, period text, area text, dimensions jsonb,
        all_dimensions jsonb, value numeric, unit_multiplier integer, status text, confidentiality text,
        comment text, position integer
    ) ON COMMIT DROP;
    TRUNCATE pg_temp.batch_observations;
    INSERT INTO pg_temp.batch_observations
    SELECT e.n::integer - 1, e.v->>'eventId', o->>'indicator', e.v->'data'->>'period', o->'dimensions'->>'area',
           (o->'dimensions') - 'area', o->'dimensions',
           trim_scale((o->>'value')::numeric * power(10::numeric, coalesce((o->>'unitMultiplier')::integer, 0))),
           coalesce((o->>'unitMultiplier')::integer, 0), o->>'status', o->>'confidentiality', o->>'comment',
           x.n::integer - 1
    FROM jsonb_array_elements(batch) WITH ORDINALITY AS e(v, n)
    CROSS JOIN LATERAL jsonb_array_elements(e.v->'data'->'observations') WITH ORDINALITY AS x(o, n)
    WHERE NOT EXISTS (SELECT 1 FROM statistics_v1.submissions s WHERE s.event_id = e.v->>'eventId');

    CREATE TEMP TABLE IF NOT EXISTS pg_temp.known_items ON COMMIT DROP AS
    SELECT * FROM statistics_v1.items_known_at('infinity') WITH NO DATA;
    TRUNCATE pg_temp.known_items;
    INSERT INTO pg_temp.known_items SELECT * FROM statistics_v1.items_known_at('infinity');
    CREATE INDEX IF NOT EXISTS known_items_code ON pg_temp.known_items (classification, code);
    ANALYZE pg_temp.known_items;
    ANALYZE pg_temp.batch_observations;

    CREATE TEMP TABLE IF NOT EXISTS pg_temp.refused_reports (ordinal integer PRIMARY KEY, reason text)
        ON COMMIT DROP;
    TRUNCATE pg_temp.refused_reports;
    INSERT INTO pg_temp.refused_reports
    SELECT DISTINCT ON (p.ordinal) p.ordinal, p.reason
    FROM (
        SELECT o.ordinal, 1 AS check_order, o.position, ''::text AS dimension,
               format('event %s: observations[%s].indicator %s is not defined', o.event_id, o.position, o.indicator)
                   AS reason
        FROM pg_temp.batch_observations o
        WHERE NOT EXISTS (SELECT 1 FROM statistics_v1.indicators i WHERE i.code = o.indicator AND i.recorded_to IS NULL)
        UNION ALL
        SELECT o.ordinal, 2, o.position, '',
               format('event %s: period %s is not a periodicity of indicator %s (it has %s)',
                      o.event_id, o.period, o.indicator, array_to_string(i.periodicities, ', '))
        FROM pg_temp.batch_observations o
        JOIN statistics_v1.indicators i ON i.code = o.indicator AND i.recorded_to IS NULL
        WHERE NOT statistics_v1.period_type(o.period) = ANY (i.periodicities)
        UNION ALL
        SELECT o.ordinal, 3, o.position, '',
               format('event %s: observations[%s].dimensions has %s, but indicator %s has dimensions %s',
                      o.event_id, o.position, ARRAY(SELECT jsonb_object_keys(o.all_dimensions) ORDER BY 1), o.indicator,
                      ARRAY(SELECT jsonb_object_keys(i.dimensions) ORDER BY 1))
        FROM pg_temp.batch_observations o
        JOIN statistics_v1.indicators i ON i.code = o.indicator AND i.recorded_to IS NULL
        WHERE ARRAY(SELECT jsonb_object_keys(o.all_dimensions) ORDER BY 1)
              <> ARRAY(SELECT jsonb_object_keys(i.dimensions) ORDER BY 1)
        UNION ALL
        SELECT o.ordinal, 4, o.position, d.key,
               format('event %s: observations[%s].dimensions.%s code %s is not valid in %s for period %s (reference date %s)',
                      o.event_id, o.position, d.key, d.value, i.dimensions->>d.key, o.period,
                      statistics_v1.period_reference_date(o.period))
        FROM pg_temp.batch_observations o
        JOIN statistics_v1.indicators i ON i.code = o.indicator AND i.recorded_to IS NULL
        CROSS JOIN LATERAL jsonb_each_text(o.all_dimensions) d
        WHERE NOT EXISTS (
            SELECT 1 FROM pg_temp.known_items k
            WHERE k.classification = i.dimensions->>d.key AND k.code = d.value
              AND k.valid_from <= statistics_v1.period_reference_date(o.period)
              AND (k.valid_to IS NULL OR k.valid_to > statistics_v1.period_reference_date(o.period)))
    ) p
    ORDER BY p.ordinal, p.check_order, p.position, p.dimension;

    INSERT INTO statistics_v1.submissions
    SELECT e.v->>'eventId', e.v->'data'->>'reportingUnit', e.v->'data'->>'form', e.v->'data'->>'period',
           e.v->'data'->>'action', (e.v->'data'->>'revision')::integer, e.v->'data'->>'supersedes',
           (e.v->>'recorded')::timestamptz, e.v->>'topic', (e.v->>'partition')::integer, (e.v->>'offset')::bigint
    FROM jsonb_array_elements(batch) WITH ORDINALITY AS e(v, n)
    WHERE NOT EXISTS (SELECT 1 FROM pg_temp.refused_reports r WHERE r.ordinal = e.n::integer - 1)
    ON CONFLICT (event_id) DO NOTHING;

    INSERT INTO statistics_v1.observation_vintages
    SELECT o.event_id, o.indicator, o.period, o.area, o.dimensions, o.value, o.unit_multiplier, o.status,
           o.confidentiality, o.comment
    FROM pg_temp.batch_observations o
    WHERE NOT EXISTS (SELECT 1 FROM pg_temp.refused_reports r WHERE r.ordinal = o.ordinal);

    RETURN QUERY SELECT r.ordinal, r.reason FROM pg_temp.refused_reports r ORDER BY r.ordinal;
END $$;

-- All or nothing, on the checks above: the first refused report (in batch order) is raised, which undoes the
-- writes of the good ones with the statement.
CREATE OR REPLACE FUNCTION statistics_v1.submit_reports(batch jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    refused record;
BEGIN
    SELECT r.reason INTO refused FROM statistics_v1.submit_reports_refusing(batch) r ORDER BY r.ordinal LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '%', refused.reason;
    END IF;
END $$;
