import Foundation
import Logging

/// `gatehouse up --log-format json`: one JSON object per line on standard error, for log
/// collectors — `time` (RFC 3339, UTC, milliseconds), `level`, `message`, `logger`, and the
/// message's metadata as strings under `metadata`. Nothing secret is logged in either format.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields: [String: Any] = [
            "time": Self.timestamp(), "level": event.level.rawValue, "message": "\(event.message)", "logger": label,
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        if !merged.isEmpty { fields["metadata"] = merged.mapValues { "\($0)" } }
        guard var line = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        line.append(UInt8(ascii: "\n"))
        Self.output.withLock { FileHandle.standardError.write(line) }
    }

    /// One writer at a time: lines from several threads never interleave.
    private static let output = NSLock()

    private static func timestamp() -> String {
        Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }
}
