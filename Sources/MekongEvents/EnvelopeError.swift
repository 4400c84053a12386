/// Why bytes or JSON were refused as a Mekong CloudEvent.
public struct EnvelopeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: String, Sendable {
        /// The bytes are not JSON.
        case invalidJSON
        /// The JSON is not an object.
        case notAnObject
        /// A required attribute is absent.
        case missingAttribute
        /// An attribute has the wrong JSON type.
        case wrongType
        /// An attribute has the right type but an unacceptable value.
        case invalidValue
        /// `specversion` is not "1.0".
        case unsupportedSpecVersion
        /// An attribute that is neither a CloudEvents 1.0 core attribute nor a Mekong extension.
        case unknownAttribute
        /// An attribute, or the whole event, is larger than its limit (``CloudEvent/Limits``).
        case tooLarge
    }

    public let code: Code
    /// The attribute concerned, if any.
    public let attribute: String?
    /// A complete sentence for operators, e.g. "missing attribute 'subject'".
    public let message: String

    public init(code: Code, attribute: String?, message: String) {
        self.code = code
        self.attribute = attribute
        self.message = message
    }

    public var description: String { message }

    static func missing(_ attribute: String) -> EnvelopeError {
        EnvelopeError(code: .missingAttribute, attribute: attribute, message: "missing attribute '\(attribute)'")
    }

    static func wrongType(_ attribute: String, expected: String, got value: JSONValue) -> EnvelopeError {
        EnvelopeError(
            code: .wrongType, attribute: attribute,
            message: "attribute '\(attribute)' must be \(expected), got \(value.typeName)")
    }

    static func invalid(_ attribute: String, _ message: String) -> EnvelopeError {
        EnvelopeError(code: .invalidValue, attribute: attribute, message: "attribute '\(attribute)' \(message)")
    }

    static func tooLarge(_ attribute: String, bytes: Int, limit: Int) -> EnvelopeError {
        EnvelopeError(
            code: .tooLarge, attribute: attribute,
            message: "attribute '\(attribute)' is \(bytes) bytes long, over the limit of \(limit) bytes (UTF-8)")
    }

    /// The longest value, in characters, quoted in full in a message; longer ones are cut with an ellipsis, so a
    /// message never echoes a huge value.
    static let quotedCharacters = 80

    /// `text` in single quotes, cut to ``quotedCharacters`` with "…" and its full length in bytes when longer.
    static func quoted(_ text: String) -> String {
        guard text.count > quotedCharacters else { return "'\(text)'" }
        return "'\(text.prefix(quotedCharacters))…' (\(text.utf8.count) bytes)"
    }
}
