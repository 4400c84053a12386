-- Answers as known at an earlier recorded time, from the vintages: the same folds and the same roll-up and
-- re-expression routines as the live tables, run on temporary tables of the slice asked for.

-- The value of every observation of a slice (an indicator, optionally one area and one period) as known at
-- recorded time `known_at`, by the rules of observations_current. Reads only the vintages of the slice (index
-- observation_vintages_slice) and the submissions of the reports they belong to.
CREATE FUNCTION statistics_v2.observations_as_of(
    known_at timestamptz DEFAULT 'infinity', indicator_code text DEFAULT NULL, area_code text DEFAULT NULL,
    period_code text DEFAULT NULL)
RETURNS TABLE (indicator text, period text, area text, dimensions jsonb, value numeric, status text,
               confidentiality text, comment text, event_id text, reporting_unit text, revision integer,
               recorded_time timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    PERFORM statistics_v2.prepare_work_tables();
    DELETE FROM pg_temp.folded_reports;
    INSERT INTO pg_temp.folded_reports
    SELECT DISTINCT s.reporting_unit, s.form, s.period
    FROM statistics_v2.observation_vintages v JOIN statistics_v2.submissions s ON s.event_id = v.event_id
    WHERE (indicator_code IS NULL OR v.indicator = indicator_code) AND (area_code IS NULL OR v.area = area_code)
      AND (period_code IS NULL OR v.period = period_code) AND s.recorded_time <= known_at;
    ANALYZE pg_temp.folded_reports;
    RETURN QUERY
    SELECT DISTINCT ON (f.indicator, f.period, f.area, f.dimensions)
           f.indicator, f.period, f.area, f.dimensions, f.value, f.status, f.confidentiality, f.comment, f.event_id,
           f.reporting_unit, f.revision, f.recorded_time
    FROM statistics_v2.fold_reports(known_at) f
    WHERE (indicator_code IS NULL OR f.indicator = indicator_code) AND (area_code IS NULL OR f.area = area_code)
      AND (period_code IS NULL OR f.period = period_code)
    ORDER BY f.indicator, f.period, f.area, f.dimensions, f.recorded_time DESC, f.event_id DESC;
END $$;

-- Fills the inputs of the roll-up and re-expression routines in pg_temp with the master data and the current
-- values of `indicator_codes` (and their weight indicators) as known at `known_at`, and marks every value touched.
CREATE FUNCTION statistics_v2.prepare_as_of(known_at timestamptz, indicator_codes text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DROP TABLE IF EXISTS pg_temp.items_current, pg_temp.indicator_rules, pg_temp.admin_mappings,
        pg_temp.observations_current, pg_temp.indicator_rollups, pg_temp.reexpressed_values;
    CREATE TEMP TABLE items_current ON COMMIT DROP AS
    SELECT i.classification, i.version, i.code, i.parent, i.level, i.name_vi, i.name_en, i.valid_from, i.valid_to
    FROM statistics_v2.items_known_at(known_at) i WHERE i.classification = 'vn-admin-units';
    CREATE INDEX ON pg_temp.items_current (classification, code);
    CREATE INDEX ON pg_temp.items_current (classification, parent);
    CREATE TEMP TABLE indicator_rules ON COMMIT DROP AS
    SELECT i.code, i.aggregation, i.weight_indicator, i.periodicities, i.dimensions FROM statistics_v2.indicators i
    WHERE i.recorded_from <= known_at AND (i.recorded_to IS NULL OR i.recorded_to > known_at);
    CREATE TEMP TABLE admin_mappings ON COMMIT DROP AS
    SELECT c.source_version, c.target_version, c.source_code, c.target_code, c.relation, c.weight, c.exact
    FROM statistics_v2.correspondences c
    WHERE c.source_classification = 'vn-admin-units' AND c.target_classification = 'vn-admin-units'
      AND c.recorded_from <= known_at AND (c.recorded_to IS NULL OR c.recorded_to > known_at);
    CREATE TEMP TABLE observations_current (LIKE statistics_v2.observations_current INCLUDING ALL) ON COMMIT DROP;
    CREATE TEMP TABLE indicator_rollups (LIKE statistics_v2.indicator_rollups INCLUDING ALL) ON COMMIT DROP;
    CREATE TEMP TABLE reexpressed_values (LIKE statistics_v2.reexpressed_values INCLUDING ALL) ON COMMIT DROP;
    INSERT INTO pg_temp.observations_current
    SELECT o.indicator, o.period, o.area, o.dimensions, o.value, o.status, o.confidentiality, o.comment, o.event_id,
           o.reporting_unit, '', o.revision, o.recorded_time, h.level, h.parent
    FROM (SELECT DISTINCT x FROM unnest(indicator_codes || ARRAY(
              SELECT r.weight_indicator FROM pg_temp.indicator_rules r
              WHERE r.code = ANY (indicator_codes) AND r.weight_indicator IS NOT NULL)) x) wanted
    CROSS JOIN LATERAL statistics_v2.observations_as_of(known_at, wanted.x) o
    LEFT JOIN LATERAL (
        SELECT i.level, i.parent FROM pg_temp.items_current i
        WHERE i.code = o.area AND i.valid_from <= statistics_v2.period_reference_date(o.period)
          AND (i.valid_to IS NULL OR i.valid_to > statistics_v2.period_reference_date(o.period))
        ORDER BY i.valid_from DESC LIMIT 1) h ON true;
    ANALYZE pg_temp.items_current;
    ANALYZE pg_temp.indicator_rules;
    ANALYZE pg_temp.admin_mappings;
    ANALYZE pg_temp.observations_current;
    PERFORM statistics_v2.prepare_touched_keys();
    PERFORM statistics_v2.refresh_version_spans('pg_temp');
    INSERT INTO pg_temp.touched_keys SELECT o.indicator, o.period, o.area, o.dimensions FROM pg_temp.observations_current o;
END $$;
