import MekongAccess
import MekongEvents
import MekongIndicatorQueries
import MekongPostgres

/// A reader registered with `mekong readers add`: what its key opens beyond published data, and how often.
public struct Reader: Sendable, Equatable {
    public var id: String
    /// Indicator codes, or `*` for every indicator.
    public var indicators: [String]
    /// Area codes, each with every area below it, or `*` for every area.
    public var areas: [String]
    public var quota: Quotas.Limits
    /// Also sees periods before their release time (the embargo scope).
    public var embargo: Bool
    public var revoked: Bool

    /// What this reader may see of `indicator`: in full for its areas, published data elsewhere.
    public func disclosure(of indicator: String) -> Disclosure {
        guard indicators.contains("*") || indicators.contains(indicator) else { return .published }
        return areas.contains("*") ? .full : .fullWithin(areas: areas)
    }
}

/// The registered readers in PostgreSQL (schema `readers`, Projections/readers/v1): keys stored as SHA-256 only,
/// scopes, quotas, revocation.
public struct ReaderRegistry {
    private let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Creates or upgrades the `readers` schema.
    public static func prepare(_ connection: PostgresConnection, migrations: MigrationRunner) throws {
        _ = try migrations.apply(projection: "readers", version: 1, on: connection)
    }

    /// Registers a reader and returns its API key, which is shown once and stored only as a hash.
    /// - Throws: ``ReaderRegistryError`` for an id in use, an empty scope or a quota that is not positive.
    public func add(id: String, indicators: [String], areas: [String], quota: Quotas.Limits, embargo: Bool = false) throws -> String {
        guard (try? #/^[a-z0-9][a-z0-9._-]{0,62}$/#.wholeMatch(in: id)) != nil else {
            throw ReaderRegistryError(reader: id, message: "an id is lower-case letters, digits, . _ - (at most 63)")
        }
        guard !indicators.isEmpty else { throw ReaderRegistryError(reader: id, message: "needs at least one --indicator (deny by default)") }
        guard !areas.isEmpty else { throw ReaderRegistryError(reader: id, message: "needs at least one --area (deny by default)") }
        guard quota.perHour > 0, quota.perDay > 0 else {
            throw ReaderRegistryError(reader: id, message: "--per-hour and --per-day must be positive")
        }
        let apiKey = APIKey.generate()
        try connection.transaction { connection in
            if try !connection.query("SELECT 1 FROM readers.readers WHERE id = $1", [id]).isEmpty {
                throw ReaderRegistryError(reader: id, message: "a reader with this id is already registered")
            }
            try connection.execute(
                """
                INSERT INTO readers.readers (id, api_key_sha256, indicators, areas, requests_per_hour, requests_per_day, embargo)
                VALUES ($1, $2, $3::text[], $4::text[], $5, $6, $7)
                """,
                [id, APIKey.sha256(apiKey), PostgresArray.text(indicators), PostgresArray.text(areas), quota.perHour, quota.perDay,
                 embargo])
        }
        return apiKey
    }

    /// Every reader, revoked ones included, by id.
    public func list() throws -> [Reader] {
        try load(where: "true", [])
    }

    /// The reader whose key this is, unless it is unknown or revoked.
    public func authenticate(apiKey: String) throws -> Reader? {
        try load(where: "api_key_sha256 = $1 AND revoked_at IS NULL", [APIKey.sha256(apiKey)]).first
    }

    /// Revokes a reader: its key stops working at once (the server looks keys up on every request).
    public func revoke(id: String) throws {
        let updated = try connection.query(
            "UPDATE readers.readers SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id", [id])
        guard !updated.isEmpty else { throw ReaderRegistryError(reader: id, message: "no such reader, or it is revoked already") }
    }

    /// Gives a reader a new key; the old one stops working. Returns the new key (shown once).
    public func rotate(id: String) throws -> String {
        let apiKey = APIKey.generate()
        let updated = try connection.query(
            "UPDATE readers.readers SET api_key_sha256 = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id",
            [id, APIKey.sha256(apiKey)])
        guard !updated.isEmpty else { throw ReaderRegistryError(reader: id, message: "no such reader, or it is revoked") }
        return apiKey
    }

    private func load(where condition: String, _ parameters: [(any PostgresBindable)?]) throws -> [Reader] {
        try connection.query(
            """
            SELECT id, array_to_json(indicators)::text, array_to_json(areas)::text, requests_per_hour, requests_per_day,
                   revoked_at IS NOT NULL, embargo
            FROM readers.readers WHERE \(condition) ORDER BY id
            """, parameters
        ).map { row in
            Reader(
                id: try row.decode(String.self, at: 0), indicators: try Self.strings(row.decode(String.self, at: 1)),
                areas: try Self.strings(row.decode(String.self, at: 2)),
                quota: Quotas.Limits(perHour: try row.decode(Int.self, at: 3), perDay: try row.decode(Int.self, at: 4)),
                embargo: try row.decode(Bool.self, at: 6), revoked: try row.decode(Bool.self, at: 5))
        }
    }

    private static func strings(_ json: String) throws -> [String] {
        try JSON.parse(json).arrayValue?.compactMap(\.stringValue) ?? []
    }
}

/// Why a reader cannot be registered, revoked or rotated.
public struct ReaderRegistryError: Error, CustomStringConvertible, Sendable {
    public let reader: String
    public let message: String
    public var description: String { "reader \(reader): \(message)" }
}
