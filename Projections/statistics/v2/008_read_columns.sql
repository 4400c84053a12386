-- The read API's "children of an area" (`parent=`, docs/read-api.md) filters on the area's parent at the period's
-- reference date, which current values and roll-ups store; indicator_table gets it as its last column.
CREATE OR REPLACE VIEW statistics_v2.indicator_table AS
SELECT o.indicator, o.period, o.area, o.area_level, o.dimensions, o.value, o.status, o.confidentiality,
       'reported'::text AS origin, 1 AS inputs, o.parent
FROM statistics_v2.observations_current o
UNION ALL
SELECT r.indicator, r.period, r.area, r.area_level, r.dimensions, r.value, r.status, r.confidentiality,
       'aggregated'::text, r.inputs, r.parent
FROM statistics_v2.indicator_rollups r;

-- Published answers withhold every value above one that is not free (docs/read-api.md): the climb starts from the
-- values that are not free of the periods asked for, found through these partial indexes, not by reading the
-- whole indicator.
CREATE INDEX observations_withheld ON statistics_v2.observations_current (indicator, period) WHERE confidentiality <> 'free';
CREATE INDEX rollups_withheld ON statistics_v2.indicator_rollups (indicator, period) WHERE confidentiality <> 'free';

-- The public schema's view was made with the columns of its time (activate_projection_version); when this version
-- is the active one already, it gets the new column now rather than at the next activation.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM mekong.projection_versions
               WHERE projection = 'statistics' AND version = 2 AND state = 'active') THEN
        CREATE OR REPLACE VIEW statistics.indicator_table AS SELECT * FROM statistics_v2.indicator_table;
    END IF;
END $$;
