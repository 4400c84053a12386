import MekongEvents
import MekongPostgres
import MekongProjection

/// Administrative registers (`admin-records`): every change of every record in `registers_v<N>.changes`; records'
/// state on any date and active counts by industry section, province and month are computed from them
/// (docs/statistics.md, "Registers").
public struct RegistersProjection: Projection {
    public static let name = "registers"

    public let identity: ProjectionIdentity
    public let topics = ["admin-records"]

    public init(version: Int = 1) {
        self.identity = ProjectionIdentity(name: Self.name, version: version)
    }

    /// All changes of the batch in one call; the function checks each against the record's earlier changes.
    public func apply(_ batch: [ProjectionRecord<ProjectedEvent>], on db: PostgresConnection) throws {
        guard !batch.isEmpty else { return }
        try db.execute(
            "SELECT \(identity.schema).record_changes($1::jsonb)", [JSON.serialize(.array(batch.map { BatchEntry.json($0.row.event, $0) }))])
    }
}
