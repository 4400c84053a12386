// The read API over HTTP on the national-scale tables that `mekong-bench statistics` leaves in
// mekong_bench_statistics: single-series requests at a fixed rate (latency) and as fast as they go (throughput),
// JSON, SDMX-CSV and SDMX-JSON, each beside the same query run straight on PostgreSQL in the same run. With
// `ceilingOnly` (`mekong-bench read-api-ceiling`) only PostgreSQL's flat-out figure, for `ops/read-api-load.sh` to
// print beside its curl runs.
import Foundation
import MekongEvents
import MekongIndicatorQueries
import MekongKafka
import MekongPostgres
import MekongReadAPI
import Synchronization

func readAPIBenchmark(requests perRun: Int, runs: Int, ceilingOnly: Bool = false) async throws {
    let root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    let url = databaseURL("mekong_bench_statistics")
    guard let db = try? PostgresConnection(url: url) else {
        print("FAILED: no database mekong_bench_statistics; run `mekong-bench statistics` first (it leaves it)")
        exit(1)
    }
    // The read API's columns and tables (statistics v2 008, 009) on a database built before them.
    _ = try MigrationRunner(directory: root.appendingPathComponent("Projections")).apply(projection: "statistics", version: 2, on: db)
    let indicators = try db.query("SELECT code FROM statistics.indicators WHERE recorded_to IS NULL ORDER BY code")
        .map { try $0.decode(String.self, at: 0) }
    let areas = try db.query(
        "SELECT DISTINCT area FROM statistics.indicator_table WHERE indicator = $1 ORDER BY area", [indicators[0]]
    ).map { try $0.decode(String.self, at: 0) }
    let rows = try db.query(
        "SELECT count(*)::int FROM statistics.indicator_table WHERE indicator = $1 AND area = $2", [indicators[0], areas[0]]
    )[0].decode(Int.self, at: 0)
    print("read api: \(indicators.count) indicators, \(areas.count) areas, \(rows) periods per series")

    var random = SeededRandom(seed: 7)
    func series(_ count: Int) -> [(String, String)] {
        (0..<count).map { _ in (random.element(of: indicators), random.element(of: areas)) }
    }
    let throughputRequests = perRun * 4
    if ceilingOnly {
        for format in ["json", "sdmx-csv", "sdmx-json"] {
            var ceiling: [Double] = []
            for _ in 0..<runs { ceiling.append(try await postgresCeiling(url: url, format: format, series(throughputRequests))) }
            _ = report("baseline: the same queries in PostgreSQL (\(format)), 8 connections: queries/s", throughputRequests, ceiling)
        }
        db.close()
        return
    }
    let server = try await ReadAPIServer.start(ReadAPIConfiguration(
        port: 0, postgres: url, databaseThreads: 8, anonymousQuota: .init(perHour: Int.max / 2, perDay: Int.max / 2)))
    let rate = 200.0
    for format in ["json", "sdmx-csv", "sdmx-json"] {
        // Baseline: the statements the server runs, on one connection, one after another, bytes discarded.
        var direct: [Double] = []
        for (indicator, area) in series(min(perRun, 2_000)) {
            let start = ContinuousClock.now
            try answerDirectly(indicator, area, format: format, on: db)
            direct.append(seconds(ContinuousClock.now - start))
        }
        latencies("baseline: the same query in PostgreSQL (\(format), one connection)", direct)

        var fixed: [LatencySummary] = []
        var fast: [Double] = []
        for _ in 0..<runs {
            let requests = series(perRun).map {
                HTTPConnection.request("GET", "/v1/data/\($0.0)?area=\($0.1)&format=\(format)")
            }
            fixed.append(try await openLoop(port: server.port, requests: requests, rate: rate, connections: 16, check: expect(200)))
            let flood = series(throughputRequests).map {
                HTTPConnection.request("GET", "/v1/data/\($0.0)?area=\($0.1)&format=\(format)")
            }
            fast.append(try await closedLoop(port: server.port, requests: flood, connections: 8, check: expect(200)))
        }
        reportLatency("read api: GET /v1/data one series, \(format)", fixed, rate: rate)
        _ = report("read api: GET /v1/data one series, \(format), 8 connections: requests/s", throughputRequests, fast)
        // Baseline: the same statements as fast as 8 database connections go, no HTTP (PostgreSQL's own ceiling
        // for these answers on this machine).
        var ceiling: [Double] = []
        for _ in 0..<runs { ceiling.append(try await postgresCeiling(url: url, format: format, series(throughputRequests))) }
        _ = report("baseline: the same queries in PostgreSQL (\(format)), 8 connections: queries/s", throughputRequests, ceiling)
    }
    var health: [Double] = []
    for _ in 0..<runs {
        health.append(try await closedLoop(
            port: server.port, requests: Array(repeating: HTTPConnection.request("GET", "/healthz"), count: perRun * 4),
            connections: 8, check: expect(200)))
    }
    _ = report("baseline: GET /healthz (the HTTP stack alone), 8 connections: requests/s", perRun * 4, health)
    await server.stop()
    db.close()
}

/// One answer's statements as the server runs them (one snapshot, the last statement committing), bytes discarded.
func answerDirectly(_ indicator: String, _ area: String, format: String, on db: PostgresConnection) throws {
    try db.transaction(isolation: .repeatableRead) { db in
        let export = IndicatorExport(
            IndicatorSelection(code: indicator, areas: [area]), disclosure: .published, releasedBy: Timestamp(date: Date()).text)
        guard let definition = try export.prepare(on: db) else { throw PostgresError(code: .misuse, message: "no \(indicator)") }
        switch format {
        case "json": try export.rows(.json, definition, on: db, committing: true) { _ in }
        case "sdmx-csv": try export.rows(.sdmxCSV, definition, on: db, committing: true) { _ in }
        default: try SDMXJSONMessage(export, definition).write(id: "bench", prepared: Timestamp(date: Date()).text, on: db, committing: true) { _ in }
        }
    }
}

/// Seconds to answer `work` (indicator, area) with the server's statements on 8 connections at once, no HTTP.
func postgresCeiling(url: String, format: String, _ work: [(String, String)]) async throws -> Double {
    let pool = PostgresPool(url: url, threads: 8, defaults: ["options": "-c jit=off"])
    // Warm each connection's prepared statements first, as a running server's are.
    try await withThrowingTaskGroup(of: Void.self) { group in
        for (indicator, area) in work.prefix(8) {
            group.addTask { try await pool.run { db in try answerDirectly(indicator, area, format: format, on: db) } }
        }
        try await group.waitForAll()
    }
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<8 {
            let share = stride(from: worker, to: work.count, by: 8).map { work[$0] }
            group.addTask {
                try await pool.run { db in
                    for (indicator, area) in share { try answerDirectly(indicator, area, format: format, on: db) }
                }
            }
        }
        try await group.waitForAll()
    }
    let elapsed = seconds(ContinuousClock.now - start)
    await pool.shutdown()
    return elapsed
}
