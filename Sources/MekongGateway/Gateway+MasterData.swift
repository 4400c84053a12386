import MekongEvents
import MekongPostgres

/// The gateway's copy of the master data, replaced when the projection moves (``MasterDataSnapshot``), and the
/// projection's reading of the periods seen so far under the snapshot's version.
struct MasterDataCache: Sendable {
    var snapshot: MasterDataSnapshot?
    var periods: [String: MasterDataSnapshot.Period] = [:]
}

extension Gateway {
    /// The master data as the active `statistics` version holds it now, and its reading of `periods`. One query
    /// when nothing moved; the snapshot is reloaded only after a master-data event was projected or a new version
    /// activated.
    func masterDataSnapshot(periods: Set<String>) async throws
        -> (MasterDataSnapshot, [String: MasterDataSnapshot.Period])
    {
        let cached = masterDataCache.withLock { $0 }
        let topic = configuration.catalog.topic(carrying: "vn.gso.classification.published")?.name ?? "master-data"
        let (snapshot, known) = try await masterData { connection, schema, version in
            let offsets = try connection.query(
                """
                SELECT coalesce(sum(next_offset), 0)::bigint FROM mekong.checkpoints
                WHERE projection = 'statistics' AND version = $1 AND topic = $2
                """, [version, topic])[0].decode(Int64.self, at: 0)
            let position = MasterDataSnapshot.Position(version: version, masterDataOffsets: offsets)
            // A master-data event projected between this query and the load below makes the snapshot newer than its
            // position, never older; the next request sees the position moved and loads it again.
            var snapshot = cached.snapshot
            if snapshot?.position != position {
                snapshot = try Self.loadSnapshot(connection, schema: schema, position: position)
            }
            var known = cached.snapshot?.position.version == version ? cached.periods : [:]
            // Year 0000 fits the schemas' period pattern but is no day of PostgreSQL's calendar: not a period.
            for period in periods where period.hasPrefix("0000") { known[period] = MasterDataSnapshot.Period(type: nil, referenceDate: nil) }
            let missing = periods.filter { known[$0] == nil }.sorted()
            if !missing.isEmpty {
                for row in try connection.query(
                    "SELECT p, \(schema).period_type(p), \(schema).period_reference_date(p)::text FROM unnest($1::text[]) p",
                    [PostgresArray.text(missing)])
                {
                    known[try row.decode(String.self, at: 0)] = MasterDataSnapshot.Period(
                        type: try row.decode(String?.self, at: 1), referenceDate: try row.decode(String?.self, at: 2))
                }
            }
            return (snapshot!, known)
        }
        masterDataCache.withLock { cache in
            if cache.snapshot?.position.version != snapshot.position.version { cache.periods = [:] }
            cache.snapshot = snapshot
            cache.periods.merge(known) { old, _ in old }
        }
        if cached.snapshot?.position != snapshot.position {
            logger.info("master data loaded", metadata: [
                "version": "\(snapshot.position.version)", "offsets": "\(snapshot.position.masterDataOffsets)",
                "indicators": "\(snapshot.indicators.count)",
                "codes": "\(snapshot.intervals.values.reduce(0) { $0 + $1.count })",
            ])
        }
        return (snapshot, known)
    }

    private static func loadSnapshot(_ connection: PostgresConnection, schema: String, position: MasterDataSnapshot.Position)
        throws -> MasterDataSnapshot
    {
        try connection.transaction { connection in
            // JIT would compile these plans on every load (their row estimates are high); they read ~14 000 rows.
            try connection.execute("SET LOCAL jit = off")
            var intervals: [String: [String: [MasterDataSnapshot.Interval]]] = [:]
            for row in try connection.query(
                """
                SELECT classification, code, valid_from::text, valid_to::text FROM \(schema).items_known_at('infinity')
                ORDER BY classification, code, valid_from
                """)
            {
                let interval = MasterDataSnapshot.Interval(
                    from: try row.decode(String.self, at: 2), to: try row.decode(String?.self, at: 3))
                intervals[try row.decode(String.self, at: 0), default: [:]][try row.decode(String.self, at: 1), default: []]
                    .append(interval)
            }
            var indicators: [String: MasterDataSnapshot.Indicator] = [:]
            for row in try connection.query(
                "SELECT code, array_to_json(periodicities)::text, dimensions::text FROM \(schema).indicators WHERE recorded_to IS NULL")
            {
                let periodicities = try JSON.parse(try row.decode(String.self, at: 1)).arrayValue?.compactMap(\.stringValue) ?? []
                var dimensions: [String: String] = [:]
                for (name, classification) in try JSON.parse(try row.decode(String.self, at: 2)).objectValue ?? JSONObject() {
                    dimensions[name] = classification.stringValue
                }
                indicators[try row.decode(String.self, at: 0)] = MasterDataSnapshot.Indicator(
                    periodicities: periodicities, dimensions: dimensions)
            }
            return MasterDataSnapshot(position: position, indicators: indicators, intervals: intervals)
        }
    }

    /// Checks reports' data against the master data: indicators defined, periods of the indicator's periodicity,
    /// dimensions as defined, every code valid at the period's reference date. Problems carry the report's index.
    func reportProblems(_ reports: [JSONValue]) async throws -> [(report: Int, problem: MasterDataSnapshot.Problem)] {
        let periods = Set(reports.compactMap { $0["period"]?.stringValue })
        let (snapshot, known) = try await masterDataSnapshot(periods: periods)
        var found: [(report: Int, problem: MasterDataSnapshot.Problem)] = []
        for (index, report) in reports.enumerated() {
            let period = known[report["period"]?.stringValue ?? ""] ?? MasterDataSnapshot.Period(type: nil, referenceDate: nil)
            found += snapshot.problems(inReport: report, period: period).map { (index, $0) }
        }
        return found
    }

    /// The day codes must be valid on: a date, or a reference period's last day.
    enum ValidityDay: Sendable {
        case date(String)
        case endOf(period: String)
    }

    /// Whether each code is valid in a classification on a day, and why not.
    func codeValidity(classification: String, codes: [String], on day: ValidityDay) async throws
        -> [(code: String, valid: Bool, reason: String?)]
    {
        let date: String
        let snapshot: MasterDataSnapshot
        switch day {
        case .date(let text):
            guard RFC3339.isValidDate(text) else {
                throw Problem.invalid(.schema, "date \(text) is not a day (YYYY-MM-DD)", conflicts: [
                    Conflict(pointer: "/date", code: .schema, message: "\(text) is not a day (YYYY-MM-DD)")])
            }
            (snapshot, _) = try await masterDataSnapshot(periods: [])
            date = text
        case .endOf(let period):
            let (loaded, known) = try await masterDataSnapshot(periods: [period])
            guard let reference = known[period]?.referenceDate else {
                throw Problem.badRequest(.invalidPeriod, "\(period) is not a period")
            }
            (snapshot, date) = (loaded, reference)
        }
        guard snapshot.intervals[classification] != nil else {
            throw Problem.notFound("no classification \(classification) in the master data")
        }
        return codes.map { code in
            let (valid, reason) = snapshot.validity(of: code, in: classification, on: date)
            return (code, valid, reason)
        }
    }

    /// `GET /v1/classifications/{id}/items?asOf=`: the items valid on a date.
    func classificationItems(_ classification: String, asOf date: String) async throws -> JSONValue {
        guard RFC3339.isValidDate(date) else { throw Problem.badRequest(.invalidParameter, "asOf \(date) is not a day (YYYY-MM-DD)") }
        let items = try await masterData { connection, schema, _ in
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
            let known = try await masterData { connection, schema, _ in
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
        _ body: @escaping @Sendable (PostgresConnection, String, Int) throws -> T
    ) async throws -> T {
        do {
            return try await db { connection in
                let active = try connection.query(
                    "SELECT version FROM mekong.projection_versions WHERE projection = 'statistics' AND state = 'active'")
                guard let version = try active.first?.decode(Int.self, at: 0) else {
                    throw PostgresError(code: .queryFailed, message: "no active statistics version", sqlState: "3F000")
                }
                return try body(connection, "statistics_v\(version)", version)
            }
        } catch let error as PostgresError where ["3F000", "42P01", "42883"].contains(error.sqlState ?? "") {
            throw Problem(.masterDataUnavailable, "Master data unavailable",
                detail: "the statistics projection (master data) is not active or not upgraded in the gateway's database "
                    + "(run `mekong project statistics` against it)", retryAfter: 60)
        }
    }
}
