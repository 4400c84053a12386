import CLZ4

/// LZ4 block compression (liblz4): fast, for survey microdata chunks inside events. The block format has no
/// header, so the uncompressed size travels beside the data (`uncompressedBytes` in the chunk event).
public enum LZ4 {
    /// The largest input this wrapper compresses or output it produces (LZ4's own limit is about 2 GiB).
    public static let maximumBytes = 64 * 1024 * 1024

    /// Compresses `bytes` into one LZ4 block.
    public static func compress(_ bytes: [UInt8]) throws(LZ4Error) -> [UInt8] {
        guard bytes.count <= maximumBytes else { throw LZ4Error(.tooLarge, "input of \(bytes.count) bytes exceeds \(maximumBytes)") }
        let bound = Int(LZ4_compressBound(Int32(bytes.count)))
        var output = [UInt8](repeating: 0, count: max(bound, 1))
        let written = withBuffers(bytes, &output) { source, destination in
            LZ4_compress_default(source, destination, Int32(bytes.count), Int32(bound))
        }
        guard written > 0 || bytes.isEmpty else { throw LZ4Error(.failed, "LZ4_compress_default returned \(written)") }
        output.removeSubrange(Int(written)...)
        return output
    }

    /// Decompresses one LZ4 block that must expand to exactly `uncompressedBytes` bytes.
    public static func decompress(_ block: [UInt8], uncompressedBytes: Int) throws(LZ4Error) -> [UInt8] {
        guard uncompressedBytes >= 0, uncompressedBytes <= maximumBytes else {
            throw LZ4Error(.tooLarge, "declared size of \(uncompressedBytes) bytes is outside 0…\(maximumBytes)")
        }
        var output = [UInt8](repeating: 0, count: max(uncompressedBytes, 1))
        let read = withBuffers(block, &output) { source, destination in
            LZ4_decompress_safe(source, destination, Int32(block.count), Int32(uncompressedBytes))
        }
        guard read >= 0 else { throw LZ4Error(.corrupt, "the block is not valid LZ4 or expands beyond \(uncompressedBytes) bytes") }
        guard Int(read) == uncompressedBytes else {
            throw LZ4Error(.corrupt, "the block expands to \(read) bytes, not the declared \(uncompressedBytes)")
        }
        output.removeSubrange(Int(read)...)
        return output
    }

    /// Calls liblz4 with `input` and `output` as the `char` pointers it takes.
    private static func withBuffers(
        _ input: [UInt8], _ output: inout [UInt8],
        _ body: (UnsafePointer<CChar>?, UnsafeMutablePointer<CChar>?) -> Int32
    ) -> Int32 {
        input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                source.withMemoryRebound(to: CChar.self) { source in
                    destination.withMemoryRebound(to: CChar.self) { destination in
                        body(source.baseAddress, destination.baseAddress)
                    }
                }
            }
        }
    }
}

/// Why LZ4 could not compress or decompress.
public struct LZ4Error: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case tooLarge, corrupt, failed
    }

    public let code: Code
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "LZ4 \(code.rawValue): \(message)" }
}
