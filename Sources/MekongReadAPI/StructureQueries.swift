import MekongEvents
import MekongIndicatorQueries
import MekongPostgres

/// The master data behind the data answers (docs/read-api.md, "Structure"), as known at a recorded time: each
/// answer is one parameterized statement that builds its JSON document in PostgreSQL, so one answer is one
/// snapshot. Master data is public: every reader gets all of it.
enum StructureQueries {
    /// `{"indicators": [...]}`, or one indicator's object (`code`), or nil if that indicator is not defined. Each
    /// names its dataflow (``SDMX/dataflowReference(indicator:)``), the id the data messages carry.
    static func indicators(code: String?, knownAt: String, on db: PostgresConnection) throws -> String? {
        let rows = try db.query(
            """
            SELECT i.code, json_build_object(
                       'code', i.code, 'name', i.name_vi, 'nameEn', i.name_en, 'unit', i.unit,
                       'periodicities', to_json(i.periodicities), 'dimensions', i.dimensions,
                       'aggregation', i.aggregation, 'weightIndicator', i.weight_indicator)::text
            FROM statistics.indicators i
            WHERE i.recorded_from <= $1::timestamptz AND (i.recorded_to IS NULL OR i.recorded_to > $1::timestamptz)
              AND ($2::text IS NULL OR i.code = $2)
            ORDER BY i.code
            """, [knownAt, code])
        let indicators: [JSONValue] = try rows.map { row in
            var object = try JSON.parse(row.decode(String.self, at: 1)).objectValue ?? [:]
            object["dataflow"] = .string(SDMX.dataflowReference(indicator: try row.decode(String.self, at: 0)))
            return .object(object)
        }
        guard code != nil else { return JSON.serialize(.object(["indicators": .array(indicators)])) + "\n" }
        return indicators.first.map { JSON.serialize($0) + "\n" }
    }

    /// `{"classifications": [{"id", "versions": [{"version", "validFrom", "validTo"}]}]}`; `validTo` is null while
    /// a version lasts until the next one begins.
    static func classifications(knownAt: String, on db: PostgresConnection) throws -> String {
        try db.query(
            """
            SELECT json_build_object('classifications', coalesce(json_agg(c ORDER BY c.id), '[]'))::text
            FROM (SELECT v.classification AS id,
                         json_agg(json_build_object('version', v.version, 'validFrom', v.valid_from, 'validTo', v.valid_to)
                                  ORDER BY v.valid_from, v.version) AS versions
                  FROM statistics.classification_versions v
                  WHERE v.recorded_from <= $1::timestamptz AND (v.recorded_to IS NULL OR v.recorded_to > $1::timestamptz)
                  GROUP BY v.classification) c
            """, [knownAt])[0].decode(String.self, at: 0) + "\n"
    }

    /// One version's codes with their parent, level, names and effective validity (the item's own interval cut to
    /// the version's), in code order; nil if the version is not published (as known at `knownAt`).
    static func codes(classification: String, version: String, knownAt: String, on db: PostgresConnection) throws -> String? {
        let row = try db.query(
            """
            SELECT EXISTS (SELECT FROM statistics.classification_versions v
                           WHERE v.classification = $1 AND v.version = $2 AND v.recorded_from <= $3::timestamptz
                             AND (v.recorded_to IS NULL OR v.recorded_to > $3::timestamptz)),
                   json_build_object('classification', $1::text, 'version', $2::text, 'codes', coalesce(
                       (SELECT json_agg(json_build_object(
                                   'code', i.code, 'parent', i.parent, 'level', i.level, 'name', i.name_vi,
                                   'nameEn', i.name_en, 'validFrom', i.valid_from, 'validTo', i.valid_to)
                               ORDER BY i.code, i.valid_from)
                        FROM statistics.items_known_at($3::timestamptz) i
                        WHERE i.classification = $1 AND i.version = $2), '[]'))::text
            """, [classification, version, knownAt])[0]
        guard try row.decode(Bool.self, at: 0) else { return nil }
        return try row.decode(String.self, at: 1) + "\n"
    }

    /// `{"correspondences": [{"sourceClassification", "sourceVersion", "targetClassification", "targetVersion",
    /// "mappings": [{"source", "target", "relation", "weight", "exact"}]}]}`, of one source classification if
    /// given.
    static func correspondences(classification: String?, knownAt: String, on db: PostgresConnection) throws -> String {
        try db.query(
            """
            SELECT json_build_object('correspondences', coalesce(json_agg(c ORDER BY c."sourceClassification",
                       c."sourceVersion", c."targetClassification", c."targetVersion"), '[]'))::text
            FROM (SELECT m.source_classification AS "sourceClassification", m.source_version AS "sourceVersion",
                         m.target_classification AS "targetClassification", m.target_version AS "targetVersion",
                         json_agg(json_build_object('source', m.source_code, 'target', m.target_code,
                                                    'relation', m.relation, 'weight', m.weight, 'exact', m.exact)
                                  ORDER BY m.source_code, m.target_code) AS mappings
                  FROM statistics.correspondences m
                  WHERE m.recorded_from <= $1::timestamptz AND (m.recorded_to IS NULL OR m.recorded_to > $1::timestamptz)
                    AND ($2::text IS NULL OR m.source_classification = $2)
                  GROUP BY 1, 2, 3, 4) c
            """, [knownAt, classification])[0].decode(String.self, at: 0) + "\n"
    }
}
