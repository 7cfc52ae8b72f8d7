import Foundation
import NIOConcurrencyHelpers

/// What a function's instances wrote to stdout and stderr: the last lines, bounded in count and
/// length, and a live feed for `gatehouse logs --follow`.
public final class OutputLog: Sendable {
    public struct Line: Sendable, Hashable {
        public var time: Date
        public var revision: String
        public var instance: Int
        public var stream: Stream
        public var text: String
    }

    public enum Stream: String, Sendable { case stdout, stderr }

    public let capacity: Int
    public static let maxLineLength = 4096
    /// Lines a slow follower may fall behind by before the oldest are dropped for it.
    public static let followerBuffer = 1000
    /// At most this many followers at once; past it, `follow()` returns nil.
    public static let maxFollowers = 64

    private struct State {
        var lines: [Line] = []
        var followers: [Int: AsyncStream<Line>.Continuation] = [:]
        var nextFollower = 0
        var finished = false
    }

    private let state = NIOLockedValueBox(State())

    public init(capacity: Int = 1000) {
        self.capacity = capacity
    }

    func append(_ text: String, stream: Stream, instance: Int, revision: String) {
        let text = text.utf8.count > Self.maxLineLength ? String(text.prefix(Self.maxLineLength)) : text
        let line = Line(time: Date(), revision: revision, instance: instance, stream: stream, text: text)
        state.withLockedValue { state in
            state.lines.append(line)
            if state.lines.count > capacity { state.lines.removeFirst(state.lines.count - capacity) }
            for follower in state.followers.values { follower.yield(line) }
        }
    }

    public var recent: [Line] { state.withLockedValue { $0.lines } }

    /// A live feed: the lines kept when it began, then every new one until `stop()`, the runtime
    /// stopping, or the caller ending its iteration.
    public struct Follower: Sendable {
        public let recent: [Line]
        public let lines: AsyncStream<Line>
        let continuation: AsyncStream<Line>.Continuation

        public func stop() { continuation.finish() }
    }

    /// nil when `maxFollowers` are attached already.
    public func follow() -> Follower? {
        let (stream, continuation) = AsyncStream.makeStream(of: Line.self, bufferingPolicy: .bufferingNewest(Self.followerBuffer))
        let recent: [Line]? = state.withLockedValue { state in
            guard state.followers.count < Self.maxFollowers else { return nil }
            if state.finished {
                continuation.finish()
                return state.lines
            }
            let id = state.nextFollower
            state.nextFollower += 1
            state.followers[id] = continuation
            continuation.onTermination = { [weak self] _ in
                self?.state.withLockedValue { _ = $0.followers.removeValue(forKey: id) }
            }
            return state.lines
        }
        guard let recent else { return nil }
        return Follower(recent: recent, lines: stream, continuation: continuation)
    }

    /// Ends every follower's feed (at shutdown).
    func finishFollowers() {
        let followers = state.withLockedValue { state in
            state.finished = true
            defer { state.followers = [:] }
            return Array(state.followers.values)
        }
        for follower in followers { follower.finish() }
    }
}
