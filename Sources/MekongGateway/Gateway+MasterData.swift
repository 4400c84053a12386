import MekongEvents
import MekongPostgres

/// A problem `statistics.report_problems` found in one report.
struct ReportProblem: Sendable {
    /// Index in the list of reports checked.
    let report: Int
    /// JSON pointer into the report's data.
    let pointer: String
    let code: String
    let message: String
}

extension Gateway {
    /// Checks reports' data against the master-data projection (`statistics`): indicators defined, periods of the
    /// indicator's periodicity, dimensions as defined, every code valid at the period's reference date.
    func reportProblems(_ reports: [JSONValue]) async throws -> [ReportProblem] {
        let batch = JSON.serialize(.array(reports))
        return try await masterData { connection, schema in
            try connection.query("SELECT report, pointer, problem, message FROM \(schema).report_problems($1::jsonb)", [batch])
                .map { row in
                    ReportProblem(
                        report: try row.decode(Int.self, at: 0), pointer: try row.decode(String.self, at: 1),
                        code: try row.decode(String.self, at: 2), message: try row.decode(String.self, at: 3))
                }
        }
    }

    /// The day codes must be valid on: a date, or a reference period's last day (the projection's own rule,
    /// `period_reference_date`).
    enum ValidityDay: Sendable {
        case date(String)
        case endOf(period: String)
    }

    /// Whether each code is valid in a classification on a day, and why not.
    func codeValidity(classification: String, codes: [String], on day: ValidityDay) async throws
        -> [(code: String, valid: Bool, reason: String?)]
    {
        try await masterData { connection, schema in
            let (expression, value) = switch day {
            case .date(let date): ("$3::date", date)
            case .endOf(let period): ("\(schema).period_reference_date($3)", period)
            }
            return try connection.query(
                "SELECT code, valid, reason FROM \(schema).code_validity($1, $2::text[], \(expression))",
                [classification, PostgresArray.text(codes), value]
            ).map { row in
                (try row.decode(String.self, at: 0), try row.decode(Bool.self, at: 1), try row.decode(String?.self, at: 2))
            }
        }
    }

    /// `GET /v1/classifications/{id}/items?asOf=`: the items valid on a date.
    func classificationItems(_ classification: String, asOf date: String) async throws -> JSONValue {
        let items = try await masterData { connection, schema in
            try connection.query(
                """
                SELECT coalesce(json_agg(json_build_object('code', code, 'name', name_vi, 'nameEn', name_en,
                    'level', level, 'parent', parent, 'version', version, 'validFrom', valid_from, 'validTo', valid_to)
                    ORDER BY level, code), '[]')::text
                FROM \(schema).classification_at($1, $2::date)
                """, [classification, date]
            ).first.map { try $0.decode(String.self, at: 0) } ?? "[]"
        }
        let parsed = try JSON.parse(items)
        if parsed.arrayValue?.isEmpty ?? true {
            let known = try await masterData { connection, schema in
                try !connection.query(
                    "SELECT 1 FROM \(schema).classification_versions WHERE classification = $1 LIMIT 1", [classification]
                ).isEmpty
            }
            if !known { throw Problem.notFound("no classification \(classification) in the master data") }
        }
        return .object(["classification": .string(classification), "asOf": .string(date), "items": parsed])
    }

    /// Runs a master-data query against the active version's schema of the `statistics` projection (named
    /// directly, so that functions a later migration added are found before the next activation); a database
    /// without it answers 503.
    private func masterData<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection, String) throws -> T
    ) async throws -> T {
        do {
            return try await db { connection in
                let active = try connection.query(
                    "SELECT version FROM mekong.projection_versions WHERE projection = 'statistics' AND state = 'active'")
                guard let version = try active.first?.decode(Int.self, at: 0) else {
                    throw PostgresError(code: .queryFailed, message: "no active statistics version", sqlState: "3F000")
                }
                return try body(connection, "statistics_v\(version)")
            }
        } catch let error as PostgresError where ["3F000", "42P01", "42883"].contains(error.sqlState ?? "") {
            throw Problem(
                503, "master-data-unavailable", "Master data unavailable",
                detail: "the statistics projection (master data) is not active or not upgraded in the gateway's database "
                    + "(run `mekong project statistics` against it)", retryAfter: 60)
        } catch let error as PostgresError where error.sqlState == "22007" || error.sqlState == "22008" {
            throw Problem.badRequest("invalid-date", "not a date (YYYY-MM-DD)")
        }
    }
}
