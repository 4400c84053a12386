import CompressNIO
import Foundation
import NIOCore

/// An answer's gzip content coding (RFC 9110 §8.4.1.3), for clients whose `Accept-Encoding` takes it. A streamed
/// answer is compressed chunk by chunk, each chunk flushed, so the client can decode everything sent so far and
/// memory stays one chunk's worth however long the answer.
struct GzipStream {
    private let compressor: ZlibCompressor

    init() throws { compressor = try ZlibCompressor(algorithm: .gzip) }

    /// The compressed form of `chunk`, flushed to a byte boundary.
    func compress(_ chunk: ByteBuffer) throws -> ByteBuffer {
        var input = chunk
        var output = ByteBufferAllocator().buffer(capacity: compressor.maxSize(from: input))
        try compressor.deflate(from: &input, to: &output, flush: .sync)
        return output
    }

    /// The end of the stream (the last block and the gzip trailer).
    func finish() throws -> ByteBuffer {
        var input = ByteBuffer()
        var output = ByteBufferAllocator().buffer(capacity: compressor.maxSize(from: input) + 64)
        try compressor.deflate(from: &input, to: &output, flush: .finish)
        return output
    }

    /// A whole answer compressed.
    static func compressed(_ body: ByteBuffer) throws -> ByteBuffer {
        let stream = try GzipStream()
        var output = try stream.compress(body)
        var end = try stream.finish()
        output.writeBuffer(&end)
        return output
    }

    /// Whether an `Accept-Encoding` header accepts gzip: `gzip` (or `x-gzip`) with a q-value above 0, or `*` above
    /// 0 where gzip is not named. Without the header, or with `identity` only, the answer is not coded.
    static func isAccepted(by header: String?) -> Bool {
        guard let header else { return false }
        var wildcard = false
        for item in header.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let coding = parts.first, !coding.isEmpty else { continue }
            let q = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            if coding == "gzip" || coding == "x-gzip" { return q > 0 }
            if coding == "*" { wildcard = q > 0 }
        }
        return wildcard
    }
}
