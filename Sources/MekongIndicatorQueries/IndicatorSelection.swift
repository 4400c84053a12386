import Foundation
import MekongEvents
import MekongPostgres

/// Which rows of one indicator a query asks for, and where they are read: the materialized
/// `statistics.indicator_table` for current values in the codes they were reported in, the query-time functions as
/// known at a time or in another version's codes. `mekong query indicator` and `mekong serve` both ask through it.
///
/// The values reach the server as session settings (`mekong.*`, set by one parameterized statement) and the
/// queries read them with `current_setting`, so that the same text serves a plain query and a `COPY`, which
/// takes no bind parameters; nothing asked for is ever put into a statement's text.
public struct IndicatorSelection: Sendable, Equatable {
    /// The indicator's code, e.g. `RETAIL.SALES`.
    public var code: String
    /// As known at this recorded time (RFC 3339), or `infinity` for now.
    public var knownAt: String
    /// Express every period in the codes of this `vn-admin-units` version.
    public var version: String?
    /// Only this period.
    public var period: String?
    /// Only these areas (none: every area).
    public var areas: [String]
    /// Only the areas whose parent at the period's reference date is this one.
    public var parent: String?
    /// Only periods that start on or after this period's first day.
    public var startPeriod: String?
    /// Only periods that end on or before this period's last day.
    public var endPeriod: String?
    /// Only what changed since this recorded time (RFC 3339): the rows whose answer differs from the answer as
    /// known and released at that time, and the rows that answer had and this one has not (`action` D).
    public var updatedAfter: String?
    /// Only observations whose other dimensions have these values (dimension name → allowed values).
    public var dimensionFilters: [String: [String]]
    /// The answer's disseminations instead of the answer (SDMX `includeHistory`): every recorded time at which it
    /// changed, with the rows that changed then (`action` I new or changed, D gone) and the time as `valid_from`;
    /// after ``updatedAfter`` only, if that is set. ``prepareHistory(disclosure:hidingUnreleased:on:)``
    /// computes them, at most ``historyMomentsPerAnswer`` moments at a time.
    public var includeHistory: Bool
    /// How many candidate moments one history answer examines (each costs one as-of answer); a longer history is
    /// read in pages, each continuing after the last moment of the one before (``HistoryPage/next``).
    public var historyMomentsPerAnswer = 24

    public init(
        code: String, knownAt: String = "infinity", version: String? = nil, period: String? = nil,
        areas: [String] = [], parent: String? = nil, startPeriod: String? = nil, endPeriod: String? = nil,
        updatedAfter: String? = nil, dimensionFilters: [String: [String]] = [:], includeHistory: Bool = false
    ) {
        self.code = code
        self.knownAt = knownAt
        self.version = version
        self.period = period
        self.areas = areas
        self.parent = parent
        self.startPeriod = startPeriod
        self.endPeriod = endPeriod
        self.updatedAfter = updatedAfter
        self.dimensionFilters = dimensionFilters
        self.includeHistory = includeHistory
    }

    /// Every field of the question, spelled out (for validators and caches): two selections have the same key
    /// exactly when they are equal. (Built by hand: `String(describing:)` reflects, and cost 8 % of a read API
    /// request's CPU.)
    public var key: String {
        var parts = [code, knownAt, version ?? "\u{1}", period ?? "\u{1}", areas.joined(separator: "\u{3}"), parent ?? "\u{1}",
                     startPeriod ?? "\u{1}", endPeriod ?? "\u{1}", updatedAfter ?? "\u{1}",
                     includeHistory ? "history" : "answer", String(historyMomentsPerAnswer)]
        for (name, values) in dimensionFilters.sorted(by: { $0.key < $1.key }) { parts.append(name + "\u{4}" + values.joined(separator: "\u{3}")) }
        return parts.joined(separator: "\u{2}")
    }

    /// Whether an earlier answer (as of a time, for ``updatedAfter``, for a history) needs only some areas' vintages:
    /// those asked for (or the parent's) and the areas below them; not for another version's codes, whose values
    /// come through correspondences from anywhere.
    var foldsSomeAreas: Bool {
        version == nil && (knownAt != "infinity" || updatedAfter != nil || includeHistory) && (!areas.isEmpty || parent != nil)
    }

    /// Whether the answer's rows say what became of each (`action`): ``updatedAfter`` and ``includeHistory``
    /// answers.
    public var reportsChanges: Bool { updatedAfter != nil || includeHistory }

    /// The indicator as defined at `knownAt`.
    public struct Definition: Sendable, Equatable {
        public var name: String
        public var unit: String
        /// Dimension names besides `area`, sorted: the columns of the exports.
        public var dimensions: [String]
        /// `sum`, `weighted-mean` or `none`.
        public var aggregation: String
        /// The classification of each dimension's codes, `area` included (`area` → `vn-admin-units`).
        public var classifications: [String: String] = [:]
        /// What an ``IndicatorSelection/includeHistory`` answer holds (nil for any other answer).
        public var history: HistoryPage? = nil
        /// What the snapshot that bound the selection holds besides the definition (for an answer's validators).
        public var snapshot = Snapshot()
        /// Whether current values are read from the materialized `statistics.indicator_table` (it exists).
        var materialized = false
    }

    /// The state of the statistics projection in the snapshot that bound a selection: a function of everything
    /// an answer is computed from except the question and the clock's releases (docs/read-api.md, "Caching").
    public struct Snapshot: Sendable, Equatable {
        /// The active version, the number of its checkpoints and the sum of their offsets (`3:12:40961`; empty
        /// without an active version). Every batch moves an offset forward in the transaction that changes the
        /// tables, and the sum only grows within a version, so it names the state.
        public var projectionState = ""
        /// When the last batch was committed (seconds since 1970), if any was.
        public var lastBatch: Double?
        /// How many of the indicator's scheduled releases are past by the answer's release time.
        public var releasesPast = 0

        /// `state` (``projectionState``) and `last_batch` (``lastBatch``), one row: read by the bind statement, and
        /// alone by ``read(on:)``.
        static let stateQuery = """
            SELECT coalesce(max(c.version) || ':' || count(*) || ':' || sum(c.next_offset), '') AS state,
                   extract(epoch FROM max(c.updated_at))::float8 AS last_batch
            FROM mekong.checkpoints c
            WHERE c.projection = 'statistics'
              AND c.version = (SELECT v.version FROM mekong.projection_versions v
                               WHERE v.projection = 'statistics' AND v.state = 'active')
            """

        /// The projection's state in the current snapshot, for answers that bind no selection (master data: no
        /// release counts).
        public static func read(on db: PostgresConnection) throws -> Snapshot {
            let row = try db.queryPrepared(stateQuery)[0]
            return Snapshot(projectionState: try row.decode(String.self, at: 0), lastBatch: try row.decode(Double?.self, at: 1))
        }
    }

    /// The part of an answer's history that one answer holds.
    public struct HistoryPage: Sendable, Equatable {
        /// The disseminations it holds (moments at which the answer changed), in order.
        public var disseminations: Int
        /// When more moments follow: the `updatedAfter` that asks for the next page (the last moment examined).
        public var next: String?
    }

    /// The `knownAt` of an as-of time given as RFC 3339 or as a date (its start in UTC), or nil if it is neither:
    /// the instant in UTC to the microsecond, kept within years 1970 to 9999 (nothing was recorded before 1970,
    /// so earlier times ask the same question).
    public static func knownAt(parsing text: String) -> String? {
        guard let time = Timestamp(rfc3339: text) ?? Timestamp(rfc3339: text + "T00:00:00Z") else { return nil }
        if time.epochSeconds < 0 { return "1970-01-01T00:00:00.000000Z" }
        if time.epochSeconds > 253_402_300_799 { return "9999-12-31T23:59:59.999999Z" }
        return time.utcMicroseconds
    }

    /// A period of the calendar: `2025`, `2025-H1`, `2025-Q3`, `2025-M07` (years 1000 to 9999). Checked byte by
    /// byte: a Swift `Regex` literal is parsed again at every use, which cost a read API request more than its
    /// query (`perf`, session 17).
    public static func isPeriod(_ text: String) -> Bool {
        let b = Array(text.utf8)
        func digit(_ i: Int, _ range: ClosedRange<UInt8> = UInt8(ascii: "0")...UInt8(ascii: "9")) -> Bool { range.contains(b[i]) }
        guard b.count == 4 || b.count == 7 || b.count == 8, digit(0, UInt8(ascii: "1")...UInt8(ascii: "9")),
              digit(1), digit(2), digit(3) else { return false }
        if b.count == 4 { return true }
        guard b[4] == UInt8(ascii: "-") else { return false }
        switch (b[5], b.count) {
        case (UInt8(ascii: "H"), 7): return digit(6, UInt8(ascii: "1")...UInt8(ascii: "2"))
        case (UInt8(ascii: "Q"), 7): return digit(6, UInt8(ascii: "1")...UInt8(ascii: "4"))
        case (UInt8(ascii: "M"), 8):
            return (b[6] == UInt8(ascii: "0") && digit(7, UInt8(ascii: "1")...UInt8(ascii: "9")))
                || (b[6] == UInt8(ascii: "1") && digit(7, UInt8(ascii: "0")...UInt8(ascii: "2")))
        default: return false
        }
    }

    /// Sets the session settings (and `settings`, more `mekong.*` names and values for the statements that follow),
    /// checks the indicator exists and returns its definition, or nil if it is not defined (as known at
    /// `knownAt`), in one statement. It also sets `mekong.unit`, `mekong.dimension_0` … (the dimension names
    /// besides area, sorted by their bytes) and `mekong.released_by` (`releasedBy`, for answers that hide periods
    /// the release calendar has not released by then), and reads the definition's ``Snapshot``.
    ///
    /// The statement is the same for every question (prepared once per session, planned once); an earlier
    /// answer that folds only some areas (``foldsSomeAreas``) sets `mekong.as_of_areas` in a second one.
    /// - Throws: ``IndicatorQueryError`` `unpublished-version` if `version` is not a published version of
    ///   `vn-admin-units` (as known at `knownAt`), `unknown-dimension` if a dimension filter names a dimension the
    ///   indicator does not declare.
    public func bind(on db: PostgresConnection, releasedBy: String? = nil, settings: [(String, String)] = []) throws -> Definition? {
        let rows = try db.queryPrepared(
            """
            SELECT d.name_vi, d.unit, d.dimensions::text, d.aggregation, array_to_json(d.names)::text,
                   $3::text IS NULL OR EXISTS (
                       SELECT FROM statistics.classification_versions
                       WHERE classification = 'vn-admin-units' AND version = $3 AND recorded_from <= $2::timestamptz
                         AND (recorded_to IS NULL OR recorded_to > $2::timestamptz)),
                   set_config('mekong.unit', coalesce(d.unit, ''), false),
                   (SELECT count(set_config('mekong.dimension_' || (x.n - 1), x.name, false))
                    FROM unnest(d.names) WITH ORDINALITY AS x (name, n)),
                   s.extra, to_regclass('statistics.indicator_table') IS NOT NULL,
                   p.state, p.last_batch,
                   (SELECT count(*)::int FROM statistics.releases r
                    WHERE r.indicator = $1 AND r.recorded_to IS NULL AND r.release_time <= coalesce($12, 'infinity')::timestamptz)
            FROM (SELECT set_config('mekong.indicator', $1, false), set_config('mekong.as_of_areas', '', false),
                         set_config('mekong.known_at', $2, false),
                         set_config('mekong.version', coalesce($3, ''), false),
                         set_config('mekong.period', coalesce($4, ''), false),
                         set_config('mekong.areas', $5::text, false), set_config('mekong.parent', coalesce($6::text, ''), false),
                         set_config('mekong.start_period', coalesce($7, ''), false),
                         set_config('mekong.end_period', coalesce($8, ''), false),
                         set_config('mekong.updated_after', coalesce($9, ''), false),
                         set_config('mekong.released_by', coalesce($12, ''), false),
                         (SELECT count(set_config(x.name, x.value, false))
                          FROM unnest($10::text[], $11::text[]) AS x (name, value)) AS extra) AS s
            LEFT JOIN LATERAL (
                SELECT i.name_vi, i.unit, i.dimensions, i.aggregation,
                       ARRAY(SELECT k FROM jsonb_object_keys(i.dimensions) AS k WHERE k <> 'area' ORDER BY k COLLATE "C") AS names
                FROM statistics.indicators i
                WHERE i.code = $1 AND i.recorded_from <= $2::timestamptz
                  AND (i.recorded_to IS NULL OR i.recorded_to > $2::timestamptz)) AS d ON true
            CROSS JOIN LATERAL (\(Snapshot.stateQuery)) AS p
            """,
            [code, knownAt, version, period, PostgresArray.text(areas), parent, startPeriod, endPeriod, updatedAfter,
             PostgresArray.text(settings.map(\.0)), PostgresArray.text(settings.map(\.1)), releasedBy])
        let first = rows[0]
        guard try first.decode(String?.self, at: 0) != nil else { return nil }
        guard try first.decode(Bool.self, at: 5) else { throw IndicatorQueryError.unpublishedVersion(self) }
        let dimensions = try (JSON.parse(first.decode(String.self, at: 4)).arrayValue ?? []).compactMap(\.stringValue)
        let declared = try JSON.parse(first.decode(String.self, at: 2)).objectValue ?? [:]
        if !dimensionFilters.isEmpty {
            // Each filter's dimension as the indicator declares it (names are matched without regard to case).
            var filters: [(String, JSONValue)] = []
            for (name, values) in dimensionFilters.sorted(by: { $0.key < $1.key }) {
                guard let declared = dimensions.first(where: { $0.lowercased() == name.lowercased() }) else {
                    throw IndicatorQueryError.unknownDimension(self, name, declared: dimensions)
                }
                filters.append((declared, .array(values.map { .string($0) })))
            }
            _ = try db.queryPrepared("SELECT set_config('mekong.dimension_filter', $1, false)", [JSON.serialize(.object(JSONObject(filters)))])
        }
        if foldsSomeAreas {
            // The areas an earlier answer folds (014_as_of_within_areas.sql): those asked for and every area ever
            // recorded below them.
            _ = try db.queryPrepared(
                """
                SELECT set_config('mekong.as_of_areas', (
                    WITH RECURSIVE below (code) AS (
                        SELECT unnest($1::text::text[] || array_remove(ARRAY[$2::text], NULL))
                        UNION SELECT i.code FROM statistics.items i JOIN below b ON i.parent = b.code
                        WHERE i.classification = 'vn-admin-units')
                    SELECT array_agg(code)::text FROM below), false)
                """, [PostgresArray.text(areas), parent])
        }
        var definition = Definition(
            name: try first.decode(String.self, at: 0), unit: try first.decode(String.self, at: 1),
            dimensions: dimensions, aggregation: try first.decode(String.self, at: 3),
            classifications: Dictionary(uniqueKeysWithValues: declared.keys.map { ($0, declared[$0]?.stringValue ?? "") }))
        definition.materialized = try first.decode(Bool.self, at: 9)
        definition.snapshot = Snapshot(
            projectionState: try first.decode(String.self, at: 10), lastBatch: try first.decode(Double?.self, at: 11),
            releasesPast: try first.decode(Int.self, at: 12))
        return definition
    }

    /// The whole statement over the bound settings, `[WITH …] SELECT <columns> FROM … ORDER BY …` in series order.
    /// `columns` name the answer's columns as `answer.<column>`, and what `disclosure` lets be seen as
    /// `disclosed.visible` (whether the value may be sent) and `disclosed.confidentiality` (the flag to send;
    /// docs/read-api.md, "Open and secured data"). `.fullWithin` reads its areas from `mekong.scope_areas`.
    /// `hidingUnreleased` leaves out the periods that the release calendar releases after `mekong.released_by`.
    ///
    /// Current values in the codes they were reported in are an index range of the materialized table (when it
    /// exists); an as-of time or a version reads the query-time functions once, into the CTE `answers`.
    ///
    /// With ``updatedAfter`` the statement compares two such answers: this one, and the one the same reader got at
    /// `mekong.updated_after` (as known then, released by then in the calendar as known then). Its rows are those
    /// of this answer that the earlier one lacked or showed otherwise (value sent, status, confidentiality sent,
    /// origin), with `answer.action` `I`, and those of the earlier answer that this one lacks, with action `D`,
    /// no value and their earlier flags.
    public func statement(
        selecting columns: String, _ definition: Definition, disclosure: Disclosure, hidingUnreleased: Bool = false,
        on db: PostgresConnection
    ) throws -> String {
        if includeHistory {
            return """
                SELECT \(columns) FROM pg_temp.answer_history AS answer
                CROSS JOIN LATERAL (SELECT answer.value IS NOT NULL AS visible, answer.confidentiality) AS disclosed
                ORDER BY answer.valid_from, answer.action DESC, answer.area, answer.period, answer.dimensions
                """
        }
        let released = Release(calendarKnownAt: nil, by: "current_setting('mekong.released_by')::timestamptz")
        let now = Moment(knownAt: "current_setting('mekong.known_at')::timestamptz", releases: [released])
        guard let updatedAfter else {
            return answer(
                selecting: columns, disclosure: disclosure, hidingUnreleased: hidingUnreleased,
                materialized: materialized(definition), at: now)
        }
        // The earlier answer, less what is under embargo now: a period not released yet is invisible in the
        // changes too, even one that was public at `updatedAfter` (D rows would show its keys).
        let since = "current_setting('mekong.updated_after')::timestamptz"
        let then = Moment(knownAt: since, releases: [Release(calendarKnownAt: since, by: since), released])
        let shown = Self.shownColumns
        let nothing = Self.nothing
        // Nothing changed after a time at or after the answer's own (`asOf`).
        let empty = knownAt != "infinity" && updatedAfter >= knownAt
        let current = empty ? nothing : answer(
            selecting: shown, disclosure: disclosure, hidingUnreleased: hidingUnreleased,
            materialized: materialized(definition), at: now)
        // An indicator not yet defined then (or a version not yet published) had an empty answer.
        let earlier = try empty || !existed(at: updatedAfter, on: db)
            ? nothing
            : answer(selecting: shown, disclosure: disclosure, hidingUnreleased: hidingUnreleased, materialized: false, at: then)
        return """
            SELECT \(columns) FROM (\(Self.changes(from: earlier, to: current))) AS answer
            CROSS JOIN LATERAL (SELECT answer.value IS NOT NULL AS visible, answer.confidentiality) AS disclosed
            ORDER BY answer.area, answer.period, answer.dimensions
            """
    }

    /// The rows (period, area, dimensions, value, status, confidentiality, origin, action) that turn the answer
    /// `earlier` into the answer `current` (both SQL selecting ``shownColumns``' columns): those of `current` that
    /// `earlier` lacked or showed otherwise, action `I`, and those of `earlier` that `current` lacks, action `D`,
    /// with no value and their earlier flags.
    private static func changes(from earlier: String, to current: String) -> String {
        """
        SELECT coalesce(n.period, t.period) AS period, coalesce(n.area, t.area) AS area,
               coalesce(n.dimensions, t.dimensions) AS dimensions, n.value, coalesce(n.status, t.status) AS status,
               coalesce(n.confidentiality, t.confidentiality) AS confidentiality,
               coalesce(n.origin, t.origin) AS origin, CASE WHEN n.area IS NULL THEN 'D' ELSE 'I' END AS action
        FROM (\(current)) AS n FULL JOIN (\(earlier)) AS t
          ON t.area = n.area AND t.period = n.period AND t.dimensions = n.dimensions
        WHERE n.area IS NULL OR t.area IS NULL OR n.value IS DISTINCT FROM t.value OR n.status <> t.status
           OR n.confidentiality <> t.confidentiality OR n.origin <> t.origin
        """
    }

    /// What an answer shows of each row, for comparing two answers: the value only where it may be sent.
    private static let shownColumns = """
        answer.period, answer.area, answer.dimensions, CASE WHEN disclosed.visible THEN answer.value END AS value,
        answer.status, disclosed.confidentiality, answer.origin
        """

    /// An empty answer with ``shownColumns``' columns: what a reader saw before the indicator was defined.
    private static let nothing = "SELECT NULL::text AS period, NULL::text AS area, NULL::jsonb AS dimensions, "
        + "NULL::numeric AS value, NULL::text AS status, NULL::text AS confidentiality, NULL::text AS origin WHERE false"

    /// Fills `pg_temp.answer_history` with the disseminations of this answer (``includeHistory``).
    ///
    /// The candidate moments are the recorded times at which anything the answer reads changed: every submission
    /// of a report that ever gave values of the indicator or of its weight indicator (in the areas asked for and
    /// every area ever recorded below them, or in every area; a `delete` or `replace` has none to show for what
    /// it withdraws), the indicator's definition, the administrative units, their versions and
    /// correspondences, and with `hidingUnreleased` the release calendar's entries and release times; those after
    /// ``updatedAfter``, and not after the answer's own time (``knownAt``). At each moment the answer as the reader saw
    /// it then (as known then, released by then in the calendar as known then, less what is under embargo now) is
    /// compared with the one before; a moment at which nothing the reader sees changed is no dissemination. At most
    /// ``historyMomentsPerAnswer`` moments are examined; ``HistoryPage/next`` says where the next page starts.
    ///
    /// Call it after ``bind(on:)``, in the transaction that reads the answer.
    public func prepareHistory(disclosure: Disclosure, hidingUnreleased: Bool, on db: PostgresConnection) throws -> HistoryPage {
        // Areas whose values can reach the answer: `mekong.as_of_areas` as bind set it (the areas asked for and every
        // area ever recorded below them), or every area.
        let moments = try db.query(
            """
            WITH within (areas) AS (SELECT nullif(current_setting('mekong.as_of_areas'), '')::text[]),
            codes (code) AS (
                SELECT $1::text UNION SELECT i.weight_indicator FROM statistics.indicators i
                WHERE i.code = $1 AND i.weight_indicator IS NOT NULL),
            reports (reporting_unit, form, period) AS (
                SELECT DISTINCT s.reporting_unit, s.form, s.period FROM statistics.observation_vintages v
                JOIN statistics.submissions s ON s.event_id = v.event_id
                WHERE v.indicator IN (SELECT code FROM codes)
                  AND (SELECT areas IS NULL OR v.area = ANY (areas) FROM within)),
            changed (t) AS (
                SELECT s.recorded_time FROM statistics.submissions s
                WHERE (s.reporting_unit, s.form, s.period) IN (SELECT reporting_unit, form, period FROM reports)
                UNION SELECT unnest(ARRAY[recorded_from, recorded_to]) FROM statistics.indicators
                      WHERE code IN (SELECT code FROM codes)
                UNION SELECT unnest(ARRAY[recorded_from, recorded_to]) FROM statistics.items
                      WHERE classification = 'vn-admin-units'
                UNION SELECT unnest(ARRAY[recorded_from, recorded_to]) FROM statistics.classification_versions
                      WHERE classification = 'vn-admin-units'
                UNION SELECT unnest(ARRAY[recorded_from, recorded_to]) FROM statistics.correspondences
                      WHERE source_classification = 'vn-admin-units'
                UNION SELECT unnest(ARRAY[recorded_from, recorded_to, release_time]) FROM statistics.releases
                      WHERE $2 AND indicator = $1)
            SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM changed
            WHERE t > $3::timestamptz AND t <= $4::timestamptz
            ORDER BY t LIMIT $5
            """,
            [code, hidingUnreleased, updatedAfter ?? "-infinity", knownAt, historyMomentsPerAnswer + 1]
        ).map { try $0.decode(String.self, at: 0) }
        let examined = Array(moments.prefix(historyMomentsPerAnswer))

        // The answer at `mekong.history_moment` as the reader saw it then.
        let moment = "current_setting('mekong.history_moment')::timestamptz"
        let released = Release(calendarKnownAt: nil, by: "current_setting('mekong.released_by')::timestamptz")
        let then = Moment(knownAt: moment, releases: [Release(calendarKnownAt: moment, by: moment), released])
        let seen = answer(
            selecting: Self.shownColumns, disclosure: disclosure, hidingUnreleased: hidingUnreleased, materialized: false, at: then)
        func store(answerAt time: String, into table: String) throws {
            _ = try db.queryPrepared("SELECT set_config('mekong.history_moment', $1, false)", [time])
            _ = try db.execute("CREATE TEMP TABLE \(table) AS \(try existed(at: time, on: db) ? seen : Self.nothing)")
        }
        _ = try db.execute("DROP TABLE IF EXISTS pg_temp.answer_history, pg_temp.history_before, pg_temp.history_now")
        _ = try db.execute(
            """
            CREATE TEMP TABLE answer_history (valid_from text, period text, area text, dimensions jsonb, value numeric,
                                              status text, confidentiality text, origin text, action text)
            """)
        // Before the first moment: the answer at `updatedAfter`, or none.
        if let updatedAfter {
            try store(answerAt: updatedAfter, into: "history_before")
        } else {
            _ = try db.execute("CREATE TEMP TABLE history_before AS \(Self.nothing)")
        }
        var disseminations = 0
        for time in examined {
            try store(answerAt: time, into: "history_now")
            let changed = try db.execute(
                """
                INSERT INTO pg_temp.answer_history
                SELECT $1, d.* FROM (\(Self.changes(from: "SELECT * FROM pg_temp.history_before", to: "SELECT * FROM pg_temp.history_now"))) AS d
                """, [time])
            if changed > 0 { disseminations += 1 }
            _ = try db.execute("DROP TABLE pg_temp.history_before")
            _ = try db.execute("ALTER TABLE pg_temp.history_now RENAME TO history_before")
        }
        _ = try db.execute("DROP TABLE pg_temp.history_before")
        return HistoryPage(disseminations: disseminations, next: moments.count > examined.count ? examined.last : nil)
    }

    /// When an answer is read: the recorded time it is known at, and the release conditions its periods must meet
    /// (when hiding unreleased periods). Each is an SQL expression over the bound settings.
    private struct Moment {
        var knownAt: String
        var releases: [Release]
    }

    /// Released by a time, in the release calendar as known at a recorded time (nil: as now known).
    private struct Release {
        var calendarKnownAt: String?
        var by: String
    }

    /// Whether the indicator was defined, and the version asked for published, as known at `time`.
    private func existed(at time: String, on db: PostgresConnection) throws -> Bool {
        try db.queryPrepared(
            """
            SELECT EXISTS (SELECT FROM statistics.indicators
                           WHERE code = $1 AND recorded_from <= $2::timestamptz
                             AND (recorded_to IS NULL OR recorded_to > $2::timestamptz))
               AND ($3::text IS NULL OR EXISTS (
                       SELECT FROM statistics.classification_versions
                       WHERE classification = 'vn-admin-units' AND version = $3 AND recorded_from <= $2::timestamptz
                         AND (recorded_to IS NULL OR recorded_to > $2::timestamptz)))
            """, [code, time, version])[0].decode(Bool.self, at: 0)
    }

    /// One answer at `moment`: what ``statement(selecting:_:disclosure:hidingUnreleased:on:)`` returns without
    /// ``updatedAfter``.
    private func answer(
        selecting columns: String, disclosure: Disclosure, hidingUnreleased: Bool, materialized: Bool, at moment: Moment
    ) -> String {
        var ctes: [String] = []
        var from: String
        var filters: [String] = []
        if materialized {
            from = "statistics.indicator_table AS answer"
            filters = periodFilters(materialized: true)
            if parent != nil { filters.append("answer.parent = current_setting('mekong.parent')") }
        } else {
            ctes.append("answers AS (SELECT * FROM \(functionCall(moment)) AS answer WHERE \(periodFilters(materialized: false).joined(separator: " AND ")))")
            from = "answers AS answer"
            if parent != nil {
                // The areas directly below `parent` in each period's hierarchy: one lookup per period, not per row.
                ctes.append("""
                    children (period, area) AS (
                        SELECT w.period, c.code FROM (SELECT DISTINCT period FROM answers) w
                        CROSS JOIN LATERAL statistics.classification_at('vn-admin-units', \(validOn(moment)), \(moment.knownAt)) c
                        WHERE c.parent = current_setting('mekong.parent'))
                    """)
                filters.append("(answer.period, answer.area) IN (SELECT period, area FROM children)")
            }
        }
        if !areas.isEmpty { filters.append("answer.area = ANY (current_setting('mekong.areas')::text[])") }
        if !dimensionFilters.isEmpty {
            // `mekong.dimension_filter`: {"sex": ["F", "M"], …}; a row without the dimension matches none.
            filters.append("""
                NOT EXISTS (SELECT FROM jsonb_each(current_setting('mekong.dimension_filter')::jsonb) AS f (name, allowed)
                            WHERE NOT coalesce(f.allowed ? (answer.dimensions->>f.name), false))
                """)
        }
        if hidingUnreleased {
            // A period under embargo is left out whole: its reported values and every aggregate of it.
            let unreleased = moment.releases.map { release in
                let believed = release.calendarKnownAt.map { "r.recorded_from <= \($0) AND (r.recorded_to IS NULL OR r.recorded_to > \($0))" }
                    ?? "r.recorded_to IS NULL"
                return "(\(believed) AND r.release_time > \(release.by))"
            }
            filters.append("""
                NOT EXISTS (SELECT FROM statistics.releases r
                            WHERE r.indicator = current_setting('mekong.indicator') AND r.period = answer.period
                              AND (\(unreleased.joined(separator: " OR "))))
                """)
        }
        // What may be seen: everything (full), or published data (withheld_above) except, for a reader's scope,
        // the areas within it (in_scope).
        var visible = "true"
        var shown = "answer.confidentiality"
        if disclosure != .full {
            // Current values: the projection keeps the keys above a withheld value (statistics.withheld_above, per
            // batch); as-of and re-expressed answers climb at query time (the CTE withheld_above).
            let above = materialized ? "statistics.withheld_above" : "withheld_above"
            if !materialized { ctes.append(withheldAbove(moment)) }
            // One probe per row: LIMIT keeps the planner from hashing the indicator's whole withheld set for a few
            // rows, OFFSET 0 from evaluating it once for `visible` and again for `shown` (2.1 ms to 0.2 ms for
            // one series on the benchmark's tables). When the areas are named, one probe for all of them first (an
            // InitPlan, run once): most answers have no withheld key at all (on the national benchmark, 94 % of
            // indicator-area pairs), and then no row is probed (64 buffers to 13 for one series).
            let gate = materialized && !areas.isEmpty ? """
                (SELECT EXISTS (SELECT FROM statistics.withheld_above g
                                WHERE g.indicator = current_setting('mekong.indicator')
                                  AND g.area = ANY (current_setting('mekong.areas')::text[]))) AND
                """ : ""
            from += """
                 CROSS JOIN LATERAL (SELECT answer.confidentiality = 'free' AND \(gate) EXISTS (
                    SELECT FROM \(above) w
                    WHERE w.indicator = current_setting('mekong.indicator') AND w.area = answer.area
                      AND w.period = answer.period AND w.dimensions = answer.dimensions LIMIT 1) AS above OFFSET 0) AS withheld
                """
            visible = "answer.confidentiality = 'free' AND NOT withheld.above"
            shown = "CASE WHEN withheld.above THEN 'secondary' ELSE answer.confidentiality END"
            if case .fullWithin = disclosure {
                ctes.append(inScope(materialized: materialized, moment))
                let inside = "(answer.period, answer.area) IN (SELECT period, area FROM in_scope)"
                visible = "\(inside) OR (\(visible))"
                shown = "CASE WHEN \(inside) THEN answer.confidentiality ELSE \(shown) END"
            }
        }
        from += " CROSS JOIN LATERAL (SELECT \(visible) AS visible, \(shown) AS confidentiality) AS disclosed"
        let with = ctes.isEmpty ? "" : "WITH RECURSIVE " + ctes.joined(separator: ",\n") + "\n"
        let condition = filters.isEmpty ? "" : " WHERE " + filters.joined(separator: " AND ")
        return "\(with)SELECT \(columns) FROM \(from)\(condition) ORDER BY answer.area, answer.period, answer.dimensions"
    }

    /// `withheld_above (indicator, area, period, dimensions)` at query time, for as-of and re-expressed answers:
    /// every key (of the periods asked for, all areas) above a value that is not free, each withheld row's path
    /// read from the hierarchy valid on its period's reference date; aggregated indicators only (the values of
    /// one that is not aggregated are no sums). Current values read the projection's own table of these keys.
    private func withheldAbove(_ moment: Moment) -> String {
        """
        withheld_above (indicator, area, period, dimensions) AS (
            SELECT DISTINCT current_setting('mekong.indicator'), p.code, w.period, w.dimensions FROM answers w
            CROSS JOIN LATERAL statistics.hierarchy_path('vn-admin-units', w.area, \(validOn(moment)), \(moment.knownAt)) p
            WHERE w.confidentiality <> 'free' AND p.code <> w.area
              AND EXISTS (SELECT FROM statistics.indicators i
                          WHERE i.code = current_setting('mekong.indicator') AND i.recorded_to IS NULL
                            AND i.aggregation <> 'none'))
        """
    }

    /// `in_scope (period, area)`: for each period of the answer, the areas of a reader's scope and every area below
    /// them in that period's hierarchy (one lookup per period and scope area).
    private func inScope(materialized: Bool, _ moment: Moment) -> String {
        let periods = materialized
            ? "SELECT DISTINCT answer.period FROM statistics.indicator_table AS answer WHERE \(periodFilters(materialized: true).joined(separator: " AND "))"
            : "SELECT DISTINCT period FROM answers"
        return """
            in_scope (period, area) AS (
                SELECT w.period, d.area FROM (\(periods)) w
                CROSS JOIN LATERAL unnest(current_setting('mekong.scope_areas')::text[]) AS s (code)
                CROSS JOIN LATERAL statistics.areas_within(s.code, \(validOn(moment))) d)
            """
    }

    /// The day whose hierarchy places the row `w` of a function's answer: its period's reference date (last day),
    /// in a version's codes not before the version's first day (as re-expression places earlier periods).
    private func validOn(_ moment: Moment) -> String {
        let reference = "(\(Self.end(of: "w.period")) - interval '1 day')::date"
        guard version != nil else { return reference }
        return """
            greatest(\(reference), (SELECT min(v.valid_from) FROM statistics.classification_versions v
                WHERE v.classification = 'vn-admin-units' AND v.version = current_setting('mekong.version')
                  AND v.recorded_from <= \(moment.knownAt)
                  AND (v.recorded_to IS NULL OR v.recorded_to > \(moment.knownAt))))
            """
    }

    private func functionCall(_ moment: Moment) -> String {
        version == nil
            ? "statistics.indicator_values(current_setting('mekong.indicator'), \(moment.knownAt))"
            : "statistics.indicator_in_version(current_setting('mekong.indicator'), current_setting('mekong.version'), \(moment.knownAt))"
    }

    /// Whether current values in the codes they were reported in are read from the materialized table.
    private func materialized(_ definition: Definition) -> Bool {
        version == nil && knownAt == "infinity" && definition.materialized
    }

    /// The indicator (materialized table only: the functions read one indicator) and the periods asked for.
    private func periodFilters(materialized: Bool) -> [String] {
        var filters = materialized ? ["answer.indicator = current_setting('mekong.indicator')"] : ["true"]
        if period != nil { filters.append("answer.period = current_setting('mekong.period')") }
        if startPeriod != nil {
            filters.append("\(Self.start(of: "answer.period")) >= \(Self.start(of: "current_setting('mekong.start_period')"))")
        }
        if endPeriod != nil {
            filters.append("\(Self.end(of: "answer.period")) <= \(Self.end(of: "current_setting('mekong.end_period')"))")
        }
        return filters
    }

    /// The first day of the period that `expression` (SQL text) names, as `statistics_v2.period_start` computes it.
    static func start(of expression: String) -> String {
        """
        make_date(left(\(expression), 4)::int, CASE substr(\(expression), 6, 1) \
        WHEN 'H' THEN (substr(\(expression), 7, 1)::int - 1) * 6 + 1 \
        WHEN 'Q' THEN (substr(\(expression), 7, 1)::int - 1) * 3 + 1 \
        WHEN 'M' THEN substr(\(expression), 7, 2)::int ELSE 1 END, 1)
        """
    }

    /// The day after the period's last day: `startPeriod`/`endPeriod` keep the periods of any periodicity that lie
    /// within [first day of startPeriod, last day of endPeriod].
    static func end(of expression: String) -> String {
        """
        (\(start(of: expression)) + CASE substr(\(expression), 6, 1) WHEN '' THEN interval '1 year' \
        WHEN 'H' THEN interval '6 months' WHEN 'Q' THEN interval '3 months' ELSE interval '1 month' END)
        """
    }

}
