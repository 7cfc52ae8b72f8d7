import Foundation
import GatehouseCore
import NIOHTTP1

extension CloudEvent {
    /// The headers of the event in binary mode (how Knative's broker delivers): `ce-` attributes,
    /// `content-type` from `datacontenttype`. Values are percent-encoded as the binding requires.
    public var binaryModeHeaders: [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [
            ("ce-specversion", specVersion), ("ce-id", Self.encoded(id)), ("ce-source", Self.encoded(source)), ("ce-type", Self.encoded(type)),
        ]
        if let subject { headers.append(("ce-subject", Self.encoded(subject))) }
        if let time { headers.append(("ce-time", Self.encoded(time))) }
        if let dataSchema { headers.append(("ce-dataschema", Self.encoded(dataSchema))) }
        for name in extensions.keys.sorted() { headers.append(("ce-" + name, Self.encoded(extensions[name]!))) }
        if let dataContentType { headers.append(("content-type", dataContentType)) }
        return headers
    }

    /// Whether a response is a CloudEvent (a reply to put back into the broker): binary mode says
    /// `ce-specversion`; structured mode says so in its content type.
    public static func isEvent(headers: HTTPHeaders) -> Bool {
        headers.contains(name: "ce-specversion")
            || CloudEventDecoder.mediaType(headers.first(name: "content-type") ?? "").hasPrefix("application/cloudevents")
    }

    /// Percent-encodes what the HTTP binding says must be: space, `"`, `%`, and anything outside
    /// printable ASCII.
    static func encoded(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "%") }) else { return value }
        var out = ""
        for byte in value.utf8 {
            if byte <= 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "%") {
                out += String(format: "%%%02X", byte)
            } else {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return out
    }
}
