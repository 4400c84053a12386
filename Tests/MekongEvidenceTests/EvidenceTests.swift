import Foundation
import MekongEvents
import MekongEvidence
import Testing

@Suite struct EvidenceTests {
    static let event = CloudEvent(
        id: "019a32a0-f280-757c-ba2e-a6fb0925fd6b", source: "urn:vn:gso:province:01", type: "vn.gso.report.submitted",
        time: Timestamp(rfc3339: "2025-10-30T08:00:00+07:00")!, subject: "CTK01/BC-DS/2025-Q3",
        dataschema: "https://schemas.mekong.gso.gov.vn/vn.gso.report.submitted/v2.schema.json",
        data: ["reportingUnit": "CTK01", "value": 8866.235])

    /// RFC 8032 §7.1, test 1: the seed, public key and signature of the empty message.
    @Test func ed25519MatchesRFC8032() throws {
        let seed = EventHash(hex: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!.bytes
        let key = try SigningKey(keyId: "rfc8032", seed: seed)
        #expect(Hex.encode(key.verifyingKey.rawPublicKey)
            == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let signature = key.sign([])
        #expect(Hex.encode(Array(Data(base64Encoded: signature)!)) == "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
        #expect(key.verifyingKey.isValidSignature(signature, for: []))
        #expect(!key.verifyingKey.isValidSignature(signature, for: [0]))
    }

    @Test func signedEventVerifiesAndAnyChangeBreaksIt() {
        let key = SigningKey(generatingWithID: "ctk01-2026")
        let signed = Self.event.signed(by: key)
        #expect(signed.signingkey == "ctk01-2026")
        #expect(signed.hasValidSignature(by: key.verifyingKey))

        var recorded = signed
        recorded.recordedtime = Timestamp(rfc3339: "2026-11-25T03:00:00.123Z")
        #expect(recorded.hasValidSignature(by: key.verifyingKey), "the gateway's recordedtime is outside the signature")
        #expect(recorded.submittedHash == signed.hash)

        var altered = signed
        altered.data = ["reportingUnit": "CTK01", "value": 8866.236]
        #expect(!altered.hasValidSignature(by: key.verifyingKey))
        let other = SigningKey(generatingWithID: "ctk01-2026")
        #expect(!signed.hasValidSignature(by: other.verifyingKey), "same key id, another key")
        #expect(!Self.event.hasValidSignature(by: key.verifyingKey), "unsigned")
    }

    @Test func keyFilesRoundTripAndRefuseOverwrite() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUIDv7.generate())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = SigningKey(generatingWithID: "source-a")
        let files = try key.write(to: directory)
        let attributes = try FileManager.default.attributesOfItem(atPath: files.privateFile.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let loaded = try SigningKey(contentsOf: files.privateFile)
        #expect(loaded.verifyingKey == key.verifyingKey)
        #expect(try VerifyingKey(contentsOf: files.publicFile) == key.verifyingKey)
        #expect(throws: EvidenceError.self) { try key.write(to: directory) }
        try Data("{\"algorithm\":\"RSA\",\"keyId\":\"x\"}".utf8).write(to: directory.appendingPathComponent("bad.pub"))
        #expect(throws: EvidenceError.self) { try VerifyingKey(contentsOf: directory.appendingPathComponent("bad.pub")) }
    }

    @Test func receiptSignsItsContentAndRoundTripsThroughJSON() throws {
        let gateway = SigningKey(generatingWithID: "gateway-2026")
        let receipt = Receipt(
            eventId: Self.event.id, eventHash: Self.event.hash, requestHash: EventHash.sha256(Array("body".utf8)),
            topic: "reports", partition: 2, offset: 41, recordedTime: Timestamp(rfc3339: "2026-11-25T03:00:00.123Z")!,
            source: "ctk01",
            contains: [Receipt.Part(eventId: "019a32a0-f280-757c-ba2e-a6fb0925fd6c", eventHash: .zero, partition: 2, offset: 40)],
            signedBy: gateway)
        #expect(receipt.isValid(signedBy: gateway.verifyingKey))
        let reread = try Receipt(json: try JSON.parse(JSON.serialize(receipt.json)))
        #expect(reread == receipt)
        #expect(reread.isValid(signedBy: gateway.verifyingKey))

        var tampered = receipt.json.objectValue!
        tampered["offset"] = 42
        #expect(!(try Receipt(json: .object(tampered))).isValid(signedBy: gateway.verifyingKey))
        #expect(!receipt.isValid(signedBy: SigningKey(generatingWithID: "gateway-2026").verifyingKey))
        tampered["receiptVersion"] = 2
        #expect(throws: EvidenceError.self) { try Receipt(json: .object(tampered)) }
    }

    /// RFC 6962's shape: leaves and nodes are domain-separated, and the split is at the largest power of two.
    @Test func merkleRootFollowsRFC6962() {
        let hashes = (0..<5).map { EventHash.sha256([UInt8($0)]) }
        func leaf(_ h: EventHash) -> EventHash { EventHash.sha256([0] + h.bytes) }
        func node(_ l: EventHash, _ r: EventHash) -> EventHash { EventHash.sha256([1] + l.bytes + r.bytes) }
        #expect(MerkleTree.root(of: []) == EventHash.sha256([UInt8]()))
        #expect(MerkleTree.root(of: [hashes[0]]) == leaf(hashes[0]))
        let four = node(node(leaf(hashes[0]), leaf(hashes[1])), node(leaf(hashes[2]), leaf(hashes[3])))
        #expect(MerkleTree.root(of: Array(hashes[0..<4])) == four)
        #expect(MerkleTree.root(of: hashes) == node(four, leaf(hashes[4])))
        #expect(MerkleTree.root(of: [hashes[1], hashes[0]]) != MerkleTree.root(of: [hashes[0], hashes[1]]))
    }

    @Test func reconciliationNamesWhatEachSideLacks() {
        let a = LoggedEvent(eventId: "a", eventHash: EventHash.sha256([1]))
        let b = LoggedEvent(eventId: "b", eventHash: EventHash.sha256([2]))
        let c = LoggedEvent(eventId: "c", eventHash: EventHash.sha256([3]))
        let cAltered = LoggedEvent(eventId: "c", eventHash: EventHash.sha256([4]))
        let d = LoggedEvent(eventId: "d", eventHash: EventHash.sha256([5]))
        let report = ReconciliationReport(local: [a, b, c], gateway: [a, cAltered, d])
        #expect(report.missingAtGateway == [b])
        #expect(report.missingAtSource == [d])
        #expect(report.differing.map(\.source) == [c])
        #expect(report.matching == 1)
        #expect(!report.agrees)
        #expect(ReconciliationReport(local: [a, b], gateway: [b, a]).agrees)
    }
}
