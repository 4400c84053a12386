import MekongLZ4
import Testing

@Suite struct LZ4Tests {
    @Test func roundTripsAndCompressesRepetitiveRows() throws {
        let rows = (0..<5_000).map { #"{"rowId":"r\#($0)","weight":12.5,"area":"01","values":{"age":\#($0 % 90)}}"# }
            .joined(separator: "\n")
        let bytes = Array(rows.utf8)
        let block = try LZ4.compress(bytes)
        #expect(block.count * 3 < bytes.count)
        #expect(try LZ4.decompress(block, uncompressedBytes: bytes.count) == bytes)
        #expect(try LZ4.decompress(try LZ4.compress([]), uncompressedBytes: 0) == [])
    }

    @Test func aWrongSizeOrACorruptBlockIsRefused() throws {
        let bytes = Array(String(repeating: "Phường Phúc Xá ", count: 100).utf8)
        let block = try LZ4.compress(bytes)
        let short = #expect(throws: LZ4Error.self) { try LZ4.decompress(block, uncompressedBytes: bytes.count - 1) }
        #expect(short?.code == .corrupt)
        let long = #expect(throws: LZ4Error.self) { try LZ4.decompress(block, uncompressedBytes: bytes.count + 1) }
        #expect(long?.code == .corrupt)
        var damaged = block
        damaged[0] = 0xFF
        damaged.removeLast(damaged.count / 2)
        #expect(throws: LZ4Error.self) { try LZ4.decompress(damaged, uncompressedBytes: bytes.count) }
        let huge = #expect(throws: LZ4Error.self) { try LZ4.decompress(block, uncompressedBytes: LZ4.maximumBytes + 1) }
        #expect(huge?.code == .tooLarge)
    }
}
