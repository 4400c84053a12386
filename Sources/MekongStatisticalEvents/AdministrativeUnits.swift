import Foundation

/// Vietnam's administrative units from the GSO code lists in `data/vn-admin-units/` (see its README for the source
/// and attribution), as items of the `vn-admin-units` classification.
///
/// Mekong adds one root item, `VN` (Việt Nam, level 1), so that the national total is an area like any other:
/// 2024 has provinces at level 2, districts at 3 and communes at 4; 2025 has provinces at 2 and communes at 3.
public enum AdministrativeUnits {
    public static let classification = "vn-admin-units"
    public static let root = StatisticalEvents.Item(code: "VN", parent: nil, level: 1, nameVi: "Việt Nam", nameEn: "Viet Nam")

    /// The 2024 three-level structure (units-2024.csv). Island districts without communes have empty commune
    /// columns and are kept as districts.
    public static func units2024(csv: String, file: String = "units-2024.csv") throws(MasterDataFileError) -> [StatisticalEvents.Item] {
        var items = [root]
        var seen: Set<String> = ["VN"]
        for (line, fields) in try rows(csv, file: file, header: [
            "province_code", "province_name", "district_code", "district_name", "commune_code", "commune_name", "commune_type",
        ]) {
            let levels = [(fields[0], "VN", 2, fields[1]), (fields[2], fields[0], 3, fields[3]), (fields[4], fields[2], 4, fields[5])]
            for (code, parent, level, name) in levels where !code.isEmpty {
                if seen.insert(code).inserted {
                    items.append(.init(code: code, parent: parent, level: level, nameVi: name))
                } else if level == 4 {
                    throw MasterDataFileError(file: file, line: line, message: "commune code \(code) appears twice")
                }
            }
            if fields[0].isEmpty || fields[2].isEmpty {
                throw MasterDataFileError(file: file, line: line, message: "province_code and district_code are required")
            }
        }
        return items
    }

    /// The 2025 two-level structure (units-2025.csv).
    public static func units2025(csv: String, file: String = "units-2025.csv") throws(MasterDataFileError) -> [StatisticalEvents.Item] {
        var items = [root]
        var seen: Set<String> = ["VN"]
        for (line, fields) in try rows(csv, file: file, header: [
            "province_code", "province_name", "commune_code", "commune_name", "commune_type",
        ]) {
            guard !fields[0].isEmpty, !fields[2].isEmpty else {
                throw MasterDataFileError(file: file, line: line, message: "province_code and commune_code are required")
            }
            if seen.insert(fields[0]).inserted {
                items.append(.init(code: fields[0], parent: "VN", level: 2, nameVi: fields[1]))
            }
            guard seen.insert(fields[2]).inserted else {
                throw MasterDataFileError(file: file, line: line, message: "commune code \(fields[2]) appears twice")
            }
            items.append(.init(code: fields[2], parent: fields[0], level: 3, nameVi: fields[3]))
        }
        return items
    }

    /// Which 2024 province became (wholly) part of which 2025 province (provinces-2024-to-2025.csv), plus VN → VN.
    public static func provinceCorrespondence(csv: String, file: String = "provinces-2024-to-2025.csv")
        throws(MasterDataFileError) -> [(source: String, target: String, relation: StatisticalEvents.Relation)]
    {
        var mappings: [(source: String, target: String, relation: StatisticalEvents.Relation)] = [("VN", "VN", .whole)]
        for (line, fields) in try rows(csv, file: file, header: [
            "province_code_2024", "province_name_2024", "province_code_2025", "province_name_2025",
        ]) {
            guard !fields[0].isEmpty, !fields[2].isEmpty else {
                throw MasterDataFileError(file: file, line: line, message: "both province codes are required")
            }
            mappings.append((fields[0], fields[2], .whole))
        }
        return mappings
    }

    /// The data rows with their line numbers; the files have no quoting, so a quote or a wrong field count is an
    /// error that names the line.
    private static func rows(_ csv: String, file: String, header: [String]) throws(MasterDataFileError) -> [(Int, [String])] {
        var result: [(Int, [String])] = []
        // "\r\n" is one Character in Swift, and a newline.
        for (index, line) in csv.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            if line.isEmpty { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            if index == 0 {
                guard fields == header else {
                    throw MasterDataFileError(file: file, line: 1, message: "header must be \(header.joined(separator: ","))")
                }
                continue
            }
            guard !line.contains("\"") else {
                throw MasterDataFileError(file: file, line: index + 1, message: "quoted fields are not expected")
            }
            guard fields.count == header.count else {
                throw MasterDataFileError(
                    file: file, line: index + 1, message: "\(fields.count) fields, expected \(header.count)")
            }
            result.append((index + 1, fields))
        }
        return result
    }
}

/// A master-data file that cannot be read, with the line at fault.
public struct MasterDataFileError: Error, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let message: String

    public var description: String { "\(file) line \(line): \(message)" }
}
