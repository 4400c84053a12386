import Foundation
import MekongEvents
import MekongEvidence
import Testing

@Suite struct BatchSignatureTests {
    static func hashes(_ count: Int, salt: UInt8 = 0) -> [EventHash] {
        (0..<count).map { EventHash.sha256([salt, UInt8($0 & 0xff), UInt8($0 >> 8)]) }
    }

    /// Every leaf of every tree up to 130 leaves (both sides of each power of two): its proof leads to the root, and a
    /// proof with another index, leaf or sibling, or without its path, does not.
    @Test func everyInclusionProofLeadsToTheRootAndNoAlteredOneDoes() {
        for size in 1...130 {
            let leaves = Self.hashes(size)
            let (root, proofs) = MerkleTree.inclusionProofs(of: leaves)
            #expect(root == MerkleTree.root(of: leaves))
            for (index, proof) in proofs.enumerated() {
                #expect(proof.index == index && proof.size == size)
                #expect(MerkleTree.root(of: leaves[index], proof: proof) == root, "size \(size), index \(index)")
                #expect(InclusionProof(text: proof.text) == proof)
                if size > 1 {
                    let other = (index + 1) % size
                    #expect(MerkleTree.root(of: leaves[other], proof: proof) != root)
                    #expect(MerkleTree.root(of: leaves[index], proof: InclusionProof(index: other, size: size, path: proof.path)) != root)
                    var path = proof.path
                    path[index % path.count] = EventHash.sha256([9])
                    #expect(MerkleTree.root(of: leaves[index], proof: InclusionProof(index: index, size: size, path: path)) != root)
                }
                // (Another size with the same path may lead to the same root: the size is not in the hashes, so a
                // receipt names it: `count`, which EventInclusion checks the proof's size against.)
                if let wrong = InclusionProof(text: "\(index)/\(size + 1):"), !proof.path.isEmpty {
                    #expect(MerkleTree.root(of: leaves[index], proof: wrong) != root)
                }
            }
        }
    }

    @Test func proofTextRefusesWhatIsNotAProof() {
        for text in ["", "0/1", "1/1:", "2/1:", "a/2:", "0/2:abc", "-1/2:", "0/0:"] {
            #expect(InclusionProof(text: text) == nil, "\(text)")
        }
        #expect(InclusionProof(text: "0/1:") == InclusionProof(index: 0, size: 1, path: []))
        // Read, but a path longer than its tree leads nowhere.
        let long = InclusionProof(text: "0/1:" + String(repeating: "A", count: 43) + "=")!
        #expect(long.path == [.zero] && MerkleTree.root(of: .zero, proof: long) == nil)
    }

    static func events(_ count: Int) -> [CloudEvent] {
        (0..<count).map { index in
            var event = EvidenceTests.event
            event.id = UUIDv7.generate()
            event.data = ["reportingUnit": "CTK01", "value": .number(Double(index))]
            return event
        }
    }

    /// One signature for the batch; each event verifies alone with its proof, and any change to one event, its proof
    /// or the signature breaks that event only.
    @Test func aSignedBatchVerifiesEventByEvent() throws {
        let key = SigningKey(generatingWithID: "ctk01-2026")
        let (signed, root) = BatchSignature.sign(Self.events(7), with: key)
        #expect(Set(signed.map(\.signature)).count == 1)
        #expect(MerkleTree.root(of: signed.map(\.signingHash)) == root)
        for event in signed {
            #expect(event.hasValidSignature(by: key.verifyingKey))
            let reread = try CloudEvent(json: try JSON.parse(JSON.serialize(event.json)))
            #expect(reread.hasValidSignature(by: key.verifyingKey), "the proof survives the wire")
        }
        var altered = signed[3]
        altered.data = ["reportingUnit": "CTK01", "value": 3.5]
        #expect(!altered.hasValidSignature(by: key.verifyingKey))
        var moved = signed[3]
        moved.signatureproof = signed[4].signatureproof
        #expect(!moved.hasValidSignature(by: key.verifyingKey))
        var alone = signed[3]
        alone.signatureproof = nil
        #expect(!alone.hasValidSignature(by: key.verifyingKey), "the batch signature is not the event's own")
        #expect(!signed[3].hasValidSignature(by: SigningKey(generatingWithID: "ctk01-2026").verifyingKey))
        // The event's own signature over its bytes never passes as a batch signature, nor the other way round.
        let single = EvidenceTests.event.signed(by: key)
        var forged = single
        forged.signatureproof = "0/1:"
        #expect(!forged.hasValidSignature(by: key.verifyingKey))
    }

    @Test func aSignatureproofNeedsASignatureAndItsShape() {
        var event = EvidenceTests.event
        event.signatureproof = "0/1:"
        #expect(throws: EnvelopeError.self) { try event.validate() }
        event.signature = "c2ln"
        #expect(throws: Never.self) { try event.validate() }
        for bad in ["1/1:", "0/1", "x/2:", "0/2:***", String(repeating: "A", count: 2_100)] {
            event.signatureproof = bad
            #expect(throws: EnvelopeError.self) { try event.validate() }
        }
    }

    /// The batch receipt, an event's inclusion and the checks a third party makes with nothing but the event, the
    /// inclusion and the two public keys.
    @Test func anEventInclusionProvesOneEventOfTheBatch() throws {
        let source = SigningKey(generatingWithID: "ctk01-2026")
        let gateway = SigningKey(generatingWithID: "gateway-2026")
        let (signed, root) = BatchSignature.sign(Self.events(5), with: source)
        let placements = signed.enumerated().map { index, event in
            BatchReceipt.Placement(eventId: event.id, eventHash: event.submittedHash, topic: "reports",
                                   partition: index % 3, offset: Int64(100 + index))
        }
        let (receipt, proofs) = BatchReceipt.sign(
            batchRoot: root, sourceKey: source.keyId, sourceSignature: signed[0].signature!, placements: placements,
            requestHash: EventHash.sha256(Array("body".utf8)), recordedTime: Timestamp(rfc3339: "2026-12-07T03:00:00Z")!,
            source: "ctk01", signedBy: gateway)
        #expect(try BatchReceipt(json: try JSON.parse(JSON.serialize(receipt.json))) == receipt)
        for index in signed.indices {
            let inclusion = try EventInclusion(json: try JSON.parse(JSON.serialize(
                EventInclusion(batchReceipt: receipt, placement: placements[index], proof: proofs[index]).json)))
            #expect(inclusion.problems(gatewayKey: gateway.verifyingKey, event: signed[index], sourceKey: source.verifyingKey).isEmpty)
            #expect(!inclusion.problems(gatewayKey: gateway.verifyingKey, event: signed[(index + 1) % 5]).isEmpty)
        }
        let wrongPlace = EventInclusion(
            batchReceipt: receipt,
            placement: BatchReceipt.Placement(eventId: signed[0].id, eventHash: signed[0].submittedHash, topic: "reports",
                                              partition: 0, offset: 99),
            proof: proofs[0])
        #expect(wrongPlace.problems(gatewayKey: gateway.verifyingKey) == ["the placement's proof does not lead to the receipt's placementsRoot"])
        var tampered = receipt.json.objectValue!
        tampered["recordedTime"] = "2026-12-07T04:00:00Z"
        #expect(!(try BatchReceipt(json: .object(tampered))).isValid(signedBy: gateway.verifyingKey))
        #expect(!receipt.hasValidSourceSignature(by: SigningKey(generatingWithID: "ctk01-2026").verifyingKey))
        #expect(receipt.hasValidSourceSignature(by: source.verifyingKey))
    }
}
