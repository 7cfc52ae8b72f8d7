import Foundation
import Logging

/// `gatehouse up` (`--log-format text`, the default): one line per event on standard error, for a
/// person at a terminal —
///
///     04:05:16 notice  configuration changed  actor=root changes=function default/hello configured
///
/// local time to the second, the level, the message, then its metadata as `key=value`, sorted by
/// key (a value with a space or an `=` in it is quoted). swift-log's stream format repeats the date,
/// the time zone, the logger's label and the source module on every line; none of them helps a
/// reader here (the startup summary says where everything is), and `--log-format json` keeps the
/// full UTC timestamp for log pipelines. Nothing secret is logged in either format.
struct TextLogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let line = Self.line(time: Self.clockTime(), level: event.level, message: "\(event.message)", metadata: merged)
        Self.output.withLock { FileHandle.standardError.write(Data(line.utf8)) }
    }

    /// The line for one event (with its newline).
    static func line(time: String, level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        var line = time + " " + level.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0) + " " + message
        if !metadata.isEmpty {
            line += "  " + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\(quoted("\($0.value)"))" }.joined(separator: " ")
        }
        return line + "\n"
    }

    private static func quoted(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0 == " " || $0 == "=" || $0 == "\"" || $0 == "\n" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    /// `HH:MM:SS` in local time.
    private static func clockTime() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }

    /// One writer at a time: lines from several threads never interleave.
    private static let output = NSLock()
}
