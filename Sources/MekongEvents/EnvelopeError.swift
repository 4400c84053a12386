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
}
