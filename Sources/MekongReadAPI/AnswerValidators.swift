import Foundation
import MekongEvents
import MekongIndicatorQueries
import MekongPostgres
import NIOCore

/// What a data answer's head says besides its rows: the indicator's definition and the answer's validators.
struct AnswerHead: Sendable {
    var definition: IndicatorSelection.Definition
    var validators: AnswerValidators
    /// The client's `If-None-Match` names this answer: 304, no rows read.
    var notModified: Bool
    /// The whole answer, when it ended before its first chunk was full: sent at once, not streamed.
    var body: ByteBuffer? = nil
}

/// An answer's `ETag` and `Last-Modified`, from the answer's own snapshot (``IndicatorSelection/Snapshot``: read by
/// the statement that binds a data answer's selection, alone for a structure answer).
///
/// An answer is a function of the projection's state, the question and the clock (only through the release
/// calendar, for data): the state is the active statistics version and the offsets of its checkpoints, which every
/// batch moves forward in the transaction that changes the tables (so their sum, which only grows within a version,
/// names the state); the clock counts as the number of the indicator's releases already past; the content coding
/// (gzip or none) is part of the representation. So the same strong ETag means the same bytes, the same weak one
/// the same bytes but for the message's preparation time (SDMX-JSON data, structure answers), and a batch or a
/// release changes it.
struct AnswerValidators: Sendable, Equatable {
    /// Quoted, e.g. `"3f2a…"`, or `W/"3f2a…"` (weak) for a message that says when it was prepared.
    var etag: String
    /// The 32 hexadecimal digits the ETag quotes.
    var tag: Substring
    /// When the last batch was committed (IMF-fixdate), if any was.
    var lastModified: String?

    /// The validators of an answer that is a function of `question` and the projection's state `snapshot`: a
    /// strong ETag unless `weak` (an SDMX-JSON or structure message carries its preparation time, so two answers
    /// with the same ETag differ in that field only: equivalent, not the same bytes).
    init(_ question: [String], _ snapshot: IndicatorSelection.Snapshot, weak: Bool) {
        let text = ([snapshot.projectionState, String(snapshot.releasesPast)] + question).joined(separator: "\n")
        tag = EventHash.sha256(Array(text.utf8)).hex.prefix(32)
        etag = (weak ? "W/" : "") + "\"\(tag)\""
        lastModified = snapshot.lastBatch.map { Timestamp.imfFixdate(epochSeconds: Int64($0.rounded(.down))) }
    }

    /// The validators of the answer to `query` whose selection bound `definition` (in the answer's snapshot).
    init(_ query: DataQuery, _ definition: IndicatorSelection.Definition, gzip: Bool, disclosure: Disclosure, releasedBy: String?) {
        self.init(
            [query.selection.key, query.format.rawValue, disclosure.key, releasedBy == nil ? "embargo-scope" : "released-only",
             gzip ? "gzip" : "identity"],
            definition.snapshot, weak: query.format == .sdmxJSON)
    }

    /// Whether an `If-None-Match` header names this answer (weak comparison, RFC 9110 §13.1.2; `*` names any).
    func matches(ifNoneMatch header: String?) -> Bool {
        guard let header else { return false }
        if header.trimmingCharacters(in: .whitespaces) == "*" { return true }
        let opaque = etag.hasPrefix("W/") ? String(etag.dropFirst(2)) : etag
        return header.split(separator: ",").contains { candidate in
            var tag = candidate.trimmingCharacters(in: .whitespaces)
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            return tag == opaque
        }
    }
}
