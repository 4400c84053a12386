import Foundation
import ArgumentParser
import MekongCatalog
import MekongProjection

struct SchemasCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schemas", abstract: "Check the event schemas in Topics/.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fail when a schema version has no upcaster from the previous one and no declared compatible change.",
            discussion: """
                Loads the catalog (every schema and example checked), then for each event type and each version \
                N+1 requires a registered upcaster from N or "x-compatible-with": N in the v(N+1) schema, and \
                tries the step on the v(N) example, which must then fit v(N+1). Exit code 1 on any finding.
                """)
        @Option(help: "The Topics/ directory (default: found as the other commands find it).") var topics: String?

        func run() throws {
            let catalog: Catalog
            if let topics {
                do {
                    catalog = try Catalog(directory: URL(fileURLWithPath: topics))
                } catch {
                    throw ValidationError("topic catalog: \(error)")
                }
            } else {
                catalog = try Resources.catalog()
            }
            let findings = SchemaEvolution(catalog: catalog, upcasters: KnownProjections.upcasters).check()
            let types = Set(catalog.topics.flatMap(\.eventTypes))
            for finding in findings { print("FAIL \(finding)") }
            guard findings.isEmpty else {
                print("\(findings.count) problem(s) in \(catalog.directory.path)")
                throw ExitCode.failure
            }
            print("schemas OK: \(types.count) event types, every version step has an upcaster or a declared compatible change")
        }
    }
}
