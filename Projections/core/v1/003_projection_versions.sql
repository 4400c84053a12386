-- The versions of each projection and which one readers see. Version N's tables live in schema <name>_vN; the
-- public schema <name> holds one view per table of the active version, replaced in one transaction by
-- mekong.activate_projection_version (blue-green switch: readers see the old version or the new, never a mix).
CREATE TABLE IF NOT EXISTS mekong.projection_versions (
    projection   text        NOT NULL,
    version      integer     NOT NULL CHECK (version >= 1),
    state        text        NOT NULL CHECK (state IN ('building', 'active', 'retired')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz,
    retired_at   timestamptz,
    PRIMARY KEY (projection, version)
);

-- At most one active version per projection.
CREATE UNIQUE INDEX IF NOT EXISTS projection_versions_one_active
    ON mekong.projection_versions (projection) WHERE state = 'active';

-- Makes p_version the active version of p_projection: retires the previous one and points every view of the public
-- schema at the new version's schema. Run inside the caller's transaction.
CREATE OR REPLACE FUNCTION mekong.activate_projection_version(
    p_projection text, p_version integer, p_version_schema text, p_public_schema text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    relation record;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('mekong.projection_versions:' || p_projection));
    IF NOT EXISTS (SELECT 1 FROM mekong.projection_versions
                   WHERE projection = p_projection AND version = p_version) THEN
        RAISE EXCEPTION 'projection % has no version %', p_projection, p_version;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = p_version_schema) THEN
        RAISE EXCEPTION 'schema % of projection % version % does not exist', p_version_schema, p_projection, p_version;
    END IF;
    UPDATE mekong.projection_versions SET state = 'retired', retired_at = now()
    WHERE projection = p_projection AND state = 'active' AND version <> p_version;
    UPDATE mekong.projection_versions SET state = 'active', activated_at = now(), retired_at = NULL
    WHERE projection = p_projection AND version = p_version;
    EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', p_public_schema);
    EXECUTE format('CREATE SCHEMA %I', p_public_schema);
    FOR relation IN
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = p_version_schema AND c.relkind IN ('r', 'v', 'm', 'p')
        ORDER BY c.relname
    LOOP
        EXECUTE format('CREATE VIEW %I.%I AS SELECT * FROM %I.%I',
                       p_public_schema, relation.relname, p_version_schema, relation.relname);
    END LOOP;
END
$$;
