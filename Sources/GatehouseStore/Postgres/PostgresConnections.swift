import Logging
import NIOCore
import NIOSSL
import PostgresNIO

/// The connections one `PostgresConfigStore` queries on: opened when needed, kept while idle (up
/// to `maxIdle`), dropped when they fail. A connection runs one caller's work at a time, so a
/// transaction never interleaves with another's statements.
///
/// At most `maxInUse` are in use at once (a change feed's own connection aside): a burst of work
/// on every node must not take all of PostgreSQL's `max_connections`. A caller waits up to
/// `slotWait` for one, then fails (503 `store_unavailable` where a request asked).
actor PostgresConnections {
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private var idle: [PostgresConnection] = []
    private var nextID = 1
    private let maxIdle = 4
    static let maxInUse = 24
    static let slotWait: Duration = .seconds(10)
    private var inUse = 0
    private var waiting: [(id: Int, continuation: CheckedContinuation<Bool, Never>)] = []
    private var nextWaiter = 0

    /// No connection came free within `slotWait`.
    struct Busy: Error, CustomStringConvertible {
        var description: String { "all \(PostgresConnections.maxInUse) of this node's store connections stayed busy for \(PostgresConnections.slotWait)" }
    }

    /// Takes a slot, waiting for one to be handed over when all are in use.
    private func acquireSlot() async throws {
        guard inUse >= Self.maxInUse else {
            inUse += 1
            return
        }
        nextWaiter += 1
        let id = nextWaiter
        let granted = await withCheckedContinuation { continuation in
            waiting.append((id, continuation))
            Task { [weak self] in
                try? await Task.sleep(for: Self.slotWait)
                await self?.expire(id)
            }
        }
        if !granted { throw Busy() }
    }

    private func expire(_ id: Int) {
        guard let index = waiting.firstIndex(where: { $0.id == id }) else { return }
        waiting.remove(at: index).continuation.resume(returning: false)
    }

    /// Hands the slot to the first waiter, or frees it.
    private func releaseSlot() {
        if waiting.isEmpty {
            inUse -= 1
        } else {
            waiting.removeFirst().continuation.resume(returning: true)
        }
    }

    init(_ location: PostgresStoreLocation, logger: Logger) throws {
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: try Self.tls(location))
        configuration.options.connectTimeout = .seconds(5)
        // A node that stalls (a paused VM, a partition) must not hold its locks until TCP gives
        // up: the server ends its session after a minute idle in a transaction, and no one waits
        // on a lock for more than 30 s.
        configuration.options.additionalStartupParameters = [
            ("lock_timeout", "30s"), ("idle_in_transaction_session_timeout", "60s"), ("statement_timeout", "10min"),
        ]
        self.configuration = configuration
        self.logger = logger
    }

    /// The URL's `sslmode` as postgres-nio's TLS setting. The roots are `sslrootcert`, else the
    /// system's; the name checked (`verify-full`) is the URL's host.
    static func tls(_ location: PostgresStoreLocation) throws -> PostgresConnection.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        switch location.tls {
        case .disable: return .disable
        case .prefer, .require: tls.certificateVerification = .none
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        if let roots = location.rootCertificates, location.tls == .verifyCA || location.tls == .verifyFull {
            tls.trustRoots = .file(roots)
        }
        let context = try NIOSSLContext(configuration: tls)
        return location.tls == .prefer ? .prefer(context) : .require(context)
    }

    /// A new connection of its own, for a caller that keeps it (a change feed's LISTEN).
    func open() async throws -> PostgresConnection {
        nextID += 1
        return try await PostgresConnection.connect(configuration: configuration, id: nextID, logger: logger)
    }

    /// A connection and its slot (given back with `giveBack` or `discard`).
    func take() async throws -> PostgresConnection {
        try await acquireSlot()
        while let connection = idle.popLast() {
            if !connection.isClosed { return connection }
        }
        do {
            return try await open()
        } catch {
            releaseSlot()
            throw error
        }
    }

    /// Closes a taken connection whose work failed, and frees its slot.
    func discard(_ connection: PostgresConnection) async {
        releaseSlot()
        try? await connection.close()
    }

    func giveBack(_ connection: PostgresConnection) async {
        releaseSlot()
        guard !connection.isClosed else { return }
        if idle.count < maxIdle {
            idle.append(connection)
        } else {
            try? await connection.close()
        }
    }

    deinit {
        for connection in idle { Self.closeAndKeep(connection) }
    }

    /// Closes `connection` without waiting, holding it until it is closed: postgres-nio requires a
    /// connection to be closed before it is released.
    nonisolated static func closeAndKeep(_ connection: PostgresConnection) {
        let closing: EventLoopFuture<Void> = connection.close()
        closing.whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    func closeAll() async {
        let connections = idle
        idle = []
        for connection in connections { try? await connection.close() }
    }
}

extension PostgresConnections {
    /// `body` on a connection of the pool. A connection whose work failed is closed, not kept:
    /// it may be in the middle of something (a transaction that did not roll back).
    func with<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await take()
        do {
            let value = try await body(connection)
            await giveBack(connection)
            return value
        } catch {
            await discard(connection)
            throw error
        }
    }
}
