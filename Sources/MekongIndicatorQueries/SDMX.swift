import MekongPostgres

/// SDMX identifiers and code lists of the National Statistical Database (docs/read-api.md, "Identifiers").
///
/// One scheme, used by every data message and structure: agency `VN_GSO`; one dataflow per indicator, id `DF_`
/// followed by the indicator's code with every `.` written `@` (SDMX ids allow letters, digits, `_`, `@`, `$`
/// and `-`; indicator codes allow letters, digits, `.`, `_` and `-`, so the mapping is one to one); one code list
/// per classification, id `CL_` followed by the classification's id written the same way; version 1.0.
public enum SDMX {
    public static let agency = "VN_GSO"
    public static let version = "1.0"

    /// `DF_RETAIL@SALES` for `RETAIL.SALES`.
    public static func dataflowID(indicator code: String) -> String {
        "DF_" + replacing(".", with: "@", in: code)
    }

    /// The indicator code of a dataflow id, or nil if it is not one of ours.
    public static func indicator(dataflowID id: String) -> String? {
        guard id.hasPrefix("DF_"), id.count > 3 else { return nil }
        return replacing("@", with: ".", in: String(id.dropFirst(3)))
    }

    /// `CL_vn-admin-units`: the code list of a classification's codes.
    public static func codelistID(classification: String) -> String {
        "CL_" + replacing(".", with: "@", in: classification)
    }

    /// `VN_GSO:DF_RETAIL@SALES(1.0)`: the STRUCTURE_ID of SDMX-CSV 2.0.
    public static func dataflowReference(indicator code: String) -> String {
        "\(agency):\(dataflowID(indicator: code))(\(version))"
    }

    /// Whether `text` is an SDMX 2.1 id (`IDType`: letters, digits, `_`, `@`, `$`, `-`).
    static func isID(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || "_@$-".utf8.contains(byte)
        }
    }

    /// Whether `text` is an SDMX 3.0 NCName id (a letter, then letters, digits, `_`, `-`): what SDMX-JSON 2.0 requires
    /// of code list and component ids.
    static func isNCName(_ text: String) -> Bool {
        guard let first = text.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first | 0x20) else { return false }
        return isID(text) && !text.utf8.contains(UInt8(ascii: "@")) && !text.utf8.contains(UInt8(ascii: "$"))
    }

    /// `text` with every byte `old` written `new` (both ASCII). Byte by byte: Foundation's `replacingOccurrences`
    /// is slow enough to show in a read API request's profile.
    static func replacing(_ old: Unicode.Scalar, with new: Unicode.Scalar, in text: String) -> String {
        String(decoding: text.utf8.map { $0 == UInt8(ascii: old) ? UInt8(ascii: new) : $0 }, as: UTF8.self)
    }

    /// OBS_STATUS codes (SDMX cross-domain code list CL_OBS_STATUS) for Mekong's statuses.
    public static let obsStatus = ["normal": "A", "estimated": "E", "forecast": "F", "provisional": "P", "missing": "M"]
    /// CONF_STATUS codes (CL_CONF_STATUS) for Mekong's confidentialities, and `secondary` (D: secondary
    /// confidentiality set by the sender) for a published answer's values withheld because one below is.
    public static let confStatus = ["free": "F", "confidential": "C", "not-for-publication": "N", "secondary": "D"]
}

extension SDMX {
    /// A code of a classification's code list: its names (Vietnamese, English) and the code above it.
    public struct Code: Sendable, Equatable {
        public var id: String
        public var name: String
        public var nameEn: String?
        public var parent: String?

        public init(id: String, name: String, nameEn: String? = nil, parent: String? = nil) {
            self.id = id
            self.name = name
            self.nameEn = nameEn
            self.parent = parent
        }
    }

    /// The code lists of `classifications` (classification → codes): every code any of its versions had (as known
    /// at `knownAt`), once, with the names and parent of the latest version that has it (by the item's first valid
    /// day), sorted by bytes. A data answer in any version's codes (`classificationVersion`, or periods before a
    /// reform) then only holds codes of the list; `/v1/classifications/{id}/versions/{version}/codes` says which
    /// version has which code, and when.
    public static func codes(of classifications: [String], knownAt: String, on db: PostgresConnection) throws -> [String: [Code]] {
        var codes: [String: [Code]] = [:]
        for row in try db.query(
            """
            SELECT DISTINCT ON (i.classification, i.code COLLATE "C") i.classification, i.code, i.name_vi, i.name_en, i.parent
            FROM statistics.items_known_at($2::timestamptz) i
            WHERE i.classification = ANY ($1::text[])
            ORDER BY i.classification, i.code COLLATE "C", i.valid_from DESC, i.version DESC
            """, [PostgresArray.text(classifications), knownAt])
        {
            codes[try row.decode(String.self, at: 0), default: []].append(Code(
                id: try row.decode(String.self, at: 1), name: try row.decode(String.self, at: 2),
                nameEn: try row.decode(String?.self, at: 3), parent: try row.decode(String?.self, at: 4)))
        }
        return codes
    }

    /// `DSD_RETAIL@SALES`: the data structure of an indicator's dataflow.
    public static func dataStructureID(indicator code: String) -> String {
        "DSD_" + replacing(".", with: "@", in: code)
    }

    static func xmlEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
