import Foundation
import MekongCatalog
import MekongEvents

/// Checks that every event type's versions form a path readers can follow: each step from version N to N+1 has
/// a registered upcaster or is declared compatible (`"x-compatible-with": N` in the v(N+1) schema: v(N) data is
/// valid v(N+1) data unchanged). Each step is also tried on the catalog's example of version N: upcast (or kept),
/// it must validate against version N+1.
public struct SchemaEvolution {
    public let catalog: Catalog
    public let upcasters: Upcasters

    public init(catalog: Catalog, upcasters: Upcasters) {
        self.catalog = catalog
        self.upcasters = upcasters
    }

    /// One thing wrong with the catalog's versions; empty when every path is complete.
    public struct Finding: Sendable, CustomStringConvertible {
        public let eventType: String
        public let version: Int
        public let message: String
        public var description: String { "\(eventType) v\(version): \(message)" }
    }

    public func check() -> [Finding] {
        var findings: [Finding] = []
        let types = Set(catalog.topics.flatMap(\.eventTypes)).sorted()
        for type in types {
            let versions = catalog.schemas(forEventType: type)
            for schema in versions.dropFirst() {
                let from = schema.version - 1
                let declared = schema.compatibleWith
                if let declared, declared != from {
                    findings.append(Finding(
                        eventType: type, version: schema.version,
                        message: "x-compatible-with is \(declared), but the previous version is \(from)"))
                    continue
                }
                let upcaster = upcasters.step(type, from: from)
                if upcaster == nil, declared == nil {
                    findings.append(Finding(
                        eventType: type, version: schema.version,
                        message: "no upcaster from v\(from) and no \"x-compatible-with\": \(from) in \(schema.file); "
                            + "events written in v\(from) could not be read"))
                    continue
                }
                if let example = example(type, version: from) {
                    var data = example.data
                    if let upcaster {
                        do {
                            data = try upcaster.transform(data)
                        } catch {
                            findings.append(Finding(
                                eventType: type, version: schema.version,
                                message: "the upcaster from v\(from) fails on the v\(from) example: \(error)"))
                            continue
                        }
                    }
                    for violation in schema.schema.validate(data).prefix(3) {
                        findings.append(Finding(
                            eventType: type, version: schema.version,
                            message: "the v\(from) example, \(upcaster == nil ? "unchanged" : "upcast"), does not fit: "
                                + "data\(violation.path): \(violation.message)"))
                    }
                } else {
                    findings.append(Finding(
                        eventType: type, version: from, message: "no example (examples/\(type).v\(from).json) to try the step on"))
                }
            }
            let newest = versions.last?.version ?? 0
            for upcaster in upcasters.all where upcaster.eventType == type && upcaster.from >= newest {
                findings.append(Finding(
                    eventType: type, version: upcaster.from,
                    message: "an upcaster from v\(upcaster.from) is registered, but the catalog's newest version is v\(newest)"))
            }
        }
        let known = Set(types)
        for upcaster in upcasters.all where !known.contains(upcaster.eventType) {
            findings.append(Finding(
                eventType: upcaster.eventType, version: upcaster.from, message: "upcaster for an event type no topic carries"))
        }
        return findings
    }

    private func example(_ type: String, version: Int) -> CloudEvent? {
        let url = catalog.directory.appendingPathComponent("examples/\(type).v\(version).json")
        guard let bytes = try? Data(contentsOf: url) else { return nil }
        return try? CloudEvent(decoding: [UInt8](bytes))
    }
}
