-- Published answers withhold every value above one that is not free in its period's hierarchy (docs/read-api.md,
-- "Open and secured data"). Which keys lie above a withheld value is kept here, per batch, so that a published
-- answer reads one primary-key probe per row: climbing from every withheld value of the indicator at each request
-- took 45-115 ms at national scale (measured on the benchmark's tables). Aggregated indicators only: the values of
-- an indicator that is not aggregated are no sums of each other.
CREATE TABLE statistics_v2.withheld_above (
    indicator  text  NOT NULL,
    area       text  NOT NULL,
    period     text  NOT NULL,
    dimensions jsonb NOT NULL,
    PRIMARY KEY (indicator, area, period, dimensions)
);

-- Recomputes withheld_above for every (indicator, period, dimensions) that pg_temp.touched_keys holds a key of
-- (a key's status depends on its subtree only, and a subtree changes only where a key of its group was touched;
-- a redefinition or a hierarchy change touches every key it reaches), or with `every` for all of them: the parents of the values that are not free, then their parents, through the
-- parent stored with each value (the hierarchy at the period's reference date). A schema without the table (the
-- as-of tables in pg_temp) is skipped: as-of answers climb at query time.
CREATE FUNCTION statistics_v2.refresh_withheld(s text, every boolean DEFAULT false) RETURNS void
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
        EXECUTE format($q$
            DELETE FROM %1$I.withheld_above x USING (%2$s) g
            WHERE x.indicator = g.indicator AND x.period = g.period AND x.dimensions = g.dimensions
        $q$, s, groups);
    END IF;
    EXECUTE format($q$
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
    $q$, s, groups);
END $$;

-- After a change of current values: roll-ups, what lies above a withheld value, then re-expressions.
CREATE OR REPLACE FUNCTION statistics_v2.refresh_derived(s text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM statistics_v2.refresh_rollups(s);
    PERFORM statistics_v2.refresh_withheld(s);
    PERFORM statistics_v2.refresh_reexpression(s);
END $$;

-- A change of the administrative units rebuilds the roll-ups of the periods it reaches, and now what lies above a
-- withheld value in them (002_current_master_data.sql, with one line more).
CREATE OR REPLACE FUNCTION statistics_v2.classification_changed(k text, v text, changed_from date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    pair record;
BEGIN
    DELETE FROM statistics_v2.items_current WHERE classification = k;
    INSERT INTO statistics_v2.items_current
    SELECT i.classification, i.version, i.code, i.parent, i.level, i.name_vi, i.name_en, i.valid_from, i.valid_to
    FROM statistics_v2.items_known_at('infinity') i WHERE i.classification = k;
    ANALYZE statistics_v2.items_current;
    IF k = 'vn-admin-units' THEN
        PERFORM statistics_v2.refresh_version_spans('statistics_v2');
    END IF;
    IF k <> 'vn-admin-units' OR changed_from IS NULL THEN
        RETURN;
    END IF;

    PERFORM statistics_v2.prepare_touched_keys();
    UPDATE statistics_v2.observations_current o SET area_level = h.level, parent = h.parent
    FROM (SELECT c.indicator, c.period, c.area, c.dimensions, l.level, l.parent
          FROM statistics_v2.observations_current c
          LEFT JOIN LATERAL (
              SELECT i.level, i.parent FROM statistics_v2.items_current i
              WHERE i.classification = 'vn-admin-units' AND i.code = c.area
                AND i.valid_from <= statistics_v2.period_reference_date(c.period)
                AND (i.valid_to IS NULL OR i.valid_to > statistics_v2.period_reference_date(c.period))
              ORDER BY i.valid_from DESC LIMIT 1) l ON true
          WHERE statistics_v2.period_reference_date(c.period) >= changed_from) h
    WHERE o.indicator = h.indicator AND o.period = h.period AND o.area = h.area AND o.dimensions = h.dimensions
      AND (o.area_level, o.parent) IS DISTINCT FROM (h.level, h.parent);
    -- Roll-ups of the periods the change reaches are dropped and rebuilt from every value of those periods.
    DELETE FROM statistics_v2.indicator_rollups r WHERE statistics_v2.period_reference_date(r.period) >= changed_from;
    INSERT INTO pg_temp.touched_keys
    SELECT o.indicator, o.period, o.area, o.dimensions FROM statistics_v2.observations_current o
    WHERE statistics_v2.period_reference_date(o.period) >= changed_from;
    PERFORM statistics_v2.refresh_rollups('statistics_v2');
    PERFORM statistics_v2.refresh_withheld('statistics_v2');
    FOR pair IN SELECT DISTINCT m.source_version, m.target_version FROM statistics_v2.admin_mappings m
                ORDER BY 1, 2 LOOP
        PERFORM statistics_v2.recompute_reexpression(pair.source_version, pair.target_version);
    END LOOP;
END $$;

-- Deriving every table from the vintages starts from an empty withheld_above too.
CREATE OR REPLACE FUNCTION statistics_v2.derive_all() RETURNS boolean
LANGUAGE plpgsql SET work_mem = '256MB' AS $$
BEGIN
    IF NOT (SELECT d.pending FROM statistics_v2.derivation d FOR UPDATE) THEN
        RETURN false;
    END IF;
    TRUNCATE statistics_v2.observations_current, statistics_v2.indicator_rollups, statistics_v2.reexpressed_values,
        statistics_v2.withheld_above;
    PERFORM statistics_v2.prepare_report_staging();
    PERFORM statistics_v2.prepare_folded_reports();
    INSERT INTO pg_temp.folded_reports
    SELECT DISTINCT s.reporting_unit, s.form, s.period FROM statistics_v2.submissions s;
    PERFORM statistics_v2.refresh_reports(every_report => true);
    -- The tables went from empty to everything: the batches that follow are planned with their real sizes.
    ANALYZE statistics_v2.observations_current, statistics_v2.indicator_rollups, statistics_v2.reexpressed_values,
        statistics_v2.observation_vintages, statistics_v2.submissions, statistics_v2.withheld_above;
    UPDATE statistics_v2.derivation SET pending = false;
    RETURN true;
END $$;

-- A database whose tables are derived already gets the table filled now.
SELECT statistics_v2.refresh_withheld('statistics_v2', every => true);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM mekong.projection_versions
               WHERE projection = 'statistics' AND version = 2 AND state = 'active') THEN
        CREATE OR REPLACE VIEW statistics.withheld_above AS SELECT * FROM statistics_v2.withheld_above;
    END IF;
END $$;
