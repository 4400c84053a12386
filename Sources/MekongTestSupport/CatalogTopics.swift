import MekongCatalog
import MekongKafka

extension MockCluster {
    /// Creates every topic of the repository's catalog with its partitions and replication factor, as
    /// `mekong topics apply` does on a real cluster (librdkafka's mock cluster does not answer CreateTopics, so
    /// `topics apply` then finds them up to date). Needs as many brokers as the largest replication factor (3).
    public func createCatalogTopics() throws {
        let catalog = try Catalog(directory: MekongBinary.repositoryRoot.appendingPathComponent("Topics"))
        for topic in catalog.topics {
            try createTopic(topic.name, partitions: topic.partitions, replicationFactor: topic.replicationFactor)
        }
    }
}
