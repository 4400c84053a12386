import Foundation
import MekongCatalog
import MekongEvents

/// One event read from a newline-delimited file.
public struct EventLine: Sendable {
    /// 1-based line number in the file.
    public let line: Int
    public let event: CloudEvent
}

/// Why a line of an event file cannot be published.
public struct LineProblem: Sendable, Equatable, CustomStringConvertible {
    public let line: Int
    /// The attribute or data path at fault, when there is one (e.g. `subject`, `data/observations/0/value`).
    public let field: String?
    public let message: String

    public var description: String {
        "line \(line): " + (field.map { "\($0): " } ?? "") + message
    }
}

/// A file of newline-delimited CloudEvents (structured JSON, one per line), checked line by line against the
/// envelope (with its size limits, `CloudEvent.Limits`) and the catalog's schema for the target topic before
/// anything is published.
public struct EventFile: Sendable {
    public let events: [EventLine]
    public let problems: [LineProblem]

    public var isValid: Bool { problems.isEmpty }

    /// Reads and checks every line. Blank lines are skipped; every other line must be one valid event.
    public init(contents: [UInt8], topic: String, catalog: Catalog) {
        var events: [EventLine] = []
        var problems: [LineProblem] = []
        var firstLineOfID: [String: Int] = [:]
        if catalog.topic(named: topic) == nil {
            problems.append(LineProblem(line: 0, field: "topic", message: "topic '\(topic)' is not in the catalog"))
        }
        for (lineNumber, line) in Self.lines(of: contents) {
            let json: JSONValue
            do {
                json = try JSON.parse(line)
            } catch {
                problems.append(LineProblem(
                    line: lineNumber, field: nil, message: "invalid JSON at column \(error.column): \(error.message)"))
                continue
            }
            let event: CloudEvent
            do {
                event = try CloudEvent(json: json)
                try event.validateSize()
            } catch {
                problems.append(LineProblem(line: lineNumber, field: error.attribute, message: error.message))
                continue
            }
            let found = catalog.validate(event, topic: topic)
            if !found.isEmpty {
                problems += found.map { LineProblem(line: lineNumber, field: $0.field, message: $0.message) }
                continue
            }
            if let earlier = firstLineOfID[event.id] {
                problems.append(LineProblem(
                    line: lineNumber, field: "id", message: "duplicate event id \(event.id) (first on line \(earlier))"))
                continue
            }
            firstLineOfID[event.id] = lineNumber
            events.append(EventLine(line: lineNumber, event: event))
        }
        self.events = events
        self.problems = problems
    }

    /// The non-blank lines of newline-delimited JSON with their 1-based numbers, a trailing carriage return dropped.
    public static func lines(of contents: [UInt8]) -> [(number: Int, bytes: ArraySlice<UInt8>)] {
        var lines: [(number: Int, bytes: ArraySlice<UInt8>)] = []
        for (index, rawLine) in contents.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            var line = rawLine
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { continue }
            lines.append((index + 1, line))
        }
        return lines
    }

    public init(url: URL, topic: String, catalog: Catalog) throws {
        let data = try Data(contentsOf: url)
        self.init(contents: [UInt8](data), topic: topic, catalog: catalog)
    }
}
