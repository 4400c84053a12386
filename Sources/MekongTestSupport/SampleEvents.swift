import Foundation
import MekongEvents

/// Valid events of the catalog's types, for tests.
public enum SampleEvents {
    /// A report submission (the newest version, v2) by one of `units` reporting units (the subject, so the record key).
    public static func report(_ index: Int, units: Int = 25) -> CloudEvent {
        let unit = "unit-\(index % units)"
        let data: JSONValue = .object(JSONObject([
            ("reportingUnit", .string(unit)),
            ("form", "B01"),
            ("period", "2025-Q3"),
            ("action", "merge"),
            ("revision", 1),
            ("observations", .array([
                .object(JSONObject([
                    ("indicator", "POP.TOTAL"),
                    ("dimensions", .object(JSONObject([("area", .string(String(format: "%05d", index % 997)))]))),
                    ("value", .number(Double(1000 + index))),
                    ("status", "normal"),
                    ("confidentiality", "free"),
                ]))
            ])),
        ]))
        return CloudEvent(
            id: UUIDv7.generate(), source: "urn:gso:province:\(index % 63)", type: "vn.gso.report.submitted",
            time: Timestamp(rfc3339: "2025-10-0\(1 + index % 9)T08:30:00.\(String(format: "%03d", index % 1000))+07:00")!,
            subject: "\(unit)/B01/2025-Q3",
            dataschema: "https://schemas.mekong.gso.gov.vn/vn.gso.report.submitted/v2.schema.json", data: data)
    }

    /// `count` report events as newline-delimited JSON, as `mekong publish` reads them.
    public static func reportFile(_ count: Int) -> String {
        (0..<count).map { JSON.serialize(report($0).json) }.joined(separator: "\n") + "\n"
    }
}
