import Foundation
import MekongEvents
import MekongPostgres
import MekongProjection

/// The audit trail as newline-delimited JSON (`mekong audit export`): every row, then every signed tree head, so that
/// a third party checks the trail with the audit key's public half alone (ops/audit-verify-export.py).
public enum AuditExport {
    /// Streams version `version`'s rows (with a cursor) and heads to `line`; returns how many of each.
    public static func write(from db: PostgresConnection, version: Int, _ line: (JSONValue) throws -> Void) throws
        -> (rows: Int, heads: Int)
    {
        let schema = ProjectionIdentity(name: AuditTrail.name, version: version).schema
        return try db.transaction { db in
            try db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            try db.execute(
                """
                DECLARE audit_export NO SCROLL CURSOR FOR
                SELECT topic, partition, kafka_offset, event_bytes, event_hash,
                       (extract(epoch FROM recorded_time) * 1000000)::bigint, problem, previous_chain_hash, chain_hash
                FROM \(schema).events ORDER BY topic, partition, kafka_offset
                """)
            var rows = 0
            while true {
                let fetched = try db.query("FETCH 1000 FROM audit_export")
                if fetched.isEmpty { break }
                for row in fetched {
                    let problem = try row.decode(String?.self, at: 6)
                    try line(.object([
                        "row": .object([
                            "topic": .string(try row.decode(String.self, at: 0)),
                            "partition": .number(Double(try row.decode(Int.self, at: 1))),
                            "offset": .number(Double(try row.decode(Int64.self, at: 2))),
                            "eventBytes": .string(Data(try row.decode([UInt8].self, at: 3)).base64EncodedString()),
                            "eventHash": .string(Hex.encode(try row.decode([UInt8].self, at: 4))),
                            "recordedMicros": .number(Double(try row.decode(Int64.self, at: 5))),
                            "problem": problem.map(JSONValue.string) ?? .null,
                            "previousChainHash": .string(Hex.encode(try row.decode([UInt8].self, at: 7))),
                            "chainHash": .string(Hex.encode(try row.decode([UInt8].self, at: 8))),
                        ]),
                    ]))
                    rows += 1
                }
            }
            try db.execute("CLOSE audit_export")
            var heads = 0
            for row in try db.query("SELECT head FROM \(schema).tree_heads ORDER BY topic, partition, tree_size") {
                try line(.object(["head": try JSON.parse(try row.decode(String.self, at: 0))]))
                heads += 1
            }
            return (rows, heads)
        }
    }
}
