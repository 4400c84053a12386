import Crypto
import Foundation
import MekongEvents
import MekongEvidence
import NIOCore

extension Gateway {
    /// `POST /v1/reports`: a report in the plain shape of docs/gateway.md, signed over its body's SHA-256 (headers
    /// `Mekong-Signing-Key`, `Mekong-Signature`), turned into a `vn.gso.report.submitted` v2 event that the gateway
    /// signs. Idempotent on the source's `submissionId`.
    func submitReport(body: [UInt8], signingKey: String?, signature: String?, source: RegisteredSource) async throws
        -> GatewayAnswer
    {
        let requestHash = EventHash.sha256(body)
        guard source.mayPublish(type: Self.reportType) else {
            throw Problem.outOfScope("source \(source.id) may not publish \(Self.reportType)")
        }
        try checkBodySignature(requestHash, keyId: signingKey, signature: signature, source: source)
        guard let object = try parseJSON(body).objectValue else {
            throw Problem.invalid(.schema, "a report is a JSON object")
        }
        try takeRate(1, for: source)
        guard let submissionId = object["submissionId"]?.stringValue, !submissionId.isEmpty, submissionId.utf8.count <= 200
        else {
            throw Problem.invalid(.schema, "submissionId is required: the source's own id for this submission",
                                  conflicts: [Conflict(pointer: "/submissionId", code: .schema, message: "is required")])
        }
        var time = Timestamp(date: Date())
        if let submitted = object["submittedAt"] {
            guard let text = submitted.stringValue, let parsed = Timestamp(rfc3339: text) else {
                throw Problem.invalid(.schema, "submittedAt must be an RFC 3339 date-time", conflicts: [
                    Conflict(pointer: "/submittedAt", code: .schema, message: "must be an RFC 3339 date-time")])
            }
            time = parsed
        }
        var data = JSONObject()
        // `"supersedes": null` says what leaving it out says.
        for (key, value) in object where key != "submissionId" && key != "submittedAt" && !(key == "supersedes" && value == .null) {
            data[key] = value
        }
        let unitCode = data["reportingUnit"]?.stringValue ?? ""
        let form = data["form"]?.stringValue ?? ""
        let period = data["period"]?.stringValue ?? ""
        let event = CloudEvent(
            id: Self.reportEventID(source: source.id, submissionId: submissionId, time: time), source: source.uri,
            type: Self.reportType, time: time,
            subject: "\(unitCode)/\(form)/\(period)",
            dataschema: "https://schemas.mekong.gso.gov.vn/\(Self.reportType)/v2.schema.json", data: .object(data)
        ).signed(by: configuration.key)
        guard let topic = configuration.catalog.topic(carrying: Self.reportType) else {
            throw Problem(.internal, "Catalog incomplete", detail: "no topic carries \(Self.reportType)")
        }
        var conflicts = configuration.catalog.validate(event, topic: topic.name).map { problem in
            Conflict(pointer: problem.field.hasPrefix("data") ? String(problem.field.dropFirst(4)) : "/" + problem.field,
                     code: .schema, message: problem.message)
        }
        if conflicts.isEmpty {
            conflicts = Self.reportScopeConflicts(event.data, source: source, pointerPrefix: "")
        }
        if conflicts.isEmpty {
            conflicts = try await reportProblems([event.data]).map {
                Conflict(pointer: $0.problem.pointer, code: $0.problem.code, message: $0.problem.message)
            }
        }
        if !conflicts.isEmpty { throw Problem.refused(conflicts) }

        let unit = WriteUnit(
            key: "report:\(source.id):\(submissionId)", builtEvent: event, topic: topic.name, requestHash: requestHash,
            evidence: .object([
                "body": .object(object), "signingKey": .string(signingKey ?? ""), "signature": .string(signature ?? ""),
            ]))
        return try await writeOne(unit, requestHash: requestHash, source: source)
    }

    /// `POST /v1/surveys/{survey}/batches`: a survey batch as CSV or NDJSON, read as it streams in, checked row by
    /// row, then written as chunk events and a completion event, with one receipt. Idempotent on the batch id.
    func uploadSurveyBatch<Body: AsyncSequence & Sendable>(
        survey: String, wave: String?, period: String?, batchId: String?, contentType: String?, body: Body,
        signingKey: String?, signature: String?, source: RegisteredSource
    ) async throws -> GatewayAnswer where Body.Element == ByteBuffer {
        let format: SurveyBatchBuilder.Format
        switch contentType?.split(separator: ";").first.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) {
        case "text/csv": format = .csv
        case "application/x-ndjson": format = .ndjson
        default:
            throw Problem(.unsupportedMediaType, "Unsupported media type",
                          detail: "a survey batch is text/csv or application/x-ndjson")
        }
        var parameterProblems: [Conflict] = []
        let code = #/^[A-Za-z0-9][A-Za-z0-9._-]*$/#
        if (try? code.wholeMatch(in: survey)) == nil {
            parameterProblems.append(Conflict(code: .schema, message: "survey must match \(code)"))
        }
        let waveNumber = wave.flatMap(Int.init) ?? 0
        if waveNumber < 1 { parameterProblems.append(Conflict(code: .schema, message: "wave must be an integer ≥ 1")) }
        let periodSyntax = #/^[0-9]{4}(-(H[12]|Q[1-4]|M(0[1-9]|1[0-2])))?$/#
        if period.map({ (try? periodSyntax.wholeMatch(in: $0)) == nil }) ?? true {
            parameterProblems.append(Conflict(code: .invalidPeriod,
                                              message: "period must be YYYY, YYYY-H1, YYYY-Q3 or YYYY-M07"))
        }
        if batchId.map({ (try? code.wholeMatch(in: $0)) == nil }) ?? true {
            parameterProblems.append(Conflict(code: .schema, message: "batchId must match \(code)"))
        }
        if !parameterProblems.isEmpty {
            throw Problem.invalid(parameterProblems[0].code, "query parameters: " + parameterProblems.map(\.message)
                .joined(separator: "; "), conflicts: parameterProblems)
        }
        for type in ["vn.gso.survey.chunk-uploaded", "vn.gso.survey.upload-completed"] where !source.mayPublish(type: type) {
            throw Problem.outOfScope("source \(source.id) may not publish \(type)")
        }
        guard let keyId = signingKey, let verifying = source.key(named: keyId), let signature else {
            throw Problem.invalid(.unknownSigningKey, "send Mekong-Signing-Key (an accepted key of \(source.id)) and Mekong-Signature")
        }
        try takeRate(1, for: source)

        let builder = try SurveyBatchBuilder(
            survey: survey, wave: waveNumber, period: period!, batchId: batchId!, format: format, source: source,
            key: configuration.key, rowsPerChunk: configuration.surveyRowsPerChunk, maxJSONDepth: configuration.maxJSONDepth)
        var hasher = SHA256()
        var size = 0
        for try await buffer in body {
            size += buffer.readableBytes
            guard size <= configuration.maxSurveyBodyBytes else {
                throw Problem(.bodyTooLarge, "Body too large",
                              detail: "a survey batch is at most \(configuration.maxSurveyBodyBytes) bytes")
            }
            buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            try builder.feed(buffer.readableBytesView)
        }
        let requestHash = EventHash(bytes: Array(hasher.finalize()))!
        let completion = try builder.finish(at: Timestamp(date: Date()))
        guard BodySignature.isValid(signature, bodyHash: requestHash, key: verifying) else {
            throw Problem.invalid(.invalidSignature, "Mekong-Signature does not verify with key \(keyId) over the body's SHA-256")
        }
        var conflicts = builder.conflicts
        if conflicts.isEmpty {
            let areas = builder.firstRowOfArea.sorted { $0.value < $1.value }
            let validity = try await codeValidity(
                classification: "vn-admin-units", codes: areas.map(\.key), on: .endOf(period: period!))
            for (area, result) in zip(areas, validity) where !result.valid {
                conflicts.append(Conflict(
                    pointer: "/area", row: area.value, code: .masterData,
                    message: "area \(area.key) (first on this row): \(result.reason ?? "not valid at \(period!)")"))
            }
        }
        if !conflicts.isEmpty {
            throw Problem.refused(conflicts, detail: "\(conflicts.count) problem(s) in the batch; nothing was written")
        }
        try takeRate(builder.chunks, for: source)
        guard let topic = configuration.catalog.topic(carrying: "vn.gso.survey.upload-completed") else {
            throw Problem(.internal, "Catalog incomplete", detail: "no topic carries survey uploads")
        }
        let unit = WriteUnit(
            key: "survey-batch:\(source.id):\(survey)/\(waveNumber)/\(batchId!)", builtEvent: completion, topic: topic.name,
            requestHash: requestHash,
            evidence: .object([
                "contentType": .string(contentType ?? ""), "bytes": .number(Double(size)),
                "rows": .number(Double(builder.rows)), "chunks": .number(Double(builder.chunks)),
                "signingKey": .string(keyId), "signature": .string(signature),
            ]),
            parts: builder.spool)
        return try await writeOne(unit, requestHash: requestHash, source: source)
    }

    /// The id of the event a report becomes: a version-7 UUID whose time is the event's `time` (milliseconds since
    /// 1970) and whose 74 other bits are the first of SHA-256(source id, a line feed, `submissionId`)
    /// (docs/gateway.md, "POST /v1/reports").
    static func reportEventID(source: String, submissionId: String, time: Timestamp) -> String {
        let milliseconds = UInt64(max(0, time.epochSeconds)) * 1000 + UInt64(time.nanoseconds / 1_000_000)
        return UUIDv7.named(milliseconds: milliseconds, name: Array((source + "\n" + submissionId).utf8))
    }

    private func checkBodySignature(_ hash: EventHash, keyId: String?, signature: String?, source: RegisteredSource) throws {
        guard let keyId, let signature else {
            throw Problem.invalid(.invalidSignature, "send Mekong-Signing-Key and Mekong-Signature (Ed25519 over the body's SHA-256)")
        }
        guard let key = source.key(named: keyId) else {
            throw Problem.invalid(.unknownSigningKey, "key \(keyId) is not an accepted key of source \(source.id)")
        }
        guard BodySignature.isValid(signature, bodyHash: hash, key: key) else {
            throw Problem.invalid(.invalidSignature, "Mekong-Signature does not verify with key \(keyId) over the body's SHA-256")
        }
    }

    /// Reserves and writes one unit: 201 with its receipt, 200 with the original on a replay, 409 on a conflict.
    private func writeOne(_ unit: WriteUnit, requestHash: EventHash, source: RegisteredSource) async throws -> GatewayAnswer {
        let outcomes = try await reserve([unit], source: source)
        switch try await write([unit], outcomes: outcomes, requestHash: requestHash, source: source)[0] {
        case .written(let answer): return GatewayAnswer(status: 201, body: answer)
        case .replay(let receipt): return GatewayAnswer(status: 200, body: receipt)
        case .conflict(let message): throw Problem(.conflict, "Already received with other content", detail: message)
        case .inProgress: throw Problem.inProgress(retryAfter: retryAfterInProgress)
        case .failed(let message):
            throw Problem.kafkaUnavailable("Kafka did not confirm the write (\(message)); retry the same request")
        }
    }
}
