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
-- a redefinition or a hierarchy change touches every key it reaches), or with `every` for all of them: the
-- parents of the values that are not free, then their parents, through the parent stored with each value (the
-- hierarchy at the period's reference date). A schema without the table (the
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

-- Every recomputation of roll-ups (a batch's refresh_derived, a hierarchy change's classification_changed, as-of
-- answers in pg_temp, which refresh_withheld skips) recomputes what lies above a withheld value in the same groups:
-- refresh_rollups becomes the roll-ups (004, renamed) followed by refresh_withheld. Functions that call it by name
-- find this one. (derive_all needs nothing: while derivation is pending the derived tables, and so this one, stay
-- empty.)
ALTER FUNCTION statistics_v2.refresh_rollups(text) RENAME TO recompute_rollups;

CREATE FUNCTION statistics_v2.refresh_rollups(s text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM statistics_v2.recompute_rollups(s);
    PERFORM statistics_v2.refresh_withheld(s);
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
