import Foundation
import MekongEvents
import MekongKafka
import MekongLZ4
import MekongPostgres
import MekongProjection

/// Survey uploads (`survey-uploads`): batches, their chunks and rows, completeness against the expected count,
/// and weighted totals (docs/statistics.md, "Survey uploads").
///
/// A chunk's rows are decompressed, checked against the SHA-256 the chunk carries and parsed in `decode`, in
/// parallel and outside the transaction; a chunk that fails any of these is dead-lettered with the chunk named.
public struct SurveysProjection: Projection {
    public static let name = "surveys"

    public let identity: ProjectionIdentity
    public let topics = ["survey-uploads"]

    public init(version: Int = 1) {
        self.identity = ProjectionIdentity(name: Self.name, version: version)
    }

    /// An upload event and, for a chunk or an inline batch, its rows as `[{rowId, weight, area, values}]`.
    public struct Upload: Sendable {
        let event: ProjectedEvent
        let rows: JSONValue?
    }

    public func decode(_ record: ConsumedMessage, reader: EventReader) throws(Refusal) -> Upload {
        let projected = try reader.read(record)
        let data = projected.event.data
        switch projected.event.type {
        case "vn.gso.survey.chunk-uploaded":
            return Upload(event: projected, rows: try Self.chunkRows(data, subject: projected.event.subject))
        case "vn.gso.survey.batch-uploaded":
            // Inline rows (small batches): the area, when given, is the `area` value.
            let rows = (data["rows"]?.arrayValue ?? []).map { row -> JSONValue in
                .object([
                    "rowId": row["rowId"] ?? .null, "weight": row["weight"] ?? .null,
                    "area": row["values"]?["area"] ?? .null, "values": row["values"] ?? .object([:]),
                ])
            }
            return Upload(event: projected, rows: .array(rows))
        default:
            return Upload(event: projected, rows: nil)
        }
    }

    /// Every upload of the batch in one call (log order within each batch key).
    public func apply(_ batch: [ProjectionRecord<Upload>], on db: PostgresConnection) throws {
        guard !batch.isEmpty else { return }
        let entries = batch.map { record in
            BatchEntry.json(record.row.event.event, record, extra: record.row.rows.map { ["rows": $0] } ?? [:])
        }
        try db.execute("SELECT \(identity.schema).receive_uploads($1::jsonb)", [JSON.serialize(.array(entries))])
    }

    /// Base64 → LZ4 block → NDJSON rows, checked against the declared size, hash and row count.
    static func chunkRows(_ data: JSONValue, subject: String) throws(Refusal) -> JSONValue {
        let chunk = "chunk \(data["chunk"]?.integerValue ?? -1) of \(subject)"
        guard let encoded = data["rows"]?.stringValue, let block = Data(base64Encoded: encoded) else {
            throw Refusal(.validate, "\(chunk): rows is not base64")
        }
        let size = Int(data["uncompressedBytes"]?.integerValue ?? 0)
        let bytes: [UInt8]
        do {
            bytes = try LZ4.decompress(Array(block), uncompressedBytes: size)
        } catch {
            throw Refusal(.validate, "\(chunk): \(error)")
        }
        let hash = EventHash.sha256(bytes).hex
        guard hash == data["rowsSha256"]?.stringValue else {
            throw Refusal(
                .validate,
                "\(chunk): SHA-256 of the uncompressed rows is \(hash), the chunk says \(data["rowsSha256"]?.stringValue ?? "?")")
        }
        var rows: [JSONValue] = []
        for (index, line) in bytes.split(separator: UInt8(ascii: "\n")).enumerated() {
            let row: JSONValue
            do {
                row = try JSON.parse(line)
            } catch {
                throw Refusal(.validate, "\(chunk), row line \(index + 1): \(error)")
            }
            guard row["rowId"]?.stringValue?.isEmpty == false else {
                throw Refusal(.validate, "\(chunk), row line \(index + 1): rowId must be a non-empty string")
            }
            guard let weight = row["weight"]?.numberValue, weight > 0 else {
                throw Refusal(.validate, "\(chunk), row line \(index + 1): weight must be a number above 0")
            }
            guard row["area"]?.stringValue != nil, row["values"]?.objectValue != nil else {
                throw Refusal(.validate, "\(chunk), row line \(index + 1): area (string) and values (object) are required")
            }
            rows.append(row)
        }
        guard rows.count == Int(data["rowCount"]?.integerValue ?? -1) else {
            throw Refusal(.validate, "\(chunk): holds \(rows.count) rows, the chunk says \(data["rowCount"]?.integerValue ?? -1)")
        }
        return .array(rows)
    }
}
