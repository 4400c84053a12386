import Foundation
import MekongEvents
import MekongKafka
import MekongPostgres

/// One version of a projection as `mekong.projection_versions` records it.
public struct ProjectionVersionStatus: Sendable {
    public enum State: String, Sendable {
        /// Being built (from offset 0), not seen by readers.
        case building
        /// The version readers see through the public schema.
        case active
        /// Was active; kept until dropped.
        case retired
    }

    public let identity: ProjectionIdentity
    public let state: State
    public let createdAt: Date
    public let activatedAt: Date?
    /// Next offset to apply per partition.
    public let positions: [TopicPartition: Int64]
}

/// A deterministic digest of a projection version's content.
public struct ProjectionChecksum: Sendable, Equatable, CustomStringConvertible {
    public struct Table: Sendable, Equatable {
        public let name: String
        public let rows: Int
        /// SHA-256 over the sorted SHA-256 of each row's text.
        public let digest: String
    }

    public let tables: [Table]
    /// SHA-256 over every table's name, columns, row count and digest, in name order.
    public let digest: String
    public var description: String { digest }
}

/// The versions of projections in a database: registration, activation (the blue-green switch), status, drop and
/// checksum.
public struct ProjectionVersions {
    private let db: PostgresConnection

    public init(db: PostgresConnection) {
        self.db = db
    }

    /// Creates what the version needs (migrations `core/v1` and `<name>/v<version>`) and registers it as building
    /// unless it is known already.
    public func prepare(_ identity: ProjectionIdentity, migrations: MigrationRunner) throws {
        try migrations.apply(projection: "core", version: 1, on: db)
        try migrations.apply(projection: identity.name, version: identity.version, on: db)
        try db.execute(
            """
            INSERT INTO mekong.projection_versions (projection, version, state) VALUES ($1, $2, 'building')
            ON CONFLICT DO NOTHING
            """, [identity.name, identity.version])
    }

    /// The active version of `name`, if any.
    public func activeVersion(of name: String) throws -> Int? {
        guard try coreExists() else { return nil }
        return try Self.activeVersion(of: name, on: db)
    }

    /// Makes `identity` the active version in one transaction: the previous active version is retired and the
    /// public schema's views are replaced, so readers see either the old version or the new one.
    public func activate(_ identity: ProjectionIdentity) throws {
        try db.transaction { db in try Self.activate(identity, on: db) }
    }

    /// Activates `identity` if no version of it is active; returns whether it is active now.
    func activateIfNoneActive(_ identity: ProjectionIdentity) throws -> Bool {
        try db.transaction { db in
            try Self.lockVersions(of: identity.name, on: db)
            if let active = try Self.activeVersion(of: identity.name, on: db) { return active == identity.version }
            try Self.activate(identity, on: db)
            return true
        }
    }

    private static func activeVersion(of name: String, on db: PostgresConnection) throws -> Int? {
        try db.query(
            "SELECT version FROM mekong.projection_versions WHERE projection = $1 AND state = 'active'", [name]
        ).first?.decode(Int.self, at: 0)
    }

    private static func activate(_ identity: ProjectionIdentity, on db: PostgresConnection) throws {
        try db.execute(
            "SELECT mekong.activate_projection_version($1, $2, $3, $4)",
            [identity.name, identity.version, identity.schema, identity.publicSchema])
    }

    /// The transaction lock that `mekong.activate_projection_version` takes too: one change of a projection's
    /// versions at a time.
    private static func lockVersions(of name: String, on db: PostgresConnection) throws {
        try db.execute("SELECT pg_advisory_xact_lock(hashtext($1))", ["mekong.projection_versions:" + name])
    }

    /// Every registered version with its positions, by name and version.
    public func list() throws -> [ProjectionVersionStatus] {
        guard try coreExists() else { return [] }
        var positions: [ProjectionIdentity: [TopicPartition: Int64]] = [:]
        for row in try db.query("SELECT projection, version, topic, partition, next_offset FROM mekong.checkpoints") {
            let identity = ProjectionIdentity(name: try row.decode(String.self, at: 0), version: try row.decode(Int.self, at: 1))
            let tp = TopicPartition(topic: try row.decode(String.self, at: 2), partition: Int32(try row.decode(Int.self, at: 3)))
            positions[identity, default: [:]][tp] = try row.decode(Int64.self, at: 4)
        }
        return try db.query(
            """
            SELECT projection, version, state, created_at, activated_at FROM mekong.projection_versions
            ORDER BY projection, version
            """
        ).map { row in
            let identity = ProjectionIdentity(name: try row.decode(String.self, at: 0), version: try row.decode(Int.self, at: 1))
            return ProjectionVersionStatus(
                identity: identity, state: ProjectionVersionStatus.State(rawValue: try row.decode(String.self, at: 2)) ?? .building,
                createdAt: try row.decode(Date.self, at: 3), activatedAt: try row.decode(Date?.self, at: 4),
                positions: positions[identity] ?? [:])
        }
    }

    /// Removes an inactive version: its schema, checkpoints, dead letters and records. The active version is refused.
    public func drop(_ identity: ProjectionIdentity) throws {
        try db.transaction { db in
            try Self.lockVersions(of: identity.name, on: db)
            let state = try db.query(
                "SELECT state FROM mekong.projection_versions WHERE projection = $1 AND version = $2",
                [identity.name, identity.version]
            ).first?.decode(String.self, at: 0)
            guard let state else {
                throw ProjectionStateError("\(identity) is not a known projection version")
            }
            guard state != ProjectionVersionStatus.State.active.rawValue else {
                throw ProjectionStateError(
                    "\(identity) is the active version; rebuild and switch to another version before dropping it")
            }
            // The schema name is derived from a validated projection name; identifiers cannot be parameters.
            try db.execute("DROP SCHEMA IF EXISTS \(identity.schema) CASCADE")
            for table in ["checkpoints", "kafka_clusters", "dead_letters", "schema_migrations", "projection_versions"] {
                try db.execute(
                    "DELETE FROM mekong.\(table) WHERE projection = $1 AND version = $2", [identity.name, identity.version])
            }
        }
    }

    /// A content hash of the version's tables that depends only on their rows, never on physical order: each row's
    /// text (in UTC, with full float precision) is hashed, the hashes are sorted and hashed per table, and the
    /// tables' names, columns, counts and digests are hashed together.
    public func checksum(_ identity: ProjectionIdentity) throws -> ProjectionChecksum {
        try db.transaction { db in
            try db.execute("SET LOCAL TimeZone = 'UTC'")
            try db.execute("SET LOCAL DateStyle = 'ISO, YMD'")
            try db.execute("SET LOCAL IntervalStyle = 'iso_8601'")
            try db.execute("SET LOCAL extra_float_digits = 3")
            let tables = try db.query(
                """
                SELECT c.relname, quote_ident(n.nspname) || '.' || quote_ident(c.relname),
                       (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                        FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname
                """, [identity.schema])
            guard !tables.isEmpty else {
                throw ProjectionStateError("\(identity) has no tables (schema \(identity.schema) is missing or empty)")
            }
            var summary: [UInt8] = []
            var result: [ProjectionChecksum.Table] = []
            for table in tables {
                let name = try table.decode(String.self, at: 0)
                let qualified = try table.decode(String.self, at: 1)
                let columns = try table.decode(String.self, at: 2)
                let row = try db.query(
                    """
                    SELECT count(*), encode(sha256(coalesce(string_agg(h, ''::bytea ORDER BY h), ''::bytea)), 'hex')
                    FROM (SELECT sha256(convert_to(t::text, 'UTF8')) AS h FROM \(qualified) t) rows
                    """)[0]
                let entry = ProjectionChecksum.Table(
                    name: name, rows: try row.decode(Int.self, at: 0), digest: try row.decode(String.self, at: 1))
                result.append(entry)
                summary += Array("\(name)\n\(columns)\n\(entry.rows)\n\(entry.digest)\n".utf8)
            }
            return ProjectionChecksum(tables: result, digest: EventHash.sha256(summary).hex)
        }
    }

    private func coreExists() throws -> Bool {
        try db.query("SELECT to_regclass('mekong.projection_versions') IS NOT NULL")[0].decode(Bool.self, at: 0)
    }
}
