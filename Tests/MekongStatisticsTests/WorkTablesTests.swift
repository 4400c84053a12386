import MekongPostgres
import MekongTestSupport
import Testing

/// The batch work tables keep their rows past COMMIT (emptying them at every commit cost 8–9 ms of a live batch);
/// `prepare_report_staging` must keep what piles up bounded.
@Suite("Batch work tables")
struct WorkTablesTests {
    @Test("prepare_report_staging truncates the work tables that have grown past 8 pages, and leaves small ones alone")
    func startBatchBoundsTheWorkTables() async throws {
        let fixture = try StatisticsFixture()
        try await fixture.project()  // migrates statistics_v2
        let db = try fixture.database.connect()
        defer { db.close() }
        func rows(_ table: String) throws -> Int {
            try db.query("SELECT count(*)::int FROM pg_temp.\(table)")[0].decode(Int.self, at: 0)
        }
        func pages(_ table: String) throws -> Int {
            try db.query("SELECT (pg_relation_size('pg_temp.\(table)') / 8192)::int")[0].decode(Int.self, at: 0)
        }
        let fill = """
            INSERT INTO pg_temp.touched_keys (indicator, period, area, dimensions)
            SELECT 'IND', '2026-M01', 'A' || n, '{}' FROM generate_series(1, $1::int) n
            """

        // A few rows stay after COMMIT, and the next batch does not pay for a truncation.
        try db.transaction { db in
            try db.execute("SELECT statistics_v2.prepare_report_staging()")
            try db.execute(fill, [3])
        }
        #expect(try rows("touched_keys") == 3)
        try db.transaction { db in try db.execute("SELECT statistics_v2.prepare_report_staging()") }
        #expect(try rows("touched_keys") == 3)

        // A large batch's rows, or the dead rows of many small ones, are gone at the next batch's start.
        try db.transaction { db in
            try db.execute("SELECT statistics_v2.prepare_report_staging()")
            try db.execute("DELETE FROM pg_temp.touched_keys")
            try db.execute(fill, [5_000])
            try db.execute("INSERT INTO pg_temp.folded_reports VALUES ('U', 'F', '2026-M01')")
        }
        #expect(try pages("touched_keys") > 8)
        try db.transaction { db in try db.execute("SELECT statistics_v2.prepare_report_staging()") }
        #expect(try rows("touched_keys") == 0)
        #expect(try pages("touched_keys") == 0)
        // A small one is not truncated with it (a batch that catches up fills only four of the fourteen).
        #expect(try rows("folded_reports") == 1)
        // The truncation forgot the statistics; analyzed again, an emptied work table is planned as empty (never
        // analyzed, it would be planned as 400 rows, and the roll-ups' DELETE would hash all of indicator_rollups).
        let unanalyzed = try db.query(
            "SELECT count(*)::int FROM unnest(statistics_v2.work_tables()) t JOIN pg_class c ON c.oid = t::regclass WHERE c.reltuples < 0")
        #expect(try unanalyzed[0].decode(Int.self, at: 0) == 0)
        let plan = try db.query("EXPLAIN (FORMAT JSON) SELECT * FROM pg_temp.touched_keys")[0].decode(String.self, at: 0)
        #expect(plan.contains("\"Plan Rows\": 1,"), "an emptied work table is planned as one row: \(plan)")
    }

    @Test("the derivation routines prepare each statement once per session and run it again at every batch")
    func derivationStatementsArePreparedOnce() async throws {
        let fixture = try StatisticsFixture()
        try await fixture.project()  // migrates statistics_v2
        let db = try fixture.database.connect()
        defer { db.close() }
        func executions() throws -> [String: Int] {
            var counts: [String: Int] = [:]
            for row in try db.query(
                "SELECT name, (generic_plans + custom_plans)::int FROM pg_prepared_statements WHERE name LIKE 'statistics_v2_%'")
            {
                counts[try row.decode(String.self, at: 0)] = try row.decode(Int.self, at: 1)
            }
            return counts
        }
        for _ in 0..<3 {
            try db.transaction { db in
                try db.execute("SELECT statistics_v2.prepare_touched_keys()")
                try db.execute("SELECT statistics_v2.refresh_derived('statistics_v2')")
            }
        }
        let counts = try executions()
        // Roll-ups, withheld keys and re-expression with nothing touched: nine statements, each run three times.
        #expect(counts.count == 9, "\(counts)")
        #expect(counts.values.allSatisfy { $0 == 3 }, "\(counts)")
    }
}
