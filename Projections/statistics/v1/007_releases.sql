-- The release calendar (vn.gso.release.scheduled, docs/events.md): when each period of an indicator becomes public.
-- Until then the read API shows none of the period's values to anonymous readers or keys without the embargo scope
-- (docs/read-api.md, "Release calendar"). Bitemporal like the definitions: a rescheduling closes the row it
-- replaces (recorded_to), so the calendar as known at any recorded time stays answerable.
CREATE TABLE statistics_v1.releases (
    indicator     text        NOT NULL,
    period        text        NOT NULL,
    release_time  timestamptz NOT NULL,
    note          text,
    recorded_from timestamptz NOT NULL,
    recorded_to   timestamptz,
    event_id      text        NOT NULL,
    PRIMARY KEY (indicator, period, event_id)
);
CREATE INDEX releases_believed ON statistics_v1.releases (indicator, period) WHERE recorded_to IS NULL;

CREATE FUNCTION statistics_v1.schedule_release(event_id text, recorded timestamptz, data jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM statistics_v1.releases r WHERE r.event_id = schedule_release.event_id) THEN
        RETURN;
    END IF;
    UPDATE statistics_v1.releases r SET recorded_to = recorded
    WHERE r.indicator = data->>'indicator' AND r.period = data->>'period' AND r.recorded_to IS NULL;
    INSERT INTO statistics_v1.releases
    VALUES (data->>'indicator', data->>'period', (data->>'releaseTime')::timestamptz, data->>'note', recorded, NULL,
            event_id);
END $$;

-- The public schema's views were made at activation; when this version is the active one already, it gets the
-- new table now rather than at the next activation.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM mekong.projection_versions
               WHERE projection = 'statistics' AND version = 1 AND state = 'active') THEN
        CREATE OR REPLACE VIEW statistics.releases AS SELECT * FROM statistics_v1.releases;
    END IF;
END $$;
