-- The master data as known now, materialized: what validity checks, roll-ups and re-expression read. Rebuilt per
-- classification by every master-data event that changes it, which then recomputes what depends on it.

-- items_known_at('infinity'): every item interval believed now, cut to its version's interval.
CREATE TABLE statistics_v2.items_current (
    classification text    NOT NULL,
    version        text    NOT NULL,
    code           text    NOT NULL,
    parent         text,
    level          integer NOT NULL,
    name_vi        text    NOT NULL,
    name_en        text,
    valid_from     date    NOT NULL,
    valid_to       date,
    PRIMARY KEY (classification, code, valid_from, version)
);
CREATE INDEX items_current_children ON statistics_v2.items_current (classification, parent, valid_from);

-- Indicator definitions as believed now: the rule each roll-up follows.
CREATE VIEW statistics_v2.indicator_rules AS
SELECT i.code, i.aggregation, i.weight_indicator, i.periodicities, i.dimensions
FROM statistics_v2.indicators i WHERE i.recorded_to IS NULL;

-- What re-expression looks up: the sources mapped into a target.
CREATE INDEX correspondences_by_target ON statistics_v2.correspondences
    (target_classification, target_version, target_code) WHERE recorded_to IS NULL;
-- And the targets a changed source maps into (without it, each changed area scanned every correspondence of the
-- classification: 2 ms each, 224 ms of a batch of 20 reports).
CREATE INDEX correspondences_by_source ON statistics_v2.correspondences
    (source_classification, source_code) WHERE recorded_to IS NULL;

-- Correspondences between versions of vn-admin-units as believed now: what re-expression maps through.
CREATE VIEW statistics_v2.admin_mappings AS
SELECT c.source_version, c.target_version, c.source_code, c.target_code, c.relation, c.weight, c.exact
FROM statistics_v2.correspondences c
WHERE c.source_classification = 'vn-admin-units' AND c.target_classification = 'vn-admin-units'
  AND c.recorded_to IS NULL;

-- Called by publish_classification and change_items once their checks passed: refreshes items_current for the
-- classification and, for vn-admin-units, recomputes the area levels, roll-ups and re-expressions that the
-- change can reach: every period whose reference date is on or after `changed_from`, and the re-expressions
-- that read the changed version (all of them when a version is published, since its start ends the one before).
CREATE FUNCTION statistics_v2.classification_changed(k text, v text, changed_from date) RETURNS void
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
    FOR pair IN SELECT DISTINCT m.source_version, m.target_version FROM statistics_v2.admin_mappings m
                ORDER BY 1, 2 LOOP
        PERFORM statistics_v2.recompute_reexpression(pair.source_version, pair.target_version);
    END LOOP;
END $$;

-- Called by define_indicator: a definition can change the rule, the weight or the dimensions, so the indicator's
-- roll-ups and re-expressions are rebuilt from its current values.
CREATE FUNCTION statistics_v2.recompute_indicator(indicator_code text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM statistics_v2.prepare_touched_keys();
    DELETE FROM statistics_v2.indicator_rollups r WHERE r.indicator = indicator_code;
    DELETE FROM statistics_v2.reexpressed_values r WHERE r.indicator = indicator_code;
    INSERT INTO pg_temp.touched_keys
    SELECT o.indicator, o.period, o.area, o.dimensions FROM statistics_v2.observations_current o
    WHERE o.indicator = indicator_code;
    PERFORM statistics_v2.refresh_derived('statistics_v2');
END $$;

-- The areas at or below `ancestor` in the vn-admin-units hierarchy valid on `valid_on`, with their levels: what a
-- reader joins to ask for one province's communes.
CREATE FUNCTION statistics_v2.areas_within(ancestor text, valid_on date)
RETURNS TABLE (area text, area_level integer, parent text)
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE below AS (
        SELECT i.code, i.level, i.parent FROM statistics_v2.items_current i
        WHERE i.classification = 'vn-admin-units' AND i.code = ancestor
          AND i.valid_from <= valid_on AND (i.valid_to IS NULL OR i.valid_to > valid_on)
        UNION
        SELECT i.code, i.level, i.parent FROM below b JOIN statistics_v2.items_current i
          ON i.classification = 'vn-admin-units' AND i.parent = b.code
         AND i.valid_from <= valid_on AND (i.valid_to IS NULL OR i.valid_to > valid_on)
    )
    SELECT code, level, parent FROM below
$$;
