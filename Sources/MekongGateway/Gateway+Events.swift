import Foundation
import MekongCatalog
import MekongEvents
import MekongEvidence

/// An HTTP answer from the gateway's work: status and JSON body (a receipt, an import summary).
public struct GatewayAnswer: Sendable {
    public let status: Int
    public let body: JSONValue
}

/// An event that passed admission: its place in the request, the topic that carries it, its event hash and, in a
/// signed batch, the root its proof leads to.
struct AdmittedEvent: Sendable {
    var index = 0
    let event: CloudEvent
    let topic: String
    /// The canonical JSON admission measured (without `recordedtime`), and its hash, ``CloudEvent/submittedHash``.
    let submitted: [UInt8]
    let eventHash: EventHash
    let batchRoot: EventHash?
}

/// What admission made of a request's events: the admitted ones, in request order, and every conflict found.
struct Admission: Sendable {
    var admitted: [AdmittedEvent] = []
    var conflicts: [Conflict] = []
    /// For a signed batch: the root its signature was checked against.
    var batchRoot: EventHash?
}

/// A batch signed once (``BatchSignature``): every event carries the same `signingkey` and `signature` and a
/// `signatureproof` whose index is its position in a tree the size of the batch.
struct SignedBatch: Sendable {
    let keyId: String
    let signature: String

    /// The batch's signature claim, if `items` is a signed batch; nil for events signed one by one (or a mix).
    init?(_ items: [JSONValue]) {
        guard let first = items.first?.objectValue, let keyId = first["signingkey"]?.stringValue,
            let signature = first["signature"]?.stringValue
        else { return nil }
        for (index, item) in items.enumerated() {
            guard let object = item.objectValue, object["signingkey"]?.stringValue == keyId,
                object["signature"]?.stringValue == signature,
                let proof = object["signatureproof"]?.stringValue.flatMap(InclusionProof.init(text:)),
                proof.index == index, proof.size == items.count
            else { return nil }
        }
        self.keyId = keyId
        self.signature = signature
    }
}

extension Gateway {
    /// `POST /v1/events`: one event, or a batch (a JSON array) that is all-or-nothing unless `partial`. A batch signed
    /// once (``SignedBatch``, all-or-nothing) is answered with one signed batch receipt.
    ///
    /// The steps: read the items; admit each (no database); check reports against master data; refuse, or reserve
    /// and write; answer.
    func publishEvents(body: [UInt8], batch: Bool, partial: Bool, source: RegisteredSource) async throws -> GatewayAnswer {
        let requestHash = EventHash.sha256(body)
        let items = try eventItems(body, batch: batch)
        try takeRate(items.count, for: source)
        let signedBatch = batch && !partial ? SignedBatch(items) : nil

        var admission = await admit(items, source: source, signedBatch: signedBatch, batch: batch)
        try await checkMasterData(&admission, batch: batch)
        let units = admission.admitted.map {
            WriteUnit(event: $0.event, submitted: $0.submitted, eventHash: $0.eventHash, topic: $0.topic)
        }
        if !admission.conflicts.isEmpty && (!batch || !partial) {
            guard batch else { throw Problem.refused(admission.conflicts) }
            // All-or-nothing: nothing is reserved, but ids already taken are named too, so that the client learns
            // every fault of the batch at once.
            var conflicts = admission.conflicts
            for (position, message) in try await takenKeys(units, source: source) {
                conflicts.append(Conflict(
                    index: admission.admitted[position].index, pointer: "/id", code: .conflict, message: message))
            }
            throw Self.batchRefused(conflicts, events: items.count)
        }

        let outcomes = try await reserve(units, source: source, allOrNothing: !batch || !partial, events: items.count,
                                         indices: batch ? admission.admitted.map(\.index) : nil)
        var evidence = Evidence.perEvent
        if let signedBatch, let root = admission.batchRoot { evidence = .batch(signedBatch, root: root) }
        let written = try await write(units, outcomes: outcomes, requestHash: requestHash, source: source, evidence: evidence)
        return try answer(written, admission: admission, batch: batch, events: items.count)
    }

    /// The request's events: the single event, or the batch's array within its limits.
    private func eventItems(_ body: [UInt8], batch: Bool) throws -> [JSONValue] {
        let json = try parseJSON(body)
        guard batch else { return [json] }
        guard let array = json.arrayValue else {
            throw Problem.badRequest(.invalidJSON, "a batch (application/cloudevents-batch+json) is a JSON array of events")
        }
        guard !array.isEmpty else { throw Problem.invalid(.invalidEvent, "the batch is empty") }
        guard array.count <= configuration.maxBatchEvents else {
            throw Problem(.batchTooLarge, "Batch too large",
                          detail: "\(array.count) events; a batch holds at most \(configuration.maxBatchEvents)")
        }
        return array
    }

    /// Admits every item, on every core; an id seen twice in one request is refused at its second place. For a
    /// signed batch, the batch signature is checked once, against the root the first event's proof leads to, and
    /// every other event's proof must lead to the same root.
    private func admit(_ items: [JSONValue], source: RegisteredSource, signedBatch: SignedBatch?, batch: Bool) async
        -> Admission
    {
        let admissions = await concurrentMap(items) { [self] item in admit(item, source: source, signedBatch: signedBatch) }
        var admission = Admission()
        var firstIndexOfID: [String: Int] = [:]
        var batchRoot: (root: EventHash, valid: Bool)?
        for (index, result) in admissions.enumerated() {
            switch result {
            case .failure(let found):
                admission.conflicts += found.map { var conflict = $0; conflict.index = batch ? index : nil; return conflict }
            case .success(var admitted):
                let event = admitted.event
                let root = admitted.batchRoot
                if let first = firstIndexOfID[event.id] {
                    admission.conflicts.append(Conflict(
                        index: index, pointer: "/id", code: .invalidEvent,
                        message: "event id \(event.id) appears twice in the batch (first at \(first))"))
                    continue
                }
                if let signedBatch, let root {
                    if batchRoot == nil {
                        let valid = source.key(named: signedBatch.keyId).map {
                            BatchSignature.isValid(signedBatch.signature, root: root, key: $0)
                        } ?? false
                        batchRoot = (root, valid)
                    }
                    if let (expected, valid) = batchRoot, !valid || root != expected {
                        admission.conflicts.append(Conflict(
                            index: index, pointer: valid ? "/signatureproof" : "/signature", code: .invalidSignature,
                            message: valid
                                ? "the signatureproof does not lead to the root the batch signature covers"
                                : "the batch signature does not verify with key \(signedBatch.keyId) over the root of "
                                    + "the events' signing hashes (docs/gateway.md, \"Signed batches\")"))
                        continue
                    }
                }
                firstIndexOfID[event.id] = index
                admission.batchRoot = batchRoot?.root
                admitted.index = index
                admission.admitted.append(admitted)
            }
        }
        return admission
    }

    /// Master data: every code of every admitted report must be valid at its period (one query for the whole
    /// request); a report that fails is no longer admitted.
    private func checkMasterData(_ admission: inout Admission, batch: Bool) async throws {
        let reports = admission.admitted.filter { $0.event.type == Self.reportType }
        guard !reports.isEmpty else { return }
        var refused: Set<Int> = []
        for (report, problem) in try await reportProblems(reports.map(\.event.data)) {
            let index = reports[report].index
            refused.insert(index)
            admission.conflicts.append(Conflict(
                index: batch ? index : nil, pointer: "/data" + problem.pointer, code: problem.code, message: problem.message))
        }
        admission.admitted.removeAll { refused.contains($0.index) }
    }

    /// Reserves the units; for an all-or-nothing request, a reused id or a unit still being written by an earlier
    /// request refuses the whole request before anything is written (and gives back what this one reserved).
    private func reserve(_ units: [WriteUnit], source: RegisteredSource, allOrNothing: Bool, events: Int, indices: [Int]?)
        async throws -> [ReservationOutcome]
    {
        let outcomes = try await reserve(units, source: source)
        guard allOrNothing else { return outcomes }
        let reused = outcomes.enumerated().compactMap { position, outcome -> Conflict? in
            guard case .conflict(let message) = outcome else { return nil }
            return Conflict(index: indices?[position], pointer: "/id", code: .conflict, message: message)
        }
        let fresh = zip(units, outcomes).filter { $0.1 == .fresh }.map(\.0.key)
        if !reused.isEmpty {
            try await release(fresh)
            var problem = Problem(.conflict, "Event id already used for other content",
                                  detail: reused[0].message, conflicts: reused)
            if indices != nil { problem.summary = ImportSummary(refused: events) }
            throw problem
        }
        // Part of it is still being written by an earlier request: nothing of this one is, so that the retry finds
        // every event as the earlier request left it.
        if outcomes.contains(.inProgress) {
            try await release(fresh)
            throw Problem.inProgress(retryAfter: retryAfterInProgress)
        }
        return outcomes
    }

    /// The answer: a single event's receipt (201, or 200 for a replay), or the batch's import summary.
    private func answer(_ written: Written, admission: Admission, batch: Bool, events: Int) throws -> GatewayAnswer {
        let results = written.results
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
        summary.conflicts = admission.conflicts.sorted { ($0.index ?? 0) < ($1.index ?? 0) }
        summary.refused = Set(admission.conflicts.compactMap(\.index)).count
        summary.batchReceipt = written.batchReceipt
        summary.placements = written.placements
        var kafkaFailures = 0
        for (admitted, result) in zip(admission.admitted, results) {
            let index = admitted.index
            switch result {
            case .written(let receipt):
                summary.accepted += 1
                if written.batchReceipt == nil { summary.receipts.append(receipt) }
            case .replay(let receipt):
                summary.ignored += 1
                if written.batchReceipt == nil { summary.receipts.append(receipt) }
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
        if summary.accepted + summary.ignored == 0 { throw Self.batchRefused(summary.conflicts, events: events) }
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
            if stored, Self.mayHoldNul(body), let pointer = Self.nulPointer(value) {
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
    static func nulPointer(_ value: JSONValue) -> String? {
        nulPath(value).map { $0.reversed().map { "/" + $0 }.joined() }
    }

    /// The pointer tokens to the first U+0000, innermost first (built only on the way back from a find).
    private static func nulPath(_ value: JSONValue) -> [String]? {
        switch value {
        case .string(let text): return text.utf8.contains(0) ? [] : nil
        case .array(let items):
            for (index, item) in items.enumerated() {
                if var path = nulPath(item) {
                    path.append(String(index))
                    return path
                }
            }
        case .object(let object):
            for (key, item) in object {
                if key.utf8.contains(0) { return [pointerToken(key.replacingOccurrences(of: "\u{0}", with: "\\u0000"))] }
                if var path = nulPath(item) {
                    path.append(pointerToken(key))
                    return path
                }
            }
        case .null, .bool, .number: break
        }
        return nil
    }

    /// Whether JSON text can hold U+0000 at all: only as the escape `\u0000` (a raw NUL is not valid JSON), so a body
    /// without those six bytes needs no walk of its values.
    static func mayHoldNul(_ body: [UInt8]) -> Bool {
        let escape: [UInt8] = Array("\\u0000".utf8)
        return body.withUnsafeBufferPointer { bytes in
            var index = 0
            let end = bytes.count - escape.count
            while index <= end {
                if bytes[index] == escape[0], bytes[index + 1] == escape[1], bytes[index + 2] == escape[2],
                    bytes[index + 3] == escape[3], bytes[index + 4] == escape[4], bytes[index + 5] == escape[5]
                {
                    return true
                }
                index += 1
            }
            return false
        }
    }

    /// Envelope, catalog schema, source URI, type scope, signature, reporting-unit and area scope: everything about
    /// one event that needs no database. In a signed batch the event's signature is not checked here: the answer
    /// carries the root its proof leads to, and the batch's one signature is checked against it.
    func admit(_ item: JSONValue, source: RegisteredSource, signedBatch: SignedBatch? = nil)
        -> Result<AdmittedEvent, ConflictList>
    {
        func refuse(_ pointer: String, _ code: ProblemCode, _ message: String) -> Result<AdmittedEvent, ConflictList> {
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
        // The size limit holds for the event as written, with the recordedtime the gateway adds: one member more,
        // `,"recordedtime":"<time>"`, in the canonical JSON the event hash is taken of.
        let submitted = event.canonicalJSON()
        let size = submitted.count + 18 + Timestamp(date: Date()).text.utf8.count
        guard size <= CloudEvent.Limits.eventBytes else {
            return refuse("", .invalidEvent, "the event is \(size) bytes long as canonical JSON, over the limit of "
                + "\(CloudEvent.Limits.eventBytes) bytes (with the recordedtime the gateway adds)")
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
        var batchRoot: EventHash?
        if signedBatch != nil {
            // SignedBatch checked the proof's shape.
            batchRoot = MerkleTree.root(of: event.signingHash, proof: InclusionProof(text: event.signatureproof ?? "")!)
        } else if !event.hasValidSignature(by: key) {
            return refuse("/signature", .invalidSignature, event.signatureproof == nil
                ? "the signature does not verify with key \(keyId) over the event's canonical JSON"
                : "the batch signature does not verify with key \(keyId) over the root the signatureproof leads to")
        }
        if event.type == Self.reportType {
            let scope = Self.reportScopeConflicts(event.data, source: source, pointerPrefix: "/data")
            if !scope.isEmpty { return .failure(ConflictList(scope)) }
        }
        return .success(AdmittedEvent(
            event: event, topic: topic.name, submitted: submitted, eventHash: EventHash.sha256(submitted),
            batchRoot: batchRoot))
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
