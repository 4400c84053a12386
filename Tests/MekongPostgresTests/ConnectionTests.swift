import Foundation
import MekongTestSupport
import Testing

@testable import MekongPostgres

@Suite struct ConnectionTests {
    @Test func connectsWithURLAndConfiguresTheSession() throws {
        try withDatabase { database, connection in
            #expect(connection.isConnected)
            #expect(connection.serverVersion >= 100_000)
            #expect(connection.backendPID > 0)
            let row = try connection.query(
                """
                SELECT current_database(), current_setting('application_name'), current_setting('TimeZone'),
                       current_setting('client_encoding'), current_setting('bytea_output'), pg_backend_pid()
                """)[0]
            #expect(try row.decode(String.self, at: 0) == database.name)
            #expect(try row.decode(String.self, at: 1) == "mekong")
            #expect(try row.decode(String.self, at: 2) == "UTC")
            #expect(try row.decode(String.self, at: 3) == "UTF8")
            #expect(try row.decode(String.self, at: 4) == "hex")
            #expect(try row.decode(Int32.self, at: 5) == connection.backendPID)
        }
    }

    @Test func applicationNameAndTimeZoneFromTheURL() throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        // The caller's application_name wins; a server-side TimeZone default does not survive connect.
        let url = database.url + "?application_name=mekong_ingest&options=-c%20TimeZone%3DAsia/Ho_Chi_Minh"
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        let row = try connection.query("SELECT current_setting('application_name'), current_setting('TimeZone')")[0]
        #expect(try row.decode(String.self, at: 0) == "mekong_ingest")
        #expect(try row.decode(String.self, at: 1) == "UTC")
    }

    @Test func connectsWithKeywordValueString() throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let admin = try AdminParts()
        let conninfo =
            "host=\(admin.host) port=\(admin.port) user=\(admin.user) password='\(admin.password)' "
            + "dbname=\(database.name)"
        let connection = try PostgresConnection(url: conninfo)
        defer { connection.close() }
        #expect(try scalar(connection, "SELECT current_database()", as: String.self) == database.name)
    }

    @Test func wrongPasswordFailsWithoutRevealingIt() throws {
        let admin = try AdminParts()
        let secret = "Wr0ng-Secret-\(UInt32.random(in: 1_000...9_999))"
        let url = "postgresql://\(admin.user):\(secret)@\(admin.host):\(admin.port)/mekong"
        let error = #expect(throws: PostgresError.self) { try PostgresConnection(url: url) }
        #expect(error?.code == .connectionFailed)
        #expect(error?.isTransient == true)
        #expect(error?.message.contains("password authentication failed") == true)
        #expect(error?.message.contains("postgresql://\(admin.user):***@") == true)
        #expect(error?.description.contains(secret) == false)
        #expect(error?.localizedDescription.contains(secret) == false)
    }

    @Test(arguments: [
        // libpq's own parse errors quote parts of the string; none may carry the password.
        "postgresql://mekong:S3cretP%zzword@localhost:5432/mekong",
        "postgresql://mekong@localhost:5432/mekong?password=S3cretPassword&bogus_option=1",
        "host=localhost user=mekong password='S3cretPassword' dbname=mekong bogus_option=1",
        "host=localhost port=1 user=mekong password=S3cretPassword dbname=mekong connect_timeout=2",
        "postgresql://mekong:S3cretPassword@localhost:1/mekong?connect_timeout=2",
    ])
    func connectionErrorsNeverContainThePassword(conninfo: String) throws {
        let error = #expect(throws: PostgresError.self) { try PostgresConnection(url: conninfo) }
        #expect(error?.code == .connectionFailed)
        #expect(error?.description.contains("S3cret") == false, "\(String(describing: error))")
        #expect(error?.description.contains("***") == true, "\(String(describing: error))")
    }

    @Test func testDatabaseExplainsHowToStartAnUnreachableServer() throws {
        let error = #expect(throws: PostgresError.self) {
            try TestDatabase.create(adminURL: "postgresql://mekong:S3cretPassword@localhost:1/mekong?connect_timeout=2")
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message.contains("ops/postgres-up.sh") == true)
        #expect(error?.message.contains("S3cret") == false)
    }

    @Test func redactsConnectionStrings() {
        #expect(
            ConnectionString.redacted("postgresql://user:pa:ss@host:5432/db?sslmode=disable")
                == "postgresql://user:***@host:5432/db?sslmode=disable")
        #expect(
            ConnectionString.redacted("postgres://user@host/db?password=x%20y&application_name=a")
                == "postgres://user@host/db?password=***&application_name=a")
        #expect(ConnectionString.redacted("postgresql://host/db") == "postgresql://host/db")
        #expect(
            ConnectionString.redacted("host=h password = 'my \\' secret' user=u") == "host=h password = *** user=u")
        #expect(ConnectionString.redacted("host=h password=abc user=u") == "host=h password=*** user=u")
    }

    @Test func closeIsIdempotentAndLaterCallsAreMisuse() throws {
        try withDatabase { _, connection in
            connection.close()
            connection.close()
            #expect(!connection.isConnected)
            #expect(connection.backendPID == 0)
            let error = #expect(throws: PostgresError.self) { try connection.query("SELECT 1") }
            #expect(error?.code == .misuse)
            #expect(throws: PostgresError.self) { try connection.reset() }
        }
    }

    @Test func terminatedBackendIsTransientAndResetRecovers() throws {
        try withDatabase { database, connection in
            let admin = try database.connect()
            defer { admin.close() }
            let oldPID = connection.backendPID
            #expect(try scalar(admin, "SELECT pg_terminate_backend($1)", [oldPID], as: Bool.self))
            for _ in 0..<100 {  // wait until the backend has exited
                let alive = try scalar(
                    admin, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", [oldPID], as: Int.self)
                if alive == 0 { break }
                Thread.sleep(forTimeInterval: 0.05)
            }

            let error = #expect(throws: PostgresError.self) { try connection.query("SELECT 1") }
            #expect(error?.isTransient == true, "\(String(describing: error))")
            #expect(error?.code == .connectionLost, "\(String(describing: error))")
            #expect(!connection.isConnected)

            try connection.reset()
            #expect(connection.isConnected)
            #expect(connection.backendPID != oldPID)
            #expect(try scalar(connection, "SELECT $1::int + 1", [41], as: Int.self) == 42)
            #expect(try scalar(connection, "SELECT current_setting('TimeZone')", as: String.self) == "UTC")
        }
    }
}

