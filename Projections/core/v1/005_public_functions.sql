-- The public schema of a projection also exposes the active version's query functions (those returning rows,
-- e.g. statistics.indicator_values), as thin wrappers, so readers never name a version. Functions that return
-- void or a scalar (the projection's own apply functions and helpers) stay in the version schema.
CREATE OR REPLACE FUNCTION mekong.activate_projection_version(
    p_projection text, p_version integer, p_version_schema text, p_public_schema text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    relation record;
    fn record;
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
    FOR fn IN
        SELECT p.proname, pg_get_function_arguments(p.oid) AS arguments, pg_get_function_result(p.oid) AS result,
               p.pronargs, p.provolatile
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = p_version_schema AND p.proretset AND p.prokind = 'f'
        ORDER BY p.proname, p.oid
    LOOP
        EXECUTE format('CREATE FUNCTION %I.%I(%s) RETURNS %s LANGUAGE sql %s AS %L',
                       p_public_schema, fn.proname, fn.arguments, fn.result,
                       CASE fn.provolatile WHEN 's' THEN 'STABLE' WHEN 'i' THEN 'IMMUTABLE' ELSE 'VOLATILE' END,
                       format('SELECT * FROM %I.%I(%s)', p_version_schema, fn.proname,
                              (SELECT coalesce(string_agg('$' || i, ', ' ORDER BY i), '')
                               FROM generate_series(1, fn.pronargs) i)));
    END LOOP;
END
$$;
