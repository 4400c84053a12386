import Foundation

/// Password handling for connection strings, so that no password ever reaches an error message or a log.
///
/// Understands both forms libpq accepts: URLs (`postgresql://user:password@host/db?password=…`) and
/// keyword/value strings (`host=… password='…'`).
public enum ConnectionString {
    /// The connection string with every password replaced by `***`
    /// (`postgresql://user:***@host/db`, `host=h password=***`).
    public static func redacted(_ conninfo: String) -> String {
        var text = conninfo
        for range in passwordRanges(in: conninfo).reversed() {
            text.replaceSubrange(range, with: "***")
        }
        return text
    }

    /// The raw password texts as they appear in the connection string (possibly still percent-encoded or
    /// quoted), so that they can be scrubbed from messages libpq produced while parsing it.
    static func rawPasswords(in conninfo: String) -> [String] {
        passwordRanges(in: conninfo).map { String(conninfo[$0]) }.filter { !$0.isEmpty }
    }

    /// `message` with every occurrence of each non-empty secret replaced by `***`.
    static func scrub(_ message: String, secrets: [String]) -> String {
        var text = message
        for secret in Set(secrets) where !secret.isEmpty {
            text = text.replacingAll(secret, with: "***")
        }
        return text
    }

    static func isURL(_ conninfo: String) -> Bool {
        conninfo.hasPrefix("postgresql://") || conninfo.hasPrefix("postgres://")
    }

    // MARK: - Locating passwords

    private static func passwordRanges(in conninfo: String) -> [Range<String.Index>] {
        isURL(conninfo) ? urlPasswordRanges(conninfo) : keywordPasswordRanges(conninfo)
    }

    /// libpq's URL grammar: `scheme://[user[:password]@][netloc][/dbname][?param=value&…]`, where the
    /// user-info part ends at the first `@` that comes before any `/`.
    private static func urlPasswordRanges(_ url: String) -> [Range<String.Index>] {
        var ranges: [Range<String.Index>] = []
        guard let schemeEnd = url.range(of: "://")?.upperBound else { return ranges }
        let rest = url[schemeEnd...]
        if let at = rest.firstIndex(where: { $0 == "@" || $0 == "/" }), rest[at] == "@",
            let colon = rest[..<at].firstIndex(of: ":")
        {
            ranges.append(rest.index(after: colon)..<at)
        }
        if let question = rest.firstIndex(of: "?") {
            var start = rest.index(after: question)
            while start < rest.endIndex {
                let end = rest[start...].firstIndex(of: "&") ?? rest.endIndex
                let pair = rest[start..<end]
                if let equals = pair.firstIndex(of: "="),
                    pair[..<equals].removingPercentEncodingOrSelf().lowercased() == "password"
                {
                    ranges.append(pair.index(after: equals)..<end)
                }
                start = end < rest.endIndex ? rest.index(after: end) : end
            }
        }
        return ranges
    }

    /// libpq's keyword/value grammar: `keyword = value` pairs separated by whitespace; a value is either
    /// single-quoted (with `\'` and `\\` escapes) or runs to the next whitespace.
    private static func keywordPasswordRanges(_ conninfo: String) -> [Range<String.Index>] {
        var ranges: [Range<String.Index>] = []
        var index = conninfo.startIndex
        func skipSpaces() {
            while index < conninfo.endIndex, conninfo[index].isWhitespace { index = conninfo.index(after: index) }
        }
        while true {
            skipSpaces()
            guard index < conninfo.endIndex else { break }
            let keyStart = index
            while index < conninfo.endIndex, conninfo[index] != "=", !conninfo[index].isWhitespace {
                index = conninfo.index(after: index)
            }
            let key = conninfo[keyStart..<index]
            skipSpaces()
            guard index < conninfo.endIndex, conninfo[index] == "=" else { break }
            index = conninfo.index(after: index)
            skipSpaces()
            let valueStart = index
            if index < conninfo.endIndex, conninfo[index] == "'" {
                index = conninfo.index(after: index)
                while index < conninfo.endIndex, conninfo[index] != "'" {
                    if conninfo[index] == "\\" { index = conninfo.index(after: index) }
                    if index < conninfo.endIndex { index = conninfo.index(after: index) }
                }
                if index < conninfo.endIndex { index = conninfo.index(after: index) }
            } else {
                while index < conninfo.endIndex, !conninfo[index].isWhitespace {
                    if conninfo[index] == "\\" { index = conninfo.index(after: index) }
                    if index < conninfo.endIndex { index = conninfo.index(after: index) }
                }
            }
            if key == "password" { ranges.append(valueStart..<index) }
        }
        return ranges
    }
}

extension StringProtocol {
    fileprivate func removingPercentEncodingOrSelf() -> String {
        String(self).removingPercentEncoding ?? String(self)
    }
}

extension String {
    fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
        var result = ""
        var rest = self[...]
        while let found = rest.range(of: target) {
            result += rest[..<found.lowerBound]
            result += replacement
            rest = rest[found.upperBound...]
        }
        result += rest
        return result
    }
}
