import Foundation
import MekongEvents
import MekongTestSupport
import Testing

@Suite("mekong publish: envelope limits", .serialized)
struct PublishLimitsTests {
    @Test("a 6,000-character source is refused naming the line and the attribute, and nothing is published")
    func longSource() async throws {
        let fixture = try CommandLineFixture()
        var lines = (0..<5).map { JSON.serialize(SampleEvents.report($0).json) }
        var object = try #require(try JSON.parse(lines[2]).objectValue)
        let long = "urn:gso:province:" + String(repeating: "x", count: 6_000 - 17)
        object["source"] = .string(long)
        lines[2] = JSON.serialize(.object(object))
        let path = try fixture.file("long-source.ndjson", lines.joined(separator: "\n") + "\n")

        let run = try await fixture.mekong(["publish", "--topic", "reports", path] + fixture.connection)
        #expect(run.status == 1)
        #expect(run.errors.contains("line 3: source: attribute 'source' is 6000 bytes long, over the limit of 512 bytes"), "\(run.errors.prefix(1_000))")
        #expect(!run.errors.contains(String(repeating: "x", count: 100)), "the value is not echoed")
        #expect(try fixture.recordCount("reports", partitions: 6) == 0)
    }
}
