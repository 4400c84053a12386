-- The checks submit_reports makes before it writes (indicator defined, period type one of the indicator's,
-- dimensions the indicator's, every code valid at the period's reference date), set-wise over a whole batch:
-- one row per refused report, with the reason submit_reports would raise for it alone. The projection asks this
-- first (Projection.refusals), dead-letters what it returns and applies the rest, so a batch with bad reports
-- costs about what a clean one does; submit_reports keeps its own checks as the last word. Writes nothing but a
-- temporary table.
CREATE FUNCTION statistics_v1.report_refusals(batch jsonb)
RETURNS TABLE (ordinal integer, event_id text, reason text)
LANGUAGE plpgsql AS $$
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS pg_temp.screened_observations (
        ordinal integer, event_id text, indicator text, period text, all_dimensions jsonb, position integer
    ) ON COMMIT DROP;
    TRUNCATE pg_temp.screened_observations;
    INSERT INTO pg_temp.screened_observations
    SELECT e.n::integer - 1, e.v->>'eventId', o->>'indicator', e.v->'data'->>'period', o->'dimensions',
           x.n::integer - 1
    FROM jsonb_array_elements(batch) WITH ORDINALITY AS e(v, n)
    CROSS JOIN LATERAL jsonb_array_elements(e.v->'data'->'observations') WITH ORDINALITY AS x(o, n)
    WHERE NOT EXISTS (SELECT 1 FROM statistics_v1.submissions s WHERE s.event_id = e.v->>'eventId');
    ANALYZE pg_temp.screened_observations;

    CREATE TEMP TABLE IF NOT EXISTS pg_temp.screen_items ON COMMIT DROP AS
    SELECT * FROM statistics_v1.items_known_at('infinity') WITH NO DATA;
    TRUNCATE pg_temp.screen_items;
    INSERT INTO pg_temp.screen_items SELECT * FROM statistics_v1.items_known_at('infinity');
    CREATE INDEX IF NOT EXISTS screen_items_code ON pg_temp.screen_items (classification, code);
    ANALYZE pg_temp.screen_items;

    RETURN QUERY
    SELECT DISTINCT ON (p.ordinal) p.ordinal, p.event_id, p.reason
    FROM (
        SELECT o.ordinal, o.event_id, 1 AS check_order, o.position, ''::text AS dimension,
               format('event %s: observations[%s].indicator %s is not defined', o.event_id, o.position, o.indicator)
                   AS reason
        FROM pg_temp.screened_observations o
        WHERE NOT EXISTS (SELECT 1 FROM statistics_v1.indicators i WHERE i.code = o.indicator AND i.recorded_to IS NULL)
        UNION ALL
        SELECT o.ordinal, o.event_id, 2, o.position, '',
               format('event %s: period %s is not a periodicity of indicator %s (it has %s)',
                      o.event_id, o.period, o.indicator, array_to_string(i.periodicities, ', '))
        FROM pg_temp.screened_observations o
        JOIN statistics_v1.indicators i ON i.code = o.indicator AND i.recorded_to IS NULL
        WHERE NOT statistics_v1.period_type(o.period) = ANY (i.periodicities)
        UNION ALL
        SELECT o.ordinal, o.event_id, 3, o.position, '',
               format('event %s: observations[%s].dimensions has %s, but indicator %s has dimensions %s',
                      o.event_id, o.position, ARRAY(SELECT jsonb_object_keys(o.all_dimensions) ORDER BY 1), o.indicator,
                      ARRAY(SELECT jsonb_object_keys(i.dimensions) ORDER BY 1))
        FROM pg_temp.screened_observations o
        JOIN statistics_v1.indicators i ON i.code = o.indicator AND i.recorded_to IS NULL
        WHERE ARRAY(SELECT jsonb_object_keys(o.all_dimensions) ORDER BY 1)
              <> ARRAY(SELECT jsonb_object_keys(i.dimensions) ORDER BY 1)
        UNION ALL
        SELECT o.ordinal, o.event_id, 4, o.position, d.key,
               format('event %s: observations[%s].dimensions.%s code %s is not valid in %s for period %s (reference date %s)',
                      o.event_id, o.position, d.key, d.value, i.dimensions->>d.key, o.period,
                      statistics_v1.period_reference_date(o.period))
        FROM pg_temp.screened_observations o
        JOIN statistics_v1.indicators i ON i.code = o.indicator AND i.recorded_to IS NULL
        CROSS JOIN LATERAL jsonb_each_text(o.all_dimensions) d
        WHERE NOT EXISTS (
            SELECT 1 FROM pg_temp.screen_items k
            WHERE k.classification = i.dimensions->>d.key AND k.code = d.value
              AND k.valid_from <= statistics_v1.period_reference_date(o.period)
              AND (k.valid_to IS NULL OR k.valid_to > statistics_v1.period_reference_date(o.period)))
    ) p
    ORDER BY p.ordinal, p.check_order, p.position, p.dimension;
END $$;
