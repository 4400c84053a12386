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
        "DF_" + replacing(".", with: "@", in: code)
    }

    /// The indicator code of a dataflow id, or nil if it is not one of ours.
    public static func indicator(dataflowID id: String) -> String? {
        guard id.hasPrefix("DF_"), id.count > 3 else { return nil }
        return replacing("@", with: ".", in: String(id.dropFirst(3)))
    }

    /// `VN_GSO:DF_RETAIL@SALES(1.0)`: the STRUCTURE_ID of SDMX-CSV 2.0.
    public static func dataflowReference(indicator code: String) -> String {
        "\(agency):\(dataflowID(indicator: code))(\(version))"
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
    /// `DSD_RETAIL@SALES`: the data structure of an indicator's dataflow.
    public static func dataStructureID(indicator code: String) -> String {
        "DSD_" + replacing(".", with: "@", in: code)
    }

    /// An SDMX-ML 2.1 structure message with everything an SDMX reader needs to read the indicator's data
    /// messages: its dataflow (unit and aggregation rule as annotations), the data structure (REF_AREA, the other
    /// dimensions upper-cased in the indicator's order, TIME_PERIOD; OBS_VALUE; OBS_STATUS and CONF_STATUS), the
    /// concept scheme `CS_MEKONG` the components name, and the code lists of the two attributes. The dimensions
    /// are text: their codes are those of the classifications the indicator declares (the read API's
    /// `/v1/classifications`). `prepared` is the message's RFC 3339 preparation time.
    public static func structureMessage(indicator code: String, definition: IndicatorSelection.Definition, prepared: String) -> String {
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
        func codelist(_ id: String, _ title: String, _ codes: [(String, String)]) -> String {
            let urn = "urn:sdmx:org.sdmx.infomodel.codelist.Codelist=\(agency):\(id)(\(version))"
            return "<str:Codelist id=\"\(id)\" agencyID=\"\(agency)\" version=\"\(version)\" urn=\"\(urn)\">\(name(title))"
                + codes.map { "<str:Code id=\"\($0.0)\" urn=\"urn:sdmx:org.sdmx.infomodel.codelist.Code=\(agency):\(id)(\(version)).\($0.0)\">\(name($0.1))</str:Code>" }.joined()
                + "</str:Codelist>"
        }
        func attribute(_ id: String, _ list: String) -> String {
            "<str:Attribute id=\"\(id)\" assignmentStatus=\"Mandatory\" urn=\"\(datastructure).DataAttribute=\(agency):\(dsd)(\(version)).\(id)\">\(concept(id))"
                + "<str:LocalRepresentation><str:Enumeration><Ref id=\"\(list)\" version=\"\(version)\" agencyID=\"\(agency)\" package=\"codelist\" class=\"Codelist\"/></str:Enumeration></str:LocalRepresentation>"
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
            + codelist("CL_OBS_STATUS", "Observation status", obsStatus.values.sorted().map { ($0, obs[$0] ?? $0) })
            + codelist("CL_CONF_STATUS", "Confidentiality status", confStatus.values.sorted().map { ($0, conf[$0] ?? $0) })
            + "</str:Codelists>\n"
        xml += "<str:Concepts><str:ConceptScheme id=\"CS_MEKONG\" agencyID=\"\(agency)\" version=\"\(version)\" urn=\"urn:sdmx:org.sdmx.infomodel.conceptscheme.ConceptScheme=\(agency):CS_MEKONG(\(version))\">"
            + name("Concepts of the National Statistical Database")
            + concepts.map { "<str:Concept id=\"\($0.0)\" urn=\"urn:sdmx:org.sdmx.infomodel.conceptscheme.Concept=\(agency):CS_MEKONG(\(version)).\($0.0)\">\(name($0.1))</str:Concept>" }.joined()
            + "</str:ConceptScheme></str:Concepts>\n"
        xml += "<str:DataStructures><str:DataStructure id=\"\(dsd)\" agencyID=\"\(agency)\" version=\"\(version)\" urn=\"\(datastructure).DataStructure=\(agency):\(dsd)(\(version))\">"
            + name(definition.name, "vi") + "<str:DataStructureComponents><str:DimensionList id=\"DimensionDescriptor\">"
        for (index, dimension) in dimensions.enumerated() {
            xml += "<str:Dimension id=\"\(dimension)\" position=\"\(index + 1)\" urn=\"\(datastructure).Dimension=\(agency):\(dsd)(\(version)).\(dimension)\">"
                + concept(dimension) + "<str:LocalRepresentation><str:TextFormat textType=\"String\"/></str:LocalRepresentation></str:Dimension>"
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
