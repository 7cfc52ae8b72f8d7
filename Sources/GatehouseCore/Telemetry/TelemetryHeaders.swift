/// The request headers Telemetry expressions read (`request.headers['x']` in a filter or a tag
/// value), copied from the request when it begins: the record does not keep headers, and only the
/// names some expression in the snapshot reads are copied (none, usually: nothing is stored).
public struct TelemetryHeaders: RecordExtensionKey, Sendable {
    public typealias Value = TelemetryHeaders

    /// Lower-case names and the first value of each, in the order the snapshot lists the names.
    public var values: [(name: String, value: String)]

    public init(values: [(String, String)]) {
        self.values = values.map { (name: $0.0, value: $0.1) }
    }

    public func value(named name: String) -> String? {
        values.first { $0.name == name }?.value
    }
}
