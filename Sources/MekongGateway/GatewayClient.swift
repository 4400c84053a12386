import Foundation
import MekongEvents
import MekongEvidence

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A source system's side of the gateway's API: what `mekong publish --via`, `mekong reconcile` and the tests use.
public struct GatewayClient: Sendable {
    /// An HTTP answer.
    public struct Answer: Sendable {
        public let status: Int
        public let headers: [String: String]
        public let body: [UInt8]

        /// The body as JSON (problem+json, receipts, summaries).
        public var json: JSONValue? { try? JSON.parse(body) }
        /// `Retry-After` in seconds, when given.
        public var retryAfter: Int? { headers["retry-after"].flatMap(Int.init) }
    }

    public let baseURL: URL
    public let apiKey: String?
    private let session: URLSession

    public init(baseURL: URL, apiKey: String?, timeout: TimeInterval = 60) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.httpMaximumConnectionsPerHost = 8
        self.session = URLSession(configuration: configuration)
    }

    /// Sends one request; `path` may carry a query.
    public func send(
        _ method: String, _ path: String, contentType: String? = nil, headers: [String: String] = [:],
        body: [UInt8]? = nil
    ) async throws -> Answer {
        guard let url = URL(string: path, relativeTo: baseURL) else { throw URLError(.badURL) }
        var request = URLRequest(url: url)
        request.httpMethod = method
        if let apiKey { request.setValue("Bearer \(apiKey)", forHTTPHeaderField: "Authorization") }
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body { request.httpBody = Data(body) }
        let (data, response) = try await session.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw URLError(.badServerResponse) }
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { fields[name.lowercased()] = value }
        }
        return Answer(status: http.statusCode, headers: fields, body: Array(data))
    }

    /// Sends a batch of signed events, retrying the same bytes after `Retry-After` on 429 and 503 (safe: the gateway
    /// answers a retried event with its original receipt and writes nothing twice).
    public func publish(_ events: [CloudEvent], maxAttempts: Int = 10) async throws -> Answer {
        let body = JSON.serializeBytes(.array(events.map(\.json)))
        var attempt = 0
        while true {
            attempt += 1
            let answer = try await send("POST", "v1/events", contentType: "application/cloudevents-batch+json", body: body)
            guard answer.status == 429 || answer.status == 503, attempt < maxAttempts else { return answer }
            try await Task.sleep(for: .seconds(answer.retryAfter ?? min(30, 1 << attempt)))
        }
    }

    /// The gateway's receipt key (`GET /v1/gateway-key`).
    public func gatewayKey() async throws -> VerifyingKey {
        let answer = try await send("GET", "v1/gateway-key")
        guard answer.status == 200, let object = answer.json?.objectValue else {
            throw EvidenceError(.invalidKeyFile, "GET /v1/gateway-key", "answered \(answer.status)")
        }
        return try VerifyingKey(json: object, file: "GET /v1/gateway-key")
    }
}
