import MekongEvents

/// The master data admission reads: indicator definitions and every code's valid intervals, as the active version of
/// the `statistics` projection holds them at one position of the master-data topic. It is loaded whole (Vietnam's
/// administrative units before and after the 2025 reform are ~14 000 intervals) and replaced when that position
/// moves, so that checking a report reads no database. The intervals come from the projection's own
/// `items_known_at`, and reference dates from its `period_reference_date`: the gateway only looks them up.
struct MasterDataSnapshot: Sendable {
    /// Where the projection stood when the snapshot was loaded.
    struct Position: Sendable, Equatable {
        /// The active version of the `statistics` projection.
        let version: Int
        /// The sum of its next offsets on the master-data topic: it grows with every master-data event applied.
        let masterDataOffsets: Int64
    }

    struct Indicator: Sendable {
        /// e.g. ["month", "quarter"].
        let periodicities: [String]
        /// Dimension name → classification, e.g. ["area": "vn-admin-units"].
        let dimensions: [String: String]
    }

    /// A valid-time interval [from, to) of a code; days as "YYYY-MM-DD", which order as text.
    struct Interval: Sendable {
        let from: String
        let to: String?

        func contains(_ day: String) -> Bool { from <= day && (to.map { day < $0 } ?? true) }
        var text: String { "from \(from)" + (to.map { " to \($0)" } ?? "") }
    }

    /// A reporting period as the projection reads it.
    struct Period: Sendable {
        /// "year", "half-year", "quarter" or "month"; nil for text that is not a period.
        let type: String?
        /// The period's last day, whose codes apply to it; nil for text that is not a period.
        let referenceDate: String?
    }

    let position: Position
    let indicators: [String: Indicator]
    /// Classification → code → intervals, ordered by start.
    let intervals: [String: [String: [Interval]]]

    /// A problem with one report, as a JSON pointer into its data.
    struct Problem: Sendable, Equatable {
        let pointer: String
        let code: ProblemCode
        let message: String
    }

    /// Checks a report's `data` (vn.gso.report.submitted v2): every indicator defined, the period of one of its
    /// periodicities, the dimensions its own, every code valid on the period's reference date. `period` is the
    /// projection's reading of the report's period.
    func problems(inReport data: JSONValue, period: Period) -> [Problem] {
        let periodText = data["period"]?.stringValue ?? ""
        var problems: [Problem] = []
        if period.type == nil, (data["observations"]?.arrayValue ?? []).isEmpty {
            // A report with no observations (a delete, an empty merge) still names a period: it must be one.
            problems.append(Problem(pointer: "/period", code: .invalidPeriod, message: "\(periodText) is not a period"))
        }
        for (position, observation) in (data["observations"]?.arrayValue ?? []).enumerated() {
            let name = observation["indicator"]?.stringValue ?? ""
            guard let indicator = indicators[name] else {
                problems.append(Problem(pointer: "/observations/\(position)/indicator", code: .masterData,
                                        message: "indicator \(name) is not defined"))
                continue
            }
            let periodProblem = Problem(
                pointer: "/period", code: .invalidPeriod,
                message: "period \(periodText) is not a periodicity of indicator \(name) "
                    + "(it has \(indicator.periodicities.joined(separator: ", ")))")
            if !(period.type.map(indicator.periodicities.contains) ?? false) && !problems.contains(periodProblem) {
                problems.append(periodProblem)
            }
            let dimensions = observation["dimensions"]?.objectValue ?? JSONObject()
            let given = dimensions.map(\.key).sorted()
            let defined = indicator.dimensions.keys.sorted()
            if given != defined {
                problems.append(Problem(
                    pointer: "/observations/\(position)/dimensions", code: .masterData,
                    message: "dimensions are [\(given.joined(separator: ", "))], but indicator \(name) has "
                        + "[\(defined.joined(separator: ", "))]"))
            }
            guard period.type != nil, let day = period.referenceDate else { continue }
            for dimension in defined {
                guard let code = dimensions[dimension]?.stringValue else { continue }
                let classification = indicator.dimensions[dimension]!
                let known = intervals[classification]?[code] ?? []
                guard !known.contains(where: { $0.contains(day) }) else { continue }
                problems.append(Problem(
                    pointer: "/observations/\(position)/dimensions/\(dimension)", code: .masterData,
                    message: known.isEmpty
                        ? "code \(code) is not in classification \(classification)"
                        : "code \(code) of \(classification) is not valid at \(periodText) (reference date \(day)); "
                            + "it is valid \(known.map(\.text).joined(separator: ", "))"))
            }
        }
        return problems
    }

    /// Whether a code is an item of a classification on a day, and if not why: never known, not yet valid, or no
    /// longer valid (with its intervals).
    func validity(of code: String, in classification: String, on day: String) -> (valid: Bool, reason: String?) {
        let known = intervals[classification]?[code] ?? []
        if known.contains(where: { $0.contains(day) }) { return (true, nil) }
        guard let first = known.first else { return (false, "\(code) is not a code of \(classification)") }
        if first.from > day { return (false, "\(code) is not yet valid on \(day): valid from \(first.from)") }
        return (false, "\(code) is no longer valid on \(day): valid \(known.map(\.text).joined(separator: ", "))")
    }
}
