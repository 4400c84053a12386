@testable import MekongGateway
import MekongEvents
import Testing

/// The admission rules on a hand-built snapshot: P1 always valid, P2 closed on 2025-07-01, P3 open from 2025-07-01.
struct MasterDataSnapshotTests {
    let snapshot = MasterDataSnapshot(
        position: .init(version: 1, masterDataOffsets: 3),
        indicators: ["POP": .init(periodicities: ["month", "year"], dimensions: ["area": "units"])],
        intervals: ["units": [
            "P1": [.init(from: "2024-01-01", to: nil)],
            "P2": [.init(from: "2024-01-01", to: "2025-07-01")],
            "P3": [.init(from: "2025-07-01", to: nil)],
        ]])
    let march = MasterDataSnapshot.Period(type: "month", referenceDate: "2025-03-31")
    let august = MasterDataSnapshot.Period(type: "month", referenceDate: "2025-08-31")

    func report(period: String = "2025-M03", _ observations: [(indicator: String, dimensions: [(String, String)])]) -> JSONValue {
        .object(JSONObject([
            ("period", .string(period)),
            ("observations", .array(observations.map { observation in
                .object(JSONObject([
                    ("indicator", .string(observation.indicator)),
                    ("dimensions", .object(JSONObject(observation.dimensions.map { ($0.0, JSONValue.string($0.1)) }))),
                ]))
            })),
        ]))
    }

    @Test func aReportWithValidCodesHasNoProblems() {
        #expect(snapshot.problems(inReport: report([("POP", [("area", "P1")]), ("POP", [("area", "P2")])]), period: march)
            .isEmpty)
    }

    @Test func aReportWithoutObservationsStillNeedsAPeriod() {
        // Schemathesis found "0000" accepted: it fits the schemas' pattern, and nothing checked the period of a report
        // with no observations.
        let none = snapshot.problems(inReport: report(period: "0000", []), period: .init(type: nil, referenceDate: nil))
        #expect(none == [.init(pointer: "/period", code: .invalidPeriod, message: "0000 is not a period")])
        #expect(snapshot.problems(inReport: report([]), period: march).isEmpty)
    }

    @Test func eachRuleNamesThePointerItRefuses() {
        let problems = snapshot.problems(
            inReport: report([("GDP", [("area", "P1")]), ("POP", [("area", "P9")]), ("POP", [("area", "P3")]),
                              ("POP", [("area", "P1"), ("sex", "F")])]),
            period: march)
        #expect(problems == [
            .init(pointer: "/observations/0/indicator", code: .masterData, message: "indicator GDP is not defined"),
            .init(pointer: "/observations/1/dimensions/area", code: .masterData,
                  message: "code P9 is not in classification units"),
            .init(pointer: "/observations/2/dimensions/area", code: .masterData,
                  message: "code P3 of units is not valid at 2025-M03 (reference date 2025-03-31); it is valid from 2025-07-01"),
            .init(pointer: "/observations/3/dimensions", code: .masterData,
                  message: "dimensions are [area, sex], but indicator POP has [area]"),
        ])
        let closed = snapshot.problems(inReport: report(period: "2025-M08", [("POP", [("area", "P2")])]), period: august)
        #expect(closed.map(\.message) == [
            "code P2 of units is not valid at 2025-M08 (reference date 2025-08-31); it is valid from 2024-01-01 to 2025-07-01",
        ])
    }

    @Test func aPeriodOfAnotherPeriodicityIsNamedOnceAndTextThatIsNoPeriodStopsTheCodeChecks() {
        let quarter = MasterDataSnapshot.Period(type: "quarter", referenceDate: "2025-03-31")
        let problems = snapshot.problems(
            inReport: report(period: "2025-Q1", [("POP", [("area", "P9")]), ("POP", [("area", "P1")])]), period: quarter)
        #expect(problems.map(\.pointer) == ["/period", "/observations/0/dimensions/area"])
        #expect(problems[0] == .init(pointer: "/period", code: .invalidPeriod,
                                      message: "period 2025-Q1 is not a periodicity of indicator POP (it has month, year)"))
        let notAPeriod = snapshot.problems(
            inReport: report(period: "2025-W01", [("POP", [("area", "P9")])]),
            period: .init(type: nil, referenceDate: nil))
        #expect(notAPeriod.map(\.code) == [.invalidPeriod])
    }

    @Test func validityExplainsWhyACodeIsNotValid() {
        #expect(snapshot.validity(of: "P1", in: "units", on: "2025-03-31") == (true, nil))
        #expect(snapshot.validity(of: "P2", in: "units", on: "2025-07-01").reason
            == "P2 is no longer valid on 2025-07-01: valid from 2024-01-01 to 2025-07-01")
        #expect(snapshot.validity(of: "P2", in: "units", on: "2025-06-30").valid)
        #expect(snapshot.validity(of: "P3", in: "units", on: "2025-06-30").reason
            == "P3 is not yet valid on 2025-06-30: valid from 2025-07-01")
        #expect(snapshot.validity(of: "P9", in: "units", on: "2025-06-30").reason == "P9 is not a code of units")
        #expect(snapshot.validity(of: "P1", in: "other", on: "2025-06-30").reason == "P1 is not a code of other")
    }

    /// The validate route's dates (`RFC3339.isValidDate`, shared with the schema's `format: date`).
    @Test func calendarDays() {
        let day = RFC3339.isValidDate
        #expect(day("2024-02-29") && day("2025-12-31") && day("2000-02-29"))
        #expect(!day("2025-02-29") && !day("1900-02-29") && !day("2025-13-01"))
        #expect(!day("2025-1-01") && !day("2025-01-00") && !day("2025-01-0١"))
        #expect(!day("") && !day("2025-01-01T00:00:00Z"))
    }
}
