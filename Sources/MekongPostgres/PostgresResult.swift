import CLibPQ

/// The rows of a statement's result, copied into Swift memory (the libpq result is freed at once).
///
/// A random-access collection of `PostgresRow`s; values are kept in PostgreSQL's text format and decoded on
/// demand with `PostgresRow.decode(_:at:)` or `decode(_:named:)`.
public struct PostgresResult: Sendable, RandomAccessCollection {
    /// The result's column names, in order.
    public let columns: [String]
    /// The row count from the command tag (`PQcmdTuples`): rows returned by `SELECT`, rows changed by
    /// `INSERT`/`UPDATE`/`DELETE`, 0 when the command reports none.
    public var rowsAffected: Int
    private let rows: [PostgresRow]

    /// Copies everything out of a libpq result; the caller still owns (and clears) it.
    init(_ result: OpaquePointer) {
        let fieldCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        let columns = (0..<fieldCount).map { column in
            PQfname(result, Int32(column)).map { String(cString: $0) } ?? ""
        }
        var rows: [PostgresRow] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(fieldCount)
            for column in 0..<fieldCount {
                let (r, c) = (Int32(row), Int32(column))
                if PQgetisnull(result, r, c) == 1 {
                    values.append(nil)
                } else if let value = PQgetvalue(result, r, c) {
                    let bytes = UnsafeRawPointer(value).assumingMemoryBound(to: UInt8.self)
                    let buffer = UnsafeBufferPointer(start: bytes, count: Int(PQgetlength(result, r, c)))
                    values.append(String(decoding: buffer, as: UTF8.self))
                } else {
                    values.append(nil)
                }
            }
            rows.append(PostgresRow(columns: columns, values: values))
        }
        self.columns = columns
        self.rows = rows
        self.rowsAffected = PostgresConnection.rowsAffected(result)
    }

    /// The first row's index, 0.
    public var startIndex: Int { 0 }
    /// One past the last row's index, the number of rows.
    public var endIndex: Int { rows.count }
    /// The row at `i` (0-based).
    public subscript(i: Int) -> PostgresRow { rows[i] }
}

/// One row of a `PostgresResult`: text-format values, decoded on demand.
public struct PostgresRow: Sendable {
    /// The result's column names, in order.
    public let columns: [String]
    private let values: [String?]

    init(columns: [String], values: [String?]) {
        self.columns = columns
        self.values = values
    }

    /// Decodes the value at `column` (0-based). Decode into an `Optional` to accept SQL NULL.
    /// - Throws: `.decodeFailed` naming the column, for NULL into a non-optional type, a value that is not
    ///   valid for `type`, or an index out of range.
    public func decode<T: PostgresDecodable>(_ type: T.Type, at column: Int) throws(PostgresError) -> T {
        guard values.indices.contains(column) else {
            throw PostgresError(
                code: .decodeFailed,
                message: "no column at index \(column); the result has \(values.count): "
                    + columns.joined(separator: ", "))
        }
        // Built only for an error: interpolating it for every value was most of a large read's decoding time.
        func name() -> String { "column \"\(columns[column])\" (index \(column))" }
        guard let text = values[column] else {
            if let nullable = T.self as? any PostgresNullable.Type, let null = nullable.postgresNull as? T {
                return null
            }
            throw PostgresError(
                code: .decodeFailed,
                message: "\(name()) is NULL; decode it as \(T.self)? to accept NULL")
        }
        do {
            return try T(postgresText: text)
        } catch {
            throw error.prefixed("\(name()): ", code: .decodeFailed)
        }
    }

    /// Decodes the value of the first column called `column` (exact, case-sensitive match).
    /// - Throws: `.decodeFailed` naming the column, also when no column has that name.
    public func decode<T: PostgresDecodable>(_ type: T.Type, named column: String) throws(PostgresError) -> T {
        guard let index = columns.firstIndex(of: column) else {
            throw PostgresError(
                code: .decodeFailed,
                message: "no column named \"\(column)\"; the result has \(columns.joined(separator: ", "))")
        }
        return try decode(type, at: index)
    }

    /// True when the value at `column` is SQL NULL (also for an index out of range).
    public func isNull(at column: Int) -> Bool {
        guard values.indices.contains(column) else { return true }
        return values[column] == nil
    }
}
