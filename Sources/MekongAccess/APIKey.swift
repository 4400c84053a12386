import Foundation
import MekongEvents

/// The API keys of sources (the gateway) and readers (the read API): random, shown once, stored only as SHA-256.
public enum APIKey {
    /// A new random key: "mk_" and 43 base64url characters (256 bits).
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return "mk_" + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The stored form of a key: its SHA-256 in hex. (Keys have 256 bits of entropy, so a plain hash is enough;
    /// lookups by hash compare in the database, never character by character in Swift.)
    public static func sha256(_ key: String) -> String { EventHash.sha256(Array(key.utf8)).hex }

    /// The key an `Authorization: Bearer <key>` header carries; nil when there is no such header.
    public static func bearer(_ authorization: String?) -> String? {
        guard let authorization, authorization.hasPrefix("Bearer "), authorization.count > 7 else { return nil }
        return String(authorization.dropFirst(7))
    }
}
