/// SDMX identifiers and code lists of the National Statistical Database (docs/read-api.md, "Identifiers").
///
/// One scheme, used by every data message and structure: agency `VN_GSO`; one dataflow per indicator, id `DF_`
/// followed by the indicator's code with every `.` written `@` (SDMX ids allow letters, digits, `_`, `@`, `$`
/// and `-`; indicator codes allow letters, digits, `.`, `_` and `-`, so the mapping is one to one); version 1.0.
public enum SDMX {
    public static let agency = "VN_GSO"
    public static let version = "1.0"

    /// `DF_RETAIL@SALES` for `RETAIL.SALES`.
    public static func dataflowID(indicator code: String) -> String {
        "DF_" + code.replacingOccurrences(of: ".", with: "@")
    }

    /// The indicator code of a dataflow id, or nil if it is not one of ours.
    public static func indicator(dataflowID id: String) -> String? {
        guard id.hasPrefix("DF_"), id.count > 3 else { return nil }
        return String(id.dropFirst(3)).replacingOccurrences(of: "@", with: ".")
    }

    /// `VN_GSO:DF_RETAIL@SALES(1.0)`: the STRUCTURE_ID of SDMX-CSV 2.0.
    public static func dataflowReference(indicator code: String) -> String {
        "\(agency):\(dataflowID(indicator: code))(\(version))"
    }

    /// OBS_STATUS codes (SDMX cross-domain code list CL_OBS_STATUS) for Mekong's statuses.
    public static let obsStatus = ["normal": "A", "estimated": "E", "forecast": "F", "provisional": "P", "missing": "M"]
    /// CONF_STATUS codes (CL_CONF_STATUS) for Mekong's confidentialities, and `secondary` (D: secondary
    /// confidentiality set by the sender) for a published answer's values withheld because one below is.
    public static let confStatus = ["free": "F", "confidential": "C", "not-for-publication": "N", "secondary": "D"]
}
