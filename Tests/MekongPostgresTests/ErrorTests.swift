import Foundation
import MekongPostgres
import MekongTestSupport
import Testing

@Suite struct ErrorTests {
    @Test func uniqueViolationCarriesSQLStateAndDiagnostics() throws {
        try withDatabase { _, connection in
            try connection.execute("CREATE TABLE units (code text PRIMARY KEY)")
            let sql = "INSERT INTO units (code) VALUES ($1)"
            try connection.execute(sql, ["01"])
            let error = #expect(throws: PostgresError.self) { try connection.execute(sql, ["01"]) }
            #expect(error?.code == .queryFailed)
            #expect(error?.sqlState == "23505")
            #expect(error?.message == "duplicate key value violates unique constraint \"units_pkey\"")
            #expect(error?.detail == "Key (code)=(01) already exists.")
            #expect(error?.query == sql)
            #expect(error?.isTransient == false)
            #expect(error?.description.contains("[23505]") == true)
            // The connection is fine afterwards.
            #expect(try scalar(connection, "SELECT count(*) FROM units", as: Int.self) == 1)
        }
    }

    @Test func syntaxErrorCarriesSQLState() throws {
        try withDatabase { _, connection in
            let error = #expect(throws: PostgresError.self) { try connection.query("SELEC 1") }
            #expect(error?.code == .queryFailed)
            #expect(error?.sqlState == "42601")
            #expect(error?.message.contains("syntax error") == true)
            #expect(error?.query == "SELEC 1")
        }
    }

    @Test func serverHintAndContextAreKept() throws {
        try withDatabase { _, connection in
            let error = #expect(throws: PostgresError.self) {
                try connection.runScript(
                    """
                    DO $$ BEGIN
                        RAISE EXCEPTION 'boom' USING DETAIL = 'the detail', HINT = 'the hint', ERRCODE = '40001';
                    END $$
                    """)
            }
            #expect(error?.message == "boom")
            #expect(error?.detail == "the detail")
            #expect(error?.hint == "the hint")
            #expect(error?.context?.contains("PL/pgSQL") == true)
            #expect(error?.sqlState == "40001")
            #expect(error?.isTransient == true)
        }
    }

    @Test(arguments: [
        ("08006", true), ("08001", true), ("40001", true), ("40P01", true), ("57P01", true), ("57P02", true),
        ("57P03", true), ("53300", true), ("53100", true), ("55P03", true), ("25P03", true), ("57014", true),
        ("23505", false), ("42601", false), ("22P02", false), ("54000", false), ("P0001", false), ("XX000", false),
    ])
    func transientClassification(sqlState: String, transient: Bool) {
        let error = PostgresError(code: .queryFailed, message: "x", sqlState: sqlState)
        #expect(error.isTransient == transient)
    }

    @Test func codesThatAreTransientWithoutSQLState() {
        #expect(PostgresError(code: .connectionLost, message: "x").isTransient)
        #expect(PostgresError(code: .connectionFailed, message: "x").isTransient)
        #expect(!PostgresError(code: .misuse, message: "x").isTransient)
        #expect(!PostgresError(code: .decodeFailed, message: "x").isTransient)
    }
}
