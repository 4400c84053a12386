import Crypto
import MekongEvents

extension CloudEvent {
    /// This event with `signingkey` set to `key`'s id and `signature` over ``canonicalJSONForSigning()``.
    public func signed(by key: SigningKey) -> CloudEvent {
        var event = self
        event.recordedtime = nil
        event.signature = nil
        event.signatureproof = nil
        event.signingkey = key.keyId
        event.signature = key.sign(event.canonicalJSONForSigning())
        return event
    }

    /// Whether `signature` is `key`'s signature of ``canonicalJSONForSigning()``, or, with a `signatureproof`, of the
    /// root of a signed batch that ``signingHash`` is in (``BatchSignature``).
    public func hasValidSignature(by key: VerifyingKey) -> Bool {
        guard let signature, signingkey == key.keyId else { return false }
        guard let signatureproof else { return key.isValidSignature(signature, for: canonicalJSONForSigning()) }
        guard let proof = InclusionProof(text: signatureproof), let root = MerkleTree.root(of: signingHash, proof: proof)
        else { return false }
        return BatchSignature.isValid(signature, root: root, key: key)
    }

    /// SHA-256 of ``canonicalJSONForSigning()``: what a per-event signature covers, and an event's leaf in a signed
    /// batch (and the hash its batch receipt names).
    public var signingHash: EventHash { EventHash.sha256(canonicalJSONForSigning()) }

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

/// One signature for a whole batch of events (the X-Road batch model): the source signs the RFC 6962 Merkle root of
/// the events' ``CloudEvent/signingHash``es once, and each event stays provable alone with its inclusion proof.
///
/// The signed message is the ASCII text `mekong-batch-root:` followed by the root's 32 bytes, so that a batch
/// signature can never pass for an event's or a body's.
public enum BatchSignature {
    static let prefix = Array("mekong-batch-root:".utf8)

    /// The bytes a batch signature covers.
    public static func message(root: EventHash) -> [UInt8] { prefix + root.bytes }

    /// `key`'s signature of the batch whose root is `root`.
    public static func sign(root: EventHash, with key: SigningKey) -> String { key.sign(message(root: root)) }

    /// Whether `signature` is `key`'s over the batch root `root`.
    public static func isValid(_ signature: String, root: EventHash, key: VerifyingKey) -> Bool {
        key.isValidSignature(signature, for: message(root: root))
    }

    /// Signs `events` as one batch with `key`: each gets `signingkey`, the batch signature and its proof. Returns
    /// the events and the root.
    public static func sign(_ events: [CloudEvent], with key: SigningKey) -> (events: [CloudEvent], root: EventHash) {
        let unsigned = events.map { event -> CloudEvent in
            var event = event
            event.recordedtime = nil
            event.signature = nil
            event.signatureproof = nil
            event.signingkey = key.keyId
            return event
        }
        let (root, proofs) = MerkleTree.inclusionProofs(of: unsigned.map(\.signingHash))
        let signature = sign(root: root, with: key)
        return (zip(unsigned, proofs).map { event, proof in
            var event = event
            event.signature = signature
            event.signatureproof = proof.text
            return event
        }, root)
    }
}
