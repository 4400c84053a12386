import MekongEvents

extension Gateway {
    /// `GET /v1/receipts/{eventId}`: the caller's own receipt.
    func receipt(eventId: String, source: RegisteredSource) async throws -> JSONValue {
        let sourceID = source.id
        guard let receipt = try await db({ try ReceiptStore(connection: $0).receipt(eventId: eventId, source: sourceID) })
        else { throw Problem.notFound("no receipt for event \(eventId) from source \(source.id)") }
        return receipt
    }

    /// `GET /v1/reconciliation`: what the gateway wrote for the caller in a window of recorded time.
    func reconciliation(
        sourceParameter: String?, from: String?, to: String?, pageSize: String?, pageToken: String?,
        source: RegisteredSource
    ) async throws -> JSONValue {
        guard let sourceParameter else { throw Problem.badRequest(.invalidParameter, "source is required") }
        guard sourceParameter == source.id else {
            throw Problem.forbidden("a source may reconcile only itself (\(source.id))")
        }
        guard let fromText = from, let fromTime = Timestamp(rfc3339: fromText), let toText = to,
            let toTime = Timestamp(rfc3339: toText)
        else { throw Problem.badRequest(.invalidParameter, "from and to are required RFC 3339 date-times") }
        guard fromTime <= toTime else { throw Problem.badRequest(.invalidParameter, "from must not be after to") }
        let size = pageSize.map { Int($0) ?? -1 } ?? 1_000
        guard (1...10_000).contains(size) else {
            throw Problem.badRequest(.invalidParameter, "pageSize must be an integer in 1...10000")
        }
        let sourceID = source.id
        let page = try await db {
            try ReceiptStore(connection: $0).reconciliation(
                source: sourceID, from: fromTime, to: toTime, pageSize: size, after: pageToken)
        }
        return .object([
            "source": .string(source.id), "from": .string(fromText), "to": .string(toText),
            "count": .number(Double(page.count)), "merkleRoot": .string(page.merkleRoot.hex),
            "events": .array(page.events.map { event in
                .object([
                    "eventId": .string(event.eventId), "eventHash": .string(event.eventHash),
                    "recordedTime": .string(event.recordedTime),
                ])
            }),
            "nextPageToken": page.nextPageToken.map(JSONValue.string) ?? .null,
        ])
    }

    /// `POST /v1/classifications/{id}/validate` with `{"date": "YYYY-MM-DD", "codes": [...]}`.
    func validateCodes(classification: String, body: [UInt8]) async throws -> JSONValue {
        // Nothing of it is stored: a code holding U+0000 is simply no code.
        let json = try parseJSON(body, stored: false)
        guard let object = json.objectValue else {
            throw Problem.invalid(.schema, "the body is a JSON object {\"date\": …, \"codes\": […]}")
        }
        if let unknown = object.keys.first(where: { $0 != "date" && $0 != "codes" }) {
            throw Problem.invalid(.schema, "unknown member \(unknown) (the body has date and codes)", conflicts: [
                Conflict(pointer: "/" + Gateway.pointerToken(unknown),
                         code: .schema, message: "is not a member of a validation request")])
        }
        guard let date = json["date"]?.stringValue, (try? #/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/#.wholeMatch(in: date)) != nil
        else { throw Problem.invalid(.schema, "date is required (YYYY-MM-DD)", conflicts: [
            Conflict(pointer: "/date", code: .schema, message: "is required (YYYY-MM-DD)")]) }
        guard let codes = json["codes"]?.arrayValue, codes.count <= 10_000,
            case let strings = codes.compactMap(\.stringValue), strings.count == codes.count
        else { throw Problem.invalid(.schema, "codes is required: an array of at most 10000 strings", conflicts: [
            Conflict(pointer: "/codes", code: .schema, message: "must be an array of at most 10000 strings")]) }
        let results = try await codeValidity(classification: classification, codes: strings, on: .date(date))
        return .object([
            "classification": .string(classification), "date": .string(date),
            "results": .array(results.map { result in
                var object: JSONObject = ["code": .string(result.code), "valid": .bool(result.valid)]
                if let reason = result.reason { object["reason"] = .string(reason) }
                return .object(object)
            }),
        ])
    }
}
