import Crypto
import Foundation
import MekongEvents

/// An Ed25519 key pair with its id: what a source signs its events with, and what the gateway signs receipts with.
///
/// On disk it is the JSON of `mekong keys generate`: `KEYID.key` (private, mode 0600)
/// `{"algorithm":"Ed25519","keyId":…,"privateKey":<base64 seed>,"publicKey":<base64>}` beside `KEYID.pub`
/// (the ``VerifyingKey``).
public struct SigningKey: Sendable {
    /// The name a signature's `signingkey` attribute or a receipt's `gatewayKey` gives.
    public let keyId: String
    /// Immutable; BoringSSL signs with it from any thread.
    nonisolated(unsafe) private let key: Curve25519.Signing.PrivateKey

    /// A new random key pair.
    public init(generatingWithID keyId: String) {
        self.keyId = keyId
        self.key = Curve25519.Signing.PrivateKey()
    }

    /// The key pair of a 32-byte seed.
    public init(keyId: String, seed: [UInt8]) throws(EvidenceError) {
        self.keyId = keyId
        do {
            self.key = try Curve25519.Signing.PrivateKey(rawRepresentation: seed)
        } catch {
            throw EvidenceError(.invalidKeyFile, keyId, "the private key is not a 32-byte Ed25519 seed")
        }
    }

    /// Reads a `.key` file.
    public init(contentsOf url: URL) throws(EvidenceError) {
        let object = try KeyFile.read(url)
        guard let seed = KeyFile.bytes(object, "privateKey", file: url.path) else {
            throw EvidenceError(.invalidKeyFile, url.path, "privateKey must be the base64 of a 32-byte seed")
        }
        try self.init(keyId: try KeyFile.keyId(object, file: url.path), seed: seed)
    }

    /// The public half.
    public var verifyingKey: VerifyingKey {
        VerifyingKey(keyId: keyId, rawPublicKey: Array(key.publicKey.rawRepresentation))
    }

    /// The 64-byte Ed25519 signature of `message`, in standard base64.
    public func sign(_ message: [UInt8]) -> String {
        // Ed25519 in swift-crypto cannot fail for a valid key; a failure here is a broken crypto backend.
        let signature = try! key.signature(for: message)
        return Data(signature).base64EncodedString()
    }

    /// The `.key` file's JSON.
    public var fileContents: String {
        JSON.serialize(.object([
            "algorithm": "Ed25519", "keyId": .string(keyId),
            "privateKey": .string(key.rawRepresentation.base64EncodedString()),
            "publicKey": .string(key.publicKey.rawRepresentation.base64EncodedString()),
        ])) + "\n"
    }

    /// Writes `DIR/KEYID.key` (mode 0600) and `DIR/KEYID.pub`; refuses to overwrite either.
    public func write(to directory: URL) throws -> (privateFile: URL, publicFile: URL) {
        let privateFile = directory.appendingPathComponent("\(keyId).key")
        let publicFile = directory.appendingPathComponent("\(keyId).pub")
        for file in [privateFile, publicFile] where FileManager.default.fileExists(atPath: file.path) {
            throw EvidenceError(.invalidKeyFile, file.path, "already exists; not overwriting a key")
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        guard FileManager.default.createFile(
            atPath: privateFile.path, contents: Data(fileContents.utf8), attributes: [.posixPermissions: 0o600])
        else { throw EvidenceError(.invalidKeyFile, privateFile.path, "cannot be written") }
        try Data(verifyingKey.fileContents.utf8).write(to: publicFile)
        return (privateFile, publicFile)
    }
}

/// An Ed25519 public key with its id: a source's registered key, or the gateway's receipt key.
public struct VerifyingKey: Sendable, Equatable {
    public let keyId: String
    /// The 32 raw public-key bytes.
    public let rawPublicKey: [UInt8]

    public init(keyId: String, rawPublicKey: [UInt8]) {
        self.keyId = keyId
        self.rawPublicKey = rawPublicKey
    }

    /// A key given as standard base64 of its 32 bytes.
    public init(keyId: String, base64: String) throws(EvidenceError) {
        guard let data = Data(base64Encoded: base64), data.count == 32,
            (try? Curve25519.Signing.PublicKey(rawRepresentation: data)) != nil
        else { throw EvidenceError(.invalidKeyFile, keyId, "the public key is not base64 of 32 Ed25519 key bytes") }
        self.init(keyId: keyId, rawPublicKey: Array(data))
    }

    /// Reads a `.pub` (or `.key`) file, or the JSON `GET /v1/gateway-key` answers.
    public init(contentsOf url: URL) throws(EvidenceError) {
        try self.init(json: try KeyFile.read(url), file: url.path)
    }

    /// From the `.pub` JSON object.
    public init(json object: JSONObject, file: String) throws(EvidenceError) {
        guard let key = object["publicKey"]?.stringValue else {
            throw EvidenceError(.invalidKeyFile, file, "publicKey is missing")
        }
        try self.init(keyId: try KeyFile.keyId(object, file: file), base64: key)
    }

    /// Standard base64 of the 32 bytes.
    public var base64: String { Data(rawPublicKey).base64EncodedString() }

    /// The `.pub` file's JSON.
    public var fileContents: String {
        JSON.serialize(.object(["algorithm": "Ed25519", "keyId": .string(keyId), "publicKey": .string(base64)])) + "\n"
    }

    /// Whether `signature` (standard base64) is this key's Ed25519 signature of `message`.
    public func isValidSignature(_ signature: String, for message: [UInt8]) -> Bool {
        guard let bytes = Data(base64Encoded: signature), bytes.count == 64,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: rawPublicKey)
        else { return false }
        return key.isValidSignature(bytes, for: message)
    }
}

enum KeyFile {
    static func read(_ url: URL) throws(EvidenceError) -> JSONObject {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw EvidenceError(.invalidKeyFile, url.path, "cannot be read")
        }
        guard let object = (try? JSON.parse(Array(data)))?.objectValue else {
            throw EvidenceError(.invalidKeyFile, url.path, "is not a JSON object")
        }
        guard object["algorithm"]?.stringValue == "Ed25519" else {
            throw EvidenceError(.invalidKeyFile, url.path, "algorithm must be \"Ed25519\"")
        }
        return object
    }

    static func keyId(_ object: JSONObject, file: String) throws(EvidenceError) -> String {
        guard let keyId = object["keyId"]?.stringValue, !keyId.isEmpty else {
            throw EvidenceError(.invalidKeyFile, file, "keyId is missing")
        }
        return keyId
    }

    static func bytes(_ object: JSONObject, _ field: String, file: String) -> [UInt8]? {
        guard let text = object[field]?.stringValue, let data = Data(base64Encoded: text), data.count == 32 else {
            return nil
        }
        return Array(data)
    }
}
