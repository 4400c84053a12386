import Foundation
import MekongTestSupport
import Testing

@testable import MekongPostgres

@Suite struct SHA256Tests {
    @Test func fipsVectors() {
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Every length around the padding boundaries, checked against the server's sha256().
    @Test func agreesWithPostgreSQL() throws {
        try withDatabase { _, connection in
            for length in [1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000] {
                let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ length) }
                let server = try scalar(connection, "SELECT encode(sha256($1::bytea), 'hex')", [bytes], as: String.self)
                #expect(SHA256.hex(bytes) == server, "length \(length)")
            }
        }
    }
}
