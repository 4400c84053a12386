import MekongEvents

/// An indicator's dataflow with everything an SDMX reader needs to read its data messages, in the two structure
/// formats the read API serves: an SDMX-ML 2.1 structure message (``xml(prepared:)``) and an SDMX-JSON 2.0 one
/// (``json(prepared:)``), both written from this one description so that they cannot disagree
/// (docs/read-api.md, "Structure").
///
/// It holds the dataflow (unit and aggregation rule as annotations `UNIT` and `AGGREGATION`), its data structure
/// (REF_AREA, the other dimensions upper-cased in the indicator's order, TIME_PERIOD; OBS_VALUE; OBS_STATUS and
/// CONF_STATUS, the SDMX-CSV columns), the concept scheme `CS_MEKONG` its components name, and the code lists: the
/// two attributes', and each dimension's classification's (``SDMX/codes(of:knownAt:on:)``). A classification
/// without codes, with a code that is no SDMX id (say one with a `.`) or whose code list id would not be an
/// SDMX 3.0 id leaves its dimension text. A code's parent is named only when it is in the list. The lists of
/// dimensions other than REF_AREA also hold `_Z`, "not applicable", the code of a row that lacks the dimension in
/// SDMX-JSON data messages.
public struct SDMXStructure: Sendable {
    /// A code list of the message; `language` is the language of its codes' `name`s.
    struct Codelist: Sendable {
        var id: String
        var name: String
        var codes: [SDMX.Code]
        var language: String
    }

    /// A dimension besides TIME_PERIOD: its id, its concept's name, the code list that enumerates it (nil: text).
    struct Dimension: Sendable {
        var id: String
        var conceptName: String
        var codelist: String?
    }

    let indicator: String
    let definition: IndicatorSelection.Definition
    let dimensions: [Dimension]
    let codelists: [Codelist]

    static let attributes = [("OBS_STATUS", "CL_OBS_STATUS"), ("CONF_STATUS", "CL_CONF_STATUS")]
    static let conceptScheme = "CS_MEKONG"

    public init(indicator code: String, definition: IndicatorSelection.Definition, codes: [String: [SDMX.Code]]) {
        self.indicator = code
        self.definition = definition
        var dimensions: [Dimension] = []
        let obs = ["A": "Normal value", "E": "Estimated value", "F": "Forecast value", "P": "Provisional value", "M": "Missing value"]
        let conf = ["F": "Free", "C": "Confidential", "N": "Not for publication", "D": "Secondary confidentiality"]
        var codelists = [
            Codelist(id: "CL_OBS_STATUS", name: "Observation status",
                     codes: SDMX.obsStatus.values.sorted().map { SDMX.Code(id: $0, name: obs[$0] ?? $0) }, language: "en"),
            Codelist(id: "CL_CONF_STATUS", name: "Confidentiality status",
                     codes: SDMX.confStatus.values.sorted().map { SDMX.Code(id: $0, name: conf[$0] ?? $0) }, language: "en"),
        ]
        for dimension in ["area"] + definition.dimensions {
            let id = dimension == "area" ? "REF_AREA" : dimension.uppercased()
            var list: String?
            if let classification = definition.classifications[dimension], let listed = codes[classification], !listed.isEmpty,
               listed.allSatisfy({ SDMX.isID($0.id) }), SDMX.isNCName(SDMX.codelistID(classification: classification))
            {
                let listID = SDMX.codelistID(classification: classification)
                list = listID
                if !codelists.contains(where: { $0.id == listID }) {
                    let notApplicable = dimension == "area" ? [] : [SDMX.Code(id: SDMXJSONMessage.notApplicable, name: "Not applicable")]
                    codelists.append(Codelist(id: listID, name: "Codes of \(classification)", codes: notApplicable + listed, language: "vi"))
                }
            }
            dimensions.append(Dimension(id: id, conceptName: dimension == "area" ? "Reference area" : dimension, codelist: list))
        }
        self.dimensions = dimensions
        self.codelists = codelists
    }

    var flow: String { SDMX.dataflowID(indicator: indicator) }
    var dsd: String { SDMX.dataStructureID(indicator: indicator) }
    var concepts: [(id: String, name: String)] {
        dimensions.map { ($0.id, $0.conceptName) }
            + [("TIME_PERIOD", "Time period"), ("OBS_VALUE", "Observation value"), ("OBS_STATUS", "Observation status"),
               ("CONF_STATUS", "Confidentiality status")]
    }

    // MARK: URNs

    static let datastructurePackage = "urn:sdmx:org.sdmx.infomodel.datastructure"
    static func maintainable(_ id: String) -> String { "\(SDMX.agency):\(id)(\(SDMX.version))" }
    static func codelistURN(_ id: String) -> String { "urn:sdmx:org.sdmx.infomodel.codelist.Codelist=\(maintainable(id))" }
    static func conceptURN(_ id: String) -> String {
        "urn:sdmx:org.sdmx.infomodel.conceptscheme.Concept=\(maintainable(conceptScheme)).\(id)"
    }
    var dataStructureURN: String { "\(Self.datastructurePackage).DataStructure=\(Self.maintainable(dsd))" }

    // MARK: SDMX-JSON 2.0

    /// The SDMX-JSON 2.0 structure schema this message follows.
    public static let jsonSchema = "https://raw.githubusercontent.com/sdmx-twg/sdmx-json/master/structure-message/tools/schemas/2.0.0/sdmx-json-structure-schema.json"

    /// The SDMX-JSON 2.0 structure message; `prepared` is its RFC 3339 preparation time. Component positions count
    /// from 0, as the data messages' `keyPosition` does.
    public func json(prepared: String) -> String {
        func names(_ name: String, _ language: String, english: String? = nil) -> JSONObject {
            var names: JSONObject = [language: .string(name)]
            if let english { names["en"] = .string(english) }
            return ["name": .string(name), "names": .object(names)]
        }
        func maintainable(_ id: String, _ name: String, _ language: String) -> JSONObject {
            var object: JSONObject = ["id": .string(id), "agencyID": .string(SDMX.agency), "version": .string(SDMX.version)]
            for (key, value) in names(name, language) { object[key] = value }
            return object
        }
        func annotation(_ type: String, _ text: String, _ language: String) -> JSONValue {
            .object(["type": .string(type), "text": .string(text), "texts": .object([language: .string(text)])])
        }
        func representation(_ codelist: String?) -> JSONValue {
            codelist.map { .object(["enumeration": .string(Self.codelistURN($0))]) } ?? .object(["format": .object(["dataType": "String"])])
        }

        var dataflow = maintainable(flow, definition.name, "vi")
        dataflow["annotations"] = .array([annotation("UNIT", definition.unit, "vi"), annotation("AGGREGATION", definition.aggregation, "en")])
        dataflow["structure"] = .string(dataStructureURN)

        let dimensionList: JSONValue = .object([
            "id": "DimensionDescriptor",
            "dimensions": .array(dimensions.enumerated().map { position, dimension in
                .object(["id": .string(dimension.id), "position": .number(Double(position)),
                         "conceptIdentity": .string(Self.conceptURN(dimension.id)), "localRepresentation": representation(dimension.codelist)])
            }),
            "timeDimension": .object(["id": "TIME_PERIOD", "conceptIdentity": .string(Self.conceptURN("TIME_PERIOD")),
                                      "localRepresentation": .object(["format": .object(["dataType": "ObservationalTimePeriod"])])]),
        ])
        let attributeList: JSONValue = .object([
            "id": "AttributeDescriptor",
            "attributes": .array(Self.attributes.map { id, list in
                .object(["id": .string(id), "usage": "mandatory", "attributeRelationship": .object(["observation": .object([:])]),
                         "conceptIdentity": .string(Self.conceptURN(id)), "localRepresentation": representation(list)])
            }),
        ])
        let measureList: JSONValue = .object([
            "id": "MeasureDescriptor",
            "measures": .array([.object(["id": "OBS_VALUE", "conceptIdentity": .string(Self.conceptURN("OBS_VALUE"))])]),
        ])
        var dataStructure = maintainable(dsd, definition.name, "vi")
        dataStructure["dataStructureComponents"] = .object([
            "attributeList": attributeList, "dimensionList": dimensionList, "measureList": measureList,
        ])

        let lists: [JSONValue] = codelists.map { list in
            let ids = Set(list.codes.map(\.id))
            var object = maintainable(list.id, list.name, "en")
            object["codes"] = .array(list.codes.map { code in
                var entry: JSONObject = ["id": .string(code.id)]
                for (key, value) in names(code.name, list.language, english: code.nameEn) { entry[key] = value }
                if let parent = code.parent, parent != code.id, ids.contains(parent) { entry["parent"] = .string(parent) }
                return .object(entry)
            })
            return .object(object)
        }
        var scheme = maintainable(Self.conceptScheme, "Concepts of the National Statistical Database", "en")
        scheme["concepts"] = .array(concepts.map { concept in
            var entry: JSONObject = ["id": .string(concept.id)]
            for (key, value) in names(concept.name, "en") { entry[key] = value }
            return .object(entry)
        })
        let message: JSONValue = .object([
            "meta": .object([
                "schema": .string(Self.jsonSchema), "id": .string(flow), "test": .bool(false), "prepared": .string(prepared),
                "contentLanguages": .array(["vi", "en"]), "sender": .object(["id": .string(SDMX.agency)]),
            ]),
            "data": .object([
                "dataflows": .array([.object(dataflow)]), "dataStructures": .array([.object(dataStructure)]),
                "codelists": .array(lists), "conceptSchemes": .array([.object(scheme)]),
            ]),
        ])
        return JSON.serialize(message) + "\n"
    }

    // MARK: SDMX-ML 2.1

    /// The SDMX-ML 2.1 structure message; `prepared` is its RFC 3339 preparation time. Component positions count
    /// from 1, as SDMX-ML 2.1 does.
    public func xml(prepared: String) -> String {
        let agency = SDMX.agency
        let version = SDMX.version
        let package = Self.datastructurePackage
        let escaped = SDMX.xmlEscaped
        func concept(_ id: String) -> String {
            "<str:ConceptIdentity><Ref id=\"\(id)\" maintainableParentID=\"\(Self.conceptScheme)\" maintainableParentVersion=\"\(version)\" agencyID=\"\(agency)\" package=\"conceptscheme\" class=\"Concept\"/></str:ConceptIdentity>"
        }
        func name(_ text: String, _ language: String = "en") -> String {
            "<com:Name xml:lang=\"\(language)\">\(escaped(text))</com:Name>"
        }
        func enumeration(_ list: String) -> String {
            "<str:Enumeration><Ref id=\"\(escaped(list))\" version=\"\(version)\" agencyID=\"\(agency)\" package=\"codelist\" class=\"Codelist\"/></str:Enumeration>"
        }
        func codelist(_ list: Codelist) -> String {
            let ids = Set(list.codes.map(\.id))
            var xml = "<str:Codelist id=\"\(list.id)\" agencyID=\"\(agency)\" version=\"\(version)\" urn=\"\(Self.codelistURN(list.id))\">\(name(list.name))"
            for code in list.codes {
                let codeID = escaped(code.id)
                xml += "<str:Code id=\"\(codeID)\" urn=\"urn:sdmx:org.sdmx.infomodel.codelist.Code=\(Self.maintainable(list.id)).\(codeID)\">"
                    + name(code.name, list.language) + (code.nameEn.map { name($0) } ?? "")
                if let parent = code.parent, parent != code.id, ids.contains(parent) {
                    xml += "<str:Parent><Ref id=\"\(escaped(parent))\"/></str:Parent>"
                }
                xml += "</str:Code>"
            }
            return xml + "</str:Codelist>"
        }
        func attribute(_ id: String, _ list: String) -> String {
            "<str:Attribute id=\"\(id)\" assignmentStatus=\"Mandatory\" urn=\"\(package).DataAttribute=\(Self.maintainable(dsd)).\(id)\">\(concept(id))"
                + "<str:LocalRepresentation>\(enumeration(list))</str:LocalRepresentation>"
                + "<str:AttributeRelationship><str:PrimaryMeasure><Ref id=\"OBS_VALUE\"/></str:PrimaryMeasure></str:AttributeRelationship></str:Attribute>"
        }
        var xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <mes:Structure xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message" \
            xmlns:str="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure" \
            xmlns:com="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common">
            <mes:Header><mes:ID>\(flow)</mes:ID><mes:Test>false</mes:Test><mes:Prepared>\(prepared)</mes:Prepared>\
            <mes:Sender id="\(agency)"/></mes:Header>
            <mes:Structures>

            """
        xml += "<str:Dataflows><str:Dataflow id=\"\(flow)\" agencyID=\"\(agency)\" version=\"\(version)\" urn=\"\(package).Dataflow=\(Self.maintainable(flow))\">"
            + "<com:Annotations><com:Annotation><com:AnnotationType>UNIT</com:AnnotationType><com:AnnotationText xml:lang=\"vi\">\(escaped(definition.unit))</com:AnnotationText></com:Annotation>"
            + "<com:Annotation><com:AnnotationType>AGGREGATION</com:AnnotationType><com:AnnotationText xml:lang=\"en\">\(escaped(definition.aggregation))</com:AnnotationText></com:Annotation></com:Annotations>"
            + name(definition.name, "vi")
            + "<str:Structure><Ref id=\"\(dsd)\" version=\"\(version)\" agencyID=\"\(agency)\" package=\"datastructure\" class=\"DataStructure\"/></str:Structure>"
            + "</str:Dataflow></str:Dataflows>\n"
        xml += "<str:Codelists>" + codelists.map(codelist).joined() + "</str:Codelists>\n"
        xml += "<str:Concepts><str:ConceptScheme id=\"\(Self.conceptScheme)\" agencyID=\"\(agency)\" version=\"\(version)\" urn=\"urn:sdmx:org.sdmx.infomodel.conceptscheme.ConceptScheme=\(Self.maintainable(Self.conceptScheme))\">"
            + name("Concepts of the National Statistical Database")
            + concepts.map { "<str:Concept id=\"\($0.id)\" urn=\"\(Self.conceptURN($0.id))\">\(name($0.name))</str:Concept>" }.joined()
            + "</str:ConceptScheme></str:Concepts>\n"
        xml += "<str:DataStructures><str:DataStructure id=\"\(dsd)\" agencyID=\"\(agency)\" version=\"\(version)\" urn=\"\(dataStructureURN)\">"
            + name(definition.name, "vi") + "<str:DataStructureComponents><str:DimensionList id=\"DimensionDescriptor\">"
        for (index, dimension) in dimensions.enumerated() {
            xml += "<str:Dimension id=\"\(dimension.id)\" position=\"\(index + 1)\" urn=\"\(package).Dimension=\(Self.maintainable(dsd)).\(dimension.id)\">"
                + concept(dimension.id) + "<str:LocalRepresentation>"
                + (dimension.codelist.map(enumeration) ?? "<str:TextFormat textType=\"String\"/>") + "</str:LocalRepresentation></str:Dimension>"
        }
        xml += "<str:TimeDimension id=\"TIME_PERIOD\" position=\"\(dimensions.count + 1)\" urn=\"\(package).TimeDimension=\(Self.maintainable(dsd)).TIME_PERIOD\">"
            + concept("TIME_PERIOD") + "<str:LocalRepresentation><str:TextFormat textType=\"ObservationalTimePeriod\"/></str:LocalRepresentation></str:TimeDimension>"
            + "</str:DimensionList><str:AttributeList id=\"AttributeDescriptor\">"
            + Self.attributes.map { attribute($0.0, $0.1) }.joined()
            + "</str:AttributeList><str:MeasureList id=\"MeasureDescriptor\">"
            + "<str:PrimaryMeasure id=\"OBS_VALUE\" urn=\"\(package).PrimaryMeasure=\(Self.maintainable(dsd)).OBS_VALUE\">"
            + concept("OBS_VALUE") + "</str:PrimaryMeasure></str:MeasureList></str:DataStructureComponents></str:DataStructure></str:DataStructures>\n"
        xml += "</mes:Structures>\n</mes:Structure>\n"
        return xml
    }
}
