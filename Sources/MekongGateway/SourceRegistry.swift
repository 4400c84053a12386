import Crypto
import Foundation
import MekongAccess
import MekongEvents
import MekongEvidence
import MekongPostgres

/// A source system registered with `mekong sources add`, as the gateway sees it on each request.
public struct RegisteredSource: Sendable, Equatable {
    /// Short id, e.g. "ctk-hanoi": named in receipts and reconciliation.
    public let id: String
    /// The CloudEvents `source` attribute its events must carry.
    public let uri: String
    /// Event types it may publish.
    public let eventTypes: [String]
    /// Reporting units it may publish for: exact codes, prefixes ending in `*`, or `*`.
    public let units: [String]
    /// Areas its observations and survey rows may be about (same patterns); empty means any.
    public let areas: [String]
    /// The rate limit: events per second (bursts up to twice that).
    public let eventsPerSecond: Int
    /// Its signing keys that are accepted now.
    public let keys: [VerifyingKey]
    public let revokedAt: String?
    /// SHA-256 (hex) of the DER client certificate it must present when the gateway requires mutual TLS.
    public var clientCertificateSHA256: String? = nil

    /// Whether it may publish events of `type`.
    public func mayPublish(type: String) -> Bool { eventTypes.contains(type) }

    /// Whether it may publish for reporting unit `unit`.
    public func mayReport(forUnit unit: String) -> Bool { Self.matches(unit, units) }

    /// Whether it may publish about area `area`.
    public func mayReport(onArea area: String) -> Bool { areas.isEmpty || Self.matches(area, areas) }

    /// Its accepted key named `keyId`.
    public func key(named keyId: String) -> VerifyingKey? { keys.first { $0.keyId == keyId } }

    static func matches(_ code: String, _ patterns: [String]) -> Bool {
        patterns.contains { pattern in
            pattern.hasSuffix("*") ? code.hasPrefix(pattern.dropLast()) : code == pattern
        }
    }
}

/// Why a source cannot be registered or changed.
public struct SourceRegistryError: Error, Sendable, CustomStringConvertible {
    public let source: String
    public let message: String
    public var description: String { "source \(source): \(message)" }
}

/// The registered sources in PostgreSQL (schema `gateway`, Projections/gateway/v1): registration, API keys (stored
/// as SHA-256 only), signing keys, scopes, revocation.
public struct SourceRegistry {
    private let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Creates or upgrades the `gateway` schema.
    public static func prepare(_ connection: PostgresConnection, migrations: MigrationRunner) throws {
        _ = try migrations.apply(projection: "gateway", version: 1, on: connection)
    }

    /// Registers a source and returns its API key, which is shown once and stored only as a hash.
    public func add(
        id: String, uri: String, key: VerifyingKey, eventTypes: [String], units: [String], areas: [String],
        eventsPerSecond: Int
    ) throws -> String {
        guard !eventTypes.isEmpty else {
            throw SourceRegistryError(source: id, message: "needs at least one --type (deny by default)")
        }
        guard eventsPerSecond > 0 else { throw SourceRegistryError(source: id, message: "--rate must be positive") }
        // Every event of the source carries its URI as `source`, which events may not hold beyond this limit.
        guard uri.utf8.count <= CloudEvent.Limits.source else {
            throw SourceRegistryError(
                source: id,
                message: "the URI is \(uri.utf8.count) bytes long; an event's source holds at most \(CloudEvent.Limits.source)")
        }
        let apiKey = APIKey.generate()
        try connection.transaction { connection in
            if try !connection.query("SELECT 1 FROM gateway.sources WHERE id = $1 OR uri = $2", [id, uri]).isEmpty {
                throw SourceRegistryError(source: id, message: "a source with this id or URI \(uri) is already registered")
            }
            try connection.execute(
                """
                INSERT INTO gateway.sources (id, uri, api_key_sha256, event_types, units, areas, events_per_second)
                VALUES ($1, $2, $3, $4::text[], $5::text[], $6::text[], $7)
                """,
                [id, uri, APIKey.sha256(apiKey), PostgresArray.text(eventTypes), PostgresArray.text(units),
                 PostgresArray.text(areas), eventsPerSecond])
            try connection.execute(
                "INSERT INTO gateway.source_keys (source, key_id, public_key) VALUES ($1, $2, $3)",
                [id, key.keyId, key.base64])
        }
        return apiKey
    }

    /// Every source, revoked ones included, by id.
    public func list() throws -> [RegisteredSource] {
        try load(where: "TRUE", [])
    }

    /// The source an API key belongs to, unless the key is unknown or the source revoked.
    public func authenticate(apiKey: String) throws -> RegisteredSource? {
        try load(where: "s.api_key_sha256 = $1 AND s.revoked_at IS NULL", [APIKey.sha256(apiKey)]).first
    }

    /// Revokes a source: its API key stops working at once. Its receipts and keys stay as evidence.
    public func revoke(id: String) throws {
        let changed = try connection.execute(
            "UPDATE gateway.sources SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", [id])
        guard changed == 1 else { throw SourceRegistryError(source: id, message: "is not registered or already revoked") }
    }

    /// Rotates a source's credentials: a new API key (returned; the old one stops working), and if `signingKey` is
    /// given, that key replaces the accepted ones (which are retired, kept for verifying old signatures).
    public func rotate(id: String, signingKey: VerifyingKey?) throws -> String {
        let apiKey = APIKey.generate()
        try connection.transaction { connection in
            let changed = try connection.execute(
                "UPDATE gateway.sources SET api_key_sha256 = $2 WHERE id = $1 AND revoked_at IS NULL",
                [id, APIKey.sha256(apiKey)])
            guard changed == 1 else { throw SourceRegistryError(source: id, message: "is not registered or is revoked") }
            if let signingKey {
                if try !connection.query(
                    "SELECT 1 FROM gateway.source_keys WHERE source = $1 AND key_id = $2", [id, signingKey.keyId]
                ).isEmpty {
                    throw SourceRegistryError(
                        source: id, message: "key id \(signingKey.keyId) was used before; give the new key a new id")
                }
                try connection.execute(
                    "UPDATE gateway.source_keys SET retired_at = now() WHERE source = $1 AND retired_at IS NULL", [id])
                try connection.execute(
                    "INSERT INTO gateway.source_keys (source, key_id, public_key) VALUES ($1, $2, $3)",
                    [id, signingKey.keyId, signingKey.base64])
            }
        }
        return apiKey
    }

    /// Registers the client certificate (its SHA-256 fingerprint) a source must present under mutual TLS,
    /// replacing any earlier one; nil removes it.
    public func setClientCertificate(id: String, sha256: String?) throws {
        let changed = try connection.execute(
            "UPDATE gateway.sources SET client_certificate_sha256 = $2 WHERE id = $1 AND revoked_at IS NULL", [id, sha256])
        guard changed == 1 else { throw SourceRegistryError(source: id, message: "is not registered or is revoked") }
    }

    private func load(where condition: String, _ parameters: [(any PostgresBindable)?]) throws -> [RegisteredSource] {
        let rows = try connection.query(
            """
            SELECT s.id, s.uri, array_to_json(s.event_types)::text, array_to_json(s.units)::text,
                   array_to_json(s.areas)::text, s.events_per_second, s.revoked_at::text,
                   coalesce((SELECT json_agg(json_build_array(k.key_id, k.public_key) ORDER BY k.added_at)
                             FROM gateway.source_keys k WHERE k.source = s.id AND k.retired_at IS NULL), '[]')::text,
                   s.client_certificate_sha256
            FROM gateway.sources s WHERE \(condition) ORDER BY s.id
            """, parameters)
        return try rows.map { row in
            func strings(_ column: Int) throws -> [String] {
                (try JSON.parse(try row.decode(String.self, at: column)).arrayValue ?? []).compactMap(\.stringValue)
            }
            let keys = try (try JSON.parse(try row.decode(String.self, at: 7)).arrayValue ?? []).map { pair in
                let parts = (pair.arrayValue ?? []).compactMap(\.stringValue)
                return try VerifyingKey(keyId: parts[0], base64: parts[1])
            }
            return RegisteredSource(
                id: try row.decode(String.self, at: 0), uri: try row.decode(String.self, at: 1),
                eventTypes: try strings(2), units: try strings(3), areas: try strings(4),
                eventsPerSecond: try row.decode(Int.self, at: 5), keys: keys,
                revokedAt: try row.decode(String?.self, at: 6), clientCertificateSHA256: try row.decode(String?.self, at: 8))
        }
    }
}
