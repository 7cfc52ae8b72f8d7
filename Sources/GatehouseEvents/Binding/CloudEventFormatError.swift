/// Why a request's body and headers are not a CloudEvent Gatehouse accepts: said to the publisher
/// in a 400 (the `reason` names the attribute), never anything from its values.
public struct CloudEventFormatError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A fixed identifier, safe to put in a response body as is.
    public var reason: String
    /// For the access log.
    public var detail: String

    public init(reason: String, detail: String) {
        self.reason = reason
        self.detail = detail
    }

    public var description: String { detail }

    static func missing(_ attribute: String) -> Self {
        Self(reason: "missing_attribute_\(attribute)", detail: "the event has no `\(attribute)` attribute (required by CloudEvents 1.0)")
    }
}
