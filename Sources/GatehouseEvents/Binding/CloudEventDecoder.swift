import Foundation
import GatehouseCore
import NIOHTTP1

/// Reads CloudEvents from an HTTP request (the CloudEvents HTTP protocol binding 1.0): binary mode
/// (`ce-` headers, the body is the data), structured mode (`application/cloudevents+json`) and
/// batched mode (`application/cloudevents-batch+json`, a JSON array).
///
/// Strict where the specification says MUST: `specversion` 1.0, non-empty `id`, `source` and
/// `type`, extension names of lower-case letters and digits. Bounded: at most `maxBatch` events.
public struct CloudEventDecoder: Sendable {
    /// Events in one batched request, default 100.
    public var maxBatch: Int
    /// Extension attributes on one event, default 64.
    public var maxExtensions: Int
    /// One attribute's value, default 4 KiB.
    public var maxAttributeBytes: Int

    public init(maxBatch: Int = 100, maxExtensions: Int = 64, maxAttributeBytes: Int = 4096) {
        self.maxBatch = maxBatch
        self.maxExtensions = maxExtensions
        self.maxAttributeBytes = maxAttributeBytes
    }

    public func decode(headers: HTTPHeaders, body: [UInt8]) -> Result<[CloudEvent], CloudEventFormatError> {
        let contentType = headers.first(name: "content-type").map(Self.mediaType) ?? ""
        do {
            if contentType == "application/cloudevents-batch+json" {
                return .success(try batch(body))
            }
            if contentType.hasPrefix("application/cloudevents") {
                guard contentType == "application/cloudevents+json" else {
                    throw CloudEventFormatError(reason: "unsupported_event_format", detail: "event format \(contentType) is not supported (only JSON)")
                }
                return .success([try structured(body)])
            }
            return .success([try binary(headers: headers, body: body)])
        } catch let error as CloudEventFormatError {
            return .failure(error)
        } catch {
            return .failure(CloudEventFormatError(reason: "invalid_event", detail: "\(error)"))
        }
    }

    // MARK: Binary mode

    private func binary(headers: HTTPHeaders, body: [UInt8]) throws -> CloudEvent {
        var attributes: [String: String] = [:]
        for (name, value) in headers {
            let lowered = name.lowercased()
            guard lowered.hasPrefix("ce-") else { continue }
            let attribute = String(lowered.dropFirst(3))
            guard attributes[attribute] == nil else {
                throw CloudEventFormatError(reason: "duplicate_attribute", detail: "the attribute \(attribute) is sent twice")
            }
            attributes[attribute] = Self.percentDecoded(value)
        }
        guard attributes["specversion"] != nil else { throw CloudEventFormatError.missing("specversion") }
        if let contentType = headers.first(name: "content-type") { attributes["datacontenttype"] = contentType }
        return try event(from: attributes, data: body.isEmpty ? nil : body)
    }

    // MARK: Structured and batched modes

    private func structured(_ body: [UInt8]) throws -> CloudEvent {
        guard let object = try? JSONDecoder().decode([String: JSONAttributeValue].self, from: Data(body)) else {
            throw CloudEventFormatError(reason: "invalid_json", detail: "the structured event is not a JSON object")
        }
        return try event(fromJSON: object, raw: body)
    }

    private func batch(_ body: [UInt8]) throws -> [CloudEvent] {
        guard let array = try? JSONDecoder().decode([JSONAttributeValue?].self, from: Data(body)) else {
            throw CloudEventFormatError(reason: "invalid_json", detail: "the batch is not a JSON array")
        }
        guard array.count <= maxBatch else {
            throw CloudEventFormatError(reason: "batch_too_large", detail: "the batch has \(array.count) events; at most \(maxBatch)")
        }
        // Each element's raw bytes, so its `data` stays as written.
        var rawElements: [[UInt8]] = []
        var index = 1
        while let start = body[index...].firstIndex(where: { ![0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ",")].contains($0) }),
            body[start] != UInt8(ascii: "]"), let end = JSONValueSpan.endOfValue(body, start)
        {
            rawElements.append(Array(body[start..<end]))
            index = end
        }
        guard rawElements.count == array.count else {
            throw CloudEventFormatError(reason: "invalid_json", detail: "the batch could not be split into events")
        }
        return try rawElements.map { raw in
            guard let object = try? JSONDecoder().decode([String: JSONAttributeValue].self, from: Data(raw)) else {
                throw CloudEventFormatError(reason: "invalid_json", detail: "a batch element is not a JSON object")
            }
            return try event(fromJSON: object, raw: raw)
        }
    }

    private func event(fromJSON object: [String: JSONAttributeValue], raw: [UInt8]) throws -> CloudEvent {
        var attributes: [String: String] = [:]
        for (name, value) in object where name != "data" && name != "data_base64" {
            switch value {
            case .string(let string): attributes[name] = string
            case .integer(let integer): attributes[name] = String(integer)
            case .boolean(let boolean): attributes[name] = boolean ? "true" : "false"
            case .null: continue  // absent, as the JSON format says
            case .other: throw CloudEventFormatError(reason: "invalid_attribute_type", detail: "attribute \(name) is not a string, integer or boolean")
            }
        }
        var data: [UInt8]?
        if object["data"] != nil, object["data_base64"] != nil {
            throw CloudEventFormatError(reason: "data_and_data_base64", detail: "the event has both data and data_base64")
        }
        if let encoded = object["data_base64"] {
            guard case .string(let string) = encoded, let decoded = Data(base64Encoded: string) else {
                throw CloudEventFormatError(reason: "invalid_data_base64", detail: "data_base64 is not base64")
            }
            data = [UInt8](decoded)
        } else if let value = object["data"], value != .null {
            let contentType = attributes["datacontenttype"].map(Self.mediaType)
            if case .string(let string) = value, let contentType, !Self.isJSON(contentType) {
                // Text data of a non-JSON type is the string itself.
                data = Array(string.utf8)
            } else {
                guard let span = JSONValueSpan.members(of: raw)?["data"] else {
                    throw CloudEventFormatError(reason: "invalid_json", detail: "the data member could not be read")
                }
                data = Array(span)
                if attributes["datacontenttype"] == nil { attributes["datacontenttype"] = "application/json" }
            }
        }
        return try event(from: attributes, data: data)
    }

    // MARK: Validation

    private func event(from attributes: [String: String], data: [UInt8]?) throws -> CloudEvent {
        guard let specVersion = attributes["specversion"] else { throw CloudEventFormatError.missing("specversion") }
        guard specVersion == "1.0" else {
            throw CloudEventFormatError(reason: "unsupported_specversion", detail: "specversion \(specVersion) is not supported (only 1.0)")
        }
        for required in ["id", "source", "type"] where (attributes[required] ?? "").isEmpty {
            throw CloudEventFormatError.missing(required)
        }
        var extensions: [String: String] = [:]
        for (name, value) in attributes where !CloudEvent.contextAttributeNames.contains(name) {
            guard Self.isValidName(name) else {
                throw CloudEventFormatError(reason: "invalid_attribute_name", detail: "attribute names are lower-case letters and digits")
            }
            extensions[name] = value
        }
        guard extensions.count <= maxExtensions else {
            throw CloudEventFormatError(reason: "too_many_attributes", detail: "the event has \(extensions.count) extensions; at most \(maxExtensions)")
        }
        for (name, value) in attributes where value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw CloudEventFormatError(reason: "invalid_attribute_value", detail: "attribute \(name) has control characters")
        }
        // Delivered as `ce-` headers: an attribute a header could not carry is refused here, not at delivery.
        for (name, value) in attributes where value.utf8.count > maxAttributeBytes {
            throw CloudEventFormatError(reason: "attribute_too_large", detail: "attribute \(name) has \(value.utf8.count) bytes; at most \(maxAttributeBytes)")
        }
        return CloudEvent(
            id: attributes["id"]!, source: attributes["source"]!, specVersion: specVersion, type: attributes["type"]!,
            dataContentType: attributes["datacontenttype"], dataSchema: attributes["dataschema"], subject: attributes["subject"],
            time: attributes["time"], extensions: extensions, data: data)
    }

    /// Lower-case ASCII letters and digits, 1–20 characters would be the SHOULD; Gatehouse takes up to 64.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    /// `type/subtype` in lower case, parameters dropped.
    static func mediaType(_ value: String) -> String {
        (value.split(separator: ";", maxSplits: 1).first.map(String.init) ?? value).trimmingCharacters(in: .whitespaces).lowercased()
    }

    static func isJSON(_ mediaType: String) -> Bool {
        mediaType == "application/json" || mediaType == "text/json" || mediaType.hasSuffix("+json")
    }

    /// The HTTP binding percent-encodes header values (space, `"`, `%` and non-ASCII); a value
    /// that is not valid percent-encoding is taken as written.
    static func percentDecoded(_ value: String) -> String {
        guard value.contains("%") else { return value }
        return value.removingPercentEncoding ?? value
    }
}
