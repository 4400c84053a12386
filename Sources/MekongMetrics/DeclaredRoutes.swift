import Foundation
import Hummingbird

/// The paths and methods a server declares (its OpenAPI document's), so that a request no route answers gets what
/// the contract says rather than the router's empty 404: 405 with `Allow` when its path is declared with other
/// methods, 404 otherwise, each as the server's problem document (``UndeclaredRouteMiddleware``).
///
/// Paths are written as in OpenAPI, a `{name}` segment matching any one segment.
public struct DeclaredRoutes: Sendable {
    public struct Route: Sendable, Equatable {
        public let path: String
        /// As declared; a GET route also answers HEAD.
        public let methods: [HTTPRequest.Method]
        let segments: [Substring?]

        init(path: String, methods: [HTTPRequest.Method]) {
            self.path = path
            self.methods = methods
            self.segments = path.split(separator: "/", omittingEmptySubsequences: false)
                .map { $0.hasPrefix("{") && $0.hasSuffix("}") ? nil : $0 }
        }

        func matches(_ path: Substring) -> Bool {
            var remaining = segments[...]
            for segment in path.split(separator: "/", omittingEmptySubsequences: false) {
                guard let expected = remaining.popFirst() else { return false }
                if let expected, expected != segment { return false }
                if expected == nil && segment.isEmpty { return false }
            }
            return remaining.isEmpty
        }
    }

    public let routes: [Route]

    /// - Parameter routes: each path once, with its methods.
    public init(_ routes: [(String, [HTTPRequest.Method])]) {
        self.routes = routes.map { Route(path: $0.0, methods: $0.1) }
    }

    /// The methods `path` answers (a GET route HEAD too), or nil when no route has that path.
    public func methods(for path: String) -> [HTTPRequest.Method]? {
        let path = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard let route = routes.first(where: { $0.matches(path) }) else { return nil }
        return route.methods.contains(.get) && !route.methods.contains(.head) ? route.methods + [.head] : route.methods
    }
}

/// Answers what no declared route answers (``DeclaredRoutes``), before the router: 404 for an unknown path, 405 with
/// `Allow` for a method its path does not have. `problem` writes the server's problem document for the status, with
/// the allowed methods for a 405 (the middleware sets `Allow`).
public struct UndeclaredRouteMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: DeclaredRoutes
    let problem: @Sendable (_ status: HTTPResponse.Status, _ allowed: [HTTPRequest.Method]) -> Response

    public init(
        _ routes: DeclaredRoutes,
        problem: @escaping @Sendable (_ status: HTTPResponse.Status, _ allowed: [HTTPRequest.Method]) -> Response
    ) {
        self.routes = routes
        self.problem = problem
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let methods = routes.methods(for: request.uri.path) else { return problem(.notFound, []) }
        guard methods.contains(request.method) else {
            var response = problem(.methodNotAllowed, methods)
            response.headers[.allow] = methods.map(\.rawValue).joined(separator: ", ")
            return response
        }
        return try await next(request, context)
    }
}

extension Parameters {
    /// A path parameter percent-decoded (`vn%2Dadmin%2Dunits` is `vn-admin-units`); empty when absent, as it is when
    /// undecodable.
    public func decoded(_ name: String) -> String {
        let raw = get(name) ?? ""
        return raw.removingPercentEncoding ?? ""
    }
}
