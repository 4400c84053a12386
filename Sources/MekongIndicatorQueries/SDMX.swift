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

    /// An SDMX-ML 2.1 structure message with everything an SDMX reader needs to read the indicator's data
    /// messages: its dataflow (unit and aggregation rule as annotations), the data structure (REF_AREA, the other
    /// dimensions upper-cased in the indicator's order, TIME_PERIOD; OBS_VALUE; OBS_STATUS and CONF_STATUS), the
    /// concept scheme `CS_MEKONG` the components name, and the code lists: the two attributes', and each
    /// dimension's classification's (``codes(of:knownAt:on:)``, given in `codes`; a classification without codes, or
    /// with a code that is no SDMX id, say with a `.`, leaves its dimension text; a code's parent is named only
    /// when it is in the list). The lists of dimensions
    /// other than REF_AREA also hold `_Z`, "not applicable", the code of a row that lacks the dimension in
    /// SDMX-JSON. `prepared` is the message's RFC 3339 preparation time.
    public static func structureMessage(
        indicator code: String, definition: IndicatorSelection.Definition, codes: [String: [Code]], prepared: String
    ) -> String {
        let flow = dataflowID(indicator: code)
        let dsd = dataStructureID(indicator: code)
        let datastructure = "urn:sdmx:org.sdmx.infomodel.datastructure"
        let dimensions = ["REF_AREA"] + definition.dimensions.map { $0.uppercased() }
        func concept(_ id: String) -> String {
            "<str:ConceptIdentity><Ref id=\"\(id)\" maintainableParentID=\"CS_MEKONG\" maintainableParentVersion=\"1.0\" agencyID=\"\(agency)\" package=\"conceptscheme\" class=\"Concept\"/></str:ConceptIdentity>"
        }
        func name(_ text: String, _ language: String = "en") -> String {
            "<com:Name xml:lang=\"\(language)\">\(xmlEscaped(text))</com:Name>"
        }
        /// `codes`' names are in `language`, their English names (if any) in English.
        func codelist(_ id: String, _ title: String, _ codes: [Code], language: String) -> String {
            let urn = "urn:sdmx:org.sdmx.infomodel.codelist.Codelist=\(agency):\(id)(\(version))"
            let ids = Set(codes.map(\.id))
            var xml = "<str:Codelist id=\"\(id)\" agencyID=\"\(agency)\" version=\"\(version)\" urn=\"\(urn)\">\(name(title))"
            for code in codes {
                let codeID = xmlEscaped(code.id)
                xml += "<str:Code id=\"\(codeID)\" urn=\"urn:sdmx:org.sdmx.infomodel.codelist.Code=\(agency):\(id)(\(version)).\(codeID)\">"
                    + name(code.name, language) + (code.nameEn.map { name($0) } ?? "")
                if let parent = code.parent, parent != code.id, ids.contains(parent) {
                    xml += "<str:Parent><Ref id=\"\(xmlEscaped(parent))\"/></str:Parent>"
                }
                xml += "</str:Code>"
            }
            return xml + "</str:Codelist>"
        }
        // Each dimension's code list: its classification's, if it has codes and each is an SDMX id.
        let dimensionLists: [(dimension: String, list: String)] = (["area"] + definition.dimensions).compactMap { dimension in
            guard let classification = definition.classifications[dimension], let listed = codes[classification], !listed.isEmpty,
                  listed.allSatisfy({ isID($0.id) })
            else { return nil }
            return (dimension, codelistID(classification: classification))
        }
        let enumerated = Dictionary(dimensionLists.map { ($0.dimension == "area" ? "REF_AREA" : $0.dimension.uppercased(), $0.list) }) { first, _ in first }
        func enumeration(_ list: String) -> String {
            "<str:Enumeration><Ref id=\"\(xmlEscaped(list))\" version=\"\(version)\" agencyID=\"\(agency)\" package=\"codelist\" class=\"Codelist\"/></str:Enumeration>"
        }
        func attribute(_ id: String, _ list: String) -> String {
            "<str:Attribute id=\"\(id)\" assignmentStatus=\"Mandatory\" urn=\"\(datastructure).DataAttribute=\(agency):\(dsd)(\(version)).\(id)\">\(concept(id))"
                + "<str:LocalRepresentation>\(enumeration(list))</str:LocalRepresentation>"
                + "<str:AttributeRelationship><str:PrimaryMeasure><Ref id=\"OBS_VALUE\"/></str:PrimaryMeasure></str:AttributeRelationship></str:Attribute>"
        }
        let concepts: [(String, String)] = [("REF_AREA", "Reference area")]
            + definition.dimensions.map { ($0.uppercased(), $0) }
            + [("TIME_PERIOD", "Time period"), ("OBS_VALUE", "Observation value"), ("OBS_STATUS", "Observation status"),
               ("CONF_STATUS", "Confidentiality status")]
        var xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <mes:Structure xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message" \
            xmlns:str="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure" \
            xmlns:com="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common">
            <mes:Header><mes:ID>\(flow)</mes:ID><mes:Test>false</mes:Test><mes:Prepared>\(prepared)</mes:Prepared>\
            <mes:Sender id="\(agency)"/></mes:Header>
            <mes:Structures>

            """
        xml += "<str:Dataflows><str:Dataflow id=\"\(flow)\" agencyID=\"\(agency)\" version=\"\(version)\" urn=\"\(datastructure).Dataflow=\(agency):\(flow)(\(version))\">"
            + "<com:Annotations><com:Annotation><com:AnnotationType>UNIT</com:AnnotationType><com:AnnotationText xml:lang=\"vi\">\(xmlEscaped(definition.unit))</com:AnnotationText></com:Annotation>"
            + "<com:Annotation><com:AnnotationType>AGGREGATION</com:AnnotationType><com:AnnotationText xml:lang=\"en\">\(xmlEscaped(definition.aggregation))</com:AnnotationText></com:Annotation></com:Annotations>"
            + name(definition.name, "vi")
            + "<str:Structure><Ref id=\"\(dsd)\" version=\"\(version)\" agencyID=\"\(agency)\" package=\"datastructure\" class=\"DataStructure\"/></str:Structure>"
            + "</str:Dataflow></str:Dataflows>\n"
        let obs = ["A": "Normal value", "E": "Estimated value", "F": "Forecast value", "P": "Provisional value", "M": "Missing value"]
        let conf = ["F": "Free", "C": "Confidential", "N": "Not for publication", "D": "Secondary confidentiality"]
        xml += "<str:Codelists>"
            + codelist("CL_OBS_STATUS", "Observation status", obsStatus.values.sorted().map { Code(id: $0, name: obs[$0] ?? $0) }, language: "en")
            + codelist("CL_CONF_STATUS", "Confidentiality status", confStatus.values.sorted().map { Code(id: $0, name: conf[$0] ?? $0) }, language: "en")
        var listed: Set<String> = []
        for (dimension, list) in dimensionLists where listed.insert(list).inserted {
            let classification = definition.classifications[dimension] ?? ""
            let notApplicable = dimension == "area" ? [] : [Code(id: SDMXJSONMessage.notApplicable, name: "Not applicable")]
            xml += codelist(list, "Codes of \(classification)", notApplicable + (codes[classification] ?? []), language: "vi")
        }
        xml += "</str:Codelists>\n"
        xml += "<str:Concepts><str:ConceptScheme id=\"CS_MEKONG\" agencyID=\"\(agency)\" version=\"\(version)\" urn=\"urn:sdmx:org.sdmx.infomodel.conceptscheme.ConceptScheme=\(agency):CS_MEKONG(\(version))\">"
            + name("Concepts of the National Statistical Database")
            + concepts.map { "<str:Concept id=\"\($0.0)\" urn=\"urn:sdmx:org.sdmx.infomodel.conceptscheme.Concept=\(agency):CS_MEKONG(\(version)).\($0.0)\">\(name($0.1))</str:Concept>" }.joined()
            + "</str:ConceptScheme></str:Concepts>\n"
        xml += "<str:DataStructures><str:DataStructure id=\"\(dsd)\" agencyID=\"\(agency)\" version=\"\(version)\" urn=\"\(datastructure).DataStructure=\(agency):\(dsd)(\(version))\">"
            + name(definition.name, "vi") + "<str:DataStructureComponents><str:DimensionList id=\"DimensionDescriptor\">"
        for (index, dimension) in dimensions.enumerated() {
            xml += "<str:Dimension id=\"\(dimension)\" position=\"\(index + 1)\" urn=\"\(datastructure).Dimension=\(agency):\(dsd)(\(version)).\(dimension)\">"
                + concept(dimension) + "<str:LocalRepresentation>"
                + (enumerated[dimension].map(enumeration) ?? "<str:TextFormat textType=\"String\"/>") + "</str:LocalRepresentation></str:Dimension>"
        }
        xml += "<str:TimeDimension id=\"TIME_PERIOD\" position=\"\(dimensions.count + 1)\" urn=\"\(datastructure).TimeDimension=\(agency):\(dsd)(\(version)).TIME_PERIOD\">"
            + concept("TIME_PERIOD") + "<str:LocalRepresentation><str:TextFormat textType=\"ObservationalTimePeriod\"/></str:LocalRepresentation></str:TimeDimension>"
            + "</str:DimensionList><str:AttributeList id=\"AttributeDescriptor\">"
            + attribute("OBS_STATUS", "CL_OBS_STATUS") + attribute("CONF_STATUS", "CL_CONF_STATUS")
            + "</str:AttributeList><str:MeasureList id=\"MeasureDescriptor\">"
            + "<str:PrimaryMeasure id=\"OBS_VALUE\" urn=\"\(datastructure).PrimaryMeasure=\(agency):\(dsd)(\(version)).OBS_VALUE\">"
            + concept("OBS_VALUE") + "</str:PrimaryMeasure></str:MeasureList></str:DataStructureComponents></str:DataStructure></str:DataStructures>\n"
        xml += "</mes:Structures>\n</mes:Structure>\n"
        return xml
    }

    static func xmlEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
