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

/// A data answer's `ETag` and `Last-Modified`, from the answer's own snapshot (``IndicatorSelection/Snapshot``, read
/// by the statement that binds the selection).
///
/// An answer is a function of the projection's state, the question and the clock (only through the release
/// calendar): the state is the active statistics version and the offsets of its checkpoints, which every batch
/// moves forward in the transaction that changes the tables (so their sum, which only grows within a version,
/// names the state); the clock counts as the number of the indicator's releases already past; the content coding
/// (gzip or none) is part of the representation. So the same ETag means the same bytes (a strong validator), and a
/// batch or a release changes it.
struct AnswerValidators: Sendable, Equatable {
    /// Quoted, e.g. `"3f2a…"`.
    var etag: String
    /// When the last batch was committed (IMF-fixdate), if any was.
    var lastModified: String?

    /// The validators of the answer to `query` whose selection bound `definition` (in the answer's snapshot).
    init(_ query: DataQuery, _ definition: IndicatorSelection.Definition, gzip: Bool, disclosure: Disclosure, releasedBy: String?) {
        let snapshot = definition.snapshot
        let question = [
            snapshot.projectionState, String(snapshot.releasesPast), query.selection.key, query.format.rawValue,
            disclosure.key, releasedBy == nil ? "embargo-scope" : "released-only", gzip ? "gzip" : "identity",
        ].joined(separator: "\n")
        let digest = EventHash.sha256(Array(question.utf8)).hex.prefix(32)
        self.etag = "\"\(digest)\""
        self.lastModified = snapshot.lastBatch.map { Timestamp.imfFixdate(epochSeconds: Int64($0.rounded(.down))) }
    }

    /// Whether an `If-None-Match` header names this answer (weak comparison, RFC 9110 §13.1.2; `*` names any).
    func matches(ifNoneMatch header: String?) -> Bool {
        guard let header else { return false }
        if header.trimmingCharacters(in: .whitespaces) == "*" { return true }
        return header.split(separator: ",").contains { candidate in
            var tag = candidate.trimmingCharacters(in: .whitespaces)
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            return tag == etag
        }
    }
}
