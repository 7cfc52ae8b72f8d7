import Foundation
import GatehouseCore
import GRDB

/// How the event store's values become column values and back. Decoding never traps: a damaged
/// or hostile row throws `StoredBlobReader.Unreadable`, and the caller skips and reports it.
enum EventRowCoding {
    /// Layout version of every blob this file writes.
    static let version: UInt8 = 1

    // MARK: CloudEvent

    /// Attributes in a fixed order, extensions sorted by name, then the data (absent ≠ empty).
    static func encode(_ event: CloudEvent) -> Data {
        var writer = StoredBlobWriter(version: version)
        writer.string(event.id)
        writer.string(event.source)
        writer.string(event.specVersion)
        writer.string(event.type)
        writer.optional(event.dataContentType)
        writer.optional(event.dataSchema)
        writer.optional(event.subject)
        writer.optional(event.time)
        writer.count(event.extensions.count)
        for (name, value) in event.extensions.sorted(by: { $0.key < $1.key }) {
            writer.string(name)
            writer.string(value)
        }
        writer.optional(event.data)
        return writer.data
    }

    static func event(_ data: Data) throws(StoredBlobReader.Unreadable) -> CloudEvent {
        var reader = try StoredBlobReader(data, version: version, what: "stored event")
        var event = CloudEvent(id: try reader.string(), source: try reader.string(), specVersion: try reader.string(), type: try reader.string())
        event.dataContentType = try reader.optionalString()
        event.dataSchema = try reader.optionalString()
        event.subject = try reader.optionalString()
        event.time = try reader.optionalString()
        let count = try reader.count()
        for _ in 0..<count {
            let name = try reader.string()
            event.extensions[name] = try reader.string()
        }
        event.data = try reader.optionalBytes()
        try reader.end()
        return event
    }

    // MARK: Async calls

    /// Everything but `acceptedAt` (a column).
    static func encode(_ call: AsyncCall) -> Data {
        var writer = StoredBlobWriter(version: version)
        writer.string(call.id)
        writer.string(call.method)
        writer.string(call.host)
        writer.string(call.path)
        encode(call.headers, into: &writer)
        writer.bytes(call.body)
        writer.optional(call.callback)
        writer.optional(call.sourcePrincipal)
        return writer.data
    }

    static func call(_ data: Data, acceptedAt: Date) throws(StoredBlobReader.Unreadable) -> AsyncCall {
        var reader = try StoredBlobReader(data, version: version, what: "stored call")
        let call = AsyncCall(
            id: try reader.string(), method: try reader.string(), host: try reader.string(), path: try reader.string(),
            headers: try headers(&reader), body: try reader.bytes(), callback: try reader.optionalString(),
            sourcePrincipal: try reader.optionalString(), acceptedAt: acceptedAt)
        try reader.end()
        return call
    }

    static func encode(_ result: AsyncCallResult) -> Data {
        var writer = StoredBlobWriter(version: version)
        writer.unsigned(UInt64(clamping: max(0, result.status)))
        writer.unsigned(result.completedAt.timeIntervalSince1970.bitPattern)
        encode(result.headers, into: &writer)
        writer.bytes(result.body)
        return writer.data
    }

    static func result(_ data: Data) throws(StoredBlobReader.Unreadable) -> AsyncCallResult {
        var reader = try StoredBlobReader(data, version: version, what: "stored result")
        let status = try reader.unsigned()
        guard status <= 999 else { throw StoredBlobReader.Unreadable(description: "status \(status)") }
        let completedAt = Date(timeIntervalSince1970: Double(bitPattern: try reader.unsigned()))
        let result = AsyncCallResult(status: Int(status), headers: try headers(&reader), body: try reader.bytes(), completedAt: completedAt)
        try reader.end()
        return result
    }

    private static func encode(_ headers: [AsyncCall.Header], into writer: inout StoredBlobWriter) {
        writer.count(headers.count)
        for header in headers {
            writer.string(header.name)
            writer.string(header.value)
        }
    }

    private static func headers(_ reader: inout StoredBlobReader) throws(StoredBlobReader.Unreadable) -> [AsyncCall.Header] {
        let count = try reader.count()
        var headers: [AsyncCall.Header] = []
        for _ in 0..<count { headers.append(AsyncCall.Header(name: try reader.string(), value: try reader.string())) }
        return headers
    }

    // MARK: References and times

    /// `namespace/name`: Kubernetes names cannot hold a `/`, so the first one splits them.
    static func trigger(_ text: String) throws(StoredBlobReader.Unreadable) -> TriggerRef {
        let (namespace, name) = try reference(text)
        return TriggerRef(namespace: namespace, name: name)
    }

    static func broker(_ text: String) throws(StoredBlobReader.Unreadable) -> BrokerRef {
        let (namespace, name) = try reference(text)
        return BrokerRef(namespace: namespace, name: name)
    }

    private static func reference(_ text: String) throws(StoredBlobReader.Unreadable) -> (String, String) {
        guard let slash = text.firstIndex(of: "/"), slash != text.startIndex, text.index(after: slash) != text.endIndex else {
            throw StoredBlobReader.Unreadable(description: "reference \"\(text.prefix(100))\" is not namespace/name")
        }
        return (String(text[..<slash]), String(text[text.index(after: slash)...]))
    }

    /// Seconds since 1970, as every other Gatehouse table stores time.
    static func seconds(_ date: Date) -> Double { date.timeIntervalSince1970 }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

extension Row {
    /// A column's value without GRDB's trap on a NULL or a value of another type: a hostile or
    /// damaged row throws, and only that row is skipped.
    func checked<Value: DatabaseValueConvertible>(_ name: String, as type: Value.Type = Value.self) throws(StoredBlobReader.Unreadable) -> Value {
        do {
            return try decode(Value.self, forColumn: name)
        } catch {
            throw StoredBlobReader.Unreadable(description: "column \(name): \(error)")
        }
    }
}
