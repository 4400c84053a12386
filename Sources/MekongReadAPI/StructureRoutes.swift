import Foundation
import HTTPTypes
import Hummingbird
import MekongEvents
import MekongIndicatorQueries
import MekongPostgres
import NIOCore

/// The structure routes (docs/read-api.md, "Structure"): indicators, classifications and their versions, codes
/// with validity and hierarchy, correspondences (JSON, each as known at `asOf`), and each indicator's dataflow
/// with its data structure as an SDMX-ML 2.1 structure message. They count against the client's quota like data.
extension Routes {
    /// The formats of a dataflow's structure message: SDMX-ML 2.1 (the default) and SDMX-JSON 2.0.
    enum StructureFormat: String, CaseIterable {
        case sdmxML = "sdmx-ml"
        case sdmxJSON = "sdmx-json"

        var mediaType: String {
            switch self {
            case .sdmxML: "application/vnd.sdmx.structure+xml; version=2.1"
            case .sdmxJSON: "application/vnd.sdmx.structure+json; version=2.0.0"
            }
        }

        /// The format an `Accept` header asks for: the first media range the server has; `*/*`, XML and none
        /// being SDMX-ML, JSON SDMX-JSON.
        static func negotiated(accept: String?) -> StructureFormat? {
            guard let accept, !accept.isEmpty else { return .sdmxML }
            for range in accept.split(separator: ",") {
                switch range.split(separator: ";").first.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) ?? "" {
                case "application/vnd.sdmx.structure+xml", "application/xml", "text/xml", "*/*", "application/*": return .sdmxML
                case "application/vnd.sdmx.structure+json", "application/json": return .sdmxJSON
                default: continue
                }
            }
            return nil
        }
    }

    func addStructureRoutes(to router: Router<ReadAPIContext>) {
        router.get("/v1/indicators") { request, context in
            await served("structure", request, context) { _ in
                let knownAt = try Self.knownAt(request, allowing: [])
                return try await answer(request) { db in try StructureQueries.indicators(code: nil, knownAt: knownAt, on: db)! }
            }
        }
        router.get("/v1/indicators/{indicator}") { request, context in
            await served("structure", request, context) { _ in
                let knownAt = try Self.knownAt(request, allowing: [])
                let code = try Self.code(context, "indicator")
                return try await answer(request) { db in
                    guard let json = try StructureQueries.indicators(code: code, knownAt: knownAt, on: db) else {
                        throw ReadAPIError.notFound("indicator \(code) is not defined (as known at \(knownAt))")
                    }
                    return json
                }
            }
        }
        router.get("/v1/classifications") { request, context in
            await served("structure", request, context) { _ in
                let knownAt = try Self.knownAt(request, allowing: [])
                return try await answer(request) { db in try StructureQueries.classifications(knownAt: knownAt, on: db) }
            }
        }
        router.get("/v1/classifications/{classification}/versions/{version}/codes") { request, context in
            await served("structure", request, context) { _ in
                let knownAt = try Self.knownAt(request, allowing: [])
                let (classification, version) = (try Self.code(context, "classification"), try Self.code(context, "version"))
                return try await answer(request) { db in
                    guard let json = try StructureQueries.codes(classification: classification, version: version, knownAt: knownAt, on: db) else {
                        throw ReadAPIError.notFound("version \(version) of \(classification) is not published (as known at \(knownAt))")
                    }
                    return json
                }
            }
        }
        router.get("/v1/correspondences") { request, context in
            await served("structure", request, context) { _ in
                let knownAt = try Self.knownAt(request, allowing: ["source"])
                let source = try Self.queryParameters(request).first { $0.0 == "source" }.map { name, value in
                    guard DataQuery.isCode(value) else { throw ReadAPIError.invalidParameter(name, "\"\(value)\" is not a classification id") }
                    return value
                }
                return try await answer(request) { db in try StructureQueries.correspondences(classification: source, knownAt: knownAt, on: db) }
            }
        }
        // SDMX REST's structure query for one dataflow; its data structure, concepts and code lists come with it.
        router.get("/v1/structure/dataflow/{agency}/{dataflow}/{version}") { request, context in
            await served("structure", request, context) { _ in
                let knownAt = try Self.knownAt(request, allowing: ["format"])
                let format: StructureFormat
                if let name = Self.queryParameters(request).first(where: { $0.0 == "format" })?.1 {
                    guard let named = StructureFormat(rawValue: name) else {
                        throw ReadAPIError.invalidParameter("format", "format is one of \(StructureFormat.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    format = named
                } else if let negotiated = StructureFormat.negotiated(accept: request.headers[.accept]) {
                    format = negotiated
                } else {
                    throw ReadAPIError(406, "not-acceptable", "Not acceptable", detail:
                        "Accept \(request.headers[.accept] ?? "") names no format this route has: application/vnd.sdmx.structure+xml, application/vnd.sdmx.structure+json")
                }
                let (agency, id, version) = (Self.path(context, "agency"), Self.path(context, "dataflow"), Self.path(context, "version"))
                guard agency == SDMX.agency || agency == "*", let code = SDMX.indicator(dataflowID: id), DataQuery.isCode(code),
                      [SDMX.version, "latest", "~", "*"].contains(version)
                else {
                    throw ReadAPIError.notFound("no dataflow \(agency):\(id)(\(version)); dataflows are \(SDMX.agency):DF_<indicator code, . as @>(\(SDMX.version))")
                }
                let prepared = Timestamp(date: now()).text
                return try await answer(request, mediaType: format.mediaType) { db in
                    guard let definition = try IndicatorSelection(code: code, knownAt: knownAt).bind(on: db) else {
                        throw ReadAPIError.notFound("indicator \(code) is not defined (as known at \(knownAt))")
                    }
                    let codes = try SDMX.codes(of: Array(Set(definition.classifications.values)), knownAt: knownAt, on: db)
                    let structure = SDMXStructure(indicator: code, definition: definition, codes: codes)
                    return format == .sdmxML ? structure.xml(prepared: prepared) : structure.json(prepared: prepared)
                }
            }
        }
    }

    /// A whole answer built by `body` on a pooled connection, once the projection is readable, in one snapshot,
    /// with its validators (weak: a structure message says when it was prepared); `If-None-Match` naming them is 304
    /// before `body` runs. gzip-coded when the request accepts it (a version's code list is 1.6 MB of JSON).
    func answer(
        _ request: Request, mediaType: String = "application/json",
        _ body: @escaping @Sendable (PostgresConnection) throws -> String
    ) async throws -> Response {
        if let problem = try await readiness.check(pool) { throw ReadAPIError.notReady(problem) }
        let gzip = GzipStream.isAccepted(by: request.headers[.acceptEncoding])
        let question = [request.uri.path, request.uri.query ?? "", mediaType, gzip ? "gzip" : "identity"]
        let ifNoneMatch = request.headers[.ifNoneMatch]
        let (validators, text) = try await pool.run { db in
            try db.transaction(isolation: .repeatableRead) { db -> (AnswerValidators, String?) in
                let validators = AnswerValidators(question, try IndicatorSelection.Snapshot.read(on: db), weak: true)
                return (validators, validators.matches(ifNoneMatch: ifNoneMatch) ? nil : try body(db))
            }
        }
        // Vary names Accept for every route, though only the dataflow's structure negotiates a format: a cache that
        // keeps one copy per Accept loses nothing but hits.
        var headers: HTTPFields = [
            .contentType: mediaType, .cacheControl: "no-cache", .vary: "Accept, Accept-Encoding", .eTag: validators.etag,
        ]
        if let lastModified = validators.lastModified { headers[.lastModified] = lastModified }
        guard let text else {
            headers[.contentType] = nil
            return Response(status: .notModified, headers: headers)
        }
        guard gzip else { return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text))) }
        headers[.contentEncoding] = "gzip"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: try GzipStream.compressed(ByteBuffer(string: text))))
    }

    /// The `asOf` of a structure request (`infinity` without one); any parameter besides it and `allowing` is 400.
    static func knownAt(_ request: Request, allowing others: Set<String>) throws -> String {
        var knownAt = "infinity"
        var seen: Set<String> = []
        for (name, value) in queryParameters(request) {
            guard name == "asOf" || others.contains(name) else {
                throw ReadAPIError.invalidParameter(
                    name, "unknown parameter \(name); this route takes \((others.union(["asOf"])).sorted().joined(separator: ", "))")
            }
            guard seen.insert(name).inserted else { throw ReadAPIError.invalidParameter(name, "\(name) is given more than once") }
            if name == "asOf" {
                guard let time = IndicatorSelection.knownAt(parsing: value) else {
                    throw ReadAPIError.invalidParameter("asOf", "\(value) is neither an RFC 3339 time nor a date (YYYY-MM-DD)")
                }
                knownAt = time
            }
        }
        return knownAt
    }

    /// A path parameter, percent-decoded (`DF_RETAIL%40SALES` is `DF_RETAIL@SALES`).
    static func path(_ context: ReadAPIContext, _ name: String) -> String { context.parameters.decoded(name) }

    /// A path parameter that must be a code (letters, digits, `.`, `_`, `-`).
    static func code(_ context: ReadAPIContext, _ name: String) throws -> String {
        let value = path(context, name)
        guard DataQuery.isCode(value) else { throw ReadAPIError.invalidParameter(name, "\"\(value)\" is not a code") }
        return value
    }
}
