import MekongEvents
import MekongProjection

/// The upcasters of the statistical event types (Topics/README.md, "Evolving a schema").
public enum StatisticsUpcasters {
    /// Every registered step.
    public static let all = Upcasters([reportV1toV2])

    /// `vn.gso.report.submitted` v1 → v2: v1 had no revision numbers, so a v1 submission is revision 1 (equal
    /// revisions are ordered by recorded time); `unitMultiplier` is optional and means 0 when absent.
    static let reportV1toV2 = Upcaster(eventType: "vn.gso.report.submitted", from: 1) { data in
        guard case .object(var object) = data else { throw UpcastError("data is not an object") }
        object["revision"] = .number(1)
        return .object(object)
    }
}

/// Why an upcaster could not transform an event.
struct UpcastError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
