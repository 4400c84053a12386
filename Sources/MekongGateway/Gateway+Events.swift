import Foundation
import MekongCatalog
import MekongEvents
import MekongEvidence

/// An HTTP answer from the gateway's work: status and JSON body (a receipt, an import summary).
public struct GatewayAnswer: Sendable {
    public let status: Int
    public let body: JSONValue
}

extension Gateway {
    /// `POST /v1/events`: one event, or a batch (a JSON array) that is all-or-nothing unless `partial`.
    func publishEvents(body: [UInt8], batch: Bool, partial: Bool, source: RegisteredSource) async throws -> GatewayAnswer {
        let requestHash = EventHash.sha256(body)
        let json = try parseJSON(body)
        let items: [JSONValue]
        if batch {
            guard let array = json.arrayValue else {
                throw Problem.badRequest(.invalidJSON, "a batch (application/cloudevents-batch+json) is a JSON array of events")
            }
            guard !array.isEmpty else { throw Problem.invalid(.invalidEvent, "the batch is empty") }
            guard array.count <= configuration.maxBatchEvents else {
                throw Problem(.batchTooLarge, "Batch too large",
                              detail: "\(array.count) events; a batch holds at most \(configuration.maxBatchEvents)")
            }
            items = array
        } else {
            items = [json]
        }
        try takeRate(items.count, for: source)

        var conflicts: [Conflict] = []
        var admitted: [(index: Int, event: CloudEvent, topic: String)] = []
        var firstIndexOfID: [String: Int] = [:]
        let admissions = await concurrentMap(items) { [self] item in admit(item, source: source) }
        for (index, admission) in admissions.enumerated() {
            switch admission {
            case .failure(let found):
                conflicts += found.map { var conflict = $0; conflict.index = batch ? index : nil; return conflict }
            case .success(let (event, topic)):
                if let first = firstIndexOfID[event.id] {
                    conflicts.append(Conflict(index: index, pointer: "/id", code: .invalidEvent,
                                              message: "event id \(event.id) appears twice in the batch (first at \(first))"))
                    continue
                }
                firstIndexOfID[event.id] = index
                admitted.append((index, event, topic))
            }
        }
        // Master data: every code of every report must be valid at its period (one query for the whole batch).
        let reports = admitted.filter { $0.event.type == Self.reportType }
        if !reports.isEmpty {
            let problems = try await reportProblems(reports.map(\.event.data))
            var refused: Set<Int> = []
            for (report, problem) in problems {
                let index = reports[report].index
                refused.insert(index)
                conflicts.append(Conflict(
                    index: batch ? index : nil, pointer: "/data" + problem.pointer, code: problem.code,
                    message: problem.message))
            }
            admitted.removeAll { refused.contains($0.index) }
        }
        let units = admitted.map { WriteUnit(event: $0.event, topic: $0.topic) }
        if !conflicts.isEmpty && (!batch || !partial) {
            guard batch else { throw Problem.refused(conflicts) }
            // All-or-nothing: nothing is reserved, but ids already taken are named too, so that the client learns
            // every fault of the batch at once.
            let taken = try await takenKeys(units, source: source)
            for (position, message) in taken {
                conflicts.append(Conflict(index: admitted[position].index, pointer: "/id", code: .conflict, message: message))
            }
            throw Self.batchRefused(conflicts, events: items.count)
        }

        let outcomes = try await reserve(units, source: source)
        if !batch || !partial {
            // All-or-nothing: a reused id refuses the whole request before anything is written.
            let reused = zip(admitted, outcomes).compactMap { item, outcome -> Conflict? in
                guard case .conflict(let message) = outcome else { return nil }
                return Conflict(index: batch ? item.index : nil, pointer: "/id", code: .conflict, message: message)
            }
            let fresh = zip(units, outcomes).filter { $0.1 == .fresh }.map(\.0.key)
            if !reused.isEmpty {
                try await release(fresh)
                var problem = Problem(.conflict, "Event id already used for other content",
                                      detail: reused[0].message, conflicts: reused)
                if batch { problem.summary = ImportSummary(refused: items.count) }
                throw problem
            }
            // Part of it is still being written by an earlier request: nothing of this one is, so that the retry finds
            // every event as the earlier request left it.
            if outcomes.contains(.inProgress) {
                try await release(fresh)
                throw Problem.inProgress(retryAfter: retryAfterInProgress)
            }
        }
        let results = try await write(units, outcomes: outcomes, requestHash: requestHash, source: source)

        if !batch {
            switch results[0] {
            case .written(let answer): return GatewayAnswer(status: 201, body: answer)
            case .replay(let receipt): return GatewayAnswer(status: 200, body: receipt)
            case .conflict(let message):
                throw Problem(.conflict, "Event id already used for other content", detail: message)
            case .inProgress:
                throw Problem.inProgress(retryAfter: retryAfterInProgress)
            case .failed(let message):
                throw Problem.kafkaUnavailable("Kafka did not confirm the write (\(message)); retry the same request")
            }
        }
        var summary = ImportSummary()
        summary.conflicts = conflicts.sorted { ($0.index ?? 0) < ($1.index ?? 0) }
        summary.refused = Set(conflicts.compactMap(\.index)).count
        var kafkaFailures = 0
        for ((index, _, _), result) in zip(admitted, results) {
            switch result {
            case .written(let receipt):
                summary.accepted += 1
                summary.receipts.append(receipt)
            case .replay(let receipt):
                summary.ignored += 1
                summary.receipts.append(receipt)
            case .conflict(let message):
                summary.refused += 1
                summary.conflicts.append(Conflict(index: index, pointer: "/id", code: .conflict, message: message))
            case .inProgress:
                summary.refused += 1
                summary.conflicts.append(Conflict(
                    index: index, pointer: "/id", code: .inProgress,
                    message: "an earlier request may still be writing this event; retry after \(retryAfterInProgress) s"))
            case .failed(let message):
                kafkaFailures += 1
                summary.refused += 1
                summary.conflicts.append(Conflict(index: index, code: .kafkaUnavailable, message: message))
            }
        }
        if kafkaFailures > 0 {
            var problem = Problem.kafkaUnavailable(
                "Kafka did not confirm \(kafkaFailures) of the batch's events; the receipts given are for the events "
                    + "it did confirm; retry the same batch (confirmed events are not written twice)")
            problem.conflicts = summary.conflicts
            problem.summary = summary
            throw problem
        }
        // `partial` with nothing to show: refused like an all-or-nothing batch (a 200 says something went in).
        if summary.accepted + summary.ignored == 0 { throw Self.batchRefused(summary.conflicts, events: items.count) }
        return GatewayAnswer(status: 200, body: summary.json)
    }

    /// A refused all-or-nothing batch: 422 `batch-refused` with every conflict found and the import summary's counts
    /// (every event refused, none written).
    static func batchRefused(_ conflicts: [Conflict], events: Int) -> Problem {
        let conflicts = conflicts.sorted { ($0.index ?? 0) < ($1.index ?? 0) }
        var problem = Problem.invalid(
            .batchRefused,
            "\(Set(conflicts.compactMap(\.index)).count) of \(events) events are refused; "
                + "the batch is all-or-nothing (send ?partial=true to accept the others)",
            conflicts: conflicts)
        problem.summary = ImportSummary(refused: events)
        return problem
    }

    /// Parses a client's JSON with the gateway's depth limit; a parse error is a 400 naming line and column.
    /// With `stored` (the default: bodies whose strings go into the log and the database), a string holding U+0000 is
    /// refused too.
    func parseJSON(_ body: [UInt8], stored: Bool = true) throws -> JSONValue {
        do {
            let value = try JSON.parse(body, maximumDepth: configuration.maxJSONDepth)
            if stored, let pointer = Self.nulPointer(value) {
                throw Problem.badRequest(.invalidJSON, "the string at \(pointer.isEmpty ? "the top" : pointer) holds U+0000, "
                    + "which the database's text cannot hold (docs/gateway.md, \"The contract in brief\")")
            }
            return value
        } catch let error as JSONParseError {
            if error.message.hasPrefix("nesting deeper") {
                throw Problem.badRequest(.tooDeep, "JSON nesting is limited to \(configuration.maxJSONDepth) levels "
                    + "(line \(error.line), column \(error.column))")
            }
            throw Problem.badRequest(.invalidJSON, "line \(error.line), column \(error.column): \(error.message)")
        }
    }

    /// A member name as one JSON pointer token (RFC 6901: `~` as `~0`, `/` as `~1`).
    static func pointerToken(_ name: String) -> String {
        name.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    /// The JSON pointer of the first string or member name that holds U+0000, if any.
    static func nulPointer(_ value: JSONValue, _ pointer: String = "") -> String? {
        switch value {
        case .string(let text): return text.utf8.contains(0) ? pointer : nil
        case .array(let items):
            for (index, item) in items.enumerated() {
                if let found = nulPointer(item, pointer + "/\(index)") { return found }
            }
        case .object(let object):
            for (key, item) in object {
                if key.utf8.contains(0) { return pointer + "/" + pointerToken(key.replacingOccurrences(of: "\u{0}", with: "\\u0000")) }
                if let found = nulPointer(item, pointer + "/" + pointerToken(key)) { return found }
            }
        case .null, .bool, .number: break
        }
        return nil
    }

    /// Envelope, catalog schema, source URI, type scope, signature, reporting-unit and area scope: everything about
    /// one event that needs no database.
    func admit(_ item: JSONValue, source: RegisteredSource) -> Result<(CloudEvent, String), ConflictList> {
        func refuse(_ pointer: String, _ code: ProblemCode, _ message: String) -> Result<(CloudEvent, String), ConflictList> {
            .failure(ConflictList([Conflict(pointer: pointer, code: code, message: message)]))
        }
        guard let object = item.objectValue else { return refuse("", .invalidEvent, "an event is a JSON object") }
        if object["recordedtime"] != nil {
            return refuse("/recordedtime", .invalidEvent, "recordedtime is set by the gateway; a source must not send it")
        }
        let event: CloudEvent
        do {
            event = try CloudEvent(json: item)
            try event.validate()
        } catch {
            return refuse(error.attribute.map { "/" + $0 } ?? "", .invalidEvent, error.message)
        }
        // The size limit holds for the event as written, with the recordedtime the gateway adds.
        var written = event
        written.recordedtime = Timestamp(date: Date())
        do {
            try written.validateSize()
        } catch {
            return refuse("", .invalidEvent, error.message + " (with the recordedtime the gateway adds)")
        }
        guard let topic = configuration.catalog.topic(carrying: event.type) else {
            return refuse("/type", .unknownType, "no topic carries event type \(event.type)")
        }
        let schemaProblems = configuration.catalog.validate(event, topic: topic.name)
        if !schemaProblems.isEmpty {
            return .failure(ConflictList(schemaProblems.map {
                Conflict(pointer: "/" + $0.field, code: .schema, message: $0.message)
            }))
        }
        guard event.source == source.uri else {
            return refuse("/source", .outOfScope, "source \(source.id) publishes as \(source.uri), not \(event.source)")
        }
        guard source.mayPublish(type: event.type) else {
            return refuse("/type", .outOfScope, "source \(source.id) may not publish \(event.type)")
        }
        guard let keyId = event.signingkey, event.signature != nil else {
            return refuse("/signature", .invalidSignature, "the event is not signed (signature and signingkey are required)")
        }
        guard let key = source.key(named: keyId) else {
            return refuse("/signingkey", .unknownSigningKey, "key \(keyId) is not an accepted key of source \(source.id)")
        }
        guard event.hasValidSignature(by: key) else {
            return refuse("/signature", .invalidSignature,
                          "the signature does not verify with key \(keyId) over the event's canonical JSON")
        }
        if event.type == Self.reportType {
            let scope = Self.reportScopeConflicts(event.data, source: source, pointerPrefix: "/data")
            if !scope.isEmpty { return .failure(ConflictList(scope)) }
        }
        return .success((event, topic.name))
    }

    /// Reporting unit and area scope of a report's data.
    static func reportScopeConflicts(_ data: JSONValue, source: RegisteredSource, pointerPrefix: String) -> [Conflict] {
        var conflicts: [Conflict] = []
        let unit = data["reportingUnit"]?.stringValue ?? ""
        if !source.mayReport(forUnit: unit) {
            conflicts.append(Conflict(pointer: pointerPrefix + "/reportingUnit", code: .outOfScope,
                                      message: "source \(source.id) may not report for reporting unit \(unit)"))
        }
        for (index, observation) in (data["observations"]?.arrayValue ?? []).enumerated() {
            if let area = observation["dimensions"]?["area"]?.stringValue, !source.mayReport(onArea: area) {
                conflicts.append(Conflict(
                    pointer: pointerPrefix + "/observations/\(index)/dimensions/area", code: .outOfScope,
                    message: "source \(source.id) may not report on area \(area)"))
            }
        }
        return conflicts
    }
}

/// Conflicts as an error, so that admission can answer with a `Result`.
struct ConflictList: Error, Sendable {
    let conflicts: [Conflict]
    init(_ conflicts: [Conflict]) { self.conflicts = conflicts }

    func map(_ transform: (Conflict) -> Conflict) -> [Conflict] { conflicts.map(transform) }
}
