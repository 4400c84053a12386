import MekongPostgres

extension Checkpoints {
    /// Ties the checkpoints to one Kafka cluster: the first run records the cluster's id; later runs against
    /// another cluster are refused, since stored offsets would point at unrelated records there.
    func claim(cluster id: String, on db: PostgresConnection) throws {
        try db.execute(
            """
            INSERT INTO mekong.kafka_clusters (projection, version, cluster_id) VALUES ($1, $2, $3)
            ON CONFLICT DO NOTHING
            """, [identity.name, identity.version, id])
        let stored = try db.query(
            "SELECT cluster_id FROM mekong.kafka_clusters WHERE projection = $1 AND version = $2",
            [identity.name, identity.version])[0].decode(String.self, at: 0)
        guard stored == id else {
            throw ClusterMismatch(projection: identity.name, version: identity.version, stored: stored, actual: id)
        }
    }
}

/// The projection's checkpoints belong to another Kafka cluster.
public struct ClusterMismatch: Error, CustomStringConvertible {
    public let projection: String
    public let version: Int
    public let stored: String
    public let actual: String

    public var description: String {
        "projection \(projection) v\(version) holds positions in Kafka cluster \(stored), but this cluster is "
            + "\(actual): point --kafka at the original cluster, or project into a fresh database"
    }
}
