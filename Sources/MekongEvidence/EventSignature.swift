import Crypto
import MekongEvents

extension CloudEvent {
    /// This event with `signingkey` set to `key`'s id and `signature` over ``canonicalJSONForSigning()``.
    public func signed(by key: SigningKey) -> CloudEvent {
        var event = self
        event.recordedtime = nil
        event.signature = nil
        event.signingkey = key.keyId
        event.signature = key.sign(event.canonicalJSONForSigning())
        return event
    }

    /// Whether `signature` is `key`'s signature of ``canonicalJSONForSigning()``.
    public func hasValidSignature(by key: VerifyingKey) -> Bool {
        guard let signature, signingkey == key.keyId else { return false }
        return key.isValidSignature(signature, for: canonicalJSONForSigning())
    }

    /// The hash a receipt names: SHA-256 of the canonical JSON of the event as its source submitted it (with its
    /// signature, without the gateway's `recordedtime`). A source can compute it from its own copy.
    public var submittedHash: EventHash {
        var submitted = self
        submitted.recordedtime = nil
        return submitted.hash
    }
}

/// A detached signature over a request body that is not a CloudEvent (`POST /v1/reports`, survey batches): Ed25519
/// over the body's 32-byte SHA-256 digest, so a streamed body can be checked once its last byte has arrived.
public enum BodySignature {
    /// `key`'s signature of the SHA-256 of `body`.
    public static func sign(_ body: some Collection<UInt8>, with key: SigningKey) -> String {
        key.sign(EventHash.sha256(body).bytes)
    }

    /// Whether `signature` is `key`'s signature of the digest `bodyHash`.
    public static func isValid(_ signature: String, bodyHash: EventHash, key: VerifyingKey) -> Bool {
        key.isValidSignature(signature, for: bodyHash.bytes)
    }
}
