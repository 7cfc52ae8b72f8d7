import NIOConcurrencyHelpers

/// What a function's instances wrote to stdout and stderr: the last lines, bounded in count and length.
public final class OutputLog: Sendable {
    public struct Line: Sendable, Hashable {
        public var instance: Int
        public var stream: Stream
        public var text: String
    }

    public enum Stream: String, Sendable { case stdout, stderr }

    public let capacity: Int
    public static let maxLineLength = 4096
    private let lines = NIOLockedValueBox<[Line]>([])

    public init(capacity: Int = 1000) {
        self.capacity = capacity
    }

    func append(_ text: String, stream: Stream, instance: Int) {
        let text = text.utf8.count > Self.maxLineLength ? String(text.prefix(Self.maxLineLength)) : text
        lines.withLockedValue { lines in
            lines.append(Line(instance: instance, stream: stream, text: text))
            if lines.count > capacity { lines.removeFirst(lines.count - capacity) }
        }
    }

    public var recent: [Line] { lines.withLockedValue { $0 } }
}
