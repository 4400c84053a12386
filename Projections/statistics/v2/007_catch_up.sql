-- Catching up: a new version (a rebuild from offset 0, or the first run of a database) writes only submissions and
-- vintages while it reads the log, then derives current values, roll-ups and re-expressions in one set-based pass
-- when it has caught up (StatisticsProjection.finishCatchUp, before the engine may activate it). From then on every
-- batch maintains them itself (apply_reports). Both paths compute the same tables from the same vintages and master
-- data (docs/statistics.md, "Catching up"); master-data changes while pending find no current values and derive
-- nothing, and the one pass reads the master data as it is at the end.

CREATE TABLE statistics_v2.derivation (
    single  boolean PRIMARY KEY DEFAULT true CHECK (single),
    -- true until derive_all has run: the derived tables are empty and batches leave them alone.
    pending boolean NOT NULL
);
INSERT INTO statistics_v2.derivation (pending) VALUES (true);

CREATE FUNCTION statistics_v2.derivation_pending() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT d.pending FROM statistics_v2.derivation d
$$;

-- Derives every table from the vintages if that is still pending; returns whether it did.
CREATE FUNCTION statistics_v2.derive_all() RETURNS boolean
-- Sorts and hashes of a whole dataset in memory rather than in temporary files.
LANGUAGE plpgsql SET work_mem = '256MB' AS $$
BEGIN
    IF NOT (SELECT d.pending FROM statistics_v2.derivation d FOR UPDATE) THEN
        RETURN false;
    END IF;
    TRUNCATE statistics_v2.observations_current, statistics_v2.indicator_rollups, statistics_v2.reexpressed_values;
    PERFORM statistics_v2.prepare_report_staging();
    PERFORM statistics_v2.prepare_folded_reports();
    INSERT INTO pg_temp.folded_reports
    SELECT DISTINCT s.reporting_unit, s.form, s.period FROM statistics_v2.submissions s;
    PERFORM statistics_v2.refresh_reports(every_report => true);
    -- The tables went from empty to everything: the batches that follow are planned with their real sizes.
    ANALYZE statistics_v2.observations_current, statistics_v2.indicator_rollups, statistics_v2.reexpressed_values,
        statistics_v2.observation_vintages, statistics_v2.submissions;
    UPDATE statistics_v2.derivation SET pending = false;
    RETURN true;
END $$;
