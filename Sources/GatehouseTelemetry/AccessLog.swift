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

/// The access log: each finished request's record is queued on the request path (a lock and an
/// append, see `BoundedBatchWriter`) and its line is formatted and written by `run()` every few
/// milliseconds, off the event loops, so a request never waits for a write to a slow terminal or pipe.
///
/// When the writer falls behind by more than `maxBufferedBytes` of lines (estimated from each
/// record before it is formatted) or `maxBufferedRecords` records, new ones are dropped and counted
/// in `gatehouse_access_log_dropped_total` instead of growing memory.
public final class AccessLog: Service, Sendable {
    public static let maxBufferedBytes = 4 << 20
    public static let maxBufferedRecords = 16_384
    private let fd: Int32
    private let writer: BoundedBatchWriter<RequestRecord>?

    public init(destination: AccessLogDestination, registry: PrometheusCollectorRegistry, flushInterval: Duration = .milliseconds(20)) throws {
        switch destination {
        case .standardOutput: fd = STDOUT_FILENO
        case .off: fd = -1
        case .file(let path):
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
            if fd < 0 { throw AccessLogError(path: path, errno: errno) }
        }
        let dropped = registry.makeCounter(
            descriptor: .named("gatehouse_access_log_dropped_total", help: "Access log lines dropped because the log destination could not keep up."))
        guard fd >= 0 else {
            writer = nil
            return
        }
        let lines = LineBuffer(fd: fd)
        writer = BoundedBatchWriter(
            maxEntries: Self.maxBufferedRecords, maxBytes: Self.maxBufferedBytes, cost: AccessLogLine.estimatedBytes,
            flushInterval: flushInterval, dropped: dropped, sink: { records in lines.write(records) })
    }

    public var isEnabled: Bool { fd >= 0 }

    /// Queues the record's line; never waits (see `BoundedBatchWriter`).
    func append(_ record: RequestRecord) {
        writer?.append(record)
    }

    public func run() async throws {
        guard let writer else {
            // Nothing to write, but a service that returns early would stop the whole group.
            try? await gracefulShutdown()
            return
        }
        try await writer.run()
    }

    /// Writes what is queued now. `run()` does so every `flushInterval`, and once more at shutdown.
    public func flush() async {
        await writer?.flush()
    }
}

/// Formats a batch of records into one reused byte buffer and writes it with as few `write(2)`
/// calls as the destination allows. The lock is uncontended (the writer's task hands over one
/// batch at a time); it keeps a `flush()` called meanwhile from interleaving two batches' bytes.
private final class LineBuffer: Sendable {
    private let fd: Int32
    private let buffer = NIOLockedValueBox<[UInt8]>([])

    init(fd: Int32) { self.fd = fd }

    func write(_ records: [RequestRecord]) {
        buffer.withLockedValue { bytes in
            bytes.removeAll(keepingCapacity: true)
            for record in records { AccessLogLine.format(record, into: &bytes) }
            Self.write(bytes, to: fd)
        }
    }

    private static func write(_ bytes: [UInt8], to fd: Int32) {
        bytes.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
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
