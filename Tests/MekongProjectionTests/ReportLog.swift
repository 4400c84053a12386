import Foundation
import MekongEvents
import MekongPostgres
import MekongProjection

/// A small projection written the way real ones are: one type plus its SQL. Per event a row in `events` (with the
/// version it was written in and its data after upcasting); per subject the number of submissions and the last
/// one's total, which depends on each key's order, so order independence is tested for real. The reporting unit
/// must exist in `reference.units` (a foreign key: the "violates a table constraint" poison) and totals may not be
/// negative (a CHECK constraint).
struct ReportLog: Projection {
    let identity: ProjectionIdentity
    let topics = ["reports"]

    init(version: Int = 1) {
        identity = ProjectionIdentity(name: "report-log", version: version)
    }

    static func sql(version: Int) -> String {
        """
        CREATE SCHEMA IF NOT EXISTS reference;
        CREATE TABLE IF NOT EXISTS reference.units (unit text PRIMARY KEY);
        CREATE SCHEMA report_log_v\(version);
        CREATE TABLE report_log_v\(version).events (
            event_id text PRIMARY KEY, subject text NOT NULL, topic text NOT NULL, partition integer NOT NULL,
            kafka_offset bigint NOT NULL, written_version integer NOT NULL, data text NOT NULL);
        CREATE TABLE report_log_v\(version).subjects (
            subject text PRIMARY KEY, unit text NOT NULL REFERENCES reference.units, submissions integer NOT NULL,
            last_event_id text NOT NULL, last_total double precision NOT NULL CHECK (last_total >= 0));
        """
    }

    func apply(_ batch: [ProjectionRecord<ProjectedEvent>], on db: PostgresConnection) throws {
        let schema = identity.schema
        try db.execute(
            """
            CREATE TEMP TABLE IF NOT EXISTS report_log_staging (
                event_id text, subject text, unit text, topic text, partition integer, kafka_offset bigint,
                written_version integer, total double precision, data text) ON COMMIT DELETE ROWS
            """)
        try db.execute("TRUNCATE report_log_staging")
        _ = try db.copyIn(
            "COPY report_log_staging FROM STDIN",
            rows: batch.map { record -> [String?] in
                let event = record.row.event
                let unit = String(event.subject.split(separator: "/").first ?? "")
                let total = (event.data["observations"]?.arrayValue ?? []).reduce(0.0) { $0 + ($1["value"]?.numberValue ?? 0) }
                return [event.id, event.subject, unit, record.position.topic, String(record.position.partition),
                        String(record.position.offset), String(record.row.writtenVersion), String(total),
                        String(decoding: CanonicalJSON.encode(event.data), as: UTF8.self)]
            })
        try db.execute(
            """
            INSERT INTO \(schema).events
            SELECT event_id, subject, topic, partition, kafka_offset, written_version, data FROM report_log_staging
            """)
        try db.execute(
            """
            INSERT INTO \(schema).subjects AS s (subject, unit, submissions, last_event_id, last_total)
            SELECT DISTINCT ON (subject) subject, unit, count(*) OVER (PARTITION BY subject), event_id, total
            FROM report_log_staging ORDER BY subject, partition, kafka_offset DESC
            ON CONFLICT (subject) DO UPDATE SET submissions = s.submissions + EXCLUDED.submissions,
                last_event_id = EXCLUDED.last_event_id, last_total = EXCLUDED.last_total
            """)
    }
}
