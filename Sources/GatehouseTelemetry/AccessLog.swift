import GatehouseCore
import Logging
import NIOConcurrencyHelpers
import Prometheus
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Where the access log goes: standard output (the default), a file, or nowhere.
public enum AccessLogDestination: Sendable, Hashable {
    case standardOutput
    case file(String)
    case off

    /// `stdout`, `off`, or a file path.
    public init(parsing text: String) {
        switch text {
        case "stdout", "-": self = .standardOutput
        case "off", "none": self = .off
        default: self = .file(text)
        }
    }
}

/// The access log: lines are appended to a bounded buffer on the request path and written by
/// `run()` every few milliseconds, so a request never waits for a write to a slow terminal or pipe.
///
/// When the writer falls behind by more than `maxBufferedBytes`, new lines are dropped and counted
/// in `gatehouse_access_log_dropped_total` instead of growing memory.
public final class AccessLog: Service, Sendable {
    public static let maxBufferedBytes = 4 << 20
    private let fd: Int32
    private let buffer = NIOLockedValueBox<[UInt8]>([])
    private let dropped: Counter
    private let flushInterval: Duration

    public init(destination: AccessLogDestination, registry: PrometheusCollectorRegistry, flushInterval: Duration = .milliseconds(20)) throws {
        switch destination {
        case .standardOutput: fd = STDOUT_FILENO
        case .off: fd = -1
        case .file(let path):
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
            if fd < 0 { throw AccessLogError(path: path, errno: errno) }
        }
        self.flushInterval = flushInterval
        dropped = registry.makeCounter(
                    descriptor: .named("gatehouse_access_log_dropped_total", help: "Access log lines dropped because the log destination could not keep up."))
    }

    public var isEnabled: Bool { fd >= 0 }

    /// Formats the line straight into the shared buffer (no per-line allocation); a line that
    /// would take the buffer past `maxBufferedBytes` is taken back out and counted as dropped.
    func append(_ record: RequestRecord) {
        guard fd >= 0 else { return }
        let accepted = buffer.withLockedValue { buffer in
            let before = buffer.count
            AccessLogLine.format(record, into: &buffer)
            guard buffer.count <= Self.maxBufferedBytes else {
                buffer.removeSubrange(before...)
                return false
            }
            return true
        }
        if !accepted { dropped.increment() }
    }

    public func run() async throws {
        guard fd >= 0 else {
            // Nothing to write, but a service that returns early would stop the whole group.
            try? await gracefulShutdown()
            return
        }
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.flushInterval) }
            flush()
        }
        flush()
    }

    /// Writes what is buffered. Called by `run()`, and once more at shutdown.
    public func flush() {
        let pending = buffer.withLockedValue { buffer -> [UInt8] in
            var pending: [UInt8] = []
            pending.reserveCapacity(buffer.capacity)
            swap(&pending, &buffer)
            return pending
        }
        guard !pending.isEmpty else { return }
        pending.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0, errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
    }
}

public struct AccessLogError: Error, CustomStringConvertible {
    public let path: String
    public let errno: Int32
    public var description: String { "cannot open access log \(path): \(String(cString: strerror(errno)))" }
}
