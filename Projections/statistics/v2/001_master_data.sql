-- Master data, bitemporal: every classification item with its valid-time interval (when it is true in the world)
-- and its recorded interval (from when to when we held that belief). Rows are never updated except to close
-- their recorded interval; a correction adds rows. See docs/statistics.md.
CREATE SCHEMA IF NOT EXISTS statistics_v2;
-- Version 2 keeps version 1's master data and vintages, and materializes the derived tables per batch
-- (003_observations.sql, 004_rollups.sql, 005_reexpression.sql; docs/statistics.md, "Materialized tables").

-- Reference periods: 2025 (year), 2025-H1, 2025-Q3, 2025-M07. The end is exclusive; the reference date (the
-- period's last day) decides which codes and which hierarchy apply to the period. NULL for anything else.
-- Written as single expressions without STRICT so that PostgreSQL inlines them into the queries that call them
-- per row (a STRICT SQL function around a CASE is called, not inlined: about 100 µs per row in version 1).
CREATE FUNCTION statistics_v2.period_type(period text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN period ~ '^[0-9]{4}(-(H[12]|Q[1-4]|M(0[1-9]|1[0-2])))?$' THEN
        CASE substr(period, 6, 1) WHEN '' THEN 'year' WHEN 'H' THEN 'half-year' WHEN 'Q' THEN 'quarter' ELSE 'month' END
    END
$$;

CREATE FUNCTION statistics_v2.period_start(period text) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN period ~ '^[0-9]{4}(-(H[12]|Q[1-4]|M(0[1-9]|1[0-2])))?$' THEN
        make_date(left(period, 4)::int, CASE substr(period, 6, 1)
            WHEN 'H' THEN (substr(period, 7, 1)::int - 1) * 6 + 1
            WHEN 'Q' THEN (substr(period, 7, 1)::int - 1) * 3 + 1
            WHEN 'M' THEN substr(period, 7, 2)::int
            ELSE 1 END, 1)
    END
$$;

CREATE FUNCTION statistics_v2.period_end(period text) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (statistics_v2.period_start(period) + CASE substr(period, 6, 1)
        WHEN '' THEN interval '1 year' WHEN 'H' THEN interval '6 months'
        WHEN 'Q' THEN interval '3 months' ELSE interval '1 month' END)::date
$$;

CREATE FUNCTION statistics_v2.period_reference_date(period text) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT statistics_v2.period_end(period) - 1 $$;

CREATE TABLE statistics_v2.classification_versions (
    classification text        NOT NULL,
    version        text        NOT NULL,
    valid_from     date        NOT NULL,
    -- As published; NULL: until the next version (by valid_from) begins.
    valid_to       date,
    recorded_from  timestamptz NOT NULL,
    recorded_to    timestamptz,
    event_id       text        NOT NULL,
    PRIMARY KEY (classification, version, event_id),
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    CHECK (recorded_to IS NULL OR recorded_to >= recorded_from)
);

CREATE TABLE statistics_v2.items (
    classification text        NOT NULL,
    version        text        NOT NULL,
    code           text        NOT NULL,
    parent         text,
    level          integer     NOT NULL CHECK (level BETWEEN 1 AND 10),
    name_vi        text        NOT NULL,
    name_en        text,
    -- The item's own interval within its version; NULL valid_to: until the version ends.
    valid_from     date        NOT NULL,
    valid_to       date,
    recorded_from  timestamptz NOT NULL,
    recorded_to    timestamptz,
    event_id       text        NOT NULL,
    PRIMARY KEY (classification, version, code, valid_from, event_id),
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    CHECK (recorded_to IS NULL OR recorded_to >= recorded_from)
);
CREATE INDEX items_believed ON statistics_v2.items (classification, code) WHERE recorded_to IS NULL;

CREATE TABLE statistics_v2.correspondences (
    source_classification text        NOT NULL,
    source_version        text        NOT NULL,
    target_classification text        NOT NULL,
    target_version        text        NOT NULL,
    source_code           text        NOT NULL,
    target_code           text        NOT NULL,
    relation              text        NOT NULL CHECK (relation IN ('whole', 'part')),
    weight                numeric     CHECK (weight > 0 AND weight <= 1),
    -- The weight is the exact share of the source in the target (declared by the publisher); otherwise a value
    -- built from it is an estimate (status 'estimated').
    exact                 boolean     NOT NULL DEFAULT false,
    recorded_from         timestamptz NOT NULL,
    recorded_to           timestamptz,
    event_id              text        NOT NULL,
    PRIMARY KEY (source_classification, source_version, target_classification, target_version, source_code,
                 target_code, event_id),
    CHECK (relation = 'part' OR weight IS NULL),
    CHECK (NOT exact OR weight IS NOT NULL)
);

CREATE TABLE statistics_v2.indicators (
    code             text        NOT NULL,
    name_vi          text        NOT NULL,
    name_en          text,
    unit             text        NOT NULL,
    periodicities    text[]      NOT NULL,
    -- dimension name -> classification, e.g. {"area": "vn-admin-units", "sex": "sex"}
    dimensions       jsonb       NOT NULL,
    aggregation      text        NOT NULL CHECK (aggregation IN ('sum', 'weighted-mean', 'none')),
    weight_indicator text,
    recorded_from    timestamptz NOT NULL,
    recorded_to      timestamptz,
    event_id         text        NOT NULL,
    PRIMARY KEY (code, event_id),
    CHECK ((aggregation = 'weighted-mean') = (weight_indicator IS NOT NULL))
);

-- Every item row as known at recorded time `known_at`, with its effective valid interval: the item's own
-- interval cut to its version's, where a version without valid_to ends when the next one (by valid_from) begins.
CREATE FUNCTION statistics_v2.items_known_at(known_at timestamptz)
RETURNS TABLE (classification text, version text, code text, parent text, level integer, name_vi text,
               name_en text, valid_from date, valid_to date)
LANGUAGE sql STABLE AS $$
    WITH versions AS (
        SELECT v.classification, v.version, v.valid_from,
               coalesce(v.valid_to, lead(v.valid_from) OVER (PARTITION BY v.classification ORDER BY v.valid_from, v.version)) AS valid_to
        FROM statistics_v2.classification_versions v
        WHERE v.recorded_from <= known_at AND (v.recorded_to IS NULL OR v.recorded_to > known_at)
    )
    SELECT i.classification, i.version, i.code, i.parent, i.level, i.name_vi, i.name_en,
           greatest(i.valid_from, v.valid_from), least(i.valid_to, v.valid_to)
    FROM statistics_v2.items i JOIN versions v USING (classification, version)
    WHERE i.recorded_from <= known_at AND (i.recorded_to IS NULL OR i.recorded_to > known_at)
      AND (least(i.valid_to, v.valid_to) IS NULL OR least(i.valid_to, v.valid_to) > greatest(i.valid_from, v.valid_from))
$$;

-- The classification as of a valid date, as known at a recorded time (default: as known now).
CREATE FUNCTION statistics_v2.classification_at(classification_code text, valid_on date, known_at timestamptz DEFAULT 'infinity')
RETURNS TABLE (code text, parent text, level integer, name_vi text, name_en text, version text, valid_from date, valid_to date)
LANGUAGE sql STABLE AS $$
    SELECT i.code, i.parent, i.level, i.name_vi, i.name_en, i.version, i.valid_from, i.valid_to
    FROM statistics_v2.items_known_at(known_at) i
    WHERE i.classification = classification_code AND i.valid_from <= valid_on AND (i.valid_to IS NULL OR i.valid_to > valid_on)
$$;

-- A code's history: every interval with its attributes, as known at a recorded time.
CREATE FUNCTION statistics_v2.code_history(classification_code text, item_code text, known_at timestamptz DEFAULT 'infinity')
RETURNS TABLE (valid_from date, valid_to date, version text, parent text, level integer, name_vi text, name_en text)
LANGUAGE sql STABLE AS $$
    SELECT i.valid_from, i.valid_to, i.version, i.parent, i.level, i.name_vi, i.name_en
    FROM statistics_v2.items_known_at(known_at) i
    WHERE i.classification = classification_code AND i.code = item_code
    ORDER BY i.valid_from
$$;

-- The path from the top of the hierarchy down to a code, valid on a date.
CREATE FUNCTION statistics_v2.hierarchy_path(classification_code text, item_code text, valid_on date, known_at timestamptz DEFAULT 'infinity')
RETURNS TABLE (depth integer, code text, level integer, name_vi text)
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE at_date AS (
        SELECT * FROM statistics_v2.classification_at(classification_code, valid_on, known_at)
    ), path AS (
        SELECT 0 AS up, a.code, a.parent, a.level, a.name_vi FROM at_date a WHERE a.code = item_code
        UNION ALL
        SELECT p.up + 1, a.code, a.parent, a.level, a.name_vi FROM path p JOIN at_date a ON a.code = p.parent
        WHERE p.up < 10
    )
    SELECT (max(up) OVER () - up)::integer + 1, code, level, name_vi FROM path ORDER BY up DESC
$$;

-- Codes are permanent: a code whose intervals (as known now) leave a gap was closed and opened again.
CREATE FUNCTION statistics_v2.refuse_reused_codes(classification_code text, codes text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    gap record;
BEGIN
    SELECT s.code, s.previous_end, s.valid_from INTO gap FROM (
        SELECT i.code, i.valid_from,
               lag(i.valid_to) OVER (PARTITION BY i.code ORDER BY i.valid_from) AS previous_end,
               lag(i.valid_from) OVER (PARTITION BY i.code ORDER BY i.valid_from) AS previous_start
        FROM statistics_v2.items_known_at('infinity') i
        JOIN (SELECT DISTINCT unnest(codes) AS code) touched ON touched.code = i.code  -- a join, not = ANY: 10 000 codes
        WHERE i.classification = classification_code
    ) s
    WHERE s.previous_start IS NOT NULL AND s.previous_end IS NOT NULL AND s.previous_end < s.valid_from
    ORDER BY s.code LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'code % of % was closed on % and cannot be used again from % (codes are permanent)',
            gap.code, classification_code, gap.previous_end, gap.valid_from;
    END IF;
END $$;

-- Parents must be items of the same version, one level up, valid when the child starts.
CREATE FUNCTION statistics_v2.refuse_broken_hierarchy(classification_code text, version_label text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT c.code, c.parent, c.level, p.level AS parent_level INTO bad
    FROM statistics_v2.items c
    LEFT JOIN statistics_v2.items p ON p.classification = c.classification AND p.version = c.version
        AND p.code = c.parent AND p.recorded_to IS NULL
        AND p.valid_from <= c.valid_from AND (p.valid_to IS NULL OR p.valid_to > c.valid_from)
    WHERE c.classification = classification_code AND c.version = version_label AND c.recorded_to IS NULL
      AND ((c.parent IS NULL AND c.level <> 1) OR (c.parent IS NOT NULL AND (p.code IS NULL OR p.level <> c.level - 1)))
    ORDER BY c.code LIMIT 1;
    IF FOUND THEN
        IF bad.parent IS NULL THEN
            RAISE EXCEPTION 'item % of % % has no parent but level % (top-level items have level 1)',
                bad.code, classification_code, version_label, bad.level;
        ELSIF bad.parent_level IS NULL THEN
            RAISE EXCEPTION 'item % of % %: parent % is not an item of that version when the item starts',
                bad.code, classification_code, version_label, bad.parent;
        ELSE
            RAISE EXCEPTION 'item % of % % has level % but its parent % has level %',
                bad.code, classification_code, version_label, bad.level, bad.parent, bad.parent_level;
        END IF;
    END IF;
END $$;

-- vn.gso.classification.published: the version's items replace what we held for that version.
CREATE FUNCTION statistics_v2.publish_classification(event_id text, recorded timestamptz, data jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    k text := data->>'classification';
    v text := data->>'version';
    duplicate text;
BEGIN
    IF EXISTS (SELECT 1 FROM statistics_v2.classification_versions c WHERE c.event_id = publish_classification.event_id) THEN
        RETURN;  -- a redriven or re-published copy of an event already applied
    END IF;
    SELECT x->>'code' INTO duplicate FROM jsonb_array_elements(data->'items') x
    GROUP BY x->>'code' HAVING count(*) > 1 ORDER BY 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'items[].code % appears twice in % %', duplicate, k, v;
    END IF;
    UPDATE statistics_v2.classification_versions SET recorded_to = recorded
    WHERE classification = k AND version = v AND recorded_to IS NULL;
    UPDATE statistics_v2.items SET recorded_to = recorded
    WHERE classification = k AND version = v AND recorded_to IS NULL;
    INSERT INTO statistics_v2.classification_versions VALUES
        (k, v, (data->>'validFrom')::date, (data->>'validTo')::date, recorded, NULL, event_id);
    INSERT INTO statistics_v2.items
    SELECT k, v, x->>'code', x->>'parent', (x->>'level')::integer, x->>'nameVi', x->>'nameEn',
           greatest(coalesce((x->>'validFrom')::date, (data->>'validFrom')::date), (data->>'validFrom')::date),
           (x->>'validTo')::date, recorded, NULL, event_id
    FROM jsonb_array_elements(data->'items') x;
    -- A classification can add 10 000 rows at once: without fresh statistics the checks below plan nested loops
    -- over both sides (29 s instead of well under one for the 2024 units).
    ANALYZE statistics_v2.items;
    PERFORM statistics_v2.refuse_broken_hierarchy(k, v);
    PERFORM statistics_v2.refuse_reused_codes(k, ARRAY(SELECT x->>'code' FROM jsonb_array_elements(data->'items') x));
    -- A new version also ends the one before it, so everything from the earlier of the two starts may change.
    PERFORM statistics_v2.classification_changed(k, v, least((data->>'validFrom')::date,
        (SELECT min(i.valid_from) FROM statistics_v2.items_current i WHERE i.classification = k AND i.version = v)));
END $$;

-- vn.gso.classification.items-changed: open, close, rename or move items of a version from an effective date.
CREATE FUNCTION statistics_v2.change_items(event_id text, recorded timestamptz, data jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    k text := data->>'classification';
    v text := data->>'version';
    effective date := (data->>'effectiveDate')::date;
    change jsonb;
    kind text;
    c text;
    old record;
BEGIN
    IF EXISTS (SELECT 1 FROM statistics_v2.items i WHERE i.event_id = change_items.event_id) THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM statistics_v2.classification_versions cv
                   WHERE cv.classification = k AND cv.version = v AND cv.recorded_to IS NULL) THEN
        RAISE EXCEPTION 'version % of % is not published; its items cannot change', v, k;
    END IF;
    FOR change IN SELECT * FROM jsonb_array_elements(data->'changes') LOOP
        kind := change->>'change';
        c := change->>'code';
        IF kind = 'open' THEN
            -- A closed code opened again is refused by refuse_reused_codes below, like one in a new version.
            IF EXISTS (SELECT 1 FROM statistics_v2.items_known_at('infinity') i
                       WHERE i.classification = k AND i.code = c AND i.valid_to IS NULL) THEN
                RAISE EXCEPTION 'code % of % already exists; open is for new codes', c, k;
            END IF;
            INSERT INTO statistics_v2.items VALUES (k, v, c, change->>'parent', (change->>'level')::integer,
                change->>'nameVi', change->>'nameEn', effective, NULL, recorded, NULL, event_id);
            CONTINUE;
        END IF;
        SELECT * INTO old FROM statistics_v2.items i
        WHERE i.classification = k AND i.version = v AND i.code = c AND i.recorded_to IS NULL
          AND i.valid_from < effective AND (i.valid_to IS NULL OR i.valid_to > effective);
        IF NOT FOUND THEN
            RAISE EXCEPTION 'code % of % % is not valid on %; cannot %', c, k, v, effective, kind;
        END IF;
        UPDATE statistics_v2.items i SET recorded_to = recorded
        WHERE i.classification = k AND i.version = v AND i.code = c AND i.valid_from = old.valid_from
          AND i.event_id = old.event_id;
        -- Before the effective date: as it was.
        INSERT INTO statistics_v2.items VALUES (k, v, c, old.parent, old.level, old.name_vi, old.name_en,
            old.valid_from, effective, recorded, NULL, event_id);
        IF kind = 'rename' THEN
            INSERT INTO statistics_v2.items VALUES (k, v, c, old.parent, old.level, change->>'nameVi',
                coalesce(change->>'nameEn', old.name_en), effective, old.valid_to, recorded, NULL, event_id);
        ELSIF kind = 'move' THEN
            INSERT INTO statistics_v2.items VALUES (k, v, c, change->>'parent', (change->>'level')::integer,
                old.name_vi, old.name_en, effective, old.valid_to, recorded, NULL, event_id);
        END IF;  -- close: nothing from the effective date on
    END LOOP;
    PERFORM statistics_v2.refuse_broken_hierarchy(k, v);
    PERFORM statistics_v2.refuse_reused_codes(k, ARRAY(SELECT x->>'code' FROM jsonb_array_elements(data->'changes') x));
    PERFORM statistics_v2.classification_changed(k, v, effective);
END $$;

-- vn.gso.correspondence.published: replaces the table between the two versions.
CREATE FUNCTION statistics_v2.publish_correspondence(event_id text, recorded timestamptz, data jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    sk text := data->'source'->>'classification';
    sv text := data->'source'->>'version';
    tk text := data->'target'->>'classification';
    tv text := data->'target'->>'version';
    bad record;
BEGIN
    IF EXISTS (SELECT 1 FROM statistics_v2.correspondences c WHERE c.event_id = publish_correspondence.event_id) THEN
        RETURN;
    END IF;
    FOR bad IN SELECT * FROM (VALUES (sk, sv), (tk, tv)) AS x(k, v) LOOP
        IF NOT EXISTS (SELECT 1 FROM statistics_v2.classification_versions cv
                       WHERE cv.classification = bad.k AND cv.version = bad.v AND cv.recorded_to IS NULL) THEN
            RAISE EXCEPTION 'version % of % is not published; publish it before a correspondence that uses it', bad.v, bad.k;
        END IF;
    END LOOP;
    SELECT m->>'source' AS code, 'source' AS side INTO bad FROM jsonb_array_elements(data->'mappings') m
    WHERE NOT EXISTS (SELECT 1 FROM statistics_v2.items i WHERE i.classification = sk AND i.version = sv
                      AND i.code = m->>'source' AND i.recorded_to IS NULL)
    UNION ALL
    SELECT m->>'target', 'target' FROM jsonb_array_elements(data->'mappings') m
    WHERE NOT EXISTS (SELECT 1 FROM statistics_v2.items i WHERE i.classification = tk AND i.version = tv
                      AND i.code = m->>'target' AND i.recorded_to IS NULL)
    ORDER BY 2 DESC, 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'mappings[].% % is not an item of % %', bad.side, bad.code,
            CASE bad.side WHEN 'source' THEN sk ELSE tk END, CASE bad.side WHEN 'source' THEN sv ELSE tv END;
    END IF;
    SELECT m->>'source' AS code, sum((m->>'weight')::numeric) AS total INTO bad
    FROM jsonb_array_elements(data->'mappings') m
    GROUP BY m->>'source'
    HAVING bool_and(m ? 'weight') AND count(*) FILTER (WHERE m->>'relation' = 'part') > 0
       AND abs(sum((m->>'weight')::numeric) - 1) > 0.000001
    ORDER BY 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'the weights of source % add up to %, not 1: its value would not be conserved', bad.code, bad.total;
    END IF;
    SELECT m->>'source' AS code INTO bad FROM jsonb_array_elements(data->'mappings') m
    GROUP BY m->>'source' HAVING count(*) FILTER (WHERE m->>'relation' = 'whole') > 0 AND count(*) > 1
    ORDER BY 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'source % is mapped whole to one target and also to others; a whole relation must be its only one', bad.code;
    END IF;
    UPDATE statistics_v2.correspondences SET recorded_to = recorded
    WHERE source_classification = sk AND source_version = sv AND target_classification = tk AND target_version = tv
      AND recorded_to IS NULL;
    INSERT INTO statistics_v2.correspondences
    SELECT sk, sv, tk, tv, m->>'source', m->>'target', m->>'relation', (m->>'weight')::numeric,
           coalesce((m->>'exact')::boolean, false), recorded, NULL, event_id
    FROM jsonb_array_elements(data->'mappings') m;
    IF sk = 'vn-admin-units' AND tk = 'vn-admin-units' THEN
        PERFORM statistics_v2.recompute_reexpression(sv, tv);
    END IF;
END $$;

-- vn.gso.indicator.defined: a later definition of a code replaces the earlier one.
CREATE FUNCTION statistics_v2.define_indicator(event_id text, recorded timestamptz, data jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM statistics_v2.indicators i WHERE i.event_id = define_indicator.event_id) THEN
        RETURN;
    END IF;
    -- The weight indicator is not required to exist yet: definitions of different indicators have different keys,
    -- so their order in the log is not defined (invariant 3). Without weights, weighted means are missing.
    UPDATE statistics_v2.indicators SET recorded_to = recorded WHERE code = data->>'code' AND recorded_to IS NULL;
    INSERT INTO statistics_v2.indicators VALUES (data->>'code', data->>'nameVi', data->>'nameEn', data->>'unit',
        ARRAY(SELECT jsonb_array_elements_text(data->'periodicities')), data->'dimensions',
        data->'aggregation'->>'rule', data->'aggregation'->>'weight', recorded, NULL, event_id);
    PERFORM statistics_v2.recompute_indicator(data->>'code');
END $$;
